"""Sets of ground photos per satellite cell (SetVL-480K style, Wu et al. 2024):
a query is a *set* of photos of one cell, the model aggregates their embeddings.

The dataset yields one sample per set; the usual transforms load, resize and pack
the set (``LoadCrossViewImages``, ``ResizeViews``, ``PackCrossViewInputs``: they
serve single images and sets alike; ``LoadImageSet``, ``ResizeImageSet`` and
``PackImageSetInputs`` are their deprecated set-only aliases). A packed
set is ``inputs['query']``: a ``(S, 3, H, W)`` uint8 tensor, with ``set_size``
(= S) in the data sample; mmengine's ``pseudo_collate`` keeps a batch as a list
of such tensors (sets of different sizes batch fine). Embedding each member and
aggregating (mean, at least) is the model's job.
"""

import os.path as osp
import random
from typing import Dict, List, Optional, Sequence

import torch

from gleamkit.registry import DATASETS

from .base_cross_view import BaseCrossViewDataset, list_images, list_subdirs
from .checks import read_gps_csv
from .transforms.formatting import DEFAULT_META_KEYS

# deprecated set transforms, importable from here as before (and registered)
from .transforms.image_set_aliases import (  # noqa: F401
    LoadImageSet,
    PackImageSetInputs,
    ResizeImageSet,
)

#: deprecated: the set's meta keys are now :data:`DEFAULT_META_KEYS`
SET_META_KEYS = DEFAULT_META_KEYS


