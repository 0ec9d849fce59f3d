"""Exact nearest-neighbour search over a gallery of L2-normalised embeddings.

:class:`ExactSearcher` wraps a faiss ``IndexFlatIP`` (exact inner product, i.e.
cosine similarity for L2-normalised embeddings). On a machine with faiss-gpu
and a CUDA device asked for, the index is copied to the GPU.

Two things about faiss that matter for evaluation:

* ``faiss.cvar.distance_compute_blas_threshold`` (default 128000 queries) picks
  the non-BLAS path for any batch of fewer queries, which is several times
  slower for typical evaluation batches (10-1000 queries; see
  ``benchmarks/faiss_search_speed.py``). :class:`ExactSearcher` lowers it. It is
  a process-wide faiss setting.
* Ties. faiss returns equal scores in an order set by its heap (often
  descending gallery index), and which of several items tied at the k boundary
  it keeps depends on the heap too. Ranks of tied items would then be an
  artefact of faiss, so :meth:`ExactSearcher.search` defines them: ties come
  back in *ascending gallery index*, and the result equals a stable sort of the
  scores, ``np.argsort(-scores, kind='stable')[:, :k]``.
"""

import logging
from typing import Optional, Tuple

import numpy as np
from mmengine.logging import print_log

try:
    import faiss
except ImportError:  # pragma: no cover - faiss-cpu is a hard dependency
    faiss = None

__all__ = ['ExactSearcher', 'DEFAULT_BLAS_THRESHOLD', 'GPU_MAX_K']

#: Batches of at least this many queries use BLAS (faiss's own default is 128000).
DEFAULT_BLAS_THRESHOLD = 16
#: Largest k faiss-gpu's k-selection supports; larger k is searched on the CPU copy.
GPU_MAX_K = 2048


def _as_float32_matrix(x, name: str) -> np.ndarray:
    if hasattr(x, 'detach'):  # torch tensor, possibly on GPU / in half precision
        x = x.detach().float().cpu().numpy()
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2:
        raise ValueError(f'{name} must be a (n, dim) matrix, got shape {x.shape}')
    return np.ascontiguousarray(x)


def _is_cuda(device) -> bool:
    return str(device).startswith('cuda')


def _gpu_id(device) -> int:
    text = str(device)
    return int(text.split(':', 1)[1]) if ':' in text else 0


