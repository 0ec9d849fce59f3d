"""Gradient caching gives the gradients of the unchunked step."""

import copy

import pytest
import torch
from mmengine.optim import OptimWrapper

from gleamkit.models.retrievers.grad_cache import grad_cache_backward, slice_inputs
from gleamkit.registry import MODELS
from gleamkit.structures import CrossViewDataSample

VIEWS = ['uav', 'panorama', 'map', 'uav', 'ground', 'panorama', 'map', 'uav']


def layer_norm_model(stochastic=False, **kwargs):
    # ConvNeXt uses LayerNorm: samples are independent, so chunking is exact
    torch.manual_seed(0)
    return MODELS.build(
        dict(
            type='CrossViewRetriever',
            backbone=dict(
                type='TimmBackbone',
                model_name='convnext_atto',
                drop_path_rate=0.1 if stochastic else 0.0,
            ),
            head=dict(type='EmbeddingHead', embed_dim=16, dropout=0.2 if stochastic else 0.0),
            adapter=dict(type='ViewEmbeddingAdapter'),
            **kwargs,
        )
    )


def raw_batch():
    g = torch.Generator().manual_seed(0)
    size = {'panorama': (32, 64)}
    return dict(
        inputs=dict(
            query=[
                torch.randint(0, 256, (3, *size.get(v, (32, 32))), generator=g, dtype=torch.uint8)
                for v in VIEWS
            ],
            reference=[
                torch.randint(0, 256, (3, 32, 32), generator=g, dtype=torch.uint8) for _ in VIEWS
            ],
        ),
        data_samples=[
            CrossViewDataSample(metainfo=dict(view=v, location_id=i)) for i, v in enumerate(VIEWS)
        ],
    )


def assert_same_gradient(a, b, name, tol=1e-5):
    # float sums in another order: compare against the tensor's own scale
    scale = a.abs().max().clamp(min=1e-12)
    assert (a - b).abs().max() / scale < tol, name


def grads(model):
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_slice_inputs_keeps_rows_and_views():
    model = layer_norm_model()
    inputs = model.data_preprocessor(raw_batch(), True)['inputs']
    part = slice_inputs(inputs, 2, 5)  # rows 2, 3, 4: map, uav, ground
    assert part['batch_size'] == 3
    assert {v: idx.tolist() for v, (idx, _) in part['query'].items()} == {
        'map': [0],
        'uav': [1],
        'ground': [2],
    }
    ref_idx, ref = part['reference']['satellite']
    assert ref_idx.tolist() == [0, 1, 2]
    assert torch.equal(ref, inputs['reference']['satellite'][1][2:5])


@pytest.mark.slow
@pytest.mark.parametrize('chunk', [1, 3])
def test_chunked_gradients_equal_unchunked(chunk):
    model = layer_norm_model()
    twin = copy.deepcopy(model)
    model.train()
    twin.train()
    data = model.data_preprocessor(raw_batch(), True)

    loss = model(**data, mode='loss')['loss']
    loss.backward()
    logs = grad_cache_backward(twin, data['inputs'], chunk, lambda x: x.backward())
    assert logs['loss'].item() == pytest.approx(loss.item(), rel=1e-5)
    full, cached = grads(model), grads(twin)
    assert full.keys() == cached.keys() and 'loss_module.logit_scale' in full
    for name in full:
        assert_same_gradient(full[name], cached[name], name)


@pytest.mark.slow
def test_train_step_with_grad_cache_matches_plain_step():
    plain = layer_norm_model()
    cached = layer_norm_model(grad_cache_chunk=3)
    cached.load_state_dict(plain.state_dict())
    for model in (plain, cached):
        model.train()
        torch.manual_seed(7)
        wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
        logs = model.train_step(raw_batch(), wrapper)
        assert 'loss' in logs
    for (name, a), (_, b) in zip(plain.named_parameters(), cached.named_parameters()):
        assert_same_gradient(a, b, name)


@pytest.mark.slow
def test_randomness_is_replayed_between_the_two_passes():
    """With dropout and drop-path, the cached step equals a chunked forward with a
    graph under the same random draws: the second pass replays the first's RNG."""
    model = layer_norm_model(stochastic=True)
    twin = copy.deepcopy(model)
    model.train()
    twin.train()
    data = model.data_preprocessor(raw_batch(), True)
    inputs = data['inputs']
    torch.manual_seed(5)
    parts = [model.extract_feat(slice_inputs(inputs, a, min(a + 3, 8))) for a in (0, 3, 6)]
    loss = model.loss_module(
        torch.cat([p['query'] for p in parts]), torch.cat([p['reference'] for p in parts])
    )
    loss.backward()
    torch.manual_seed(5)
    logs = grad_cache_backward(twin, inputs, 3, lambda x: x.backward())
    assert logs['loss'].item() == pytest.approx(loss.item(), rel=1e-5)
    for name, g in grads(model).items():
        assert_same_gradient(g, grads(twin)[name], name)


@pytest.mark.slow
def test_grad_cache_composes_with_bf16_autocast():
    plain, cached = layer_norm_model(), layer_norm_model()
    cached.load_state_dict(plain.state_dict())
    data = plain.data_preprocessor(raw_batch(), True)

    def autocast():
        return torch.autocast('cpu', dtype=torch.bfloat16)

    with autocast():
        loss = plain(**data, mode='loss')['loss']
    loss.backward()
    grad_cache_backward(cached, data['inputs'], 4, lambda x: x.backward(), autocast=autocast)
    a = torch.cat([g.flatten() for g in grads(plain).values()])
    b = torch.cat([g.flatten() for g in grads(cached).values()])
    # bf16 rounding differs between chunk shapes: compare as vectors
    cosine = torch.nn.functional.cosine_similarity(a, b, dim=0)
    assert cosine > 0.99 and (a - b).norm() / a.norm() < 0.1


def test_invalid_chunk_is_explained():
    with pytest.raises(ValueError, match='grad_cache_chunk'):
        layer_norm_model(grad_cache_chunk=0)
