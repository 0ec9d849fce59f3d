"""Evaluation through a gallery index: keep each query's top K, not its full ranking."""

from typing import Optional, Tuple

import numpy as np

from .gallery_index import GalleryIndex

__all__ = ['TopKIndexSearcher', 'INDEX_OPTION_KEYS', 'check_index_option', 'set_test_index']

#: Keys of the retrieval loops' ``index=dict(...)`` option.
INDEX_OPTION_KEYS = ('factory', 'topk', 'nprobe', 'ef_search', 'exact_ap', 'train_size', 'seed')


def check_index_option(index: Optional[dict], owner: str) -> Optional[dict]:
    """Validate a loop's ``index=dict(factory=..., topk=K, ...)``; None stays None.

    Raises:
        ValueError: unknown keys, a missing factory, or a topk that is not a positive int.
    """
    if index is None:
        return None
    if not isinstance(index, dict):
        raise TypeError(
            f'{owner}: index must be a dict like dict(factory="IVF1024,PQ32", topk=100), '
            f'got {type(index).__name__}'
        )
    unknown = sorted(set(index) - set(INDEX_OPTION_KEYS))
    if unknown:
        raise ValueError(f'{owner}: index has unknown keys {unknown}; expected {INDEX_OPTION_KEYS}')
    if not isinstance(index.get('factory'), str) or not index['factory']:
        raise ValueError(
            f'{owner}: index needs factory, a faiss index_factory string ("Flat", '
            f'"HNSW32", "IVF1024,PQ32"), got {index.get("factory")!r}'
        )
    topk = index.get('topk', 100)
    if isinstance(topk, bool) or not isinstance(topk, int) or topk < 1:
        raise ValueError(f'{owner}: index topk must be a positive int, got {topk!r}')
    return dict(index, topk=topk, exact_ap=bool(index.get('exact_ap', True)))


def set_test_index(
    cfg,
    factory: str,
    topk: int = 100,
    nprobe: Optional[int] = None,
    exact_ap: bool = True,
) -> None:
    """Put ``tools/test.py --index FACTORY --topk K`` into ``cfg.test_cfg.index``.

    Raises:
        ValueError: the config's ``test_cfg`` is not a retrieval loop.
    """
    test_cfg = cfg.get('test_cfg') or {}
    loop = test_cfg.get('type')
    name = loop if isinstance(loop, str) else getattr(loop, '__name__', repr(loop))
    if name not in ('RetrievalTestLoop', 'gleamkit.RetrievalTestLoop'):
        raise ValueError(
            f'--index needs test_cfg = dict(type=RetrievalTestLoop, ...); this config has '
            f'test_cfg type {name!r}'
        )
    option = dict(factory=factory, topk=topk, exact_ap=exact_ap)
    if nprobe is not None:
        option['nprobe'] = nprobe
    test_cfg['index'] = check_index_option(option, '--index')
    cfg.test_cfg = test_cfg


class TopKIndexSearcher:
    """A :class:`~gleamkit.index.GalleryIndex` that answers with the top ``topk`` only.

    It has :class:`~gleamkit.evaluation.search.ExactSearcher`'s ``search(queries,
    k=None)``, so :meth:`CrossViewRetriever.set_gallery(..., searcher=...)
    <gleamkit.models.retrievers.CrossViewRetriever.set_gallery>` takes it and
    ``predict`` keeps ``topk`` ids per query instead of the gallery's N.

    Args:
        index (GalleryIndex): the gallery, indexed (positions = gallery order).
        topk (int): results per query. Defaults to 100.
    """

    def __init__(self, index: GalleryIndex, topk: int = 100):
        if int(topk) < 1:
            raise ValueError(f'TopKIndexSearcher: topk must be >= 1, got {topk}')
        self.gallery_index = index
        self.topk = int(topk)

    @classmethod
    def build(
        cls,
        embeddings,
        factory: str,
        topk: int = 100,
        nprobe: Optional[int] = None,
        ef_search: Optional[int] = None,
        train_size: Optional[int] = None,
        seed: int = 0,
        device='cpu',
    ) -> 'TopKIndexSearcher':
        """Index ``(N, D)`` L2-normalised embeddings with ``factory``.

        The arguments are those of :meth:`GalleryIndex.build`.
        """
        n = len(embeddings)
        index = GalleryIndex.build(
            embeddings,
            dict(id=np.arange(n, dtype=np.int64)),
            factory,
            nprobe=nprobe,
            ef_search=ef_search,
            train_size=train_size,
            seed=seed,
            device=device,
        )
        return cls(index, topk)

    @property
    def is_exact(self) -> bool:
        return self.gallery_index.is_exact

    @property
    def ntotal(self) -> int:
        return len(self.gallery_index)

    def __len__(self) -> int:
        return self.ntotal

    def describe(self) -> str:
        """One line for logs and tables: factory, K, exact or approximate."""
        idx = self.gallery_index
        params = ''.join(
            f', {name}={value}'
            for name, value in (('nprobe', idx.nprobe), ('ef_search', idx.ef_search))
            if value is not None
        )
        kind = 'exact' if self.is_exact else 'approximate'
        return f'ranking: top {self.topk} of {len(idx)} by index {idx.factory!r}{params} ({kind})'

    def search(self, queries, k: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
        """``(scores, indices)`` of shape ``(nq, min(k or topk, topk, N))``; ``-1`` pads
        where an approximate index found fewer."""
        k = self.topk if k is None else min(int(k), self.topk)
        result = self.gallery_index.search(queries, k, with_metadata=False)
        return result.scores, result.indices
