"""VIGOR (Zhu et al., CVPR 2021): street panoramas of four US cities vs seamless
satellite tiles, each panorama with one positive and three semi-positive tiles."""

import os.path as osp
import re
from typing import Dict, List, Optional, Sequence, Tuple

from gleamkit.registry import DATASETS

from .base_cross_view import BaseCrossViewDataset

CITIES = ('Chicago', 'NewYork', 'SanFrancisco', 'Seattle')
CROSS_AREA_CITIES = {'train': ('NewYork', 'Seattle'), 'test': ('Chicago', 'SanFrancisco')}
CITY_ID_SPAN = 1_000_000
SATELLITE_NAME = re.compile(r'^satellite_(-?\d+(?:\.\d+)?)_(-?\d+(?:\.\d+)?)\.\w+$')


def panorama_lat_lon(name: str) -> Optional[Tuple[float, float]]:
    """``<pano id>,<lat>,<lon>,.jpg`` -> (lat, lon); None if the name has no GPS."""
    parts = name.split(',')
    if len(parts) >= 4:
        try:
            return float(parts[-3]), float(parts[-2])
        except ValueError:
            return None
    return None


def satellite_lat_lon(name: str) -> Optional[Tuple[float, float]]:
    """``satellite_<lat>_<lon>.png`` -> (lat, lon) of the tile centre; None otherwise."""
    match = SATELLITE_NAME.match(name)
    return (float(match.group(1)), float(match.group(2))) if match else None


