import logging
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
    ds = CrossViewPairListDataset(
        ann_file=p['ann_file'], mode='query', views=['map'], location_offset=5
    )
    assert ds.get_field('location_id') == [5 + 1]


def test_relative_ann_file_uses_data_root(tmp_path):
    p = make_pair_list(str(tmp_path / 'mine'))
    ds = CrossViewPairListDataset(ann_file='pairs.csv', data_root=p['root'], mode='gallery')
    assert len(ds) == 4


def test_location_column_groups_rows(tmp_path):
    rows = [
        dict(query='a.jpg', satellite='s1.png', location=7),
        dict(query='b.jpg', satellite='s2.png', location=3),
        dict(query='c.jpg', satellite='s3.png', location=7),
    ]
    for r in rows:
        from replicas import write_image

        write_image(str(tmp_path / r['query']))
        write_image(str(tmp_path / r['satellite']))
    path = write_pair_list(str(tmp_path / 'p.csv'), rows)
    ds = CrossViewPairListDataset(ann_file=path, mode='pairs')
    assert ds.get_field('location_id') == [OFFSET + 1, OFFSET + 0, OFFSET + 1]  # 3 < 7
    assert ds.get_field('location_key') == ['7', '3', '7']


@pytest.mark.parametrize(
    'row, message',
    [
        (dict(query='a.jpg', satellite='s.png', view='drone'), r'p.csv:2: view=\'drone\''),
        (dict(query='a.jpg', satellite='s.png', lat='x', lon=1), r'p.csv:2: lat=\'x\''),
        (dict(query='a.jpg', satellite='s.png', lat=1), 'both lat and lon'),
        (dict(query='a.jpg', satellite='s.png', semi_positives='nowhere.png'), 'nowhere.png'),
        (dict(query='a.jpg', view='uav'), 'columns'),
    ],
)
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


# ------------------------------------------------------- checks on the list (issue 10.9)
def _write(tmp_path, name, text, encoding='utf-8'):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


GOOD_CSV = (
    'query,satellite,view,lat,lon,weight,split\n'
    'q/a.jpg,sat/A.png,uav,47.1,8.1,1.0,test\n'
    ',sat/B.png,,,,,test\n'
)


@pytest.mark.parametrize('mode', ['query', 'gallery', 'pairs'])
def test_misspelt_header_names_column_and_suggestion(tmp_path, mode):
    path = _write(tmp_path, 'p.csv', GOOD_CSV.replace('query,', 'qeury,', 1))
    # before: "found no samples" (query) / every gallery row a distractor (gallery)
    with pytest.raises(
        ValueError,
        match=r"p\.csv:1: unknown column 'qeury' \(did you mean "
        r"'query'\?\)",
    ):
        CrossViewPairListDataset(ann_file=path, mode=mode, on_missing='ignore')


def test_gallery_marks_only_unqueried_tiles_as_distractors(tmp_path):
    path = _write(tmp_path, 'p.csv', GOOD_CSV)
    gallery = CrossViewPairListDataset(ann_file=path, mode='gallery', on_missing='ignore')
    assert gallery.get_field('distractor') == [False, True]


def test_jsonl_misspelt_key_names_line(tmp_path):
    path = _write(
        tmp_path,
        'p.jsonl',
        '{"query": "a.jpg", "satellite": "s.png"}\n'
        '{"query": "b.jpg", "satellite": "t.png", "veiw": "map"}\n',
    )
    with pytest.raises(
        ValueError,
        match=r"p\.jsonl:2: unknown key 'veiw' \(did you mean "
        r"'view'\?\)",
    ):
        CrossViewPairListDataset(ann_file=path, mode='query', on_missing='ignore')


def test_latitude_longitude_columns_are_pointed_to_lat_lon(tmp_path):
    path = _write(tmp_path, 'p.csv', 'query,satellite,latitude,longitude\na.jpg,s.png,1,2\n')
    with pytest.raises(ValueError, match=r"'latitude' \(did you mean 'lat'\?\)"):
        CrossViewPairListDataset(ann_file=path, mode='query', on_missing='ignore')


