"""University-1652 (Zheng et al., ACM MM 2020): drone, satellite and street views
of 1,652 university buildings, read from the folders as the dataset ships them."""

import os.path as osp
from typing import List, Sequence

from gleamkit.registry import DATASETS

from .base_cross_view import BaseCrossViewDataset, list_images, list_subdirs

# test protocol -> (query folder, query view, gallery folder, gallery view)
PROTOCOLS = {
    'drone->satellite': ('query_drone', 'uav', 'gallery_satellite', 'satellite'),
    'satellite->drone': ('query_satellite', 'satellite', 'gallery_drone', 'uav'),
    'street->satellite': ('query_street', 'ground', 'gallery_satellite', 'satellite'),
}
# training query view -> folder under train/
TRAIN_FOLDERS = {'uav': 'drone', 'ground': 'street'}


@DATASETS.register_module()
class University1652Dataset(BaseCrossViewDataset):
    """University-1652 from its release folder (``University-Release``).

    Files read (nothing else; no annotation file exists, the folder names are
    the building ids):

    * ``train/drone/<building>/*.jpeg`` - drone queries (54 per building),
      ``train/street/<building>/*.jpg`` - street (ground) photos,
      ``train/google/<building>/*`` - noisy web photos (only with
      ``include_google=True``), ``train/satellite/<building>/<building>.jpg`` -
      the satellite tile of each of the 701 training buildings.
    * ``test/query_drone/<building>/*`` (701 buildings, 37,855 images) vs
      ``test/gallery_satellite/<building>/*`` (951 tiles: the 701 test buildings
      + 250 distractor buildings with no query image);
      ``test/query_satellite/<building>/*`` (701) vs
      ``test/gallery_drone/<building>/*`` (51,355 drone images);
      ``test/query_street`` vs ``test/gallery_satellite`` (optional).

    Location ids: ``location_offset`` (default 10,000,000) + the building's
    number (folder ``0839`` -> 839); folder names must be integers. The 250
    distractors keep their own ids (not ``-1``): the official protocol ranks
    them, so R@K and AP are over 951 tiles. Gallery infos carry
    ``distractor=True`` for them (informational; the metric does not drop them).
    Every info keeps its building folder name as ``place``.
    A training building without its tile is reported as missing
    ``train/satellite/<building>/<building>.jpg`` (``on_missing``).

    Args:
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        protocol (str): test only: ``'drone->satellite'``,
            ``'satellite->drone'`` (queries are satellite tiles, view
            ``'satellite'``; the gallery holds drone images, view ``'uav'``, and
            ``metainfo['gallery_view'] == 'uav'``) or ``'street->satellite'``.
            Defaults to ``'drone->satellite'``.
        views (Sequence[str]): train only: query views for ``'pairs'`` /
            ``'query'``: ``'uav'`` (drone folder) and/or ``'ground'`` (street).
            Defaults to ``('uav',)``.
        include_google (bool): train only: add ``train/google`` photos as
            ``'ground'`` queries (needs ``'ground'`` in ``views``). Defaults to
            False.
        **kwargs: those of :class:`BaseCrossViewDataset`.
    """

    METAINFO = dict(name='University-1652', reference_view='satellite', gallery_view='satellite')
    DATA_DIRNAME = 'University-Release'
    DOCS_ANCHOR = 'university-1652'
    LAYOUT = """\
University-Release/
  train/drone/<building>/image-01.jpeg ...   train/satellite/<building>/<building>.jpg
  train/street/<building>/*.jpg              train/google/<building>/* (optional)
  test/query_drone/<building>/*              test/gallery_satellite/<building>/*
  test/query_satellite/<building>/*          test/gallery_drone/<building>/*"""

    def __init__(
        self,
        split: str = 'train',
        protocol: str = 'drone->satellite',
        views: Sequence[str] = ('uav',),
        include_google: bool = False,
        **kwargs,
    ):
        if split not in ('train', 'test'):
            raise ValueError(f"University1652Dataset: split={split!r}, expected 'train' or 'test'")
        if protocol not in PROTOCOLS:
            raise ValueError(
                f'University1652Dataset: protocol={protocol!r}, expected one of {tuple(PROTOCOLS)}'
            )
        unknown = [v for v in views if v not in TRAIN_FOLDERS]
        if unknown or not views:
            raise ValueError(
                f'University1652Dataset: views={tuple(views)}, expected a '
                f'non-empty subset of {tuple(TRAIN_FOLDERS)}'
            )
        if include_google and 'ground' not in views:
            raise ValueError(
                "University1652Dataset: include_google=True adds 'ground' "
                "queries; put 'ground' in views"
            )
        if split == 'test' and kwargs.get('mode', 'pairs') == 'pairs':
            raise ValueError(
                "University1652Dataset: mode='pairs' is for split='train'; the "
                "test split is evaluated with mode='query' and mode='gallery'"
            )
        self.split, self.protocol = split, protocol
        self.views, self.include_google = tuple(views), include_google
        super().__init__(**kwargs)
        if split == 'test':
            self._metainfo['gallery_view'] = PROTOCOLS[protocol][3]

    def describe(self) -> str:
        extra = f', protocol={self.protocol!r}' if self.split == 'test' else ''
        return f'University1652Dataset(mode={self.mode!r}, split={self.split!r}{extra})'

    # ------------------------------------------------------------------ helpers
    def _folder_images(self, folder: str, view: str, key: str, ignored: list) -> List[dict]:
        return self.folder_infos(folder, view, key, ignored, split=self.split)

    def _train_query_folders(self):
        for view in self.views:
            yield (
                view,
                self.require_dir(
                    self.path('train', TRAIN_FOLDERS[view]), f'train/{TRAIN_FOLDERS[view]} folder'
                ),
            )
        if self.include_google:
            yield 'ground', self.require_dir(self.path('train', 'google'), 'train/google folder')

    # ------------------------------------------------------------------ loading
    def load_annotations(self) -> List[dict]:
        ignored: list = []
        if self.split == 'train':
            sat_dir = self.require_dir(self.path('train', 'satellite'), 'train/satellite folder')
            if self.mode == 'gallery':
                infos = self._folder_images(sat_dir, 'satellite', 'reference_path', ignored)
            else:
                infos = []
                for view, folder in self._train_query_folders():
                    infos += self._folder_images(folder, view, 'query_path', ignored)
                if self.mode == 'pairs':
                    infos = self._pair_with_satellite(infos, sat_dir, ignored)
        else:
            q_name, q_view, g_name, g_view = PROTOCOLS[self.protocol]
            if self.mode == 'query':
                folder = self.require_dir(self.path('test', q_name), f'test/{q_name} folder')
                infos = self._folder_images(folder, q_view, 'query_path', ignored)
            else:
                folder = self.require_dir(self.path('test', g_name), f'test/{g_name} folder')
                infos = self._folder_images(folder, g_view, 'reference_path', ignored)
                query_dir = self.path('test', q_name)
                if osp.isdir(query_dir):
                    # a building is queried when its folder holds a query image: an
                    # empty folder (or one of stray files) leaves its tile a distractor
                    queried = {
                        b for b in list_subdirs(query_dir) if list_images(osp.join(query_dir, b))
                    }
                    for info in infos:
                        info['distractor'] = info['place'] not in queried
        self.report_ignored_files(ignored)
        return infos

    def _pair_with_satellite(self, queries: List[dict], sat_dir: str, ignored: list) -> List[dict]:
        satellites = {}
        pairs = []
        for info in queries:
            building = info['place']
            if building not in satellites:
                folder = osp.join(sat_dir, building)
                names = list_images(folder, ignored) if osp.isdir(folder) else []
                # the release names the tile <building>.jpg: point at it when absent, so
                # that the file check reports the missing tile by name
                satellites[building] = [osp.join(folder, n) for n in names] or [
                    osp.join(folder, f'{building}.jpg')
                ]
            for sat in satellites[building]:
                pairs.append(dict(info, reference_path=sat, reference_view='satellite'))
        return pairs
