"""Scene facts from rasters and the reference explanations written from them."""

import json
import os.path as osp

import numpy as np
import pytest

from gleamkit.evaluation.explanation import parse_verdict
from gleamkit.synthetic.captions.explanation_writer import ExplanationWriter, differences
from gleamkit.synthetic.captions.scene_facts import (
    ROOF_COLOURS,
    crop_rasters,
    layout_statistics,
    tile_facts,
)

BUILDING, ROAD, MAJOR_ROAD, WATER, PARK = 6, 1, 2, 4, 5


def town(n=200, lake=True, park=True, towers=True):
    """A hand-drawn tile: a main road N-S through the centre, an E-W side street in the
    north (crossroads), a side street to the east in the south (T-junction), four
    buildings west of the main road (two 35-40 m towers with light grey roofs, two 8-9 m
    houses with terracotta roofs), a lake in the east, a park in the south-west."""
    cls = np.zeros((n, n), np.uint8)
    height = np.zeros((n, n), np.float16)
    albedo = np.zeros((n, n, 3), np.uint8)
    cls[:, 95:105] = MAJOR_ROAD
    cls[40:48, :] = ROAD
    cls[150:158, 100:] = ROAD
    blocks = [(60, 20, 40, 0), (60, 50, 35, 0), (110, 20, 9, 3), (110, 50, 8, 3)]
    if not towers:
        blocks = [(r, c, 8, 3) for r, c, _, _ in blocks]
    for r0, c0, h, roof in blocks:
        cls[r0 : r0 + 25, c0 : c0 + 20] = BUILDING
        height[r0 : r0 + 25, c0 : c0 + 20] = h
        albedo[r0 : r0 + 25, c0 : c0 + 20] = ROOF_COLOURS[roof][0]
    yy, xx = np.mgrid[:n, :n]
    if lake:
        cls[(yy - 90) ** 2 + (xx - 160) ** 2 < 25**2] = WATER
    if park:
        cls[165:200, 0:80] = PARK
    return dict(cls=cls, height=height, albedo=albedo, resolution_m=1.0)


def test_tile_facts_of_a_hand_drawn_tile():
    facts = tile_facts(town())
    main = [r for r in facts.roads if r.major]
    assert len(main) == 1 and main[0].orientation == 'N-S' and main[0].position == 'centre'
    assert not main[0].curved and 8 <= main[0].width_m <= 12
    side = sorted((r.orientation, r.position) for r in facts.roads if not r.major)
    assert side == [('E-W', 'north'), ('E-W', 'south')]
    assert sorted((j.kind, j.region) for j in facts.junctions) == [
        ('T-junction', (2, 1)),
        ('crossroads', (0, 1)),
    ]
    assert facts.num_buildings == 4
    assert facts.height_counts() == dict(low=2, mid=0, high=2)
    assert sorted(facts.roof_counts()) == [(0, 2), (3, 2)]  # light grey, terracotta
    assert [(w.kind, w.region) for w in facts.water] == [('lake', (1, 2))]
    assert [(g.kind, g.region) for g in facts.greens] == [('park', (2, 0))]


def test_curved_road_and_river():
    n = 200
    cls = np.zeros((n, n), np.uint8)
    t = np.linspace(0, 1, 400)
    rows, cols = (t * (n - 1)).astype(int), (100 + 60 * np.sin(t * np.pi)).astype(int)
    for r, c in zip(rows, cols):
        cls[max(0, r - 4) : r + 4, max(0, c - 4) : c + 4] = ROAD
    cls[:, 10:40] = WATER  # a river along the west edge, north to south
    facts = tile_facts(dict(cls=cls, resolution_m=1.0))
    assert len(facts.roads) == 1 and facts.roads[0].curved
    assert [(w.kind, w.orientation) for w in facts.water] == [('river', 'N-S')]


def test_crop_rasters_pads_outside_the_region():
    class Layout:
        resolution_m = 2.0
        cls = np.arange(100 * 100, dtype=np.int64).reshape(100, 100) % 7
        height = np.ones((100, 100), np.float16)
        height_m = 200.0

        def to_rc(self, x, y):
            return (self.height_m - y) / self.resolution_m, x / self.resolution_m

    crop = crop_rasters(Layout(), x=10.0, y=190.0, size_m=40.0)  # north-west corner
    assert crop['cls'].shape == (20, 20) and crop['resolution_m'] == 2.0
    # the crop centre (row 5, col 5 of the raster) sits at (10, 10) of the crop
    assert (crop['height'][:5, :] == 0).all() and (crop['height'][5:, 5:] == 1).all()
    np.testing.assert_array_equal(crop['cls'][5:, 5:], Layout.cls[:15, :15])


