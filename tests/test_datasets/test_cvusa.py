import os
import os.path as osp

import pytest
from replicas import make_cvusa

from gleamkit.datasets import CVUSADataset

OFFSET = 50_000_000


@pytest.fixture()
def cvusa(tmp_path):
    return make_cvusa(str(tmp_path / 'CVUSA'))


def test_train_pairs(cvusa):
    ds = CVUSADataset(data_root=cvusa['root'], split='train', mode='pairs')
    assert len(ds) == 4
    assert ds.get_field('location_id') == [OFFSET + i for i in (1, 2, 3, 5)]
    info = ds.get_data_info(3)
    assert info['view'] == 'panorama'
    assert info['query_path'] == osp.join(cvusa['root'], 'streetview', 'panos', '0000005.jpg')
    assert info['reference_path'] == osp.join(cvusa['root'], 'bingmap', '19', '0000005.jpg')
    assert 'lat' not in info


def test_test_split_is_val_19zl_one_to_one(cvusa):
    query = CVUSADataset(data_root=cvusa['root'], split='test', mode='query')
    gallery = CVUSADataset(data_root=cvusa['root'], split='val', mode='gallery')
    assert (
        query.get_field('location_id')
        == gallery.get_field('location_id')
        == [OFFSET + 44, OFFSET + 45, OFFSET + 46]
    )
    assert set(gallery.get_field('view')) == {'satellite'}
    assert 'query_path' not in gallery.get_data_info(0)


def test_missing_split_file_and_image(cvusa, tmp_path):
    with pytest.raises(FileNotFoundError, match='train-19zl.csv'):
        CVUSADataset(data_root=str(tmp_path), split='train')
    os.remove(osp.join(cvusa['root'], 'streetview', 'panos', '0000045.jpg'))
    with pytest.raises(FileNotFoundError, match=r'1 of 3 samples.*\n.*0000045.jpg'):
        CVUSADataset(data_root=cvusa['root'], split='test', mode='query')
    gallery = CVUSADataset(data_root=cvusa['root'], split='test', mode='gallery')
    assert len(gallery) == 3  # the satellite tiles are all there


def test_malformed_line(cvusa):
    with open(osp.join(cvusa['root'], 'splits', 'val-19zl.csv'), 'a') as f:
        f.write('bingmap/19/0000044.jpg,streetview/panos/0000044.jpg,x\n')
    with pytest.raises(ValueError, match=r'val-19zl.csv:4 repeats'):
        CVUSADataset(data_root=cvusa['root'], split='test', mode='query')


def test_split_line_leaving_data_root_is_refused(tmp_path):
    """Issue 10.10: every dataset class refuses image paths outside data_root."""
    from replicas import make_cvusa, write_image

    c = make_cvusa(str(tmp_path / 'CVUSA'))
    write_image(str(tmp_path / '0000009.jpg'))
    with open(osp.join(c['root'], 'splits', 'train-19zl.csv'), 'a') as f:
        f.write('../0000009.jpg,streetview/panos/0000001.jpg,x.png\n')
    with pytest.raises(
        ValueError,
        match=r"(?s)CVUSADataset\(mode='pairs', split='train'\): 1 "
        r'image paths lie outside data_root=.*0000009\.jpg'
        r'.*allow_outside_root=True',
    ):
        CVUSADataset(data_root=c['root'], split='train', mode='pairs')
    ds = CVUSADataset(data_root=c['root'], split='train', mode='pairs', allow_outside_root=True)
    assert len(ds) == 5
