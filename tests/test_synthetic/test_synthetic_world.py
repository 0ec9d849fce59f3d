"""The built-in synthetic world: determinism, geometry, cross-view consistency,
export, cache and CLI."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from gleamkit.synthetic import VIEWS, SyntheticWorld, haversine_m, load_or_render
from gleamkit.synthetic import cache as cache_mod
from gleamkit.synthetic import render as R
from gleamkit.synthetic.__main__ import main as cli_main
from gleamkit.synthetic.render import map as map_view
from gleamkit.synthetic.world import layout as L

ROOT = Path(__file__).resolve().parents[2]
KW = dict(seed=3, num_locations=20, num_distractors=4, image_size=64, difficulty=0.5)


@pytest.fixture(scope='module')
def world():
    return SyntheticWorld(**KW)


@pytest.fixture(scope='module')
def arrays(world):
    return world.render_all(VIEWS, progress=False)


# ------------------------------------------------------------------ locations


def test_locations_ids_splits(world):
    locs = world.locations
    assert len(locs) == 24
    assert [p.location_id for p in locs] == list(range(24))
    assert [p.is_distractor for p in locs] == [False] * 20 + [True] * 4
    assert locs[0]['lat'] == locs[0].lat  # dict-style access works too
    splits = [p.split for p in locs[:20]]
    assert splits.count('test') == 6 and splits.count('train') == 14  # test_fraction=0.3
    # spatially disjoint (cross-area): no training tile overlaps a test tile
    xs_train = [p.x for p in locs if p.split == 'train']
    xs_test = [p.x for p in locs if p.split == 'test']
    assert min(xs_test) - max(xs_train) >= world.tile_size_m
    assert world.split_ids('test') == [p.location_id for p in locs[:20] if p.split == 'test']


def test_gps_matches_metres(world):
    locs = world.locations
    for a, b in [(0, 1), (2, 17), (5, 23), (8, 12)]:
        pa, pb = locs[a], locs[b]
        metric = math.hypot(pa.x - pb.x, pa.y - pb.y)
        assert metric > 50
        gps = float(haversine_m(pa.lat, pa.lon, pb.lat, pb.lon))
        assert abs(gps - metric) / metric < 0.01
    lat = np.array([p.lat for p in locs])
    lon = np.array([p.lon for p in locs])
    assert np.all(np.abs(lat - 30.52) < 0.05) and np.all(np.abs(lon - 114.36) < 0.05)
    # a step of 100 m north is ~0.0009 degrees of latitude
    lat2, _ = world.projection.xy_to_latlon(0.0, 100.0)
    lat1, _ = world.projection.xy_to_latlon(0.0, 0.0)
    assert float(lat2 - lat1) == pytest.approx(100 / 111195, rel=1e-3)


def test_semi_positives_symmetric_and_contained(world):
    half = world.tile_size_m / 2
    total = 0
    for p in world.locations:
        semi = world.semi_positive_ids(p.location_id)
        assert p.location_id not in semi
        for j in semi:
            q = world.locations[j]
            assert abs(q.x - p.x) < half and abs(q.y - p.y) < half  # j's tile holds p's point
            assert p.location_id in world.semi_positive_ids(j)
            assert q.split == p.split
        # and nothing is missed
        others = [
            q.location_id
            for q in world.locations
            if q.location_id != p.location_id and abs(q.x - p.x) < half and abs(q.y - p.y) < half
        ]
        assert sorted(semi) == sorted(others)
        total += len(semi)
    assert total > 0


# ------------------------------------------------------------------ rendering


def test_shapes_dtypes_and_content(world, arrays):
    s = KW['image_size']
    for v in VIEWS:
        a = arrays[v]
        want = (24, s, 2 * s, 3) if v == 'panorama' else (24, s, s, 3)
        assert a.shape == want and a.dtype == np.uint8
        q = a[:20].reshape(20, -1).astype(np.float32)
        assert (q.std(axis=1) > 8).all(), v  # real content, not flat images
    # distractors: satellite only, query views are left black and render() refuses
    assert arrays['satellite'][20:].std() > 8
    for v in ('map', 'uav', 'panorama', 'ground'):
        assert not arrays[v][20:].any()
        with pytest.raises(ValueError, match='distractor'):
            world.render(21, v)
    assert world.render(21, 'satellite').shape == (s, s, 3)


def test_deterministic(world, arrays):
    again = SyntheticWorld(**KW)
    for v in VIEWS:
        for i in (0, 7):
            assert np.array_equal(again.render(i, v), arrays[v][i])
            assert np.array_equal(world.render(i, v, rng_seed=5), again.render(i, v, rng_seed=5))
        # another nuisance draw or another location is a different image
        assert not np.array_equal(world.render(0, v, rng_seed=1), arrays[v][0])
        assert not np.array_equal(arrays[v][0], arrays[v][1])
    other = SyntheticWorld(**dict(KW, seed=4))
    assert [p.x for p in other.locations] != [p.x for p in world.locations]
    assert not np.array_equal(other.render(0, 'satellite'), arrays['satellite'][0])


def test_render_all_subset_and_workers(world, arrays):
    ids = [3, 0, 22]
    sub = world.render_all(
        ('satellite', 'panorama'), location_ids=ids, num_workers=2, progress=False
    )
    for k, i in enumerate(ids):
        assert np.array_equal(sub['satellite'][k], arrays['satellite'][i])
        assert np.array_equal(sub['panorama'][k], arrays['panorama'][i])
    with pytest.raises(ValueError, match='unknown view'):
        world.render(0, 'sat')
    with pytest.raises(IndexError):
        world.render(24, 'satellite')


@pytest.mark.parametrize(
    'bad, err',
    [
        (dict(difficulty=1.5), 'difficulty'),
        (dict(num_locations=0), 'num_locations'),
        (dict(image_size=8), 'image_size'),
        (dict(test_fraction=1.0), 'test_fraction'),
    ],
)
def test_bad_world_arguments(bad, err):
    with pytest.raises(ValueError, match=err):
        SyntheticWorld(**dict(KW, **bad))


# ------------------------------------------------------------------ cross-view consistency


def _map_buildings(img):
    """Building pixels of a map tile: nearest map-palette colour (fill or outline), after
    fitting the tile's global brightness."""
    used = sorted(
        {
            L.GROUND,
            L.ROAD,
            L.MAJOR_ROAD,
            L.SIDEWALK,
            L.WATER,
            L.PARK,
            L.BUILDING,
            L.TREE,
            L.PLAZA,
            L.PARKING,
            L.PITCH,
            L.TRACK,
            L.BARE,
        }
    )
    pal = np.concatenate(
        [
            map_view._MAP[used],
            map_view._MAP_BUILDING_EDGE[None],
            map_view._MAP_ROAD_CASING[None],
            map_view._MAP_MAJOR_CASING[None],
        ]
    )
    is_b = np.array([u == L.BUILDING for u in used] + [True, False, False])
    x = img.reshape(-1, 3).astype(np.float32)
    best = None
    for scale in np.linspace(0.9, 1.04, 11):  # the map style jitters the brightness
        d = np.abs(x[:, None] - scale * pal[None]).sum(-1)
        k, err = d.argmin(1), d.min(1)
        if best is None or err.sum() < best[0]:
            best = (err.sum(), k, err)
    _, k, err = best
    # labels / POI icons match no palette colour: not buildings
    return (is_b[k] & (err < 36)).reshape(img.shape[:2])


