"""The offline bilingual GLEAM-X set, built from gleamkit's built-in world.

:func:`build_synthetic_set` renders (query, satellite) pairs of
:class:`gleamkit.synthetic.SyntheticWorld` and writes them as GLEAM-X
JSONL (``train.jsonl``, ``test.jsonl``, see ``docs/gleam_x_data.md``) plus the
images, with reference explanations in English and Chinese written from the
scene's own facts (:mod:`.scene_facts`, :mod:`.explanation_writer`):

* labels are balanced (half match, half no match) in every split;
* a no-match pair is a **hard negative**: the satellite tile of a neighbouring
  location (a semi-positive: partly overlapping) or of the location whose
  layout statistics (road / water / green / building shares, building
  heights, road directions, junctions) are closest, in both cases only if the
  two tiles differ in something the query view can show;
* train and test pairs come from the world's spatially disjoint location
  splits;
* everything is a pure function of the seed and the arguments.

:func:`ensure_synthetic_set` builds it once into a cache folder keyed by the
arguments (what ``GleamXDataset(synthetic=dict(...))`` calls), so training
needs no download. The command line is
``tools/dataset_converters/build_gleam_x_synthetic.py``.
"""

import hashlib
import json
import logging
import math
import os
import os.path as osp
import random
import shutil
import tempfile
from dataclasses import replace
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.logging import print_log

from gleamkit.structures import vocabulary
from gleamkit.structures.vocabulary import views_in_order

from .explanation_writer import ExplanationWriter, differences
from .scene_facts import SceneFacts, crop_rasters, layout_statistics, tile_facts

__all__ = [
    'build_synthetic_set',
    'ensure_synthetic_set',
    'default_cache_dir',
    'SOURCE',
    'QUERY_VIEWS',
]

SOURCE = 'synthetic:gleamkit-world'
#: the query views, drone first (the order pairs are drawn in: keep it)
QUERY_VIEWS = views_in_order(vocabulary.QUERY_VIEWS, first=('uav',))
#: bump when the output of the builder changes (invalidates cached sets)
FORMAT_VERSION = 1
DEFAULTS = dict(
    num_pairs=256,
    image_size=128,
    seed=0,
    views=QUERY_VIEWS,
    num_locations=None,
    semi_positive_share=0.5,
    world=None,
)


def default_cache_dir() -> str:
    root = os.environ.get('GLEAMKIT_CACHE') or osp.join(osp.expanduser('~'), '.cache', 'gleamkit')
    return osp.join(root, 'gleam_x_synthetic')


def _field(loc, key, default=None):
    if isinstance(loc, dict):
        return loc.get(key, default)
    return getattr(loc, key, default)


# ----------------------------------------------------------------------------- world access
def _world_layout(world):
    layout = getattr(world, 'layout', None)
    if layout is None or getattr(layout, 'cls', None) is None:
        raise AttributeError(
            "build_synthetic_set reads the world's rasters from `world.layout` (a "
            'gleamkit.synthetic.world.layout.Layout); this SyntheticWorld has none'
        )
    return layout


def _tile_size_m(world) -> float:
    for name in ('tile_size_m', 'tile_m', 'satellite_size_m', 'footprint_m'):
        value = getattr(world, name, None)
        if value:
            return float(value)
    raise AttributeError(
        'build_synthetic_set needs the satellite footprint of the world (`world.tile_size_m`)'
    )


#: an oblique UAV image sees beyond its tile: what it may show lies within this many
#: tile widths (absences are only claimed when true there too)
UAV_SURROUNDINGS = 2.2
#: what a street-level view is credited with: the 120 m x 120 m around its camera
#: (nearer buildings hide what is further)
STREET_VIEW_SPAN_M = 120.0


def _facts(world, loc, size_m: float) -> SceneFacts:
    return tile_facts(
        crop_rasters(_world_layout(world), float(_field(loc, 'x')), float(_field(loc, 'y')), size_m)
    )


def _street_facts(world, loc) -> SceneFacts:
    """Facts around the street-level camera (the road point nearest the location)."""
    if hasattr(world, 'street_xy'):
        x, y = world.street_xy(int(_field(loc, 'location_id')))
    else:
        x, y = _field(loc, 'x'), _field(loc, 'y')
    return tile_facts(
        crop_rasters(_world_layout(world), float(x), float(y), STREET_VIEW_SPAN_M),
        camera_centred=True,
    )


# ----------------------------------------------------------------------------- pairs
def _negative(
    rng: random.Random,
    q_id: int,
    view: str,
    facts: Dict,
    view_facts: Dict,
    semi: Sequence[int],
    pool: Sequence[int],
    stats: Dict[int, np.ndarray],
    semi_share: float,
):
    """A hard negative for query location ``q_id`` (tile id, kind, differences) or None."""
    q = view_facts[q_id]
    semi = [s for s in semi if s in facts and s != q_id]
    if semi and rng.random() < semi_share:
        cands = list(semi)
        rng.shuffle(cands)
        for s in cands:
            diffs = differences(q, facts[s], view)
            if diffs:
                return s, 'semi_positive', diffs
    banned = set(semi) | {q_id}
    others = [s for s in pool if s not in banned]
    if not others:
        return None
    dist = np.array([np.linalg.norm(stats[q_id] - stats[s]) for s in others])
    order = [others[i] for i in np.argsort(dist, kind='stable')]
    nearest = order[:5]
    rng.shuffle(nearest)
    for s in nearest + order[5:]:
        diffs = differences(q, facts[s], view)
        if diffs:
            return s, 'similar_layout', diffs
    return None


