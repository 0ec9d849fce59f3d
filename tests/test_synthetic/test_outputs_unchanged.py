"""The simulator's and the captioner's outputs, pinned byte for byte.

The digests were recorded from the code before it left ``gleamkit/datasets/`` (issue 11):
moving the package, splitting the renderers into one file per view and writing the
explanations from per-language templates must not change one pixel, one camera value,
one cache key or one character. A change that means to alter an output bumps
``RENDER_VERSION`` (images) or ``FORMAT_VERSION`` (the GLEAM-X set) and updates these.
"""

import hashlib
import json
import os.path as osp
from dataclasses import replace

import numpy as np
import pytest

from gleamkit.synthetic import RENDER_VERSION, VIEWS, SyntheticWorld
from gleamkit.synthetic.cache import cache_path
from gleamkit.synthetic.captions import synthetic_explanations as SE
from gleamkit.synthetic.captions.explanation_writer import ExplanationWriter, differences
from gleamkit.synthetic.captions.scene_facts import ROOF_COLOURS, tile_facts
from gleamkit.synthetic.world.layout import BUILDING, MAJOR_ROAD, PARK, PITCH, ROAD, TRACK, WATER

# md5 of the stacked images and of the camera/lighting infos of locations 0-3 (and the
# distractors 8, 9 in the satellite view), canonical (None) and the draw rng_seed=2
RENDERED = {
    '0.1/satellite/None': ('aecf4c22776216a142d380580bb376c4', '0ec5704ecb6609cd749021d81283ee38'),
    '0.1/satellite/2': ('ecca2fd632608407476e76f1ab5ab950', '1ed07a5845150ea707da3f4c7f3c82f2'),
    '0.1/map/None': ('f189bce664ecd42c2f41cded02282b34', 'a2bea5f34408bf7b833b4795cdef9b7f'),
    '0.1/map/2': ('be5b03826dbb2540016e429e2e3ababa', 'a2bea5f34408bf7b833b4795cdef9b7f'),
    '0.1/uav/None': ('9ae7b0a188feee5e87102406814a0204', '4e53d2334fe2ea9bbbeba971c54c4646'),
    '0.1/uav/2': ('3d430fdeb4b00c9e514194e9dfd3c24f', '94f498f51a6c6e795fd7c14924e3ffda'),
    '0.1/panorama/None': ('65f7f16488cad27ae73ddcb0b2bc7851', '0ebfcf5751e2ab247267c07f2b7b445b'),
    '0.1/panorama/2': ('3d0a1005506010b4073a2195cfb2923c', '616bfe80501c427fff567d44b35fe180'),
    '0.1/ground/None': ('6db0f470c37177cdcfa30dd58f5b4956', '08e8da0d96417bf6a868e673764bb4c3'),
    '0.1/ground/2': ('21a0ae14188edc2c897bc8287b404bf4', '9378cfd71931fa189f462f1f5b848865'),
    '1.0/satellite/None': ('51f8c6e6831087ee99c83a81dfb61334', '305d4bea7715e6fd9cc0456a90556e7c'),
    '1.0/satellite/2': ('f53d24a1bf99a0b961db7aedadc620e1', 'ba3b4b7d1a714e4ac18693c565a81717'),
    '1.0/map/None': ('ad4956ec8fc767728b1b4fa63b5f2ce2', 'a2bea5f34408bf7b833b4795cdef9b7f'),
    '1.0/map/2': ('a615b46a9ff6075f9d0c5f581e43d952', 'a2bea5f34408bf7b833b4795cdef9b7f'),
    '1.0/uav/None': ('53fb9450babfd2da8001a5c8a4ef192c', '6af3956877931d894c0ce49afe62bf0b'),
    '1.0/uav/2': ('8fd4b8a905a093bee07da09f6045364a', '714c30b0b8dd1555b8e28001cee46a64'),
    '1.0/panorama/None': ('7e3e8642392a1b2e724c41a8fce0b266', '32e8af980d7da16c0f14fec085c33da2'),
    '1.0/panorama/2': ('1d3e5d1b50c53d53564faf1f4d9381a4', '0f5f7fa673aa87e142d8a107917ae0f1'),
    '1.0/ground/None': ('27ad690bfee7fa2a76f63f9e18eaf430', 'a2e71500bf0152120fc5694cafe35ff4'),
    '1.0/ground/2': ('a243117cb7abe8a128dd80da0430e8cd', '059cd6c8a7e69155f77fef3a3e03a7d3'),
}


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.mark.parametrize('difficulty', [0.1, 1.0])
def test_rendered_images_and_infos_are_unchanged(difficulty):
    world = SyntheticWorld(
        seed=5, num_locations=8, num_distractors=2, image_size=40, difficulty=difficulty
    )
    for view in VIEWS:
        for rng_seed in (None, 2):
            ids = [0, 1, 2, 3] + ([8, 9] if view == 'satellite' else [])
            rendered = [world.render_with_info(i, view, rng_seed=rng_seed) for i in ids]
            images = _md5(np.stack([img for img, _ in rendered]).tobytes())
            infos = _md5(
                json.dumps([info for _, info in rendered], sort_keys=True, default=repr).encode()
            )
            assert (images, infos) == RENDERED[f'{difficulty}/{view}/{rng_seed}'], (view, rng_seed)


