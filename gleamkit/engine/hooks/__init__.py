from .lora_checkpoint_hook import LoRACheckpointHook
from .prepare_gallery_hook import PrepareGalleryHook

__all__ = ['PrepareGalleryHook']
__all__ += ['LoRACheckpointHook']
from .hard_negative_mining_hook import HardNegativeMiningHook  # noqa: E402

__all__ += ['HardNegativeMiningHook']
from .iteration_checkpoint_hook import IterationCheckpointHook  # noqa: E402
from .precision_report_hook import PrecisionReportHook  # noqa: E402

__all__ += ['IterationCheckpointHook', 'PrecisionReportHook']
