"""Ranking protocols of cross-view geo-localisation, as pure numpy functions.

Every function here works on a *ranking*: the gallery ``location_id``\\ s of one
query sorted by descending similarity (``pred_ranked_ids`` of a
:class:`~gleamkit.structures.CrossViewDataSample`). Ranks are 0-based.

Protocol definitions (see ``GLEAM.md``, "Evaluation protocols"):

* **Junk** is removed from the ranking before anything is measured: any gallery
  item whose id is ``-1`` and, per query, any item whose id is in that query's
  ``junk_ids``. Junk wins over "good": an id that is both is removed. Gallery
  items that match no query (the 250 University-1652 distractor satellites) are
  *not* junk; they stay in the gallery, as in the official baseline.
* **True matches** ("good") are the gallery items with the query's
  ``location_id``. There may be many (satellite -> drone: ~54 per place).
* **R@K** (CMC curve): a hit when the first true match is at rank ``< K``.
* **R@1%**: a hit when the first true match is at rank ``< max(1, |G| // 100)``
  where ``|G|`` is the gallery size after junk removal. ``|G| = 250`` means the
  top 2 (ranks 0 and 1); ``|G| = 99`` still means the top 1.
* **AP** (official University-1652 trapezoid form): for the i-th true match
  (i = 0, 1, ...) at rank ``r_i`` add ``(1 / n_good) * (P_old + P_new) / 2`` with
  ``P_new = (i + 1) / (r_i + 1)`` and ``P_old = i / r_i`` (``1.0`` when
  ``r_i == 0``). With one true match AP is 1 at rank 0, else ``0.5 / (r + 1)``.
* **VIGOR hit rate**: a hit when the top-1 item (after junk removal) is the
  positive OR one of the query's semi-positives. R@K counts the positive only;
  semi-positives are ordinary negatives for R@K and AP.

A query with no true match in the gallery has ``first_rank = -1``: a miss for
every K and AP 0 (the official script skips such queries instead; we count them,
so a broken gallery cannot inflate the score).
"""

from typing import Dict, Iterable, Optional, Sequence, Union

import numpy as np

__all__ = [
    'NO_MATCH',
    'JUNK_ID',
    'as_int_array',
    'junk_mask',
    'rank_positions',
    'average_precision',
    'cmc_hits',
    'one_percent_k',
    'recall_at_one_percent',
    'vigor_hit',
    'summarise_ranking',
    'GalleryIdCounts',
    'true_match_ranks',
    'summarise_topk',
]

#: ``first_rank`` of a query whose true match is not in the gallery.
NO_MATCH = -1
#: Gallery id that is always junk.
JUNK_ID = -1

ArrayLike = Union[np.ndarray, Sequence[int], Iterable[int]]


def as_int_array(ids) -> np.ndarray:
    """Return ``ids`` (list, numpy array, torch tensor or None) as a 1-D int64 array."""
    if ids is None:
        return np.empty(0, dtype=np.int64)
    if hasattr(ids, 'detach'):  # torch tensor, possibly on GPU
        ids = ids.detach().cpu().numpy()
    arr = np.asarray(ids)
    if arr.dtype == object or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f'ids must be integers, got dtype {arr.dtype}')
    return arr.astype(np.int64, copy=False).reshape(-1)


def junk_mask(ranked_ids: ArrayLike, junk_ids: ArrayLike = ()) -> np.ndarray:
    """Boolean mask of the junk items of a ranking (id ``-1`` or in ``junk_ids``)."""
    ranked = as_int_array(ranked_ids)
    mask = ranked == JUNK_ID
    junk = as_int_array(junk_ids)
    if junk.size:
        mask |= np.isin(ranked, junk)
    return mask


