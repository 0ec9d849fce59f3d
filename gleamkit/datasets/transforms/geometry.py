"""Geometric view transforms: bring a street-level panorama into the tile's geometry.

A north-aligned panorama and a north-up satellite tile show the same directions in
different places: azimuth runs along the panorama's width, but around the tile's
centre. SAFA (Shi et al., NeurIPS 2019) closes that gap by resampling the *aerial*
image into panorama coordinates. gleamkit ranks every query view against one shared
satellite gallery, so the tile must stay as it is; :class:`PanoramaPolarTransform`
does the inverse and resamples the *panorama* onto a square, north-up grid: the
direction from the centre is the azimuth, the distance from the centre is the
elevation (low at the centre, high at the edge). What lies east of the camera then
lies east of the centre, as on the tile. On the built-in world, panorama-only training
reached R@1 13.3% with it against 5.7% without in the same 4 minutes; in the four-view
main job it did not help (docs/synthetic_world.md), so it is an option, not a default.
"""

import math
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from gleamkit.registry import TRANSFORMS


def polar_sampling_grid(
    size: int,
    pano_height: int,
    pano_width: int,
    elevation_range: Tuple[float, float] = (-90.0, 30.0),
    pano_elevation: Tuple[float, float] = (90.0, -90.0),
    north_column: float = 0.5,
) -> Tuple[np.ndarray, np.ndarray]:
    """Source pixel coordinates ``(map_x, map_y)`` (float32, ``size x size``) in a
    ``pano_height x pano_width`` equirectangular panorama for every pixel of the
    top-down output (for ``cv2.remap``).

    Output pixel ``(row, col)`` looks in direction ``atan2(east, north)`` (clockwise
    from north, north up) at elevation ``e0 + rho * (e1 - e0)``, where
    ``(e0, e1) = elevation_range`` in degrees and ``rho`` is the distance from the
    centre in half-widths (1 at the middle of an edge, about 1.41 in the corners;
    elevations past the panorama's top edge are clamped to it).
    ``pano_elevation`` = elevations (degrees) of the panorama's top and bottom edges;
    ``north_column`` = where north is along the width (0.5: the centre column);
    azimuth grows to the right.
    """
    e0, e1 = (math.radians(float(v)) for v in elevation_range)
    top, bottom = (math.radians(float(v)) for v in pano_elevation)
    coords = np.arange(size, dtype=np.float64) + 0.5 - size / 2
    east = np.broadcast_to(coords[None, :], (size, size))
    north = np.broadcast_to(-coords[:, None], (size, size))
    azimuth = np.arctan2(east, north)  # (-pi, pi], 0 = north
    rho = np.hypot(east, north) / (size / 2)
    elevation = np.clip(e0 + rho * (e1 - e0), bottom, top)
    map_x = (north_column + azimuth / (2 * math.pi)) * pano_width - 0.5
    map_x = np.mod(map_x + 0.5, pano_width) - 0.5  # wrap around the seam
    map_y = (top - elevation) / (top - bottom) * pano_height - 0.5
    map_y = np.clip(map_y, 0, pano_height - 1)
    return map_x.astype(np.float32), map_y.astype(np.float32)


