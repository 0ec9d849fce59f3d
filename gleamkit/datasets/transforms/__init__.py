from .augmentation import PairedRandomFlip, PairedRandomRotate90, ViewColorJitter
from .formatting import LoadCrossViewImages, PackCrossViewInputs, ResizeViews
from .geometry import PanoramaPolarTransform, polar_sampling_grid

__all__ = ['PairedRandomFlip', 'PairedRandomRotate90', 'ViewColorJitter', 'LoadCrossViewImages',
           'PackCrossViewInputs', 'ResizeViews', 'PanoramaPolarTransform',
           'polar_sampling_grid']
