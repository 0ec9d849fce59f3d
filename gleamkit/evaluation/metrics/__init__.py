"""Retrieval metrics and the protocol functions behind them."""

from .explanation import GleamXMetric
from .geo import EARTH_RADIUS_M, haversine_m, localisation_summary
from .ranking import (
    GalleryIdCounts,
    average_precision,
    cmc_hits,
    one_percent_k,
    rank_positions,
    recall_at_one_percent,
    summarise_ranking,
    summarise_topk,
    true_match_ranks,
    vigor_hit,
)
from .retrieval import CrossViewRetrievalMetric

__all__ = [
    'CrossViewRetrievalMetric',
    'rank_positions',
    'average_precision',
    'cmc_hits',
    'one_percent_k',
    'recall_at_one_percent',
    'vigor_hit',
    'summarise_ranking',
    'summarise_topk',
    'true_match_ranks',
    'GalleryIdCounts',
    'haversine_m',
    'localisation_summary',
    'EARTH_RADIUS_M',
]
__all__ += ['GleamXMetric']
