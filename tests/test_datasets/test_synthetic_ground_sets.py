"""Ground queries as sets of photos on the built-in world (SetVL-480K style)."""

import os

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope

from gleamkit.datasets import PackCrossViewInputs, SyntheticCrossViewDataset
from gleamkit.datasets import synthetic_cross_view as scv
from gleamkit.datasets.transforms import PairedRandomFlip, ViewColorJitter
from gleamkit.registry import MODELS
from gleamkit.synthetic import SyntheticWorld, load_or_render
from gleamkit.synthetic.cache import cache_path

WORLD = dict(seed=1, num_locations=12, num_distractors=2, image_size=32)


def dataset(tmp_path, **kwargs):
    kwargs.setdefault('pipeline', [dict(type=PackCrossViewInputs)])
    return SyntheticCrossViewDataset(
        world=WORLD, cache_dir=str(tmp_path), render_workers=0, **kwargs
    )


@pytest.mark.slow
def test_a_ground_query_is_the_canonical_photo_plus_other_draws(tmp_path):
    ds = dataset(
        tmp_path, split='all', mode='pairs', views=('map', 'ground'), ground_set_size=3, pipeline=[]
    )
    world = SyntheticWorld(**WORLD)
    ground = [i for i, info in enumerate(ds.data_list) if info['view'] == 'ground']
    info = ds[ground[0]]
    loc = info['location_id']
    photos = info['query_img']
    assert isinstance(photos, list) and len(photos) == 3 and info['set_size'] == 3
    assert np.array_equal(photos[0], world.render(loc, 'ground'))
    for draw in (0, 1):
        assert np.array_equal(photos[draw + 1], world.render(loc, 'ground', rng_seed=draw))
    assert not np.array_equal(photos[1], photos[2])
    assert np.array_equal(info['reference_img'], world.render(loc, 'satellite'))
    other = ds[next(i for i, d in enumerate(ds.data_list) if d['view'] == 'map')]
    assert isinstance(other['query_img'], np.ndarray) and 'set_size' not in other


@pytest.mark.slow
def test_sets_pack_augment_and_embed_as_the_mean_of_their_members(tmp_path):
    ds = dataset(
        tmp_path,
        split='all',
        mode='pairs',
        views=('map', 'ground'),
        ground_set_size=2,
        pipeline=[
            dict(type=PairedRandomFlip, prob=1.0),
            dict(type=ViewColorJitter, prob=1.0),
            dict(type=PackCrossViewInputs),
        ],
    )
    batch = pseudo_collate([ds[i] for i in range(len(ds))][:8])
    views = [s.view for s in batch['data_samples']]
    assert 'ground' in views and 'map' in views
    for query, sample in zip(batch['inputs']['query'], batch['data_samples']):
        if sample.view == 'ground':
            assert tuple(query.shape) == (2, 3, 32, 32) and sample.set_size == 2
        else:
            assert tuple(query.shape) == (3, 32, 32)
    with DefaultScope.overwrite_default_scope('gleamkit'):
        model = MODELS.build(
            dict(
                type='CrossViewRetriever',
                backbone=dict(type='TimmBackbone', model_name='resnet10t'),
                head=dict(type='EmbeddingHead', embed_dim=8),
            )
        )
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(batch)
        query = model(**data, mode='tensor')['query']
        row = views.index('ground')
        members = model.embed(
            model.data_preprocessor.normalize(batch['inputs']['query'][row]), 'ground'
        )
        expected = torch.nn.functional.normalize(members.mean(0), dim=0)
        assert torch.allclose(query[row], expected, atol=1e-6)
        model.train()
        loss = model(**model.data_preprocessor(batch, training=True), mode='loss')['loss']
    assert torch.isfinite(loss)


def test_draws_are_cached_in_their_own_files(tmp_path, monkeypatch):
    dataset(tmp_path, split='test', mode='query', views=('ground',), ground_set_size=3)
    canonical = cache_path(WORLD, cache_dir=str(tmp_path))
    draws = [cache_path(WORLD, ('ground',), str(tmp_path), rng_seed=d) for d in (0, 1)]
    assert len({canonical, *draws}) == 3
    assert all(os.path.exists(p) for p in draws)
    _, arrays = load_or_render(WORLD, ('ground',), str(tmp_path), rng_seed=1)
    assert np.array_equal(arrays['ground'][0], SyntheticWorld(**WORLD).render(0, 'ground', 1))

    def boom(*args, **kwargs):
        raise AssertionError('cache miss: render_all called')

    scv._LOADED.clear()
    monkeypatch.setattr(SyntheticWorld, 'render_all', boom)
    ds = dataset(tmp_path, split='test', mode='query', views=('ground',), ground_set_size=3)
    assert ds[0]['inputs']['query'].shape[0] == 3


def test_single_photo_by_default_and_bad_set_size(tmp_path):
    ds = dataset(tmp_path, split='test', mode='query', views=('ground',))
    assert tuple(ds[0]['inputs']['query'].shape) == (3, 32, 32)
    with pytest.raises(ValueError, match='ground_set_size=0'):
        dataset(tmp_path, ground_set_size=0)
    with pytest.raises(ValueError, match='share a size'):
        PackCrossViewInputs().transform(
            dict(
                view='ground',
                query_img=[np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4, 3), np.uint8)],
            )
        )


def test_render_workers_share_the_cpus_among_local_ranks(monkeypatch):
    monkeypatch.setattr(scv.os, 'cpu_count', lambda: 16)
    monkeypatch.delenv('LOCAL_WORLD_SIZE', raising=False)
    assert scv.default_render_workers() == 8
    monkeypatch.setenv('LOCAL_WORLD_SIZE', '4')
    assert scv.default_render_workers() == 4
    monkeypatch.setenv('LOCAL_WORLD_SIZE', '32')
    assert scv.default_render_workers() == 1
    monkeypatch.setattr(scv.os, 'cpu_count', lambda: None)
    monkeypatch.setenv('LOCAL_WORLD_SIZE', 'x')
    assert scv.default_render_workers() == 1