def build_synthetic_set(
    out_dir: str,
    num_pairs: int = DEFAULTS['num_pairs'],
    image_size: int = DEFAULTS['image_size'],
    seed: int = DEFAULTS['seed'],
    views: Sequence[str] = QUERY_VIEWS,
    num_locations: Optional[int] = None,
    semi_positive_share: float = DEFAULTS['semi_positive_share'],
    world: Optional[dict] = None,
    render_cache_dir: Optional[str] = None,
) -> Dict[str, str]:
    """Render the pairs and write ``images/``, ``train.jsonl``, ``test.jsonl`` and
    ``manifest.json`` into ``out_dir``; returns their paths.

    Args:
        out_dir: the output folder (created).
        num_pairs: pairs over both splits (split as the world's locations are).
        image_size: side of the rendered images in pixels.
        seed: seeds the world, the pair sampling and the phrasing.
        views: query views to use (cycled over the pairs).
        num_locations: locations of the world (default: enough for every pair
            to have its own (location, view) query where possible).
        semi_positive_share: share of negatives drawn among the neighbouring
            (partly overlapping) tiles; the rest by layout similarity.
        world: extra ``SyntheticWorld`` keyword arguments (``difficulty``,
            ``num_distractors`` - default a quarter of the locations -, ...).
        render_cache_dir: the world's render cache (default: its own).
    """
    # the GLEAM-X JSONL format belongs to its dataset (gleamkit.datasets.gleam_x), which
    # imports this module: importing it here, on use, keeps the import graph acyclic
    from gleamkit.datasets.gleam_x.format import GleamXRecord, label_to_name, write_jsonl
    from gleamkit.synthetic import load_or_render

    views = tuple(views)
    bad = [v for v in views if v not in QUERY_VIEWS]
    if bad:
        raise ValueError(f'views {bad}: the built-in world renders {QUERY_VIEWS}')
    if num_pairs < 4:
        raise ValueError(f'num_pairs={num_pairs}: expected at least 4 (two per split)')
    if num_locations is None:
        num_locations = int(max(24, math.ceil(num_pairs / len(views) * 1.25)))
    # a few satellite-only distractor tiles add hard negatives without rendering cost
    world_kwargs = dict(
        seed=seed,
        num_locations=num_locations,
        image_size=image_size,
        num_distractors=max(8, num_locations // 4),
    )
    world_kwargs.update(world or {})
    world_obj, images = load_or_render(
        world_kwargs, views=('satellite',) + views, cache_dir=render_cache_dir
    )

    tile_m = _tile_size_m(world_obj)
    locations = list(world_obj.locations)
    by_id = {int(_field(loc, 'location_id')): loc for loc in locations}
    facts = {i: _facts(world_obj, loc, tile_m) for i, loc in by_id.items()}
    street_facts = (
        {
            i: _street_facts(world_obj, loc)
            for i, loc in by_id.items()
            if not _field(loc, 'is_distractor', False)
        }
        if any(v in ('panorama', 'ground') for v in views)
        else {}
    )
    uav_facts = (
        {
            i: replace(facts[i], surroundings=_facts(world_obj, loc, UAV_SURROUNDINGS * tile_m))
            for i, loc in by_id.items()
            if not _field(loc, 'is_distractor', False)
        }
        if 'uav' in views
        else {}
    )
    stats = {i: layout_statistics(f) for i, f in facts.items()}

    rng = random.Random(seed)
    writer = ExplanationWriter(seed)
    splits = {}
    for split in ('train', 'test'):
        splits[split] = sorted(
            i
            for i, loc in by_id.items()
            if _field(loc, 'split') == split and not _field(loc, 'is_distractor', False)
        )
    n_total = sum(len(v) for v in splits.values())
    if not splits['train'] or not splits['test']:
        raise ValueError(f'the world {world_kwargs} has no train or no test locations')
    # an even test count keeps both splits exactly balanced when num_pairs is even
    n_test = max(2, 2 * int(round(num_pairs * len(splits['test']) / n_total / 2)))
    counts = dict(train=num_pairs - n_test, test=n_test)

    img_dir = osp.join(out_dir, 'images')
    os.makedirs(img_dir, exist_ok=True)
    written = set()

    def save(location_id: int, view: str) -> str:
        rel = f'images/{location_id:05d}_{view}.png'
        if rel not in written:
            from PIL import Image

            img = np.asarray(images[view][location_id])
            Image.fromarray(img.astype(np.uint8)).save(osp.join(out_dir, rel))
            written.add(rel)
        return rel

    paths = {}
    summary = {}
    for split in ('train', 'test'):
        locs = list(splits[split])
        rng.shuffle(locs)
        n = counts[split]
        distractors = [
            i
            for i, loc in by_id.items()
            if _field(loc, 'is_distractor', False)
            and _field(loc, 'split', split) in (split, None, 'all')
        ]
        pool = sorted(set(splits[split]) | set(distractors))
        labels = [1] * (n // 2) + [0] * (n - n // 2)
        rng.shuffle(labels)
        records: List[GleamXRecord] = []
        kinds = {'semi_positive': 0, 'similar_layout': 0}
        for i in range(n):
            q_id = locs[i % len(locs)]
            view = views[(i + i // len(locs)) % len(views)]
            view_facts = (
                street_facts
                if view in ('panorama', 'ground')
                else uav_facts
                if view == 'uav'
                else facts
            )
            label, negative, diffs, s_id = labels[i], None, None, q_id
            if label == 0:
                semi = [int(s) for s in world_obj.semi_positive_ids(q_id)]
                found = _negative(
                    rng, q_id, view, facts, view_facts, semi, pool, stats, semi_positive_share
                )
                if found is None:  # no tile differs visibly: keep the pair a match
                    label = 1
                else:
                    s_id, negative, diffs = found
                    kinds[negative] += 1
            explanation = {
                lang: writer.explain(view_facts[q_id], facts[s_id], view, label, lang, diffs=diffs)
                for lang in ('en', 'zh')
            }
            loc = by_id[q_id]
            meta = dict(
                split=split,
                query_location_id=q_id,
                satellite_location_id=s_id,
                lat=float(_field(loc, 'lat')),
                lon=float(_field(loc, 'lon')),
            )
            if negative:
                meta.update(negative=negative, differences=diffs)
            records.append(
                GleamXRecord(
                    id=f'{split}-{i:05d}',
                    query_image=save(q_id, view),
                    satellite_image=save(s_id, 'satellite'),
                    query_view=view,
                    label=label_to_name(label),
                    explanation=explanation,
                    source=SOURCE,
                    meta=meta,
                )
            )
        paths[split] = osp.join(out_dir, f'{split}.jsonl')
        write_jsonl(records, paths[split])
        summary[split] = dict(
            pairs=len(records), match=sum(r.label == 'match' for r in records), negatives=kinds
        )
    manifest = dict(
        format_version=FORMAT_VERSION,
        source=SOURCE,
        args=dict(
            num_pairs=num_pairs,
            image_size=image_size,
            seed=seed,
            views=list(views),
            num_locations=num_locations,
            semi_positive_share=semi_positive_share,
            world=world_kwargs,
        ),
        splits=summary,
        tile_size_m=tile_m,
        images=len(written),
    )
    paths['manifest'] = osp.join(out_dir, 'manifest.json')
    with open(paths['manifest'], 'w', encoding='utf-8') as f:
        json.dump(manifest, f, indent=1)
    return paths


def _cache_key(args: dict) -> str:
    text = json.dumps(dict(args, format_version=FORMAT_VERSION), sort_keys=True, default=list)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def ensure_synthetic_set(cache_dir: Optional[str] = None, **kwargs) -> Dict[str, str]:
    """The paths of the offline set for ``kwargs`` (see :func:`build_synthetic_set`),
    built on first use under ``cache_dir`` (default :func:`default_cache_dir`).

    Concurrent builders (dataloader workers, distributed ranks) each build into
    a temporary folder and move it in place; the first one wins, the result is
    the same.
    """
    unknown = [k for k in kwargs if k not in DEFAULTS and k != 'render_cache_dir']
    if unknown:
        raise TypeError(
            f'synthetic GLEAM-X set: unknown keys {unknown}; expected among '
            f'{sorted(DEFAULTS)} (+ render_cache_dir)'
        )
    args = dict(DEFAULTS)
    args.update(kwargs)
    args['views'] = list(args['views'])
    render_cache_dir = args.pop('render_cache_dir', None)
    cache_dir = cache_dir or default_cache_dir()
    folder = osp.join(cache_dir, _cache_key(args))
    paths = {s: osp.join(folder, f'{s}.jsonl') for s in ('train', 'test')}
    paths['manifest'] = osp.join(folder, 'manifest.json')
    if osp.isfile(paths['manifest']):
        return paths
    os.makedirs(cache_dir, exist_ok=True)
    print_log(
        f'Building the offline GLEAM-X set {args} into {folder} (once; cached)',
        logger='current',
        level=logging.INFO,
    )
    tmp = tempfile.mkdtemp(dir=cache_dir, prefix='.building-')
    try:
        build_synthetic_set(tmp, render_cache_dir=render_cache_dir, **args)
        try:
            os.rename(tmp, folder)
        except OSError:
            if not osp.isfile(paths['manifest']):
                raise
    finally:
        if osp.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return paths
