import os.path as osp

import pytest
from replicas import VIGOR_CITIES, make_vigor

from gleamkit.datasets import VIGORDataset

OFFSET = 40_000_000


def tile_id(city, index):
    return OFFSET + VIGOR_CITIES.index(city) * 1_000_000 + index


@pytest.fixture(scope='module')
def vigor(tmp_path_factory):
    return make_vigor(str(tmp_path_factory.mktemp('v') / 'VIGOR'))


def test_same_area_test_queries_positive_and_semi_positives(vigor):
    ds = VIGORDataset(data_root=vigor['root'], split='test', area='same', mode='query')
    assert len(ds) == 4 * 2
    info = ds.get_data_info(0)  # Chicago, panorama 3 of the replica
    pano = vigor['cities']['Chicago']['test'][0]
    assert info['view'] == 'panorama'
    assert info['query_path'] == osp.join(vigor['root'], 'Chicago', 'panorama', pano['name'])
    assert info['location_id'] == tile_id('Chicago', pano['tiles'][0])
    assert info['semi_positive_ids'] == [tile_id('Chicago', t) for t in pano['tiles'][1:]]
    assert info['lat'] == pytest.approx(pano['lat']) and info['lon'] == pytest.approx(pano['lon'])
    assert info['offsets'][1] == [1.5, -2.0]
    assert 'reference_path' not in info


def test_same_area_gallery_is_every_tile_of_the_four_cities(vigor):
    ds = VIGORDataset(data_root=vigor['root'], split='test', area='same', mode='gallery')
    assert len(ds) == 4 * 5
    ids = ds.get_field('location_id')
    assert ids[:5] == [tile_id('Chicago', i) for i in range(5)]
    info = ds.get_data_info(1)
    assert info['lat'] == pytest.approx(41.881) and info['lon'] == pytest.approx(-87.631)
    assert info['reference_path'].endswith(
        osp.join('Chicago', 'satellite', vigor['cities']['Chicago']['sats'][1])
    )
    query = VIGORDataset(data_root=vigor['root'], split='test', area='same', mode='query')
    for i in range(len(query)):
        q = query.get_data_info(i)
        assert {q['location_id'], *q['semi_positive_ids']} <= set(ids)


def test_cross_area_splits_cities(vigor):
    train = VIGORDataset(data_root=vigor['root'], split='train', area='cross', mode='pairs')
    assert len(train) == 2 * 5  # every panorama of NewYork and Seattle
    assert {train.get_data_info(i)['city'] for i in range(len(train))} == {'NewYork', 'Seattle'}
    test_q = VIGORDataset(data_root=vigor['root'], split='test', area='cross', mode='query')
    test_g = VIGORDataset(data_root=vigor['root'], split='test', area='cross', mode='gallery')
    assert len(test_q) == 10 and len(test_g) == 10
    assert {test_g.get_data_info(i)['city'] for i in range(10)} == {'Chicago', 'SanFrancisco'}
    assert not set(train.get_field('location_id')) & set(test_g.get_field('location_id'))


def test_train_pairs_point_at_positive_tile(vigor):
    ds = VIGORDataset(data_root=vigor['root'], split='train', area='same', mode='pairs')
    assert len(ds) == 4 * 3
    info = ds.get_data_info(4)  # NewYork, panorama 1
    pano = vigor['cities']['NewYork']['train'][1]
    assert info['reference_path'] == osp.join(
        vigor['root'], 'NewYork', 'satellite', vigor['cities']['NewYork']['sats'][pano['tiles'][0]]
    )
    assert info['location_id'] == tile_id('NewYork', pano['tiles'][0])


def test_sample4geo_layout(tmp_path):
    v = make_vigor(str(tmp_path / 'VIGOR'), layout='sample4geo')
    ds = VIGORDataset(data_root=v['root'], split='train', area='same', mode='pairs')
    assert osp.join('ground', 'Chicago') in ds.get_data_info(0)['query_path']
    assert osp.join('satellite', 'Chicago') in ds.get_data_info(0)['reference_path']


def test_errors_name_the_file_and_line(tmp_path, vigor):
    with pytest.raises(FileNotFoundError, match='satellite_list.txt'):
        VIGORDataset(data_root=str(tmp_path), split='test', mode='gallery', layout='official')
    v = make_vigor(str(tmp_path / 'bad'))
    path = osp.join(v['root'], 'splits', 'Chicago', 'same_area_balanced_test.txt')
    with open(path, 'a') as f:
        f.write('pano.jpg satellite_unknown.png 0 0 a 0 0 b 0 0 c 0 0\n')
    with pytest.raises(ValueError, match=r'same_area_balanced_test.txt:3 .*satellite_unknown'):
        VIGORDataset(data_root=v['root'], split='test', mode='query')


def test_other_splits_folder(tmp_path):
    import shutil

    v = make_vigor(str(tmp_path / 'VIGOR'))
    shutil.move(osp.join(v['root'], 'splits'), osp.join(v['root'], 'splits__corrected'))
    with pytest.raises(FileNotFoundError, match='satellite_list.txt'):
        VIGORDataset(data_root=v['root'], split='test', mode='query')
    ds = VIGORDataset(
        data_root=v['root'], split='test', mode='query', splits_dir='splits__corrected'
    )
    assert len(ds) == 8
