"""Tile grids in pixels and ground metres; ground pixel sizes per CRS."""

import math

import pytest
from rasterio.transform import from_origin

from gleamkit.geo.crs import ground_pixel_size_m, utm_crs_for
from gleamkit.geo.tiling import grid_offsets, metre_grid, pixel_grid


def test_grid_offsets_drop_and_pad():
    assert grid_offsets(10, 4, 4, 'drop') == [0, 4]
    assert grid_offsets(10, 4, 4, 'pad') == [0, 4, 8]  # the last tile hangs over by 2
    assert grid_offsets(8, 4, 4, 'pad') == [0, 4]  # already covered: nothing added
    assert grid_offsets(10, 4, 2, 'drop') == [0, 2, 4, 6]
    assert grid_offsets(3, 4, 2, 'drop') == []
    assert grid_offsets(3, 4, 2, 'pad') == [0]
    with pytest.raises(ValueError, match="edge='crop'"):
        grid_offsets(10, 4, 4, 'crop')


def test_pixel_grid_is_row_major():
    assert pixel_grid(6, 9, 3, 3, 'drop').tolist() == [
        [r, c, 3, 3] for r in (0, 3) for c in (0, 3, 6)
    ]


def test_metre_grid_re_measures_every_band():
    # pixels 1 m wide and 1 m tall at row 0, 2 m tall from row 100 on
    def size(row):
        return (1.0, 1.0 if row < 100 else 2.0)

    windows = metre_grid(300, 40, 20, 20, 'drop', size).tolist()
    heights = sorted({(r, h) for r, _, h, _ in windows})
    # bands below row 100 are 20 px tall, the ones from row 100 on 10 px
    assert heights[0] == (0, 20) and (100, 10) in heights and heights[-1] == (290, 10)
    assert {w for _, _, _, w in windows} == {20}


def test_ground_pixel_size_utm_3857_4326():
    lat = 45.0
    # UTM zone 31N at its central meridian (3 E): ground = grid * 1/0.9996 (scale factor)
    utm = utm_crs_for(lat, 3.0)
    assert utm.to_epsg() == 32631
    from pyproj import Transformer

    x, y = Transformer.from_crs('EPSG:4326', utm, always_xy=True).transform(3.0, lat)
    w, h = ground_pixel_size_m(from_origin(x, y, 1.0, 1.0), utm, 0, 0)
    assert w == pytest.approx(1 / 0.9996, abs=2e-5) and h == pytest.approx(1 / 0.9996, abs=2e-5)
    # web mercator: one 3857 metre is cos(lat) ground metres (times the ellipsoid's
    # sqrt(1 - e^2 sin^2 lat) along a parallel)
    mx = 6378137.0 * math.radians(3.0)
    my = 6378137.0 * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
    e2 = 0.00669437999014
    w, h = ground_pixel_size_m(from_origin(mx, my, 1.0, 1.0), 'EPSG:3857', 0, 0)
    expected = math.cos(math.radians(lat)) / math.sqrt(1 - e2 * math.sin(math.radians(lat)) ** 2)
    assert w == pytest.approx(expected, rel=1e-4)
    assert w == pytest.approx(0.7083, abs=1e-3)  # not 1.0: mercator metres are stretched
    # geographic: a degree of longitude shrinks with cos(lat), one of latitude does not
    # (prime-vertical radius N * cos(lat) and meridian radius M, times 1e-5 degree)
    s2 = math.sin(math.radians(lat)) ** 2
    n = 6378137.0 / math.sqrt(1 - e2 * s2)
    m = 6378137.0 * (1 - e2) / (1 - e2 * s2) ** 1.5
    w, h = ground_pixel_size_m(from_origin(3.0, lat, 1e-5, 1e-5), 'EPSG:4326', 0, 0)
    assert w == pytest.approx(n * math.cos(math.radians(lat)) * math.radians(1e-5), rel=1e-5)
    assert h == pytest.approx(m * math.radians(1e-5), rel=1e-4)
    assert (w, h) == pytest.approx((0.7885, 1.1113), abs=1e-4)
    assert utm_crs_for(-33.9, 18.4).to_epsg() == 32734
