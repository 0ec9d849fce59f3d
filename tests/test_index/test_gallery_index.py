"""GalleryIndex: build, exact Flat search, approximate recall, save/load, refusals."""

import json

import numpy as np
import pytest

from gleamkit.index import GalleryIndex, GalleryIndexMismatchError, TileMetadata
from gleamkit.index import gallery_index as gallery_index_module

from ._toy import clustered, metadata, perturbed

DIGESTS = dict(config_digest='sha256:cfg-a', checkpoint_digest='sha256:ckpt-a')


def brute_force_topk(gallery, queries, k):
    scores = queries @ gallery.T
    order = np.argsort(-scores, axis=1, kind='stable')[:, :k]
    return np.take_along_axis(scores, order, axis=1), order


@pytest.fixture(scope='module')
def data():
    gallery = clustered(3000)
    queries, sources = perturbed(gallery, 100)
    return gallery, queries, sources


def test_flat_equals_numpy_brute_force(data):
    gallery, queries, _ = data
    index = GalleryIndex.build(gallery, metadata(len(gallery)), 'Flat', **DIGESTS)
    assert index.is_exact and len(index) == 3000 and index.dim == 32
    result = index.search(queries, 7)
    scores, order = brute_force_topk(gallery, queries, 7)
    np.testing.assert_array_equal(result.indices, order)
    np.testing.assert_allclose(result.scores, scores, atol=1e-5)
    # metadata rows follow the indices
    first = result.rows[0][0]
    assert first['id'] == f'tile_{order[0, 0]:05d}'
    assert first['lat'] == pytest.approx(48.0 + order[0, 0] * 1e-4)
    assert np.array(first['footprint']).shape == (4, 2)


def test_flat_ties_come_back_in_gallery_order():
    gallery = np.tile(np.eye(4, dtype=np.float32), (3, 1))  # rows 0, 4, 8 are equal
    index = GalleryIndex.build(gallery, {'id': np.arange(12)}, 'Flat')
    result = index.search(np.eye(4, dtype=np.float32)[:1], 3)
    assert result.indices.tolist() == [[0, 4, 8]]


def test_ivf_pq_recall_on_clustered_data(data):
    gallery, queries, sources = data
    index = GalleryIndex.build(
        gallery, metadata(len(gallery)), 'IVF16,PQ16', train_size=2000, nprobe=8, **DIGESTS
    )
    assert not index.is_exact and index.nprobe == 8
    _, exact = brute_force_topk(gallery, queries, 10)
    found = index.search(queries, 10, with_metadata=False)
    assert found.rows is None
    top1 = np.mean(found.indices[:, 0] == exact[:, 0])
    recall10 = np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found.indices, exact)])
    assert top1 >= 0.97, top1  # measured 1.0
    assert recall10 >= 0.75, recall10  # measured 0.84
    # re-ranking the top 50 candidates from the stored vectors recovers the exact top 1
    stored = GalleryIndex.build(
        gallery,
        metadata(len(gallery)),
        'IVF16,PQ8',
        train_size=2000,
        nprobe=8,
        store_vectors=True,
        **DIGESTS,
    )
    reranked = stored.search(queries, 10, rerank=50, with_metadata=False)
    assert np.mean(reranked.indices[:, 0] == exact[:, 0]) >= 0.99
    np.testing.assert_allclose(
        reranked.scores[:, 0], np.sum(queries * gallery[reranked.indices[:, 0]], axis=1), atol=1e-5
    )


def test_training_is_deterministic(data):
    gallery, queries, _ = data
    runs = [
        GalleryIndex.build(
            gallery[:1000], {'id': np.arange(1000)}, 'IVF8,PQ4', train_size=600, seed=3
        ).search(queries, 5, with_metadata=False)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0].indices, runs[1].indices)
    np.testing.assert_array_equal(runs[0].scores, runs[1].scores)


@pytest.mark.parametrize('factory', ['Flat', 'HNSW16', 'IVF16,PQ8'])
def test_save_load_round_trip_memory_mapped(tmp_path, data, factory):
    gallery, queries, _ = data
    built = GalleryIndex.build(
        gallery,
        metadata(len(gallery)),
        factory,
        **DIGESTS,
        model_info=dict(config_path='configs/x.py'),
    )
    before = built.search(queries, 10)
    out = built.save(tmp_path / 'gallery')
    manifest = json.loads((out / 'manifest.json').read_text())
    assert manifest['factory'] == factory and manifest['metric'] == 'inner_product'
    assert manifest['dim'] == 32 and manifest['count'] == 3000
    assert manifest['normalization'] == 'l2'
    assert manifest['model'] == dict(config_path='configs/x.py', **DIGESTS)
    assert set(manifest['files']['metadata']) == {'id', 'lat', 'lon', 'footprint'}
    assert manifest['files']['index']['sha256'].startswith('sha256:')
    assert manifest['gleamkit_version'] and manifest['created']

    loaded = GalleryIndex.load(out, dim=32, verify_checksums=True, **DIGESTS)
    assert loaded.memory_mapped and loaded.factory == factory
    assert isinstance(loaded.metadata.columns['lat'], np.memmap)
    after = loaded.search(queries, 10)
    np.testing.assert_array_equal(after.indices, before.indices)
    np.testing.assert_array_equal(after.scores, before.scores)
    assert after.rows == before.rows
    assert (loaded.nprobe, loaded.ef_search) == (built.nprobe, built.ef_search)


