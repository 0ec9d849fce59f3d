"""CVUSA (Workman et al., ICCV 2015; the CVPR'17 subset of Zhai et al.): street
panoramas and centre-aligned Bing satellite tiles, one-to-one."""

import csv
import os.path as osp
from typing import List

from gleamkit.registry import DATASETS

from .base_cross_view import BaseCrossViewDataset

SPLIT_FILES = {'train': 'train-19zl.csv', 'test': 'val-19zl.csv', 'val': 'val-19zl.csv'}


@DATASETS.register_module()
class CVUSADataset(BaseCrossViewDataset):
    """CVUSA (35,532 training and 8,884 test pairs).

    Files read:

    * ``splits/train-19zl.csv`` (``split='train'``) or ``splits/val-19zl.csv``
      (``split='test'``/``'val'``: the 8,884 pairs every paper tests on). No
      header; each line ``bingmap/19/0000001.jpg,streetview/panos/0000001.jpg,
      streetview/annotations/0000001.png`` (satellite, panorama, segmentation -
      the third column is not used). Paths are relative to ``data_root``.
    * the images those lines name.

    CVUSA's split files carry no GPS, so samples have no ``lat``/``lon``.

    Location ids: ``location_offset`` (default 50,000,000) + the number in the
    satellite file name (``0000001.jpg`` -> 1), as Sample4Geo labels them; two
    lines with the same satellite are an error.

    Args:
        split (str): ``'train'``, ``'test'`` or ``'val'`` (= ``'test'``).
            Defaults to ``'train'``.
        **kwargs: those of :class:`BaseCrossViewDataset`.
    """

    METAINFO = dict(name='CVUSA', reference_view='satellite', gallery_view='satellite')
    DATA_DIRNAME = 'CVUSA'
    DOCS_ANCHOR = 'cvusa'
    LAYOUT = """\
CVUSA/
  splits/train-19zl.csv, splits/val-19zl.csv
  bingmap/19/0000001.jpg ...
  streetview/panos/0000001.jpg ..."""

    def __init__(self, split: str = 'train', **kwargs):
        if split not in SPLIT_FILES:
            raise ValueError(f'CVUSADataset: split={split!r}, expected one of {tuple(SPLIT_FILES)}')
        self.split = split
        super().__init__(**kwargs)

    def load_annotations(self) -> List[dict]:
        path = self.require_file(
            self.path('splits', SPLIT_FILES[self.split]), f'{self.split} split file'
        )
        infos, seen = [], {}
        with open(path, newline='') as f:
            for line_no, row in enumerate(csv.reader(f), 1):
                if not row or not ''.join(row).strip():
                    continue
                if len(row) < 2:
                    raise ValueError(
                        f'CVUSADataset: {path}:{line_no}: expected '
                        '"<satellite>,<panorama>[,<annotation>]", got {row}'
                    )
                sat, pano = row[0].strip(), row[1].strip()
                stem = osp.splitext(osp.basename(sat))[0]
                if not stem.isdigit():
                    raise ValueError(
                        f'CVUSADataset: {path}:{line_no}: satellite file {sat!r} '
                        'is not numbered like bingmap/19/0000001.jpg'
                    )
                if stem in seen:
                    raise ValueError(
                        f'CVUSADataset: {path}:{line_no} repeats satellite {sat!r} '
                        f'of line {seen[stem]}'
                    )
                seen[stem] = line_no
                info = dict(location_id=self.location_id(int(stem)), split=self.split)
                if self.mode == 'gallery':
                    info.update(
                        view='satellite', reference_view='satellite', reference_path=self.path(sat)
                    )
                else:
                    info.update(view='panorama', query_path=self.path(pano))
                    if self.mode == 'pairs':
                        info.update(reference_path=self.path(sat), reference_view='satellite')
                infos.append(info)
        return infos