@pytest.mark.parametrize('view', ['uav', 'map', 'panorama', 'ground'])
@pytest.mark.parametrize('lang', ['en', 'zh'])
def test_explanations_end_with_the_right_verdict(view, lang):
    a, b = tile_facts(town()), tile_facts(town(lake=False, park=False, towers=False))
    writer = ExplanationWriter(seed=1)
    same = writer.explain(a, a, view, 1, lang)
    other = writer.explain(a, b, view, 0, lang)
    assert parse_verdict(same, lang=lang) == 1
    assert parse_verdict(other, lang=lang) == 0
    # paper style: image 1, image 2, comparison, verdict
    first, second = ('Image 1', 'Image 2') if lang == 'en' else ('图像1', '图像2')
    assert same.startswith(first) and second in same
    assert same.index(second) > same.index(first)


def test_explanation_content_follows_the_facts():
    a, b = tile_facts(town()), tile_facts(town(lake=False, park=False, towers=False))
    writer = ExplanationWriter(seed=0)
    en = writer.explain(a, a, 'map', 1, 'en')
    assert 'a wide main road running north-south through the centre' in en
    assert 'crossroads' in en and 'T-junction' in en
    assert 'four building footprints' in en  # the map shows footprints, not roofs
    assert 'a lake in the east' in en and 'a park in the south-west' in en
    assert 'light grey and terracotta roofs' in en  # the satellite image shows roofs
    zh = writer.explain(a, a, 'map', 1, 'zh')
    assert '南北向的宽阔的主干道从中部穿过' in zh and '东部有一片湖泊' in zh
    assert '十字路口' in zh and '丁字路口' in zh
    diffs = differences(a, b, 'uav')
    # same number of buildings and half of them low-rise in both: not differences
    assert diffs[:2] == ['water', 'park'] and 'building_count' not in diffs
    neg = writer.explain(a, b, 'uav', 0, 'en')
    assert 'image 1 shows a lake while image 2 shows no water' in neg
    assert 'These differences indicate' in neg or 'do not' in neg
    neg_zh = writer.explain(a, b, 'uav', 0, 'zh')
    assert '图像1中有湖泊，而图像2中没有水体' in neg_zh


def test_street_views_claim_only_what_they_show():
    a = tile_facts(town())
    text = ExplanationWriter(seed=0).explain(a, a, 'panorama', 1, 'en')
    query = text.split('Image 2')[0]
    assert 'north-south' not in query and 'roofs' not in query  # no layout, no roofs
    assert 'main road' in query
    with pytest.raises(ValueError, match='difference'):
        ExplanationWriter().explain(a, a, 'uav', 0, 'en')


def test_writer_is_deterministic():
    a, b = tile_facts(town()), tile_facts(town(lake=False))
    texts = [ExplanationWriter(seed=5).explain(a, b, 'uav', 0, 'en') for _ in range(2)]
    assert texts[0] == texts[1]


def test_layout_statistics_rank_similar_tiles_closer():
    a = layout_statistics(tile_facts(town()))
    near = layout_statistics(tile_facts(town(park=False)))
    far = layout_statistics(tile_facts(town(lake=False, park=False, towers=False)))
    assert np.linalg.norm(a - near) < np.linalg.norm(a - far)


