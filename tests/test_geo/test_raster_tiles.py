"""RasterTileSource: tile centres and footprints against hand-computed coordinates in UTM,
EPSG:3857 and EPSG:4326; windowed reads; edges, nodata and bad input."""

import math

import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin

from gleamkit.geo import RasterTileSource
from gleamkit.geo.crs import GEOD

R_MERCATOR = 6378137.0


def metres(a, b):
    """Geodesic distance between two (lon, lat) points."""
    return GEOD.inv(a[0], a[1], b[0], b[1])[2]


def assert_tile_at(tile, centre, corners, tol=0.5):
    """``centre`` and ``corners``: expected (lon, lat); distances below ``tol`` metres."""
    assert metres((tile.lon, tile.lat), centre) < tol
    for got, want in zip(tile.footprint, corners):
        assert metres(got, want) < tol


def edge_lengths(tile):
    fp = tile.footprint
    return metres(fp[0], fp[1]), metres(fp[1], fp[2])


def test_utm_raster_tiles_match_hand_computed_corners(write_raster):
    # 0.5 m pixels in UTM 50N, top-left corner at (300000, 3380000)
    x0, y0 = 300000.0, 3380000.0
    path = write_raster('utm.tif', 'EPSG:32650', from_origin(x0, y0, 0.5, 0.5), 800, 1000)
    src = RasterTileSource(path, tile_m=150, stride_m=100, out_size=32)
    # 150 m = 300 px (UTM's scale factor here, 1.0001, moves it by 0.03 px)
    assert {t.window[2:] for t in src} == {(300, 300)}
    assert [t.window[:2] for t in src][:4] == [(0, 0), (0, 200), (0, 400), (0, 600)]
    assert len(src) == 3 * 4  # rows 0, 200, 400 (+300 <= 800); cols 0..600
    to_ll = Transformer.from_crs('EPSG:32650', 'EPSG:4326', always_xy=True)
    for tile in src:
        r, c, h, w = tile.window
        left, top = x0 + 0.5 * c, y0 - 0.5 * r  # the tile's corner in UTM metres
        centre = to_ll.transform(left + 75, top - 75)
        corners = [
            to_ll.transform(left + dx, top - dy)
            for dx, dy in ((0, 0), (150, 0), (150, 150), (0, 150))
        ]
        assert_tile_at(tile, centre, corners)
        assert edge_lengths(tile) == pytest.approx((150, 150), abs=0.5)
        assert tile.tile_id == f'utm/150m/{r}_{c}' and tile.size_m == 150


def test_web_mercator_tiles_are_ground_metres_not_mercator_metres(write_raster):
    # at 45 N a 3857 "metre" is ~0.71 ground metres: 1.41421 3857-units per ground metre
    lat0, lon0 = 45.0, 7.0
    px = 1 / math.cos(math.radians(lat0))
    x0 = R_MERCATOR * math.radians(lon0)
    y0 = R_MERCATOR * math.log(math.tan(math.pi / 4 + math.radians(lat0) / 2))
    path = write_raster('merc.tif', 'EPSG:3857', from_origin(x0, y0, px, px), 400, 500)
    src = RasterTileSource(path, tile_m=150, out_size=32)  # stride: half a tile

    def lonlat(x, y):  # the inverse spherical mercator, by hand
        return (
            math.degrees(x / R_MERCATOR),
            math.degrees(2 * math.atan(math.exp(y / R_MERCATOR)) - math.pi / 2),
        )

    # 150 ground m = 150.25 px (the ellipsoid's 0.17 % at 45 N), not 150 / 1.414 = 106 px
    assert {t.window[2:] for t in src} == {(150, 150)}
    assert [t.window[0] for t in src if t.window[1] == 0] == [0, 75, 150, 225]
    for tile in src:
        r, c, h, w = tile.window
        left, top = x0 + px * c, y0 - px * r
        centre = lonlat(left + px * w / 2, top - px * h / 2)
        corners = [
            lonlat(left + px * dc, top - px * dr) for dc, dr in ((0, 0), (w, 0), (w, h), (0, h))
        ]
        assert_tile_at(tile, centre, corners)
        assert edge_lengths(tile) == pytest.approx((150, 150), abs=0.5)


