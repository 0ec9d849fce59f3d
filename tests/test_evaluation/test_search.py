"""ExactSearcher: equals brute force, tie order, k clipping, errors, GPU plumbing."""

import faiss
import numpy as np
import pytest
import torch

from gleamkit.evaluation import search as search_module
from gleamkit.evaluation.search import DEFAULT_BLAS_THRESHOLD, ExactSearcher


def _normed(rng, n, d):
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(autouse=True)
def _restore_blas_threshold():
    old = faiss.cvar.distance_compute_blas_threshold
    yield
    faiss.cvar.distance_compute_blas_threshold = old


@pytest.mark.parametrize('nq', [1, 37, 300])  # below and above the BLAS threshold
def test_search_equals_bruteforce_argsort(nq):
    # Small-integer embeddings: every dot product is exact in float32 on any
    # code path, so the ranking must equal numpy's stable argsort exactly,
    # including the many exact ties this data has.
    rng = np.random.default_rng(nq)
    gallery = rng.integers(-2, 3, (2000, 64)).astype(np.float32)
    queries = rng.integers(-2, 3, (nq, 64)).astype(np.float32)
    searcher = ExactSearcher().add(gallery)
    assert faiss.cvar.distance_compute_blas_threshold == DEFAULT_BLAS_THRESHOLD
    sims = queries @ gallery.T
    ref = np.argsort(-sims, axis=1, kind='stable')

    scores, indices = searcher.search(queries)  # k=None: the full ranking
    assert indices.shape == (nq, 2000) and indices.dtype == np.int64
    assert scores.dtype == np.float32
    np.testing.assert_array_equal(indices, ref)
    np.testing.assert_array_equal(scores, np.take_along_axis(sims, ref, 1))

    scores10, indices10 = searcher.search(queries, k=10)
    np.testing.assert_array_equal(indices10, ref[:, :10])
    np.testing.assert_array_equal(scores10, scores[:, :10])


def test_search_on_normalised_float_embeddings():
    # real embeddings: faiss and numpy round differently, so near-ties may swap;
    # the faiss ranking must still be sorted by the exact (float64) similarity
    rng = np.random.default_rng(0)
    gallery, queries = _normed(rng, 2000, 64), _normed(rng, 50, 64)
    scores, indices = ExactSearcher().add(gallery).search(queries)
    exact = queries.astype(np.float64) @ gallery.T.astype(np.float64)
    in_faiss_order = np.take_along_axis(exact, indices, 1)
    assert (np.diff(in_faiss_order, axis=1) <= 1e-6).all()
    np.testing.assert_array_equal(np.sort(indices, 1), np.tile(np.arange(2000), (50, 1)))
    np.testing.assert_allclose(scores, in_faiss_order, atol=1e-5)
    top10 = np.argsort(-exact, axis=1, kind='stable')[:, :10]
    assert (indices[:, :10] == top10).mean() > 0.99


def test_accepts_torch_and_1d_queries():
    rng = np.random.default_rng(0)
    gallery = _normed(rng, 50, 8)
    searcher = ExactSearcher()
    searcher.add(torch.from_numpy(gallery[:20]).half())
    searcher.add(torch.from_numpy(gallery[20:]))
    assert len(searcher) == 50 and searcher.dim == 8 and searcher.device == 'cpu'
    _, idx = searcher.search(torch.from_numpy(gallery[7]), k=1)
    assert idx.tolist() == [[7]]


def test_ties_come_back_in_ascending_gallery_index():
    # raw faiss keeps the lowest indices among ties at the k boundary but returns
    # them in descending index order; ExactSearcher makes it ascending (= stable sort)
    rng = np.random.default_rng(0)
    gallery = _normed(rng, 3000, 32)
    dups = [2999, 7, 1024, 1023, 2500]  # across faiss's 1024-row blocks
    gallery[dups] = gallery[100]
    tied = sorted(dups + [100])
    query = gallery[[100]]

    raw = faiss.IndexFlatIP(32)
    raw.add(gallery)
    _, raw_idx = raw.search(query, 6)
    assert sorted(raw_idx[0].tolist()) == tied  # the same set, whatever the order

    searcher = ExactSearcher().add(gallery)
    for k in (3, 6, 10, None):
        scores, idx = searcher.search(query, k=k)
        n = 6 if k is None else min(k, 6)
        assert idx[0, :n].tolist() == tied[:n]
        assert len(set(scores[0, :n].tolist())) == 1
    ref = np.argsort(-(query @ gallery.T), axis=1, kind='stable')
    np.testing.assert_array_equal(searcher.search(query)[1], ref)


