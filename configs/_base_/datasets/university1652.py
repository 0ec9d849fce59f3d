# University-1652 (University1652Dataset, docs/datasets.md#university-1652): drone ->
# satellite training pairs (every drone image with its building's tile); evaluation
# drone -> satellite: 37,855 drone queries vs 951 satellite tiles (701 + 250 distractors,
# kept as in the official protocol). configs/gleam_c/university1652_sat2drone.py switches
# the evaluation to satellite -> drone (701 tiles vs 51,355 drone images).
from mmengine.dataset import DefaultSampler

from gleamkit.datasets import (
    LoadCrossViewImages,
    PackCrossViewInputs,
    ResizeViews,
    UniqueLocationSampler,
    University1652Dataset,
)
from gleamkit.datasets.transforms import (
    PairedRandomFlip,
    PairedRandomRotate90,
    ViewColorJitter,
    ViewDropout,
)
from gleamkit.engine import RetrievalTestLoop, RetrievalValLoop
from gleamkit.evaluation import CrossViewRetrievalMetric

# The dataset folder. None: $GLEAMKIT_DATA/University-Release. Every dataset below is written
# from it: `data_root = DIR` in a child config or `--cfg-options data_root=DIR` reaches
# all four (training, validation, test, gallery): tools/train.py and tools/test.py
# follow the links (docs/training_real_data.md, "Changing a config").
data_root = None
# pairs per step on one GPU (= the sampler's batch_size); Sample4Geo: 128 in all
batch_size = 128
# (height, width) per view; Sample4Geo resizes drone and satellite images to 384 x 384
image_sizes = dict(uav=(384, 384), satellite=(384, 384))
pipeline = [
    dict(type=LoadCrossViewImages),
    dict(type=ResizeViews, sizes=image_sizes),
    dict(type=PackCrossViewInputs),
]
# Training only (evaluation uses `pipeline`): Sample4Geo's (dataset/university.py,
# train_university.py) augmentation: drone image and tile mirrored together (p 0.5); the tile
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
        type=University1652Dataset,
        data_root=data_root,
        split='train',
        mode='pairs',
        views=('uav',),
        pipeline=train_pipeline,
    ),
    # one image per building in a batch: two would be false negatives for InfoNCE
    sampler=dict(type=UniqueLocationSampler, batch_size=batch_size),
)

val_dataloader = dict(
    batch_size=128,
    num_workers=4,
    dataset=dict(
        type=University1652Dataset,
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
        type=University1652Dataset,
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

# R@1/5/10 from the CMC curve, AP = the official trapezoid AP
val_evaluator = dict(type=CrossViewRetrievalMetric, topk=(1, 5, 10))
test_evaluator = val_evaluator
