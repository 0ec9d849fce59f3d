from .lora_checkpoint_hook import LoRACheckpointHook
from .prepare_gallery_hook import PrepareGalleryHook

__all__ = ['PrepareGalleryHook']
__all__ += ['LoRACheckpointHook']
