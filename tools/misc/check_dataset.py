"""Check the datasets of a config before training: every image there, readable
and decodable, and the queries' places present in the gallery.

    python tools/misc/check_dataset.py CONFIG [--no-decode] [--show 5] [--workers 4]
        [--out report.json] [--cfg-options key=value ...]

Checks ``train_dataloader``, ``val_dataloader``, ``test_dataloader``, the queries
and galleries of every protocol of the evaluation loops (``val_cfg.gallery_dataloader``,
``val_cfg.protocols.1.dataloader``, ...) and the dataloader of every hook; datasets
inside ``ConcatDataset`` / ``RepeatDataset`` are checked one by one. Each gallery is
matched against the queries of its own protocol. Reports,
with counts and the first offending paths:

* images that are missing, unreadable (permissions, a folder) or corrupt
  (empty, not an image, truncated - found by decoding each image; ``--no-decode``
  only reads headers);
* image paths outside the dataset's ``data_root`` (``../x.png``, absolute paths
  elsewhere): a problem unless the config sets ``allow_outside_root=True``
  (then a note);
* split mismatches: evaluation queries whose place has no gallery item,
  semi-positives absent from the gallery, location ids shared by two different
  fused datasets (they would count as the same place);
* for information: distractors (gallery places no query matches) and training
  places that are also evaluation places.

Datasets are built with ``on_missing='ignore'`` and ``allow_outside_root=True``
so that every problem is counted instead of stopping at the first. Exit status 1 when a problem was
found, else 0. See docs/datasets.md.
"""

import argparse
import copy
import json
import os
import os.path as osp
import sys
from collections import Counter, OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Tuple

try:
    import gleamkit  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

from mmengine.config import Config, ConfigDict, DictAction  # noqa: E402

from gleamkit.datasets.checks import check_image  # noqa: E402  (the datasets' own check)

PATH_KEYS = ('query_path', 'reference_path')


# ----------------------------------------------------------------- building
def _dataset_class(cfg_type):
    from gleamkit.registry import DATASETS

    if isinstance(cfg_type, str):
        return DATASETS.get(cfg_type)
    return cfg_type


def _relax(cfg):
    """A copy of a dataset config whose gleamkit datasets do not check files."""
    from gleamkit.datasets.base_cross_view import BaseCrossViewDataset

    cfg = ConfigDict(copy.deepcopy(dict(cfg)))
    if 'datasets' in cfg:
        cfg['datasets'] = [_relax(c) for c in cfg['datasets']]
    if isinstance(cfg.get('dataset'), dict):
        cfg['dataset'] = _relax(cfg['dataset'])
    cls = _dataset_class(cfg.get('type'))
    if isinstance(cls, type) and issubclass(cls, BaseCrossViewDataset):
        cfg['on_missing'] = 'ignore'
        cfg['allow_outside_root'] = True
    return cfg


def allows_outside_root(cfg) -> bool:
    """Whether a dataset config (or every dataset it wraps) allows paths outside
    its data root."""
    if isinstance(cfg.get('datasets'), (list, tuple)):
        return all(allows_outside_root(c) for c in cfg['datasets'])
    if isinstance(cfg.get('dataset'), dict):
        return allows_outside_root(cfg['dataset'])
    return bool(cfg.get('allow_outside_root', False))


def _evaluation_loaders(cfg: Config) -> List[Tuple[str, dict, Optional[str]]]:
    """``[(key, dataloader config, key of its queries' dataloader)]`` of the evaluation
    loops' protocols; the queries' key is None for a query loader itself."""
    from gleamkit.utils.preflight import loop_loaders

    found = []
    for stage in ('val', 'test'):
        loaders = dict(loop_loaders(cfg, stage))
        for key, loader in loaders.items():
            queries = None
            if key.endswith('gallery_dataloader'):
                # the protocol's own queries, else the runner's {stage}_dataloader
                sibling = key[: -len('gallery_dataloader')] + 'dataloader'
                queries = sibling if sibling in loaders else f'{stage}_dataloader'
            found.append((key, loader, queries))
    return found


