"""The real-data dataset bases augment their training sets as the published recipes do
(docs/training_real_data.md#augmentation) and never their evaluation data."""

from pathlib import Path

import pytest
from mmengine.config import Config

DATASETS = Path(__file__).resolve().parents[2] / 'configs' / '_base_' / 'datasets'
AUGMENTATIONS = {'PairedRandomFlip', 'PairedRandomRotate90', 'ViewColorJitter', 'ViewDropout'}
PAIRS = [
    'LoadCrossViewImages',
    'ResizeViews',
    'PairedRandomFlip',
    'PairedRandomRotate90',
    'ViewColorJitter',
    'ViewDropout',
    'PackCrossViewInputs',
]
PANORAMA = PAIRS[:-1] + ['ViewDropout', 'PackCrossViewInputs']
SETS = [
    'LoadCrossViewImages',
    'ResizeViews',
    'LoadCrossViewImages',
    'ResizeViews',
    'PairedRandomFlip',
    'PairedRandomRotate90',
    'ViewColorJitter',
    'ViewDropout',
    'PackCrossViewInputs',
]


def names(pipeline):
    return [getattr(t['type'], '__name__', t['type']) for t in pipeline]


def by_type(pipeline, name):
    return [t for t in pipeline if names([t]) == [name]]


@pytest.mark.parametrize(
    'base,expected',
    [
        ('university1652', PAIRS),
        ('sues200', PAIRS),
        ('denseuav', PAIRS),
        ('gta_uav', PAIRS),
        ('street_map', PAIRS),
        ('vigor', PANORAMA),
        ('cvusa', PANORAMA),
        ('cvact', PANORAMA),
        ('ground_sets', SETS),
    ],
)
def test_training_is_augmented_and_evaluation_is_not(base, expected):
    cfg = Config.fromfile(str(DATASETS / f'{base}.py'))
    train = cfg.train_dataloader.dataset.pipeline
    assert names(train) == expected
    assert by_type(train, 'PairedRandomFlip')[0]['prob'] == 0.5
    # albumentations' RandomRotate90(p=1) / Sample4Geo's prob_rotate: a turn 3 times in 4
    assert by_type(train, 'PairedRandomRotate90')[0]['prob'] == 0.75
    jitter = by_type(train, 'ViewColorJitter')[0]
    assert (
        jitter['brightness'],
        jitter['contrast'],
        jitter['saturation'],
        jitter['hue'],
        jitter['prob'],
    ) == (0.15, 0.15, 0.15, 0.15, 0.5)
    assert all(d['prob'] == 0.3 for d in by_type(train, 'ViewDropout'))
    for loader in (
        cfg.val_dataloader,
        cfg.test_dataloader,
        cfg.val_cfg.gallery_dataloader,
        cfg.test_cfg.gallery_dataloader,
    ):
        assert not AUGMENTATIONS & set(names(loader.dataset.pipeline)), base


@pytest.mark.parametrize('base', ['vigor', 'cvusa', 'cvact'])
def test_panorama_bases_can_roll_by_quarters(base):
    cfg = Config.fromfile(str(DATASETS / f'{base}.py'))
    assert cfg.image_sizes['panorama'][1] % 4 == 0
    ratios = {
        d['keys'][0]: d['grid_ratio']
        for d in by_type(cfg.train_dataloader.dataset.pipeline, 'ViewDropout')
    }
    assert ratios == {'query_img': 0.5, 'reference_img': 0.4}  # Sample4Geo's ground / sat
