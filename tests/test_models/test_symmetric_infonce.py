import math

import numpy as np
import pytest
import torch

from gleamkit.models import SymmetricInfoNCELoss


def reference_loss(q, r, scale, eps):
    """The formula, written out with numpy: mean over rows of smoothed CE, both ways."""
    q, r = q.numpy().astype(np.float64), r.numpy().astype(np.float64)
    n = q.shape[0]

    def smoothed_ce(logits):
        logp = logits - logits.max(1, keepdims=True)
        logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
        target = np.full((n, n), eps / n)
        target[np.arange(n), np.arange(n)] += 1 - eps
        return -(target * logp).sum(1).mean()

    logits = scale * q @ r.T
    return 0.5 * (smoothed_ce(logits) + smoothed_ce(logits.T))


@pytest.mark.parametrize('eps', [0.0, 0.1])
def test_loss_matches_formula(eps):
    torch.manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(6, 8), dim=1)
    r = torch.nn.functional.normalize(torch.randn(6, 8), dim=1)
    loss = SymmetricInfoNCELoss(temperature=0.07, label_smoothing=eps)
    expected = reference_loss(q, r, 1 / 0.07, eps)
    assert loss(q, r).item() == pytest.approx(expected, rel=1e-5)


def test_hand_computed_two_by_two():
    # q = r = identity rows, scale 1, no smoothing: each row's logits are (1, 0)
    # -> CE = log(1 + e^-1) for every row in both directions.
    q = torch.eye(2)
    loss = SymmetricInfoNCELoss(temperature=1.0, label_smoothing=0.0)
    assert loss(q, q.clone()).item() == pytest.approx(math.log(1 + math.exp(-1)), rel=1e-6)


def test_temperature_is_learned_and_clamped():
    loss = SymmetricInfoNCELoss(temperature=0.07)
    assert loss.scale.item() == pytest.approx(1 / 0.07, rel=1e-5)
    q = torch.nn.functional.normalize(torch.randn(4, 3), dim=1)
    loss(q, q.clone()).backward()
    assert loss.logit_scale.grad is not None and loss.logit_scale.grad.abs() > 0
    with torch.no_grad():
        loss.logit_scale.fill_(10.0)
    assert loss.scale.item() == pytest.approx(100.0, rel=1e-5)
    frozen = SymmetricInfoNCELoss(learnable_temperature=False)
    assert not frozen.logit_scale.requires_grad


def test_perfect_alignment_beats_random():
    torch.manual_seed(1)
    q = torch.nn.functional.normalize(torch.randn(16, 32), dim=1)
    loss = SymmetricInfoNCELoss(label_smoothing=0.0)
    aligned = loss(q, q.clone()).item()
    shuffled = loss(q, q[torch.randperm(16)]).item()
    assert aligned < 0.05 < shuffled


def test_shape_mismatch_is_explained():
    with pytest.raises(ValueError, match='same shape'):
        SymmetricInfoNCELoss()(torch.zeros(3, 4), torch.zeros(2, 4))
    with pytest.raises(ValueError, match='temperature'):
        SymmetricInfoNCELoss(temperature=0)


def test_temperature_is_a_one_element_tensor_and_old_scalar_checkpoints_load():
    # FSDP cannot flatten 0-d parameters; the scale itself stays a 0-d tensor
    loss = SymmetricInfoNCELoss(temperature=0.05)
    assert loss.logit_scale.shape == (1,) and loss.scale.dim() == 0
    assert loss.scale.item() == pytest.approx(20.0)
    old = {'logit_scale': torch.tensor(math.log(1 / 0.07))}  # written before the change
    loss.load_state_dict(old)
    assert loss.logit_scale.shape == (1,) and loss.scale.item() == pytest.approx(1 / 0.07)
