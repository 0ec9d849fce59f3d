"""A searchable, saveable gallery: a faiss index of tile embeddings + tile metadata.

:class:`GalleryIndex` is what the localisation API builds from embedded gallery
tiles and searches with query embeddings. Embeddings are L2-normalised float32
and compared by inner product (cosine similarity). The faiss index is named by an
``index_factory`` string (``Flat``, ``HNSW32``, ``IVF4096,PQ32``,
``OPQ32,IVF4096,PQ32``, ...; see :mod:`gleamkit.index.factory`), picked by
:func:`~gleamkit.index.factory.choose_index_factory` when not given.

A saved index is a directory::

    manifest.json        what the index is and which model made it (written last)
    index.faiss          the faiss index (faiss.write_index)
    metadata/<col>.npy   per-tile metadata columns (id, lat, lon, footprint, ...)
    vectors.npy          the embeddings, only with store_vectors=True (exact re-ranking)

Saving is atomic (:func:`~gleamkit.index.storage.atomic_directory`) and loading
memory-maps the index (``faiss.IO_FLAG_MMAP_IFC``: Flat, HNSW, IVF-Flat, IVF-PQ and
OPQ variants all map their vectors/codes in faiss 1.15) and the metadata columns.
Loading checks the embedding model: an index built by another model (config or
checkpoint digest) or for another embedding dim is refused.
"""

import datetime
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

import numpy as np
from mmengine.logging import print_log

from gleamkit.evaluation.search import (
    DEFAULT_BLAS_THRESHOLD,
    GPU_MAX_K,
    ExactSearcher,
    _as_float32_matrix,
    _gpu_id,
    _is_cuda,
    _ties_in_index_order,
)
from gleamkit.version import __version__

from .factory import (
    DEFAULT_EF_SEARCH,
    _hnsw,
    _ivf,
    choose_index_factory,
    default_nprobe,
    make_faiss_index,
    search_parameters,
    set_search_parameters,
)
from .storage import atomic_directory, sha256_file, write_json
from .tile_metadata import TileMetadata

try:
    import faiss
except ImportError:  # pragma: no cover - faiss-cpu is a hard dependency
    faiss = None

__all__ = [
    'GalleryIndex',
    'GallerySearchResult',
    'GalleryIndexMismatchError',
    'MANIFEST_NAME',
    'FORMAT_NAME',
    'FORMAT_VERSION',
]

MANIFEST_NAME = 'manifest.json'
INDEX_NAME = 'index.faiss'
VECTORS_NAME = 'vectors.npy'
FORMAT_NAME = 'gleamkit.gallery_index'
FORMAT_VERSION = 1
#: How far an embedding's norm may be from 1 and still count as L2-normalised
#: (bf16/fp16 embeddings cast to float32 land within ~1e-3).
NORM_TOLERANCE = 1e-2
_CHUNK = 65536  # rows checked / added at a time: bounded temporary memory


class GalleryIndexMismatchError(ValueError):
    """The index on disk was built by another embedding model (or for another dim)."""


@dataclass
class GallerySearchResult:
    """What :meth:`GalleryIndex.search` returns.

    Attributes:
        scores: ``(nq, k)`` float32 inner products, best first; ``-inf`` where the
            index found fewer than ``k`` candidates (IVF with a small ``nprobe``).
        indices: ``(nq, k)`` int64 gallery positions; ``-1`` where nothing was found.
        rows: per query, per hit, the tile's metadata dict (``None`` for ``-1``);
            ``None`` when searched with ``with_metadata=False``.
    """

    scores: np.ndarray
    indices: np.ndarray
    rows: Optional[List[List[Optional[Dict[str, Any]]]]] = field(default=None)


