"""Eye-level rendering shared by the ``panorama`` and ``ground`` views.

:func:`render_street` renders column by column: along each azimuth the height field is
sampled at growing distances, the running maximum of the elevation angle is taken and
every pixel finds its first hit with one ``searchsorted`` (the classic "voxel space"
trick, exact for a camera without roll). :func:`street_position` picks the camera's road
point, :func:`street_cameras` the rays, and :func:`_foreground` adds pedestrians and poles.
"""

import math

import cv2
import numpy as np

from ..world.layout import _BASE, BUILDING, GROUND, MAJOR_ROAD, ROAD, TREE, Layout
from .look import _HAZE, Look, _light, _veg_tint
from .raster import (
    _FILL_ALBEDO,
    _ceiling_lookup,
    _gather,
    _heights,
    _local_ceiling,
    _normals,
    _wall_colour,
    _window,
    _window_around,
)

__all__ = ['render_street', 'street_position', 'street_cameras']


def _clear_of_trees(layout, win_cls, clearance_m):
    """Pixels of a class window farther than ``clearance_m`` from any tree crown."""
    k = max(1, int(round(clearance_m / layout.resolution_m)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
    return cv2.dilate((win_cls == TREE).astype(np.uint8), kernel) == 0


def street_position(layout: Layout, x: float, y: float, search_m: float = 150.0):
    """The road point nearest to (x, y) (metres) that is not right under / next to a
    tree crown (within 6 m); the nearest road point when every one is; (x, y) when no
    road is within ``search_m``."""
    win, (r, c), (r0, c0) = _window_around(layout, layout.base_cls, x, y, search_m, GROUND)
    road = (win == ROAD) | (win == MAJOR_ROAD)
    trees = _window(layout.cls, r0, c0, *win.shape, GROUND)
    clear = road & _clear_of_trees(layout, trees, 6.0)
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
    idx = np.searchsorted(flat, q.ravel(), side='left').reshape(tan_e.shape)
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
    win, (r, c), (r0, c0) = _window_around(layout, layout.base_cls, cam_x, cam_y, span, GROUND)
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
    if kind == 'panorama':
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
