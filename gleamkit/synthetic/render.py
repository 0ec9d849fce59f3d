"""View renderers for the synthetic world (numpy + OpenCV only).

Every renderer takes the rasterised :class:`~.layout.Layout`, a position in
metres, an output size, a ``numpy.random.Generator`` (all randomness of one
image comes from it) and a :class:`Look` (sun, season, camera response), and
returns ``(image, info)``: an RGB uint8 image and a dict describing the camera.

* :func:`render_satellite` - orthographic, north-up tile with cast shadows from
  the height map, tree-crown shading, contact shadows, cars, clouds and their
  shadows.
* :func:`render_map` - flat web-map style tile (same footprint, north-up) drawn
  from the class raster with road casings, building outlines, labels and POIs.
* :func:`render_uav` - oblique perspective from 150-300 m, any heading; rays are
  marched through the height field (vectorised, with bisection refinement).
* :func:`render_street` - eye-level views (equirectangular panorama or a
  pinhole photo) rendered column by column: along each azimuth the height
  field is sampled at growing distances, the running maximum of the elevation
  angle is taken and every pixel finds its first hit with one ``searchsorted``
  (the classic "voxel space" trick, exact for a camera without roll).
"""

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .world.layout import (
    _BASE,
    BARE,
    BUILDING,
    GROUND,
    MAJOR_ROAD,
    PARK,
    PARKING,
    PITCH,
    PLAZA,
    ROAD,
    SIDEWALK,
    TRACK,
    TREE,
    WALL_PALETTE,
    WATER,
    Layout,
)

__all__ = [
    "Look",
    "sample_look",
    "render_satellite",
    "render_map",
    "render_uav",
    "render_street",
    "street_position",
]

_AMB_TINT = np.array([0.92, 0.97, 1.08], np.float32)
_HAZE = np.array([196, 206, 218], np.float32)
_FILL_ALBEDO = np.array([104, 124, 70], np.uint8)
_VEG = np.zeros(256, bool)
_VEG[[GROUND, PARK, TREE]] = True
_SEASONS = {
    "summer": (1.0, 1.0, 1.0),
    "dry": (1.12, 1.03, 0.82),
    "autumn": (1.38, 1.02, 0.62),
    "winter": (1.08, 0.95, 0.92),
}


@dataclass
class Look:
    """Per-image appearance: sun, season and camera response."""

    sun_az: float  # degrees clockwise from north, direction *towards* the sun
    sun_el: float  # degrees above the horizon
    ambient: float
    direct: float
    sun_tint: np.ndarray
    veg_tint: np.ndarray
    season: str
    exposure: float
    wb: np.ndarray
    contrast: float
    saturation: float
    gamma: float
    noise: float
    blur: float
    haze: float
    overcast: float

    @property
    def sun_vec(self) -> np.ndarray:
        """Unit vector (east, north, up) towards the sun."""
        az, el = math.radians(self.sun_az), math.radians(self.sun_el)
        return np.array([math.sin(az) * math.cos(el), math.cos(az) * math.cos(el), math.sin(el)])


def sample_look(rng: np.random.Generator, difficulty: float, view: str) -> Look:
    """Draw the nuisance parameters of one image; ``difficulty`` in [0, 1] widens them."""
    d = float(difficulty)
    if view in ("panorama", "ground"):
        el = rng.uniform(max(12.0, 45 - 30 * d), 72)
    else:
        el = rng.uniform(max(28.0, 62 - 32 * d), 76)
    az = (165 + rng.uniform(-1, 1) * (35 + 140 * d)) % 360
    seasons = list(_SEASONS)
    p = np.array([1 - 0.75 * d, 0.25 * d, 0.25 * d, 0.25 * d])
    season = seasons[rng.choice(4, p=p / p.sum())]
    overcast = rng.uniform(0, 1) * d if rng.random() < 0.15 + 0.35 * d else 0.0
    warm = max(0.0, (35 - el) / 35)
    return Look(
        sun_az=az,
        sun_el=el,
        ambient=0.42 + 0.3 * overcast,
        direct=0.78 * (1 - 0.75 * overcast),
        sun_tint=np.array([1.0 + 0.08 * warm, 1.0, 1.0 - 0.18 * warm], np.float32),
        veg_tint=np.array(_SEASONS[season], np.float32),
        season=season,
        exposure=float(np.exp(rng.normal(0, 0.06 + 0.14 * d))),
        wb=np.exp(rng.normal(0, 0.015 + 0.05 * d, 3)).astype(np.float32),
        contrast=rng.uniform(1 - 0.25 * d, 1 + 0.15 * d),
        saturation=rng.uniform(1 - 0.35 * d, 1 + 0.15 * d),
        gamma=float(np.exp(rng.normal(0, 0.08 * d))),
        noise=rng.uniform(0.5, 1.0) * (1.5 + 6 * d),
        blur=rng.uniform(0, 0.35 + 0.6 * d),
        haze=rng.uniform(0, 0.25 + 0.5 * d),
        overcast=overcast,
    )


# ----------------------------------------------------------------------------- helpers


def _window(arr: np.ndarray, r0: int, c0: int, h: int, w: int, fill) -> np.ndarray:
    """arr[r0:r0+h, c0:c0+w] with out-of-range pixels set to ``fill``."""
    H, W = arr.shape[:2]
    out = np.empty((h, w) + arr.shape[2:], arr.dtype)
    out[...] = fill
    a0, a1 = max(r0, 0), min(r0 + h, H)
    b0, b1 = max(c0, 0), min(c0 + w, W)
    if a1 > a0 and b1 > b0:
        out[a0 - r0 : a1 - r0, b0 - c0 : b1 - c0] = arr[a0:a1, b0:b1]
    return out


