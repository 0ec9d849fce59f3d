"""Learning-rate schedules that follow the run (gleamkit/engine/schedules.py), checked by
stepping mmengine's own schedulers built from the configs, iteration by iteration."""

import math
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import PARAM_SCHEDULERS

from gleamkit.engine.schedules import (
    fit_schedule_to_run,
    iteration_schedule,
    warn_unfinished_ramps,
)
from gleamkit.utils.config_links import merge_linked_options

ROOT = Path(__file__).resolve().parents[2]
# the schedulers are stepped without an optimizer step: torch warns about that order
pytestmark = pytest.mark.filterwarnings('ignore:Detected call of')


def load(name, **options) -> Config:
    cfg = Config.fromfile(str(ROOT / 'configs' / 'gleam_c' / f'{name}.py'))
    merge_linked_options(cfg, options)
    return cfg


def lrs_of(
    schedulers, lr: float, iterations: int, mmengine_conversion: bool = False, epoch_length: int = 1
) -> list:
    """The lr of every training iteration, as mmengine's ParamSchedulerHook steps them."""
    param = torch.nn.Parameter(torch.zeros(1))
    optim = OptimWrapper(torch.optim.AdamW([param], lr=lr))
    built = []
    for s in schedulers:
        s = dict(s)
        if mmengine_conversion and s.pop('convert_to_iter_based', False):
            built.append(s.pop('type').build_iter_from_epoch(optim, epoch_length=epoch_length, **s))
        else:
            built.append(PARAM_SCHEDULERS.build(s, default_args=dict(optimizer=optim)))
    out = []
    for _ in range(iterations):
        out.append(optim.param_groups[0]['lr'])
        for scheduler in built:
            scheduler.step()
    return out


def last_cosine_step(peak: float, floor: float, steps: int) -> float:
    """The lr of a cosine of ``steps`` iterations on its last one."""
    return floor + (peak - floor) * (1 + math.cos(math.pi * (steps - 1) / steps)) / 2


def run_lrs(cfg, epoch_length: int) -> list:
    """Fit the schedule to the run, convert it with gleamkit's epoch length, step it."""
    fit_schedule_to_run(cfg)
    total = cfg.train_cfg.max_epochs * epoch_length
    schedule = iteration_schedule(cfg.param_scheduler, epoch_length, total)
    return lrs_of(schedule, cfg.optim_wrapper.optimizer.lr, total)


# ------------------------------------------------------------ run length (issue 10.4)
def test_phase2_with_one_epoch_ends_at_its_floor():
    cfg = load('phase2')
    cfg.merge_from_dict({'train_cfg.max_epochs': 1})
    epoch_length = 231  # 462 steps in phase 2's two epochs
    # as reported: the cosine still runs towards epoch 2 and stops halfway (4.6e-4 in
    # the report's run, 5.3e-4 with this epoch length)
    unfitted = lrs_of(
        cfg.param_scheduler, 1e-3, epoch_length, mmengine_conversion=True, epoch_length=epoch_length
    )
    assert unfitted[-1] > 4e-4
    lrs = run_lrs(cfg, epoch_length)
    assert cfg.param_scheduler[1].end == 1
    # the cosine's last step above eta_min (its floor one step after the run, as mmengine
    # and transformers place it): lr = eta_min + (peak - eta_min)(1 + cos(pi (T-1)/T)) / 2
    assert lrs[-1] == pytest.approx(last_cosine_step(1e-3, 5e-5, epoch_length), rel=1e-5)
    # phase 2's 50-iteration warm-up overlaps the cosine (as written): its peak is lower
    assert 8e-4 < max(lrs) <= 1e-3


def test_university1652_child_with_ten_epochs_decays_over_ten():
    cfg = load('university1652_drone2sat')
    cfg.merge_from_dict({'train_cfg.max_epochs': 10})
    epoch_length = 40
    unfitted = lrs_of(
        cfg.param_scheduler,
        1e-3,
        10 * epoch_length,
        mmengine_conversion=True,
        epoch_length=epoch_length,
    )
    assert unfitted[epoch_length] < 1e-5  # as reported: ~0 after the first epoch
    lrs = run_lrs(cfg, epoch_length)
    warmup, cosine = cfg.param_scheduler
    assert (warmup.begin, warmup.end, cosine.begin, cosine.end) == (0, 1, 1, 10)
    assert lrs[epoch_length] == pytest.approx(1e-3)  # the peak after the warm-up epoch
    assert lrs[5 * epoch_length] > 4e-4  # still decaying halfway
    # Sample4Geo's floor (0) one step after the run, as transformers' cosine schedule
    assert lrs[-1] == pytest.approx(last_cosine_step(1e-3, 0.0, 9 * epoch_length), rel=1e-5)
    assert max(lrs) == pytest.approx(1e-3)


def test_a_linked_max_epochs_needs_no_scaling():
    cfg = load('university1652_drone2sat', max_epochs=4)
    fit_schedule_to_run(cfg)  # nothing to fit: max_epochs reached the schedule itself
    warmup, cosine = cfg.param_scheduler
    assert (warmup.end, cosine.begin, cosine.end) == (0.1, 0.1, 4)


