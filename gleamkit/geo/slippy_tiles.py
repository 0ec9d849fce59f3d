"""Gallery tiles from a folder of slippy-map tiles ``<root>/<z>/<x>/<y>.png|jpg``."""

import os
import os.path as osp
from typing import Iterator, List, Optional, Sequence

import numpy as np

from .tiling import Tile

__all__ = ['SlippyTileSource']

DOCS = 'docs/gallery_sources.md'
TILE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.webp')
SCHEMES = ('xyz', 'tms')


class SlippyTileSource:
    """Every tile of a ``z/x/y`` folder (the OpenStreetMap / XYZ tile layout).

    Each tile's footprint is ``mercantile.bounds`` of its (x, y, z); its centre is the
    centre of the tile's pixel grid, i.e. the midpoint in web-mercator metres (at
    zoom 17 that is ~0.3 m north of the midpoint in latitude at 30 deg N).

    Args:
        root (str): the folder holding ``<z>/<x>/<y>.<ext>``.
        zooms (sequence of int, optional): keep only these zoom levels. Defaults to
            every zoom found.
        scheme (str): ``'xyz'`` (y counted from the north, the web default) or
            ``'tms'`` (y counted from the south). Defaults to ``'xyz'``.

    Attributes:
        tiles (list[Tile]): sorted by (z, x, y); ``tile_id`` is ``'z/x/y'`` and
            ``extra`` holds ``zoom``, ``x``, ``y`` (XYZ numbering).
    """

    def __init__(self, root: str, zooms: Optional[Sequence[int]] = None, scheme: str = 'xyz'):
        self.root = str(root)
        if scheme not in SCHEMES:
            raise ValueError(
                f'SlippyTileSource({self.root!r}): scheme={scheme!r}, expected one of {SCHEMES}'
            )
        self.scheme = scheme
        self.zooms = None if zooms is None else {int(z) for z in zooms}
        if not osp.isdir(self.root):
            raise FileNotFoundError(
                f'slippy-map tile folder not found: {self.root}; expected '
                f'<root>/<z>/<x>/<y>.png (see {DOCS})'
            )
        self.tiles: List[Tile] = self._scan()
        if not self.tiles:
            zoom_note = f' at zooms {sorted(self.zooms)}' if self.zooms is not None else ''
            raise ValueError(
                f'{self.root}: no tiles{zoom_note}; expected files '
                f'<z>/<x>/<y>{"|".join(TILE_EXTENSIONS)} with integer z, x, y '
                f'(see {DOCS})'
            )

    @staticmethod
    def _int(name: str, path: str, what: str) -> int:
        if not name.isdigit():
            raise ValueError(
                f'{path}: {what} {name!r} is not a non-negative integer; a '
                'slippy-map folder holds <z>/<x>/<y>.png only'
            )
        return int(name)

    def _scan(self) -> List[Tile]:
        import mercantile

        tiles = []
        for z_name in sorted(os.listdir(self.root)):
            z_dir = osp.join(self.root, z_name)
            if z_name.startswith('.') or not osp.isdir(z_dir):
                continue
            z = self._int(z_name, z_dir, 'zoom folder')
            if self.zooms is not None and z not in self.zooms:
                continue
            n = 2**z
            for x_name in sorted(os.listdir(z_dir)):
                x_dir = osp.join(z_dir, x_name)
                if x_name.startswith('.') or not osp.isdir(x_dir):
                    continue
                x = self._int(x_name, x_dir, 'column folder')
                for name in sorted(os.listdir(x_dir)):
                    stem, ext = osp.splitext(name)
                    if name.startswith('.') or ext.lower() not in TILE_EXTENSIONS:
                        continue
                    path = osp.join(x_dir, name)
                    y = self._int(stem, path, 'row')
                    if x >= n or y >= n:
                        raise ValueError(
                            f'{path}: tile x={x}, y={y} does not exist at zoom '
                            f'{z} (x and y must be < 2**z = {n})'
                        )
                    if self.scheme == 'tms':
                        y = n - 1 - y
                    tiles.append(self._tile(mercantile.Tile(x, y, z), path))
        return sorted(tiles, key=lambda t: (t.extra['zoom'], t.extra['x'], t.extra['y']))

    @staticmethod
    def _tile(t, path: str) -> Tile:
        import mercantile

        b = mercantile.bounds(t)
        xy = mercantile.xy_bounds(t)
        lon, lat = mercantile.lnglat((xy.left + xy.right) / 2, (xy.bottom + xy.top) / 2)
        footprint = ((b.west, b.north), (b.east, b.north), (b.east, b.south), (b.west, b.south))
        return Tile(
            f'{t.z}/{t.x}/{t.y}',
            float(lat),
            float(lon),
            footprint,
            path,
            extra=dict(zoom=t.z, x=t.x, y=t.y),
        )

    def __len__(self) -> int:
        return len(self.tiles)

    def __iter__(self) -> Iterator[Tile]:
        return iter(self.tiles)

    def __getitem__(self, index: int) -> Tile:
        return self.tiles[index]

    def read(self, tile) -> np.ndarray:
        """The tile image as RGB uint8; an unreadable file raises ``OSError`` naming it."""
        from PIL import Image

        if not isinstance(tile, Tile):
            tile = self.tiles[tile]
        try:
            with Image.open(tile.path) as img:
                return np.asarray(img.convert('RGB'))
        except (OSError, ValueError) as err:
            raise OSError(
                f'cannot read slippy tile {tile.path} ({err}); the file is corrupt '
                'or not an image - delete or re-download it'
            ) from err

    def __repr__(self):
        return f'SlippyTileSource({self.root!r}, scheme={self.scheme!r}, tiles={len(self.tiles)})'
