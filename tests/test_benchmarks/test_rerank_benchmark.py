"""benchmarks/rerank.py runs end to end on a tiny world and prints a consistent table."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_rerank_benchmark_table():
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    args = ['--num-locations', '5', '--image-size', '32', '--rerank', '3', '--views', 'uav', 'map']
    out = subprocess.run(
        [sys.executable, str(ROOT / 'benchmarks' / 'rerank.py'), *args, '--fusion-weight', '0'],
        cwd=ROOT,
        env=env,
        text=True,
        capture_output=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [line for line in out.stdout.splitlines() if line.startswith('|')]
    header = [c.strip() for c in lines[0].strip('|').split('|')]
    assert header[:5] == ['view', 'queries', 'R@1 retrieval', 'R@1 rerank', 'R@K ceiling']
    rows = [
        dict(zip(header, (c.strip() for c in line.strip('|').split('|')))) for line in lines[2:]
    ]
    assert [r['view'] for r in rows] == ['uav', 'map']
    for r in rows:
        # weight 0: the fused score is the cosine, so re-ranking changes nothing
        assert r['R@1 rerank'] == r['R@1 retrieval']
        assert float(r['R@K ceiling']) >= float(r['R@1 retrieval'])
        assert 0 <= float(r['mean P(match) true']) <= 1 and float(r['ms/query verify']) > 0