def dataset_configs(cfg: Config) -> List[Tuple[str, dict]]:
    """``[(where in the config, dataset config)]``, duplicates removed."""
    return [(where, ds_cfg) for where, ds_cfg, _ in _dataset_configs(cfg)[0]]


def _dataset_configs(cfg: Config):
    """The unique dataset configs and the (queries, gallery) pairs to match, by the key
    each unique dataset was kept under."""
    found, pairs = [], []
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if isinstance(loader, dict) and isinstance(loader.get('dataset'), dict):
            found.append((f'{key}.dataset', loader['dataset'], None))
    for key, loader, queries in _evaluation_loaders(cfg):
        if isinstance(loader.get('dataset'), dict):
            found.append((f'{key}.dataset', loader['dataset'], None))
            if queries is not None:
                pairs.append((f'{queries}.dataset', f'{key}.dataset'))
    for i, hook in enumerate(cfg.get('custom_hooks') or []):
        loader = hook.get('dataloader') if isinstance(hook, dict) else None
        if isinstance(loader, dict) and isinstance(loader.get('dataset'), dict):
            where = f'custom_hooks.{i}.dataloader.dataset'
            found.append((where, loader['dataset'], None))
            kind = hook.get('type')
            if getattr(kind, '__name__', kind) == 'PrepareGalleryHook':
                # the deprecated gallery hook served the plain val / test loops
                pairs += [
                    (f'{key}.dataset', where) for key in ('val_dataloader', 'test_dataloader')
                ]
    unique, first, kept = [], {}, {}  # first key of each config; each key -> that key
    for where, ds_cfg, _ in found:
        text = repr(ds_cfg)
        if text not in first:
            first[text] = where
            unique.append((where, ds_cfg, None))
        kept[where] = first[text]
    matched = []
    for queries, gallery in pairs:
        pair = (kept.get(queries), kept.get(gallery))
        if None not in pair and pair not in matched:
            matched.append(pair)
    return unique, matched


def leaves(dataset) -> list:
    """The datasets that hold samples (inside Concat/Repeat/ClassBalanced wrappers)."""
    from mmengine.dataset import ClassBalancedDataset, ConcatDataset, RepeatDataset

    if isinstance(dataset, ConcatDataset) or hasattr(dataset, 'datasets'):
        return [leaf for d in dataset.datasets for leaf in leaves(d)]
    if isinstance(dataset, (RepeatDataset, ClassBalancedDataset)):
        return leaves(dataset.dataset)
    return [dataset]


def describe(dataset) -> str:
    if hasattr(dataset, 'describe'):
        text = dataset.describe()
    else:
        text = f'{type(dataset).__name__}(mode={getattr(dataset, "mode", "?")!r})'
    root = getattr(dataset, 'data_root', None)
    return text + (f' data_root={root}' if root else '')


# ----------------------------------------------------------------- images
def infos_of(dataset) -> List[dict]:
    return [dataset.get_data_info(i) for i in range(len(dataset))]


def image_paths(info: dict):
    for key in PATH_KEYS:
        if info.get(key):
            yield info[key]
    yield from info.get('query_paths') or ()


def check_images(infos: List[dict], decode: bool, workers: int) -> Dict[str, dict]:
    """Per problem kind: files (path -> reason) and the number of samples hit."""
    by_path: Dict[str, list] = OrderedDict()
    for i, info in enumerate(infos):
        for path in image_paths(info):
            by_path.setdefault(path, []).append(i)
    paths = list(by_path)
    with ThreadPoolExecutor(max(1, workers)) as pool:
        results = list(pool.map(lambda p: check_image(p, decode), paths))
    report = {
        k: dict(files=OrderedDict(), samples=set()) for k in ('missing', 'unreadable', 'corrupt')
    }
    for path, result in zip(paths, results):
        if result is None:
            continue
        kind, reason = result
        report[kind]['files'][path] = reason
        report[kind]['samples'].update(by_path[path])
    return dict(images=len(paths), **report)


# ----------------------------------------------------------------- splits
def _ids(infos: List[dict], key: str = 'location_id') -> List[int]:
    return [int(i[key]) for i in infos if i.get(key) is not None]


