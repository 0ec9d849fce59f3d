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
from gleamkit.engine import PrepareGalleryHook
from gleamkit.evaluation import CrossViewRetrievalMetric

# The dataset folder. None: $GLEAMKIT_DATA/CVACT. It is copied into every dataset below (a
# leaf config that changes it sets each dataset's data_root); on the command line:
#   --cfg-options train_dataloader.dataset.data_root=DIR val_dataloader.dataset.data_root=DIR
#   test_dataloader.dataset.data_root=DIR custom_hooks.0.dataloader.dataset.data_root=DIR
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

train_dataloader = dict(
    batch_size=batch_size,
    num_workers=4,
    persistent_workers=True,
    dataset=dict(type=CVACTDataset, data_root=data_root, split='train', mode='pairs',
                 pipeline=pipeline),
    sampler=dict(type=UniqueLocationSampler, batch_size=batch_size),
)

val_dataloader = dict(
    batch_size=128,
    num_workers=4,
    dataset=dict(type=CVACTDataset, data_root=data_root, split=eval_split, mode='query',
                 pipeline=pipeline),
    sampler=dict(type=DefaultSampler, shuffle=False),
)
test_dataloader = val_dataloader

# the gallery, embedded before every validation / test (leaf configs edit it in place:
# custom_hooks[0]['dataloader'])
custom_hooks = [
    dict(type=PrepareGalleryHook,
         dataloader=dict(
             batch_size=128,
             num_workers=4,
             dataset=dict(type=CVACTDataset, data_root=data_root, split=eval_split,
                          mode='gallery', pipeline=pipeline),
             sampler=dict(type=DefaultSampler, shuffle=False)))
]

val_evaluator = dict(type=CrossViewRetrievalMetric, topk=(1, 5, 10))
test_evaluator = val_evaluator
