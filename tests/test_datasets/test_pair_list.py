import os.path as osp

import pytest
from replicas import make_pair_list, make_street_map

from gleamkit.datasets import CrossViewPairListDataset, StreetMapSatelliteDataset
from gleamkit.datasets.pair_list import write_pair_list

OFFSET = 100_000_000


@pytest.mark.parametrize('fmt', ['csv', 'jsonl'])
def test_pairs_queries_and_gallery(tmp_path, fmt):
    p = make_pair_list(str(tmp_path / 'mine'), fmt)
    pairs = CrossViewPairListDataset(ann_file=p['ann_file'], mode='pairs')
    assert len(pairs) == 4  # the distractor row has no query
    a1 = pairs.get_data_info(0)
    assert a1['query_path'] == osp.join(p['root'], 'q', 'a1.jpg')
    assert a1['reference_path'] == osp.join(p['root'], 'sat', 'A.png')
    assert (a1['view'], a1['location_id'], a1['lat'], a1['weight']) == ('uav', OFFSET, 47.1, 1.0)
    assert pairs.get_field('weight') == [1.0, 0.5, 1.0, 1.0]
    c = pairs.get_data_info(3)
    assert c['view'] == 'panorama' and c['location_id'] == OFFSET + 2
    assert c['semi_positive_ids'] == [OFFSET + 1] and c['semi_positive_weights'] == [0.25]
    assert 'lat' not in pairs.get_data_info(2)

    query = CrossViewPairListDataset(ann_file=p['ann_file'], mode='query', split='test')
    assert query.get_field('view') == ['uav', 'map', 'panorama']
    assert 'reference_path' not in query.get_data_info(0)
    gallery = CrossViewPairListDataset(ann_file=p['ann_file'], mode='gallery', split='test')
    assert gallery.get_field('location_id') == [OFFSET + i for i in range(4)]
    assert gallery.get_data_info(0)['lat'] == 47.1


def test_views_filter_and_offset(tmp_path):
    p = make_pair_list(str(tmp_path / 'mine'))
    ds = CrossViewPairListDataset(ann_file=p['ann_file'], mode='query', views=['map'],
                                  location_offset=5)
    assert ds.get_field('location_id') == [5 + 1]


def test_relative_ann_file_uses_data_root(tmp_path):
    p = make_pair_list(str(tmp_path / 'mine'))
    ds = CrossViewPairListDataset(ann_file='pairs.csv', data_root=p['root'], mode='gallery')
    assert len(ds) == 4


def test_location_column_groups_rows(tmp_path):
    rows = [dict(query='a.jpg', satellite='s1.png', location=7),
            dict(query='b.jpg', satellite='s2.png', location=3),
            dict(query='c.jpg', satellite='s3.png', location=7)]
    for r in rows:
        from replicas import write_image
        write_image(str(tmp_path / r['query']))
        write_image(str(tmp_path / r['satellite']))
    path = write_pair_list(str(tmp_path / 'p.csv'), rows)
    ds = CrossViewPairListDataset(ann_file=path, mode='pairs')
    assert ds.get_field('location_id') == [OFFSET + 1, OFFSET + 0, OFFSET + 1]  # 3 < 7
    assert ds.get_field('location_key') == ['7', '3', '7']


@pytest.mark.parametrize('row, message', [
    (dict(query='a.jpg', satellite='s.png', view='drone'), r'p.csv:2: view=\'drone\''),
    (dict(query='a.jpg', satellite='s.png', lat='x', lon=1), r'p.csv:2: lat=\'x\''),
    (dict(query='a.jpg', satellite='s.png', lat=1), 'both lat and lon'),
    (dict(query='a.jpg', satellite='s.png', semi_positives='nowhere.png'), 'nowhere.png'),
    (dict(query='a.jpg', view='uav'), 'columns'),
])
def test_bad_rows_name_the_line(tmp_path, row, message):
    path = write_pair_list(str(tmp_path / 'p.csv'), [row])
    with pytest.raises(ValueError, match=message):
        CrossViewPairListDataset(ann_file=path, mode='query', on_missing='ignore')


def test_bad_jsonl_line(tmp_path):
    path = tmp_path / 'p.jsonl'
    path.write_text('{"query": "a.jpg", "satellite": "s.png"}\n{oops\n')
    with pytest.raises(ValueError, match=r'p.jsonl:2: not a JSON object'):
        CrossViewPairListDataset(ann_file=str(path), mode='query', on_missing='ignore')


def test_missing_image_named(tmp_path):
    path = write_pair_list(str(tmp_path / 'p.csv'), [dict(query='a.jpg', satellite='s.png')])
    with pytest.raises(FileNotFoundError, match=r'a.jpg'):
        CrossViewPairListDataset(ann_file=path, mode='pairs')


def test_street_map_layout(tmp_path):
    m = make_street_map(str(tmp_path / 'MAP'))
    pairs = StreetMapSatelliteDataset(data_root=m['root'], split='train', mode='pairs')
    assert len(pairs) == 2
    info = pairs.get_data_info(1)
    assert info['view'] == 'map' and info['location_id'] == 90_000_000 + 1
    assert info['query_path'] == osp.join(m['root'], 'map', 'm002.png')
    assert info['reference_path'] == osp.join(m['root'], 'satellite', 'm002.jpg')
    assert (info['lat'], info['lon']) == m['gps']['m002']
    gallery = StreetMapSatelliteDataset(data_root=m['root'], split='test', mode='gallery')
    assert gallery.get_field('location_id') == [90_000_002, 90_000_003]
    assert 'lat' not in gallery.get_data_info(1)  # m004 has no row in locations.csv
    everything = StreetMapSatelliteDataset(data_root=m['root'], split='all', mode='query')
    assert len(everything) == 4


def test_street_map_split_naming_unknown_tile(tmp_path):
    m = make_street_map(str(tmp_path / 'MAP'))
    with open(osp.join(m['root'], 'splits', 'test.txt'), 'a') as f:
        f.write('m999\n')
    with pytest.raises(ValueError, match='m999'):
        StreetMapSatelliteDataset(data_root=m['root'], split='test', mode='query')
