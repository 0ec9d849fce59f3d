"""Procedural layout of the synthetic region, rasterised once.

:func:`generate_layout` builds a town on a metric plane and rasterises it at
``resolution_m`` metres per pixel into a :class:`Layout`:

* roads - a rotated, sheared and wobbly grid with varied block sizes and dropped
  segments (T-junctions, super-blocks), a few long curved avenues and short
  winding residential streets; major roads get centre-line paint and bridge the
  river, minor roads stop at water; sidewalks line every road;
* water - a meandering river of varying width and a few irregular lakes, usually
  ringed by parkland;
* blocks - every area enclosed by roads becomes a residential, commercial
  (downtown towers where the district field is high), industrial, park, sports
  (running track + pitch), parking, plaza or bare-ground block;
* buildings - rotated rectangles (and whole-block slabs with courtyards) on a lot
  grid aligned with their block, with a height, a roof colour (with roof detail)
  and a facade colour;
* trees - round crowns (dense in parks, sparse in yards, lines along streets),
  stored as domes in the height map.

Raster layers (row 0 is the northern edge, column 0 the western edge):
``cls`` (uint8 class id, see ``CLASS_NAMES``), ``base_cls`` (the class under
tree crowns), ``height`` (float16 metres above
ground), ``albedo`` (uint8 RGB top-down surface colour) and ``wall`` (uint8 facade
palette index + 1, 0 where there is no building).
"""

import math
from dataclasses import dataclass, field
from typing import Optional

import cv2
import numpy as np

__all__ = [
    'CLASS_NAMES',
    'GROUND',
    'ROAD',
    'MAJOR_ROAD',
    'SIDEWALK',
    'WATER',
    'PARK',
    'BUILDING',
    'TREE',
    'PLAZA',
    'PARKING',
    'PITCH',
    'TRACK',
    'BARE',
    'ROOF_PALETTE',
    'WALL_PALETTE',
    'Layout',
    'ValueNoise',
    'generate_layout',
]

# class ids
GROUND, ROAD, MAJOR_ROAD, SIDEWALK, WATER, PARK, BUILDING, TREE = range(8)
PLAZA, PARKING, PITCH, TRACK, BARE = range(8, 13)
CLASS_NAMES = (
    'ground',
    'road',
    'major_road',
    'sidewalk',
    'water',
    'park',
    'building',
    'tree',
    'plaza',
    'parking',
    'pitch',
    'track',
    'bare',
)
NUM_CLASSES = len(CLASS_NAMES)

ROOF_PALETTE = np.array(
    [
        (196, 194, 188),  # 0 light concrete
        (148, 148, 146),  # 1 mid grey
        (88, 90, 96),  # 2 dark grey
        (172, 94, 66),  # 3 terracotta
        (124, 86, 64),  # 4 brown
        (100, 128, 160),  # 5 blue metal
        (228, 228, 222),  # 6 white
        (104, 126, 92),  # 7 green roof
        (194, 172, 128),  # 8 beige
        (64, 112, 122),  # 9 teal
    ],
    np.float32,
)
WALL_PALETTE = np.array(
    [
        (206, 192, 166),  # 0 beige render
        (176, 176, 172),  # 1 grey concrete
        (156, 92, 70),  # 2 brick
        (118, 148, 172),  # 3 blue glass
        (222, 218, 208),  # 4 white
        (182, 158, 118),  # 5 sand stone
        (86, 98, 112),  # 6 dark glass
    ],
    np.float32,
)
_ROOFS = {
    'residential': [3, 3, 4, 2, 1, 9, 8],
    'commercial': [0, 0, 1, 2, 6, 8, 7],
    'industrial': [5, 5, 6, 0, 9, 1],
}
_WALLS = {
    'residential': [0, 2, 4, 5, 0],
    'commercial': [3, 1, 4, 6, 3, 0],
    'industrial': [1, 4, 1, 3],
}

# Top-down surface colours (RGB) and texture amplitudes per class.
_BASE = np.array(
    [
        (104, 124, 70),  # ground (yard grass)
        (96, 96, 98),  # road
        (78, 78, 82),  # major road
        (170, 166, 156),  # sidewalk
        (48, 78, 92),  # water
        (88, 132, 62),  # park
        (150, 150, 150),  # building (overwritten by roofs)
        (46, 82, 40),  # tree
        (182, 176, 164),  # plaza
        (104, 104, 108),  # parking
        (72, 138, 68),  # pitch
        (176, 84, 62),  # track
        (154, 134, 104),  # bare
    ],
    np.float32,
)
_AMP_FINE = np.array(
    [0.10, 0.05, 0.05, 0.05, 0.03, 0.08, 0.04, 0.12, 0.05, 0.05, 0.04, 0.03, 0.10], np.float32
)
_AMP_MED = np.array(
    [0.10, 0.04, 0.04, 0.04, 0.08, 0.08, 0.0, 0.10, 0.04, 0.03, 0.03, 0.02, 0.10], np.float32
)
_DRY = np.array((150, 140, 96), np.float32)


