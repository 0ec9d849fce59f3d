"""Pair lists: a user's own data as a CSV / JSON Lines file of (query, satellite)
rows - no code needed - and GLEAM's street-map <-> satellite set ("MAP")."""
import csv
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

from gleamkit.registry import DATASETS

from .base_cross_view import VIEWS, BaseCrossViewDataset, list_images

QUERY_KEYS = ('query', 'query_path')
SATELLITE_KEYS = ('satellite', 'reference', 'satellite_path', 'reference_path')


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
        return list(value)
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
        lat, lon: the place's WGS84 position (optional; used for localisation
            error). A gallery tile takes them from its first row.
        weight: the pair's weight for a weighted loss (default 1.0).
        location: a place key; rows with the same key are the same place
            (default: the satellite path - rows sharing a tile are one place).
        split: a free label (``train``, ``test``, ...), kept by ``split=``.
        semi_positives, semi_weights: places that partially match (their
            satellite paths or location keys) and their weights; ``;``-separated
            in CSV, lists in JSONL.

    Image paths are relative to ``data_root`` (default: the list file's folder)
    unless absolute. Bad rows raise errors naming the file and line.

    Location ids: ``location_offset`` (default 100,000,000) + the rank of the
    row's location key among all keys of the file (sorted; numerically when all
    keys are integers) - independent of ``split``, so queries and gallery of one
    file agree. Fuse two pair lists with different ``location_offset`` values.

    Config keys (plus those of :class:`BaseCrossViewDataset`):
        ann_file (str): the ``.csv``, ``.tsv`` or ``.jsonl`` file.
        split (str, optional): keep only rows whose ``split`` equals it.
        views (sequence of str, optional): keep only queries of these views.
        default_view (str): view of rows that give none (default ``'uav'``).
    """

    METAINFO = dict(name='pair-list', reference_view='satellite', gallery_view='satellite')
    DATA_DIRNAME = None
    DOCS_ANCHOR = 'your-own-data-pair-lists'
    LAYOUT = """\
<data_root>/pairs.csv   (or .jsonl) with columns query,satellite[,view,lat,lon,weight,
                          location,split,semi_positives,semi_weights]
