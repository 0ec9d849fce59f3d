"""RetrievalValLoop / RetrievalTestLoop: protocols (queries, gallery, metric), each gallery
embedded once per evaluation, metrics prefixed per protocol and equal to a direct
computation and to the deprecated PrepareGalleryHook path on the same model and data."""

import copy

import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.runner import Runner

from gleamkit.datasets import PackCrossViewInputs, SyntheticCrossViewDataset
from gleamkit.engine.loops import retrieval_loop
from gleamkit.evaluation import CrossViewRetrievalMetric
from gleamkit.registry import MODELS

WORLD_A = dict(
    seed=1, num_locations=48, num_distractors=8, image_size=32, difficulty=0.3, test_fraction=0.075
)
WORLD_B = dict(WORLD_A, seed=2, num_distractors=5)
MODEL = dict(
    type='CrossViewRetriever',
    backbone=dict(type='TimmBackbone', model_name='resnet10t'),
    head=dict(type='EmbeddingHead', embed_dim=16),
)


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def loader(world, mode, cache, batch_size=5, **kw):
    return dict(
        batch_size=batch_size,
        num_workers=0,
        dataset=dict(
            type=SyntheticCrossViewDataset,
            world=world,
            split='test',
            mode=mode,
            cache_dir=str(cache),
            render_workers=0,
            pipeline=[dict(type=PackCrossViewInputs)],
            **kw,
        ),
        sampler=dict(type='DefaultSampler', shuffle=False),
    )


def make_runner(tmp_path, name, val_cfg, custom_hooks=None):
    torch.manual_seed(0)
    model = MODELS.build(MODEL)
    return Runner(
        model=model,
        work_dir=str(tmp_path / name),
        experiment_name=f'{name}_{id(tmp_path)}',
        val_dataloader=loader(WORLD_A, 'query', tmp_path / 'cache'),
        val_evaluator=dict(type=CrossViewRetrievalMetric, topk=(1, 5)),
        val_cfg=val_cfg,
        custom_hooks=custom_hooks,
        default_scope='gleamkit',
        default_hooks=dict(checkpoint=None),
        log_level='WARNING',
    )


@pytest.fixture
def count_galleries(monkeypatch):
    """Every gallery embedding, by (world seed, number of items)."""
    calls = []
    real = retrieval_loop.embed_gallery

    def counting(model, gallery_loader, **kw):
        out = real(model, gallery_loader, **kw)
        calls.append((gallery_loader.dataset.world_kwargs['seed'], len(out['location_ids'])))
        return out

    monkeypatch.setattr(retrieval_loop, 'embed_gallery', counting)
    return calls


def two_protocols(tmp_path):
    cache = tmp_path / 'cache'
    return dict(
        type='RetrievalValLoop',
        protocols=[
            dict(name='a', gallery_dataloader=loader(WORLD_A, 'gallery', cache, batch_size=7)),
            dict(
                name='b',
                dataloader=loader(WORLD_B, 'query', cache, views=('uav', 'map')),
                gallery_dataloader=loader(WORLD_B, 'gallery', cache, batch_size=7),
            ),
        ],
    )


def direct_metrics(model, world, cache, **kw) -> dict:
    """Embed the whole gallery in one batch, rank every query, score: no loop, no sharding."""
    gallery = SyntheticCrossViewDataset(
        world=world,
        split='test',
        mode='gallery',
        cache_dir=str(cache),
        render_workers=0,
        pipeline=[dict(type=PackCrossViewInputs)],
    )
    queries = SyntheticCrossViewDataset(
        world=world,
        split='test',
        mode='query',
        cache_dir=str(cache),
        render_workers=0,
        pipeline=[dict(type=PackCrossViewInputs)],
        **kw,
    )
    model.eval()
    with torch.no_grad():
        batch = model.data_preprocessor(pseudo_collate([gallery[i] for i in range(len(gallery))]))
        emb = model(**batch, mode='tensor')['reference']
        metas = [s.metainfo for s in batch['data_samples']]
        model.set_gallery(
            emb,
            [m['location_id'] for m in metas],
            lat=[m['lat'] for m in metas],
            lon=[m['lon'] for m in metas],
        )
        batch = model.data_preprocessor(pseudo_collate([queries[i] for i in range(len(queries))]))
        predicted = model(**batch, mode='predict')
    metric = CrossViewRetrievalMetric(topk=(1, 5))
    metric.dataset_meta = queries.metainfo
    metric.process(None, [s.to_dict() for s in predicted])
    return metric.evaluate(len(queries))


@pytest.mark.slow
def test_two_protocols_prefixed_each_gallery_once_equal_to_direct(tmp_path, count_galleries):
    runner = make_runner(tmp_path, 'two', two_protocols(tmp_path))
    metrics = runner.val()
    # each gallery embedded exactly once, in protocol order (12 = 4 test places + 8
    # distractors; 9 = 4 + 5)
    assert count_galleries == [(1, 12), (2, 9)]
    assert runner.val_loop.gallery_embed_count == 2
    assert not any(key.startswith('retrieval/') for key in metrics)
    assert metrics['a/num_queries'] == 16 and metrics['a/gallery_size'] == 12
    assert metrics['b/num_queries'] == 8 and metrics['b/gallery_size'] == 9
    assert {'a/uav/R@1', 'a/ground/R@1', 'b/uav/R@1', 'b/map/R@1'} <= set(metrics)
    assert 'b/ground/R@1' not in metrics

    # the same numbers as ranking by hand, protocol by protocol
    model = runner.model
    for name, world, kw in (('a', WORLD_A, {}), ('b', WORLD_B, dict(views=('uav', 'map')))):
        expected = direct_metrics(model, world, tmp_path / 'cache', **kw)
        got = {
            key[len(name) + 1 :]: value
            for key, value in metrics.items()
            if key.startswith(f'{name}/')
        }
        assert got.keys() == {key[len('retrieval/') :] for key in expected}
        for key, value in expected.items():
            assert got[key[len('retrieval/') :]] == pytest.approx(value, abs=1e-9), (name, key)

    # a second evaluation embeds each gallery once more (the weights may have changed)
    again = runner.val_loop.run()
    assert count_galleries == [(1, 12), (2, 9)] * 2
    assert again == pytest.approx(metrics)


