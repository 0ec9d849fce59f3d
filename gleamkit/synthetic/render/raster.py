"""Reading the world rasters: windows and tiles, heights and normals, cast-shadow ceilings
and facade colours (shared by the renderers)."""

import math

import cv2
import numpy as np

from ..world.layout import WALL_PALETTE, Layout
from .look import Look

_FILL_ALBEDO = np.array([104, 124, 70], np.uint8)


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


def _window_around(layout: Layout, arr, x, y, half_m: float, fill):
    """The square of ``2 * half_m`` metres around (x, y), at raster resolution; returns
    ``(window, (r, c), (r0, c0))``: (x, y) and the window's corner in raster cells."""
    n = int(round(2 * half_m / layout.resolution_m))
    r, c = layout.to_rc(x, y)
    r0, c0 = int(round(r - n / 2)), int(round(c - n / 2))
    return _window(arr, r0, c0, n, n, fill), (r, c), (r0, c0)


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
