"""Save the LoRA adapter (not the frozen base model) with every checkpoint."""

import contextlib
import os
import os.path as osp
import re
import shutil
import uuid
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from gleamkit.registry import HOOKS


def _unwrap(model):
    return model.module if is_model_wrapper(model) else model


@HOOKS.register_module()
class LoRACheckpointHook(Hook):
    """Write the peft adapter next to mmengine's checkpoints; keep those small.

    With a :class:`~gleamkit.models.explainers.HuggingFaceVLMExplainer`:

    * every time mmengine saves a checkpoint, the adapter is written with peft's
      ``save_pretrained`` (``adapter_model.safetensors`` + ``adapter_config.json``)
      plus ``gleamkit_explainer.json`` (base model, pixel budget) to
      ``{work_dir}/{out_dir}/epoch_N`` (``iter_N`` for iteration-based loops);
      only the newest ``max_keep`` such folders are kept;
    * the checkpoint's ``state_dict`` holds only trainable parameters (the model
      already does this unless ``save_frozen_weights=True``; the hook enforces it
      for models that do not) and ``meta['explainer']`` records the adapter's
      base model and pixel budget, so ``--resume`` restores LoRA weights, optimizer
      and schedulers from a file of a few MB;
    * after training the final adapter goes to ``{work_dir}/{final_dir}``: what
      ``merge_lora_adapter`` merges for vLLM and ``adapter_path=`` loads;
    * when a checkpoint is loaded, a pixel budget recorded in it that differs
      from the model's is reported (the model itself applies or rejects it).

    Writes are atomic (a temporary folder renamed into place) and happen on
    rank 0 only.

    Args:
        out_dir (str): folder under ``work_dir`` for the per-checkpoint adapters.
            Defaults to ``'adapters'``.
        max_keep (int, optional): how many per-checkpoint adapters to keep
            (``None``: all). Defaults to 2.
        final_dir (str, optional): folder under ``work_dir`` for the adapter after
            training (``None``: not written). Defaults to ``'adapter'``.
        filter_state_dict (bool): drop frozen parameters from checkpoints.
            Defaults to True.
    """

    priority = 'NORMAL'

    def __init__(
        self,
        out_dir: str = 'adapters',
        max_keep: Optional[int] = 2,
        final_dir: Optional[str] = 'adapter',
        filter_state_dict: bool = True,
    ):
        if max_keep is not None and max_keep < 1:
            raise ValueError(f'max_keep={max_keep}: expected >= 1 or None')
        self.out_dir = out_dir
        self.max_keep = max_keep
        self.final_dir = final_dir
        self.filter_state_dict = filter_state_dict

    @staticmethod
    def _save_adapter(model, target: str) -> None:
        parent = osp.dirname(osp.abspath(target))
        os.makedirs(parent, exist_ok=True)
        tmp = osp.join(parent, f'.{osp.basename(target)}.tmp-{uuid.uuid4().hex[:8]}')
        try:
            model.save_adapter(tmp)
            old = None
            if osp.exists(target):
                old = f'{tmp}.old'
                os.rename(target, old)
            os.rename(tmp, target)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        finally:
            with contextlib.suppress(OSError):
                shutil.rmtree(tmp)

    def _has_adapter(self, model) -> bool:
        return hasattr(model, 'save_adapter') and getattr(model, 'is_peft', False)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        model = _unwrap(runner.model)
        if self.filter_state_dict:
            frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
            state = checkpoint['state_dict']
            for key in list(state):
                if key in frozen:
                    del state[key]
        if hasattr(model, 'explainer_record'):
            checkpoint.setdefault('meta', {})['explainer'] = model.explainer_record()
        if not self._has_adapter(model) or not is_main_process():
            return
        from mmengine.runner import IterBasedTrainLoop

        meta = checkpoint.get('meta', {})
        if isinstance(runner.train_loop, IterBasedTrainLoop):
            name = f'iter_{meta.get("iter", runner.iter)}'
        else:
            name = f'epoch_{meta.get("epoch", runner.epoch)}'
        root = osp.join(runner.work_dir, self.out_dir)
        self._save_adapter(model, osp.join(root, name))
        runner.logger.info(f'LoRA adapter saved to {osp.join(root, name)}')
        if self.max_keep is not None:
            found = []
            for entry in os.listdir(root):
                match = re.fullmatch(r'(epoch|iter)_(\d+)', entry)
                if match and osp.isdir(osp.join(root, entry)):
                    found.append((int(match.group(2)), entry))
            for _, entry in sorted(found)[: -self.max_keep]:
                shutil.rmtree(osp.join(root, entry), ignore_errors=True)

    def after_train(self, runner) -> None:
        model = _unwrap(runner.model)
        if self.final_dir is None or not self._has_adapter(model) or not is_main_process():
            return
        target = osp.join(runner.work_dir, self.final_dir)
        self._save_adapter(model, target)
        runner.logger.info(f'final LoRA adapter saved to {target}')

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        record = checkpoint.get('meta', {}).get('explainer')
        model = _unwrap(runner.model)
        if not record or not hasattr(model, 'pixel_budget'):
            return
        recorded = (record.get('min_pixels'), record.get('max_pixels'))
        if recorded != (None, None) and recorded != tuple(model.pixel_budget):
            runner.logger.warning(
                f'the checkpoint was trained with min_pixels={recorded[0]}, max_pixels='
                f'{recorded[1]}; the model is configured with {model.pixel_budget}'
            )
        base = record.get('base_model')
        if base and getattr(model, 'model_name_or_path', base) != base:
            runner.logger.warning(
                f"the checkpoint's adapter was trained on {base!r}; the "
                f'model is built from {model.model_name_or_path!r}'
            )
