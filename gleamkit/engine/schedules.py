"""Learning-rate schedules that follow the run: its number of epochs and its epoch length.

Two traps of mmengine's epoch-based schedulers (``by_epoch=True``), closed here:

* **Run length.** ``begin`` / ``end`` are numbers copied into the config: a run whose
  ``train_cfg.max_epochs`` is changed (``--cfg-options train_cfg.max_epochs=1``, or a child
  config) keeps decaying towards the old end, and stops far above the floor (or reaches
  it after the first of ten epochs). :func:`fit_schedule_to_run` stretches or squeezes the
  schedule to the run before it starts (every boundary times ``run / schedule``), with a
  log line saying old and new boundaries.
* **Epoch length.** ``convert_to_iter_based=True`` turns epochs into iterations by
  ``int(epochs x epoch_length)``: a 0.1-epoch warm-up of a 15-iteration epoch becomes one
  iteration, in which ``LinearLR`` never rises (its ramp has ``end - begin - 1 = 0``
  steps), and the cosine after it decays from the warm-up's start value (1e-6 instead of
  1e-3). :func:`iteration_schedule` converts the whole schedule at once, rounding each
  boundary to the nearest iteration and giving every phase at least two iterations (a
  ramp then reaches its target on its last iteration); the cosine keeps mmengine's
  ``T_max = end - begin`` (its floor one step after the run, as transformers' schedule), so
  a whole-epoch schedule converts to exactly mmengine's lr curve. A run too short for
  that is refused with what to change. :func:`follow_epoch_length` makes a Runner use it
  when it builds its schedulers.
"""

import copy
import logging
import math
from typing import List, Optional

from mmengine.logging import print_log
from mmengine.optim.scheduler import (
    ConstantParamScheduler,
    CosineAnnealingParamScheduler,
    LinearParamScheduler,
)
from mmengine.registry import PARAM_SCHEDULERS

# schedulers whose only epoch-valued arguments are begin, end (and the cosine's T_max)
_CONVERTIBLE = (LinearParamScheduler, CosineAnnealingParamScheduler, ConstantParamScheduler)
_INF = 1e9  # mmengine's default end is sys.maxsize: "until the run ends"


def _scheduler_class(cfg) -> Optional[type]:
    kind = cfg.get('type')
    if isinstance(kind, str):
        kind = PARAM_SCHEDULERS.get(kind)
    return kind if isinstance(kind, type) else None


def _name(cfg) -> str:
    cls = _scheduler_class(cfg)
    return cls.__name__ if cls else str(cfg.get('type'))


def _as_list(schedulers) -> Optional[list]:
    if isinstance(schedulers, dict) and 'type' in schedulers:
        return [schedulers]
    if isinstance(schedulers, (list, tuple)):
        return list(schedulers)
    return None  # one schedule per optimizer: left as written


def _fmt(x) -> str:
    return f'{x:g}' if isinstance(x, float) else str(x)


