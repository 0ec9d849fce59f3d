"""CrossViewRetrievalMetric end to end on a hand-computed synthetic set."""

import logging

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.logging import MMLogger
from mmengine.registry import METRICS, DefaultScope

from gleamkit.evaluation import CrossViewRetrievalMetric
from gleamkit.evaluation.metrics.geo import haversine_m
from gleamkit.registry import EVALUATORS
from gleamkit.structures.cross_view_data_sample import CrossViewDataSample

# Gallery: location ids 0..9 plus one junk item (-1): |G| = 10 after junk removal,
# so R@1% = rank < max(1, 10 // 100) = rank 0, and chance R@1 = 1/10 = 10%.
GALLERY = list(range(10)) + [-1]


def full_ranking(prefix):
    """The full ranking: ``prefix`` then the rest of the gallery in gallery order."""
    rest = [g for g in GALLERY if g not in prefix]
    return np.array(list(prefix) + rest, dtype=np.int64)


def make_samples():
    # uav (no semi-positives, no GPS)
    #   q0: loc 0, first match at rank 0           -> AP 1
    #   q1: loc 1, first match at rank 1           -> AP (0 + 1/2)/2 = 1/4
    #   q2: loc 2, ranking 5 6 -1 7 8 9 2: the -1 is junk, so rank 5 -> AP 0.5/6 = 1/12
    # panorama (VIGOR style: semi-positives and GPS)
    #   q3: loc 3, semi {4}, ranking 4 3 ...: rank 1 (AP 1/4), top-1 semi -> hit
    #       truth (0, 0), predicted (0, 0.001): 111.195 m
    #   q4: loc 4, semi {3}, ranking 9 4 ...: rank 1 (AP 1/4), top-1 neither -> no hit
    #       truth (0, 0), predicted (0.0001, 0): 11.1195 m
    return [
        dict(view='uav', location_id=0, pred_ranked_ids=full_ranking([0])),
        dict(view='uav', location_id=1, pred_ranked_ids=torch.from_numpy(full_ranking([3, 1]))),
        dict(view='uav', location_id=2, pred_ranked_ids=full_ranking([5, 6, -1, 7, 8, 9, 2])),
        dict(
            view='panorama',
            location_id=3,
            semi_positive_ids=[4],
            pred_ranked_ids=full_ranking([4, 3]),
            lat=0.0,
            lon=0.0,
            pred_lat=0.0,
            pred_lon=0.001,
        ),
        dict(
            view='panorama',
            location_id=4,
            semi_positive_ids=[3],
            pred_ranked_ids=full_ranking([9, 4]),
            lat=0.0,
            lon=0.0,
            pred_lat=0.0001,
            pred_lon=0.0,
        ),
    ]


E_FAR = float(haversine_m(0, 0, 0, 0.001))  # 111.195 m
E_NEAR = float(haversine_m(0, 0, 0.0001, 0))  # 11.1195 m

# hand-computed table (percent)
EXPECTED = {
    # all: first ranks 0, 1, 5, 1, 1
    'R@1': 100 * 1 / 5,
    'R@5': 100 * 4 / 5,
    'R@10': 100.0,
    'R@1%': 100 * 1 / 5,
    'AP': 100 * (1 + 1 / 4 + 1 / 12 + 1 / 4 + 1 / 4) / 5,  # 36.67
    # top-1 positive (q0) or semi-positive (q3)
    'hit_rate': 100 * 2 / 5,
    'median_error_m': (E_FAR + E_NEAR) / 2,
    'within_25m': 50.0,
    'within_50m': 50.0,
    'within_100m': 50.0,
    'within_250m': 100.0,
    'within_1000m': 100.0,
    'num_localised': 2,
    'chance_R@1': 10.0,
    'num_queries': 5,
    'gallery_size': 10,
    # uav: first ranks 0, 1, 5
    'uav/R@1': 100 / 3,
    'uav/R@5': 200 / 3,
    'uav/R@10': 100.0,
    'uav/R@1%': 100 / 3,
    'uav/AP': 100 * (1 + 1 / 4 + 1 / 12) / 3,  # 44.44
    'uav/chance_R@1': 10.0,
    'uav/num_queries': 3,
    'uav/gallery_size': 10,
    # panorama: first ranks 1, 1
    'panorama/R@1': 0.0,
    'panorama/R@5': 100.0,
    'panorama/R@10': 100.0,
    'panorama/R@1%': 0.0,
    'panorama/AP': 25.0,
    'panorama/hit_rate': 50.0,
    'panorama/median_error_m': (E_FAR + E_NEAR) / 2,
    'panorama/within_25m': 50.0,
    'panorama/within_50m': 50.0,
    'panorama/within_100m': 50.0,
    'panorama/within_250m': 100.0,
    'panorama/within_1000m': 100.0,
    'panorama/num_localised': 2,
    'panorama/chance_R@1': 10.0,
    'panorama/num_queries': 2,
    'panorama/gallery_size': 10,
}


