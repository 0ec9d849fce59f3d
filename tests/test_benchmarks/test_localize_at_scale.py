"""benchmarks/localize_at_scale.py at a tiny size: its figures and the sampled stand-in."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


def load_benchmark():
    path = ROOT / 'benchmarks/localize_at_scale.py'
    spec = importlib.util.spec_from_file_location('localize_at_scale', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sampled_distractors_follow_the_real_mixture():
    bench = load_benchmark()
    rng = np.random.default_rng(0)
    centres = np.eye(16, dtype=np.float32)[:2]  # two clusters, 3:1
    real = np.concatenate(
        [
            centres[0] + 0.05 * rng.normal(size=(600, 16)),
            centres[1] + 0.05 * rng.normal(size=(200, 16)),
        ]
    ).astype(np.float32)
    real /= np.linalg.norm(real, axis=1, keepdims=True)
    sampled = bench.sample_like(real, 4000, clusters=2, seed=0)
    assert sampled.shape == (4000, 16)
    np.testing.assert_allclose(np.linalg.norm(sampled, axis=1), 1.0, atol=1e-5)
    near_first = (sampled @ centres.T).argmax(axis=1) == 0
    assert near_first.mean() == pytest.approx(0.75, abs=0.03)
    # the spread around each centre is the real one's
    real_cos = (real[:600] @ centres[0]).mean()
    assert (sampled[near_first] @ centres[0]).mean() == pytest.approx(real_cos, abs=0.01)


def test_contains_a_point_in_a_footprint():
    bench = load_benchmark()
    square = [[8.0, 47.0], [8.1, 47.0], [8.1, 47.1], [8.0, 47.1]]
    assert bench.contains(square, 47.05, 8.05) and bench.contains(square, 47.0, 8.05)
    assert not bench.contains(square, 47.2, 8.05)


@pytest.mark.slow
def test_tiny_run_reports_every_row(tmp_path):
    from mmengine.config import Config

    from gleamkit.apis import GeoLocalizer

    cfg = Config(
        dict(
            model=dict(
                type='CrossViewRetriever',
                backbone=dict(type='TimmBackbone', model_name='resnet10t', pretrained=False),
                head=dict(type='EmbeddingHead', embed_dim=16),
            )
        )
    )
    cfg.dump(str(tmp_path / 'tiny.py'))
    model = GeoLocalizer(cfg, device='cpu', input_sizes=dict(satellite=(32, 32))).model
    torch.save(dict(state_dict=model.state_dict()), tmp_path / 'model.pth')
    figures = load_benchmark().main(
        [
            '--config', str(tmp_path / 'tiny.py'),
            '--checkpoint', str(tmp_path / 'model.pth'),
            '--work-dir', str(tmp_path / 'work'),
            '--num-locations', '6', '--num-world-distractors', '0',
            '--real-worlds', '1', '--real-places', '6',
            '--distractors', '700', '--mixture', '2',
            '--index', 'IVF{nlist},PQ4', '--nprobe', '2', '--rerank', '10',
            '--ground-shots', '1', '--repeats', '1',
        ]
    )  # fmt: skip
    rows = figures['rows']
    real = figures['real_distractors']['count']
    assert real > 0 and figures['real_distractors']['embed_s_per_1k'] > 0
    names = [r['gallery'] for r in rows]
    assert names[:3] == [
        'region only',
        f'+ {real} real distractors',
        f'+ {real} sampled distractors',
    ]
    full = [r for r in rows if r['gallery'].endswith('sampled') and 'real +' in r['gallery']]
    assert [r['index'] for r in full][0] == 'Flat' and full[0]['size'] == rows[0]['size'] + 700
    approx = [r for r in full if r['index'] != 'Flat']
    assert [r['rerank'] for r in approx] == [0, 10]
    assert all(0 <= r['top1_agree'] <= 1 for r in approx)
    for r in rows:
        assert 0 <= r['uav_R1'] <= r['uav_R10'] <= 100
    assert [t['index'] for t in figures['localize']][0] == 'Flat'
    assert all(t['ms_batch1'] > 0 and t['ms_per_query_batched'] > 0 for t in figures['localize'])
