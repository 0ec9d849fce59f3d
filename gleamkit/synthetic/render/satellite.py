"""The ``satellite`` view: an orthographic north-up tile with cast shadows from the height
map, tree-crown shading, contact shadows, cars, clouds and their shadows."""

import math

import cv2
import numpy as np

from ..world.layout import BUILDING, GROUND, MAJOR_ROAD, PARKING, ROAD, TREE, Layout
from .look import _HAZE, Look, _finish, _light, _veg_tint
from .raster import _FILL_ALBEDO, _shadow_ceiling, _tile

__all__ = ['render_satellite', 'lit_ground']


def _smooth_noise(rng, h, w, cells):
    g = rng.standard_normal((cells + 3, cells + 3)).astype(np.float32)
    big = cv2.resize(
        g, (w * (cells + 3) // cells, h * (cells + 3) // cells), interpolation=cv2.INTER_CUBIC
    )
    oy, ox = (big.shape[0] - h) // 2, (big.shape[1] - w) // 2
    return big[oy : oy + h, ox : ox + w]


def lit_ground(layout: Layout, x: float, y: float, size: int, tile_m: float, look: Look):
    """The sunlit ground of a north-up square (albedo, cast shadows, crown shading, contact
    shadows) before cars, clouds, haze and the camera: ``(float32 RGB, classes)``.
    Deterministic given ``look`` (the region mosaic of ``synthetic/geotiff.py`` uses it)."""
    px_m = tile_m / size
    el = math.radians(look.sun_el)
    margin = int(math.ceil(min(70.0 / math.tan(el), 140.0) / px_m))
    n = size + 2 * margin
    span = n * px_m
    alb = _tile(layout, layout.albedo, x, y, span, n, cv2.INTER_AREA, _FILL_ALBEDO)
    hgt = _tile(layout, layout.height, x, y, span, n, cv2.INTER_LINEAR, 0)
    cls = _tile(layout, layout.cls, x, y, span, n, cv2.INTER_NEAREST, GROUND)
    ceiling = _shadow_ceiling(hgt, px_m, look)
    sl = slice(margin, margin + size)
    hgt_c, cls_c = hgt[sl, sl], cls[sl, sl]
    shadow = (ceiling[sl, sl] > hgt_c + 0.4).astype(np.float32)
    shadow = cv2.GaussianBlur(shadow, (0, 0), 0.6)
    lit = 1 - shadow
    # crowns: lambert from the height-field normal; flat everywhere else
    gy, gx = np.gradient(hgt_c / px_m)
    nx, ny, nz = -gx, gy, np.ones_like(gx)
    tree = cls_c == TREE
    s = look.sun_vec
    lam = np.full(hgt_c.shape, math.sin(el), np.float32)
    nn = np.sqrt(nx**2 + ny**2 + nz**2)
    lam[tree] = ((nx * s[0] + ny * s[1] + nz * s[2]) / nn)[tree]
    light = _light(look, lam, lit)
    # contact shadows (ambient occlusion) around buildings
    bmask = (cls_c == BUILDING).astype(np.float32)
    ao = cv2.GaussianBlur(bmask, (0, 0), max(0.8, 2.5 / px_m))
    light *= (1 - 0.3 * ao * (1 - bmask))[..., None]
    img = alb[sl, sl].astype(np.float32) * _veg_tint(look, cls_c) * light
    return img, cls_c


def render_satellite(
    layout: Layout,
    x: float,
    y: float,
    size: int,
    tile_m: float,
    rng: np.random.Generator,
    look: Look,
    difficulty: float,
):
    """Orthographic north-up tile of ``tile_m`` metres centred on (x, y)."""
    px_m = tile_m / size
    el = math.radians(look.sun_el)
    img, cls_c = lit_ground(layout, x, y, size, tile_m, look)
    info = dict(
        center_xy=(x, y),
        footprint_m=tile_m,
        sun_az=look.sun_az,
        sun_el=look.sun_el,
        season=look.season,
    )
    _satellite_cars(rng, img, cls_c, px_m, layout.grid_angle, difficulty)
    # clouds and their shadows
    if rng.random() < 0.1 + 0.45 * difficulty:
        cover = rng.uniform(0.05, 0.12 + 0.3 * difficulty)
        nse = _smooth_noise(rng, size, size, int(rng.integers(2, 4)))
        nse += 0.35 * _smooth_noise(rng, size, size, 8)  # ragged edges
        thr = np.quantile(nse, 1 - cover)
        alpha = np.clip((nse - thr) / 0.6, 0, 1) ** 0.8 * rng.uniform(0.65, 0.95)
        az = math.radians(look.sun_az)
        off = 120.0 / math.tan(el) / px_m  # clouds ~120 m up (toy scale)
        M = np.float32([[1, 0, -off * math.sin(az)], [0, 1, off * math.cos(az)]])
        sh = cv2.warpAffine(alpha.astype(np.float32), M, (size, size))
        img *= (1 - 0.45 * sh)[..., None]
        img = img * (1 - alpha[..., None]) + np.float32([238, 240, 244]) * alpha[..., None]
        info['cloud_cover'] = float((alpha > 0.3).mean())
    img = img * (1 - 0.25 * look.haze) + _HAZE * (0.25 * look.haze)
    return _finish(img, look, rng), info


def _satellite_cars(rng, img, cls, px_m, angle, difficulty):
    roads = np.flatnonzero((cls == ROAD) | (cls == MAJOR_ROAD) | (cls == PARKING))
    if roads.size == 0:
        return
    n = rng.poisson(roads.size * px_m * px_m / 600.0 * (0.5 + difficulty))
    if n == 0:
        return
    size = cls.shape[0]
    picks = rng.choice(roads, size=min(n, 60))
    cars = np.float32(
        [
            (200, 30, 30),
            (235, 235, 235),
            (30, 30, 35),
            (120, 120, 130),
            (40, 70, 150),
            (200, 200, 210),
        ]
    )
    canvas = np.zeros((size, size), np.uint8)
    colour_id = rng.integers(0, len(cars), len(picks))
    for k, p in enumerate(picks):
        r, c = divmod(int(p), size)
        a = angle + (math.pi / 2 if rng.random() < 0.5 else 0.0)
        rect = ((c + 0.5, r + 0.5), (4.4 / px_m, 1.9 / px_m), math.degrees(-a))
        box = np.round(cv2.boxPoints(rect) * 4).astype(np.int32)
        cv2.fillPoly(canvas, [box], int(k + 1), shift=2)
    m = canvas > 0
    img[m] = cars[colour_id[canvas[m] - 1]] * 0.9
