from .symmetric_infonce import SymmetricInfoNCELoss
from .weighted_infonce import (
    WeightedInfoNCELoss,
    overlap_to_positive_weight,
    weight_matrix_from_samples,
)

__all__ = ['SymmetricInfoNCELoss']
__all__ += ['WeightedInfoNCELoss', 'overlap_to_positive_weight', 'weight_matrix_from_samples']
