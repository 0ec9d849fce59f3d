import os.path as osp

import pytest
from replicas import make_denseuav

from gleamkit.datasets import DenseUAVDataset

OFFSET = 30_000_000


@pytest.fixture(scope='module')
def dense(tmp_path_factory):
    return make_denseuav(str(tmp_path_factory.mktemp('d') / 'DenseUAV'))


def test_train_pairs_same_height(dense):
    ds = DenseUAVDataset(data_root=dense['root'], split='train', mode='pairs')
    assert len(ds) == 3 * 3 * 2  # 3 places x 3 heights x (new + old tile of that height)
    info = ds.get_data_info(0)
    assert info['query_path'].endswith(osp.join('drone', '000000', 'H100.JPG'))
    assert info['altitude'] == 100
    assert osp.basename(info['reference_path']) in ('H100.tif', 'H100_old.tif')
    assert info['lat'] == pytest.approx(30.32) and info['lon'] == pytest.approx(120.37)
    assert info['location_id'] == OFFSET


def test_train_pairs_all_tiles(dense):
    ds = DenseUAVDataset(
        data_root=dense['root'], split='train', mode='pairs', satellite_pairing='all'
    )
    assert len(ds) == 3 * 3 * 6


def test_test_protocol_counts_and_gps(dense):
    query = DenseUAVDataset(data_root=dense['root'], split='test', mode='query')
    gallery = DenseUAVDataset(data_root=dense['root'], split='test', mode='gallery')
    assert len(query) == 2 * 3
    assert len(gallery) == 5 * 6  # every place (train ones too) x 6 tiles
    assert sorted(set(gallery.get_field('location_id'))) == [OFFSET + i for i in range(5)]
    q = query.get_data_info(0)
    assert q['location_id'] == OFFSET + 3
    assert (q['lat'], q['lon']) == pytest.approx(dense['gps']['000003'])
    no_gps = [
        query.get_data_info(i)
        for i in range(len(query))
        if query.get_data_info(i)['place'] == '000004'
    ]
    assert no_gps and all('lat' not in info for info in no_gps)


def test_satellite_to_drone(dense):
    gallery = DenseUAVDataset(
        data_root=dense['root'], split='test', mode='gallery', protocol='satellite->drone'
    )
    assert len(gallery) == 5 * 3 and set(gallery.get_field('view')) == {'uav'}


def test_bad_gps_line(tmp_path):
    d = make_denseuav(str(tmp_path / 'DenseUAV'))
    with open(osp.join(d['root'], 'Dense_GPS_ALL.txt'), 'a') as f:
        f.write('train/drone/000000/H80.JPG 120.3 30.3 80\n')
    with pytest.raises(ValueError, match=r'Dense_GPS_ALL.txt:\d+: expected'):
        DenseUAVDataset(data_root=d['root'], split='train', mode='query')
