# VIGOR (VIGORDataset, docs/datasets.md#vigor): street panoramas -> satellite tiles of
# Chicago, NewYork, SanFrancisco and Seattle. Same-area protocol here (balanced splits of
# all four cities; the gallery is every tile of the four cities, 90,618);
# configs/gleam_c/vigor_cross_area.py switches to cross-area (train NewYork + Seattle, test
# Chicago + SanFrancisco). R@K counts the positive tile only; hit_rate counts a top-1
# positive or one of the three semi-positive tiles; the median localisation error comes
# from the GPS in the file names.
from mmengine.dataset import DefaultSampler

from gleamkit.datasets import (
    LoadCrossViewImages,
    PackCrossViewInputs,
    ResizeViews,
    UniqueLocationSampler,
    VIGORDataset,
)
from gleamkit.datasets.transforms import (
    PairedRandomFlip,
    PairedRandomRotate90,
    ViewColorJitter,
    ViewDropout,
)
from gleamkit.engine import RetrievalTestLoop, RetrievalValLoop
from gleamkit.evaluation import CrossViewRetrievalMetric

# The dataset folder. None: $GLEAMKIT_DATA/VIGOR. Every dataset below is written
# from it: `data_root = DIR` in a child config or `--cfg-options data_root=DIR` reaches
# all four (training, validation, test, gallery): tools/train.py and tools/test.py
# follow the links (docs/training_real_data.md, "Changing a config").
data_root = None
area = 'same'
# pairs per step on one GPU (= the sampler's batch_size); Sample4Geo: 128
batch_size = 128
# (height, width): Sample4Geo resizes the 1024 x 2048 panoramas to 384 x 768
image_sizes = dict(panorama=(384, 768), satellite=(384, 384))
pipeline = [
    dict(type=LoadCrossViewImages),
    dict(type=ResizeViews, sizes=image_sizes),
    dict(type=PackCrossViewInputs),
]
# Training only (evaluation uses `pipeline`): Sample4Geo's augmentation (dataset/vigor.py,
# train_vigor.py): panorama and tile mirrored together (prob_flip 0.5); the tile turned by 1-3
# quarter turns and the panorama rolled by as many quarters of its width (prob_rotate 0.75); per
# image colour jitter 0.15 with hue (p 0.5) and grid / coarse dropout (p 0.3; grid ratio 0.5 on
# the panorama, 0.4 on the tile). Not applied: JPEG re-compression (quality 90-100) and blur /
# sharpen (p 0.3), see docs/training_real_data.md#augmentation.
train_pipeline = [
    dict(type=LoadCrossViewImages),
    dict(type=ResizeViews, sizes=image_sizes),
    dict(type=PairedRandomFlip, prob=0.5),
    dict(type=PairedRandomRotate90, prob=0.75),
    dict(type=ViewColorJitter, brightness=0.15, contrast=0.15, saturation=0.15, hue=0.15, prob=0.5),
    dict(type=ViewDropout, prob=0.3, grid_ratio=0.5, keys=('query_img',)),
    dict(type=ViewDropout, prob=0.3, grid_ratio=0.4, keys=('reference_img',)),
    dict(type=PackCrossViewInputs),
]

train_dataloader = dict(
    batch_size=batch_size,
    num_workers=4,
    persistent_workers=True,
    dataset=dict(
        type=VIGORDataset,
        data_root=data_root,
        split='train',
        area=area,
        mode='pairs',
        pipeline=train_pipeline,
    ),
    # one panorama per positive tile in a batch (no false negatives for InfoNCE)
    sampler=dict(type=UniqueLocationSampler, batch_size=batch_size),
)

val_dataloader = dict(
    batch_size=128,
    num_workers=4,
    dataset=dict(
        type=VIGORDataset,
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
        type=VIGORDataset,
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

# R@1/5/10, R@1% (rank < |G| // 100), hit rate (semi-positives), localisation error
val_evaluator = dict(type=CrossViewRetrievalMetric, topk=(1, 5, 10))
test_evaluator = val_evaluator
