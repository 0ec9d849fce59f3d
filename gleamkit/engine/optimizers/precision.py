"""Choosing the training precision from the command line, and saying which one ran.

``tools/train.py --precision {fp32,bf16,fp16,auto}`` rewrites ``optim_wrapper`` both ways:
``fp32`` turns a mixed-precision wrapper back into mmengine's plain ``OptimWrapper``
(dropping its ``dtype`` / ``loss_scale`` keys, which ``OptimWrapper`` does not take);
the others select :class:`MixedPrecisionOptimWrapper` with that autocast dtype.
"""

from typing import Optional

import torch
from mmengine.config import Config
from mmengine.optim import AmpOptimWrapper

from .mixed_precision_optim_wrapper import MixedPrecisionOptimWrapper

#: ``--precision`` value -> ``MixedPrecisionOptimWrapper.dtype`` (None: no autocast).
PRECISIONS = {'fp32': None, 'bf16': 'bfloat16', 'fp16': 'float16', 'auto': 'auto'}

#: Keys only the mixed-precision wrappers take.
_MIXED_ONLY_KEYS = ('dtype', 'loss_scale')
_MIXED_TYPES = (MixedPrecisionOptimWrapper, AmpOptimWrapper)


def _type_name(wrapper_type) -> str:
    name = wrapper_type if isinstance(wrapper_type, str) else wrapper_type.__name__
    return name.split('.')[-1]


def apply_precision(cfg: Config, precision: Optional[str]) -> None:
    """Set ``cfg.optim_wrapper`` to train in ``precision`` (``None``: leave the config's).

    Args:
        cfg: The run's config; its ``optim_wrapper`` is changed in place.
        precision: One of :data:`PRECISIONS` or ``None``.

    Raises:
        ValueError: Unknown ``precision``, or ``optim_wrapper`` is not a plain /
            mixed-precision wrapper (e.g. an ``OptimWrapperDict``) that this can rewrite.
    """
    if precision is None:
        return
    if precision not in PRECISIONS:
        raise ValueError(f'--precision {precision!r}: expected one of {sorted(PRECISIONS)}')
    wrapper = cfg.get('optim_wrapper')
    if not wrapper:
        raise ValueError(f'--precision {precision}: the config has no optim_wrapper to set')
    current = _type_name(wrapper.get('type', 'OptimWrapper'))
    known = {'OptimWrapper'} | {cls.__name__ for cls in _MIXED_TYPES}
    if current not in known:
        raise ValueError(
            f'--precision {precision}: optim_wrapper.type={current!r} is not one '
            f'of {sorted(known)}; set its precision in the config instead'
        )
    dtype = PRECISIONS[precision]
    if dtype is None:
        # scoped names, not classes: a config must stay printable (Config.pretty_text)
        wrapper['type'] = 'mmengine.OptimWrapper'
        for key in _MIXED_ONLY_KEYS:
            wrapper.pop(key, None)
    else:
        wrapper.pop('loss_scale', None)  # AmpOptimWrapper's; ours picks its own scaler
        wrapper.update(type='gleamkit.MixedPrecisionOptimWrapper', dtype=dtype)


def describe_precision(optim_wrapper, model: torch.nn.Module) -> str:
    """What precision a run trains in: autocast dtype (if any), device and parameter dtype."""
    params = next(iter(model.parameters()), None)
    device = params.device if params is not None else torch.device('cpu')
    param_dtype = str(params.dtype).replace('torch.', '') if params is not None else 'none'
    wrappers = optim_wrapper.items() if hasattr(optim_wrapper, 'items') else [(None, optim_wrapper)]
    parts = []
    for name, wrapper in wrappers:
        cast = getattr(wrapper, 'cast_dtype', None)
        if isinstance(wrapper, AmpOptimWrapper) and cast is None:
            cast = torch.float16  # AmpOptimWrapper's default
        if isinstance(wrapper, _MIXED_TYPES):
            what = f'{str(cast).replace("torch.", "")} autocast (mixed precision)'
            if getattr(wrapper, 'scaler', None) is not None or isinstance(wrapper, AmpOptimWrapper):
                what += ' with loss scaling'
        else:
            what = 'fp32 (no autocast)'
        parts.append(what if name is None else f'{name}: {what}')
    return f'precision: {"; ".join(parts)} on {device.type}, parameters {param_dtype}'
