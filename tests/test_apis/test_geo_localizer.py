"""GeoLocalizer on a tiny built-in world exported as a GeoTIFF, with a small randomly
initialised model saved as a checkpoint (offline, deterministic)."""

import hashlib
import json

import numpy as np
import pytest
import torch
from mmengine.config import Config
from pyproj import Geod

from gleamkit.apis import GeoLocalizer, LocalizationResult, RetrievedTile, estimate_position
from gleamkit.apis import geo_localizer as geo_localizer_module
from gleamkit.index import GalleryIndexMismatchError

TILE_M, STRIDE_M, SHARD = 150, 75, 64


def tiny_config(embed_dim=32):
    return Config(
        dict(
            model=dict(
                type='CrossViewRetriever',
                backbone=dict(type='TimmBackbone', model_name='resnet10t', pretrained=False),
                adapter=dict(type='ViewSpecificNorm'),
                head=dict(type='EmbeddingHead', embed_dim=embed_dim),
            ),
            world=dict(image_size=32),
        )
    )


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    from gleamkit.synthetic import SyntheticWorld
    from gleamkit.synthetic.geotiff import export_geotiff

    root = tmp_path_factory.mktemp('apis')
    w = SyntheticWorld(num_locations=30, num_distractors=0, image_size=32)
    export_geotiff(w, str(root / 'region.tif'))
    cfg = tiny_config()
    model = GeoLocalizer(cfg, device='cpu', seed=3).model
    torch.save(dict(state_dict=model.state_dict()), root / 'model.pth')
    loc = GeoLocalizer(cfg, root / 'model.pth', device='cpu')
    loc.build_gallery(
        root / 'region.tif',
        root / 'gallery',
        tile_m=TILE_M,
        stride_m=STRIDE_M,
        shard_size=SHARD,
        batch_size=32,
        progress=False,
    )
    return dict(
        root=root, world=w, cfg=cfg, loc=loc, ckpt=root / 'model.pth', dataset=loc.gallery_dataset()
    )


def tile_pixels(world, i):
    return world['dataset'][i]['inputs']['reference'].permute(1, 2, 0).numpy()


