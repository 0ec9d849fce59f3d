# CVACT test (92,802 panoramas vs 92,802 tiles, ANU_data_test): evaluate a checkpoint
# trained with cvact_val.py (training with this config would validate on all 92,802 every
# 4 epochs):
#   python tools/test.py configs/gleam_c/cvact_test.py work_dirs/cvact_val/epoch_40.pth
from mmengine.config import read_base

with read_base():
    from .cvact_val import *

eval_split = 'test'
for _loader in (
    val_dataloader,
    test_dataloader,
    val_cfg['gallery_dataloader'],
    test_cfg['gallery_dataloader'],
):
    _loader['dataset']['split'] = eval_split
del _loader