def _iou(a, b):
    return (a & b).sum() / max(1, (a | b).sum())


def test_map_buildings_match_layout(world, arrays):
    ious, own_best = [], 0
    masks = [world.tile_layout(i, 'base_cls') == L.BUILDING for i in range(20)]
    for i in range(20):
        m = _map_buildings(arrays['map'][i])
        if masks[i].sum() < 30:
            continue
        ious.append(_iou(m, masks[i]))
        scores = [_iou(m, masks[j]) for j in range(20)]
        own_best += int(np.argmax(scores) == i)
    assert len(ious) >= 10
    assert np.mean(ious) > 0.8
    assert own_best >= 0.9 * len(ious)


def test_satellite_colours_follow_layout(world, arrays):
    """Vegetation is greener than roads, water bluer than land, roofs sit on buildings."""
    checked = 0
    for i in range(20):
        cls = world.tile_layout(i, 'cls')
        img = arrays['satellite'][i].astype(np.float32)
        green = img[..., 1] - 0.5 * (img[..., 0] + img[..., 2])
        veg = np.isin(cls, (L.TREE, L.PARK, L.GROUND))
        road = np.isin(cls, (L.ROAD, L.MAJOR_ROAD))
        if veg.sum() > 50 and road.sum() > 50:
            assert green[veg].mean() > green[road].mean() + 4, i
            checked += 1
    assert checked >= 8
    # a satellite tile is best explained by the layout under its own tile: the colour
    # spread inside the layout's classes is smallest when the classes partition the image
    hits = 0
    for i in range(20):
        img = arrays['satellite'][i].astype(np.float32)
        errs = []
        for j in range(20):
            cls = world.tile_layout(j, 'cls')
            e = 0.0
            for g in (
                (L.BUILDING,),
                (L.ROAD, L.MAJOR_ROAD),
                (L.TREE, L.PARK, L.GROUND),
                (L.WATER,),
                (L.SIDEWALK, L.PLAZA, L.PARKING, L.BARE, L.PITCH, L.TRACK),
            ):
                m = np.isin(cls, g)
                if m.any():
                    e += ((img[m] - img[m].mean(0)) ** 2).sum()
            errs.append(e)
        hits += int(np.argmin(errs) == i)
    assert hits >= 17


