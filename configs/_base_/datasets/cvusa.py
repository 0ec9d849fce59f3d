# CVUSA (CVUSADataset, docs/datasets.md#cvusa): street panoramas <-> centre-aligned
# satellite tiles, one to one. Training on the 35,532 pairs of train-19zl.csv; evaluation on
# the 8,884 pairs of val-19zl.csv (what every paper reports as the CVUSA test): each
# panorama against the 8,884 tiles, R@1/5/10 and R@1% (rank < 88).
from mmengine.dataset import DefaultSampler

from gleamkit.datasets import (
    CVUSADataset,
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

# The dataset folder. None: $GLEAMKIT_DATA/CVUSA. Every dataset below is written
# from it: `data_root = DIR` in a child config or `--cfg-options data_root=DIR` reaches
# all four (training, validation, test, gallery): tools/train.py and tools/test.py
# follow the links (docs/training_real_data.md, "Changing a config").
data_root = None
# pairs per step on one GPU (= the sampler's batch_size); Sample4Geo: 128
batch_size = 128
# (height, width): Sample4Geo resizes the 224 x 1232 panoramas to round(224 / 1232 * 768)
# = 140 x 768, the tiles to 384 x 384
image_sizes = dict(panorama=(140, 768), satellite=(384, 384))
pipeline = [
    dict(type=LoadCrossViewImages),
    dict(type=ResizeViews, sizes=image_sizes),
    dict(type=PackCrossViewInputs),
]
# Training only (evaluation uses `pipeline`): Sample4Geo's augmentation (dataset/cvusa.py,
# train_cvusa.py): panorama and tile mirrored together (prob_flip 0.5); the tile turned by 1-3
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
        type=CVUSADataset, data_root=data_root, split='train', mode='pairs', pipeline=train_pipeline
    ),
    sampler=dict(type=UniqueLocationSampler, batch_size=batch_size),
)

val_dataloader = dict(
    batch_size=128,
    num_workers=4,
    dataset=dict(
        type=CVUSADataset, data_root=data_root, split='test', mode='query', pipeline=pipeline
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
        type=CVUSADataset, data_root=data_root, split='test', mode='gallery', pipeline=pipeline
    ),
    sampler=dict(type=DefaultSampler, shuffle=False),
)
val_cfg = dict(type=RetrievalValLoop, gallery_dataloader=gallery_dataloader)
test_cfg = dict(type=RetrievalTestLoop, gallery_dataloader=gallery_dataloader)

# R@1/5/10 and R@1% as in the CVUSA literature
val_evaluator = dict(type=CrossViewRetrievalMetric, topk=(1, 5, 10))
test_evaluator = val_evaluator
