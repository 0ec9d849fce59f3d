"""On-disk cache of rendered synthetic-world arrays (``.npz``).

The cache key is a hash of the world arguments (with defaults filled in), the
views and :data:`RENDER_VERSION`; bump the version whenever the generator or a
renderer changes its output. Files are written atomically (temporary file +
``os.replace``); a file that cannot be read back is re-rendered with a warning
naming it.
"""

import hashlib
import inspect
import json
import os
import tempfile
import warnings
import zipfile
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from .world.synthetic_world import VIEWS, SyntheticWorld, _check_views

__all__ = ['RENDER_VERSION', 'default_cache_dir', 'cache_path', 'load_or_render']

RENDER_VERSION = 3


def default_cache_dir() -> str:
    """``$GLEAMKIT_CACHE`` (if set) else ``~/.cache/gleamkit/synthetic``."""
    env = os.environ.get('GLEAMKIT_CACHE')
    if env:
        return os.path.expanduser(env)
    return os.path.join(os.path.expanduser('~'), '.cache', 'gleamkit', 'synthetic')


def _full_kwargs(world_kwargs: Optional[dict]) -> dict:
    world_kwargs = dict(world_kwargs or {})
    params = inspect.signature(SyntheticWorld.__init__).parameters
    unknown = sorted(set(world_kwargs) - set(params) - {'self'})
    if unknown:
        raise TypeError(
            f'unknown SyntheticWorld argument(s) {unknown}; expected some of '
            f'{[p for p in params if p != "self"]}'
        )
    full = {k: p.default for k, p in params.items() if k != 'self'}
    full.update(world_kwargs)
    return full


def _identity(world_kwargs: dict, views, rng_seed: Optional[int]) -> dict:
    """What a cache file holds: the key it is named by and the metadata stored in it."""
    ident = dict(version=RENDER_VERSION, world=world_kwargs, views=list(views))
    if rng_seed is not None:  # another draw of the nuisances (canonical files keep their key)
        ident['rng_seed'] = int(rng_seed)
    return ident


def cache_path(
    world_kwargs: Optional[dict],
    views: Sequence[str] = VIEWS,
    cache_dir: Optional[str] = None,
    rng_seed: Optional[int] = None,
) -> str:
    """Where :func:`load_or_render` keeps the arrays for these arguments."""
    views = _check_views(views)
    full = SyntheticWorld(**_full_kwargs(world_kwargs)).kwargs  # validated + normalised
    blob = json.dumps(_identity(full, views, rng_seed), sort_keys=True)
    key = hashlib.sha256(blob.encode()).hexdigest()[:20]
    return os.path.join(cache_dir or default_cache_dir(), f'synthetic_v{RENDER_VERSION}_{key}.npz')


def _load(path: str, world: SyntheticWorld, views, rng_seed=None) -> Dict[str, np.ndarray]:
    n = len(world.locations)
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data['__meta__']))
        if (
            meta.get('version') != RENDER_VERSION
            or meta.get('world') != world.kwargs
            or meta.get('rng_seed') != rng_seed
        ):
            raise ValueError('metadata does not match the requested world')
        arrays = {}
        for v in views:
            arr = data[v]
            if arr.shape != (n,) + world.view_shape(v) or arr.dtype != np.uint8:
                raise ValueError(f'array {v!r} has shape {arr.shape} / {arr.dtype}')
            arrays[v] = np.ascontiguousarray(arr)
    return arrays


def _save(path: str, world: SyntheticWorld, views, arrays, rng_seed=None) -> None:
    d = os.path.dirname(path) or '.'
    os.makedirs(d, exist_ok=True)
    meta = json.dumps(_identity(world.kwargs, views, rng_seed))
    fd, tmp = tempfile.mkstemp(prefix='.tmp_', suffix='.npz', dir=d)
    try:
        with os.fdopen(fd, 'wb') as f:
            np.savez(f, __meta__=np.array(meta), **{v: arrays[v] for v in views})
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load_or_render(
    world_kwargs: Optional[dict] = None,
    views: Sequence[str] = VIEWS,
    cache_dir: Optional[str] = None,
    num_workers: int = 0,
    progress: bool = True,
    rng_seed: Optional[int] = None,
) -> Tuple[SyntheticWorld, Dict[str, np.ndarray]]:
    """Build the world and return ``(world, {view: (n, H, W, 3) uint8})``, cached.

    Args:
        world_kwargs: :class:`SyntheticWorld` arguments (missing ones take their
            defaults; unknown ones raise ``TypeError``).
        views: views to render (arrays are indexed by ``location_id``; query views
            of distractors are all zeros).
        cache_dir: cache directory (default :func:`default_cache_dir`).
        num_workers: processes used when rendering is needed.
        progress: show a progress bar while rendering.
        rng_seed: render another draw of every image (other sun, season, camera
            pose, occluders; :meth:`SyntheticWorld.render`), cached in its own file;
            ``None``: the canonical images. Extra ground photos of a place come
            from here.
    """
    views = _check_views(views)
    world = SyntheticWorld(**_full_kwargs(world_kwargs))
    path = cache_path(world.kwargs, views, cache_dir, rng_seed)
    if os.path.exists(path):
        try:
            return world, _load(path, world, views, rng_seed)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            warnings.warn(
                f'synthetic-world cache file {path} is unreadable or stale '
                f'({type(e).__name__}: {e}); re-rendering it'
            )
    arrays = world.render_all(views, num_workers=num_workers, progress=progress, rng_seed=rng_seed)
    try:
        _save(path, world, views, arrays, rng_seed)
    except OSError as e:
        warnings.warn(f'could not write synthetic-world cache file {path}: {e}')
    return world, arrays
