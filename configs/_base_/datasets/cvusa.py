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

train_dataloader = dict(
    batch_size=batch_size,
    num_workers=4,
    persistent_workers=True,
    dataset=dict(type=CVUSADataset, data_root=data_root, split='train', mode='pairs',
                 pipeline=pipeline),
    sampler=dict(type=UniqueLocationSampler, batch_size=batch_size),
)

val_dataloader = dict(
    batch_size=128,
    num_workers=4,
    dataset=dict(type=CVUSADataset, data_root=data_root, split='test', mode='query',
                 pipeline=pipeline),
    sampler=dict(type=DefaultSampler, shuffle=False),
)
test_dataloader = val_dataloader

# the gallery, embedded before every validation / test by the evaluation loops (a
# leaf config edits val_cfg['gallery_dataloader'] and test_cfg['gallery_dataloader'])
gallery_dataloader = dict(
    batch_size=128,
    num_workers=4,
    dataset=dict(type=CVUSADataset, data_root=data_root, split='test', mode='gallery',
                 pipeline=pipeline),
    sampler=dict(type=DefaultSampler, shuffle=False))
val_cfg = dict(type=RetrievalValLoop, gallery_dataloader=gallery_dataloader)
test_cfg = dict(type=RetrievalTestLoop, gallery_dataloader=gallery_dataloader)

# R@1/5/10 and R@1% as in the CVUSA literature
val_evaluator = dict(type=CrossViewRetrievalMetric, topk=(1, 5, 10))
test_evaluator = val_evaluator
