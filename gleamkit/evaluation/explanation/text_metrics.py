"""ROUGE-L and BLEU-4 for explanations, in English and Chinese, without dependencies.

Tokens (:func:`tokenize`): lower-cased words (``[a-z0-9]+`` with an optional
``'s``-style suffix) for English, single characters for Chinese (a mixed text
gets both); punctuation is ignored. So ROUGE-L and BLEU are word-level on
English and character-level on Chinese, as usual for each language.

* ROUGE-L (:func:`rouge_l`): precision, recall and F1 of the longest common
  subsequence (``F = 2PR / (P + R)``, the ``rouge-score`` package's default).
  The LCS length is computed bit-parallel (Hyyrö 2004), exact and fast on
  paragraph-long texts.
* BLEU-4 (:func:`sentence_bleu`, :func:`corpus_bleu`): clipped n-gram
  precisions for n = 1..4, geometric mean, brevity penalty; smoothing as
  sacreBLEU's default ``'exp'`` (the k-th n-gram order with no match gets
  precision ``1 / (2^k * total_n)``); sentence BLEU uses sacreBLEU's
  "effective order" (orders longer than the hypothesis are left out). Scores
  in [0, 100]. A hypothesis with no matching unigram scores 0.
"""

import math
import re
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

__all__ = [
    'tokenize',
    'lcs_length',
    'rouge_l',
    'ngram_stats',
    'bleu_from_stats',
    'sentence_bleu',
    'corpus_bleu',
    'BleuStats',
]

_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[a-z0-9]+(?:'[a-z]+)?")

#: (matches per order, totals per order, hypothesis length, reference length)
BleuStats = Tuple[List[int], List[int], int, int]


def tokenize(text: str, lang: Optional[str] = None) -> List[str]:
    """Words (English) and characters (Chinese), lower-cased, without punctuation.

    ``lang`` is accepted for symmetry; the token rule does not depend on it (a
    Chinese answer quoting an English name gets words for the name).
    """
    return _TOKEN.findall(text.lower()) if text else []


def lcs_length(a: Sequence, b: Sequence) -> int:
    """Length of the longest common subsequence of two token sequences."""
    if not a or not b:
        return 0
    masks: Dict = {}
    for i, tok in enumerate(a):
        masks[tok] = masks.get(tok, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for tok in b:
        u = v & masks.get(tok, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - bin(v).count('1')


def rouge_l(prediction, reference, lang: Optional[str] = None) -> Dict[str, float]:
    """ROUGE-L precision, recall and F1 in [0, 1] (texts or token lists)."""
    pred = tokenize(prediction, lang) if isinstance(prediction, str) else list(prediction)
    ref = tokenize(reference, lang) if isinstance(reference, str) else list(reference)
    lcs = lcs_length(pred, ref)
    if lcs == 0:
        return dict(precision=0.0, recall=0.0, f1=0.0)
    p, r = lcs / len(pred), lcs / len(ref)
    return dict(precision=p, recall=r, f1=2 * p * r / (p + r))


def ngram_stats(prediction, reference, lang: Optional[str] = None, max_order: int = 4) -> BleuStats:
    """Clipped n-gram matches and totals of one (hypothesis, reference) pair."""
    hyp = tokenize(prediction, lang) if isinstance(prediction, str) else list(prediction)
    ref = tokenize(reference, lang) if isinstance(reference, str) else list(reference)
    matches, totals = [], []
    for n in range(1, max_order + 1):
        h = Counter(tuple(hyp[i : i + n]) for i in range(len(hyp) - n + 1))
        r = Counter(tuple(ref[i : i + n]) for i in range(len(ref) - n + 1))
        matches.append(sum(min(c, r[g]) for g, c in h.items()))
        totals.append(max(0, len(hyp) - n + 1))
    return matches, totals, len(hyp), len(ref)


def bleu_from_stats(
    matches: Sequence[int],
    totals: Sequence[int],
    hyp_len: int,
    ref_len: int,
    smooth: str = 'exp',
    effective_order: bool = False,
) -> float:
    """BLEU in [0, 100] from summed statistics (see the module docstring).

    Args:
        smooth: ``'exp'`` (sacreBLEU's default) or ``'none'``.
        effective_order: leave out orders for which the hypothesis has no n-gram.
    """
    if smooth not in ('exp', 'none'):
        raise ValueError(f"smooth={smooth!r}: expected 'exp' or 'none'")
    if hyp_len == 0 or not matches or matches[0] == 0:
        return 0.0
    order = len(matches)
    logs, factor = [], 1.0
    for n in range(order):
        if totals[n] == 0:
            if effective_order:
                order = n
                break
            return 0.0
        if matches[n] == 0:
            if smooth == 'none':
                return 0.0
            factor *= 2
            logs.append(math.log(1.0 / (factor * totals[n])))
        else:
            logs.append(math.log(matches[n] / totals[n]))
    brevity = 1.0 if hyp_len >= ref_len else math.exp(1 - ref_len / hyp_len)
    return 100.0 * brevity * math.exp(sum(logs[:order]) / order)


def sentence_bleu(
    prediction, reference, lang: Optional[str] = None, max_order: int = 4, smooth: str = 'exp'
) -> float:
    """Smoothed sentence BLEU-4 in [0, 100] (effective order, as sacreBLEU)."""
    return bleu_from_stats(
        *ngram_stats(prediction, reference, lang, max_order), smooth=smooth, effective_order=True
    )


def corpus_bleu(
    predictions: Sequence,
    references: Sequence,
    lang: Optional[str] = None,
    max_order: int = 4,
    smooth: str = 'exp',
) -> float:
    """Corpus BLEU-4 in [0, 100]: statistics summed over all pairs, then combined."""
    if len(predictions) != len(references):
        raise ValueError(f'{len(predictions)} predictions vs {len(references)} references')
    return bleu_from_stats(
        *sum_stats(ngram_stats(p, r, lang, max_order) for p, r in zip(predictions, references)),
        smooth=smooth,
    )


def sum_stats(stats) -> BleuStats:
    """Sum per-pair :func:`ngram_stats` (for corpus BLEU over collected results)."""
    matches: List[int] = []
    totals: List[int] = []
    hyp_len = ref_len = 0
    for m, t, h, r in stats:
        if not matches:
            matches, totals = [0] * len(m), [0] * len(t)
        matches = [a + b for a, b in zip(matches, m)]
        totals = [a + b for a, b in zip(totals, t)]
        hyp_len += h
        ref_len += r
    return matches or [0] * 4, totals or [0] * 4, hyp_len, ref_len
