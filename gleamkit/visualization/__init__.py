"""Drawing: the localisation report (query, top-K tiles, map of the candidates)."""

from .localization_map import write_localization_map
from .localization_report import (
    draw_localization_report,
    footprint_contains,
    raster_thumbnail_wgs84,
)

__all__ = [
    'draw_localization_report',
    'footprint_contains',
    'raster_thumbnail_wgs84',
    'write_localization_map',
]