def rank_positions(
    ranked_ids: ArrayLike, good_ids: ArrayLike, junk_ids: ArrayLike = ()
) -> np.ndarray:
    """0-based ranks of the true matches once junk is removed from the ranking.

    Args:
        ranked_ids: gallery ids sorted by descending similarity.
        good_ids: ids that count as a true match (usually the query's
            ``location_id``).
        junk_ids: ids removed from the ranking; ``-1`` is always junk.

    Returns:
        Sorted int64 array of the ranks of every true-match gallery item.

    Example:
        >>> rank_positions([4, -1, 7, 3, 7], good_ids=[7], junk_ids=[4])
        array([1, 2])
    """
    ranked = as_int_array(ranked_ids)
    kept = ranked[~junk_mask(ranked, junk_ids)]
    return np.flatnonzero(np.isin(kept, as_int_array(good_ids))).astype(np.int64)


def average_precision(good_ranks: ArrayLike, n_good: Optional[int] = None) -> float:
    """Official University-1652 trapezoid AP of one query.

    Args:
        good_ranks: 0-based ranks of the true matches after junk removal.
        n_good: number of true matches in the gallery. Defaults to
            ``len(good_ranks)``; larger when the ranking was truncated, in which
            case the missing matches contribute 0.

    Returns:
        AP in [0, 1]; 0 when ``n_good`` is 0.
    """
    ranks = np.sort(as_int_array(good_ranks)).astype(np.float64)
    if n_good is None:
        n_good = ranks.size
    if n_good <= 0 or ranks.size == 0:
        return 0.0
    if ranks.size > n_good:
        raise ValueError(f'{ranks.size} true-match ranks but n_good={n_good}')
    i = np.arange(ranks.size, dtype=np.float64)
    p_new = (i + 1.0) / (ranks + 1.0)
    # r_0 == 0 only for i == 0, where P_old is defined as 1.0
    p_old = np.where(ranks == 0, 1.0, i / np.maximum(ranks, 1.0))
    return float(np.sum((p_old + p_new) / 2.0) / n_good)


def cmc_hits(first_rank: Union[int, ArrayLike], ks: Iterable[int]) -> np.ndarray:
    """R@K hits from the CMC curve: ``first_rank < K`` for every K.

    Args:
        first_rank: rank of the first true match (scalar or array of queries);
            a negative value (:data:`NO_MATCH`) is a miss for every K.
        ks: the cut-offs K (each >= 1).

    Returns:
        Bool array of shape ``(len(ks),)`` for a scalar, ``(n, len(ks))`` otherwise.
    """
    ks = np.asarray(list(ks), dtype=np.int64)
    if np.any(ks < 1):
        raise ValueError(f'every K of R@K must be >= 1, got {ks.tolist()}')
    fr = np.asarray(first_rank, dtype=np.int64)
    hits = (fr[..., None] >= 0) & (fr[..., None] < ks)
    return hits