def split_report(queries: List[dict], gallery: List[dict], show: int) -> dict:
    gallery_ids = set(_ids(gallery))
    no_match = [q for q in queries if int(q.get('location_id', -1)) not in gallery_ids]
    semi_missing = Counter()
    for q in queries:
        for s in q.get('semi_positive_ids') or ():
            if int(s) not in gallery_ids:
                semi_missing[int(s)] += 1
    query_ids = set(_ids(queries))
    distractors = sorted(gallery_ids - query_ids - {-1})
    return dict(
        queries=len(queries),
        gallery=len(gallery),
        queries_without_gallery_match=len(no_match),
        first_queries_without_match=[
            f'location {q.get("location_id")}: '
            f'{q.get("query_path") or (q.get("query_paths") or ["(no path)"])[0]}'
            for q in no_match[:show]
        ],
        semi_positives_missing=len(semi_missing),
        first_semi_positives_missing=sorted(semi_missing)[:show],
        distractor_places=len(distractors),
    )


def collisions(leaf_infos: List[Tuple[object, List[dict]]], show: int) -> List[str]:
    """Location ids shared by leaves of different classes or data roots."""
    owners: Dict[int, set] = {}
    for dataset, infos in leaf_infos:
        owner = (type(dataset).__name__, getattr(dataset, 'data_root', None))
        for loc in set(_ids(infos)):
            owners.setdefault(loc, set()).add(owner)
    shared = sorted(loc for loc, o in owners.items() if len(o) > 1)
    if not shared:
        return []
    return [
        f'{len(shared)} location ids are used by two different datasets '
        f'(e.g. {shared[:show]}: {sorted(owners[shared[0]], key=str)}); give them '
        'distinct location_offset values'
    ]