def test_satellite_shadows_point_away_from_the_sun():
    lay = _toy_layout()
    look = R.sample_look(np.random.default_rng(0), 0.0, 'satellite')
    look.sun_az, look.sun_el = 180.0, 40.0  # sun in the south: shadows fall north
    look.noise = 0.0
    img, _ = R.render_satellite(lay, 130.0, 130.0, 100, 100.0, np.random.default_rng(0), look, 0.0)
    g = img.astype(np.float32).mean(-1)
    # the tile spans x, y in [80, 180]: the building is columns 40..60, rows 40..60,
    # its shadow (30 m / tan 40 deg = 36 m) reaches ~36 rows north of it
    north = g[10:38, 42:58].mean()
    south = g[62:90, 42:58].mean()
    assert north < 0.8 * south


def test_panorama_is_north_aligned_and_sees_the_building():
    lay = _toy_layout()
    look = R.sample_look(np.random.default_rng(0), 0.0, 'panorama')
    s = 32
    az, tan_e = R.street_cameras(s, 'panorama')
    assert math.degrees(az[s]) == pytest.approx(0.0, abs=360 / (2 * s))  # centre = north
    assert math.degrees(az[3 * s // 2]) == pytest.approx(90.0, abs=360 / (2 * s))  # east
    # camera at (100, 130): the 30 m building spans x 120..140, y 120..140 -> due east
    img, dist = R.render_street(
        lay, 100.0, 130.0, 2.0, az, tan_e, np.random.default_rng(0), look, 0.0, cars=False
    )
    row = int(np.argmin(np.abs(np.degrees(np.arctan(tan_e[:, 0])) - 25)))
    east, west, north = 3 * s // 2, s // 2, s
    assert dist[row, east] < 45  # a facade 20-30 m away
    assert dist[row, west] > 1e3 and dist[row, north] > 1e3  # sky


def test_uav_camera_looks_at_the_location(world):
    for i in (0, 5, 9):
        img, info = world.render_with_info(i, 'uav')
        p = world.locations[i]
        assert 150 <= info['altitude_m'] <= 300
        tx, ty = info['target_xy']
        assert math.hypot(tx - p.x, ty - p.y) < 40
        cx, cy, cz = info['camera_xyz']
        assert cz == pytest.approx(info['altitude_m'])
        # the camera stands back from the target along the heading
        h = math.radians(info['heading_deg'])
        back = (tx - cx) * math.sin(h) + (ty - cy) * math.cos(h)
        assert back > 0
    _, pinfo = world.render_with_info(0, 'panorama')
    assert pinfo['camera_xy'] == pytest.approx(world.street_xy(0))
    sx, sy = world.street_xy(0)
    r, c = world.layout.to_rc(sx, sy)
    assert world.layout.base_cls[int(r), int(c)] in (L.ROAD, L.MAJOR_ROAD)


def _toy_layout():
    """200 x 200 m of grass with one 30 m tall, 20 x 20 m building at x, y in [120, 140]."""
    n = 200
    cls = np.full((n, n), L.GROUND, np.uint8)
    h = np.zeros((n, n), np.float32)
    r0, r1 = n - 140, n - 120  # rows for y in [120, 140]
    cls[r0:r1, 120:140] = L.BUILDING
    h[r0:r1, 120:140] = 30.0
    alb = np.full((n, n, 3), 150, np.uint8)
    wall = np.where(cls == L.BUILDING, 1, 0).astype(np.uint8)
    return L.Layout(
        resolution_m=1.0,
        width_m=n,
        height_m=n,
        cls=cls,
        height=h.astype(np.float16),
        albedo=alb,
        wall=wall,
        hmax_coarse=np.full((7, 7), 30.0, np.float32),
        coarse=32,
        base_cls=cls.copy(),
    )


# ------------------------------------------------------------------ export / cache / CLI


def test_export_layout_round_trip(world, arrays, tmp_path):
    out = tmp_path / 'exp'
    world.export(str(out), views=('satellite', 'panorama'), progress=False)
    lines = (out / 'annotations.jsonl').read_text().splitlines()
    assert len(lines) == 24
    recs = [json.loads(x) for x in lines]
    for rec in recs:
        i = rec['location_id']
        p = world.locations[i]
        assert rec['lat'] == pytest.approx(p.lat) and rec['split'] == p.split
        assert rec['is_distractor'] == p.is_distractor
        assert rec['semi_positive_ids'] == world.semi_positive_ids(i)
        want = ['satellite'] if p.is_distractor else ['satellite', 'panorama']
        assert sorted(rec['images']) == sorted(want)
        for v, rel in rec['images'].items():
            assert rel == f'{v}/{i}.png'
    img = cv2.imread(str(out / 'panorama' / '4.png'))[..., ::-1]
    assert np.array_equal(img, arrays['panorama'][4])
    assert not (out / 'panorama' / '21.png').exists()
    assert (out / 'README.md').read_text().startswith('# gleamkit synthetic world')
    assert (
        SyntheticWorld(
            **{
                k: v
                for k, v in json.loads((out / 'world.json').read_text()).items()
                if k not in ('views', 'ground_photos')
            }
        ).kwargs
        == world.kwargs
    )


def test_export_ground_photo_sets(world, arrays, tmp_path):
    out = tmp_path / 'sets'
    world.export(str(out), views=('ground',), progress=False, ground_photos=3)
    recs = [json.loads(x) for x in (out / 'annotations.jsonl').read_text().splitlines()]
    for rec in recs:
        i = rec['location_id']
        if world.locations[i].is_distractor:
            assert rec['images'] == {}
            continue
        assert rec['images']['ground_set'] == [
            f'ground/{i}.png',
            f'ground/{i}_1.png',
            f'ground/{i}_2.png',
        ]
    img = cv2.imread(str(out / 'ground' / '5_2.png'))[..., ::-1]
    assert np.array_equal(img, world.render(5, 'ground', rng_seed=1))
    img = cv2.imread(str(out / 'ground' / '5.png'))[..., ::-1]
    assert np.array_equal(img, arrays['ground'][5])
    assert json.loads((out / 'world.json').read_text())['ground_photos'] == 3
    with pytest.raises(ValueError, match='ground_photos must be >= 1'):
        world.export(str(out), views=('ground',), progress=False, ground_photos=0)


def test_cache_hit_and_corrupt_file(arrays, tmp_path, monkeypatch):
    views = ('satellite', 'map')
    w1, a1 = load_or_render(KW, views, cache_dir=str(tmp_path), progress=False)
    path = cache_mod.cache_path(KW, views, str(tmp_path))
    assert os.path.exists(path) and os.path.dirname(path) == str(tmp_path)
    assert np.array_equal(a1['map'], arrays['map'])
    assert [f for f in os.listdir(tmp_path) if f.startswith('.tmp')] == []

    def boom(*args, **kwargs):
        raise AssertionError('cache miss: render_all called')

    monkeypatch.setattr(SyntheticWorld, 'render_all', boom)
    w2, a2 = load_or_render(dict(KW), views, cache_dir=str(tmp_path))
    assert w2.kwargs == w1.kwargs
    for v in views:
        assert np.array_equal(a1[v], a2[v])
    monkeypatch.undo()
    # other arguments -> another file
    assert cache_mod.cache_path(dict(KW, seed=9), views, str(tmp_path)) != path
    assert cache_mod.cache_path(KW, ('satellite',), str(tmp_path)) != path
    # a corrupt file is re-rendered with a warning that names it
    Path(path).write_bytes(b'not an npz file')
    with pytest.warns(UserWarning, match=os.path.basename(path)):
        _, a3 = load_or_render(KW, views, cache_dir=str(tmp_path), progress=False)
    assert np.array_equal(a3['satellite'], a1['satellite'])
    _, a4 = load_or_render(KW, views, cache_dir=str(tmp_path))  # rewritten, valid
    assert np.array_equal(a4['map'], a1['map'])
    with pytest.raises(TypeError, match='unknown SyntheticWorld argument'):
        load_or_render(dict(KW, colour='red'), views, cache_dir=str(tmp_path))


def test_cache_dir_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv('GLEAMKIT_CACHE', str(tmp_path / 'c'))
    assert cache_mod.default_cache_dir() == str(tmp_path / 'c')
    assert cache_mod.cache_path(KW).startswith(str(tmp_path / 'c'))


@pytest.mark.slow
def test_cli_exports_and_previews(tmp_path):
    out, prev = tmp_path / 'w', tmp_path / 'p.png'
    cmd = [
        sys.executable,
        '-m',
        'gleamkit.synthetic',
        '--out',
        str(out),
        '--num-locations',
        '4',
        '--num-distractors',
        '1',
        '--image-size',
        '32',
        '--seed',
        '1',
        '--views',
        'satellite',
        'uav',
        '--preview',
        str(prev),
        '--no-progress',
    ]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert len((out / 'annotations.jsonl').read_text().splitlines()) == 5
    assert sorted(os.listdir(out / 'uav')) == [f'{i}.png' for i in range(4)]
    assert len(os.listdir(out / 'satellite')) == 5
    fig = cv2.imread(str(prev))
    assert fig is not None and fig.shape[1] > fig.shape[0] > 100


@pytest.mark.parametrize(
    'argv, message',
    [
        (['--preview', 'x.png', '--difficulty', '2'], 'must be in [0, 1]'),
        (['--preview', 'x.png', '--num-locations', '0'], 'must be >= 1'),
        (['--preview', 'x.png', '--image-size', 'big'], 'expected an integer'),
        (['--out', 'd', '--views', 'sat'], 'invalid choice'),
        (['--out', 'd', '--ground-photos', '0'], 'must be >= 1'),
        ([], 'nothing to do'),
        (['--preview', 'x.gif'], 'must end in .png'),
        (
            [
                '--preview',
                'x.png',
                '--num-locations',
                '3',
                '--num-distractors',
                '0',
                '--preview-locations',
                '7',
            ],
            'out of range',
        ),
    ],
)
def test_cli_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        cli_main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
