"""Miniature replicas of the real dataset layouts, for tests.

Each ``make_*`` function writes, under a given root, the same folder names, file
names, split files and annotation formats as the real dataset, with a handful of
tiny images, and returns a dict describing what it wrote (ids, counts, paths) so
that tests can assert exact numbers. Reusable by any test:
``from replicas import make_university1652`` in tests/test_datasets (pytest puts
the test's folder on ``sys.path``; a site-packages ``tests`` package shadows
``tests.test_datasets``), elsewhere after adding that folder to ``sys.path``.
"""

import json
import math
import os
import os.path as osp
from typing import Dict, Sequence

import numpy as np

__all__ = [
    'write_image',
    'make_university1652',
    'make_vigor',
    'make_cvusa',
    'make_cvact',
    'make_sues200',
    'make_denseuav',
    'make_ground_sets',
    'make_street_map',
    'make_pair_list',
    'make_gta_uav',
    'latlon_to_utm',
]


def write_image(path: str, value: int = 0, size=(8, 8)) -> str:
    """A tiny RGB image whose pixels all equal ``value`` (format from the extension)."""
    from PIL import Image

    os.makedirs(osp.dirname(path), exist_ok=True)
    arr = np.full((size[0], size[1], 3), value % 256, dtype=np.uint8)
    Image.fromarray(arr).save(path)
    return path


def _write_lines(path: str, lines: Sequence[str]) -> str:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(''.join(f'{line}\n' for line in lines))
    return path


# ----------------------------------------------------------------- University-1652
def make_university1652(
    root: str,
    train_ids=('0001', '0002', '0003'),
    test_ids=('0100', '0101'),
    distractor_ids=('0500', '0501', '0502'),
    drone_per_building: int = 3,
    street_per_building: int = 2,
    google_per_building: int = 1,
) -> dict:
    """``University-Release``: train/{drone,satellite,street,google}/<id>/...,
    test/{query_drone,gallery_satellite,query_satellite,gallery_drone}/<id>/...
    with ``distractor_ids`` only in gallery_satellite."""

    def drone_images(folder, b):
        return [
            write_image(osp.join(folder, b, f'image-{k:02d}.jpeg'), k)
            for k in range(1, drone_per_building + 1)
        ]

    for b in train_ids:
        drone_images(osp.join(root, 'train', 'drone'), b)
        write_image(osp.join(root, 'train', 'satellite', b, f'{b}.jpg'), 200)
        for k in range(street_per_building):
            write_image(osp.join(root, 'train', 'street', b, f'{b}_{k}.jpg'), 100 + k)
        for k in range(google_per_building):
            write_image(osp.join(root, 'train', 'google', b, f'image-{k}.png'), 150 + k)
    for b in test_ids:
        drone_images(osp.join(root, 'test', 'query_drone'), b)
        drone_images(osp.join(root, 'test', 'gallery_drone'), b)
        write_image(osp.join(root, 'test', 'query_satellite', b, f'{b}.jpg'), 201)
        write_image(osp.join(root, 'test', 'gallery_satellite', b, f'{b}.jpg'), 201)
    for b in distractor_ids:
        write_image(osp.join(root, 'test', 'gallery_satellite', b, f'{b}.jpg'), 202)
    return dict(
        root=root,
        train_ids=list(train_ids),
        test_ids=list(test_ids),
        distractor_ids=list(distractor_ids),
        drone_per_building=drone_per_building,
        street_per_building=street_per_building,
        google_per_building=google_per_building,
    )


# ------------------------------------------------------------------------- VIGOR
VIGOR_CITIES = ('Chicago', 'NewYork', 'SanFrancisco', 'Seattle')
VIGOR_ORIGINS = {
    'Chicago': (41.88, -87.63),
    'NewYork': (40.73, -73.99),
    'SanFrancisco': (37.77, -122.42),
    'Seattle': (47.61, -122.33),
}


