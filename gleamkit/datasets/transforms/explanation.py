"""GLEAM-X transforms: load a (query, satellite) pair and pack a chat sample.

The packed sample (what the explainers consume)::

    dict(inputs=dict(images=[query HxWx3 uint8 RGB, satellite HxWx3 uint8 RGB],
                     prompt=str,     # user text, no image tags
                     answer=str),    # target text
         data_samples=ExplanationDataSample(metainfo=dict(
             id, view, lang, label, reference, source)))
"""

from typing import Sequence

import numpy as np
from mmcv.transforms import BaseTransform

from gleamkit.registry import TRANSFORMS
from gleamkit.structures import ExplanationDataSample

__all__ = ['LoadExplanationImages', 'PackExplanationInputs']

EXPLANATION_META_KEYS = ('id', 'view', 'lang', 'label', 'reference', 'source')


def _as_rgb_uint8(img, what: str) -> np.ndarray:
    img = np.asarray(img)
    if img.dtype != np.uint8:
        raise TypeError(f'{what}: expected a uint8 image, got dtype {img.dtype}')
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise TypeError(f'{what}: expected an HxWx3 RGB image, got shape {img.shape}')
    return np.ascontiguousarray(img[..., :3])


@TRANSFORMS.register_module()
class LoadExplanationImages(BaseTransform):
    """Read ``query_path`` and ``satellite_path`` as RGB uint8 arrays into
    ``query_img`` and ``satellite_img`` (kept when already there, e.g. rendered
    in memory). A missing or unreadable file raises an error naming it and the
    record id.

    Takes no arguments.
    """

    def transform(self, results: dict) -> dict:
        from PIL import Image

        for key in ('query', 'satellite'):
            if results.get(f'{key}_img') is not None:
                continue
            path = results.get(f'{key}_path')
            if not path:
                raise KeyError(
                    f'LoadExplanationImages: record {results.get("id")!r} has no '
                    f'"{key}_path" (keys: {sorted(results)})'
                )
            try:
                with Image.open(path) as img:
                    results[f'{key}_img'] = np.asarray(img.convert('RGB'))
            except (OSError, ValueError) as err:
                raise OSError(
                    f'cannot read the {key} image {path!r} of record {results.get("id")!r}: {err}'
                ) from err
        return results


@TRANSFORMS.register_module()
class PackExplanationInputs(BaseTransform):
    """Pack a pair into ``inputs = dict(images=[query, satellite], prompt, answer)``
    and an :class:`~gleamkit.structures.ExplanationDataSample` whose meta holds
    ``id, view, lang, label, reference, source``.

    Args:
        meta_keys (Sequence[str]): data-info fields copied into the sample's
            meta (extra ones are copied when present). Defaults to the six above,
            ``('id', 'view', 'lang', 'label', 'reference', 'source')``.
    """

    def __init__(self, meta_keys: Sequence[str] = EXPLANATION_META_KEYS):
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        missing = [
            k for k in ('query_img', 'satellite_img', 'prompt', 'answer') if results.get(k) is None
        ]
        if missing:
            raise KeyError(
                f'PackExplanationInputs: record {results.get("id")!r} lacks '
                f'{missing} (keys: {sorted(results)}); put LoadExplanationImages '
                'before it in the pipeline'
            )
        images = [
            _as_rgb_uint8(results['query_img'], 'query_img'),
            _as_rgb_uint8(results['satellite_img'], 'satellite_img'),
        ]
        meta = {}
        for key in self.meta_keys:
            if key in results and results[key] is not None:
                meta[key] = results[key]
            elif key in EXPLANATION_META_KEYS:
                raise KeyError(
                    f'PackExplanationInputs: record {results.get("id")!r} has no {key!r}'
                )
        inputs = dict(images=images, prompt=str(results['prompt']), answer=str(results['answer']))
        return dict(inputs=inputs, data_samples=ExplanationDataSample(metainfo=meta))

    def __repr__(self):
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'
