"""Augmentations for (query, satellite) pairs that keep the two views consistent.

A geometric change of one image of a pair must be matched by the other, or the
pair stops showing the same place in the same orientation. Which change matches
depends on the query view:

* ``map`` (north-up tile of the same footprint): rotate / flip both the same way;
* ``panorama`` (north at the centre column, azimuth left to right): a horizontal
  flip of the panorama mirrors east and west, as a horizontal flip of the tile
  does; a 90 degree turn of the tile is a quarter-width roll of the panorama
  (Sample4Geo's CVUSA / VIGOR augmentation);
* ``uav`` and ``ground`` (unknown heading): the tile may turn on its own.

Occlusion (grid / coarse dropout) lives in :mod:`.dropout`.
"""

from typing import Sequence

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from gleamkit.registry import TRANSFORMS


def image_keys(keys, owner: str) -> tuple:
    """``keys`` as a tuple of result keys, refusing the retired ``'query_imgs'``
    (image sets now live in ``query_img`` as lists) so that a stale key cannot turn
    an augmentation into a silent no-op."""
    keys = (keys,) if isinstance(keys, str) else tuple(keys)
    if 'query_imgs' in keys:
        raise ValueError(
            f"{owner}: keys={keys} names 'query_imgs', which no transform "
            "writes any more: an image set lives in 'query_img' as a list "
            "(each member is transformed); use keys=('query_img', ...)"
        )
    return keys


def _each(img, fn):
    """``fn`` applied to an image, or to every member of an image set (a list)."""
    if isinstance(img, (list, tuple)):
        return [fn(i) for i in img]
    return fn(img)


ALIGNED_VIEWS = ('map', 'satellite')  # share the tile's orientation
PANORAMIC_VIEWS = ('panorama',)  # azimuth along the width, north centred
HEADING_FREE_VIEWS = ('uav', 'ground')  # any heading


@TRANSFORMS.register_module()
class PairedRandomFlip(BaseTransform):
    """Mirror query and satellite tile east-west together, with probability ``prob``.

    Valid for every view: a mirrored tile matches a mirrored drone image, map tile,
    panorama (azimuth reversed about north) or ground photo. Mirrors ``query_img``
    (an image or a set), ``query_imgs`` (the photo sets of
    ``GroundImageSetDataset``) and ``reference_img``.

    Args:
        prob (float): probability of mirroring the pair. Defaults to 0.5.
    """

    def __init__(self, prob: float = 0.5):
        if not 0 <= prob <= 1:
            raise ValueError(f'PairedRandomFlip: prob={prob}, expected a value in [0, 1]')
        self.prob = prob

    def transform(self, results: dict) -> dict:
        if np.random.rand() >= self.prob:
            return results
        for key in ('query_img', 'reference_img'):
            if results.get(key) is not None:
                results[key] = _each(results[key], lambda i: np.ascontiguousarray(i[:, ::-1]))
        results['flipped'] = True
        return results


