"""The scored route of GLEAM-X's match metric: ranking, calibration and the threshold.

Pure functions over ``labels`` (1 match / 0 no match) and ``p_match`` (the
explainer's P(match), :meth:`score_batch`):

* :func:`roc_auc` - probability that a random match scores above a random
  non-match (ties count one half; the Mann-Whitney statistic);
* :func:`expected_calibration_error` - ``sum_b (n_b / n) * |acc_b - conf_b|``
  over ``num_bins`` equal-width bins of P(match) in [0, 1], where ``conf_b`` is
  the mean P(match) of the bin and ``acc_b`` its share of true matches (the
  reliability of P(match) itself, not of the predicted class);
* :func:`balanced_threshold` - the threshold that removes the no-match bias: the
  one maximising balanced accuracy (mean of the match and no-match recalls) on a
  validation split, chosen among the midpoints between sorted distinct scores
  (ties: the one closest to 0.5), then applied unchanged to the test split;
* :func:`reliability_diagram` - the per-bin accuracy against confidence, as a PNG.
"""

from typing import Dict, List, Optional, Sequence

import numpy as np

__all__ = [
    'roc_auc',
    'expected_calibration_error',
    'reliability_bins',
    'balanced_threshold',
    'balanced_accuracy',
    'reliability_diagram',
]


def _arrays(labels, scores):
    y = np.asarray(labels, dtype=np.int64)
    p = np.asarray(scores, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 1:
        raise ValueError(f'labels {y.shape} and scores {p.shape} must be 1-D and equal')
    if not np.isin(y, (0, 1)).all():
        raise ValueError('labels must be 0 or 1')
    return y, p


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> Optional[float]:
    """ROC AUC (None when one class is absent)."""
    y, p = _arrays(labels, scores)
    pos, neg = p[y == 1], p[y == 0]
    if not len(pos) or not len(neg):
        return None
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def reliability_bins(
    labels: Sequence[int], scores: Sequence[float], num_bins: int = 10
) -> List[Dict[str, float]]:
    """``[dict(low, high, count, confidence, accuracy)]`` per equal-width bin (bins
    are ``[low, high)``, the last one closed)."""
    y, p = _arrays(labels, scores)
    if num_bins < 1:
        raise ValueError(f'num_bins={num_bins}: expected >= 1')
    edges = np.linspace(0.0, 1.0, num_bins + 1)
    which = np.clip(np.searchsorted(edges, p, side='right') - 1, 0, num_bins - 1)
    out = []
    for b in range(num_bins):
        mask = which == b
        n = int(mask.sum())
        out.append(
            dict(
                low=float(edges[b]),
                high=float(edges[b + 1]),
                count=n,
                confidence=float(p[mask].mean()) if n else float('nan'),
                accuracy=float(y[mask].mean()) if n else float('nan'),
            )
        )
    return out


def expected_calibration_error(
    labels: Sequence[int], scores: Sequence[float], num_bins: int = 10
) -> float:
    """ECE of P(match) over ``num_bins`` equal-width bins (see the module doc)."""
    bins = reliability_bins(labels, scores, num_bins)
    n = sum(b['count'] for b in bins)
    if n == 0:
        raise ValueError('no samples')
    return float(
        sum(b['count'] / n * abs(b['accuracy'] - b['confidence']) for b in bins if b['count'])
    )


def balanced_accuracy(labels: Sequence[int], scores: Sequence[float], threshold: float) -> float:
    """Mean of the recalls of match and no-match at ``p >= threshold``."""
    y, p = _arrays(labels, scores)
    pred = p >= threshold
    recalls = [float(np.mean(pred[y == 1])) if (y == 1).any() else None]
    recalls.append(float(np.mean(~pred[y == 0])) if (y == 0).any() else None)
    recalls = [r for r in recalls if r is not None]
    return float(np.mean(recalls))


def balanced_threshold(labels: Sequence[int], scores: Sequence[float]) -> float:
    """The threshold maximising balanced accuracy (see the module doc)."""
    _, p = _arrays(labels, scores)
    values = np.unique(p)
    candidates = np.concatenate(
        [[0.0], (values[1:] + values[:-1]) / 2 if len(values) > 1 else [], [1.0 + 1e-12]]
    )
    if len(values) == 1:
        candidates = np.array([values[0], 1.0 + 1e-12])
    best = max(
        candidates,
        key=lambda t: (round(balanced_accuracy(labels, scores, t), 12), -abs(t - 0.5)),
    )
    return float(best)


def reliability_diagram(
    labels: Sequence[int], scores: Sequence[float], path: str, num_bins: int = 10, title: str = ''
) -> str:
    """Write the reliability diagram (accuracy per bin vs. confidence) as a PNG."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    bins = reliability_bins(labels, scores, num_bins)
    ece = expected_calibration_error(labels, scores, num_bins)
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    width = 1.0 / num_bins
    filled = [b for b in bins if b['count']]
    ax.bar(
        [b['low'] for b in filled],
        [b['accuracy'] for b in filled],
        width=width,
        align='edge',
        edgecolor='k',
        label='share of matches',
    )
    ax.plot([0, 1], [0, 1], 'r--', label='perfect calibration')
    ax.set_xlabel('P(match)')
    ax.set_ylabel('share of true matches')
    ax.set_title(f'{title} ECE={ece:.3f} ({num_bins} bins)'.strip())
    ax.legend(loc='upper left')
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
