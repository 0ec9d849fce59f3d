"""One set of load / resize / pack transforms serves single images and image sets.

The digests were taken from the transforms before they were merged (the set-only
``LoadImageSet`` / ``ResizeImageSet`` / ``PackImageSetInputs``, the single-image
``LoadCrossViewImages`` / ``ResizeViews`` / ``PackCrossViewInputs``): tensors and
meta must stay exactly the same, under the old names and the new ones.
"""

import hashlib
import os.path as osp

import numpy as np
import pytest
import torch
from replicas import make_ground_sets

from gleamkit.datasets import GroundImageSetDataset
from gleamkit.datasets.transforms import LoadCrossViewImages, PackCrossViewInputs, ResizeViews
from gleamkit.registry import TRANSFORMS

SET_PAIRS = ['0457ea225add4cbe', '2a2b2960d7ba2531']
SET_QUERY = ['dc49e6d217c17cbe', '3387ceb15d075d58']
SINGLE_PAIRS = [
    'a3c66a435c783b95',
    '1ac8c9aee9868fcd',
    '34d69e2cbcbe4a48',
    '40ca636f4119b430',
    '3b1e3df9dff65d46',
    '6e5f2d5afe0d4167',
    'f552feb3afe8c665',
    '59ffb30cef6c7fa4',
]
SINGLE_QUERY = [
    'aba5cd9e2c61e9a0',
    '05d7fd44a30cb778',
    'b09b2bb24879f85f',
    '9a9d22cd07100d2b',
    '4eae3b9c1636769d',
    '2022d9ffc61ac7a2',
]
GALLERY = ['4b1cfe59b85bf2b7', '647c79d16638b380', 'e50af2e11cbc4b53']

OLD_SET_PAIRS = [
    dict(type='LoadImageSet'),
    dict(type='LoadCrossViewImages', keys=['reference']),
    dict(type='ResizeImageSet', size=(4, 6)),
    dict(type='ResizeViews', sizes=dict(satellite=(5, 5))),
    dict(type='PackImageSetInputs'),
]
NEW_SET_PAIRS = [
    dict(type='LoadCrossViewImages'),
    dict(type='ResizeViews', sizes=dict(ground=(4, 6), satellite=(5, 5))),
    dict(type='PackCrossViewInputs'),
]
OLD_SET_QUERY = [
    dict(type='LoadImageSet'),
    dict(type='ResizeImageSet', size=(7, 5)),
    dict(type='PackImageSetInputs'),
]
NEW_SET_QUERY = [
    dict(type='LoadCrossViewImages'),
    dict(type='ResizeViews', sizes=dict(ground=(7, 5))),
    dict(type='PackCrossViewInputs'),
]
SINGLE = [
    dict(type='LoadCrossViewImages'),
    dict(type='ResizeViews', sizes=dict(ground=(4, 6), satellite=(5, 5))),
    dict(type='PackCrossViewInputs'),
]
KEEP_GROUND_SIZE = [
    dict(type='LoadCrossViewImages'),
    dict(type='ResizeViews', sizes=dict(satellite=(5, 5))),
    dict(type='PackCrossViewInputs'),
]


def digest(item) -> str:
    """Tensors (shape, dtype, bytes) and meta (paths by file name) of one packed item."""
    h = hashlib.sha256()
    for key in sorted(item['inputs']):
        t = item['inputs'][key]
        h.update(f'{key}{tuple(t.shape)}{t.dtype}'.encode())
        h.update(t.numpy().tobytes())
    meta = item['data_samples'].metainfo
    for key in sorted(meta):
        value = meta[key]
        if key.endswith('_path'):
            value = osp.basename(value)
        elif key == 'query_paths':
            value = [osp.basename(p) for p in value]
        h.update(f'{key}={value!r};'.encode())
    return h.hexdigest()[:16]


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    return make_ground_sets(str(tmp_path_factory.mktemp('s') / 'SetVL-480K'))['root']


def digests(root, pipeline, **kwargs):
    ds = GroundImageSetDataset(data_root=root, pipeline=pipeline, **kwargs)
    return [digest(ds[i]) for i in range(len(ds))]


@pytest.mark.parametrize('pipeline', [OLD_SET_PAIRS, NEW_SET_PAIRS], ids=['old', 'new'])
def test_set_pairs_unchanged(root, pipeline):
    assert digests(root, pipeline, split='train', mode='pairs', set_sampling='first') == SET_PAIRS


@pytest.mark.parametrize('pipeline', [OLD_SET_QUERY, NEW_SET_QUERY], ids=['old', 'new'])
def test_set_queries_unchanged(root, pipeline):
    assert (
        digests(root, pipeline, split='test', mode='query', set_sampling='first', max_set_size=3)
        == SET_QUERY
    )


def test_single_images_unchanged(root):
    assert digests(root, SINGLE, split='train', mode='pairs', as_sets=False) == SINGLE_PAIRS
    assert (
        digests(root, KEEP_GROUND_SIZE, split='test', mode='query', as_sets=False) == SINGLE_QUERY
    )
    assert digests(root, KEEP_GROUND_SIZE, split='test', mode='gallery') == GALLERY


def test_a_set_member_is_an_image_of_its_own(root):
    """Each member of a packed set equals that photo packed as a single image."""
    sets = GroundImageSetDataset(
        data_root=root, split='train', mode='query', set_sampling='first', pipeline=SINGLE
    )
    singles = GroundImageSetDataset(
        data_root=root, split='train', mode='query', as_sets=False, pipeline=SINGLE
    )
    by_path = {s['data_samples'].query_path: s['inputs']['query'] for s in singles}
    packed = sets[0]
    assert packed['data_samples'].set_size == 5
    for member, path in zip(packed['inputs']['query'], packed['data_samples'].query_paths):
        assert torch.equal(member, by_path[path])


def test_the_old_names_are_deprecated_aliases():
    for old, new in [
        ('LoadImageSet', LoadCrossViewImages),
        ('ResizeImageSet', ResizeViews),
        ('PackImageSetInputs', PackCrossViewInputs),
    ]:
        cfg = dict(type=old, size=(4, 6)) if old == 'ResizeImageSet' else dict(type=old)
        with pytest.warns(DeprecationWarning, match=f'{old} is deprecated.*use {new.__name__}'):
            transform = TRANSFORMS.build(cfg)
        assert isinstance(transform, new)
    with pytest.raises(KeyError, match='no "query_paths"'):
        TRANSFORMS.build(dict(type='LoadImageSet'))(dict(query_path='x.jpg'))
    with pytest.raises(KeyError, match='no image set'):
        TRANSFORMS.build(dict(type='PackImageSetInputs'))(dict(query_img=np.zeros((2, 2, 3))))


def test_resize_views_sizes_every_member_and_checks_its_keys():
    imgs = [np.zeros((3, 4, 3), np.uint8), np.zeros((5, 2, 3), np.uint8)]
    out = ResizeViews(sizes=dict(ground=(6, 7)))(dict(view='ground', query_img=imgs))
    assert [m.shape for m in out['query_img']] == [(6, 7, 3), (6, 7, 3)]
    with pytest.raises(ValueError, match='keys'):
        ResizeViews(sizes={}, keys=('gallery',))
    with pytest.raises(ValueError, match=r'must share a size.*ResizeViews'):
        PackCrossViewInputs()(dict(query_img=imgs))
