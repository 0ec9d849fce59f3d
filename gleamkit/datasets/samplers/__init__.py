from .unique_location_sampler import UniqueLocationSampler, dataset_field, pack_unique
from .view_balanced_sampler import ViewBalancedSampler

__all__ = ['UniqueLocationSampler', 'ViewBalancedSampler', 'dataset_field', 'pack_unique']