<data_root>/<the image paths the rows name>"""

    def __init__(self, ann_file: str, data_root: Optional[str] = None,
                 split: Optional[str] = None, views: Optional[Sequence[str]] = None,
                 default_view: str = 'uav', **kwargs):
        if default_view not in VIEWS:
            raise ValueError(f'{type(self).__name__}: default_view={default_view!r}, '
                             f'expected one of {VIEWS}')
        if views is not None:
            unknown = [v for v in views if v not in VIEWS]
            if unknown:
                raise ValueError(f'{type(self).__name__}: unknown views {unknown}; '
                                 f'expected some of {VIEWS}')
        if not data_root and osp.isabs(str(ann_file)):
            data_root = osp.dirname(str(ann_file))
        self.split = split
        self.views = None if views is None else tuple(views)
        self.default_view = default_view
        super().__init__(ann_file=ann_file, data_root=data_root, **kwargs)

    # ------------------------------------------------------------------ reading
    def read_rows(self) -> List[dict]:
        """``[(line number, row dict)]`` of the list file."""
        path = self.require_file(self.ann_file, 'pair list')
        ext = osp.splitext(path)[1].lower()
        rows = []
        with open(path, newline='', encoding='utf-8') as f:
            if ext in ('.jsonl', '.ndjson', '.json'):
                for line_no, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as err:
                        raise ValueError(f'{type(self).__name__}: {path}:{line_no}: not a JSON '
                                         f'object ({err}); JSON Lines needs one object per '
                                         'line') from err
                    if not isinstance(row, dict):
                        raise ValueError(f'{type(self).__name__}: {path}:{line_no}: expected a '
                                         f'JSON object, got {type(row).__name__}')
                    rows.append((line_no, row))
            elif ext in ('.csv', '.tsv', '.txt'):
                reader = csv.DictReader(f, delimiter='\t' if ext == '.tsv' else ',')
                fields = [c.strip() for c in (reader.fieldnames or [])]
                reader.fieldnames = fields
                if not any(k in fields for k in SATELLITE_KEYS):
                    raise ValueError(f'{type(self).__name__}: {path} has columns {fields}; it '
                                     'needs a header with at least "satellite" (and usually '
                                     '"query", "view")')
                for line_no, row in enumerate(reader, 2):
                    rows.append((line_no, {k: (v.strip() if isinstance(v, str) else v)
                                           for k, v in row.items() if k is not None}))
            else:
                raise ValueError(f'{type(self).__name__}: {path}: unknown pair-list format '
                                 f'{ext!r}; use .csv, .tsv or .jsonl')
        return rows

    def _image(self, value: str) -> str:
        value = str(value)
        return value if osp.isabs(value) else self.path(value)

    # ------------------------------------------------------------------ loading
    def load_annotations(self) -> List[dict]:
        rows = self.read_rows()
        where = f'{self.ann_file}'
        parsed = []
        for line_no, row in rows:
            sat = _first(row, SATELLITE_KEYS)
            if sat is None:
                raise ValueError(f'{type(self).__name__}: {where}:{line_no} has no satellite '
                                 'path')
            query = _first(row, QUERY_KEYS)
            view = row.get('view') or self.default_view
            if view not in VIEWS:
                raise ValueError(f'{type(self).__name__}: {where}:{line_no}: view={view!r}, '
                                 f'expected one of {VIEWS}')
            entry = dict(line=line_no, query=query, satellite=str(sat), view=view,
                         key=str(row.get('location') if row.get('location') not in (None, '')
                                 else sat),
                         split=row.get('split') or None, row=row)
            for name in ('lat', 'lon', 'weight'):
                value = row.get(name)
                if value in (None, ''):
                    continue
                try:
                    entry[name] = float(value)
                except (TypeError, ValueError) as err:
                    raise ValueError(f'{type(self).__name__}: {where}:{line_no}: {name}='
                                     f'{value!r} is not a number') from err
            if ('lat' in entry) != ('lon' in entry):
                raise ValueError(f'{type(self).__name__}: {where}:{line_no}: give both lat and '
                                 'lon, or neither')
            parsed.append(entry)

        ids = self._location_ids(parsed)
        sat_location: Dict[str, str] = {}
        for e in parsed:
            other = sat_location.setdefault(e['satellite'], e['key'])
            if other != e['key']:
                raise ValueError(f'{type(self).__name__}: {where}:{e["line"]}: satellite '
                                 f'{e["satellite"]!r} belongs to location {other!r} on an '
                                 f'earlier row and to {e["key"]!r} here')
        for e in parsed:
            semis = _as_list(e['row'].get('semi_positives'))
            weights = _as_list(e['row'].get('semi_weights'))
            if weights and len(weights) != len(semis):
                raise ValueError(f'{type(self).__name__}: {where}:{e["line"]}: '
                                 f'{len(semis)} semi_positives but {len(weights)} semi_weights')
            semi_ids = []
            for s in semis:
                key = s if s in ids else sat_location.get(s)
                if key is None:
                    raise ValueError(f'{type(self).__name__}: {where}:{e["line"]}: semi-positive '
                                     f'{s!r} is neither a location nor a satellite of the list')
                semi_ids.append(ids[key])
            e['semi_ids'] = semi_ids
            try:
                e['semi_weights'] = [float(w) for w in weights]
            except ValueError as err:
                raise ValueError(f'{type(self).__name__}: {where}:{e["line"]}: bad semi_weights '
                                 f'{weights}') from err

        kept = [e for e in parsed if self.split is None or e['split'] == self.split]
        if self.mode == 'gallery':
            return self._gallery(kept, ids)
        return self._queries(kept, ids)

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
            info = dict(view=e['view'], location_id=ids[e['key']], location_key=e['key'],
                        query_path=self._image(e['query']), weight=e.get('weight', 1.0))
            if e['split'] is not None:
                info['split'] = e['split']
            if 'lat' in e:
                info.update(lat=e['lat'], lon=e['lon'])
            if e['semi_ids']:
                info['semi_positive_ids'] = e['semi_ids']
                if e['semi_weights']:
                    info['semi_positive_weights'] = e['semi_weights']
            if self.mode == 'pairs':
                info.update(reference_path=self._image(e['satellite']),
                            reference_view='satellite')
            infos.append(info)
        return infos

    def _gallery(self, kept: List[dict], ids: Dict[str, int]) -> List[dict]:
        infos, seen = [], set()
        for e in kept:
            if e['satellite'] in seen:
                continue
            seen.add(e['satellite'])
            info = dict(view='satellite', reference_view='satellite', location_id=ids[e['key']],
                        location_key=e['key'], reference_path=self._image(e['satellite']))
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

    Config keys (plus those of :class:`BaseCrossViewDataset`):
        split (str): ``'train'``, ``'test'`` (read from ``splits/``) or ``'all'``.
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
                raise ValueError(f'StreetMapSatelliteDataset: {folder} has two images named '
                                 f'{stem!r} ({stems[stem]}, {name})')
            stems[stem] = name
        return stems

    def _locations(self) -> Dict[str, tuple]:
        path = self.path('locations.csv')
        if not osp.isfile(path):
            return {}
        out = {}
        with open(path, newline='') as f:
            for line_no, row in enumerate(csv.DictReader(f), 2):
                try:
                    out[row['name'].strip()] = (float(row['lat']), float(row['lon']))
                except (KeyError, TypeError, ValueError) as err:
                    raise ValueError(f'StreetMapSatelliteDataset: {path}:{line_no}: expected '
                                     f'name,lat,lon ({err})') from err
        return out

    def load_annotations(self) -> List[dict]:
        ignored: list = []
        sat_dir = self.require_dir(self.path('satellite'), 'satellite folder')
        sats = self._stems(sat_dir, ignored)
        ids = {stem: self.location_id(i) for i, stem in enumerate(sorted(sats))}
        if self.split == 'all':
            names = sorted(sats)
        else:
            path = self.require_file(self.path('splits', f'{self.split}.txt'),
                                     f'{self.split} split file')
            with open(path) as f:
                names = [line.strip() for line in f if line.strip()]
            unknown = [n for n in names if n not in sats]
            if unknown:
                raise ValueError(f'StreetMapSatelliteDataset: {path} lists {len(unknown)} names '
                                 f'without a satellite tile in {sat_dir}; first: {unknown[:3]}')
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
                info.update(view='map',
                            query_path=self.path('map', maps.get(name, f'{name}.png')))
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
            writer.writerow({k: ';'.join(map(str, v)) if isinstance(v, (list, tuple)) else v
                             for k, v in row.items()})
    return path
