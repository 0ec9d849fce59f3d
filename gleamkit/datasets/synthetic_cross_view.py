"""The built-in world as an mmengine dataset: pairs for training, queries and a
satellite gallery for evaluation. No download: images are rendered (and cached)
on first use."""

import copy
import json
import os
from typing import Optional, Sequence

from gleamkit.registry import DATASETS
from gleamkit.structures.vocabulary import (
    QUERY_VIEWS,
    REFERENCE_VIEW,
    VIEWS,
    check_views,
    views_in_order,
)

from .base_cross_view import BaseCrossViewDataset

#: the default query views, drone first: the order of the samples (keep it, training
#: draws depend on it)
DEFAULT_VIEWS = views_in_order(QUERY_VIEWS, first=('uav',))
_LOADED: dict = {}


def default_render_workers() -> int:
    """Rendering processes per dataset: this machine's CPUs shared among the local
    ranks of a distributed job (``LOCAL_WORLD_SIZE``), at least 1 and at most 8."""
    try:
        local_ranks = max(1, int(os.environ.get('LOCAL_WORLD_SIZE', '1')))
    except ValueError:
        local_ranks = 1
    return max(1, min(8, (os.cpu_count() or 1) // local_ranks))


def _field(loc, key):
    return loc[key] if isinstance(loc, dict) else getattr(loc, key)


@DATASETS.register_module()
class SyntheticCrossViewDataset(BaseCrossViewDataset):
    """Cross-view samples from :class:`gleamkit.synthetic.SyntheticWorld`.

    A :class:`BaseCrossViewDataset` like the benchmark datasets (modes, location ids,
    ``get_field``, pipeline built with gleamkit's registry), whose images come from
    the world's render cache instead of files: no ``data_root``.

    Args:
        world (dict, optional): ``SyntheticWorld`` arguments (``seed``,
            ``num_locations``, ``num_distractors``, ``image_size``,
            ``difficulty``, ...). Datasets with the same ``world`` share one render
            cache. Defaults to None (``SyntheticWorld``'s defaults).
        split (str): ``'train'``, ``'test'`` or ``'all'`` (the world's split of
            locations; test locations are spatially disjoint from train ones).
            Defaults to ``'train'``.
        mode (str): ``'pairs'`` - one sample per (location, query view): query
            image + its satellite tile (training); ``'query'`` - query images only
            (evaluation queries); ``'gallery'`` - satellite tiles of the split's
            locations, plus the distractor tiles when ``with_distractors``.
            Defaults to ``'pairs'``.
        views (Sequence[str]): query views to include (``'uav'``, ``'map'``,
            ``'panorama'``, ``'ground'``). Defaults to all four, ``'uav'`` first.
        with_distractors (bool): add satellite-only distractor tiles to the gallery.
            Defaults to True.
        cache_dir (str, optional): where rendered images are cached. Defaults to
            None (``$GLEAMKIT_CACHE`` or ``~/.cache/gleamkit/synthetic``).
        ground_set_size (int): ground photos per ground query. 1 (default): one
            photo, the single-image protocol. ``k > 1``: a *set* of ``k`` photos of
            the place, as SetVL-480K queries (GLEAM's ground-photo data): the
            canonical photo plus draws ``0..k-2`` of :meth:`SyntheticWorld.render`
            (other street points near the place, headings, fields of view and
            light), cached like the canonical images. ``query_img`` is then a list
            and ``set_size`` is set; ``PackCrossViewInputs`` stacks the list and
            the model averages the members' embeddings (``set_aggregation``).
            Defaults to 1.
        render_workers (int, optional): processes that render the world when it
            is not cached yet (0 renders in this process). Every rank renders a
            world missing from the cache (writes are atomic); a warm cache avoids
            the repeated work. Defaults to None (the CPU count divided by the
            processes of this machine's distributed job (torchrun's
            ``LOCAL_WORLD_SIZE``), at least 1 and at most 8).
        pipeline (Sequence[dict]): transforms; end with ``PackCrossViewInputs``.
            Defaults to ``()``.
        **kwargs: other ``BaseCrossViewDataset`` / ``BaseDataset`` keys pass
            through: ``location_offset`` (int: added to the world's location ids,
            e.g. to fuse two worlds; defaults to 0), ``indices``, ``lazy_init``,
            ``serialize_data`` (defaults to False), ...
    """

    METAINFO = dict(name='synthetic-world', reference_view='satellite')

    def __init__(
        self,
        world: Optional[dict] = None,
        split: str = 'train',
        mode: str = 'pairs',
        views: Sequence[str] = DEFAULT_VIEWS,
        with_distractors: bool = True,
        cache_dir: Optional[str] = None,
        ground_set_size: int = 1,
        render_workers: Optional[int] = None,
        pipeline: Sequence = (),
        **kwargs,
    ):
        if split not in ('train', 'test', 'all'):
            raise ValueError(
                f"SyntheticCrossViewDataset: split={split!r}, expected 'train', 'test' or 'all'"
            )
        check_views(
            views, 'SyntheticCrossViewDataset (the world renders these query views)', QUERY_VIEWS
        )
        if not isinstance(ground_set_size, int) or ground_set_size < 1:
            raise ValueError(
                f'SyntheticCrossViewDataset: ground_set_size={ground_set_size!r}, '
                'expected an int >= 1 (photos per ground query)'
            )
        self.ground_set_size = ground_set_size
        if render_workers is None:
            render_workers = default_render_workers()
        self.render_workers = int(render_workers)
        self.world_kwargs = dict(world or {})
        self.split, self.views = split, tuple(views)
        self.with_distractors = with_distractors
        self.cache_dir = cache_dir
        self.world = None
        self.images = {}
        kwargs.setdefault('serialize_data', False)
        super().__init__(mode=mode, pipeline=pipeline, **kwargs)

    @classmethod
    def _resolve_data_root(cls, data_root: Optional[str]) -> str:
        # rendered, not read: the images come from the render cache (``cache_dir``)
        if data_root:
            raise ValueError(
                f'{cls.__name__}: data_root={data_root!r}, but the built-in world '
                'is rendered, not read from files; set cache_dir to choose where '
                'its images are cached'
            )
        return ''

    def _render(self):
        # every mode asks for all five views: one cache file (and, within a
        # process, one copy in memory) serves the train, query and gallery sets
        key = (json.dumps(self.world_kwargs, sort_keys=True), self.cache_dir)
        if key not in _LOADED:
            from gleamkit.synthetic import load_or_render

            _LOADED.clear()  # keep one world in memory at a time
            _LOADED[key] = load_or_render(
                self.world_kwargs,
                views=VIEWS,
                cache_dir=self.cache_dir,
                num_workers=self.render_workers,
            )
        self.world, self.images = _LOADED[key]
        self.ground_draws = []
        if self.ground_set_size > 1 and 'ground' in self.views and self.mode != 'gallery':
            from gleamkit.synthetic import load_or_render

            for draw in range(self.ground_set_size - 1):
                dkey = key + (draw,)
                if dkey not in _LOADED:
                    _LOADED[dkey] = load_or_render(
                        self.world_kwargs,
                        views=('ground',),
                        cache_dir=self.cache_dir,
                        rng_seed=draw,
                        num_workers=self.render_workers,
                    )[1]
                self.ground_draws.append(_LOADED[dkey]['ground'])

    def load_annotations(self) -> list:
        self._render()
        data_list = []
        for loc in self.world.locations:
            distractor = bool(_field(loc, 'is_distractor'))
            split = _field(loc, 'split')
            in_split = self.split == 'all' or split == self.split
            info = dict(
                location_id=self.location_id(_field(loc, 'location_id')),
                lat=float(_field(loc, 'lat')),
                lon=float(_field(loc, 'lon')),
                split=split,
            )
            if self.mode == 'gallery':
                if (distractor and self.with_distractors) or (in_split and not distractor):
                    data_list.append(dict(info, view=REFERENCE_VIEW, distractor=distractor))
                continue
            if distractor or not in_split:
                continue
            semi = [
                self.location_id(i)
                for i in self.world.semi_positive_ids(_field(loc, 'location_id'))
            ]
            for view in self.views:
                data_list.append(dict(info, view=view, semi_positive_ids=semi))
        if not data_list:
            raise ValueError(
                f'SyntheticCrossViewDataset(split={self.split!r}, mode={self.mode!r})'
                f' is empty for world {self.world_kwargs}'
            )
        return data_list

    def load_sample(self, idx: int):
        info = copy.deepcopy(self.get_data_info(idx))
        loc = info['location_id'] - self.location_offset  # the world's id: the image row
        if self.mode == 'gallery':
            info['reference_img'] = self.images[REFERENCE_VIEW][loc]
        else:
            info['query_img'] = self.images[info['view']][loc]
            if info['view'] == 'ground' and self.ground_draws:
                info['query_img'] = [info['query_img']] + [d[loc] for d in self.ground_draws]
                info['set_size'] = len(info['query_img'])
            if self.mode == 'pairs':
                info['reference_img'] = self.images[REFERENCE_VIEW][loc]
        return self.pipeline(info)
