"""Scene facts from rasters and the reference explanations written from them."""
import numpy as np
import pytest

from gleamkit.datasets.gleam_x.explanation_writer import ExplanationWriter, differences
from gleamkit.datasets.gleam_x.scene_facts import (
    ROOF_COLOURS,
    crop_rasters,
    layout_statistics,
    tile_facts,
)
from gleamkit.evaluation.explanation import parse_verdict

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
        cls[r0:r0 + 25, c0:c0 + 20] = BUILDING
        height[r0:r0 + 25, c0:c0 + 20] = h
        albedo[r0:r0 + 25, c0:c0 + 20] = ROOF_COLOURS[roof][0]
    yy, xx = np.mgrid[:n, :n]
    if lake:
        cls[(yy - 90) ** 2 + (xx - 160) ** 2 < 25 ** 2] = WATER
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
    assert sorted((j.kind, j.region) for j in facts.junctions) == [('T-junction', (2, 1)),
                                                                  ('crossroads', (0, 1))]
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
        cls[max(0, r - 4):r + 4, max(0, c - 4):c + 4] = ROAD
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
