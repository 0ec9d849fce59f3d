"""tools/test.py --index FACTORY --topk K: evaluation through a gallery index."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config

from gleamkit.index.topk_searcher import set_test_index

ROOT = Path(__file__).resolve().parents[2]
WORLD = dict(seed=1, num_locations=48, num_distractors=8, image_size=32, difficulty=0.3)
EVAL_ONLY = """from mmengine.config import read_base

with read_base():
    from gleamkit.configs._base_.datasets.synthetic_world import *
    from gleamkit.configs._base_.default_runtime import *
    from gleamkit.configs._base_.models.gleam_c_efficientnet_lite0 import *
"""


def tiny_options(cache_dir):
    opts = []
    for loader in ('test_dataloader', 'test_cfg.gallery_dataloader'):
        opts += [f'{loader}.dataset.world.{k}={v}' for k, v in WORLD.items()]
        opts.append(f'{loader}.dataset.cache_dir={cache_dir}')
    return opts + [
        'model.backbone.type=TimmBackbone',
        'model.backbone.model_name=resnet10t',
        'model.head.embed_dim=32',
        'test_dataloader.batch_size=7',
    ]


def run_test_tool(tmp_path, *extra):
    config = tmp_path / 'eval_only.py'
    config.write_text(EVAL_ONLY)
    out = tmp_path / f'metrics{len(extra)}.json'
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    cmd = ['tools/test.py', str(config), 'none', '--work-dir', str(tmp_path / 'work')]
    cmd += ['--out', str(out), *extra, '--cfg-options', *tiny_options(tmp_path / 'cache')]
    done = subprocess.run(
        [sys.executable, *cmd], cwd=ROOT, capture_output=True, text=True, timeout=600, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text()), done.stdout + done.stderr


@pytest.mark.slow
def test_index_flat_equals_the_full_ranking(tmp_path):
    full, _ = run_test_tool(tmp_path)
    flat, log = run_test_tool(tmp_path, '--index', 'Flat', '--topk', '20')
    assert "ranking: top 20 of 12 by index 'Flat' (exact); AP exact" in log
    assert flat == full
    no_ap, _ = run_test_tool(tmp_path, '--index', 'Flat', '--topk', '5', '--no-exact-ap')
    assert 'retrieval/AP' not in no_ap and no_ap['retrieval/R@5'] == full['retrieval/R@5']


def test_index_needs_a_retrieval_test_loop():
    cfg = Config(dict(test_cfg=dict(type='TestLoop')))
    with pytest.raises(ValueError, match='--index needs test_cfg = dict\\(type=RetrievalTestLoop'):
        set_test_index(cfg, 'Flat', 10)
    cfg = Config(dict(test_cfg=dict(type='RetrievalTestLoop', gallery_dataloader={})))
    set_test_index(cfg, 'IVF64,PQ8', 50, nprobe=4, exact_ap=False)
    assert cfg.test_cfg['index'] == dict(factory='IVF64,PQ8', topk=50, nprobe=4, exact_ap=False)
