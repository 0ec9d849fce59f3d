# GTA-UAV (GTAUAVDataset, docs/datasets.md#gta-uav): synthetic drone views matched to
# satellite tiles by their overlap (Game4Loc, AAAI'25). Same-area protocol here;
# configs/gleam_c/gta_uav_cross_area.py switches to cross-area. Training pairs: every drone
# image with each tile it overlaps (positives and semi-positives, Game4Loc's 'pos_semipos'),
# carrying the tile's IoU as `weight` and the other overlapping tiles as semi-positives -
# the leaf configs train them with WeightedInfoNCELoss. Evaluation drone -> satellite
# against every tile; R@K counts the best-overlapping tile, hit_rate any overlapping tile.
from mmengine.dataset import DefaultSampler

from gleamkit.datasets import (
    GTAUAVDataset,
    LoadCrossViewImages,
    PackCrossViewInputs,
    ResizeViews,
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

# The dataset folder. None: $GLEAMKIT_DATA/GTA-UAV. Every dataset below is written
# from it: `data_root = DIR` in a child config or `--cfg-options data_root=DIR` reaches
# all four (training, validation, test, gallery): tools/train.py and tools/test.py
# follow the links (docs/training_real_data.md, "Changing a config").
data_root = None
area = 'same'
# pairs per step on one GPU; Game4Loc (Yux1angJi/GTA-UAV Game4Loc/train_gta.py): 40
batch_size = 40
image_sizes = dict(uav=(384, 384), satellite=(384, 384))
pipeline = [
    dict(type=LoadCrossViewImages),
    dict(type=ResizeViews, sizes=image_sizes),
    dict(type=PackCrossViewInputs),
]
# Training only (evaluation uses `pipeline`): Game4Loc's (game4loc/dataset/gta.py
# get_transforms) augmentation: drone image and tile mirrored together (p 0.5); the tile turned
# by 0-3 quarter turns (albumentations' RandomRotate90(p=1): a non-zero turn 3 times in 4; the
# drone image keeps its unknown heading); per image colour jitter 0.15 with hue (p 0.5) and grid
# / coarse dropout (p 0.3). Not applied: JPEG re-compression (quality 90-100) and blur / sharpen
# (p 0.3), see docs/training_real_data.md#augmentation.
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
        type=GTAUAVDataset,
        data_root=data_root,
        split='train',
        area=area,
        mode='pairs',
        positives='pos_semipos',
        pipeline=train_pipeline,
    ),
    # distinct tiles per batch; a drone image's other tiles are semi-positives of the loss
    sampler=dict(type=UniqueLocationSampler, batch_size=batch_size),
)

val_dataloader = dict(
    batch_size=128,
    num_workers=4,
    dataset=dict(
        type=GTAUAVDataset,
        data_root=data_root,
        split='test',
        area=area,
        mode='query',
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
        type=GTAUAVDataset,
        data_root=data_root,
        split='test',
        area=area,
        mode='gallery',
        pipeline=pipeline,
    ),
    sampler=dict(type=DefaultSampler, shuffle=False),
)
val_cfg = dict(type=RetrievalValLoop, gallery_dataloader=gallery_dataloader)
test_cfg = dict(type=RetrievalTestLoop, gallery_dataloader=gallery_dataloader)

val_evaluator = dict(type=CrossViewRetrievalMetric, topk=(1, 5, 10))
test_evaluator = val_evaluator