def make_vigor(
    root: str,
    sats_per_city: int = 5,
    train_per_city: int = 3,
    test_per_city: int = 2,
    layout: str = 'official',
) -> dict:
    """``VIGOR``: splits/<City>/{satellite_list.txt, same_area_balanced_train.txt,
    same_area_balanced_test.txt, pano_label_balanced.txt} and, for ``layout='official'``,
    <City>/{panorama,satellite}/ (``'sample4geo'``: ground/<City>/, satellite/<City>/).

    Panorama k of a city has tile k % n as positive and the next three as semi-positives.
    """
    out = dict(root=root, cities={})
    for c, city in enumerate(VIGOR_CITIES):
        lat0, lon0 = VIGOR_ORIGINS[city]
        if layout == 'official':
            pano_dir, sat_dir = osp.join(root, city, 'panorama'), osp.join(root, city, 'satellite')
        else:
            pano_dir, sat_dir = osp.join(root, 'ground', city), osp.join(root, 'satellite', city)
        sats = []
        for i in range(sats_per_city):
            name = f'satellite_{lat0 + 0.001 * i:.10f}_{lon0 - 0.001 * i:.10f}.png'
            write_image(osp.join(sat_dir, name), 10 * c + i)
            sats.append(name)
        _write_lines(osp.join(root, 'splits', city, 'satellite_list.txt'), sats)
        panos, lines = [], []
        for k in range(train_per_city + test_per_city):
            name = f'pano{c}x{k}-Id_{k},{lat0 + 0.0001 * k:.6f},{lon0 + 0.0002 * k:.6f},.jpg'
            write_image(osp.join(pano_dir, name), 50 + k, size=(8, 16))
            tiles = [(k + j) % sats_per_city for j in range(4)]
            fields = [name]
            for j, t in enumerate(tiles):
                fields += [sats[t], f'{1.5 * j:.4f}', f'{-2.0 * j:.4f}']
            panos.append(dict(name=name, tiles=tiles, lat=lat0 + 0.0001 * k, lon=lon0 + 0.0002 * k))
            lines.append(' '.join(fields))
        split_dir = osp.join(root, 'splits', city)
        _write_lines(osp.join(split_dir, 'same_area_balanced_train.txt'), lines[:train_per_city])
        _write_lines(osp.join(split_dir, 'same_area_balanced_test.txt'), lines[train_per_city:])
        _write_lines(osp.join(split_dir, 'pano_label_balanced.txt'), lines)
        out['cities'][city] = dict(
            sats=sats, panos=panos, train=panos[:train_per_city], test=panos[train_per_city:]
        )
    return out


# ------------------------------------------------------------------------- CVUSA
def make_cvusa(root: str, train_ids=(1, 2, 3, 5), val_ids=(44, 45, 46)) -> dict:
    """``CVUSA``: splits/{train,val}-19zl.csv lines ``bingmap/19/<7 digits>.jpg,
    streetview/panos/<7 digits>.jpg,streetview/annotations/<7 digits>.png``."""

    def lines(ids):
        out = []
        for i in ids:
            name = f'{i:07d}'
            write_image(osp.join(root, 'bingmap', '19', f'{name}.jpg'), i)
            write_image(osp.join(root, 'streetview', 'panos', f'{name}.jpg'), i, size=(4, 16))
            out.append(
                f'bingmap/19/{name}.jpg,streetview/panos/{name}.jpg,'
                f'streetview/annotations/{name}.png'
            )
        return out

    _write_lines(osp.join(root, 'splits', 'train-19zl.csv'), lines(train_ids))
    _write_lines(osp.join(root, 'splits', 'val-19zl.csv'), lines(val_ids))
    return dict(root=root, train_ids=list(train_ids), val_ids=list(val_ids))


# ------------------------------------------------------------------------- CVACT
def latlon_to_utm(lat, lon, zone: int = 55):
    """(easting, northing) in metres of WGS84 (lat, lon), southern-hemisphere UTM
    (Krueger series, the forward of ``gleamkit.datasets.cvact.utm_to_lat_lon``)."""
    a, f, k0 = 6378137.0, 1 / 298.257223563, 0.9996
    n = f / (2 - f)
    big_a = a / (1 + n) * (1 + n**2 / 4 + n**4 / 64)
    alpha = (n / 2 - 2 * n**2 / 3 + 5 * n**3 / 16, 13 * n**2 / 48 - 3 * n**3 / 5, 61 * n**3 / 240)
    phi, dlon = math.radians(lat), math.radians(lon - (zone * 6 - 183))
    c = 2 * math.sqrt(n) / (1 + n)
    t = math.sinh(math.atanh(math.sin(phi)) - c * math.atanh(c * math.sin(phi)))
    xi, eta = math.atan2(t, math.cos(dlon)), math.atanh(math.sin(dlon) / math.sqrt(1 + t * t))
    east = eta + sum(
        al * math.cos(2 * j * xi) * math.sinh(2 * j * eta) for j, al in enumerate(alpha, 1)
    )
    north = xi + sum(
        al * math.sin(2 * j * xi) * math.cosh(2 * j * eta) for j, al in enumerate(alpha, 1)
    )
    return 500_000.0 + k0 * big_a * east, 10_000_000.0 + k0 * big_a * north


