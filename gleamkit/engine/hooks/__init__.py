from .hard_negative_mining_hook import HardNegativeMiningHook
from .iteration_checkpoint_hook import IterationCheckpointHook
from .lora_checkpoint_hook import LoRACheckpointHook
from .precision_report_hook import PrecisionReportHook
from .prepare_gallery_hook import PrepareGalleryHook
from .retrieval_visualization_hook import RetrievalVisualizationHook, add_visualization_hook
from .skipped_image_report_hook import SkippedImageReportHook
from .validation_threshold_hook import ValidationThresholdHook

__all__ = [
    'HardNegativeMiningHook',
    'IterationCheckpointHook',
    'LoRACheckpointHook',
    'PrecisionReportHook',
    'PrepareGalleryHook',
    'RetrievalVisualizationHook',
    'add_visualization_hook',
    'SkippedImageReportHook',
    'ValidationThresholdHook',
]
