"""Exact search speed: faiss's default BLAS threshold vs the lowered one vs torch.

faiss computes inner products with BLAS only for batches of at least
``faiss.cvar.distance_compute_blas_threshold`` queries (default 128000); smaller
batches - every evaluation batch - take a non-BLAS path. This script measures,
in one run and on the same data, the median time to search 100 queries in a
100k x 512 gallery (L2-normalised, ``IndexFlatIP``) with

* faiss, default threshold (non-BLAS path),
* faiss, the threshold :class:`gleamkit.evaluation.ExactSearcher` sets,
* ``ExactSearcher.search`` itself (lowered threshold + its tie handling),
* torch ``queries @ gallery.T`` + ``topk``,

and prints the ratios. The methods are timed in interleaved rounds, so that a
machine whose load drifts (shared cores) slows them all alike. On few cores,
``--threads 1`` gives the steadiest figures.

Reference run (2-core CPU VM, faiss-cpu 1.15.1 with OpenBLAS, torch 2.14.1; k=10):
default threshold 858 ms, lowered 174 ms (4.9x faster), ExactSearcher.search
174 ms, torch matmul + topk 76 ms. With ``--threads 1``: 1765 / 338 / 338 / 136 ms.

Usage::

    python benchmarks/faiss_search_speed.py [--gallery 100000] [--dim 512]
        [--queries 100] [--k 10] [--repeats 9] [--threads N]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import faiss
import numpy as np
import torch

try:
    from gleamkit.evaluation.search import DEFAULT_BLAS_THRESHOLD, ExactSearcher
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from gleamkit.evaluation.search import DEFAULT_BLAS_THRESHOLD, ExactSearcher


def time_round_robin(methods, repeats):
    """Median and min seconds per method, the methods interleaved in every round.

    Interleaving spreads drifting machine load (shared cores, noisy neighbours)
    evenly over the methods, so the ratios hold even when absolute times wander.
    """
    for fn in methods.values():
        fn()  # warm-up: page the gallery in, start the thread pools
    times = {name: [] for name in methods}
    for _ in range(repeats):
        for name, fn in methods.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: (statistics.median(t), min(t)) for name, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--gallery', type=int, default=100_000)
    parser.add_argument('--dim', type=int, default=512)
    parser.add_argument('--queries', type=int, default=100)
    parser.add_argument('--k', type=int, default=10)
    parser.add_argument('--repeats', type=int, default=9)
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='threads for faiss and torch (default: their own default)',
    )
    args = parser.parse_args()
    if args.threads:
        faiss.omp_set_num_threads(args.threads)
        torch.set_num_threads(args.threads)

    rng = np.random.default_rng(0)
    gallery = rng.standard_normal((args.gallery, args.dim), dtype=np.float32)
    gallery /= np.linalg.norm(gallery, axis=1, keepdims=True)
    queries = rng.standard_normal((args.queries, args.dim), dtype=np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)

    faiss_default = faiss.cvar.distance_compute_blas_threshold  # before ExactSearcher lowers it
    # one gallery copy shared by every faiss variant
    searcher = ExactSearcher(blas_threshold=DEFAULT_BLAS_THRESHOLD).add(gallery)
    index = searcher.index
    g_t, q_t = torch.from_numpy(gallery), torch.from_numpy(queries)

    def faiss_search(threshold):
        def run():
            faiss.cvar.distance_compute_blas_threshold = threshold
            return index.search(queries, args.k)

        return run

    def exact_searcher():
        faiss.cvar.distance_compute_blas_threshold = DEFAULT_BLAS_THRESHOLD
        return searcher.search(queries, args.k)

    def torch_topk():
        return torch.topk(q_t @ g_t.T, args.k, dim=1)

    default_name = f'faiss IndexFlatIP, default blas threshold ({faiss_default})'
    lowered_name = f'faiss IndexFlatIP, blas threshold {DEFAULT_BLAS_THRESHOLD}'
    timings = time_round_robin(
        {
            default_name: faiss_search(faiss_default),
            lowered_name: faiss_search(DEFAULT_BLAS_THRESHOLD),
            'gleamkit ExactSearcher.search': exact_searcher,
            'torch matmul + topk': torch_topk,
        },
        args.repeats,
    )
    faiss.cvar.distance_compute_blas_threshold = DEFAULT_BLAS_THRESHOLD

    # same answer from every method (up to near-ties in float rounding)
    _, ref = torch_topk()
    _, got = searcher.search(queries, args.k)
    agreement = float((np.sort(got, 1) == np.sort(ref.numpy(), 1)).mean())

    print(
        f'{args.queries} queries x {args.gallery} x {args.dim} gallery, k={args.k}, '
        f'{args.repeats} interleaved rounds; faiss {faiss.__version__}, '
        f'torch {torch.__version__}, {faiss.omp_get_max_threads()} faiss threads, '
        f'{torch.get_num_threads()} torch threads'
    )
    base = timings[lowered_name][0]
    print(f'  {"method":<52s} {"median":>9s}    {"min":>9s}   median vs lowered')
    for name, (median, best) in timings.items():
        print(
            f'  {name:<52s} {median * 1000:6.1f} ms  {best * 1000:6.1f} ms   x{median / base:5.2f}'
        )
    print(
        f'  default / lowered threshold (median): {timings[default_name][0] / base:.2f}x; '
        f'torch / lowered: {timings["torch matmul + topk"][0] / base:.2f}x'
    )
    print(f'  top-{args.k} agreement ExactSearcher vs torch: {agreement * 100:.2f}%')


if __name__ == '__main__':
    main()
