"""The ``ground`` view: a limited field-of-view photo from a street point near the
location, with a random heading."""

import math

import numpy as np

from ..world.layout import GROUND, MAJOR_ROAD, ROAD, SIDEWALK, Layout
from .look import Look, _finish
from .raster import _window_around
from .street import _clear_of_trees, _foreground, render_street, street_cameras, street_position

__all__ = ['render_ground']


def render_ground(
    layout: Layout,
    x: float,
    y: float,
    size: int,
    rng: np.random.Generator,
    look: Look,
    difficulty: float,
    street_xy=None,
):
    """Limited-FOV photo from a street point near (x, y) with a random heading."""
    sx, sy = street_xy if street_xy is not None else street_position(layout, x, y)
    # a street point a few metres from the panorama point
    win, _, (r0, c0) = _window_around(layout, layout.cls, sx, sy, 24.0, GROUND)
    street = (win == ROAD) | (win == MAJOR_ROAD) | (win == SIDEWALK)
    clear = street & _clear_of_trees(layout, win, 9.0)
    rr, cc = np.nonzero(clear if clear.any() else street)
    if rr.size:
        p = rng.integers(rr.size)
        cx, cy = layout.to_xy(rr[p] + r0 + 0.5, cc[p] + c0 + 0.5)
        cx, cy = float(cx), float(cy)
    else:
        cx, cy = sx, sy
    heading = rng.uniform(0, 360)
    fov = rng.uniform(60, 90)
    pitch = rng.uniform(-2, 10)
    eye = rng.uniform(1.5, 1.9)
    az, tan_e = street_cameras(size, 'ground', heading, fov, pitch)
    f_px = (size / 2) / math.tan(math.radians(fov) / 2)
    img, _ = render_street(layout, cx, cy, eye, az, tan_e, rng, look, difficulty)
    img = _foreground(img, rng, difficulty, horizon=size / 2 + f_px * math.tan(math.radians(pitch)))
    info = dict(
        camera_xy=(cx, cy),
        eye_m=eye,
        heading_deg=heading,
        fov_deg=fov,
        pitch_deg=pitch,
        sun_az=look.sun_az,
        sun_el=look.sun_el,
        season=look.season,
    )
    return _finish(img, look, rng), info