def make_cvact(
    root: str,
    n_ids: int = 9,
    train=(1, 2, 3, 4),
    val=(5, 6),
    test=(7, 8, 9),
    with_test_struct: bool = True,
    swap_utm_columns: bool = False,
) -> dict:
    """``CVACT``: ACT_data.mat (panoIds, utm, trainSet.trainInd, valSet.valInd,
    valSetAll.valInd - 1-based), ANU_data_small/{streetview,satview_polish}/ and
    ANU_data_test/{streetview,satview_polish}/ with ``<id>_grdView.jpg`` and
    ``<id>_satView_polish.jpg``. Positions walk east of Parliament House, Canberra."""
    from scipy.io import savemat

    ids = [f'{k:02d}_Xq-Canberra_panoId_{k:02d}' for k in range(1, n_ids + 1)]  # 22 chars
    lat_lon = [(-35.3081 - 0.001 * k, 149.1245 + 0.002 * k) for k in range(n_ids)]
    utm = np.array([latlon_to_utm(la, lo) for la, lo in lat_lon])
    if swap_utm_columns:
        utm = utm[:, ::-1]

    def images(folder, indices):
        for i in indices:
            write_image(
                osp.join(root, folder, 'streetview', f'{ids[i - 1]}_grdView.jpg'), i, size=(4, 16)
            )
            write_image(
                osp.join(root, folder, 'satview_polish', f'{ids[i - 1]}_satView_polish.jpg'), i
            )

    images('ANU_data_small', list(train) + list(val))
    images('ANU_data_test', test)
    # the first struct field is a placeholder: Sample4Geo reads the index field by position
    mat = dict(
        panoIds=np.array(ids),
        utm=utm,
        trainSet=dict(trainNum=len(train), trainInd=np.array(train).reshape(-1, 1)),
        valSet=dict(valNum=len(val), valInd=np.array(val).reshape(-1, 1)),
    )
    if with_test_struct:
        mat['valSetAll'] = dict(valNum=len(test), valInd=np.array(test).reshape(-1, 1))
    os.makedirs(root, exist_ok=True)
    savemat(osp.join(root, 'ACT_data.mat'), mat)
    return dict(
        root=root, ids=ids, lat_lon=lat_lon, train=list(train), val=list(val), test=list(test)
    )


# ---------------------------------------------------------------------- SUES-200
def make_sues200(
    root: str,
    altitudes=(150, 200, 250, 300),
    train_ids=('0001', '0002'),
    test_ids=('0003', '0004', '0005'),
    frames: int = 2,
) -> dict:
    """``SUES-200-512x512`` after ``split_datasets.py``: Training/<h>/{drone,satellite}/
    and Testing/<h>/{query_drone,gallery_drone,query_satellite,gallery_satellite}/;
    the test galleries hold every scene (train scenes too)."""
    for h in altitudes:
        for s in train_ids + test_ids:
            split_dirs = [osp.join(root, 'Training', str(h))] if s in train_ids else []
            test_dir = osp.join(root, 'Testing', str(h))
            for k in range(frames):
                for d in split_dirs:
                    write_image(osp.join(d, 'drone', s, f'{k}.jpg'), k)
                write_image(osp.join(test_dir, 'gallery_drone', s, f'{k}.jpg'), k)
                if s in test_ids:
                    write_image(osp.join(test_dir, 'query_drone', s, f'{k}.jpg'), k)
            for d in split_dirs:
                write_image(osp.join(d, 'satellite', s, '0.png'), 99)
            write_image(osp.join(test_dir, 'gallery_satellite', s, '0.png'), 99)
            if s in test_ids:
                write_image(osp.join(test_dir, 'query_satellite', s, '0.png'), 99)
    return dict(
        root=root,
        altitudes=list(altitudes),
        train_ids=list(train_ids),
        test_ids=list(test_ids),
        frames=frames,
    )


