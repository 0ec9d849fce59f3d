"""The pictures: heat maps, retrieval grids and recall@K curves, drawn through mmengine's
Visualizer, and the deterministic query sample of ``tools/test.py --show-dir``."""

import numpy as np
import pytest
import torch

from gleamkit.engine.hooks.retrieval_visualization_hook import sample_query_indices
from gleamkit.registry import MODELS, VISUALIZERS
from gleamkit.visualization import (
    CrossViewVisualizer,
    recall_at_k,
    recall_curves,
    retrieval_grid,
    similarity_heatmaps,
)
from gleamkit.visualization.cross_view_visualizer import OTHER_COLOR, TRUE_COLOR

PANEL = 96


@pytest.fixture(scope='module')
def visualizer():
    return CrossViewVisualizer(name='test_cross_view_visualizer', panel_size=PANEL)


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return MODELS.build(
        dict(
            type='CrossViewRetriever',
            backbone=dict(type='TimmBackbone', model_name='resnet10t'),
            adapter=dict(type='ViewSpecificNorm'),
            head=dict(type='EmbeddingHead', embed_dim=16),
        )
    ).eval()


def _image(seed, h=64, w=64):
    return np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)


def test_registered_in_gleamkits_visualizers():
    vis = VISUALIZERS.build(dict(type='CrossViewVisualizer', name='test_registry_build'))
    assert isinstance(vis, CrossViewVisualizer)
    with pytest.raises(ValueError, match='panel_size=8'):
        CrossViewVisualizer(name='test_bad_panel', panel_size=8)


def test_similarity_heatmaps_returns_the_contract(model, visualizer):
    q, t = _image(0, 96, 96), _image(1, 96, 96)
    out = similarity_heatmaps(model, q, t, 'uav', visualizer=visualizer)
    assert out['point_map'] is None
    for key in ('query', 'tile', 'figure'):
        assert out[key].dtype == np.uint8 and out[key].ndim == 3 and out[key].shape[2] == 3
    assert out['query'].shape == (PANEL + 22, PANEL, 3)  # title strip + panel
    assert out['figure'].shape == (PANEL + 22, 2 * PANEL + 6, 3)
    exp = out['explanation']
    assert out['similarity'] == exp.similarity
    assert exp.decomposed_similarity == pytest.approx(exp.similarity, abs=1e-5)

    with_point = similarity_heatmaps(model, q, t, 'uav', point=(0.1, 0.9), visualizer=visualizer)
    assert with_point['point_map'].shape == (PANEL + 22, PANEL, 3)
    assert with_point['figure'].shape[1] == 4 * PANEL + 3 * 6
    # the heat map colours the image: overlay differs from the plain image panel
    assert not np.array_equal(
        with_point['figure'][22:, :PANEL],
        with_point['figure'][22:, 2 * (PANEL + 6) : 2 * (PANEL + 6) + PANEL],
    )  # noqa: E501


def test_retrieval_grid_outlines_the_true_tile(visualizer):
    tiles = [_image(i) for i in range(3)]
    grid = retrieval_grid(
        _image(9), tiles, [0.9, 0.8, 0.7], [False, True, False], visualizer=visualizer
    )
    assert grid.shape == (PANEL + 22, 4 * PANEL + 3 * 6, 3)

    def outline_pixel(panel):  # middle of the left edge of the outline
        x0 = panel * (PANEL + 6)
        return tuple(int(v) for v in grid[22 + PANEL // 2, x0 + 2])

    assert outline_pixel(2) == TRUE_COLOR  # tile #2 is the true one
    assert outline_pixel(1) == OTHER_COLOR and outline_pixel(3) == OTHER_COLOR
    with pytest.raises(ValueError, match='3 tiles, 2 scores'):
        retrieval_grid(_image(9), tiles, [0.9, 0.8], [False, True, False])


def test_recall_at_k_by_hand():
    # first-hit ranks of 4 queries; -1: the true place is not in the gallery (a miss)
    np.testing.assert_allclose(recall_at_k([0, 2, -1, 1], 4), [25.0, 50.0, 75.0, 75.0])
    with pytest.raises(ValueError, match='no queries'):
        recall_at_k([], 3)


def test_recall_curves_from_ranks_and_from_the_metric(visualizer):
    from_ranks = recall_curves({'uav': [0, 3, 1], 'map': [5, 0, 0]}, max_k=8, visualizer=visualizer)
    assert from_ranks.shape == (360, 600, 3) and from_ranks.dtype == np.uint8
    metrics = {
        'retrieval/R@1': 20.0,
        'retrieval/R@5': 50.0,
        'retrieval/uav/R@1': 10.0,
        'retrieval/uav/R@5': 40.0,
        'retrieval/uav/R@1%': 10.0,  # not a K
        'retrieval/uav/AP': 30.0,
    }
    from_metric = recall_curves(metrics, visualizer=visualizer)
    assert from_metric.shape == (360, 600, 3)
    # two views drawn in two different colours
    colours = {tuple(c) for c in from_metric.reshape(-1, 3)}
    assert (31, 119, 180) in colours and (255, 127, 14) in colours
    with pytest.raises(ValueError, match='no R@K keys'):
        recall_curves({'retrieval/AP': 3.0})


def test_query_sample_is_even_and_deterministic():
    assert sample_query_indices(10, 4) == [0, 3, 6, 9]
    assert sample_query_indices(16, 4) == [0, 5, 10, 15]
    assert sample_query_indices(3, 8) == [0, 1, 2]
    assert sample_query_indices(10, 0) == []
