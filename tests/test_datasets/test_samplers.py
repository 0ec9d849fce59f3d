from collections import Counter, deque

import numpy as np
import pytest

from gleamkit.datasets.samplers import UniqueLocationSampler, ViewBalancedSampler, pack_unique


class InfoDataset:
    """A dataset that only carries annotations (what samplers read)."""

    def __init__(self, locations, views):
        self.infos = [dict(location_id=loc, view=v) for loc, v in zip(locations, views)]

    def __len__(self):
        return len(self.infos)

    def get_data_info(self, i):
        return self.infos[i]


def four_views_dataset(n_locations=40):
    views = ('uav', 'map', 'panorama', 'ground')
    locs = [loc for loc in range(n_locations) for _ in views]
    return InfoDataset(locs, list(views) * n_locations)


def batches_of(sampler):
    idx = list(sampler)
    return [idx[i : i + sampler.batch_size] for i in range(0, len(idx), sampler.batch_size)]


def test_pack_unique_defers_repeats():
    locations = np.array([0, 0, 1, 2, 1, 3])
    assert pack_unique([0, 1, 2, 3, 4, 5], locations, 2) == [[0, 2], [1, 3], [4, 5]]
    pending = deque()
    assert pack_unique([0, 1, 2], locations, 2, pending) == [[0, 2]]
    assert list(pending) == [1]


def test_unique_location_batches_and_determinism():
    ds = four_views_dataset()
    sampler = UniqueLocationSampler(ds, batch_size=16, seed=3)
    batches = batches_of(sampler)
    assert len(sampler) == len(ds) // 16 * 16 == sum(len(b) for b in batches)
    for b in batches:
        locs = [ds.infos[i]['location_id'] for i in b]
        assert len(set(locs)) == len(locs) == 16
    assert list(UniqueLocationSampler(ds, batch_size=16, seed=3)) == list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != [i for b in batches for i in b]
    # every sample used; repeats only to complete the last batch greedy packing left short
    counts = Counter(list(sampler))
    assert len(counts) > len(ds) - 16
    assert sum(c - 1 for c in counts.values()) < 16


def test_unique_location_sampler_shards_across_ranks(monkeypatch):
    ds = four_views_dataset()
    import gleamkit.datasets.samplers.unique_location_sampler as mod

    shards = []
    for rank in range(2):
        monkeypatch.setattr(mod, 'get_dist_info', lambda r=rank: (r, 2))
        shards.append(batches_of(UniqueLocationSampler(ds, batch_size=8, seed=0)))
    assert len(shards[0]) == len(shards[1])
    for b0, b1 in zip(*shards):
        glob = b0 + b1  # one global batch: the gathered loss sees all of it
        locs = [ds.infos[i]['location_id'] for i in glob]
        assert len(set(locs)) == 16
        assert not set(b0) & set(b1)


def test_view_balanced_sampler_balances_unequal_views():
    # 200 uav images of 50 places, 20 map tiles of 20 places
    locs = [i % 50 for i in range(200)] + list(range(100, 120))
    views = ['uav'] * 200 + ['map'] * 20
    ds = InfoDataset(locs, views)
    sampler = ViewBalancedSampler(ds, batch_size=10, seed=0, epoch_size='mean')
    batches = batches_of(sampler)
    assert len(batches) == 220 // 10
    for b in batches:
        counts = Counter(ds.infos[i]['view'] for i in b)
        assert counts == {'uav': 5, 'map': 5}
        assert len({ds.infos[i]['location_id'] for i in b}) == 10
    # the small view is oversampled, the large one subsampled
    drawn = Counter(ds.infos[i]['view'] for i in sampler)
    assert drawn['map'] == drawn['uav'] == 110


def test_view_balanced_rotates_remainder_and_validates():
    ds = four_views_dataset(30)
    sampler = ViewBalancedSampler(ds, batch_size=10, seed=0)
    totals = Counter(ds.infos[i]['view'] for i in sampler)
    assert max(totals.values()) - min(totals.values()) <= 2
    with pytest.raises(ValueError, match='thermal'):
        ViewBalancedSampler(ds, batch_size=10, views=('uav', 'thermal'))
    with pytest.raises(ValueError, match='epoch_size'):
        ViewBalancedSampler(ds, batch_size=10, epoch_size='all')
    with pytest.raises(ValueError, match='batch_size'):
        UniqueLocationSampler(ds, batch_size=0)