def test_web_mercator_bands_keep_their_ground_size_across_latitudes(write_raster):
    # 50 3857-units per pixel from 45 N northwards over ~140 km: cos(lat) shrinks 2 %
    y0 = R_MERCATOR * math.log(math.tan(math.pi / 4 + math.radians(46.3) / 2))
    path = write_raster('tall.tif', 'EPSG:3857', from_origin(779236.0, y0, 50, 50), 4000, 300)
    src = RasterTileSource(path, tile_m=5000, stride_m=5000, out_size=8)
    widths = {t.window[0]: t.window[3] for t in src}
    assert widths[0] > widths[max(widths)]  # the northern bands are wider in pixels
    for tile in src:
        fp = tile.footprint
        # the width at the tile's middle latitude (its top edge is 0.1 % shorter)
        width = (metres(fp[0], fp[1]) + metres(fp[3], fp[2])) / 2
        pixel = 5000 / tile.window[3]  # whole pixels: at most half a pixel off
        assert abs(width - 5000) <= pixel / 2 + 1
        assert abs(metres(fp[1], fp[2]) - 5000) <= pixel / 2 + 1


def test_geographic_raster_tiles(write_raster):
    lon0, lat0, deg = 114.30, 30.60, 5e-6  # ~0.48 m x 0.55 m pixels
    path = write_raster('geo.tif', 'EPSG:4326', from_origin(lon0, lat0, deg, deg), 600, 700)
    src = RasterTileSource(path, tile_m=100, stride_m=100, out_size=16)
    h, w = src[0].window[2:]
    assert (h, w) == (180, 209)  # 100 m / 0.554 m, 100 m / 0.479 m
    for tile in src:
        r, c, h, w = tile.window
        centre = (lon0 + deg * (c + w / 2), lat0 - deg * (r + h / 2))
        corners = [
            (lon0 + deg * (c + dc), lat0 - deg * (r + dr))
            for dc, dr in ((0, 0), (w, 0), (w, h), (0, h))
        ]
        assert_tile_at(tile, centre, corners, tol=1e-6)
        assert edge_lengths(tile) == pytest.approx((100, 100), abs=0.5)


def test_a_crs_in_feet_is_measured_in_ground_metres(write_raster):
    # NAD83 / New York Long Island (ftUS): 1 ftUS pixels, 30.48 m = 100 ft = 100 px
    path = write_raster('feet.tif', 'EPSG:2263', from_origin(980000, 200000, 1, 1), 300, 300)
    src = RasterTileSource(path, tile_m=30.48, stride_m=30.48, out_size=8)
    assert {t.window[2:] for t in src} == {(100, 100)} and len(src) == 9
    assert edge_lengths(src[4]) == pytest.approx((30.48, 30.48), abs=0.05)


def test_multi_scale_and_pixel_tiles(write_raster):
    path = write_raster('utm.tif', 'EPSG:32650', from_origin(300000, 3380000, 1, 1), 400, 600)
    src = RasterTileSource(path, tile_m=(150, 300), stride_m=(150, 300), out_size=24)
    scales = [t.tile_id.split('/')[1] for t in src]
    assert scales.count('150m') == 2 * 4 and scales.count('300m') == 1 * 2
    assert {t.window[2:] for t in src if t.size_m == 300} == {(300, 300)}
    px = RasterTileSource(path, tile_px=200, out_size=24)  # stride: 100 px
    assert [t.window for t in px][:3] == [(0, 0, 200, 200), (0, 100, 200, 200), (0, 200, 200, 200)]
    assert len(px) == 3 * 5 and px[0].tile_id == 'utm/200px/0_0' and px[0].size_m is None
    with pytest.raises(ValueError, match='2 strides for 3 tile sizes'):
        RasterTileSource(path, tile_m=(50, 100, 150), stride_m=(50, 100))
    with pytest.raises(ValueError, match='exactly one of tile_m'):
        RasterTileSource(path, tile_m=50, tile_px=50)


