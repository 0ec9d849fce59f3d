"""Query images for :class:`GeoLocalizer`: read (paths, PIL, numpy), resize to the
model's input size for their view, and group image sets."""

import os
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

__all__ = ['as_query_list', 'read_image', 'resize_image', 'view_input_sizes']

DEFAULT_INPUT_SIZE = 256


def read_image(image: Any, name: str = 'image') -> np.ndarray:
    """An ``(H, W, 3)`` uint8 RGB array from a file path, a PIL image or an array.

    Raises:
        FileNotFoundError / OSError: naming the file that is missing or unreadable.
        ValueError: an array that is not ``H x W``, ``H x W x 1|3|4``.
    """
    from PIL import Image, UnidentifiedImageError

    if isinstance(image, (str, os.PathLike)):
        path = os.fspath(image)
        if not os.path.isfile(path):
            raise FileNotFoundError(f'query image not found: {path}')
        try:
            with Image.open(path) as img:
                return np.asarray(img.convert('RGB'))
        except (UnidentifiedImageError, OSError, ValueError) as err:
            raise OSError(
                f'cannot read the query image {path}: {err}. Give a PNG/JPEG/TIFF '
                'file (or a PIL image / HxWx3 uint8 array)'
            ) from err
    if isinstance(image, Image.Image):
        return np.asarray(image.convert('RGB'))
    if hasattr(image, 'detach'):
        image = image.detach().cpu().numpy()
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise ValueError(f'{name}: expected an H x W x 3 RGB array, got shape {array.shape}')
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    array = array[..., :3]
    if array.dtype != np.uint8:
        if array.dtype.kind == 'f' and array.size and float(array.max()) <= 1.0:
            array = array * 255.0  # float images in [0, 1]
        array = np.clip(np.rint(array), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(array)


def resize_image(image: np.ndarray, size: Optional[Tuple[int, int]]) -> np.ndarray:
    """Bilinear resize to ``(height, width)`` (as ``ResizeViews``); None keeps it."""
    from PIL import Image

    if size is None or tuple(image.shape[:2]) == tuple(size):
        return image
    return np.asarray(Image.fromarray(image).resize((size[1], size[0]), Image.BILINEAR))


def _is_image(item: Any) -> bool:
    if isinstance(item, (str, os.PathLike)) or hasattr(item, 'convert'):
        return True
    if isinstance(item, np.ndarray) or hasattr(item, 'detach'):
        return item.ndim in (2, 3)
    return False


def as_query_list(images: Any) -> Tuple[List[List[Any]], bool]:
    """``(queries, single)``: each query is a list of images (one, or an image set).

    ``images`` may be one image (a path, PIL image or ``H x W x 3`` array), a list of
    images (one query each), or a list whose items are lists (an image set = one query).
    ``single`` says whether one image / set was given (not a list of queries).
    """
    if _is_image(images):
        return [[images]], True
    if not isinstance(images, Sequence) or isinstance(images, (str, bytes)):
        raise TypeError(
            f'images must be a path, PIL image, array or a list of them, got '
            f'{type(images).__name__}'
        )
    queries = []
    for i, item in enumerate(images):
        if _is_image(item):
            queries.append([item])
        elif isinstance(item, (list, tuple)) and item and all(_is_image(m) for m in item):
            queries.append(list(item))
        else:
            raise TypeError(
                f'query {i}: expected an image (path, PIL, HxWx3 array) or a '
                f'non-empty list of images (an image set), got {item!r:.80}'
            )
    if not queries:
        raise ValueError('no query images given')
    return queries, False


def _find_world(cfg) -> Optional[dict]:
    """The built-in world the test data is rendered from: the test loaders' (where
    ``--cfg-options`` land) before the config's top-level ``world``."""
    for key in ('test_dataloader', 'gallery_dataloader', 'val_dataloader'):
        loader = cfg.get(key) or {}
        dataset = loader.get('dataset') or {}
        if isinstance(dataset.get('world'), dict):
            return dataset['world']
    world = cfg.get('world') if hasattr(cfg, 'get') else None
    return world if isinstance(world, dict) else None


def view_input_sizes(cfg) -> Tuple[dict, Tuple[int, int]]:
    """``({view: (h, w)}, default)``: the sizes the config's test pipeline feeds the
    model: a ``ResizeViews`` in the test / gallery pipelines wins; otherwise the
    built-in world's ``image_size`` (panorama ``S x 2S``); otherwise 256 x 256."""
    sizes = {}
    default = None
    for key in ('gallery_dataloader', 'test_dataloader', 'val_dataloader'):
        dataset = (cfg.get(key) or {}).get('dataset') or {}
        for step in dataset.get('pipeline') or []:
            kind = step.get('type')
            kind = getattr(kind, '__name__', kind)
            if kind == 'ResizeViews':
                for view, size in (step.get('sizes') or {}).items():
                    sizes.setdefault(view, tuple(int(s) for s in size))
                if step.get('default') is not None and default is None:
                    default = tuple(int(s) for s in step['default'])
    world = _find_world(cfg)
    if world and world.get('image_size'):
        s = int(world['image_size'])
        for view in ('satellite', 'map', 'uav', 'ground'):
            sizes.setdefault(view, (s, s))
        sizes.setdefault('panorama', (s, 2 * s))
        default = default or (s, s)
    default = default or sizes.get('satellite') or (DEFAULT_INPUT_SIZE, DEFAULT_INPUT_SIZE)
    sizes.setdefault('satellite', default)
    return sizes, default
