from .cross_view_data_sample import CrossViewDataSample

__all__ = ['CrossViewDataSample']
