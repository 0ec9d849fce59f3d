"""The built-in synthetic world: a procedural region rendered in five views.

A data generator, not a dataset: :mod:`.world` (the region and :class:`SyntheticWorld`),
:mod:`.render` (one renderer per view), :mod:`.cache`, :mod:`.preview`, the command line
(``python -m gleamkit.synthetic``) and :mod:`.captions` (the GLEAM-X explanations written
from the scene's facts). ``gleamkit/datasets/`` wraps it in thin dataset classes. See
:class:`SyntheticWorld` and ``docs/synthetic_world.md``.
"""

from .cache import RENDER_VERSION, default_cache_dir, load_or_render
from .world.geo import LocalProjection, haversine_m
from .world.synthetic_world import QUERY_VIEWS, VIEWS, Location, SyntheticWorld

__all__ = [
    'SyntheticWorld',
    'Location',
    'VIEWS',
    'QUERY_VIEWS',
    'load_or_render',
    'RENDER_VERSION',
    'default_cache_dir',
    'haversine_m',
    'LocalProjection',
]