# ----------------------------------------------------------------- main
def check_config(
    cfg: Config, decode: bool = True, show: int = 5, workers: int = 4, print_fn=print
) -> dict:
    """Check every dataset of ``cfg``; returns the report (``problems`` counts)."""
    from mmengine.registry import DefaultScope

    from gleamkit.registry import DATASETS

    scope = cfg.get('default_scope') or 'gleamkit'
    if DefaultScope.get_current_instance() is None:
        DefaultScope.get_instance(f'check_dataset_{id(cfg)}', scope_name=scope)
    report = OrderedDict(datasets=OrderedDict(), splits=OrderedDict(), problems=0, notes=[])
    built = OrderedDict()
    for where, ds_cfg in dataset_configs(cfg):
        entry = report['datasets'].setdefault(where, OrderedDict())
        try:
            dataset = DATASETS.build(_relax(ds_cfg))
            if hasattr(dataset, 'full_init'):
                dataset.full_init()
        except Exception as err:  # report and go on with the other datasets
            entry['error'] = f'{type(err).__name__}: {err}'
            report['problems'] += 1
            print_fn(f'[{where}] cannot build the dataset:\n  {entry["error"]}')
            continue
        leaf_infos = [(leaf, infos_of(leaf)) for leaf in leaves(dataset)]
        built[where] = leaf_infos
        entry['parts'] = []
        for leaf, infos in leaf_infos:
            part = OrderedDict(dataset=describe(leaf), samples=len(infos))
            images = check_images(infos, decode, workers)
            part['images'] = images['images']
            print_fn(
                f'[{where}] {part["dataset"]}\n  samples: {len(infos)}   images: '
                f'{images["images"]} unique'
                + ('' if images['images'] else ' (the dataset holds its images in memory)')
            )
            for kind in ('missing', 'unreadable', 'corrupt'):
                files = images[kind]['files']
                part[kind] = dict(
                    files=len(files),
                    samples=len(images[kind]['samples']),
                    first=[f'{p} ({r})' for p, r in list(files.items())[:show]],
                )
                if files:
                    report['problems'] += 1
                    first = '\n    '.join(part[kind]['first'])
                    print_fn(
                        f'  {kind} images: {len(files)} files in '
                        f'{len(images[kind]["samples"])} samples; first:\n    {first}'
                    )
                else:
                    print_fn(f'  {kind} images: 0')
            root = getattr(leaf, 'data_root', None)
            outside = (
                leaf.paths_outside_root(infos)
                if root and hasattr(leaf, 'paths_outside_root')
                else []
            )
            allowed = allows_outside_root(ds_cfg)
            part['outside_data_root'] = dict(
                files=len(outside), allowed=allowed, first=outside[:show]
            )
            if outside:
                first = '\n    '.join(outside[:show])
                text = f'{len(outside)} image paths outside data_root={root}; first:\n    {first}'
                if allowed:
                    report['notes'].append(f'[{where}] {text} (allow_outside_root=True)')
                    print_fn(f'  note: {text}\n  (allowed: allow_outside_root=True)')
                else:
                    report['problems'] += 1
                    print_fn(
                        f'  outside data_root: {text}\n  the dataset refuses them; move '
                        'the images under data_root or set allow_outside_root=True'
                    )
            entry['parts'].append(part)
        messages = collisions(leaf_infos, show) if len(leaf_infos) > 1 else []
        for message in messages:
            report['problems'] += 1
            print_fn(f'  split mismatch: {message}')
        entry['collisions'] = messages

    train = built.get('train_dataloader.dataset')
    # each gallery with the queries of its protocol (both built: else already reported)
    pairs = [(q, g) for q, g in _dataset_configs(cfg)[1] if q in built and g in built]
    for gallery_where in dict.fromkeys(gallery for _, gallery in pairs):
        gallery = [i for _, infos in built[gallery_where] for i in infos]
        for eval_where in [queries for queries, g in pairs if g == gallery_where]:
            queries = [i for _, infos in built[eval_where] for i in infos]
            split = split_report(queries, gallery, show)
            report['splits'][f'{eval_where} vs {gallery_where}'] = split
            print_fn(
                f'[{eval_where} vs {gallery_where}]\n  {split["queries"]} queries, '
                f'{split["gallery"]} gallery items, {split["distractor_places"]} distractor '
                'places (kept)'
            )
            if split['queries_without_gallery_match']:
                report['problems'] += 1
                first = '\n    '.join(split['first_queries_without_match'])
                print_fn(
                    f'  split mismatch: {split["queries_without_gallery_match"]} queries '
                    f'have no gallery item of their place; first:\n    {first}'
                )
            if split['semi_positives_missing']:
                report['problems'] += 1
                print_fn(
                    f'  split mismatch: {split["semi_positives_missing"]} semi-positive '
                    f'places are not in the gallery; first ids: '
                    f'{split["first_semi_positives_missing"]}'
                )
        if train is not None:
            overlap = set(_ids([i for _, infos in train for i in infos])) & set(_ids(gallery))
            split_key = f'train_dataloader.dataset vs {gallery_where}'
            report['splits'][split_key] = dict(shared_places=len(overlap))
            if overlap:
                note = (
                    f'{len(overlap)} training places are also in the gallery '
                    f'{gallery_where} (expected for same-area protocols and for galleries '
                    'that keep training places as distractors)'
                )
                report['notes'].append(note)
                print_fn(f'  note: {note}')
    verdict = (
        f'check_dataset: {report["problems"]} problem(s) found'
        if report['problems']
        else 'check_dataset: OK, no problems found'
    )
    print_fn(verdict)
    return report


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Report missing, unreadable or corrupt images and split mismatches of '
        'the datasets of a config'
    )
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--no-decode',
        action='store_true',
        help='only read image headers (faster; misses truncated files)',
    )
    parser.add_argument('--show', type=int, default=5, help='offending paths shown per problem')
    parser.add_argument(
        '--workers', type=int, default=min(8, os.cpu_count() or 1), help='threads that open images'
    )
    parser.add_argument('--out', help='also write the report as JSON to this file')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, e.g. train_dataloader.dataset.data_root=..',
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not osp.isfile(args.config):
        print(f'config file not found: {args.config}', file=sys.stderr)
        return 2
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    report = check_config(cfg, decode=not args.no_decode, show=args.show, workers=args.workers)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2, default=str)
    return 1 if report['problems'] else 0


if __name__ == '__main__':
    sys.exit(main())
