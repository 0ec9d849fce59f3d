"""Hard-negative batches (Sample4Geo): places that are near, or look alike, share a batch.

InfoNCE learns most from negatives the model confuses with the positive. Sample4Geo
fills each batch with groups of an anchor place and its neighbours: GPS neighbours
for the first epochs, then the places whose embeddings are most similar, re-mined
every few epochs (:class:`gleamkit.engine.HardNegativeMiningHook`). Here the groups
are built over *places* (``location_id``), so every query view (UAV, street map,
panorama, ground) of the training set takes part.
"""

import math
from collections import Counter, deque
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.dataset import ConcatDataset

from gleamkit.registry import SAMPLERS

from .unique_location_sampler import _GlobalBatchSampler

__all__ = [
    'GPSNeighbourSampler',
    'SimilarityNeighbourSampler',
    'NeighbourTable',
    'gps_neighbour_table',
]


class NeighbourTable(NamedTuple):
    """The nearest (or most similar) other places of each place.

    Attributes:
        location_ids: ``P`` location ids, as the data infos spell them.
        neighbours: ``(P, K)`` int array: row ``i`` holds indices into
            ``location_ids`` of place ``i``'s neighbours, best first; ``-1`` pads.
        scores: optional ``(P, K)`` floats: similarity (mined) or metres (GPS).
    """

    location_ids: Sequence
    neighbours: np.ndarray
    scores: Optional[np.ndarray] = None


class MissingFieldError(KeyError):
    """A sample lacks a field a sampler needs (prints its message as written)."""

    def __str__(self):
        return str(self.args[0]) if self.args else ''


def _location_key(value) -> int:
    # the key _GlobalBatchSampler uses for its ``locations`` array
    return int(value) if isinstance(value, (int, np.integer)) else hash(value)


def _dataset_name(dataset) -> str:
    name = type(dataset).__name__
    meta = getattr(dataset, 'metainfo', None)
    if isinstance(meta, dict) and meta.get('name'):
        name += f" ('{meta['name']}')"
    return name


def read_fields(
    dataset, keys: Sequence[str], owner: str, why: str, optional: Sequence[str] = ()
) -> Dict[str, list]:
    """Read several annotation fields of every sample in one pass.

    A sample without one of ``keys`` (or with ``None`` / NaN there) raises a
    :class:`MissingFieldError` (a ``KeyError``) naming ``owner``, the
    (sub-)dataset, the sample and the key. Keys in ``optional`` missing
    from a dataset come back as ``None`` for its samples.
    """
    if isinstance(dataset, ConcatDataset):
        parts = [read_fields(d, keys, owner, why, optional) for d in dataset.datasets]
        return {k: [v for part in parts for v in part[k]] for k in keys}
    fields = {}
    if hasattr(dataset, 'get_field'):
        for key in keys:
            try:
                fields[key] = list(dataset.get_field(key))
            except KeyError:
                if key in optional:
                    fields[key] = [None] * len(dataset)
                elif not hasattr(dataset, 'get_data_info'):
                    raise MissingFieldError(
                        f'{owner}: dataset {_dataset_name(dataset)} has no {key!r} field; {why}'
                    ) from None
                else:
                    break  # find the offending sample below
        else:
            _check_none(fields, keys, optional, dataset, owner, why)
            return fields
    if not hasattr(dataset, 'get_data_info'):
        raise TypeError(
            f'{owner}: {_dataset_name(dataset)} has no get_data_info(idx); it '
            'works on mmengine BaseDataset-style datasets'
        )
    fields = {k: [] for k in keys}
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        for key in keys:
            if key not in info and key not in optional:
                raise MissingFieldError(
                    f'{owner}: sample {i} of dataset {_dataset_name(dataset)} has no {key!r} '
                    f'in its data info (keys: {sorted(info)}); {why}'
                )
            fields[key].append(info.get(key))
    _check_none(fields, keys, optional, dataset, owner, why)
    return fields


def _check_none(fields, keys, optional, dataset, owner, why):
    for key in keys:
        if key in optional:
            continue
        for i, value in enumerate(fields[key]):
            if value is None or (isinstance(value, float) and math.isnan(value)):
                raise MissingFieldError(
                    f'{owner}: sample {i} of dataset '
                    f'{_dataset_name(dataset)} has {key}={value!r}; {why}'
                )


