"""Evaluation through a gallery index: metrics from top-K rankings.

With a Flat index every reported metric equals the full-ranking metric exactly; with
an approximate index the metrics are those of the ranking the index gives (checked by
hand on a tiny IVF case), AP stays exact (exact scores) or is left out, and what the
top K cannot decide is left out, never guessed. Each query keeps K ids, not N.
"""

import math

import numpy as np
import pytest

from gleamkit.evaluation import CrossViewRetrievalMetric
from gleamkit.evaluation.metrics.ranking import (
    GalleryIdCounts,
    rank_positions,
    summarise_ranking,
    summarise_topk,
    true_match_ranks,
)
from gleamkit.evaluation.search import ExactSearcher
from gleamkit.index import TopKIndexSearcher


def test_true_match_ranks_by_hand_with_ties_and_junk():
    # positions:   0    1    2    3    4    5
    ids = np.array([7, 3, -1, 7, 5, 7])
    scores = np.array([0.5, 0.9, 0.95, 0.5, 0.7, 0.1])
    # full ranking (ties by position): 2(-1) 1(3) 4(5) 0(7) 3(7) 5(7); junk: -1 and 5
    # kept: 1(3) 0(7) 3(7) 5(7) -> true matches of 7 at ranks 1, 2, 3
    assert true_match_ranks(scores, ids, 7, junk_ids=[5]).tolist() == [1, 2, 3]
    assert true_match_ranks(scores, ids, 7).tolist() == [2, 3, 4]
    assert true_match_ranks(scores, ids, 9).tolist() == []


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_true_match_ranks_equal_the_full_ranking(seed):
    rng = np.random.default_rng(seed)
    n = 400
    ids = rng.integers(-1, 30, n)
    scores = rng.integers(0, 50, n).astype(np.float32) / 50  # many ties
    order = np.lexsort((np.arange(n), -scores))  # descending score, ties by position
    for loc in range(30):
        junk = rng.integers(0, 30, 3)
        expected = rank_positions(ids[order], [loc], junk)
        assert true_match_ranks(scores, ids, loc, junk).tolist() == expected.tolist()


def test_summarise_topk_decides_what_the_top_k_can():
    gallery = GalleryIdCounts([1, 2, 2, 3, -1, 4, 5, 6])
    # found at rank 1 after junk removal
    s = summarise_topk([3, -1, 2], 2, gallery, junk_ids=[3])
    assert (s['first_rank'], s['found'], s['depth'], s['n_good']) == (0, True, 1, 2)
    assert (s['gallery_size'], s['gallery_total'], s['ap']) == (6, 7, None)
    # not in the top 3: a miss at every rank < 3, unknown beyond
    s = summarise_topk([1, 4, 5], 6, gallery, good_ranks=[5])
    assert (s['found'], s['depth'], s['ap']) == (False, 3, pytest.approx(0.5 / 6))
    # the full ranking gives the same numbers where both decide
    full = summarise_ranking([1, 4, 5, 2, 2, 6, 3, -1], 6)
    assert (full['n_good'], full['gallery_size'], full['ap']) == (1, 7, s['ap'])
    with pytest.raises(ValueError, match='2 true-match ranks for location 6'):
        summarise_topk([1], 6, gallery, good_ranks=[0, 1])


def _samples(scores_rows, indices_rows, gallery_ids, loc_ids, queries, junk=None, semi=None):
    out = []
    for i, (idx, loc) in enumerate(zip(indices_rows, loc_ids)):
        ranked = np.where(idx >= 0, gallery_ids[idx], -1)
        sample = dict(
            view='uav' if i % 2 else 'ground',
            location_id=int(loc),
            pred_ranked_ids=ranked,
            embedding=queries[i],
        )
        if junk is not None:
            sample['junk_ids'] = junk[i]
        if semi is not None:
            sample['semi_positive_ids'] = semi[i]
        out.append(sample)
    return out


def _evaluate(samples, gallery_ids=None, embeddings=None, **kw):
    metric = CrossViewRetrievalMetric(topk=(1, 5, 10), **kw)
    if gallery_ids is not None:
        metric.set_gallery(gallery_ids, embeddings)
    metric.process(None, samples)
    return metric, metric.evaluate(len(samples))


