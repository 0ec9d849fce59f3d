import os.path as osp

import pytest
from replicas import make_gta_uav

from gleamkit.datasets import GTAUAVDataset

OFFSET = 70_000_000


@pytest.fixture(scope='module')
def gta(tmp_path_factory):
    return make_gta_uav(str(tmp_path_factory.mktemp('g') / 'GTA-UAV'))


def tid(gta, name):
    return OFFSET + gta['ids'][name]


def test_weighted_pairs_with_semi_positives(gta):
    ds = GTAUAVDataset(data_root=gta['root'], split='train', mode='pairs')
    assert len(ds) == 3 + 1 + 1  # every (drone, overlapping tile) of pos_semipos
    assert ds.get_field('weight') == [0.8, 0.5, 0.2, 0.6, 0.15]
    first = ds.get_data_info(0)
    assert first['query_path'] == osp.join(gta['root'], 'drone', 'images', 'd0.png')
    assert first['reference_path'] == osp.join(gta['root'], 'satellite', '6_1_1.png')
    assert first['location_id'] == tid(gta, '6_1_1.png')
    assert first['semi_positive_ids'] == [tid(gta, '6_1_2.png'), tid(gta, '7_2_2.png')]
    assert first['semi_positive_weights'] == [0.5, 0.2]
    assert first['loc_xy'] == [0.0, 0.0] and first['altitude'] == 200.0


def test_positive_only_pairs(gta):
    ds = GTAUAVDataset(data_root=gta['root'], split='train', mode='pairs', positives='pos')
    assert ds.get_field('weight') == [0.8, 0.5, 0.6]


def test_queries_best_tile_positives_and_semi_positives(gta):
    ds = GTAUAVDataset(data_root=gta['root'], split='test', area='cross', mode='query')
    assert len(ds) == 2  # d2 has no positive tile: not a query (logged)
    d0 = ds.get_data_info(0)
    assert d0['location_id'] == tid(gta, '6_1_1.png')
    assert d0['positive_ids'] == [tid(gta, '6_1_1.png'), tid(gta, '6_1_2.png')]
    assert d0['semi_positive_ids'] == [tid(gta, '6_1_2.png'), tid(gta, '7_2_2.png')]
    assert d0['semi_positive_weights'] == [0.5, 0.2]
    assert 'reference_path' not in d0


def test_gallery_is_every_tile(gta):
    ds = GTAUAVDataset(data_root=gta['root'], split='test', mode='gallery')
    assert ds.get_field('location_id') == [OFFSET + i for i in range(4)]
    assert set(ds.get_field('view')) == {'satellite'}


def test_unknown_tile_and_missing_json(gta, tmp_path):
    import json

    path = osp.join(gta['root'], 'same-area-drone2sate-test.json')
    entries = json.load(open(path))
    entries[0]['pair_pos_sate_img_list'] = ['9_9_9.png']
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps(entries))
    with pytest.raises(ValueError, match='9_9_9.png'):
        GTAUAVDataset(data_root=gta['root'], ann_file=str(bad), mode='query')
    with pytest.raises(FileNotFoundError, match='same-area-drone2sate-train.json'):
        import shutil

        shutil.copytree(osp.join(gta['root'], 'satellite'), tmp_path / 'x' / 'satellite')
        GTAUAVDataset(data_root=str(tmp_path / 'x'), split='train', mode='pairs')
