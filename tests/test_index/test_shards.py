"""Embedding shards of several ranks: write, resume, merge, refuse duplicates and gaps."""

import numpy as np
import pytest

from gleamkit.index import (
    GalleryIndex,
    finished_shards,
    merge_embedding_shards,
    write_embedding_shard,
)

from ._toy import clustered, metadata

DIGESTS = dict(config_digest='sha256:cfg', checkpoint_digest='sha256:ckpt')


def write_ranks(root, gallery, meta, parts, world=None):
    """Write shard r with the gallery positions parts[r] (as ranks would)."""
    world = world or len(parts)
    for rank, positions in enumerate(parts):
        positions = np.asarray(positions, dtype=np.int64)
        cols = {k: np.asarray(v)[positions] for k, v in meta.items()}
        write_embedding_shard(root, rank, world, gallery[positions], positions, cols, **DIGESTS)


@pytest.fixture(scope='module')
def gallery():
    return clustered(10)


def test_strided_shards_merge_back_in_gallery_order(tmp_path, gallery):
    meta = metadata(10)
    # DistributedSampler without shuffling hands rank r the positions r, r + W, ...
    write_ranks(tmp_path, gallery, meta, [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]])
    assert sorted(finished_shards(tmp_path)) == [0, 1, 2]
    merged = merge_embedding_shards(tmp_path, expected_count=10)
    np.testing.assert_array_equal(merged.embeddings, gallery)
    np.testing.assert_array_equal(merged.metadata.ids, meta['id'])
    np.testing.assert_array_equal(merged.metadata.columns['footprint'], meta['footprint'])
    assert merged.model == DIGESTS
    assert [p.name for p in merged.shard_dirs] == [
        'shard-00000-of-00003',
        'shard-00001-of-00003',
        'shard-00002-of-00003',
    ]


def test_from_shards_builds_an_index_with_the_shards_model(tmp_path, gallery):
    meta = metadata(10)
    write_ranks(tmp_path, gallery, meta, [[1, 0, 2, 3, 4], [9, 8, 7, 6, 5]])
    index = GalleryIndex.from_shards(tmp_path, 'Flat', expected_count=10)
    assert index.model['checkpoint_digest'] == 'sha256:ckpt'
    result = index.search(gallery[7:8], 1)
    assert result.indices[0, 0] == 7 and result.rows[0][0]['id'] == 'tile_00007'


def test_sampler_padding_duplicates_are_refused_or_dropped(tmp_path, gallery):
    meta = metadata(10)
    # 10 samples on 4 ranks: DistributedSampler pads to 12 by repeating positions 0 and 1
    parts = [[0, 4, 8], [1, 5, 9], [2, 6, 0], [3, 7, 1]]
    write_ranks(tmp_path, gallery, meta, parts)
    with pytest.raises(ValueError) as err:
        merge_embedding_shards(tmp_path)
    text = str(err.value)
    assert '2 gallery positions were written by more than one shard' in text
    assert 'position 0 in the shards of ranks [0, 2]' in text and 'padding' in text
    merged = merge_embedding_shards(tmp_path, expected_count=10, allow_padding_duplicates=True)
    np.testing.assert_array_equal(merged.embeddings, gallery)
    np.testing.assert_array_equal(merged.metadata.ids, meta['id'])


def test_duplicates_that_differ_are_not_padding(tmp_path, gallery):
    meta = metadata(10)
    write_ranks(tmp_path, gallery, meta, [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]], world=3)
    # rank 2 claims position 3 with another tile (tile 4): the ranks disagree on the order
    wrong = {k: np.asarray(v)[[4]] for k, v in meta.items()}
    write_embedding_shard(tmp_path, 2, 3, gallery[[4]], [3], wrong, **DIGESTS)
    with pytest.raises(
        ValueError, match='position 3 was written by ranks 0 and 2 with different contents'
    ):
        merge_embedding_shards(tmp_path, allow_padding_duplicates=True)


def test_gaps_and_missing_ranks_are_refused(tmp_path, gallery):
    meta = metadata(10)
    write_ranks(tmp_path / 'gap', gallery, meta, [[0, 1, 2, 3], [5, 6, 7, 8, 9]])
    with pytest.raises(
        ValueError,
        match=r'9 distinct gallery positions, expected 0\.\.9: '
        r'1 missing \(e\.g\. \[4\]\)',
    ):
        merge_embedding_shards(tmp_path / 'gap')
    write_ranks(tmp_path / 'short', gallery, meta, [[0, 1, 2], [3, 4, 5]])
    with pytest.raises(ValueError, match=r'expected 0\.\.9: 4 missing \(e\.g\. \[6, 7, 8, 9\]\)'):
        merge_embedding_shards(tmp_path / 'short', expected_count=10)
    # rank 1 of 3 never finished: its shard is missing
    write_ranks(tmp_path / 'missing', gallery, meta, [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]])
    import shutil

    shutil.rmtree(tmp_path / 'missing' / 'shard-00001-of-00003')
    with pytest.raises(FileNotFoundError, match=r'shards of ranks \[1\] \(of 3\) are missing'):
        merge_embedding_shards(tmp_path / 'missing')
    assert sorted(finished_shards(tmp_path / 'missing')) == [0, 2]
    with pytest.raises(FileNotFoundError, match='no finished embedding shard'):
        merge_embedding_shards(tmp_path / 'nothing')


def test_a_finished_shard_is_not_overwritten_by_a_resumed_run(tmp_path, gallery):
    meta = metadata(10)
    write_ranks(tmp_path, gallery, meta, [list(range(10))])
    with pytest.raises(FileExistsError, match='shard-00000-of-00001 already exists'):
        write_ranks(tmp_path, gallery, meta, [list(range(10))])


def test_shards_of_different_models_are_refused(tmp_path, gallery):
    meta = metadata(10)
    write_ranks(tmp_path, gallery, meta, [[0, 1, 2, 3, 4]], world=2)
    cols = {k: np.asarray(v)[5:] for k, v in meta.items()}
    write_embedding_shard(
        tmp_path,
        1,
        2,
        gallery[5:],
        np.arange(5, 10),
        cols,
        config_digest='sha256:cfg',
        checkpoint_digest='sha256:OTHER',
    )
    with pytest.raises(ValueError, match='embedded by different models'):
        merge_embedding_shards(tmp_path)
