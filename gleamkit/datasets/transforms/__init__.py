from .formatting import LoadCrossViewImages, PackCrossViewInputs, ResizeViews

__all__ = ['LoadCrossViewImages', 'PackCrossViewInputs', 'ResizeViews']
