"""Gallery datasets over tile sources, built from configs with ``type=``: samples carry
the tile image, tile id, centre and WGS84 footprint through PackCrossViewInputs."""

import json

import numpy as np
import pytest
import rasterio
from PIL import Image
from rasterio.transform import from_origin

from gleamkit.registry import DATASETS

PIPELINE = [dict(type='PackCrossViewInputs')]


@pytest.fixture
def utm_raster(tmp_path):
    path = str(tmp_path / 'region.tif')
    rows, cols = np.mgrid[0:300, 0:400]
    data = np.stack([rows % 250 + 1, cols % 250 + 1, np.full_like(rows, 9)]).astype(np.uint8)
    with rasterio.open(
        path,
        'w',
        driver='GTiff',
        height=300,
        width=400,
        count=3,
        dtype='uint8',
        crs='EPSG:32650',
        transform=from_origin(300000, 3380000, 1, 1),
    ) as dst:
        dst.write(data)
    return path


def test_raster_gallery_from_config(utm_raster):
    ds = DATASETS.build(
        dict(
            type='RasterTileGalleryDataset',
            raster=utm_raster,
            tile_m=100,
            stride_m=100,
            out_size=32,
            pipeline=PIPELINE,
        )
    )
    assert len(ds) == 3 * 4
    sample = ds[5]
    assert tuple(sample['inputs']['reference'].shape) == (3, 32, 32)
    meta = sample['data_samples'].metainfo
    tile = ds.source.tiles[5]
    assert meta['tile_id'] == 'region/100m/100_100' == tile.tile_id
    assert meta['location_id'] == 110_000_005 and meta['view'] == 'satellite'
    assert (meta['lat'], meta['lon']) == (tile.lat, tile.lon)
    assert meta['footprint'] == [list(p) for p in tile.footprint] and len(meta['footprint']) == 4
    assert meta['reference_path'] == utm_raster
    # the image is the window (rows 100..200: band 1 = row % 250 + 1)
    img = sample['inputs']['reference'].numpy()
    assert 100 <= img[0].min() and img[0].max() <= 201
    with pytest.raises(ValueError, match="mode='pairs', expected one of \\('gallery',\\)"):
        DATASETS.build(
            dict(type='RasterTileGalleryDataset', raster=utm_raster, tile_m=100, mode='pairs')
        )


def test_raster_gallery_relative_to_data_root_and_errors(utm_raster, tmp_path):
    ds = DATASETS.build(
        dict(
            type='RasterTileGalleryDataset',
            raster='region.tif',
            data_root=str(tmp_path),
            tile_px=150,
            stride_px=150,
        )
    )
    assert len(ds) == 2 * 2 and ds[0]['reference_img'].shape == (256, 256, 3)
    with pytest.raises(ValueError, match=r'region\.tif: the tile is larger than the raster'):
        DATASETS.build(dict(type='RasterTileGalleryDataset', raster=utm_raster, tile_m=5000))


def test_slippy_gallery_from_config(tmp_path):
    for x, y in ((3, 5), (4, 5)):
        path = tmp_path / 'tiles' / '4' / str(x) / f'{y}.png'
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((16, 16, 3), 40 * x, np.uint8)).save(path)
    ds = DATASETS.build(
        dict(type='SlippyTileGalleryDataset', data_root=str(tmp_path / 'tiles'), pipeline=PIPELINE)
    )
    assert len(ds) == 2
    meta = ds[1]['data_samples'].metainfo
    assert meta['tile_id'] == '4/4/5' and meta['location_id'] == 120_000_001
    assert meta['footprint'][0] == pytest.approx([-90.0, 55.7765730186677])
    assert int(ds[1]['inputs']['reference'][0, 0, 0]) == 160


