import pytest
import torch

from gleamkit.models import EmbeddingHead, IdentityAdapter, ViewEmbeddingAdapter, ViewSpecificNorm
from gleamkit.registry import ADAPTERS


def test_identity_adapter_passes_through_and_checks_view():
    x = torch.randn(2, 4, 3, 3)
    assert torch.equal(IdentityAdapter(4)(x, 'uav'), x)
    with pytest.raises(KeyError, match='thermal'):
        IdentityAdapter(4)(x, 'thermal')


def test_view_embedding_starts_at_identity_and_is_per_view():
    adapter = ViewEmbeddingAdapter(4)
    x = torch.randn(2, 4, 3, 3)
    assert torch.equal(adapter(x, 'uav'), x)
    with torch.no_grad():
        adapter.embedding[adapter.view_index('map')] = torch.arange(4.0)
    out = adapter(x, 'map')
    assert torch.allclose(out - x, torch.arange(4.0).view(1, 4, 1, 1).expand_as(x))
    assert torch.equal(adapter(x, 'uav'), x)
    tokens = torch.randn(2, 5, 4)
    assert torch.allclose(adapter(tokens, 'map') - tokens, torch.arange(4.0).expand(2, 5, 4))


def test_view_specific_norm_standardises_then_scales_per_view():
    norm = ViewSpecificNorm(3, views=('a', 'b'))
    x = torch.tensor([[[[1.0]], [[2.0]], [[3.0]]]])  # (1, 3, 1, 1): channels 1, 2, 3
    out = norm(x, 'a').flatten()
    std = torch.tensor([1.0, 2.0, 3.0]).std(unbiased=False)
    assert torch.allclose(out, torch.tensor([-1.0, 0.0, 1.0]) / std, atol=1e-5)
    with torch.no_grad():
        norm.weight[1] = 2.0
        norm.bias[1] = 1.0
    assert torch.allclose(norm(x, 'b').flatten(), 2 * out + 1, atol=1e-5)


def test_adapters_build_from_registry():
    adapter = ADAPTERS.build(dict(type='ViewEmbeddingAdapter', channels=8, views=('x', 'y')))
    assert adapter.embedding.shape == (2, 8)


@pytest.mark.parametrize(
    'pooling,shape',
    [('avg', (2, 6, 4, 4)), ('gem', (2, 6, 4, 4)), ('cls', (2, 5, 6)), ('token_mean', (2, 5, 6))],
)
def test_head_pools_projects_and_normalises(pooling, shape):
    head = EmbeddingHead(6, embed_dim=3, pooling=pooling)
    out = head(torch.rand(shape))
    assert out.shape == (2, 3)
    assert torch.allclose(out.norm(dim=1), torch.ones(2), atol=1e-5)


def test_head_avg_pooling_value():
    head = EmbeddingHead(2, embed_dim=None, normalize=False)
    x = torch.tensor([[[[1.0, 3.0]], [[2.0, 6.0]]]])  # means 2 and 4
    assert torch.allclose(head(x), torch.tensor([[2.0, 4.0]]))
    gem = EmbeddingHead(2, embed_dim=None, pooling='gem', normalize=False)
    # p = 3: (mean(x^3))^(1/3) = ((1 + 27) / 2)^(1/3)
    assert gem(x)[0, 0].item() == pytest.approx(14 ** (1 / 3), rel=1e-5)
    with pytest.raises(ValueError, match='pooling'):
        EmbeddingHead(2, pooling='max')
    with pytest.raises(ValueError, match='tokens'):
        EmbeddingHead(2, pooling='cls')(x)


def test_embedding_head_lives_with_heads_and_the_old_path_still_works():
    import importlib

    from gleamkit.models import heads, necks
    from gleamkit.registry import MODELS

    old = importlib.import_module('gleamkit.models.necks.embedding_head')
    assert EmbeddingHead.__module__ == 'gleamkit.models.heads.embedding_head'
    assert necks.EmbeddingHead is heads.EmbeddingHead is old.EmbeddingHead is EmbeddingHead
    assert MODELS.get('EmbeddingHead') is EmbeddingHead
