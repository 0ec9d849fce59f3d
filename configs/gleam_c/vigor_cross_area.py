# VIGOR cross-area: train on NewYork + Seattle, evaluate on Chicago + SanFrancisco (their
# panoramas against all their tiles); otherwise vigor_same_area.py (Sample4Geo's recipe).
# results: configs/gleam_c/README.md
from mmengine.config import read_base

with read_base():
    from .vigor_same_area import *

area = 'cross'
for _loader in (
    train_dataloader,
    val_dataloader,
    test_dataloader,
    val_cfg['gallery_dataloader'],
    test_cfg['gallery_dataloader'],
):
    _loader['dataset']['area'] = area
del _loader