@TRANSFORMS.register_module()
class PairedRandomRotate90(BaseTransform):
    """Turn the satellite tile by ``k`` quarter turns and keep the pair consistent.

    ``k`` is drawn from {0, 1, 2, 3} (counter-clockwise turns) with probability
    ``prob`` of a non-zero turn. Map tiles turn with the tile; panoramas roll by
    ``k`` quarters of their width (a counter-clockwise turn of the tile brings what
    was east to the north, so the panorama shifts its content to the left);
    drone and ground images stay as they are (their heading is unknown anyway).

    Args:
        prob (float): probability of a non-zero turn. Defaults to 0.5.
    """

    def __init__(self, prob: float = 0.5):
        if not 0 <= prob <= 1:
            raise ValueError(f'PairedRandomRotate90: prob={prob}, expected a value in [0, 1]')
        self.prob = prob

    def transform(self, results: dict) -> dict:
        if np.random.rand() >= self.prob:
            return results
        k = int(np.random.randint(1, 4))
        return self.rotate(results, k)

    @staticmethod
    def rotate(results: dict, k: int) -> dict:
        """Apply ``k`` counter-clockwise quarter turns to the tile (deterministic)."""
        reference = results.get('reference_img')
        if reference is not None:
            results['reference_img'] = np.ascontiguousarray(np.rot90(reference, k))
        query, view = results.get('query_img'), results.get('view')
        if query is not None:
            if view in ALIGNED_VIEWS:
                results['query_img'] = _each(query, lambda i: np.ascontiguousarray(np.rot90(i, k)))
            elif view in PANORAMIC_VIEWS:

                def roll(img):
                    width = img.shape[1]
                    if width % 4:
                        raise ValueError(
                            f'PairedRandomRotate90: panorama width {width} is not divisible by 4'
                        )
                    return np.ascontiguousarray(np.roll(img, -k * width // 4, axis=1))

                results['query_img'] = _each(query, roll)
        results['rotate90'] = k
        return results


@TRANSFORMS.register_module()
class ViewColorJitter(BaseTransform):
    """Photometric jitter drawn independently for the query and the tile.

    Views of one place are taken at other times and by other sensors; the model
    should not match on global colour. Brightness, contrast and saturation
    factors are drawn from ``[1 - x, 1 + x]``; with ``hue > 0`` the hue turns by
    a fraction of the colour circle drawn from ``[-hue, hue]`` (albumentations'
    ``ColorJitter(hue=...)``, which Sample4Geo uses with 0.15). Each image (each
    member of an image set) draws its own factors.

    Args:
        brightness (float): brightness factors from ``[1 - x, 1 + x]``.
            Defaults to 0.2.
        contrast (float): contrast factors from ``[1 - x, 1 + x]``. Defaults to 0.2.
        saturation (float): saturation factors from ``[1 - x, 1 + x]``.
            Defaults to 0.2.
        prob (float): probability that an image is jittered. Defaults to 0.8.
        keys (Sequence[str]): which images; an image set in ``query_img`` is
            jittered member by member. Defaults to ``('query_img', 'reference_img')``.
        hue (float): hue turn range, a fraction of the colour circle.
            Defaults to 0.0 (off).
    """

    def __init__(
        self,
        brightness: float = 0.2,
        contrast: float = 0.2,
        saturation: float = 0.2,
        prob: float = 0.8,
        keys: Sequence[str] = ('query_img', 'reference_img'),
        hue: float = 0.0,
    ):
        for name, value in (
            ('brightness', brightness),
            ('contrast', contrast),
            ('saturation', saturation),
        ):
            if not 0 <= value < 1:
                raise ValueError(f'ViewColorJitter: {name}={value}, expected a value in [0, 1)')
        if not 0 <= hue <= 0.5:
            raise ValueError(
                f'ViewColorJitter: hue={hue}, expected a fraction of the colour circle in [0, 0.5]'
            )
        self.brightness, self.contrast, self.saturation = brightness, contrast, saturation
        self.hue = hue
        self.prob = prob
        self.keys = image_keys(keys, 'ViewColorJitter')

    @staticmethod
    def shift_hue(img: np.ndarray, turn: float) -> np.ndarray:
        """``img`` (uint8 RGB) with its hue turned by ``turn`` of the colour circle."""
        hsv = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2HSV_FULL)
        # OpenCV's full-range hue: 256 steps for 360 degrees, wrapping
        hsv[..., 0] = (hsv[..., 0].astype(np.int32) + int(round(turn * 256))) % 256
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB_FULL)

    def jitter(self, img: np.ndarray) -> np.ndarray:
        out = img.astype(np.float32)
        b = 1 + np.random.uniform(-self.brightness, self.brightness)
        c = 1 + np.random.uniform(-self.contrast, self.contrast)
        s = 1 + np.random.uniform(-self.saturation, self.saturation)
        out *= b
        mean = out.mean()
        out = (out - mean) * c + mean
        gray = out.mean(axis=2, keepdims=True)
        out = (out - gray) * s + gray
        out = np.clip(out, 0, 255).astype(np.uint8)
        # drawn only when enabled: hue=0 keeps the random stream of earlier versions
        if self.hue > 0:
            out = self.shift_hue(out, np.random.uniform(-self.hue, self.hue))
        return out

    def transform(self, results: dict) -> dict:
        for key in self.keys:
            if results.get(key) is not None and np.random.rand() < self.prob:
                results[key] = _each(results[key], self.jitter)
        return results
