import os.path as osp

import numpy as np
import pytest
from replicas import make_university1652, write_image

from gleamkit.datasets import University1652Dataset
from gleamkit.registry import DATASETS

OFFSET = 10_000_000


@pytest.fixture()
def u1652(tmp_path):
    return make_university1652(str(tmp_path / 'University-Release'))


def test_train_pairs_drone_with_its_satellite(u1652):
    ds = University1652Dataset(data_root=u1652['root'], split='train', mode='pairs')
    assert len(ds) == 3 * 3  # 3 buildings x 3 drone images, one satellite each
    info = ds.get_data_info(0)
    assert info['view'] == 'uav' and info['reference_view'] == 'satellite'
    assert info['location_id'] == OFFSET + 1
    assert info['query_path'].endswith(osp.join('train', 'drone', '0001', 'image-01.jpeg'))
    assert info['reference_path'].endswith(osp.join('train', 'satellite', '0001', '0001.jpg'))
    assert sorted(set(ds.get_field('location_id'))) == [OFFSET + 1, OFFSET + 2, OFFSET + 3]


def test_train_pairs_with_street_and_google(u1652):
    ds = University1652Dataset(
        data_root=u1652['root'],
        split='train',
        mode='pairs',
        views=('uav', 'ground'),
        include_google=True,
    )
    views = ds.get_field('view')
    assert views.count('uav') == 9
    assert views.count('ground') == 3 * (2 + 1)
    assert all(ds.get_data_info(i)['reference_path'].endswith('.jpg') for i in range(len(ds)))


def test_drone_to_satellite_protocol_keeps_distractors(u1652):
    query = University1652Dataset(data_root=u1652['root'], split='test', mode='query')
    gallery = University1652Dataset(data_root=u1652['root'], split='test', mode='gallery')
    assert len(query) == 2 * 3
    assert set(query.get_field('view')) == {'uav'}
    assert len(gallery) == 2 + 3  # 2 true tiles + 3 distractors, none dropped
    assert set(gallery.get_field('view')) == {'satellite'}
    distractors = [
        gallery.get_data_info(i)
        for i in range(len(gallery))
        if gallery.get_data_info(i)['distractor']
    ]
    assert sorted(d['location_id'] for d in distractors) == [
        OFFSET + 500,
        OFFSET + 501,
        OFFSET + 502,
    ]
    assert -1 not in gallery.get_field('location_id')
    assert set(query.get_field('location_id')) <= set(gallery.get_field('location_id'))
    assert gallery.metainfo['gallery_view'] == 'satellite'


def test_empty_query_folder_does_not_make_a_tile_queried(u1652):
    """Issue 14.7: a gallery building whose query folder exists but holds no image
    (or only non-image files) is still a distractor."""
    import os

    os.makedirs(osp.join(u1652['root'], 'test', 'query_drone', '0500'))
    os.makedirs(osp.join(u1652['root'], 'test', 'query_drone', '0501'))
    with open(osp.join(u1652['root'], 'test', 'query_drone', '0501', 'notes.txt'), 'w') as f:
        f.write('not an image')
    gallery = University1652Dataset(data_root=u1652['root'], split='test', mode='gallery')
    flags = {
        gallery.get_data_info(i)['place']: gallery.get_data_info(i)['distractor']
        for i in range(len(gallery))
    }
    assert flags == {'0100': False, '0101': False, '0500': True, '0501': True, '0502': True}
    query = University1652Dataset(data_root=u1652['root'], split='test', mode='query')
    assert len(query) == 2 * 3  # the empty folders add no query


def test_satellite_to_drone_protocol(u1652):
    query = University1652Dataset(
        data_root=u1652['root'], split='test', mode='query', protocol='satellite->drone'
    )
    gallery = University1652Dataset(
        data_root=u1652['root'], split='test', mode='gallery', protocol='satellite->drone'
    )
    assert len(query) == 2 and set(query.get_field('view')) == {'satellite'}
    assert query.get_data_info(0)['query_path'].endswith(
        osp.join('query_satellite', '0100', '0100.jpg')
    )
    assert len(gallery) == 2 * 3
    info = gallery.get_data_info(0)
    assert info['view'] == 'uav' and info['reference_view'] == 'uav'
    assert 'query_path' not in info and info['reference_path'].endswith('.jpeg')
    assert gallery.metainfo['gallery_view'] == 'uav'
    assert query.metainfo['gallery_view'] == 'uav'  # the metric names the gallery from it