def test_map_labels_are_unchanged():
    # street names and POIs are only drawn on maps of 96 px and more
    world = SyntheticWorld(
        seed=4, num_locations=6, num_distractors=0, image_size=128, difficulty=1.0
    )
    images = [world.render(i, 'map', rng_seed=r) for i in range(6) for r in (None, 0, 1)]
    assert _md5(np.stack(images).tobytes()) == '86b0d2f84062866c5e410891a5edddf6'


def test_render_cache_keys_are_unchanged():
    # the default training world (configs/_base_/datasets/synthetic_world.py): a new key
    # would re-render 4,300 places for every user
    world = dict(
        seed=0,
        num_locations=4000,
        num_distractors=300,
        image_size=64,
        difficulty=0.5,
        test_fraction=0.075,
    )
    assert RENDER_VERSION == 3
    assert osp.basename(cache_path(world, VIEWS, '/c')) == 'synthetic_v3_0f26dc70bb84dc73218f.npz'
    assert osp.basename(cache_path(None, VIEWS, '/c')) == 'synthetic_v3_b8a478a010cab1992fbe.npz'


@pytest.mark.slow
def test_explanations_are_unchanged_in_both_languages():
    """2,320 paragraphs (every view, matches and hard negatives, the writer's own choice
    of differences) plus the image descriptions, hashed per language."""
    world = SyntheticWorld(seed=2, num_locations=60, num_distractors=10, image_size=32)
    tile = world.tile_size_m
    facts = {p.location_id: SE._facts(world, p, tile) for p in world.locations}
    street = {
        p.location_id: SE._street_facts(world, p) for p in world.locations if not p.is_distractor
    }
    uav = {
        i: replace(
            facts[i], surroundings=SE._facts(world, world.locations[i], SE.UAV_SURROUNDINGS * tile)
        )
        for i in street
    }
    writer = ExplanationWriter(7)
    digests = {'en': hashlib.sha256(), 'zh': hashlib.sha256()}
    count = 0
    ids = sorted(street)
    for view in ('uav', 'map', 'panorama', 'ground', 'satellite'):
        view_facts = street if view in ('panorama', 'ground') else uav if view == 'uav' else facts
        for k, q in enumerate(ids):
            for s in (q, ids[(k + 7) % len(ids)], ids[(k + 23) % len(ids)], 60 + k % 10):
                for lang in ('en', 'zh'):
                    if s == q:
                        text = writer.explain(view_facts[q], facts[s], view, 1, lang)
                    else:
                        diffs = differences(view_facts[q], facts[s], view)
                        if not diffs:
                            continue
                        text = writer.explain(view_facts[q], facts[s], view, 0, lang, diffs=diffs)
                        text += writer.explain(view_facts[q], facts[s], view, 0, lang)
                        text += writer.explain(view_facts[q], facts[s], view, 1, lang)
                    digests[lang].update(text.encode())
                    count += 1
                for lang in ('en', 'zh'):
                    digests[lang].update(writer.describe_query(view_facts[q], view, lang).encode())
                    digests[lang].update(writer.describe_satellite(facts[s], lang).encode())
    assert count == 2320
    assert digests['en'].hexdigest() == (
        '99fa64d33f91ff62074bbf9256119dfb072b3a41a35fccaa1d933a0e4657202c'
    )
    assert digests['zh'].hexdigest() == (
        'd0bc1f93ba1a14219ccea0d5a7e10d673d4e53a563964f46571e94d5e4b69b24'
    )


