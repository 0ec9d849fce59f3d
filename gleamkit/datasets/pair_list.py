"""Pair lists: a user's own data as a CSV / JSON Lines file of (query, satellite)
rows - no code needed - and GLEAM's street-map <-> satellite set ("MAP")."""

import csv
import json
import os
import os.path as osp
from collections import Counter
from typing import Dict, List, Optional, Sequence

from gleamkit.registry import DATASETS
from gleamkit.structures.vocabulary import check_view, check_views

from .base_cross_view import BaseCrossViewDataset, list_images
from .checks import (
    did_you_mean,
    is_inside,
    parse_lat_lon,
    parse_number,
    read_csv_rows,
    read_gps_csv,
    read_text,
    split_known_keys,
)

QUERY_KEYS = ('query', 'query_path')
SATELLITE_KEYS = ('satellite', 'reference', 'satellite_path', 'reference_path')
OTHER_KEYS = ('view', 'lat', 'lon', 'weight', 'location', 'split', 'semi_positives', 'semi_weights')
#: every column / JSON key a pair list may hold (others: ``extra_keys`` or a warning)
KNOWN_KEYS = QUERY_KEYS + SATELLITE_KEYS + OTHER_KEYS
DEFAULT_SPLIT_NAMES = ('train', 'val', 'test')


def _first(row: dict, keys: Sequence[str]):
    for key in keys:
        value = row.get(key)
        if value not in (None, ''):
            return value
    return None


def _as_list(value) -> list:
    if value in (None, ''):
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [v.strip() for v in str(value).split(';') if v.strip()]


