"""Issue 10.13: what ``python -m gleamkit.datasets.synthetic --out DIR`` exports
loads back with ``CrossViewPairListDataset`` (``DIR/pairs.jsonl``): the same
images, GPS, ids, semi-positives and distractors as the built-in dataset."""

import os.path as osp
import re

import numpy as np
import pytest

from gleamkit.datasets import (
    CrossViewPairListDataset,
    LoadCrossViewImages,
    PackCrossViewInputs,
    SyntheticCrossViewDataset,
)
from gleamkit.datasets.synthetic import SyntheticWorld
from gleamkit.datasets.synthetic.__main__ import main as cli_main

KW = dict(seed=5, num_locations=8, num_distractors=3, image_size=32, difficulty=0.5)
PIPELINE = [dict(type=LoadCrossViewImages), dict(type=PackCrossViewInputs)]


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp('export') / 'world'
    assert (
        cli_main(
            [
                '--out',
                str(out),
                '--num-locations',
                '8',
                '--num-distractors',
                '3',
                '--image-size',
                '32',
                '--seed',
                '5',
                '--ground-photos',
                '2',
                '--no-progress',
            ]
        )
        == 0
    )
    return dict(
        out=str(out),
        ann=str(out / 'pairs.jsonl'),
        world=SyntheticWorld(**KW),
        cache=str(tmp_path_factory.mktemp('cache')),
    )


def pair_list(exported, **kwargs):
    return CrossViewPairListDataset(
        ann_file=exported['ann'], location_offset=0, pipeline=PIPELINE, **kwargs
    )


def builtin(exported, **kwargs):
    return SyntheticCrossViewDataset(
        world=KW, cache_dir=exported['cache'], render_workers=0, **kwargs
    )


def chw(array):
    return np.ascontiguousarray(array.transpose(2, 0, 1))


def test_pairs_images_equal_the_world_renders(exported):
    world = exported['world']
    ds = pair_list(exported, mode='pairs', split='train')
    n_train = len(world.split_ids('train'))
    assert len(ds) == n_train * 5  # map, uav, panorama + 2 ground photos per place
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        loc, view = info['location_id'], info['view']
        draw = re.search(r'_(\d+)\.png$', info['query_path'])
        want = world.render(loc, view, rng_seed=None if draw is None else int(draw[1]) - 1)
        out = ds[i]
        assert np.array_equal(out['inputs']['query'].numpy(), chw(want)), info['query_path']
        assert np.array_equal(
            out['inputs']['reference'].numpy(), chw(world.render(loc, 'satellite'))
        )
        p = world.locations[loc]
        assert (info['lat'], info['lon'], info['split']) == (p.lat, p.lon, 'train')
        assert info.get('semi_positive_ids', []) == world.semi_positive_ids(loc)
        assert info['query_path'].startswith(exported['out'] + osp.sep)
    assert any(ds.get_data_info(i).get('semi_positive_ids') for i in range(len(ds)))


def test_query_and_gallery_match_the_builtin_dataset(exported):
    for split in ('train', 'test'):
        queries = pair_list(exported, mode='query', split=split)
        ref = builtin(exported, mode='query', split=split)
        got = sorted(
            {
                (
                    q['location_id'],
                    q['view'],
                    q['lat'],
                    q['lon'],
                    tuple(q.get('semi_positive_ids', ())),
                )
                for q in map(queries.get_data_info, range(len(queries)))
            }
        )
        want = sorted(
            {
                (
                    q['location_id'],
                    q['view'],
                    q['lat'],
                    q['lon'],
                    tuple(q.get('semi_positive_ids', ())),
                )
                for q in map(ref.get_data_info, range(len(ref)))
            }
        )
        assert got == want and len(got) == len(ref)

        gallery = pair_list(exported, mode='gallery', split=split)
        ref = builtin(exported, mode='gallery', split=split)
        fields = ('location_id', 'distractor', 'lat', 'lon')
        assert [
            tuple(gallery.get_data_info(i)[k] for k in fields) for i in range(len(gallery))
        ] == [tuple(ref.get_data_info(i)[k] for k in fields) for i in range(len(ref))]
        assert sum(gallery.get_field('distractor')) == KW['num_distractors']
        tile = gallery[len(gallery) - 1]['inputs']['reference'].numpy()
        assert np.array_equal(
            tile,
            chw(
                exported['world'].render(
                    gallery.get_data_info(len(gallery) - 1)['location_id'], 'satellite'
                )
            ),
        )


def test_readme_names_the_pair_list(exported):
    readme = open(osp.join(exported['out'], 'README.md')).read()
    assert 'pairs.jsonl' in readme and 'CrossViewPairListDataset' in readme