def test_the_offline_gleam_x_set_is_unchanged(tmp_path):
    paths = SE.build_synthetic_set(
        str(tmp_path / 'set'),
        num_pairs=24,
        image_size=32,
        seed=1,
        world=dict(num_distractors=4),
        render_cache_dir=str(tmp_path / 'render'),
    )
    digests = {k: _md5(open(paths[k], 'rb').read()) for k in ('train', 'test')}
    assert digests == dict(
        train='40967a4fc3c2ec79d2b9a965f8b68b1f', test='69250ef6f84344ed2d4eb3e0bd6d5108'
    )


def _edge_tiles(n=200):
    """Tiles the small world lacks: nothing at all, a sports ground by a street, a river
    with a sports ground, a main road and a 60 m blue-roofed tower, two parks at a
    crossroads."""
    empty = np.zeros((n, n), np.uint8)
    tiles = [dict(cls=empty.copy(), resolution_m=1.0)]
    cls = empty.copy()
    cls[60:140, 50:150] = TRACK
    cls[75:125, 65:135] = PITCH
    cls[:, 10:18] = ROAD
    tiles.append(dict(cls=cls, resolution_m=1.0))
    cls = empty.copy()
    cls[:, 20:50] = WATER
    cls[120:190, 120:190] = PITCH
    cls[100:108, :] = MAJOR_ROAD
    height, albedo = np.zeros((n, n), np.float16), np.zeros((n, n, 3), np.uint8)
    cls[20:40, 120:140] = BUILDING
    height[20:40, 120:140] = 60
    albedo[20:40, 120:140] = ROOF_COLOURS[5][0]
    tiles.append(dict(cls=cls, height=height, albedo=albedo, resolution_m=1.0))
    cls = empty.copy()
    cls[0:90, 0:90] = PARK
    cls[110:200, 110:200] = PARK
    cls[95:103, :] = ROAD
    cls[:, 95:103] = ROAD
    tiles.append(dict(cls=cls, resolution_m=1.0))
    return [tile_facts(t) for t in tiles]


def test_explanations_of_rare_scenes_are_unchanged():
    """Every template of both languages is used here or in the test above: empty tiles,
    sports grounds, towers, and every difference forced onto every pair."""
    facts = _edge_tiles()
    writer = ExplanationWriter(3)
    digest = hashlib.sha256()
    keys = (
        'water',
        'park',
        'sports',
        'building_count',
        'height',
        'roofs',
        'road_orientation',
        'junctions',
        'main_road',
        'curved_road',
    )
    for view in ('uav', 'map', 'panorama', 'ground', 'satellite'):
        for a in facts:
            for b in facts:
                for lang in ('en', 'zh'):
                    digest.update(writer.explain(a, b, view, 1, lang).encode())
                    if differences(a, b, view):
                        digest.update(writer.explain(a, b, view, 0, lang).encode())
                    for key in keys:
                        if key == 'height' and not (a.buildings and b.buildings):
                            continue  # no dominant height to compare
                        digest.update(
                            writer.explain(
                                a, b, view, 0, lang, diffs=[key, 'sports', 'water']
                            ).encode()
                        )
    assert digest.hexdigest() == (
        '4dd5c405b1564ad59fd53b238f46576641a8c7b5f434865e9f84ca0974aca619'
    )