def test_read_resamples_the_window_and_never_reads_more(write_raster, monkeypatch):
    path = write_raster('utm.tif', 'EPSG:32650', from_origin(300000, 3380000, 1, 1), 500, 500)
    calls = []
    real_read = rasterio.io.DatasetReader.read

    def spy(self, *args, **kwargs):
        calls.append((kwargs.get('window'), kwargs.get('out_shape')))
        return real_read(self, *args, **kwargs)

    monkeypatch.setattr(rasterio.io.DatasetReader, 'read', spy)
    src = RasterTileSource(path, tile_m=100, stride_m=100, out_size=50)
    assert calls == []  # planning reads the header only
    tile = src[7]  # row 100, col 200
    assert tile.window == (100, 200, 100, 100)
    img = src.read(tile)
    assert img.shape == (50, 50, 3) and img.dtype == np.uint8
    ((window, out_shape),) = calls
    assert (window.row_off, window.col_off, window.height, window.width) == (100, 200, 100, 100)
    assert out_shape == (3, 50, 50)
    # band 1 holds row % 250 + 1, band 2 col % 250 + 1: 2x downsampled, bilinear
    assert abs(int(img[0, 0, 0]) - 101) <= 1 and abs(int(img[-1, 0, 0]) - 199) <= 1
    assert abs(int(img[0, 0, 1]) - 201) <= 1 and abs(int(img[0, -1, 1]) - 50) <= 50


def test_a_raster_larger_than_memory_is_tiled_through_windows(tmp_path, monkeypatch):
    # 100k x 100k x 3 bytes = 30 GB if read whole; sparse on disk (a few MB)
    path = str(tmp_path / 'huge.tif')
    with rasterio.open(
        path,
        'w',
        driver='GTiff',
        height=100_000,
        width=100_000,
        count=3,
        dtype='uint8',
        crs='EPSG:32650',
        transform=from_origin(300000, 3400000, 1, 1),
        tiled=True,
        blockxsize=512,
        blockysize=512,
        compress='deflate',
        sparse_ok=True,
    ) as dst:
        dst.write(
            np.full((3, 512, 512), 200, np.uint8),
            window=rasterio.windows.Window(50_176, 50_176, 512, 512),
        )
    windows = []
    real_read = rasterio.io.DatasetReader.read

    def spy(self, *args, **kwargs):
        windows.append(kwargs['window'])
        return real_read(self, *args, **kwargs)

    monkeypatch.setattr(rasterio.io.DatasetReader, 'read', spy)
    src = RasterTileSource(path, tile_m=10_000, stride_m=10_000, out_size=16)
    assert len(src) == 10 * 10
    inside = next(
        t
        for t in src
        if t.window[0] <= 50_176 < t.window[0] + t.window[2]
        and t.window[1] <= 50_176 < t.window[1] + t.window[3]
    )
    img = src.read(inside)
    assert img.shape == (16, 16, 3) and windows[-1].width == inside.window[3] < 10_010
    assert img.max() > 0  # the written block shows, downsampled


def test_edge_pad_fills_the_outside(write_raster):
    path = write_raster('utm.tif', 'EPSG:32650', from_origin(300000, 3380000, 1, 1), 250, 250)
    drop = RasterTileSource(path, tile_m=100, stride_m=100, out_size=20)
    pad = RasterTileSource(path, tile_m=100, stride_m=100, out_size=20, edge='pad', fill=0)
    assert len(drop) == 4 and len(pad) == 9
    corner = next(t for t in pad if t.window == (200, 200, 100, 100))
    img = pad.read(corner)
    assert (img[:10, :10] > 0).all() and (img[10:] == 0).all() and (img[:, 10:] == 0).all()


