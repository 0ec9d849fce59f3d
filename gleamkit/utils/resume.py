"""Which checkpoint ``tools/train.py --resume`` continues from; loud when there is none.

mmengine's own ``resume=True`` with no checkpoint logs ``Auto resumed from the latest
checkpoint None.`` and trains from scratch, and a cut-off newest checkpoint stops it with
a bare ``EOFError``. Here a resume that cannot resume is an error, and an unreadable
checkpoint is skipped with a warning that names it.
"""

import logging
import os
import os.path as osp
import re
from typing import List, Optional

from mmengine.logging import print_log

from gleamkit.utils.checkpoint import CorruptCheckpointError, check_checkpoint_file

#: The checkpoints mmengine's ``CheckpointHook`` writes (``best_*.pth`` are not resumed from).
CHECKPOINT_NAME = re.compile(r'(epoch|iter)_(\d+)\.pth')


class NoCheckpointToResumeError(FileNotFoundError):
    """``--resume`` was asked for, but the work dir holds no readable checkpoint."""


def _pointer_target(work_dir: str) -> Optional[str]:
    """The file mmengine's ``last_checkpoint`` pointer names, if it names an existing one."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        return None
    with open(pointer) as f:
        named = f.read().strip()  # empty when a run was killed while writing it
    return named if named and osp.isfile(named) else None


def resume_candidates(work_dir: str) -> List[str]:
    """Checkpoints of ``work_dir``, newest first.

    The ``last_checkpoint`` pointer comes first (every save rewrites it). Then
    ``epoch_N.pth`` and ``iter_N.pth``: within a kind by ``N`` (a copy may have reset
    modification times), between the kinds by modification time (``N`` counts epochs in
    one and iterations in the other).
    """
    by_kind = {'epoch': [], 'iter': []}
    for name in os.listdir(work_dir) if osp.isdir(work_dir) else []:
        match = CHECKPOINT_NAME.fullmatch(name)
        if match:
            by_kind[match.group(1)].append((int(match.group(2)), osp.join(work_dir, name)))
    queues = [[path for _, path in sorted(found, reverse=True)] for found in by_kind.values()]
    merged = []
    while any(queues):
        queue = max((q for q in queues if q), key=lambda q: osp.getmtime(q[0]))
        merged.append(queue.pop(0))
    pointed = _pointer_target(work_dir)
    if pointed is not None:
        merged = [pointed] + [p for p in merged if osp.abspath(p) != osp.abspath(pointed)]
    return merged


def _newest_readable(work_dir: str):
    """``(newest readable checkpoint or None, [CorruptCheckpointError of those skipped])``."""
    bad = []
    for path in resume_candidates(work_dir):
        try:
            check_checkpoint_file(path)
        except CorruptCheckpointError as error:
            bad.append(error)
            continue
        if bad:
            print_log(
                '--resume: skipped unreadable checkpoint(s): '
                + '; '.join(f'{e.filename} ({e.reason})' for e in bad)
                + f'. Resuming from the newest readable one: {path}',
                logger='current',
                level=logging.WARNING,
            )
        return path, bad
    return None, bad


def find_resume_checkpoint(work_dir: str) -> Optional[str]:
    """The newest readable checkpoint of ``work_dir``, or ``None``.

    Unreadable ones (empty, cut off: :func:`~gleamkit.utils.checkpoint.check_checkpoint_file`)
    are skipped with a warning that names each of them and the one used instead.
    """
    return _newest_readable(work_dir)[0]


def resolve_resume(work_dir: str, resume: str) -> str:
    """The checkpoint to resume from: ``resume`` is ``'auto'`` (newest in ``work_dir``) or a path.

    Raises:
        NoCheckpointToResumeError: ``'auto'`` and ``work_dir`` holds no readable checkpoint.
        FileNotFoundError: ``resume`` is a path that does not exist.
        CorruptCheckpointError: ``resume`` is a path to an empty or cut-off file.
    """
    if resume != 'auto':
        try:
            return check_checkpoint_file(resume)
        except FileNotFoundError as error:
            raise FileNotFoundError(f'--resume {resume}: no such checkpoint file') from error
    path, unreadable = _newest_readable(work_dir)
    if path is not None:
        return path
    found = (
        '; every checkpoint there is unreadable: '
        + '; '.join(f'{e.filename} ({e.reason})' for e in unreadable)
        if unreadable
        else ' (no last_checkpoint pointer, epoch_N.pth or iter_N.pth'
        + (')' if osp.isdir(work_dir) else '; the folder does not exist)')
    )
    raise NoCheckpointToResumeError(
        f'--resume: nothing to resume in work dir {osp.abspath(work_dir)!r}{found}. To start '
        'a new run, drop --resume; to continue from a checkpoint elsewhere, pass --resume '
        'PATH; if the run wrote somewhere else, pass its --work-dir.'
    )


def enable_iteration_checkpoints(cfg, every: int) -> None:
    """Save ``iter_N.pth`` every ``every`` iterations besides the epoch checkpoints.

    Sets ``default_hooks.iter_checkpoint`` (an ``IterationCheckpointHook``, kept if the
    config already has one) to ``interval=every``, and replaces mmengine's
    ``EpochBasedTrainLoop`` by ``ResumableEpochBasedTrainLoop`` so that resuming from
    such a checkpoint continues its epoch instead of repeating it.

    Raises:
        ValueError: ``every`` is not positive.
    """
    if every <= 0:
        raise ValueError(f'--checkpoint-every {every}: expected a positive iteration count')
    hooks = cfg.setdefault('default_hooks', {})
    # scoped names, not classes: a config must stay printable (Config.pretty_text)
    hook = hooks.get('iter_checkpoint') or dict(type='gleamkit.IterationCheckpointHook')
    hook['interval'] = every
    hooks['iter_checkpoint'] = hook
    loop_type = (cfg.get('train_cfg') or {}).get('type')
    name = loop_type if isinstance(loop_type, str) else getattr(loop_type, '__name__', '')
    if name.split('.')[-1] == 'EpochBasedTrainLoop':
        cfg.train_cfg['type'] = 'gleamkit.ResumableEpochBasedTrainLoop'
