import os.path as osp

import pytest
from replicas import make_sues200

from gleamkit.datasets import SUES200Dataset

OFFSET = 20_000_000


@pytest.fixture(scope='module')
def sues(tmp_path_factory):
    return make_sues200(str(tmp_path_factory.mktemp('s') / 'SUES-200-512x512'))


def test_train_pairs_one_altitude(sues):
    ds = SUES200Dataset(data_root=sues['root'], split='train', mode='pairs', altitudes=[150])
    assert len(ds) == 2 * 2  # 2 scenes x 2 frames, one tile each
    info = ds.get_data_info(0)
    assert info['altitude'] == 150 and info['view'] == 'uav'
    assert info['location_id'] == OFFSET + 1
    assert info['reference_path'] == osp.join(
        sues['root'], 'Training', '150', 'satellite', '0001', '0.png'
    )


def test_train_pairs_all_altitudes(sues):
    ds = SUES200Dataset(data_root=sues['root'], split='train', mode='pairs')
    assert len(ds) == 4 * 2 * 2
    assert sorted(set(ds.get_field('altitude'))) == [150, 200, 250, 300]


def test_drone_to_satellite_gallery_keeps_all_scenes_once(sues):
    query = SUES200Dataset(data_root=sues['root'], split='test', mode='query', altitudes=[150, 300])
    gallery = SUES200Dataset(
        data_root=sues['root'], split='test', mode='gallery', altitudes=[150, 300]
    )
    assert len(query) == 2 * 3 * 2  # 2 altitudes x 3 test scenes x 2 frames
    assert len(gallery) == 5  # one tile per scene, 2 of them training scenes (distractors)
    assert gallery.get_field('location_id') == [OFFSET + i for i in range(1, 6)]
    assert 'altitude' not in gallery.get_data_info(0)


def test_satellite_to_drone(sues):
    query = SUES200Dataset(
        data_root=sues['root'],
        split='test',
        mode='query',
        altitudes=[200],
        protocol='satellite->drone',
    )
    gallery = SUES200Dataset(
        data_root=sues['root'],
        split='test',
        mode='gallery',
        altitudes=[200],
        protocol='satellite->drone',
    )
    assert len(query) == 3 and set(query.get_field('view')) == {'satellite'}
    assert len(gallery) == 5 * 2 and set(gallery.get_field('view')) == {'uav'}
    assert gallery.metainfo['gallery_view'] == 'uav'


def test_bad_altitude_and_missing_folder(sues, tmp_path):
    with pytest.raises(ValueError, match='altitudes'):
        SUES200Dataset(data_root=sues['root'], split='train', altitudes=[100])
    with pytest.raises(FileNotFoundError, match=r'Testing/150/query_drone'):
        SUES200Dataset(data_root=str(tmp_path), split='test', mode='query', altitudes=[150])
