# Sets of ground photos per satellite cell (GroundImageSetDataset, SetVL-480K-style layout,
# docs/datasets.md#setvl-480k-style-ground-photo-sets): a query is a set of about 40 photos
# of one cell; the model embeds every member and averages them (CrossViewRetriever
# set_aggregation='mean'). Training draws a random subset of `max_set_size` photos per cell
# and step; evaluation uses all photos of a cell (in name order, deterministic) against the
# test cells' tiles.
from mmengine.dataset import DefaultSampler

from gleamkit.datasets import (
    GroundImageSetDataset,
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

# The dataset folder. None: $GLEAMKIT_DATA/SetVL-480K. Every dataset below is written
# from it: `data_root = DIR` in a child config or `--cfg-options data_root=DIR` reaches
# all four (training, validation, test, gallery): tools/train.py and tools/test.py
# follow the links (docs/training_real_data.md, "Changing a config").
data_root = None
# cells per step on one GPU, and photos per cell in training: 32 x (8 photos + 1 tile) =
# 288 images a step, about a 128-pair step of Sample4Geo (256 images). gleamkit's choice:
# neither GLEAM nor SetVL-480K publish a recipe.
batch_size = 32
max_set_size = 8
ground_size = (384, 384)
satellite_size = (384, 384)
set_pipeline = [
    dict(type=LoadCrossViewImages, keys=('query',)),  # the photo set: a list
    dict(type=ResizeViews, sizes={}, default=ground_size, keys=('query',)),
    # the cell's tile (training pairs only; absent from query samples)
    dict(type=LoadCrossViewImages, keys=('reference',)),
    dict(type=ResizeViews, sizes=dict(satellite=satellite_size)),
    dict(type=PackCrossViewInputs),
]
# Training only: gleamkit's recipe (neither GLEAM nor SetVL-480K publishes one), Sample4Geo's
# University-1652 augmentation for photos of unknown heading: the photos and the tile mirrored
# together (p 0.5), the tile alone turned by 0-3 quarter turns, per image colour jitter 0.15
# with hue (p 0.5) and grid / coarse dropout (p 0.3).
train_set_pipeline = [
    dict(type=LoadCrossViewImages, keys=('query',)),  # the photo set: a list
    dict(type=ResizeViews, sizes={}, default=ground_size, keys=('query',)),
    dict(type=LoadCrossViewImages, keys=('reference',)),
    dict(type=ResizeViews, sizes=dict(satellite=satellite_size)),
    dict(type=PairedRandomFlip, prob=0.5),
    dict(type=PairedRandomRotate90, prob=0.75),
    dict(type=ViewColorJitter, brightness=0.15, contrast=0.15, saturation=0.15, hue=0.15, prob=0.5),
    dict(type=ViewDropout, prob=0.3, grid_ratio=0.4),
    dict(type=PackCrossViewInputs),
]
gallery_pipeline = [
    dict(type=LoadCrossViewImages),
    dict(type=ResizeViews, sizes=dict(satellite=satellite_size)),
    dict(type=PackCrossViewInputs),
]

train_dataloader = dict(
    batch_size=batch_size,
    num_workers=4,
    persistent_workers=True,
    dataset=dict(
        type=GroundImageSetDataset,
        data_root=data_root,
        split='train',
        mode='pairs',
        as_sets=True,
        max_set_size=max_set_size,
        set_sampling='random',
        pipeline=train_set_pipeline,
    ),
    sampler=dict(type=UniqueLocationSampler, batch_size=batch_size),
)

val_dataloader = dict(
    # whole sets: 8 cells of ~40 photos = ~320 images a batch
    batch_size=8,
    num_workers=4,
    dataset=dict(
        type=GroundImageSetDataset,
        data_root=data_root,
        split='test',
        mode='query',
        as_sets=True,
        max_set_size=None,
        set_sampling='first',
        pipeline=set_pipeline,
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
        type=GroundImageSetDataset,
        data_root=data_root,
        split='test',
        mode='gallery',
        pipeline=gallery_pipeline,
    ),
    sampler=dict(type=DefaultSampler, shuffle=False),
)
val_cfg = dict(type=RetrievalValLoop, gallery_dataloader=gallery_dataloader)
test_cfg = dict(type=RetrievalTestLoop, gallery_dataloader=gallery_dataloader)

val_evaluator = dict(type=CrossViewRetrievalMetric, topk=(1, 5, 10))
test_evaluator = val_evaluator
