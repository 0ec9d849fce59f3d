"""The similarity of a (query, tile) pair split over pairs of positions sums back to the
model's own similarity (Zhu et al.), for the heads gleamkit's configs use."""

import copy
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from gleamkit.registry import MODELS
from gleamkit.visualization import (
    embedding_contributions,
    explain_similarity,
)
from gleamkit.visualization.similarity_decomposition import to_model_input

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SIZE = 96  # a 3 x 3 map at stride 32, 6 x 6 patches of 16


def _images(seed=0, size=SIZE):
    rng = np.random.default_rng(seed)
    # smooth images: a random model then gives similarities well below 1
    low = rng.integers(0, 255, (2, 6, 6, 3)).astype(np.float32)
    import cv2

    return [cv2.resize(x, (size, size)).astype(np.uint8) for x in low]


def _randomise(model, seed=0):
    """Give the adapter and head weights away from their neutral start."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith(('adapter.', 'head.')) and p.dim() >= 1:
                p.add_(0.3 * torch.randn(p.shape, generator=g))
    return model.eval()


def _build(backbone, head, adapter=None, seed=0):
    torch.manual_seed(seed)
    cfg = dict(type='CrossViewRetriever', backbone=backbone, head=head)
    if adapter:
        cfg['adapter'] = adapter
    return _randomise(MODELS.build(cfg), seed)


def _own_similarity(model, q, t, qv='uav', tv='satellite'):
    with torch.no_grad():
        eq = model.embed(to_model_input(model, q, qv), qv)[0]
        et = model.embed(to_model_input(model, t, tv), tv)[0]
    return float(eq @ et)


def _assert_sums(exp, own):
    assert exp.exact
    assert exp.similarity == pytest.approx(own, abs=1e-6)
    assert float(exp.query_map.sum() + exp.query_prefix) == pytest.approx(own, abs=1e-5)
    assert float(exp.tile_map.sum() + exp.tile_prefix) == pytest.approx(own, abs=1e-5)
    assert exp.decomposed_similarity == pytest.approx(own, abs=1e-5)


@pytest.fixture(scope='module')
def main_job_model():
    """configs/gleam_c/phase2.py's model: ImageNet EfficientNet-Lite0 (offline package),
    ViewSpecificNorm, EmbeddingHead(embed_dim=256, pooling='avg'), L2-normalised."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'gleam_c', 'phase2.py'))
    torch.manual_seed(0)
    return _randomise(MODELS.build(copy.deepcopy(cfg.model)))


def test_main_job_decomposition_sums_to_the_models_similarity(main_job_model):
    model = main_job_model
    assert type(model.adapter).__name__ == 'ViewSpecificNorm'
    assert model.head.pooling == 'avg' and model.head.embed_dim == 256
    q, t = _images(0)
    own = _own_similarity(model, q, t)
    exp = explain_similarity(model, q, t, 'uav')
    assert exp.query_grid == (3, 3) and exp.tile_grid == (3, 3) and exp.method == 'avg'
    _assert_sums(exp, own)
    # a CNN has no class token: the pair matrix alone holds the whole similarity
    assert exp.query_prefix == 0.0 and exp.tile_prefix == 0.0
    assert float(exp.pairs.sum()) == pytest.approx(own, abs=1e-5)
    # the maps are not flat: positions differ in what they add
    assert np.ptp(exp.query_map) > 1e-3 and np.ptp(exp.tile_map) > 1e-3


