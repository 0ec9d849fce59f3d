# GLEAM-C phase 1: panorama <-> satellite pre-training (the paper's VIGOR phase),
# on the built-in world. Real VIGOR: see configs/gleam_c/ for the real-data variants.
# results: configs/gleam_c/README.md
from mmengine.config import read_base

with read_base():
    from .._base_.datasets.synthetic_world import *
    from .._base_.default_runtime import *
    from .._base_.models.gleam_c_efficientnet_lite0 import *
    from .._base_.schedules.adamw_cosine import *

for _loader in (train_dataloader, val_dataloader, test_dataloader):
    _loader['dataset']['views'] = ('panorama',)