class ExactSearcher:
    """Exact inner-product search of queries against a gallery (faiss ``IndexFlatIP``).

    Args:
        dim (int, optional): embedding dimension. Defaults to the dimension of
            the first :meth:`add`.
        device (str | torch.device): ``'cpu'`` or ``'cuda[:i]'``. CUDA uses
            faiss-gpu (``StandardGpuResources`` + ``index_cpu_to_gpu``) when
            ``faiss.get_num_gpus() > 0``; otherwise it falls back to the CPU with
            a warning.
        blas_threshold (int): value given to
            ``faiss.cvar.distance_compute_blas_threshold`` (process-wide).
            ``None`` leaves faiss's setting alone.

    Example:
        >>> searcher = ExactSearcher()
        >>> searcher.add(gallery_embeddings)            # (N, D), torch or numpy
        >>> scores, indices = searcher.search(queries)  # full ranking (k=None)
        >>> ranked_ids = gallery_location_ids[indices]
    """

    def __init__(
        self,
        dim: Optional[int] = None,
        device='cpu',
        blas_threshold: Optional[int] = DEFAULT_BLAS_THRESHOLD,
    ):
        if faiss is None:  # pragma: no cover
            raise ImportError('ExactSearcher needs faiss: pip install faiss-cpu')
        if blas_threshold is not None:
            faiss.cvar.distance_compute_blas_threshold = int(blas_threshold)
        self.dim = dim
        self.requested_device = str(device)
        self.use_gpu = _is_cuda(device) and faiss.get_num_gpus() > 0
        if _is_cuda(device) and not self.use_gpu:
            print_log(
                f'ExactSearcher: device {device!r} asked for but faiss sees no GPU '
                '(faiss-cpu installed?); searching on the CPU.',
                logger='current',
                level=logging.WARNING,
            )
        self._gpu_res = None
        self._cpu_index = None
        self._gpu_index = None

    @classmethod
    def from_index(
        cls, index, device='cpu', blas_threshold: Optional[int] = DEFAULT_BLAS_THRESHOLD
    ) -> 'ExactSearcher':
        """Search an existing flat inner-product faiss index (e.g. one read memory-mapped).

        Args:
            index: a ``faiss.IndexFlatIP`` (or an index that downcasts to one).
            device: as in the constructor. Defaults to ``'cpu'``.
            blas_threshold: as in the constructor. Defaults to
                :data:`DEFAULT_BLAS_THRESHOLD`.
        """
        if faiss is None:  # pragma: no cover
            raise ImportError('ExactSearcher needs faiss: pip install faiss-cpu')
        index = faiss.downcast_index(index)
        if (
            not isinstance(index, faiss.IndexFlat)
            or index.metric_type != faiss.METRIC_INNER_PRODUCT
        ):
            raise ValueError(
                f'ExactSearcher.from_index needs a flat inner-product index '
                f'(faiss.IndexFlatIP), got {type(index).__name__} with metric '
                f'{index.metric_type}'
            )
        searcher = cls(dim=int(index.d), device=device, blas_threshold=blas_threshold)
        searcher._cpu_index = index
        return searcher

    @property
    def device(self) -> str:
        """Where the search runs: ``'cuda:i'`` or ``'cpu'``."""
        return f'cuda:{_gpu_id(self.requested_device)}' if self.use_gpu else 'cpu'

    @property
    def index(self):
        """The CPU ``faiss.IndexFlatIP`` holding the gallery (None before :meth:`add`)."""
        return self._cpu_index

    @property
    def ntotal(self) -> int:
        """Number of gallery items added so far."""
        return 0 if self._cpu_index is None else int(self._cpu_index.ntotal)

    def __len__(self) -> int:
        return self.ntotal

    def reset(self) -> None:
        """Remove the gallery (the dimension is kept)."""
        self._cpu_index = None
        self._gpu_index = None

    def add(self, gallery) -> 'ExactSearcher':
        """Append gallery embeddings, shape ``(n, dim)``; torch or numpy."""
        gallery = _as_float32_matrix(gallery, 'gallery')
        if self.dim is None:
            self.dim = int(gallery.shape[1])
        if gallery.shape[1] != self.dim:
            raise ValueError(
                f'gallery embedding dimension {gallery.shape[1]} does not match '
                f'the searcher dimension {self.dim}'
            )
        if self._cpu_index is None:
            self._cpu_index = faiss.IndexFlatIP(self.dim)
        self._cpu_index.add(gallery)
        # faiss-gpu copies the index; rebuild the copy lazily on the next search
        self._gpu_index = None
        return self

    def _index_for(self, k: int):
        if not self.use_gpu or k > GPU_MAX_K:
            return self._cpu_index
        if self._gpu_index is None:
            if self._gpu_res is None:
                self._gpu_res = faiss.StandardGpuResources()
            self._gpu_index = faiss.index_cpu_to_gpu(
                self._gpu_res, _gpu_id(self.requested_device), self._cpu_index
            )
        return self._gpu_index

    def search(self, queries, k: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
        """Search the gallery.

        Args:
            queries: ``(nq, dim)`` (or ``(dim,)``) embeddings; torch or numpy.
            k: number of results per query, clipped to the gallery size;
                ``None`` returns the full ranking.

        Returns:
            ``(scores, indices)``: float32 and int64 arrays of shape ``(nq, k)``,
            by descending score, ties in ascending gallery index.
        """
        if self.ntotal == 0:
            raise ValueError(
                'the gallery is empty: call ExactSearcher.add(gallery) before search()'
            )
        queries = _as_float32_matrix(queries, 'queries')
        if queries.shape[1] != self.dim:
            raise ValueError(
                f'query embedding dimension {queries.shape[1]} does not match '
                f'the gallery embedding dimension {self.dim}'
            )
        if k is None:
            k = self.ntotal
        k = int(k)
        if k < 1:
            raise ValueError(f'k must be >= 1 (or None for the full ranking), got {k}')
        k = min(k, self.ntotal)
        if queries.shape[0] == 0:
            return np.empty((0, k), np.float32), np.empty((0, k), np.int64)
        return self._search_ties_by_index(queries, k)

    def _search_ties_by_index(self, queries: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray]:
        # Which of several items tied at the k boundary faiss keeps depends on its
        # heap, not on the gallery index. Searching one more than asked shows
        # whether the boundary is tied; the (rare) rows where it is are searched
        # again with a doubled depth until an item strictly below the k-th score,
        # or the whole gallery, comes back: then every tied item is at hand.
        n = self.ntotal
        depth = min(k + 1, n)
        scores, indices = self._index_for(depth).search(queries, depth)
        scores, indices = _ties_in_index_order(scores, indices.astype(np.int64, copy=False))
        rows = np.flatnonzero(scores[:, depth - 1] == scores[:, k - 1]) if depth > k else []
        scores, indices = scores[:, :k].copy(), indices[:, :k].copy()
        while len(rows) and depth < n:
            depth = min(2 * depth, n)
            s, i = self._index_for(depth).search(queries[rows], depth)
            s, i = _ties_in_index_order(s, i.astype(np.int64, copy=False))
            scores[rows], indices[rows] = s[:, :k], i[:, :k]
            rows = rows[s[:, depth - 1] == s[:, k - 1]]
        return scores, indices


def _ties_in_index_order(scores: np.ndarray, indices: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    # Most rows have no tie at all; only sort the rows that do.
    tied_rows = np.flatnonzero(np.any(scores[:, 1:] == scores[:, :-1], axis=1))
    if tied_rows.size == 0:
        return scores, indices
    s, i = scores[tied_rows], indices[tied_rows]
    # lexsort: last key is primary -> descending score, then ascending index
    order = np.lexsort((i, -s), axis=1)
    scores, indices = scores.copy(), indices.copy()
    scores[tied_rows] = np.take_along_axis(s, order, axis=1)
    indices[tied_rows] = np.take_along_axis(i, order, axis=1)
    return scores, indices
