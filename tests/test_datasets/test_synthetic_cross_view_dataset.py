"""SyntheticCrossViewDataset is a BaseCrossViewDataset, with the samples it had before.

The digests (data list, every packed item's tensors and meta) were taken from the
dataset before it derived from ``BaseCrossViewDataset`` (then an mmengine
``BaseDataset``), on a small world.
"""

import hashlib

import pytest

from gleamkit.datasets import BaseCrossViewDataset, SyntheticCrossViewDataset
from gleamkit.datasets.transforms import PackCrossViewInputs

WORLD = dict(seed=3, num_locations=8, num_distractors=3, image_size=32)
PIPELINE = [dict(type=PackCrossViewInputs)]
BEFORE = [  # (config, length, data-list digest, item digests)
    (
        dict(split='train', mode='pairs'),
        24,
        '2e03c39bd89b',
        [
            'ab997b00c003',
            'f62b6cc97d1c',
            '8ff19739efe5',
            '30949822422c',
            'b538dec6bd27',
            '090ded831e97',
            '3f445af1a278',
            'a8c9619e7504',
            '6f34c67857a7',
            'be3c9fff49e4',
            '4bcfc28239c7',
            '373dff7f55ac',
            '32197e664ce5',
            '620035372eeb',
            '3badaedcb52f',
            '84ff6d4bf01a',
            'e7f07a444d45',
            'c6bb5d3d63b7',
            'c560e9f1613e',
            '97ddd961df4a',
            'd1714b9d6cf5',
            '75bd75f96878',
            'fedb9e188235',
            '63869e07dcfe',
        ],
    ),
    (
        dict(split='test', mode='query'),
        8,
        'f9988c2dce02',
        [
            '88d30fdbcffd',
            '1391e4bd205b',
            '23ec5c4ec751',
            'b527bbecf032',
            '8e2c2b00c970',
            '10289b71e9f9',
            '4d0340ec3152',
            '0f4713f098bb',
        ],
    ),
    (
        dict(split='all', mode='gallery'),
        11,
        '9243da7ae990',
        [
            '078b481d64ff',
            'd35afb8a0ce3',
            '83111b703713',
            '2ae8a19322aa',
            'a415986e36b4',
            'adf22053c7d1',
            '31b335784faf',
            'a34fd75842d4',
            'e1bd611cc4c1',
            'ef2822b37f4d',
            '917f86fc62d0',
        ],
    ),
    (
        dict(split='test', mode='gallery', with_distractors=False),
        2,
        '1d26129d8458',
        ['eb0b46805e97', '93f37b1eddf9'],
    ),
    (
        dict(split='train', mode='pairs', ground_set_size=3, views=('ground', 'uav')),
        12,
        '2fd3fafe5ccf',
        [
            'f9917c8631fd',
            '84b40b41b8b8',
            '69a2160eec56',
            '57e2e0c720da',
            'e56433b6bd3e',
            '594bfcead23d',
            '2ea9bb8bf106',
            '5b52b55464a5',
            '8a099be99cf3',
            'c074e193b91f',
            'a7bd3d7bfa1e',
            'c06255cec2bd',
        ],
    ),
    (
        dict(split='test', mode='query', ground_set_size=2),
        8,
        'f9988c2dce02',
        [
            '88d30fdbcffd',
            '1391e4bd205b',
            '23ec5c4ec751',
            'fadafe5b0b83',
            '8e2c2b00c970',
            '10289b71e9f9',
            '4d0340ec3152',
            'd3fd177d74c1',
        ],
    ),
]


def digest(item) -> str:
    h = hashlib.sha256()
    for key in sorted(item['inputs']):
        t = item['inputs'][key]
        h.update(f'{key}{tuple(t.shape)}{t.dtype}'.encode())
        h.update(t.numpy().tobytes())
    meta = item['data_samples'].metainfo
    for key in sorted(meta):
        h.update(f'{key}={meta[key]!r};'.encode())
    return h.hexdigest()[:12]


@pytest.fixture(scope='module')
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp('cache'))


def build(cache, **kwargs):
    return SyntheticCrossViewDataset(
        world=WORLD, cache_dir=cache, render_workers=0, pipeline=PIPELINE, **kwargs
    )


@pytest.mark.parametrize(
    'config, length, list_digest, items',
    BEFORE,
    ids=[f'{c["mode"]}-{i}' for i, (c, *_) in enumerate(BEFORE)],
)
def test_same_samples_and_tensors_as_before(cache, config, length, list_digest, items):
    ds = build(cache, **config)
    assert isinstance(ds, BaseCrossViewDataset)
    assert len(ds) == length
    assert hashlib.sha256(repr(ds.data_list).encode()).hexdigest()[:12] == list_digest
    assert [digest(ds[i]) for i in range(len(ds))] == items
    assert ds.metainfo == dict(name='synthetic-world', reference_view='satellite')


def test_the_base_class_services(cache):
    ds = build(cache, split='test', mode='query')
    assert ds.get_field('view') == ['uav', 'map', 'panorama', 'ground'] * 2
    assert ds.describe() == "SyntheticCrossViewDataset(mode='query', split='test')"
    shifted = build(cache, split='test', mode='query', location_offset=500)
    assert shifted.get_field('location_id') == [i + 500 for i in ds.get_field('location_id')]
    a, b = ds[3], shifted[3]
    assert (a['inputs']['query'] == b['inputs']['query']).all()
    assert b['data_samples'].semi_positive_ids == [
        i + 500 for i in a['data_samples'].semi_positive_ids
    ]


def test_errors_name_the_key(cache):
    with pytest.raises(ValueError, match=r"mode='pair', expected one of .*did you mean 'pairs'"):
        build(cache, mode='pair')
    with pytest.raises(ValueError, match=r"unknown views \['drone'\].*did you mean 'uav'"):
        build(cache, views=('drone',))
    with pytest.raises(ValueError, match='rendered, not read from files'):
        build(cache, data_root='/data')
