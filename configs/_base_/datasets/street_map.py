# Street-map tiles <-> satellite tiles (StreetMapSatelliteDataset; GLEAM's "MAP", 12,761
# Google Maps pairs, not released by the authors; gleamkit's layout in
# docs/datasets.md#map-street-map---satellite). Training on splits/train.txt; evaluation of
# the test maps against the test tiles, with the localisation error where locations.csv
# gives the tiles' centres.
from mmengine.dataset import DefaultSampler

from gleamkit.datasets import (
    LoadCrossViewImages,
    PackCrossViewInputs,
    ResizeViews,
    StreetMapSatelliteDataset,
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

# The dataset folder. None: $GLEAMKIT_DATA/MAP. Every dataset below is written
# from it: `data_root = DIR` in a child config or `--cfg-options data_root=DIR` reaches
# all four (training, validation, test, gallery): tools/train.py and tools/test.py
# follow the links (docs/training_real_data.md, "Changing a config").
data_root = None
# pairs per step on one GPU (Sample4Geo's 128)
batch_size = 128
image_sizes = dict(map=(384, 384), satellite=(384, 384))
pipeline = [
    dict(type=LoadCrossViewImages),
    dict(type=ResizeViews, sizes=image_sizes),
    dict(type=PackCrossViewInputs),
]
# Training only (evaluation uses `pipeline`): gleamkit's recipe (GLEAM publishes none),
# Sample4Geo's University-1652 augmentation with the map turned and mirrored with its tile (both
# are north-up): flip (p 0.5), 0-3 quarter turns of both, per image colour jitter 0.15 with hue
# (p 0.5) and grid / coarse dropout (p 0.3).
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
        type=StreetMapSatelliteDataset,
        data_root=data_root,
        split='train',
        mode='pairs',
        pipeline=train_pipeline,
    ),
    sampler=dict(type=UniqueLocationSampler, batch_size=batch_size),
)

val_dataloader = dict(
    batch_size=128,
    num_workers=4,
    dataset=dict(
        type=StreetMapSatelliteDataset,
        data_root=data_root,
        split='test',
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
        type=StreetMapSatelliteDataset,
        data_root=data_root,
        split='test',
        mode='gallery',
        pipeline=pipeline,
    ),
    sampler=dict(type=DefaultSampler, shuffle=False),
)
val_cfg = dict(type=RetrievalValLoop, gallery_dataloader=gallery_dataloader)
test_cfg = dict(type=RetrievalTestLoop, gallery_dataloader=gallery_dataloader)

val_evaluator = dict(type=CrossViewRetrievalMetric, topk=(1, 5, 10))
test_evaluator = val_evaluator
