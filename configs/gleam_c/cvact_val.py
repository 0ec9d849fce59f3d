# CVACT with Sample4Geo's recipe (train_cvact.py): ConvNeXt-B, panoramas 140 x 768, tiles
# 384 x 384, 128 pairs a step, 40 epochs (1 warm-up), validation on CVACT val every 4
# epochs, seed 1. Train with this config; test its checkpoint on CVACT test with
# cvact_test.py.
# results: configs/gleam_c/README.md
from mmengine.config import read_base

with read_base():
    from .._base_.datasets.cvact import *
    from .._base_.default_runtime import *
    from .._base_.models.gleam_c_convnext_base import *
    from .._base_.schedules.sample4geo_adamw import *

randomness = dict(seed=1, deterministic=False)