@DATASETS.register_module()
class VIGORDataset(BaseCrossViewDataset):
    """VIGOR, same-area and cross-area protocols.

    Files read:

    * ``splits/<City>/satellite_list.txt``: one satellite file name per line; the
      line number (0-based) is the tile's index in its city.
    * same-area: ``splits/<City>/same_area_balanced_{train,test}.txt``;
      cross-area: ``splits/<City>/pano_label_balanced.txt`` (every panorama of
      the city; train cities NewYork + Seattle, test cities Chicago +
      SanFrancisco). Each line: ``<panorama> <sat> <dy> <dx> <sat> <dy> <dx>
      <sat> <dy> <dx> <sat> <dy> <dx>`` - the positive tile first, then the three
      semi-positives, each with the panorama's pixel offset in that tile.
    * images, official layout: ``<City>/panorama/<panorama>`` and
      ``<City>/satellite/<sat>``; the re-arranged layout of Sample4Geo
      (``ground/<City>/<panorama>``, ``satellite/<City>/<sat>``) is also read.
    * GPS from the file names: ``<pano id>,<lat>,<lon>,.jpg`` and
      ``satellite_<lat>_<lon>.png``.

    Samples: ``location_id`` is the positive tile's id, ``semi_positive_ids`` the
    three semi-positive tiles' (the metric's ``hit_rate`` counts them, R@K does
    not), ``offsets`` the four ``[dy, dx]`` of the line, ``lat``/``lon`` of the
    panorama (queries) or of the tile centre (gallery). The gallery of a split is
    every tile of its cities' ``satellite_list.txt`` (same-area test: the four
    cities' 90,618 tiles), as in VIGOR's and Sample4Geo's evaluation.

    Location ids: ``location_offset`` (default 40,000,000) + city index
    (Chicago 0, NewYork 1, SanFrancisco 2, Seattle 3) x 1,000,000 + line index in
    the city's ``satellite_list.txt`` - the same tile has the same id in every
    split and protocol.

    Args:
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        area (str): ``'same'`` (4 cities, balanced splits) or ``'cross'``.
            Defaults to ``'same'``.
        cities (Sequence[str], optional): override the cities of the split.
            Defaults to None (those of ``area`` and ``split``).
        layout (str): ``'auto'``, ``'official'`` or ``'sample4geo'``. Defaults to
            ``'auto'``.
        splits_dir (str): the label folder, e.g. a copy of the labels with
            corrected offsets under the same file names. Defaults to ``'splits'``.
        **kwargs: those of :class:`BaseCrossViewDataset`.
    """

    METAINFO = dict(name='VIGOR', reference_view='satellite', gallery_view='satellite')
    DATA_DIRNAME = 'VIGOR'
    DOCS_ANCHOR = 'vigor'
    LAYOUT = """\
VIGOR/
  splits/<City>/satellite_list.txt
  splits/<City>/same_area_balanced_train.txt, same_area_balanced_test.txt, pano_label_balanced.txt
  <City>/panorama/<pano id>,<lat>,<lon>,.jpg   <City>/satellite/satellite_<lat>_<lon>.png
  (or ground/<City>/... and satellite/<City>/..., Sample4Geo's layout)
  with <City> in Chicago, NewYork, SanFrancisco, Seattle"""

    def __init__(
        self,
        split: str = 'train',
        area: str = 'same',
        cities: Optional[Sequence[str]] = None,
        layout: str = 'auto',
        splits_dir: str = 'splits',
        **kwargs,
    ):
        if split not in ('train', 'test'):
            raise ValueError(f"VIGORDataset: split={split!r}, expected 'train' or 'test'")
        if area not in ('same', 'cross'):
            raise ValueError(f"VIGORDataset: area={area!r}, expected 'same' or 'cross'")
        if layout not in ('auto', 'official', 'sample4geo'):
            raise ValueError(
                f"VIGORDataset: layout={layout!r}, expected 'auto', 'official' or 'sample4geo'"
            )
        if cities is None:
            cities = CITIES if area == 'same' else CROSS_AREA_CITIES[split]
        unknown = [c for c in cities if c not in CITIES]
        if unknown:
            raise ValueError(f'VIGORDataset: unknown cities {unknown}; VIGOR has {CITIES}')
        self.split, self.area, self.cities, self.layout = split, area, tuple(cities), layout
        self.splits_dir = splits_dir
        super().__init__(**kwargs)

    def describe(self) -> str:
        return f'VIGORDataset(mode={self.mode!r}, split={self.split!r}, area={self.area!r})'

    # ------------------------------------------------------------------ layout
    def _image_dirs(self, city: str) -> Tuple[str, str]:
        official = (self.path(city, 'panorama'), self.path(city, 'satellite'))
        rearranged = (self.path('ground', city), self.path('satellite', city))
        if self.layout == 'official':
            return official
        if self.layout == 'sample4geo':
            return rearranged
        if osp.isdir(official[0]) or osp.isdir(official[1]):
            return official
        if osp.isdir(rearranged[0]) or osp.isdir(rearranged[1]):
            return rearranged
        raise self.layout_error(f'{official[0]} (or {rearranged[0]})', f'image folders of {city}')

    def _label_file(self, city: str) -> str:
        name = (
            f'same_area_balanced_{self.split}.txt'
            if self.area == 'same'
            else 'pano_label_balanced.txt'
        )
        return self.require_file(self.path(self.splits_dir, city, name), f'{city} label file')

    def _satellites(self, city: str) -> List[str]:
        path = self.require_file(
            self.path(self.splits_dir, city, 'satellite_list.txt'), f'{city} satellite list'
        )
        with open(path) as f:
            names = [line.strip() for line in f if line.strip()]
        if len(names) >= CITY_ID_SPAN:
            raise ValueError(
                f'VIGORDataset: {path} lists {len(names)} tiles; ids assume '
                f'fewer than {CITY_ID_SPAN} per city'
            )
        return names

    # ------------------------------------------------------------------ loading
    def load_annotations(self) -> List[dict]:
        infos = []
        for city in self.cities:
            city_index = CITIES.index(city)
            pano_dir, sat_dir = self._image_dirs(city)
            sats = self._satellites(city)
            sat_ids: Dict[str, int] = {
                name: self.location_id(city_index * CITY_ID_SPAN + i) for i, name in enumerate(sats)
            }
            if self.mode == 'gallery':
                for name in sats:
                    info = dict(
                        view='satellite',
                        reference_view='satellite',
                        location_id=sat_ids[name],
                        city=city,
                        reference_path=osp.join(sat_dir, name),
                        split=self.split,
                    )
                    info.update(_gps(satellite_lat_lon(name)))
                    infos.append(info)
                continue
            infos += self._panoramas(city, pano_dir, sat_dir, sat_ids)
        return infos

    def _panoramas(
        self, city: str, pano_dir: str, sat_dir: str, sat_ids: Dict[str, int]
    ) -> List[dict]:
        path = self._label_file(city)
        infos = []
        with open(path) as f:
            for line_no, line in enumerate(f, 1):
                tokens = line.split()
                if not tokens:
                    continue
                if len(tokens) < 13:
                    raise ValueError(
                        f'VIGORDataset: {path}:{line_no} has {len(tokens)} fields; '
                        'expected <panorama> and 4 x (<satellite> <dy> <dx>)'
                    )
                tiles = tokens[1:13:3]
                unknown = [t for t in tiles if t not in sat_ids]
                if unknown:
                    raise ValueError(
                        f'VIGORDataset: {path}:{line_no} names satellite tiles '
                        f'{unknown} that are not in {self.splits_dir}/{city}/'
                        'satellite_list.txt'
                    )
                try:
                    offsets = [
                        [float(tokens[i + 1]), float(tokens[i + 2])] for i in range(1, 13, 3)
                    ]
                except ValueError as err:
                    raise ValueError(f'VIGORDataset: {path}:{line_no}: bad offset ({err})') from err
                info = dict(
                    view='panorama',
                    location_id=sat_ids[tiles[0]],
                    semi_positive_ids=[sat_ids[t] for t in tiles[1:]],
                    offsets=offsets,
                    city=city,
                    split=self.split,
                    query_path=osp.join(pano_dir, tokens[0]),
                )
                info.update(_gps(panorama_lat_lon(tokens[0])))
                if self.mode == 'pairs':
                    info.update(
                        reference_path=osp.join(sat_dir, tiles[0]), reference_view='satellite'
                    )
                infos.append(info)
        return infos


def _gps(lat_lon) -> dict:
    return {} if lat_lon is None else dict(lat=lat_lon[0], lon=lat_lon[1])
