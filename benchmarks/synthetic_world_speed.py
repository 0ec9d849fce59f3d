"""How fast is the built-in synthetic world? (target: 1,000 locations x 5 views at
128 px in under 2 minutes on a 2-core CPU machine).

Each repeat builds a fresh world (layout generation included) and renders every
query location in all five views; the median over repeats is reported, with the
per-view median cost (ms per location, measured in a single process on a
sample of locations) and the ratio to the 2-minute target.

    python benchmarks/synthetic_world_speed.py                       # 1000 locations
    python benchmarks/synthetic_world_speed.py --num-locations 200 --repeats 1
    python benchmarks/synthetic_world_speed.py --num-workers 0      # single process
"""

import argparse
import os
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

from gleamkit.synthetic import VIEWS, SyntheticWorld  # noqa: E402

TARGET_S = 120.0


def _cpu_s():
    """CPU seconds used so far by this process and its (finished) children."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + ch.ru_utime + ch.ru_stime


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--num-locations', type=int, default=1000)
    p.add_argument(
        '--num-distractors',
        type=int,
        default=0,
        help='distractors are rendered in the satellite view only',
    )
    p.add_argument('--image-size', type=int, default=128)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--num-workers', type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument(
        '--per-view-sample',
        type=int,
        default=60,
        help='locations timed one by one for the per-view figures',
    )
    args = p.parse_args(argv)
    if args.num_locations < 1 or args.repeats < 1 or args.image_size < 16:
        p.error('--num-locations and --repeats must be >= 1, --image-size >= 16')

    kw = dict(
        num_locations=args.num_locations,
        num_distractors=args.num_distractors,
        image_size=args.image_size,
    )
    totals, builds, cpus = [], [], []
    for rep in range(args.repeats):
        c0 = _cpu_s()
        t0 = time.perf_counter()
        world = SyntheticWorld(seed=rep, **kw)
        _ = world.layout
        t1 = time.perf_counter()
        world.render_all(VIEWS, num_workers=args.num_workers, progress=False)
        t2 = time.perf_counter()
        builds.append(t1 - t0)
        totals.append(t2 - t0)
        cpus.append(_cpu_s() - c0)
        print(
            f'repeat {rep}: world {t1 - t0:.1f} s + rendering {t2 - t1:.1f} s = '
            f'{t2 - t0:.1f} s  (region {world.width_m / 1000:.1f} x '
            f'{world.height_m / 1000:.1f} km, {world.layout.num_buildings} buildings)'
        )

    # per-view cost, single process
    world = SyntheticWorld(seed=0, **kw)
    _ = world.layout
    ids = world.query_ids[: args.per_view_sample]
    per_view = {}
    for v in VIEWS:
        times = []
        for i in ids:
            t = time.perf_counter()
            world.render(i, v)
            times.append(time.perf_counter() - t)
        per_view[v] = 1000 * statistics.median(times)

    med = statistics.median(totals)
    n = args.num_locations + args.num_distractors
    print()
    print(
        f'{args.num_locations} locations x {len(VIEWS)} views at {args.image_size} px, '
        f'{args.num_workers} worker(s), {os.cpu_count()} CPU(s), {args.repeats} repeat(s)'
    )
    print(f'median wall time      : {med:.1f} s  (world build {statistics.median(builds):.1f} s)')
    print(f'locations / s         : {n / med:.1f}')
    cpu = statistics.median(cpus)
    print(
        f'CPU time (all procs)  : {cpu:.1f} s  -> ~{cpu / max(1, args.num_workers):.1f} s wall '
        f'on {max(1, args.num_workers)} idle core(s); load average now {os.getloadavg()[0]:.1f}'
    )
    print('per-view median (ms per location, 1 process):')
    for v in VIEWS:
        print(f'  {v:10s} {per_view[v]:7.1f}')
    print(f'  {"all five":10s} {sum(per_view.values()):7.1f}')
    scale = 1000 / args.num_locations
    print(
        f'vs 2-minute target    : {med * scale / TARGET_S:.2f} x the budget '
        f'(scaled to 1000 locations: {med * scale:.1f} s)'
    )


if __name__ == '__main__':
    main()