def test_pipeline_loads_images(u1652):
    ds = University1652Dataset(
        data_root=u1652['root'],
        split='train',
        mode='pairs',
        pipeline=[dict(type='LoadCrossViewImages'), dict(type='PackCrossViewInputs')],
    )
    out = ds[0]
    assert tuple(out['inputs']['query'].shape) == (3, 8, 8)
    assert out['data_samples'].location_id == OFFSET + 1
    assert out['data_samples'].view == 'uav'


def test_built_from_registry_with_env_default(u1652, monkeypatch):
    monkeypatch.setenv('GLEAMKIT_DATA', osp.dirname(u1652['root']))
    ds = DATASETS.build(dict(type='University1652Dataset', split='test', mode='gallery'))
    assert len(ds) == 5


def test_missing_folder_names_file_and_layout(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        University1652Dataset(data_root=str(tmp_path), split='test', mode='query')
    assert osp.join('test', 'query_drone') in str(err.value)
    assert 'docs/datasets.md' in str(err.value)
    assert 'gallery_satellite' in str(err.value)  # the expected layout is printed


def test_missing_satellite_tile_error_or_skip(u1652):
    import os

    os.remove(osp.join(u1652['root'], 'train', 'satellite', '0002', '0002.jpg'))
    with pytest.raises(FileNotFoundError) as err:
        University1652Dataset(data_root=u1652['root'], split='train', mode='pairs')
    assert '3 of 9 samples' in str(err.value)
    assert osp.join('satellite', '0002', '0002.jpg') in str(err.value)
    ds = University1652Dataset(
        data_root=u1652['root'], split='train', mode='pairs', on_missing='skip'
    )
    assert len(ds) == 6 and ds.num_skipped == 3
    assert OFFSET + 2 not in ds.get_field('location_id')


def test_non_numeric_building_folder_is_an_error(u1652):
    write_image(osp.join(u1652['root'], 'test', 'query_drone', 'abc', 'x.jpeg'))
    with pytest.raises(ValueError, match='abc'):
        University1652Dataset(data_root=u1652['root'], split='test', mode='query')


def test_bad_arguments(u1652, monkeypatch):
    with pytest.raises(ValueError, match='pairs'):
        University1652Dataset(data_root=u1652['root'], split='test', mode='pairs')
    with pytest.raises(ValueError, match='protocol'):
        University1652Dataset(
            data_root=u1652['root'], split='test', mode='query', protocol='drone->street'
        )
    monkeypatch.delenv('GLEAMKIT_DATA', raising=False)
    with pytest.raises(ValueError, match='no data_root'):
        University1652Dataset(split='train')


def test_location_ids_do_not_collide_with_other_datasets(u1652):
    ds = University1652Dataset(data_root=u1652['root'], split='train', mode='gallery')
    ids = np.array(ds.get_field('location_id'))
    assert ids.min() >= OFFSET and ids.max() < 2 * OFFSET
    shifted = University1652Dataset(
        data_root=u1652['root'], split='train', mode='gallery', location_offset=0
    )
    assert shifted.get_field('location_id') == [1, 2, 3]


def test_large_datasets_are_serialized_small_ones_not(u1652, monkeypatch):
    small = University1652Dataset(data_root=u1652['root'], split='train', mode='pairs')
    assert small.serialize_data is False
    monkeypatch.setattr(University1652Dataset, 'SERIALIZE_MIN_SAMPLES', 1)
    large = University1652Dataset(data_root=u1652['root'], split='train', mode='pairs')
    assert large.serialize_data is True
    assert large.get_field('location_id') == small.get_field('location_id')
    assert large.get_data_info(4) == small.get_data_info(4)
