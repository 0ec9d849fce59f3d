"""Gallery datasets for localisation: a region's tiles with their WGS84 centres and
footprints, from a georeferenced raster, a slippy-map folder or a list of tiles.

Every sample is a gallery item (``mode='gallery'``): ``reference_img`` (RGB uint8, read
by the dataset), ``view = reference_view = 'satellite'``, ``location_id`` (one per tile),
``tile_id``, ``lat``, ``lon``, ``footprint`` (four ``[lon, lat]`` corners) and
``reference_path``. See ``docs/gallery_sources.md``.
"""

import copy
import csv
import json
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np

from gleamkit.registry import DATASETS

from .base_cross_view import LOCATION_ID_SPAN, BaseCrossViewDataset
from .pair_list import SATELLITE_KEYS, CrossViewPairListDataset

__all__ = [
    'RasterTileGalleryDataset',
    'SlippyTileGalleryDataset',
    'TileListGalleryDataset',
    'gallery_dataset_config',
]

DOCS = 'docs/gallery_sources.md'
TILE_PATH_KEYS = ('path', 'tile', 'image') + SATELLITE_KEYS
TILE_ID_KEYS = ('tile_id', 'id')
LIST_EXTENSIONS = ('.csv', '.tsv', '.txt', '.json', '.jsonl', '.ndjson')


def gallery_dataset_config(source: str, **options) -> dict:
    """The gallery dataset config for a path, picked by what it is (for command lines
    such as ``--source``): a folder -> :class:`SlippyTileGalleryDataset`, a ``.csv`` /
    ``.tsv`` / ``.json`` / ``.jsonl`` list -> :class:`TileListGalleryDataset`, any other
    file -> :class:`RasterTileGalleryDataset` (``options`` such as ``tile_m``,
    ``stride_m``, ``out_size``, ``pipeline`` are passed on).

    Raises:
        FileNotFoundError: naming ``source`` when it does not exist.
        ValueError: when ``options`` hold keys the chosen dataset does not take.
    """
    source = osp.expanduser(str(source))
    if osp.isdir(source):
        cfg = dict(type='SlippyTileGalleryDataset', data_root=source)
        allowed = ('zooms', 'scheme')
    elif osp.isfile(source) and source.lower().endswith(LIST_EXTENSIONS):
        cfg = dict(type='TileListGalleryDataset', ann_file=source)
        allowed = ('data_root', 'split')
    elif osp.isfile(source):
        cfg = dict(type='RasterTileGalleryDataset', raster=source)
        allowed = RasterTileGalleryDataset.SOURCE_KEYS
    else:
        raise FileNotFoundError(
            f'gallery source not found: {source}; give a raster (GeoTIFF), '
            'a slippy-map folder <z>/<x>/<y>.png or a tile list '
            f'(.csv/.json) (see {DOCS})'
        )
    common = ('pipeline', 'location_offset', 'on_missing', 'serialize_data', 'lazy_init')
    unknown = sorted(k for k in options if k not in allowed + common)
    if unknown:
        raise ValueError(
            f'gallery source {source} is read by {cfg["type"]}, which does not '
            f'take {unknown}; it takes {sorted(allowed)} (see {DOCS})'
        )
    return dict(cfg, **options)


class _TileSourceGalleryDataset(BaseCrossViewDataset):
    """A gallery dataset over a tile source (:mod:`gleamkit.geo`): one sample per tile."""

    METAINFO = dict(name='tile-gallery', reference_view='satellite', gallery_view='satellite')
    MODES = ('gallery',)
    DEFAULT_LOCATION_OFFSET = 0

    def __init__(self, data_root: Optional[str] = None, mode: str = 'gallery', **kwargs):
        kwargs.setdefault('location_offset', self.DEFAULT_LOCATION_OFFSET)
        self.source = None
        super().__init__(data_root=data_root, mode=mode, **kwargs)

    def build_source(self):
        raise NotImplementedError

    def describe(self) -> str:
        return f'{type(self).__name__}({self.data_root!r})'

    def load_annotations(self) -> List[dict]:
        self.source = self.build_source()
        infos = []
        for index, tile in enumerate(self.source.tiles):
            info = tile.to_info()
            info.update(
                view='satellite',
                reference_view='satellite',
                tile_index=index,
                location_id=self.location_id(index),
            )
            infos.append(info)
        return infos

    def prepare_data(self, idx: int):
        info = copy.deepcopy(self.get_data_info(idx))
        info['reference_img'] = self.source.read(self.source.tiles[info['tile_index']])
        return self.pipeline(info)