class ValueNoise:
    """A smooth random field, consistent for any window of the full grid.

    A random normal grid with one value every ``cell`` pixels is upsampled
    (bicubic); ``window(r0, r1, c0, c1)`` returns the field on rows ``r0:r1`` and
    columns ``c0:c1`` of the full-resolution plane (any window, same values).
    """

    def __init__(self, rng: np.random.Generator, shape, cell: int):
        self.cell = int(max(1, cell))
        gh = shape[0] // self.cell + 8
        gw = shape[1] // self.cell + 8
        self.grid = rng.standard_normal((gh, gw)).astype(np.float32)

    def window(self, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        g = self.cell
        a, b = max(0, r0 // g), min(self.grid.shape[0], -(-r1 // g) + 4)
        c, d = max(0, c0 // g), min(self.grid.shape[1], -(-c1 // g) + 4)
        sub = self.grid[a:b, c:d]
        if g > 1:
            sub = cv2.resize(sub, ((d - c) * g, (b - a) * g), interpolation=cv2.INTER_CUBIC)
        oy, ox = r0 - (a - 2) * g, c0 - (c - 2) * g
        return sub[oy : oy + (r1 - r0), ox : ox + (c1 - c0)]

    def at(self, rows, cols) -> np.ndarray:
        """Field values at (fractional) pixel coordinates (bilinear on the grid)."""
        g = self.cell
        u = (np.asarray(rows, np.float64) + 0.5) / g - 0.5 + 2
        v = (np.asarray(cols, np.float64) + 0.5) / g - 0.5 + 2
        u = np.clip(u, 0, self.grid.shape[0] - 1.001)
        v = np.clip(v, 0, self.grid.shape[1] - 1.001)
        i, j = u.astype(np.int64), v.astype(np.int64)
        fu, fv = u - i, v - j
        gr = self.grid
        return (gr[i, j] * (1 - fv) + gr[i, j + 1] * fv) * (1 - fu) + (
            gr[i + 1, j] * (1 - fv) + gr[i + 1, j + 1] * fv
        ) * fu


@dataclass
class Layout:
    """The rasterised region. See the module docstring for the layers."""

    resolution_m: float
    width_m: float
    height_m: float
    cls: np.ndarray
    height: np.ndarray
    albedo: np.ndarray
    wall: np.ndarray
    hmax_coarse: np.ndarray
    coarse: int
    base_cls: np.ndarray
    grid_angle: float = 0.0
    num_buildings: int = 0
    stats: dict = field(default_factory=dict)

    _hpad: Optional[np.ndarray] = field(default=None, repr=False, compare=False)

    @property
    def shape(self):
        return self.cls.shape

    @property
    def hpad(self) -> np.ndarray:
        """float32 height map with a one-pixel zero border (for fast ray marching)."""
        if self._hpad is None:
            self._hpad = np.pad(self.height.astype(np.float32), 1)
        return self._hpad

    def height_at(self, x, y) -> np.ndarray:
        """Height (float32) at metric points; 0 outside the region."""
        hp = self.hpad
        H2, W2 = hp.shape
        inv = 1.0 / self.resolution_m
        col = np.clip(np.asarray(x, np.float32) * np.float32(inv) + 1, 0, W2 - 1).astype(np.int32)
        row = np.clip(
            (np.float32(self.height_m) - np.asarray(y, np.float32)) * np.float32(inv) + 1, 0, H2 - 1
        ).astype(np.int32)
        return hp.reshape(-1).take(row * W2 + col)

    def to_rc(self, x, y):
        """Metric (x east, y north) -> fractional raster (row, col)."""
        return (self.height_m - np.asarray(y)) / self.resolution_m, np.asarray(
            x
        ) / self.resolution_m

    def to_xy(self, r, c):
        """Fractional raster (row, col) -> metric (x, y)."""
        return np.asarray(c) * self.resolution_m, self.height_m - np.asarray(r) * self.resolution_m


# ----------------------------------------------------------------------------- helpers


def _pts(xy_px: np.ndarray) -> np.ndarray:
    """Float pixel (x=col, y=row) points -> int32 fixed point with shift=2."""
    return np.round(np.asarray(xy_px, np.float64) * 4).astype(np.int32).reshape(-1, 1, 2)


def _polyline(img, xy_px, width_px, value):
    cv2.polylines(
        img,
        [_pts(xy_px)],
        False,
        value,
        thickness=max(1, int(round(width_px))),
        lineType=cv2.LINE_8,
        shift=2,
    )


def _random_walk(rng, start, heading, length, step, curvature_sd, max_curv):
    """A smooth curve: heading follows a mean-reverting random walk of curvature."""
    n = max(2, int(length / step))
    pts = np.empty((n, 2))
    p = np.array(start, np.float64)
    h, k = heading, 0.0
    for i in range(n):
        pts[i] = p
        k = 0.9 * k + rng.normal(0, curvature_sd)
        k = float(np.clip(k, -max_curv, max_curv))
        h += k * step
        p = p + step * np.array([math.cos(h), math.sin(h)])
    return pts


def _periodic_noise(rng, size, sigma):
    """A tileable (wrap-around) smooth noise tile with unit standard deviation."""
    pad = int(4 * sigma) + 2
    t = rng.standard_normal((size, size)).astype(np.float32)
    t = np.pad(t, pad, mode='wrap')
    t = cv2.GaussianBlur(t, (0, 0), max(0.3, sigma))[pad:-pad, pad:-pad]
    return (t - t.mean()) / (t.std() + 1e-6)


def _tile_window(tile, r0, r1, width):
    n = tile.shape[0]
    rows = np.arange(r0, r1) % n
    reps = -(-width // n)
    return np.tile(tile[rows], (1, reps))[:, :width]


def _coarse_dilate(mask, radius_px, f=4):
    """Approximate (4x coarser) dilation of a big uint8 mask, returned full size."""
    h, w = mask.shape
    small = cv2.resize(mask * np.uint8(255), (-(-w // f), -(-h // f)), interpolation=cv2.INTER_AREA)
    small = cv2.dilate((small > 0).astype(np.uint8), _kernel(radius_px / f))
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST) > 0


def _lut(*classes, invert=False):
    lut = np.zeros(256, bool)
    lut[list(classes)] = True
    return ~lut if invert else lut


def _kernel(r):
    r = max(1, int(round(r)))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


# ----------------------------------------------------------------------------- layout


def generate_layout(
    rng: np.random.Generator,
    width_m: float,
    height_m: float,
    resolution_m: float = 1.0,
    core_box=None,
) -> Layout:
    """Generate and rasterise a region of ``width_m`` x ``height_m`` metres.

    Args:
        rng: random generator (the layout is a pure function of its state).
        width_m, height_m: region size in metres.
        resolution_m: metres per raster pixel.
        core_box: optional ``(x0, y0, x1, y1)`` metric box where the locations
            lie; water bodies and landmarks are spread over it.
    """
    res = float(resolution_m)
    H, W = int(math.ceil(height_m / res)), int(math.ceil(width_m / res))
    m2p = 1.0 / res
    if core_box is None:
        core_box = (0.0, 0.0, width_m, height_m)
    area_km2 = width_m * height_m / 1e6

    def xy2px(xy):  # metric (x, y) -> pixel (col, row)
        xy = np.asarray(xy, np.float64)
        return np.stack([xy[..., 0] * m2p, (height_m - xy[..., 1]) * m2p], -1)

    minor = np.zeros((H, W), np.uint8)
    major = np.zeros((H, W), np.uint8)
    paint = np.zeros((H, W), np.uint8)  # 1 white, 2 yellow

    # ---- perturbed grid: lines in a rotated (u, v) frame centred on the region
    theta = rng.uniform(-0.45, 0.45)
    cx, cy = width_m / 2, height_m / 2
    half = 0.5 * math.hypot(width_m, height_m) + 80
    cos_t, sin_t = math.cos(theta), math.sin(theta)

    def uv2xy(u, v):
        return np.stack([cx + u * cos_t - v * sin_t, cy + u * sin_t + v * cos_t], -1)

    gaps = np.array([55, 70, 85, 100, 120, 150, 185], np.float64)
    gap_p = np.array([0.08, 0.2, 0.22, 0.2, 0.15, 0.1, 0.05])

    def make_lines():
        lines, p = [], -half + rng.uniform(0, 60)
        while p < half:
            is_major = rng.random() < 0.2
            lines.append(
                dict(
                    p=p,
                    major=is_major,
                    amp=rng.uniform(0, 12),
                    lam=rng.uniform(500, 2200),
                    phi=rng.uniform(0, 2 * math.pi),
                    slope=rng.normal(0, 0.004),
                )
            )
            p += rng.choice(gaps, p=gap_p) * (1.25 if is_major else 1.0)
        return lines

    shear_u, shear_v = rng.uniform(-0.12, 0.12), rng.uniform(-0.12, 0.12)
    ulines, vlines = make_lines(), make_lines()  # u = const-ish lines, v = const-ish lines

    def u_of(line, v):  # position of a u-line at parameter v
        return (
            line['p']
            + line['amp'] * np.sin(2 * math.pi * v / line['lam'] + line['phi'])
            + (shear_u + line['slope']) * v
        )

    def v_of(line, u):
        return (
            line['p']
            + line['amp'] * np.sin(2 * math.pi * u / line['lam'] + line['phi'])
            + (shear_v + line['slope']) * u
        )

    def crossings(line, others, own_is_u):
        out = []
        for o in others:
            t = o['p']
            for _ in range(6):  # fixed point; slopes are small
                if own_is_u:
                    u = u_of(line, t)
                    t = v_of(o, u)
                else:
                    v = v_of(line, t)
                    t = u_of(o, v)
            out.append(t)
        return np.array(out)

    major_polys, minor_polys = [], []
    for own_is_u, lines, others in ((True, ulines, vlines), (False, vlines, ulines)):
        for line in lines:
            ts = crossings(line, others, own_is_u)
            keep = np.ones(len(ts) - 1, bool)
            if not line['major']:
                keep &= rng.random(len(keep)) > 0.14
                # occasionally a longer gap: a super-block
                if rng.random() < 0.3 and len(keep) > 3:
                    k0 = rng.integers(0, len(keep) - 2)
                    keep[k0 : k0 + 2] = False
            seg = []
            for k in range(len(ts) - 1):
                if keep[k]:
                    seg.append(k)
                if (not keep[k] or k == len(ts) - 2) and seg:
                    t0, t1 = ts[seg[0]], ts[seg[-1] + 1]
                    tt = np.linspace(t0, t1, max(2, int(abs(t1 - t0) / 5) + 1))
                    if own_is_u:
                        xy = uv2xy(u_of(line, tt), tt)
                    else:
                        xy = uv2xy(tt, v_of(line, tt))
                    (major_polys if line['major'] else minor_polys).append(xy)
                    seg = []

    # ---- long curved avenues and winding residential streets
    x0c, y0c, x1c, y1c = core_box
    n_curved = int(np.clip(round(area_km2 * 0.18), 1, 5))
    for _ in range(n_curved):
        side = rng.integers(4)
        start = [
            (rng.uniform(0, width_m), -50),
            (rng.uniform(0, width_m), height_m + 50),
            (-50, rng.uniform(0, height_m)),
            (width_m + 50, rng.uniform(0, height_m)),
        ][side]
        target = np.array([rng.uniform(x0c, x1c), rng.uniform(y0c, y1c)])
        heading = math.atan2(target[1] - start[1], target[0] - start[0]) + rng.normal(0, 0.2)
        xy = _random_walk(rng, start, heading, 2.2 * max(width_m, height_m), 6.0, 0.0006, 0.0025)
        (major_polys if rng.random() < 0.6 else minor_polys).append(xy)
    n_wind = int(round(area_km2 * 2.5)) + 1
    for _ in range(n_wind):
        start = (rng.uniform(0, width_m), rng.uniform(0, height_m))
        xy = _random_walk(
            rng, start, rng.uniform(0, 2 * math.pi), rng.uniform(150, 420), 4.0, 0.004, 0.018
        )
        minor_polys.append(xy)

    major_w = [rng.uniform(14, 20) for _ in major_polys]
    minor_w = [rng.uniform(7, 10.5) for _ in minor_polys]
    for xy, w in zip(minor_polys, minor_w):
        _polyline(minor, xy2px(xy), w * m2p, 1)

    # ---- water: a meandering river (bridged by major roads) and lakes
    water = np.zeros((H, W), np.uint8)
    if rng.random() < 0.85:
        horizontal = rng.random() < 0.5
        if horizontal:
            start = (-60.0, rng.uniform(y0c + 0.2 * (y1c - y0c), y1c - 0.2 * (y1c - y0c)))
            heading = rng.normal(0, 0.25)
        else:
            start = (rng.uniform(x0c + 0.2 * (x1c - x0c), x1c - 0.2 * (x1c - x0c)), -60.0)
            heading = math.pi / 2 + rng.normal(0, 0.25)
        xy = _random_walk(rng, start, heading, 2.5 * max(width_m, height_m), 8.0, 0.0015, 0.006)
        wid = rng.uniform(32, 60) * (
            1 + 0.3 * np.sin(np.arange(len(xy)) * 8.0 / 400.0 + rng.uniform(0, 6))
        )
        px = xy2px(xy)
        for k in range(len(px) - 1):
            _polyline(water, px[k : k + 2], wid[k] * m2p, 1)
    major_img = np.zeros((H, W), np.uint8)
    for xy, w in zip(major_polys, major_w):
        _polyline(major_img, xy2px(xy), w * m2p, 1)
    lakes = np.zeros((H, W), np.uint8)
    n_lakes = max(1, int(round(area_km2 * 0.35 * rng.uniform(0.6, 1.4))))
    for _ in range(n_lakes):
        c = np.array([rng.uniform(x0c, x1c), rng.uniform(y0c, y1c)])
        r0 = rng.uniform(25, 85)
        ang = np.linspace(0, 2 * math.pi, 48, endpoint=False)
        rr = r0 * (
            1
            + sum(
                rng.uniform(-0.18, 0.18) * np.cos(k * ang + rng.uniform(0, 6)) for k in range(2, 5)
            )
        )
        poly = c + np.stack([rr * np.cos(ang), rr * np.sin(ang)], -1)
        cv2.fillPoly(lakes, [_pts(xy2px(poly))], 1, shift=2)
    water |= lakes

    road = (minor > 0) & (water == 0)
    road_major = major_img > 0
    road = road & ~road_major
    road_major &= lakes == 0
    water_b = water > 0
    water_b &= ~road_major

    # centre-line paint on major roads (dashed white or double yellow)
    for xy in major_polys:
        px = xy2px(xy)
        if rng.random() < 0.5:
            seglen = np.r_[0, np.cumsum(np.linalg.norm(np.diff(xy, axis=0), axis=1))]
            on = (seglen % 10.0) < 4.0
            for k in range(len(px) - 1):
                if on[k]:
                    _polyline(paint, px[k : k + 2], max(1, 0.35 * m2p), 1)
        else:
            _polyline(paint, px, max(1, 0.6 * m2p), 2)
    paint[~road_major] = 0

    any_road = road | road_major
    sidewalk = cv2.dilate(any_road.astype(np.uint8), _kernel(2.5 * m2p)) > 0
    sidewalk &= ~any_road & ~water_b

    cls = np.full((H, W), GROUND, np.uint8)
    cls[water_b] = WATER
    cls[road] = ROAD
    cls[road_major] = MAJOR_ROAD
    cls[sidewalk] = SIDEWALK
    del minor, major, major_img

    # ---- blocks
    free = (cls == GROUND).astype(np.uint8)
    nb, labels, stats, cents = cv2.connectedComponentsWithStats(free, connectivity=4)
    cell_urban = max(4, int(700 * m2p))
    urban_noise = ValueNoise(rng, (H, W), cell_urban)
    ind_noise = ValueNoise(rng, (H, W), max(4, int(500 * m2p)))
    clump = ValueNoise(rng, (H, W), max(2, int(14 * m2p)))
    lake_ring = _coarse_dilate(lakes, 25 * m2p)
    river_ring = _coarse_dilate((water_b & (lakes == 0)).astype(np.uint8), 12 * m2p)

    heightf = np.zeros((H, W), np.float32)
    albedo = np.zeros((H, W, 3), np.uint8)
    wall = np.zeros((H, W), np.uint8)
    tree_p = np.zeros((H, W), np.float32)
    num_buildings = 0
    urb = urban_noise.at(cents[:, 1], cents[:, 0])
    ind = ind_noise.at(cents[:, 1], cents[:, 0])
    kinds_count = {}
    for k in range(1, nb):
        x, y, bw, bh, area = stats[k]
        if area * res * res < 40:
            cls[y : y + bh, x : x + bw][labels[y : y + bh, x : x + bw] == k] = SIDEWALK
            continue
        sl = (slice(y, y + bh), slice(x, x + bw))
        bm = labels[sl] == k
        lake_frac = lake_ring[sl][bm].mean()
        river_frac = river_ring[sl][bm].mean()
        u, iv = urb[k], ind[k]
        r = rng.random()
        min_side = min(bw, bh) * res
        a_m2 = area * res * res
        if lake_frac > 0.15 or (river_frac > 0.3 and rng.random() < 0.5):
            kind = 'park'
        elif r < 0.07:
            kind = 'park'
        elif r < 0.10 and min_side > 60 and a_m2 > 5000:
            kind = 'sports'
        elif r < 0.13:
            kind = 'parking'
        elif r < 0.15:
            kind = 'plaza'
        elif r < 0.18:
            kind = 'bare'
        elif iv > 0.9 and u < 0.6:
            kind = 'industrial'
        elif rng.random() < 0.25 + 0.45 * (u > 0.3) + 0.25 * (u > 0.9):
            kind = 'commercial'
        else:
            kind = 'residential'
        kinds_count[kind] = kinds_count.get(kind, 0) + 1
        sub_cls = cls[sl]
        sub_tp = tree_p[sl]
        if kind == 'park':
            sub_cls[bm] = PARK
            cl = clump.window(y, y + bh, x, x + bw)
            sub_tp[bm] = np.clip(0.004 + 0.02 * (cl[bm] > 0.1), 0, 1)
            _park_paths(rng, sub_cls, bm, m2p)
        elif kind == 'sports':
            sub_cls[bm] = PARK
            sub_tp[bm] = 0.006
            _sports(rng, sub_cls, albedo[sl], bm, m2p)
        elif kind == 'parking':
            sub_cls[bm] = PARKING
            sub_tp[bm] = 0.0008
            _stripes(rng, albedo[sl], sub_cls, bm, m2p)
        elif kind == 'plaza':
            sub_cls[bm] = PLAZA
            sub_tp[bm] = 0.003
        elif kind == 'bare':
            sub_cls[bm] = BARE
            sub_tp[bm] = 0.0015
        else:
            if kind == 'residential':
                sub_cls[bm] = GROUND
                sub_tp[bm] = 0.006
            elif kind == 'commercial':
                sub_cls[bm] = PLAZA
                sub_tp[bm] = 0.0015
            else:
                sub_cls[bm] = BARE if rng.random() < 0.5 else PARKING
                sub_tp[bm] = 0.0005
            num_buildings += _buildings(
                rng, kind, u, bm, sub_cls, heightf[sl], albedo[sl], wall[sl], m2p
            )
    del labels
    # street trees along some roads
    street = (cls == SIDEWALK) & (clump.window(0, H, 0, W) > -0.3)
    tree_p[street] = 0.02
    tree_p[cls == BUILDING] = 0
    tree_p *= res * res

    # ---- trees: crowns around random centres, domes in the height map
    crown_r = np.empty((H, W), np.float32)
    tree = np.zeros((H, W), bool)
    dome = np.zeros((H, W), np.float32)
    centres = np.ones((H, W), np.uint8)
    for r0 in range(0, H, 512):
        r1 = min(H, r0 + 512)
        centres[r0:r1][rng.random((r1 - r0, W), dtype=np.float32) < tree_p[r0:r1]] = 0
        crown_r[r0:r1] = (3.6 + 1.2 * clump.window(r0, r1, 0, W)) * m2p
    del tree_p
    dist = cv2.distanceTransform(centres, cv2.DIST_L2, 3)
    del centres
    np.clip(crown_r, 2.0 * m2p, 6.0 * m2p, out=crown_r)
    allowed = _lut(BUILDING, WATER, ROAD, MAJOR_ROAD, PITCH, TRACK, invert=True)[cls]
    tree = (dist < crown_r) & allowed
    dome[tree] = np.sqrt(np.clip(1 - (dist[tree] / crown_r[tree]) ** 2, 0, 1))
    heightf[tree] = 2.5 + (1.8 * crown_r[tree] / m2p) * (0.55 + 0.45 * dome[tree])
    base_cls = cls.copy()
    cls[tree] = TREE
    del dist, crown_r, allowed

    # ---- albedo, in row chunks
    fine_tile = _periodic_noise(rng, 256, 0.8 * m2p)
    n_med = ValueNoise(rng, (H, W), max(2, int(round(10 * m2p))))
    n_large = ValueNoise(rng, (H, W), max(4, int(round(180 * m2p))))
    n_dry = ValueNoise(rng, (H, W), max(4, int(round(60 * m2p))))
    grassy_lut = _lut(GROUND, PARK, BARE)
    for r0 in range(0, H, 512):
        r1 = min(H, r0 + 512)
        c = cls[r0:r1]
        fine = _tile_window(fine_tile, r0, r1, W)
        mult = 1 + _AMP_FINE[c] * fine
        mult += _AMP_MED[c] * n_med.window(r0, r1, 0, W)
        mult += 0.04 * n_large.window(r0, r1, 0, W)
        tree = c == TREE
        mult[tree] *= 0.55 + 0.55 * dome[r0:r1][tree]
        col = _BASE[c]
        grassy = grassy_lut[c]
        dry = np.clip(0.5 + 0.5 * (n_dry.window(r0, r1, 0, W)[grassy] - 0.6), 0, 1)
        dry[c[grassy] == PARK] *= 0.4
        col[grassy] += (_DRY - col[grassy]) * dry[:, None]
        col *= mult[..., None]
        a = albedo[r0:r1]
        isb = c == BUILDING
        painted = a.any(axis=-1) & ~isb & ~tree  # sports / parking paint drawn earlier
        out = np.clip(col, 0, 255).astype(np.uint8)
        out[isb] = np.clip(a[isb] * (1 + 0.035 * fine[isb])[:, None], 0, 255).astype(np.uint8)
        out[painted] = a[painted]
        p = paint[r0:r1]
        major_c = c == MAJOR_ROAD
        out[(p == 1) & major_c] = (205, 205, 200)
        out[(p == 2) & major_c] = (200, 170, 60)
        albedo[r0:r1] = out
    del dome, paint

    cs = max(8, int(round(32 * m2p)))
    hp = np.pad(heightf, ((0, (-H) % cs), (0, (-W) % cs)))
    hmax_coarse = hp.reshape(hp.shape[0] // cs, cs, hp.shape[1] // cs, cs).max(axis=(1, 3))
    return Layout(
        resolution_m=res,
        width_m=W * res,
        height_m=H * res,
        cls=cls,
        height=heightf.astype(np.float16),
        albedo=albedo,
        wall=wall,
        hmax_coarse=hmax_coarse,
        coarse=cs,
        base_cls=base_cls,
        grid_angle=theta,
        num_buildings=num_buildings,
        stats=dict(blocks=kinds_count, buildings=num_buildings),
    )


# ----------------------------------------------------------------------------- blocks


def _block_frame(bm):
    contours, _ = cv2.findContours(bm.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    rect = cv2.minAreaRect(np.concatenate(contours))
    box = cv2.boxPoints(rect).astype(np.float64)
    a1, a2 = box[1] - box[0], box[2] - box[1]
    l1, l2 = np.linalg.norm(a1), np.linalg.norm(a2)
    centre = box.mean(axis=0)
    return centre, a1 / max(l1, 1e-6), a2 / max(l2, 1e-6), l1, l2


def _rect(centre, e1, e2, w1, w2):
    return np.array(
        [
            centre + s1 * w1 / 2 * e1 + s2 * w2 / 2 * e2
            for s1, s2 in ((-1, -1), (1, -1), (1, 1), (-1, 1))
        ]
    )


_SHADE = np.array([1.0, 0.84, 1.12, 0.8, 0.7, 1.18, 1.25], np.float32)


def _rects(c, f1, f2, w1, w2):
    """Corners (n, 4, 2) of n rotated rectangles."""
    h1, h2 = (w1 / 2)[:, None], (w2 / 2)[:, None]
    return np.stack(
        [
            c - h1 * f1 - h2 * f2,
            c + h1 * f1 - h2 * f2,
            c + h1 * f1 + h2 * f2,
            c - h1 * f1 + h2 * f2,
        ],
        1,
    )


def _inside_many(mask, rects):
    """(n,) True where corners, edge mid-points and centre all lie on ``mask``."""
    c = rects.mean(axis=1, keepdims=True)
    mids = (rects + rects[:, [1, 2, 3, 0]]) / 2
    pts = np.concatenate([rects, mids, c, (rects + c) / 2], axis=1)
    col = np.round(pts[..., 0]).astype(np.int64)
    row = np.round(pts[..., 1]).astype(np.int64)
    ok = (row >= 0) & (row < mask.shape[0]) & (col >= 0) & (col < mask.shape[1])
    vals = mask[np.clip(row, 0, mask.shape[0] - 1), np.clip(col, 0, mask.shape[1] - 1)]
    return (ok & vals).all(axis=1)


def _buildings(rng, kind, urban, bm, sub_cls, sub_h, sub_alb, sub_wall, m2p):
    setback = {'residential': 3.0, 'commercial': 2.5, 'industrial': 4.0}[kind] * m2p
    inner = cv2.erode(bm.astype(np.uint8), _kernel(setback)) > 0
    if inner.sum() < 40 * m2p * m2p:
        return 0
    centre, e1, e2, l1, l2 = _block_frame(inner)
    downtown = urban > 0.9
    # each block uses a few of its kind's roof / facade colours: areas look distinct
    roofs = rng.choice(_ROOFS[kind], size=rng.integers(1, 4), replace=False)
    walls = rng.choice(_WALLS[kind], size=rng.integers(1, 3), replace=False)

    # whole-block slab with a courtyard
    if kind == 'commercial' and rng.random() < 0.3 and max(l1, l2) < 110 * m2p:
        m = inner.copy()
        court = cv2.erode(m.astype(np.uint8), _kernel(11 * m2p)) > 0
        m &= ~court
        if m.sum() > 200 * m2p * m2p:
            col = ROOF_PALETTE[rng.choice(roofs)] * rng.uniform(0.9, 1.1)
            rim = m & ~(cv2.erode(m.astype(np.uint8), _kernel(0.8 * m2p)) > 0)
            sub_cls[m] = BUILDING
            sub_h[m] = rng.uniform(14, 30) if not downtown else rng.uniform(22, 45)
            sub_wall[m] = rng.choice(walls) + 1
            sub_alb[m] = np.clip(col, 0, 255).astype(np.uint8)
            sub_alb[rim] = np.clip(col * 0.8, 0, 255).astype(np.uint8)
            return 1

    if kind == 'residential':
        lot = (rng.uniform(13, 20), rng.uniform(16, 24))
        frac, density = (0.5, 0.78), 0.85
    elif kind == 'commercial':
        lot = (rng.uniform(24, 40), rng.uniform(24, 42))
        frac, density = (0.6, 0.9), 0.9
    else:
        lot = (rng.uniform(34, 52), rng.uniform(30, 48))
        frac, density = (0.65, 0.9), 0.85
    n1 = max(1, int(round(l1 / (lot[0] * m2p))))
    n2 = max(1, int(round(l2 / (lot[1] * m2p))))
    s1, s2 = l1 / n1, l2 / n2
    ii, jj = np.meshgrid(np.arange(n1), np.arange(n2), indexing='ij')
    ii, jj = ii.ravel(), jj.ravel()
    sel = rng.random(ii.size) <= density
    ii, jj = ii[sel], jj[sel]
    n = ii.size
    if n == 0:
        return 0
    c = centre + ((ii + 0.5) * s1 - l1 / 2)[:, None] * e1 + ((jj + 0.5) * s2 - l2 / 2)[:, None] * e2
    w1 = s1 * rng.uniform(*frac, n)
    w2 = s2 * rng.uniform(*frac, n)
    c = (
        c
        + (rng.uniform(-0.5, 0.5, n) * (s1 - w1))[:, None] * e1
        + (rng.uniform(-0.5, 0.5, n) * (s2 - w2))[:, None] * e2
    )
    ang = rng.normal(0, 0.03, n) if kind == 'residential' else np.zeros(n)
    ca, sa = np.cos(ang)[:, None], np.sin(ang)[:, None]
    f1, f2 = ca * e1 + sa * e2, -sa * e1 + ca * e2
    scale = np.zeros(n)
    for shrink in (1.0, 0.75, 0.55):
        ok = _inside_many(inner, _rects(c, f1, f2, w1 * shrink, w2 * shrink))
        ok &= np.minimum(w1, w2) * shrink >= 7 * m2p
        scale[ok & (scale == 0)] = shrink
    keep = scale > 0
    if not keep.any():
        return 0
    c, f1, f2 = c[keep], f1[keep], f2[keep]
    w1, w2 = w1[keep] * scale[keep], w2[keep] * scale[keep]
    n = len(c)
    if kind == 'residential':
        h = 3.0 * rng.integers(2, 6, n) + rng.uniform(0, 1.5, n)
    elif kind == 'commercial':
        h = 3.4 * rng.integers(3, 9, n) + rng.uniform(0, 2, n)
        if downtown:
            tall = rng.random(n) < 0.6
            h[tall] = rng.uniform(28, 60, tall.sum())
    else:
        h = rng.uniform(6, 13, n)
    rects = _rects(c, f1, f2, w1, w2)
    detail = np.full(n, kind == 'residential')
    if kind == 'residential':
        # L-shaped extensions now and then (drawn first, the main house on top)
        ext = _rects(
            c + (0.5 * w1)[:, None] * f1 - (0.2 * w2)[:, None] * f2, f1, f2, 0.5 * w1, 0.6 * w2
        )
        use = (rng.random(n) < 0.25) & _inside_many(inner, ext)
        rects = np.concatenate([ext[use], rects])
        h = np.concatenate([h[use] * rng.uniform(0.6, 1.0, use.sum()), h])
        detail = np.concatenate([detail[use], detail])
    n = len(rects)
    cols = ROOF_PALETTE[rng.choice(roofs, n)] * rng.uniform(0.92, 1.08, (n, 1)) + rng.normal(
        0, 5, (n, 3)
    )
    wall_idx = rng.choice(walls, n)
    ids = np.zeros(bm.shape, np.int32)
    shade = np.zeros(bm.shape, np.uint8)
    thin = max(1, int(round(0.7 * m2p)))
    for k in range(n):
        poly = rects[k]
        cv2.fillPoly(ids, [_pts(poly)], k + 1, shift=2)
        if detail[k]:  # gabled roof: a darker half and a bright ridge along the long axis
            e, f = poly[1] - poly[0], poly[2] - poly[1]
            cc = poly.mean(axis=0)
            if e @ e >= f @ f:
                a, b = cc - e / 2, cc + e / 2
                half = np.array(
                    [poly[0], poly[1], (poly[1] + poly[2]) / 2, (poly[0] + poly[3]) / 2]
                )
            else:
                a, b = cc - f / 2, cc + f / 2
                half = np.array(
                    [poly[1], poly[2], (poly[2] + poly[3]) / 2, (poly[0] + poly[1]) / 2]
                )
            cv2.fillPoly(shade, [_pts(half)], 1, shift=2)
            _polyline(shade, np.array([a, b]), thin, 2)
        else:  # flat roof: parapet rim and a few rooftop units
            cv2.polylines(shade, [_pts(poly)], True, 3, thin, shift=2)
            cc = poly.mean(axis=0)
            e, f = (poly[1] - poly[0]) / 2, (poly[2] - poly[1]) / 2
            en, fn = e / (np.linalg.norm(e) + 1e-9), f / (np.linalg.norm(f) + 1e-9)
            for _ in range(rng.integers(0, 4)):
                p = cc + rng.uniform(-0.6, 0.6) * e + rng.uniform(-0.6, 0.6) * f
                sz = rng.uniform(1.5, 4.0) * m2p
                box = _rects(
                    p[None],
                    en[None],
                    fn[None],
                    np.array([sz]),
                    np.array([sz * rng.uniform(0.6, 1.5)]),
                )[0]
                cv2.fillPoly(shade, [_pts(box)], int(rng.integers(4, 7)), shift=2)
    m = (ids > 0) & bm
    idv = ids[m] - 1
    sub_cls[m] = BUILDING
    sub_h[m] = h[idv]
    sub_wall[m] = wall_idx[idv] + 1
    sub_alb[m] = np.clip(cols[idv] * _SHADE[shade[m]][:, None], 0, 255).astype(np.uint8)
    return n


def _park_paths(rng, sub_cls, bm, m2p):
    h, w = bm.shape
    n = 1 + int(bm.sum() / (6000 * m2p * m2p))
    pm = np.zeros(bm.shape, np.uint8)
    for _ in range(min(n, 4)):
        start = (rng.uniform(0, w), rng.uniform(0, h))
        xy = _random_walk(
            rng,
            start,
            rng.uniform(0, 2 * math.pi),
            max(h, w) * 1.2,
            2.0 * m2p,
            0.01 / m2p,
            0.04 / m2p,
        )
        _polyline(pm, xy, 2.5 * m2p, 1)
    sub_cls[(pm > 0) & bm] = PLAZA


def _sports(rng, sub_cls, sub_alb, bm, m2p):
    core = cv2.erode(bm.astype(np.uint8), _kernel(4 * m2p)) > 0
    if core.sum() < 100:
        return
    centre, e1, e2, l1, l2 = _block_frame(core)
    if l1 < l2:
        e1, e2, l1, l2 = e2, e1, l2, l1
    L = min(l1 * 0.92, 175 * m2p)
    Wd = min(l2 * 0.9, 92 * m2p)
    if L < 60 * m2p or Wd < 40 * m2p:
        return
    outer = np.zeros(bm.shape, np.uint8)
    # stadium shape: a rectangle with round ends, drawn via thick polyline
    a, b = centre - (L - Wd) / 2 * e1, centre + (L - Wd) / 2 * e1
    _polyline(outer, np.array([a, b]), Wd, 1)
    inner = np.zeros(bm.shape, np.uint8)
    _polyline(inner, np.array([a, b]), Wd - 2 * 9 * m2p, 1)
    track = (outer > 0) & (inner == 0) & bm
    pitch = (inner > 0) & bm
    sub_cls[track] = TRACK
    sub_cls[pitch] = PITCH
    # pitch lines (white) and lane lines (pale), drawn as paint on the albedo
    col = np.zeros(bm.shape + (3,), np.uint8)
    pw, pl = (Wd - 2 * 9 * m2p) * 0.85, (L - Wd) * 0.9 + (Wd - 2 * 9 * m2p) * 0.6
    rect = _rect(centre, e1, e2, pl, pw)
    cv2.polylines(col, [_pts(rect)], True, (236, 240, 236), max(1, int(0.5 * m2p)), shift=2)
    _polyline(
        col,
        np.array([centre - pw / 2 * e2, centre + pw / 2 * e2]),
        max(1, 0.5 * m2p),
        (236, 240, 236),
    )
    cv2.circle(
        col,
        tuple(int(v) for v in np.round(centre * 4)),
        int(9 * m2p * 4),
        (236, 240, 236),
        max(1, int(0.5 * m2p)),
        shift=2,
    )
    stripes = np.zeros(bm.shape, np.uint8)
    for k in range(1, 4):
        _polyline(stripes, np.array([a, b]), Wd - 2 * k * 2.2 * m2p, 1)
        _polyline(stripes, np.array([a, b]), Wd - 2 * k * 2.2 * m2p - max(1, 0.4 * m2p), 0)
    grass = (
        np.array(_BASE[PITCH])
        * (
            1
            + 0.08
            * np.sign(
                np.sin(
                    np.add.outer(np.arange(bm.shape[0]) * e1[1], np.arange(bm.shape[1]) * e1[0])
                    / (6 * m2p)
                    * math.pi
                )
            )
        )[..., None]
    )
    sub_alb[pitch] = np.clip(grass[pitch], 0, 255).astype(np.uint8)
    sub_alb[track] = np.clip(_BASE[TRACK] + rng.normal(0, 3, 3), 0, 255).astype(np.uint8)
    sub_alb[(stripes > 0) & track] = (222, 170, 150)
    painted = col.any(axis=-1) & pitch
    sub_alb[painted] = col[painted]


def _stripes(rng, sub_alb, sub_cls, bm, m2p):
    centre, e1, e2, l1, l2 = _block_frame(bm)
    img = np.zeros(bm.shape, np.uint8)
    step = 2.6 * m2p
    row = 12 * m2p
    for j in np.arange(-l2 / 2 + row / 2, l2 / 2, row):
        for i in np.arange(-l1 / 2, l1 / 2, step):
            p = centre + i * e1 + j * e2
            _polyline(
                img, np.array([p - 2.5 * m2p * e2, p + 2.5 * m2p * e2]), max(1, 0.25 * m2p), 1
            )
    m = (img > 0) & bm
    sub_alb[bm] = np.clip(_BASE[PARKING] + rng.normal(0, 3, 3), 0, 255).astype(np.uint8)
    sub_alb[m] = (168, 168, 164)