def evaluate(samples, batch_size=2, **cfg):
    metric = CrossViewRetrievalMetric(**cfg)
    evaluator = Evaluator(metric)
    for i in range(0, len(samples), batch_size):
        batch = []
        for s in samples[i : i + batch_size]:
            ds = CrossViewDataSample()
            ds.set_metainfo({k: v for k, v in s.items() if not k.startswith('pred_')})
            ds.pred_ranked_ids = s['pred_ranked_ids']
            for k in ('pred_lat', 'pred_lon'):
                if k in s:
                    ds.set_field(s[k], k)
            batch.append(ds)
        evaluator.process(batch)
    return evaluator.evaluate(len(samples))


def test_end_to_end_hand_computed_table():
    metrics = evaluate(make_samples())
    got = {k[len('retrieval/') :]: v for k, v in metrics.items()}
    assert all(k.startswith('retrieval/') for k in metrics)
    assert set(got) == set(EXPECTED)
    for key, value in EXPECTED.items():
        assert got[key] == pytest.approx(value, abs=1e-9), key
    assert isinstance(got['num_queries'], int)


def test_percentages_are_in_0_100():
    metrics = evaluate(make_samples())
    for key, value in metrics.items():
        if 'R@' in key or key.endswith(('AP', 'hit_rate')) or 'within_' in key:
            assert 0.0 <= value <= 100.0


def test_table_is_logged_with_gallery_and_protocol():
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    # print_log(logger='current') writes to the latest MMLogger instance
    logger = MMLogger.get_current_instance()
    handler = Keep()
    logger.addHandler(handler)
    try:
        evaluate(make_samples())
    finally:
        logger.removeHandler(handler)
    text = '\n'.join(records)
    assert '| view' in text and 'R@1%' in text and 'panorama' in text and '| all' in text
    # uav queries ask for ids 0..2: the 7 other tiles match none of them
    assert 'gallery (uav): 10 satellite tiles incl. 7 distractors' in text
    assert 'gallery (panorama): 10 satellite tiles incl. 8 distractors' in text
    assert 'protocol:' in text and 'max(1, |G| // 100)' in text


def test_per_view_off_and_options():
    metrics = evaluate(
        make_samples(),
        per_view=False,
        topk=(1, 3),
        with_ap=False,
        with_one_percent=False,
        with_hit_rate=False,
        distance_thresholds=(12.5,),
        prefix='val',
    )
    assert set(metrics) == {
        'val/R@1',
        'val/R@3',
        'val/median_error_m',
        'val/within_12.5m',
        'val/num_localised',
        'val/chance_R@1',
        'val/num_queries',
        'val/gallery_size',
    }
    # ranks 0, 1, 5, 1, 1 -> 4 of 5 below 3
    assert metrics['val/R@3'] == pytest.approx(80.0)
    assert metrics['val/within_12.5m'] == pytest.approx(50.0)


def test_no_semi_positives_no_gps_no_hit_rate_or_localisation():
    metrics = evaluate(make_samples()[:3])
    assert 'retrieval/hit_rate' not in metrics
    assert 'retrieval/median_error_m' not in metrics
    assert metrics['retrieval/uav/R@1'] == metrics['retrieval/R@1']


