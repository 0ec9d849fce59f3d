"""Command line: generate / export the synthetic world and draw a preview figure.

Examples::

    python -m gleamkit.synthetic --out data/synthetic_world \
        --num-locations 1000 --image-size 128 --seed 0
    python -m gleamkit.synthetic --num-locations 50 \
        --preview docs/images/five_views.png
    python -m gleamkit.synthetic export-geotiff --out region.tif --num-locations 50
"""

import argparse
import sys
import time

from .world.synthetic_world import VIEWS, SyntheticWorld


def _positive_int(minimum):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'expected an integer, got {text!r}') from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f'must be >= {minimum}, got {value}')
        return value

    return parse


def _unit_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a number, got {text!r}') from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f'must be in [0, 1], got {value}')
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='python -m gleamkit.synthetic',
        description="Generate gleamkit's synthetic cross-view world: export images + "
        'annotations (--out) and/or draw a labelled preview figure (--preview). '
        '`python -m gleamkit.synthetic export-geotiff --help`: the region as a GeoTIFF.',
    )
    p.add_argument(
        '--out',
        help='export directory (<view>/<id>.png, annotations.jsonl, pairs.jsonl (a pair '
        'list for CrossViewPairListDataset), world.json, README.md)',
    )
    p.add_argument('--num-locations', type=_positive_int(1), default=1000)
    p.add_argument('--num-distractors', type=_positive_int(0), default=200)
    p.add_argument('--image-size', type=_positive_int(16), default=128)
    p.add_argument('--seed', type=_positive_int(0), default=0)
    p.add_argument(
        '--difficulty',
        type=_unit_float,
        default=0.5,
        help='nuisance strength in [0, 1] (default 0.5)',
    )
    p.add_argument(
        '--test-fraction',
        type=float,
        default=0.3,
        help='share of locations in the (eastern, spatially disjoint) test split',
    )
    p.add_argument('--tile-size-m', type=float, default=160.0)
    p.add_argument(
        '--views',
        nargs='+',
        choices=VIEWS,
        default=list(VIEWS),
        metavar='VIEW',
        help=f'views to export (choices: {", ".join(VIEWS)})',
    )
    p.add_argument(
        '--num-workers',
        type=_positive_int(0),
        default=0,
        help='rendering processes (0 = in this process)',
    )
    p.add_argument(
        '--ground-photos',
        type=_positive_int(1),
        default=1,
        help='ground photos per place (sets, as ground_set_size in the dataset; default 1)',
    )
    p.add_argument(
        '--preview',
        metavar='PATH',
        help='write a figure of a few locations in every view to PATH (.png)',
    )
    p.add_argument(
        '--preview-locations',
        type=int,
        nargs='+',
        metavar='ID',
        help='location ids for the preview (default: the first 3)',
    )
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    return p


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == 'export-geotiff':  # the region as one GeoTIFF (geotiff.py)
        from .geotiff import main as export_geotiff_main

        return export_geotiff_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.out and not args.preview:
        parser.error('nothing to do: give --out DIR and/or --preview PATH')
    if args.preview and not args.preview.lower().endswith(('.png', '.jpg', '.jpeg')):
        parser.error(f'--preview must end in .png or .jpg, got {args.preview!r}')
    if len(set(args.views)) != len(args.views):
        parser.error(f'--views has duplicates: {args.views}')
    try:
        world = SyntheticWorld(
            seed=args.seed,
            num_locations=args.num_locations,
            num_distractors=args.num_distractors,
            image_size=args.image_size,
            difficulty=args.difficulty,
            test_fraction=args.test_fraction,
            tile_size_m=args.tile_size_m,
        )
    except (TypeError, ValueError) as e:
        parser.error(str(e))
    if args.preview_locations:
        bad = [i for i in args.preview_locations if not 0 <= i < len(world.locations)]
        if bad:
            parser.error(f'--preview-locations {bad} out of range [0, {len(world.locations)})')
    t0 = time.time()
    if args.out:
        world.export(
            args.out,
            views=args.views,
            num_workers=args.num_workers,
            progress=not args.no_progress,
            ground_photos=args.ground_photos,
        )
        print(
            f'exported {len(world.locations)} locations x {len(args.views)} views to '
            f'{args.out} in {time.time() - t0:.1f} s'
        )
    if args.preview:
        from .preview import save_preview

        save_preview(world, args.preview, args.preview_locations)
        print(f'wrote preview {args.preview}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
