"""tools/train.py and tools/test.py options: --resume with nothing to resume, --precision,
--checkpoint-every (resumed mid-epoch), and a test-only config in tools/test.py."""

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper, build_optim_wrapper

from gleamkit.engine.optimizers import (
    MixedPrecisionOptimWrapper,
    apply_precision,
    describe_precision,
)
from gleamkit.utils.checkpoint import safe_load_checkpoint

ROOT = Path(__file__).resolve().parents[2]
WORLD = dict(seed=1, num_locations=48, num_distractors=8, image_size=32, difficulty=0.3)
REAL_DATA_CONFIG = 'configs/gleam_c/university1652_drone2sat.py'  # sample4geo_adamw schedule


def tiny_options(cache_dir, train=True):
    opts = []
    loaders = ['test_dataloader', 'val_cfg.gallery_dataloader', 'test_cfg.gallery_dataloader']
    if train:
        loaders += ['train_dataloader', 'val_dataloader']
    for loader in loaders:
        for key, value in WORLD.items():
            opts.append(f'{loader}.dataset.world.{key}={value}')
        opts.append(f'{loader}.dataset.cache_dir={cache_dir}')
    opts += [
        'model.backbone.type=TimmBackbone',
        'model.backbone.model_name=resnet10t',
        'model.backbone.norm_eval=False',
        'model.head.embed_dim=32',
        'test_dataloader.batch_size=7',
        'default_hooks.logger.interval=1',
    ]
    if train:
        opts += [
            'train_dataloader.batch_size=8',
            'train_dataloader.sampler.batch_size=8',
            'val_dataloader.batch_size=7',
            'train_cfg.max_epochs=1',
            'train_cfg.val_interval=1',
        ]
    return opts


def run(cmd, expect_ok=True, timeout=600):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    out = subprocess.run(
        [sys.executable, *cmd], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env
    )
    if expect_ok:
        assert out.returncode == 0, f'{cmd}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}'
    return out


# --- --precision -----------------------------------------------------------------------


def _build(cfg):
    return build_optim_wrapper(torch.nn.Linear(4, 2), cfg.optim_wrapper)


def test_fp32_can_be_chosen_on_the_real_data_schedule():
    cfg = Config.fromfile(str(ROOT / REAL_DATA_CONFIG))
    assert isinstance(_build(cfg), MixedPrecisionOptimWrapper)  # the schedule's bf16/auto
    # the reported trap: switching the type by hand leaves `dtype` behind
    broken = Config.fromfile(str(ROOT / REAL_DATA_CONFIG))
    broken.merge_from_dict({'optim_wrapper.type': 'OptimWrapper'})
    with pytest.raises(TypeError, match='dtype'):
        _build(broken)
    apply_precision(cfg, 'fp32')
    wrapper = _build(cfg)
    assert type(wrapper) is OptimWrapper and 'dtype' not in cfg.optim_wrapper
    assert wrapper.clip_grad_kwargs == dict(clip_value=100.0)  # the rest of it is kept
    assert describe_precision(wrapper, torch.nn.Linear(4, 2)) == (
        'precision: fp32 (no autocast) on cpu, parameters float32'
    )
    assert 'mmengine.OptimWrapper' in cfg.pretty_text  # still printable: logged and dumped


def test_bf16_can_be_chosen_on_a_plain_config():
    cfg = Config.fromfile(str(ROOT / 'configs/gleam_c/phase2.py'))
    assert type(_build(cfg)) is OptimWrapper
    apply_precision(cfg, 'bf16')
    wrapper = _build(cfg)
    assert isinstance(wrapper, MixedPrecisionOptimWrapper)
    assert wrapper.cast_dtype == torch.bfloat16 and wrapper.scaler is None
    assert describe_precision(wrapper, torch.nn.Linear(4, 2)) == (
        'precision: bfloat16 autocast (mixed precision) on cpu, parameters float32'
    )
    apply_precision(cfg, 'auto')
    assert _build(cfg).cast_dtype == (
        torch.bfloat16
        if not torch.cuda.is_available() or torch.cuda.is_bf16_supported()
        else torch.float16
    )
    with pytest.raises(ValueError, match="--precision 'fp64'"):
        apply_precision(cfg, 'fp64')
    if not torch.cuda.is_available():
        apply_precision(cfg, 'fp16')
        with pytest.raises(ValueError, match='float16 autocast needs a CUDA device'):
            _build(cfg)


