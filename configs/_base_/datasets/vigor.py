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

train_dataloader = dict(
    batch_size=batch_size,
    num_workers=4,
    persistent_workers=True,
    dataset=dict(type=VIGORDataset, data_root=data_root, split='train', area=area,
                 mode='pairs', pipeline=pipeline),
    # one panorama per positive tile in a batch (no false negatives for InfoNCE)
    sampler=dict(type=UniqueLocationSampler, batch_size=batch_size),
)

val_dataloader = dict(
    batch_size=128,
    num_workers=4,
    dataset=dict(type=VIGORDataset, data_root=data_root, split='test', area=area,
                 mode='query', pipeline=pipeline),
    sampler=dict(type=DefaultSampler, shuffle=False),
)
test_dataloader = val_dataloader

# the gallery, embedded before every validation / test by the evaluation loops (a
# leaf config edits val_cfg['gallery_dataloader'] and test_cfg['gallery_dataloader'])
gallery_dataloader = dict(
    batch_size=128,
    num_workers=4,
    dataset=dict(type=VIGORDataset, data_root=data_root, split='test', area=area,
                 mode='gallery', pipeline=pipeline),
    sampler=dict(type=DefaultSampler, shuffle=False))
val_cfg = dict(type=RetrievalValLoop, gallery_dataloader=gallery_dataloader)
test_cfg = dict(type=RetrievalTestLoop, gallery_dataloader=gallery_dataloader)

# R@1/5/10, R@1% (rank < |G| // 100), hit rate (semi-positives), localisation error
val_evaluator = dict(type=CrossViewRetrievalMetric, topk=(1, 5, 10))
test_evaluator = val_evaluator
