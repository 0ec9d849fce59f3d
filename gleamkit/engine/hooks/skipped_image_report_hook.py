"""Report, at the end of every training epoch, the images a dataset with
``on_corrupt='skip'`` could not read."""

import logging
from collections import Counter
from typing import List, Optional

from mmengine.dist import all_gather_object, get_world_size, is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log

from gleamkit.registry import HOOKS

SKIPPED_META_KEY = 'skipped_bad_images'  # set by BaseCrossViewDataset


def _samples(data_batch) -> list:
    samples = data_batch.get('data_samples') if isinstance(data_batch, dict) else None
    if samples is None:
        return []
    return list(samples) if isinstance(samples, (list, tuple)) else [samples]


@HOOKS.register_module()
class SkippedImageReportHook(Hook):
    """Count and name the images skipped in an epoch, whatever the worker count.

    A dataset with ``on_corrupt='skip'`` replaces a sample whose image cannot be
    read and names the skipped files in the replacement's data sample (meta key
    ``skipped_bad_images``). Those samples reach the main process through the
    dataloader like any other, so this hook sees every skip made in any
    dataloader worker; under distributed training the ranks' lists are gathered
    and rank 0 logs one warning per epoch: how many samples were replaced, how
    many distinct files were bad, and the first of them with their reasons.
    Epochs without a skip log nothing. ``history`` keeps one entry per epoch
    (``epoch``, ``samples``, ``files``: path -> times skipped), for scripts.

    Iteration-based loops have no epochs: the report then comes after training.

    Args:
        show (int): files named in the report. Defaults to 10.
    """

    priority = 'LOW'

    def __init__(self, show: int = 10):
        self.show = int(show)
        self.history: List[dict] = []
        self._events: list = []

    def before_train_epoch(self, runner) -> None:
        self._events = []

    def after_train_iter(
        self, runner, batch_idx: int, data_batch=None, outputs: Optional[dict] = None
    ) -> None:
        for sample in _samples(data_batch):
            metainfo = getattr(sample, 'metainfo', None) or {}
            self._events.extend(tuple(e) for e in metainfo.get(SKIPPED_META_KEY) or ())

    def after_train_epoch(self, runner) -> None:
        self._report(runner, f'epoch {runner.epoch + 1}')

    def after_train(self, runner) -> None:
        if self._events:  # an iteration-based loop: no epoch end reported them
            self._report(runner, f'training (iteration {runner.iter})')

    def _report(self, runner, when: str) -> None:
        events = self._events
        if get_world_size() > 1:
            events = [e for part in all_gather_object(events) for e in part]
        self._events = []
        if not events:
            return
        files = Counter(e[0] for e in events)
        reasons = {e[0]: f'{e[1]}: {e[2]}' for e in events}
        self.history.append(
            dict(epoch=getattr(runner, 'epoch', None), samples=len(events), files=dict(files))
        )
        if not is_main_process():
            return
        first = '\n  '.join(
            f'{path} ({reasons[path]}; skipped {n}x)' for path, n in files.most_common(self.show)
        )
        print_log(
            f'SkippedImageReportHook: {when}: {len(events)} samples were replaced because '
            f'{len(files)} image files could not be read (on_corrupt="skip"); first:\n  '
            f'{first}\nList every bad image with python tools/misc/check_dataset.py '
            'CONFIG and fix or remove them.',
            logger='current',
            level=logging.WARNING,
        )
