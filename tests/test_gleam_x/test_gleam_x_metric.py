"""GleamXMetric on a small hand-computed confusion matrix, text scores, table and JSON."""

import json

import pytest
from mmengine.evaluator import Evaluator

import gleamkit.evaluation.metrics.explanation as explanation_metric
from gleamkit.evaluation import GleamXMetric
from gleamkit.evaluation.explanation import ExplanationJudge, SentenceModelUnavailableError
from gleamkit.registry import EVALUATORS
from gleamkit.structures import ExplanationDataSample

REF_CAT, PRED_CAT = 'the cat is on the mat', 'the cat sat on the mat'


def samples():
    """8 pairs: label / prediction, hand-checked below.

    label: 1 1 0 0 1 0 0 1
    pred:  1 0 0 1 1 0 -1 -1   (the last two read from pred_text)
    """
    rows = [
        dict(
            id='s1',
            lang='en',
            view='uav',
            label=1,
            pred_label=1,
            pred_text='a dog runs',
            reference='a dog runs',
        ),
        dict(
            id='s2',
            lang='en',
            view='uav',
            label=1,
            pred_label=0,
            pred_text=PRED_CAT,
            reference=REF_CAT,
        ),
        dict(id='s3', lang='en', view='map', label=0, pred_label=0, reference='x'),
        dict(id='s4', lang='en', view='map', label=0, pred_label=1, reference='x'),
        dict(
            id='s5',
            lang='zh',
            view='uav',
            label=1,
            pred_label=1,
            pred_text='两张图像是同一地点',
            reference='两张图像不是同一地点',
        ),
        dict(id='s6', lang='zh', view='map', label=0, pred_label=0, reference='y'),
        dict(
            id='s7',
            lang='zh',
            view='map',
            label=0,
            pred_text='无法判断两者是否为同一地点。',
            reference='两张图像不是同一地点。',
        ),
        dict(
            id='s8',
            lang='en',
            view='uav',
            label=1,
            pred_text='Image 1 shows a road.',
            reference='Both images show the same road.',
        ),
    ]
    return rows


def run(metric, rows):
    metric.process({}, [dict(r) for r in rows])
    return metric.compute_metrics(metric.results)


@pytest.fixture
def logged(monkeypatch):
    lines = []
    monkeypatch.setattr(explanation_metric, 'print_log', lambda msg, **kw: lines.append(msg))
    return lines


def test_label_metrics_by_hand(logged):
    m = run(GleamXMetric(with_similarity=False, with_text_overlap=False), samples())
    assert m['num_samples'] == 8
    assert m['accuracy'] == pytest.approx(50.0)  # s1 s3 s5 s6 right; unparseable s7 s8 wrong
    assert m['precision'] == pytest.approx(100 * 2 / 3)  # TP s1 s5 of predicted s1 s4 s5
    assert m['recall'] == pytest.approx(50.0)  # of true matches s1 s2 s5 s8
    assert m['f1'] == pytest.approx(100 * 4 / 7)
    assert m['pred_no_match'] == pytest.approx(37.5)  # s2 s3 s6
    assert m['true_no_match'] == pytest.approx(50.0)
    assert m['no_match_bias'] == pytest.approx(-12.5)
    assert m['unparseable'] == pytest.approx(25.0)
    # per language and per view
    assert m['en/num_samples'] == 5 and m['en/accuracy'] == pytest.approx(40.0)
    assert m['zh/accuracy'] == pytest.approx(100 * 2 / 3)
    assert m['zh/unparseable'] == pytest.approx(100 / 3)
    assert m['uav/accuracy'] == pytest.approx(50.0)  # s1 s5 right, s2 s8 wrong
    assert m['map/accuracy'] == pytest.approx(50.0)  # s3 s6 right, s4 s7 wrong
    assert m['map/precision'] == 0.0 and m['map/recall'] == 0.0  # no true match in map
    assert not any('sbert' in k or 'bleu' in k for k in m)
    table = logged[0]
    assert 'no-match bias' in table and '-12.50' in table and 'unparseable' in table
    assert table.index('| uav') < table.index('| all')  # groups first, overall last


