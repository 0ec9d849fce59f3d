"""configs/gleam_c/phase2_fsdp.py (mmengine FlexibleRunner + FSDPStrategy) on 2 CPU
processes (gloo): it trains like DDP, validates, and writes an ordinary checkpoint."""

import json
import math
import sys

import pytest
import torch
from test_train_test_dist import run, tiny_options  # same folder

from gleamkit.utils.checkpoint import safe_load_checkpoint

pytestmark = pytest.mark.slow  # starts subprocesses / runs (see CONTRIBUTING.md)

# the same step under both strategies: no gradient clipping (FSDP would clip per shard)
COMMON = [
    'train_cfg.max_epochs=1',
    'train_cfg.val_interval=1',
    'optim_wrapper.clip_grad=None',
    'model.backbone.model_name=test_convnext',
]


def dist_train(config, work, opts, port):
    return run(
        [
            'bash',
            'tools/dist_train.sh',
            config,
            '2',
            '--work-dir',
            str(work),
            '--cfg-options',
            *opts,
            *COMMON,
            *(['strategy.model_wrapper.device_id=cpu'] if 'fsdp' in config else []),
        ],
        env_extra=dict(PYTHON=sys.executable, PORT=str(port)),
    )


@pytest.fixture(scope='module')
def runs(tmp_path_factory, free_port_factory):
    tmp = tmp_path_factory.mktemp('fsdp')
    opts = tiny_options(tmp / 'cache')
    out = {}
    for name in ('phase2', 'phase2_fsdp'):
        dist_train(f'configs/gleam_c/{name}.py', tmp / name, opts, free_port_factory())
        out[name] = tmp / name
    return tmp, opts, out


def params(path):
    state = safe_load_checkpoint(str(path))['state_dict']
    return {k: v for k, v in state.items() if 'running_' not in k and 'num_batches' not in k}


def val_metrics(work):
    (log,) = work.glob('*/vis_data/scalars.json')
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    return {k: v for k, v in rows[-1].items() if k.startswith('retrieval/')}


def test_fsdp_trains_like_ddp(runs):
    _, _, out = runs
    ddp, fsdp = params(out['phase2'] / 'epoch_1.pth'), params(out['phase2_fsdp'] / 'epoch_1.pth')
    assert ddp.keys() == fsdp.keys() and 'loss_module.logit_scale' in fsdp
    # the runs trained (the temperature left its initial value), so equality has teeth
    assert abs(fsdp['loss_module.logit_scale'].item() - math.log(1 / 0.07)) > 1e-4
    for key in ddp:
        assert ddp[key].shape == fsdp[key].shape, key
        assert torch.allclose(ddp[key].float(), fsdp[key].float(), atol=1e-4, rtol=1e-3), key


def test_fsdp_checkpoint_tests_in_one_process_with_the_validation_metrics(runs):
    tmp, opts, out = runs
    result = tmp / 'test.json'
    run(
        [
            sys.executable,
            'tools/test.py',
            'configs/gleam_c/phase2.py',
            str(out['phase2_fsdp'] / 'epoch_1.pth'),
            '--work-dir',
            str(tmp / 'test'),
            '--out',
            str(result),
            '--cfg-options',
            *opts,
            'model.backbone.model_name=test_convnext',
        ]
    )
    tested = json.loads(result.read_text())
    validated = val_metrics(out['phase2_fsdp'])
    assert validated['retrieval/num_queries'] == tested['retrieval/num_queries'] > 0
    for key, value in validated.items():
        assert tested[key] == pytest.approx(value, abs=1e-3), key
