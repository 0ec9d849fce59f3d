from .cross_view_data_sample import CrossViewDataSample
from .explanation_data_sample import ExplanationDataSample

__all__ = ['CrossViewDataSample']
__all__ += ['ExplanationDataSample']
