"""Which faiss index a gallery gets: ``index_factory`` strings, their memory, defaults.

A gallery index is named by a faiss ``index_factory`` string and always uses the
inner-product metric (cosine similarity of L2-normalised embeddings). Supported
families (anything else ``faiss.index_factory`` accepts works too, without a
memory estimate):

==================== ================================ =========================================
factory              memory (N vectors of dim D)      search
==================== ================================ =========================================
``Flat``             4 N D                            exact; cost grows with N
``HNSW{M}``          4 N D + ~8 N M + 12 N            graph walk, no training, slow to build
``IVF{n},Flat``      4 N D + 8 N + 4 n D              approximate (``nprobe`` of ``n`` lists)
``IVF{n},PQ{m}``     N (m + 8) + 4 n D + 1024 D       approximate, ``m`` bytes per vector
``OPQ{m},IVF..,PQ..`` as IVF-PQ + 4 D^2               a learned rotation before the PQ
==================== ================================ =========================================

:func:`choose_index_factory` picks a default from the gallery size and a memory
budget; the rules and the measurements behind them are in ``docs/gallery_index.md``.
"""

import math
import re
from typing import Optional

try:
    import faiss
except ImportError:  # pragma: no cover - faiss-cpu is a hard dependency
    faiss = None

__all__ = [
    'choose_index_factory',
    'estimate_index_bytes',
    'ivf_nlist',
    'default_nprobe',
    'FLAT_MAX_VECTORS',
    'HNSW_M',
    'DEFAULT_EF_SEARCH',
    'make_faiss_index',
    'set_search_parameters',
    'search_parameters',
    'supports_mmap',
]

#: Galleries up to this size get the exact ``Flat`` index by default.
FLAT_MAX_VECTORS = 262_144
#: Links per node of the default HNSW graph.
HNSW_M = 32
#: Candidates HNSW keeps while searching (faiss's own default, 16, loses recall).
DEFAULT_EF_SEARCH = 128
#: Bytes of the id stored next to each code in an IVF list.
_IVF_ID_BYTES = 8

_HNSW = re.compile(r'^HNSW(\d+)(?:,Flat)?$')
_IVF = re.compile(r'^IVF(\d+)(?:_HNSW\d+)?,(Flat|PQ(\d+)(?:x(\d+))?(?:np)?)$')
_OPQ = re.compile(r'^OPQ(\d+)(?:_(\d+))?,(.*)$')


def ivf_nlist(num_vectors: int) -> int:
    """Number of IVF lists for ``num_vectors``: the power of two nearest ``4 sqrt(N)``.

    Kept at most ``N / 39`` (faiss's k-means wants >= 39 training points per list)
    and at least 1.
    """
    if num_vectors < 1:
        raise ValueError(f'ivf_nlist needs at least one vector, got {num_vectors}')
    target = 4 * math.sqrt(num_vectors)
    nlist = 2 ** max(0, round(math.log2(target)))
    while nlist > 1 and nlist * 39 > num_vectors:
        nlist //= 2
    return nlist