@DATASETS.register_module()
class RasterTileGalleryDataset(_TileSourceGalleryDataset):
    """Tiles of one georeferenced raster (GeoTIFF, any CRS), read through windows.

    Args:
        raster (str): the raster file; relative paths are under ``data_root``.
        data_root (str, optional): the folder of relative paths. Defaults to None
            (the raster's folder).
        **kwargs: :class:`~gleamkit.geo.RasterTileSource`'s ``tile_m``,
            ``stride_m``, ``tile_px``, ``stride_px``, ``points``, ``out_size``,
            ``edge``, ``bands``, ``value_range``, ``max_nodata``, ``fill``,
            ``resampling``; and the dataset's ``location_offset`` (int: added to
            the tile index to make ``location_id``; defaults to 110,000,000) and
            ``pipeline`` (list: transforms, e.g. ``PackCrossViewInputs``).
    """

    METAINFO = dict(name='raster-tiles', reference_view='satellite', gallery_view='satellite')
    DEFAULT_LOCATION_OFFSET = 11 * LOCATION_ID_SPAN
    SOURCE_KEYS = (
        'tile_m',
        'stride_m',
        'tile_px',
        'stride_px',
        'points',
        'out_size',
        'edge',
        'bands',
        'value_range',
        'max_nodata',
        'fill',
        'resampling',
    )

    def __init__(self, raster: str, data_root: Optional[str] = None, **kwargs):
        self.source_kwargs = {k: kwargs.pop(k) for k in self.SOURCE_KEYS if k in kwargs}
        raster = osp.expanduser(str(raster))
        if data_root is None:
            data_root = osp.dirname(osp.abspath(raster))
        self.raster = raster if osp.isabs(raster) else osp.join(data_root, raster)
        super().__init__(data_root=data_root, **kwargs)

    def build_source(self):
        # imported here: `import gleamkit.datasets` works without the geodata packages
        from gleamkit.geo import RasterTileSource

        return RasterTileSource(self.raster, **self.source_kwargs)


@DATASETS.register_module()
class SlippyTileGalleryDataset(_TileSourceGalleryDataset):
    """Every tile of a slippy-map folder ``<data_root>/<z>/<x>/<y>.png|jpg``.

    Args:
        data_root (str): the tile folder.
        zooms (Sequence[int], optional): keep only these zoom levels. Defaults to
            None (all).
        scheme (str): ``'xyz'`` or ``'tms'``. Defaults to ``'xyz'``.
        **kwargs: ``location_offset`` (int; defaults to 120,000,000) and
            ``pipeline`` (list: transforms; tiles keep their stored size, add
            ``ResizeViews`` to change it).
    """

    METAINFO = dict(name='slippy-tiles', reference_view='satellite', gallery_view='satellite')
    DEFAULT_LOCATION_OFFSET = 12 * LOCATION_ID_SPAN

    def __init__(
        self, data_root: str, zooms: Optional[Sequence[int]] = None, scheme: str = 'xyz', **kwargs
    ):
        self.zooms, self.scheme = zooms, scheme
        super().__init__(data_root=data_root, **kwargs)

    def build_source(self):
        from gleamkit.geo import SlippyTileSource

        return SlippyTileSource(self.data_root, zooms=self.zooms, scheme=self.scheme)


