"""A vision tower that already sees (issue 13.3): the tiny Qwen2.5-VL's random ViT
replaced by a trained CNN - GLEAM-C's backbone or ImageNet EfficientNet-Lite0."""

import numpy as np
import pytest
import torch
from explainer_fixtures import contract_batch

from gleamkit.models.explainers import HuggingFaceVLMExplainer, PretrainedCNNVisionTower
from gleamkit.models.explainers.huggingface_vlm_explainer import read_explainer_record

LORA = dict(r=4, lora_alpha=8, target_modules='all-linear', modules_to_save=['lm_head'])


def build(tiny_vlm_dir, **kwargs):
    torch.manual_seed(0)
    kwargs.setdefault('lora', LORA)
    return HuggingFaceVLMExplainer(
        tiny_vlm_dir,
        torch_dtype='float32',
        min_pixels=56 * 56,
        max_pixels=112 * 112,
        freeze_projector=False,
        **kwargs,
    )


@pytest.fixture(scope='module')
def gleam_c(tmp_path_factory):
    """configs/gleam_c/phase2.py's retriever with a recognisable backbone weight,
    saved as an mmengine checkpoint."""
    from mmengine.config import Config

    from gleamkit.registry import MODELS

    config = 'configs/gleam_c/phase2.py'
    model = MODELS.build(Config.fromfile(config).model)
    name, param = next(iter(model.backbone.named_parameters()))
    with torch.no_grad():
        param.fill_(0.125)
    path = tmp_path_factory.mktemp('gleam_c') / 'epoch_2.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(epoch=2)), path)
    return dict(config=config, checkpoint=str(path), param=name)


def test_the_patches_go_back_into_the_image(tiny_vlm_dir):
    """The tower sees the image the processor was given (square and panorama-shaped)."""
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_vlm_dir).image_processor
    tower = PretrainedCNNVisionTower(
        64, processor.image_mean, processor.image_std, pretrained=False
    )
    rng = np.random.default_rng(0)
    for shape in ((112, 112, 3), (56, 112, 3)):
        image = rng.integers(0, 256, shape, dtype=np.uint8)
        out = processor(images=[image, image], return_tensors='pt')
        images = tower.unflatten(out['pixel_values'], out['image_grid_thw'])
        assert len(images) == 2
        expected = torch.from_numpy(image).permute(2, 0, 1).float() / 255
        assert images[1].shape == expected.shape
        assert (images[1] - expected).abs().max() < 1e-4


def test_imagenet_tower_loads_the_packaged_weights_and_only_its_projector_trains(
    tiny_vlm_dir,
):
    from gleamkit.models.backbones.pretrained import load_efficientnet_lite0_imagenet

    explainer = build(tiny_vlm_dir, vision_tower=dict())
    tower = explainer.model.get_submodule('base_model.model.model.visual')
    assert isinstance(tower, PretrainedCNNVisionTower)
    imagenet = load_efficientnet_lite0_imagenet(with_classifier=False)
    encoder = tower.encoder.state_dict()
    assert set(encoder) == set(imagenet)
    assert all(torch.equal(encoder[k], imagenet[k]) for k in imagenet)
    trainable = [n for n, p in explainer.named_parameters() if p.requires_grad]
    assert not [n for n in trainable if '.encoder.' in n]
    assert [n for n in trainable if '.visual.merger.modules_to_save.' in n]
    explainer.train()
    assert not tower.encoder.training  # frozen BatchNorm statistics
    # one token per merged patch, in the text width, and a loss that trains
    data = explainer.data_preprocessor(contract_batch(range(4)), True)
    loss = explainer(**data, mode='loss')['loss']
    loss.backward()
    grads = [p.grad for n, p in explainer.named_parameters() if '.visual.merger.' in n]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


def test_gleam_c_tower_is_the_checkpoints_backbone(tiny_vlm_dir, gleam_c):
    explainer = build(
        tiny_vlm_dir,
        vision_tower=dict(
            gleam_c_config=gleam_c['config'], gleam_c_checkpoint=gleam_c['checkpoint']
        ),
    )
    tower = explainer.model.get_submodule('base_model.model.model.visual')
    loaded = dict(tower.encoder.named_parameters())[gleam_c['param']]
    assert torch.all(loaded == 0.125)  # the checkpoint's weight, not ImageNet's
    assert tower.input_size == 64  # GLEAM-C's satellite input size (the config's)
    assert tower.pixel_mean.flatten().tolist() == pytest.approx([0.5] * 3)  # 127.5 / 255


