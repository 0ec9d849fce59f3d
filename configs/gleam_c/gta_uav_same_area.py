# GTA-UAV same-area with Game4Loc's recipe (Yux1angJi/GTA-UAV Game4Loc/train_gta.py):
# ConvNeXt-B 384, positive + semi-positive pairs weighted by their overlap (weighted
# InfoNCE, k = 3 as its training script sets it), 40 pairs a step, 10 epochs with a
# 0.1-epoch warm-up, seed 1. Evaluation drone -> every satellite tile.
from mmengine.config import read_base

from gleamkit.models import WeightedInfoNCELoss

with read_base():
    from .._base_.datasets.gta_uav import *
    from .._base_.default_runtime import *
    from .._base_.models.gleam_c_convnext_base import *
    from .._base_.schedules.sample4geo_adamw import *

# a pair's IoU w -> positive weight sigmoid(3 w) (Game4Loc); the drone image's other
# overlapping tiles in the batch get their IoU as target weight instead of being negatives
# (gleamkit's extension; use_semi_positives=False is Game4Loc's loss exactly)
model['loss'] = dict(
    type=WeightedInfoNCELoss,
    temperature=0.07,
    label_smoothing=0.1,
    positive_k=3.0,
    use_semi_positives=True,
)

max_epochs = 10
warmup_epochs = 0.1
train_cfg.update(max_epochs=max_epochs, val_interval=1)
param_scheduler[0].update(end=warmup_epochs)
param_scheduler[1].update(begin=warmup_epochs, end=max_epochs)
randomness = dict(seed=1, deterministic=False)
