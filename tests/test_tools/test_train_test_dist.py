"""End to end through the command-line tools: train, resume, test, distributed test."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORLD = dict(seed=1, num_locations=48, num_distractors=8, image_size=32, difficulty=0.3)


def tiny_options(cache_dir):
    opts = []
    for loader in (
        'train_dataloader',
        'val_dataloader',
        'test_dataloader',
        'val_cfg.gallery_dataloader',
        'test_cfg.gallery_dataloader',
    ):
        for key, value in WORLD.items():
            opts.append(f'{loader}.dataset.world.{key}={value}')
        opts.append(f'{loader}.dataset.cache_dir={cache_dir}')
    opts += [
        'train_dataloader.batch_size=8',
        'train_dataloader.sampler.batch_size=8',
        # a small random encoder instead of the default's ImageNet EfficientNet-Lite0
        'model.backbone.type=TimmBackbone',
        'model.backbone.model_name=resnet10t',
        'model.backbone.norm_eval=False',
        'model.head.embed_dim=32',
        'val_dataloader.batch_size=7',
        'test_dataloader.batch_size=7',
        'default_hooks.logger.interval=1',
    ]
    return opts


def run(cmd, env_extra=None, timeout=600):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1', **(env_extra or {}))
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)
    assert out.returncode == 0, (
        f'{cmd}\n--- stdout\n{out.stdout[-3000:]}\n--- stderr\n{out.stderr[-3000:]}'
    )
    return out


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('tools')
    work = tmp / 'work'
    opts = tiny_options(tmp / 'cache')
    run(
        [
            sys.executable,
            'tools/train.py',
            'configs/gleam_c/phase2.py',
            '--work-dir',
            str(work),
            '--cfg-options',
            'train_cfg.max_epochs=1',
            'train_cfg.val_interval=1',
            *opts,
        ]
    )
    return tmp, work, opts


@pytest.mark.slow
def test_train_writes_checkpoints_and_validates(trained):
    _, work, _ = trained
    assert (work / 'epoch_1.pth').is_file()
    assert (work / 'last_checkpoint').read_text().strip().endswith('epoch_1.pth')
    logs = list(work.glob('*/vis_data/scalars.json'))
    assert logs and 'retrieval/R@1' in logs[0].read_text()


@pytest.mark.slow
def test_resume_continues_from_the_saved_epoch(trained):
    _, work, opts = trained
    out = run(
        [
            sys.executable,
            'tools/train.py',
            'configs/gleam_c/phase2.py',
            '--work-dir',
            str(work),
            '--resume',
            '--cfg-options',
            'train_cfg.max_epochs=2',
            'train_cfg.val_interval=2',
            *opts,
        ]
    )
    text = out.stdout + out.stderr
    assert 'resumed epoch: 1' in text
    assert (work / 'epoch_2.pth').is_file()


# two protocols in one test: the first the trained world's, the second another world's
TWO_PROTOCOLS = """
from mmengine.config import read_base

from gleamkit.engine import RetrievalTestLoop

with read_base():
    from gleamkit.configs.gleam_c.phase2 import *

test_cfg = dict(type=RetrievalTestLoop, protocols=[
    dict(name='seen', gallery_dataloader=gallery_dataloader),
    dict(name='other', dataloader=test_dataloader, gallery_dataloader=gallery_dataloader),
])
"""


def two_protocol_options(opts, cache_dir):
    """The tiny options, with the galleries and the second protocol's queries moved to
    their loop keys (the second protocol on a world of another seed)."""
    opts = [o for o in opts if not o.startswith('test_cfg.gallery_dataloader')]
    for loader, seed in (
        ('test_cfg.protocols.0.gallery_dataloader', WORLD['seed']),
        ('test_cfg.protocols.1.dataloader', 2),
        ('test_cfg.protocols.1.gallery_dataloader', 2),
    ):
        for key, value in dict(WORLD, seed=seed).items():
            opts.append(f'{loader}.dataset.world.{key}={value}')
        opts.append(f'{loader}.dataset.cache_dir={cache_dir}')
    return opts + ['test_cfg.protocols.1.dataloader.batch_size=7']


@pytest.mark.slow
def test_dist_test_matches_single_process(trained, free_port):
    """Two protocols, 2 processes vs 1: every metric of both equal (each gallery sharded
    over the ranks and gathered in dataset order, each query counted once)."""
    tmp, work, opts = trained
    ckpt = str(work / 'epoch_1.pth')
    config = tmp / 'two_protocols.py'
    config.write_text(TWO_PROTOCOLS)
    opts = two_protocol_options(opts, tmp / 'cache')
    single, dist = tmp / 'single.json', tmp / 'dist.json'
    out = run(
        [
            sys.executable,
            'tools/test.py',
            str(config),
            ckpt,
            '--work-dir',
            str(tmp / 'test1'),
            '--out',
            str(single),
            '--cfg-options',
            *opts,
        ]
    )
    text = out.stdout + out.stderr
    assert 'RetrievalTestLoop (seen): embedded 12 gallery images' in text
    assert 'RetrievalTestLoop (other): embedded 12 gallery images' in text
    run(
        [
            'bash',
            'tools/dist_test.sh',
            str(config),
            ckpt,
            '2',
            '--work-dir',
            str(tmp / 'test2'),
            '--out',
            str(dist),
            '--cfg-options',
            *opts,
        ],
        env_extra=dict(PYTHON=sys.executable, PORT=str(free_port)),
    )
    a, b = json.loads(single.read_text()), json.loads(dist.read_text())
    assert a.keys() == b.keys()
    # 4 views x 48 * test share of places: every query counted exactly once in both runs
    for name in ('seen', 'other'):
        assert a[f'{name}/num_queries'] == b[f'{name}/num_queries'] > 0
        assert f'{name}/R@1' in a and f'{name}/uav/R@1' in a
    assert not any(key.startswith('retrieval/') for key in a)
    # another world: other places, other tiles, other numbers
    assert a['seen/AP'] != a['other/AP']
    for key in a:
        assert a[key] == pytest.approx(b[key], abs=1e-6), key


def test_resume_checkpoint_survives_a_truncated_pointer(tmp_path):
    from gleamkit.utils.runtime import find_resume_checkpoint

    assert find_resume_checkpoint(str(tmp_path)) is None
    for name in ('epoch_2.pth', 'epoch_10.pth', 'best_retrieval_R@1_epoch_9.pth'):
        (tmp_path / name).write_bytes(b'x')
    (tmp_path / 'last_checkpoint').write_text('')  # killed while writing the pointer
    assert find_resume_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_10.pth')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_2.pth'))
    assert find_resume_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_2.pth')


@pytest.mark.slow
def test_load_from_a_checkpoint_that_does_not_fit_fails_clearly(trained):
    tmp, work, opts = trained
    opts = [o for o in opts if not o.startswith('model.head.embed_dim')]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    out = subprocess.run(
        [
            sys.executable,
            'tools/train.py',
            'configs/gleam_c/phase2.py',
            '--work-dir',
            str(tmp / 'mismatch'),
            '--load-from',
            str(work / 'epoch_1.pth'),
            '--cfg-options',
            'model.head.embed_dim=16',
            *opts,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert out.returncode != 0
    assert 'head.proj.weight: (32, 512) vs model (16, 512)' in out.stderr
