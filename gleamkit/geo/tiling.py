"""Tile records and tile grids in pixels or ground metres (pure arithmetic)."""

from dataclasses import dataclass, field
from typing import Callable, List, Optional, Tuple

import numpy as np

__all__ = ['Tile', 'EDGES', 'grid_offsets', 'pixel_grid', 'metre_grid']

#: what to do with the raster's edge: ``'drop'`` partial tiles or ``'pad'`` them
EDGES = ('drop', 'pad')

#: a pixel window: (row_off, col_off, height, width)
Window = Tuple[int, int, int, int]


@dataclass(frozen=True)
class Tile:
    """One gallery tile: where it comes from and where it lies on Earth.

    Attributes:
        tile_id (str): unique within its source (``'region/150m/300_450'``,
            ``'17/104321/52012'``, ...).
        lat, lon (float): WGS84 position of the tile's centre.
        footprint (tuple): the four corners as ``(lon, lat)`` pairs (GeoJSON order),
            top-left, top-right, bottom-right, bottom-left of the image.
        path (str): the file the tile is read from (a raster or an image).
        window (tuple, optional): ``(row_off, col_off, height, width)`` in source
            pixels, for raster tiles.
        size_m (float, optional): the tile's nominal side on the ground (metres).
        extra (dict): source-specific fields (``zoom``, ``x``, ``y``, ...).
    """

    tile_id: str
    lat: float
    lon: float
    footprint: tuple
    path: str
    window: Optional[Window] = None
    size_m: Optional[float] = None
    extra: dict = field(default_factory=dict)

    def to_info(self) -> dict:
        """The tile as gallery metadata: ``tile_id, lat, lon, footprint,
        reference_path`` (+ ``tile_window``, ``tile_size_m`` and ``extra``)."""
        info = dict(
            tile_id=self.tile_id,
            lat=self.lat,
            lon=self.lon,
            footprint=[list(p) for p in self.footprint],
            reference_path=self.path,
        )
        if self.window is not None:
            info['tile_window'] = list(self.window)
        if self.size_m is not None:
            info['tile_size_m'] = self.size_m
        info.update(self.extra)
        return info


def _check_edge(edge: str) -> None:
    if edge not in EDGES:
        raise ValueError(f'edge={edge!r}, expected one of {EDGES}')


def grid_offsets(length: int, tile: int, stride: int, edge: str = 'drop') -> List[int]:
    """Start offsets of tiles of ``tile`` pixels every ``stride`` along ``length``.

    ``edge='drop'`` keeps only tiles inside ``[0, length)``; ``'pad'`` adds tiles
    until one reaches the end (its outside part is padded when read), so every pixel
    is covered.
    """
    _check_edge(edge)
    if tile < 1 or stride < 1:
        raise ValueError(f'tile and stride must be >= 1 pixel, got tile={tile}, stride={stride}')
    offsets = []
    off = 0
    while off + tile <= length:
        offsets.append(off)
        off += stride
    if edge == 'pad' and length > 0 and (not offsets or offsets[-1] + tile < length):
        offsets.append(off if offsets else 0)
    return offsets


def _band(row: int, cols: List[int], tile_h: int, tile_w: int) -> np.ndarray:
    out = np.empty((len(cols), 4), np.int64)
    out[:, 0], out[:, 1], out[:, 2], out[:, 3] = row, cols, tile_h, tile_w
    return out


def _stack(bands: List[np.ndarray]) -> np.ndarray:
    return np.concatenate(bands) if bands else np.empty((0, 4), np.int64)


def pixel_grid(height: int, width: int, tile_px: int, stride_px: int, edge: str) -> np.ndarray:
    """Windows of ``tile_px`` x ``tile_px`` pixels every ``stride_px``, row by row: an
    ``(N, 4)`` int64 array of ``(row_off, col_off, height, width)``."""
    cols = grid_offsets(width, tile_px, stride_px, edge)
    return _stack(
        [_band(r, cols, tile_px, tile_px) for r in grid_offsets(height, tile_px, stride_px, edge)]
    )


def metre_grid(
    height: int,
    width: int,
    tile_m: float,
    stride_m: float,
    edge: str,
    pixel_size_at: Callable[[float], Tuple[float, float]],
) -> np.ndarray:
    """Windows ``tile_m`` x ``tile_m`` ground metres every ``stride_m``, row band by band
    (an ``(N, 4)`` int64 array of ``(row_off, col_off, height, width)``).

    Args:
        height, width: raster size in pixels.
        tile_m, stride_m: tile side and step on the ground (metres).
        edge: ``'drop'`` or ``'pad'`` (see :func:`grid_offsets`).
        pixel_size_at: ``row -> (pixel width m, pixel height m)`` along the raster's
            middle column. It is asked again for every band of tiles, so a raster whose
            pixels change size with latitude (EPSG:3857, EPSG:4326) keeps its tiles
            ``tile_m`` wide on the ground in every band.

    A window's side is ``tile_m`` divided by the pixel size, rounded to whole
    pixels (at most half a pixel off on the ground).
    """
    _check_edge(edge)
    if tile_m <= 0 or stride_m <= 0:
        raise ValueError(f'tile_m and stride_m must be > 0, got {tile_m}, {stride_m}')
    bands: List[np.ndarray] = []
    row = 0
    while row < height:
        pw, ph = pixel_size_at(row)
        # measure again at the band's middle: the band is tile_m tall, not one pixel
        pw, ph = pixel_size_at(min(height - 1, row + 0.5 * tile_m / ph))
        tile_h, tile_w = max(1, round(tile_m / ph)), max(1, round(tile_m / pw))
        stride_h, stride_w = max(1, round(stride_m / ph)), max(1, round(stride_m / pw))
        if row + tile_h > height and edge == 'drop':
            break
        bands.append(_band(row, grid_offsets(width, tile_w, stride_w, edge), tile_h, tile_w))
        if row + tile_h >= height:
            break
        row += stride_h
    return _stack(bands)
