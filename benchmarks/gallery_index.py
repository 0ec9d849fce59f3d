"""Gallery index at scale: Flat vs HNSW vs IVF-PQ on clustered, embedding-like data.

What it measures, per index (``--indexes``, faiss ``index_factory`` strings;
``{nlist}`` is replaced by :func:`gleamkit.index.ivf_nlist` of ``--num``):

* memory: bytes of the saved faiss index (= its size in RAM when read normally),
  per vector, its ratio to ``Flat``, and the resident-set rise of a fresh process
  that loads it memory-mapped and runs every search below (mapped pages count);
* build time: training on a sample (``train_size``) + adding all vectors;
* query latency: median ms of one query (batch 1) and of a batch of 256, over
  ``--repeats`` timings each, and the speed-up over the exact ``Flat`` search;
* agreement with the exact search: top-1 (same best tile) and top-10 (share of
  the exact top 10 found), over ``--queries`` queries; IVF indexes for each
  ``--nprobe``, HNSW for each ``--ef-search``, and with ``--rerank R`` PQ indexes also
  re-ranking R candidates by their exact scores from the stored vectors (which
  take ``Flat``'s bytes again on disk, memory-mapped: not counted in 'index MiB').

The data (``make_gallery``): ``--centres`` cluster centres on the unit sphere,
drawn with an anisotropic power-law spectrum (variance of direction j ~ 1/(j+1),
then a random rotation), cluster sizes skewed (p ~ 1/sqrt(rank)); each vector is
its centre plus noise with the same anisotropic spectrum, of norm ~``--spread``
scaled per cluster by 0.5-1.5, re-normalised - like embeddings of many tiles of a
few thousand kinds of place. Queries are gallery vectors plus noise of norm
~``--query-noise`` (another view of a gallery tile), so a true nearest exists;
the table's header says how often the exact top 1 is that source tile and the mean
score gap between the exact first and second hit (how hard the set is).

Every index is built in this process, saved with :class:`GalleryIndex.save` and
searched in a fresh process (honest memory figures).

Usage::

    python benchmarks/gallery_index.py [--num 1000000] [--dim 256] [--threads N]
        [--indexes Flat HNSW32 IVF{nlist},PQ32] [--nprobe 16 32 64]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

MIB = 2**20
HEADER = [
    'index',
    'param',
    'index MiB',
    'B/vector',
    'vs Flat mem',
    'RSS MiB',
    'build s',
    'ms @1',
    'ms @256',
    'speed-up @1',
    'speed-up @256',
    'top-1 agree',
    'top-10 agree',
]


# ----------------------------------------------------------------------------- data
def _spectrum(dim):
    s = 1 / np.sqrt(np.arange(1, dim + 1))
    return (s / np.linalg.norm(s)).astype(np.float32)


def _normalise(x):
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def make_gallery(num, dim, centres, spread, query_noise, num_queries, seed=0, chunk=65536):
    """``(gallery, queries, sources)``: clustered unit vectors and perturbed copies."""
    rng = np.random.default_rng(seed)
    spectrum = _spectrum(dim)
    rotation = np.linalg.qr(rng.standard_normal((dim, dim)))[0].astype(np.float32)

    def anisotropic(n):
        return (rng.standard_normal((n, dim), dtype=np.float32) * spectrum) @ rotation

    centres = min(centres, num)
    centre_vecs = _normalise(anisotropic(centres))
    weights = 1 / np.sqrt(np.arange(1, centres + 1))
    assignment = rng.choice(centres, size=num, p=weights / weights.sum())
    scale = rng.uniform(0.5, 1.5, centres).astype(np.float32) * spread
    gallery = np.empty((num, dim), np.float32)
    for lo in range(0, num, chunk):
        a = assignment[lo : lo + chunk]
        block = centre_vecs[a] + scale[a, None] * anisotropic(len(a))
        gallery[lo : lo + chunk] = _normalise(block)
    sources = rng.choice(num, size=min(num_queries, num), replace=False)
    queries = _normalise(gallery[sources] + query_noise * anisotropic(len(sources)))
    return gallery, queries.astype(np.float32), sources


# ----------------------------------------------------------------------------- search child
def rss_kib(field='VmRSS'):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    return 0


def child(args):
    """Load one saved index memory-mapped, time it, report JSON on stdout."""
    import faiss

    from gleamkit.index import GalleryIndex

    if args.threads:
        faiss.omp_set_num_threads(args.threads)
    queries = np.load(args.child_queries)
    before = rss_kib()
    gallery = GalleryIndex.load(args.child_index)
    results = []
    params = [None]
    if gallery.nprobe is not None:
        nlist = faiss.extract_index_ivf(gallery.index).nlist
        params = sorted({min(p, nlist) for p in args.nprobe})
    elif gallery.ef_search is not None:
        params = args.ef_search
    reranks = [0] + ([args.rerank] if gallery.vectors is not None else [])
    for param, rerank in [(p, r) for p in params for r in reranks]:
        if param is not None:
            if gallery.nprobe is not None:
                gallery.nprobe = param
            else:
                gallery.ef_search = param
        kwargs = dict(with_metadata=False, rerank=rerank)
        found = gallery.search(queries, 10, **kwargs).indices
        single, batch = [], []
        for r in range(args.repeats):
            q = queries[r % len(queries)][None]
            start = time.perf_counter()
            gallery.search(q, 10, **kwargs)
            single.append(time.perf_counter() - start)
        big = queries[:256]
        for _ in range(max(3, args.repeats // 10)):
            start = time.perf_counter()
            gallery.search(big, 10, **kwargs)
            batch.append(time.perf_counter() - start)
        results.append(
            dict(
                param=param,
                rerank=rerank,
                found=found.tolist(),
                ms1=1000 * statistics.median(single),
                ms256=1000 * statistics.median(batch) * 256 / len(big),
            )
        )
    print(
        json.dumps(
            dict(
                rows=results,
                rss_mib=(rss_kib() - before) / 1024,
                memory_mapped=gallery.memory_mapped,
                param_name='nprobe'
                if gallery.nprobe is not None
                else ('efSearch' if gallery.ef_search is not None else '-'),
            )
        )
    )


def measure(index_dir, queries_path, args):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [
        sys.executable,
        __file__,
        '--child-index',
        str(index_dir),
        '--child-queries',
        str(queries_path),
        '--repeats',
        str(args.repeats),
        '--rerank',
        str(args.rerank),
        '--nprobe',
        *map(str, args.nprobe),
        '--ef-search',
        *map(str, args.ef_search),
    ]
    if args.threads:
        cmd += ['--threads', str(args.threads)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(f'searching {index_dir} failed:\n{out.stderr[-3000:]}')
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- main
def agreement(found, exact):
    found, exact = np.asarray(found), np.asarray(exact)
    top1 = float(np.mean(found[:, 0] == exact[:, 0]))
    top10 = float(np.mean([len(set(f) & set(e)) / len(e) for f, e in zip(found, exact)]))
    return top1, top10


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num', type=int, default=1_000_000, help='gallery vectors')
    parser.add_argument('--dim', type=int, default=256)
    parser.add_argument('--centres', type=int, default=4000)
    parser.add_argument(
        '--spread', type=float, default=0.6, help="norm of a tile's offset from its cluster centre"
    )
    parser.add_argument(
        '--query-noise',
        type=float,
        default=0.35,
        help="norm of a query's offset from its source tile",
    )
    parser.add_argument('--queries', type=int, default=1000)
    parser.add_argument(
        '--indexes', nargs='+', default=['Flat', 'HNSW32', 'IVF{nlist},PQ32', 'IVF{nlist},PQ64']
    )
    parser.add_argument('--nprobe', type=int, nargs='+', default=[16, 32, 64])
    parser.add_argument('--ef-search', type=int, nargs='+', default=[64, 128])
    parser.add_argument(
        '--rerank',
        type=int,
        default=0,
        help='also search approximate indexes re-ranking this many candidates '
        'exactly from the stored vectors (vectors.npy, memory-mapped)',
    )
    parser.add_argument(
        '--train-size',
        type=int,
        default=None,
        help="IVF/PQ training sample (default: GalleryIndex.build's)",
    )
    parser.add_argument('--repeats', type=int, default=50, help='timed batch-1 searches')
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--child-index', help=argparse.SUPPRESS)
    parser.add_argument('--child-queries', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_index:
        return child(args)

    import faiss

    from gleamkit.index import GalleryIndex, ivf_nlist

    if args.threads:
        faiss.omp_set_num_threads(args.threads)
    start = time.perf_counter()
    gallery, queries, sources = make_gallery(
        args.num, args.dim, args.centres, args.spread, args.query_noise, args.queries, args.seed
    )
    made = time.perf_counter() - start
    ids = np.arange(args.num, dtype=np.int64)
    nlist = ivf_nlist(args.num)
    rows, flat_ms, flat_bytes, exact = [], None, None, None
    with tempfile.TemporaryDirectory(prefix='gallery_index_bench_') as tmp:
        queries_path = Path(tmp) / 'queries.npy'
        np.save(queries_path, queries)
        factories = [f.replace('{nlist}', str(nlist)) for f in args.indexes]
        if factories[0] != 'Flat':
            factories.insert(0, 'Flat')  # the exact reference
        for factory in factories:
            start = time.perf_counter()
            index = GalleryIndex.build(
                gallery,
                {'id': ids},
                factory,
                train_size=args.train_size,
                seed=args.seed,
                store_vectors=bool(args.rerank) and 'PQ' in factory,
                config_digest='bench',
                checkpoint_digest='bench',
            )
            build_s = time.perf_counter() - start
            if factory == 'Flat':
                truth = index.search(queries, 10, with_metadata=False)
                exact = truth.indices
                scores = truth.scores
            out_dir = index.save(Path(tmp) / factory.replace(',', '_'))
            del index
            index_bytes = (out_dir / 'index.faiss').stat().st_size
            result = measure(out_dir, queries_path, args)
            for row in result['rows']:
                if factory == 'Flat':
                    flat_ms, flat_bytes = (row['ms1'], row['ms256']), index_bytes
                top1, top10 = agreement(row['found'], exact)
                rows.append(
                    [
                        factory,
                        ('-' if row['param'] is None else f'{result["param_name"]}={row["param"]}')
                        + (f' rerank={row["rerank"]}' if row['rerank'] else ''),
                        f'{index_bytes / MIB:.1f}',
                        f'{index_bytes / args.num:.1f}',
                        f'{index_bytes / flat_bytes:.3f}',
                        f'{result["rss_mib"]:.0f}',
                        f'{build_s:.1f}',
                        f'{row["ms1"]:.2f}',
                        f'{row["ms256"]:.1f}',
                        f'{flat_ms[0] / row["ms1"]:.1f}',
                        f'{flat_ms[1] / row["ms256"]:.1f}',
                        f'{top1:.3f}',
                        f'{top10:.3f}',
                    ]
                )
            shutil.rmtree(out_dir)
    source_is_top1 = float(np.mean(exact[:, 0] == sources))
    gap = float(np.mean(scores[:, 0] - scores[:, 1])) if scores.shape[1] > 1 else 0.0
    print(
        f'# {args.num} x {args.dim} clustered unit vectors ({args.centres} centres, spread '
        f'{args.spread}), {len(queries)} queries (noise {args.query_noise}); made in '
        f'{made:.1f} s; nlist={nlist}; faiss {faiss.__version__}, threads '
        f'{args.threads or faiss.omp_get_max_threads()}'
    )
    print(
        f"# exact top-1 is the query's source tile for {source_is_top1:.3f} of queries; "
        f'mean score gap top-1 - top-2: {gap:.4f}'
    )
    print('| ' + ' | '.join(HEADER) + ' |')
    print('|' + '|'.join('-' * (len(h) + 2) for h in HEADER) + '|')
    for row in rows:
        print('| ' + ' | '.join(row) + ' |')


if __name__ == '__main__':
    main()
