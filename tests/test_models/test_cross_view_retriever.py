import numpy as np
import pytest
import torch

from gleamkit.registry import MODELS
from gleamkit.structures import CrossViewDataSample

# two of each view: BatchNorm needs more than one sample per view group in training
VIEWS = ['uav', 'panorama', 'uav', 'map', 'panorama', 'map']


def tiny_model(**kwargs):
    cfg = dict(
        type='CrossViewRetriever',
        backbone=dict(type='TimmBackbone', model_name='resnet10t'),
        head=dict(type='EmbeddingHead', embed_dim=16),
        adapter=dict(type='ViewEmbeddingAdapter'),
    )
    cfg.update(kwargs)
    return MODELS.build(cfg)


def batch(with_reference=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    samples = [
        CrossViewDataSample(metainfo=dict(view=v, location_id=i, lat=30.0 + i, lon=114.0))
        for i, v in enumerate(VIEWS)
    ]
    size = {'panorama': (32, 64)}
    query = [
        torch.randint(0, 256, (3, *size.get(v, (32, 32))), generator=g, dtype=torch.uint8)
        for v in VIEWS
    ]
    inputs = dict(query=query)
    if with_reference:
        inputs['reference'] = [
            torch.randint(0, 256, (3, 32, 32), generator=g, dtype=torch.uint8) for _ in VIEWS
        ]
    return dict(inputs=inputs, data_samples=samples)


def test_preprocessor_groups_queries_by_view():
    model = tiny_model()
    data = model.data_preprocessor(batch(), True)
    groups = data['inputs']['query']
    assert set(groups) == {'uav', 'panorama', 'map'}
    assert groups['uav'][0].tolist() == [0, 2]
    assert groups['panorama'][0].tolist() == [1, 4]
    assert groups['panorama'][1].shape == (2, 3, 32, 64)
    raw = batch()['inputs']['query'][0].float()
    mean = torch.tensor([123.675, 116.28, 103.53]).view(3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(3, 1, 1)
    assert torch.allclose(groups['uav'][1][0], (raw - mean) / std)


@pytest.mark.slow
def test_tensor_mode_puts_each_query_back_in_its_row():
    model = tiny_model().eval()
    data = model.data_preprocessor(batch(), False)
    out = model(**data, mode='tensor')
    assert out['query'].shape == (6, 16) and out['reference'].shape == (6, 16)
    # row 1 is the panorama: embedding it alone gives the same vector
    pano = data['inputs']['query']['panorama'][1]
    alone = model.embed(pano, 'panorama')
    assert torch.allclose(out['query'][1], alone[0], atol=1e-5)


@pytest.mark.slow
def test_loss_mode_trains():
    torch.manual_seed(0)
    model = tiny_model()
    data = model.data_preprocessor(batch(), True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(8):
        out = model(**data, mode='loss')
        opt.zero_grad()
        out['loss'].backward()
        opt.step()
        losses.append(out['loss'].item())
    assert 'logit_scale' in out
    assert losses[-1] < losses[0]


def test_predict_ranks_the_gallery():
    model = tiny_model().eval()
    data = model.data_preprocessor(batch(), False)
    with torch.no_grad():
        emb = model(**data, mode='tensor')
    # gallery = the queries' own embeddings, shuffled: each query's top-1 is itself
    perm = [2, 0, 5, 3, 1, 4]
    ids = np.array([10, 11, 12, 13, 14, 15])
    model.set_gallery(emb['query'][perm], ids[perm], lat=np.arange(6.0)[perm], lon=np.zeros(6))
    query_only = batch(with_reference=False)
    data = model.data_preprocessor(query_only, False)
    with torch.no_grad():
        samples = model(**data, mode='predict')
    for i, s in enumerate(samples):
        assert s.pred_ranked_ids[0] == ids[i]
        assert sorted(s.pred_ranked_ids.tolist()) == ids.tolist()
        assert s.pred_lat == pytest.approx(float(i))
        assert s.pred_scores[0] == pytest.approx(1.0, abs=1e-4)


def test_predict_without_gallery_says_what_to_do():
    model = tiny_model().eval()
    data = model.data_preprocessor(batch(with_reference=False), False)
    with pytest.raises(RuntimeError, match='RetrievalValLoop'):
        model(**data, mode='predict')


@pytest.mark.slow
def test_references_are_embedded_with_their_own_view():
    # satellite->drone: the gallery's references are drone images
    model = tiny_model().eval()
    raw = batch()
    for s in raw['data_samples'][:3]:
        s.set_metainfo(dict(reference_view='uav'))
    data = model.data_preprocessor(raw, False)
    groups = data['inputs']['reference']
    assert groups['uav'][0].tolist() == [0, 1, 2]
    assert groups['satellite'][0].tolist() == [3, 4, 5]
    out = model(**data, mode='tensor')['reference']
    alone = model.embed(groups['uav'][1], 'uav')
    assert torch.allclose(out[:3], alone, atol=1e-5)
    # the model no longer writes into its data preprocessor: the default of samples that
    # do not say is the preprocessor's own setting (the datasets and loops fill the view)
    assert tiny_model().data_preprocessor.default_reference_view == 'satellite'
    with pytest.raises(TypeError, match='reference_view'):
        tiny_model(reference_view='uav')


@pytest.mark.parametrize('aggregation', ['mean', 'max'])
def test_image_set_queries_aggregate_their_members(aggregation):
    model = tiny_model(set_aggregation=aggregation).eval()
    g = torch.Generator().manual_seed(3)
    sets = [
        torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8) for n in (3, 1, 2)
    ]
    samples = [
        CrossViewDataSample(metainfo=dict(view='ground', location_id=i, set_size=len(x)))
        for i, x in enumerate(sets)
    ]
    data = model.data_preprocessor(dict(inputs=dict(query=sets), data_samples=samples), False)
    idx, members = data['inputs']['query']['ground']
    assert idx.tolist() == [0, 0, 0, 1, 2, 2]
    with torch.no_grad():
        out = model(**data, mode='tensor')['query']
        member_emb = model.embed(members, 'ground')
    reduce = (lambda e: e.mean(0)) if aggregation == 'mean' else (lambda e: e.max(0).values)
    expected = torch.stack([reduce(member_emb[:3]), member_emb[3], reduce(member_emb[4:])])
    expected = torch.nn.functional.normalize(expected, dim=1)
    assert torch.allclose(out, expected, atol=1e-5)
    assert torch.allclose(out.norm(dim=1), torch.ones(3), atol=1e-5)
    with pytest.raises(ValueError, match='set_aggregation'):
        tiny_model(set_aggregation='attention')


@pytest.mark.slow
def test_timm_head_is_frozen_when_unused_and_used_when_pooled():
    from gleamkit.registry import BACKBONES

    unpooled = BACKBONES.build(dict(type='TimmBackbone', model_name='convnext_atto'))
    frozen = [n for n, p in unpooled.named_parameters() if not p.requires_grad]
    assert frozen == ['timm_model.head.norm.weight', 'timm_model.head.norm.bias']
    x = torch.rand(2, 3, 32, 32)
    assert unpooled(x)[0].shape == (2, 320, 1, 1)
    pooled = BACKBONES.build(dict(type='TimmBackbone', model_name='convnext_atto', pooled=True))
    pooled.load_state_dict(unpooled.state_dict())
    out = pooled(x)[0]
    fmap = unpooled(x)[0].mean(dim=(2, 3))
    expected = torch.nn.functional.layer_norm(
        fmap, (320,), pooled.timm_model.head.norm.weight, pooled.timm_model.head.norm.bias, eps=1e-6
    )
    assert torch.allclose(out, expected, atol=1e-5)
    assert all(p.requires_grad for p in pooled.parameters())


@pytest.mark.slow
def test_weighted_loss_gets_weights_from_the_samples():
    torch.manual_seed(0)
    model = tiny_model(loss=dict(type='WeightedInfoNCELoss', label_smoothing=0.0))
    raw = batch()
    data = model.data_preprocessor(raw, True)
    plain = model(**data, mode='loss')['loss']
    # sample 0 overlaps sample 1's tile: a semi-positive changes the targets
    data['data_samples'][0].set_metainfo(dict(semi_positive_ids=[1], semi_positive_weights=[0.5]))
    weighted = model(**data, mode='loss')['loss']
    assert not torch.isclose(plain, weighted)
