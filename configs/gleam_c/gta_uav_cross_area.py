# GTA-UAV cross-area: gta_uav_same_area.py with the cross-area pair files (training and
# test areas of the game map disjoint).
from mmengine.config import read_base

with read_base():
    from .gta_uav_same_area import *

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
