# GLEAM-C phase 1 on real data: panorama <-> satellite pre-training on VIGOR same-area
# (the paper's phase 1), with Sample4Geo's model and recipe - vigor_same_area.py under the
# name of its role. Phase 2 (phase2_fusion.py) starts from its checkpoint:
#   python tools/train.py configs/gleam_c/phase1_vigor.py
#   python tools/train.py configs/gleam_c/phase2_fusion.py \
#       --load-from work_dirs/phase1_vigor/epoch_40.pth
# (the synthetic-world counterpart is phase1.py)
from mmengine.config import read_base

with read_base():
    from .vigor_same_area import *
