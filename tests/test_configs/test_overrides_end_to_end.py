"""tools/train.py with the one-key overrides of docs/training_real_data.md ("Changing a
config"): the world shrinks everywhere from `world.*`, the run's length from `max_epochs`,
the batch from `batch_size`; the schedule warms up to its peak and ends on its floor in a
run of a few iterations per epoch; `num_workers=0` under `persistent_workers=True` runs."""

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # starts subprocesses / runs (see CONTRIBUTING.md)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('overrides')
    work = tmp / 'work'
    options = [
        # the whole world in five keys (before: 5 x 4 dataloaders)
        'world.seed=1',
        'world.num_locations=48',
        'world.num_distractors=8',
        'world.image_size=32',
        'world.difficulty=0.3',
        'batch_size=8',
        'max_epochs=2',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=True',
        'model.backbone.type=TimmBackbone',
        'model.backbone.model_name=resnet10t',
        'model.backbone.norm_eval=False',
        'model.head.embed_dim=32',
        'default_hooks.logger.interval=1',
    ]
    env = dict(
        os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1', GLEAMKIT_CACHE=str(tmp / 'cache')
    )
    run = subprocess.run(
        [
            sys.executable,
            'tools/train.py',
            'configs/gleam_c/phase1.py',
            '--work-dir',
            str(work),
            '--cfg-options',
            *options,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    text = run.stdout + run.stderr
    assert run.returncode == 0, text[-4000:]
    scalars = next(work.glob('*/vis_data/scalars.json')).read_text().splitlines()
    return text, [json.loads(line) for line in scalars]


def test_one_key_reaches_every_dataloader(trained):
    text, _ = trained
    line = next(line for line in text.splitlines() if 'linked: world.num_locations=48' in line)
    for loader in (
        'train_dataloader',
        'val_dataloader',
        'test_dataloader',
        'val_cfg.gallery_dataloader',
        'test_cfg.gallery_dataloader',
    ):
        assert f'{loader}.dataset.world.num_locations' in line
    # 48 places, 7.5% test places (4) -> the gallery holds 4 tiles + 8 distractors
    assert re.search(r'RetrievalValLoop: embedded 12 gallery images', text), text[-3000:]


def test_schedule_warms_up_and_ends_on_its_floor(trained):
    text, scalars = trained
    train = [s for s in scalars if 'loss' in s and 'lr' in s]
    lrs = [s['lr'] for s in train]
    per_epoch = len(train) // 2
    assert per_epoch >= 2 and len(train) == 2 * per_epoch
    assert f'param_scheduler in iterations ({per_epoch} per epoch, {2 * per_epoch} in all)' in text
    assert max(lrs) == pytest.approx(1e-3, rel=1e-4)  # the configured lr is reached
    assert lrs[0] == pytest.approx(1e-4, rel=1e-4)  # from 0.1 x lr
    # one cosine step above eta_min on the last iteration (the floor one step after the run,
    # as mmengine and transformers place it)
    steps = per_epoch  # phase 1's cosine runs over epoch 2 (after a one-epoch warm-up)
    last = 1e-5 + (1e-3 - 1e-5) * (1 + math.cos(math.pi * (steps - 1) / steps)) / 2
    assert lrs[-1] == pytest.approx(last, rel=1e-3)
    assert any('retrieval/R@1' in s for s in scalars)  # validated after epoch 2 (= max_epochs)
