# SUES-200 at 250 m: sues200_150m.py with the drone images of 250 m (training and test).
from mmengine.config import read_base

with read_base():
    from .sues200_150m import *

altitudes = (250,)
for _loader in (
    train_dataloader,
    val_dataloader,
    test_dataloader,
    val_cfg['gallery_dataloader'],
    test_cfg['gallery_dataloader'],
):
    _loader['dataset']['altitudes'] = altitudes
del _loader
