"""The built-in region as a GeoTIFF: the satellite mosaic of the whole world, in a real CRS.

The world lives on a local north-up plane (metres east / north of its south-west
corner, :mod:`.world.geo`). :func:`render_region_mosaic` draws the satellite view of the
whole plane, block by block with one :class:`~.render.look.Look` (so there are no seams:
the blocks share sun, season and camera response; cars are drawn per block, clouds not
at all). :func:`export_geotiff` then resamples that mosaic onto the pixel grid of a real
CRS - the UTM zone of the world's origin by default, or EPSG:3857 or any CRS pyproj
knows - by mapping every output pixel centre to WGS84 (pyproj) and on to the world plane
(the world's own :class:`~.world.geo.LocalProjection`). So a place's GPS in
``world.locations`` and the GeoTIFF agree: a tile centred on a place's latitude/longitude
shows the place. Command line: ``python -m gleamkit.synthetic export-geotiff``.
"""

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from typing import Optional, Union

import cv2
import numpy as np

from .render.look import _HAZE, _finish, sample_look
from .render.satellite import _satellite_cars, lit_ground
from .world.synthetic_world import SyntheticWorld

__all__ = ['render_region_mosaic', 'export_geotiff', 'main']

#: pixels added around each rendered block so blurs and gradients see their neighbours
_BLOCK_PAD = 16


def render_region_mosaic(
    world: SyntheticWorld, block_px: int = 512, look_seed: int = 0
) -> np.ndarray:
    """The satellite view of the whole region on the world's raster grid.

    Args:
        world: the world.
        block_px: side of the blocks it is rendered in (memory per block ~ 40 bytes
            per pixel). Defaults to 512.
        look_seed: picks the mosaic's sun, season and camera response. Defaults to 0.

    Returns:
        ``(H, W, 3)`` uint8 RGB, pixel (r, c) covering world metres
        ``x in [c, c + 1) * res``, ``y in (height_m - (r + 1) * res, height_m - r * res]``
        with ``res = world.resolution_m`` (the layout's grid).
    """
    layout = world.layout
    res = layout.resolution_m
    H, W = layout.cls.shape
    look = sample_look(
        np.random.default_rng([world.seed, 8, look_seed]), world.difficulty, 'satellite'
    )
    # the contrast step pivots on the image mean: per block that would leave seams
    look = dataclasses.replace(look, contrast=1.0)
    out = np.empty((H, W, 3), np.uint8)
    pad = _BLOCK_PAD
    for k, (r0, c0) in enumerate(
        (r, c) for r in range(0, H, block_px) for c in range(0, W, block_px)
    ):
        n = block_px + 2 * pad
        # centre such that the block's window starts exactly at (r0 - pad, c0 - pad)
        x = (c0 - pad + n / 2) * res
        y = layout.height_m - (r0 - pad + n / 2) * res
        img, cls = lit_ground(layout, x, y, n, n * res, look)
        rng = np.random.default_rng([world.seed, 9, look_seed, k])
        _satellite_cars(rng, img, cls, res, layout.grid_angle, world.difficulty)
        img = img * (1 - 0.25 * look.haze) + _HAZE * (0.25 * look.haze)
        img = _finish(img, look, rng)
        h, w = min(block_px, H - r0), min(block_px, W - c0)
        out[r0 : r0 + h, c0 : c0 + w] = img[pad : pad + h, pad : pad + w]
    return out


def _target_crs(world: SyntheticWorld, crs):
    from pyproj import CRS

    from gleamkit.geo.crs import utm_crs_for

    if crs is None or str(crs).lower() == 'utm':
        return utm_crs_for(world.origin_lat, world.origin_lon)
    try:
        return CRS.from_user_input(crs)
    except Exception as err:  # pyproj raises CRSError, a plain Exception subclass
        raise ValueError(
            f"export_geotiff: crs={crs!r} is not a CRS pyproj knows; use 'utm', "
            "'EPSG:3857' or another EPSG code / WKT / PROJ string"
        ) from err