@pytest.mark.slow
def test_amp_is_an_alias_of_precision_auto(monkeypatch):
    spec = importlib.util.spec_from_file_location('train_tool', ROOT / 'tools' / 'train.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for argv, expected in ((['--amp'], 'auto'), (['--precision', 'fp32'], 'fp32'), ([], None)):
        monkeypatch.setattr(sys, 'argv', ['train.py', 'cfg.py', *argv])
        assert module.parse_args().precision == expected


# --- --resume with nothing to resume -----------------------------------------------------


@pytest.mark.slow
def test_resume_in_an_empty_work_dir_stops_and_says_what_to_do(tmp_path):
    work = tmp_path / 'work'
    out = run(
        [
            'tools/train.py',
            'configs/gleam_c/phase2.py',
            '--work-dir',
            str(work),
            '--resume',
            '--cfg-options',
            *tiny_options(tmp_path / 'cache'),
        ],
        expect_ok=False,
        timeout=300,
    )
    assert out.returncode != 0
    assert 'NoCheckpointToResumeError' in out.stderr
    assert f'nothing to resume in work dir {str(work)!r}' in out.stderr
    assert 'drop --resume' in out.stderr
    assert 'Auto resumed from the latest checkpoint None' not in out.stdout + out.stderr
    assert not list(work.glob('*.pth'))  # nothing was trained


# --- --checkpoint-every, resumed in the middle of an epoch --------------------------------


@pytest.mark.slow
def test_iteration_checkpoint_resumes_mid_epoch_to_the_same_weights(tmp_path):
    opts = tiny_options(tmp_path / 'cache')
    full = tmp_path / 'full'
    out = run(
        [
            'tools/train.py',
            'configs/gleam_c/phase2.py',
            '--work-dir',
            str(full),
            '--precision',
            'bf16',
            '--checkpoint-every',
            '10',
            '--cfg-options',
            *opts,
        ]
    )
    # which precision ran, from the built wrapper and the placed model
    assert (
        'precision: bfloat16 autocast (mixed precision) on cpu, parameters float32'
        in out.stdout + out.stderr
    )
    total = safe_load_checkpoint(full / 'epoch_1.pth')['meta']['iter']
    assert total == 22  # 48 places x 4 views / batch 8 / ... (ViewBalancedSampler 'mean')
    assert sorted(p.name for p in full.glob('iter_*.pth')) == ['iter_10.pth', 'iter_20.pth']
    # "killed" after iteration 10: a fresh work dir holding only what existed then
    resumed = tmp_path / 'resumed'
    resumed.mkdir()
    shutil.copy(full / 'iter_10.pth', resumed / 'iter_10.pth')
    out = run(
        [
            'tools/train.py',
            'configs/gleam_c/phase2.py',
            '--work-dir',
            str(resumed),
            '--precision',
            'bf16',
            '--checkpoint-every',
            '10',
            '--resume',
            '--cfg-options',
            *opts,
        ]
    )
    assert 'skipping its first 10 of 22 batches' in out.stdout + out.stderr
    a = safe_load_checkpoint(full / 'epoch_1.pth')
    b = safe_load_checkpoint(resumed / 'epoch_1.pth')
    assert b['meta']['iter'] == a['meta']['iter'] == total
    # same batches, same order, same augmentation: bit-identical weights
    assert a['state_dict'].keys() == b['state_dict'].keys()
    for key in a['state_dict']:
        assert torch.equal(a['state_dict'][key], b['state_dict'][key]), key


# --- a test-only config ------------------------------------------------------------------

# a dataset (with its evaluation loops), a runtime and a model: no schedule, no optimiser
EVAL_ONLY = """from mmengine.config import read_base

with read_base():
    from gleamkit.configs._base_.datasets.synthetic_world import *
    from gleamkit.configs._base_.default_runtime import *
    from gleamkit.configs._base_.models.gleam_c_efficientnet_lite0 import *
"""


@pytest.mark.slow
def test_test_only_config_needs_no_training_pieces(tmp_path):
    # written here: tests/test_tools/data/ is git-ignored (.gitignore: data/)
    config = tmp_path / 'eval_only_synthetic.py'
    config.write_text(EVAL_ONLY)
    config = str(config)
    cfg = Config.fromfile(config)
    assert 'train_dataloader' in cfg and 'train_cfg' not in cfg and 'optim_wrapper' not in cfg
    out_json = tmp_path / 'metrics.json'
    run(
        [
            'tools/test.py',
            config,
            'none',
            '--work-dir',
            str(tmp_path / 'work'),
            '--out',
            str(out_json),
            '--cfg-options',
            *tiny_options(tmp_path / 'cache', train=False),
        ]
    )
    import json

    metrics = json.loads(out_json.read_text())
    assert metrics['retrieval/num_queries'] > 0 and 0 <= metrics['retrieval/R@1'] <= 100
