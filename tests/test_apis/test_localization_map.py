"""The optional HTML map of tools/localize.py query --html-map (folium)."""

import importlib.util
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gleamkit.apis import LocalizationResult, RetrievedTile


def _tool_tests():
    path = Path(__file__).with_name('test_localize_tool.py')
    spec = importlib.util.spec_from_file_location('_localize_tool_tests', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# the gallery that tools/localize.py builds in the tool's own tests (same fixtures)
region, built, load_tool = _tool_tests().region, _tool_tests().built, _tool_tests().load_tool


def square(lat, lon, half=0.0007):
    return [
        [lon - half, lat - half],
        [lon + half, lat - half],
        [lon + half, lat + half],
        [lon - half, lat + half],
    ]


def results():
    tiles = [
        RetrievedTile(
            rank=1,
            tile_id='r3_c4',
            score=0.8123,
            lat=47.001,
            lon=8.002,
            footprint=square(47.001, 8.002),
            index=10,
        ),
        RetrievedTile(
            rank=2,
            tile_id='r9_c1',
            score=0.6011,
            lat=47.004,
            lon=8.009,
            footprint=square(47.004, 8.009),
            index=31,
        ),
    ]
    return [
        LocalizationResult(
            query='uav_3.png',
            view='uav',
            tiles=tiles,
            lat=47.0012,
            lon=8.0021,
            radius_m=75.0,
            true_lat=47.0009,
            true_lon=8.0018,
            error_m=40.2,
        ),
        LocalizationResult(
            query='ground_9', view='ground', tiles=tiles[::-1], lat=47.004, lon=8.009, radius_m=80.0
        ),
    ]


def test_map_holds_the_candidates_the_estimate_and_the_region_overlay(tmp_path):
    from gleamkit.visualization import write_localization_map

    background = (np.full((20, 30, 4), 200, np.uint8), (8.0, 8.01, 46.995, 47.006))
    out = write_localization_map(results(), str(tmp_path / 'map.html'), background=background)
    html = open(out, encoding='utf-8').read()
    for text in (
        'uav_3.png: rank 1, tile r3_c4, score 0.8123',
        'uav_3.png: rank 2, tile r9_c1, score 0.6011',
        'ground_9: rank 2, tile r9_c1, score 0.6011',
        'uav_3.png: estimate 47.001200, 8.002100 +- 75 m, error 40 m',
        'uav_3.png: truth 47.000900, 8.001800',
        'ground_9: estimate 47.004000, 8.009000 +- 80 m',
    ):
        assert text in html, text
    # both footprints as polygons, in (lat, lon) order, and the two layers
    polygons = [json.loads(m) for m in re.findall(r'L\.polygon\(\s*(\[\[.*?\]\]),', html)]
    sw_corners = sorted((round(p[0][0], 6), round(p[0][1], 6)) for p in polygons)
    assert sw_corners == [(47.0003, 8.0013)] * 2 + [(47.0033, 8.0083)] * 2
    assert '1: uav_3.png' in html and '2: ground_9' in html
    # the region's raster is embedded; no web base layer is fetched
    assert 'data:image/png;base64' in html
    assert not re.search(r'tile\.openstreetmap|\{z\}/\{x\}/\{y\}|tileLayer\(', html)


def test_missing_folium_says_how_to_install_it(monkeypatch, tmp_path):
    from gleamkit.visualization.localization_map import require_folium

    monkeypatch.setitem(sys.modules, 'folium', None)  # import folium -> ImportError
    with pytest.raises(ImportError, match=r'pip install folium'):
        require_folium()
    # the tool stops before loading the model or the gallery
    with pytest.raises(SystemExit, match=r'--html-map: .*pip install folium'):
        load_tool().main(
            [
                'query',
                '--gallery',
                str(tmp_path / 'none'),
                '--images',
                'a.png',
                '--out',
                str(tmp_path / 'out'),
                '--html-map',
            ]
        )


@pytest.mark.slow
def test_query_html_map_end_to_end(built):  # noqa: F811
    root, world = built
    queries = root / 'map_queries'
    queries.mkdir()
    Image.fromarray(world.render(2, 'uav')).save(queries / 'uav_2.png')
    out = root / 'map_out'
    load_tool().main(
        [
            'query',
            '--gallery',
            str(root / 'gallery'),
            '--images',
            str(queries / 'uav_2.png'),
            '--topk',
            '3',
            '--out',
            str(out),
            '--no-report',
            '--html-map',
            '--device',
            'cpu',
        ]
    )
    found = json.loads((out / 'results.json').read_text())['results'][0]
    html = (out / 'map.html').read_text(encoding='utf-8')
    for tile in found['tiles']:
        assert f'rank {tile["rank"]}, tile {tile["tile_id"]}, score {tile["score"]:.4f}' in html
    assert f'estimate {found["lat"]:.6f}, {found["lon"]:.6f}' in html
    assert 'data:image/png;base64' in html  # the region's GeoTIFF as the background
