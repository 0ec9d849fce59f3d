"""Geodata without torch: coordinate systems, footprints and tile grids, and the
tile sources a gallery is cut from (a georeferenced raster, a slippy-map folder).

* :mod:`.crs` - WGS84 transformers, ground pixel sizes, the UTM zone of a point.
* :mod:`.footprint` - a tile's centre and WGS84 footprint from a pixel window.
* :mod:`.tiling` - the :class:`Tile` record and tile grids in metres or pixels.
* :mod:`.raster_tiles` - :class:`RasterTileSource`: tiles of a GeoTIFF (any CRS),
  read through windows.
* :mod:`.slippy_tiles` - :class:`SlippyTileSource`: a ``z/x/y.png`` folder.

``gleamkit.datasets.tile_gallery`` wraps the sources as gallery datasets; see
``docs/gallery_sources.md``.
"""

from .crs import ground_pixel_size_m, utm_crs_for, wgs84_transformer
from .footprint import window_centre_and_footprint
from .raster_tiles import RasterTileSource
from .slippy_tiles import SlippyTileSource
from .tiling import Tile, grid_offsets

__all__ = [
    'Tile',
    'grid_offsets',
    'RasterTileSource',
    'SlippyTileSource',
    'ground_pixel_size_m',
    'utm_crs_for',
    'wgs84_transformer',
    'window_centre_and_footprint',
]
