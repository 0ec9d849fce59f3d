"""Mixed precision on any device: bf16/fp16 autocast on CUDA, bf16 on CPU."""

from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper

from gleamkit.registry import OPTIM_WRAPPERS

_DTYPES = {
    'bfloat16': torch.bfloat16,
    'bf16': torch.bfloat16,
    'float16': torch.float16,
    'fp16': torch.float16,
}


@OPTIM_WRAPPERS.register_module()
class MixedPrecisionOptimWrapper(OptimWrapper):
    """``OptimWrapper`` with autocast, usable where mmengine's ``AmpOptimWrapper``
    refuses to start (it asserts CUDA/NPU/MLU; CPUs with AMX or AVX512-bf16
    train faster in bf16).

    Args:
        dtype (str): ``'auto'`` (bf16 where supported - CUDA with bf16, or CPU -
            else fp16), ``'bfloat16'`` or ``'float16'``. fp16 uses a gradient
            scaler (CUDA only). Defaults to ``'auto'``.
        **kwargs: ``OptimWrapper``'s arguments (``optimizer``, ``clip_grad``,
            ``accumulative_counts``).
    """

    def __init__(self, dtype: str = 'auto', **kwargs):
        super().__init__(**kwargs)
        self.device_type = 'cuda' if torch.cuda.is_available() else 'cpu'
        if dtype == 'auto':
            bf16_ok = self.device_type == 'cpu' or torch.cuda.is_bf16_supported()
            dtype = 'bfloat16' if bf16_ok else 'float16'
        if dtype not in _DTYPES:
            raise ValueError(
                f'MixedPrecisionOptimWrapper: dtype={dtype!r}, expected "auto", {sorted(_DTYPES)}'
            )
        self.cast_dtype = _DTYPES[dtype]
        if self.cast_dtype == torch.float16 and self.device_type != 'cuda':
            raise ValueError(
                'float16 autocast needs a CUDA device; use dtype="bfloat16" on CPU '
                '(tools/train.py --precision bf16, or fp32)'
            )
        self.scaler = torch.amp.GradScaler('cuda') if self.cast_dtype == torch.float16 else None

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        if self.scaler is not None:
            loss = self.scaler.scale(loss)
        loss.backward(**kwargs)
        self._inner_count += 1

    def step(self, **kwargs) -> None:
        if self.scaler is None:
            return super().step(**kwargs)
        if self.clip_grad_kwargs:
            self.scaler.unscale_(self.optimizer)
            self._clip_grad()
        self.scaler.step(self.optimizer, **kwargs)
        self.scaler.update()

    def state_dict(self) -> dict:
        state = self.optimizer.state_dict()
        if self.scaler is not None:
            state['loss_scaler'] = self.scaler.state_dict()
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        scaler_state = state_dict.pop('loss_scaler', None)
        if self.scaler is not None and scaler_state is not None:
            self.scaler.load_state_dict(scaler_state)
        self.optimizer.load_state_dict(state_dict)

    @contextmanager
    def optim_context(self, model):
        with super().optim_context(model), torch.autocast(self.device_type, dtype=self.cast_dtype):
            yield