def test_model_mismatch_is_refused_naming_both_digests(tmp_path, data):
    gallery, _, _ = data
    out = GalleryIndex.build(gallery[:200], metadata(200), 'Flat', **DIGESTS).save(tmp_path / 'g')
    with pytest.raises(GalleryIndexMismatchError) as err:
        GalleryIndex.load(out, config_digest='sha256:cfg-a', checkpoint_digest='sha256:ckpt-B')
    text = str(err.value)
    assert str(out) in text and 'sha256:ckpt-a' in text and 'sha256:ckpt-B' in text
    assert 'rebuild the gallery index with this model' in text
    with pytest.raises(
        GalleryIndexMismatchError, match='config_digest: index sha256:cfg-a vs model sha256:other'
    ):
        GalleryIndex.load(out, config_digest='sha256:other')
    with pytest.raises(GalleryIndexMismatchError, match='embedding dim: index 32 vs model 64'):
        GalleryIndex.load(out, dim=64)
    # queries of another dim are refused at search time too
    with pytest.raises(ValueError, match='query embedding dim 16 does not match'):
        GalleryIndex.load(out).search(np.ones((1, 16), np.float32) / 4, 1)


def test_crash_mid_save_leaves_no_index_and_load_names_the_dir(tmp_path, data, monkeypatch):
    gallery, _, _ = data
    index = GalleryIndex.build(gallery[:200], metadata(200), 'Flat', **DIGESTS)

    def crash(path, data):
        raise KeyboardInterrupt('killed while writing the manifest')

    monkeypatch.setattr(gallery_index_module, 'write_json', crash)
    with pytest.raises(KeyboardInterrupt):
        index.save(tmp_path / 'gallery')
    assert not (tmp_path / 'gallery').exists()
    assert list(tmp_path.iterdir()) == []  # the temporary directory is cleaned up
    with pytest.raises(FileNotFoundError, match='does not exist'):
        GalleryIndex.load(tmp_path / 'gallery')

    # a process killed outright leaves its temporary directory: files but no manifest
    half = tmp_path / 'half'
    half.mkdir()
    (half / 'index.faiss').write_bytes(b'partial')
    with pytest.raises(FileNotFoundError) as err:
        GalleryIndex.load(half)
    assert str(half) in str(err.value) and 'saving it did not finish' in str(err.value)


def test_overwrite_replaces_and_existing_dir_is_refused(tmp_path, data):
    gallery, _, _ = data
    first = GalleryIndex.build(gallery[:100], metadata(100), 'Flat', **DIGESTS)
    out = first.save(tmp_path / 'g')
    with pytest.raises(FileExistsError, match='overwrite=True'):
        first.save(out)
    GalleryIndex.build(gallery[:50], metadata(50), 'Flat', **DIGESTS).save(out, overwrite=True)
    assert len(GalleryIndex.load(out)) == 50
    assert sorted(p.name for p in tmp_path.iterdir()) == ['g']


def test_damaged_file_is_refused(tmp_path, data):
    gallery, _, _ = data
    out = GalleryIndex.build(gallery[:100], metadata(100), 'Flat').save(tmp_path / 'g')
    with open(out / 'index.faiss', 'ab') as f:
        f.write(b'x')
    with pytest.raises(ValueError, match='index.faiss is missing or has another size'):
        GalleryIndex.load(out)


def test_bad_input_is_refused(data):
    gallery, _, _ = data
    with pytest.raises(ValueError, match='empty gallery'):
        GalleryIndex.build(np.zeros((0, 32), np.float32), {'id': []}, 'Flat')
    with pytest.raises(ValueError, match='must be L2-normalised .* row 3 has norm 2'):
        bad = gallery[:10].copy()
        bad[3] *= 2
        GalleryIndex.build(bad, {'id': np.arange(10)}, 'Flat')
    normalised = GalleryIndex.build(gallery[:10] * 3, {'id': np.arange(10)}, 'Flat', normalize=True)
    assert normalised.search(gallery[:1], 1).indices[0, 0] == 0
    with pytest.raises(ValueError, match='9 rows but there are 10 embeddings'):
        GalleryIndex.build(gallery[:10], {'id': np.arange(9)}, 'Flat')
    with pytest.raises(ValueError, match='repeated tile ids'):
        GalleryIndex.build(gallery[:3], {'id': [1, 2, 1]}, 'Flat')
    with pytest.raises(ValueError, match='needs an "id" column'):
        GalleryIndex.build(gallery[:3], {'lat': [1, 2, 3]}, 'Flat')
    with pytest.raises(ValueError, match="training 'IVF64,PQ8' on 30 vectors failed"):
        GalleryIndex.build(gallery[:30], {'id': np.arange(30)}, 'IVF64,PQ8')
    with pytest.raises(ValueError, match='nprobe=4 given, but the index is not an IVF'):
        GalleryIndex.build(gallery[:10], {'id': np.arange(10)}, 'Flat', nprobe=4)


def test_metadata_from_rows_and_torch_embeddings(data):
    torch = pytest.importorskip('torch')
    gallery, _, _ = data
    rows = [dict(id=f't{i}', lat=float(i), lon=-float(i)) for i in range(5)]
    index = GalleryIndex.build(torch.from_numpy(gallery[:5]), TileMetadata.from_rows(rows), 'Flat')
    result = index.search(torch.from_numpy(gallery[2:3]), 2)
    assert result.rows[0][0] == dict(id='t2', lat=2.0, lon=-2.0)
    assert result.indices.shape == (1, 2)


def test_exact_searcher_wraps_only_flat_inner_product_indexes():
    import faiss

    from gleamkit.evaluation.search import ExactSearcher

    flat = faiss.IndexFlatIP(4)
    flat.add(np.eye(4, dtype=np.float32))
    searcher = ExactSearcher.from_index(flat)
    assert searcher.ntotal == 4
    assert searcher.search(np.eye(4, dtype=np.float32)[2:3], 1)[1][0, 0] == 2
    with pytest.raises(ValueError, match='needs a flat inner-product index'):
        ExactSearcher.from_index(faiss.IndexFlatL2(4))