# ----------------------------------------------------------------------------- the builder
class FakeLayout:
    """A 400 m x 400 m town: a road grid (one main road), buildings of mixed heights and
    roofs, a lake in the north-west, a park in the south-east."""

    resolution_m = 1.0

    def __init__(self, seed=0, n=400):
        rng = np.random.default_rng(seed)
        self.height_m = float(n)
        cls = np.zeros((n, n), np.uint8)
        height = np.zeros((n, n), np.float16)
        albedo = np.zeros((n, n, 3), np.uint8)
        for k, c in enumerate(range(30, n, 90)):
            cls[:, c : c + 8] = MAJOR_ROAD if k == 2 else ROAD
        for r in range(60, n, 110):
            cls[r : r + 8, :] = ROAD
        for _ in range(160):
            r, c = rng.integers(0, n - 20, 2)
            if (cls[r : r + 14, c : c + 14] == 0).all():
                cls[r : r + 14, c : c + 14] = BUILDING
                height[r : r + 14, c : c + 14] = rng.choice([6.0, 9.0, 18.0, 40.0])
                albedo[r : r + 14, c : c + 14] = ROOF_COLOURS[rng.integers(0, 10)][0]
        yy, xx = np.mgrid[:n, :n]
        cls[((yy - 80) ** 2 + (xx - 80) ** 2 < 35**2) & (cls == 0)] = WATER
        cls[290:380, 290:380][cls[290:380, 290:380] == 0] = PARK
        self.cls, self.height, self.albedo = cls, height, albedo
        self.wall = np.where(cls == BUILDING, 3, 0).astype(np.uint8)

    def to_rc(self, x, y):
        return (self.height_m - np.asarray(y)) / self.resolution_m, np.asarray(x)


class FakeWorld:
    tile_size_m = 100.0

    def __init__(self, seed=0, num_locations=24, image_size=8, **kwargs):
        self.layout = FakeLayout(seed)
        rng = np.random.default_rng(seed)
        self.locations = []
        for i in range(num_locations + 4):
            x, y = rng.uniform(50, 350, 2)
            self.locations.append(
                dict(
                    location_id=i,
                    x=x,
                    y=y,
                    lat=40 + y * 1e-5,
                    lon=116 + x * 1e-5,
                    split='train' if x < 230 else 'test',
                    is_distractor=i >= num_locations,
                )
            )
        self.image_size = image_size

    def semi_positive_ids(self, location_id):
        me = self.locations[location_id]
        return [
            loc['location_id']
            for loc in self.locations
            if loc['location_id'] != location_id
            and not loc['is_distractor']
            and abs(loc['x'] - me['x']) < 70
            and abs(loc['y'] - me['y']) < 70
        ]


@pytest.fixture
def fake_world(monkeypatch):
    import gleamkit.synthetic as synthetic

    calls = []

    def load_or_render(world_kwargs, views, cache_dir=None):
        calls.append(dict(world_kwargs))
        world = FakeWorld(**world_kwargs)
        images = {
            v: {
                loc['location_id']: np.full((8, 8, 3), loc['location_id'] * 5 + k, np.uint8)
                for loc in world.locations
            }
            for k, v in enumerate(views)
        }
        return world, images

    monkeypatch.setattr(synthetic, 'load_or_render', load_or_render, raising=False)
    return calls


def test_build_synthetic_set(fake_world, tmp_path):
    from gleamkit.datasets.gleam_x import build_synthetic_set, read_jsonl

    paths = build_synthetic_set(str(tmp_path / 'set'), num_pairs=40, image_size=8, seed=3)
    train, test = read_jsonl(paths['train']), read_jsonl(paths['test'])
    assert len(train) + len(test) == 40 and train and test
    manifest = json.loads(open(paths['manifest']).read())
    assert manifest['splits']['train']['pairs'] == len(train)
    world = FakeWorld(**fake_world[0])
    split = {loc['location_id']: loc['split'] for loc in world.locations}
    for name, records in (('train', train), ('test', test)):
        labels = [r.label_id for r in records]
        assert abs(sum(labels) - len(labels) / 2) <= 1  # balanced
        for r in records:
            q, s = r.meta['query_location_id'], r.meta['satellite_location_id']
            assert split[q] == name  # spatially disjoint splits
            assert (q == s) == (r.label == 'match')
            assert r.source == 'synthetic:gleamkit-world' and r.langs == ['en', 'zh']
            for lang in ('en', 'zh'):
                assert parse_verdict(r.explanation[lang], lang=lang) == r.label_id
            if r.label == 'no_match':
                assert r.meta['negative'] in ('semi_positive', 'similar_layout')
                assert r.meta['differences']
            assert (tmp_path / 'set' / r.query_image).is_file()
            assert r.query_image == f'images/{q:05d}_{r.query_view}.png'
    assert {r.query_view for r in train + test} == {'uav', 'map', 'panorama', 'ground'}
    kinds = {r.meta.get('negative') for r in train + test}
    assert {'semi_positive', 'similar_layout'} <= kinds
    # deterministic
    again = build_synthetic_set(str(tmp_path / 'again'), num_pairs=40, image_size=8, seed=3)
    assert open(again['train']).read() == open(paths['train']).read()


