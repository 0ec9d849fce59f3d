"""Gallery tiles cut from one georeferenced raster (GeoTIFF or anything rasterio reads).

Only windows are read: the tile grid is planned from the raster's header, every tile
is one windowed read resampled by GDAL to the output size (``out_shape``), so a raster
larger than memory works. See ``docs/gallery_sources.md``.
"""

import math
import os
import os.path as osp
import warnings
from collections.abc import Sequence
from typing import Iterator, Optional, Tuple, Union

import numpy as np

from .crs import ground_pixel_size_m
from .footprint import windows_centres_and_footprints
from .tiling import EDGES, Tile, metre_grid, pixel_grid

__all__ = ['RasterTileSource']

DOCS = 'docs/gallery_sources.md'
#: the largest nodata mask (pixels) read to decide which tiles are mostly empty
_MASK_PIXELS = 4_000_000


def _as_tuple(value, name) -> Tuple[float, ...]:
    if value is None:
        return ()
    values = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
            raise ValueError(
                f'RasterTileSource: {name}={value!r}, expected a number > 0 or a list of them'
            )
    return values


class RasterTileSource:
    """Square tiles of a georeferenced raster, each with its centre and WGS84 footprint.

    Tile sizes are in ground metres (``tile_m``, measured on the WGS84 ellipsoid, so
    UTM, EPSG:3857 and EPSG:4326 rasters all give tiles of the same ground size; see
    :mod:`gleamkit.geo.crs`) or in source pixels (``tile_px``). Every tile is
    resampled to ``out_size`` pixels.

    Args:
        path (str): the raster file.
        tile_m (float | sequence of float, optional): tile side(s) in ground metres;
            several values cut one grid per scale, e.g. ``(150, 300)``.
        stride_m (float | sequence of float, optional): step between tiles in metres,
            one value for all scales or one per scale. Defaults to half of each tile
            (50 % overlap: every point lies within a quarter tile of some centre).
        tile_px (int | sequence of int, optional): tile side(s) in source pixels,
            instead of ``tile_m``.
        stride_px (int | sequence of int, optional): step in pixels. Defaults to half
            of each tile.
        points (sequence of (lat, lon), optional): instead of a grid, one tile per
            point, centred on it (to within half a source pixel).
        out_size (int): output tile side in pixels. Defaults to 256.
        edge (str): ``'drop'`` partial tiles at the raster's edge (default) or
            ``'pad'`` them with ``fill`` so that the grid covers every pixel.
        bands (sequence of int, optional): the 1-based bands read as R, G, B (one
            band is repeated to grey RGB). Defaults to (1, 2, 3), or (1,) for a raster
            with fewer than 3 bands.
        value_range (tuple, optional): ``(low, high)`` source values mapped to 0..255
            for rasters that are not uint8 (e.g. ``(0, 3000)`` for uint16
            reflectances). Required for such rasters. Defaults to None.
        max_nodata (float): tiles with a larger share of nodata / masked pixels (in
            their part inside the raster) are left out. Defaults to 0.5.
        fill (int): value written where a tile has nodata or lies outside the raster.
            Defaults to 0.
        resampling (str): rasterio resampling name used to reach ``out_size``.
            Defaults to ``'bilinear'``.

    Attributes:
        tiles (sequence of Tile): the tiles, scale by scale, row band by row band. Kept
            as arrays (~130 bytes a tile: a million tiles plan in seconds);
            ``tiles[i]`` makes the :class:`Tile`; ``tiles.windows``, ``tiles.lats``,
            ``tiles.lons`` and ``tiles.footprints`` hold them all as arrays.
        crs, transform, width, height: the raster's header.
    """

    def __init__(
        self,
        path: str,
        tile_m: Union[float, Sequence[float], None] = None,
        stride_m: Union[float, Sequence[float], None] = None,
        tile_px: Union[int, Sequence[int], None] = None,
        stride_px: Union[int, Sequence[int], None] = None,
        points: Optional[Sequence[Tuple[float, float]]] = None,
        out_size: int = 256,
        edge: str = 'drop',
        bands: Optional[Sequence[int]] = None,
        value_range: Optional[Tuple[float, float]] = None,
        max_nodata: float = 0.5,
        fill: int = 0,
        resampling: str = 'bilinear',
    ):
        from rasterio.enums import Resampling

        self.path = str(path)
        if (tile_m is None) == (tile_px is None):
            raise ValueError(
                f'RasterTileSource({self.path!r}): give exactly one of tile_m '
                f'(metres) or tile_px (pixels), got tile_m={tile_m!r}, '
                f'tile_px={tile_px!r}'
            )
        if edge not in EDGES:
            raise ValueError(
                f'RasterTileSource({self.path!r}): edge={edge!r}, expected one of {EDGES}'
            )
        if isinstance(out_size, bool) or not isinstance(out_size, int) or out_size < 1:
            raise ValueError(
                f'RasterTileSource({self.path!r}): out_size={out_size!r}, expected an int >= 1'
            )
        if not 0.0 <= float(max_nodata) <= 1.0:
            raise ValueError(
                f'RasterTileSource({self.path!r}): max_nodata={max_nodata!r}, '
                'expected a fraction in [0, 1]'
            )
        try:
            self.resampling = Resampling[resampling]
        except KeyError:
            raise ValueError(
                f'RasterTileSource({self.path!r}): resampling={resampling!r}, '
                f'expected one of {[r.name for r in Resampling]}'
            ) from None
        self.unit = 'm' if tile_m is not None else 'px'
        self.sizes = _as_tuple(tile_m if tile_m is not None else tile_px, f'tile_{self.unit}')
        strides = _as_tuple(stride_m if tile_m is not None else stride_px, f'stride_{self.unit}')
        if not strides:
            strides = tuple(s / 2 for s in self.sizes)
        elif len(strides) == 1:
            strides = strides * len(self.sizes)
        elif len(strides) != len(self.sizes):
            raise ValueError(
                f'RasterTileSource({self.path!r}): {len(strides)} strides for '
                f'{len(self.sizes)} tile sizes; give one stride or one per size'
            )
        self.strides = strides
        self.points = None if points is None else [tuple(map(float, p)) for p in points]
        self.out_size = out_size
        self.edge = edge
        self.value_range = None if value_range is None else tuple(map(float, value_range))
        self.max_nodata = float(max_nodata)
        self.fill = int(fill)
        self._handle = None
        self._pid = None

        src = self._open()
        self.crs, self.transform = src.crs, src.transform
        self.width, self.height, self.dtype = src.width, src.height, src.dtypes[0]
        self._check_georeferenced(src)
        self.bands = self._pick_bands(src, bands)
        if self.dtype != 'uint8' and self.value_range is None:
            raise ValueError(
                f"{self.path}: the raster's values are {self.dtype}, not uint8; pass "
                'value_range=(low, high) to map source values to 0..255 (e.g. (0, 3000) for '
                f'uint16 reflectances, (0.0, 1.0) for float). See {DOCS}'
            )
        self.tiles = self._plan()
        if not len(self.tiles):
            raise ValueError(
                f'{self.path}: no tile left after dropping those with more than '
                f'{self.max_nodata:.0%} nodata; is the nodata value right '
                f'({src.nodata!r})? Raise max_nodata or check the raster.'
            )

    # ---------------------------------------------------------------- opening
    def _open(self):
        """The open dataset of this process (dataloader workers open their own)."""
        import rasterio
        from rasterio.errors import RasterioIOError

        if self._handle is not None and self._pid == os.getpid():
            return self._handle
        if not osp.exists(self.path) and '://' not in self.path:
            raise FileNotFoundError(f'raster not found: {self.path}; check the path (see {DOCS})')
        try:
            with warnings.catch_warnings():
                # the check below says what to do about a missing geotransform
                warnings.simplefilter('ignore', rasterio.errors.NotGeoreferencedWarning)
                self._handle = rasterio.open(self.path)
        except RasterioIOError as err:
            raise OSError(
                f'{self.path}: rasterio cannot read this raster ({err}); the file '
                'is corrupt or not a raster format GDAL knows - check it with '
                '`rio info` or `gdalinfo`, or re-export it as a GeoTIFF'
            ) from err
        self._pid = os.getpid()
        return self._handle

    def _check_georeferenced(self, src) -> None:
        if src.crs is None:
            raise ValueError(
                f'{self.path}: the raster has no CRS, so its tiles cannot be placed on Earth; '
                'assign one, e.g. `gdal_edit.py -a_srs EPSG:32650 FILE` or '
                '`rio edit-info --crs EPSG:32650 FILE`'
            )
        if src.transform.is_identity:
            raise ValueError(
                f'{self.path}: the raster has no geotransform (pixel -> map coordinates); '
                'set one, e.g. `gdal_edit.py -a_ullr ulx uly lrx lry FILE` or '
                '`rio edit-info --transform ... FILE`, or georeference it with GCPs and '
                'gdalwarp'
            )

    def _pick_bands(self, src, bands) -> Tuple[int, ...]:
        if bands is None:
            bands = (1, 2, 3) if src.count >= 3 else (1,)
        bands = tuple(int(b) for b in bands)
        bad = [b for b in bands if not 1 <= b <= src.count]
        if bad or len(bands) not in (1, 3):
            raise ValueError(
                f'{self.path}: bands={bands} - the raster has bands 1..{src.count}'
                '; give 3 band numbers (R, G, B) or 1 (grey)'
            )
        return bands

    # --------------------------------------------------------------- planning
    def pixel_size_m(self, row: float, col: Optional[float] = None) -> Tuple[float, float]:
        """Ground ``(width, height)`` in metres of the pixel at (row, col) (default col:
        the raster's middle column)."""
        col = self.width / 2 if col is None else col
        return ground_pixel_size_m(self.transform, self.crs, row, col)

    def _windows(self, size, stride) -> Tuple[np.ndarray, np.ndarray]:
        """``(windows (N, 4), point index (N,))`` of one scale (index -1: a grid)."""
        if self.points is not None:
            return self._point_windows(size)
        if self.unit == 'px':
            windows = pixel_grid(
                self.height, self.width, int(round(size)), int(round(stride)), self.edge
            )
        else:
            windows = metre_grid(
                self.height, self.width, size, stride, self.edge, self.pixel_size_m
            )
        return windows, np.full(len(windows), -1, np.int64)

    def _point_windows(self, size) -> Tuple[np.ndarray, np.ndarray]:
        from pyproj import Transformer

        to_crs = Transformer.from_crs('EPSG:4326', self.crs.to_wkt(), always_xy=True)
        windows, index = [], []
        for i, (lat, lon) in enumerate(self.points):
            x, y = to_crs.transform(lon, lat)
            col, row = ~self.transform @ (x, y)
            if self.unit == 'px':
                h = w = int(round(size))
            else:
                pw, ph = self.pixel_size_m(row, col)
                h, w = max(1, round(size / ph)), max(1, round(size / pw))
            r0, c0 = int(round(row - h / 2)), int(round(col - w / 2))
            inside = r0 >= 0 and c0 >= 0 and r0 + h <= self.height and c0 + w <= self.width
            overlaps = r0 < self.height and c0 < self.width and r0 + h > 0 and c0 + w > 0
            if inside or (self.edge == 'pad' and overlaps):
                windows.append((r0, c0, h, w))
                index.append(i)
        if len(index) < len(self.points):
            warnings.warn(
                f'{self.path}: {len(self.points) - len(index)} of {len(self.points)} '
                f'points have no whole {size:g} {self.unit} tile inside the raster; '
                "they are left out (edge='pad' keeps those that overlap it)"
            )
        return np.array(windows, np.int64).reshape(-1, 4), np.array(index, np.int64)

    def _plan(self) -> '_RasterTiles':
        windows, scales, points = [], [], []
        for k, (size, stride) in enumerate(zip(self.sizes, self.strides)):
            win, index = self._windows(size, stride)
            if not len(win):
                raise ValueError(self._too_large_message(size))
            keep = 1.0 - self._valid_fractions(win) <= self.max_nodata
            windows.append(win[keep])
            points.append(index[keep])
            scales.append(np.full(int(keep.sum()), k, np.int64))
        windows = np.concatenate(windows)
        lat, lon, footprint = windows_centres_and_footprints(self.transform, self.crs, windows)
        return _RasterTiles(
            self, windows, np.concatenate(scales), np.concatenate(points), lat, lon, footprint
        )

    def _too_large_message(self, size) -> str:
        pw, ph = self.pixel_size_m(self.height / 2)
        where = (
            'no point of `points` lies (with its whole tile) inside the raster'
            if self.points is not None
            else 'the tile is larger than the raster'
        )
        return (
            f'{self.path}: {where}: tile_{self.unit}={size:g} vs a raster of '
            f'{self.width} x {self.height} px = {self.width * pw:.0f} x '
            f'{self.height * ph:.0f} m; use a smaller tile_{self.unit}'
            + (" or edge='pad'" if self.edge == 'drop' else '')
            + (
                ' (or check that the points are lat, lon in WGS84)'
                if self.points is not None
                else ''
            )
        )

    def _valid_fractions(self, windows: np.ndarray) -> np.ndarray:
        """Share of valid (not nodata) pixels in the part of each window inside the
        raster (a padded tile's outside is not nodata), from one coarse mask."""
        from rasterio.enums import MaskFlags

        src = self._open()
        flags = [src.mask_flag_enums[b - 1] for b in self.bands]
        if src.nodata is None and all(f == [MaskFlags.all_valid] for f in flags):
            return np.ones(len(windows))
        step = max(1, math.ceil(math.sqrt(self.width * self.height / _MASK_PIXELS)))
        shape = (max(1, self.height // step), max(1, self.width // step))
        mask = (src.dataset_mask(out_shape=shape) > 0).astype(np.int64)
        # summed-area table: any window's valid count from four look-ups
        table = np.zeros((shape[0] + 1, shape[1] + 1), np.int64)
        table[1:, 1:] = mask.cumsum(0).cumsum(1)
        r, c, h, w = windows.T
        fy, fx = shape[0] / self.height, shape[1] / self.width
        r0 = np.clip(np.floor(r * fy), 0, shape[0]).astype(np.int64)
        r1 = np.clip(np.ceil((r + h) * fy), 0, shape[0]).astype(np.int64)
        c0 = np.clip(np.floor(c * fx), 0, shape[1]).astype(np.int64)
        c1 = np.clip(np.ceil((c + w) * fx), 0, shape[1]).astype(np.int64)
        valid = table[r1, c1] - table[r0, c1] - table[r1, c0] + table[r0, c0]
        area = (r1 - r0) * (c1 - c0)
        return np.where(area > 0, valid / np.maximum(area, 1), 0.0)

    # ---------------------------------------------------------------- reading
    def __len__(self) -> int:
        return len(self.tiles)

    @property
    def windows(self) -> np.ndarray:
        """``(N, 4)`` int64 ``(row_off, col_off, height, width)`` of every tile."""
        return self.tiles.windows

    def __iter__(self) -> Iterator[Tile]:
        return iter(self.tiles)

    def __getitem__(self, index: int) -> Tile:
        return self.tiles[index]

    def read(self, tile: Union[Tile, int]) -> np.ndarray:
        """The tile as an ``(out_size, out_size, 3)`` RGB uint8 array (one windowed
        read of the part inside the raster; the rest, and nodata, are ``fill``)."""
        from rasterio.errors import RasterioIOError
        from rasterio.windows import Window

        if not isinstance(tile, Tile):
            tile = self.tiles[tile]
        r, c, h, w = tile.window
        n = self.out_size
        canvas = np.full((len(self.bands), n, n), np.nan, np.float32)
        ir0, ir1 = max(r, 0), min(r + h, self.height)
        ic0, ic1 = max(c, 0), min(c + w, self.width)
        # where the inside part lands in the output tile
        or0, or1 = round((ir0 - r) * n / h), round((ir1 - r) * n / h)
        oc0, oc1 = round((ic0 - c) * n / w), round((ic1 - c) * n / w)
        if ir1 > ir0 and ic1 > ic0 and or1 > or0 and oc1 > oc0:
            try:
                data = self._open().read(
                    list(self.bands),
                    window=Window(ic0, ir0, ic1 - ic0, ir1 - ir0),
                    out_shape=(len(self.bands), or1 - or0, oc1 - oc0),
                    resampling=self.resampling,
                    masked=True,
                )
            except RasterioIOError as err:
                raise OSError(
                    f'{self.path}: reading tile {tile.tile_id} (window rows '
                    f'{ir0}:{ir1}, cols {ic0}:{ic1}) failed: {err}; the raster may '
                    'be truncated or corrupt - check it with `gdalinfo -checksum`'
                ) from err
            canvas[:, or0:or1, oc0:oc1] = np.ma.filled(data.astype(np.float32), np.nan)
        img = self._to_uint8(canvas)
        if img.shape[0] == 1:
            img = np.repeat(img, 3, axis=0)
        return np.ascontiguousarray(img.transpose(1, 2, 0))

    def _to_uint8(self, data: np.ndarray) -> np.ndarray:
        missing = np.isnan(data)
        if self.value_range is not None:
            lo, hi = self.value_range
            data = (data - lo) * (255.0 / max(hi - lo, 1e-12))
        out = np.clip(np.nan_to_num(data, nan=0.0), 0, 255).round().astype(np.uint8)
        out[missing] = self.fill
        return out

    def close(self) -> None:
        if self._handle is not None and self._pid == os.getpid():
            self._handle.close()
        self._handle = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state['_handle'] = None  # an open GDAL dataset does not pickle
        return state

    def __repr__(self):
        return (
            f'RasterTileSource({self.path!r}, tile_{self.unit}={self.sizes}, '
            f'stride_{self.unit}={self.strides}, out_size={self.out_size}, '
            f'edge={self.edge!r}, tiles={len(self.tiles)})'
        )


class _RasterTiles(Sequence):
    """The tiles of a :class:`RasterTileSource` as arrays; items are :class:`Tile`."""

    def __init__(self, source, windows, scales, points, lats, lons, footprints):
        self.path = source.path
        self.stem = osp.splitext(osp.basename(source.path))[0]
        self.labels = [f'{s:g}{source.unit}' for s in source.sizes]
        self.size_m = [float(s) if source.unit == 'm' else None for s in source.sizes]
        self.windows, self.scales, self.points = windows, scales, points
        self.lats, self.lons, self.footprints = lats, lons, footprints

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        index = range(len(self))[index]  # negative indices, IndexError
        r, c, h, w = (int(v) for v in self.windows[index])
        k = int(self.scales[index])
        point = int(self.points[index])
        name = f'p{point}' if point >= 0 else f'{r}_{c}'
        footprint = tuple((float(x), float(y)) for x, y in self.footprints[index])
        return Tile(
            f'{self.stem}/{self.labels[k]}/{name}',
            float(self.lats[index]),
            float(self.lons[index]),
            footprint,
            self.path,
            (r, c, h, w),
            self.size_m[k],
        )
