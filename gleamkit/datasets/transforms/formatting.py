"""Turn a cross-view data info dict into model inputs + a data sample."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from gleamkit.registry import TRANSFORMS
from gleamkit.structures import CrossViewDataSample

DEFAULT_META_KEYS = ('view', 'reference_view', 'location_id', 'semi_positive_ids',
                     'semi_positive_weights', 'positive_ids', 'junk_ids', 'lat', 'lon',
                     'altitude', 'sample_idx', 'query_path', 'reference_path', 'weight',
                     'split', 'distractor', 'set_size', 'tile_id', 'footprint')


def to_chw_tensor(img: np.ndarray, key: str) -> torch.Tensor:
    if not isinstance(img, np.ndarray) or img.ndim not in (2, 3):
        raise TypeError(f'{key}: expected an HxW or HxWxC numpy image, got '
                        f'{type(img).__name__} {getattr(img, "shape", "")}')
    if img.ndim == 2:
        img = img[..., None].repeat(3, axis=2)
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


def stack_image_set(images, key: str, owner: str, hint: str = '') -> torch.Tensor:
    """An image set (list of HxWxC arrays of one size) as an ``(S, C, H, W)`` tensor;
    ``ValueError`` naming ``owner`` when it is empty or its members differ in size."""
    shapes = sorted({getattr(img, 'shape', None) for img in images}, key=str)
    if not images or len(shapes) != 1:
        raise ValueError(f'{owner}: the members of an image set must share a size, got '
                         f'{shapes}{hint}')
    return torch.stack([to_chw_tensor(img, key) for img in images])


@TRANSFORMS.register_module()
class PackCrossViewInputs(BaseTransform):
    """Pack ``query_img`` / ``reference_img`` (HxWx3 RGB uint8) into
    ``inputs = {'query': CHW tensor, 'reference': CHW tensor}`` and the
    annotation fields into a :class:`CrossViewDataSample`'s meta. A ``query_img``
    that is a list (an image set) becomes an ``(S, 3, H, W)`` tensor and sets
    ``set_size``.

    Config keys:
        meta_keys (sequence of str): data-info fields copied into the sample's
            meta when present.
    """

    def __init__(self, meta_keys: Sequence[str] = DEFAULT_META_KEYS):
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        inputs = {}
        query = results.get('query_img')
        if isinstance(query, (list, tuple)):  # an image set: (S, 3, H, W)
            inputs['query'] = stack_image_set(query, 'query_img', 'PackCrossViewInputs')
            results['set_size'] = len(query)
        elif query is not None:
            inputs['query'] = to_chw_tensor(query, 'query_img')
        if results.get('reference_img') is not None:
            inputs['reference'] = to_chw_tensor(results['reference_img'], 'reference_img')
        if not inputs:
            raise KeyError('PackCrossViewInputs found neither "query_img" nor "reference_img" '
                           f'in the sample (keys: {sorted(results)})')
        sample = CrossViewDataSample(
            metainfo={k: results[k] for k in self.meta_keys if results.get(k) is not None})
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self):
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'


@TRANSFORMS.register_module()
class LoadCrossViewImages(BaseTransform):
    """Read ``query_path`` / ``reference_path`` from disk as RGB uint8 arrays
    (into ``query_img`` / ``reference_img``). A missing or unreadable file raises
    an error naming it.

    Config keys:
        keys (sequence of str): which of ``'query'``, ``'reference'`` to load.
    """

    def __init__(self, keys: Sequence[str] = ('query', 'reference')):
        self.keys = tuple(keys)

    def transform(self, results: dict) -> dict:
        from PIL import Image

        for key in self.keys:
            path = results.get(f'{key}_path')
            if path is None or results.get(f'{key}_img') is not None:
                continue
            try:
                with Image.open(path) as img:
                    results[f'{key}_img'] = np.asarray(img.convert('RGB'))
            except (OSError, ValueError) as err:
                raise OSError(f'cannot read the {key} image {path!r}: {err}') from err
        return results


@TRANSFORMS.register_module()
class ResizeViews(BaseTransform):
    """Resize ``query_img`` and/or ``reference_img`` to a fixed size per view.

    Config keys:
        sizes (dict): ``{view: (height, width)}``; ``'satellite'`` sizes the
            reference; a query whose view is missing keeps its size unless
            ``default`` is given.
        default (tuple, optional): size for views not in ``sizes``.
    """

    def __init__(self, sizes: dict, default=None):
        self.sizes = {k: tuple(v) for k, v in sizes.items()}
        self.default = tuple(default) if default is not None else None

    def _resize(self, img, size):
        from PIL import Image
        if size is None or img.shape[:2] == size:
            return img
        return np.asarray(Image.fromarray(img).resize((size[1], size[0]), Image.BILINEAR))

    def transform(self, results: dict) -> dict:
        if results.get('query_img') is not None:
            size = self.sizes.get(results.get('view'), self.default)
            results['query_img'] = self._resize(results['query_img'], size)
        if results.get('reference_img') is not None:
            size = self.sizes.get(results.get('reference_view', 'satellite'), self.default)
            results['reference_img'] = self._resize(results['reference_img'], size)
        return results
