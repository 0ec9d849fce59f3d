"""A tile's centre and footprint in WGS84 from its pixel window."""

from typing import Tuple

from .crs import wgs84_transformer

__all__ = ["window_centre_and_footprint"]

#: a footprint: four (lon, lat) corners, GeoJSON order, not closed
Footprint = Tuple[Tuple[float, float], ...]


def window_centre_and_footprint(
    transform, crs, row_off: float, col_off: float, height: float, width: float
) -> Tuple[float, float, Footprint]:
    """Centre latitude/longitude and WGS84 footprint of a pixel window.

    Args:
        transform: the raster's affine geotransform (pixel -> CRS coordinates).
        crs: the raster's CRS.
        row_off, col_off: the window's top-left pixel corner.
        height, width: the window's size in pixels.

    Returns:
        ``(lat, lon, footprint)``: the WGS84 position of the window's centre (the
        centre of the pixel grid, not the mean of the corners) and its four corners as
        ``(lon, lat)`` pairs (GeoJSON order) in pixel order top-left, top-right,
        bottom-right, bottom-left (clockwise from north-west for a north-up raster).
    """
    cols = [col_off + width / 2, col_off, col_off + width, col_off + width, col_off]
    rows = [row_off + height / 2, row_off, row_off, row_off + height, row_off + height]
    xs, ys = zip(*(transform @ (c, r) for c, r in zip(cols, rows)))
    lons, lats = wgs84_transformer(crs).transform(xs, ys)
    footprint = tuple((float(lo), float(la)) for lo, la in zip(lons[1:], lats[1:]))
    return float(lats[0]), float(lons[0]), footprint
