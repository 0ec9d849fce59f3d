# GLEAM-C phase 2 on real data: multi-dataset fusion of every query view, starting from the
# phase-1 VIGOR model:
#   python tools/train.py configs/gleam_c/phase2_fusion.py \
#       --load-from work_dirs/phase1_vigor/epoch_40.pth
# Training fuses University-1652 drone images (uav), VIGOR same-area panoramas (panorama),
# ground-photo sets (ground) and MAP street-map tiles (map), each paired with its satellite
# tile, in one mmengine ConcatDataset; ViewBalancedSampler gives every view a quarter of
# each batch (small sets are oversampled) with no place twice in a batch. Location ids stay
# distinct across the four datasets through their location_offset (the class defaults,
# written out here).
#
# Validation and test on every benchmark it trains on, each against its own gallery, one
# after the other in one evaluation (RetrievalValLoop protocols): University-1652 drone ->
# satellite (951 tiles), VIGOR same-area panoramas, ground-photo sets and MAP street maps;
# the metrics are prefixed with the protocol's name (u1652/R@1, vigor/R@1, ground_sets/R@1,
# street_map/R@1) and the best checkpoint is kept by u1652/R@1.
# GLEAM publishes no phase-2 schedule: Sample4Geo's optimiser, 128 pairs a step,
# 10 epochs of 4 x the mean view size (1-epoch warm-up) - gleamkit's choice.
from mmengine.config import read_base
from mmengine.dataset import ConcatDataset, DefaultSampler

from gleamkit.datasets import (
    GroundImageSetDataset,
    LoadCrossViewImages,
    PackCrossViewInputs,
    ResizeViews,
    StreetMapSatelliteDataset,
    University1652Dataset,
    ViewBalancedSampler,
    VIGORDataset,
)
from gleamkit.engine import RetrievalTestLoop, RetrievalValLoop

with read_base():
    # University-1652 drone -> satellite: val/test dataloaders and gallery_dataloader
    from .._base_.datasets.university1652 import *
    from .._base_.default_runtime import *
    from .._base_.models.gleam_c_convnext_base import *
    from .._base_.schedules.sample4geo_adamw import *

# Dataset folders. None: $GLEAMKIT_DATA/<folder> of each class. Each reaches the datasets
# written from it, in a child config or on the command line: --cfg-options data_root=DIR
# (University-1652: training and validation) vigor_root=DIR ground_sets_root=DIR
# street_map_root=DIR.
university1652_root = data_root
vigor_root = None
ground_sets_root = None
street_map_root = None

batch_size = 128
views = ('uav', 'panorama', 'ground', 'map')
image_sizes = dict(
    uav=(384, 384), panorama=(384, 768), ground=(384, 384), map=(384, 384), satellite=(384, 384)
)
# photos per ground-set sample: 32 sets x 4 = 128 ground photos a step
max_set_size = 4
pair_pipeline = [
    dict(type=LoadCrossViewImages),
    dict(type=ResizeViews, sizes=image_sizes),
    dict(type=PackCrossViewInputs),
]
set_pipeline = [
    dict(type=LoadCrossViewImages, keys=('query',)),  # the photo set: a list
    dict(type=ResizeViews, sizes={}, default=image_sizes['ground'], keys=('query',)),
    dict(type=LoadCrossViewImages, keys=('reference',)),
    dict(type=ResizeViews, sizes=image_sizes),
    dict(type=PackCrossViewInputs),
]

