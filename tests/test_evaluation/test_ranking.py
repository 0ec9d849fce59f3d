"""Protocol functions: ranks after junk, official AP, CMC, R@1%, VIGOR hit, haversine."""

import numpy as np
import pytest
import torch

from gleamkit.evaluation.metrics.geo import haversine_m, localisation_summary
from gleamkit.evaluation.metrics.ranking import (
    NO_MATCH,
    average_precision,
    cmc_hits,
    one_percent_k,
    rank_positions,
    recall_at_one_percent,
    summarise_ranking,
    vigor_hit,
)

# ----------------------------------------------------------------------- AP


@pytest.mark.parametrize(
    'rank, expected',
    [
        (0, 1.0),  # P_old = 1, P_new = 1/1 -> 1
        (1, 0.25),  # P_old = 0/1 = 0, P_new = 1/2 -> (0 + 0.5) / 2
        (4, 0.1),  # P_old = 0, P_new = 1/5 -> 0.1
    ],
)
def test_ap_single_true_match(rank, expected):
    assert average_precision([rank], 1) == pytest.approx(expected, abs=1e-12)
    # the closed form quoted by the protocol: 0.5 / (r + 1) for r > 0
    if rank:
        assert average_precision([rank], 1) == pytest.approx(0.5 / (rank + 1))


def test_ap_three_true_matches_by_hand():
    # true matches at ranks 0, 2, 5, n_good = 3
    # i=0, r=0: P_old = 1 (r == 0),  P_new = 1/1 = 1     -> (1 + 1) / 2     = 1
    # i=1, r=2: P_old = 1/2,         P_new = 2/3         -> (1/2 + 2/3) / 2 = 7/12
    # i=2, r=5: P_old = 2/5,         P_new = 3/6 = 1/2   -> (2/5 + 1/2) / 2 = 9/20
    # AP = (1 + 7/12 + 9/20) / 3 = (60/60 + 35/60 + 27/60) / 3 = 122/180 = 61/90
    assert average_precision([0, 2, 5], 3) == pytest.approx(61 / 90, abs=1e-12)
    # order of the input does not matter
    assert average_precision(np.array([5, 0, 2]), 3) == pytest.approx(61 / 90, abs=1e-12)


def test_ap_missing_true_matches_count_zero():
    # ranking truncated: only the first of two true matches was retrieved
    # i=0, r=1: (0 + 1/2) / 2 = 1/4, divided by n_good = 2 -> 1/8
    assert average_precision([1], 2) == pytest.approx(1 / 8)
    assert average_precision([], 3) == 0.0
    assert average_precision([], 0) == 0.0
    with pytest.raises(ValueError):
        average_precision([0, 1], 1)


def test_ap_of_all_matches_on_top_is_one():
    assert average_precision(np.arange(54), 54) == pytest.approx(1.0)


# ---------------------------------------------------------------- ranks, junk


def test_rank_positions_junk_removal_changes_ranks():
    ranked = [9, -1, 4, 7, 3, 7]
    # without per-query junk: -1 is removed -> [9, 4, 7, 3, 7]
    np.testing.assert_array_equal(rank_positions(ranked, [7]), [2, 4])
    # 4 and 9 are junk for this query -> [7, 3, 7]
    np.testing.assert_array_equal(rank_positions(ranked, [7], junk_ids=[4, 9]), [0, 2])
    assert rank_positions(ranked, [5]).size == 0


def test_junk_wins_over_good_and_minus_one_is_always_junk():
    np.testing.assert_array_equal(rank_positions([3, 7, 7], [7], junk_ids=[7]), [])
    np.testing.assert_array_equal(rank_positions([-1, -1, 2], [2]), [0])
    # a query whose own id would be -1 never matches junk
    np.testing.assert_array_equal(rank_positions([-1, 2], [-1]), [])


def test_distractors_are_kept():
    # gallery ids 100..103 match no query: distractors, not junk; they push the
    # true match down and count in |G|
    ranked = [100, 101, 5, 102, 103]
    s = summarise_ranking(ranked, 5)
    assert s['first_rank'] == 2
    assert s['gallery_size'] == 5
    assert s['ap'] == pytest.approx(0.5 / 3)


