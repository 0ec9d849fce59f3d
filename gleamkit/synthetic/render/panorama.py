"""The ``panorama`` view: a north-aligned equirectangular panorama (S x 2S) from the road
point nearest to the location."""

import numpy as np

from ..world.layout import Layout
from .look import Look, _finish
from .street import _foreground, render_street, street_cameras, street_position

__all__ = ['render_panorama']


def render_panorama(
    layout: Layout,
    x: float,
    y: float,
    size: int,
    rng: np.random.Generator,
    look: Look,
    difficulty: float,
    street_xy=None,
):
    """North-aligned equirectangular panorama (S x 2S) from the nearest road point."""
    cx, cy = street_xy if street_xy is not None else street_position(layout, x, y)
    eye = rng.uniform(1.8, 2.5)
    yaw_err = rng.normal(0, 1.5 + 4 * difficulty)
    az, tan_e = street_cameras(size, 'panorama', heading_deg=yaw_err)
    img, _ = render_street(layout, cx, cy, eye, az, tan_e, rng, look, difficulty)
    img = _foreground(img, rng, difficulty, horizon=size / 2)
    info = dict(
        camera_xy=(cx, cy),
        eye_m=eye,
        heading_deg=yaw_err,
        sun_az=look.sun_az,
        sun_el=look.sun_el,
        season=look.season,
    )
    return _finish(img, look, rng), info
