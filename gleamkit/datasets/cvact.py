"""CVACT (Liu & Li, CVPR 2019): street panoramas of Canberra and centre-aligned
satellite tiles, with UTM positions; the val split (8,884) and the large test
split (92,802)."""

import os
import os.path as osp
from typing import List, Optional, Tuple

import numpy as np

from gleamkit.registry import DATASETS

from .base_cross_view import BaseCrossViewDataset

# split -> (struct in ACT_data.mat, its index field, image folder)
SPLITS = {
    'train': ('trainSet', 'trainInd', 'ANU_data_small'),
    'val': ('valSet', 'valInd', 'ANU_data_small'),
    'test': ('valSetAll', 'valInd', 'ANU_data_test'),
}
GROUND_SUFFIX = '_grdView.jpg'
SATELLITE_SUFFIX = '_satView_polish.jpg'

# WGS84 and the UTM projection (Krueger series, accurate to well under a millimetre
# within a zone)
_A, _F, _K0 = 6378137.0, 1 / 298.257223563, 0.9996
_N = _F / (2 - _F)
_RECT = _A / (1 + _N) * (1 + _N**2 / 4 + _N**4 / 64)
_BETA = (_N / 2 - 2 * _N**2 / 3 + 37 * _N**3 / 96, _N**2 / 48 + _N**3 / 15, 17 * _N**3 / 480)
_DELTA = (2 * _N - 2 * _N**2 / 3 - 2 * _N**3, 7 * _N**2 / 3 - 8 * _N**3 / 5, 56 * _N**3 / 15)


def utm_to_lat_lon(
    easting, northing, zone: int = 55, southern: bool = True
) -> Tuple[np.ndarray, np.ndarray]:
    """WGS84 latitude and longitude (degrees) of UTM coordinates (metres).

    CVACT is in Canberra: zone 55, southern hemisphere (EPSG:32755).
    """
    easting = np.asarray(easting, dtype=np.float64)
    northing = np.asarray(northing, dtype=np.float64)
    xi = (northing - (10_000_000.0 if southern else 0.0)) / (_K0 * _RECT)
    eta = (easting - 500_000.0) / (_K0 * _RECT)
    xi_p, eta_p = xi.copy(), eta.copy()
    for j, beta in enumerate(_BETA, 1):
        xi_p -= beta * np.sin(2 * j * xi) * np.cosh(2 * j * eta)
        eta_p -= beta * np.cos(2 * j * xi) * np.sinh(2 * j * eta)
    chi = np.arcsin(np.sin(xi_p) / np.cosh(eta_p))
    lat = chi.copy()
    for j, delta in enumerate(_DELTA, 1):
        lat += delta * np.sin(2 * j * chi)
    lon0 = np.radians(zone * 6 - 183)
    lon = lon0 + np.arctan2(np.sinh(eta_p), np.cos(xi_p))
    return np.degrees(lat), np.degrees(lon)


def _mat_strings(array) -> List[str]:
    """Strings of a MATLAB char matrix or cell array as loaded by scipy."""
    array = np.asarray(array)
    if array.dtype.kind in 'US':
        return [str(s).strip() for s in array.reshape(-1)]
    out = []
    for item in array.reshape(-1):
        while isinstance(item, np.ndarray) and item.dtype == object and item.size == 1:
            item = item.reshape(-1)[0]
        if isinstance(item, np.ndarray):
            item = ''.join(str(s) for s in item.reshape(-1))
        out.append(str(item).strip())
    return out