def test_main_job_shares_are_the_projected_positions_by_hand(main_job_model):
    """c_i = (W f_i + b) / N for the adapted map f (avg pooling + Linear), then
    pairs[i, j] = <c_i, d_j> / (|e_q| |e_t|): computed here without the module."""
    model = main_job_model
    q, t = _images(1)
    shares = []
    with torch.no_grad():
        for img, view in ((q, 'map'), (t, 'satellite')):
            x = to_model_input(model, img, view)
            f = model.adapter(model.backbone(x)[-1], view)[0]  # (C, h, w)
            f = f.flatten(1).t()  # (N, C)
            c = (f @ model.head.proj.weight.t() + model.head.proj.bias) / f.shape[0]
            shares.append(c)
    cq, ct = shares
    scale = cq.sum(0).norm() * ct.sum(0).norm()
    pairs = (cq @ ct.t() / scale).numpy()
    exp = explain_similarity(model, q, t, 'map')
    np.testing.assert_allclose(exp.pairs, pairs, atol=1e-6)
    contrib = embedding_contributions(model, to_model_input(model, q, 'map'), 'map')
    torch.testing.assert_close(contrib.positions, cq, atol=1e-5, rtol=1e-4)


def test_point_map_sums_to_the_query_positions_share(main_job_model):
    q, t = _images(2)
    exp = explain_similarity(main_job_model, q, t, 'uav')
    h, w = exp.query_grid
    for point, index in (((0.0, 0.0), 0), ((1.0, 1.0), h * w - 1), ((0.9, 0.1), w - 1)):
        assert exp.query_position(point) == index
        point_map = exp.point_map(point)
        assert point_map.shape == exp.tile_grid
        # which part of the tile answers that part of the query: its row of pairs
        assert float(point_map.sum()) == pytest.approx(
            float(exp.query_map.reshape(-1)[index]), abs=1e-6
        )
    # every point map together is the whole similarity
    total = sum(
        exp.point_map(((x + 0.5) / w, (y + 0.5) / h)).sum() for y in range(h) for x in range(w)
    )
    assert float(total) == pytest.approx(exp.similarity, abs=1e-5)
    with pytest.raises(ValueError, match=r'point=\(1.5, 0.2\)'):
        exp.point_map((1.5, 0.2))


RESNET = dict(type='TimmBackbone', model_name='resnet10t')
EXACT_VARIANTS = {
    # GeM's power mean: shares g x^p / sum x^p sum exactly; LayerNorm with pooled stats
    'gem+layernorm+view_embedding': (
        RESNET,
        dict(type='EmbeddingHead', embed_dim=32, pooling='gem', norm=True),
        dict(type='ViewEmbeddingAdapter', init_std=0.1),
    ),
    'no_projection+unnormalised': (
        RESNET,
        dict(type='EmbeddingHead', embed_dim=None, normalize=False),
        None,
    ),
    # Sample4Geo: timm's pooled ConvNeXt features (avg pool + head LayerNorm2d)
    'timm_pooled_convnext': (
        dict(type='TimmBackbone', model_name='test_convnext', pooled=True),
        dict(type='EmbeddingHead', embed_dim=None),
        dict(type='ViewSpecificNorm'),
    ),
    # ViT tokens, averaged (class token included: its share is the prefix)
    'vit_token_mean': (
        dict(type='TimmBackbone', model_name='test_vit', img_size=SIZE),
        dict(type='EmbeddingHead', embed_dim=32, pooling='token_mean', norm=True),
        dict(type='ViewSpecificNorm'),
    ),
    # timm's own ViT average of patch tokens + fc_norm
    'vit_timm_pooled_avg': (
        dict(
            type='TimmBackbone',
            model_name='test_vit',
            img_size=SIZE,
            pooled=True,
            global_pool='avg',
        ),
        dict(type='EmbeddingHead', embed_dim=32),
        None,
    ),  # fmt: skip
    'vit_gem': (
        dict(type='TimmBackbone', model_name='test_vit', img_size=SIZE),
        dict(type='EmbeddingHead', embed_dim=32, pooling='gem'),
        None,
    ),
}