def _tile(layout: Layout, arr, x, y, span_m, out_px, interp, fill):
    """A north-up square of ``span_m`` metres centred on (x, y), resized to out_px."""
    res = layout.resolution_m
    n = max(1, int(round(span_m / res)))
    r, c = layout.to_rc(x, y)
    win = _window(arr, int(round(r - n / 2)), int(round(c - n / 2)), n, n, fill)
    if win.dtype == np.float16:
        win = win.astype(np.float32)
    if n == out_px:
        return win
    return cv2.resize(win, (out_px, out_px), interpolation=interp)


def _gather(layout: Layout, x, y):
    """Raster indices for metric points plus an in-bounds mask."""
    r, c = layout.to_rc(x, y)
    r = np.floor(r).astype(np.int64)
    c = np.floor(c).astype(np.int64)
    H, W = layout.cls.shape
    ok = (r >= 0) & (r < H) & (c >= 0) & (c < W)
    return np.clip(r, 0, H - 1), np.clip(c, 0, W - 1), ok


def _heights(layout, r, c, ok):
    h = layout.height[r, c].astype(np.float32)
    h[~ok] = 0
    return h


def _shadow_ceiling(h: np.ndarray, px_m: float, look: Look) -> np.ndarray:
    """For each cell, the height below which a point there is in cast shadow."""
    el = math.radians(look.sun_el)
    hmax = float(h.max()) if h.size else 0.0
    drop = px_m * math.tan(el)
    K = int(min(math.ceil(hmax / max(drop, 1e-3)), 160))
    out = np.zeros_like(h)
    if K <= 0:
        return out
    az = math.radians(look.sun_az)
    dr, dc = -math.cos(az), math.sin(az)  # raster step towards the sun
    hp = np.pad(h, K)
    H, W = h.shape
    for k in range(1, K + 1):
        oy, ox = int(round(k * dr)), int(round(k * dc))
        np.maximum(out, hp[K + oy : K + oy + H, K + ox : K + ox + W] - k * drop, out=out)
    return out


def _light(look: Look, lambert, lit):
    """RGB light factor for unit normals with ``lambert`` = n.sun and ``lit`` in [0, 1]."""
    norm = look.ambient + look.direct * math.sin(math.radians(60))
    direct = (look.direct * np.clip(lambert, 0, None) * lit)[..., None] * look.sun_tint
    return (look.ambient * _AMB_TINT + direct) / norm


def _finish(img: np.ndarray, look: Look, rng: np.random.Generator, blur=True) -> np.ndarray:
    """Camera response: exposure, white balance, contrast, saturation, gamma, blur, noise."""
    img = img.astype(np.float32, copy=False) * (look.exposure * look.wb)
    mean = img.mean(axis=(0, 1), keepdims=True)
    img = (img - mean) * look.contrast + mean
    grey = img.mean(axis=-1, keepdims=True)
    img = grey + (img - grey) * look.saturation
    img = 255.0 * (np.clip(img, 0, 255) / 255.0) ** look.gamma
    if blur and look.blur > 0.25:
        img = cv2.GaussianBlur(img, (0, 0), look.blur)
    img += rng.standard_normal(img.shape[:2] + (1,), dtype=np.float32) * (0.6 * look.noise)
    img += rng.standard_normal(img.shape, dtype=np.float32) * (0.5 * look.noise)
    return np.clip(img, 0, 255).astype(np.uint8)


