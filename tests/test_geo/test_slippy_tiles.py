"""SlippyTileSource: z/x/y folders, footprints from the tile numbers (hand-computed)."""

import math

import numpy as np
import pytest
from PIL import Image

from gleamkit.geo import SlippyTileSource


def save_tile(root, z, x, y, ext='png', colour=(10, 20, 30)):
    path = root / str(z) / str(x) / f'{y}.{ext}'
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8, 3), colour, np.uint8)).save(path)
    return path


def flat(points):
    return [v for p in points for v in p]


def tile_lon(x, z):
    return x / 2**z * 360.0 - 180.0


def tile_lat(y, z):  # latitude of the tile row's northern edge (inverse mercator)
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / 2**z))))


def test_footprints_and_centres_match_the_tile_numbers(tmp_path):
    lat, lon, z = 30.52, 114.36, 17
    x = int((lon + 180) / 360 * 2**z)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
    save_tile(tmp_path, z, x, y, 'jpg')
    save_tile(tmp_path, 1, 0, 0)
    (tmp_path / 'README.txt').write_text('not a tile')
    (tmp_path / '1' / '0' / 'notes.txt').write_text('ignored')
    src = SlippyTileSource(str(tmp_path))
    assert [t.tile_id for t in src] == ['1/0/0', f'17/{x}/{y}']
    world = src[0]
    assert flat(world.footprint) == pytest.approx(
        flat(((-180, 85.0511287798), (0, 85.0511287798), (0, 0), (-180, 0))), abs=1e-9
    )
    # the centre of the pixel grid is the mercator midpoint, not the latitude midpoint
    assert (world.lon, world.lat) == pytest.approx((-90.0, 66.5132604431), abs=1e-9)
    t = src[1]
    west, east = tile_lon(x, z), tile_lon(x + 1, z)
    north, south = tile_lat(y, z), tile_lat(y + 1, z)
    assert flat(t.footprint) == pytest.approx(
        flat(((west, north), (east, north), (east, south), (west, south))), abs=1e-9
    )
    assert west <= lon < east and south <= lat < north
    assert t.lon == pytest.approx((west + east) / 2, abs=1e-9)
    assert south < t.lat < north and t.lat == pytest.approx(tile_lat(y + 0.5, z), abs=1e-9)
    assert t.extra == dict(zoom=z, x=x, y=y) and t.path.endswith(f'{y}.jpg')
    img = src.read(t)
    assert img.shape == (8, 8, 3) and abs(int(img[0, 0, 2]) - 30) <= 3
    assert [t.tile_id for t in SlippyTileSource(str(tmp_path), zooms=[1])] == ['1/0/0']


def test_tms_rows_count_from_the_south(tmp_path):
    save_tile(tmp_path, 2, 1, 0)  # TMS row 0 = the southernmost = XYZ row 3
    t = SlippyTileSource(str(tmp_path), scheme='tms')[0]
    assert t.tile_id == '2/1/3' and t.footprint[2][1] == pytest.approx(-85.0511287798)


def test_bad_slippy_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match='slippy-map tile folder not found'):
        SlippyTileSource(str(tmp_path / 'none'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match=r'empty: no tiles; expected files <z>/<x>/<y>'):
        SlippyTileSource(str(tmp_path / 'empty'))
    save_tile(tmp_path / 'big', 1, 0, 2)
    with pytest.raises(ValueError, match=r'2\.png: tile x=0, y=2 does not exist at zoom 1'):
        SlippyTileSource(str(tmp_path / 'big'))
    save_tile(tmp_path / 'named', 3, 'a', 1)
    with pytest.raises(ValueError, match=r"named/3/a: column folder 'a' is not"):
        SlippyTileSource(str(tmp_path / 'named'))
    bad = save_tile(tmp_path / 'corrupt', 3, 1, 1)
    bad.write_bytes(b'\x89PNG garbage')
    src = SlippyTileSource(str(tmp_path / 'corrupt'))
    with pytest.raises(OSError, match=r'cannot read slippy tile .*corrupt/3/1/1\.png'):
        src.read(0)
