"""The ``uav`` view: an oblique perspective from 150-300 m with any heading; rays are
marched through the height field (vectorised, with bisection refinement)."""

import math

import numpy as np

from ..world.layout import BUILDING, GROUND, TREE, Layout
from .look import _HAZE, Look, _finish, _light, _veg_tint
from .raster import (
    _FILL_ALBEDO,
    _ceiling_lookup,
    _gather,
    _heights,
    _local_ceiling,
    _normals,
    _wall_colour,
)

__all__ = ['render_uav']


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