train_dataloader = dict(
    batch_size=batch_size,
    num_workers=8,
    persistent_workers=True,
    dataset=dict(
        type=ConcatDataset,
        # the datasets' names differ; everything else in their metainfo agrees
        ignore_keys=['name'],
        datasets=[
            dict(
                type=University1652Dataset,
                data_root=university1652_root,
                split='train',
                mode='pairs',
                views=('uav',),
                location_offset=10_000_000,
                pipeline=pair_pipeline,
            ),
            dict(
                type=VIGORDataset,
                data_root=vigor_root,
                split='train',
                area='same',
                mode='pairs',
                location_offset=40_000_000,
                pipeline=pair_pipeline,
            ),
            dict(
                type=GroundImageSetDataset,
                data_root=ground_sets_root,
                split='train',
                mode='pairs',
                as_sets=True,
                max_set_size=max_set_size,
                set_sampling='random',
                location_offset=80_000_000,
                pipeline=set_pipeline,
            ),
            dict(
                type=StreetMapSatelliteDataset,
                data_root=street_map_root,
                split='train',
                mode='pairs',
                location_offset=90_000_000,
                pipeline=pair_pipeline,
            ),
        ],
    ),
    sampler=dict(type=ViewBalancedSampler, batch_size=batch_size, views=views, epoch_size='mean'),
)

max_epochs = 10
warmup_epochs = 1
train_cfg.update(max_epochs=max_epochs, val_interval=1)
param_scheduler[0].update(end=warmup_epochs)
param_scheduler[1].update(begin=warmup_epochs, end=max_epochs)

# one protocol per benchmark trained on; University-1652's queries are val_dataloader's /
# test_dataloader's (from its base), the others name their own
vigor_queries = dict(
    batch_size=128,
    num_workers=4,
    dataset=dict(
        type=VIGORDataset,
        data_root=vigor_root,
        split='test',
        area='same',
        mode='query',
        pipeline=pair_pipeline,
    ),
    sampler=dict(type=DefaultSampler, shuffle=False),
)
vigor_gallery = dict(
    batch_size=128,
    num_workers=4,
    dataset=dict(
        type=VIGORDataset,
        data_root=vigor_root,
        split='test',
        area='same',
        mode='gallery',
        pipeline=pair_pipeline,
    ),
    sampler=dict(type=DefaultSampler, shuffle=False),
)
# whole sets of photos per cell (as configs/gleam_c/ground_sets.py evaluates)
ground_sets_queries = dict(
    batch_size=8,
    num_workers=4,
    dataset=dict(
        type=GroundImageSetDataset,
        data_root=ground_sets_root,
        split='test',
        mode='query',
        as_sets=True,
        max_set_size=None,
        set_sampling='first',
        pipeline=set_pipeline,
    ),
    sampler=dict(type=DefaultSampler, shuffle=False),
)
ground_sets_gallery = dict(
    batch_size=128,
    num_workers=4,
    dataset=dict(
        type=GroundImageSetDataset,
        data_root=ground_sets_root,
        split='test',
        mode='gallery',
        pipeline=pair_pipeline,
    ),
    sampler=dict(type=DefaultSampler, shuffle=False),
)
street_map_queries = dict(
    batch_size=128,
    num_workers=4,
    dataset=dict(
        type=StreetMapSatelliteDataset,
        data_root=street_map_root,
        split='test',
        mode='query',
        pipeline=pair_pipeline,
    ),
    sampler=dict(type=DefaultSampler, shuffle=False),
)
street_map_gallery = dict(
    batch_size=128,
    num_workers=4,
    dataset=dict(
        type=StreetMapSatelliteDataset,
        data_root=street_map_root,
        split='test',
        mode='gallery',
        pipeline=pair_pipeline,
    ),
    sampler=dict(type=DefaultSampler, shuffle=False),
)
protocols = [
    dict(name='u1652', gallery_dataloader=gallery_dataloader),
    dict(name='vigor', dataloader=vigor_queries, gallery_dataloader=vigor_gallery),
    dict(
        name='ground_sets', dataloader=ground_sets_queries, gallery_dataloader=ground_sets_gallery
    ),
    dict(name='street_map', dataloader=street_map_queries, gallery_dataloader=street_map_gallery),
]
val_cfg = dict(type=RetrievalValLoop, protocols=protocols)
test_cfg = dict(type=RetrievalTestLoop, protocols=protocols)
default_hooks['checkpoint']['save_best'] = 'u1652/R@1'
