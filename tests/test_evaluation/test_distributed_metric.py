"""CrossViewRetrievalMetric under torchrun (2 CPU ranks, gloo) equals one process.

Each rank processes the shard mmengine's ``DefaultSampler(shuffle=False)`` gives
it, padding included (13 samples on 2 ranks: rank 1 gets sample 0 again), and
``collect_results`` must drop the padding so that every sample counts once.
"""

import importlib.util
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gleamkit.evaluation import CrossViewRetrievalMetric

pytestmark = pytest.mark.slow  # starts subprocesses / runs (see CONTRIBUTING.md)

REPO = Path(__file__).resolve().parents[2]
NUM_SAMPLES = 13  # odd: DefaultSampler pads the last rank
WORLD_SIZE = 2

WORKER = textwrap.dedent('''
    """Worker: one rank of the distributed evaluation (also imported by the test)."""
    import json
    import os
    import sys

    import numpy as np
    import torch

    NUM_SAMPLES = int(os.environ.get('GK_NUM_SAMPLES', 13))
    VIEWS = ('uav', 'panorama', 'map')


    def make_samples(n=NUM_SAMPLES):
        rng = np.random.default_rng(1652)
        gallery = np.concatenate([np.arange(40), [-1, -1]])
        samples = []
        for i in range(n):
            loc = int(rng.integers(0, 40))
            ranking = rng.permutation(gallery)
            if i == 0:
                # sample 0 (the one padding repeats) is a clear R@1 hit: counting
                # it twice would change R@1, AP, the hit rate, num_queries
                ranking = np.concatenate([[loc], ranking[ranking != loc]])
            s = dict(view=VIEWS[i % 3], location_id=loc,
                     pred_ranked_ids=torch.from_numpy(ranking) if i % 2 else ranking)
            if s['view'] == 'panorama':
                s['semi_positive_ids'] = [(loc + 1) % 40, (loc + 2) % 40]
                s.update(lat=float(rng.uniform(-60, 60)), lon=float(rng.uniform(-180, 180)))
                s.update(pred_lat=s['lat'] + float(rng.normal(0, 0.002)),
                         pred_lon=s['lon'] + float(rng.normal(0, 0.002)))
            if i % 4 == 3:
                s['junk_ids'] = [int(ranking[0]) if ranking[0] != loc else 39]
            samples.append(s)
        return samples


    def to_data_sample(s):
        from gleamkit.structures.cross_view_data_sample import CrossViewDataSample
        ds = CrossViewDataSample()
        ds.set_metainfo({k: v for k, v in s.items() if not k.startswith('pred_')})
        for k in ('pred_ranked_ids', 'pred_lat', 'pred_lon'):
            if k in s:
                ds.set_field(s[k], k)
        return ds


    def run(indices, batch_size=2):
        from mmengine.evaluator import Evaluator
        from gleamkit.evaluation import CrossViewRetrievalMetric
        samples = make_samples()
        evaluator = Evaluator(CrossViewRetrievalMetric())
        for b in range(0, len(indices), batch_size):
            batch = [to_data_sample(samples[i]) for i in indices[b:b + batch_size]]
            evaluator.process(batch)
        return evaluator.evaluate(len(samples))


    def main(out_path):
        import torch.distributed as dist
        from mmengine.dataset import DefaultSampler
        from mmengine.dist import get_dist_info

        # mmengine's init_dist calls torch.cuda.set_device; CPU-only: init directly
        dist.init_process_group(backend='gloo')
        rank, world_size = get_dist_info()
        sampler = DefaultSampler(list(range(NUM_SAMPLES)), shuffle=False, round_up=True)
        indices = list(sampler)
        metrics = run(indices)
        shards = [None] * world_size
        dist.all_gather_object(shards, indices)
        if rank == 0:
            with open(out_path, 'w') as f:
                json.dump(dict(metrics=metrics, shards=shards), f)
        dist.barrier()
        dist.destroy_process_group()
        # Leave without C++ static destructors: about 1 run in 6 on the 2-core CI machine,
        # a rank aborted at interpreter exit ("terminate called without an active
        # exception", SIGABRT) after the metrics were written; torchrun then failed.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


    if __name__ == '__main__':
        main(sys.argv[1])
''')


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _load_worker(path):
    spec = importlib.util.spec_from_file_location('gk_dist_metric_worker', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_distributed_metric_equals_single_process(tmp_path):
    worker = tmp_path / 'dist_metric_worker.py'
    worker.write_text(WORKER)
    out = tmp_path / 'metrics.json'
    env = dict(
        os.environ,
        OMP_NUM_THREADS='1',
        GK_NUM_SAMPLES=str(NUM_SAMPLES),
        PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get('PYTHONPATH', '')]),
    )
    cmd = [
        sys.executable,
        '-m',
        'torch.distributed.run',
        f'--nproc_per_node={WORLD_SIZE}',
        '--nnodes=1',
        '--master_addr=127.0.0.1',
        f'--master_port={_free_port()}',
        str(worker),
        str(out),
    ]
    proc = subprocess.run(
        cmd, env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=110
    )
    assert proc.returncode == 0, f'torchrun failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}'
    result = json.loads(out.read_text())

    # the shards DefaultSampler gave: interleaved, last rank padded with sample 0
    assert result['shards'] == [[0, 2, 4, 6, 8, 10, 12], [1, 3, 5, 7, 9, 11, 0]]

    module = _load_worker(worker)
    single = module.run(list(range(NUM_SAMPLES)))
    distributed = result['metrics']
    assert distributed == single  # exact: same samples, same order after collection
    assert distributed['retrieval/num_queries'] == NUM_SAMPLES
    assert (
        sum(distributed[f'retrieval/{v}/num_queries'] for v in ('uav', 'panorama', 'map'))
        == NUM_SAMPLES
    )
    assert 'retrieval/hit_rate' in distributed and 'retrieval/median_error_m' in distributed

    # the padding really would have mattered: counting sample 0 twice changes R@1
    padded = module.run(list(range(NUM_SAMPLES)) + [0])
    assert padded['retrieval/R@1'] == single['retrieval/R@1']  # truncated to size
    m = CrossViewRetrievalMetric()
    m.process(None, [module.make_samples()[i] for i in list(range(NUM_SAMPLES)) + [0]])
    assert m.compute_metrics(m.results)['R@1'] != single['retrieval/R@1']
