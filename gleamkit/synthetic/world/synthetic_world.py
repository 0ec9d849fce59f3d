"""``SyntheticWorld``: gleamkit's built-in, procedurally generated region.

A deterministic town (roads, buildings with heights and roof colours, trees,
parks, sports grounds, water) with query locations and distractor tiles, each
location renderable in five views that share the same geometry:

==============  ======================================================================
``satellite``   orthographic north-up tile (``tile_size_m`` wide) with cast shadows,
                the reference (gallery) view; S x S
``map``         web-map style tile with the satellite tile's footprint; S x S
``uav``         oblique drone view from 150-300 m, random heading; S x S
``panorama``    street-level equirectangular panorama from the nearest road point,
                north at the centre column; S x 2S
``ground``      60-90 deg field-of-view photo near the location, random heading; S x S
==============  ======================================================================

Only numpy, OpenCV and the standard library are used (no torch).
"""

import json
import math
import os
import warnings
from dataclasses import asdict, dataclass
from typing import Dict, Iterable, List, Optional, Sequence

import cv2
import numpy as np

from ...structures.vocabulary import QUERY_VIEWS, VIEWS
from .. import render as R
from .geo import LocalProjection, haversine_m
from .layout import Layout, generate_layout

__all__ = ['VIEWS', 'QUERY_VIEWS', 'Location', 'SyntheticWorld']

_MARGIN_M = 220.0


@dataclass(frozen=True)
class Location:
    """One place of the world (also readable like a dict: ``loc['lat']``)."""

    location_id: int
    lat: float
    lon: float
    x: float
    y: float
    is_distractor: bool
    split: str

    def __getitem__(self, key):
        return getattr(self, key)

    def get(self, key, default=None):
        return getattr(self, key, default)

    def keys(self):
        return self.__dataclass_fields__.keys()

    def to_dict(self) -> dict:
        return asdict(self)