def test_text_metrics_by_hand(logged):
    m = run(GleamXMetric(with_similarity=False), samples())
    # English with pred_text and reference: s1 identical, s2 cat pair, s8 no common word
    # ROUGE-L F1: 100, 5/6, 0 ('image 1 shows a road' vs 'both images show the same road': 'road')
    rouge_s8 = 100 * 2 * (1 / 5) * (1 / 6) / (1 / 5 + 1 / 6)
    assert m['en/rouge_l'] == pytest.approx((100 + 500 / 6 + rouge_s8) / 3)
    # zh, characters: s5 P = 1, R = 9/10; s7 LCS '两是同一地点' = 6 of 13 / 10 characters
    assert m['zh/rouge_l'] == pytest.approx((100 * 2 * 0.9 / 1.9 + 100 * 72 / 138) / 2)
    # BLEU on s1 + s2 only when restricted to those two: check the corpus form on 'all' en rows
    m2 = run(GleamXMetric(with_similarity=False), samples()[:2])
    assert m2['bleu'] == pytest.approx(100 * (8 / 9 * 5 / 7 * 2 / 5 * 1 / 6) ** 0.25)
    assert m2['sentence_bleu'] == pytest.approx((100 + 100 * (1 / 48) ** 0.25) / 2)
    assert m2['rouge_l'] == pytest.approx((100 + 500 / 6) / 2)


def test_zh_rouge_exact(logged):
    rows = [
        dict(
            lang='zh',
            view='uav',
            label=1,
            pred_label=1,
            pred_text='两张图像是同一地点',
            reference='两张图像不是同一地点',
        )
    ]
    m = run(GleamXMetric(with_similarity=False), rows)
    assert m['rouge_l'] == pytest.approx(100 * 2 * 0.9 / 1.9)


@pytest.mark.slow
def test_similarity_and_english_model_note(logged, tmp_path):
    out = tmp_path / 'res' / 'gleam_x.json'
    metric = GleamXMetric(out_json=str(out))  # all-MiniLM-L6-v2 for every language
    m = run(metric, samples())
    saved = json.loads(out.read_text(encoding='utf-8'))
    by_id = {s['id']: s for s in saved['samples']}
    assert by_id['s1']['sbert_similarity'] == pytest.approx(1.0, abs=1e-5)
    assert by_id['s2']['sbert_similarity'] > by_id['s8']['sbert_similarity']
    assert 'sbert_similarity' not in by_id['s3']  # no pred_text: left out
    assert m['en/sbert_similarity'] == pytest.approx(
        sum(by_id[i]['sbert_similarity'] for i in ('s1', 's2', 's8')) / 3
    )
    assert saved['metrics'] == pytest.approx(m)
    assert saved['groups']['zh']['num_samples'] == 3
    assert by_id['s7']['pred_label'] == -1 and by_id['s7']['pred_text'].startswith('无法')
    note = [n for n in saved['notes'] if n.startswith('sbert_similarity (zh)')][0]
    assert 'English-only' in note and 'paraphrase-multilingual-MiniLM-L12-v2' in note
    assert note in logged[0] and 'English-only' not in saved['notes'][0]


def test_unavailable_sbert_model_fails_loudly():
    metric = GleamXMetric(sbert_model=dict(zh='gleamkit-tests/no-such-multilingual-sbert'))
    with pytest.raises(SentenceModelUnavailableError, match='no-such-multilingual-sbert'):
        metric.process({}, samples())