@TRANSFORMS.register_module()
class PanoramaPolarTransform(BaseTransform):
    """Resample north-aligned equirectangular panoramas onto a north-up top-down grid.

    Applies to ``query_img`` (an image or a list of images) of samples whose
    ``view`` is in ``views``; other samples pass through unchanged. Put it after
    the paired augmentations (they turn and mirror the panorama as a panorama: a
    quarter-width roll of the input is a quarter turn of the output, a horizontal
    flip of the input is a horizontal flip of the output) and before packing, in the
    training *and* the test pipelines.

    Args:
        size (int, optional): side of the square output. Defaults to None (the
            panorama's height: a 64 x 128 panorama becomes 64 x 64 and costs half
            the compute).
        elevation_range (Sequence[float]): elevation in degrees at the centre and
            at the middle of an edge. The default ``(-90, 30)`` puts the ground under the
            camera in the centre, the horizon at 3/4 of the way out and the facades
            and tree tops around it; the sky above 30 degrees only reaches the
            corners. SAFA's mapping is ``(-90, 90)``; on the built-in world it was
            much worse (docs/synthetic_world.md). Defaults to ``(-90.0, 30.0)``.
        pano_elevation (Sequence[float]): elevations (degrees) of the panorama's
            top and bottom rows' outer edges: ``(90, -90)`` for a full
            equirectangular panorama (VIGOR, the built-in world); a cropped one
            (CVUSA) covers less. Defaults to ``(90.0, -90.0)``.
        north_column (float): where north is along the width, as a fraction (0.5 =
            the centre column, as in the built-in world). Check it for real data:
            a wrong value turns the output, which the tile then no longer matches.
            Defaults to 0.5.
        views (Sequence[str]): query views to transform. Defaults to
            ``('panorama',)``.
    """

    def __init__(
        self,
        size: Optional[int] = None,
        elevation_range: Sequence[float] = (-90.0, 30.0),
        pano_elevation: Sequence[float] = (90.0, -90.0),
        north_column: float = 0.5,
        views: Sequence[str] = ('panorama',),
    ):
        if size is not None and (not isinstance(size, int) or size < 2):
            raise ValueError(
                f'PanoramaPolarTransform: size={size!r}, expected an int >= 2 '
                'or None (the panorama height)'
            )
        for name, pair in (
            ('elevation_range', elevation_range),
            ('pano_elevation', pano_elevation),
        ):
            if len(pair) != 2 or not all(-90 <= float(v) <= 90 for v in pair):
                raise ValueError(
                    f'PanoramaPolarTransform: {name}={tuple(pair)!r}, expected two '
                    'elevations in degrees within [-90, 90]'
                )
        if not float(elevation_range[0]) < float(elevation_range[1]):
            raise ValueError(
                f'PanoramaPolarTransform: elevation_range={tuple(elevation_range)}'
                ' must increase from the centre to the edge'
            )
        if not float(pano_elevation[0]) > float(pano_elevation[1]):
            raise ValueError(
                f'PanoramaPolarTransform: pano_elevation={tuple(pano_elevation)}'
                ' must be (top, bottom) with top > bottom'
            )
        if not 0 <= float(north_column) <= 1:
            raise ValueError(
                f'PanoramaPolarTransform: north_column={north_column!r}, expected '
                'a fraction of the width in [0, 1]'
            )
        if isinstance(views, str):
            views = (views,)
        self.size = size
        self.elevation_range = tuple(float(v) for v in elevation_range)
        self.pano_elevation = tuple(float(v) for v in pano_elevation)
        self.north_column = float(north_column)
        self.views = tuple(views)
        self._grids = {}

    def grid(self, height: int, width: int):
        size = self.size or height
        key = (size, height, width)
        if key not in self._grids:
            self._grids[key] = polar_sampling_grid(
                size, height, width, self.elevation_range, self.pano_elevation, self.north_column
            )
        return self._grids[key]

    def apply(self, img: np.ndarray) -> np.ndarray:
        if not isinstance(img, np.ndarray) or img.ndim not in (2, 3):
            raise TypeError(
                'PanoramaPolarTransform: expected an HxW(xC) numpy panorama, got '
                f'{type(img).__name__} {getattr(img, "shape", "")}'
            )
        height, width = img.shape[:2]
        if width < height:
            raise ValueError(
                f'PanoramaPolarTransform: a panorama is wider than high, got '
                f'{height} x {width}; is the view wrong?'
            )
        map_x, map_y = self.grid(height, width)
        return cv2.remap(
            np.ascontiguousarray(img), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP
        )

    def transform(self, results: dict) -> dict:
        img = results.get('query_img')
        if img is None or results.get('view') not in self.views:
            return results
        if isinstance(img, (list, tuple)):
            results['query_img'] = [self.apply(i) for i in img]
        else:
            results['query_img'] = self.apply(img)
        results['polar'] = True
        return results

    def __repr__(self):
        return (
            f'{type(self).__name__}(size={self.size}, elevation_range='
            f'{self.elevation_range}, pano_elevation={self.pano_elevation}, '
            f'north_column={self.north_column}, views={self.views})'
        )