def _parse_footprint(value, where: str):
    """``[[lon, lat], ...]`` (a list or its JSON text) -> a list of [lon, lat]."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            raise ValueError(
                f'{where}: footprint {value!r} is not JSON; write it as '
                '[[lon, lat], [lon, lat], [lon, lat], [lon, lat]]'
            ) from err
    try:
        corners = [[float(p[0]), float(p[1])] for p in value]
    except (TypeError, ValueError, IndexError) as err:
        raise ValueError(f'{where}: footprint {value!r} is not a list of [lon, lat] pairs') from err
    if len(corners) < 3 or any(not (-180 <= lo <= 180 and -90 <= la <= 90) for lo, la in corners):
        raise ValueError(
            f'{where}: footprint {value!r} needs >= 3 [lon, lat] corners in '
            'degrees (longitude first, GeoJSON order)'
        )
    return corners


@DATASETS.register_module()
class TileListGalleryDataset(CrossViewPairListDataset):
    """A folder of tiles listed with their coordinates: a gallery-only pair list.

    The list is a ``.csv`` / ``.tsv`` (header row), ``.jsonl`` (one object per line)
    or ``.json`` (an array of objects, or ``{"tiles": [...]}``) with per tile::

        path,lat,lon,tile_id,footprint
        tiles/a.png,30.52,114.36,a,"[[114.359,30.521],[114.361,30.521],...]"

    Columns (CSV / TSV) or keys (JSON):
        path (or ``tile``, ``image``, ``satellite``, ``reference``): the tile image,
            relative to ``data_root`` (default: the list's folder).
        lat, lon: the tile centre (WGS84 degrees). Required.
        tile_id (or ``id``): optional; defaults to the path.
        footprint: optional, ``[[lon, lat], ...]`` corners (JSON text in a CSV);
            or ``west, south, east, north`` columns for a north-up box.
        location: optional place key (tiles of one place share a ``location_id``).

    This class reads the file; :class:`CrossViewPairListDataset` parses the rows (same
    ``split``, ``location_offset``, ``on_missing`` keys, location ids and file checks);
    ``mode`` is always ``'gallery'``.

    Args:
        ann_file (str): the tile list.
        mode (str): must be ``'gallery'``. Defaults to ``'gallery'``.
        **kwargs: those of :class:`CrossViewPairListDataset`; ``location_offset``
            defaults to 130,000,000.
    """

    METAINFO = dict(name='tile-list', reference_view='satellite', gallery_view='satellite')
    MODES = ('gallery',)

    def __init__(self, ann_file: str, mode: str = 'gallery', **kwargs):
        kwargs.setdefault('location_offset', 13 * LOCATION_ID_SPAN)
        super().__init__(ann_file=ann_file, mode=mode, **kwargs)

    def read_rows(self) -> List[tuple]:
        path = self.require_file(self.ann_file, 'tile list')
        ext = osp.splitext(path)[1].lower()
        if ext in ('.csv', '.tsv', '.txt'):
            with open(path, newline='', encoding='utf-8') as f:
                reader = csv.DictReader(f, delimiter='\t' if ext == '.tsv' else ',')
                reader.fieldnames = [c.strip() for c in (reader.fieldnames or [])]
                rows = [
                    (
                        n,
                        {
                            k: v.strip() if isinstance(v, str) else v
                            for k, v in row.items()
                            if k is not None
                        },
                    )
                    for n, row in enumerate(reader, 2)
                ]
        elif ext == '.json' and self._is_json_document(path):
            with open(path, encoding='utf-8') as f:
                try:
                    doc = json.load(f)
                except json.JSONDecodeError as err:
                    raise ValueError(
                        f'{type(self).__name__}: {path} is not valid JSON ({err})'
                    ) from err
            items = doc.get('tiles') if isinstance(doc, dict) else doc
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise ValueError(
                    f'{type(self).__name__}: {path}: expected a JSON array of '
                    'tile objects or {"tiles": [...]}'
                )
            rows = [(f'[{i}]', item) for i, item in enumerate(items)]
        elif ext in ('.jsonl', '.ndjson', '.json'):
            rows = []
            with open(path, encoding='utf-8') as f:
                for n, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as err:
                        raise ValueError(
                            f'{type(self).__name__}: {path}:{n}: not a JSON '
                            f'object ({err}); JSON Lines needs one object per '
                            'line'
                        ) from err
                    if not isinstance(row, dict):
                        raise ValueError(
                            f'{type(self).__name__}: {path}:{n}: expected a JSON '
                            f'object, got {type(row).__name__}'
                        )
                    rows.append((n, row))
        else:
            raise ValueError(
                f'{type(self).__name__}: {path}: unknown tile-list format '
                f'{ext!r}; use .csv, .tsv, .json or .jsonl'
            )
        if not rows:
            raise ValueError(
                f'{type(self).__name__}: {path} lists no tiles; expected one '
                f'row per tile with path, lat, lon (see {DOCS})'
            )
        for line, row in rows:
            key = next((k for k in TILE_PATH_KEYS if row.get(k) not in (None, '')), None)
            if key is None:
                raise ValueError(
                    f'{type(self).__name__}: {path}:{line} has no tile path; '
                    f'give one of the keys {TILE_PATH_KEYS}'
                )
            # the pair list reads the tile from 'satellite'; the id defaults to it as written
            row['satellite'] = row[key]
            for name in ('lat', 'lon'):
                if row.get(name) in (None, ''):
                    raise ValueError(
                        f'{type(self).__name__}: {path}:{line} has no {name}; '
                        'every gallery tile needs its centre lat, lon'
                    )
        return rows

    @staticmethod
    def _is_json_document(path: str) -> bool:
        with open(path, encoding='utf-8') as f:
            head = f.read(4096).lstrip()
        return head.startswith('[') or (head.startswith('{') and '"tiles"' in head[:200])

    def _gallery(self, kept: List[dict], ids: dict) -> List[dict]:
        infos = super()._gallery(kept, ids)
        for info, e in zip(infos, _unique(kept)):
            row, where = e['row'], f'{self.ann_file}:{e["line"]}'
            info['tile_id'] = str(
                next(row[k] for k in TILE_ID_KEYS + ('satellite',) if row.get(k) not in (None, ''))
            )
            if row.get('footprint') not in (None, ''):
                info['footprint'] = _parse_footprint(row['footprint'], where)
            elif all(row.get(k) not in (None, '') for k in ('west', 'south', 'east', 'north')):
                w, s, e_, n = (float(row[k]) for k in ('west', 'south', 'east', 'north'))
                info['footprint'] = [[w, n], [e_, n], [e_, s], [w, s]]
        return infos

    def prepare_data(self, idx: int):
        from PIL import Image

        info = copy.deepcopy(self.get_data_info(idx))
        path = info['reference_path']
        try:
            with Image.open(path) as img:
                info['reference_img'] = np.asarray(img.convert('RGB'))
        except (OSError, ValueError) as err:
            raise OSError(
                f'cannot read gallery tile {path} ({err}) listed in '
                f'{self.ann_file}; the file is corrupt or not an image - replace '
                'it or remove its row'
            ) from err
        return self.pipeline(info)


def _unique(kept: List[dict]) -> List[dict]:
    """The entries ``CrossViewPairListDataset._gallery`` keeps (first per tile path)."""
    seen, out = set(), []
    for e in kept:
        if e['satellite'] not in seen:
            seen.add(e['satellite'])
            out.append(e)
    return out
