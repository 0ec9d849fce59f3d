"""Tile centres and footprints in WGS84 from pixel windows (vectorised: one pyproj call
for any number of windows)."""

from typing import Tuple

import numpy as np

from .crs import wgs84_transformer

__all__ = ['windows_centres_and_footprints', 'window_centre_and_footprint']

#: a footprint: four (lon, lat) corners, GeoJSON order, not closed
Footprint = Tuple[Tuple[float, float], ...]

# (column, row) of the centre and the corners top-left, top-right, bottom-right,
# bottom-left, as fractions of the window
_POINTS = np.array([[0.5, 0.5], [0, 0], [1, 0], [1, 1], [0, 1]], np.float64)


def windows_centres_and_footprints(transform, crs, windows) -> Tuple[np.ndarray, ...]:
    """Centres and WGS84 footprints of many pixel windows.

    Args:
        transform: the raster's affine geotransform (pixel -> CRS coordinates).
        crs: the raster's CRS.
        windows: ``(N, 4)`` array of ``(row_off, col_off, height, width)``.

    Returns:
        ``(lat, lon, footprint)``: ``(N,)`` centre latitudes and longitudes (the centre
        of each window's pixel grid, not the mean of its corners) and ``(N, 4, 2)``
        corners as ``(lon, lat)`` (GeoJSON order) in pixel order top-left, top-right,
        bottom-right, bottom-left (clockwise from north-west for a north-up raster).
    """
    w = np.asarray(windows, np.float64).reshape(-1, 4)
    cols = w[:, None, 1] + _POINTS[None, :, 0] * w[:, None, 3]
    rows = w[:, None, 0] + _POINTS[None, :, 1] * w[:, None, 2]
    a, b, c, d, e, f = transform[:6]
    xs, ys = a * cols + b * rows + c, d * cols + e * rows + f
    lons, lats = wgs84_transformer(crs).transform(xs.ravel(), ys.ravel())
    lons = np.asarray(lons).reshape(-1, 5)
    lats = np.asarray(lats).reshape(-1, 5)
    return lats[:, 0], lons[:, 0], np.stack([lons[:, 1:], lats[:, 1:]], axis=-1)


def window_centre_and_footprint(
    transform, crs, row_off: float, col_off: float, height: float, width: float
) -> Tuple[float, float, Footprint]:
    """Centre ``(lat, lon)`` and footprint (four ``(lon, lat)`` corners) of one window;
    see :func:`windows_centres_and_footprints`."""
    lat, lon, fp = windows_centres_and_footprints(
        transform, crs, [[row_off, col_off, height, width]]
    )
    return float(lat[0]), float(lon[0]), tuple((float(x), float(y)) for x, y in fp[0])