# ---------------------------------------------------------------------- DenseUAV
def make_denseuav(
    root: str,
    train_ids=('000000', '000001', '000002'),
    test_ids=('000003', '000004'),
    heights=(80, 90, 100),
    gps_missing=('000004',),
) -> dict:
    """``DenseUAV``: train/{drone,satellite}/<place>/, test/{query_drone,gallery_satellite,
    query_satellite,gallery_drone}/<place>/ (galleries hold every place) and
    Dense_GPS_ALL.txt lines ``<path> E<lon> N<lat> <height>``."""
    gps, lines = {}, []
    for i, place in enumerate(train_ids + test_ids):
        lat, lon = 30.32 + 0.0001 * i, 120.37 + 0.0002 * i
        gps[place] = (lat, lon)
        folders = (['train'] if place in train_ids else []) + ['test']
        for h in heights:
            drone = f'H{h}.JPG'
            sats = (f'H{h}.tif', f'H{h}_old.tif')
            if 'train' in folders:
                write_image(osp.join(root, 'train', 'drone', place, drone), h)
                for s in sats:
                    write_image(osp.join(root, 'train', 'satellite', place, s), h + 1)
            write_image(osp.join(root, 'test', 'gallery_drone', place, drone), h)
            for s in sats:
                write_image(osp.join(root, 'test', 'gallery_satellite', place, s), h + 1)
            if place in test_ids:
                write_image(osp.join(root, 'test', 'query_drone', place, drone), h)
                for s in sats:
                    write_image(osp.join(root, 'test', 'query_satellite', place, s), h + 1)
            if place not in gps_missing:
                split = 'train' if place in train_ids else 'test'
                sub = 'drone' if split == 'train' else 'query_drone'
                lines.append(f'{split}/{sub}/{place}/{drone} E{lon:.7f} N{lat:.7f} {h}')
    _write_lines(osp.join(root, 'Dense_GPS_ALL.txt'), lines)
    return dict(
        root=root,
        train_ids=list(train_ids),
        test_ids=list(test_ids),
        heights=list(heights),
        gps=gps,
        gps_missing=list(gps_missing),
    )


# ------------------------------------------------------------- pair list and MAP
def make_pair_list(root: str, fmt: str = 'csv') -> dict:
    """A user's own data: ``pairs.csv`` or ``pairs.jsonl`` under ``root`` naming images
    under ``root``: 3 places (two drone queries of place A, one map of B, one
    panorama of C with a semi-positive B), a distractor tile D, splits train/test."""
    from gleamkit.datasets.pair_list import write_pair_list

    for name in ('sat/A.png', 'sat/B.png', 'sat/C.png', 'sat/D.png'):
        write_image(osp.join(root, name), 1)
    for name in ('q/a1.jpg', 'q/a2.jpg', 'q/b.png', 'q/c.jpg'):
        write_image(osp.join(root, name), 2)
    rows = [
        dict(
            query='q/a1.jpg',
            satellite='sat/A.png',
            view='uav',
            lat=47.1,
            lon=8.1,
            weight=1.0,
            split='train',
        ),
        dict(
            query='q/a2.jpg',
            satellite='sat/A.png',
            view='uav',
            lat=47.1,
            lon=8.1,
            weight=0.5,
            split='test',
        ),
        dict(
            query='q/b.png',
            satellite='sat/B.png',
            view='map',
            lat='',
            lon='',
            weight='',
            split='test',
        ),
        dict(
            query='q/c.jpg',
            satellite='sat/C.png',
            view='panorama',
            lat=47.3,
            lon=8.3,
            weight='',
            split='test',
            semi_positives=['sat/B.png'],
            semi_weights=[0.25],
        ),
        dict(query='', satellite='sat/D.png', view='', lat='', lon='', weight='', split='test'),
    ]
    if fmt == 'jsonl':
        rows = [{k: v for k, v in r.items() if v != ''} for r in rows]
    path = write_pair_list(osp.join(root, f'pairs.{fmt}'), rows)
    # location keys default to the satellite paths: sat/A.png < sat/B.png < ...
    return dict(root=root, ann_file=path, ids={'A': 0, 'B': 1, 'C': 2, 'D': 3})