def test_nodata_tiles_are_left_out_and_filled(write_raster):
    data = np.full((3, 200, 300), 90, np.uint8)
    data[:, :, 200:] = 0  # the right third is nodata
    data[:, :100, 100:150] = 0  # and half of tile (0, 100)
    path = write_raster(
        'nd.tif', 'EPSG:32650', from_origin(300000, 3380000, 1, 1), 200, 300, nodata=0, data=data
    )
    # nearest: bilinear would blend in valid neighbours across the nodata edge
    src = RasterTileSource(path, tile_m=100, stride_m=100, out_size=10, resampling='nearest')
    assert [t.window[:2] for t in src] == [(0, 0), (0, 100), (100, 0), (100, 100)]
    img = src.read(src[1])
    assert (img[:, :5] == 0).all() and (img[:, 5:] == 90).all()
    strict = RasterTileSource(path, tile_m=100, stride_m=100, out_size=10, max_nodata=0.4)
    assert [t.window[:2] for t in strict] == [(0, 0), (100, 0), (100, 100)]
    empty = write_raster(
        'empty.tif',
        'EPSG:32650',
        from_origin(300000, 3380000, 1, 1),
        100,
        100,
        nodata=0,
        data=np.zeros((3, 100, 100), np.uint8),
    )
    with pytest.raises(ValueError, match=r'empty\.tif: no tile left.*nodata value'):
        RasterTileSource(empty, tile_px=50)


def test_non_uint8_rasters_need_a_value_range(write_raster):
    data = np.full((1, 100, 100), 1500, np.uint16)
    path = write_raster(
        'u16.tif',
        'EPSG:32650',
        from_origin(300000, 3380000, 1, 1),
        100,
        100,
        count=1,
        dtype='uint16',
        data=data,
    )
    with pytest.raises(ValueError, match=r'u16\.tif.*uint16.*value_range'):
        RasterTileSource(path, tile_px=50)
    src = RasterTileSource(path, tile_px=50, value_range=(0, 3000), out_size=8)
    img = src.read(0)
    assert img.shape == (8, 8, 3) and (img == 128).all()  # 1500 / 3000 * 255, grey RGB


def test_points_centre_tiles_on_given_positions(write_raster):
    path = write_raster('utm.tif', 'EPSG:32650', from_origin(300000, 3380000, 1, 1), 400, 400)
    to_ll = Transformer.from_crs('EPSG:32650', 'EPSG:4326', always_xy=True)
    lon, lat = to_ll.transform(300200.0, 3379800.0)
    far_lon, far_lat = to_ll.transform(310000.0, 3379800.0)
    with pytest.warns(UserWarning, match=r'1 of 2 points have no whole 100 m tile inside'):
        src = RasterTileSource(path, tile_m=100, points=[(lat, lon), (far_lat, far_lon)])
    assert len(src) == 1 and src[0].tile_id == 'utm/100m/p0'
    assert metres((src[0].lon, src[0].lat), (lon, lat)) < 0.5
    assert src[0].window == (150, 150, 100, 100)


@pytest.mark.parametrize('case', ['no_crs', 'no_transform', 'too_large', 'corrupt', 'missing'])
def test_bad_rasters_stop_with_an_error_naming_the_file(write_raster, tmp_path, case):
    if case == 'no_crs':
        path = write_raster('nocrs.tif', None, from_origin(300000, 3380000, 1, 1), 50, 50)
        error, match = ValueError, r'nocrs\.tif: the raster has no CRS.*gdal_edit'
    elif case == 'no_transform':
        path = write_raster('notf.tif', 'EPSG:32650', rasterio.Affine.identity(), 50, 50)
        error, match = ValueError, r'notf\.tif: the raster has no geotransform'
    elif case == 'too_large':
        path = write_raster('small.tif', 'EPSG:32650', from_origin(300000, 3380000, 1, 1), 50, 80)
        error, match = (
            ValueError,
            (
                r'small\.tif: the tile is larger than the raster: '
                r"tile_m=100 vs a raster of 80 x 50 px.*edge='pad'"
            ),
        )
    elif case == 'corrupt':
        path = str(tmp_path / 'corrupt.tif')
        with open(path, 'wb') as f:
            f.write(b'II*\x00' + b'\x13' * 100)
        error, match = OSError, r'corrupt\.tif: rasterio cannot read this raster'
    else:
        path = str(tmp_path / 'nowhere.tif')
        error, match = FileNotFoundError, r'raster not found: .*nowhere\.tif'
    with pytest.raises(error, match=match):
        RasterTileSource(path, tile_m=100)
