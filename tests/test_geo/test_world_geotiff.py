"""The built-in world as a GeoTIFF: a real CRS, and tiles centred on the world's places
show those places (round trip through pyproj, the GeoTIFF and RasterTileSource)."""

import csv
import json

import numpy as np
import pytest
import rasterio

from gleamkit.geo import RasterTileSource
from gleamkit.geo.crs import GEOD
from gleamkit.synthetic import SyntheticWorld
from gleamkit.synthetic.__main__ import main as synthetic_main
from gleamkit.synthetic.geotiff import export_geotiff, render_region_mosaic


@pytest.fixture(scope='module')
def world_and_mosaic():
    world = SyntheticWorld(seed=0, num_locations=12, num_distractors=3, image_size=32)
    return world, render_region_mosaic(world)


def crop(mosaic, world, loc, half, dx=0, dy=0):
    res = world.layout.resolution_m
    r = int(round((world.layout.height_m - loc.y - dy) / res))
    c = int(round((loc.x + dx) / res))
    return mosaic[r - half : r + half, c - half : c + half].astype(np.float32)


def test_mosaic_covers_the_region_without_seams(world_and_mosaic):
    world, mosaic = world_and_mosaic
    assert mosaic.shape == world.layout.cls.shape + (3,)
    # block borders (every 512 px) are no sharper than the image elsewhere
    jump = np.abs(np.diff(mosaic.astype(np.float32), axis=1)).mean(axis=(0, 2))
    assert jump[511] < 2 * np.median(jump)


@pytest.mark.parametrize('crs, epsg', [('utm', 32650), ('EPSG:3857', 3857)])
def test_tiles_centred_on_places_show_the_places(world_and_mosaic, tmp_path, crs, epsg):
    world, mosaic = world_and_mosaic
    path = export_geotiff(world, str(tmp_path / 'region.tif'), crs=crs, mosaic=mosaic)
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == epsg and not src.transform.is_identity
        assert json.loads(src.tags()['gleamkit_world']) == world.kwargs
        assert src.nodata == 0 and src.count == 3
    places = world.locations
    half = int(world.tile_size_m / 2)
    tiles = RasterTileSource(
        path, tile_m=world.tile_size_m, out_size=2 * half, points=[(p.lat, p.lon) for p in places]
    )
    assert len(tiles) == len(places)
    for tile, place in zip(tiles, places):
        # integer pixel windows: the centre is within half a (1 m) pixel of the place
        assert GEOD.inv(tile.lon, tile.lat, place.lon, place.lat)[2] < 0.75
        got = tiles.read(tile).astype(np.float32)
        here = np.abs(got - crop(mosaic, world, place, half)).mean()
        shifted = min(
            np.abs(got - crop(mosaic, world, place, half, dx, dy)).mean()
            for dx, dy in ((10, 0), (0, 10), (-10, 0), (0, -10))
        )
        # the same ground (UTM's grid is turned 1.3 deg from true north here)
        assert here < 0.5 * shifted


def test_a_grid_over_the_geotiff_covers_every_place(world_and_mosaic, tmp_path):
    world, mosaic = world_and_mosaic
    path = export_geotiff(world, str(tmp_path / 'region.tif'), mosaic=mosaic)
    grid = RasterTileSource(path, tile_m=100, stride_m=50, out_size=16)
    for place in world.locations:
        nearest = min(GEOD.inv(t.lon, t.lat, place.lon, place.lat)[2] for t in grid)
        assert nearest <= 25 * 2**0.5 + 1  # half a stride in each direction


def test_export_geotiff_command(tmp_path, capsys):
    out, places = tmp_path / 'cli.tif', tmp_path / 'places.csv'
    assert (
        synthetic_main(
            [
                'export-geotiff',
                '--out',
                str(out),
                '--num-locations',
                '4',
                '--num-distractors',
                '0',
                '--crs',
                'EPSG:3857',
                '--places',
                str(places),
            ]
        )
        == 0
    )
    assert 'wrote' in capsys.readouterr().out
    with rasterio.open(out) as src:
        assert src.crs.to_epsg() == 3857
    rows = list(csv.DictReader(open(places)))
    world = SyntheticWorld(num_locations=4, num_distractors=0)
    assert [float(r['lat']) for r in rows] == [p.lat for p in world.locations]
    with pytest.raises(SystemExit):
        synthetic_main(['export-geotiff', '--out', str(tmp_path / 'x.png')])
    assert '--out must end in .tif' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        synthetic_main(
            ['export-geotiff', '--out', str(out), '--crs', 'EPSG:999999', '--num-locations', '2']
        )
    assert "crs='EPSG:999999' is not a CRS pyproj knows" in capsys.readouterr().err