def fit_schedule_to_run(cfg) -> None:
    """Scale the epoch- (or iteration-) valued boundaries of ``cfg.param_scheduler`` to the
    run's ``train_cfg.max_epochs`` (``max_iters``) when the schedule ends elsewhere.

    The schedule's length is the largest finite ``end`` among the schedulers counted in
    the run's unit (``by_epoch=True`` for an epoch-based loop); schedulers in the other
    unit (e.g. a warm-up of 50 iterations in an epoch-based run) are left alone. A
    schedule that cannot be scaled (a scheduler with other epoch-valued arguments, such
    as ``MultiStepLR``'s milestones) raises a ``ValueError`` that says what to set. A
    top-level ``fit_schedule_to_run = False`` in the config keeps the schedule as written.

    Args:
        cfg (Config): the training config; edited in place.
    """
    if cfg.get('fit_schedule_to_run', True) is False:
        return
    train_cfg, schedulers = cfg.get('train_cfg'), _as_list(cfg.get('param_scheduler'))
    if not train_cfg or not schedulers:
        return
    if train_cfg.get('max_epochs') is not None:
        run, by_epoch, unit, key = train_cfg['max_epochs'], True, 'epochs', 'max_epochs'
    elif train_cfg.get('max_iters') is not None:
        run, by_epoch, unit, key = train_cfg['max_iters'], False, 'iterations', 'max_iters'
    else:
        return
    ours = [s for s in schedulers if s.get('by_epoch', True) == by_epoch]
    ends = [s['end'] for s in ours if s.get('end') is not None and s['end'] < _INF]
    if not ends or max(ends) == run:
        return
    written = max(ends)
    factor = run / written
    changes = []
    for i, s in enumerate(schedulers):
        if s not in ours:
            continue
        cls = _scheduler_class(s)
        if cls is None or not issubclass(cls, _CONVERTIBLE):
            raise ValueError(
                f'param_scheduler[{i}] ({_name(s)}) was written for {_fmt(written)} {unit} '
                f'but train_cfg.{key}={run}; gleamkit scales LinearLR / CosineAnnealingLR / '
                f"ConstantLR boundaries to the run, not {_name(s)}'s other arguments: set "
                f'param_scheduler for {run} {unit} yourself (or set {key}={_fmt(written)}).'
            )
        before = (s.get('begin', 0), s.get('end'))
        for arg in ('begin', 'end', 'T_max'):
            if s.get(arg) is not None and s[arg] < _INF:
                value = s[arg] * factor
                s[arg] = int(value) if float(value).is_integer() else value
        if (
            by_epoch
            and not s.get('convert_to_iter_based', False)
            and any(isinstance(s.get(arg), float) for arg in ('begin', 'end', 'T_max'))
        ):
            s['convert_to_iter_based'] = True  # a fraction of an epoch needs iterations
        changes.append(
            f'{_name(s)} {_fmt(before[0])}-{_fmt(before[1])} -> '
            f'{_fmt(s.get("begin", 0))}-{_fmt(s.get("end"))}'
        )
    if isinstance(cfg.get('param_scheduler'), (list, tuple)):
        cfg['param_scheduler'] = schedulers
    print_log(
        f'param_scheduler was written for {_fmt(written)} {unit}, the run has {run} '
        f'(train_cfg.{key}): {unit} scaled by {factor:g}: {"; ".join(changes)}',
        logger='current',
        level=logging.WARNING,
    )


def _round(x: float) -> int:
    return int(math.floor(x + 0.5))


