# CVACT (CVACTDataset, docs/datasets.md#cvact): street panoramas of Canberra <-> satellite
# tiles, one to one. Training on the 35,532 pairs of trainSet; evaluation on CVACT val
# (8,884 pairs, ANU_data_small) here; configs/gleam_c/cvact_test.py evaluates CVACT test
# (92,802 pairs, ANU_data_test). R@1/5/10, R@1% and the localisation error (UTM -> GPS).
from mmengine.dataset import DefaultSampler

from gleamkit.datasets import (
    CVACTDataset,
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

# The dataset folder. None: $GLEAMKIT_DATA/CVACT. Every dataset below is written
# from it: `data_root = DIR` in a child config or `--cfg-options data_root=DIR` reaches
# all four (training, validation, test, gallery): tools/train.py and tools/test.py
# follow the links (docs/training_real_data.md, "Changing a config").
data_root = None
# 'val' (8,884) or 'test' (92,802)
eval_split = 'val'
# pairs per step on one GPU (= the sampler's batch_size); Sample4Geo: 128
batch_size = 128
# (height, width): as CVUSA in Sample4Geo, panoramas 140 x 768, tiles 384 x 384
image_sizes = dict(panorama=(140, 768), satellite=(384, 384))
pipeline = [
    dict(type=LoadCrossViewImages),
    dict(type=ResizeViews, sizes=image_sizes),
    dict(type=PackCrossViewInputs),
]
# Training only (evaluation uses `pipeline`): Sample4Geo's augmentation (dataset/cvact.py,
# train_cvact.py): panorama and tile mirrored together (prob_flip 0.5); the tile turned by 1-3
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
        type=CVACTDataset, data_root=data_root, split='train', mode='pairs', pipeline=train_pipeline
    ),
    sampler=dict(type=UniqueLocationSampler, batch_size=batch_size),
)

val_dataloader = dict(
    batch_size=128,
    num_workers=4,
    dataset=dict(
        type=CVACTDataset, data_root=data_root, split=eval_split, mode='query', pipeline=pipeline
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
        type=CVACTDataset, data_root=data_root, split=eval_split, mode='gallery', pipeline=pipeline
    ),
    sampler=dict(type=DefaultSampler, shuffle=False),
)
val_cfg = dict(type=RetrievalValLoop, gallery_dataloader=gallery_dataloader)
test_cfg = dict(type=RetrievalTestLoop, gallery_dataloader=gallery_dataloader)

val_evaluator = dict(type=CrossViewRetrievalMetric, topk=(1, 5, 10))
test_evaluator = val_evaluator
