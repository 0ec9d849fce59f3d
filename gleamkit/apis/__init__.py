"""What a user calls from Python: localise images against a gallery of satellite tiles.

See ``docs/tutorials/localize_your_own_image.md``.
"""

from .geo_localizer import GeoLocalizer
from .localization_result import (
    LocalizationResult,
    RetrievedTile,
    estimate_position,
    geodesic_distance_m,
)

__all__ = [
    'GeoLocalizer',
    'LocalizationResult',
    'RetrievedTile',
    'estimate_position',
    'geodesic_distance_m',
]
