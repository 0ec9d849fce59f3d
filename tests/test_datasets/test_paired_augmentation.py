import numpy as np
import pytest

from gleamkit.datasets.transforms import PairedRandomFlip, PairedRandomRotate90, ViewColorJitter

S = 16
RED = np.array([255, 0, 0], np.uint8)


def tile_with_red_to_the(side):
    """A satellite tile (north up) with a red patch on one side of the centre."""
    tile = np.zeros((S, S, 3), np.uint8)
    rows, cols = {
        'north': (slice(0, 3), slice(6, 10)),
        'east': (slice(6, 10), slice(13, 16)),
        'south': (slice(13, 16), slice(6, 10)),
        'west': (slice(6, 10), slice(0, 3)),
    }[side]
    tile[rows, cols] = RED
    return tile


def side_of_red(tile):
    ys, xs = np.nonzero((tile == RED).all(axis=2))
    dy, dx = ys.mean() - (S - 1) / 2, xs.mean() - (S - 1) / 2
    if abs(dy) > abs(dx):
        return 'north' if dy < 0 else 'south'
    return 'west' if dx < 0 else 'east'


def panorama_with_red_at(azimuth_deg, width=32):
    """North at the centre column, azimuth growing clockwise to the right."""
    pano = np.zeros((8, width, 3), np.uint8)
    col = int(round((azimuth_deg / 360.0 + 0.5) * width)) % width
    pano[:, col] = RED
    return pano


def azimuth_of_red(pano):
    col = np.nonzero((pano[0] == RED).all(axis=1))[0][0]
    return (col / pano.shape[1] - 0.5) * 360.0 % 360


@pytest.mark.parametrize('k,expected', [(1, 'north'), (2, 'west'), (3, 'south')])
def test_rotation_keeps_panorama_and_tile_consistent(k, expected):
    # the red object lies east of the camera: in the tile and in the panorama
    results = dict(
        view='panorama',
        reference_img=tile_with_red_to_the('east'),
        query_img=panorama_with_red_at(90),
    )
    out = PairedRandomRotate90.rotate(results, k)
    assert side_of_red(out['reference_img']) == expected
    direction = {'north': 0, 'east': 90, 'south': 180, 'west': 270}[expected]
    assert azimuth_of_red(out['query_img']) == pytest.approx(direction)


def test_rotation_turns_map_tiles_with_the_tile_and_leaves_drone_images():
    tile = tile_with_red_to_the('east')
    out = PairedRandomRotate90.rotate(
        dict(view='map', reference_img=tile.copy(), query_img=tile.copy()), 1
    )
    assert side_of_red(out['query_img']) == side_of_red(out['reference_img']) == 'north'
    drone = np.random.default_rng(0).integers(0, 255, (S, S, 3), dtype=np.uint8)
    out = PairedRandomRotate90.rotate(
        dict(view='uav', reference_img=tile.copy(), query_img=drone.copy()), 1
    )
    assert np.array_equal(out['query_img'], drone)
    with pytest.raises(ValueError, match='divisible by 4'):
        PairedRandomRotate90.rotate(
            dict(view='panorama', reference_img=tile, query_img=np.zeros((4, 30, 3), np.uint8)), 1
        )


def test_flip_mirrors_east_and_west_in_both_views():
    results = dict(
        view='panorama',
        reference_img=tile_with_red_to_the('east'),
        query_img=panorama_with_red_at(90),
    )
    out = PairedRandomFlip(prob=1.0)(results)
    assert side_of_red(out['reference_img']) == 'west'
    assert azimuth_of_red(out['query_img']) == pytest.approx(270, abs=360 / 32)
    untouched = PairedRandomFlip(prob=0.0)(dict(query_img=np.ones((2, 2, 3), np.uint8)))
    assert 'flipped' not in untouched


def test_color_jitter_changes_colour_not_geometry():
    np.random.seed(0)
    img = np.random.default_rng(1).integers(0, 255, (S, S, 3), dtype=np.uint8)
    out = ViewColorJitter(prob=1.0)(dict(query_img=img.copy()))['query_img']
    assert out.shape == img.shape and out.dtype == np.uint8
    assert not np.array_equal(out, img)
    # ranks of pixel brightness survive brightness/contrast changes
    corr = np.corrcoef(out.mean(axis=2).ravel(), img.mean(axis=2).ravel())[0, 1]
    assert corr > 0.9
    with pytest.raises(ValueError, match='brightness'):
        ViewColorJitter(brightness=1.5)


@pytest.mark.parametrize('k', [1, 2, 3])
def test_quarter_turn_rolls_the_panorama_by_exactly_k_quarters(k):
    rng = np.random.default_rng(k)
    pano = rng.integers(0, 255, (6, 40, 3), dtype=np.uint8)
    tile = rng.integers(0, 255, (S, S, 3), dtype=np.uint8)
    out = PairedRandomRotate90.rotate(
        dict(view='panorama', reference_img=tile.copy(), query_img=pano.copy()), k
    )
    # column c of the output shows azimuth column (c + k * W / 4) mod W of the input
    for col in range(40):
        assert np.array_equal(out['query_img'][:, col], pano[:, (col + k * 10) % 40])
    assert np.array_equal(out['reference_img'], np.rot90(tile, k))
    assert out['rotate90'] == k
    # rows, colours and the set of pixels are untouched: a pure horizontal shift
    assert out['query_img'].shape == pano.shape
    assert sorted(out['query_img'].ravel()) == sorted(pano.ravel())


def test_flip_mirrors_photo_sets_with_the_tile():
    photos = [np.arange(12, dtype=np.uint8).reshape(2, 2, 3) + 10 * i for i in range(3)]
    tile = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    out = PairedRandomFlip(prob=1.0)(
        dict(view='ground', query_img=[p.copy() for p in photos], reference_img=tile.copy())
    )
    for got, photo in zip(out['query_img'], photos):
        assert np.array_equal(got, photo[:, ::-1])
    assert np.array_equal(out['reference_img'], tile[:, ::-1])


@pytest.mark.parametrize(
    'turn,expected', [(1 / 3, (0, 255, 0)), (2 / 3, (0, 0, 255)), (0.0, (255, 0, 0))]
)
def test_hue_turns_red_round_the_colour_circle(turn, expected):
    red = np.zeros((2, 2, 3), np.uint8)
    red[...] = RED
    out = ViewColorJitter.shift_hue(red, turn)
    # OpenCV quantises the full circle to 256 steps: 1/3 turn = 85 steps (119.5 deg)
    assert np.abs(out.astype(int) - np.array(expected)).max() <= 8


def test_hue_off_draws_nothing_more_from_the_random_stream():
    img = np.random.default_rng(2).integers(0, 255, (S, S, 3), dtype=np.uint8)
    np.random.seed(3)
    ViewColorJitter(prob=1.0, keys=('query_img',))(dict(query_img=img.copy()))
    after = np.random.rand()
    np.random.seed(3)
    np.random.rand(), [np.random.uniform(-0.2, 0.2) for _ in range(3)]  # prob + b, c, s
    assert np.random.rand() == after
    with pytest.raises(ValueError, match='hue'):
        ViewColorJitter(hue=0.7)


def test_retired_query_imgs_key_is_refused():
    # image sets live in query_img now: a stale key must not make jitter a silent no-op
    with pytest.raises(ValueError, match='query_imgs.*query_img'):
        ViewColorJitter(keys=('query_imgs', 'reference_img'))