def one_percent_k(gallery_size: Union[int, ArrayLike]) -> np.ndarray:
    """The K of R@1%: ``max(1, |G| // 100)`` (|G| after junk removal)."""
    return np.maximum(1, np.asarray(gallery_size, dtype=np.int64) // 100)


def recall_at_one_percent(
    first_rank: Union[int, ArrayLike], gallery_size: Union[int, ArrayLike]
) -> np.ndarray:
    """R@1% hit: first true match at rank ``< max(1, |G| // 100)`` (0-based).

    Some public evaluations use ``rank <= |G| // 100`` (or round |G| / 100 up),
    which admits one more rank; this follows the definition exactly.
    """
    fr = np.asarray(first_rank, dtype=np.int64)
    return (fr >= 0) & (fr < one_percent_k(gallery_size))


def vigor_hit(
    ranked_ids: ArrayLike,
    positive_id: int,
    semi_positive_ids: ArrayLike = (),
    junk_ids: ArrayLike = (),
) -> bool:
    """VIGOR hit: top-1 item (after junk) is the positive or a semi-positive."""
    ranked = as_int_array(ranked_ids)
    kept = ranked[~junk_mask(ranked, junk_ids)]
    if kept.size == 0:
        return False
    top1 = int(kept[0])
    return top1 == int(positive_id) or top1 in set(as_int_array(semi_positive_ids).tolist())


def summarise_ranking(
    ranked_ids: ArrayLike,
    location_id: int,
    junk_ids: ArrayLike = (),
    semi_positive_ids: ArrayLike = (),
) -> Dict[str, Union[int, float, bool]]:
    """Reduce one query's full ranking to the numbers every protocol needs.

    One pass over the ranking, so that a metric never has to keep it.

    Returns:
        dict with ``first_rank`` (:data:`NO_MATCH` when there is no true match),
        ``ap``, ``n_good`` (true matches after junk), ``gallery_size`` (after all
        junk), ``gallery_total`` (after removing id ``-1`` only, i.e. the gallery
        every query of the protocol shares) and ``hit`` (VIGOR hit rate).
    """
    ranked = as_int_array(ranked_ids)
    always_junk = ranked == JUNK_ID
    junk = junk_mask(ranked, junk_ids)
    kept = ranked[~junk]
    good_ranks = np.flatnonzero(kept == int(location_id))
    n_good = int(good_ranks.size)
    first_rank = int(good_ranks[0]) if n_good else NO_MATCH
    if kept.size:
        top1 = int(kept[0])
        semi = as_int_array(semi_positive_ids)
        hit = top1 == int(location_id) or bool(np.any(semi == top1))
    else:
        hit = False
    return dict(
        first_rank=first_rank,
        ap=average_precision(good_ranks, n_good),
        n_good=n_good,
        gallery_size=int(kept.size),
        gallery_total=int(ranked.size - np.count_nonzero(always_junk)),
        hit=bool(hit),
    )


# --------------------------------------------------------------------- top-K rankings
# Evaluation through a gallery index keeps only the top K of each ranking. What the
# full ranking gave for free (|G|, n_good, the ranks of matches beyond K) then comes
# from the gallery's id counts, and AP from exact scores (see docs/gallery_index.md).


class GalleryIdCounts:
    """How often each location id occurs in a gallery: what a top-K ranking lacks.

    Args:
        gallery_ids: the ``location_id`` of every gallery item (``-1`` = junk).
    """

    def __init__(self, gallery_ids: ArrayLike):
        ids = as_int_array(gallery_ids)
        values, counts = np.unique(ids, return_counts=True)
        self.counts = dict(zip(values.tolist(), counts.tolist()))
        self.size = int(ids.size)
        #: items that are not always-junk (id -1): every query's gallery before its junk_ids
        self.total = self.size - self.counts.get(JUNK_ID, 0)

    def __len__(self) -> int:
        return self.size

    def n_good(self, location_id: int, junk_ids: ArrayLike = ()) -> int:
        """True matches of ``location_id`` once junk is removed (junk wins)."""
        junk = set(as_int_array(junk_ids).tolist()) | {JUNK_ID}
        return 0 if int(location_id) in junk else self.counts.get(int(location_id), 0)

    def gallery_size(self, junk_ids: ArrayLike = ()) -> int:
        """``|G|`` after removing id ``-1`` and ``junk_ids``."""
        junk = set(as_int_array(junk_ids).tolist()) - {JUNK_ID}
        return self.total - sum(self.counts.get(j, 0) for j in junk)


def true_match_ranks(
    scores: ArrayLike, gallery_ids: ArrayLike, location_id: int, junk_ids: ArrayLike = ()
) -> np.ndarray:
    """Exact 0-based ranks of a query's true matches, from its scores, without sorting.

    The rank of a true match is the number of non-junk gallery items ranked above it:
    a higher score, or the same score at a lower gallery position (the order
    :class:`~gleamkit.evaluation.search.ExactSearcher` gives ties). Costs
    ``O(N log n_good)`` and keeps nothing of size N, so AP stays exact when only the
    top K of the ranking is kept.

    Args:
        scores: ``(N,)`` similarities of one query to every gallery item.
        gallery_ids: ``(N,)`` gallery location ids.
        location_id: the query's place.
        junk_ids: the query's junk ids (``-1`` is always junk).

    Returns:
        Sorted int64 array, one rank per true match after junk removal; equal to
        ``rank_positions(ranked_ids, [location_id], junk_ids)`` of the full ranking.
    """
    scores = np.asarray(scores).reshape(-1)
    ids = as_int_array(gallery_ids)
    if scores.shape != ids.shape:
        raise ValueError(f'{scores.size} scores for {ids.size} gallery ids')
    keep = ~junk_mask(ids, junk_ids)
    good = np.flatnonzero(keep & (ids == int(location_id)))
    if good.size == 0:
        return np.empty(0, dtype=np.int64)
    kept_pos = np.flatnonzero(keep)
    kept_scores = scores[kept_pos]
    order = np.argsort(scores[good], kind='stable')  # ascending thresholds
    thresholds, owners = scores[good][order], good[order]
    below = np.searchsorted(thresholds, kept_scores, side='left')  # thresholds < s
    # items strictly above threshold a: those with `below > a`
    hist = np.bincount(below, minlength=good.size + 1)
    above = np.cumsum(hist[::-1])[::-1][1:]  # above[a] = #{below > a}
    ranks = above.astype(np.int64)
    # ties: an item with the same score ranks above a true match at a higher position
    upto = np.searchsorted(thresholds, kept_scores, side='right')
    for j in np.flatnonzero(upto > below):
        for a in range(below[j], upto[j]):
            if kept_pos[j] < owners[a]:
                ranks[a] += 1
    return np.sort(ranks)


def summarise_topk(
    ranked_ids: ArrayLike,
    location_id: int,
    gallery: GalleryIdCounts,
    junk_ids: ArrayLike = (),
    semi_positive_ids: ArrayLike = (),
    good_ranks: Optional[ArrayLike] = None,
) -> Dict[str, Union[int, float, bool, None]]:
    """:func:`summarise_ranking` of a ranking cut to its top K (a gallery index's answer).

    What the top K decides exactly is returned as such; what it cannot decide is
    marked so a metric reports it as unavailable instead of guessing:

    * ``first_rank``: exact when a true match is among the kept items (or the gallery
      has none, :data:`NO_MATCH`); otherwise ``depth`` with ``found=False``: the
      first match lies at rank ``>= depth``, so R@k is a miss for ``k <= depth``
      and unknown beyond.
    * ``depth``: kept (non-junk) items of the top K, the ranks it decides.
    * ``n_good``, ``gallery_size``, ``gallery_total``: exact, from ``gallery``.
    * ``ap``: exact from ``good_ranks`` (e.g. :func:`true_match_ranks` of exact
      scores) when given, else None (unavailable).
    * ``hit`` (VIGOR): exact when ``depth >= 1``, else None.
    """
    ranked = as_int_array(ranked_ids)
    junk = as_int_array(junk_ids)
    kept = ranked[~junk_mask(ranked, junk)]
    n_good = gallery.n_good(location_id, junk)
    matches = np.flatnonzero(kept == int(location_id)) if n_good else np.empty(0, np.int64)
    found = bool(matches.size) or n_good == 0
    if matches.size:
        first_rank = int(matches[0])
    elif n_good == 0:
        first_rank = NO_MATCH
    else:
        first_rank = int(kept.size)
    hit = None
    if kept.size:
        top1 = int(kept[0])
        hit = top1 == int(location_id) or bool(np.any(as_int_array(semi_positive_ids) == top1))
    ap = None
    if good_ranks is not None:
        good_ranks = as_int_array(good_ranks)
        if good_ranks.size != n_good:
            raise ValueError(
                f'{good_ranks.size} true-match ranks for location {location_id}, but the '
                f'gallery holds {n_good} of its items'
            )
        ap = average_precision(good_ranks, n_good)
    return dict(
        first_rank=first_rank,
        found=found,
        depth=int(kept.size),
        ap=ap,
        n_good=n_good,
        gallery_size=gallery.gallery_size(junk),
        gallery_total=gallery.total,
        hit=hit,
    )