def test_distractors_and_one_percent_like_university1652():
    # 951 tiles: 701 true places + 250 distractors; |G| = 951 -> R@1% = rank < 9
    gallery = np.arange(951)
    rng = np.random.default_rng(0)
    samples = []
    for loc, rank in [(0, 0), (1, 8), (2, 9), (3, 950)]:
        others = rng.permutation(np.delete(gallery, loc))
        ranking = np.insert(others, rank, loc)
        samples.append(dict(view='uav', location_id=loc, pred_ranked_ids=ranking))
    m = CrossViewRetrievalMetric()
    m.process(None, samples)
    out = m.compute_metrics(m.results)
    assert out['R@1%'] == pytest.approx(50.0)  # ranks 0 and 8 hit, 9 and 950 miss
    assert out['gallery_size'] == 951
    assert out['chance_R@1'] == pytest.approx(100 / 951)
    expected_ap = (1 + 0.5 / 9 + 0.5 / 10 + 0.5 / 951) / 4
    assert out['AP'] == pytest.approx(100 * expected_ap)


def test_per_query_junk_and_many_true_matches():
    # satellite -> drone style: 3 true matches per place; per-query junk ids
    ranking = np.array([7, 5, 8, 5, 9, 5, -1, 6])
    m = CrossViewRetrievalMetric(per_view=False)
    m.process(None, [dict(view='satellite', location_id=5, pred_ranked_ids=ranking, junk_ids=[7])])
    out = m.compute_metrics(m.results)
    # after junk (7 and -1): 5 8 5 9 5 6 -> matches at ranks 0, 2, 4; |G| = 6
    # AP = (1 + (1/2 + 2/3)/2 + (2/4 + 3/5)/2) / 3
    assert out['AP'] == pytest.approx(100 * (1 + 7 / 12 + 11 / 20) / 3)
    assert out['R@1'] == 100.0 and out['gallery_size'] == 6
    assert out['chance_R@1'] == pytest.approx(100 * 3 / 6)


def test_query_without_true_match_is_a_miss():
    m = CrossViewRetrievalMetric(per_view=False)
    m.process(
        None,
        [
            dict(view='uav', location_id=42, pred_ranked_ids=np.arange(10)),
            dict(view='uav', location_id=3, pred_ranked_ids=np.arange(10)),
        ],
    )
    out = m.compute_metrics(m.results)
    # id 3 at rank 3: AP 0.5 / 4; id 42 is nowhere: a miss with AP 0
    assert out['R@10'] == 50.0 and out['num_queries'] == 2
    assert out['AP'] == pytest.approx(100 * (0.125 + 0) / 2)


def test_process_keeps_no_ranking():
    m = CrossViewRetrievalMetric()
    m.process(None, make_samples())
    assert len(m.results) == 5
    for r in m.results:
        assert all(np.isscalar(v) for v in r.values())


def test_empty_results_clear_error():
    m = CrossViewRetrievalMetric()
    with pytest.raises(ValueError, match='no results'):
        m.compute_metrics([])
    with pytest.raises(ValueError, match='no results'):
        m.evaluate(0)


def test_missing_ranking_clear_error():
    m = CrossViewRetrievalMetric()
    with pytest.raises(KeyError, match='predict mode with a prepared gallery'):
        m.process(None, [dict(view='uav', location_id=1)])


def test_bad_topk():
    with pytest.raises(ValueError):
        CrossViewRetrievalMetric(topk=(0, 5))


def test_registered_for_the_runner():
    assert EVALUATORS.get('CrossViewRetrievalMetric') is CrossViewRetrievalMetric
    with DefaultScope.overwrite_default_scope('gleamkit'):
        metric = METRICS.build(dict(type='CrossViewRetrievalMetric', topk=(1,)))
    assert isinstance(metric, CrossViewRetrievalMetric) and metric.prefix == 'retrieval'
    evaluator = Evaluator(dict(type='gleamkit.CrossViewRetrievalMetric'))
    assert isinstance(evaluator.metrics[0], CrossViewRetrievalMetric)
