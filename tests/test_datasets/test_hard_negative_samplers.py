"""GPSNeighbourSampler / SimilarityNeighbourSampler on hand-built layouts whose
neighbour groups are known."""

from collections import Counter

import numpy as np
import pytest
from mmengine.dataset import BaseDataset, ConcatDataset
from mmengine.registry import DefaultScope

import gleamkit.datasets.samplers.unique_location_sampler as base_module
from gleamkit.datasets.samplers import (
    GPSNeighbourSampler,
    NeighbourTable,
    SimilarityNeighbourSampler,
    gps_neighbour_table,
)
from gleamkit.evaluation.metrics.geo import haversine_m
from gleamkit.registry import SAMPLERS

VIEWS = ('uav', 'map')
# four cities far apart; four places 111 m apart (0.001 deg of latitude) in each
CENTRES = [(0.0, 0.0), (10.0, 10.0), (-20.0, 40.0), (45.0, -100.0)]


class InfoDataset:
    """Annotations only (what samplers read), through get_data_info."""

    def __init__(self, infos):
        self.infos = infos

    def __len__(self):
        return len(self.infos)

    def get_data_info(self, i):
        return dict(self.infos[i])


def cluster_infos(views=VIEWS, centres=CENTRES, per_cluster=4, spacing_deg=0.001):
    """Place ``4 c + j`` is place j of city c; one sample per (place, view)."""
    infos = []
    for c, (lat, lon) in enumerate(centres):
        for j in range(per_cluster):
            for view in views:
                infos.append(
                    dict(
                        location_id=c * per_cluster + j,
                        view=view,
                        lat=lat + spacing_deg * j,
                        lon=lon,
                    )
                )
    return infos


def batches_of(sampler):
    idx = list(sampler)
    return [idx[i : i + sampler.batch_size] for i in range(0, len(idx), sampler.batch_size)]


def places(ds, batch):
    return [ds.infos[i]['location_id'] for i in batch]


# ------------------------------------------------------------------ GPS neighbour table
def test_gps_neighbour_table_hand_case():
    # on the equator, 0.01 deg of longitude apart: 0 - 1 - - 2 - - - - 3
    lon = np.array([0.0, 0.01, 0.03, 0.07])
    lat = np.zeros(4)
    idx, metres = gps_neighbour_table(lat, lon, k=2)
    assert idx.tolist() == [[1, 2], [0, 2], [1, 0], [2, 1]]
    step = haversine_m(0, 0, 0, 0.01)
    assert step == pytest.approx(1111.95, abs=0.01)
    np.testing.assert_allclose(metres, step * np.array([[1, 3], [1, 2], [2, 3], [4, 6]]), rtol=1e-9)
    # a radius drops the far ones; k beyond P - 1 pads
    idx, metres = gps_neighbour_table(lat, lon, k=5, radius_m=2.5 * step)
    assert idx.tolist() == [
        [1, -1, -1, -1, -1],
        [0, 2, -1, -1, -1],
        [1, -1, -1, -1, -1],
        [-1, -1, -1, -1, -1],
    ]
    assert np.isinf(metres[3]).all()


def test_gps_neighbour_table_ties_in_index_order_and_equals_brute_force():
    # 0 has 1 and 2 at the same distance (north / south), then 3
    lat = np.array([0.0, 0.01, -0.01, 0.0])
    lon = np.array([0.0, 0.0, 0.0, 0.02])
    assert gps_neighbour_table(lat, lon, k=3)[0][0].tolist() == [1, 2, 3]
    # world-wide points (poles, the antimeridian): same distances as brute force
    rng = np.random.default_rng(0)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, 1500)))
    lon = rng.uniform(-180, 180, 1500)
    lat[:3], lon[:3] = [89.99, 0.0, 0.0], [0.0, 179.999, -179.999]
    idx, metres = gps_neighbour_table(lat, lon, k=7)
    full = haversine_m(lat[:, None], lon[:, None], lat[None], lon[None])
    np.fill_diagonal(full, np.inf)
    np.testing.assert_allclose(metres, np.sort(full, axis=1)[:, :7], rtol=1e-9)
    np.testing.assert_allclose(np.take_along_axis(full, idx, 1), metres, rtol=1e-12)
    assert idx[1, 0] == 2  # across the antimeridian: 0.002 deg apart


