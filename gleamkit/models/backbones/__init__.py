from .packaged_pretrained import PackagedPretrainedBackbone
from .pretrained import (
    StateDictMismatchError,
    load_efficientnet_lite0_imagenet,
    load_state_dict_strict,
)
from .timm_backbone import TimmBackbone

__all__ = ['TimmBackbone']
__all__ += [
    'PackagedPretrainedBackbone',
    'StateDictMismatchError',
    'load_efficientnet_lite0_imagenet',
    'load_state_dict_strict',
]
