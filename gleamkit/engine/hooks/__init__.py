from .lora_checkpoint_hook import LoRACheckpointHook
from .prepare_gallery_hook import PrepareGalleryHook

__all__ = ['PrepareGalleryHook']
__all__ += ['LoRACheckpointHook']
from .hard_negative_mining_hook import HardNegativeMiningHook  # noqa: E402

__all__ += ['HardNegativeMiningHook']
from .skipped_image_report_hook import SkippedImageReportHook  # noqa: E402

__all__ += ['SkippedImageReportHook']