@pytest.mark.parametrize('fmt', ['csv', 'json', 'jsonl'])
def test_tile_list_gallery(tmp_path, fmt):
    (tmp_path / 'tiles').mkdir()
    for name in ('a', 'b'):
        Image.fromarray(np.full((12, 12, 3), 70, np.uint8)).save(tmp_path / 'tiles' / f'{name}.png')
    fp = [[114.359, 30.521], [114.361, 30.521], [114.361, 30.519], [114.359, 30.519]]
    rows = [
        dict(path='tiles/a.png', lat=30.52, lon=114.36, tile_id='A', footprint=fp),
        dict(
            path='tiles/b.png',
            lat=30.53,
            lon=114.37,
            west=114.369,
            south=30.529,
            east=114.371,
            north=30.531,
        ),
    ]
    ann = tmp_path / f'tiles.{fmt}'
    if fmt == 'csv':
        keys = ['path', 'lat', 'lon', 'tile_id', 'footprint', 'west', 'south', 'east', 'north']
        lines = [','.join(keys)]
        for r in rows:
            cells = [
                json.dumps(r[k]) if k == 'footprint' and k in r else str(r.get(k, '')) for k in keys
            ]
            lines.append(
                ','.join('"' + c.replace('"', '""') + '"' if ',' in c else c for c in cells)
            )
        ann.write_text('\n'.join(lines) + '\n')
    elif fmt == 'json':
        ann.write_text(json.dumps({'tiles': rows}))
    else:
        ann.write_text(''.join(json.dumps(r) + '\n' for r in rows))
    ds = DATASETS.build(dict(type='TileListGalleryDataset', ann_file=str(ann), pipeline=PIPELINE))
    metas = [ds[i]['data_samples'].metainfo for i in range(len(ds))]
    assert [m['tile_id'] for m in metas] == ['A', 'tiles/b.png']
    assert metas[0]['footprint'] == fp and (metas[0]['lat'], metas[0]['lon']) == (30.52, 114.36)
    assert metas[1]['footprint'] == [
        [114.369, 30.531],
        [114.371, 30.531],
        [114.371, 30.529],
        [114.369, 30.529],
    ]
    assert [m['location_id'] for m in metas] == [130_000_000, 130_000_001]
    assert metas[0]['reference_path'] == str(tmp_path / 'tiles' / 'a.png')


def test_tile_list_bad_input(tmp_path):
    ann = tmp_path / 'tiles.csv'
    ann.write_text('path,lat,lon\n')
    with pytest.raises(ValueError, match=r'tiles\.csv lists no tiles'):
        DATASETS.build(dict(type='TileListGalleryDataset', ann_file=str(ann)))
    ann.write_text('path,lat,lon\nt.png,,114.3\n')
    with pytest.raises(ValueError, match=r'tiles\.csv:2 has no lat'):
        DATASETS.build(dict(type='TileListGalleryDataset', ann_file=str(ann)))
    ann.write_text('path,lat,lon,footprint\nt.png,30.5,114.3,"[[114.3, 91]]"\n')
    (tmp_path / 't.png').write_bytes(b'not a png')
    with pytest.raises(ValueError, match=r'tiles\.csv:2: footprint .* needs >= 3'):
        DATASETS.build(dict(type='TileListGalleryDataset', ann_file=str(ann)))
    ann.write_text('path,lat,lon\nt.png,30.5,114.3\n')
    ds = DATASETS.build(dict(type='TileListGalleryDataset', ann_file=str(ann)))
    with pytest.raises(OSError, match=r'cannot read gallery tile .*t\.png .*listed in'):
        ds[0]
    ann.write_text('path,lat,lon\nmissing.png,30.5,114.3\n')
    with pytest.raises(FileNotFoundError, match='missing.png'):
        DATASETS.build(dict(type='TileListGalleryDataset', ann_file=str(ann)))


def test_gallery_dataset_config_picks_the_dataset_by_path(utm_raster, tmp_path):
    from gleamkit.datasets.tile_gallery import gallery_dataset_config

    cfg = gallery_dataset_config(utm_raster, tile_m=150, stride_m=75)
    assert cfg == dict(type='RasterTileGalleryDataset', raster=utm_raster, tile_m=150, stride_m=75)
    assert len(DATASETS.build(cfg)) == 3 * 4  # rows 0, 75, 150; cols 0, 75, 150, 225
    (tmp_path / 'z').mkdir()
    assert (
        gallery_dataset_config(str(tmp_path / 'z'), zooms=[17])['type']
        == 'SlippyTileGalleryDataset'
    )
    (tmp_path / 'tiles.jsonl').write_text('')
    assert gallery_dataset_config(str(tmp_path / 'tiles.jsonl'))['type'] == 'TileListGalleryDataset'
    with pytest.raises(
        ValueError,
        match=r'read by TileListGalleryDataset, which does not '
        r"take \['tile_m'\]",
    ):
        gallery_dataset_config(str(tmp_path / 'tiles.jsonl'), tile_m=150)
    with pytest.raises(FileNotFoundError, match='gallery source not found: .*nowhere.tif'):
        gallery_dataset_config(str(tmp_path / 'nowhere.tif'))