@pytest.mark.parametrize('variant', sorted(EXACT_VARIANTS))
def test_exact_variants_sum_to_the_models_similarity(variant):
    backbone, head, adapter = EXACT_VARIANTS[variant]
    model = _build(backbone, head, adapter)
    q, t = _images(3)
    own = _own_similarity(model, q, t, 'panorama')
    exp = explain_similarity(model, q, t, 'panorama')
    _assert_sums(exp, own)
    if 'vit' in variant:
        assert exp.query_grid == (SIZE // 16, SIZE // 16)
        if variant == 'vit_token_mean':  # the class token's share is outside the map
            assert abs(exp.query_prefix) > 0
            assert float(exp.query_map.sum()) != pytest.approx(own, abs=1e-5)
        else:  # timm's patch mean and (here) GeM over all tokens
            assert variant == 'vit_gem' or exp.query_prefix == 0.0


def test_vit_class_token_maps_are_token_cosines_and_say_they_are_approximate():
    model = _build(
        dict(type='TimmBackbone', model_name='test_vit', img_size=SIZE),
        dict(type='EmbeddingHead', embed_dim=32, pooling='cls', norm=True),
    )
    q, t = _images(4)
    exp = explain_similarity(model, q, t, 'uav')
    assert not exp.exact and exp.method == 'token'
    assert exp.similarity == pytest.approx(_own_similarity(model, q, t), abs=1e-6)
    # each patch token through the head as if it were the class token, vs the tile
    with torch.no_grad():
        tokens = model.backbone(to_model_input(model, q, 'uav'))[-1][0, 1:]
        head = model.head
        patch = F.normalize(head.proj(head.norm(tokens)), dim=1)
        tile = model.embed(to_model_input(model, t, 'satellite'), 'satellite')[0]
    np.testing.assert_allclose(exp.query_map.reshape(-1), (patch @ tile).numpy(), atol=1e-6)
    assert np.all(np.abs(exp.pairs) <= 1 + 1e-6)  # cosines of patch pairs


def test_a_head_that_is_not_affine_after_pooling_is_refused():
    model = _build(RESNET, dict(type='EmbeddingHead', embed_dim=32))
    model.head.norm = torch.nn.GELU()  # a nonlinearity the decomposition cannot split
    q, t = _images(5)
    with pytest.raises(NotImplementedError, match='GELU'):
        explain_similarity(model, q, t, 'uav')


def test_bad_images_name_the_view_and_shape():
    model = _build(RESNET, dict(type='EmbeddingHead', embed_dim=32))
    q, _ = _images(6)
    with pytest.raises(ValueError, match=r"view 'uav'.*\(96, 96\)"):
        explain_similarity(model, q[..., 0], q, 'uav')
    with pytest.raises(ValueError, match=r'3xHxW image tensor.*\(3, 32\)'):
        explain_similarity(model, torch.zeros(3, 32), q, 'ground')
    with pytest.raises(TypeError, match='list'):
        explain_similarity(model, [1, 2], q, 'uav')


def test_image_set_query_sums_to_the_sets_similarity(main_job_model):
    """A ground query is a set of photos; the model embeds normalize(mean of the photos'
    normalised embeddings), and the per-photo maps together sum to that similarity."""
    model = main_job_model
    photos = _images(7) + _images(8)[:1]  # three photos of one place
    tile = _images(9)[0]
    batch = torch.cat([to_model_input(model, p, 'ground') for p in photos])
    with torch.no_grad():
        rows = torch.zeros(3, dtype=torch.long)
        query = model.embed_groups({'ground': (rows, batch)}, 1)[0]
        own = float(query @ model.embed(to_model_input(model, tile, 'satellite'), 'satellite')[0])
    stacked = torch.stack([torch.from_numpy(p).permute(2, 0, 1) for p in photos])
    for query_img in (stacked, photos):  # a 3 x 3 x H x W tensor or a list of images
        exp = explain_similarity(model, query_img, tile, 'ground')
        assert exp.members == 3 and exp.query_map.shape == (3, 3, 3)
        assert exp.pairs.shape == (27, 9)
        _assert_sums(exp, own)
        assert float(exp.pairs.sum()) == pytest.approx(own, abs=1e-5)
        # a point on the second photo: its row of pairs
        assert float(exp.point_map((0.5, 0.5), member=1).sum()) == pytest.approx(
            float(exp.query_map[1, 1, 1]), abs=1e-6
        )
    with pytest.raises(ValueError, match='member=3'):
        exp.point_map((0.5, 0.5), member=3)
