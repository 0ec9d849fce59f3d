"""An epoch-based training loop that resumes in the middle of an epoch."""

from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop

from gleamkit.registry import LOOPS


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` that continues an epoch where an ``iter_N.pth`` left it.

    mmengine restores the epoch and iteration counters from a checkpoint, but its
    epoch loop then runs the interrupted epoch from its first batch again: a run resumed
    from a checkpoint saved after batch ``k`` of an epoch trains ``k`` batches twice and
    ends ``k`` iterations past ``max_iters``. This loop draws and discards those ``k``
    batches first, so the resumed run sees the same batches in the same order as an
    uninterrupted one (the sampler's order depends on the seed and the epoch only;
    ``DistSamplerSeedHook`` sets the epoch) and stops at the same total iteration count.
    Discarded batches are still loaded (as mmengine's ``IterBasedTrainLoop`` does when it
    resumes), which costs data-loading time but no training step.

    Args:
        runner, dataloader, max_epochs, val_begin, val_interval, dynamic_intervals:
            those of mmengine's ``EpochBasedTrainLoop`` (this class adds none).
    """

    def run_epoch(self) -> None:
        """Iterate one epoch, skipping the batches an interrupted run already trained."""
        done = self._iter - self._epoch * len(self.dataloader)
        if done <= 0:
            return super().run_epoch()
        done = min(done, len(self.dataloader))
        print_log(
            f'Resuming inside epoch {self._epoch + 1}: skipping its first {done} of '
            f'{len(self.dataloader)} batches, trained before the checkpoint',
            logger='current',
        )
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        for idx, data_batch in enumerate(self.dataloader):
            if idx < done:
                continue
            self.run_iter(idx, data_batch)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1