def test_summarise_ranking_accepts_torch_and_reports_sizes():
    ranked = torch.tensor([8, -1, 3, 5, -1, 6], dtype=torch.int64)
    s = summarise_ranking(ranked, 5, junk_ids=[8])
    assert s == dict(first_rank=1, ap=0.25, n_good=1, gallery_size=3, gallery_total=4, hit=False)
    s = summarise_ranking(ranked, 42)
    assert s['first_rank'] == NO_MATCH and s['ap'] == 0.0 and s['n_good'] == 0


# ------------------------------------------------------------------ CMC, R@1%


def test_cmc_hits():
    np.testing.assert_array_equal(cmc_hits(0, (1, 5, 10)), [True, True, True])
    np.testing.assert_array_equal(cmc_hits(4, (1, 5, 10)), [False, True, True])
    np.testing.assert_array_equal(cmc_hits(5, (1, 5, 10)), [False, False, True])
    np.testing.assert_array_equal(cmc_hits(NO_MATCH, (1, 5)), [False, False])
    hits = cmc_hits(np.array([0, 3, NO_MATCH]), [1, 4])
    np.testing.assert_array_equal(hits, [[True, True], [False, True], [False, False]])
    with pytest.raises(ValueError):
        cmc_hits(0, [0])


def test_r_at_one_percent_boundary():
    # |G| = 250 -> top 2 (ranks 0 and 1)
    assert one_percent_k(250) == 2
    assert recall_at_one_percent(1, 250)
    assert not recall_at_one_percent(2, 250)
    # |G| = 99 -> 99 // 100 = 0, but at least the top 1
    assert one_percent_k(99) == 1
    assert recall_at_one_percent(0, 99)
    assert not recall_at_one_percent(1, 99)
    # |G| = 8884 (CVUSA test) -> top 88: rank 87 hits, rank 88 misses
    assert recall_at_one_percent(87, 8884) and not recall_at_one_percent(88, 8884)
    np.testing.assert_array_equal(
        recall_at_one_percent([0, 1, 2, NO_MATCH], [250, 250, 250, 250]), [True, True, False, False]
    )


# ------------------------------------------------------------------ VIGOR hit


def test_vigor_hit_rate_with_semi_positives():
    # top-1 is a semi-positive: a hit for the hit rate, a miss for R@1
    assert vigor_hit([11, 10, 12], 10, semi_positive_ids=[11, 12, 13])
    assert summarise_ranking([11, 10, 12], 10, semi_positive_ids=[11])['first_rank'] == 1
    assert vigor_hit([10, 11], 10)
    assert not vigor_hit([14, 10, 11], 10, semi_positive_ids=[11, 12, 13])
    # junk at the top is skipped before looking at the top-1
    assert vigor_hit([-1, 20, 12], 10, semi_positive_ids=[12], junk_ids=[20])
    assert not vigor_hit([-1], 10)


# ------------------------------------------------------------------------ geo


def test_haversine_known_distances():
    # one degree of latitude on a sphere of radius 6371008.8 m: pi/180 * R
    assert haversine_m(0, 0, 1, 0) == pytest.approx(111195.08, abs=0.01)
    assert haversine_m(10, 20, 11, 20) == pytest.approx(111195.08, abs=0.01)
    # Paris (48.8566, 2.3522) - London (51.5074, -0.1278): ~343.5 km
    assert haversine_m(48.8566, 2.3522, 51.5074, -0.1278) / 1000 == pytest.approx(343.5, abs=0.2)
    assert haversine_m(0, 0, 0, 0) == 0.0
    # antipodes: half the circumference, no NaN from rounding
    assert haversine_m(0, 0, 0, 180) == pytest.approx(np.pi * 6371008.8)


def test_haversine_is_vectorised():
    lat2 = np.array([0.0, 1.0, 2.0])
    d = haversine_m(0.0, 0.0, lat2, np.zeros(3))
    assert d.shape == (3,)
    np.testing.assert_allclose(d, [0.0, 111195.08, 222390.16], atol=0.05)
    assert np.isnan(haversine_m(np.nan, 0, 0, 0))


def test_localisation_summary():
    out = localisation_summary([10.0, 30.0, 100.0, 2000.0, np.nan], thresholds=(25, 100, 1000))
    # NaN (unknown position) left out: errors 10, 30, 100, 2000 -> median 65
    assert out == {
        'median_error_m': 65.0,
        'within_25m': 25.0,
        'within_100m': 75.0,
        'within_1000m': 75.0,
        'num_localised': 4,
    }
    assert localisation_summary([np.nan]) == {}
    assert 'within_12.5m' in localisation_summary([1.0], thresholds=(12.5,))
