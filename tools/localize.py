"""Localise images: build a gallery from a region, then ask where images were taken.

    # a georeferenced raster -> embedded tiles + faiss index (resumable, see --shard-size)
    python tools/localize.py build --config configs/gleam_c/phase2.py \
        --checkpoint work_dirs/phase2/epoch_2.pth --source region.tif \
        --tile-m 150 --stride-m 75 --out gallery [--index HNSW32]
    # several GPUs: torchrun --nproc-per-node 8 tools/localize.py build ... --launcher pytorch

    # images -> results.json, results.csv, report/<query>.png and index.html
    python tools/localize.py query --gallery gallery --images a.jpg b.jpg [--view uav] \
        [--topk 10] [--truth truth.csv] --out results
    python tools/localize.py query --gallery gallery --folder photos/ --view ground ...

The query uses the config and checkpoint the gallery was built with (recorded in
gallery/gallery.json) unless --config / --checkpoint are given; an index built by another
model is refused. See docs/tutorials/localize_your_own_image.md.
"""

import argparse
import csv
import json
import os
import os.path as osp
import re
import sys

# run from a checkout without `pip install -e .` too
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.tif', '.tiff', '.bmp', '.webp')


def _bytes(text):
    match = re.fullmatch(r'\s*([\d.]+)\s*([kmgt]?)i?b?\s*', str(text).lower())
    if not match:
        raise argparse.ArgumentTypeError(f'not a size: {text!r} (e.g. 4G, 512M, 1000000)')
    return int(float(match.group(1)) * 1024 ** ' kmgt'.index(match.group(2) or ' '))


def parse_args(argv=None):
    from mmengine.config import DictAction

    parser = argparse.ArgumentParser(
        description='Build a localisation gallery or localise images against one'
    )
    sub = parser.add_subparsers(dest='command', required=True)
    model = argparse.ArgumentParser(add_help=False)
    model.add_argument('--config', help="GLEAM-C config (query: default = the gallery's)")
    model.add_argument(
        '--checkpoint',
        help="trained weights, or 'none' for a randomly "
        "initialised model (smoke tests only); query: default = the gallery's",
    )
    model.add_argument('--device', default='auto', help="'auto', 'cpu', 'cuda:0', ...")
    model.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        default={},
        help='override config entries, e.g. world.image_size=32',
    )
    model.add_argument('--batch-size', type=int, default=64, help='images embedded at once')

    build = sub.add_parser(
        'build', parents=[model], help='tile and embed a region, build its index'
    )
    build.add_argument(
        '--source',
        required=True,
        help='a GeoTIFF (any raster rasterio '
        'reads), a slippy-map folder z/x/y.png or a tile list .csv/.json',
    )
    build.add_argument(
        '--tile-m',
        type=float,
        nargs='+',
        help='tile side in ground metres (several: one grid per scale)',
    )
    build.add_argument(
        '--stride-m', type=float, nargs='+', help='tile step in metres (default: half the tile)'
    )
    build.add_argument('--out', required=True, help='the gallery directory to write')
    build.add_argument(
        '--index',
        help="faiss index_factory string ('Flat', 'HNSW32', "
        "'IVF1024,PQ32'); default: picked from the gallery size",
    )
    build.add_argument(
        '--memory-budget',
        type=_bytes,
        help='bytes the index may take, e.g. 4G (for the default index)',
    )
    build.add_argument(
        '--shard-size',
        type=int,
        default=4096,
        help='tiles per embedding shard: the unit a killed build resumes from',
    )
    build.add_argument('--overwrite', action='store_true', help='replace an existing index')
    build.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='pytorch under torchrun: ranks embed shards',
    )

    query = sub.add_parser('query', parents=[model], help='localise images')
    query.add_argument('--gallery', required=True, help='a directory written by build')
    what = query.add_mutually_exclusive_group()
    what.add_argument('--images', nargs='+', help='image files, one query each')
    what.add_argument(
        '--folder',
        help='a folder of images (one query each); each '
        'sub-folder is one image set (e.g. ground photos of one place)',
    )
    query.add_argument(
        '--image-set',
        nargs='+',
        action='append',
        default=[],
        help='images that form one query (repeatable)',
    )
    query.add_argument(
        '--view',
        help="the queries' view: uav, ground, panorama, map "
        '(default: uav for images, ground for image sets)',
    )
    query.add_argument('--topk', type=int, default=10)
    query.add_argument(
        '--margin',
        type=float,
        default=0.05,
        help='the estimate averages the '
        'top tiles scoring within this of the best (smaller: nearer the top-1)',
    )
    query.add_argument(
        '--truth',
        help='CSV with columns image, lat, lon (image = the file '
        'name, path, or the folder of an image set)',
    )
    query.add_argument(
        '--rerank',
        type=int,
        default=0,
        help='verify the top K tiles with GLEAM-X and re-order them by the fused score',
    )
    query.add_argument(
        '--explainer',
        help='GLEAM-X explainer: a config file, an adapter directory or a model directory '
        "(default: the GLEAM-C config's verification.explainer)",
    )
    query.add_argument(
        '--explainer-checkpoint',
        help="the explainer's trained weights (e.g. work_dirs/<gleam_x config>/epoch_4.pth)",
    )
    query.add_argument('--fusion-weight', type=float, help='weight of P(match) (default: config)')
    query.add_argument(
        '--explain', action='store_true', help='also write an explanation per verified tile'
    )
    query.add_argument('--language', default='en', choices=('en', 'zh'))
    query.add_argument('--out', required=True, help='results directory')
    query.add_argument('--no-report', action='store_true', help='skip the PNG reports')
    query.add_argument(
        '--html-map',
        action='store_true',
        help='also write map.html: every query on the region (needs folium)',
    )
    return parser.parse_args(argv)


