"""WeightedInfoNCELoss: the formula, its reductions (symmetric InfoNCE, Game4Loc) and
its gradients under 2-process DDP (gloo)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.structures import BaseDataElement

from gleamkit.models import (
    SymmetricInfoNCELoss,
    WeightedInfoNCELoss,
    overlap_to_positive_weight,
    weight_matrix_from_samples,
)
from gleamkit.registry import LOSSES

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tests' / 'dist_workers'))

from weighted_infonce_grad_worker import MODES, Encoder, equivalent_full_weights, make_batch  # noqa: E402


def log_softmax(x):
    x = x - x.max(1, keepdims=True)
    return x - np.log(np.exp(x).sum(1, keepdims=True))


def reference_loss(q, r, weights, scale, eps):
    """The documented formula, written out with numpy in float64."""
    q, r = q.numpy().astype(np.float64), r.numpy().astype(np.float64)
    w = weights.numpy().astype(np.float64)
    n = q.shape[0]

    def targets(w):
        out = np.zeros_like(w)
        for i in range(n):
            row = w[i] / max(1.0, w[i].sum())
            out[i] = (1 - eps) * row + (1 - (1 - eps) * row.sum()) / n
        return out

    logits = scale * q @ r.T
    loss_q = -(targets(w) * log_softmax(logits)).sum(1).mean()
    loss_r = -(targets(w.T) * log_softmax(logits.T)).sum(1).mean()
    return 0.5 * (loss_q + loss_r)


def game4loc_loss(q, r, overlap, scale, eps, k):
    """Game4Loc's WeightedInfoNCE as its paper/code states it, per row, in numpy:
    eps_i = 1 - (1 - eps) * sigmoid(k * overlap_i);
    loss_i = (1 - eps_i) * (lse_i - s_ii) + eps_i * (lse_i - mean_j s_ij)."""
    q, r = q.numpy().astype(np.float64), r.numpy().astype(np.float64)
    eps_all = 1 - (1 - eps) / (1 + np.exp(-k * overlap.numpy().astype(np.float64)))

    def one_way(s):
        n = s.shape[0]
        total = 0.0
        for i in range(n):
            lse = np.log(np.exp(s[i] - s[i].max()).sum()) + s[i].max()
            total += (1 - eps_all[i]) * (lse - s[i, i]) + eps_all[i] * (lse - s[i].mean())
        return total / n

    s = scale * q @ r.T
    return 0.5 * (one_way(s) + one_way(s.T))


def unit_rows(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(*shape, generator=g), dim=1)


@pytest.mark.parametrize('eps', [0.0, 0.1])
def test_loss_matches_formula_with_semi_positives(eps):
    q, r = unit_rows(6, 8, seed=0), unit_rows(6, 8, seed=1)
    g = torch.Generator().manual_seed(2)
    weights = torch.rand(6, 6, generator=g) * (torch.rand(6, 6, generator=g) < 0.4)
    weights.fill_diagonal_(1.0)  # some rows sum over 1: they are rescaled
    assert (weights.sum(1) > 1).any() and (weights.sum(0) > 1).any()
    loss = WeightedInfoNCELoss(temperature=0.07, label_smoothing=eps)
    expected = reference_loss(q, r, weights, 1 / 0.07, eps)
    assert loss(q, r, weights).item() == pytest.approx(expected, rel=1e-5)


def test_hand_computed_semi_positive():
    # q = r = identity rows, scale 1, no smoothing, W = [[1, 1], [0, 1]]:
    # row 0's target is (1/2, 1/2) over logits (1, 0): CE = log(1 + e) - 1/2;
    # row 1 is a plain positive: log(1 + e^-1). Columns: col 0 = (1, 0) -> log(1 + e^-1),
    # col 1 = (1, 1) rescaled to (1/2, 1/2) over logits (0, 1) -> log(1 + e) - 1/2.
    # Mean of the 2 rows, mean of the 2 columns, mean of the two directions:
    q = torch.eye(2)
    loss = WeightedInfoNCELoss(temperature=1.0, label_smoothing=0.0)
    expected = (np.log(1 + np.e) - 0.5 + np.log(1 + np.exp(-1))) / 2
    value = loss(q, q.clone(), torch.tensor([[1.0, 1.0], [0.0, 1.0]])).item()
    assert value == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize('eps', [0.0, 0.1])
def test_identity_weights_reduce_to_symmetric_infonce(eps):
    q, r = unit_rows(7, 5, seed=3), unit_rows(7, 5, seed=4)
    symmetric = SymmetricInfoNCELoss(label_smoothing=eps)(q, r)
    weighted = WeightedInfoNCELoss(label_smoothing=eps)
    assert weighted(q, r, torch.eye(7)).item() == pytest.approx(symmetric.item(), rel=1e-6)
    assert weighted(q, r, torch.ones(7)).item() == pytest.approx(symmetric.item(), rel=1e-6)
    assert torch.equal(weighted(q, r), symmetric)  # weights=None: the very same code


def test_per_pair_weights_are_game4loc():
    q, r = unit_rows(6, 8, seed=5), unit_rows(6, 8, seed=6)
    overlap = torch.tensor([1.0, 0.8, 0.5, 0.3, 0.1, 0.0])
    loss = WeightedInfoNCELoss(temperature=0.07, label_smoothing=0.1)
    value = loss(q, r, overlap_to_positive_weight(overlap, k=5.0)).item()
    assert value == pytest.approx(game4loc_loss(q, r, overlap, 1 / 0.07, 0.1, 5.0), rel=1e-5)
    # and as a (B, B) diagonal matrix: the same
    diag = torch.diag(overlap_to_positive_weight(overlap))
    assert loss(q, r, diag).item() == pytest.approx(value, rel=1e-6)


def test_weights_pull_towards_semi_positives():
    # Query 0 is closer to satellite 1 than to its own satellite 0: declaring
    # satellite 1 a semi-positive of query 0 makes that cheaper.
    q = torch.nn.functional.normalize(torch.tensor([[1.0, 2.0, 0.0], [0.0, 0.0, 1.0]]), dim=1)
    r = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    loss = WeightedInfoNCELoss(label_smoothing=0.0)
    plain = loss(q, r, torch.eye(2)).item()
    semi = loss(q, r, torch.tensor([[1.0, 0.5], [0.0, 1.0]])).item()
    assert semi < plain - 0.1


def test_gradients_are_finite_and_reach_the_temperature():
    q = unit_rows(8, 16, seed=7).requires_grad_()
    r = unit_rows(8, 16, seed=8).requires_grad_()
    weights = torch.eye(8)
    weights[0, 1] = weights[1, 0] = 0.5
    weights[5] = 0.0  # a query with no positive at all: a uniform target, still finite
    loss = LOSSES.build(dict(type='WeightedInfoNCELoss'))
    loss(q, r, weights).backward()
    for grad in (q.grad, r.grad, loss.logit_scale.grad):
        assert grad is not None and torch.isfinite(grad).all()
    assert q.grad.abs().sum() > 0 and loss.logit_scale.grad.abs() > 0


def test_bad_weights_are_explained():
    q = unit_rows(3, 4)
    loss = WeightedInfoNCELoss()
    with pytest.raises(ValueError, match=r'expected \(3,\) per-pair weights'):
        loss(q, q, torch.eye(4))
    with pytest.raises(ValueError, match=r'in \[0, 1\]'):
        loss(q, q, torch.full((3, 3), 1.5))
    with pytest.raises(ValueError, match='same shape'):
        loss(q, q[:2], torch.eye(3))


def test_weight_matrix_from_data_samples():
    def sample(location_id, semi=(), **meta):
        s = BaseDataElement()
        s.set_metainfo(dict(location_id=location_id, semi_positive_ids=list(semi), **meta))
        return s

    samples = [
        sample(10, semi=[11]),
        sample(11, weight=0.7),
        sample(12),
        sample(10),
        sample(13, semi=[12, 10], semi_positive_weights=[0.3, 0.2]),
    ]
    weights = weight_matrix_from_samples(samples, semi_positive_weight=0.4)
    expected = torch.tensor(
        [
            [1.0, 0.4, 0.0, 1.0, 0.0],
            [0.0, 0.7, 0.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 0.0, 0.0],
            [1.0, 0.0, 0.0, 1.0, 0.0],
            [0.2, 0.0, 0.3, 0.2, 1.0],
        ]
    )
    assert torch.equal(weights, expected)
    # the loss's own keys: Game4Loc's positive mapping, semi-positives off
    loss = WeightedInfoNCELoss(positive_k=5.0, use_semi_positives=False)
    game4loc = loss.weights_from_samples(samples)
    assert torch.equal(game4loc, game4loc * (expected == 1.0) + game4loc * (expected == 0.7))
    assert game4loc[1, 1].item() == pytest.approx(torch.sigmoid(torch.tensor(3.5)).item())
    assert game4loc[0, 0].item() == pytest.approx(torch.sigmoid(torch.tensor(5.0)).item())
    with pytest.raises(ValueError, match='semi_positive_weight'):
        WeightedInfoNCELoss(semi_positive_weight=2.0)


@pytest.mark.slow
def test_gathered_weighted_loss_gradients_equal_full_batch(tmp_path, free_port):
    out = tmp_path / 'grads.pt'
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    worker = ROOT / 'tests/dist_workers/weighted_infonce_grad_worker.py'
    proc = subprocess.run(
        [
            sys.executable,
            '-m',
            'torch.distributed.run',
            '--nproc_per_node=2',
            f'--master_port={free_port}',
            str(worker),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    dist_grads = torch.load(out, weights_only=True)
    assert set(dist_grads) == set(MODES)

    q, r, weights = make_batch()
    full_grads = {}
    for mode in MODES:
        torch.manual_seed(0)
        model = Encoder()
        model(q, r, equivalent_full_weights(weights, 2, mode)).backward()
        full_grads[mode] = {n: p.grad for n, p in model.named_parameters()}
        assert set(dist_grads[mode]) == set(full_grads[mode])
        for name, grad in full_grads[mode].items():
            assert torch.allclose(dist_grads[mode][name], grad, atol=1e-5, rtol=1e-4), (mode, name)
    # the check has teeth: the three weightings give different gradients
    w = 'net.0.weight'
    assert not torch.allclose(full_grads['global'][w], full_grads['local'][w], atol=1e-5)
    assert not torch.allclose(full_grads['local'][w], full_grads['pair'][w], atol=1e-5)