class SyntheticWorld:
    """A procedurally generated region with five renderable views per location.

    Everything is a pure function of the constructor arguments.

    Args (config keys):
        seed (int): world seed (layout, locations, and the per-image nuisances).
        num_locations (int): query locations, ids ``0 .. num_locations-1``.
        num_distractors (int): satellite-only gallery tiles, ids
            ``num_locations .. num_locations+num_distractors-1``.
        image_size (int): S; square views are S x S, the panorama S x 2S.
        difficulty (float): nuisance strength in [0, 1] (sun angle range, season,
            colour shifts, noise, clouds, cars / pedestrians, haze, camera jitter).
        test_fraction (float): share of the locations in the test split. The split
            is spatially disjoint (cross-area): the test part is the eastern strip
            of the region, separated from the training part by a gap of one tile,
            so no tile of one split overlaps a tile of the other.
        tile_size_m (float): satellite / map tile footprint in metres.
        location_spacing_m (float): mean spacing of locations (one per cell of a
            jittered grid); with the defaults a location has ~1.4 semi-positives.
        resolution_m (float): metres per pixel of the world raster.
        origin_lat, origin_lon (float): WGS84 position of the region centre.

    Attributes:
        locations (list[Location]): all locations, ``locations[i].location_id == i``.
        layout (Layout): the rasterised region (built lazily on first use).
    """

    def __init__(
        self,
        seed: int = 0,
        num_locations: int = 1000,
        num_distractors: int = 200,
        image_size: int = 128,
        difficulty: float = 0.5,
        test_fraction: float = 0.3,
        tile_size_m: float = 160.0,
        location_spacing_m: float = 100.0,
        resolution_m: float = 1.0,
        origin_lat: float = 30.52,
        origin_lon: float = 114.36,
    ):
        _check_int('seed', seed, 0)
        _check_int('num_locations', num_locations, 1)
        _check_int('num_distractors', num_distractors, 0)
        _check_int('image_size', image_size, 16)
        if not 0.0 <= float(difficulty) <= 1.0:
            raise ValueError(f'difficulty must be in [0, 1], got {difficulty!r}')
        if not 0.0 <= float(test_fraction) < 1.0:
            raise ValueError(f'test_fraction must be in [0, 1), got {test_fraction!r}')
        if not 40.0 <= float(tile_size_m) <= 1000.0:
            raise ValueError(f'tile_size_m must be in [40, 1000], got {tile_size_m!r}')
        if not 10.0 <= float(location_spacing_m) <= 1000.0:
            raise ValueError(
                f'location_spacing_m must be in [10, 1000], got {location_spacing_m!r}'
            )
        if not 0.25 <= float(resolution_m) <= 4.0:
            raise ValueError(f'resolution_m must be in [0.25, 4], got {resolution_m!r}')
        if not -80 <= float(origin_lat) <= 80 or not -180 <= float(origin_lon) <= 180:
            raise ValueError('origin_lat must be in [-80, 80] and origin_lon in [-180, 180]')
        self.seed = int(seed)
        self.num_locations = int(num_locations)
        self.num_distractors = int(num_distractors)
        self.image_size = int(image_size)
        self.difficulty = float(difficulty)
        self.test_fraction = float(test_fraction)
        self.tile_size_m = float(tile_size_m)
        self.location_spacing_m = float(location_spacing_m)
        self.resolution_m = float(resolution_m)
        self.origin_lat = float(origin_lat)
        self.origin_lon = float(origin_lon)
        self._layout: Optional[Layout] = None
        self._street_xy: Dict[int, tuple] = {}
        self._semi: Optional[List[List[int]]] = None
        self._place_locations()

    # ------------------------------------------------------------------ config

    @property
    def kwargs(self) -> dict:
        """The constructor arguments (JSON-serialisable); ``SyntheticWorld(**w.kwargs)``
        rebuilds the same world."""
        return dict(
            seed=self.seed,
            num_locations=self.num_locations,
            num_distractors=self.num_distractors,
            image_size=self.image_size,
            difficulty=self.difficulty,
            test_fraction=self.test_fraction,
            tile_size_m=self.tile_size_m,
            location_spacing_m=self.location_spacing_m,
            resolution_m=self.resolution_m,
            origin_lat=self.origin_lat,
            origin_lon=self.origin_lon,
        )

    def __repr__(self):
        args = ', '.join(f'{k}={v!r}' for k, v in self.kwargs.items())
        return f'SyntheticWorld({args})'

    def view_shape(self, view: str) -> tuple:
        """(H, W, 3) of a view."""
        _check_view(view)
        s = self.image_size
        return (s, 2 * s, 3) if view == 'panorama' else (s, s, 3)

    # ------------------------------------------------------------------ locations

    def _place_locations(self):
        rng = np.random.default_rng([self.seed, 1, self.num_locations, self.num_distractors])
        sp = self.location_spacing_m
        n_q, n_d = self.num_locations, self.num_distractors
        n_q_test = int(round(n_q * self.test_fraction))
        n_d_test = int(round(n_d * self.test_fraction))
        parts = [('train', n_q - n_q_test, n_d - n_d_test), ('test', n_q_test, n_d_test)]
        rows = max(1, int(math.ceil(math.sqrt(n_q + n_d))))
        gap = self.tile_size_m if n_q_test + n_d_test > 0 else 0.0
        x_cursor = _MARGIN_M
        raw = []  # (x, y, is_distractor, split)
        for split, nq, nd in parts:
            n = nq + nd
            if n == 0:
                continue
            cols = int(math.ceil(n / rows))
            cells = rng.choice(rows * cols, size=n, replace=False)
            kinds = np.zeros(n, bool)
            kinds[rng.choice(n, size=nd, replace=False)] = True
            ci, cj = cells // cols, cells % cols
            xs = x_cursor + (cj + rng.uniform(0.1, 0.9, n)) * sp
            ys = _MARGIN_M + (ci + rng.uniform(0.1, 0.9, n)) * sp
            raw += [(float(x), float(y), bool(k), split) for x, y, k in zip(xs, ys, kinds)]
            x_cursor += cols * sp + gap
        self.width_m = x_cursor - gap + _MARGIN_M
        self.height_m = 2 * _MARGIN_M + rows * sp
        self.core_box = (_MARGIN_M, _MARGIN_M, self.width_m - _MARGIN_M, self.height_m - _MARGIN_M)
        queries = [p for p in raw if not p[2]]
        distractors = [p for p in raw if p[2]]
        order_q = rng.permutation(len(queries))
        order_d = rng.permutation(len(distractors))
        ordered = [queries[i] for i in order_q] + [distractors[i] for i in order_d]
        self.projection = LocalProjection(
            self.origin_lat, self.origin_lon, self.width_m / 2, self.height_m / 2
        )
        self.locations: List[Location] = []
        for i, (x, y, dis, split) in enumerate(ordered):
            lat, lon = self.projection.xy_to_latlon(x, y)
            self.locations.append(Location(i, float(lat), float(lon), x, y, dis, split))
        self._xy = np.array([[p.x, p.y] for p in self.locations], np.float64)

    @property
    def query_ids(self) -> List[int]:
        return list(range(self.num_locations))

    @property
    def distractor_ids(self) -> List[int]:
        return list(range(self.num_locations, self.num_locations + self.num_distractors))

    def split_ids(self, split: str, include_distractors: bool = False) -> List[int]:
        """Ids of one split ('train' / 'test'), queries first."""
        if split not in ('train', 'test'):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        return [
            p.location_id
            for p in self.locations
            if p.split == split and (include_distractors or not p.is_distractor)
        ]

    def _check_id(self, location_id) -> int:
        if isinstance(location_id, (bool, np.bool_)) or not isinstance(
            location_id, (int, np.integer)
        ):
            raise TypeError(f'location_id must be an int, got {type(location_id).__name__}')
        i = int(location_id)
        if not 0 <= i < len(self.locations):
            raise IndexError(f'location_id {i} out of range [0, {len(self.locations)})')
        return i

    def semi_positive_ids(self, location_id: int) -> List[int]:
        """Other locations (queries or distractors) whose tile contains this location's
        point (VIGOR semi-positives). Symmetric, since all tiles have the same size."""
        i = self._check_id(location_id)
        if self._semi is None:
            half = self.tile_size_m / 2
            xy = self._xy
            semi = []
            for a in range(0, len(xy), 512):
                d = np.abs(xy[a : a + 512, None, :] - xy[None, :, :])
                inside = (d[..., 0] < half) & (d[..., 1] < half)
                for k, row in enumerate(inside):
                    row[a + k] = False
                    semi.append(np.flatnonzero(row).tolist())
            self._semi = semi
        return list(self._semi[i])

    def distance_m(self, id_a: int, id_b: int) -> float:
        """Great-circle distance between two locations (metres)."""
        a, b = self.locations[self._check_id(id_a)], self.locations[self._check_id(id_b)]
        return float(haversine_m(a.lat, a.lon, b.lat, b.lon))

    # ------------------------------------------------------------------ layout

    @property
    def layout(self) -> Layout:
        if self._layout is None:
            rng = np.random.default_rng([self.seed, 2])
            self._layout = generate_layout(
                rng, self.width_m, self.height_m, self.resolution_m, core_box=self.core_box
            )
        return self._layout

    def street_xy(self, location_id: int) -> tuple:
        """(x, y) of the road point nearest to the location: the panorama camera."""
        i = self._check_id(location_id)
        if i not in self._street_xy:
            p = self.locations[i]
            self._street_xy[i] = R.street_position(self.layout, p.x, p.y)
        return self._street_xy[i]

    def tile_layout(self, location_id: int, layer: str = 'cls', size: Optional[int] = None):
        """The world raster under a location's satellite tile, resized (nearest) to
        ``size`` (default ``image_size``). ``layer``: 'cls', 'base_cls' or 'height'."""
        i = self._check_id(location_id)
        if layer not in ('cls', 'base_cls', 'height'):
            raise ValueError(f"layer must be 'cls', 'base_cls' or 'height', got {layer!r}")
        p = self.locations[i]
        arr = getattr(self.layout, layer)
        return R._tile(
            self.layout,
            arr,
            p.x,
            p.y,
            self.tile_size_m,
            size or self.image_size,
            cv2.INTER_NEAREST,
            0,
        )

    # ------------------------------------------------------------------ rendering

    def _rng(self, location_id, view, rng_seed):
        if rng_seed is None:
            extra = 0
        else:
            _check_int('rng_seed', rng_seed, 0)
            extra = int(rng_seed) + 1
        return np.random.default_rng([self.seed, 3, location_id, VIEWS.index(view), extra])

    def render_with_info(self, location_id: int, view: str, rng_seed: Optional[int] = None):
        """Like :meth:`render`, also returning a dict describing the camera / lighting."""
        i = self._check_id(location_id)
        _check_view(view)
        p = self.locations[i]
        if p.is_distractor and view != 'satellite':
            raise ValueError(
                f'location {i} is a distractor: it only has a satellite view, not {view!r}'
            )
        rng = self._rng(i, view, rng_seed)
        lay, s, d = self.layout, self.image_size, self.difficulty
        if view == 'map':
            img, info = R.render_map(lay, p.x, p.y, s, self.tile_size_m, rng, d)
        else:
            look = R.sample_look(rng, d, view)
            if view == 'satellite':
                img, info = R.render_satellite(lay, p.x, p.y, s, self.tile_size_m, rng, look, d)
            elif view == 'uav':
                img, info = R.render_uav(lay, p.x, p.y, s, self.tile_size_m, rng, look, d)
            elif view == 'panorama':
                img, info = R.render_panorama(
                    lay, p.x, p.y, s, rng, look, d, street_xy=self.street_xy(i)
                )
            else:
                img, info = R.render_ground(
                    lay, p.x, p.y, s, rng, look, d, street_xy=self.street_xy(i)
                )
        info = dict(info, view=view, location_id=i)
        return np.ascontiguousarray(img, dtype=np.uint8), info

    def render(self, location_id: int, view: str, rng_seed: Optional[int] = None) -> np.ndarray:
        """One image (H, W, 3) uint8 RGB; deterministic given the arguments.

        ``rng_seed`` picks another draw of the nuisances (sun, season, camera
        pose, occluders ...) for data augmentation; ``None`` is the canonical image.
        Distractors only have the ``'satellite'`` view (ValueError otherwise).
        """
        return self.render_with_info(location_id, view, rng_seed)[0]

    def render_all(
        self,
        views: Sequence[str] = VIEWS,
        location_ids: Optional[Iterable[int]] = None,
        num_workers: int = 0,
        progress: bool = True,
        worker_timeout: float = 120.0,
        rng_seed: Optional[int] = None,
    ) -> Dict[str, np.ndarray]:
        """Render many locations; returns ``{view: array (n, H, W, 3) uint8}``.

        ``arrays[view][k]`` is the image of ``location_ids[k]`` (default: every
        location, so index == location_id). Query views of distractors are left
        black (all zeros); check ``locations[i].is_distractor``.
        ``num_workers > 0`` renders in that many processes (forked where possible, so
        the world is not rebuilt); if a worker stalls for ``worker_timeout`` seconds
        the rest is rendered in this process, with a warning. ``rng_seed`` renders
        another draw of every image (see :meth:`render`; ``None``: the canonical ones).
        """
        views = _check_views(views)
        if rng_seed is not None:
            _check_int('rng_seed', rng_seed, 0)
        ids = (
            list(range(len(self.locations)))
            if location_ids is None
            else [self._check_id(i) for i in location_ids]
        )
        out = {v: np.zeros((len(ids),) + self.view_shape(v), np.uint8) for v in views}
        chunks = [list(range(a, min(a + 8, len(ids)))) for a in range(0, len(ids), 8)]
        bar = _progress(len(ids), progress)
        todo = list(range(len(chunks)))
        if num_workers and num_workers > 0 and len(chunks) > 1:
            import multiprocessing as mp

            _ = self.layout.hpad  # build once, before forking
            done = set()
            try:
                for pos, arrays in _parallel(
                    self, views, ids, chunks, int(num_workers), worker_timeout, rng_seed
                ):
                    for v in views:
                        out[v][pos] = arrays[v]
                    done.add(pos[0])
                    bar.update(len(pos))
            except mp.TimeoutError:
                warnings.warn(
                    f'render_all: a worker process stalled for {worker_timeout:g} s; '
                    'rendering the remaining locations in this process'
                )
            todo = [k for k in todo if chunks[k][0] not in done]
        for k in todo:
            pos = chunks[k]
            arrays = _render_chunk(self, views, [ids[j] for j in pos], rng_seed)
            for v in views:
                out[v][pos] = arrays[v]
            bar.update(len(pos))
        bar.close()
        return out

    # ------------------------------------------------------------------ export

    def export(
        self,
        out_dir: str,
        views: Sequence[str] = VIEWS,
        num_workers: int = 0,
        progress: bool = True,
        ground_photos: int = 1,
    ) -> str:
        """Write images, ``annotations.jsonl`` and ``README.md`` under ``out_dir``.

        Layout: ``out_dir/<view>/<location_id>.png`` (distractors only under
        ``satellite/``), one JSON line per location in ``annotations.jsonl``
        (``location_id, lat, lon, x, y, split, is_distractor, semi_positive_ids,
        images: {view: relative path}``), ``pairs.jsonl`` (the same world as a
        pair list that ``CrossViewPairListDataset`` reads; written when
        ``satellite`` is exported, see :meth:`_pair_list`), ``world.json``
        (constructor arguments) and ``README.md``. ``ground_photos=k > 1`` also
        writes draws ``0..k-2`` of every ground photo (``render(i, 'ground', rng_seed=d)``) as
        ``ground/<location_id>_<d + 1>.png`` and lists the set in ``images.ground_set``
        (what ``SyntheticCrossViewDataset(ground_set_size=k)`` uses). Returns ``out_dir``.
        """
        views = _check_views(views)
        _check_int('ground_photos', ground_photos, 1)
        os.makedirs(out_dir, exist_ok=True)
        for v in views:
            os.makedirs(os.path.join(out_dir, v), exist_ok=True)
        arrays = self.render_all(views, num_workers=num_workers, progress=progress)
        draws = []
        if ground_photos > 1 and 'ground' in views:
            draws = [
                self.render_all(
                    ('ground',), num_workers=num_workers, progress=progress, rng_seed=d
                )['ground']
                for d in range(ground_photos - 1)
            ]
        lines = []
        for p in self.locations:
            images = {}
            for v in views:
                if p.is_distractor and v != 'satellite':
                    continue
                rel = f'{v}/{p.location_id}.png'
                cv2.imwrite(os.path.join(out_dir, rel), arrays[v][p.location_id][..., ::-1])
                images[v] = rel
            if draws and not p.is_distractor:
                images['ground_set'] = [images['ground']]
                for d, arr in enumerate(draws):
                    rel = f'ground/{p.location_id}_{d + 1}.png'
                    cv2.imwrite(os.path.join(out_dir, rel), arr[p.location_id][..., ::-1])
                    images['ground_set'].append(rel)
            rec = dict(
                p.to_dict(), semi_positive_ids=self.semi_positive_ids(p.location_id), images=images
            )
            lines.append(json.dumps(rec))
        _atomic_text(os.path.join(out_dir, 'annotations.jsonl'), '\n'.join(lines) + '\n')
        if 'satellite' in views:
            _atomic_text(os.path.join(out_dir, 'pairs.jsonl'), self._pair_list(views, draws))
        _atomic_text(
            os.path.join(out_dir, 'world.json'),
            json.dumps(dict(self.kwargs, views=list(views), ground_photos=ground_photos), indent=2)
            + '\n',
        )
        _atomic_text(os.path.join(out_dir, 'README.md'), _export_readme(self, views))
        return out_dir

    def _pair_list(self, views, draws) -> str:
        """``pairs.jsonl``: one row per (query image, satellite tile), in location
        order and ``QUERY_VIEWS`` order, ``location`` = the location id (so with
        ``location_offset=0`` the pair list's ids are the world's), ``split``,
        ``lat``/``lon`` and ``semi_positives`` (location ids). With several ground
        photos each photo is a row of its own. A distractor tile gets a
        query-less row in each split, since ``SyntheticCrossViewDataset`` puts
        every distractor in every split's gallery."""
        query_views = [v for v in QUERY_VIEWS if v in views]
        rows = []
        for p in self.locations:
            base = dict(
                satellite=f'satellite/{p.location_id}.png',
                location=p.location_id,
                lat=p.lat,
                lon=p.lon,
            )
            if p.is_distractor:
                rows += [dict(base, split=split) for split in ('train', 'test')]
                continue
            semi = self.semi_positive_ids(p.location_id)
            queries = []
            for v in query_views:
                queries.append((v, f'{v}/{p.location_id}.png'))
                if v == 'ground':
                    queries += [
                        ('ground', f'ground/{p.location_id}_{d + 1}.png') for d in range(len(draws))
                    ]
            for v, rel in queries:
                rows.append(dict(base, query=rel, view=v, split=p.split, semi_positives=semi))
            if not queries:  # satellite-only export: the tile still belongs to its split
                rows.append(dict(base, split=p.split))
        return ''.join(json.dumps(r) + '\n' for r in rows)


