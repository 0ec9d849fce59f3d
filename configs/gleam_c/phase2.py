# GLEAM-C phase 2: every query view (UAV, street map, panorama, ground) -> satellite,
# multi-dataset fusion with view-balanced batches, on the built-in world.
# Initialise from phase 1 with `--load-from work_dirs/phase1/<checkpoint>.pth`.
from mmengine.config import read_base

from gleamkit.datasets import ViewBalancedSampler

with read_base():
    from .._base_.datasets.synthetic_world import *
    from .._base_.default_runtime import *
    from .._base_.models.gleam_c_resnet import *
    from .._base_.schedules.adamw_cosine import *

train_dataloader['sampler'] = dict(type=ViewBalancedSampler, batch_size=batch_size,
                                   views=query_views, epoch_size='mean')