def export_geotiff(
    world: SyntheticWorld,
    path: str,
    crs: Union[str, None] = 'utm',
    resolution_m: Optional[float] = None,
    block_px: int = 512,
    look_seed: int = 0,
    mosaic: Optional[np.ndarray] = None,
) -> str:
    """Write the world's satellite mosaic as a georeferenced GeoTIFF.

    Args:
        world: the world.
        path: the ``.tif`` to write (written to a temporary name, then renamed).
        crs: ``'utm'`` (the UTM zone of the world's origin), ``'EPSG:3857'`` or any
            CRS pyproj accepts. Defaults to ``'utm'``.
        resolution_m: ground size of an output pixel at the origin, in metres.
            Defaults to the world's ``resolution_m``. In EPSG:3857 the pixel is
            ``resolution_m / cos(lat)`` mercator metres; in a geographic CRS it is
            given in degrees, different for x and y.
        block_px: mosaic block size (see :func:`render_region_mosaic`).
        look_seed: the mosaic's appearance draw.
        mosaic: a mosaic already rendered by :func:`render_region_mosaic` (or any
            ``(H, W, C)`` uint8 array on the world's raster grid).

    Returns:
        ``path``. The file has 3 uint8 bands (RGB), nodata 0 (valid pixels are >= 1),
        and the world's arguments in the tag ``gleamkit_world`` (JSON).
    """
    import rasterio
    from pyproj import Transformer
    from rasterio.transform import from_origin

    from gleamkit.geo.crs import GEOD

    dst_crs = _target_crs(world, crs)
    res_m = float(resolution_m or world.resolution_m)
    if not res_m > 0:
        raise ValueError(f'export_geotiff: resolution_m={resolution_m!r}, expected > 0')
    if mosaic is None:
        mosaic = render_region_mosaic(world, block_px=block_px, look_seed=look_seed)
    proj = world.projection
    to_dst = Transformer.from_crs('EPSG:4326', dst_crs, always_xy=True)
    to_ll = Transformer.from_crs(dst_crs, 'EPSG:4326', always_xy=True)

    # the pixel size in CRS units that is res_m on the ground at the origin
    ox, oy = to_dst.transform(world.origin_lon, world.origin_lat)
    lons, lats = to_ll.transform([ox, ox + 1e-3, ox], [oy, oy, oy + 1e-3])
    unit_x = GEOD.inv(lons[0], lats[0], lons[1], lats[1])[2] / 1e-3
    unit_y = GEOD.inv(lons[0], lats[0], lons[2], lats[2])[2] / 1e-3
    px_x, px_y = res_m / unit_x, res_m / unit_y

    # the region's outline (densified: edges bend in the target CRS) -> the grid's bounds
    t = np.linspace(0.0, 1.0, 65)
    ex = np.concatenate(
        [t * world.width_m, np.full_like(t, world.width_m), t * world.width_m, np.zeros_like(t)]
    )
    ey = np.concatenate(
        [np.zeros_like(t), t * world.height_m, np.full_like(t, world.height_m), t * world.height_m]
    )
    elat, elon = proj.xy_to_latlon(ex, ey)
    bx, by = to_dst.transform(elon, elat)
    minx, maxy = float(np.min(bx)), float(np.max(by))
    width = int(math.ceil((np.max(bx) - minx) / px_x))
    height = int(math.ceil((maxy - np.min(by)) / px_y))
    transform = from_origin(minx, maxy, px_x, px_y)

    res_w = world.layout.resolution_m
    height_m = world.layout.height_m
    bands = mosaic.shape[2] if mosaic.ndim == 3 else 1
    tmp = f'{path}.tmp{os.getpid()}.tif'
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    profile = dict(
        driver='GTiff',
        width=width,
        height=height,
        count=bands,
        dtype=mosaic.dtype.name,
        crs=dst_crs.to_wkt(),
        transform=transform,
        nodata=0,
        tiled=True,
        blockxsize=256,
        blockysize=256,
        compress='deflate',
    )
    try:
        with rasterio.open(tmp, 'w', **profile) as dst:
            cols = minx + (np.arange(width) + 0.5) * px_x
            for r0 in range(0, height, 256):
                rows = maxy - (np.arange(r0, min(r0 + 256, height)) + 0.5) * px_y
                gx, gy = np.meshgrid(cols, rows)
                lon, lat = to_ll.transform(gx, gy)
                x, y = proj.latlon_to_xy(lat, lon)
                # cv2.remap puts pixel centres at integer coordinates
                map_c = (x / res_w - 0.5).astype(np.float32)
                map_r = ((height_m - y) / res_w - 0.5).astype(np.float32)
                block = cv2.remap(
                    mosaic,
                    map_c,
                    map_r,
                    cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_CONSTANT,
                    borderValue=0,
                )
                if block.ndim == 2:
                    block = block[..., None]
                inside = (
                    (map_c >= -0.5)
                    & (map_c <= mosaic.shape[1] - 0.5)
                    & (map_r >= -0.5)
                    & (map_r <= mosaic.shape[0] - 0.5)
                )
                block = np.where(inside[..., None], np.maximum(block, 1), 0).astype(mosaic.dtype)
                window = rasterio.windows.Window(0, r0, width, block.shape[0])
                dst.write(block.transpose(2, 0, 1), window=window)
            dst.update_tags(
                gleamkit_world=json.dumps(world.kwargs), gleamkit_resolution_m=str(res_m)
            )
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def build_parser() -> argparse.ArgumentParser:
    from .__main__ import _positive_int, _unit_float

    p = argparse.ArgumentParser(
        prog='python -m gleamkit.synthetic export-geotiff',
        description="Write the synthetic world's satellite mosaic as a georeferenced GeoTIFF "
        '(tile it into a gallery with gleamkit.geo.RasterTileSource / RasterTileGalleryDataset).',
    )
    p.add_argument('--out', required=True, help='the GeoTIFF to write (e.g. region.tif)')
    p.add_argument(
        '--crs',
        default='utm',
        help="'utm' (the UTM zone of the world's origin, default), 'EPSG:3857', or "
        'any EPSG code / PROJ string',
    )
    p.add_argument(
        '--resolution-m',
        type=float,
        default=None,
        help="ground metres per pixel (default: the world's resolution_m)",
    )
    p.add_argument('--num-locations', type=_positive_int(1), default=1000)
    p.add_argument('--num-distractors', type=_positive_int(0), default=200)
    p.add_argument('--seed', type=_positive_int(0), default=0)
    p.add_argument('--difficulty', type=_unit_float, default=0.5)
    p.add_argument('--test-fraction', type=float, default=0.3)
    p.add_argument('--tile-size-m', type=float, default=160.0)
    p.add_argument(
        '--places',
        metavar='CSV',
        help="also write the world's places (location_id, lat, lon, x, y, split, "
        'is_distractor) to this CSV',
    )
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.out.lower().endswith(('.tif', '.tiff')):
        parser.error(f'--out must end in .tif or .tiff, got {args.out!r}')
    try:
        world = SyntheticWorld(
            seed=args.seed,
            num_locations=args.num_locations,
            num_distractors=args.num_distractors,
            difficulty=args.difficulty,
            test_fraction=args.test_fraction,
            tile_size_m=args.tile_size_m,
        )
        t0 = time.time()
        export_geotiff(world, args.out, crs=args.crs, resolution_m=args.resolution_m)
    except (TypeError, ValueError) as e:
        parser.error(str(e))
    if args.places:
        import csv

        with open(args.places, 'w', newline='') as f:
            writer = csv.DictWriter(f, fieldnames=list(world.locations[0].keys()))
            writer.writeheader()
            for loc in world.locations:
                writer.writerow(loc.to_dict())
    print(
        f'wrote {args.out} ({world.width_m:.0f} x {world.height_m:.0f} m region, '
        f'{len(world.locations)} places) in {time.time() - t0:.1f} s'
    )
    return 0


if __name__ == '__main__':
    sys.exit(main())
