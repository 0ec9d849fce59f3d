"""Cross-view retrieval metric: R@K, R@1%, AP, VIGOR hit rate, localisation error."""

import logging
import math
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from gleamkit.registry import EVALUATORS

from .geo import DEFAULT_THRESHOLDS_M, haversine_m, localisation_summary
from .ranking import (
    NO_MATCH,
    GalleryIdCounts,
    as_int_array,
    cmc_hits,
    one_percent_k,
    recall_at_one_percent,
    summarise_ranking,
    summarise_topk,
    true_match_ranks,
)

__all__ = ['CrossViewRetrievalMetric']


@EVALUATORS.register_module()
class CrossViewRetrievalMetric(BaseMetric):
    """Retrieval metrics of query views (UAV, map, panorama, ground) vs a gallery.

    Each data sample (a :class:`~gleamkit.structures.CrossViewDataSample`, turned
    into a dict by mmengine's ``Evaluator``) must carry ``view``,
    ``location_id`` and ``pred_ranked_ids`` (the *full* ranking of gallery
    location ids, as the model writes it in ``predict`` mode); optional are
    ``junk_ids``, ``semi_positive_ids``, ``lat``/``lon`` (true position) and
    ``pred_lat``/``pred_lon`` (position of the top-1 gallery item). ``process``
    reduces every sample to a handful of numbers; rankings are never stored, so
    collecting results across ranks stays cheap.

    The protocols are those of :mod:`gleamkit.evaluation.metrics.ranking`: junk
    (id ``-1`` and per-query ``junk_ids``) is removed first; distractors (gallery
    items that match no query) are kept; R@K from the CMC curve; R@1% is a hit at
    rank ``< max(1, |G| // 100)``; AP is the official University-1652 trapezoid
    AP; the VIGOR hit rate counts a top-1 positive or semi-positive. A query whose
    true match is not in the gallery counts as a miss with AP 0 (a warning says
    how many).

    Args:
        topk (Sequence[int]): the K of R@K. Defaults to ``(1, 5, 10)``.
        with_one_percent (bool): report ``R@1%``. Defaults to True.
        with_ap (bool): report ``AP`` (mean over queries). Defaults to True.
        with_hit_rate (bool): report ``hit_rate`` when any sample has
            ``semi_positive_ids`` (a sample without them hits when its top-1 is
            the positive, i.e. counts as for R@1). Defaults to True.
        distance_thresholds (Sequence[float]): metres for ``within_<t>m``;
            localisation keys appear only when samples carry ``lat``, ``lon``,
            ``pred_lat`` and ``pred_lon``. Defaults to ``(25, 50, 100, 250, 1000)``.
        per_view (bool): also report every metric per query view as
            ``<view>/<key>``. Defaults to True.
        prefix (str, optional): prepended by mmengine as ``<prefix>/<key>``.
            Defaults to ``'retrieval'``.
        collect_device (str): ``'cpu'`` or ``'gpu'``, for collecting results
            across ranks. Defaults to ``'cpu'``.
        collect_dir (str, optional): directory for CPU collection.
            Defaults to None.

    Metric keys (percentages in [0, 100]): ``R@<K>``, ``R@1%``, ``AP``,
    ``hit_rate``, ``median_error_m``, ``within_<t>m``, ``num_localised``,
    ``chance_R@1`` (mean of ``n_good / |G|``: ``1 / |G|`` for one true match),
    ``num_queries``, ``gallery_size`` (median ``|G|`` after junk removal); per
    view the same with a ``<view>/`` prefix, e.g. ``uav/R@1``.

    ``dataset_meta`` may set ``gallery_view`` (default ``'satellite'``), used to
    name the gallery in the printed table.

    **Top-K rankings** (evaluation through a gallery index, ``index=dict(...)`` of
    :class:`~gleamkit.engine.loops.RetrievalTestLoop`): the loop calls
    :meth:`set_gallery` and samples carry only the top K of their ranking. What the
    top K decides is then exact (R@k while the first match is found or ``k`` is
    within the kept depth, hit rate, ``|G|``, ``n_good``, chance); AP comes from the
    exact scores of the query against the whole gallery (its ``embedding``), computed
    batch by batch and never kept, or is unavailable. An undecidable metric is left
    out (``-`` in the table, the reason in ``metric.unavailable``) with a warning
    that says which K would decide it; it is never approximated. Which metric is
    exact under which index: ``docs/gallery_index.md``.
    """

    default_prefix = 'retrieval'

    def __init__(
        self,
        topk: Sequence[int] = (1, 5, 10),
        with_one_percent: bool = True,
        with_ap: bool = True,
        with_hit_rate: bool = True,
        distance_thresholds: Sequence[float] = DEFAULT_THRESHOLDS_M,
        per_view: bool = True,
        prefix: Optional[str] = 'retrieval',
        collect_device: str = 'cpu',
        collect_dir: Optional[str] = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        topk = (topk,) if isinstance(topk, int) else tuple(topk)
        if not topk or any(int(k) != k or k < 1 for k in topk):
            raise ValueError(f'topk must be positive integers, got {topk}')
        self.topk = tuple(sorted(set(int(k) for k in topk)))
        self.with_one_percent = with_one_percent
        self.with_ap = with_ap
        self.with_hit_rate = with_hit_rate
        self.distance_thresholds = tuple(float(t) for t in distance_thresholds)
        self.per_view = per_view
        self._gallery: Optional[GalleryIdCounts] = None
        self._gallery_ids: Optional[np.ndarray] = None
        self._gallery_embeddings: Optional[np.ndarray] = None
        self._ranking_note: Optional[str] = None
        #: metric keys left out by the last compute_metrics, with the reason
        self.unavailable: Dict[str, str] = {}

    def set_gallery(
        self, location_ids, embeddings=None, ranking_note: Optional[str] = None
    ) -> None:
        """The gallery behind top-K rankings (called by the retrieval loop with an index).

        Args:
            location_ids: ``(N,)`` location id of every gallery item.
            embeddings: ``(N, D)`` gallery embeddings for exact AP, or None (AP is then
                unavailable for top-K rankings). Defaults to None.
            ranking_note: how the rankings were made, for the printed table.
                Defaults to None.
        """
        self._gallery_ids = as_int_array(location_ids)
        self._gallery = GalleryIdCounts(self._gallery_ids)
        if embeddings is not None:
            if hasattr(embeddings, 'detach'):
                embeddings = embeddings.detach().cpu().numpy()
            embeddings = np.asarray(embeddings, dtype=np.float32)
            if embeddings.ndim != 2 or len(embeddings) != len(self._gallery_ids):
                raise ValueError(
                    f'CrossViewRetrievalMetric.set_gallery: embeddings {embeddings.shape} '
                    f'do not match {len(self._gallery_ids)} location ids'
                )
        self._gallery_embeddings = embeddings
        self._ranking_note = ranking_note

    # ------------------------------------------------------------------ process
    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Reduce every sample to its first-hit rank, AP, gallery size, hit and error.

        One result per sample (not per batch): mmengine's ``collect_results``
        drops the sampler's padding by truncating the gathered list to the
        dataset size, which is only right when each element is one sample.
        """
        samples = [s.to_dict() if hasattr(s, 'to_dict') else s for s in data_samples]
        good_ranks = self._exact_good_ranks(samples)
        for sample, ranks in zip(samples, good_ranks):
            self.results.append(self._reduce(sample, ranks))

    def _is_topk(self, sample: dict) -> bool:
        ranked = sample.get('pred_ranked_ids')
        return self._gallery is not None and ranked is not None and len(ranked) < self._gallery.size

    def _exact_good_ranks(self, samples: List[dict]) -> List[Optional[np.ndarray]]:
        """Exact true-match ranks of the top-K samples (for AP), from exact scores."""
        out: List[Optional[np.ndarray]] = [None] * len(samples)
        if not self.with_ap or self._gallery_embeddings is None:
            return out
        rows = [i for i, s in enumerate(samples) if self._is_topk(s)]
        for i in rows:
            if samples[i].get('embedding') is None:
                raise KeyError(
                    'CrossViewRetrievalMetric: exact AP of a top-K ranking needs the '
                    "query's `embedding` on its data sample (CrossViewRetriever.predict "
                    'sets it); this sample has none. Keys: ' + str(sorted(samples[i]))
                )
        # a (chunk, N) float32 score block of at most ~64 MB at a time; nothing of size N is kept
        chunk = max(1, min(64, (16 << 20) // max(1, len(self._gallery_ids))))
        for lo in range(0, len(rows), chunk):
            part = rows[lo : lo + chunk]
            queries = np.stack([_as_numpy(samples[i]['embedding']) for i in part])
            scores = queries.astype(np.float32) @ self._gallery_embeddings.T
            for row, i in zip(scores, part):
                out[i] = true_match_ranks(
                    row,
                    self._gallery_ids,
                    int(samples[i]['location_id']),
                    as_int_array(samples[i].get('junk_ids')),
                )
        return out

    def _reduce(self, sample: dict, good_ranks: Optional[np.ndarray] = None) -> dict:
        if sample.get('pred_ranked_ids') is None:
            raise KeyError(
                'CrossViewRetrievalMetric: a data sample has no `pred_ranked_ids`. The model '
                'must run in predict mode with a prepared gallery (gallery embeddings '
                'extracted and indexed before the queries), so that each query sample '
                'carries the full ranking of gallery location ids. Sample keys: '
                f'{sorted(sample.keys())}'
            )
        if sample.get('location_id') is None:
            raise KeyError(
                'CrossViewRetrievalMetric: a data sample has no `location_id`; '
                f'sample keys: {sorted(sample.keys())}'
            )
        semi = sample.get('semi_positive_ids')
        if self._is_topk(sample):
            summary = summarise_topk(
                sample['pred_ranked_ids'],
                int(sample['location_id']),
                self._gallery,
                junk_ids=as_int_array(sample.get('junk_ids')),
                semi_positive_ids=as_int_array(semi),
                good_ranks=good_ranks,
            )
        else:
            summary = summarise_ranking(
                sample['pred_ranked_ids'],
                int(sample['location_id']),
                junk_ids=as_int_array(sample.get('junk_ids')),
                semi_positive_ids=as_int_array(semi),
            )
        summary['view'] = str(sample.get('view') or 'unknown')
        summary['location_id'] = int(sample['location_id'])
        summary['has_semi'] = semi is not None
        summary['error_m'] = _localisation_error(sample)
        return summary

    # ------------------------------------------------------------------ compute
    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Aggregate per-sample results, overall and per view, and print a table."""
        if not results:
            raise ValueError(
                'CrossViewRetrievalMetric received no results: the evaluation dataloader '
                'yielded no query samples (empty query split, or process() was never '
                'called). Check the dataset and that the model runs in predict mode.'
            )
        groups: Dict[str, List[dict]] = OrderedDict(all=results)
        if self.per_view:
            for view in sorted({r['view'] for r in results}):
                groups[view] = [r for r in results if r['view'] == view]

        self.unavailable: Dict[str, str] = {}
        rows = OrderedDict((name, self._summarise(rs)) for name, rs in groups.items())
        metrics: Dict[str, float] = {}
        for name, row in rows.items():
            key_prefix = '' if name == 'all' else f'{name}/'
            metrics.update({key_prefix + k: v for k, v in row.items()})

        n_no_match = sum(r['first_rank'] == NO_MATCH for r in results)
        if self.unavailable:
            print_log(
                'CrossViewRetrievalMetric: left out, the top-K rankings cannot decide them '
                '(never approximated): '
                + '; '.join(f'{k}: {why}' for k, why in self.unavailable.items()),
                logger='current',
                level=logging.WARNING,
            )
        if n_no_match:
            print_log(
                f'CrossViewRetrievalMetric: {n_no_match} of {len(results)} queries have '
                'no true match in the gallery; counted as misses with AP 0.',
                logger='current',
                level=logging.WARNING,
            )
        print_log('\n' + self._format_table(rows, groups), logger='current')
        return metrics

    def _summarise(self, rs: List[dict]) -> Dict[str, float]:
        gallery = np.array([r['gallery_size'] for r in rs], dtype=np.int64)
        n_good = np.array([r['n_good'] for r in rs], dtype=np.float64)
        # top-K rankings: a match not found in the top K is a miss for every cut-off
        # within the kept depth and unknown beyond it
        found = np.array([r.get('found', True) for r in rs], dtype=bool)
        depth = np.array([r.get('depth', r['gallery_size']) for r in rs], dtype=np.int64)
        first_rank = np.array([r['first_rank'] for r in rs], dtype=np.int64)
        first_rank = np.where(found, first_rank, np.iinfo(np.int64).max)
        out: Dict[str, float] = {}
        hits = cmc_hits(first_rank, self.topk)
        for j, k in enumerate(self.topk):
            if self._decided(f'R@{k}', found | (k <= depth), k):
                out[f'R@{k}'] = float(hits[:, j].mean() * 100.0)
        if self.with_one_percent:
            k1 = one_percent_k(gallery)
            if self._decided('R@1%', found | (k1 <= depth), int(k1.max())):
                out['R@1%'] = float(recall_at_one_percent(first_rank, gallery).mean() * 100.0)
        if self.with_ap:
            if any(r['ap'] is None for r in rs):
                self.unavailable['AP'] = (
                    'needs the full ranking; the loop computes it exactly from the '
                    'gallery embeddings unless index=dict(exact_ap=False)'
                )
            else:
                out['AP'] = float(np.mean([r['ap'] for r in rs]) * 100.0)
        if self.with_hit_rate and any(r['has_semi'] for r in rs):
            if any(r['hit'] is None for r in rs):
                self.unavailable['hit_rate'] = 'a top-K ranking held only junk; raise topk'
            else:
                out['hit_rate'] = float(np.mean([r['hit'] for r in rs]) * 100.0)
        out.update(localisation_summary([r['error_m'] for r in rs], self.distance_thresholds))
        chance = np.divide(n_good, gallery, out=np.zeros_like(n_good), where=gallery > 0)
        out['chance_R@1'] = float(np.minimum(chance, 1.0).mean() * 100.0)
        out['num_queries'] = len(rs)
        median_g = float(np.median(gallery))
        out['gallery_size'] = int(median_g) if median_g.is_integer() else median_g
        return out

    def _decided(self, key: str, decided: np.ndarray, k: int) -> bool:
        if decided.all():
            return True
        self.unavailable.setdefault(
            key,
            f'{int((~decided).sum())} queries have no match in their kept top-K and '
            f'fewer than {k} non-junk items there; rank with topk >= {k} plus the junk',
        )
        return False

    # ------------------------------------------------------------------ table
    def _gallery_line(self, name: str, rs: List[dict]) -> str:
        meta = self.dataset_meta or {}
        gallery_view = meta.get('gallery_view', 'satellite')
        noun = 'satellite tiles' if gallery_view == 'satellite' else f'{gallery_view} images'
        total = max(r['gallery_total'] for r in rs)
        sizes = sorted({r['gallery_size'] for r in rs})
        text = f'gallery ({name}): {total} {noun}'
        if all(r['gallery_size'] == r['gallery_total'] for r in rs):
            # Each location's n_good is the number of its gallery items, so the
            # rest of the gallery matches none of these queries: distractors.
            per_location: Dict[int, int] = {}
            for r in rs:
                per_location[r['location_id']] = max(
                    r['n_good'], per_location.get(r['location_id'], 0)
                )
            n_distractors = total - sum(per_location.values())
            text += (
                f' incl. {n_distractors} distractors (items matching no query; kept, '
                'as in the official protocol)'
            )
        else:
            text += f'; after per-query junk removal |G| = {sizes[0]}' + (
                f'..{sizes[-1]}' if len(sizes) > 1 else ''
            )
        return text

    def _format_table(
        self, rows: Dict[str, Dict[str, float]], groups: Dict[str, List[dict]]
    ) -> str:
        from prettytable import PrettyTable

        columns: List[str] = []
        for row in rows.values():
            columns += [k for k in row if k not in columns]
        table = PrettyTable()
        table.field_names = ['view'] + columns
        # views first, the overall row last, as in a paper's table
        order = [n for n in rows if n != 'all'] + ['all']
        for name in order:
            row = rows[name]
            table.add_row([name] + [_fmt(c, row.get(c)) for c in columns])
        table.align = 'r'
        table.align['view'] = 'l'

        line_groups = [n for n in groups if n != 'all'] or ['all']
        lines = [self._gallery_line(n, groups[n]) for n in line_groups]
        lines.append(
            'protocol: junk (id -1, per-query junk_ids) removed before ranking; '
            'R@K from the CMC curve; R@1% = rank < max(1, |G| // 100); '
            'AP = University-1652 trapezoid AP; hit_rate = top-1 positive or '
            'semi-positive; percentages in [0, 100]'
        )
        if self._ranking_note:
            lines.append(self._ranking_note)
        return '\n'.join([str(table)] + lines)


def _localisation_error(sample: dict) -> float:
    values = [sample.get(k) for k in ('lat', 'lon', 'pred_lat', 'pred_lon')]
    if any(v is None for v in values):
        return math.nan
    values = [float(v.item()) if hasattr(v, 'item') else float(v) for v in values]
    return float(haversine_m(*values))


def _as_numpy(x) -> np.ndarray:
    if hasattr(x, 'detach'):
        x = x.detach().cpu().float().numpy()
    return np.asarray(x, dtype=np.float32).reshape(-1)


def _fmt(column: str, value) -> str:
    if value is None:
        return '-'
    if column in ('num_queries', 'num_localised', 'gallery_size'):
        return f'{value:g}' if isinstance(value, float) else str(value)
    if column == 'median_error_m':
        return f'{value:.1f}'
    return f'{value:.2f}'