@DATASETS.register_module()
class CVACTDataset(BaseCrossViewDataset):
    """CVACT val and test, and its training split.

    Files read:

    * ``ACT_data.mat`` (read with ``scipy.io.loadmat``): ``panoIds`` (the id of
      every panorama), ``utm`` (one row per id: UTM easting, northing in metres;
      the column order is detected - northings in Canberra are ~6.1e6, eastings
      ~7e5), ``trainSet.trainInd`` / ``valSet.valInd`` / ``valSetAll.valInd``
      (1-based indices into ``panoIds`` of the train, val and test splits).
    * ``ANU_data_small/streetview/<id>_grdView.jpg`` and
      ``ANU_data_small/satview_polish/<id>_satView_polish.jpg`` (train, val);
      ``ANU_data_test/streetview/...`` and ``ANU_data_test/satview_polish/...``
      (test).

    When ``ACT_data.mat`` has no ``valSetAll`` the test ids are those with both a
    panorama and a tile in ``ANU_data_test`` (as Sample4Geo reads them; logged
    with the count); ids missing from ``panoIds`` then have no GPS.

    GPS: ``lat``/``lon`` from ``utm`` (zone ``utm_zone``, southern hemisphere),
    on queries and gallery tiles alike (the tiles are centred on the panorama).

    Location ids: ``location_offset`` (default 60,000,000) + the 0-based index in
    ``panoIds`` (test ids absent from it: ``len(panoIds)`` + their rank).

    A panorama id listed in the split whose image is missing is reported
    (``on_missing``); Sample4Geo drops such ids silently.

    Args:
        split (str): ``'train'`` (35,532), ``'val'`` (8,884) or ``'test'`` (92,802).
            Defaults to ``'train'``.
        ann_file (str): the .mat file, relative to ``data_root``. Defaults to
            ``'ACT_data.mat'``.
        utm_zone (int): UTM zone of ``utm``. Defaults to 55 (Canberra).
        **kwargs: those of :class:`BaseCrossViewDataset`.
    """

    METAINFO = dict(name='CVACT', reference_view='satellite', gallery_view='satellite')
    DATA_DIRNAME = 'CVACT'
    DOCS_ANCHOR = 'cvact'
    LAYOUT = """\
CVACT/
  ACT_data.mat                         (panoIds, utm, trainSet, valSet[, valSetAll])
  ANU_data_small/streetview/<id>_grdView.jpg
  ANU_data_small/satview_polish/<id>_satView_polish.jpg
  ANU_data_test/streetview/<id>_grdView.jpg
  ANU_data_test/satview_polish/<id>_satView_polish.jpg"""

    def __init__(
        self, split: str = 'train', ann_file: str = 'ACT_data.mat', utm_zone: int = 55, **kwargs
    ):
        if split not in SPLITS:
            raise ValueError(f'CVACTDataset: split={split!r}, expected one of {tuple(SPLITS)}')
        self.split, self.utm_zone = split, int(utm_zone)
        super().__init__(ann_file=ann_file, **kwargs)

    # ------------------------------------------------------------------ .mat
    def _load_mat(self) -> dict:
        try:
            from scipy.io import loadmat
        except ImportError as err:  # pragma: no cover - scipy is a dependency
            raise ImportError(
                'CVACTDataset reads ACT_data.mat with scipy: pip install scipy'
            ) from err
        path = self.require_file(self.ann_file, 'annotation file ACT_data.mat')
        try:
            return loadmat(path)
        except Exception as err:  # scipy raises MatReadError, ValueError, ...
            raise ValueError(
                f'CVACTDataset: cannot read {path} as a MATLAB file ({err}); '
                'ACT_data.mat is a MATLAB v5 file'
            ) from err

    def _split_indices(self, mat: dict, struct: str, field: str) -> Optional[np.ndarray]:
        if struct not in mat:
            return None
        value = mat[struct]
        names = value.dtype.names or ()
        if field not in names:
            raise ValueError(
                f'CVACTDataset: {self.ann_file}: {struct} has fields {names}, expected {field!r}'
            )
        index = np.asarray(value[field][0, 0]).reshape(-1).astype(np.int64) - 1
        return index

    def _lat_lon(self, mat: dict, n: int) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        if 'utm' not in mat:
            self.warn(f'{self.ann_file} has no utm: samples get no lat/lon')
            return None
        utm = np.asarray(mat['utm'], dtype=np.float64)
        if utm.ndim != 2 or utm.shape != (n, 2):
            if utm.ndim == 2 and utm.shape == (2, n):
                utm = utm.T
            else:
                raise ValueError(
                    f'CVACTDataset: {self.ann_file}: utm has shape {utm.shape}, '
                    f'expected ({n}, 2) for {n} panoIds'
                )
        east, north = utm[:, 0], utm[:, 1]
        if np.median(east) > np.median(north):  # northings (~6.1e6) exceed eastings
            east, north = north, east
        return utm_to_lat_lon(east, north, zone=self.utm_zone, southern=True)

    # ------------------------------------------------------------------ loading
    def load_annotations(self) -> List[dict]:
        mat = self._load_mat()
        if 'panoIds' not in mat:
            raise ValueError(
                f'CVACTDataset: {self.ann_file} has no panoIds (keys: '
                f'{sorted(k for k in mat if not k.startswith("__"))})'
            )
        pano_ids = _mat_strings(mat['panoIds'])
        struct, field, folder = SPLITS[self.split]
        index = self._split_indices(mat, struct, field)
        if index is None and self.split != 'test':
            raise ValueError(
                f'CVACTDataset: {self.ann_file} has no {struct}.{field} '
                f'(keys: {sorted(k for k in mat if not k.startswith("__"))})'
            )
        if index is not None and (index.min() < 0 or index.max() >= len(pano_ids)):
            raise ValueError(
                f'CVACTDataset: {self.ann_file}: {struct}.{field} indexes outside '
                f'1..{len(pano_ids)}'
            )
        gps = self._lat_lon(mat, len(pano_ids))
        if index is not None:
            entries = [(pano_ids[i], int(i)) for i in index]
        else:
            entries = self._test_ids_from_folder(folder, pano_ids)

        ground_dir = self.path(folder, 'streetview')
        sat_dir = self.path(folder, 'satview_polish')
        infos = []
        for pano, local in entries:
            info = dict(location_id=self.location_id(local), pano_id=pano, split=self.split)
            if gps is not None and local < len(pano_ids):
                info.update(lat=float(gps[0][local]), lon=float(gps[1][local]))
            sat = osp.join(sat_dir, pano + SATELLITE_SUFFIX)
            if self.mode == 'gallery':
                info.update(view='satellite', reference_view='satellite', reference_path=sat)
            else:
                info.update(view='panorama', query_path=osp.join(ground_dir, pano + GROUND_SUFFIX))
                if self.mode == 'pairs':
                    info.update(reference_path=sat, reference_view='satellite')
            infos.append(info)
        return infos

    def _test_ids_from_folder(self, folder: str, pano_ids: List[str]):
        ground_dir = self.require_dir(self.path(folder, 'streetview'), f'{folder}/streetview')
        sat_dir = self.require_dir(self.path(folder, 'satview_polish'), f'{folder}/satview_polish')
        ground = {
            n[: -len(GROUND_SUFFIX)] for n in os.listdir(ground_dir) if n.endswith(GROUND_SUFFIX)
        }
        sats = {
            n[: -len(SATELLITE_SUFFIX)] for n in os.listdir(sat_dir) if n.endswith(SATELLITE_SUFFIX)
        }
        both = sorted(ground & sats)
        self.warn(
            f'{self.ann_file} has no valSetAll: the test ids are the {len(both)} ids with '
            f'both images in {folder} ({len(ground - sats)} panoramas without a tile and '
            f'{len(sats - ground)} tiles without a panorama are not used)'
        )
        position = {p: i for i, p in enumerate(pano_ids)}
        extra = iter(range(len(pano_ids), len(pano_ids) + len(both)))
        return [(p, position[p] if p in position else next(extra)) for p in both]
