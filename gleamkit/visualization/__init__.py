"""Drawing: the localisation report and HTML map, GLEAM-C's similarity heat maps, retrieval
grids and recall@K curves (through mmengine's ``Visualizer``). The ``tools/test.py --show-dir`` hook
that draws them for a sample of test queries is
:class:`gleamkit.engine.hooks.RetrievalVisualizationHook`."""

from .cross_view_visualizer import (
    CrossViewVisualizer,
    recall_at_k,
    recall_curves,
    retrieval_grid,
    similarity_heatmaps,
)
from .localization_map import write_localization_map
from .localization_report import (
    draw_localization_report,
    footprint_contains,
    raster_thumbnail_wgs84,
)
from .similarity_decomposition import (
    Contributions,
    SimilarityExplanation,
    embedding_contributions,
    explain_similarity,
)

__all__ = [
    'draw_localization_report',
    'footprint_contains',
    'raster_thumbnail_wgs84',
    'CrossViewVisualizer',
    'similarity_heatmaps',
    'retrieval_grid',
    'recall_curves',
    'recall_at_k',
    'Contributions',
    'SimilarityExplanation',
    'embedding_contributions',
    'explain_similarity',
    'write_localization_map',
]
