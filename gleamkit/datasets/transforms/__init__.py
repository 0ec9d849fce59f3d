from .augmentation import PairedRandomFlip, PairedRandomRotate90, ViewColorJitter
from .formatting import LoadCrossViewImages, PackCrossViewInputs, ResizeViews

__all__ = ['PairedRandomFlip', 'PairedRandomRotate90', 'ViewColorJitter', 'LoadCrossViewImages',
           'PackCrossViewInputs', 'ResizeViews']
