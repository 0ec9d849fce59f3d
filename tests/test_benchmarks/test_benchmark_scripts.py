"""The benchmark scripts run end to end at tiny sizes and print their tables.

The scripts start together (each spawns its own fresh processes: most of
the time is Python start-up and imports, which overlap), one round each, one
torch thread per process.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMON = ['--repeats', '1', '--threads', '1']
SCRIPTS = {
    'runner_vs_plain_loop': [
        '--model',
        'resnet10t',
        '--image-size',
        '32',
        '--batch-size',
        '4',
        '--iters',
        '2',
        '--warmup',
        '1',
    ],
    'grad_cache_memory': [
        '--model',
        'test_convnext',
        '--image-size',
        '32',
        '--batch',
        '8',
        '--chunk',
        '2',
        '--small-batch',
        '2',
        '--embed-dim',
        '16',
        '--iters',
        '2',
        '--warmup',
        '1',
    ],
    'distributed_scaling': [
        '--model',
        'test_convnext',
        '--image-size',
        '32',
        '--batch-size',
        '4',
        '--embed-dim',
        '16',
        '--iters',
        '2',
        '--warmup',
        '1',
    ],
    'gallery_index': [
        '--num',
        '2000',
        '--dim',
        '32',
        '--centres',
        '40',
        '--queries',
        '50',
        '--indexes',
        'Flat',
        'HNSW16',
        'IVF{nlist},PQ8',
        '--nprobe',
        '4',
        '32',
        '--ef-search',
        '32',
        '--rerank',
        '20',
    ],
}


@pytest.fixture(scope='module')
def outputs():
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    procs = {
        name: subprocess.Popen(
            [sys.executable, str(ROOT / 'benchmarks' / f'{name}.py'), *args, *COMMON],
            cwd=ROOT,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name, args in SCRIPTS.items()
    }
    results = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, f'{name} failed\n{stdout[-3000:]}\n{stderr[-3000:]}'
        results[name] = stdout
    return results


def table(stdout):
    """The Markdown table of a script's output: header cells and rows of cells."""
    lines = [line for line in stdout.splitlines() if line.startswith('|')]
    cells = [[c.strip() for c in line.strip('|').split('|')] for line in lines]
    assert len(cells) >= 3 and set(''.join(cells[1])) == {'-'}, stdout
    return cells[0], [dict(zip(cells[0], row)) for row in cells[2:]]


@pytest.mark.slow
def test_runner_vs_plain_loop_table(outputs):
    header, rows = table(outputs['runner_vs_plain_loop'])
    assert header == [
        'variant',
        'images/s',
        'range',
        'vs baseline',
        'images/CPU-s',
        'vs baseline (CPU)',
        'waited %',
        'peak MiB',
        'rise MiB',
    ]
    assert [r['variant'] for r in rows] == ['plain', 'runner']
    assert rows[0]['vs baseline'] == rows[0]['vs baseline (CPU)'] == '1.000'
    for row in rows:
        assert float(row['images/s']) > 0 and float(row['images/CPU-s']) > 0
        assert float(row['peak MiB']) > 100  # a process with torch loaded
    text = outputs['runner_vs_plain_loop']
    assert 'framework cost (1 - runner / plain, paired by round):' in text


@pytest.mark.slow
def test_grad_cache_memory_table_and_sanity(outputs):
    stdout = outputs['grad_cache_memory']
    header, rows = table(stdout)
    assert header == [
        'variant',
        'pairs/step',
        'chunk',
        'images/s',
        'range',
        'vs large',
        'images/CPU-s',
        'waited %',
        'peak MiB',
        'rise MiB',
        'rise vs large',
    ]
    assert [(r['variant'], r['pairs/step'], r['chunk']) for r in rows] == [
        ('small', '2', '-'),
        ('large', '8', '-'),
        ('large+grad_cache', '8', '2'),
    ]
    assert rows[1]['vs large'] == '1.000' and rows[1]['rise vs large'] == '1.00'
    # same weights and data: the chunked step trains exactly like the unchunked one
    assert '-> equal' in stdout


@pytest.mark.slow
def test_distributed_scaling_table_and_sanity(outputs):
    stdout = outputs['distributed_scaling']
    header, rows = table(stdout)
    assert header == [
        'processes',
        'pairs/process',
        'threads/process',
        'images/s',
        'range',
        'speed-up',
        'efficiency',
        'images/CPU-s',
    ]
    assert [(r['processes'], r['pairs/process'], r['threads/process']) for r in rows] == [
        ('1', '4', '1'),
        ('2', '2', '1'),
    ]
    assert rows[0]['speed-up'] == '1.000'
    # the gathered loss over 2 processes is the loss of the whole batch, and so are the
    # DDP-averaged gradients
    assert '# sanity 1 vs 2 processes' in stdout and '-> equal' in stdout


@pytest.mark.slow
def test_gallery_index_table(outputs):
    stdout = outputs['gallery_index']
    header, rows = table(stdout)
    assert header == [
        'index',
        'param',
        'index MiB',
        'B/vector',
        'vs Flat mem',
        'RSS MiB',
        'build s',
        'ms @1',
        'ms @256',
        'speed-up @1',
        'speed-up @256',
        'top-1 agree',
        'top-10 agree',
    ]
    # nlist = ivf_nlist(2000) = 32: nprobe 4 and 32 (= every list), each also re-ranked
    assert [(r['index'], r['param']) for r in rows] == [
        ('Flat', '-'),
        ('HNSW16', 'efSearch=32'),
        ('IVF32,PQ8', 'nprobe=4'),
        ('IVF32,PQ8', 'nprobe=4 rerank=20'),
        ('IVF32,PQ8', 'nprobe=32'),
        ('IVF32,PQ8', 'nprobe=32 rerank=20'),
    ]
    flat, hnsw, ivf = rows[0], rows[1], rows[2:]
    # Flat is the exact reference: it agrees with itself; 4 bytes per dimension
    assert (flat['top-1 agree'], flat['top-10 agree'], flat['vs Flat mem']) == (
        '1.000',
        '1.000',
        '1.000',
    )
    assert float(flat['B/vector']) == 4 * 32
    assert float(hnsw['B/vector']) > 4 * 32  # vectors + graph links
    for row in ivf:
        assert float(row['B/vector']) < 4 * 32 and float(row['ms @1']) > 0
        assert 0 <= float(row['top-1 agree']) <= 1
    # visiting every list and re-ranking exactly from the stored vectors finds the exact top 1
    assert float(ivf[3]['top-1 agree']) >= 0.98
    assert "exact top-1 is the query's source tile for" in stdout


def test_runner_variant_switches_parse():
    import importlib.util

    sys.path.insert(0, str(ROOT / 'benchmarks'))
    try:
        spec = importlib.util.spec_from_file_location(
            'runner_vs_plain_loop', ROOT / 'benchmarks' / 'runner_vs_plain_loop.py'
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(ROOT / 'benchmarks'))
    base, switches, workers = module.parse_variant('runner+amp+frozen3+workers2')
    assert (base, workers, module.frozen_stages(switches)) == ('runner', 2, 3)
    assert module.frozen_stages(module.parse_variant('runner')[1]) == -1
    with pytest.raises(SystemExit, match='frozenN is a runner switch'):
        module.parse_variant('plain+frozen3')
    with pytest.raises(SystemExit, match='unknown switch'):
        module.parse_variant('runner+fast')