@DATASETS.register_module()
class GroundImageSetDataset(BaseCrossViewDataset):
    """Ground-photo sets of satellite cells (``SetVL-480K``-style layout).

    SetVL-480K's release layout is not public; gleamkit reads this one (one
    folder of photos per cell, the cell's tile named like the folder)::

        SetVL-480K/
          satellite/<cell>.jpg         the cell's satellite tile
          ground/<cell>/*.jpg          its ground photos (about 40)
          splits/train.txt, test.txt   cell names, one per line
          cells.csv                    optional: cell,lat,lon (the cell centre)

    Files read: exactly those. A cell listed in a split without a satellite tile
    is an error; a cell without ground photos yields no query (counted in a
    warning).

    Samples:

    * ``as_sets=True``: one sample per cell: ``query_paths`` (all its photos,
      sorted), ``set_size`` (how many the sample uses: all, or
      ``max_set_size``), ``view='ground'``; ``'pairs'`` adds the tile
      (``reference_path``). Which members a sample uses is drawn in
      ``prepare_data``: ``set_sampling='random'`` (a new random subset of
      ``max_set_size`` every time; default for ``'pairs'``) or ``'first'`` (the
      first ``max_set_size`` in name order; default for ``'query'``, so that
      evaluation is deterministic).
    * ``as_sets=False``: every photo is a query of its own (single-image
      protocol), paired with the tile in ``'pairs'`` mode.
    * ``'gallery'``: the split's satellite tiles.

    Location ids: ``location_offset`` (default 80,000,000) + the rank of the
    cell among all ``satellite/`` tiles (sorted by name).

    Args:
        split (str): ``'train'``, ``'test'`` (from ``splits/``) or ``'all'``.
            Defaults to ``'train'``.
        as_sets (bool): sets (True) or single photos. Defaults to True.
        max_set_size (int, optional): cap on the members of one sample.
            Defaults to None (no cap).
        set_sampling (str, optional): ``'random'`` or ``'first'`` (see above).
            Defaults to None (``'random'`` for ``'pairs'``, else ``'first'``).
        seed (int, optional): seeds ``'random'`` sampling (each dataloader worker
            draws its own stream from it). Defaults to None (Python's
            ``random``, which mmengine seeds per worker).
        **kwargs: those of :class:`BaseCrossViewDataset`.
    """

    METAINFO = dict(name='ground-image-sets', reference_view='satellite', gallery_view='satellite')
    DATA_DIRNAME = 'SetVL-480K'
    DOCS_ANCHOR = 'setvl-480k-style-ground-photo-sets'
    LAYOUT = """\
SetVL-480K/
  satellite/<cell>.jpg
  ground/<cell>/*.jpg
  splits/train.txt, splits/test.txt (cell names)
  cells.csv (optional: cell,lat,lon)"""

    def __init__(
        self,
        split: str = 'train',
        as_sets: bool = True,
        max_set_size: Optional[int] = None,
        set_sampling: Optional[str] = None,
        seed: Optional[int] = None,
        **kwargs,
    ):
        mode = kwargs.get('mode', 'pairs')
        if set_sampling is None:
            set_sampling = 'random' if mode == 'pairs' else 'first'
        if set_sampling not in ('random', 'first'):
            raise ValueError(
                f'GroundImageSetDataset: set_sampling={set_sampling!r}, expected '
                "'random' or 'first'"
            )
        if max_set_size is not None and int(max_set_size) < 1:
            raise ValueError(
                f'GroundImageSetDataset: max_set_size={max_set_size}, expected a '
                'positive int or None'
            )
        self.split, self.as_sets = split, as_sets
        self.max_set_size = None if max_set_size is None else int(max_set_size)
        self.set_sampling = set_sampling
        self.seed = seed
        self._rng, self._rng_worker = None, None
        super().__init__(**kwargs)

    # ------------------------------------------------------------------ loading
    def _cells(self, sats: Dict[str, str]) -> List[str]:
        if self.split == 'all':
            return sorted(sats)
        path = self.require_file(
            self.path('splits', f'{self.split}.txt'), f'{self.split} split file'
        )
        with open(path) as f:
            cells = [line.strip() for line in f if line.strip()]
        unknown = [c for c in cells if c not in sats]
        if unknown:
            raise ValueError(
                f'GroundImageSetDataset: {path} lists {len(unknown)} cells without '
                f'a tile in {self.path("satellite")}; first: {unknown[:3]}'
            )
        return cells

    def _centres(self) -> Dict[str, tuple]:
        path = self.path('cells.csv')
        if not osp.isfile(path):
            return {}
        return read_gps_csv(path, 'GroundImageSetDataset', 'cell')

    def load_annotations(self) -> List[dict]:
        ignored: list = []
        sat_dir = self.require_dir(self.path('satellite'), 'satellite folder')
        sats = {osp.splitext(n)[0]: n for n in list_images(sat_dir, ignored)}
        ids = {cell: self.location_id(i) for i, cell in enumerate(sorted(sats))}
        cells = self._cells(sats)
        centres = self._centres()
        infos = []
        if self.mode == 'gallery':
            for cell in cells:
                info = dict(
                    view='satellite',
                    reference_view='satellite',
                    location_id=ids[cell],
                    cell=cell,
                    reference_path=osp.join(sat_dir, sats[cell]),
                    split=self.split,
                )
                info.update(_gps(centres.get(cell)))
                infos.append(info)
            self.report_ignored_files(ignored)
            return infos

        ground_dir = self.require_dir(self.path('ground'), 'ground photo folder')
        with_photos = set(list_subdirs(ground_dir))
        empty = []
        for cell in cells:
            photos = (
                [
                    osp.join(ground_dir, cell, n)
                    for n in list_images(osp.join(ground_dir, cell), ignored)
                ]
                if cell in with_photos
                else []
            )
            if not photos:
                empty.append(cell)
                continue
            base = dict(view='ground', location_id=ids[cell], cell=cell, split=self.split)
            base.update(_gps(centres.get(cell)))
            if self.mode == 'pairs':
                base.update(
                    reference_path=osp.join(sat_dir, sats[cell]), reference_view='satellite'
                )
            if self.as_sets:
                size = (
                    len(photos)
                    if self.max_set_size is None
                    else min(len(photos), self.max_set_size)
                )
                infos.append(dict(base, query_paths=photos, set_size=size))
            else:
                infos += [dict(base, query_path=p) for p in photos]
        if empty:
            self.warn(
                f'{len(empty)} of {len(cells)} cells have no ground photos in '
                f'{ground_dir} and give no query; first: {empty[:3]}'
            )
        self.report_ignored_files(ignored)
        return infos

    # ------------------------------------------------------------------ samples
    def _random(self):
        if self.seed is None:
            return random
        worker = torch.utils.data.get_worker_info()
        worker_id = -1 if worker is None else worker.id
        if self._rng is None or self._rng_worker != worker_id:
            self._rng = random.Random(self.seed * 1009 + worker_id + 1)
            self._rng_worker = worker_id
        return self._rng

    def choose_members(self, paths: Sequence[str]) -> List[str]:
        """The members one sample of a set uses (see ``set_sampling``)."""
        paths = list(paths)
        size = len(paths) if self.max_set_size is None else min(len(paths), self.max_set_size)
        if self.set_sampling == 'first':
            return paths[:size]
        return self._random().sample(paths, size)

    def load_sample(self, idx: int):
        info = self.get_data_info(idx)
        if 'query_paths' in info:
            info['query_paths'] = self.choose_members(info['query_paths'])
            info['set_size'] = len(info['query_paths'])
        return self.pipeline(info)


def _gps(lat_lon) -> dict:
    return {} if lat_lon is None else dict(lat=lat_lon[0], lon=lat_lon[1])