def iteration_schedule(schedulers, epoch_length: int, max_iters: int) -> List[dict]:
    """Epoch-valued schedulers (``by_epoch=True, convert_to_iter_based=True``) as
    iteration-based ones, the boundaries converted together.

    Each boundary goes to the nearest iteration; consecutive boundaries are at least two
    iterations apart (a ramp of ``n`` iterations reaches its target on its last one, so
    one iteration would never leave the start value), within ``max_iters``. A cosine
    without ``T_max`` keeps mmengine's ``end - begin`` (its floor one step after its last
    iteration): where mmengine's own conversion has no trap, the curve is identical.
    Other schedulers are returned unchanged.

    Args:
        schedulers (list[dict]): scheduler configs.
        epoch_length (int): iterations per epoch (``len(train_dataloader)``).
        max_iters (int): iterations in the run.

    Returns:
        list[dict]: new configs (the input is not changed).

    Raises:
        ValueError: the run has too few iterations for every phase to get two; the
            message gives the counts and what to change.
    """
    schedulers = [copy.deepcopy(dict(s)) for s in schedulers]
    convert = []
    for s in schedulers:
        cls = _scheduler_class(s)
        if (
            s.get('by_epoch', True)
            and s.get('convert_to_iter_based', False)
            and cls is not None
            and issubclass(cls, _CONVERTIBLE)
        ):
            convert.append(s)
    if not convert:
        return schedulers
    finite = sorted(
        {
            float(s.get(k, 0))
            for s in convert
            for k in ('begin', 'end')
            if s.get(k, 0) is not None and s.get(k, 0) < _INF
        }
    )
    wanted = [_round(b * epoch_length) for b in finite]
    its = []
    for w in wanted:  # forward: at least two iterations per phase
        its.append(w if not its else max(w, its[-1] + 2))
    if wanted[-1] <= max_iters:  # backward: the schedule still ends within the run
        its[-1] = min(its[-1], max_iters)
        for k in range(len(its) - 2, -1, -1):
            its[k] = min(its[k], its[k + 1] - 2)
    if its[0] < 0 or any(b - a < 2 for a, b in zip(its, its[1:])):
        phases = len(finite) - 1
        raise ValueError(
            f'the learning-rate schedule ({", ".join(_name(s) for s in convert)}, boundaries '
            f'{[_fmt(b) for b in finite]} epochs) has {phases} phases and each needs at least '
            f'2 iterations to reach its target, but the run has {max_iters} iterations '
            f'({epoch_length} per epoch). Train longer (more epochs: train_cfg.max_epochs, '
            f'or a smaller batch: batch_size), or give a one-phase schedule '
            f'(e.g. param_scheduler=[dict(type=CosineAnnealingLR, by_epoch=False, begin=0, '
            f'end={max_iters})]).'
        )
    at = dict(zip(finite, its))
    for s in convert:
        s.pop('convert_to_iter_based')
        s['by_epoch'] = False
        begin = at[float(s.get('begin', 0))]
        end = at[float(s['end'])] if s.get('end') is not None and s['end'] < _INF else None
        if s.get('T_max') is not None:
            s['T_max'] = max(1, _round(s['T_max'] * epoch_length))
        # T_max left to mmengine (end - begin): the floor one step after the last
        # iteration, as mmengine's own conversion and transformers' cosine schedule
        s['begin'] = begin
        if end is not None:
            s['end'] = end
        else:
            s.pop('end', None)
    return schedulers


def follow_epoch_length(runner) -> None:
    """Make ``runner`` (an mmengine ``Runner``) convert epoch-valued schedulers with
    :func:`iteration_schedule` when it builds them, once its epoch length is known.

    mmengine's ``FlexibleRunner`` builds schedulers inside its strategy and keeps
    mmengine's own conversion.

    Args:
        runner (Runner): built, not yet trained.
    """
    build = getattr(runner, 'build_param_scheduler', None)
    if build is None:
        return

    def build_param_scheduler(scheduler):
        schedulers = _as_list(scheduler)
        # configs only: resume() passes the built schedulers through here again
        if schedulers and all(isinstance(s, dict) for s in schedulers):
            epoch_length = len(runner.train_dataloader)
            converted = iteration_schedule(schedulers, epoch_length, runner.train_loop.max_iters)
            for warning in warn_unfinished_ramps(converted, runner.train_loop.max_iters):
                runner.logger.warning(warning)
            if converted != schedulers:
                runner.logger.info(
                    'param_scheduler in iterations (%d per epoch, %d in all): %s',
                    epoch_length,
                    runner.train_loop.max_iters,
                    '; '.join(
                        f'{_name(s)} {s.get("begin", 0)}-{s.get("end", "end")}' for s in converted
                    ),
                )
            scheduler = converted
        return build(scheduler)

    runner.build_param_scheduler = build_param_scheduler


def warn_unfinished_ramps(schedulers, max_iters: int) -> List[str]:
    """Warnings for iteration-valued schedulers (``by_epoch=False``) that end after the
    run (a 50-iteration warm-up in a 34-iteration test run never reaches its lr)."""
    found = []
    for i, s in enumerate(schedulers):
        end = s.get('end')
        if not s.get('by_epoch', True) and end is not None and max_iters < end < _INF:
            found.append(
                f'param_scheduler[{i}] ({_name(s)}) ends at iteration {end} but the run has '
                f'{max_iters}: it never reaches its end value (a warm-up never reaches the '
                f'configured lr); set its end within the run, e.g. --cfg-options '
                f'param_scheduler.{i}.end={max(2, max_iters // 10)}'
            )
    return found
