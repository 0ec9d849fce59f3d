"""The captioner of the built-in world: what a tile contains (:mod:`.scene_facts`), the
reference explanation of a pair written from those facts in English and Chinese
(:mod:`.explanation_writer`), and the offline GLEAM-X set built from both
(:mod:`.synthetic_explanations`)."""

from .explanation_writer import VIEW_CAPS, ExplanationWriter, differences
from .scene_facts import SceneFacts, crop_rasters, layout_statistics, tile_facts
from .synthetic_explanations import build_synthetic_set, ensure_synthetic_set

__all__ = [
    'ExplanationWriter',
    'VIEW_CAPS',
    'differences',
    'SceneFacts',
    'tile_facts',
    'crop_rasters',
    'layout_statistics',
    'build_synthetic_set',
    'ensure_synthetic_set',
]
