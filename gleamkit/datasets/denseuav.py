"""DenseUAV (Dai et al., TIP 2024): low-altitude drone images densely sampled over
14 university campuses, satellite tiles at three scales, GPS of every place."""

import os.path as osp
import re
from typing import Dict, List, Optional, Tuple

from gleamkit.registry import DATASETS

from .base_cross_view import BaseCrossViewDataset, list_images

PROTOCOLS = {
    'drone->satellite': ('query_drone', 'uav', 'gallery_satellite', 'satellite'),
    'satellite->drone': ('query_satellite', 'satellite', 'gallery_drone', 'uav'),
}
HEIGHT = re.compile(r'^H(\d+)')


def _height(name: str) -> Optional[int]:
    match = HEIGHT.match(name)
    return int(match.group(1)) if match else None


@DATASETS.register_module()
class DenseUAVDataset(BaseCrossViewDataset):
    """DenseUAV (6,768 training drone images of 2,256 places; 2,331 test queries
    of 777 places vs a gallery of all 3,033 places).

    Files read:

    * ``train/drone/<place>/H80.JPG``, ``H90.JPG``, ``H100.JPG`` (three flight
      heights) and ``train/satellite/<place>/H80.tif``, ``H80_old.tif``, ...
      (tiles at three scales, current and older imagery);
    * ``test/query_drone/<place>/*`` vs ``test/gallery_satellite/<place>/*``
      (drone->satellite) and ``test/query_satellite`` vs ``test/gallery_drone``
      (satellite->drone);
    * ``Dense_GPS_ALL.txt`` (optional, warned about when absent): one line per
      image, ``<path> E<longitude> N<latitude> <height>``; a place's ``lat``/
      ``lon`` are those of its first line (the script of the authors keys them
      by the place folder the same way).

    Samples carry ``altitude`` (the ``H<m>`` of the file name) and, when the GPS
    file has the place, ``lat``/``lon`` - localisation error (and the
    paper's SDM) need them.

    Training pairs: each drone image with the satellite tiles of its place taken
    at the same height (``satellite_pairing='same_height'``: ``H80.JPG`` with
    ``H80.tif`` and ``H80_old.tif``; all tiles when none matches) or with every
    tile of the place (``'all'``).

    Location ids: ``location_offset`` (default 30,000,000) + the place number
    (``000123`` -> 123); the same place has the same id in train and test.

    Args:
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        protocol (str): test only: ``'drone->satellite'`` or
            ``'satellite->drone'``. Defaults to ``'drone->satellite'``.
        satellite_pairing (str): ``'same_height'`` or ``'all'``. Defaults to
            ``'same_height'``.
        gps_file (str): relative to ``data_root``. Defaults to
            ``'Dense_GPS_ALL.txt'``.
        **kwargs: those of :class:`BaseCrossViewDataset`.
    """

    METAINFO = dict(name='DenseUAV', reference_view='satellite', gallery_view='satellite')
    DATA_DIRNAME = 'DenseUAV'
    DOCS_ANCHOR = 'denseuav'
    LAYOUT = """\
DenseUAV/
  Dense_GPS_ALL.txt                      (<path> E<lon> N<lat> <height> per line)
  train/drone/<place>/H80.JPG H90.JPG H100.JPG
  train/satellite/<place>/H80.tif H80_old.tif H90.tif ...
  test/query_drone/<place>/*             test/gallery_satellite/<place>/*
  test/query_satellite/<place>/*         test/gallery_drone/<place>/*"""

    def __init__(
        self,
        split: str = 'train',
        protocol: str = 'drone->satellite',
        satellite_pairing: str = 'same_height',
        gps_file: str = 'Dense_GPS_ALL.txt',
        **kwargs,
    ):
        if split not in ('train', 'test'):
            raise ValueError(f"DenseUAVDataset: split={split!r}, expected 'train' or 'test'")
        if protocol not in PROTOCOLS:
            raise ValueError(
                f'DenseUAVDataset: protocol={protocol!r}, expected one of {tuple(PROTOCOLS)}'
            )
        if satellite_pairing not in ('same_height', 'all'):
            raise ValueError(
                f'DenseUAVDataset: satellite_pairing={satellite_pairing!r}, '
                "expected 'same_height' or 'all'"
            )
        if split == 'test' and kwargs.get('mode', 'pairs') == 'pairs':
            raise ValueError("DenseUAVDataset: mode='pairs' is for split='train'")
        self.split, self.protocol = split, protocol
        self.satellite_pairing, self.gps_file = satellite_pairing, gps_file
        super().__init__(**kwargs)
        if split == 'test':
            self._metainfo['gallery_view'] = PROTOCOLS[protocol][3]

    def describe(self) -> str:
        extra = f', protocol={self.protocol!r}' if self.split == 'test' else ''
        return f'DenseUAVDataset(mode={self.mode!r}, split={self.split!r}{extra})'

    # ------------------------------------------------------------------ GPS
    def _read_gps(self) -> Dict[str, Tuple[float, float]]:
        path = self.path(self.gps_file)
        if not osp.isfile(path):
            self.warn(
                f'no GPS file {path}: samples get no lat/lon (see the DenseUAV layout '
                'in docs/datasets.md)'
            )
            return {}
        places: Dict[str, Tuple[float, float]] = {}
        with open(path) as f:
            for line_no, line in enumerate(f, 1):
                tokens = line.split()
                if not tokens:
                    continue
                try:
                    if (
                        len(tokens) < 3
                        or not tokens[1].startswith('E')
                        or not tokens[2].startswith('N')
                    ):
                        raise ValueError('expected "<path> E<lon> N<lat> [<height>]"')
                    lon, lat = float(tokens[1][1:]), float(tokens[2][1:])
                except ValueError as err:
                    raise ValueError(
                        f'DenseUAVDataset: {path}:{line_no}: {err}: {line.strip()!r}'
                    ) from err
                place = tokens[0].replace('\\', '/').split('/')[-2]
                places.setdefault(place, (lat, lon))
        return places

    # ------------------------------------------------------------------ loading
    def _folder(self, name: str) -> str:
        return self.require_dir(self.path(self.split, name), f'{self.split}/{name} folder')

    def _infos(self, name: str, view: str, key: str, ignored: list) -> List[dict]:
        infos = self.folder_infos(self._folder(name), view, key, ignored, split=self.split)
        for info in infos:
            height = _height(osp.basename(info[key]))
            if height is not None:
                info['altitude'] = height
        return infos

    def load_annotations(self) -> List[dict]:
        ignored: list = []
        if self.split == 'train':
            if self.mode == 'gallery':
                infos = self._infos('satellite', 'satellite', 'reference_path', ignored)
            else:
                infos = self._infos('drone', 'uav', 'query_path', ignored)
                if self.mode == 'pairs':
                    infos = self._pair(infos, self._folder('satellite'), ignored)
        else:
            q_name, q_view, g_name, g_view = PROTOCOLS[self.protocol]
            if self.mode == 'query':
                infos = self._infos(q_name, q_view, 'query_path', ignored)
            else:
                infos = self._infos(g_name, g_view, 'reference_path', ignored)
        self.report_ignored_files(ignored)
        gps = self._read_gps()
        no_gps = set()
        for info in infos:
            if info['place'] in gps:
                info['lat'], info['lon'] = gps[info['place']]
            else:
                no_gps.add(info['place'])
        if gps and no_gps:
            self.warn(
                f'{len(no_gps)} places have no line in {self.gps_file} (no lat/lon); '
                f'first: {sorted(no_gps)[:3]}'
            )
        return infos

    def _pair(self, drone: List[dict], sat_dir: str, ignored: list) -> List[dict]:
        pairs, tiles = [], {}
        for info in drone:
            place = info['place']
            if place not in tiles:
                folder = osp.join(sat_dir, place)
                tiles[place] = list_images(folder, ignored) if osp.isdir(folder) else []
            names = tiles[place]
            if self.satellite_pairing == 'same_height':
                height = info.get('altitude')
                same = [n for n in names if height is not None and _height(n) == height]
                names = same or names
            if not names:  # reported as missing by the file check
                names = [f'H{info.get("altitude", 80)}.tif']
            for name in names:
                pairs.append(
                    dict(
                        info,
                        reference_path=osp.join(sat_dir, place, name),
                        reference_view='satellite',
                    )
                )
        return pairs
