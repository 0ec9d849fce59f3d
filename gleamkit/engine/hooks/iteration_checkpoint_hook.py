"""Checkpoints every N iterations, next to the per-epoch ones."""

import contextlib

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.runner import EpochBasedTrainLoop

from gleamkit.registry import HOOKS

_MISSING = object()


@HOOKS.register_module()
class IterationCheckpointHook(CheckpointHook):
    """``CheckpointHook(by_epoch=False)`` that can run beside the epoch ``CheckpointHook``.

    Writes ``iter_N.pth`` every ``interval`` iterations, so a killed run of long epochs
    loses at most ``interval`` steps; ``--resume`` picks the newest of ``iter_N`` /
    ``epoch_N``. Two plain ``CheckpointHook`` s would share the message hub's
    ``keep_ckpt_ids`` (which old files to delete) and, after a resume, delete each
    other's files by the wrong name; this one keeps its list under
    ``keep_ckpt_ids_iteration_checkpoint``.

    Args:
        interval (int): Save every this many iterations; ``<= 0`` saves nothing.
            Defaults to -1.
        max_keep_ckpts (int): How many ``iter_N.pth`` to keep. Defaults to 2.
        save_last (bool): Also save after the last iteration. Defaults to False (the
            epoch hook saves the end of training).
        **kwargs: ``CheckpointHook``'s other arguments, except ``by_epoch`` and
            ``save_best`` (refused).

    Resuming from an ``iter_N.pth`` in the middle of an epoch needs a loop that skips
    the batches already trained: ``ResumableEpochBasedTrainLoop`` (or mmengine's
    ``IterBasedTrainLoop``). mmengine's ``EpochBasedTrainLoop`` would repeat the whole
    epoch, so this hook refuses to start with it.
    """

    _KEEP_KEY = 'keep_ckpt_ids_iteration_checkpoint'

    def __init__(
        self, interval: int = -1, max_keep_ckpts: int = 2, save_last: bool = False, **kwargs
    ):
        for key in ('by_epoch', 'save_best'):
            if key in kwargs:
                raise ValueError(
                    f'IterationCheckpointHook: {key}={kwargs[key]!r} is not '
                    'accepted (it saves by iteration and never the best)'
                )
        super().__init__(
            interval=interval,
            by_epoch=False,
            max_keep_ckpts=max_keep_ckpts,
            save_last=save_last,
            **kwargs,
        )

    @contextlib.contextmanager
    def _own_keep_ids(self, runner):
        """Show ``CheckpointHook.before_train`` this hook's list as ``keep_ckpt_ids``.

        Only for ``before_train``, which reads and prunes the list but saves nothing.
        """
        info = runner.message_hub.runtime_info
        shared = info.pop('keep_ckpt_ids', _MISSING)
        own = info.get(self._KEEP_KEY, _MISSING)
        if own is not _MISSING:
            info['keep_ckpt_ids'] = list(own)
        try:
            yield
        finally:
            info.pop('keep_ckpt_ids', None)
            if shared is not _MISSING:
                info['keep_ckpt_ids'] = shared

    def before_train(self, runner) -> None:
        from gleamkit.engine.loops import ResumableEpochBasedTrainLoop

        loop = runner.train_loop
        if (
            self.interval > 0
            and isinstance(loop, EpochBasedTrainLoop)
            and not isinstance(loop, ResumableEpochBasedTrainLoop)
        ):
            raise ValueError(
                'IterationCheckpointHook: train_cfg.type is EpochBasedTrainLoop, which would '
                'repeat a whole epoch when resumed from an iter_N.pth in its middle; use '
                'train_cfg.type=ResumableEpochBasedTrainLoop (gleamkit.engine.loops), as '
                'tools/train.py --checkpoint-every does'
            )
        with self._own_keep_ids(runner):
            super().before_train(runner)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        """``CheckpointHook``'s, with the list of kept files under this hook's own key."""
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                oldest = self.keep_ckpt_ids.popleft()
                path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(oldest))
                if is_main_process() and self.file_backend.isfile(path):
                    self.file_backend.remove(path)
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info(self._KEEP_KEY, list(self.keep_ckpt_ids))
        # the parent saves and writes `last_checkpoint`; -1 skips its own bookkeeping
        keep, self.max_keep_ckpts = self.max_keep_ckpts, -1
        try:
            super()._save_checkpoint_with_step(runner, step, meta)
        finally:
            self.max_keep_ckpts = keep