# ---------------------------------------------------------------------------- helpers


def _check_int(name, value, minimum):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f'{name} must be an int, got {value!r}')
    if value < minimum:
        raise ValueError(f'{name} must be >= {minimum}, got {value}')


def _check_view(view):
    if view not in VIEWS:
        raise ValueError(f'unknown view {view!r}; expected one of {VIEWS}')


def _check_views(views) -> tuple:
    if isinstance(views, str):
        views = (views,)
    views = tuple(views)
    if not views:
        raise ValueError('views must not be empty')
    for v in views:
        _check_view(v)
    if len(set(views)) != len(views):
        raise ValueError(f'duplicate views in {views}')
    return views


def _render_chunk(world: 'SyntheticWorld', views, ids, rng_seed=None):
    out = {v: np.zeros((len(ids),) + world.view_shape(v), np.uint8) for v in views}
    for k, i in enumerate(ids):
        dis = world.locations[i].is_distractor
        for v in views:
            if dis and v != 'satellite':
                continue
            out[v][k] = world.render(i, v, rng_seed)
    return out


_WORKER_WORLD: Optional[SyntheticWorld] = None


def _worker_init(kwargs):
    global _WORKER_WORLD
    # no cv2.setNumThreads() here: after a fork from a process that imported torch
    # it can deadlock
    if _WORKER_WORLD is None or _WORKER_WORLD.kwargs != kwargs:
        _WORKER_WORLD = SyntheticWorld(**kwargs)


