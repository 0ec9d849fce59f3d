# GLEAM-C phase 2 with Sample4Geo's hard negatives, for every query view: batches made of
# groups of nearby places (GPS neighbours) in the first epoch, then of places the current
# model finds alike, re-mined from its embeddings every two epochs (docs/hard_negatives.md).
#   python tools/train.py configs/gleam_c/phase2_hard_negatives.py \
#       --load-from work_dirs/phase1/<checkpoint>.pth
# Every place of the built-in world has all four views, so batches stay view-balanced
# without ViewBalancedSampler.
# results: configs/gleam_c/README.md
from mmengine.config import read_base

from gleamkit.datasets import SimilarityNeighbourSampler
from gleamkit.engine import HardNegativeMiningHook

with read_base():
    from .phase2 import *

# 64 pairs a step: four groups of an anchor place and its 15 nearest (or most alike)
# places; half of each group is always the nearest, half drawn from the 32 nearest
train_dataloader['sampler'] = dict(
    type=SimilarityNeighbourSampler,
    batch_size=batch_size,
    initial='gps',
    neighbours=15,
    neighbour_pool=32,
    hard_fraction=1.0,
)
# phase 2 starts from the phase-1 model: its embeddings are worth mining after one epoch
# (the gallery is the evaluation loop's: custom_hooks holds only this run's own hooks)
custom_hooks = [dict(type=HardNegativeMiningHook, interval=2, start_epoch=1, similarity='cross')]