@DATASETS.register_module()
class CrossViewPairListDataset(BaseCrossViewDataset):
    """Any cross-view data from one CSV or JSON Lines file.

    One row per (query image, satellite tile) pair::

        query,satellite,view,lat,lon,weight
        drone/0001.jpg,sat/0001.png,uav,47.3769,8.5417,1.0
        maps/a.png,sat/0002.png,map,,,
        ,sat/0003.png,,,,                          <- gallery-only tile (a distractor)

    or the same keys as one JSON object per line (``.jsonl``)::

        {"query": "drone/0001.jpg", "satellite": "sat/0001.png", "view": "uav",
         "semi_positives": ["sat/0002.png"], "semi_weights": [0.4]}

    Columns / keys (only ``satellite`` is required):
        query: query image path; empty = the row only adds its tile to the gallery.
        satellite (or ``reference``): the satellite tile of the query's place.
        view: ``uav``, ``map``, ``panorama`` or ``ground`` (default
            ``default_view``).
        lat, lon: the place's WGS84 position in degrees (optional; both or
            neither; latitude in [-90, 90], longitude in [-180, 180]). A gallery
            tile takes them from its first row.
        weight: the pair's weight for a weighted loss (default 1.0; finite, >= 0).
        location: a place key; rows with the same key are the same place
            (default: the satellite path - rows sharing a tile are one place).
        split: one of ``split_names`` (``train``, ``val``, ``test`` by default),
            kept by ``split=``.
        semi_positives, semi_weights: places that partially match (their
            satellite paths or location keys) and their weights (finite, >= 0);
            ``;``-separated in CSV, lists in JSONL.

    Checked when the list is read (errors name the file, the line and the key):
    the text is UTF-8 (a byte-order mark is fine); a column or key that looks
    like a misspelt known one (``qeury``, ``veiw``, ``latitude``) is an error
    with a did-you-mean; other unknown columns are ignored with a warning
    unless listed in ``extra_keys``; views and splits must be known names;
    numbers must be finite and in range; a CSV row with more fields than the
    header is an error.

    Image paths are relative to ``data_root`` (default: the list file's folder);
    absolute paths are accepted when they lie inside it. A path that leaves
    ``data_root`` (``../x.png``, ``/etc/x.png``) is an error unless
    ``allow_outside_root=True``.

    Location ids: ``location_offset`` (default 100,000,000) + the rank of the
    row's location key among all keys of the file (sorted; numerically when all
    keys are integers) - independent of ``split``, so queries and gallery of one
    file agree. Fuse two pair lists with different ``location_offset`` values.
    Gallery samples carry ``distractor=True`` when no kept row of their place
    has a query.

    Args:
        ann_file (str): the ``.csv``, ``.tsv`` or ``.jsonl`` file.
        data_root (str, optional): the folder image paths are relative to.
            Defaults to None (the list file's folder).
        split (str, optional): keep only rows whose ``split`` equals it (one of
            ``split_names``). Rows without a split are then left out (warned).
            Defaults to None (every row).
        views (Sequence[str], optional): keep only queries of these views.
            Defaults to None (every view).
        default_view (str): view of rows that give none. Defaults to ``'uav'``.
        split_names (Sequence[str]): the split labels rows may use; list your own
            labels here. Defaults to ``('train', 'val', 'test')``.
        extra_keys (Sequence[str]): more columns / keys to accept; their
            non-empty values are copied into each sample's info (e.g.
            ``['altitude']``). Defaults to ``()``.
        **kwargs: those of :class:`BaseCrossViewDataset`.
    """

    METAINFO = dict(name='pair-list', reference_view='satellite', gallery_view='satellite')
    DATA_DIRNAME = None
    DOCS_ANCHOR = 'your-own-data-pair-lists'
    LAYOUT = """\
<data_root>/pairs.csv   (or .jsonl) with columns query,satellite[,view,lat,lon,weight,
                          location,split,semi_positives,semi_weights]
<data_root>/<the image paths the rows name>"""

    def __init__(
        self,
        ann_file: str,
        data_root: Optional[str] = None,
        split: Optional[str] = None,
        views: Optional[Sequence[str]] = None,
        default_view: str = 'uav',
        split_names: Sequence[str] = DEFAULT_SPLIT_NAMES,
        extra_keys: Sequence[str] = (),
        **kwargs,
    ):
        name = type(self).__name__
        check_view(default_view, name, key='default_view')
        if views is not None:
            check_views(views, name)
        if isinstance(split_names, str) or not split_names:
            raise ValueError(
                f'{name}: split_names={split_names!r}, expected a non-empty list of split labels'
            )
        self.split_names = tuple(str(s) for s in split_names)
        if split is not None and split not in self.split_names:
            raise ValueError(
                f'{name}: split={split!r} is not one of split_names='
                f'{list(self.split_names)}{did_you_mean(split, self.split_names)}'
            )
        clash = [k for k in extra_keys if k in KNOWN_KEYS]
        if isinstance(extra_keys, str) or clash:
            raise ValueError(
                f'{name}: extra_keys={extra_keys!r}: expected a list of column '
                f'names other than the pair-list columns {list(KNOWN_KEYS)}'
            )
        if not data_root and osp.isabs(str(ann_file)):
            data_root = osp.dirname(str(ann_file))
        self.split = split
        self.views = None if views is None else tuple(views)
        self.default_view = default_view
        self.extra_keys = tuple(extra_keys)
        super().__init__(ann_file=ann_file, data_root=data_root, **kwargs)

    # ------------------------------------------------------------------ reading
    def read_rows(self) -> List[tuple]:
        """``[(line number, row dict)]`` of the list file; unknown keys checked."""
        name = type(self).__name__
        path = self.require_file(self.ann_file, 'pair list')
        ext = osp.splitext(path)[1].lower()
        known = KNOWN_KEYS + self.extra_keys
        if ext in ('.jsonl', '.ndjson', '.json'):
            rows, extras = [], {}
            for line_no, line in enumerate(read_text(path, name).splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(
                        f'{name}: {path}:{line_no}: not a JSON object ({err}); '
                        'JSON Lines needs one object per line'
                    ) from err
                if not isinstance(row, dict):
                    raise ValueError(
                        f'{name}: {path}:{line_no}: expected a JSON object, got '
                        f'{type(row).__name__}'
                    )
                typos, unknown = split_known_keys(row, known)
                if typos:
                    key, hint = typos[0]
                    raise ValueError(
                        f'{name}: {path}:{line_no}: unknown key {key!r}{hint}; '
                        f'pair-list keys: {list(KNOWN_KEYS)} (list a key of your '
                        'own in extra_keys=[...] to keep it)'
                    )
                for key in unknown:
                    extras.setdefault(key, line_no)
                rows.append((line_no, row))
            if extras:
                self.warn(
                    f'{path}: keys {sorted(extras)} are not pair-list keys and are ignored '
                    f'(first on line {min(extras.values())}); keep them in the samples '
                    'with extra_keys=[...] or remove them'
                )
            return rows
        if ext not in ('.csv', '.tsv', '.txt'):
            raise ValueError(
                f'{name}: {path}: unknown pair-list format {ext!r}; use .csv, .tsv or .jsonl'
            )
        columns, rows = read_csv_rows(path, name, delimiter='\t' if ext == '.tsv' else ',')
        typos, unknown = split_known_keys(columns, known)
        if typos:
            text = ', '.join(f'{k!r}{h}' for k, h in typos)
            raise ValueError(
                f'{name}: {path}:1: unknown column {text}; pair-list columns: '
                f'{list(KNOWN_KEYS)} (list a column of your own in '
                'extra_keys=[...] to keep it)'
            )
        if not any(k in columns for k in SATELLITE_KEYS):
            raise ValueError(
                f'{name}: {path}:1 has columns {columns}; it needs a header with '
                'at least "satellite" (and usually "query", "view")'
            )
        if unknown:
            self.warn(
                f'{path}:1: columns {unknown} are not pair-list columns and are ignored; '
                'keep them in the samples with extra_keys=[...] or remove them'
            )
        return rows

    def _image(self, value, where: str, key: str) -> str:
        value = str(value)
        path = osp.normpath(value if osp.isabs(value) else self.path(value))
        if not self.allow_outside_root and not is_inside(path, self.data_root):
            raise ValueError(
                f'{type(self).__name__}: {where}: {key}={value!r} lies outside data_root='
                f'{self.data_root!r}; image paths must stay inside the data root. Move the '
                'image there, or set allow_outside_root=True if you trust this list'
            )
        return path

    # ------------------------------------------------------------------ loading
    def _parse_row(self, line_no: int, row: dict) -> dict:
        name = type(self).__name__
        where = f'{self.ann_file}:{line_no}'
        sat = _first(row, SATELLITE_KEYS)
        if sat is None:
            raise ValueError(f'{name}: {where} has no satellite path (column "satellite")')
        query = _first(row, QUERY_KEYS)
        view = row.get('view') or self.default_view
        check_view(view, f'{name}: {where}')
        split = row.get('split')
        split = None if split in (None, '') else str(split)
        if split is not None and split not in self.split_names:
            raise ValueError(
                f'{name}: {where}: split={split!r} is not one of split_names='
                f'{list(self.split_names)}{did_you_mean(split, self.split_names)}; if it is '
                'a label of your own, list it: split_names=[...]'
            )
        location = row.get('location')
        entry = dict(
            line=line_no,
            view=view,
            split=split,
            row=row,
            satellite=self._image(sat, where, 'satellite'),
            satellite_key=str(sat),
            query=None if query is None else self._image(query, where, 'query'),
            key=str(location if location not in (None, '') else sat),
        )
        lat, lon = row.get('lat'), row.get('lon')
        if (lat in (None, '')) != (lon in (None, '')):
            raise ValueError(f'{name}: {where}: give both lat and lon, or neither')
        if lat not in (None, ''):
            entry['lat'], entry['lon'] = parse_lat_lon(lat, lon, f'{name}: {where}')
        if row.get('weight') not in (None, ''):
            entry['weight'] = parse_number(row['weight'], f'{name}: {where}', 'weight', 0)
        entry['semis'] = _as_list(row.get('semi_positives'))
        weights = _as_list(row.get('semi_weights'))
        if weights and len(weights) != len(entry['semis']):
            raise ValueError(
                f'{name}: {where}: {len(entry["semis"])} semi_positives but '
                f'{len(weights)} semi_weights'
            )
        entry['semi_weights'] = [
            parse_number(w, f'{name}: {where}', 'semi_weights', 0) for w in weights
        ]
        entry['extra'] = {k: row[k] for k in self.extra_keys if row.get(k) not in (None, '')}
        return entry

    def load_annotations(self) -> List[dict]:
        name = type(self).__name__
        where = f'{self.ann_file}'
        parsed = [self._parse_row(line_no, row) for line_no, row in self.read_rows()]
        ids = self._location_ids(parsed)
        sat_location: Dict[str, str] = {}
        for e in parsed:
            for sat in (e['satellite_key'], e['satellite']):
                other = sat_location.setdefault(sat, e['key'])
                if other != e['key']:
                    raise ValueError(
                        f'{name}: {where}:{e["line"]}: satellite '
                        f'{e["satellite_key"]!r} belongs to location {other!r} on '
                        f'an earlier row and to {e["key"]!r} here'
                    )
        for e in parsed:
            semi_ids = []
            for s in e['semis']:
                key = s if s in ids else sat_location.get(s)
                if key is None:
                    raise ValueError(
                        f'{name}: {where}:{e["line"]}: semi-positive {s!r} is '
                        'neither a location nor a satellite of the list'
                        + did_you_mean(s, list(ids) + list(sat_location))
                    )
                semi_ids.append(ids[key])
            e['semi_ids'] = semi_ids
        kept = self._keep_split(parsed)
        if self.mode == 'gallery':
            return self._gallery(kept, ids)
        return self._queries(kept, ids)

    def _keep_split(self, parsed: List[dict]) -> List[dict]:
        if self.split is None:
            return parsed
        kept = [e for e in parsed if e['split'] == self.split]
        if not kept:
            found = Counter(e['split'] for e in parsed)
            raise ValueError(
                f'{type(self).__name__}: no row of {self.ann_file} has split='
                f'{self.split!r}; rows per split: '
                f'{ {str(k): v for k, v in found.items()} }'
            )
        unlabelled = [e['line'] for e in parsed if e['split'] is None]
        if unlabelled:
            self.warn(
                f'{len(unlabelled)} rows of {self.ann_file} have no split and are left out '
                f'by split={self.split!r}; first lines: {unlabelled[:5]}'
            )
        return kept

    def _location_ids(self, parsed: List[dict]) -> Dict[str, int]:
        keys = {e['key'] for e in parsed}
        if all(k.lstrip('-').isdigit() for k in keys):
            ordered = sorted(keys, key=int)
        else:
            ordered = sorted(keys)
        return {k: self.location_id(i) for i, k in enumerate(ordered)}

    def _queries(self, kept: List[dict], ids: Dict[str, int]) -> List[dict]:
        infos = []
        for e in kept:
            if e['query'] is None or (self.views is not None and e['view'] not in self.views):
                continue
            info = dict(
                e['extra'],
                view=e['view'],
                location_id=ids[e['key']],
                location_key=e['key'],
                query_path=e['query'],
                weight=e.get('weight', 1.0),
            )
            if e['split'] is not None:
                info['split'] = e['split']
            if 'lat' in e:
                info.update(lat=e['lat'], lon=e['lon'])
            if e['semi_ids']:
                info['semi_positive_ids'] = e['semi_ids']
                if e['semi_weights']:
                    info['semi_positive_weights'] = e['semi_weights']
            if self.mode == 'pairs':
                info.update(reference_path=e['satellite'], reference_view='satellite')
            infos.append(info)
        return infos

    def _gallery(self, kept: List[dict], ids: Dict[str, int]) -> List[dict]:
        queried = {e['key'] for e in kept if e['query'] is not None}
        infos, seen = [], set()
        for e in kept:
            if e['satellite'] in seen:
                continue
            seen.add(e['satellite'])
            info = dict(
                e['extra'],
                view='satellite',
                reference_view='satellite',
                location_id=ids[e['key']],
                location_key=e['key'],
                reference_path=e['satellite'],
                distractor=e['key'] not in queried,
            )
            if e['split'] is not None:
                info['split'] = e['split']
            if 'lat' in e:
                info.update(lat=e['lat'], lon=e['lon'])
            infos.append(info)
        return infos


@DATASETS.register_module()
class StreetMapSatelliteDataset(BaseCrossViewDataset):
    """Street-map tiles <-> satellite tiles (GLEAM's "MAP": 12,761 Google Maps
    pairs). The authors have not released it; this is gleamkit's layout for such
    a set - any other packaging loads with :class:`CrossViewPairListDataset`
    (``default_view='map'``).

    Files read:

    * ``map/<name>.<ext>`` and ``satellite/<name>.<ext>``: a map tile and the
      satellite tile of the same extent share a file stem (extensions may differ);
    * ``splits/<split>.txt`` (one stem per line) for ``split='train'``/``'test'``;
      ``split='all'`` uses every satellite tile;
    * ``locations.csv`` (optional): ``name,lat,lon`` rows, the tiles' centres.

    Location ids: ``location_offset`` (default 90,000,000) + the rank of the stem
    among all ``satellite/`` stems (sorted). A stem listed in a split without a
    satellite tile is an error; one without a map tile is reported as missing
    (``on_missing``), named ``map/<name>.png``.

    Args:
        split (str): ``'train'``, ``'test'`` (read from ``splits/``) or ``'all'``.
            Defaults to ``'train'``.
        **kwargs: those of :class:`BaseCrossViewDataset`.
    """

    METAINFO = dict(name='MAP', reference_view='satellite', gallery_view='satellite')
    DATA_DIRNAME = 'MAP'
    DOCS_ANCHOR = 'map-street-map---satellite'
    LAYOUT = """\
MAP/
  map/<name>.png           satellite/<name>.png (same stem = same place)
  splits/train.txt, splits/test.txt (one name per line)
  locations.csv (optional: name,lat,lon)"""

    def __init__(self, split: str = 'train', **kwargs):
        self.split = split
        super().__init__(**kwargs)

    def _stems(self, folder: str, ignored: list) -> Dict[str, str]:
        stems: Dict[str, str] = {}
        for name in list_images(folder, ignored):
            stem = osp.splitext(name)[0]
            if stem in stems:
                raise ValueError(
                    f'StreetMapSatelliteDataset: {folder} has two images named '
                    f'{stem!r} ({stems[stem]}, {name})'
                )
            stems[stem] = name
        return stems

    def _locations(self) -> Dict[str, tuple]:
        path = self.path('locations.csv')
        if not osp.isfile(path):
            return {}
        return read_gps_csv(path, 'StreetMapSatelliteDataset', 'name')

    def load_annotations(self) -> List[dict]:
        ignored: list = []
        sat_dir = self.require_dir(self.path('satellite'), 'satellite folder')
        sats = self._stems(sat_dir, ignored)
        ids = {stem: self.location_id(i) for i, stem in enumerate(sorted(sats))}
        if self.split == 'all':
            names = sorted(sats)
        else:
            path = self.require_file(
                self.path('splits', f'{self.split}.txt'), f'{self.split} split file'
            )
            with open(path) as f:
                names = [line.strip() for line in f if line.strip()]
            unknown = [n for n in names if n not in sats]
            if unknown:
                raise ValueError(
                    f'StreetMapSatelliteDataset: {path} lists {len(unknown)} names '
                    f'without a satellite tile in {sat_dir}; first: {unknown[:3]}'
                )
        maps = {}
        if self.mode != 'gallery':
            maps = self._stems(self.require_dir(self.path('map'), 'map folder'), ignored)
        gps = self._locations()
        infos = []
        for name in names:
            info = dict(location_id=ids[name], name=name, split=self.split)
            if name in gps:
                info['lat'], info['lon'] = gps[name]
            sat = osp.join(sat_dir, sats[name])
            if self.mode == 'gallery':
                info.update(view='satellite', reference_view='satellite', reference_path=sat)
            else:
                info.update(view='map', query_path=self.path('map', maps.get(name, f'{name}.png')))
                if self.mode == 'pairs':
                    info.update(reference_path=sat, reference_view='satellite')
            infos.append(info)
        self.report_ignored_files(ignored)
        return infos


def write_pair_list(path: str, rows: Sequence[dict]) -> str:
    """Write ``rows`` (dicts with the pair-list keys) as ``.csv`` or ``.jsonl``."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    if path.endswith(('.jsonl', '.ndjson')):
        with open(path, 'w', encoding='utf-8') as f:
            for row in rows:
                f.write(json.dumps(row) + '\n')
        return path
    columns: List[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with open(path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    k: ';'.join(map(str, v)) if isinstance(v, (list, tuple)) else v
                    for k, v in row.items()
                }
            )
    return path
