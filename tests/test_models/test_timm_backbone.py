import pytest
import torch

from gleamkit.models import TimmBackbone


def _batchnorms(backbone):
    return [m for m in backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)]


@pytest.mark.parametrize('norm_eval', [False, True])
def test_norm_eval_freezes_batchnorm_statistics_but_not_affine_weights(norm_eval):
    torch.manual_seed(0)
    backbone = TimmBackbone('resnet10t', pretrained=False, norm_eval=norm_eval)
    bns = _batchnorms(backbone)
    assert bns
    backbone.train()
    assert backbone.training and all(bn.training != norm_eval for bn in bns)
    before = [bn.running_mean.clone() for bn in bns]
    out = backbone(torch.randn(4, 3, 32, 32) * 3 + 1)[0]
    out.mean().backward()
    moved = [not torch.equal(b, bn.running_mean) for b, bn in zip(before, bns)]
    assert all(moved) if not norm_eval else not any(moved)
    # the affine parameters still receive gradients
    assert all(bn.weight.grad is not None for bn in bns)


def test_norm_eval_output_in_training_equals_eval_mode():
    torch.manual_seed(0)
    backbone = TimmBackbone('resnet10t', pretrained=False, norm_eval=True)
    x = torch.randn(3, 3, 32, 32)
    backbone.train()
    train_out = backbone(x)[0]
    backbone.eval()
    assert torch.allclose(train_out, backbone(x)[0], atol=1e-6)
    # train(False) then train(True) re-applies the rule
    backbone.train()
    assert not any(bn.training for bn in _batchnorms(backbone))
