"""Evaluation: cross-view retrieval metrics and exact gallery search."""

from .metrics import (
    CrossViewRetrievalMetric,
    GleamXMetric,
    average_precision,
    cmc_hits,
    haversine_m,
    localisation_summary,
    rank_positions,
    recall_at_one_percent,
    summarise_ranking,
    vigor_hit,
)
from .search import ExactSearcher

__all__ = [
    'CrossViewRetrievalMetric',
    'ExactSearcher',
    'rank_positions',
    'average_precision',
    'cmc_hits',
    'recall_at_one_percent',
    'vigor_hit',
    'summarise_ranking',
    'haversine_m',
    'localisation_summary',
]
__all__ += ['GleamXMetric']
