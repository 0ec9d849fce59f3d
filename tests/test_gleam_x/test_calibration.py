"""The scored route: ROC AUC, ECE, the balanced threshold and the diagram, by hand."""

import pytest
from PIL import Image

from gleamkit.evaluation.explanation.calibration import (
    balanced_accuracy,
    balanced_threshold,
    expected_calibration_error,
    reliability_bins,
    reliability_diagram,
    roc_auc,
)

LABELS = [1, 1, 0, 1, 0, 0]
SCORES = [0.9, 0.6, 0.6, 0.3, 0.2, 0.05]


def test_roc_auc_by_hand():
    # pairs (match, non-match): 0.9 beats all 3; 0.6 beats 0.2, 0.05 and ties 0.6
    # (2.5); 0.3 beats 0.2, 0.05 (2) -> (3 + 2.5 + 2) / 9
    assert roc_auc(LABELS, SCORES) == pytest.approx(7.5 / 9)
    assert roc_auc([1, 1], [0.2, 0.3]) is None


def test_ece_by_hand():
    # 2 bins: [0, .5) holds .3(1) .2(0) .05(0): conf .55/3, acc 1/3;
    # [.5, 1] holds .9(1) .6(1) .6(0): conf 2.1/3, acc 2/3
    expected = 0.5 * abs(1 / 3 - 0.55 / 3) + 0.5 * abs(2 / 3 - 0.7)
    assert expected_calibration_error(LABELS, SCORES, num_bins=2) == pytest.approx(expected)
    assert [b['count'] for b in reliability_bins(LABELS, SCORES, 2)] == [3, 3]
    assert expected_calibration_error([1, 0], [1.0, 0.0], num_bins=10) == 0.0


def test_balanced_threshold_removes_a_no_match_bias():
    # every score is low (a model biased to "no match"): 0.5 calls all no match
    labels, scores = [1, 1, 0, 0], [0.4, 0.3, 0.2, 0.1]
    assert balanced_accuracy(labels, scores, 0.5) == 0.5
    t = balanced_threshold(labels, scores)
    assert t == pytest.approx(0.25) and balanced_accuracy(labels, scores, t) == 1.0


def test_reliability_diagram_png(tmp_path):
    path = reliability_diagram(LABELS, SCORES, str(tmp_path / 'rel.png'), num_bins=5)
    with Image.open(path) as img:
        assert img.size == (400, 400)


def test_metric_reports_both_routes(tmp_path):
    import json

    from gleamkit.evaluation.metrics.explanation import GleamXMetric

    metric = GleamXMetric(
        with_similarity=False,
        with_text_overlap=False,
        calibration_bins=2,
        out_json=str(tmp_path / 'x.json'),
    )
    samples = [
        dict(label=y, pred_label=-1 if i % 2 else y, p_match=p, lang='en', view='uav')
        for i, (y, p) in enumerate(zip(LABELS, SCORES))
    ]
    metric.process({}, samples)
    m = metric.compute_metrics(metric.results)
    assert m['unparseable'] == pytest.approx(50.0)  # the generated route
    assert m['roc_auc'] == pytest.approx(100 * 7.5 / 9)
    assert m['ece'] == pytest.approx(100 * expected_calibration_error(LABELS, SCORES, 2))
    # p >= 0.5: 0.9, 0.6 (match) right, 0.6 (no match) wrong, 0.3 wrong, rest right
    assert m['scored_accuracy'] == pytest.approx(100 * 4 / 6)
    assert m['balanced_threshold'] == balanced_threshold(LABELS, SCORES)
    assert (tmp_path / 'x_reliability.png').is_file()
    assert json.loads((tmp_path / 'x.json').read_text())['samples'][0]['p_match'] == 0.9
