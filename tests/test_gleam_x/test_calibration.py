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


def _scored_samples(labels, scores):
    return [
        dict(label=y, pred_label=y, p_match=p, lang='en', view='uav')
        for y, p in zip(labels, scores)
    ]


def test_the_validation_threshold_reaches_test_through_the_checkpoint(tmp_path):
    """Validation chooses the balanced threshold, the hook records it, mmengine saves
    it in the checkpoint, loading restores it, and the test metric applies it."""
    import torch
    from mmengine.logging import MessageHub

    from gleamkit.engine.hooks import ValidationThresholdHook
    from gleamkit.engine.hooks.validation_threshold_hook import (
        THRESHOLD_KEY,
        checkpoint_threshold,
    )
    from gleamkit.evaluation.metrics.explanation import GleamXMetric
    from gleamkit.utils.checkpoint import safe_load_checkpoint

    hub = MessageHub.get_instance('validation-threshold-train')
    hub._runtime_info.pop(THRESHOLD_KEY, None)

    class Runner:  # what the hook touches
        message_hub = hub

    # validation: every score is low; 0.5 calls everything "no match"
    val = GleamXMetric(with_similarity=False, with_text_overlap=False)
    val.process({}, _scored_samples([1, 1, 0, 0], [0.4, 0.3, 0.2, 0.1]))
    metrics = {f'gleam_x/{k}': v for k, v in val.compute_metrics(val.results).items()}
    assert metrics['gleam_x/balanced_threshold'] == pytest.approx(0.25)
    hook = ValidationThresholdHook()
    hook.after_val_epoch(Runner, metrics)
    assert hub.get_info(THRESHOLD_KEY) == pytest.approx(0.25)

    # what mmengine's CheckpointHook writes, read back with gleamkit's safe loader
    torch.save(dict(state_dict={}, message_hub=hub.state_dict()), tmp_path / 'epoch_1.pth')
    ckpt = safe_load_checkpoint(str(tmp_path / 'epoch_1.pth'), map_location='cpu')
    assert checkpoint_threshold(ckpt) == pytest.approx(0.25)

    # a fresh test process: loading the checkpoint restores it; the test metric uses it
    test_hub = MessageHub.get_instance('validation-threshold-test')

    class TestRunner:
        message_hub = test_hub

    hook.after_load_checkpoint(TestRunner, ckpt)
    MessageHub._instance_dict.move_to_end('validation-threshold-test')  # current instance
    assert MessageHub.get_current_instance() is test_hub
    labels2 = [1, 1, 0, 0]
    scores2 = [0.45, 0.3, 0.2, 0.1]  # at 0.5 both matches are missed; at 0.25 all right
    test2 = GleamXMetric(
        with_similarity=False, with_text_overlap=False, match_threshold='validation'
    )
    test2.process({}, _scored_samples(labels2, scores2))
    assert test2.compute_metrics(test2.results)['scored_accuracy'] == pytest.approx(100.0)
    assert test2.match_threshold == pytest.approx(0.25)
    fixed2 = GleamXMetric(with_similarity=False, with_text_overlap=False)
    fixed2.process({}, _scored_samples(labels2, scores2))
    assert fixed2.compute_metrics(fixed2.results)['scored_accuracy'] == pytest.approx(50.0)


def test_validation_threshold_unknown_falls_back_to_half_with_a_warning(caplog):
    from mmengine.logging import MessageHub

    from gleamkit.evaluation.metrics.explanation import GleamXMetric

    MessageHub.get_instance('validation-threshold-none')
    MessageHub._instance_dict.move_to_end('validation-threshold-none')
    metric = GleamXMetric(
        with_similarity=False, with_text_overlap=False, match_threshold='validation'
    )
    metric.process({}, _scored_samples([1, 0], [0.6, 0.4]))
    assert metric.compute_metrics(metric.results)['scored_accuracy'] == 100.0
    assert metric.match_threshold == 0.5
    with pytest.raises(ValueError, match="match_threshold='val'.*'validation'"):
        GleamXMetric(match_threshold='val')
    with pytest.raises(ValueError, match='match_threshold=1.5'):
        GleamXMetric(match_threshold=1.5)