@pytest.mark.slow
def test_one_unnamed_protocol_equals_the_deprecated_hook(tmp_path, count_galleries):
    gallery = loader(WORLD_A, 'gallery', tmp_path / 'cache', batch_size=7)
    loop = make_runner(
        tmp_path, 'loop', dict(type='RetrievalValLoop', gallery_dataloader=gallery)
    ).val()
    assert count_galleries == [(1, 12)]
    assert 'retrieval/R@1' in loop  # unnamed: the metric's own keys
    with pytest.warns(DeprecationWarning, match='RetrievalValLoop'):
        hook = make_runner(
            tmp_path,
            'hook',
            dict(type='ValLoop'),
            custom_hooks=[dict(type='PrepareGalleryHook', dataloader=copy.deepcopy(gallery))],
        ).val()
    assert hook.keys() == loop.keys()
    for key in loop:
        assert hook[key] == pytest.approx(loop[key], abs=1e-9), key


@pytest.mark.slow
def test_the_hook_and_a_retrieval_loop_together_are_refused(tmp_path):
    gallery = loader(WORLD_A, 'gallery', tmp_path / 'cache', batch_size=7)
    with pytest.warns(DeprecationWarning):
        runner = make_runner(
            tmp_path,
            'both',
            dict(type='RetrievalValLoop', gallery_dataloader=gallery),
            custom_hooks=[dict(type='PrepareGalleryHook', dataloader=gallery)],
        )
    with pytest.raises(ValueError, match='drop the hook'):
        runner.val()


@pytest.mark.parametrize(
    'val_cfg, message',
    [
        (dict(type='RetrievalValLoop'), 'RetrievalValLoop: no gallery'),
        (
            dict(type='RetrievalValLoop', gallery_dataloader='G', protocols=[dict(name='a')]),
            'not both',
        ),
        (dict(type='RetrievalValLoop', protocols=[]), 'non-empty list'),
        (
            dict(
                type='RetrievalValLoop',
                protocols=[dict(gallery_dataloader='G'), dict(name='b', gallery_dataloader='G')],
            ),
            r'val_cfg.protocols\[0\] needs a name',
        ),
        (
            dict(
                type='RetrievalValLoop',
                protocols=[
                    dict(name='a', gallery_dataloader='G'),
                    dict(name='a', gallery_dataloader='G'),
                ],
            ),
            "two protocols are named 'a'",
        ),
        (
            dict(type='RetrievalValLoop', protocols=[dict(name='a', gallery='G')]),
            r"val_cfg.protocols\[0\] has unknown keys \['gallery'\]",
        ),
        (
            dict(type='RetrievalValLoop', protocols=[dict(name='a')]),
            r'val_cfg.protocols\[0\] has no gallery_dataloader',
        ),
    ],
)
@pytest.mark.slow
def test_bad_protocols_are_named(tmp_path, val_cfg, message):
    runner = make_runner(tmp_path, 'bad', val_cfg)
    with pytest.raises((ValueError, TypeError), match=message):
        runner.val()


@pytest.mark.slow
def test_index_option_keeps_top_k_and_equals_the_full_ranking_with_flat(tmp_path):
    gallery = loader(WORLD_A, 'gallery', tmp_path / 'cache', batch_size=7)
    full = make_runner(
        tmp_path, 'full', dict(type='RetrievalValLoop', gallery_dataloader=gallery)
    ).val()
    runner = make_runner(
        tmp_path,
        'flat',
        dict(
            type='RetrievalValLoop',
            gallery_dataloader=copy.deepcopy(gallery),
            index=dict(factory='Flat', topk=6),
        ),
    )
    flat = runner.val()
    assert flat.keys() == full.keys()
    for key in full:
        assert flat[key] == full[key], key  # exact, AP included (exact scores)
    # the model now keeps 6 of the 12 gallery ids per query
    model = runner.model
    assert model._searcher.topk == 6 and len(model.gallery['location_ids']) == 12
    batch = model.data_preprocessor(
        pseudo_collate([runner.val_dataloader.dataset[i] for i in range(3)])
    )
    with torch.no_grad():
        predicted = model(**batch, mode='predict')
    assert [tuple(s.pred_ranked_ids.shape) for s in predicted] == [(6,)] * 3


@pytest.mark.slow  # builds a Runner
@pytest.mark.parametrize(
    'index, message',
    [
        (dict(topk=5), 'index needs factory'),
        (dict(factory='Flat', topk=0), 'topk must be a positive int'),
        (dict(factory='Flat', k=5), "unknown keys \\['k'\\]"),
    ],
)
def test_bad_index_option_is_named(tmp_path, index, message):
    gallery = loader(WORLD_A, 'gallery', tmp_path / 'cache')
    runner = make_runner(
        tmp_path, 'bad', dict(type='RetrievalValLoop', gallery_dataloader=gallery, index=index)
    )
    with pytest.raises(ValueError, match=message):
        _ = runner.val_loop
