import math

import numpy as np
import pytest

from gleamkit.datasets.transforms import (
    PairedRandomFlip,
    PairedRandomRotate90,
    PanoramaPolarTransform,
    polar_sampling_grid,
)
from gleamkit.registry import TRANSFORMS

H, W = 16, 32
RED = np.array([255, 0, 0], np.uint8)


def panorama_with_red_column(azimuth_deg):
    """North at the centre column, azimuth clockwise to the right; a red column at
    ``azimuth_deg`` from the horizon down to the nadir."""
    pano = np.full((H, W, 3), 40, np.uint8)
    col = int(round((azimuth_deg / 360.0 + 0.5) * W - 0.5)) % W
    pano[H // 2 :, col] = RED
    return pano


def direction_of_red(img):
    """Compass direction (degrees clockwise from north) of the red pixels' centroid."""
    red = (img[..., 0] > 200) & (img[..., 1] < 60)
    ys, xs = np.nonzero(red)
    assert len(ys), 'no red pixel left'
    east = xs.mean() + 0.5 - img.shape[1] / 2
    north = img.shape[0] / 2 - (ys.mean() + 0.5)
    return math.degrees(math.atan2(east, north)) % 360


@pytest.mark.parametrize('azimuth', [0, 90, 180, 270, 45])
def test_what_lies_east_of_the_camera_lies_east_of_the_centre(azimuth):
    out = PanoramaPolarTransform().transform(
        dict(view='panorama', query_img=panorama_with_red_column(azimuth))
    )['query_img']
    assert out.shape == (H, H, 3) and out.dtype == np.uint8
    got = direction_of_red(out)
    assert min(abs(got - azimuth), 360 - abs(got - azimuth)) < 8


def test_grid_formula_by_hand():
    # output 4x4, pano 4x8, elevations -90 at the centre and +90 at the edge midpoint
    map_x, map_y = polar_sampling_grid(4, 4, 8, elevation_range=(-90, 90))
    # pixel (row 0, col 2): east=+0.5, north=+1.5 -> azimuth atan2(0.5, 1.5)
    az = math.atan2(0.5, 1.5)
    rho = math.hypot(0.5, 1.5) / 2
    elev = -math.pi / 2 + rho * math.pi
    assert map_x[0, 2] == pytest.approx((0.5 + az / (2 * math.pi)) * 8 - 0.5, abs=1e-5)
    assert map_y[0, 2] == pytest.approx((math.pi / 2 - elev) / math.pi * 4 - 0.5, abs=1e-5)
    # the corners reach past the zenith and are clamped to the top row
    assert map_y[0, 0] == 0
    # directly south (row 3, col 1/2 straddle the axis) wraps around the panorama's seam
    assert ((map_x >= -0.5) & (map_x < 8 - 0.5)).all()


def test_low_elevations_come_from_the_bottom_rows():
    pano = np.zeros((H, W, 3), np.uint8)
    pano[-2:] = 200  # the ground right under the camera
    out = PanoramaPolarTransform(elevation_range=(-90, 30)).apply(pano)
    # centre = nadir (bright), middle of an edge = +30 degrees (dark)
    assert out[H // 2, H // 2].mean() > 150 and out[H // 2, 0].mean() == 0


@pytest.mark.parametrize('k', [1, 2, 3])
def test_commutes_with_the_paired_quarter_turn(k):
    """Turning the pair and then transforming = transforming and then turning."""
    pano = np.random.default_rng(k).integers(0, 255, (H, W, 3), dtype=np.uint8)
    tile = np.zeros((H, H, 3), np.uint8)
    polar = PanoramaPolarTransform()
    turned = PairedRandomRotate90.rotate(
        dict(view='panorama', query_img=pano, reference_img=tile), k
    )
    a = polar.apply(turned['query_img']).astype(int)
    b = np.rot90(polar.apply(pano), k).astype(int)
    assert np.abs(a - b).max() <= 1


def test_commutes_with_the_paired_flip():
    pano = np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)
    polar = PanoramaPolarTransform()
    flipped = PairedRandomFlip(prob=1.0).transform(dict(view='panorama', query_img=pano))
    a = polar.apply(flipped['query_img']).astype(int)
    b = polar.apply(pano)[:, ::-1].astype(int)
    assert np.abs(a - b).max() <= 1


def test_other_views_sets_size_and_registry():
    img = np.random.default_rng(0).integers(0, 255, (H, H, 3), dtype=np.uint8)
    out = PanoramaPolarTransform().transform(dict(view='uav', query_img=img.copy()))
    assert np.array_equal(out['query_img'], img) and 'polar' not in out
    pano = panorama_with_red_column(90)
    out = PanoramaPolarTransform(size=24).transform(dict(view='panorama', query_img=[pano, pano]))
    assert [i.shape for i in out['query_img']] == [(24, 24, 3)] * 2 and out['polar']
    built = TRANSFORMS.build(dict(type='PanoramaPolarTransform', size=8))
    assert isinstance(built, PanoramaPolarTransform) and built.size == 8


@pytest.mark.parametrize(
    'kwargs,match',
    [
        (dict(elevation_range=(30, -90)), 'elevation_range'),
        (dict(elevation_range=(-120, 30)), 'elevation_range'),
        (dict(pano_elevation=(-90, 90)), 'pano_elevation'),
        (dict(north_column=1.5), 'north_column'),
        (dict(size=1), 'size'),
    ],
)
def test_bad_config_names_the_key(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PanoramaPolarTransform(**kwargs)


def test_a_tall_image_is_not_taken_for_a_panorama():
    with pytest.raises(ValueError, match='wider than high'):
        PanoramaPolarTransform().transform(
            dict(view='panorama', query_img=np.zeros((32, 16, 3), np.uint8))
        )
