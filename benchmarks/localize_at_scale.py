"""Localisation on the built-in world with 100k distractor tiles: exact vs IVF-PQ.

What it measures, with a trained GLEAM-C checkpoint (``--config``/``--checkpoint``):

1. **The region**: the built-in world (``--num-locations`` places, ``--world-seed``)
   exported as a GeoTIFF and cut into ``--tile-m`` tiles every ``--stride-m``, embedded
   by the model (:meth:`GeoLocalizer.build_gallery`).
2. **Real distractors**: ``--real-worlds`` other synthetic worlds (seeds 1001, 1002, ...,
   ``--real-places`` places each) rendered, exported and tiled the same way and embedded
   by the same model: satellite tiles that contain none of the queries' places. The
   time per 1k tiles (rendering and embedding apart) is printed.
3. **Sampled distractors** fill up to ``--distractors`` (embedding 100k real tiles takes
   too long on a small CPU; see the printed time per 1k tiles): drawn from the model's
   own distribution of distractor-tile embeddings, fitted on the real ones: k-means
   (``--mixture`` clusters) and, per cluster, its mean and full covariance; each draw is a
   cluster (by size) plus Gaussian noise of that covariance, L2-normalised. The script
   checks the stand-in: R@1 against ``R`` real distractors vs ``R`` sampled ones.
4. **Queries**: a UAV image of every place of the region and a ground image set
   (``--ground-shots`` photos, one query) of every place; truth = the place's position.
   **R@1** = the top-1 tile is a region tile whose footprint contains the truth (a
   distractor never counts); the top-1 agreement of the approximate index with the
   exact one is printed too.
5. **End-to-end time**: :meth:`GeoLocalizer.localize` (read the PNG, resize, embed,
   search, estimate) on the region + distractors gallery, saved and loaded as
   :meth:`build_gallery` leaves it: median ms per query with one query per call
   (batch 1) and with all UAV queries in one call (batched, time / queries).

Usage (the tutorial's miniature model; see docs/gallery_index.md for the figures)::

    python benchmarks/localize_at_scale.py --config work_dirs/phase2/phase2.py \\
        --checkpoint work_dirs/phase2/epoch_8.pth --distractors 100000 --threads 1
"""

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--config', required=True, help='the config the checkpoint was trained with')
    p.add_argument('--checkpoint', required=True)
    p.add_argument('--work-dir', default='work_dirs/localize_at_scale')
    p.add_argument('--num-locations', type=int, default=48)
    p.add_argument('--num-world-distractors', type=int, default=8)
    p.add_argument('--world-seed', type=int, default=1)
    p.add_argument('--image-size', type=int, default=32, help='query render size')
    p.add_argument('--difficulty', type=float, default=0.3)
    p.add_argument('--tile-m', type=float, default=160)
    p.add_argument('--stride-m', type=float, default=80)
    p.add_argument('--distractors', type=int, default=100_000, help='distractor tiles in all')
    p.add_argument('--real-worlds', type=int, default=2)
    p.add_argument('--real-places', type=int, default=1600, help='places per real world')
    p.add_argument('--mixture', type=int, default=64, help='clusters of the sampled stand-in')
    p.add_argument(
        '--index',
        nargs='+',
        default=['IVF{nlist},PQ8', 'IVF{nlist},PQ16'],
        help='the approximate indexes ({nlist}: ivf_nlist of the gallery size)',
    )
    p.add_argument('--nprobe', type=int, nargs='+', default=[16, 64])
    p.add_argument(
        '--rerank', type=int, default=100, help='also re-rank this many by exact scores (0: off)'
    )
    p.add_argument('--ground-shots', type=int, default=3)
    p.add_argument('--repeats', type=int, default=5, help='timings of the batched call')
    p.add_argument('--threads', type=int, default=None)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', help='write the figures as JSON here')
    return p.parse_args(argv)


# --------------------------------------------------------------------------- pieces
def export_world(path: Path, num_locations, num_distractors, seed, image_size, difficulty):
    from gleamkit.synthetic import SyntheticWorld
    from gleamkit.synthetic.geotiff import export_geotiff

    world = SyntheticWorld(
        num_locations=num_locations,
        num_distractors=num_distractors,
        seed=seed,
        image_size=image_size,
        difficulty=difficulty,
    )
    start = time.perf_counter()
    if not path.is_file():
        export_geotiff(world, str(path))
    return world, time.perf_counter() - start


