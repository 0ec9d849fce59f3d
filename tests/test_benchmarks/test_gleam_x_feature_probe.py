"""benchmarks/gleam_x_feature_probe.py: probes on pooled tower features (issue 13.3)."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'benchmarks'))

import gleam_x_feature_probe as probe  # noqa: E402


def pairs(n, dim=16, seed=0):
    """Matches: the satellite is the query plus a little noise; non-matches: unrelated."""
    gen = torch.Generator().manual_seed(seed)
    query = torch.randn(n, dim, generator=gen)
    labels = np.arange(n) % 2
    other = torch.randn(n, dim, generator=gen)
    noise = 0.3 * torch.randn(n, dim, generator=gen)
    match = torch.as_tensor(labels, dtype=torch.bool)[:, None]
    satellite = torch.where(match, query + noise, other)
    return query, satellite, labels


def test_the_given_comparison_transfers_and_the_side_by_side_features_are_memorised():
    torch.set_num_threads(1)
    result = probe.probe(pairs(64, dim=64), pairs(64, dim=64, seed=1), steps=600)
    assert set(result) == {'cosine', 'product', 'concat'}
    assert result['cosine']['test_auc'] > 0.99
    assert result['cosine']['test_accuracy'] > 0.9
    assert result['product']['test_auc'] > 0.9
    # 64 pairs side by side: fitted, but the comparison is not found
    assert result['concat']['train_auc'] > 0.99
    assert result['concat']['test_auc'] < result['cosine']['test_auc'] - 0.2
    assert result['concat']['train_pairs'] == 64 and result['concat']['test_pairs'] == 64


def test_probe_inputs():
    q, s = torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0, 0.0]])
    assert probe.probe_inputs(q, s, 'cosine').tolist() == [[1.0]]
    assert probe.probe_inputs(q, s, 'product').tolist() == [[1.0, 0.0]]
    assert probe.probe_inputs(q, s, 'concat').tolist() == [[1.0, 0.0, 2.0, 0.0]]
    with pytest.raises(ValueError, match='expected one of'):
        probe.probe_inputs(q, s, 'difference')


def test_a_model_without_a_cnn_tower_is_refused():
    with pytest.raises(ValueError, match='no model.vision_tower'):
        probe.pair_features(torch.nn.Linear(2, 2), [])
