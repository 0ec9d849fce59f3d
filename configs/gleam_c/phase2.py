# GLEAM-C phase 2: every query view (UAV, street map, panorama, ground) -> satellite,
# multi-dataset fusion with view-balanced batches, on the built-in world: the main job.
#   python tools/train.py configs/gleam_c/phase2.py
# Starts from ImageNet EfficientNet-Lite0 (offline, no download); initialise from phase 1
# instead with `--load-from work_dirs/phase1/<checkpoint>.pth`. The same recipe from a
# randomly initialised ResNet-18: configs/gleam_c/phase2_scratch.py.
# results: configs/gleam_c/README.md
from mmengine.config import read_base
from mmengine.optim import CosineAnnealingLR, LinearLR

from gleamkit.datasets import ViewBalancedSampler
from gleamkit.datasets.transforms import PairedRandomFlip, PairedRandomRotate90, ViewColorJitter

with read_base():
    from .._base_.datasets.synthetic_world import *
    from .._base_.default_runtime import *
    from .._base_.models.gleam_c_efficientnet_lite0 import *
    from .._base_.schedules.adamw_cosine import *

train_dataloader['sampler'] = dict(
    type=ViewBalancedSampler, batch_size=batch_size, views=query_views, epoch_size='mean'
)
# tiles turn and mirror with their map / panorama (drone and ground headings are unknown
# anyway), colours shift per view
train_dataloader['dataset']['pipeline'] = [
    dict(type=PairedRandomFlip),
    dict(type=PairedRandomRotate90),
    dict(type=ViewColorJitter),
    dict(type=PackCrossViewInputs),
]

# two passes over 3,700 places x 4 views (462 steps of 64 pairs)
max_epochs = 2
train_cfg.update(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type=LinearLR, start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(
        type=CosineAnnealingLR,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        eta_min=5e-5,
        convert_to_iter_based=True,
    ),
]
