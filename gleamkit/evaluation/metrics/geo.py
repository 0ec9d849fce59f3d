"""Geodesic helpers for localisation error.

Localisation error (GLEAM.md, "Evaluation protocols") is the great-circle
distance in metres between the centre of the top-1 gallery tile and the true
position of the query, summarised by its median and by the share of queries
within distance thresholds.
"""

from typing import Dict, Sequence

import numpy as np

__all__ = [
    'EARTH_RADIUS_M',
    'DEFAULT_THRESHOLDS_M',
    'haversine_m',
    'threshold_key',
    'localisation_summary',
]

#: Mean Earth radius (IUGG), metres.
EARTH_RADIUS_M = 6371008.8
#: Default distance thresholds of :func:`localisation_summary`, metres.
DEFAULT_THRESHOLDS_M = (25, 50, 100, 250, 1000)


def haversine_m(lat1, lon1, lat2, lon2, radius: float = EARTH_RADIUS_M) -> np.ndarray:
    """Great-circle distance in metres between WGS84 points given in degrees.

    Vectorised: the arguments broadcast against each other (scalars, lists or
    arrays). NaN in, NaN out. Error against the ellipsoid is up to ~0.5%, far
    below the size of a satellite tile at the distances that matter here.

    Example:
        >>> round(float(haversine_m(0, 0, 1, 0)))  # one degree of latitude
        111195
    """
    lat1, lon1, lat2, lon2 = (
        np.radians(np.asarray(v, dtype=np.float64)) for v in (lat1, lon1, lat2, lon2)
    )
    a = (
        np.sin((lat2 - lat1) / 2.0) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2.0) ** 2
    )
    # clip: rounding can push a slightly above 1 for antipodal points
    return 2.0 * radius * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def threshold_key(threshold: float) -> str:
    """Metric name of a threshold: ``100 -> 'within_100m'``, ``12.5 -> 'within_12.5m'``."""
    return f'within_{float(threshold):g}m'


def localisation_summary(
    errors_m, thresholds: Sequence[float] = DEFAULT_THRESHOLDS_M
) -> Dict[str, float]:
    """Median error and the share (%) of queries within each threshold.

    Args:
        errors_m: localisation errors in metres; NaN entries (queries without a
            known position) are left out.
        thresholds: distances in metres; a query at exactly the threshold counts
            as within it.

    Returns:
        ``{'median_error_m': ..., 'within_25m': ..., ..., 'num_localised': n}``
        with shares in [0, 100]; an empty dict when no error is known.
    """
    errors = np.asarray(errors_m, dtype=np.float64).reshape(-1)
    errors = errors[np.isfinite(errors)]
    if errors.size == 0:
        return {}
    out = {'median_error_m': float(np.median(errors))}
    for t in thresholds:
        out[threshold_key(t)] = float(np.mean(errors <= float(t)) * 100.0)
    out['num_localised'] = int(errors.size)
    return out
