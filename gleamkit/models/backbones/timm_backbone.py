"""Any timm model as gleamkit's shared image encoder."""
import torch
from mmpretrain.models.backbones import TIMMBackbone as _MMPretrainTIMMBackbone

from gleamkit.registry import BACKBONES


@BACKBONES.register_module()
class TimmBackbone(_MMPretrainTIMMBackbone):
    """A thin wrapper over ``timm.create_model`` (via mmpretrain's ``TIMMBackbone``).

    The classifier is removed, so ``forward`` returns a 1-tuple with the unpooled
    features: ``(B, C, H, W)`` for CNNs, ``(B, N, C)`` tokens for ViTs.

    Config keys:
        model_name (str): a timm name, e.g. ``'convnext_base.fb_in22k_ft_in1k_384'``
            (the Sample4Geo backbone) or ``'resnet18'``.
        pretrained (bool): load timm's published weights from the Hugging Face hub
            (needs internet or a populated HF cache). Tests use ``False``.
        checkpoint_path (str): a local weights file for timm to load instead.
        grad_checkpointing (bool): trade compute for memory on large backbones.
        channels_last (bool): use the channels-last memory format (faster convs
            on GPUs with tensor cores).
        pooled (bool): return timm's pooled pre-logits ``(B, C)`` (its own global
            pool and head norm, e.g. ConvNeXt's ``head.norm``: what Sample4Geo
            embeds) instead of the unpooled feature map.
        global_pool (str): timm's pooling when ``pooled`` (``'avg'``; ``'token'``
            for ViT class tokens).
        norm_eval (bool): keep every BatchNorm layer in eval mode while training:
            its running statistics stay those of the pretrained weights (its affine
            parameters still train). Use it when fine-tuning a pretrained BatchNorm
            encoder: gleamkit embeds each view as its own group, so in training
            mode BatchNorm would normalise every view with that view's own batch
            statistics, while at test time one set of running statistics, averaged
            over all views, serves them all - a train/test mismatch that costs a
            pretrained EfficientNet most of its accuracy. Leave it off for encoders
            trained from scratch (their running statistics start meaningless).
        **kwargs: any other ``timm.create_model`` argument (``drop_path_rate``,
            ``img_size`` for ViTs, ...).
    """

    def __init__(self, model_name: str, pretrained: bool = False, checkpoint_path: str = '',
                 grad_checkpointing: bool = False, channels_last: bool = False,
                 pooled: bool = False, global_pool: str = 'avg', norm_eval: bool = False,
                 init_cfg=None, **kwargs):
        super().__init__(model_name=model_name, features_only=False, pretrained=pretrained,
                         checkpoint_path=checkpoint_path, init_cfg=init_cfg, **kwargs)
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

    def train(self, mode: bool = True):
        super().train(mode)
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
        return (features, )