def _worker_task(args):
    views, ids, pos, rng_seed = args
    return pos, _render_chunk(_WORKER_WORLD, views, ids, rng_seed)


def _parallel(world, views, ids, chunks, num_workers, timeout, rng_seed=None):
    """Yield ``(positions, arrays)`` per chunk from a process pool. Raises
    ``multiprocessing.TimeoutError`` when a worker stalls for ``timeout`` seconds."""
    import multiprocessing as mp

    global _WORKER_WORLD
    methods = mp.get_all_start_methods()
    ctx = mp.get_context('fork' if 'fork' in methods else 'spawn')
    previous = _WORKER_WORLD
    _WORKER_WORLD = world  # inherited by forked workers, no rebuild
    pool = None
    try:
        tasks = [(views, [ids[k] for k in pos], pos, rng_seed) for pos in chunks]
        pool = ctx.Pool(num_workers, initializer=_worker_init, initargs=(world.kwargs,))
        it = pool.imap_unordered(_worker_task, tasks)
        for _ in range(len(tasks)):
            yield it.next(timeout=timeout)
        pool.close()
        pool.join()
    finally:
        if pool is not None:
            pool.terminate()
        _WORKER_WORLD = previous


class _NoBar:
    def update(self, n=1):
        pass

    def close(self):
        pass