def test_extra_columns_warn_or_are_kept(tmp_path):
    from mmengine.logging import MMLogger

    text = 'query,satellite,notes,altitude\na.jpg,s.png,sunny,150\n'
    path = _write(tmp_path, 'p.csv', text)
    logger = MMLogger.get_instance('test_pair_list_extras')
    records = []
    handler = _ListHandler(records)
    logger.addHandler(handler)
    try:
        ds = CrossViewPairListDataset(ann_file=path, mode='query', on_missing='ignore')
        assert 'notes' not in ds.get_data_info(0)
        assert any(
            "columns ['notes', 'altitude'] are not pair-list columns" in r and 'p.csv:1' in r
            for r in records
        ), records
        records.clear()
        ds = CrossViewPairListDataset(
            ann_file=path, mode='query', on_missing='ignore', extra_keys=['altitude']
        )
        assert ds.get_data_info(0)['altitude'] == '150'
        assert any("['notes']" in r for r in records) and not any('altitude' in r for r in records)
    finally:
        logger.removeHandler(handler)


class _ListHandler(logging.Handler):
    """Collects the messages of a logger."""

    def __init__(self, records):
        super().__init__()
        self.records = records

    def emit(self, record):
        self.records.append(record.getMessage())


@pytest.mark.parametrize(
    'split_value, message',
    [
        (
            'tset',
            r"p\.csv:3: split='tset' is not one of split_names=\['train', 'val', 'test'\] "
            r"\(did you mean 'test'\?\)",
        ),
        ('fold1', r"p\.csv:3: split='fold1'.*split_names=\[\.\.\.\]"),
    ],
)
def test_misspelt_split_is_an_error(tmp_path, split_value, message):
    text = f'query,satellite,split\na.jpg,s1.png,test\nb.jpg,s2.png,{split_value}\n'
    path = _write(tmp_path, 'p.csv', text)
    with pytest.raises(ValueError, match=message):  # before: the row was dropped silently
        CrossViewPairListDataset(ann_file=path, mode='query', split='test', on_missing='ignore')


def test_own_split_names_and_split_filter_errors(tmp_path):
    text = 'query,satellite,split\na.jpg,s1.png,fold1\nb.jpg,s2.png,fold2\nc.jpg,s3.png,\n'
    path = _write(tmp_path, 'p.csv', text)
    ds = CrossViewPairListDataset(
        ann_file=path,
        mode='query',
        split='fold2',
        split_names=['fold1', 'fold2'],
        on_missing='ignore',
    )
    assert [osp.basename(p) for p in ds.get_field('query_path')] == ['b.jpg']
    with pytest.raises(
        ValueError,
        match=r"split='fold3' is not one of split_names="
        r".*\(did you mean 'fold[12]'\?\)",
    ):
        CrossViewPairListDataset(
            ann_file=path,
            mode='query',
            split='fold3',
            split_names=['fold1', 'fold2'],
            on_missing='ignore',
        )
    with pytest.raises(
        ValueError,
        match=r"no row of .*p\.csv has split='val'; rows per split: "
        r"\{'fold1': 1, 'fold2': 1, 'None': 1\}",
    ):
        CrossViewPairListDataset(
            ann_file=path,
            mode='query',
            split='val',
            split_names=['fold1', 'fold2', 'val'],
            on_missing='ignore',
        )


@pytest.mark.parametrize(
    'row, message',
    [
        (dict(lat=470, lon=8), r"p\.csv:2: lat='470' is outside \[-90, 90\]"),
        (dict(lat=47, lon=800), r"p\.csv:2: lon='800' is outside \[-180, 180\]"),
        (dict(weight=-5), r"p\.csv:2: weight='-5' is outside \[0, inf\]"),
        (dict(weight='nan'), r"p\.csv:2: weight='nan' is not a finite number"),
        (dict(lat='NaN', lon=8), r"p\.csv:2: lat='NaN' is not a finite number"),
        (dict(semi_positives='s.png', semi_weights='-1'), r"semi_weights='-1' is outside"),
        (dict(view='veiw'), r"view='veiw'.*\(did you mean 'view'\?\)|view='veiw'"),
        (dict(view='drone'), r"p\.csv:2: view='drone'"),
    ],
)
def test_bad_values_name_line_and_key(tmp_path, row, message):
    path = write_pair_list(str(tmp_path / 'p.csv'), [dict(query='a.jpg', satellite='s.png', **row)])
    with pytest.raises(ValueError, match=message):
        CrossViewPairListDataset(ann_file=path, mode='query', on_missing='ignore')


def test_jsonl_nan_and_bool_rejected(tmp_path):
    path = _write(
        tmp_path, 'p.jsonl', '{"query": "a.jpg", "satellite": "s.png", "lat": NaN, "lon": 1}\n'
    )
    with pytest.raises(ValueError, match=r'p\.jsonl:1: lat=nan is not a finite number'):
        CrossViewPairListDataset(ann_file=path, mode='query', on_missing='ignore')
    path = _write(tmp_path, 'q.jsonl', '{"query": "a.jpg", "satellite": "s.png", "weight": true}\n')
    with pytest.raises(ValueError, match=r'q\.jsonl:1: weight=True is not a number'):
        CrossViewPairListDataset(ann_file=path, mode='query', on_missing='ignore')


