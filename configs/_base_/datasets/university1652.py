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

train_dataloader = dict(
    batch_size=batch_size,
    num_workers=4,
    persistent_workers=True,
    dataset=dict(type=University1652Dataset, data_root=data_root, split='train', mode='pairs',
                 views=('uav', ), pipeline=pipeline),
    # one image per building in a batch: two would be false negatives for InfoNCE
    sampler=dict(type=UniqueLocationSampler, batch_size=batch_size),
)

val_dataloader = dict(
    batch_size=128,
    num_workers=4,
    dataset=dict(type=University1652Dataset, data_root=data_root, split='test', mode='query',
                 protocol='drone->satellite', pipeline=pipeline),
    sampler=dict(type=DefaultSampler, shuffle=False),
)
test_dataloader = val_dataloader

# the gallery, embedded before every validation / test by the evaluation loops (a
# leaf config edits val_cfg['gallery_dataloader'] and test_cfg['gallery_dataloader'])
gallery_dataloader = dict(
    batch_size=128,
    num_workers=4,
    dataset=dict(type=University1652Dataset, data_root=data_root, split='test',
                 mode='gallery', protocol='drone->satellite', pipeline=pipeline),
    sampler=dict(type=DefaultSampler, shuffle=False))
val_cfg = dict(type=RetrievalValLoop, gallery_dataloader=gallery_dataloader)
test_cfg = dict(type=RetrievalTestLoop, gallery_dataloader=gallery_dataloader)

# R@1/5/10 from the CMC curve, AP = the official trapezoid AP
val_evaluator = dict(type=CrossViewRetrievalMetric, topk=(1, 5, 10))
test_evaluator = val_evaluator
