"""The gathered InfoNCE under DDP (2 CPU processes, gloo) has the gradients of the
single-process loss on the full batch."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tests' / 'dist_workers'))

from infonce_grad_worker import Encoder, make_batch  # noqa: E402

pytestmark = pytest.mark.slow  # starts subprocesses / runs (see CONTRIBUTING.md)


def test_gathered_loss_gradients_equal_full_batch(tmp_path, free_port):
    out = tmp_path / 'grads.pt'
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [
            sys.executable,
            '-m',
            'torch.distributed.run',
            '--nproc_per_node=2',
            f'--master_port={free_port}',
            str(ROOT / 'tests/dist_workers/infonce_grad_worker.py'),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    dist_grads = torch.load(out, weights_only=True)

    torch.manual_seed(0)
    model = Encoder()
    q, r = make_batch()
    model(q, r).backward()
    assert set(dist_grads) == {n for n, _ in model.named_parameters()}
    for name, p in model.named_parameters():
        assert torch.allclose(dist_grads[name], p.grad, atol=1e-5, rtol=1e-4), name
    # and the local (ungathered) loss would NOT match: the check has teeth
    torch.manual_seed(0)
    local = Encoder()
    local.loss.gather = False
    (local(q[:4], r[:4]) + local(q[4:], r[4:])).div(2).backward()
    assert not torch.allclose(local.net[0].weight.grad, model.net[0].weight.grad, atol=1e-5)
