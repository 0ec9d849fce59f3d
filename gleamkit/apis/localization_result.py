"""What :meth:`GeoLocalizer.localize` returns per query, and how one position is
estimated from the top-K tiles."""

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

__all__ = [
    'LocalizationResult',
    'RetrievedTile',
    'estimate_position',
    'geodesic_distance_m',
    'tile_size_m',
]


@dataclass
class RetrievedTile:
    """One gallery tile among a query's top K.

    Attributes:
        rank: 1 for the best tile.
        tile_id: the tile's id in the gallery.
        score: cosine similarity with the query (higher is better).
        lat, lon: the tile's centre, WGS84 degrees.
        footprint: the tile's corners as ``[lon, lat]`` pairs (empty if unknown).
        index: the tile's position in the gallery (for reading its pixels).
        retrieval_rank: the rank retrieval gave (differs from ``rank`` after
            re-ranking).
        p_match: GLEAM-X's P(match) for the tile (verified tiles only, else None).
        verdict: ``'match'`` / ``'no match'`` from ``p_match`` (else None).
        explanation: GLEAM-X's explanation (with ``explain=True``, else None).
        fused_score: the score the re-ranking ordered by (else None).
    """

    rank: int
    tile_id: str
    score: float
    lat: float
    lon: float
    footprint: List[List[float]] = field(default_factory=list)
    index: int = -1
    retrieval_rank: Optional[int] = None
    p_match: Optional[float] = None
    verdict: Optional[str] = None
    explanation: Optional[str] = None
    fused_score: Optional[float] = None


@dataclass
class LocalizationResult:
    """Where one query (an image or an image set) was taken.

    Attributes:
        query: the query's name (file path(s), or ``query_<i>`` for arrays).
        view: the view the query was embedded as (``'uav'``, ``'ground'``, ...).
        tiles: the top-K :class:`RetrievedTile`, best first.
        lat, lon: the position estimate (WGS84 degrees).
        radius_m: its uncertainty radius in metres.
        num_support: how many top tiles the estimate averages.
        true_lat, true_lon: the true position when given.
        error_m: geodesic distance estimate -> truth in metres when the truth is given.
        top1_error_m: geodesic distance top-1 tile centre -> truth.
        verification: with re-ranking, ``dict(status='ok' | 'failed', message,
            fusion_weight, rerank, language, seconds)``; None without.
    """

    query: str
    view: str
    tiles: List[RetrievedTile]
    lat: float
    lon: float
    radius_m: float
    num_support: int = 1
    true_lat: Optional[float] = None
    true_lon: Optional[float] = None
    error_m: Optional[float] = None
    top1_error_m: Optional[float] = None
    verification: Optional[Dict[str, Any]] = None

    @property
    def top1(self) -> RetrievedTile:
        return self.tiles[0]

    def to_dict(self) -> Dict[str, Any]:
        """A JSON-able dict (what ``results.json`` holds per query)."""
        return asdict(self)

    def __getitem__(self, key: str):  # dict-style access: result['lat']
        return getattr(self, key)


def geodesic_distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Distance on the WGS84 ellipsoid in metres (``pyproj.Geod.inv``)."""
    from pyproj import Geod

    return float(Geod(ellps='WGS84').inv(lon1, lat1, lon2, lat2)[2])


def tile_size_m(footprint: Sequence[Sequence[float]]) -> Optional[float]:
    """Mean side of a tile footprint (``[lon, lat]`` corners) in metres, or None."""
    if footprint is None or len(footprint) < 3:
        return None
    corners = list(footprint) + [footprint[0]]
    sides = [geodesic_distance_m(a[1], a[0], b[1], b[0]) for a, b in zip(corners, corners[1:])]
    return float(np.mean(sides))


def estimate_position(
    tiles: Sequence[RetrievedTile], margin: float = 0.05, min_radius_m: Optional[float] = None
):
    """One position from the top tiles: the score-weighted mean of the centres of the
    tiles scoring within ``margin`` of the best, in a local tangent plane (azimuthal
    equidistant, centred on the best tile).

    The weight of a tile is ``(score - (best - margin)) / margin`` (1 for the best,
    falling to 0 at the margin), so near-ties pull the estimate between them and a
    clear winner keeps it on its centre.

    Args:
        tiles: the top tiles, best first.
        margin: cosine-similarity margin below the best score. Defaults to 0.05.
        min_radius_m: the least uncertainty radius. Defaults to None: half the best
            tile's side (a tile does not locate its image more finely).

    Returns:
        ``(lat, lon, radius_m, num_support)``; the radius is the weighted RMS distance
        of the supporting centres from the estimate, at least ``min_radius_m``.
    """
    if not tiles:
        raise ValueError('cannot estimate a position from no tiles')
    if margin <= 0:
        raise ValueError(f'margin must be > 0, got {margin}')
    best = tiles[0]
    scores = np.array([t.score for t in tiles], dtype=np.float64)
    keep = scores >= scores[0] - margin
    support = [t for t, k in zip(tiles, keep) if k]
    weights = (scores[keep] - (scores[0] - margin)) / margin
    weights = np.clip(weights, 1e-6, None)
    x, y = _to_tangent_plane(best, [t.lon for t in support], [t.lat for t in support])
    ex, ey = np.average(x, weights=weights), np.average(y, weights=weights)
    lon, lat = _from_tangent_plane(best, ex, ey)
    spread = math.sqrt(float(np.average((x - ex) ** 2 + (y - ey) ** 2, weights=weights)))
    if min_radius_m is None:
        side = tile_size_m(best.footprint)
        min_radius_m = side / 2 if side else 0.0
    return float(lat), float(lon), max(spread, float(min_radius_m)), len(support)


# The azimuthal equidistant plane around the best tile, by geodesics (what pyproj's
# ellipsoidal aeqd computes): building two pyproj Transformers per query took ~60 ms,
# most of a localize() call.
def _to_tangent_plane(centre: RetrievedTile, lons, lats):
    from gleamkit.geo.crs import GEOD

    lons, lats = np.asarray(lons, float), np.asarray(lats, float)
    azimuth, _, dist = GEOD.inv(
        np.full_like(lons, centre.lon), np.full_like(lats, centre.lat), lons, lats
    )
    azimuth = np.radians(np.asarray(azimuth, float))
    dist = np.asarray(dist, float)
    return dist * np.sin(azimuth), dist * np.cos(azimuth)


def _from_tangent_plane(centre: RetrievedTile, x: float, y: float):
    from gleamkit.geo.crs import GEOD

    lon, lat, _ = GEOD.fwd(centre.lon, centre.lat, math.degrees(math.atan2(x, y)), math.hypot(x, y))
    return lon, lat
