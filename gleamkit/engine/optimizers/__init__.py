from .mixed_precision_optim_wrapper import MixedPrecisionOptimWrapper

__all__ = ['MixedPrecisionOptimWrapper']
from .precision import PRECISIONS, apply_precision, describe_precision  # noqa: E402

__all__ += ['PRECISIONS', 'apply_precision', 'describe_precision']