def test_ties_in_a_constant_embedding_model():
    # a collapsed model: every gallery item ties; the ranking is the gallery order
    gallery = np.ones((40, 4), np.float32) / 2
    searcher = ExactSearcher().add(gallery)
    _, idx = searcher.search(np.ones((3, 4), np.float32) / 2)
    np.testing.assert_array_equal(idx, np.tile(np.arange(40), (3, 1)))
    # every item ties at the k boundary: still the first k by gallery index
    _, idx = searcher.search(np.ones((2, 4), np.float32), k=3)
    np.testing.assert_array_equal(idx, [[0, 1, 2], [0, 1, 2]])


def test_k_is_clipped_to_gallery_size():
    rng = np.random.default_rng(1)
    searcher = ExactSearcher().add(_normed(rng, 5, 16))
    scores, idx = searcher.search(_normed(rng, 2, 16), k=100)
    assert idx.shape == (2, 5) and scores.shape == (2, 5)
    assert (idx >= 0).all()
    with pytest.raises(ValueError, match='k must be >= 1'):
        searcher.search(_normed(rng, 2, 16), k=0)
    assert searcher.search(np.zeros((0, 16), np.float32), k=3)[1].shape == (0, 3)


def test_clear_errors():
    rng = np.random.default_rng(2)
    with pytest.raises(ValueError, match='gallery is empty'):
        ExactSearcher(dim=16).search(_normed(rng, 1, 16))
    searcher = ExactSearcher().add(_normed(rng, 10, 512))
    with pytest.raises(ValueError, match='query embedding dimension 256.*dimension 512'):
        searcher.search(_normed(rng, 3, 256))
    with pytest.raises(ValueError, match='gallery embedding dimension 128.*dimension 512'):
        searcher.add(_normed(rng, 3, 128))
    with pytest.raises(ValueError, match='matrix'):
        searcher.search(np.zeros((2, 3, 512), np.float32))
    searcher.reset()
    with pytest.raises(ValueError, match='gallery is empty'):
        searcher.search(_normed(rng, 1, 512))


def test_cuda_without_faiss_gpu_falls_back_to_cpu():
    searcher = ExactSearcher(device='cuda')
    if faiss.get_num_gpus() == 0:
        assert searcher.device == 'cpu' and not searcher.use_gpu


def test_gpu_path_uses_index_cpu_to_gpu(monkeypatch):
    # faiss-gpu is not installed here: fake it, and check the plumbing
    calls = []

    class FakeResources:
        pass

    def fake_cpu_to_gpu(res, device, index):
        calls.append((type(res).__name__, device, index.ntotal))
        return index

    monkeypatch.setattr(search_module.faiss, 'get_num_gpus', lambda: 1)
    monkeypatch.setattr(search_module.faiss, 'StandardGpuResources', FakeResources, raising=False)
    monkeypatch.setattr(search_module.faiss, 'index_cpu_to_gpu', fake_cpu_to_gpu, raising=False)
    rng = np.random.default_rng(3)
    gallery = _normed(rng, 3000, 8)
    searcher = ExactSearcher(device='cuda:1').add(gallery)
    assert searcher.device == 'cuda:1'
    searcher.search(gallery[:2], k=5)
    searcher.search(gallery[:2], k=5)  # the GPU copy is reused
    assert calls == [('FakeResources', 1, 3000)]
    # k beyond faiss-gpu's k-selection limit runs on the CPU copy
    _, idx = searcher.search(gallery[:2])
    assert idx.shape == (2, 3000) and len(calls) == 1
    searcher.add(gallery[:1])  # adding invalidates the GPU copy
    searcher.search(gallery[:2], k=5)
    assert calls[-1] == ('FakeResources', 1, 3001)
    # CPU asked for: never touches the GPU
    ExactSearcher(device='cpu').add(gallery).search(gallery[:1], k=1)
    assert len(calls) == 2
