from .prepare_gallery_hook import PrepareGalleryHook

__all__ = ['PrepareGalleryHook']
