"""benchmarks/real_data_augmentation.py runs end to end on a tiny replica and prints its
table: a University-1652-layout folder rendered from the built-in world, the shipped
dataset and model bases, one short epoch with the training augmentation, and the
untrained model."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_augmentation_benchmark_on_a_tiny_replica(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    out_json = tmp_path / 'results.json'
    # 16 training places x 3 drone images = 48 pairs: 12 steps of 4 (the 0.1-epoch warm-up
    # needs 10); 6 test places x 2 queries against 6 + 4 distractor tiles
    cmd = [
        sys.executable,
        str(ROOT / 'benchmarks' / 'real_data_augmentation.py'),
        '--variants',
        'augmented,zero-shot',
        '--seeds',
        '0',
        '--epochs',
        '1',
        '--image-size',
        '32',
        '--batch-size',
        '4',
        '--places',
        '16',
        '6',
        '4',
        '--replica',
        str(tmp_path / 'University-Release'),
        '--save-json',
        str(out_json),
        '--model-base',
        'gleam_c_efficientnet_lite0_pooled',
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, text=True, capture_output=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith('| ')]
    assert rows[0] == '| model base | variant | seed | R@1 | R@5 | AP | train s |'
    assert [r.split(' | ')[1] for r in rows[1:]] == ['augmented', 'zero-shot']
    results = json.loads(out_json.read_text())
    for r in results:
        assert r['num_queries'] == 12 and r['gallery_size'] == 10
        assert 0 <= r['R@1'] <= r['R@5'] <= 100
    assert results[0]['train_s'] > 0 and results[1]['train_s'] == 0
    # the folder layout of the real release, read back by University1652Dataset
    replica = tmp_path / 'University-Release'
    assert len(list((replica / 'train' / 'drone').iterdir())) == 16
    assert len(list((replica / 'test' / 'gallery_satellite').iterdir())) == 10
    assert sorted(p.name for p in (replica / 'test' / 'query_drone').iterdir())[0].isdigit()