def make_street_map(
    root: str, names=('m001', 'm002', 'm003', 'm004'), train=('m001', 'm002'), test=('m003', 'm004')
) -> dict:
    """``MAP`` (gleamkit's layout): map/<name>.png, satellite/<name>.jpg, splits/{train,test}.txt,
    locations.csv (name,lat,lon) for all but the last name."""
    for i, n in enumerate(names):
        write_image(osp.join(root, 'map', f'{n}.png'), i)
        write_image(osp.join(root, 'satellite', f'{n}.jpg'), i + 100)
    _write_lines(osp.join(root, 'splits', 'train.txt'), train)
    _write_lines(osp.join(root, 'splits', 'test.txt'), test)
    gps = {n: (22.5 + 0.01 * i, 114.0 + 0.01 * i) for i, n in enumerate(names[:-1])}
    _write_lines(
        osp.join(root, 'locations.csv'),
        ['name,lat,lon'] + [f'{n},{la},{lo}' for n, (la, lo) in gps.items()],
    )
    return dict(root=root, names=list(names), train=list(train), test=list(test), gps=gps)


# ----------------------------------------------------------------------- GTA-UAV
def make_gta_uav(root: str) -> dict:
    """``GTA-UAV``: {same,cross}-area-drone2sate-{train,test}.json (Game4Loc's keys),
    drone/images/<name>.png, satellite/<zoom>_<x>_<y>.png. Three drone images:
    d0 (pos 6_1_1 0.8, 6_1_2 0.5; semi 7_2_2 0.2), d1 (pos 6_1_2 0.6), d2 (only semi)."""
    tiles = ['6_1_1.png', '6_1_2.png', '7_2_2.png', '7_3_3.png']  # sorted = id order
    for i, t in enumerate(tiles):
        write_image(osp.join(root, 'satellite', t), i)
    entries = []
    spec = [
        ('d0.png', [('6_1_1.png', 0.8), ('6_1_2.png', 0.5)], [('7_2_2.png', 0.2)]),
        ('d1.png', [('6_1_2.png', 0.6)], []),
        ('d2.png', [], [('7_3_3.png', 0.15)]),
    ]
    for k, (name, pos, semi) in enumerate(spec):
        write_image(osp.join(root, 'drone', 'images', name), 50 + k)
        both = pos + semi
        entries.append(
            {
                'drone_img_dir': 'drone/images',
                'drone_img_name': name,
                'drone_loc_x_y': [100.0 * k, 200.0 * k],
                'sate_img_dir': 'satellite',
                'pair_pos_sate_img_list': [t for t, _ in pos],
                'pair_pos_sate_weight_list': [w for _, w in pos],
                'pair_pos_sate_loc_x_y_list': [[0.0, 0.0] for _ in pos],
                'pair_pos_semipos_sate_img_list': [t for t, _ in both],
                'pair_pos_semipos_sate_weight_list': [w for _, w in both],
                'pair_pos_semipos_sate_loc_x_y_list': [[0.0, 0.0] for _ in both],
                'drone_metadata': {'height': 200.0, 'cam_yaw': 0.0},
            }
        )
    for area in ('same', 'cross'):
        for split in ('train', 'test'):
            with open(osp.join(root, f'{area}-area-drone2sate-{split}.json'), 'w') as f:
                json.dump(entries, f, indent=2)
    return dict(root=root, tiles=tiles, ids={t: i for i, t in enumerate(tiles)}, spec=spec)


# ------------------------------------------------------------ ground-photo sets
def make_ground_sets(
    root: str, photos: Dict[str, int] = None, train=('c00', 'c01'), test=('c02', 'c03', 'c04')
) -> dict:
    """``SetVL-480K``-style: satellite/<cell>.jpg, ground/<cell>/*.jpg (``photos[cell]``
    photos of varied sizes; c04 has none), splits/{train,test}.txt, cells.csv."""
    photos = photos or {'c00': 5, 'c01': 3, 'c02': 4, 'c03': 2, 'c04': 0}
    for i, (cell, n) in enumerate(sorted(photos.items())):
        write_image(osp.join(root, 'satellite', f'{cell}.jpg'), i)
        for k in range(n):
            write_image(
                osp.join(root, 'ground', cell, f'{cell}_{k:03d}.jpg'), 10 * i + k, size=(6 + k, 8)
            )
    _write_lines(osp.join(root, 'splits', 'train.txt'), train)
    _write_lines(osp.join(root, 'splits', 'test.txt'), test)
    centres = [f'{c},{30 + i},{100 + i}' for i, c in enumerate(sorted(photos))]
    _write_lines(osp.join(root, 'cells.csv'), ['cell,lat,lon'] + centres)
    return dict(
        root=root,
        photos=photos,
        ids={c: i for i, c in enumerate(sorted(photos))},
        train=list(train),
        test=list(test),
    )
