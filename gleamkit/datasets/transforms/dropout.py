"""Occlusion augmentation: black out parts of a view, independently per image.

Real queries and tiles are occluded by what the other view does not show (cars,
trees, clouds, roof overhangs); Sample4Geo and Game4Loc train every view with
albumentations' ``OneOf([GridDropout, CoarseDropout], p=0.3)``.
:class:`ViewDropout` is that choice, for gleamkit's pair dicts and image sets.
"""

from typing import Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform

from gleamkit.registry import TRANSFORMS

from .augmentation import image_keys

MODES = ('grid', 'coarse')


def grid_dropout(
    img: np.ndarray, ratio: float, units: int, offset: Tuple[int, int] = (0, 0), fill: int = 0
) -> np.ndarray:
    """A copy of ``img`` with a square hole in every cell of a ``units`` x ``units`` grid.

    Cells are ``max(2, H // units)`` x ``max(2, W // units)`` pixels (the last
    row and column of cells may be cut by the border); each hole is
    ``int(ratio * cell)`` pixels per side, at the cell's top-left corner shifted
    by ``offset`` = (rows, cols). albumentations' ``GridDropout(ratio)`` with its
    default 10 units per side and no offset.
    """
    out = img.copy()
    height, width = img.shape[:2]
    unit_h, unit_w = max(2, height // units), max(2, width // units)
    hole_h, hole_w = int(unit_h * ratio), int(unit_w * ratio)
    if hole_h == 0 or hole_w == 0:
        return out
    for top in range(offset[0], height, unit_h):
        for left in range(offset[1], width, unit_w):
            out[top : top + hole_h, left : left + hole_w] = fill
    return out


def coarse_dropout(
    img: np.ndarray, boxes: Sequence[Tuple[int, int, int, int]], fill: int = 0
) -> np.ndarray:
    """A copy of ``img`` with every ``(top, left, height, width)`` box set to ``fill``."""
    out = img.copy()
    for top, left, h, w in boxes:
        out[top : top + h, left : left + w] = fill
    return out


@TRANSFORMS.register_module()
class ViewDropout(BaseTransform):
    """With probability ``prob``, grid or coarse dropout (equal odds) on each image.

    Every image of ``keys`` (and every member of an image set) draws on its own:
    occlusions of a query and its tile are unrelated. Sizes follow Sample4Geo's
    ``get_transforms``: a grid of ``grid_units`` cells per side with holes of
    ``grid_ratio`` of a cell; or between ``holes[0]`` and ``holes[1]`` boxes,
    each side between ``hole_size[0]`` and ``hole_size[1]`` of the image
    *height* (Sample4Geo sizes both sides from ``img_size[0]``).

    Args:
        prob (float): chance that an image is occluded. Defaults to 0.3.
        modes (Sequence[str]): ``'grid'`` and/or ``'coarse'``, one drawn with
            equal odds. Defaults to ``('grid', 'coarse')``.
        grid_ratio (float): hole side / cell side, in (0, 1]. Defaults to 0.4
            (Sample4Geo's tiles; 0.5 for its street panoramas).
        grid_units (int): cells per side. Defaults to 10.
        holes (Sequence[int]): range of the number of boxes. Defaults to (10, 25).
        hole_size (Sequence[float]): range of a box side as a fraction of the
            image height. Defaults to (0.1, 0.2).
        fill (int): value of the dropped pixels. Defaults to 0 (black).
        keys (Sequence[str]): which images; an image set in ``query_img`` is
            occluded member by member. Defaults to ``('query_img', 'reference_img')``.
    """

    def __init__(
        self,
        prob: float = 0.3,
        modes: Sequence[str] = MODES,
        grid_ratio: float = 0.4,
        grid_units: int = 10,
        holes: Sequence[int] = (10, 25),
        hole_size: Sequence[float] = (0.1, 0.2),
        fill: int = 0,
        keys: Sequence[str] = ('query_img', 'reference_img'),
    ):
        if not 0 <= prob <= 1:
            raise ValueError(f'ViewDropout: prob={prob}, expected a value in [0, 1]')
        modes = (modes,) if isinstance(modes, str) else tuple(modes)
        if not modes or any(m not in MODES for m in modes):
            raise ValueError(f'ViewDropout: modes={modes}, expected a non-empty subset of {MODES}')
        if not 0 < grid_ratio <= 1:
            raise ValueError(f'ViewDropout: grid_ratio={grid_ratio}, expected a value in (0, 1]')
        if int(grid_units) < 1:
            raise ValueError(f'ViewDropout: grid_units={grid_units}, expected an int >= 1')
        holes = tuple(int(h) for h in holes)
        if len(holes) != 2 or not 1 <= holes[0] <= holes[1]:
            raise ValueError(
                f'ViewDropout: holes={holes}, expected (min, max) with 1 <= min <= max'
            )
        hole_size = tuple(float(s) for s in hole_size)
        if len(hole_size) != 2 or not 0 < hole_size[0] <= hole_size[1] <= 1:
            raise ValueError(
                f'ViewDropout: hole_size={hole_size}, expected (min, max) '
                'fractions of the height with 0 < min <= max <= 1'
            )
        self.prob, self.modes = prob, modes
        self.grid_ratio, self.grid_units = float(grid_ratio), int(grid_units)
        self.holes, self.hole_size, self.fill = holes, hole_size, fill
        self.keys = image_keys(keys, 'ViewDropout')

    def occlude(self, img: np.ndarray) -> np.ndarray:
        mode = self.modes[np.random.randint(len(self.modes))]
        if mode == 'grid':
            return grid_dropout(img, self.grid_ratio, self.grid_units, fill=self.fill)
        height, width = img.shape[:2]
        low = max(1, int(self.hole_size[0] * height))
        high = max(low, int(self.hole_size[1] * height))
        boxes = []
        for _ in range(np.random.randint(self.holes[0], self.holes[1] + 1)):
            h, w = (min(int(np.random.randint(low, high + 1)), side) for side in (height, width))
            top = int(np.random.randint(0, height - h + 1))
            left = int(np.random.randint(0, width - w + 1))
            boxes.append((top, left, h, w))
        return coarse_dropout(img, boxes, self.fill)

    def transform(self, results: dict) -> dict:
        for key in self.keys:
            value = results.get(key)
            if value is None:
                continue
            if isinstance(value, (list, tuple)):
                results[key] = [
                    self.occlude(i) if np.random.rand() < self.prob else i for i in value
                ]
            elif np.random.rand() < self.prob:
                results[key] = self.occlude(value)
        return results

    def __repr__(self):
        return (
            f'{type(self).__name__}(prob={self.prob}, modes={self.modes}, grid_ratio='
            f'{self.grid_ratio}, grid_units={self.grid_units}, holes={self.holes}, '
            f'hole_size={self.hole_size}, fill={self.fill}, keys={self.keys})'
        )
