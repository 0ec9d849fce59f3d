"""Any timm model as gleamkit's shared image encoder."""

import torch
from mmpretrain.models.backbones import TIMMBackbone as _MMPretrainTIMMBackbone

from gleamkit.registry import BACKBONES


@BACKBONES.register_module()
class TimmBackbone(_MMPretrainTIMMBackbone):
    """A thin wrapper over ``timm.create_model`` (via mmpretrain's ``TIMMBackbone``).

    The classifier is removed, so ``forward`` returns a 1-tuple with the unpooled
    features: ``(B, C, H, W)`` for CNNs, ``(B, N, C)`` tokens for ViTs.

    Args:
        model_name (str): a timm name, e.g. ``'convnext_base.fb_in22k_ft_in1k_384'``
            (the Sample4Geo backbone) or ``'resnet18'``.
        pretrained (bool): load timm's published weights from the Hugging Face hub
            (needs internet or a populated HF cache). Tests use ``False``.
            Defaults to False.
        checkpoint_path (str): a local weights file for timm to load instead.
            Defaults to ``''`` (none).
        grad_checkpointing (bool): trade compute for memory on large backbones.
            Defaults to False.
        channels_last (bool): use the channels-last memory format (faster convs
            on GPUs with tensor cores). Defaults to False.
        pooled (bool): return timm's pooled pre-logits ``(B, C)`` (its own global
            pool and head norm, e.g. ConvNeXt's ``head.norm``: what Sample4Geo
            embeds) instead of the unpooled feature map. Defaults to False.
        global_pool (str): timm's pooling when ``pooled`` (``'token'`` for ViT
            class tokens). Defaults to ``'avg'``.
        norm_eval (bool): keep every BatchNorm layer in eval mode while training:
            its running statistics stay those of the pretrained weights (its affine
            parameters still train). Use it when fine-tuning a pretrained BatchNorm
            encoder: gleamkit embeds each view as its own group, so in training
            mode BatchNorm would normalise every view with that view's own batch
            statistics, while at test time one set of running statistics, averaged
            over all views, serves them all - a train/test mismatch that costs a
            pretrained EfficientNet most of its accuracy. Leave it off for encoders
            trained from scratch (their running statistics start meaningless).
            Defaults to False.
        frozen_stages (int): freeze the stem and the first ``frozen_stages``
            stages (mmpretrain's convention: -1 freezes nothing, 0 the stem only).
            Stages are timm's coarse parameter groups (``group_matcher``):
            ResNet ``layer1..4``, EfficientNet ``blocks.0..6``, ConvNeXt
            ``stages.0..3``. Frozen parameters get no gradient, frozen layers stay
            in eval mode, and backpropagation stops above them: on a CPU,
            EfficientNet-Lite0 at 64 px trains 1.33x faster with 3 frozen stages,
            with less than half the activation memory (docs/performance.md).
            Defaults to -1.
        init_cfg (dict, optional): mmengine's initialisation config. Defaults to
            None.
        **kwargs: any other ``timm.create_model`` argument (``drop_path_rate``,
            ``img_size`` for ViTs, ...).
    """

    def __init__(
        self,
        model_name: str,
        pretrained: bool = False,
        checkpoint_path: str = '',
        grad_checkpointing: bool = False,
        channels_last: bool = False,
        pooled: bool = False,
        global_pool: str = 'avg',
        norm_eval: bool = False,
        frozen_stages: int = -1,
        init_cfg=None,
        **kwargs,
    ):
        super().__init__(
            model_name=model_name,
            features_only=False,
            pretrained=pretrained,
            checkpoint_path=checkpoint_path,
            init_cfg=init_cfg,
            **kwargs,
        )
        self.model_name = model_name
        self.pooled = pooled
        self.norm_eval = norm_eval
        if pooled:
            self.timm_model.reset_classifier(0, global_pool)
        else:
            # timm's head (e.g. ConvNeXt's head.norm, ViT's fc_norm) is not used by
            # forward_features: freeze it, or DDP waits forever for its gradients.
            for name, param in self.timm_model.named_parameters():
                if name.startswith(('head.', 'fc_norm.', 'head_norm.')):
                    param.requires_grad_(False)
        if grad_checkpointing:
            self.timm_model.set_grad_checkpointing(True)
        self.channels_last = channels_last
        if channels_last:
            self.timm_model.to(memory_format=torch.channels_last)
        self.frozen_stages = frozen_stages
        self._frozen_modules = self._freeze_stages(frozen_stages)

    def _freeze_stages(self, frozen_stages: int) -> list:
        """Freeze timm's coarse parameter groups 0..frozen_stages (0 = stem);
        returns the names of the modules that hold only frozen parameters."""
        if not isinstance(frozen_stages, int) or frozen_stages < -1:
            raise ValueError(
                f'TimmBackbone: frozen_stages={frozen_stages!r}, expected an int '
                '>= -1 (-1 freezes nothing, 0 the stem, n the stem and n stages)'
            )
        if frozen_stages < 0:
            return []
        from timm.models import group_parameters

        matcher = getattr(self.timm_model, 'group_matcher', None)
        if matcher is None:
            raise ValueError(
                f"TimmBackbone: frozen_stages needs timm's group_matcher, which "
                f'{self.model_name!r} does not define'
            )
        groups = group_parameters(self.timm_model, matcher(coarse=True))
        ids = sorted(groups)
        if frozen_stages >= len(ids) - 1:
            raise ValueError(
                f'TimmBackbone: frozen_stages={frozen_stages} would freeze the whole '
                f'of {self.model_name!r} (stem + {len(ids) - 2} stages + head '
                f'groups {ids}); use at most {len(ids) - 2}'
            )
        frozen = {name for gid in ids[: frozen_stages + 1] for name in groups[gid]}
        params = dict(self.timm_model.named_parameters())
        for name in frozen:
            params[name].requires_grad_(False)
        modules = []
        for name, module in self.timm_model.named_modules():
            own = [f'{name}.{n}' if name else n for n, _ in module.named_parameters()]
            if own and all(n in frozen for n in own):
                modules.append(name)
        return modules

    def train(self, mode: bool = True):
        super().train(mode)
        if mode:
            for name in getattr(self, '_frozen_modules', ()):
                self.timm_model.get_submodule(name).eval()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    @property
    def out_channels(self) -> int:
        """Channels of the returned feature map (timm's ``num_features``)."""
        return self.timm_model.num_features

    @property
    def pretrained_cfg(self) -> dict:
        """timm's preprocessing record (input size, mean, std, interpolation)."""
        return dict(getattr(self.timm_model, 'pretrained_cfg', {}) or {})

    def forward(self, x):
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        features = self.timm_model.forward_features(x)
        if self.pooled:
            features = self.timm_model.forward_head(features, pre_logits=True)
        return (features,)
