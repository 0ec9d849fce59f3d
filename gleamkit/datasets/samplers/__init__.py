from .unique_location_sampler import UniqueLocationSampler, dataset_field, pack_unique
from .view_balanced_sampler import ViewBalancedSampler

__all__ = ['UniqueLocationSampler', 'ViewBalancedSampler', 'dataset_field', 'pack_unique']
from .gps_neighbour_sampler import (  # noqa: E402
    GPSNeighbourSampler,
    NeighbourTable,
    SimilarityNeighbourSampler,
    gps_neighbour_table,
)

__all__ += [
    'GPSNeighbourSampler',
    'SimilarityNeighbourSampler',
    'NeighbourTable',
    'gps_neighbour_table',
]
