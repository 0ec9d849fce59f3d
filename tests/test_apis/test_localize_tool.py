"""tools/localize.py build + query end to end: JSON, CSV and PNG reports."""

import csv
import importlib.util
import json
from pathlib import Path

import pytest
import torch
from PIL import Image
from pyproj import Geod

ROOT = Path(__file__).resolve().parents[2]


def load_tool():
    spec = importlib.util.spec_from_file_location('localize_tool', ROOT / 'tools/localize.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def region(tmp_path_factory):
    from mmengine.config import Config

    from gleamkit.apis import GeoLocalizer
    from gleamkit.synthetic import SyntheticWorld
    from gleamkit.synthetic.geotiff import export_geotiff

    root = tmp_path_factory.mktemp('localize_tool')
    world = SyntheticWorld(num_locations=30, num_distractors=0, image_size=32)
    export_geotiff(world, str(root / 'region.tif'))
    cfg = Config(
        dict(
            model=dict(
                type='CrossViewRetriever',
                backbone=dict(type='TimmBackbone', model_name='resnet10t', pretrained=False),
                head=dict(type='EmbeddingHead', embed_dim=32),
            ),
            world=dict(image_size=32),
        )
    )
    cfg.dump(str(root / 'tiny.py'))
    model = GeoLocalizer(cfg, device='cpu').model
    torch.save(dict(state_dict=model.state_dict()), root / 'model.pth')
    return root, world


@pytest.fixture(scope='module')
def built(region):
    root, world = region
    load_tool().main(
        [
            'build',
            '--config',
            str(root / 'tiny.py'),
            '--checkpoint',
            str(root / 'model.pth'),
            '--device',
            'cpu',
            '--source',
            str(root / 'region.tif'),
            '--tile-m',
            '150',
            '--stride-m',
            '75',
            '--out',
            str(root / 'gallery'),
            '--index',
            'HNSW32',
            '--shard-size',
            '100',
        ]
    )
    return root, world


def test_build_and_query_write_json_csv_and_reports(built, capsys):
    root, world = built
    tool = load_tool()
    manifest = json.loads((root / 'gallery/index/manifest.json').read_text())
    assert manifest['factory'] == 'HNSW32'

    queries = root / 'queries'
    (queries / 'ground_7').mkdir(parents=True)
    truth = [
        ('uav_2.png', world.locations[2]),
        ('uav_4.png', world.locations[4]),
        ('ground_7', world.locations[7]),
    ]
    Image.fromarray(world.render(2, 'uav')).save(queries / 'uav_2.png')
    Image.fromarray(world.render(4, 'uav')).save(queries / 'uav_4.png')
    for s in range(2):
        Image.fromarray(world.render(7, 'ground', rng_seed=s)).save(queries / f'ground_7/{s}.png')
    with open(root / 'truth.csv', 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['image', 'lat', 'lon'])
        for name, place in truth:
            writer.writerow([name, place.lat, place.lon])
    out = root / 'results'
    # config and checkpoint come from the gallery's gallery.json
    tool.main(
        [
            'query',
            '--gallery',
            str(root / 'gallery'),
            '--folder',
            str(queries),
            '--truth',
            str(root / 'truth.csv'),
            '--topk',
            '5',
            '--out',
            str(out),
            '--device',
            'cpu',
        ]
    )
    assert 'median error' in capsys.readouterr().out
    data = json.loads((out / 'results.json').read_text())
    assert data['summary']['queries'] == 3 and data['summary']['with_truth'] == 3
    results = data['results']
    assert [r['view'] for r in results] == ['ground', 'uav', 'uav']  # sorted folder entries
    geod = Geod(ellps='WGS84')
    places = {
        'ground_7': world.locations[7],
        'uav_2.png': world.locations[2],
        'uav_4.png': world.locations[4],
    }
    for r in results:
        place = places[
            Path(r['query'].split(' + ')[0]).name if 'ground' not in r['query'] else 'ground_7'
        ]
        assert (r['true_lat'], r['true_lon']) == (place.lat, place.lon)
        hand = geod.inv(r['lon'], r['lat'], place.lon, place.lat)[2]
        assert r['error_m'] == pytest.approx(hand, abs=1e-6)
        assert len(r['tiles']) == 5 and r['tiles'][0]['score'] >= r['tiles'][-1]['score']
    with open(out / 'results.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3
    assert float(rows[1]['error_m']) == pytest.approx(results[1]['error_m'], abs=0.06)
    for row in rows:
        png = out / row['report']
        with Image.open(png) as img:
            assert img.size[0] > 800 and img.size[1] > 400  # a readable page, not a thumbnail
    assert rows[0]['query'].count(' + ') == 1  # the ground set is one query
    page = (out / 'index.html').read_text()
    assert all(f'src="{row["report"]}"' in page for row in rows)


def test_query_errors_name_the_file(built, tmp_path):
    root, _ = built
    tool = load_tool()
    (tmp_path / 'truth.csv').write_text('image,lat\nx.png,1\n')
    with pytest.raises(SystemExit, match='expected columns image, lat, lon'):
        tool.main(
            [
                'query',
                '--gallery',
                str(root / 'gallery'),
                '--images',
                'x.png',
                '--truth',
                str(tmp_path / 'truth.csv'),
                '--out',
                str(tmp_path / 'o'),
                '--device',
                'cpu',
            ]
        )
    with pytest.raises(FileNotFoundError, match='x.png'):
        tool.main(
            [
                'query',
                '--gallery',
                str(root / 'gallery'),
                '--images',
                str(tmp_path / 'x.png'),
                '--out',
                str(tmp_path / 'o'),
                '--device',
                'cpu',
            ]
        )
    with pytest.raises(SystemExit, match='--gallery .*no_gallery: no such directory; build one'):
        tool.main(
            ['query', '--gallery', str(tmp_path / 'no_gallery'), '--images', 'x.png']
            + [
                '--out',
                str(tmp_path / 'o'),
            ]
        )


@pytest.mark.slow
def test_torchrun_build_shards_across_ranks_like_one_process(built, free_port):
    """Two CPU ranks (gloo) embed alternate shards into one folder; rank 0 builds the
    index; the merged embeddings equal a one-process build's."""
    import os
    import subprocess
    import sys

    import numpy as np

    from gleamkit.index import merge_embedding_shards

    root, _ = built
    common = [
        '--config',
        str(root / 'tiny.py'),
        '--checkpoint',
        str(root / 'model.pth'),
        '--device',
        'cpu',
        '--source',
        str(root / 'region.tif'),
        '--tile-m',
        '150',
        '--stride-m',
        '75',
        '--shard-size',
        '50',
        '--index',
        'Flat',
    ]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    out = subprocess.run(
        [
            sys.executable,
            '-m',
            'torch.distributed.run',
            '--nproc_per_node=2',
            f'--master_port={free_port}',
            str(ROOT / 'tools/localize.py'),
            'build',
            '--launcher',
            'pytorch',
            '--out',
            str(root / 'gallery_ddp'),
        ]
        + common,
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    load_tool().main(['build', '--out', str(root / 'gallery_one')] + common)
    ddp = merge_embedding_shards(root / 'gallery_ddp' / 'shards')
    one = merge_embedding_shards(root / 'gallery_one' / 'shards')
    assert len(ddp.shard_dirs) == len(one.shard_dirs) == -(-len(one.embeddings) // 50)
    assert list(ddp.metadata.columns['id']) == list(one.metadata.columns['id'])
    assert np.allclose(ddp.embeddings, one.embeddings, atol=1e-5)
    manifest = json.loads((root / 'gallery_ddp' / 'index' / 'manifest.json').read_text())
    assert manifest['count'] == len(one.embeddings)


def test_query_rerank_explain_prints_and_writes_verdicts(built, tmp_path, capsys):
    from gleamkit.models.explainers import build_tiny_qwen2_5_vl

    root, world = built
    torch.set_num_threads(1)
    model_dir = build_tiny_qwen2_5_vl(str(tmp_path / 'tiny'))
    (tmp_path / 'explainer.py').write_text(
        f"model = dict(type='HuggingFaceVLMExplainer', model_name_or_path={model_dir!r}, "
        'lora=None, generation=dict(max_new_tokens=4))\n'
    )
    Image.fromarray(world.render(3, 'uav')).save(tmp_path / 'uav_3.png')
    out = tmp_path / 'results'
    args = ['query', '--gallery', str(root / 'gallery'), '--images', str(tmp_path / 'uav_3.png')]
    args += ['--topk', '4', '--rerank', '2', '--explain', '--language', 'zh', '--no-report']
    args += ['--explainer', str(tmp_path / 'explainer.py'), '--fusion-weight', '0.25']
    load_tool().main(args + ['--out', str(out), '--device', 'cpu'])
    printed = capsys.readouterr().out
    assert 'verification ok' in printed and printed.count('P(match)') == 2
    (result,) = json.loads((out / 'results.json').read_text())['results']
    assert result['verification']['status'] == 'ok'
    assert result['verification']['fusion_weight'] == 0.25
    for tile in result['tiles'][:2]:
        assert 0 <= tile['p_match'] <= 1 and tile['verdict'] in ('match', 'no match')
        assert tile['fused_score'] == pytest.approx(
            0.75 * tile['score'] + 0.25 * (2 * tile['p_match'] - 1)
        )
    assert result['tiles'][2]['p_match'] is None
    with open(out / 'results.csv', newline='') as f:
        (row,) = list(csv.DictReader(f))
    assert row['verification'] == 'ok' and float(row['top1_p_match']) == pytest.approx(
        result['tiles'][0]['p_match'], abs=1e-4
    )