def embedded_gallery(localizer, raster: Path, out: Path, args, index='Flat'):
    """Embeddings and metadata of a raster's tiles (shards reused when present)."""
    from gleamkit.index import merge_embedding_shards

    start = time.perf_counter()
    if not (out / 'index' / 'manifest.json').is_file():
        localizer.build_gallery(
            raster, out, tile_m=args.tile_m, stride_m=args.stride_m, index=index, progress=False
        )
    seconds = time.perf_counter() - start
    merged = merge_embedding_shards(out / 'shards')
    return np.asarray(merged.embeddings, dtype=np.float32), merged.metadata, seconds


def sample_like(real: np.ndarray, count: int, clusters: int, seed: int) -> np.ndarray:
    """``count`` unit vectors from a Gaussian mixture fitted to ``real`` (k-means, then a
    full covariance per cluster)."""
    import faiss

    rng = np.random.default_rng(seed)
    dim = real.shape[1]
    clusters = max(1, min(clusters, len(real) // (4 * dim)))
    km = faiss.Kmeans(dim, clusters, niter=25, seed=seed, verbose=False)
    km.train(np.ascontiguousarray(real))
    assign = km.index.search(real, 1)[1][:, 0]
    sizes = np.bincount(assign, minlength=clusters).astype(np.float64)
    picks = rng.choice(clusters, size=count, p=sizes / sizes.sum())
    out = np.empty((count, dim), np.float32)
    for c in range(clusters):
        rows = np.flatnonzero(picks == c)
        if rows.size == 0:
            continue
        members = real[assign == c]
        mean = members.mean(axis=0)
        cov = np.cov(members, rowvar=False) if len(members) > 1 else np.zeros((dim, dim))
        out[rows] = rng.multivariate_normal(mean, cov + 1e-6 * np.eye(dim), size=rows.size)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def contains(footprint, lat: float, lon: float) -> bool:
    """Whether the convex footprint polygon ((lon, lat) corners) contains the point."""
    pts = np.asarray(footprint, dtype=np.float64)
    signs = []
    for (x1, y1), (x2, y2) in zip(pts, np.roll(pts, -1, axis=0)):
        signs.append((x2 - x1) * (lat - y1) - (y2 - y1) * (lon - x1))
    signs = np.asarray(signs)
    return bool((signs >= 0).all() or (signs <= 0).all())


def truth_tiles(metadata, places) -> list:
    """Per place, the set of region tile positions whose footprint contains it."""
    lat, lon = np.asarray(metadata.columns['lat']), np.asarray(metadata.columns['lon'])
    foot = metadata.columns['footprint']
    out = []
    for place in places:
        near = np.flatnonzero(
            (np.abs(lat - place['lat']) < 0.01) & (np.abs(lon - place['lon']) < 0.01)
        )
        out.append({int(i) for i in near if contains(foot[i], place['lat'], place['lon'])})
    return out


def recall_at(ranked: np.ndarray, truth: list, k: int) -> float:
    """% of queries with a region tile containing the truth among the top ``k``."""
    hits = [bool(set(r[:k].tolist()) & good) for r, good in zip(ranked, truth)]
    return 100.0 * float(np.mean(hits))


def build_index(embeddings, factory, nprobe=None, seed=0, store_vectors=False):
    from gleamkit.index import GalleryIndex

    n = len(embeddings)
    return GalleryIndex.build(
        embeddings,
        dict(id=np.arange(n)),
        factory,
        nprobe=nprobe,
        seed=seed,
        store_vectors=store_vectors,
    )


def search_ms(index, queries, rerank=0) -> float:
    """Median ms of one query's search (batch 1), top 10."""
    times = []
    for q in queries:
        start = time.perf_counter()
        index.search(q[None], k=10, rerank=rerank, with_metadata=False)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


# --------------------------------------------------------------------------- main
def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
        import faiss

        faiss.omp_set_num_threads(args.threads)
    from PIL import Image

    from gleamkit.apis import GeoLocalizer
    from gleamkit.index import GalleryIndex, TileMetadata, estimate_index_bytes, ivf_nlist

    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    loc = GeoLocalizer(args.config, args.checkpoint, device='cpu')
    figures = dict(args=vars(args))

    # 1. the region
    world, _ = export_world(
        work / 'region.tif',
        args.num_locations,
        args.num_world_distractors,
        args.world_seed,
        args.image_size,
        args.difficulty,
    )
    region, region_meta, _ = embedded_gallery(loc, work / 'region.tif', work / 'region', args)
    places = [p.to_dict() for p in world.locations if not p.to_dict().get('is_distractor')]
    truth = truth_tiles(region_meta, places)
    outside = [p['location_id'] for p, good in zip(places, truth) if not good]
    if outside:
        raise SystemExit(
            f'places {outside[:5]} lie in no region tile: use a stride <= the tile size'
        )
    print(
        f'region: {len(region)} tiles of {args.tile_m:g} m every {args.stride_m:g} m, '
        f'{len(places)} places; every place inside {min(map(len, truth))}..'
        f'{max(map(len, truth))} tiles'
    )

    # 2. real distractors
    # times of fresh renders / embeddings are kept, so a rerun on cached files reports them
    timing_file = work / 'distractor_timing.json'
    timings = json.loads(timing_file.read_text()) if timing_file.is_file() else {}
    real, real_meta = [], []
    for w in range(args.real_worlds):
        path = work / f'distractor_world_{w}.tif'
        fresh = not path.is_file()
        _, render = export_world(
            path, args.real_places, 0, 1001 + w, args.image_size, args.difficulty
        )
        embedded = not (work / f'distractor_{w}' / 'index' / 'manifest.json').is_file()
        emb, meta, embed = embedded_gallery(loc, path, work / f'distractor_{w}', args)
        entry = timings.setdefault(str(w), {})
        if fresh:
            entry['render_s'] = render
        if embedded:
            entry['embed_s'] = embed
        entry['tiles'] = len(emb)
        real.append(emb)
        real_meta.append(meta)
    timing_file.write_text(json.dumps(timings, indent=1))
    real = np.concatenate(real) if real else np.empty((0, region.shape[1]), np.float32)
    used = [timings[str(w)] for w in range(args.real_worlds)]
    render_s = sum(t.get('render_s', math.nan) for t in used)
    embed_s = sum(t.get('embed_s', math.nan) for t in used)
    per_k = 1000.0 / max(len(real), 1)
    print(
        f'real distractors: {len(real)} tiles of {args.real_worlds} other worlds '
        f'({args.real_places} places each); per 1k tiles: rendering {render_s * per_k:.1f} s, '
        f'tiling + embedding {embed_s * per_k:.1f} s; 100k would take '
        f'~{(render_s + embed_s) * per_k * 100 / 60:.0f} min here'
    )
    figures['real_distractors'] = dict(
        count=len(real), render_s_per_1k=render_s * per_k, embed_s_per_1k=embed_s * per_k
    )

    # 3. sampled distractors
    n_sampled = max(0, args.distractors - len(real))
    sampled = sample_like(real, max(n_sampled, len(real)), args.mixture, args.seed)

    # 4. queries: UAV images and ground image sets, as files (localize reads files)
    qdir = work / 'queries'
    qdir.mkdir(exist_ok=True)
    uav, ground = [], []
    for place in places:
        loc_id = int(place['location_id'])
        path = qdir / f'uav_{loc_id}.png'
        Image.fromarray(world.render(loc_id, 'uav')).save(path)
        uav.append(str(path))
        shots = []
        for s in range(args.ground_shots):
            path = qdir / f'ground_{loc_id}_{s}.png'
            Image.fromarray(world.render(loc_id, 'ground', rng_seed=s)).save(path)
            shots.append(str(path))
        ground.append(shots)
    q_uav = loc.embed_queries(uav, view='uav')[0]
    q_ground = loc.embed_queries(ground, view='ground')[0]

    def evaluate(index, rerank=0):
        return {
            view: index.search(q, k=10, rerank=rerank, with_metadata=False).indices
            for view, q in (('uav', q_uav), ('ground', q_ground))
        }

    rows = []

    def report(name, gallery, factory='Flat', nprobe=None, exact=None, index=None, rerank=0):
        if index is None:
            index = build_index(gallery, factory, nprobe, args.seed)
        found = evaluate(index, rerank)
        mib = estimate_index_bytes(factory, len(gallery), gallery.shape[1]) / 2**20
        line = dict(
            gallery=name,
            size=len(gallery),
            index=factory,
            nprobe=nprobe,
            rerank=rerank,
            index_mib=mib,
            search_ms_batch1=search_ms(index, q_uav, rerank),
            uav_R1=recall_at(found['uav'], truth, 1),
            uav_R10=recall_at(found['uav'], truth, 10),
            ground_R1=recall_at(found['ground'], truth, 1),
            ground_R10=recall_at(found['ground'], truth, 10),
        )
        agree = '-'
        if exact is not None:
            same = [found[v][:, 0] == exact[v][:, 0] for v in ('uav', 'ground')]
            line['top1_agree'] = float(np.concatenate(same).mean())
            agree = f'{line["top1_agree"]:.3f}'
        rows.append(line)
        param = '-' if nprobe is None else f'nprobe={nprobe}'
        if rerank:
            param += f' rerank={rerank}'
        print(
            f'| {name} | {len(gallery)} | {factory} | {param} | {mib:.2f} | '
            f'{line["search_ms_batch1"]:.2f} | {line["uav_R1"]:.2f} | '
            f'{line["uav_R10"]:.2f} | {line["ground_R1"]:.2f} | {line["ground_R10"]:.2f} | '
            f'{agree} |'
        )
        return found

    # how confusable the distractors are: each query's best score among them
    def best_score(gallery):
        index = build_index(gallery, 'Flat')
        q = np.concatenate([q_uav, q_ground])
        return float(np.median(index.search(q, k=1, with_metadata=False).scores[:, 0]))

    real_best, sampled_best = best_score(real), best_score(sampled[: len(real)])
    print(
        f'median best query score among {len(real)} real distractors {real_best:.3f}, '
        f'among as many sampled ones {sampled_best:.3f}'
    )
    figures['best_score'] = dict(real=real_best, sampled=sampled_best)
    print(
        '\n| gallery | tiles | index | param | index MiB | search ms @1 | UAV R@1 | UAV R@10 '
        '| ground R@1 | ground R@10 | top-1 agree |\n|---|---|---|---|---|---|---|---|---|---|---|'
    )
    report('region only', region)
    report(f'+ {len(real)} real distractors', np.concatenate([region, real]))
    report(f'+ {len(real)} sampled distractors', np.concatenate([region, sampled[: len(real)]]))
    full = np.concatenate([region, real, sampled[:n_sampled]])
    name = f'+ {len(real)} real + {n_sampled} sampled'
    exact = report(name, full)
    factories = [f.format(nlist=ivf_nlist(len(full))) for f in args.index]
    for factory in factories:
        index = build_index(full, factory, seed=args.seed, store_vectors=args.rerank > 0)
        for nprobe in args.nprobe:
            index.nprobe = nprobe
            report(name, full, factory, nprobe, exact=exact, index=index)
            if args.rerank:
                report(name, full, factory, nprobe, exact=exact, index=index, rerank=args.rerank)
    figures['rows'] = rows
    factory = factories[0]

    # 5. end-to-end localize time on the full gallery, saved and loaded
    meta = TileMetadata.concatenate(
        [region_meta.take(np.arange(len(region)))]
        + [m.take(np.arange(len(m))) for m in real_meta]
        + [_sampled_metadata(real_meta, n_sampled)]
    )
    meta = TileMetadata({**meta.columns, 'id': np.array([f't{i}' for i in range(len(meta))])})
    timing = []
    for factory_name, nprobe in [('Flat', None)] + [(factory, n) for n in args.nprobe[-1:]]:
        out = work / f'gallery_{factory_name.replace(",", "_")}'
        if not (out / 'index' / 'manifest.json').is_file():
            GalleryIndex.build(
                full,
                meta,
                factory_name,
                nprobe=nprobe,
                seed=args.seed,
                config_digest=loc.config_digest,
                checkpoint_digest=loc.checkpoint_digest,
            ).save(out / 'index')
        loc.load_gallery(out)
        if nprobe:
            loc.gallery.nprobe = nprobe
        loc.localize(uav[:2], view='uav', topk=10)  # warm up
        one = []
        for path in uav:
            start = time.perf_counter()
            loc.localize(path, view='uav', topk=10)
            one.append((time.perf_counter() - start) * 1000)
        batched = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            loc.localize(uav, view='uav', topk=10)
            batched.append((time.perf_counter() - start) * 1000 / len(uav))
        timing.append(
            dict(
                index=factory_name,
                nprobe=nprobe,
                ms_batch1=statistics.median(one),
                ms_per_query_batched=statistics.median(batched),
                batch=len(uav),
            )
        )
        print(
            f'localize on {len(full)} tiles, {factory_name}'
            f'{f" nprobe={nprobe}" if nprobe else ""}: batch 1 median '
            f'{statistics.median(one):.2f} ms/query; batch {len(uav)} median '
            f'{statistics.median(batched):.2f} ms/query'
        )
    figures['localize'] = timing
    if args.out:
        Path(args.out).write_text(json.dumps(figures, indent=2, default=float))
    return figures


def _sampled_metadata(real_meta, count):
    """Sampled distractors borrow the positions/footprints of real distractor tiles."""
    from gleamkit.index import TileMetadata

    pool = TileMetadata.concatenate([m.take(np.arange(len(m))) for m in real_meta])
    rows = np.arange(count) % len(pool)
    return pool.take(rows)


if __name__ == '__main__':
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    main()
