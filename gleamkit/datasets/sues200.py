"""SUES-200 (Zhu et al., TCSVT 2023): 200 scenes seen by a drone at four flight
heights (150, 200, 250, 300 m) and by a satellite."""

import os.path as osp
from typing import List, Sequence

from gleamkit.registry import DATASETS

from .base_cross_view import BaseCrossViewDataset, list_images

ALTITUDES = (150, 200, 250, 300)
PROTOCOLS = {
    'drone->satellite': ('query_drone', 'uav', 'gallery_satellite', 'satellite'),
    'satellite->drone': ('query_satellite', 'satellite', 'gallery_drone', 'uav'),
}


@DATASETS.register_module()
class SUES200Dataset(BaseCrossViewDataset):
    """SUES-200 in its split layout (``SUES-200-512x512`` after the authors'
    ``split_datasets.py``: 120 training and 80 test scenes).

    Files read (folder names are the scene ids; no annotation file exists):

    * ``Training/<altitude>/drone/<scene>/*.jpg`` (50 frames per scene and
      altitude) and ``Training/<altitude>/satellite/<scene>/0.png``;
    * ``Testing/<altitude>/query_drone/<scene>/*`` vs
      ``Testing/<altitude>/gallery_satellite/<scene>/*`` (all 200 scenes: the
      120 training scenes stay in the gallery as distractors, as in the
      official evaluation), and ``Testing/<altitude>/query_satellite`` vs
      ``Testing/<altitude>/gallery_drone`` for satellite->drone.

    Samples carry ``altitude`` (metres). With several ``altitudes``, queries and
    drone galleries are the union over the altitudes; the satellite tiles are the
    same in every altitude folder, so a satellite gallery (or satellite queries)
    is read from the first altitude only - one tile per scene. Evaluate one
    altitude per dataset to report per-height numbers, as the paper does.

    Location ids: ``location_offset`` (default 20,000,000) + the scene number.

    Args:
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        altitudes (Sequence[int]): any of 150, 200, 250, 300. Defaults to
            ``(150, 200, 250, 300)``.
        protocol (str): test only: ``'drone->satellite'`` or
            ``'satellite->drone'`` (gallery of drone images, view ``'uav'``).
            Defaults to ``'drone->satellite'``.
        **kwargs: those of :class:`BaseCrossViewDataset`.
    """

    METAINFO = dict(name='SUES-200', reference_view='satellite', gallery_view='satellite')
    DATA_DIRNAME = 'SUES-200-512x512'
    DOCS_ANCHOR = 'sues-200'
    LAYOUT = """\
SUES-200-512x512/
  Training/<altitude>/drone/<scene>/*.jpg       Training/<altitude>/satellite/<scene>/0.png
  Testing/<altitude>/query_drone/<scene>/*      Testing/<altitude>/gallery_satellite/<scene>/*
  Testing/<altitude>/query_satellite/<scene>/*  Testing/<altitude>/gallery_drone/<scene>/*
  with <altitude> in 150, 200, 250, 300"""

    def __init__(
        self,
        split: str = 'train',
        altitudes: Sequence[int] = ALTITUDES,
        protocol: str = 'drone->satellite',
        **kwargs,
    ):
        if split not in ('train', 'test'):
            raise ValueError(f"SUES200Dataset: split={split!r}, expected 'train' or 'test'")
        altitudes = tuple(int(a) for a in altitudes)
        if not altitudes or any(a not in ALTITUDES for a in altitudes):
            raise ValueError(
                f'SUES200Dataset: altitudes={altitudes}, expected a non-empty subset of {ALTITUDES}'
            )
        if protocol not in PROTOCOLS:
            raise ValueError(
                f'SUES200Dataset: protocol={protocol!r}, expected one of {tuple(PROTOCOLS)}'
            )
        if split == 'test' and kwargs.get('mode', 'pairs') == 'pairs':
            raise ValueError("SUES200Dataset: mode='pairs' is for split='train'")
        self.split, self.altitudes, self.protocol = split, altitudes, protocol
        super().__init__(**kwargs)
        if split == 'test':
            self._metainfo['gallery_view'] = PROTOCOLS[protocol][3]

    def describe(self) -> str:
        extra = f', protocol={self.protocol!r}' if self.split == 'test' else ''
        return (
            f'SUES200Dataset(mode={self.mode!r}, split={self.split!r}, '
            f'altitudes={self.altitudes}{extra})'
        )

    def _folder(self, altitude: int, name: str) -> str:
        top = 'Training' if self.split == 'train' else 'Testing'
        return self.require_dir(
            self.path(top, str(altitude), name), f'{top}/{altitude}/{name} folder'
        )

    def _read(self, name: str, view: str, key: str, ignored: list) -> List[dict]:
        # satellite folders are identical copies across altitudes: read one
        altitudes = self.altitudes[:1] if view == 'satellite' else self.altitudes
        infos = []
        for altitude in altitudes:
            extra = dict(split=self.split)
            if view != 'satellite':
                extra['altitude'] = altitude
            infos += self.folder_infos(self._folder(altitude, name), view, key, ignored, **extra)
        return infos

    def load_annotations(self) -> List[dict]:
        ignored: list = []
        if self.split == 'train':
            if self.mode == 'gallery':
                infos = self._read('satellite', 'satellite', 'reference_path', ignored)
            else:
                infos = []
                for altitude in self.altitudes:
                    drone = self.folder_infos(
                        self._folder(altitude, 'drone'),
                        'uav',
                        'query_path',
                        ignored,
                        split='train',
                        altitude=altitude,
                    )
                    if self.mode == 'pairs':
                        drone = self._pair(drone, self._folder(altitude, 'satellite'), ignored)
                    infos += drone
        else:
            q_name, q_view, g_name, g_view = PROTOCOLS[self.protocol]
            if self.mode == 'query':
                infos = self._read(q_name, q_view, 'query_path', ignored)
            else:
                infos = self._read(g_name, g_view, 'reference_path', ignored)
        self.report_ignored_files(ignored)
        return infos

    def _pair(self, drone: List[dict], sat_dir: str, ignored: list) -> List[dict]:
        tiles, pairs = {}, []
        for info in drone:
            scene = info['place']
            if scene not in tiles:
                folder = osp.join(sat_dir, scene)
                names = list_images(folder, ignored) if osp.isdir(folder) else []
                tiles[scene] = [osp.join(folder, n) for n in names] or [osp.join(folder, '0.png')]
            for tile in tiles[scene]:
                pairs.append(dict(info, reference_path=tile, reference_view='satellite'))
        return pairs
