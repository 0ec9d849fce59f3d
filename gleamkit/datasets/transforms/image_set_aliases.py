"""Deprecated names of the image-set transforms (kept for one release).

``LoadCrossViewImages``, ``ResizeViews`` and ``PackCrossViewInputs`` serve single
images and image sets alike; the set-only transforms of earlier releases are thin
aliases of them that give the same tensors and warn once when built:

==========================  =====================================================
``LoadImageSet``            ``LoadCrossViewImages(keys=('query', ))``
``ResizeImageSet(size)``    ``ResizeViews(sizes={}, default=size, keys=('query', ))``
``PackImageSetInputs``      ``PackCrossViewInputs``
==========================  =====================================================

A loaded set now lives in ``query_img`` (a list), as in the synthetic datasets;
the old ``query_imgs`` key is gone.
"""

import warnings
from typing import Sequence

from gleamkit.registry import TRANSFORMS

from .formatting import (
    DEFAULT_META_KEYS,
    LoadCrossViewImages,
    PackCrossViewInputs,
    ResizeViews,
)

__all__ = ['LoadImageSet', 'ResizeImageSet', 'PackImageSetInputs']


def _deprecated(old: str, new: str) -> None:
    warnings.warn(
        f'{old} is deprecated and will be removed in the next release: use {new} '
        '(it serves single images and image sets alike)',
        DeprecationWarning,
        stacklevel=3,
    )


@TRANSFORMS.register_module()
class LoadImageSet(LoadCrossViewImages):
    """Deprecated: ``LoadCrossViewImages`` reads ``query_paths`` into a list
    ``query_img``. This alias loads the query set only and requires one."""

    def __init__(self):
        _deprecated('LoadImageSet', "LoadCrossViewImages (keys=('query', ) for the set alone)")
        super().__init__(keys=('query',))

    def transform(self, results: dict) -> dict:
        if not results.get('query_paths'):
            raise KeyError(
                'LoadImageSet: the sample has no "query_paths" (use '
                'GroundImageSetDataset with as_sets=True)'
            )
        return super().transform(results)


@TRANSFORMS.register_module()
class ResizeImageSet(ResizeViews):
    """Deprecated: ``ResizeViews(sizes=dict(ground=(h, w)))`` resizes every member
    of a set. This alias resizes the query (every member) to ``size`` = (height,
    width) whatever its view, and leaves the reference alone.

    Args:
        size (sequence of int): (height, width).
    """

    def __init__(self, size: Sequence[int]):
        _deprecated('ResizeImageSet', 'ResizeViews (sizes=dict(ground=(h, w)))')
        size = tuple(int(s) for s in size)
        if len(size) != 2:
            raise ValueError(f'ResizeImageSet: size={size!r}, expected (height, width)')
        super().__init__(sizes={}, default=size, keys=('query',))
        self.size = size

    def __repr__(self):
        return f'{type(self).__name__}(size={self.size})'


@TRANSFORMS.register_module()
class PackImageSetInputs(PackCrossViewInputs):
    """Deprecated: ``PackCrossViewInputs`` stacks a list ``query_img`` into an
    ``(S, 3, H, W)`` tensor. This alias requires a set.

    Args:
        meta_keys (sequence of str): copied into the sample's meta when present.
            Defaults to :data:`~gleamkit.datasets.transforms.formatting.DEFAULT_META_KEYS`.
    """

    SET_SIZE_HINT = '; add ResizeImageSet(size=(h, w)) before packing'

    def __init__(self, meta_keys: Sequence[str] = DEFAULT_META_KEYS):
        _deprecated('PackImageSetInputs', 'PackCrossViewInputs')
        super().__init__(meta_keys=meta_keys)

    def transform(self, results: dict) -> dict:
        if not isinstance(results.get('query_img'), (list, tuple)) or not results['query_img']:
            raise KeyError(
                'PackImageSetInputs: no image set ("query_img" list) in the sample; '
                'put LoadImageSet in the pipeline first'
            )
        return super().transform(results)
