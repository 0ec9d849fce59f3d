"""choose_index_factory's rules and the memory estimates behind them."""

import faiss
import numpy as np
import pytest

from gleamkit.index import FLAT_MAX_VECTORS, choose_index_factory, estimate_index_bytes, ivf_nlist
from gleamkit.index.factory import default_nprobe, make_faiss_index, supports_mmap


def test_ivf_nlist_is_power_of_two_near_4_sqrt_n():
    assert ivf_nlist(1_000_000) == 4096  # 4 * 1000 = 4000 -> 4096
    assert ivf_nlist(100_000) == 1024  # 4 * 316 = 1265 -> 1024
    assert ivf_nlist(300_000) == 2048  # 4 * 548 = 2191 -> 2048
    assert ivf_nlist(2000) == 32  # 179 -> 256, halved until 39 points per list
    assert ivf_nlist(10) == 1
    with pytest.raises(ValueError, match='at least one vector'):
        ivf_nlist(0)


def test_default_nprobe():
    assert default_nprobe(4096) == 64
    assert default_nprobe(1024) == 16
    assert default_nprobe(64) == 8
    assert default_nprobe(4) == 4


def test_small_gallery_gets_flat():
    assert choose_index_factory(1000, 256) == 'Flat'
    assert choose_index_factory(FLAT_MAX_VECTORS, 256) == 'Flat'


def test_large_gallery_gets_ivf_pq_with_nlist_and_largest_m():
    # no budget: the largest m <= D/4 and <= 64 that divides D
    assert choose_index_factory(1_000_000, 256) == 'IVF4096,PQ64'
    assert choose_index_factory(FLAT_MAX_VECTORS + 1, 256) == 'IVF2048,PQ64'
    assert choose_index_factory(1_000_000, 96) == 'IVF4096,PQ24'
    assert choose_index_factory(1_000_000, 512) == 'IVF4096,PQ64'


def test_budget_shrinks_pq_codes():
    n, d = 1_000_000, 256
    pq64 = estimate_index_bytes('IVF4096,PQ64', n, d)
    pq32 = estimate_index_bytes('IVF4096,PQ32', n, d)
    assert choose_index_factory(n, d, memory_budget_bytes=pq64) == 'IVF4096,PQ64'
    # 48 does not divide 256: the next size down is 32
    assert choose_index_factory(n, d, memory_budget_bytes=pq64 - 1) == 'IVF4096,PQ32'
    assert (
        choose_index_factory(
            1_000_000, 192, memory_budget_bytes=estimate_index_bytes('IVF4096,PQ48', n, 192)
        )
        == 'IVF4096,PQ48'
    )
    assert choose_index_factory(n, d, memory_budget_bytes=pq32) == 'IVF4096,PQ32'
    with pytest.raises(ValueError, match='no index for 1000000 vectors of dim 256 fits'):
        choose_index_factory(n, d, memory_budget_bytes=1_000_000)


def test_budget_below_flat_moves_a_small_gallery_to_ivf_pq():
    n, d = 100_000, 256
    flat = estimate_index_bytes('Flat', n, d)
    assert choose_index_factory(n, d, memory_budget_bytes=flat) == 'Flat'
    assert choose_index_factory(n, d, memory_budget_bytes=flat // 8) == 'IVF1024,PQ64'


def test_latency_critical_prefers_hnsw_when_it_fits():
    n, d = 1_000_000, 256
    hnsw = estimate_index_bytes('HNSW32', n, d)
    assert choose_index_factory(n, d, latency_critical=True) == 'HNSW32'
    assert choose_index_factory(n, d, hnsw, latency_critical=True) == 'HNSW32'
    assert choose_index_factory(n, d, hnsw - 1, latency_critical=True) == 'IVF4096,PQ64'
    # small galleries stay exact even when latency matters
    assert choose_index_factory(1000, d, latency_critical=True) == 'Flat'


def test_empty_gallery_refused():
    with pytest.raises(ValueError, match='empty gallery'):
        choose_index_factory(0, 256)


@pytest.mark.slow
def test_estimates_match_faiss_sizes():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5000, 32)).astype(np.float32)
    for factory, tolerance in (
        ('Flat', 0.01),
        ('HNSW16', 0.1),
        ('IVF16,PQ8', 0.05),
        ('IVF16,Flat', 0.05),
    ):
        index = make_faiss_index(factory, 32)
        index.train(x)
        index.add(x)
        actual = len(faiss.serialize_index(index))
        estimate = estimate_index_bytes(factory, 5000, 32)
        assert abs(estimate - actual) / actual < tolerance, (factory, estimate, actual)
    assert estimate_index_bytes('LSH', 10, 32) is None


def test_bad_factory_string_names_it():
    with pytest.raises(ValueError, match="index_factory string 'IVFx,PQ8'"):
        make_faiss_index('IVFx,PQ8', 32)


def test_supports_mmap():
    assert supports_mmap('Flat') and supports_mmap('HNSW32') and supports_mmap('IVF64,PQ8')
    assert supports_mmap('OPQ8,IVF64,PQ8')
    assert not supports_mmap('LSH')