def _smooth_noise(rng, h, w, cells):
    g = rng.standard_normal((cells + 3, cells + 3)).astype(np.float32)
    big = cv2.resize(
        g, (w * (cells + 3) // cells, h * (cells + 3) // cells), interpolation=cv2.INTER_CUBIC
    )
    oy, ox = (big.shape[0] - h) // 2, (big.shape[1] - w) // 2
    return big[oy : oy + h, ox : ox + w]


def _veg_tint(look, cls):
    return np.where(_VEG[cls][..., None], look.veg_tint, np.float32(1.0))


# ----------------------------------------------------------------------------- satellite


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
        info["cloud_cover"] = float((alpha > 0.3).mean())
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


# ----------------------------------------------------------------------------- map

_MAP = np.zeros((256, 3), np.float32)
_MAP[:] = (242, 239, 233)  # land
_MAP[GROUND] = (242, 239, 233)
_MAP[ROAD] = (255, 255, 255)
_MAP[MAJOR_ROAD] = (252, 214, 164)
_MAP[SIDEWALK] = (236, 233, 228)
_MAP[WATER] = (170, 211, 223)
_MAP[PARK] = (200, 245, 200)
_MAP[BUILDING] = (217, 208, 201)
_MAP[TREE] = (173, 209, 158)
_MAP[PLAZA] = (221, 221, 232)
_MAP[PARKING] = (238, 238, 238)
_MAP[PITCH] = (170, 224, 203)
_MAP[TRACK] = (214, 188, 170)
_MAP[BARE] = (232, 224, 206)
_MAP_BUILDING_EDGE = np.float32((178, 164, 152))
_MAP_ROAD_CASING = np.float32((204, 204, 212))
_MAP_MAJOR_CASING = np.float32((206, 150, 96))
_NAMES = [
    "Jiefang",
    "Zhongshan",
    "Hubin",
    "Minzhu",
    "Xinhua",
    "Heping",
    "Yangguang",
    "Donghu",
    "Qingnian",
    "Jianshe",
    "Huangpu",
    "Youyi",
    "Guanggu",
    "Luoyu",
    "Wuluo",
]
_SUFFIX = ["Rd", "St", "Ave", "Lu", "Jie"]
_POI = [(230, 120, 40), (60, 120, 200), (200, 60, 90), (120, 90, 200), (40, 150, 90)]


def render_map(
    layout: Layout,
    x: float,
    y: float,
    size: int,
    tile_m: float,
    rng: np.random.Generator,
    difficulty: float,
):
    """Web-map style tile with the satellite tile's footprint (north-up)."""
    cls = _tile(layout, layout.base_cls, x, y, tile_m, size, cv2.INTER_NEAREST, GROUND)
    treec = _tile(layout, layout.cls, x, y, tile_m, size, cv2.INTER_NEAREST, GROUND)
    pal = _MAP * rng.uniform(0.97 - 0.05 * difficulty, 1.01) + rng.normal(
        0, 1 + 2 * difficulty, (1, 3)
    ).astype(np.float32)
    img = pal[cls]
    woods = (treec == TREE) & (cls == PARK)
    img[woods] = pal[TREE]
    k3 = np.ones((3, 3), np.uint8)
    for road_cls, casing in ((ROAD, _MAP_ROAD_CASING), (MAJOR_ROAD, _MAP_MAJOR_CASING)):
        rm = (cls == road_cls).astype(np.uint8)
        ring = (cv2.dilate(rm, k3) > 0) & (rm == 0) & (cls != ROAD) & (cls != MAJOR_ROAD)
        img[ring] = casing
    bm = (cls == BUILDING).astype(np.uint8)
    edge = (bm > 0) & (cv2.erode(bm, k3) == 0)
    img[edge] = _MAP_BUILDING_EDGE
    pm = (cls == PITCH).astype(np.uint8)
    img[(pm > 0) & (cv2.erode(pm, k3) == 0)] = (136, 178, 161)
    out = np.clip(img, 0, 255).astype(np.uint8)
    # labels and points of interest (cartographic clutter)
    scale = size / 128.0
    for _ in range(rng.poisson(0.4 + 1.2 * difficulty) if size >= 96 else 0):
        name = f"{_NAMES[rng.integers(len(_NAMES))]} {_SUFFIX[rng.integers(len(_SUFFIX))]}"
        org = (int(rng.uniform(0, 0.6) * size), int(rng.uniform(0.1, 0.95) * size))
        cv2.putText(
            out,
            name,
            org,
            cv2.FONT_HERSHEY_PLAIN,
            0.55 * scale,
            (250, 250, 250),
            max(1, int(round(2 * scale))),
            cv2.LINE_AA,
        )
        cv2.putText(
            out,
            name,
            org,
            cv2.FONT_HERSHEY_PLAIN,
            0.55 * scale,
            (90, 90, 90),
            max(1, int(round(0.8 * scale))),
            cv2.LINE_AA,
        )
    for _ in range(rng.poisson(0.5 + 1.5 * difficulty)):
        c = (int(rng.uniform(0.05, 0.95) * size), int(rng.uniform(0.05, 0.95) * size))
        rad = max(2, int(round(3.5 * scale)))
        cv2.circle(out, c, rad + 1, (255, 255, 255), -1, cv2.LINE_AA)
        cv2.circle(out, c, rad, _POI[rng.integers(len(_POI))], -1, cv2.LINE_AA)
    return out, dict(center_xy=(x, y), footprint_m=tile_m)


# ----------------------------------------------------------------------------- shading


def _wall_colour(layout, r, c, z, s_coord, wall_idx, detail: float):
    """Facade colour with floors and windows; ``detail`` 0 (far/blurred) .. 1 (sharp)."""
    base = WALL_PALETTE[np.clip(wall_idx.astype(np.int64) - 1, 0, len(WALL_PALETTE) - 1)]
    glass = (wall_idx == 4) | (wall_idx == 7)
    fz = np.mod(z, 3.2) / 3.2
    fs = np.mod(s_coord, 3.0) / 3.0
    lo = np.where(glass, 0.08, 0.3)
    win = (fz > lo) & (fz < 0.82) & (fs > np.where(glass, 0.05, 0.22)) & (fs < 0.8) & (z > 3.0)
    band = (fz > 0.3) & (fz < 0.82)
    winf = win.astype(np.float32) * detail + band.astype(np.float32) * 0.5 * (1 - detail)
    win_col = np.float32([62, 74, 92])
    col = base * (1 - winf[:, None] * 0.85) + win_col * (winf[:, None] * 0.85)
    col *= np.where(z < 3.0, 0.8, 1.0)[:, None]
    return col


def _normals(layout, r, c, step=2):
    """Outward horizontal normals (east, north) from the height gradient."""
    H, W = layout.cls.shape
    hp = layout.height
    rr0, rr1 = np.clip(r - step, 0, H - 1), np.clip(r + step, 0, H - 1)
    cc0, cc1 = np.clip(c - step, 0, W - 1), np.clip(c + step, 0, W - 1)
    gx = hp[r, cc1].astype(np.float32) - hp[r, cc0].astype(np.float32)
    gy = hp[rr0, c].astype(np.float32) - hp[rr1, c].astype(np.float32)  # north is up
    n = np.sqrt(gx**2 + gy**2)
    return -gx / np.maximum(n, 1e-6), -gy / np.maximum(n, 1e-6), n > 1e-3


def _ceiling_lookup(ceiling, origin_rc, px_cells, r, c):
    """Shadow-ceiling value at raster (r, c) from a coarse map starting at origin_rc."""
    i = ((r - origin_rc[0]) // px_cells).astype(np.int64)
    j = ((c - origin_rc[1]) // px_cells).astype(np.int64)
    ok = (i >= 0) & (i < ceiling.shape[0]) & (j >= 0) & (j < ceiling.shape[1])
    out = np.zeros(r.shape, np.float32)
    out[ok] = ceiling[i[ok], j[ok]]
    return out


def _local_ceiling(layout, r_min, r_max, c_min, c_min_max, look, cell_m=2.0):
    """Coarse shadow-ceiling map over a raster window (plus margin towards the sun)."""
    res = layout.resolution_m
    f = max(1, int(round(cell_m / res)))
    margin = min(65.0 / math.tan(math.radians(look.sun_el)), 150.0) / res
    az = math.radians(look.sun_az)
    dr, dc = -math.cos(az), math.sin(az)  # towards the sun, where the occluders are
    r0 = int(r_min) - int(math.ceil(margin * max(0.0, -dr))) - 2
    r1 = int(r_max) + int(math.ceil(margin * max(0.0, dr))) + 2
    c0 = int(c_min) - int(math.ceil(margin * max(0.0, -dc))) - 2
    c1 = int(c_min_max) + int(math.ceil(margin * max(0.0, dc))) + 2
    r1 = r0 + -(-(r1 - r0) // f) * f
    c1 = c0 + -(-(c1 - c0) // f) * f
    win = _window(layout.height, r0, c0, r1 - r0, c1 - c0, 0).astype(np.float32)
    coarse = win.reshape((r1 - r0) // f, f, (c1 - c0) // f, f).max(axis=(1, 3))
    return _shadow_ceiling(coarse, f * res, look), (r0, c0), f


# ----------------------------------------------------------------------------- UAV


def render_uav(
    layout: Layout,
    x: float,
    y: float,
    size: int,
    tile_m: float,
    rng: np.random.Generator,
    look: Look,
    difficulty: float,
):
    """Oblique drone view looking at (x, y) from 150-300 m with a random heading."""
    alt = rng.uniform(150, 300)
    heading = rng.uniform(0, 360)
    pitch = rng.uniform(62 - 20 * difficulty, 70)  # more oblique when harder
    jit = rng.normal(0, 3 + 8 * difficulty, 2)
    tx, ty = x + jit[0], y + jit[1]
    p, psi = math.radians(pitch), math.radians(heading)
    dist = alt / math.sin(p)
    cover = tile_m * rng.uniform(1.0, 1.3)
    fov = 2 * math.atan(cover / 2 / dist)
    fov = min(fov, 2 * (p - math.radians(18)))
    fwd = np.array([math.sin(psi) * math.cos(p), math.cos(psi) * math.cos(p), -math.sin(p)])
    right = np.array([math.cos(psi), -math.sin(psi), 0.0])
    up = np.cross(right, fwd)
    cam = np.array([tx, ty, 0.0]) - dist * fwd
    f = (size / 2) / math.tan(fov / 2)
    u = (np.arange(size) + 0.5 - size / 2) / f
    X, Y = np.meshgrid(u, -u)
    d = fwd[None, None] + X[..., None] * right + Y[..., None] * up
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    d = d.reshape(-1, 3)
    t_hit = _march(layout, cam, d)
    px, py = cam[0] + t_hit * d[:, 0], cam[1] + t_hit * d[:, 1]
    pz = np.maximum(cam[2] + t_hit * d[:, 2], 0)
    r, c, ok = _gather(layout, px, py)
    h = _heights(layout, r, c, ok)
    cls = np.where(ok, layout.cls[r, c], GROUND)
    alb = np.where(ok[:, None], layout.albedo[r, c], _FILL_ALBEDO).astype(np.float32)
    wall_hit = (cls == BUILDING) & (pz < h - 0.35)
    s = look.sun_vec
    # shadows
    ceil_map, origin, fcell = _local_ceiling(
        layout, r.min(), r.max() + 1, c.min(), c.max() + 1, look
    )
    nx, ny, has_n = _normals(layout, r, c)
    nx = np.where(has_n, nx, -d[:, 0])
    ny = np.where(has_n, ny, -d[:, 1])
    res = layout.resolution_m
    # walls: probe the shadow ceiling just outside the facade
    qr = r - np.round(ny * 2.5 / res).astype(np.int64)
    qc = c + np.round(nx * 2.5 / res).astype(np.int64)
    probe_r = np.where(wall_hit, qr, r)
    probe_c = np.where(wall_hit, qc, c)
    ceil_v = _ceiling_lookup(ceil_map, origin, fcell, probe_r, probe_c)
    lit = (pz >= ceil_v - 0.3).astype(np.float32)
    lam = np.full(len(d), s[2], np.float32)
    cosel = math.cos(math.radians(look.sun_el))
    lam[wall_hit] = (nx * s[0] + ny * s[1])[wall_hit]
    tree = cls == TREE
    if tree.any():
        gx, gy, _ = _normals(layout, r[tree], c[tree], step=1)
        lam[tree] = np.clip(s[2] * 0.75 + 0.45 * (gx * s[0] + gy * s[1]) * cosel, 0, 1)
    col = alb * _veg_tint(look, cls)
    if wall_hit.any():
        sc = -ny[wall_hit] * px[wall_hit] + nx[wall_hit] * py[wall_hit]
        col[wall_hit] = _wall_colour(
            layout,
            r[wall_hit],
            c[wall_hit],
            pz[wall_hit],
            sc,
            layout.wall[r[wall_hit], c[wall_hit]],
            detail=0.35,
        )
    col *= _light(look, lam, lit)
    dist_hit = t_hit
    hz = 1 - np.exp(-dist_hit / (2500.0 / (0.3 + 1.5 * look.haze)))
    col = col * (1 - hz[:, None]) + _HAZE * hz[:, None]
    img = col.reshape(size, size, 3)
    info = dict(
        camera_xyz=tuple(cam.tolist()),
        target_xy=(tx, ty),
        altitude_m=alt,
        heading_deg=heading,
        pitch_deg=pitch,
        fov_deg=math.degrees(fov),
        sun_az=look.sun_az,
        sun_el=look.sun_el,
        season=look.season,
    )
    return _finish(img, look, rng), info


def _march(layout: Layout, cam, d, step_m=2.0, chunk=8, refine=6):
    """Distance along each (descending) ray to its first hit of the height field."""
    n = len(d)
    d = d.astype(np.float32)
    cx, cy, cz = (np.float32(v) for v in cam)
    down = np.maximum(-d[:, 2], np.float32(1e-4))
    t_ground = cz / down
    # highest point the rays can meet: max of the coarse map over the footprint
    gx, gy = cx + t_ground * d[:, 0], cy + t_ground * d[:, 1]
    xs = np.array([gx.min(), gx.max(), cx])
    ys = np.array([gy.min(), gy.max(), cy])
    rr, cc = layout.to_rc(xs, ys)
    cs = layout.coarse
    i0, i1 = max(0, int(rr.min() // cs) - 1), int(rr.max() // cs) + 2
    j0, j1 = max(0, int(cc.min() // cs) - 1), int(cc.max() // cs) + 2
    sub = layout.hmax_coarse[i0:i1, j0:j1]
    hmax = float(sub.max()) + 0.5 if sub.size else 0.5
    t0 = np.maximum(cz - np.float32(hmax), 0) / down
    dh = np.sqrt(d[:, 0] ** 2 + d[:, 1] ** 2)
    step = np.minimum(step_m / np.maximum(dh, 1e-3), 5.0 / down).astype(np.float32)
    t_lo = t0.astype(np.float32)  # last free distance
    t_hi = t_ground.copy()
    active = np.arange(n)
    ks = np.arange(1, chunk + 1, dtype=np.float32)
    while active.size:
        tg = t_ground[active, None]
        t = np.minimum(t_lo[active, None] + step[active, None] * ks, tg)
        da = d[active]
        h = layout.height_at(cx + t * da[:, 0:1], cy + t * da[:, 1:2])
        hit = (cz + t * da[:, 2:3] <= h) | (t >= tg)
        anyhit = hit.any(axis=1)
        first = hit.argmax(axis=1)
        done = active[anyhit]
        fh = first[anyhit]
        rows = np.flatnonzero(anyhit)
        t_hi[done] = t[rows, fh]
        t_lo[done] = np.where(fh > 0, t[rows, np.maximum(fh - 1, 0)], t_lo[done])
        still = ~anyhit
        t_lo[active[still]] = t[still, -1]
        active = active[still]
    for _ in range(refine):
        tm = 0.5 * (t_lo + t_hi)
        hit = cz + tm * d[:, 2] <= layout.height_at(cx + tm * d[:, 0], cy + tm * d[:, 1])
        t_hi = np.where(hit, tm, t_hi)
        t_lo = np.where(hit, t_lo, tm)
    return t_hi.astype(np.float64)


# ----------------------------------------------------------------------------- street level


def _clear_of_trees(layout, win_cls, clearance_m):
    """Pixels of a class window farther than ``clearance_m`` from any tree crown."""
    k = max(1, int(round(clearance_m / layout.resolution_m)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
    return cv2.dilate((win_cls == TREE).astype(np.uint8), kernel) == 0


def street_position(layout: Layout, x: float, y: float, search_m: float = 150.0):
    """The road point nearest to (x, y) (metres) that is not right under / next to a
    tree crown (within 6 m); the nearest road point when every one is; (x, y) when no
    road is within ``search_m``."""
    res = layout.resolution_m
    n = int(round(2 * search_m / res))
    r, c = layout.to_rc(x, y)
    r0, c0 = int(round(r - n / 2)), int(round(c - n / 2))
    win = _window(layout.base_cls, r0, c0, n, n, GROUND)
    road = (win == ROAD) | (win == MAJOR_ROAD)
    clear = road & _clear_of_trees(layout, _window(layout.cls, r0, c0, n, n, GROUND), 6.0)
    rr, cc = np.nonzero(clear if clear.any() else road)
    if rr.size == 0:
        return float(x), float(y)
    d2 = (rr + r0 + 0.5 - r) ** 2 + (cc + c0 + 0.5 - c) ** 2
    k = int(np.argmin(d2))
    px, py = layout.to_xy(rr[k] + r0 + 0.5, cc[k] + c0 + 0.5)
    return float(px), float(py)


_T_SAMPLES = np.concatenate([np.linspace(0.35, 20.0, 48), np.geomspace(20.4, 520.0, 140)])


def _sky(look: Look, az, tan_e, rng_clouds):
    """Sky colour for directions (azimuth radians, tan elevation)."""
    e = np.arctan(tan_e)
    w = np.clip(1 - np.sin(np.clip(e, 0, None)), 0, 1) ** 3
    zen = np.float32([92, 140, 206])
    hor = np.float32([196, 212, 230])
    col = zen * (1 - w[..., None]) + hor * w[..., None]
    grey = np.float32([186, 190, 196])
    col = col * (1 - look.overcast) + grey * look.overcast
    # clouds: a smooth field over (azimuth, elevation), periodic in azimuth
    g, cover = rng_clouds
    gh, gw = g.shape
    u = (np.mod(az, 2 * math.pi) / (2 * math.pi)) * gw
    v = np.clip(e / (math.pi / 2), 0, 1) * (gh - 1)
    i0 = np.floor(v).astype(np.int64)
    j0 = np.floor(u).astype(np.int64) % gw
    fv, fu = v - i0, u - np.floor(u)
    i1 = np.minimum(i0 + 1, gh - 1)
    j1 = (j0 + 1) % gw
    val = (g[i0, j0] * (1 - fu) + g[i0, j1] * fu) * (1 - fv) + (
        g[i1, j0] * (1 - fu) + g[i1, j1] * fu
    ) * fv
    a = np.clip((val - (1 - 2 * cover)) * 1.5, 0, 1) * np.clip(e * 8, 0, 1)
    col = col * (1 - a[..., None]) + np.float32([236, 238, 242]) * a[..., None]
    s = look.sun_vec
    cosang = (
        np.cos(e)
        * (np.sin(az) * s[0] + np.cos(az) * s[1])
        / max(1e-6, math.hypot(s[0], s[1]))
        * math.cos(math.radians(look.sun_el))
        + np.sin(e) * s[2]
    )
    glow = np.clip(cosang, 0, 1) ** 32 * (1 - look.overcast)
    return col + glow[..., None] * 60


def render_street(
    layout: Layout,
    cam_x: float,
    cam_y: float,
    eye: float,
    az: np.ndarray,
    tan_e: np.ndarray,
    rng: np.random.Generator,
    look: Look,
    difficulty: float,
    cars: bool = True,
):
    """Eye-level rendering for columns at azimuths ``az`` (radians, clockwise from north).

    ``tan_e`` (H, W) holds the tangent of every pixel's elevation. Returns the float
    RGB image (H, W, 3) before camera response, plus per-pixel distance.
    """
    Wc = len(az)
    sa, ca = np.sin(az)[:, None], np.cos(az)[:, None]
    t = _T_SAMPLES[None, :]
    X = cam_x + t * sa
    Y = cam_y + t * ca
    r, c, ok = _gather(layout, X, Y)
    h = _heights(layout, r, c, ok)
    car_id = np.zeros(h.shape, np.int16)
    car_cols = None
    if cars:
        car_cols = _street_cars(layout, cam_x, cam_y, X, Y, h, car_id, rng, difficulty)
    cls_s = np.where(ok, layout.cls[r, c], GROUND)
    is_tree = (cls_s == TREE) & (car_id == 0)
    h = np.where(is_tree & (_T_SAMPLES[None, :] < 6.0), 0.0, h)  # no crown right overhead
    k, sky = _first_hits(h, eye, tan_e)
    jj = np.broadcast_to(np.arange(Wc)[None, :], k.shape)
    # rays passing under a crown see what is behind it (trees ignored there);
    # the crown's apex cell becomes the trunk
    hit_tree = is_tree[jj, k] & ~sky
    z1 = eye + _T_SAMPLES[k] * tan_e
    rk, ck = r[jj, k], c[jj, k]
    under = hit_tree & (z1 < h[jj, k] * (0.3 + 0.25 * _hash01(rk, ck)))  # ragged crown bottom
    trunk = np.zeros_like(under)
    if under.any():
        ru, cu = r[jj[under], k[under]], c[jj[under], k[under]]
        trunk[under] = _is_apex(layout, ru, cu)
        k2, sky2 = _first_hits(np.where(is_tree, 0.0, h), eye, tan_e)
        swap = under & ~trunk
        k = np.where(swap, k2, k)
        sky = np.where(swap, sky2, sky)
    hk = h[jj, k]
    tk = _T_SAMPLES[k]
    obj = (hk > 0.05) & ~sky
    ground = ~obj & ~sky
    Hh, Ww = tan_e.shape
    img = np.zeros((Hh, Ww, 3), np.float32)
    dist = np.full((Hh, Ww), 1e4, np.float32)
    s = look.sun_vec
    azs = np.broadcast_to(az[None, :], k.shape)
    # shadow map around the camera
    rc0 = layout.to_rc(cam_x, cam_y)
    reach = 90.0 / layout.resolution_m
    ceil_map, origin, fcell = _local_ceiling(
        layout, rc0[0] - reach, rc0[0] + reach, rc0[1] - reach, rc0[1] + reach, look, 2.0
    )
    # ---- ground
    if ground.any():
        qg = tan_e[ground]
        tg = np.minimum(eye / np.maximum(-qg, 1e-4), 2000.0)
        gx = cam_x + tg * np.sin(azs[ground])
        gy = cam_y + tg * np.cos(azs[ground])
        col, cls_g, rg, cg = _bilinear_albedo(layout, gx, gy)
        shade = cls_g == TREE  # under a crown: shaded ground of the underlying class
        if shade.any():
            col[shade] = _BASE[layout.base_cls[rg[shade], cg[shade]]] * 0.6
            cls_g = np.where(shade, layout.base_cls[rg, cg], cls_g)
        ceil_v = _ceiling_lookup(ceil_map, origin, fcell, rg, cg)
        lit = (ceil_v <= 0.3).astype(np.float32)
        col = col * _veg_tint(look, cls_g) * _light(look, np.full(len(tg), s[2]), lit)
        img[ground] = col
        dist[ground] = tg
    # ---- objects (facades, tree crowns, cars)
    if obj.any():
        jo, ko = jj[obj], k[obj]
        zo = eye + tk[obj] * tan_e[obj]
        ro, co = r[jo, ko], c[jo, ko]
        cls_o = np.where(ok[jo, ko], layout.cls[ro, co], GROUND)
        cid = car_id[jo, ko]
        col = np.zeros((len(jo), 3), np.float32)
        lam = np.zeros(len(jo), np.float32)
        lit = np.ones(len(jo), np.float32)
        # refine the facade position per (column, sample) for crisp windows
        tref = _refine_columns(layout, cam_x, cam_y, az, jo, ko, h)
        px = cam_x + tref * np.sin(az[jo])
        py = cam_y + tref * np.cos(az[jo])
        nx, ny, has_n = _normals(layout, ro, co)
        nx = np.where(has_n, nx, -np.sin(az[jo]))
        ny = np.where(has_n, ny, -np.cos(az[jo]))
        b = (cls_o == BUILDING) & (cid == 0)
        if b.any():
            sc = -ny[b] * px[b] + nx[b] * py[b]
            col[b] = _wall_colour(
                layout, ro[b], co[b], zo[b], sc, layout.wall[ro[b], co[b]], detail=1.0
            )
            lam[b] = nx[b] * s[0] + ny[b] * s[1]
        tr = (cls_o != BUILDING) & (cid == 0)
        if tr.any():
            alb = layout.albedo[ro[tr], co[tr]].astype(np.float32)
            tex = 0.75 + 0.5 * _hash01(ro[tr] * 7 + np.floor(zo[tr] * 3).astype(np.int64), co[tr])
            low = np.clip((zo[tr] - 1.0) / 3.0, 0.35, 1.0)
            col[tr] = alb * (tex * low)[:, None] * _veg_tint(look, cls_o[tr])
            lam[tr] = 0.5 * (nx[tr] * s[0] + ny[tr] * s[1]) + 0.4
        tm = trunk[obj]
        if tm.any():
            col[tm] = np.float32([82, 64, 48])
            lam[tm] = 0.3
        cm = cid > 0
        if cm.any():
            cc_ = car_cols[cid[cm] - 1]
            zc = zo[cm]
            glass = (zc > 0.95) & (zc < 1.35)
            col[cm] = np.where(glass[:, None], np.float32([40, 48, 60]), cc_)
            col[cm] *= np.where(zc < 0.35, 0.25, 1.0)[:, None]
            lam[cm] = 0.6
        # shadow: probe the ceiling just in front of the surface
        qr = ro - np.round(ny * 1.5 / layout.resolution_m).astype(np.int64)
        qc = co + np.round(nx * 1.5 / layout.resolution_m).astype(np.int64)
        ceil_v = _ceiling_lookup(ceil_map, origin, fcell, qr, qc)
        lit = (zo >= ceil_v - 0.2).astype(np.float32)
        col *= _light(look, lam, lit)
        img[obj] = col
        dist[obj] = tk[obj]
    # ---- haze and sky
    hz = 1 - np.exp(-dist / (900.0 / (0.35 + 1.3 * look.haze)))
    img = img * (1 - hz[..., None]) + _HAZE * hz[..., None]
    if sky.any():
        img[sky] = _sky(look, azs[sky], tan_e[sky], _cloud_grid(rng, difficulty))
    return img, dist


def _first_hits(h, eye, tan_e):
    """First sample index hit by every pixel (and a sky mask) for column samples ``h``."""
    W, T = h.shape
    M = np.maximum.accumulate((h - eye) / _T_SAMPLES[None, :], axis=1)
    B = 80.0
    off = np.arange(W, dtype=np.float64)[:, None] * (4 * B)
    flat = (np.clip(M, -B, B) + off).ravel()
    q = np.clip(tan_e, -B, B) + off[:, 0][None, :]
    idx = np.searchsorted(flat, q.ravel(), side="left").reshape(tan_e.shape)
    k = idx - (np.arange(W) * T)[None, :]
    sky = k >= T
    return np.minimum(k, T - 1), sky


def _is_apex(layout, r, c):
    """True where a tree cell is at least as high as its 4 neighbours (the trunk)."""
    H, W = layout.cls.shape
    h0 = layout.height[r, c]
    best = np.ones(r.shape, bool)
    for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        best &= h0 >= layout.height[np.clip(r + dr, 0, H - 1), np.clip(c + dc, 0, W - 1)]
    return best


def _cloud_grid(rng, difficulty):
    g = rng.standard_normal((8, 48)).astype(np.float32)
    g = cv2.GaussianBlur(g, (0, 0), 0.9)
    g = (g - g.mean()) / (g.std() + 1e-6) * 0.5 + 0.5
    cover = rng.uniform(0.0, 0.15 + 0.35 * difficulty)
    return g, cover


def _hash01(a, b):
    """Deterministic pseudo-random value in [0, 1) for integer pairs."""
    x = (a.astype(np.int64) * 73856093) ^ (b.astype(np.int64) * 19349663)
    x = (x ^ (x >> 13)) * 1274126177
    return ((x >> 8) & 0xFFFF).astype(np.float32) / 65536.0


def _bilinear_albedo(layout, x, y):
    r, c = layout.to_rc(x, y)
    r, c = r - 0.5, c - 0.5
    H, W = layout.cls.shape
    r0 = np.floor(r).astype(np.int64)
    c0 = np.floor(c).astype(np.int64)
    fr, fc = (r - r0)[:, None], (c - c0)[:, None]
    inb = (r0 >= 0) & (r0 < H - 1) & (c0 >= 0) & (c0 < W - 1)
    r0 = np.clip(r0, 0, H - 2)
    c0 = np.clip(c0, 0, W - 2)
    A = layout.albedo
    col = (
        (A[r0, c0] * (1 - fc) + A[r0, c0 + 1] * fc) * (1 - fr)
        + (A[r0 + 1, c0] * (1 - fc) + A[r0 + 1, c0 + 1] * fc) * fr
    ).astype(np.float32)
    col[~inb] = _FILL_ALBEDO
    rn = np.clip(np.round(r).astype(np.int64), 0, H - 1)
    cn = np.clip(np.round(c).astype(np.int64), 0, W - 1)
    cls = np.where(inb, layout.cls[rn, cn], GROUND)
    return col, cls, rn, cn


def _refine_columns(layout, cam_x, cam_y, az, jo, ko, h, iters=4):
    """Per (column, sample) hit: bisect the facade crossing between samples k-1 and k."""
    T = len(_T_SAMPLES)
    key = jo.astype(np.int64) * T + ko
    uk, inv = np.unique(key, return_inverse=True)
    j, k = uk // T, uk % T
    lo = np.where(k > 0, _T_SAMPLES[np.maximum(k - 1, 0)], 0.0)
    hi = _T_SAMPLES[k].astype(np.float64)
    target = 0.5 * h[j, k]
    sa, ca = np.sin(az[j]), np.cos(az[j])
    for _ in range(iters):
        tm = 0.5 * (lo + hi)
        r, c, ok = _gather(layout, cam_x + tm * sa, cam_y + tm * ca)
        inside = _heights(layout, r, c, ok) >= target
        hi = np.where(inside, tm, hi)
        lo = np.where(inside, lo, tm)
    return hi[inv]


def _street_cars(layout, cam_x, cam_y, X, Y, h, car_id, rng, difficulty):
    """Place a few parked / passing cars (3-D boxes) on the road near the camera."""
    n = rng.poisson(1.0 + 4.0 * difficulty)
    if n == 0:
        return None
    res = layout.resolution_m
    span = 70.0
    nn = int(round(2 * span / res))
    r, c = layout.to_rc(cam_x, cam_y)
    r0, c0 = int(round(r - nn / 2)), int(round(c - nn / 2))
    win = _window(layout.base_cls, r0, c0, nn, nn, GROUND)
    rr, cc = np.nonzero((win == ROAD) | (win == MAJOR_ROAD))
    if rr.size == 0:
        return None
    d2 = (rr + r0 - r) ** 2 + (cc + c0 - c) ** 2
    far = d2 > (4.0 / res) ** 2  # not on top of the camera
    rr, cc = rr[far], cc[far]
    if rr.size == 0:
        return None
    pick = rng.choice(rr.size, size=min(n, 10))
    palette = np.float32(
        [
            (190, 30, 30),
            (230, 230, 230),
            (28, 28, 32),
            (120, 122, 130),
            (36, 70, 150),
            (200, 200, 208),
            (160, 120, 40),
        ]
    )
    cols = palette[rng.integers(0, len(palette), len(pick))]
    near = (np.abs(X - cam_x) < span) & (np.abs(Y - cam_y) < span)
    xs, ys = X[near], Y[near]
    hv = h[near]
    cv = car_id[near]
    for i, p in enumerate(pick):
        cx, cy = layout.to_xy(rr[p] + r0 + 0.5, cc[p] + c0 + 0.5)
        ang = layout.grid_angle + (math.pi / 2 if rng.random() < 0.5 else 0.0)
        ux, uy = math.cos(ang), math.sin(ang)
        lx = (xs - cx) * ux + (ys - cy) * uy
        ly = -(xs - cx) * uy + (ys - cy) * ux
        inside = (np.abs(lx) < 2.2) & (np.abs(ly) < 0.9)
        height = 1.45 - 0.25 * np.clip((np.abs(lx) - 0.9) / 1.3, 0, 1)
        upd = inside & (hv < height)
        hv = np.where(upd, height, hv)
        cv = np.where(upd, i + 1, cv)
    h[near] = hv
    car_id[near] = cv
    return cols


def street_cameras(
    size: int, kind: str, heading_deg: float = 0.0, fov_deg: float = 90.0, pitch_deg: float = 0.0
):
    """Column azimuths (radians) and per-pixel tan(elevation) of a street-level camera.

    ``kind='panorama'``: equirectangular S x 2S, centre column = ``heading_deg``
    (0 = north), azimuth grows to the right (east of north is right of centre).
    ``kind='ground'``: pinhole S x S with horizontal FOV ``fov_deg``.
    """
    if kind == "panorama":
        W, H = 2 * size, size
        az = math.radians(heading_deg) + (np.arange(W) + 0.5) / W * 2 * math.pi - math.pi
        e = math.pi / 2 - (np.arange(H) + 0.5) / H * math.pi
        tan_e = np.broadcast_to(np.tan(e)[:, None], (H, W)).copy()
        return az, tan_e
    f = (size / 2) / math.tan(math.radians(fov_deg) / 2)
    xs = np.arange(size) + 0.5 - size / 2
    az = math.radians(heading_deg) + np.arctan(xs / f)
    yv = (size / 2 - (np.arange(size) + 0.5))[:, None] + f * math.tan(math.radians(pitch_deg))
    tan_e = yv / np.sqrt(f**2 + xs[None, :] ** 2)
    return az, tan_e


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
    az, tan_e = street_cameras(size, "panorama", heading_deg=yaw_err)
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
    res = layout.resolution_m
    span = 24.0
    n = int(round(2 * span / res))
    r, c = layout.to_rc(sx, sy)
    r0, c0 = int(round(r - n / 2)), int(round(c - n / 2))
    win = _window(layout.cls, r0, c0, n, n, GROUND)
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
    az, tan_e = street_cameras(size, "ground", heading, fov, pitch)
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


_CLOTHES = np.float32(
    [
        (30, 32, 40),
        (60, 62, 70),
        (40, 50, 90),
        (150, 40, 40),
        (170, 150, 120),
        (90, 80, 70),
        (200, 200, 200),
    ]
)


def _foreground(img, rng, difficulty, horizon):
    """2-D foreground occluders: pedestrians and poles standing on the ground plane
    (``horizon`` is the image row of the horizon)."""
    H, W = img.shape[:2]
    out = img
    for _ in range(rng.poisson(0.3 + 1.5 * difficulty)):
        x0 = rng.uniform(0, W)
        feet = horizon + (H - horizon) * rng.uniform(0.08, 0.9)
        if rng.random() < 0.55:  # pedestrian: the head stays near the horizon
            hh = (feet - horizon) * rng.uniform(0.75, 0.95)
            w = max(1.0, hh * 0.3)
            col = (_CLOTHES[rng.integers(len(_CLOTHES))] * rng.uniform(0.8, 1.1)).tolist()
            top = feet - hh
            cv2.ellipse(
                out,
                (int(x0), int(top + 0.5 * hh)),
                (max(1, int(w / 2)), max(1, int(0.36 * hh))),
                0,
                0,
                360,
                col,
                -1,
            )
            legs = (60, 60, 70)
            cv2.rectangle(
                out, (int(x0 - w / 4), int(top + 0.75 * hh)), (int(x0 + w / 4), int(feet)), legs, -1
            )
            cv2.circle(
                out, (int(x0), int(top + 0.1 * hh)), max(1, int(w * 0.3)), (160, 128, 106), -1
            )
        else:  # pole / lamp post
            w = max(1, int(rng.uniform(0.004, 0.012) * W * (1 + (feet - horizon) / H)))
            top = int(rng.uniform(0.0, 0.6) * horizon)
            cv2.rectangle(out, (int(x0), top), (int(x0) + w, int(feet)), (70, 72, 76), -1)
    return out
