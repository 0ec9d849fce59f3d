"""The ``map`` view: a flat web-map style tile (the satellite tile's footprint, north-up)
drawn from the class raster with road casings, building outlines, labels and POIs."""

import cv2
import numpy as np

from ..world.layout import (
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
    WATER,
    Layout,
)
from .raster import _tile

__all__ = ['render_map']


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
    'Jiefang',
    'Zhongshan',
    'Hubin',
    'Minzhu',
    'Xinhua',
    'Heping',
    'Yangguang',
    'Donghu',
    'Qingnian',
    'Jianshe',
    'Huangpu',
    'Youyi',
    'Guanggu',
    'Luoyu',
    'Wuluo',
]
_SUFFIX = ['Rd', 'St', 'Ave', 'Lu', 'Jie']
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
        name = f'{_NAMES[rng.integers(len(_NAMES))]} {_SUFFIX[rng.integers(len(_SUFFIX))]}'
        org = (int(rng.uniform(0, 0.6) * size), int(rng.uniform(0.1, 0.95) * size))
        for colour, thickness in (((250, 250, 250), 2.0), ((90, 90, 90), 0.8)):  # halo, text
            cv2.putText(
                out,
                name,
                org,
                cv2.FONT_HERSHEY_PLAIN,
                0.55 * scale,
                colour,
                max(1, int(round(thickness * scale))),
                cv2.LINE_AA,
            )
    for _ in range(rng.poisson(0.5 + 1.5 * difficulty)):
        c = (int(rng.uniform(0.05, 0.95) * size), int(rng.uniform(0.05, 0.95) * size))
        rad = max(2, int(round(3.5 * scale)))
        cv2.circle(out, c, rad + 1, (255, 255, 255), -1, cv2.LINE_AA)
        cv2.circle(out, c, rad, _POI[rng.integers(len(_POI))], -1, cv2.LINE_AA)
    return out, dict(center_xy=(x, y), footprint_m=tile_m)