def test_a_missing_gleam_c_checkpoint_says_how_to_make_one(tiny_vlm_dir):
    with pytest.raises(FileNotFoundError, match=r'work_dirs/nowhere\.pth.*tools/train\.py'):
        build(
            tiny_vlm_dir,
            vision_tower=dict(
                gleam_c_config='configs/gleam_c/phase2.py',
                gleam_c_checkpoint='work_dirs/nowhere.pth',
            ),
        )
    with pytest.raises(ValueError, match='give both gleam_c_config and gleam_c_checkpoint'):
        build(tiny_vlm_dir, vision_tower=dict(gleam_c_checkpoint='x.pth'))


def test_a_saved_adapter_reloads_with_its_recorded_tower(tiny_vlm_dir, tmp_path):
    explainer = build(tiny_vlm_dir, vision_tower=dict())
    with torch.no_grad():  # a trained projector and head: reloading must keep them
        for param in explainer.parameters():
            if param.requires_grad:
                param.add_(0.01 * torch.randn_like(param))
    explainer.save_adapter(str(tmp_path / 'adapter'))
    assert read_explainer_record(str(tmp_path / 'adapter'))['vision_tower'] == {}
    reloaded = HuggingFaceVLMExplainer(
        tiny_vlm_dir, lora=None, adapter_path=str(tmp_path / 'adapter'), torch_dtype='float32'
    )
    assert isinstance(
        reloaded.model.get_submodule('base_model.model.model.visual'), PretrainedCNNVisionTower
    )
    data = explainer.data_preprocessor(contract_batch(range(2)), False)
    explainer.eval()
    with torch.no_grad():
        assert torch.allclose(
            explainer(data['inputs'], mode='tensor'),
            reloaded.eval()(data['inputs'], mode='tensor'),
            atol=1e-5,
        )
    with pytest.raises(ValueError, match='vision_tower mismatch'):
        HuggingFaceVLMExplainer(
            tiny_vlm_dir,
            lora=None,
            adapter_path=str(tmp_path / 'adapter'),
            vision_tower=dict(input_size=224),
        )


def test_only_qwen_style_models_take_a_cnn_tower(tmp_path):
    from gleamkit.models.explainers import build_tiny_llava

    path = build_tiny_llava(str(tmp_path / 'llava'))
    with pytest.raises(ValueError, match='not a Qwen2-VL / Qwen2.5-VL model'):
        HuggingFaceVLMExplainer(path, torch_dtype='float32', vision_tower=dict())


def test_gleam_c_embedding_tokens_are_its_normalised_image_embedding(tiny_vlm_dir, gleam_c):
    from gleamkit.models.explainers.pretrained_vision_tower import _gleam_c_retriever

    tower = PretrainedCNNVisionTower(
        64,
        (0.5, 0.5, 0.5),
        (0.5, 0.5, 0.5),
        gleam_c_config=gleam_c['config'],
        gleam_c_checkpoint=gleam_c['checkpoint'],
        features='embedding',
        projector_hidden=None,
    )
    pixels = torch.rand(1, 3, 64, 64)
    retriever = _gleam_c_retriever(gleam_c['config'], gleam_c['checkpoint'])[0].eval()
    with torch.no_grad():
        x = (pixels - 0.5) / 0.5  # GLEAM-C's 127.5 / 127.5 in 0-1 units
        expected = retriever.head(retriever.adapter(retriever.backbone(x)[-1], 'satellite'))
    tokens = tower._encode(pixels)
    assert tokens.shape == (1, expected.shape[1], 1, 1)
    assert torch.allclose(tokens.flatten(), expected.flatten(), atol=1e-5)
    assert tokens.flatten().norm().item() == pytest.approx(1.0, abs=1e-4)
    assert isinstance(tower.merger, torch.nn.Linear)
    with pytest.raises(ValueError, match="features='embedding' is GLEAM-C's embedding"):
        PretrainedCNNVisionTower(64, (0.5,) * 3, (0.5,) * 3, features='embedding')