def test_non_utf8_csv_names_line_and_byte(tmp_path):
    text = 'query,satellite\na.jpg,s.png\nZürich.jpg,s2.png\n'
    path = _write(tmp_path, 'p.csv', text, encoding='latin-1')
    # before: a bare UnicodeDecodeError naming no file
    with pytest.raises(ValueError, match=r'p\.csv:3: not UTF-8 text \(byte 0xfc at offset 29\)'):
        CrossViewPairListDataset(ann_file=path, mode='query', on_missing='ignore')


def test_utf8_bom_and_quoted_multiline_fields(tmp_path):
    text = '\ufeffquery,satellite,location\na.jpg,s.png,"two\nlines"\nb.jpg,t.png,x\n'
    path = _write(tmp_path, 'p.csv', text)
    ds = CrossViewPairListDataset(ann_file=path, mode='query', on_missing='ignore')
    assert ds.get_field('location_key') == ['two\nlines', 'x']
    bad = _write(tmp_path, 'q.csv', text.replace('b.jpg,t.png,x', 'b.jpg,t.png,x,extra'))
    with pytest.raises(ValueError, match=r'q\.csv:4: 4 fields but the header has 3'):
        CrossViewPairListDataset(ann_file=bad, mode='query', on_missing='ignore')


# ------------------------------------------------------- paths inside data_root (10.10)
@pytest.mark.parametrize(
    'key, value',
    [
        ('query', '../secret.png'),
        ('satellite', '../secret.png'),
        ('query', '/etc/hostname'),
        ('satellite', 'sat/../../secret.png'),
    ],
)
def test_paths_outside_data_root_are_refused(tmp_path, key, value):
    root = tmp_path / 'mine'
    from replicas import write_image

    write_image(str(tmp_path / 'secret.png'))
    write_image(str(root / 'q.png'))
    write_image(str(root / 'sat' / 's.png'))
    row = dict(query='q.png', satellite='sat/s.png')
    row[key] = value
    path = write_pair_list(str(root / 'p.csv'), [row])
    with pytest.raises(
        ValueError,
        match=rf"p\.csv:2: {key}='{value}' lies outside data_root="
        r'.*allow_outside_root=True',
    ):
        CrossViewPairListDataset(ann_file=path, mode='pairs')
    if value.startswith('/etc'):
        return
    ds = CrossViewPairListDataset(ann_file=path, mode='pairs', allow_outside_root=True)
    assert osp.abspath(
        ds.get_data_info(0)[f'{key if key == "query" else "reference"}_path']
    ) == str(tmp_path / 'secret.png')


def test_absolute_path_inside_data_root_is_fine(tmp_path):
    from replicas import write_image

    root = tmp_path / 'mine'
    write_image(str(root / 'q.png'))
    write_image(str(root / 's.png'))
    path = write_pair_list(
        str(root / 'p.csv'), [dict(query=str(root / 'q.png'), satellite='s.png')]
    )
    ds = CrossViewPairListDataset(ann_file=path, mode='pairs')
    assert ds.get_data_info(0)['query_path'] == str(root / 'q.png')


def test_gps_csv_of_ground_sets_and_map_checked(tmp_path):
    from replicas import make_street_map

    from gleamkit.datasets.checks import read_gps_csv

    path = _write(tmp_path, 'cells.csv', 'cell,lat,lon\nc00,47.1,8.1\nc01,470,8\n')
    with pytest.raises(ValueError, match=r"cells\.csv:3: lat='470' is outside \[-90, 90\]"):
        read_gps_csv(path, 'GroundImageSetDataset', 'cell')
    path = _write(tmp_path, 'c2.csv', 'cell,lattitude,lon\nc00,47.1,8.1\n')
    with pytest.raises(
        ValueError,
        match=r"c2\.csv:1: the header is .*'lattitude' \(did you "
        r"mean 'lat'\?\)",
    ):
        read_gps_csv(path, 'GroundImageSetDataset', 'cell')
    m = make_street_map(str(tmp_path / 'MAP'))
    with open(osp.join(m['root'], 'locations.csv'), 'a') as f:
        f.write('m004,nan,8\n')
    with pytest.raises(ValueError, match=r"locations\.csv:\d+: lat='nan' is not a finite"):
        StreetMapSatelliteDataset(data_root=m['root'], split='all', mode='gallery')
