"""Metres <-> WGS84 conversion for the synthetic world.

The world lives on a local tangent plane: ``x`` points east and ``y`` points north,
both in metres, with the origin at the south-west corner of the region. Positions
are converted to latitude/longitude with an equirectangular projection about the
centre of the region (exact to well below 0.1 % over a few kilometres).
"""

import math

import numpy as np

EARTH_RADIUS_M = 6371008.8  # mean Earth radius (IUGG)

__all__ = ['EARTH_RADIUS_M', 'LocalProjection', 'haversine_m']


def haversine_m(lat1, lon1, lat2, lon2):
    """Great-circle distance in metres (scalars or broadcastable arrays)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


class LocalProjection:
    """Equirectangular projection about a reference point.

    Args:
        ref_lat, ref_lon: WGS84 position (degrees) of the metric point
            ``(ref_x, ref_y)``.
        ref_x, ref_y: metric coordinates (metres) of the reference point.
    """

    def __init__(self, ref_lat: float, ref_lon: float, ref_x: float = 0.0, ref_y: float = 0.0):
        self.ref_lat = float(ref_lat)
        self.ref_lon = float(ref_lon)
        self.ref_x = float(ref_x)
        self.ref_y = float(ref_y)
        self._m_per_deg_lat = math.pi * EARTH_RADIUS_M / 180.0
        self._m_per_deg_lon = self._m_per_deg_lat * math.cos(math.radians(self.ref_lat))

    def xy_to_latlon(self, x, y):
        """Metres (east, north) -> (lat, lon) in degrees."""
        lat = self.ref_lat + (np.asarray(y, dtype=np.float64) - self.ref_y) / self._m_per_deg_lat
        lon = self.ref_lon + (np.asarray(x, dtype=np.float64) - self.ref_x) / self._m_per_deg_lon
        return lat, lon

    def latlon_to_xy(self, lat, lon):
        """(lat, lon) in degrees -> metres (east, north)."""
        y = self.ref_y + (np.asarray(lat, dtype=np.float64) - self.ref_lat) * self._m_per_deg_lat
        x = self.ref_x + (np.asarray(lon, dtype=np.float64) - self.ref_lon) * self._m_per_deg_lon
        return x, y
