"""GTA-UAV (Ji et al., Game4Loc, AAAI 2025): synthetic drone views from GTA V
matched to satellite tiles by their overlap; partially overlapping tiles are
weighted (semi-)positives."""

import json
import os
import os.path as osp
from typing import Dict, List

from gleamkit.registry import DATASETS

from .base_cross_view import IMAGE_EXTENSIONS, BaseCrossViewDataset

ANN_FILES = {
    ('same', 'train'): 'same-area-drone2sate-train.json',
    ('same', 'test'): 'same-area-drone2sate-test.json',
    ('cross', 'train'): 'cross-area-drone2sate-train.json',
    ('cross', 'test'): 'cross-area-drone2sate-test.json',
}


@DATASETS.register_module()
class GTAUAVDataset(BaseCrossViewDataset):
    """GTA-UAV with Game4Loc's weighted positives.

    Files read:

    * ``{same,cross}-area-drone2sate-{train,test}.json`` (or ``ann_file``): a
      list with one object per drone image: ``drone_img_dir``,
      ``drone_img_name``, ``sate_img_dir``, ``pair_pos_sate_img_list`` /
      ``pair_pos_sate_weight_list`` (tiles whose IoU with the drone footprint
      passes the positive threshold, with that IoU) and
      ``pair_pos_semipos_sate_img_list`` / ``..._weight_list`` (positives and
      semi-positives: any tile that overlaps enough); ``drone_loc_x_y`` (game
      metres) is kept as ``loc_xy`` and ``drone_metadata.height`` as
      ``altitude``.
    * ``<drone_img_dir>/<drone_img_name>`` (``drone/images/...``) and the tiles
      ``<sate_img_dir>/<zoom>_<x>_<y>.png`` (``satellite/...``).

    Samples:

    * ``'pairs'``: one sample per (drone image, tile) of ``positives``
      (``'pos'``: positives only, or ``'pos_semipos'``, Game4Loc's default for
      weighted InfoNCE): ``weight`` = the tile's IoU weight; ``location_id`` = the
      tile; ``semi_positive_ids`` / ``semi_positive_weights`` = the drone
      image's other overlapping tiles (so a sampler can keep them out of the
      batch and a loss can weight them).
    * ``'query'``: one per drone image that has a positive tile (Game4Loc's
      evaluation skips the others; their count is logged):
      ``location_id`` = the highest-weight positive tile, ``positive_ids`` = every
      positive tile, ``semi_positive_ids`` (+ ``semi_positive_weights``) = every
      other overlapping tile. R@K therefore counts the best tile only (stricter
      than Game4Loc, whose hit is any positive tile); ``hit_rate`` counts any
      overlapping tile.
    * ``'gallery'``: every image under ``sate_img_dir`` (Game4Loc's
      drone->satellite gallery: all tiles of all zoom levels).

    GTA V has no latitude/longitude, so no ``lat``/``lon``.

    Location ids: ``location_offset`` (default 70,000,000) + the rank of the tile
    name among all images under ``satellite_dir`` (sorted). Tiles are named by
    file name, as in the json files; two tiles with one name are an error.

    Args:
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        area (str): ``'same'`` or ``'cross'`` (picks the json file). Defaults to
            ``'same'``.
        ann_file (str): another json file of the same format. Defaults to ``''``
            (the one ``split`` and ``area`` pick).
        positives (str): pairs mode: ``'pos'`` or ``'pos_semipos'``. Defaults to
            ``'pos_semipos'``.
        satellite_dir (str): the tile folder. Defaults to ``'satellite'``.
        **kwargs: those of :class:`BaseCrossViewDataset`.
    """

    METAINFO = dict(name='GTA-UAV', reference_view='satellite', gallery_view='satellite')
    DATA_DIRNAME = 'GTA-UAV'
    DOCS_ANCHOR = 'gta-uav'
    LAYOUT = """\
GTA-UAV/
  same-area-drone2sate-train.json   same-area-drone2sate-test.json
  cross-area-drone2sate-train.json  cross-area-drone2sate-test.json
  drone/images/<name>.png
  satellite/<zoom>_<x>_<y>.png"""

    def __init__(
        self,
        split: str = 'train',
        area: str = 'same',
        ann_file: str = '',
        positives: str = 'pos_semipos',
        satellite_dir: str = 'satellite',
        **kwargs,
    ):
        if (area, split) not in ANN_FILES:
            raise ValueError(
                f'GTAUAVDataset: split={split!r}, area={area!r}; expected split '
                "'train'/'test' and area 'same'/'cross'"
            )
        if positives not in ('pos', 'pos_semipos'):
            raise ValueError(
                f"GTAUAVDataset: positives={positives!r}, expected 'pos' or 'pos_semipos'"
            )
        self.split, self.area, self.positives = split, area, positives
        self.satellite_dir = satellite_dir
        super().__init__(ann_file=ann_file or ANN_FILES[(area, split)], **kwargs)

    def describe(self) -> str:
        return f'GTAUAVDataset(mode={self.mode!r}, split={self.split!r}, area={self.area!r})'

    # ------------------------------------------------------------------ tiles
    def _tiles(self) -> Dict[str, str]:
        """Tile file name -> path, for every image under ``satellite_dir``."""
        root = self.require_dir(self.path(self.satellite_dir), 'satellite tile folder')
        tiles: Dict[str, str] = {}
        for folder, _, files in os.walk(root):
            for name in files:
                if osp.splitext(name)[1].lower() not in IMAGE_EXTENSIONS:
                    continue
                if name in tiles:
                    raise ValueError(
                        f'GTAUAVDataset: two tiles named {name!r}: {tiles[name]} '
                        f'and {osp.join(folder, name)}'
                    )
                tiles[name] = osp.join(folder, name)
        return tiles

    def _read_json(self) -> list:
        path = self.require_file(self.ann_file, 'pair annotation file')
        try:
            with open(path, encoding='utf-8') as f:
                entries = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f'GTAUAVDataset: {path} is not valid JSON ({err})') from err
        if not isinstance(entries, list):
            raise ValueError(f'GTAUAVDataset: {path} must hold a list of drone entries')
        return entries

    # ------------------------------------------------------------------ loading
    def load_annotations(self) -> List[dict]:
        tiles = self._tiles()
        ids = {name: self.location_id(i) for i, name in enumerate(sorted(tiles))}
        if self.mode == 'gallery':
            return [
                dict(
                    view='satellite',
                    reference_view='satellite',
                    location_id=ids[name],
                    tile=name,
                    reference_path=tiles[name],
                    split=self.split,
                )
                for name in sorted(tiles)
            ]

        path = self.ann_file
        infos, no_positive = [], 0
        for k, entry in enumerate(self._read_json()):
            try:
                drone = self.path(entry['drone_img_dir'], entry['drone_img_name'])
                pos = list(zip(entry['pair_pos_sate_img_list'], entry['pair_pos_sate_weight_list']))
                near = list(
                    zip(
                        entry['pair_pos_semipos_sate_img_list'],
                        entry['pair_pos_semipos_sate_weight_list'],
                    )
                )
            except KeyError as err:
                raise ValueError(f'GTAUAVDataset: {path}: entry {k} has no {err}') from err
            unknown = [t for t, _ in pos + near if t not in ids]
            if unknown:
                raise ValueError(
                    f'GTAUAVDataset: {path}: entry {k} ({entry["drone_img_name"]}) '
                    f'names tiles not under {self.satellite_dir}/: {unknown[:3]}'
                )
            base = dict(view='uav', query_path=drone, split=self.split)
            if entry.get('drone_loc_x_y') is not None:
                base['loc_xy'] = [float(v) for v in entry['drone_loc_x_y']]
            height = (entry.get('drone_metadata') or {}).get('height')
            if height is not None:
                base['altitude'] = float(height)
            if self.mode == 'pairs':
                chosen = pos if self.positives == 'pos' else near
                for tile, weight in chosen:
                    others = [(t, w) for t, w in near if t != tile]
                    infos.append(
                        dict(
                            base,
                            location_id=ids[tile],
                            weight=float(weight),
                            reference_path=tiles[tile],
                            reference_view='satellite',
                            semi_positive_ids=[ids[t] for t, _ in others],
                            semi_positive_weights=[float(w) for _, w in others],
                        )
                    )
                continue
            if not pos:
                no_positive += 1
                continue
            best = max(pos, key=lambda tw: tw[1])[0]
            others = [(t, w) for t, w in near if t != best]
            infos.append(
                dict(
                    base,
                    location_id=ids[best],
                    positive_ids=[ids[t] for t, _ in pos],
                    semi_positive_ids=[ids[t] for t, _ in others],
                    semi_positive_weights=[float(w) for _, w in others],
                )
            )
        if no_positive:
            self.warn(
                f'{no_positive} drone images of {path} have no positive tile and are '
                "not queries (as in Game4Loc's evaluation)"
            )
        return infos
