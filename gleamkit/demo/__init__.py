"""The web demo: localise a query on the region's map and let GLEAM-X verify it
(``python tools/demo.py --gallery GALLERY ...``; docs/demo.md)."""

from .demo_backend import (
    DemoAnswer,
    DemoBackend,
    DemoInputError,
    check_explanations,
    load_explainer,
    read_upload,
)
from .region_map import draw_region_map

__all__ = [
    'DemoAnswer',
    'DemoBackend',
    'DemoInputError',
    'check_explanations',
    'draw_region_map',
    'load_explainer',
    'read_upload',
]
