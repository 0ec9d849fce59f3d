from .cross_view_data_sample import CrossViewDataSample
from .explanation_data_sample import ExplanationDataSample
from .vocabulary import (
    DATASET_MODES,
    QUERY_VIEWS,
    REFERENCE_VIEW,
    VIEWS,
    check_mode,
    check_view,
    check_views,
    views_in_order,
)

__all__ = ['CrossViewDataSample']
__all__ += ['ExplanationDataSample']
__all__ += [
    'VIEWS',
    'QUERY_VIEWS',
    'REFERENCE_VIEW',
    'DATASET_MODES',
    'check_view',
    'check_views',
    'check_mode',
    'views_in_order',
]