def _unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    lat, lon = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], 1)


def gps_neighbour_table(
    lat, lon, k: int, radius_m: Optional[float] = None
) -> Tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest other points of every point, by great-circle distance.

    A k-d tree over unit vectors (the chord length orders points exactly as the
    great-circle distance does): ``O(P log P)``, about a second for 100k places.

    Args:
        lat, lon: ``P`` positions in degrees.
        k: neighbours per point (clipped to ``P - 1``).
        radius_m: drop neighbours farther than this many metres.

    Returns:
        ``(indices, metres)``, both ``(P, k)``: nearest first, ties in ascending
        index; ``-1`` / ``inf`` where there is no (near enough) neighbour.
    """
    from scipy.spatial import cKDTree

    from gleamkit.evaluation.metrics.geo import haversine_m

    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    n = len(lat)
    indices = np.full((n, k), -1, dtype=np.int64)
    metres = np.full((n, k), np.inf)
    depth = min(k + 1, n)
    if n < 2 or k < 1:
        return indices, metres
    points = _unit_vectors(lat, lon)
    _, found = cKDTree(points).query(points, k=depth)
    found = found.reshape(n, depth).astype(np.int64)
    dist = haversine_m(lat[:, None], lon[:, None], lat[found], lon[found])
    # itself out (it is first unless another point shares its position), then
    # nearest first with ties in index order, independent of the tree
    dist[found == np.arange(n)[:, None]] = -1.0
    order = np.lexsort((found, dist), axis=1)
    found = np.take_along_axis(found, order, 1)[:, 1:]
    dist = np.take_along_axis(dist, order, 1)[:, 1:]
    width = min(k, depth - 1)
    indices[:, :width], metres[:, :width] = found[:, :width], dist[:, :width]
    if radius_m is not None:
        far = metres > radius_m
        indices[far], metres[far] = -1, np.inf
    return indices, metres


@SAMPLERS.register_module()
class GPSNeighbourSampler(_GlobalBatchSampler):
    """Global batches of neighbour groups: an anchor place and its nearest places.

    Sample4Geo's GPS sampling, generalised to every view: a share
    ``hard_fraction`` of each rank's batch is made of groups, each an anchor
    sample plus one sample of each of up to ``neighbours`` places near the anchor
    (with ``neighbour_pool > neighbours``: the nearest half always, the rest at
    random from the ``neighbour_pool`` nearest, as Sample4Geo does); the rest of
    the batch is a random fill. As in :class:`UniqueLocationSampler`, no place
    appears twice in a global batch, each sample is used once per epoch (up to
    the few repeats needed to complete the last batches), the epoch has
    ``len(dataset) // (batch_size * world_size)`` batches, the order is a pure
    function of ``(seed, epoch)`` and of the neighbour table, and every rank
    computes the same global batches. A group stays on one rank (each rank's
    share of a global batch is whole groups), so hard negatives meet even
    without a gathered loss. No view appears exactly once in a rank's batch where
    swapping one place's sample for another of its views avoids it (the retriever
    embeds each view as a sub-batch; BatchNorm cannot train on one sample).

    The neighbour table is computed from GPS at construction; ``set_neighbours``
    replaces it (e.g. with places of similar embeddings, see
    :class:`SimilarityNeighbourSampler` and ``HardNegativeMiningHook``).

    Args:
        dataset: the dataset to sample (filled in by the dataloader).
        batch_size (int): per-rank batch size; must equal the dataloader's.
        neighbours (int): places pulled in per anchor (a group is at most
            ``1 + neighbours`` samples). Defaults to 8.
        neighbour_pool (int, optional): the nearest places a group draws from
            (Sample4Geo's ``neighbour_range``). Defaults to None
            (``2 * neighbours``).
        neighbour_radius_m (float, optional): GPS neighbours farther than this
            are never pulled in. Defaults to None (no limit).
        hard_fraction (float): share of each batch made of neighbour groups
            (0 = random batches with unique locations; 1 = groups only).
            Defaults to 1.0.
        same_view (bool): pull the neighbour's sample of the anchor's view when
            it has one (both loss directions then compare like with like).
            Defaults to True.
        seed (int, optional): shared by all ranks. Defaults to None (synced).
        location_key (str): data-info field naming the place. Defaults to
            ``'location_id'``.
        lat_key (str): data-info field of the latitude. Defaults to ``'lat'``.
        lon_key (str): data-info field of the longitude. Defaults to ``'lon'``.
        view_key (str): data-info field naming the view. Defaults to ``'view'``.
    """

    def __init__(
        self,
        dataset,
        batch_size: int,
        neighbours: int = 8,
        neighbour_pool: Optional[int] = None,
        neighbour_radius_m: Optional[float] = None,
        hard_fraction: float = 1.0,
        same_view: bool = True,
        seed: Optional[int] = None,
        location_key: str = 'location_id',
        lat_key: str = 'lat',
        lon_key: str = 'lon',
        view_key: str = 'view',
    ):
        super().__init__(dataset, batch_size, seed, location_key)
        name = type(self).__name__
        if not isinstance(neighbours, int) or neighbours < 1:
            raise ValueError(f'{name}: neighbours must be a positive int, got {neighbours!r}')
        neighbour_pool = 2 * neighbours if neighbour_pool is None else neighbour_pool
        if not isinstance(neighbour_pool, int) or neighbour_pool < neighbours:
            raise ValueError(
                f'{name}: neighbour_pool must be an int >= neighbours '
                f'({neighbours}), got {neighbour_pool!r}'
            )
        if not 0.0 <= float(hard_fraction) <= 1.0:
            raise ValueError(f'{name}: hard_fraction must be in [0, 1], got {hard_fraction!r}')
        if neighbour_radius_m is not None and not neighbour_radius_m > 0:
            raise ValueError(
                f'{name}: neighbour_radius_m must be > 0 metres, got {neighbour_radius_m!r}'
            )
        self.neighbours = neighbours
        self.neighbour_pool = neighbour_pool
        self.neighbour_radius_m = neighbour_radius_m
        self.hard_fraction = float(hard_fraction)
        self.same_view = same_view
        self.lat_key, self.lon_key, self.view_key = lat_key, lon_key, view_key

        # places in order of first appearance: the same on every rank (str ids hash
        # differently per process, so no sorting by key)
        keys, first, inverse = np.unique(self.locations, return_index=True, return_inverse=True)
        order = np.argsort(first, kind='stable')
        rank_of = np.empty_like(order)
        rank_of[order] = np.arange(len(order))
        self.place_of_sample = rank_of[inverse.reshape(-1)]
        self.place_first_index = first[order]
        self._place_index = {int(k): int(p) for p, k in enumerate(keys[order])}
        if self.num_places < self.global_batch:
            raise ValueError(
                f'{name}: the dataset has {self.num_places} places, fewer than '
                f'one global batch ({self.global_batch} = batch_size x '
                f'{self.world_size} ranks); no batch could hold unique places'
            )

        need_gps = self._needs_gps()
        keys_to_read = [view_key] + ([lat_key, lon_key] if need_gps else [])
        fields = read_fields(
            dataset,
            keys_to_read,
            name,
            optional=(view_key,),
            why=f'GPS neighbours need {lat_key!r}/{lon_key!r} in degrees for every sample '
            '(set lat_key/lon_key, or use SimilarityNeighbourSampler(initial="random"))',
        )
        views = fields[view_key]
        codes = {v: i for i, v in enumerate(dict.fromkeys(views))}
        self._view_codes = [codes[v] for v in views]
        self.multi_view = len(codes) > 1
        self.neighbour_table: Optional[np.ndarray] = None
        self.neighbour_scores: Optional[np.ndarray] = None
        self.neighbour_source: Optional[str] = None
        self._row_lengths: Optional[List[int]] = None
        if need_gps:
            lat = np.asarray(fields[lat_key], dtype=np.float64)[self.place_first_index]
            lon = np.asarray(fields[lon_key], dtype=np.float64)[self.place_first_index]
            self.place_lat, self.place_lon = lat, lon
            table, metres = gps_neighbour_table(lat, lon, neighbour_pool, neighbour_radius_m)
            self._set_table(table, metres, 'gps')

    def _needs_gps(self) -> bool:
        return True

    # ----------------------------------------------------------------- places
    @property
    def num_places(self) -> int:
        return len(self.place_first_index)

    def place_index(self, location_id) -> Optional[int]:
        """The sampler's index of a place (``None`` if the dataset has none)."""
        return self._place_index.get(_location_key(location_id))

    # ------------------------------------------------------------- neighbours
    def set_neighbours(
        self,
        table: Union[NeighbourTable, dict, np.ndarray],
        scores: Optional[np.ndarray] = None,
        source: str = 'similarity',
    ) -> None:
        """Replace the neighbour table; batches from the next ``__iter__`` use it.

        Args:
            table: a :class:`NeighbourTable`; or ``{location_id: [neighbour
                location ids, best first]}`` (Sample4Geo's ``sim_dict``); or a
                ``(num_places, K)`` int array of this sampler's place indices
                (``place_index(location_id)``; ``place_of_sample[i]`` is sample
                i's), ``-1`` padded. Places unknown to the
                sampler are ignored; places missing from the table get no group.
            scores: ``(num_places, K)`` scores for the array form (kept for logs).
            source: a word for logs (``'gps'``, ``'similarity'``, ...).
        """
        if isinstance(table, NeighbourTable):
            table, scores = self._remap(
                table.location_ids, np.asarray(table.neighbours), table.scores
            )
        elif isinstance(table, dict):
            ids = list(table)
            index = {_location_key(i): j for j, i in enumerate(ids)}
            width = max((len(v) for v in table.values()), default=0)
            rows = np.full((len(ids), width), -1, dtype=np.int64)
            for j, i in enumerate(ids):
                near = [index.get(_location_key(x), -1) for x in table[i]]
                rows[j, : len(near)] = near
            table, scores = self._remap(ids, rows)
        else:
            table = np.asarray(table, dtype=np.int64)
            if table.ndim != 2 or table.shape[0] != self.num_places:
                raise ValueError(
                    f'{type(self).__name__}.set_neighbours: an array table must be '
                    f'(num_places={self.num_places}, K), got {table.shape}'
                )
            if table.size and not (-1 <= table.min() and table.max() < self.num_places):
                raise ValueError(
                    f'{type(self).__name__}.set_neighbours: array entries are '
                    f'place indices in [0, {self.num_places}) or -1, got '
                    f'{table.min()}..{table.max()}'
                )
        self._set_table(table, scores, source)

    def _remap(self, location_ids: Sequence, rows: np.ndarray, scores=None):
        # table rows/values index ``location_ids``; turn both into sampler places
        mine = np.array(
            [self._place_index.get(_location_key(i), -1) for i in location_ids], dtype=np.int64
        )
        if not (mine >= 0).any():
            raise ValueError(
                f"{type(self).__name__}.set_neighbours: none of the table's "
                f'{len(mine)} location ids is a place of the training dataset'
            )
        values = np.where(rows >= 0, mine[np.clip(rows, 0, None)], -1)
        out = np.full((self.num_places, rows.shape[1]), -1, dtype=np.int64)
        known = mine >= 0
        out[mine[known]] = values[known]
        if scores is not None:
            scores = np.asarray(scores, dtype=np.float64)
            out_scores = np.full(out.shape, np.nan)
            out_scores[mine[known]] = np.where(values >= 0, scores, np.nan)[known]
            scores = out_scores
        return out, scores

    def _set_table(self, table: np.ndarray, scores, source: str) -> None:
        table = np.asarray(table, dtype=np.int64)[:, : self.neighbour_pool]
        # valid entries first, in their order (rows may have holes after remapping)
        order = np.argsort(table < 0, axis=1, kind='stable')
        table = np.take_along_axis(table, order, 1)
        if scores is not None:
            scores = np.take_along_axis(np.asarray(scores)[:, : self.neighbour_pool], order, 1)
        self.neighbour_table, self.neighbour_scores = table, scores
        self.neighbour_source = source
        self._row_lengths = (table >= 0).sum(1).tolist()

    # ---------------------------------------------------------------- batches
    def num_batches(self) -> int:
        return len(self.locations) // self.global_batch

    def global_batches(self) -> List[List[int]]:
        return _BatchBuilder(self).build()


class _BatchBuilder:
    """One epoch of global batches (see :class:`GPSNeighbourSampler`).

    Every sample has one turn in a shuffled stream; a turn makes its place an
    anchor (taking the place's next unused sample, not necessarily the one whose
    turn it is). Neighbours pulled into a group use up their place's samples, so
    later turns of an exhausted place are skipped; a turn whose place is already
    in the batch waits for the next batch.
    """

    MAX_PASSES = 8

    def __init__(self, sampler: GPSNeighbourSampler):
        self.s = sampler
        self.rng = sampler._rng()
        self.place_of = sampler.place_of_sample.tolist()
        self.views = sampler._view_codes
        num_places = sampler.num_places
        self.stamp = [-1] * num_places
        counts = np.bincount(sampler.place_of_sample, minlength=num_places)
        self.ends = np.cumsum(counts).tolist()
        self.starts = (np.cumsum(counts) - counts).tolist()
        self.passes = 0
        self._new_pass()

    def _new_pass(self) -> None:
        self.passes += 1
        if self.passes > self.MAX_PASSES:
            raise RuntimeError(
                f'{type(self.s).__name__}: could not form {self.s.num_batches()} batches of '
                f'{self.s.global_batch} distinct places from {self.s.num_places} places'
            )
        perm = self.rng.permutation(len(self.place_of))
        # each place's samples in the order of their turns
        self.queue = perm[np.argsort(self.s.place_of_sample[perm], kind='stable')].tolist()
        self.next = list(self.starts)
        self.stream, self.pos = perm.tolist(), 0

    def _take(self, place: int, batch: int, view: Optional[int] = None) -> Optional[int]:
        i, end = self.next[place], self.ends[place]
        if i >= end or self.stamp[place] == batch:
            return None
        queue = self.queue
        if view is not None and self.views[queue[i]] != view:
            for j in range(i + 1, end):
                if self.views[queue[j]] == view:
                    queue[i], queue[j] = queue[j], queue[i]
                    break
        self.next[place] = i + 1
        self.stamp[place] = batch
        return queue[i]

    def _anchor(self, batch: int, refill: bool = True) -> Optional[int]:
        while self.ready:
            place = self.ready.popleft()
            if self.next[place] >= self.ends[place]:
                continue
            if self.stamp[place] == batch:
                self.waiting.append(place)
                continue
            return place
        while True:
            if self.pos >= len(self.stream):
                if not refill:
                    return None
                self._new_pass()
            place = self.place_of[self.stream[self.pos]]
            self.pos += 1
            if self.next[place] >= self.ends[place]:
                continue
            if self.stamp[place] == batch:
                self.waiting.append(place)
                continue
            return place

    def _candidates(self, place: int) -> List[int]:
        k = self.s.neighbours
        row = self.s.neighbour_table[place, : self.s._row_lengths[place]].tolist()
        if len(row) <= k:
            return row
        fixed = k - k // 2
        rest = row[fixed:]
        return row[:fixed] + [rest[i] for i in self.rng.permutation(len(rest))]

    def _slot(self, place: int, sample: int) -> Optional[int]:
        # where ``sample`` sits in its place's queue if it is the place's last take of
        # this pass (a new pass in the middle of a batch makes earlier takes final)
        taken = self.next[place] - 1
        ok = taken >= self.starts[place] and self.queue[taken] == sample
        return taken if ok else None

    def _swap(self, sample: int, view: int) -> Optional[int]:
        # give ``sample`` back for an unused sample of ``view`` of the same place; the
        # place, and so the batch's places, stay the same
        place = self.place_of[sample]
        taken, end = self._slot(place, sample), self.ends[place]
        if taken is None:
            return None
        queue = self.queue
        for j in range(taken + 1, end):
            if self.views[queue[j]] == view:
                queue[taken], queue[j] = queue[j], queue[taken]
                return queue[taken]
        return None

    def _no_lone_view(self, share: List[int], batch: int) -> None:
        """No view exactly once in a rank's batch: the retriever embeds each view as
        one sub-batch, and BatchNorm cannot train on a sub-batch of one."""
        views = self.views
        counts = Counter(views[i] for i in share)
        for pos, sample in enumerate(share):
            view = views[sample]
            if counts[view] != 1:
                continue
            present = [v for v, c in counts.most_common() if c and v != view]
            # 1. this place's sample of a view the batch holds already
            for other in present:
                new = self._swap(sample, other)
                if new is not None:
                    share[pos] = new
                    counts[view] -= 1
                    counts[other] += 1
                    break
            else:
                # 2. another place's sample of this view, from a view held 3+ times
                for q, partner in enumerate(share):
                    if q == pos or counts[views[partner]] < 3:
                        continue
                    new = self._swap(partner, view)
                    if new is not None:
                        counts[views[partner]] -= 1
                        counts[view] += 1
                        share[q] = new
                        break
                else:
                    # 3. (end of the epoch) another place, of a view the batch holds
                    new = self._replace(sample, batch, set(present))
                    if new is not None:
                        share[pos] = new
                        counts[view] -= 1
                        counts[views[new]] += 1

    def _replace(self, sample: int, batch: int, allowed: set) -> Optional[int]:
        # take the place out of the batch; its sample, unless a new pass began since,
        # goes back to the front of its queue and the place gets a turn later
        place = self.place_of[sample]
        if self._slot(place, sample) is not None:
            self.next[place] -= 1
            self.waiting.append(place)
        self.stamp[place] = -1
        passes = self.passes
        for _ in range(64):
            # at most one new pass (the epoch's last batches), none in a loop
            candidate = self._anchor(batch, refill=self.passes == passes)
            if candidate is None:
                break
            start, end = self.next[candidate], self.ends[candidate]
            for j in range(start, end):
                if self.views[self.queue[j]] in allowed:
                    self.queue[start], self.queue[j] = self.queue[j], self.queue[start]
                    return self._take(candidate, batch)
            self.waiting.append(candidate)
        # no luck: keep the lone view
        new = self._take(place, batch)
        if new is None:
            self.stamp[place] = batch
        return new

    def build(self) -> List[List[int]]:
        s = self.s
        size, world = s.batch_size, s.world_size
        hard = round(s.hard_fraction * size) if s.neighbour_table is not None else 0
        self.waiting = deque()
        batches = []
        for b in range(s.num_batches()):
            self.ready, self.waiting = self.waiting, deque()
            shares = []
            for _ in range(world):
                share = []
                while len(share) < hard:
                    anchor = self._take(self._anchor(b), b)
                    share.append(anchor)
                    view = self.views[anchor] if s.same_view else None
                    pulled = 0
                    for place in self._candidates(self.place_of[anchor]):
                        if pulled == s.neighbours or len(share) == hard:
                            break
                        sample = self._take(place, b, view)
                        if sample is not None:
                            share.append(sample)
                            pulled += 1
                while len(share) < size:
                    share.append(self._take(self._anchor(b), b))
                if s.multi_view and size > 1:
                    self._no_lone_view(share, b)
                shares.append(share)
            # _deal gives rank r positions r, r + world, ...: lay the shares out so
            # that rank r receives share r whole
            batches.append([shares[r][j] for j in range(size) for r in range(world)])
        return batches


@SAMPLERS.register_module()
class SimilarityNeighbourSampler(GPSNeighbourSampler):
    """Neighbour-group batches from a mined similarity table (Sample4Geo's re-mining).

    ``HardNegativeMiningHook`` embeds the training places with the current model
    every few epochs and calls :meth:`set_neighbours` with each place's most
    similar other places; the following epochs group those places. Until the
    first table arrives (or without the hook) the batches follow ``initial``:
    ``'gps'`` - GPS neighbours, Sample4Geo's first epochs (needs lat/lon);
    ``'random'`` - random batches with unique locations.

    Args:
        dataset: the dataset to sample (filled in by the dataloader).
        batch_size (int): per-rank batch size; must equal the dataloader's.
        initial (str): the batches before the first table, ``'gps'`` or
            ``'random'`` (see above). Defaults to ``'gps'``.
        **kwargs: the other arguments of :class:`GPSNeighbourSampler`.
    """

    def __init__(self, dataset, batch_size: int, initial: str = 'gps', **kwargs):
        if initial not in ('gps', 'random'):
            raise ValueError(
                f"SimilarityNeighbourSampler: initial={initial!r}, expected 'gps' or 'random'"
            )
        self.initial = initial
        super().__init__(dataset, batch_size, **kwargs)

    def _needs_gps(self) -> bool:
        return self.initial == 'gps'