def _localizer(args, gallery_info=None):
    from mmengine.config import Config

    from gleamkit.apis import GeoLocalizer

    recorded = (gallery_info or {}).get('model') or {}
    config = args.config or recorded.get('config')
    if not config:
        raise SystemExit('give --config (the gallery does not record one)')
    checkpoint = args.checkpoint
    if checkpoint is None:
        checkpoint = recorded.get('checkpoint') if gallery_info else None
        if checkpoint is None and gallery_info is None:
            raise SystemExit("give --checkpoint (or 'none' for a randomly initialised model)")
    if checkpoint == 'none':
        checkpoint = None
    cfg = Config.fromfile(config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    # the sizes the gallery was embedded at, unless the config is overridden here
    sizes = None if args.cfg_options else (gallery_info or {}).get('input_sizes')
    return GeoLocalizer(
        cfg,
        checkpoint,
        device=args.device,
        input_sizes=sizes,
        explainer=getattr(args, 'explainer', None),
        fusion_weight=getattr(args, 'fusion_weight', None),
        explainer_checkpoint=getattr(args, 'explainer_checkpoint', None),
    )


def run_build(args):
    if args.launcher != 'none':
        import torch
        from mmengine.dist import init_dist

        if torch.cuda.is_available() or args.launcher != 'pytorch':
            init_dist(args.launcher)
        else:  # CPU ranks (init_dist would pick a GPU per rank)
            torch.distributed.init_process_group('gloo')
    loc = _localizer(args)
    tile_m = (
        args.tile_m[0]
        if args.tile_m and len(args.tile_m) == 1
        else (tuple(args.tile_m) if args.tile_m else None)
    )
    stride_m = (
        args.stride_m[0]
        if args.stride_m and len(args.stride_m) == 1
        else (tuple(args.stride_m) if args.stride_m else None)
    )
    gallery = loc.build_gallery(
        args.source,
        args.out,
        tile_m=tile_m,
        stride_m=stride_m,
        batch_size=args.batch_size,
        index=args.index,
        memory_budget=args.memory_budget,
        shard_size=args.shard_size,
        overwrite=args.overwrite,
    )
    if gallery is not None:
        print(
            f'gallery: {len(gallery)} tiles, index {gallery.factory!r}, dim {gallery.dim} '
            f'-> {args.out}'
        )


def _queries(args):
    """(queries, keys): each query a list of paths; keys match the truth CSV."""
    queries, keys = [], []
    if args.folder:
        if not osp.isdir(args.folder):
            raise SystemExit(f'--folder {args.folder} is not a directory')
        for name in sorted(os.listdir(args.folder)):
            path = osp.join(args.folder, name)
            if osp.isdir(path):
                members = sorted(
                    osp.join(path, m)
                    for m in os.listdir(path)
                    if m.lower().endswith(IMAGE_EXTENSIONS)
                )
                if members:
                    queries.append(members)
                    keys.append(name)
            elif name.lower().endswith(IMAGE_EXTENSIONS):
                queries.append([path])
                keys.append(name)
        if not queries:
            raise SystemExit(f'--folder {args.folder} holds no images ({IMAGE_EXTENSIONS})')
    for path in args.images or []:
        queries.append([path])
        keys.append(path)
    for members in args.image_set:
        queries.append(list(members))
        keys.append(' + '.join(members))
    if not queries:
        raise SystemExit('give query images: --images FILE..., --folder DIR or --image-set FILE...')
    return queries, keys


def _read_truth(path, keys):
    if not osp.isfile(path):
        raise SystemExit(f'--truth {path} not found')
    table = {}
    with open(path, newline='', encoding='utf-8') as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        name_key = next((k for k in ('image', 'query', 'path', 'name') if k in fields), None)
        if name_key is None or 'lat' not in fields or 'lon' not in fields:
            raise SystemExit(f'{path}: expected columns image, lat, lon; got {fields}')
        for line, row in enumerate(reader, start=2):
            try:
                table[row[name_key]] = (float(row['lat']), float(row['lon']))
            except (TypeError, ValueError):
                raise SystemExit(
                    f'{path} line {line}: lat/lon must be numbers, got '
                    f'{row.get("lat")!r}, {row.get("lon")!r}'
                ) from None
    truths = []
    for key in keys:
        found = None
        for candidate in (key, osp.basename(key.rstrip('/')), osp.splitext(osp.basename(key))[0]):
            if candidate in table:
                found = table[candidate]
                break
        truths.append(found)
    return truths


def _tile_image(dataset, position):
    if dataset is None or position < 0:
        return None
    try:
        return dataset[position]['inputs']['reference'].permute(1, 2, 0).numpy()
    except Exception:  # a missing tile file must not stop the report
        return None


def _p_text(tile):
    return '' if tile.p_match is None else f'{tile.p_match:.3f} ({tile.verdict})'


def _write_index_html(path, results, reports, summary):
    """One offline page: a table of the answers and every query's report PNG."""
    from html import escape

    rows, figures = [], []
    for r, report in zip(results, reports):
        error = '' if r.error_m is None else f'{r.error_m:.1f}'
        rows.append(
            f'<tr><td><a href="#{escape(report)}">{escape(r.query)}</a></td>'
            f'<td>{r.view}</td><td>{r.lat:.6f}</td><td>{r.lon:.6f}</td>'
            f'<td>{r.radius_m:.0f}</td><td>{error}</td>'
            f'<td>{escape(r.top1.tile_id)}</td><td>{r.top1.score:.3f}</td>'
            f'<td>{_p_text(r.top1)}</td><td>{escape(_verification_text(r))}</td>'
            f'<td>{escape(r.top1.explanation or "")}</td></tr>'
        )
        figures.append(
            f'<h3 id="{escape(report)}">{escape(r.query)}</h3>'
            f'<img src="{escape(report)}" style="max-width:100%">'
        )
    median = summary.get('median_error_m')
    head = (
        f'<p>{summary["queries"]} queries'
        + (f', median error {median:.1f} m' if median is not None else '')
        + '</p>'
    )
    with open(path, 'w', encoding='utf-8') as f:
        f.write(
            '<!doctype html><meta charset="utf-8"><title>gleamkit localisation</title>'
            '<style>body{font-family:sans-serif}td,th{padding:2px 8px}</style>'
            f'<h2>Localisation results</h2>{head}<table border="1" '
            'style="border-collapse:collapse"><tr><th>query</th><th>view</th><th>lat</th>'
            '<th>lon</th><th>radius m</th><th>error m</th><th>top-1 tile</th>'
            '<th>score</th><th>P(match)</th><th>verification</th><th>explanation</th></tr>'
            + ''.join(rows)
            + '</table>'
            + ''.join(figures)
        )


def _verification_text(result):
    v = result.verification
    if not v:
        return ''
    return v['status'] if v['status'] == 'ok' else f'failed: {v["message"]}'


def _print_verification(results):
    """The verified tiles of each query: rank, retrieval rank, scores, verdict."""
    for r in results:
        v = r.verification or {}
        print(f'{r.query} [{r.view}]: verification {_verification_text(r)}')
        for t in r.tiles:
            if t.p_match is None:
                continue
            line = (
                f'  #{t.rank} (retrieval #{t.retrieval_rank}) {t.tile_id}: cos {t.score:.3f}, '
                f'P(match) {t.p_match:.3f} -> {t.verdict}, fused {t.fused_score:.3f} '
                f'(w={v.get("fusion_weight")})'
            )
            print(line)
            if t.explanation:
                print(f'     {t.explanation}')


def _slug(text, limit=60):
    return re.sub(r'[^A-Za-z0-9._-]+', '_', osp.splitext(osp.basename(text))[0])[:limit]


def run_query(args):
    import numpy as np

    from gleamkit.apis.geo_localizer import GALLERY_INFO
    from gleamkit.apis.query_images import read_image
    from gleamkit.visualization import draw_localization_report, raster_thumbnail_wgs84

    info_path = osp.join(args.gallery, GALLERY_INFO)
    info = json.load(open(info_path, encoding='utf-8')) if osp.isfile(info_path) else {}
    if args.html_map:  # before the work, not after it
        from gleamkit.visualization.localization_map import require_folium

        try:
            require_folium()
        except ImportError as err:
            raise SystemExit(f'--html-map: {err}') from err
    if not osp.isdir(args.gallery):
        raise SystemExit(
            f'--gallery {args.gallery}: no such directory; build one with '
            '`python tools/localize.py build --source region.tif --out GALLERY ...`'
        )
    loc = _localizer(args, info)
    loc.load_gallery(args.gallery)
    queries, keys = _queries(args)
    truths = _read_truth(args.truth, keys) if args.truth else None
    missing = [k for k, t in zip(keys, truths or []) if t is None]
    if missing:
        print(f'warning: no truth for {len(missing)} queries (e.g. {missing[:3]})')
    results = loc.localize(
        queries,
        view=args.view,
        topk=args.topk,
        true_latlon=truths,
        margin=args.margin,
        batch_size=args.batch_size,
        rerank=args.rerank,
        explain=args.explain,
        language=args.language,
    )
    os.makedirs(args.out, exist_ok=True)
    if args.rerank:
        _print_verification(results)
    errors = [r.error_m for r in results if r.error_m is not None]
    summary = dict(queries=len(results), gallery=osp.abspath(args.gallery), with_truth=len(errors))
    if errors:
        summary.update(
            median_error_m=float(np.median(errors)),
            mean_error_m=float(np.mean(errors)),
            within_radius=float(
                np.mean([r.error_m <= r.radius_m for r in results if r.error_m is not None])
            ),
        )
    with open(osp.join(args.out, 'results.json'), 'w', encoding='utf-8') as f:
        json.dump(dict(summary=summary, results=[r.to_dict() for r in results]), f, indent=1)
    with open(osp.join(args.out, 'results.csv'), 'w', newline='', encoding='utf-8') as f:
        writer = csv.writer(f)
        writer.writerow(
            [
                'query',
                'view',
                'lat',
                'lon',
                'radius_m',
                'error_m',
                'top1_tile_id',
                'top1_score',
                'top1_lat',
                'top1_lon',
                'top1_error_m',
                'top1_p_match',
                'top1_verdict',
                'top1_retrieval_rank',
                'verification',
                'top1_explanation',
                'report',
            ]
        )
        reports = []
        for i, r in enumerate(results):
            report = '' if args.no_report else osp.join('report', f'{i:04d}_{_slug(keys[i])}.png')
            reports.append(report)
            writer.writerow(
                [
                    r.query,
                    r.view,
                    f'{r.lat:.7f}',
                    f'{r.lon:.7f}',
                    f'{r.radius_m:.1f}',
                    '' if r.error_m is None else f'{r.error_m:.1f}',
                    r.top1.tile_id,
                    f'{r.top1.score:.4f}',
                    f'{r.top1.lat:.7f}',
                    f'{r.top1.lon:.7f}',
                    '' if r.top1_error_m is None else f'{r.top1_error_m:.1f}',
                    '' if r.top1.p_match is None else f'{r.top1.p_match:.4f}',
                    r.top1.verdict or '',
                    r.top1.retrieval_rank or '',
                    _verification_text(r),
                    r.top1.explanation or '',
                    report,
                ]
            )
    if not args.no_report:
        os.makedirs(osp.join(args.out, 'report'), exist_ok=True)
        try:
            dataset = loc.gallery_dataset()
        except (OSError, ValueError) as err:  # the source moved: report without tile pixels
            print(f'warning: cannot read the gallery source for the report tiles ({err})')
            dataset = None
        meta = loc.gallery.metadata.columns
        centres = np.stack([np.asarray(meta['lat']), np.asarray(meta['lon'])], axis=1)
        raster = info.get('raster')
        background = raster_thumbnail_wgs84(raster) if raster else None
        from mmengine.utils import ProgressBar

        bar = ProgressBar(len(results))
        for query, r, report in zip(queries, results, reports):
            draw_localization_report(
                r,
                [read_image(m) for m in query],
                [_tile_image(dataset, t.index) for t in r.tiles],
                osp.join(args.out, report),
                gallery_centres=centres,
                background=background,
            )
            bar.update()
        print()
        _write_index_html(osp.join(args.out, 'index.html'), results, reports, summary)
    if args.html_map:
        from gleamkit.visualization import raster_thumbnail_wgs84, write_localization_map

        raster = info.get('raster')
        write_localization_map(
            results,
            osp.join(args.out, 'map.html'),
            background=raster_thumbnail_wgs84(raster) if raster else None,
            title='gleamkit localisation',
        )
    line = f'{len(results)} queries -> {args.out}/results.json, results.csv'
    if errors:
        line += f'; median error {summary["median_error_m"]:.1f} m'
    print(line)


def main(argv=None):
    args = parse_args(argv)
    if args.command == 'build':
        run_build(args)
    else:
        run_query(args)


if __name__ == '__main__':
    main()
