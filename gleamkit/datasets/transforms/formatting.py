"""Turn a cross-view data info dict into model inputs + a data sample: load, resize, pack.

The three transforms serve single images and image sets alike: a query given as
``query_paths`` (a set of photos of one place) is loaded into a list ``query_img``,
each member is resized like a single image of its view, and the list packs into an
``(S, 3, H, W)`` tensor with ``set_size = S``. (``LoadImageSet``, ``ResizeImageSet``
and ``PackImageSetInputs`` are deprecated aliases of these, see
:mod:`gleamkit.datasets.transforms.image_set_aliases`.)
"""

from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from gleamkit.registry import TRANSFORMS
from gleamkit.structures import CrossViewDataSample
from gleamkit.structures.vocabulary import REFERENCE_VIEW

DEFAULT_META_KEYS = (
    'view',
    'reference_view',
    'location_id',
    'semi_positive_ids',
    'semi_positive_weights',
    'positive_ids',
    'junk_ids',
    'lat',
    'lon',
    'altitude',
    'sample_idx',
    'query_path',
    'reference_path',
    'weight',
    'split',
    'distractor',
    'set_size',
    'query_paths',
    'tile_id',
    'footprint',
)


def to_chw_tensor(img: np.ndarray, key: str) -> torch.Tensor:
    if not isinstance(img, np.ndarray) or img.ndim not in (2, 3):
        raise TypeError(
            f'{key}: expected an HxW or HxWxC numpy image, got '
            f'{type(img).__name__} {getattr(img, "shape", "")}'
        )
    if img.ndim == 2:
        img = img[..., None].repeat(3, axis=2)
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


def stack_image_set(images, key: str, owner: str, hint: str = '') -> torch.Tensor:
    """An image set (list of HxWxC arrays of one size) as an ``(S, C, H, W)`` tensor;
    ``ValueError`` naming ``owner`` when it is empty or its members differ in size."""
    shapes = sorted({getattr(img, 'shape', None) for img in images}, key=str)
    if not images or len(shapes) != 1:
        raise ValueError(
            f'{owner}: the members of an image set must share a size, got {shapes}{hint}'
        )
    return torch.stack([to_chw_tensor(img, key) for img in images])


@TRANSFORMS.register_module()
class PackCrossViewInputs(BaseTransform):
    """Pack ``query_img`` / ``reference_img`` (HxWx3 RGB uint8) into
    ``inputs = {'query': CHW tensor, 'reference': CHW tensor}`` and the
    annotation fields into a :class:`CrossViewDataSample`'s meta. A ``query_img``
    that is a list (an image set) becomes an ``(S, 3, H, W)`` tensor and sets
    ``set_size``; its members must share a size (resize them with ``ResizeViews``).

    Args:
        meta_keys (sequence of str): data-info fields copied into the sample's
            meta when present. Defaults to :data:`DEFAULT_META_KEYS`.
    """

    #: what an error about set members of different sizes suggests
    SET_SIZE_HINT = '; resize the members first, e.g. ResizeViews(sizes=dict(ground=(h, w)))'

    def __init__(self, meta_keys: Sequence[str] = DEFAULT_META_KEYS):
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        inputs = {}
        query = results.get('query_img')
        if isinstance(query, (list, tuple)):  # an image set: (S, 3, H, W)
            inputs['query'] = stack_image_set(
                query, 'query_img', type(self).__name__, hint=self.SET_SIZE_HINT
            )
            results['set_size'] = len(query)
        elif query is not None:
            inputs['query'] = to_chw_tensor(query, 'query_img')
        if results.get('reference_img') is not None:
            inputs['reference'] = to_chw_tensor(results['reference_img'], 'reference_img')
        if not inputs:
            raise KeyError(
                'PackCrossViewInputs found neither "query_img" nor "reference_img" '
                f'in the sample (keys: {sorted(results)})'
            )
        sample = CrossViewDataSample(
            metainfo={k: results[k] for k in self.meta_keys if results.get(k) is not None}
        )
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self):
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'


@TRANSFORMS.register_module()
class LoadCrossViewImages(BaseTransform):
    """Read ``query_path`` / ``reference_path`` from disk as RGB uint8 arrays
    (into ``query_img`` / ``reference_img``). An image set, ``query_paths`` (a
    list, e.g. from ``GroundImageSetDataset``), is read into a list ``query_img``
    in the same order and sets ``set_size``. A missing or unreadable file raises
    an error naming it. Images already in the sample are kept.

    Args:
        keys (sequence of str): which of ``'query'``, ``'reference'`` to load.
            Defaults to both.
    """

    def __init__(self, keys: Sequence[str] = ('query', 'reference')):
        self.keys = tuple(keys)

    @staticmethod
    def read(path: str, what: str) -> np.ndarray:
        """The image at ``path`` as an HxWx3 RGB uint8 array; ``OSError`` naming
        ``what`` and ``path`` when it cannot be read."""
        from PIL import Image

        try:
            with Image.open(path) as img:
                return np.asarray(img.convert('RGB'))
        except (OSError, ValueError) as err:
            raise OSError(f'cannot read the {what} image {path!r}: {err}') from err

    def transform(self, results: dict) -> dict:
        for key in self.keys:
            if results.get(f'{key}_img') is not None:
                continue
            path, paths = results.get(f'{key}_path'), results.get(f'{key}_paths')
            if path is not None:
                results[f'{key}_img'] = self.read(path, key)
            elif paths:  # an image set
                results[f'{key}_img'] = [self.read(p, 'set member') for p in paths]
                if key == 'query':
                    results['set_size'] = len(paths)
        return results


@TRANSFORMS.register_module()
class ResizeViews(BaseTransform):
    """Resize ``query_img`` and/or ``reference_img`` to a fixed size per view.
    Every member of an image set (a list ``query_img``) gets its view's size, so
    that the set stacks into one tensor.

    Args:
        sizes (dict): ``{view: (height, width)}``; the reference is sized by its
            ``reference_view`` (``'satellite'`` unless the sample says otherwise);
            a query whose view is missing keeps its size unless ``default`` is
            given.
        default (tuple, optional): size for views not in ``sizes``. Defaults to
            None (keep the size).
        keys (sequence of str): which of ``'query'``, ``'reference'`` to resize.
            Defaults to both.
    """

    def __init__(self, sizes: dict, default=None, keys: Sequence[str] = ('query', 'reference')):
        self.sizes = {k: tuple(v) for k, v in sizes.items()}
        self.default = tuple(default) if default is not None else None
        self.keys = tuple(keys)
        unknown = [k for k in self.keys if k not in ('query', 'reference')]
        if unknown:
            raise ValueError(f"ResizeViews: keys={keys!r}, expected some of ('query', 'reference')")

    def _resize(self, img, size):
        from PIL import Image

        if size is None or img.shape[:2] == size:
            return img
        return np.asarray(Image.fromarray(img).resize((size[1], size[0]), Image.BILINEAR))

    def transform(self, results: dict) -> dict:
        views = dict(
            query=results.get('view'), reference=results.get('reference_view', REFERENCE_VIEW)
        )
        for key in self.keys:
            img = results.get(f'{key}_img')
            if img is None:
                continue
            size = self.sizes.get(views[key], self.default)
            if isinstance(img, (list, tuple)):  # an image set: every member
                results[f'{key}_img'] = [self._resize(member, size) for member in img]
            else:
                results[f'{key}_img'] = self._resize(img, size)
        return results

    def __repr__(self):
        return (
            f'{type(self).__name__}(sizes={self.sizes}, default={self.default}, keys={self.keys})'
        )