# ---------------------------------------------------------------------- the sampler
def test_batches_are_the_gps_clusters():
    ds = InfoDataset(cluster_infos())
    sampler = GPSNeighbourSampler(ds, batch_size=4, neighbours=3, neighbour_pool=3, seed=0)
    assert sampler.num_places == 16 and sampler.neighbour_source == 'gps'
    # the table itself: each place's three neighbours are its city, nearest first
    assert sampler.neighbour_table[0].tolist() == [1, 2, 3]
    assert sampler.neighbour_table[5].tolist() == [4, 6, 7]
    assert sampler.neighbour_scores[0, 0] == pytest.approx(111.2, abs=0.1)
    batches = batches_of(sampler)
    assert len(sampler) == 32 and len(batches) == 8
    cities = Counter()
    for b in batches:
        locs = places(ds, b)
        assert len({loc // 4 for loc in locs}) == 1, locs  # one city ...
        assert sorted(locs) == [4 * (locs[0] // 4) + j for j in range(4)]  # ... all of it
        assert len({ds.infos[i]['view'] for i in b}) == 1  # same_view: like with like
        cities[locs[0] // 4] += 1
    assert cities == {0: 2, 1: 2, 2: 2, 3: 2}
    assert sorted(sampler) == list(range(32))  # every sample exactly once


def city_of(ds, i):
    return ds.infos[i]['location_id'] // 4


def same_city_share(ds, batch):
    cities = [city_of(ds, i) for i in batch]
    pairs = [(a, b) for n, a in enumerate(cities) for b in cities[n + 1 :]]
    return sum(a == b for a, b in pairs) / len(pairs)


def test_hard_fraction_splits_groups_and_random_fill():
    ds = InfoDataset(
        cluster_infos(
            views=('uav', 'map', 'panorama', 'ground'),
            centres=[(5.0 * c, 7.0 * c) for c in range(8)],
        )
    )
    sampler = GPSNeighbourSampler(
        ds, batch_size=8, neighbours=3, neighbour_pool=3, hard_fraction=0.5, seed=1
    )
    batches = batches_of(sampler)
    assert len(batches) == 128 // 8
    assert all(len(set(places(ds, b))) == 8 for b in batches)
    assert all(1 not in Counter(ds.infos[i]['view'] for i in b).values() for b in batches)
    hard = np.mean([same_city_share(ds, b[:4]) for b in batches])
    fill = np.mean([same_city_share(ds, b[4:]) for b in batches])
    # chance is about 1/8; the random fill unbalances the cities, so a few groups
    # find some of their neighbours used up
    assert hard > 0.7 and fill < 0.3
    # hard_fraction=0: plain unique-location batches, no more grouped than chance
    sampler = GPSNeighbourSampler(ds, batch_size=8, neighbours=3, hard_fraction=0.0, seed=1)
    batches = batches_of(sampler)
    assert all(len(set(places(ds, b))) == 8 for b in batches)
    assert np.mean([same_city_share(ds, b[:4]) for b in batches]) < 0.3


def test_neighbour_pool_draws_nearest_half_then_random():
    # one line of 12 places, 111 m apart: place 0's neighbours by distance are 1..11
    infos = [dict(location_id=i, view='uav', lat=0.001 * i, lon=0.0) for i in range(12)]
    infos += [
        dict(location_id=100 + i, view='uav', lat=50.0 + 0.001 * i, lon=0.0) for i in range(12)
    ]
    ds = InfoDataset(infos)
    sampler = GPSNeighbourSampler(ds, batch_size=5, neighbours=4, neighbour_pool=8, seed=0)
    assert sampler.neighbour_table.shape == (24, 8)
    for epoch in range(6):
        sampler.set_epoch(epoch)
        first = batches_of(sampler)[0]
        anchor, pulled = ds.infos[first[0]]['location_id'], places(ds, first[1:])
        row = sampler.neighbour_table[sampler.place_index(anchor)].tolist()
        pos = [row.index(sampler.place_index(p)) for p in pulled]
        assert pos[:2] == [0, 1]  # the nearest half, always
        assert all(2 <= p < 8 for p in pos[2:])  # the others from the pool


def test_radius_limits_groups():
    ds = InfoDataset(cluster_infos(views=('uav',)))
    # 111 m between neighbours: 150 m keeps only the adjacent places
    sampler = GPSNeighbourSampler(
        ds, batch_size=4, neighbours=3, neighbour_pool=3, neighbour_radius_m=150.0, seed=0
    )
    assert sampler.neighbour_table[0].tolist() == [1, -1, -1]
    assert sampler.neighbour_table[1].tolist() == [0, 2, -1]
    for b in batches_of(sampler):
        assert len(set(places(ds, b))) == 4


def test_deterministic_per_seed_and_epoch():
    ds = InfoDataset(
        cluster_infos(views=('uav', 'map', 'panorama'), centres=[(i * 3.0, 0.0) for i in range(12)])
    )
    kwargs = dict(batch_size=8, neighbours=3, hard_fraction=0.75)
    a = GPSNeighbourSampler(ds, seed=7, **kwargs)
    assert list(a) == list(GPSNeighbourSampler(ds, seed=7, **kwargs))
    for b in batches_of(a):  # a view alone in a batch would break BatchNorm
        assert 1 not in Counter(ds.infos[i]['view'] for i in b).values()
    assert list(a) != list(GPSNeighbourSampler(ds, seed=8, **kwargs))
    epoch0 = list(a)
    a.set_epoch(1)
    epoch1 = list(a)
    assert epoch1 != epoch0
    for order in (epoch0, epoch1):  # every sample once, up to a few repeats in the last batch
        assert len(order) == 144 and sum(c - 1 for c in Counter(order).values()) < 8
    a.set_epoch(0)
    assert list(a) == epoch0


def test_shards_across_ranks(monkeypatch):
    ds = InfoDataset(cluster_infos())
    shards = []
    for rank in range(2):
        monkeypatch.setattr(base_module, 'get_dist_info', lambda r=rank: (r, 2))
        sampler = GPSNeighbourSampler(ds, batch_size=4, neighbours=3, neighbour_pool=3, seed=0)
        assert sampler.global_batch == 8 and len(sampler) == 16
        shards.append(batches_of(sampler))
    assert len(shards[0]) == len(shards[1]) == 4
    for b0, b1 in zip(*shards):
        # each rank's share is a whole city; the global batch two distinct cities
        cities = [{loc // 4 for loc in places(ds, b)} for b in (b0, b1)]
        assert all(len(c) == 1 for c in cities) and cities[0] != cities[1]
        assert len(set(places(ds, b0 + b1))) == 8
    assert sorted(i for s in shards for b in s for i in b) == list(range(32))


def test_location_ids_may_be_strings_and_configs_build():
    infos = cluster_infos()
    for info in infos:
        info['location_id'] = f'place-{info["location_id"]}'
    ds = InfoDataset(infos)
    with DefaultScope.overwrite_default_scope('gleamkit'):  # whatever ran before
        sampler = SAMPLERS.build(
            dict(
                type='GPSNeighbourSampler',
                dataset=ds,
                batch_size=4,
                neighbours=3,
                neighbour_pool=3,
                seed=0,
            )
        )
    for b in batches_of(sampler):
        assert len({int(loc.split('-')[1]) // 4 for loc in places(ds, b)}) == 1
    assert sampler.place_index('place-5') == 5 and sampler.place_index('elsewhere') is None


# ------------------------------------------------------------------------- GPS errors
class NoGPSDataset(BaseDataset):
    METAINFO = dict(name='tiny-no-gps')

    def __init__(self, drop_at=3, **kwargs):  # drop_at=None: every sample has GPS
        self.drop_at = drop_at
        super().__init__(ann_file='', serialize_data=False, **kwargs)

    def load_data_list(self):
        infos = cluster_infos()
        if self.drop_at is not None:
            infos[self.drop_at].pop('lat')
        return infos


def test_missing_gps_names_dataset_sample_and_key():
    with pytest.raises(KeyError) as err:
        GPSNeighbourSampler(NoGPSDataset(), batch_size=4, seed=0)
    msg = str(err.value)
    for part in (
        'GPSNeighbourSampler',
        'sample 3',
        "NoGPSDataset ('tiny-no-gps')",
        "'lat'",
        'initial="random"',
    ):
        assert part in msg, msg
    # inside a ConcatDataset the message names the part without GPS (its own index)
    with pytest.raises(KeyError, match=r'sample 5 of dataset NoGPSDataset'):
        GPSNeighbourSampler(
            ConcatDataset([NoGPSDataset(drop_at=None), NoGPSDataset(drop_at=5)]),
            batch_size=4,
            seed=0,
        )


def test_missing_gps_through_get_field_and_none_values():
    class FieldDataset(InfoDataset):
        def get_field(self, key):
            return [info[key] for info in self.infos]

    infos = cluster_infos()
    for info in infos:
        info.pop('lon')
    with pytest.raises(KeyError, match=r"sample 0 of dataset FieldDataset has no 'lon' in its"):
        GPSNeighbourSampler(FieldDataset(infos), batch_size=4, seed=0)
    infos = cluster_infos()
    infos[6]['lat'] = None
    with pytest.raises(KeyError, match=r'sample 6 of dataset FieldDataset has lat=None'):
        GPSNeighbourSampler(FieldDataset(infos), batch_size=4, seed=0)
    infos[6]['lat'] = float('nan')
    with pytest.raises(KeyError, match=r'lat=nan'):
        GPSNeighbourSampler(FieldDataset(infos), batch_size=4, seed=0)


def test_validation():
    ds = InfoDataset(cluster_infos())
    with pytest.raises(ValueError, match='16 places, fewer than one global batch'):
        GPSNeighbourSampler(ds, batch_size=32)
    with pytest.raises(ValueError, match='hard_fraction'):
        GPSNeighbourSampler(ds, batch_size=4, hard_fraction=1.5)
    with pytest.raises(ValueError, match='neighbour_pool'):
        GPSNeighbourSampler(ds, batch_size=4, neighbours=4, neighbour_pool=2)
    with pytest.raises(ValueError, match="initial='sim'"):
        SimilarityNeighbourSampler(ds, batch_size=4, initial='sim')


# ---------------------------------------------------------------- similarity sampler
def look_alike_table():
    """Places look like those of the same rank in the other cities: {0, 4, 8, 12}, ..."""
    return {p: [q for q in range(p % 4, 16, 4) if q != p] for p in range(16)}


def test_similarity_sampler_random_until_a_table_arrives():
    infos = cluster_infos()
    for info in infos:  # no GPS needed with initial='random'
        info.pop('lat'), info.pop('lon')
    ds = InfoDataset(infos)
    sampler = SimilarityNeighbourSampler(
        ds, batch_size=4, neighbours=3, neighbour_pool=3, initial='random', seed=0
    )
    assert sampler.neighbour_table is None and sampler.neighbour_source is None
    before = batches_of(sampler)
    assert all(len(set(places(ds, b))) == 4 for b in before)
    assert not all(len({loc % 4 for loc in places(ds, b)}) == 1 for b in before)
    sampler.set_neighbours(look_alike_table())  # Sample4Geo's sim_dict form
    assert sampler.neighbour_source == 'similarity'
    for b in batches_of(sampler):
        locs = places(ds, b)
        assert len({loc % 4 for loc in locs}) == 1 and len(set(locs)) == 4, locs


def test_similarity_sampler_starts_from_gps_then_follows_the_table():
    ds = InfoDataset(cluster_infos())
    sampler = SimilarityNeighbourSampler(ds, batch_size=4, neighbours=3, neighbour_pool=3, seed=0)
    assert all(len({loc // 4 for loc in places(ds, b)}) == 1 for b in batches_of(sampler))
    # a NeighbourTable in another place order, with a place unknown to the sampler
    ids = [15 - p for p in range(16)] + [99]
    pos = {loc: i for i, loc in enumerate(ids)}
    sim = look_alike_table()
    rows = np.array([[pos[q] for q in sim[loc]] + [16] for loc in ids[:16]] + [[0, 1, 2, 3]])
    scores = np.tile([0.9, 0.8, 0.7, 0.1], (17, 1))
    sampler.set_neighbours(NeighbourTable(ids, rows, scores), source='mined')
    assert sampler.neighbour_source == 'mined'
    assert sampler.neighbour_table.shape == (16, 3)  # neighbour_pool columns
    assert sampler.neighbour_table[sampler.place_index(5)].tolist() == [
        sampler.place_index(q) for q in (1, 9, 13)
    ]
    np.testing.assert_allclose(sampler.neighbour_scores[0], [0.9, 0.8, 0.7])
    for b in batches_of(sampler):
        assert len({loc % 4 for loc in places(ds, b)}) == 1
    # the array form, in the sampler's own place order
    table = np.array([[sampler.place_index(q) for q in sim[loc]] for loc in range(16)])
    sampler.set_neighbours(table[np.argsort([sampler.place_index(x) for x in range(16)])])
    for b in batches_of(sampler):
        assert len({loc % 4 for loc in places(ds, b)}) == 1
    with pytest.raises(ValueError, match='none of the table'):
        sampler.set_neighbours(NeighbourTable(['x', 'y'], np.array([[1], [0]])))
    with pytest.raises(ValueError, match='num_places=16'):
        sampler.set_neighbours(np.zeros((3, 2), dtype=int))
    with pytest.raises(ValueError, match=r'in \[0, 16\) or -1, got 16..16'):
        sampler.set_neighbours(np.full((16, 2), 16))


def test_scales_to_many_places():
    """20k places x 4 views: table and an epoch in seconds (100k places: ~3 s + ~1.3 s)."""
    import time

    rng = np.random.default_rng(0)
    n = 20000
    lat, lon = rng.uniform(30, 50, n), rng.uniform(-120, -70, n)

    class Big:
        def __len__(self):
            return 4 * n

        def get_field(self, key):
            return dict(
                location_id=np.repeat(np.arange(n), 4).tolist(),
                view=['uav', 'map', 'panorama', 'ground'] * n,
                lat=np.repeat(lat, 4).tolist(),
                lon=np.repeat(lon, 4).tolist(),
            )[key]

    start = time.perf_counter()
    sampler = GPSNeighbourSampler(Big(), batch_size=128, neighbours=32, seed=0)
    order = list(sampler)
    assert time.perf_counter() - start < 20
    assert len(order) == 4 * n // 128 * 128
    assert len(set(order)) > len(order) - 128
    loc = np.repeat(np.arange(n), 4)
    first = order[:128]
    assert len(set(loc[first].tolist())) == 128
