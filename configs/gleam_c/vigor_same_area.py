# VIGOR same-area with Sample4Geo's recipe (train_vigor.py, same_area=True): ConvNeXt-B,
# panoramas 384 x 768, tiles 384 x 384, 128 pairs a step, 40 epochs (1 warm-up), validation
# every 4 epochs, seed 1. Evaluation against every tile of the four cities (90,618).
# results: configs/gleam_c/README.md
from mmengine.config import read_base

with read_base():
    from .._base_.datasets.vigor import *
    from .._base_.default_runtime import *
    from .._base_.models.gleam_c_convnext_base import *
    from .._base_.schedules.sample4geo_adamw import *

randomness = dict(seed=1, deterministic=False)