def default_nprobe(nlist: int) -> int:
    """Lists an IVF search visits by default: ``nlist / 64``, at least 8, at most ``nlist``.

    ``nlist / 64`` keeps the scanned fraction of the gallery (and so the latency gain
    over ``Flat``) fixed while N grows; see ``docs/gallery_index.md`` for the recall
    it reaches.
    """
    return int(min(nlist, max(8, nlist // 64)))


def estimate_index_bytes(factory: str, num_vectors: int, dim: int) -> Optional[int]:
    """Approximate bytes of a faiss index in memory (and on disk), or None if unknown.

    Args:
        factory: An ``index_factory`` string (see the module docstring).
        num_vectors: Gallery size N.
        dim: Embedding dimension D.
    """
    factory = factory.replace(' ', '')
    n, d = int(num_vectors), int(dim)
    extra = 0
    opq = _OPQ.match(factory)
    if opq:
        out_dim = int(opq.group(2) or d)
        extra += 4 * d * out_dim
        d, factory = out_dim, opq.group(3)
    if factory == 'Flat':
        return extra + 4 * n * d
    hnsw = _HNSW.match(factory)
    if hnsw:
        m = int(hnsw.group(1))
        # level 0 holds 2M int32 links per node, upper levels ~M/(M-1) more on average;
        # plus an 8-byte offset and a 4-byte level per node
        links = 4 * (2 * m + m / max(m - 1, 1))
        return extra + int(n * (4 * d + links + 12))
    ivf = _IVF.match(factory)
    if ivf:
        nlist = int(ivf.group(1))
        coarse = 4 * nlist * d
        if ivf.group(2) == 'Flat':
            return extra + coarse + n * (4 * d + _IVF_ID_BYTES)
        m, nbits = int(ivf.group(3)), int(ivf.group(4) or 8)
        code = math.ceil(m * nbits / 8)
        codebooks = 4 * d * (2**nbits)
        return extra + coarse + codebooks + n * (code + _IVF_ID_BYTES)
    return None


def _pq_sizes(dim: int):
    """Sub-quantizer counts worth trying, best accuracy first: divisors of ``dim``,
    at most ``dim / 4`` (so each codes >= 4 dims) and at most 64."""
    return [m for m in (64, 48, 32, 24, 16, 12, 8, 4) if m <= dim // 4 and dim % m == 0]


def choose_index_factory(
    num_vectors: int,
    dim: int,
    memory_budget_bytes: Optional[int] = None,
    latency_critical: bool = False,
    flat_max_vectors: int = FLAT_MAX_VECTORS,
) -> str:
    """The default ``index_factory`` string for a gallery.

    Rules, in order (why: ``docs/gallery_index.md``):

    1. ``Flat`` (exact) if ``num_vectors <= flat_max_vectors`` and ``4 N D`` bytes fit
       the budget: exact, nothing to train, and at this size a scan is a few ms.
    2. ``HNSW32`` if ``latency_critical`` and its ``~4 N D + 270 N`` bytes fit the
       budget: the lowest latency at high recall, but it needs more memory than
       ``Flat`` and builds slowly (minutes per million vectors on many cores).
    3. ``IVF{n},PQ{m}`` otherwise: ``n = ivf_nlist(N)`` (~ ``4 sqrt(N)``), and the
       largest ``m`` of 64, 48, 32, 24, 16, 12, 8, 4 that divides D, is at most D/4
       and fits the budget (``m + 8`` bytes per vector).

    Args:
        num_vectors: Gallery size N (>= 1).
        dim: Embedding dimension D.
        memory_budget_bytes: Most bytes the index may take. Defaults to None (no limit).
        latency_critical: Prefer HNSW over IVF-PQ when it fits. Defaults to False.
        flat_max_vectors: Largest gallery that gets ``Flat``. Defaults to
            :data:`FLAT_MAX_VECTORS` (262144).

    Raises:
        ValueError: an empty gallery, or a budget too small for any index.
    """
    n, d = int(num_vectors), int(dim)
    if n < 1:
        raise ValueError(
            f'cannot choose an index for an empty gallery (num_vectors={n}); '
            'embed at least one tile first'
        )
    if d < 1:
        raise ValueError(f'embedding dim must be >= 1, got {d}')
    budget = math.inf if memory_budget_bytes is None else int(memory_budget_bytes)

    if n <= flat_max_vectors and estimate_index_bytes('Flat', n, d) <= budget:
        return 'Flat'
    hnsw = f'HNSW{HNSW_M}'
    if latency_critical and estimate_index_bytes(hnsw, n, d) <= budget:
        return hnsw
    nlist = ivf_nlist(n)
    sizes = _pq_sizes(d)
    for m in sizes:
        factory = f'IVF{nlist},PQ{m}'
        if estimate_index_bytes(factory, n, d) <= budget:
            return factory
    if estimate_index_bytes('Flat', n, d) <= budget:
        return 'Flat'  # D too small to split into PQ sub-vectors
    smallest = (
        estimate_index_bytes(f'IVF{nlist},PQ{sizes[-1]}', n, d)
        if sizes
        else estimate_index_bytes('Flat', n, d)
    )
    raise ValueError(
        f'no index for {n} vectors of dim {d} fits memory_budget_bytes='
        f'{memory_budget_bytes}; the smallest default needs about {smallest} bytes. '
        'Raise the budget, or pass an index_factory yourself (e.g. '
        f'"IVF{nlist},PQ{max(1, d // 64)}x4").'
    )


# ----------------------------------------------------------------------------- faiss
def make_faiss_index(factory: str, dim: int):
    """``faiss.index_factory(dim, factory, METRIC_INNER_PRODUCT)`` with a clear error."""
    try:
        return faiss.index_factory(int(dim), factory, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as err:
        raise ValueError(
            f'faiss cannot build index_factory string {factory!r} for dim {dim}: '
            f'{str(err).strip().splitlines()[-1]}. Examples: "Flat", "HNSW32", '
            f'"IVF1024,PQ32", "OPQ32,IVF1024,PQ32".'
        ) from err


def _ivf(index):
    try:
        return faiss.extract_index_ivf(index)
    except RuntimeError:
        return None


def _hnsw(index):
    index = faiss.downcast_index(index)
    if isinstance(index, faiss.IndexPreTransform):
        index = faiss.downcast_index(index.index)
    return index if hasattr(index, 'hnsw') else None


def set_search_parameters(
    index, nprobe: Optional[int] = None, ef_search: Optional[int] = None
) -> None:
    """Set ``nprobe`` (IVF) / ``efSearch`` (HNSW) on ``index``; None leaves one alone.

    Raises:
        ValueError: a parameter the index does not have (e.g. ``nprobe`` for HNSW).
    """
    if nprobe is not None:
        ivf = _ivf(index)
        if ivf is None:
            raise ValueError(f'nprobe={nprobe} given, but the index is not an IVF index')
        if not 1 <= int(nprobe) <= ivf.nlist:
            raise ValueError(
                f'nprobe must be in 1..{ivf.nlist} (the number of IVF lists), got {nprobe}'
            )
        ivf.nprobe = int(nprobe)
    if ef_search is not None:
        hnsw = _hnsw(index)
        if hnsw is None:
            raise ValueError(f'ef_search={ef_search} given, but the index is not an HNSW index')
        if int(ef_search) < 1:
            raise ValueError(f'ef_search must be >= 1, got {ef_search}')
        hnsw.hnsw.efSearch = int(ef_search)


def search_parameters(index) -> dict:
    """``{'nprobe': ..., 'ef_search': ...}`` of ``index`` (None where not applicable)."""
    ivf, hnsw = _ivf(index), _hnsw(index)
    return dict(
        nprobe=None if ivf is None else int(ivf.nprobe),
        ef_search=None if hnsw is None else int(hnsw.hnsw.efSearch),
    )


def supports_mmap(factory: str) -> bool:
    """Whether a saved index of this kind loads memory-mapped (see the docs' table)."""
    factory = factory.replace(' ', '')
    opq = _OPQ.match(factory)
    if opq:
        factory = opq.group(3)
    return factory == 'Flat' or bool(_HNSW.match(factory) or _IVF.match(factory))
