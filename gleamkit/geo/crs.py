"""Coordinate reference systems: to WGS84, ground metres per pixel, UTM zones.

Ground metres
-------------
A tile size "in metres" means metres *on the ground*. The units of a raster's CRS are
not always that: EPSG:4326 counts degrees, and web-mercator (EPSG:3857) metres are
stretched by ``1 / cos(latitude)`` (a 3857 "metre" at 60 deg N is half a metre of
ground). So gleamkit measures a raster's pixel on the WGS84 ellipsoid instead of
reading it from the CRS units: :func:`ground_pixel_size_m` is the geodesic length
(``pyproj.Geod``) of one pixel step east and one step south at a given pixel. This
one rule covers projected CRSs (UTM: the grid's scale factor, 0.9996 .. 1.001, is
included), EPSG:3857 (the ``cos(lat)`` factor, plus the ellipsoid's) and geographic
CRSs (degrees of longitude shrink with ``cos(lat)``).
"""

import math
from functools import lru_cache
from typing import Tuple

from pyproj import CRS, Geod, Transformer

__all__ = ['WGS84', 'GEOD', 'wgs84_transformer', 'ground_pixel_size_m', 'utm_crs_for']

WGS84 = CRS.from_epsg(4326)
GEOD = Geod(ellps='WGS84')


@lru_cache(maxsize=32)
def _transformer(crs_wkt: str) -> Transformer:
    return Transformer.from_crs(CRS.from_wkt(crs_wkt), WGS84, always_xy=True)


def wgs84_transformer(crs) -> Transformer:
    """A ``Transformer`` from ``crs`` (anything ``pyproj.CRS`` accepts, or a rasterio
    CRS) to WGS84, ``always_xy``: it takes (x, y) and returns (lon, lat)."""
    if hasattr(crs, 'to_wkt'):
        crs = crs.to_wkt()
    return _transformer(CRS.from_user_input(crs).to_wkt())


def ground_pixel_size_m(transform, crs, row: float, col: float) -> Tuple[float, float]:
    """Ground size (metres) of the pixel at (``row``, ``col``): ``(width, height)``.

    Args:
        transform: the raster's affine geotransform (pixel -> CRS coordinates).
        crs: the raster's CRS.
        row, col: pixel position (may be fractional).

    Returns:
        The geodesic lengths on the WGS84 ellipsoid of one column step and one row
        step starting at (row, col).
    """
    to_ll = wgs84_transformer(crs)
    xs, ys = [], []
    for dr, dc in ((0, 0), (0, 1), (1, 0)):
        x, y = transform @ (col + dc, row + dr)
        xs.append(x)
        ys.append(y)
    lons, lats = to_ll.transform(xs, ys)
    _, _, width = GEOD.inv(lons[0], lats[0], lons[1], lats[1])
    _, _, height = GEOD.inv(lons[0], lats[0], lons[2], lats[2])
    if not (math.isfinite(width) and math.isfinite(height)) or width <= 0 or height <= 0:
        raise ValueError(
            f'pixel ({row}, {col}) has no finite ground size in CRS {crs} '
            f'(width {width} m, height {height} m): is the geotransform right?'
        )
    return float(width), float(height)


def utm_crs_for(lat: float, lon: float) -> CRS:
    """The WGS84 / UTM zone CRS (EPSG:326xx north, 327xx south) containing a point."""
    if not -80.0 <= lat <= 84.0:
        raise ValueError(f'UTM covers latitudes -80 .. 84, got {lat}; use a polar CRS')
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)