def test_dataset_builds_the_synthetic_set_once(fake_world, tmp_path):
    from gleamkit.datasets.gleam_x import GleamXDataset

    cfg = dict(
        synthetic=dict(split='test', num_pairs=24, image_size=8),
        cache_dir=str(tmp_path / 'cache'),
        lang='both',
    )
    ds = GleamXDataset(**cfg)
    assert len(fake_world) == 1 and len(ds) > 0
    assert {ds.get_data_info(i)['lang'] for i in range(len(ds))} == {'en', 'zh'}
    GleamXDataset(**dict(cfg, synthetic=dict(split='train', num_pairs=24, image_size=8)))
    assert len(fake_world) == 1  # cached: the train split came from the same build
    with pytest.raises(TypeError, match='unknown keys'):
        GleamXDataset(synthetic=dict(num_pair=3), cache_dir=str(tmp_path / 'cache'))


@pytest.mark.slow
def test_command_line(fake_world, tmp_path, capsys):
    import importlib.util
    from pathlib import Path

    path = (
        Path(__file__).resolve().parents[2]
        / 'tools'
        / 'dataset_converters'
        / 'build_gleam_x_synthetic.py'
    )
    spec = importlib.util.spec_from_file_location('build_gleam_x_synthetic', path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tmp_path / 'data' / 'gleam_x_synthetic'
    tool.main(
        ['--out', str(out), '--num-pairs', '16', '--image-size', '8', '--views', 'uav', 'map']
    )
    assert fake_world[-1]['image_size'] == 8
    printed = capsys.readouterr().out
    assert 'train:' in printed and 'test:' in printed
    from gleamkit.datasets.gleam_x import read_jsonl

    records = read_jsonl(str(out / 'train.jsonl')) + read_jsonl(str(out / 'test.jsonl'))
    assert len(records) == 16 and {r.query_view for r in records} == {'uav', 'map'}


def test_with_the_built_in_world(tmp_path):
    """The real SyntheticWorld, small: images exist with the view's shape, verdicts parse."""
    synthetic = pytest.importorskip('gleamkit.synthetic')
    if not hasattr(synthetic, 'SyntheticWorld'):
        pytest.skip('the built-in world is not available')
    from PIL import Image

    from gleamkit.datasets.gleam_x import ensure_synthetic_set, read_jsonl

    paths = ensure_synthetic_set(
        cache_dir=str(tmp_path / 'sets'),
        num_pairs=16,
        image_size=32,
        world=dict(num_distractors=4),
        render_cache_dir=str(tmp_path / 'render'),
    )
    records = read_jsonl(paths['train']) + read_jsonl(paths['test'])
    assert len(records) == 16
    assert sum(r.label == 'match' for r in records) == 8
    root = tmp_path / 'sets' / osp.basename(osp.dirname(paths['train']))
    for r in records:
        for lang in ('en', 'zh'):
            assert parse_verdict(r.explanation[lang], lang=lang) == r.label_id
        query = Image.open(root / r.query_image)
        assert query.size == ((64, 32) if r.query_view == 'panorama' else (32, 32))
        assert Image.open(root / r.satellite_image).size == (32, 32)
    # cached: a second call returns at once with the same files
    assert (
        ensure_synthetic_set(
            cache_dir=str(tmp_path / 'sets'),
            num_pairs=16,
            image_size=32,
            world=dict(num_distractors=4),
            render_cache_dir=str(tmp_path / 'render'),
        )
        == paths
    )


def test_colour_names_follow_the_world_palettes():
    from gleamkit.synthetic.captions.scene_facts import WALL_COLOURS
    from gleamkit.synthetic.world.layout import ROOF_PALETTE, WALL_PALETTE

    np.testing.assert_array_equal(np.array([c for c, _, _ in ROOF_COLOURS]), ROOF_PALETTE)
    np.testing.assert_array_equal(np.array([c for c, _, _ in WALL_COLOURS]), WALL_PALETTE)
