"""Build the offline bilingual GLEAM-X set from gleamkit's built-in world.

Writes ``OUT/images/*.png``, ``OUT/train.jsonl``, ``OUT/test.jsonl`` (the GLEAM-X
JSONL format, ``docs/gleam_x_data.md``) and ``OUT/manifest.json``. Nothing is
downloaded; the same arguments give the same files.

    python tools/dataset_converters/build_gleam_x_synthetic.py \\
        --out data/gleam_x_synthetic --num-pairs 2000 --image-size 256
"""

import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from gleamkit.synthetic.captions.synthetic_explanations import (  # noqa: E402
    DEFAULTS,
    QUERY_VIEWS,
    build_synthetic_set,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument(
        '--num-pairs',
        type=int,
        default=DEFAULTS['num_pairs'],
        help='pairs over both splits (half match, half no match)',
    )
    parser.add_argument(
        '--image-size',
        type=int,
        default=DEFAULTS['image_size'],
        help='side of the rendered images in pixels',
    )
    parser.add_argument('--seed', type=int, default=DEFAULTS['seed'])
    parser.add_argument(
        '--views',
        nargs='+',
        default=list(QUERY_VIEWS),
        choices=QUERY_VIEWS,
        help='query views to use',
    )
    parser.add_argument(
        '--num-locations',
        type=int,
        default=None,
        help='locations of the world (default: from --num-pairs)',
    )
    parser.add_argument(
        '--semi-positive-share',
        type=float,
        default=DEFAULTS['semi_positive_share'],
        help='share of negatives taken among neighbouring tiles',
    )
    parser.add_argument(
        '--difficulty',
        type=float,
        default=None,
        help="the world's rendering difficulty (its default when omitted)",
    )
    parser.add_argument(
        '--render-cache',
        default=None,
        help="the world's render cache folder (its default when omitted)",
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    world = {} if args.difficulty is None else dict(difficulty=args.difficulty)
    paths = build_synthetic_set(
        args.out,
        num_pairs=args.num_pairs,
        image_size=args.image_size,
        seed=args.seed,
        views=args.views,
        num_locations=args.num_locations,
        semi_positive_share=args.semi_positive_share,
        world=world,
        render_cache_dir=args.render_cache,
    )
    with open(paths['manifest'], encoding='utf-8') as f:
        manifest = json.load(f)
    for split, info in manifest['splits'].items():
        print(
            f'{split}: {info["pairs"]} pairs ({info["match"]} match), negatives '
            f'{info["negatives"]} -> {paths[split]}'
        )
    print(f'{manifest["images"]} images in {osp.join(args.out, "images")}')
    return paths


if __name__ == '__main__':
    main()
