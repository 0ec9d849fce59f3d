from .cross_view_data_preprocessor import CrossViewDataPreprocessor

__all__ = ['CrossViewDataPreprocessor']
