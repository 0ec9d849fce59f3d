# CVUSA with Sample4Geo's recipe (train_cvusa.py): ConvNeXt-B, panoramas 140 x 768, tiles
# 384 x 384, 128 pairs a step, 40 epochs (1 warm-up), validation every 4 epochs, seed 42.
# Evaluation on the 8,884 pairs of val-19zl.csv (CVUSA's test).
# results: configs/gleam_c/README.md
from mmengine.config import read_base

with read_base():
    from .._base_.datasets.cvusa import *
    from .._base_.default_runtime import *
    from .._base_.models.gleam_c_convnext_base import *
    from .._base_.schedules.sample4geo_adamw import *

randomness = dict(seed=42, deterministic=False)
