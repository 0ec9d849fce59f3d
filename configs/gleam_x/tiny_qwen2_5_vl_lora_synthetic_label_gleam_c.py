# GLEAM-X offline, label-only, with a vision tower that already sees: the tiny Qwen2.5-VL's
# random ViT is replaced by GLEAM-C's trained encoder (frozen; its projector trains with the
# adapter). Train GLEAM-C first - the README's main job - then:
#   python tools/train.py configs/gleam_c/phase2.py
#   python tools/train.py configs/gleam_x/tiny_qwen2_5_vl_lora_synthetic_label_gleam_c.py
#   python benchmarks/gleam_x_learning.py \
#       configs/gleam_x/tiny_qwen2_5_vl_lora_synthetic_label_gleam_c.py   # P(match), curve
# GLEAM-C's pooled features separate the test set's matches from its hard negatives (cosine
# ROC AUC 0.81 as this tower sees them), but the tiny 2-layer, 64-wide language model did not
# learn to compare two images within 10 minutes here (P(match) AUC 0.48-0.58, docs/gleam_x.md).
from mmengine.config import read_base

with read_base():
    from .tiny_qwen2_5_vl_lora_synthetic_label import *

model['vision_tower'] = dict(
    gleam_c_config='configs/gleam_c/phase2.py',
    gleam_c_checkpoint='work_dirs/phase2/epoch_2.pth',
)
model['freeze_projector'] = False
# 56 x 56 pixels: 4 image tokens (GLEAM-C's 2 x 2 map at its 64-pixel input), shorter steps
model['min_pixels'] = 56 * 56
model['max_pixels'] = 56 * 56
