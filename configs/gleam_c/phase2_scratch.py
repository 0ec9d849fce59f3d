# GLEAM-C phase 2 on the built-in world from a randomly initialised ResNet-18: the same
# data, augmentation, schedule and optimizer as phase2.py (which starts from ImageNet
# EfficientNet-Lite0).
# results: configs/gleam_c/README.md
from mmengine.config import read_base

# the order matters: the second import replaces phase2's model
with read_base():
    from .phase2 import *  # noqa: I001
    from .._base_.models.gleam_c_resnet import model  # noqa: F811