def _unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_flat_top_k_metrics_equal_the_full_ranking_exactly():
    rng = np.random.default_rng(0)
    n, dim, nq = 300, 16, 60
    gallery_ids = rng.integers(0, 80, n)
    gallery_ids[:5] = -1  # always-junk items
    gallery = _unit(rng.normal(size=(n, dim)))
    loc = rng.integers(0, 80, nq)
    # queries near one of their gallery items (or anywhere when none exists)
    queries = _unit(rng.normal(size=(nq, dim)) * 0.8 + gallery[rng.integers(0, n, nq)])
    junk = [rng.integers(0, 80, 2) for _ in range(nq)]
    semi = [rng.integers(0, 80, 2) for _ in range(nq)]

    full_scores, full_idx = ExactSearcher().add(gallery).search(queries)
    _, full = _evaluate(_samples(full_scores, full_idx, gallery_ids, loc, queries, junk, semi))

    topk = TopKIndexSearcher.build(gallery, 'Flat', topk=16)  # 10 + junk
    scores, idx = topk.search(queries)
    assert idx.shape == (nq, 16)  # K per query, not N
    samples = _samples(scores, idx, gallery_ids, loc, queries, junk, semi)
    assert all(s['pred_ranked_ids'].shape == (16,) for s in samples)
    metric, got = _evaluate(samples, gallery_ids, gallery)
    # every kept per-query result is a handful of scalars: nothing of size N or K
    assert all(not isinstance(v, np.ndarray) for r in metric.results for v in r.values())
    assert got.keys() == full.keys()
    for key, value in full.items():
        assert got[key] == value, key  # exact, not approximately equal

    # without gallery embeddings AP is left out, the rest stays exact
    _, no_ap = _evaluate(samples, gallery_ids, None)
    assert 'retrieval/AP' not in no_ap and 'retrieval/uav/AP' not in no_ap
    assert no_ap['retrieval/R@10'] == full['retrieval/R@10']


def test_cut_offs_beyond_the_kept_depth_are_left_out():
    rng = np.random.default_rng(1)
    n, dim = 500, 8
    gallery_ids = np.arange(n)
    gallery = _unit(rng.normal(size=(n, dim)))
    queries = _unit(rng.normal(size=(20, dim)))  # random: most true matches far down
    scores, idx = TopKIndexSearcher.build(gallery, 'Flat', topk=5).search(queries)
    metric, got = _evaluate(_samples(scores, idx, gallery_ids, np.arange(20), queries), gallery_ids)
    # R@10 and R@1% (|G| // 100 = 5 <= K, decided) vs K=5
    assert 'retrieval/R@5' in got and 'retrieval/R@1%' in got
    assert 'retrieval/R@10' not in got
    # the warning names what is missing and what would decide it
    assert 'topk >= 10' in metric.unavailable['R@10']


def _angles(*a):
    return np.stack([np.cos(a), np.sin(a)], axis=1).astype(np.float32)


def test_approximate_index_metrics_are_those_of_its_ranking_by_hand():
    """IVF2,Flat with nprobe=1 on two clear clusters of 2-d unit vectors: a query sees
    only the list of its nearest centroid."""
    a = [-0.1, 0.0, 0.05, 0.1]  # cluster A, gallery positions 0..3
    b = [0.9, 1.5, 1.6, 1.7]  # cluster B, positions 4..7 (centroid angle ~1.43)
    gallery = _angles(*(a + b))
    gallery_ids = np.array([10, 11, 12, 13, 20, 21, 22, 23])
    searcher = TopKIndexSearcher.build(gallery, 'IVF2,Flat', topk=5, nprobe=1, train_size=8)
    index = searcher.gallery_index
    lists = index.index.quantizer.search(gallery, 1)[1][:, 0]
    assert len(set(lists[:4])) == 1 and len(set(lists[4:])) == 1 and lists[0] != lists[4]
    # query 0 at angle 0.6: nearest centroid A (angle ~0.01), exact top-1 B's 0.9
    # (its true match, id 20);
    # query 1 at angle 0.04: true match A's 0.05 (id 12)
    queries = _angles(0.6, 0.04)
    assert index.index.quantizer.search(queries, 1)[1][:, 0].tolist() == [lists[0]] * 2
    scores, idx = searcher.search(queries)
    # by hand: only A's list, by angle distance; the fifth slot is empty (-1)
    assert idx.tolist() == [[3, 2, 1, 0, -1], [2, 1, 3, 0, -1]]
    samples = _samples(scores, idx, gallery_ids, [20, 12], queries)
    _, got = _evaluate(samples, gallery_ids, gallery, per_view=False)
    # R@1: query 0 misses (its match is in the unvisited list), query 1 hits
    assert got['retrieval/R@1'] == 50.0
    # R@5: query 0's match is not in its 4 kept items: undecidable, left out
    assert 'retrieval/R@5' not in got and 'retrieval/R@10' not in got
    # R@1% of |G| = 8 is R@1: decided
    assert got['retrieval/R@1%'] == 50.0
    # AP from exact scores: both true matches are the exact top-1
    assert got['retrieval/AP'] == 100.0
    assert got['retrieval/chance_R@1'] == pytest.approx(100 / 8)
    assert got['retrieval/gallery_size'] == 8
    assert not math.isnan(got['retrieval/R@1'])
    # without exact scores AP is left out, not taken from the approximate ranking
    metric, no_ap = _evaluate(samples, gallery_ids, None, per_view=False)
    assert 'retrieval/AP' not in no_ap and 'AP' in metric.unavailable
    assert no_ap['retrieval/R@1'] == 50.0
