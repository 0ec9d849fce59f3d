# SUES-200 at 150 m: drone images of one flight height -> satellite, one model per height
# as the paper reports it (sues200_200m.py, sues200_250m.py, sues200_300m.py: the other
# heights). Sample4Geo has no SUES-200 recipe; this follows Game4Loc's
# (Yux1angJi/GTA-UAV train_sues_extend.py) with Sample4Geo's ConvNeXt-B: 40 pairs a step
# (120 training scenes), 10 epochs with a 0.1-epoch warm-up, seed 1.
from mmengine.config import read_base

with read_base():
    from .._base_.datasets.sues200 import *
    from .._base_.default_runtime import *
    from .._base_.models.gleam_c_convnext_base import *
    from .._base_.schedules.sample4geo_adamw import *

max_epochs = 10
warmup_epochs = 0.1
train_cfg.update(max_epochs=max_epochs, val_interval=1)
param_scheduler[0].update(end=warmup_epochs)
param_scheduler[1].update(begin=warmup_epochs, end=max_epochs)
randomness = dict(seed=1, deterministic=False)