def test_through_mmengine_evaluator(logged):
    data_samples = []
    for row in samples()[:4]:
        sample = ExplanationDataSample(
            metainfo={k: row[k] for k in ('id', 'lang', 'view', 'label', 'reference')}
        )
        sample.pred_label = row.get('pred_label')
        sample.pred_text = row.get('pred_text', '')
        data_samples.append(sample)
    metric = EVALUATORS.build(dict(type='GleamXMetric', with_similarity=False))
    evaluator = Evaluator(metric)
    evaluator.process(data_samples, dict(inputs=[{}] * 4))
    m = evaluator.evaluate(4)
    assert m['gleam_x/accuracy'] == pytest.approx(50.0)
    assert m['gleam_x/uav/accuracy'] == pytest.approx(50.0)


class LengthJudge(ExplanationJudge):
    name = 'length'

    def __init__(self):
        self.seen = []

    def score(self, items):
        self.seen += items
        return [len(i['pred_text'] or '') for i in items]


def test_judge_extension_point(logged):
    judge = LengthJudge()
    rows = samples()[:2]
    batch = dict(inputs=[dict(images=['q1', 's1']), dict(images=['q2', 's2'])])
    metric = GleamXMetric(with_similarity=False, judge=judge)
    metric.process(batch, rows)
    m = metric.compute_metrics(metric.results)
    assert m['judge_score'] == pytest.approx((len('a dog runs') + len(PRED_CAT)) / 2)
    assert judge.seen[0]['images'] == ['q1', 's1'] and judge.seen[1]['reference'] == REF_CAT
    with pytest.raises(TypeError, match='judge'):
        GleamXMetric(judge=42)


def test_errors(logged):
    metric = GleamXMetric(with_similarity=False)
    with pytest.raises(KeyError, match='no `label`'):
        metric.process({}, [dict(pred_label=1)])
    with pytest.raises(KeyError, match='neither `pred_label` nor `pred_text`'):
        metric.process({}, [dict(label=1)])
    with pytest.raises(ValueError, match='label=2'):
        metric.process({}, [dict(label=2, pred_label=1)])
    with pytest.raises(ValueError, match='no results'):
        metric.compute_metrics([])
    with pytest.raises(TypeError, match='sbert_model'):
        GleamXMetric(sbert_model=3)


def test_structured_parsing_option(logged):
    rows = [
        dict(label=1, pred_text='They depict the same area.', reference='r'),
        dict(label=0, pred_text='Blah.\nAnswer: no', reference='r'),
    ]
    m = run(GleamXMetric(with_similarity=False, structured=True), rows)
    assert m['unparseable'] == pytest.approx(50.0) and m['accuracy'] == pytest.approx(50.0)
    m = run(GleamXMetric(with_similarity=False), rows)
    assert m['accuracy'] == pytest.approx(100.0)


def test_failed_samples_count_as_unparseable_and_are_reported(logged):
    rows = [
        dict(
            id='a', lang='en', view='uav', label=1, pred_label=1, pred_text='Match.', reference='r'
        ),
        dict(
            id='b',
            lang='en',
            view='uav',
            label=0,
            pred_label=-1,
            pred_text='',
            pred_error='http://x/v1/chat/completions: giving up after 6 attempts',
        ),
        dict(
            id='c',
            lang='zh',
            view='map',
            label=0,
            pred_label=0,
            pred_text='不匹配。',
            reference='r',
        ),
        dict(id='d', lang='zh', view='map', label=1, pred_text='无法判断。', reference='r'),
    ]
    m = run(GleamXMetric(with_similarity=False, with_text_overlap=False), rows)
    assert m['failed'] == pytest.approx(25.0)  # b
    assert m['unparseable'] == pytest.approx(50.0)  # b (failed) and d (no verdict)
    assert m['accuracy'] == pytest.approx(50.0)
    assert m['en/failed'] == pytest.approx(50.0) and m['zh/failed'] == 0
    assert "1 of 4 samples got no answer (failed, counted unparseable): 'b'" in logged[-1]
    assert 'giving up after 6 attempts' in logged[-1]
    # without failures there is no 'failed' column
    m = run(GleamXMetric(with_similarity=False, with_text_overlap=False), [rows[0], rows[2]])
    assert 'failed' not in m
