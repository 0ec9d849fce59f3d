import os.path as osp

import pytest
import torch
from mmengine.dataset import pseudo_collate
from replicas import make_ground_sets

from gleamkit.datasets import GroundImageSetDataset

OFFSET = 80_000_000
SET_PIPELINE = [
    dict(type='LoadImageSet'),
    dict(type='LoadCrossViewImages', keys=['reference']),
    dict(type='ResizeImageSet', size=(4, 6)),
    dict(type='ResizeViews', sizes=dict(satellite=(5, 5))),
    dict(type='PackImageSetInputs'),
]


@pytest.fixture(scope='module')
def sets(tmp_path_factory):
    return make_ground_sets(str(tmp_path_factory.mktemp('s') / 'SetVL-480K'))


def test_set_queries_one_sample_per_cell(sets):
    ds = GroundImageSetDataset(data_root=sets['root'], split='test', mode='query')
    assert len(ds) == 2  # c04 has no photos: no query (warned)
    info = ds.get_data_info(0)
    assert info['view'] == 'ground' and info['location_id'] == OFFSET + 2
    assert info['set_size'] == 4 and len(info['query_paths']) == 4
    assert info['query_paths'][0] == osp.join(sets['root'], 'ground', 'c02', 'c02_000.jpg')
    assert (info['lat'], info['lon']) == (32.0, 102.0)
    assert 'reference_path' not in info


def test_set_pairs_pack_to_a_stacked_tensor_and_collate(sets):
    ds = GroundImageSetDataset(
        data_root=sets['root'],
        split='train',
        mode='pairs',
        max_set_size=4,
        seed=0,
        pipeline=SET_PIPELINE,
    )
    assert ds.get_field('set_size') == [4, 3]
    first, second = ds[0], ds[1]
    assert tuple(first['inputs']['query'].shape) == (4, 3, 4, 6)
    assert first['inputs']['query'].dtype == torch.uint8
    assert tuple(first['inputs']['reference'].shape) == (3, 5, 5)
    assert first['data_samples'].set_size == 4 and second['data_samples'].set_size == 3
    assert len(first['data_samples'].query_paths) == 4
    assert first['data_samples'].location_id == OFFSET
    batch = pseudo_collate([first, second])
    assert [q.shape[0] for q in batch['inputs']['query']] == [4, 3]
    # random subsets: 4 of c00's 5 photos, drawn anew every time
    draws = {tuple(ds[0]['data_samples'].query_paths) for _ in range(12)}
    assert len(draws) > 1 and all(len(d) == 4 for d in draws)


def test_first_members_are_deterministic(sets):
    ds = GroundImageSetDataset(
        data_root=sets['root'],
        split='train',
        mode='query',
        max_set_size=2,
        pipeline=[
            dict(type='LoadImageSet'),
            dict(type='ResizeImageSet', size=(4, 6)),
            dict(type='PackImageSetInputs'),
        ],
    )
    paths = ds[0]['data_samples'].query_paths
    assert [osp.basename(p) for p in paths] == ['c00_000.jpg', 'c00_001.jpg']


def test_single_photo_mode_and_gallery(sets):
    single = GroundImageSetDataset(
        data_root=sets['root'], split='train', mode='pairs', as_sets=False
    )
    assert len(single) == 5 + 3
    assert single.get_data_info(0)['reference_path'].endswith(osp.join('satellite', 'c00.jpg'))
    gallery = GroundImageSetDataset(data_root=sets['root'], split='test', mode='gallery')
    assert gallery.get_field('location_id') == [OFFSET + 2, OFFSET + 3, OFFSET + 4]


def test_unequal_members_need_resizing(sets):
    ds = GroundImageSetDataset(
        data_root=sets['root'],
        split='train',
        mode='query',
        pipeline=[dict(type='LoadImageSet'), dict(type='PackImageSetInputs')],
    )
    with pytest.raises(ValueError, match='ResizeImageSet'):
        ds[0]


def test_missing_member_and_unknown_cell(sets, tmp_path):
    s = make_ground_sets(str(tmp_path / 'S'))
    import os

    os.remove(osp.join(s['root'], 'ground', 'c01', 'c01_001.jpg'))
    ds = GroundImageSetDataset(data_root=s['root'], split='train', mode='query')
    assert ds.get_field('set_size') == [5, 2]  # the listing is what exists
    with open(osp.join(s['root'], 'splits', 'test.txt'), 'a') as f:
        f.write('c99\n')
    with pytest.raises(ValueError, match='c99'):
        GroundImageSetDataset(data_root=s['root'], split='test', mode='query')
