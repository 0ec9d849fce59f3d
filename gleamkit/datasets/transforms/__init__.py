from .augmentation import PairedRandomFlip, PairedRandomRotate90, ViewColorJitter
from .dropout import ViewDropout, coarse_dropout, grid_dropout
from .formatting import LoadCrossViewImages, PackCrossViewInputs, ResizeViews
from .geometry import PanoramaPolarTransform, polar_sampling_grid

__all__ = [
    'PairedRandomFlip',
    'PairedRandomRotate90',
    'ViewColorJitter',
    'ViewDropout',
    'coarse_dropout',
    'grid_dropout',
    'LoadCrossViewImages',
    'PackCrossViewInputs',
    'ResizeViews',
    'PanoramaPolarTransform',
    'polar_sampling_grid',
]