def test_schedules_that_cannot_be_scaled_are_refused():
    cfg = Config(
        dict(
            train_cfg=dict(max_epochs=5),
            param_scheduler=[
                dict(type='MultiStepLR', by_epoch=True, milestones=[8, 11], begin=0, end=12)
            ],
        )
    )
    with pytest.raises(
        ValueError,
        match=r'param_scheduler\[0\] \(MultiStepLR\) was written '
        r'for 12 epochs but train_cfg.max_epochs=5',
    ):
        fit_schedule_to_run(cfg)


def test_opt_out_keeps_the_schedule():
    cfg = load('phase2')
    cfg.merge_from_dict({'train_cfg.max_epochs': 1, 'fit_schedule_to_run': False})
    fit_schedule_to_run(cfg)
    assert cfg.param_scheduler[1].end == 2


# ---------------------------------------------------------- epoch length (issue 14.1)
SWEEP = list(range(1, 51)) + [97, 1000]


@pytest.mark.parametrize(
    'name, epochs', [('university1652_drone2sat', 1), ('vigor_same_area', 40), ('phase1', 8)]
)
def test_warmup_reaches_the_peak_for_any_epoch_length(name, epochs):
    refused = []
    for epoch_length in SWEEP:
        cfg = load(name)
        assert cfg.train_cfg.max_epochs == epochs
        lr, floor = cfg.optim_wrapper.optimizer.lr, cfg.param_scheduler[1].eta_min
        try:
            lrs = run_lrs(cfg, epoch_length)
        except ValueError as e:
            assert 'needs at least 2 iterations' in str(e) and 'train_cfg.max_epochs' in str(e)
            refused.append(epoch_length)
            continue
        assert max(lrs) == pytest.approx(lr, rel=1e-6), epoch_length
        cosine = iteration_schedule(cfg.param_scheduler, epoch_length, len(lrs))
        steps = cosine[1]['end'] - cosine[1]['begin']
        assert lrs[-1] == pytest.approx(last_cosine_step(lr, floor, steps), rel=1e-5), epoch_length
        assert lrs[0] < lr  # it starts low and rises
        peak = lrs.index(max(lrs))
        assert all(a <= b for a, b in zip(lrs[:peak], lrs[1 : peak + 1]))  # rises to the peak
        assert all(a >= b for a, b in zip(lrs[peak:], lrs[peak + 1 :]))  # then only falls
    # only runs with fewer than 2 iterations per phase (warm-up + decay: 4) are refused
    assert refused == ([1, 2, 3] if epochs == 1 else [])


def test_mmengine_alone_never_warms_up_a_15_iteration_epoch():
    """The reported trap: 0.1 x 15 iterations -> a one-iteration warm-up that stays at
    lr x 1e-3, and the cosine decays from there."""
    cfg = load('university1652_drone2sat')
    lrs = lrs_of(cfg.param_scheduler, 1e-3, 15, mmengine_conversion=True, epoch_length=15)
    assert max(lrs) == pytest.approx(1e-6)
    fixed = run_lrs(load('university1652_drone2sat'), 15)
    assert max(fixed) == pytest.approx(1e-3) and fixed[:3] == pytest.approx([1e-6, 1e-3, 1e-3])


def test_iteration_schedule_keeps_other_schedulers():
    schedulers = [
        dict(type='LinearLR', by_epoch=False, begin=0, end=50, start_factor=0.1),
        dict(
            type='CosineAnnealingLR',
            by_epoch=True,
            begin=0,
            end=2,
            eta_min=5e-5,
            convert_to_iter_based=True,
        ),
    ]
    out = iteration_schedule(schedulers, epoch_length=100, max_iters=200)
    assert out[0] == schedulers[0]
    # T_max is mmengine's own (end - begin), so a whole-epoch schedule converts exactly as
    # mmengine converts it (the main job's numbers depend on it)
    assert out[1] == dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end=200, eta_min=5e-5)
    assert 'convert_to_iter_based' in schedulers[1]  # the input is not changed


def test_whole_epoch_schedules_convert_as_mmengine_converts_them():
    """Where mmengine's conversion has no trap (whole epochs), gleamkit's is the same lr
    curve, value for value: phase 2's main job trains exactly as before the conversion."""
    for epoch_length in (7, 231):
        cfg = load('phase2')
        ours = run_lrs(cfg, epoch_length)
        theirs = lrs_of(
            load('phase2').param_scheduler,
            1e-3,
            2 * epoch_length,
            mmengine_conversion=True,
            epoch_length=epoch_length,
        )
        assert ours == theirs, epoch_length


def test_an_iteration_warmup_longer_than_the_run_is_reported():
    cfg = load('phase2')  # LinearLR over 50 iterations
    schedule = iteration_schedule(cfg.param_scheduler, epoch_length=17, max_iters=34)
    lrs = lrs_of(schedule, 1e-3, 34)
    assert max(lrs) < 8e-4  # the ramp is cut off
    warnings = warn_unfinished_ramps(schedule, 34)
    assert warnings == [
        'param_scheduler[0] (LinearLR) ends at iteration 50 but the run has 34: '
        'it never reaches its end value (a warm-up never reaches the '
        'configured lr); set its end within the run, e.g. --cfg-options '
        'param_scheduler.0.end=3'
    ]
    assert warn_unfinished_ramps(iteration_schedule(cfg.param_scheduler, 231, 462), 462) == []