def test_build_writes_shards_index_and_manifest(world):
    root, loc = world['root'], world['loc']
    n = len(world['dataset'])
    assert n == len(loc.gallery) > 100
    shards = sorted(p.name for p in (root / 'gallery' / 'shards').iterdir() if p.is_dir())
    num = -(-n // SHARD)
    assert shards == [f'shard-{i:05d}-of-{num:05d}' for i in range(num)]
    manifest = json.loads((root / 'gallery' / 'index' / 'manifest.json').read_text())
    digest = 'sha256:' + hashlib.sha256(world['ckpt'].read_bytes()).hexdigest()
    assert manifest['model']['checkpoint_digest'] == digest == loc.checkpoint_digest
    assert manifest['model']['config_digest'] == loc.config_digest
    assert manifest['count'] == n and manifest['dim'] == 32 and manifest['factory'] == 'Flat'
    info = json.loads((root / 'gallery' / 'gallery.json').read_text())
    assert info['raster'].endswith('region.tif') and info['dataset']['tile_m'] == TILE_M


def test_killed_build_resumes_from_finished_shards(world, monkeypatch):
    root = world['root']
    loc = GeoLocalizer(world['cfg'], world['ckpt'], device='cpu')
    n = len(world['dataset'])
    real_write = geo_localizer_module.write_embedding_shard
    calls = []

    def dies_after_two(*args, **kwargs):
        if len(calls) == 2:
            raise KeyboardInterrupt('killed')
        calls.append(args[1])
        return real_write(*args, **kwargs)

    monkeypatch.setattr(geo_localizer_module, 'write_embedding_shard', dies_after_two)
    with pytest.raises(KeyboardInterrupt):
        loc.build_gallery(
            root / 'region.tif',
            root / 'resumed',
            tile_m=TILE_M,
            stride_m=STRIDE_M,
            shard_size=SHARD,
            progress=False,
        )
    assert not (root / 'resumed' / 'index').exists()
    monkeypatch.setattr(geo_localizer_module, 'write_embedding_shard', real_write)
    embedded = []
    real_embed = loc._embed
    monkeypatch.setattr(
        loc,
        '_embed',
        lambda images, views, key: (embedded.append(len(images)), real_embed(images, views, key))[
            1
        ],
    )
    gallery = loc.build_gallery(
        root / 'region.tif',
        root / 'resumed',
        tile_m=TILE_M,
        stride_m=STRIDE_M,
        shard_size=SHARD,
        progress=False,
    )
    assert sum(embedded) == n - 2 * SHARD  # only the unfinished shards
    # the resumed index answers like the one built in one go
    q = np.asarray(world['loc'].gallery.index.reconstruct_n(0, 5))
    assert np.array_equal(gallery.search(q, 3).indices, world['loc'].gallery.search(q, 3).indices)


def test_resume_refuses_shards_of_another_tiling(world):
    loc = world['loc']
    with pytest.raises(ValueError, match='another gallery plan'):
        loc.build_gallery(
            world['root'] / 'region.tif',
            world['root'] / 'gallery',
            tile_m=100,
            shard_size=SHARD,
            overwrite=True,
            progress=False,
        )


def test_query_equal_to_a_gallery_tile_finds_it(world):
    loc = world['loc']
    i = 17
    row = loc.gallery.metadata.row(i)
    truth = (30.52, 114.36)
    result = loc.localize(
        tile_pixels(world, i), view='satellite', topk=5, true_latlon=truth, margin=1e-4
    )
    assert isinstance(result, LocalizationResult)
    assert result.tiles[0].tile_id == row['id'] and result.tiles[0].index == i
    assert result.tiles[0].score == pytest.approx(1.0, abs=1e-4)
    scores = [t.score for t in result.tiles]
    assert len(scores) == 5 and scores == sorted(scores, reverse=True)
    assert [t.rank for t in result.tiles] == [1, 2, 3, 4, 5]
    # a clear winner: the estimate is its centre, the radius half its 150 m side
    assert result.num_support == 1
    assert (result.lat, result.lon) == pytest.approx((row['lat'], row['lon']), abs=1e-9)
    assert result.radius_m == pytest.approx(TILE_M / 2, abs=1.0)
    hand = Geod(ellps='WGS84').inv(result.lon, result.lat, truth[1], truth[0])[2]
    assert result.error_m == pytest.approx(hand, abs=1e-6) and result.error_m > 100
    exact = loc.localize(
        tile_pixels(world, i), view='satellite', true_latlon=(row['lat'], row['lon']), margin=1e-4
    )
    assert exact.error_m == pytest.approx(0.0, abs=1e-3)


def test_topk_tiles_lie_in_the_region_and_results_serialise(world):
    loc = world['loc']
    meta = loc.gallery.metadata.columns
    lats, lons = np.asarray(meta['lat']), np.asarray(meta['lon'])
    uav = world['world'].render(3, 'uav')
    result = loc.localize(uav, topk=10)
    assert result.view == 'uav' and len(result.tiles) == 10
    for t in result.tiles:
        assert lats.min() <= t.lat <= lats.max() and lons.min() <= t.lon <= lons.max()
        assert len(t.footprint) == 4
    assert lats.min() - 0.002 <= result.lat <= lats.max() + 0.002
    assert result.radius_m >= TILE_M / 2 - 1
    data = json.loads(json.dumps(result.to_dict()))
    assert data['tiles'][0]['tile_id'] == result.tiles[0].tile_id and data['error_m'] is None


def test_batch_equals_single_and_image_sets_average(world, tmp_path):
    from PIL import Image

    loc = world['loc']
    a, b = (
        world['world'].render(5, 'ground', rng_seed=0),
        world['world'].render(5, 'ground', rng_seed=1),
    )
    Image.fromarray(a).save(tmp_path / 'a.png')
    batch = loc.localize(
        [str(tmp_path / 'a.png'), Image.fromarray(b), [a, b]], view='ground', topk=4
    )
    assert isinstance(batch, list) and len(batch) == 3
    single = loc.localize(a, view='ground', topk=4)
    assert [t.tile_id for t in single.tiles] == [t.tile_id for t in batch[0].tiles]
    assert [t.score for t in single.tiles] == pytest.approx(
        [t.score for t in batch[0].tiles], abs=1e-5
    )
    assert batch[0].query.endswith('a.png') and batch[2].query == 'query_2 + query_2'
    # the set's embedding is the re-normalised mean of its members' (set_aggregation='mean')
    emb, views, _, _ = loc.embed_queries([a, b, [a, b]], view='ground')
    mean = (emb[0] + emb[1]) / 2
    assert np.allclose(emb[2], mean / np.linalg.norm(mean), atol=1e-5)
    assert loc.localize([[a, b]])[0].view == 'ground'  # default view of a set
    assert loc.localize([a])[0].view == 'uav'  # default view of one image


def test_another_models_index_is_refused(world, tmp_path):
    other = GeoLocalizer(world['cfg'], device='cpu', seed=11).model
    torch.save(dict(state_dict=other.state_dict()), tmp_path / 'other.pth')
    loc = GeoLocalizer(world['cfg'], tmp_path / 'other.pth', device='cpu')
    with pytest.raises(GalleryIndexMismatchError, match='different embedding model'):
        loc.load_gallery(world['root'] / 'gallery')
    # nor are its embedding shards reused by a rebuild
    with pytest.raises(ValueError, match='was embedded by another model'):
        loc.build_gallery(
            world['root'] / 'region.tif',
            world['root'] / 'gallery',
            tile_m=TILE_M,
            stride_m=STRIDE_M,
            shard_size=SHARD,
            overwrite=True,
            progress=False,
        )
    assert world['loc'].load_gallery(world['root'] / 'gallery').factory == 'Flat'  # intact
    wider = GeoLocalizer(tiny_config(embed_dim=16), device='cpu')
    with pytest.raises(GalleryIndexMismatchError, match='config_digest'):
        wider.load_gallery(world['root'] / 'gallery')


def test_bad_input_errors_name_the_problem(world, tmp_path):
    loc = world['loc']
    bad = tmp_path / 'broken.jpg'
    bad.write_bytes(b'not an image')
    with pytest.raises(OSError, match='broken.jpg'):
        loc.localize(str(bad))
    with pytest.raises(FileNotFoundError, match='missing.png'):
        loc.localize([str(tmp_path / 'missing.png')])
    with pytest.raises(ValueError, match='true_latlon has 1 entries for 2 queries'):
        loc.localize([tile_pixels(world, 0)] * 2, true_latlon=[(30.5, 114.3)])
    fresh = GeoLocalizer(world['cfg'], world['ckpt'], device='cpu')
    with pytest.raises(FileNotFoundError, match='gallery source not found: .*nowhere.tif'):
        fresh.build_gallery(tmp_path / 'nowhere.tif', tmp_path / 'g', tile_m=150)
    with pytest.raises(RuntimeError, match='no gallery loaded'):
        fresh.localize(tile_pixels(world, 0))
    with pytest.raises(FileNotFoundError, match='no_gallery_here'):
        fresh.load_gallery(tmp_path / 'no_gallery_here')
    # a checkpoint of another architecture is refused, naming the file
    torch.save(dict(state_dict={'backbone.weight': torch.zeros(1)}), tmp_path / 'wrong.pth')
    with pytest.raises(ValueError, match='wrong.pth does not fit'):
        GeoLocalizer(world['cfg'], tmp_path / 'wrong.pth', device='cpu')


def test_empty_gallery_is_refused(world, tmp_path):
    listing = tmp_path / 'tiles.csv'
    listing.write_text('path,lat,lon\n')
    with pytest.raises(ValueError, match='tiles.csv'):
        world['loc'].build_gallery(listing, tmp_path / 'empty', progress=False)
    assert not (tmp_path / 'empty' / 'index').exists()


def _tile(rank, score, lat, lon, side_deg=0.001):
    h = side_deg / 2
    return RetrievedTile(
        rank=rank,
        tile_id=str(rank),
        score=score,
        lat=lat,
        lon=lon,
        footprint=[[lon - h, lat + h], [lon + h, lat + h], [lon + h, lat - h], [lon - h, lat - h]],
    )


def test_estimate_position_hand_cases():
    geod = Geod(ellps='WGS84')
    # two equal tiles 200 m apart east-west: the estimate is their midpoint, radius 100 m
    lon2, lat2, _ = geod.fwd(10.0, 50.0, 90, 200)
    lat, lon, radius, support = estimate_position(
        [_tile(1, 0.9, 50.0, 10.0), _tile(2, 0.9, lat2, lon2), _tile(3, 0.5, 50.01, 10.01)],
        min_radius_m=10,
    )
    assert support == 2
    assert geod.inv(lon, lat, 10.0, 50.0)[2] == pytest.approx(100, abs=0.05)
    assert geod.inv(lon, lat, lon2, lat2)[2] == pytest.approx(100, abs=0.05)
    assert radius == pytest.approx(100, abs=0.05)
    # weight 1 vs 0.5 (score 0.025 below the best, margin 0.05): 1/3 of the way
    lat, lon, radius, _ = estimate_position(
        [_tile(1, 0.9, 50.0, 10.0), _tile(2, 0.875, lat2, lon2)], min_radius_m=0
    )
    assert geod.inv(lon, lat, 10.0, 50.0)[2] == pytest.approx(200 / 3, abs=0.05)
    assert radius == pytest.approx(np.sqrt((2 * (200 / 3) ** 2 + (400 / 3) ** 2) / 3), abs=0.1)
    # a clear winner: its centre, radius half its side (0.001 deg of latitude ~ 111 m)
    lat, lon, radius, support = estimate_position(
        [_tile(1, 0.9, 50.0, 10.0), _tile(2, 0.7, lat2, lon2)]
    )
    assert (lat, lon, support) == (pytest.approx(50.0), pytest.approx(10.0), 1)
    # half the mean side of a 0.001 deg square at 50 N: (111.2 + 71.7) / 2 / 2 m
    assert radius == pytest.approx((111.2 + 71.7) / 4, abs=0.3)
    with pytest.raises(ValueError, match='no tiles'):
        estimate_position([])


def test_tile_list_and_slippy_folder_sources(world, tmp_path):
    from PIL import Image

    loc = GeoLocalizer(world['cfg'], world['ckpt'], device='cpu')
    rows = ['path,lat,lon,tile_id']
    for i in range(6):
        pixels = tile_pixels(world, i * 7)
        Image.fromarray(pixels).save(tmp_path / f't{i}.png')
        info = world['dataset'].get_data_info(i * 7)
        rows.append(f't{i}.png,{info["lat"]},{info["lon"]},T{i}')
        (tmp_path / 'slippy' / '17' / str(1000 + i)).mkdir(parents=True)
        Image.fromarray(pixels).save(tmp_path / 'slippy' / '17' / str(1000 + i) / '2000.png')
    (tmp_path / 'tiles.csv').write_text('\n'.join(rows) + '\n')
    listed = loc.build_gallery(tmp_path / 'tiles.csv', tmp_path / 'g_list', progress=False)
    assert len(listed) == 6  # paths in the list are relative to its folder
    found = loc.localize(tile_pixels(world, 21), view='satellite', topk=2)
    assert found.tiles[0].tile_id == 'T3' and found.tiles[0].score == pytest.approx(1, abs=1e-4)
    slippy = loc.build_gallery(tmp_path / 'slippy', tmp_path / 'g_slippy', progress=False)
    assert len(slippy) == 6
    found = loc.localize(tile_pixels(world, 21), view='satellite', topk=2)
    assert found.tiles[0].tile_id == '17/1003/2000' and len(found.tiles[0].footprint) == 4
    with pytest.raises(ValueError, match='tile_m/stride_m cut a raster'):
        loc.build_gallery(tmp_path / 'slippy', tmp_path / 'g_bad', tile_m=100, progress=False)