class _MMBar:
    def __init__(self, total):
        from mmengine.utils import ProgressBar

        self.bar = ProgressBar(total)

    def update(self, n=1):
        self.bar.update(n)

    def close(self):
        self.bar.file.write('\n')
        self.bar.file.flush()


def _progress(total, enabled):
    if not enabled or total == 0:
        return _NoBar()
    try:
        from tqdm import tqdm

        return tqdm(total=total, desc='rendering', unit='loc')
    except ImportError:
        pass
    try:
        return _MMBar(total)
    except ImportError:
        return _NoBar()


def _atomic_text(path, text):
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(text)
    os.replace(tmp, path)


def _export_readme(world: SyntheticWorld, views) -> str:
    s = world.image_size
    n_train = len(world.split_ids('train'))
    n_test = len(world.split_ids('test'))
    return f"""# gleamkit synthetic world

Generated by `gleamkit.synthetic` with

```
{json.dumps(world.kwargs, indent=2)}
```

* {world.num_locations} query locations ({n_train} train, {n_test} test; the test split
  is the eastern strip of the region, one tile width away from the training part) and
  {world.num_distractors} distractor locations (satellite tiles only).
* Views: {', '.join(views)}. Square views are {s} x {s} px, the panorama {s} x {2 * s} px
  (equirectangular, north at the centre column, east to the right).
* Satellite and map tiles are north-up and cover {world.tile_size_m:g} m x
  {world.tile_size_m:g} m centred on the location.

## Layout

```
<view>/<location_id>.png     one RGB PNG per location and view (distractors: satellite only)
ground/<location_id>_<k>.png more ground photos of the place (exported with ground_photos > 1)
annotations.jsonl            one JSON object per location
pairs.jsonl                  the same as a gleamkit pair list (CrossViewPairListDataset)
world.json                   the SyntheticWorld arguments (rebuild with SyntheticWorld(**args))
```

Each line of `annotations.jsonl` holds `location_id`, `lat`, `lon` (WGS84 degrees),
`x`, `y` (metres east / north of the region's south-west corner), `split`
(`train` / `test`), `is_distractor`, `semi_positive_ids` (other locations whose
tile contains this location's point) and `images` (`{{view: relative path}}`; with
several ground photos also `ground_set`: the list of the place's ground photos).

`pairs.jsonl` (written when satellite tiles are exported) lists one (query,
satellite) pair per line in gleamkit's pair-list format, `location` = the location
id; distractor tiles are query-less rows of both splits. Load it on any machine with

```python
dict(type='CrossViewPairListDataset', ann_file='<this folder>/pairs.jsonl',
     split='test', mode='query', location_offset=0)   # or mode='gallery' / 'pairs'
```
"""
