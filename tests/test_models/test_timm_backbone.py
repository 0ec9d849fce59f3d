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


def test_frozen_stages_stop_gradients_and_keep_frozen_layers_in_eval():
    backbone = TimmBackbone('tf_efficientnet_lite0', pretrained=False, frozen_stages=3)
    model = backbone.timm_model
    frozen = ('conv_stem.', 'bn1.', 'blocks.0.', 'blocks.1.', 'blocks.2.')
    for name, param in model.named_parameters():
        assert param.requires_grad == (not name.startswith(frozen)), name
    backbone.train()
    assert not model.blocks[2].training and not model.bn1.training
    assert model.blocks[3].training and model.bn2.training
    backbone(torch.randn(2, 3, 32, 32))[0].sum().backward()
    for name, param in model.named_parameters():
        if name.startswith(frozen):
            assert param.grad is None, name
        elif name.startswith(('blocks.', 'conv_head')):
            assert param.grad is not None, name
    # frozen running statistics do not move in training
    before = model.blocks[1][0].bn1.running_mean.clone()
    backbone(torch.randn(2, 3, 32, 32) * 5 + 3)
    assert torch.equal(before, model.blocks[1][0].bn1.running_mean)


def test_frozen_stages_follow_timm_groups_and_reject_bad_values():
    resnet = TimmBackbone('resnet18', pretrained=False, frozen_stages=1)
    trainable = {
        n.split('.')[0] for n, p in resnet.timm_model.named_parameters() if p.requires_grad
    }
    assert trainable == {'layer2', 'layer3', 'layer4'}
    stem_only = TimmBackbone('resnet18', pretrained=False, frozen_stages=0)
    assert [n for n, p in stem_only.timm_model.named_parameters() if not p.requires_grad] == [
        'conv1.weight',
        'bn1.weight',
        'bn1.bias',
    ]
    assert all(p.requires_grad for p in TimmBackbone('resnet18').parameters())
    with pytest.raises(ValueError, match='frozen_stages=4 would freeze the whole'):
        TimmBackbone('resnet18', pretrained=False, frozen_stages=4)
    with pytest.raises(ValueError, match='frozen_stages=-2'):
        TimmBackbone('resnet18', pretrained=False, frozen_stages=-2)
