# University-1652 drone -> satellite with Sample4Geo's recipe (train_university.py):
# ConvNeXt-B 384, 128 pairs a step, 1 epoch with a 0.1-epoch warm-up, seed 1.
# Evaluation: 37,855 drone queries vs all 951 satellite tiles (250 distractors kept).
# results: configs/gleam_c/README.md
from mmengine.config import read_base

with read_base():
    from .._base_.datasets.university1652 import *
    from .._base_.default_runtime import *
    from .._base_.models.gleam_c_convnext_base import *
    from .._base_.schedules.sample4geo_adamw import *

max_epochs = 1
warmup_epochs = 0.1
train_cfg.update(max_epochs=max_epochs, val_interval=1)
param_scheduler[0].update(end=warmup_epochs)
param_scheduler[1].update(begin=warmup_epochs, end=max_epochs)
randomness = dict(seed=1, deterministic=False)
