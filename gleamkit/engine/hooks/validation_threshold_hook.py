"""Carry GLEAM-X's validation threshold to test: the balanced threshold on P(match)
chosen on the validation split, saved in the checkpoint and restored on load."""

import os
import os.path as osp
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log

from gleamkit.registry import HOOKS

#: the MessageHub runtime-info key (saved in every checkpoint's ``message_hub``)
THRESHOLD_KEY = 'gleam_x/validation_threshold'


def checkpoint_threshold(checkpoint: dict) -> Optional[float]:
    """The validation threshold a checkpoint recorded, or None."""
    hub = checkpoint.get('message_hub') if isinstance(checkpoint, dict) else None
    info = hub.get('runtime_info', {}) if isinstance(hub, dict) else {}
    value = info.get(THRESHOLD_KEY)
    return None if value is None else float(value)


@HOOKS.register_module()
class ValidationThresholdHook(Hook):
    """Record the validation's balanced threshold; restore it with a checkpoint.

    After each validation, the metric ``<prefix>/balanced_threshold`` (the
    threshold on P(match) that maximises balanced accuracy, reported by
    :class:`~gleamkit.evaluation.GleamXMetric` on the validation split) is stored
    in the MessageHub under :data:`THRESHOLD_KEY`; mmengine saves it with the
    checkpoint. mmengine saves an epoch's checkpoint *before* that epoch's
    validation, so the hook also writes the new threshold into the checkpoint of
    the same epoch / iteration when it is a local file (loaded with the safe
    loader, replaced atomically: an interruption leaves the old file whole). When
    a checkpoint is loaded (``tools/test.py CONFIG CKPT``,
    ``--resume``) the hook puts it back, so a test evaluator with
    ``match_threshold='validation'`` scores the test split at the threshold chosen
    on validation, not on test itself.

    Args:
        metric (str): the validation metric to record. Defaults to
            ``'gleam_x/balanced_threshold'``.
    """

    priority = 'LOW'

    def __init__(self, metric: str = 'gleam_x/balanced_threshold'):
        self.metric = metric

    def after_val_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        value = (metrics or {}).get(self.metric)
        if value is None:
            return
        runner.message_hub.update_info(THRESHOLD_KEY, float(value))
        if is_main_process():
            self._update_last_checkpoint(runner, float(value))
        print_log(
            f'ValidationThresholdHook: P(match) threshold {float(value):.4f} chosen on the '
            'validation split (saved with the checkpoint; test evaluators with '
            "match_threshold='validation' apply it)",
            logger='current',
        )

    @staticmethod
    def _update_last_checkpoint(runner, value: float) -> None:
        import torch

        from gleamkit.utils.checkpoint import safe_load_checkpoint

        path = runner.message_hub.get_info('last_ckpt')
        if not path or not osp.isfile(path):
            return  # none yet, or not a local file
        ckpt = safe_load_checkpoint(path, map_location='cpu')
        meta = ckpt.get('meta') or {}
        if meta.get('epoch') != runner.epoch or meta.get('iter') != runner.iter:
            return  # an older checkpoint: this validation did not see its weights
        if checkpoint_threshold(ckpt) == value:
            return
        hub = ckpt.setdefault('message_hub', {})
        hub.setdefault('runtime_info', {})[THRESHOLD_KEY] = value
        hub.setdefault('resumed_keys', {})[THRESHOLD_KEY] = True
        tmp = f'{path}.tmp{os.getpid()}'
        torch.save(ckpt, tmp)
        os.replace(tmp, path)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        value = checkpoint_threshold(checkpoint)
        if value is not None:
            runner.message_hub.update_info(THRESHOLD_KEY, value)
