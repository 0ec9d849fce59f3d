"""Gallery indexes: faiss indexes of tile embeddings with tile metadata, saved with a
manifest, loaded memory-mapped, built from the shards of a distributed embedding.

See ``docs/gallery_index.md`` for which index to pick and what it costs.
"""

from .factory import (
    FLAT_MAX_VECTORS,
    choose_index_factory,
    default_nprobe,
    estimate_index_bytes,
    ivf_nlist,
)
from .gallery_index import GalleryIndex, GalleryIndexMismatchError, GallerySearchResult
from .shards import MergedShards, finished_shards, merge_embedding_shards, write_embedding_shard
from .storage import atomic_directory, config_digest, sha256_file
from .tile_metadata import TileMetadata
from .topk_searcher import TopKIndexSearcher

__all__ = [
    'GalleryIndex',
    'GallerySearchResult',
    'GalleryIndexMismatchError',
    'TileMetadata',
    'TopKIndexSearcher',
    'choose_index_factory',
    'estimate_index_bytes',
    'ivf_nlist',
    'default_nprobe',
    'FLAT_MAX_VECTORS',
    'write_embedding_shard',
    'finished_shards',
    'merge_embedding_shards',
    'MergedShards',
    'atomic_directory',
    'config_digest',
    'sha256_file',
]
