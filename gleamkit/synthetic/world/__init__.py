"""The world itself: the procedural layout (:mod:`.layout`), metres <-> WGS84
(:mod:`.geo`) and :class:`SyntheticWorld`, which places the locations and renders them
with :mod:`gleamkit.synthetic.render`."""

from .geo import LocalProjection, haversine_m
from .layout import Layout, generate_layout
from .synthetic_world import QUERY_VIEWS, VIEWS, Location, SyntheticWorld

__all__ = [
    'SyntheticWorld',
    'Location',
    'VIEWS',
    'QUERY_VIEWS',
    'Layout',
    'generate_layout',
    'haversine_m',
    'LocalProjection',
]