def _check_normalised(x: np.ndarray, name: str, tolerance: float = NORM_TOLERANCE) -> None:
    for start in range(0, len(x), _CHUNK):
        block = np.asarray(x[start : start + _CHUNK], dtype=np.float32)
        if not np.isfinite(block).all():
            row = start + int(np.flatnonzero(~np.isfinite(block).all(axis=1))[0])
            raise ValueError(f'{name} row {row} holds NaN or inf')
        norms = np.linalg.norm(block, axis=1)
        bad = np.flatnonzero(np.abs(norms - 1) > tolerance)
        if bad.size:
            raise ValueError(
                f'{name} must be L2-normalised (norm 1 +- {tolerance}); row {start + bad[0]} has '
                f'norm {norms[bad[0]]:.4g}. Normalise them (x / ||x||), or pass normalize=True '
                'to GalleryIndex.build'
            )


def _normalised(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError(
            f'embedding row {int(np.flatnonzero(norms[:, 0] == 0)[0])} is all '
            'zeros and cannot be normalised'
        )
    return (x / norms).astype(np.float32)


def _as_metadata(metadata, count: int) -> TileMetadata:
    if isinstance(metadata, TileMetadata):
        meta = metadata
    elif isinstance(metadata, Mapping):
        meta = TileMetadata(metadata)
    else:
        meta = TileMetadata.from_rows(metadata)
    if len(meta) != count:
        raise ValueError(
            f'tile metadata has {len(meta)} rows but there are {count} embeddings; '
            'give one metadata row per embedding, in the same order'
        )
    meta.check_unique_ids()
    return meta


def _default_train_size(index, num_vectors: int) -> int:
    ivf = _ivf(index)
    # 40 points per IVF list: faiss's k-means warns below 39
    wanted = max(40 * ivf.nlist, 20_000) if ivf is not None else 20_000
    return min(num_vectors, wanted)


def _prepare_training(index, seed: int) -> None:
    ivf = _ivf(index)
    if ivf is not None:
        ivf = faiss.downcast_index(ivf)
        ivf.cp.seed = int(seed)
        pq = getattr(ivf, 'pq', None)
        if pq is not None:
            pq.cp.seed = int(seed)
        # index_factory's "IVF..,PQm" turns on polysemous training (simulated annealing
        # of the codes, minutes even on small samples); it only serves Hamming
        # pre-filtering (polysemous_ht), which gallery search never uses
        if hasattr(ivf, 'do_polysemous_training'):
            ivf.do_polysemous_training = False


class GalleryIndex:
    """Tile embeddings in a faiss index (inner product) with their metadata.

    Build with :meth:`build`, or :meth:`load` a saved one; :meth:`search` it.

    Args:
        index: a trained and filled faiss index with inner-product metric.
        metadata: one row per indexed vector.
        factory: the ``index_factory`` string the index was made from.
        model: digests of the embedding model: ``dict(config_digest=...,
            checkpoint_digest=...)`` (values may be None), plus any extra
            JSON-able keys (e.g. ``config_path``) recorded for people.
        vectors: ``(N, D)`` float32 embeddings kept for exact re-ranking, or None.
            Defaults to None.
        device: ``'cpu'`` or ``'cuda[:i]'``; CUDA uses faiss-gpu when it sees a GPU
            (Flat and IVF indexes; HNSW stays on the CPU). Defaults to ``'cpu'``.
        info: extra manifest fields (build parameters). Defaults to None.
    """

    def __init__(
        self,
        index,
        metadata: TileMetadata,
        factory: str,
        model: Optional[Mapping[str, Any]] = None,
        vectors=None,
        device='cpu',
        info: Optional[Mapping[str, Any]] = None,
        path: Optional[Path] = None,
        memory_mapped: bool = False,
    ):
        if faiss is None:  # pragma: no cover
            raise ImportError('GalleryIndex needs faiss: pip install faiss-cpu')
        if index.metric_type != faiss.METRIC_INNER_PRODUCT:
            raise ValueError(
                f'a gallery index must use the inner-product metric, got metric '
                f'{index.metric_type} ({factory!r})'
            )
        if index.ntotal < 1:
            raise ValueError('the gallery index is empty: build it from at least one embedding')
        if len(metadata) != index.ntotal:
            raise ValueError(f'{len(metadata)} metadata rows for {index.ntotal} indexed vectors')
        self.index = index
        self.metadata = metadata
        self.factory = factory
        self.model = dict(model or {})
        self.model.setdefault('config_digest', None)
        self.model.setdefault('checkpoint_digest', None)
        self.vectors = vectors
        self.info = dict(info or {})
        self.path = path
        self.memory_mapped = memory_mapped
        self.requested_device = str(device)
        self._exact = None
        self._gpu_index = None
        self._gpu_res = None
        self.use_gpu = False
        flat = faiss.downcast_index(index)
        if isinstance(flat, faiss.IndexFlat):
            # the same exact search, ties and GPU handling as evaluation uses
            self._exact = ExactSearcher.from_index(flat, device=device)
        else:
            self.use_gpu = _is_cuda(device) and faiss.get_num_gpus() > 0
            if _is_cuda(device) and not self.use_gpu:
                print_log(
                    f'GalleryIndex: device {device!r} asked for but faiss sees no GPU; '
                    'searching on the CPU.',
                    logger='current',
                    level=logging.WARNING,
                )
            # the IVF coarse quantizer is a flat search too: keep faiss on its BLAS path
            faiss.cvar.distance_compute_blas_threshold = DEFAULT_BLAS_THRESHOLD

    # ------------------------------------------------------------------ properties
    @property
    def dim(self) -> int:
        return int(self.index.d)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    @property
    def is_exact(self) -> bool:
        """True for ``Flat``: scores and rankings equal a brute-force search."""
        return self._exact is not None

    @property
    def nprobe(self) -> Optional[int]:
        return search_parameters(self.index)['nprobe']

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        set_search_parameters(self.index, nprobe=value)
        self._gpu_index = None

    @property
    def ef_search(self) -> Optional[int]:
        return search_parameters(self.index)['ef_search']

    @ef_search.setter
    def ef_search(self, value: int) -> None:
        set_search_parameters(self.index, ef_search=value)

    def __repr__(self) -> str:
        params = {k: v for k, v in search_parameters(self.index).items() if v is not None}
        where = f', path={str(self.path)!r}' if self.path else ''
        return (
            f'GalleryIndex(factory={self.factory!r}, count={len(self)}, dim={self.dim}, '
            f'{params}{where})'
        )

    # ------------------------------------------------------------------ build
    @classmethod
    def build(
        cls,
        embeddings,
        metadata,
        factory: Optional[str] = None,
        *,
        config_digest: Optional[str] = None,
        checkpoint_digest: Optional[str] = None,
        model_info: Optional[Mapping[str, Any]] = None,
        memory_budget_bytes: Optional[int] = None,
        latency_critical: bool = False,
        train_size: Optional[int] = None,
        seed: int = 0,
        nprobe: Optional[int] = None,
        ef_search: Optional[int] = None,
        normalize: bool = False,
        store_vectors: bool = False,
        device='cpu',
    ) -> 'GalleryIndex':
        """Index ``embeddings`` (one per metadata row).

        Args:
            embeddings: ``(N, D)`` float32 (numpy, a memory map, or torch),
                L2-normalised unless ``normalize``.
            metadata: :class:`TileMetadata`, a column mapping, or a list of row dicts
                (each with a unique ``id``).
            factory: faiss ``index_factory`` string. Defaults to None:
                :func:`choose_index_factory` of N, D, the budget and
                ``latency_critical``.
            config_digest: digest of the embedding model's config
                (:func:`gleamkit.index.config_digest`). Defaults to None.
            checkpoint_digest: ``sha256_file`` of its checkpoint. Defaults to None.
            model_info: extra JSON-able facts about the model for the manifest
                (paths, names). Defaults to None.
            memory_budget_bytes: for the default factory. Defaults to None (no limit).
            latency_critical: for the default factory. Defaults to False.
            train_size: vectors sampled (without replacement, by ``seed``) to train
                IVF / PQ / OPQ. Defaults to None: ``max(40 nlist, 20000)``, at most N.
            seed: seed of the training sample and of faiss's k-means. Defaults to 0.
            nprobe: IVF lists searched. Defaults to None (:func:`default_nprobe`).
            ef_search: HNSW search depth. Defaults to None (``DEFAULT_EF_SEARCH``).
            normalize: L2-normalise the embeddings instead of refusing others.
                Defaults to False.
            store_vectors: keep the embeddings (saved as ``vectors.npy``) for exact
                re-ranking (``search(..., rerank=...)``). Defaults to False.
            device: where to search. Defaults to ``'cpu'``.
        """
        start = time.perf_counter()
        x = _as_float32_matrix(embeddings, 'embeddings')
        if x.shape[0] == 0:
            raise ValueError(
                'cannot build a gallery index from an empty gallery (0 '
                'embeddings): check the gallery source produced tiles'
            )
        if normalize:
            x = _normalised(x)
        else:
            _check_normalised(x, 'gallery embeddings')
        n, dim = x.shape
        meta = _as_metadata(metadata, n)
        if factory is None:
            factory = choose_index_factory(n, dim, memory_budget_bytes, latency_critical)
        index = make_faiss_index(factory, dim)
        trained_on = 0
        if not index.is_trained:
            size = _default_train_size(index, n) if train_size is None else int(train_size)
            if not 1 <= size <= n:
                raise ValueError(f'train_size must be in 1..{n} (the gallery size), got {size}')
            rows = np.sort(np.random.default_rng(seed).choice(n, size, replace=False))
            _prepare_training(index, seed)
            try:
                index.train(np.ascontiguousarray(x[rows]))
            except RuntimeError as err:
                raise ValueError(
                    f'training {factory!r} on {size} vectors failed: '
                    f'{str(err).strip().splitlines()[-1]}. IVF needs at least '
                    'nlist and 8-bit PQ at least 256 training vectors (~40x that '
                    'for good centroids): use a larger train_size or gallery, or '
                    'a smaller factory'
                ) from err
            trained_on = size
        for lo in range(0, n, _CHUNK):
            index.add(np.ascontiguousarray(x[lo : lo + _CHUNK]))
        ivf = _ivf(index)
        set_search_parameters(
            index,
            nprobe=nprobe
            if nprobe is not None
            else (default_nprobe(ivf.nlist) if ivf is not None else None),
            ef_search=ef_search
            if ef_search is not None
            else (DEFAULT_EF_SEARCH if _hnsw(index) is not None else None),
        )
        model = dict(
            model_info or {}, config_digest=config_digest, checkpoint_digest=checkpoint_digest
        )
        info = dict(
            train_size=trained_on,
            seed=int(seed),
            build_seconds=round(time.perf_counter() - start, 3),
        )
        return cls(
            index,
            meta,
            factory,
            model=model,
            vectors=x if store_vectors else None,
            device=device,
            info=info,
        )

    # ------------------------------------------------------------------ search
    def _index_for(self, k: int):
        if not self.use_gpu or k > GPU_MAX_K:
            return self.index
        if self._gpu_index is None:
            try:
                if self._gpu_res is None:
                    self._gpu_res = faiss.StandardGpuResources()
                self._gpu_index = faiss.index_cpu_to_gpu(
                    self._gpu_res, _gpu_id(self.requested_device), self.index
                )
            except (RuntimeError, AttributeError) as err:  # e.g. HNSW has no GPU version
                print_log(
                    f'GalleryIndex: {self.factory!r} cannot move to the GPU ({err}); '
                    'searching on the CPU.',
                    logger='current',
                    level=logging.WARNING,
                )
                self.use_gpu = False
                return self.index
        return self._gpu_index

    def search(
        self, queries, k: int = 10, *, rerank: int = 0, with_metadata: bool = True
    ) -> GallerySearchResult:
        """The ``k`` best gallery tiles per query.

        Args:
            queries: ``(nq, D)`` (or ``(D,)``) L2-normalised embeddings; numpy or torch.
            k: results per query (clipped to the gallery size). Defaults to 10.
            rerank: with stored vectors (``store_vectors=True``), fetch
                ``max(k, rerank)`` candidates from the index and order them by their
                exact inner product. Defaults to 0 (off).
            with_metadata: also return each hit's metadata row. Defaults to True.

        Returns:
            :class:`GallerySearchResult`. With ``Flat`` the ranking is exact and ties
            come back in ascending gallery position; otherwise scores are the
            index's (approximate, unless re-ranked).
        """
        q = _as_float32_matrix(queries, 'queries')
        if q.shape[1] != self.dim:
            raise ValueError(
                f'query embedding dim {q.shape[1]} does not match the gallery '
                f'index dim {self.dim} ({self.path or "built in memory"})'
            )
        _check_normalised(q, 'query embeddings')
        k = int(k)
        if k < 1:
            raise ValueError(f'k must be >= 1, got {k}')
        k = min(k, len(self))
        depth = k
        if rerank:
            if self.vectors is None:
                raise ValueError('rerank needs the gallery vectors: build with store_vectors=True')
            depth = min(max(k, int(rerank)), len(self))
        if self._exact is not None:
            scores, indices = self._exact.search(q, depth)
        else:
            scores, indices = self._index_for(depth).search(q, depth)
            indices = indices.astype(np.int64, copy=False)
            scores = np.where(indices < 0, -np.inf, scores).astype(np.float32)
            scores, indices = _ties_in_index_order(scores, indices)
        if rerank:
            scores, indices = self._rerank(q, indices, k)
        result = GallerySearchResult(
            scores=np.ascontiguousarray(scores[:, :k]), indices=np.ascontiguousarray(indices[:, :k])
        )
        if with_metadata:
            result.rows = [
                [self.metadata.row(int(i)) if i >= 0 else None for i in row]
                for row in result.indices
            ]
        return result

    def _rerank(self, q: np.ndarray, candidates: np.ndarray, k: int):
        valid = candidates >= 0
        ids = np.unique(candidates[valid])
        lookup = np.asarray(self.vectors[ids], dtype=np.float32)  # sorted: sequential reads
        pos = np.searchsorted(ids, np.where(valid, candidates, ids[0]))
        exact = np.matmul(lookup[pos], q[:, :, None])[..., 0]  # (nq, c, D) @ (nq, D, 1)
        exact = np.where(valid, exact, -np.inf).astype(np.float32)
        # descending exact score, ties by ascending gallery position
        order = np.lexsort((np.where(valid, candidates, np.iinfo(np.int64).max), -exact), axis=1)[
            :, :k
        ]
        return (
            np.take_along_axis(exact, order, axis=1),
            np.take_along_axis(candidates, order, axis=1),
        )

    # ------------------------------------------------------------------ save / load
    def manifest(self, files: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        """The ``manifest.json`` contents of this index."""
        return {
            'format': FORMAT_NAME,
            'format_version': FORMAT_VERSION,
            'factory': self.factory,
            'metric': 'inner_product',
            'dim': self.dim,
            'normalization': 'l2',
            'count': len(self),
            'search_parameters': search_parameters(self.index),
            'model': self.model,
            'build': self.info,
            'files': dict(files or {}),
            'gleamkit_version': __version__,
            'faiss_version': faiss.__version__,
            'created': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        }

    def save(self, directory: Union[str, os.PathLike], overwrite: bool = False) -> Path:
        """Write the index to ``directory`` atomically; return its path.

        Everything goes to a hidden ``.NAME.tmp-*`` sibling, ``manifest.json``
        last, which is then renamed to ``directory``: a crash leaves no directory
        under the real name (or, with ``overwrite``, the previous index).

        Args:
            directory: Destination directory (must not exist unless ``overwrite``).
            overwrite: Replace an existing index there. Defaults to False.
        """
        if self.model.get('config_digest') is None or self.model.get('checkpoint_digest') is None:
            print_log(
                f'GalleryIndex.save({directory}): no model config/checkpoint digest was '
                'given; loading cannot check that queries come from the same model.',
                logger='current',
                level=logging.WARNING,
            )
        directory = Path(directory)
        with atomic_directory(directory, overwrite=overwrite) as tmp:
            faiss.write_index(self.index, str(tmp / INDEX_NAME))
            files = {'index': dict(file=INDEX_NAME)}
            files['metadata'] = self.metadata.save(tmp / 'metadata')
            if self.vectors is not None:
                np.save(
                    tmp / VECTORS_NAME,
                    np.ascontiguousarray(self.vectors, np.float32),
                    allow_pickle=False,
                )
                files['vectors'] = dict(file=VECTORS_NAME)
            for entry in _file_entries(files):
                entry['bytes'] = (tmp / entry['file']).stat().st_size
                entry['sha256'] = sha256_file(tmp / entry['file'])
            write_json(tmp / MANIFEST_NAME, self.manifest(files))
        self.path = directory
        return directory

    @staticmethod
    def read_manifest(directory: Union[str, os.PathLike]) -> Dict[str, Any]:
        """The manifest of a saved index, with clear errors for what is not one."""
        directory = Path(directory)
        if not directory.is_dir():
            raise FileNotFoundError(f'gallery index directory {directory} does not exist')
        path = directory / MANIFEST_NAME
        if not path.is_file():
            leftovers = sorted(p.name for p in directory.parent.glob(f'.{directory.name}.tmp-*'))
            hint = f' (unfinished saves next to it: {leftovers})' if leftovers else ''
            raise FileNotFoundError(
                f'{directory} has no {MANIFEST_NAME}: it is not a gallery index, or saving it '
                f'did not finish (the manifest is written last){hint}. Rebuild the index '
                f'(GalleryIndex.build(...).save({str(directory)!r}, overwrite=True)).'
            )
        try:
            manifest = json.loads(path.read_text(encoding='utf-8'))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f'{path} is not valid JSON ({err}); rebuild the index') from err
        if manifest.get('format') != FORMAT_NAME:
            raise ValueError(
                f'{path} is not a gleamkit gallery index manifest (format '
                f'{manifest.get("format")!r}, expected {FORMAT_NAME!r})'
            )
        if manifest.get('format_version') != FORMAT_VERSION:
            raise ValueError(
                f'{path} has format_version {manifest.get("format_version")}; '
                f'this gleamkit ({__version__}) reads version {FORMAT_VERSION}. '
                'Rebuild the index with this version.'
            )
        return manifest

    @classmethod
    def load(
        cls,
        directory: Union[str, os.PathLike],
        *,
        config_digest: Optional[str] = None,
        checkpoint_digest: Optional[str] = None,
        dim: Optional[int] = None,
        mmap: bool = True,
        verify_checksums: bool = False,
        device='cpu',
    ) -> 'GalleryIndex':
        """Read a saved index, refusing one made by another model.

        Args:
            directory: What :meth:`save` wrote.
            config_digest: the digest of the config of the model that will embed the
                queries; must equal the one recorded. Defaults to None (not checked).
            checkpoint_digest: likewise for its checkpoint file. Defaults to None.
            dim: the query embedding dim; must equal the index's. Defaults to None.
            mmap: memory-map the faiss index and metadata (the OS pages them in on
                use; the files must stay in place). Defaults to True.
            verify_checksums: re-hash every file against the manifest (reads them
                all). Defaults to False (sizes are always checked).
            device: where to search. Defaults to ``'cpu'``.

        Raises:
            FileNotFoundError: no directory or no manifest (e.g. an unfinished save).
            GalleryIndexMismatchError: another model's (or another dim's) index.
        """
        directory = Path(directory)
        manifest = cls.read_manifest(directory)
        _check_model(directory, manifest, config_digest, checkpoint_digest, dim)
        for entry in _file_entries(manifest['files']):
            path = directory / entry['file']
            if not path.is_file() or path.stat().st_size != entry['bytes']:
                raise ValueError(
                    f'{path} is missing or has another size than the manifest '
                    f'records ({entry["bytes"]} bytes): the index directory '
                    f'{directory} is damaged; rebuild it'
                )
            if verify_checksums and sha256_file(path) != entry['sha256']:
                raise ValueError(
                    f'{path} does not match its sha256 in the manifest: the index '
                    f'directory {directory} is damaged; rebuild it'
                )
        index_path = str(directory / manifest['files']['index']['file'])
        mapped = False
        if mmap:
            try:
                index = faiss.read_index(index_path, faiss.IO_FLAG_MMAP_IFC)
                mapped = True
            except RuntimeError:
                index = faiss.read_index(index_path)
                print_log(
                    f'GalleryIndex.load: {manifest["factory"]!r} cannot be memory-mapped '
                    'by this faiss; read into memory instead.',
                    logger='current',
                    level=logging.WARNING,
                )
        else:
            index = faiss.read_index(index_path)
        if index.ntotal != manifest['count'] or index.d != manifest['dim']:
            raise ValueError(
                f'{index_path} holds {index.ntotal} vectors of dim {index.d}, the '
                f'manifest says {manifest["count"]} of dim {manifest["dim"]}; '
                'rebuild the index'
            )
        meta = TileMetadata.load(
            directory, manifest['files']['metadata'], mmap=mmap, expected_rows=manifest['count']
        )
        vectors = None
        if 'vectors' in manifest['files']:
            vectors = np.load(
                directory / manifest['files']['vectors']['file'],
                mmap_mode='r' if mmap else None,
                allow_pickle=False,
            )
        gallery = cls(
            index,
            meta,
            manifest['factory'],
            model=manifest['model'],
            vectors=vectors,
            device=device,
            info=manifest.get('build'),
            path=directory,
            memory_mapped=mapped,
        )
        params = manifest.get('search_parameters') or {}
        set_search_parameters(
            gallery.index, nprobe=params.get('nprobe'), ef_search=params.get('ef_search')
        )
        return gallery

    @classmethod
    def from_shards(
        cls,
        shard_root: Union[str, os.PathLike],
        factory: Optional[str] = None,
        expected_count: Optional[int] = None,
        **build_kwargs,
    ) -> 'GalleryIndex':
        """Merge embedding shards (:func:`gleamkit.index.merge_embedding_shards`) and build.

        The model digests recorded in the shards are used unless given in
        ``build_kwargs``.
        """
        from .shards import merge_embedding_shards

        merged = merge_embedding_shards(shard_root, expected_count=expected_count)
        for key in ('config_digest', 'checkpoint_digest'):
            build_kwargs.setdefault(key, merged.model.get(key))
        return cls.build(merged.embeddings, merged.metadata, factory, **build_kwargs)


def _file_entries(files: Mapping[str, Any]):
    """Every ``dict(file=...)`` of a manifest's ``files`` (metadata columns included)."""
    for key, entry in files.items():
        if key == 'metadata':
            yield from entry.values()
        else:
            yield entry


def _check_model(
    directory: Path,
    manifest: Mapping[str, Any],
    config_digest: Optional[str],
    checkpoint_digest: Optional[str],
    dim: Optional[int],
) -> None:
    recorded = manifest.get('model') or {}
    problems = []
    for key, wanted in (('config_digest', config_digest), ('checkpoint_digest', checkpoint_digest)):
        if wanted is not None and recorded.get(key) != wanted:
            problems.append(f'{key}: index {recorded.get(key)} vs model {wanted}')
    if dim is not None and int(dim) != manifest['dim']:
        problems.append(f'embedding dim: index {manifest["dim"]} vs model {dim}')
    if problems:
        extra = {
            k: v for k, v in recorded.items() if k not in ('config_digest', 'checkpoint_digest')
        }
        built_by = f' The index was built with {extra}.' if extra else ''
        raise GalleryIndexMismatchError(
            f'gallery index {directory} was built by a different embedding model: '
            f'{"; ".join(problems)}.{built_by} Its embeddings cannot be compared with this '
            "model's queries: rebuild the gallery index with this model (embed the gallery "
            'again), or load the config and checkpoint the index was built with.'
        )
