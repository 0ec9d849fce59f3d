"""``tools/test.py CONFIG CKPT --show-dir DIR --show-num N`` on a miniature built-in world."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gleamkit.engine.hooks.retrieval_visualization_hook import sample_query_indices

ROOT = Path(__file__).resolve().parents[2]
LOADERS = ('test_dataloader', 'test_cfg.gallery_dataloader')
WORLD = dict(seed=1, num_locations=48, num_distractors=8, image_size=64, difficulty=0.3)


@pytest.mark.slow  # starts tools/test.py in a subprocess
def test_show_dir_writes_grids_heatmaps_and_curves(tmp_path):
    options = [f'{lo}.dataset.world.{k}={v}' for lo in LOADERS for k, v in WORLD.items()]
    options += [f'{lo}.dataset.cache_dir={tmp_path / "cache"}' for lo in LOADERS]
    options += [
        'test_dataloader.batch_size=16',
        'model.backbone.type=TimmBackbone',
        'model.backbone.model_name=resnet10t',
        'model.backbone.norm_eval=False',
        'model.head.embed_dim=32',
    ]
    show = tmp_path / 'show'
    cmd = [
        sys.executable,
        str(ROOT / 'tools' / 'test.py'),
        str(ROOT / 'configs' / 'gleam_c' / 'phase2.py'),
        'none',
        '--work-dir',
        str(tmp_path / 'work'),
        '--show-dir',
        str(show),
        '--show-num',
        '3',
        '--cfg-options',
        *options,
    ]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-4000:]

    summary = json.loads((show / 'visual_explanations.json').read_text())
    metrics = json.loads((tmp_path / 'work' / 'test_metrics.json').read_text())
    n_queries = int(metrics['retrieval/num_queries'])
    # the same N queries every run, spread over the test set (ordered by view)
    chosen = sample_query_indices(n_queries, 3)
    assert [q['sample_idx'] for q in summary['queries']] == chosen
    assert any(q['set_size'] == 3 for q in summary['queries'])  # a ground photo set
    import cv2

    for query in summary['queries']:
        stem = show / 'test' / f'query{query["sample_idx"]:05d}_{query["view"]}'
        grid = cv2.imread(f'{stem}_grid.png')
        assert grid is not None and grid.shape[0] > 100 and grid.shape[1] > 5 * 100
        assert len(query['top_scores']) == 5
        assert query['top_scores'] == sorted(query['top_scores'], reverse=True)
        assert cv2.imread(f'{stem}_heatmap_top1.png') is not None
        top1 = query['heatmap_top1']
        assert top1['exact'] and top1['method'] == 'avg'
        # the heat map's numbers sum back to the similarity it explains ...
        assert top1['decomposed_similarity'] == pytest.approx(top1['similarity'], abs=1e-5)
        # ... which is the score the model ranked the tile by (a ground photo set too)
        assert top1['similarity'] == pytest.approx(query['top_scores'][0], abs=1e-5)
        true_drawn = (stem.parent / f'{stem.name}_heatmap_true.png').exists()
        assert true_drawn == (query['top_ids'][0] != query['location_id'])

    curves = summary['curves']['test']
    assert (show / 'test' / 'recall_curves.png').exists()
    assert curves['ks'][0] == 1 and curves['ks'][-1] == int(metrics['retrieval/gallery_size'])
    # the curves count exactly as the retrieval metric does
    for view, recall in curves['recall'].items():
        prefix = 'retrieval/' if view == 'all' else f'retrieval/{view}/'
        for k in (1, 5, 10):
            assert recall[k - 1] == pytest.approx(metrics[f'{prefix}R@{k}'], abs=1e-9)
        assert np.all(np.diff(recall) >= 0) and recall[-1] == pytest.approx(100.0)
