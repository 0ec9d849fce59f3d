# DenseUAV (DenseUAVDataset, docs/datasets.md#denseuav): low-altitude drone images of 14
# campuses (80, 90, 100 m) and satellite tiles at three scales, with GPS. Training pairs:
# each drone image with its place's tiles of the same height; evaluation drone ->
# satellite: 2,331 test queries vs the tiles of all 3,033 places, with the localisation
# error from Dense_GPS_ALL.txt.
from mmengine.dataset import DefaultSampler

from gleamkit.datasets import (
    DenseUAVDataset,
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

# The dataset folder. None: $GLEAMKIT_DATA/DenseUAV. Every dataset below is written
# from it: `data_root = DIR` in a child config or `--cfg-options data_root=DIR` reaches
# all four (training, validation, test, gallery): tools/train.py and tools/test.py
# follow the links (docs/training_real_data.md, "Changing a config").
data_root = None
# pairs per step on one GPU; Game4Loc's DenseUAV recipe (Yux1angJi/GTA-UAV
# train_denseuav_extend.py): 40
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
        type=DenseUAVDataset,
        data_root=data_root,
        split='train',
        mode='pairs',
        satellite_pairing='same_height',
        pipeline=train_pipeline,
    ),
    sampler=dict(type=UniqueLocationSampler, batch_size=batch_size),
)

val_dataloader = dict(
    batch_size=128,
    num_workers=4,
    dataset=dict(
        type=DenseUAVDataset,
        data_root=data_root,
        split='test',
        mode='query',
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
        type=DenseUAVDataset,
        data_root=data_root,
        split='test',
        mode='gallery',
        protocol='drone->satellite',
        pipeline=pipeline,
    ),
    sampler=dict(type=DefaultSampler, shuffle=False),
)
val_cfg = dict(type=RetrievalValLoop, gallery_dataloader=gallery_dataloader)
test_cfg = dict(type=RetrievalTestLoop, gallery_dataloader=gallery_dataloader)

val_evaluator = dict(type=CrossViewRetrievalMetric, topk=(1, 5, 10))
test_evaluator = val_evaluator
