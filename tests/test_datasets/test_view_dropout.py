import numpy as np
import pytest

from gleamkit.datasets.transforms import ViewDropout, coarse_dropout, grid_dropout


def test_grid_dropout_hand_computed():
    img = np.full((20, 20, 3), 7, np.uint8)
    # 10 cells of 2 px per side, holes of int(2 * 0.5) = 1 px at each cell's corner
    out = grid_dropout(img, ratio=0.5, units=10)
    dropped = (out == 0).all(axis=2)
    expected = np.zeros((20, 20), bool)
    expected[0::2, 0::2] = True
    assert np.array_equal(dropped, expected)
    assert (out[~dropped] == 7).all() and (img == 7).all()  # the input is left alone
    # 384 px tile, Sample4Geo's ratio 0.4: cells of 38 px, holes of 15 px, 11 x 11 cells
    # (the 11th row / column of cells starts at 380 and is cut to 4 px)
    big = grid_dropout(np.ones((384, 384), np.uint8), ratio=0.4, units=10)
    assert (big == 0).sum() == (10 * 15 + 4) ** 2
    # shifted grid: cells of 2 px, 1 px holes one row and one column in
    out = grid_dropout(np.ones((4, 4), np.uint8), ratio=0.5, units=2, offset=(1, 1))
    assert np.array_equal(
        out == 0, np.array([[0, 0, 0, 0], [0, 1, 0, 1], [0, 0, 0, 0], [0, 1, 0, 1]], bool)
    )


def test_coarse_dropout_hand_computed():
    out = coarse_dropout(np.ones((6, 8), np.uint8), [(1, 2, 2, 3), (4, 0, 1, 1)], fill=5)
    expected = np.ones((6, 8), np.uint8)
    expected[1:3, 2:5] = 5
    expected[4, 0] = 5
    assert np.array_equal(out, expected)


def test_view_dropout_draws_boxes_within_the_configured_sizes():
    np.random.seed(0)
    img = np.full((16, 32, 3), 9, np.uint8)
    t = ViewDropout(prob=1.0, modes='coarse', holes=(1, 1), hole_size=(0.25, 0.25))
    for _ in range(20):
        out = t(dict(query_img=img.copy()))['query_img']
        ys, xs = np.nonzero((out == 0).all(axis=2))
        # one 4 x 4 box (a quarter of the height on both sides), inside the image
        assert len(ys) == 16 and np.ptp(ys) == 3 and np.ptp(xs) == 3
    counts = []
    t = ViewDropout(prob=1.0, modes='coarse', holes=(10, 25), hole_size=(0.1, 0.2))
    for _ in range(50):
        out = t(dict(reference_img=np.ones((100, 100), np.uint8)))['reference_img']
        counts.append((out == 0).mean())
    # 10-25 boxes of 10-20 px sides, overlapping: between 1 box (1 %) and 25 x 4 %
    assert 0.01 <= min(counts) and max(counts) <= 1.0 and 0.1 < np.mean(counts) < 0.6


def test_view_dropout_probability_keys_and_sets():
    np.random.seed(1)
    # 40 px: grid cells of 4 px, holes of int(4 * 0.4) = 1 px
    img = np.ones((40, 40, 3), np.uint8)
    never = ViewDropout(prob=0.0)(dict(query_img=img.copy(), reference_img=img.copy()))
    assert (never['query_img'] == 1).all() and (never['reference_img'] == 1).all()
    only_tile = ViewDropout(prob=1.0, modes='grid', keys=('reference_img',))(
        dict(query_img=img.copy(), reference_img=img.copy())
    )
    assert (only_tile['query_img'] == 1).all() and (only_tile['reference_img'] == 0).any()
    photos = ViewDropout(prob=1.0, modes='grid', keys=('query_img',))(
        dict(query_img=[img.copy(), img.copy()])
    )['query_img']
    assert all((p == 0).any() for p in photos)
    # about prob of the images are occluded
    t = ViewDropout(prob=0.3, keys=('query_img',))
    hit = np.mean([(t(dict(query_img=img.copy()))['query_img'] == 0).any() for _ in range(400)])
    assert 0.22 < hit < 0.38


@pytest.mark.parametrize(
    'kwargs,match',
    [
        (dict(prob=1.5), 'prob'),
        (dict(modes=('cutout',)), 'modes'),
        (dict(grid_ratio=0), 'grid_ratio'),
        (dict(holes=(5, 2)), 'holes'),
        (dict(hole_size=(0.3, 0.1)), 'hole_size'),
        (dict(grid_units=0), 'grid_units'),
    ],
)
def test_view_dropout_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ViewDropout(**kwargs)
