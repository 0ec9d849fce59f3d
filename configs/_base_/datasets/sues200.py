# SUES-200 (SUES200Dataset, docs/datasets.md#sues-200): drone images of 200 scenes at 150,
# 200, 250 and 300 m and the scenes' satellite tiles; 120 training scenes, 80 test scenes.
# One altitude per model, as the paper reports it: this base is 150 m, the leaf configs
# configs/gleam_c/sues200_<h>m.py set the others. Evaluation drone -> satellite: the test
# drone images of one altitude vs all 200 tiles (the 120 training scenes stay in the gallery
# as distractors, as in the official evaluation).
from mmengine.dataset import DefaultSampler

from gleamkit.datasets import (
    LoadCrossViewImages,
    PackCrossViewInputs,
    ResizeViews,
    SUES200Dataset,
    UniqueLocationSampler,
)
from gleamkit.datasets.transforms import (
    PairedRandomFlip,
    PairedRandomRotate90,
    ViewColorJitter,
    ViewDropout,
)
from gleamkit.engine import RetrievalTestLoop, RetrievalValLoop
from gleamkit.evaluation import CrossViewRetrievalMetric

# The dataset folder. None: $GLEAMKIT_DATA/SUES-200-512x512. Every dataset below is written
# from it: `data_root = DIR` in a child config or `--cfg-options data_root=DIR` reaches
# all four (training, validation, test, gallery): tools/train.py and tools/test.py
# follow the links (docs/training_real_data.md, "Changing a config").
data_root = None
altitudes = (150,)
# pairs per step on one GPU. 120 training scenes allow at most 120 distinct places per
# (global) batch; Game4Loc's SUES-200 recipe (Yux1angJi/GTA-UAV train_sues_extend.py): 40
batch_size = 40
image_sizes = dict(uav=(384, 384), satellite=(384, 384))
pipeline = [
    dict(type=LoadCrossViewImages),
    dict(type=ResizeViews, sizes=image_sizes),
    dict(type=PackCrossViewInputs),
]
# Training only (evaluation uses `pipeline`): Game4Loc's (Yux1angJi/GTA-UAV, Sample4Geo's
# University-1652 recipe) augmentation: drone image and tile mirrored together (p 0.5); the tile
# turned by 0-3 quarter turns (albumentations' RandomRotate90(p=1): a non-zero turn 3 times in
# 4; the drone image keeps its unknown heading); per image colour jitter 0.15 with hue (p 0.5)
# and grid / coarse dropout (p 0.3). Not applied: JPEG re-compression (quality 90-100) and blur
# / sharpen (p 0.3), see docs/training_real_data.md#augmentation.
train_pipeline = [
    dict(type=LoadCrossViewImages),
    dict(type=ResizeViews, sizes=image_sizes),
    dict(type=PairedRandomFlip, prob=0.5),
    dict(type=PairedRandomRotate90, prob=0.75),
    dict(type=ViewColorJitter, brightness=0.15, contrast=0.15, saturation=0.15, hue=0.15, prob=0.5),
    dict(type=ViewDropout, prob=0.3, grid_ratio=0.4),
    dict(type=PackCrossViewInputs),
]

train_dataloader = dict(
    batch_size=batch_size,
    num_workers=4,
    persistent_workers=True,
    dataset=dict(
        type=SUES200Dataset,
        data_root=data_root,
        split='train',
        mode='pairs',
        altitudes=altitudes,
        pipeline=train_pipeline,
    ),
    sampler=dict(type=UniqueLocationSampler, batch_size=batch_size),
)

val_dataloader = dict(
    batch_size=128,
    num_workers=4,
    dataset=dict(
        type=SUES200Dataset,
        data_root=data_root,
        split='test',
        mode='query',
        altitudes=altitudes,
        protocol='drone->satellite',
        pipeline=pipeline,
    ),
    sampler=dict(type=DefaultSampler, shuffle=False),
)
test_dataloader = val_dataloader

# the gallery, embedded before every validation / test by the evaluation loops (a
# leaf config edits val_cfg['gallery_dataloader'] and test_cfg['gallery_dataloader'])
gallery_dataloader = dict(
    batch_size=128,
    num_workers=4,
    dataset=dict(
        type=SUES200Dataset,
        data_root=data_root,
        split='test',
        mode='gallery',
        altitudes=altitudes,
        protocol='drone->satellite',
        pipeline=pipeline,
    ),
    sampler=dict(type=DefaultSampler, shuffle=False),
)
val_cfg = dict(type=RetrievalValLoop, gallery_dataloader=gallery_dataloader)
test_cfg = dict(type=RetrievalTestLoop, gallery_dataloader=gallery_dataloader)

val_evaluator = dict(type=CrossViewRetrievalMetric, topk=(1, 5, 10))
test_evaluator = val_evaluator
