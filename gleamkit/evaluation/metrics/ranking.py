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
