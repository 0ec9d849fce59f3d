"""What a tile of the built-in world contains, read from the world's rasters.

:func:`tile_facts` turns a square crop of the layout rasters (``cls``,
``height``, ``albedo``, ``wall``; row 0 is north, see
``gleamkit/synthetic/world/layout.py``) into :class:`SceneFacts`: the roads
(orientation, main or side street, curved, where), their junctions
(crossroads / T-junctions), the buildings (count, height, roof colour, where),
green space (parks, sports grounds, street trees) and water (river, lake). The
reference explanations of the offline GLEAM-X set are written from these facts,
so every sentence is true of the rendered images.

The world's own code is not changed: this module only reads its rasters.
"""

import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

__all__ = [
    'RoadFact',
    'JunctionFact',
    'BuildingFact',
    'WaterFact',
    'GreenFact',
    'SceneFacts',
    'tile_facts',
    'crop_rasters',
    'region_of',
    'REGIONS',
    'ROOF_COLOURS',
    'WALL_COLOURS',
    'layout_statistics',
]

from gleamkit.synthetic.world.layout import (  # the world's class ids
    BARE,
    BUILDING,
    MAJOR_ROAD,
    PARK,
    PARKING,
    PITCH,
    PLAZA,
    ROAD,
    TRACK,
    TREE,
    WATER,
)

#: roof palette of the layout (RGB) with names in English and Chinese
ROOF_COLOURS = [
    ((196, 194, 188), 'light grey', '浅灰色'),
    ((148, 148, 146), 'grey', '灰色'),
    ((88, 90, 96), 'dark grey', '深灰色'),
    ((172, 94, 66), 'terracotta', '红褐色'),
    ((124, 86, 64), 'brown', '棕色'),
    ((100, 128, 160), 'blue', '蓝色'),
    ((228, 228, 222), 'white', '白色'),
    ((104, 126, 92), 'green', '绿色'),
    ((194, 172, 128), 'beige', '米黄色'),
    ((64, 112, 122), 'teal', '青色'),
]
WALL_COLOURS = [
    ((206, 192, 166), 'beige', '米黄色'),
    ((176, 176, 172), 'grey concrete', '灰色混凝土'),
    ((156, 92, 70), 'brick', '砖红色'),
    ((118, 148, 172), 'blue glass', '蓝色玻璃'),
    ((222, 218, 208), 'white', '白色'),
    ((182, 158, 118), 'sandstone', '砂岩色'),
    ((86, 98, 112), 'dark glass', '深色玻璃'),
]
_ROOF_RGB = np.array([c for c, _, _ in ROOF_COLOURS], np.float32)

#: 3 x 3 regions of a tile: (row, col) -> (English, Chinese)
REGIONS = {
    (0, 0): ('north-west', '西北部'),
    (0, 1): ('north', '北部'),
    (0, 2): ('north-east', '东北部'),
    (1, 0): ('west', '西部'),
    (1, 1): ('centre', '中部'),
    (1, 2): ('east', '东部'),
    (2, 0): ('south-west', '西南部'),
    (2, 1): ('south', '南部'),
    (2, 2): ('south-east', '东南部'),
}


def region_of(row: float, col: float, size: int) -> Tuple[int, int]:
    """The 3 x 3 cell of a (row, col) pixel position in a ``size`` x ``size`` tile."""
    return (min(2, max(0, int(3 * row / size))), min(2, max(0, int(3 * col / size))))


@dataclass
class RoadFact:
    orientation: str  # 'N-S', 'E-W', 'NE-SW', 'NW-SE'
    major: bool  # a wide main road (vs a side street)
    curved: bool
    position: str  # English region name along the road's cross axis
    length_m: float
    width_m: float


@dataclass
class JunctionFact:
    kind: str  # 'crossroads' or 'T-junction'
    region: Tuple[int, int]


@dataclass
class BuildingFact:
    height_m: float
    roof: int  # index into ROOF_COLOURS
    area_m2: float
    region: Tuple[int, int]
    wall: int = -1  # index into WALL_COLOURS, -1 unknown


@dataclass
class WaterFact:
    kind: str  # 'river' or 'lake' (or 'pond' when small)
    share: float  # of the tile area
    region: Tuple[int, int]
    orientation: Optional[str] = None  # of a river


@dataclass
class GreenFact:
    kind: str  # 'park', 'sports ground'
    share: float
    region: Tuple[int, int]


@dataclass
class SceneFacts:
    """Facts of one square tile (``size_m`` metres a side)."""

    size_m: float
    roads: List[RoadFact] = field(default_factory=list)
    junctions: List[JunctionFact] = field(default_factory=list)
    buildings: List[BuildingFact] = field(default_factory=list)
    greens: List[GreenFact] = field(default_factory=list)
    water: List[WaterFact] = field(default_factory=list)
    shares: Dict[str, float] = field(default_factory=dict)  # class shares of the tile
    #: for a street-level crop centred on its camera: is the camera on a main road
    camera_on_main_road: Optional[bool] = None
    #: facts of a wider crop, for views that see beyond the tile (an oblique UAV
    #: image): what is absent from the tile may still be visible further away
    surroundings: Optional['SceneFacts'] = None

    # -- summaries used by the text and by the hard-negative distance
    @property
    def num_buildings(self) -> int:
        return len(self.buildings)

    def height_counts(self) -> Dict[str, int]:
        out = dict(low=0, mid=0, high=0)
        for b in self.buildings:
            out[height_class(b.height_m)] += 1
        return out

    def roof_counts(self) -> List[Tuple[int, int]]:
        """(roof index, count), most frequent first."""
        counts: Dict[int, int] = {}
        for b in self.buildings:
            counts[b.roof] = counts.get(b.roof, 0) + 1
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))

    def road_orientations(self) -> List[str]:
        return sorted({r.orientation for r in self.roads})

    def junction_counts(self) -> Dict[str, int]:
        out = {'crossroads': 0, 'T-junction': 0}
        for j in self.junctions:
            out[j.kind] += 1
        return out


def height_class(h: float) -> str:
    return 'low' if h < 10 else ('mid' if h < 25 else 'high')


# ----------------------------------------------------------------------------- rasters
def crop_rasters(layout, x: float, y: float, size_m: float) -> Dict[str, np.ndarray]:
    """Square crops (``size_m`` a side, centred on metric ``(x, y)``) of a layout's
    ``cls``, ``base_cls`` (the classes under the tree crowns), ``height``,
    ``albedo`` and ``wall`` rasters, padded with ground
    outside the region. Returns a dict with the crops and ``resolution_m``."""
    res = float(layout.resolution_m)
    n = max(8, int(round(size_m / res)))
    r_c, c_c = layout.to_rc(x, y)
    r0, c0 = int(round(float(r_c) - n / 2)), int(round(float(c_c) - n / 2))
    out = dict(resolution_m=res)
    for key in ('cls', 'base_cls', 'height', 'albedo', 'wall'):
        src = getattr(layout, key, None)
        if src is None:
            continue
        shape = (n, n) + src.shape[2:]
        dst = np.zeros(shape, src.dtype)
        rr0, cc0 = max(0, r0), max(0, c0)
        rr1, cc1 = min(src.shape[0], r0 + n), min(src.shape[1], c0 + n)
        if rr1 > rr0 and cc1 > cc0:
            dst[rr0 - r0 : rr1 - r0, cc0 - c0 : cc1 - c0] = src[rr0:rr1, cc0:cc1]
        out[key] = dst
    return out


def _thin(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a binary mask (8-connected one-pixel skeleton)."""
    img = mask.astype(np.uint8).copy()
    while True:
        changed = False
        for step in (0, 1):
            p = np.pad(img, 1)
            p2, p3, p4 = p[:-2, 1:-1], p[:-2, 2:], p[1:-1, 2:]
            p5, p6, p7 = p[2:, 2:], p[2:, 1:-1], p[2:, :-2]
            p8, p9 = p[1:-1, :-2], p[:-2, :-2]
            ring = [p2, p3, p4, p5, p6, p7, p8, p9, p2]
            b = sum(x.astype(np.int16) for x in ring[:8])
            a = sum(((ring[i] == 0) & (ring[i + 1] == 1)).astype(np.int16) for i in range(8))
            if step == 0:
                c = ((p2 * p4 * p6) == 0) & ((p4 * p6 * p8) == 0)
            else:
                c = ((p2 * p4 * p8) == 0) & ((p2 * p6 * p8) == 0)
            rm = (img == 1) & (b >= 2) & (b <= 6) & (a == 1) & c
            if rm.any():
                img[rm] = 0
                changed = True
        if not changed:
            return img.astype(bool)


def _neighbours(skel: np.ndarray) -> np.ndarray:
    k = np.ones((3, 3), np.float32)
    k[1, 1] = 0
    return cv2.filter2D(skel.astype(np.float32), -1, k, borderType=cv2.BORDER_CONSTANT)


def _prune(skel: np.ndarray, steps: int) -> np.ndarray:
    """Remove spurs: peel end points ``steps`` times (ends at the border shrink too)."""
    skel = skel.copy()
    for _ in range(steps):
        ends = skel & (_neighbours(skel) <= 1)
        if not ends.any():
            break
        skel[ends] = False
    return skel


def _orientation(dr: float, dc: float) -> str:
    """Compass orientation of a direction given in (row, col) pixel steps."""
    angle = math.degrees(math.atan2(dc, -dr)) % 180.0  # from north, clockwise
    if angle < 22.5 or angle >= 157.5:
        return 'N-S'
    if angle < 67.5:
        return 'NE-SW'
    if angle < 112.5:
        return 'E-W'
    return 'NW-SE'


def _ring_branches(skel: np.ndarray, r: float, c: float, radius: float) -> int:
    """Number of skeleton branches crossing a circle around (r, c)."""
    n = max(24, int(2 * math.pi * radius))
    ang = np.linspace(0, 2 * math.pi, n, endpoint=False)
    rr = np.round(r + radius * np.sin(ang)).astype(int)
    cc = np.round(c + radius * np.cos(ang)).astype(int)
    inside = (rr >= 0) & (rr < skel.shape[0]) & (cc >= 0) & (cc < skel.shape[1])
    on = np.zeros(n, bool)
    on[inside] = skel[rr[inside], cc[inside]]
    # also accept a hit one pixel inwards (diagonal skeleton steps can slip through)
    rr2 = np.round(r + (radius - 1) * np.sin(ang)).astype(int)
    cc2 = np.round(c + (radius - 1) * np.cos(ang)).astype(int)
    inside2 = (rr2 >= 0) & (rr2 < skel.shape[0]) & (cc2 >= 0) & (cc2 < skel.shape[1])
    on[inside2] |= skel[rr2[inside2], cc2[inside2]]
    if on.all() or not on.any():
        return 0
    starts = on & ~np.roll(on, 1)
    return int(starts.sum())


def _roads(cls: np.ndarray, res: float) -> Tuple[List[RoadFact], List[JunctionFact]]:
    n = cls.shape[0]
    road = np.isin(cls, (ROAD, MAJOR_ROAD))
    # street trees may hide a minor road under their crowns: close small gaps
    k = max(3, int(round(5 / res)) | 1)
    road = (
        cv2.morphologyEx(
            road.astype(np.uint8),
            cv2.MORPH_CLOSE,
            cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)),
        )
        > 0
    )
    if road.sum() * res * res < 200:
        return [], []
    dist = cv2.distanceTransform(road.astype(np.uint8), cv2.DIST_L2, 3)
    skel = _prune(_thin(road), max(2, int(round(10 / res))))
    if not skel.any():
        return [], []
    # junctions: clusters of skeleton pixels with 3+ neighbours, kept when 3+ branches
    # leave them
    cand = skel & (_neighbours(skel) >= 3)
    radius = max(6.0, 14.0 / res)
    junctions: List[JunctionFact] = []
    cut = skel.copy()
    if cand.any():
        grown = cv2.dilate(cand.astype(np.uint8), np.ones((5, 5), np.uint8))
        nlab, lab, _, cents = cv2.connectedComponentsWithStats(grown, connectivity=8)
        for j in range(1, nlab):
            c, r = cents[j]
            branches = _ring_branches(skel, r, c, radius)
            if branches >= 3:
                # a junction is only described when it lies inside the tile
                if 0.04 * n <= r <= 0.96 * n and 0.04 * n <= c <= 0.96 * n:
                    junctions.append(
                        JunctionFact(
                            'crossroads' if branches >= 4 else 'T-junction', region_of(r, c, n)
                        )
                    )
                cv2.circle(cut, (int(round(c)), int(round(r))), int(radius * 0.8), 0, -1)
            elif branches == 0:
                pass
    cut = cut.astype(bool) if cut.dtype != bool else cut
    nlab, lab = cv2.connectedComponents(cut.astype(np.uint8), connectivity=8)
    pieces = []
    for j in range(1, nlab):
        rows, cols = np.nonzero(lab == j)
        length = len(rows) * res
        if length < 25:
            continue
        pts = np.stack([rows, cols], 1).astype(np.float64)
        mean = pts.mean(0)
        cov = np.cov((pts - mean).T) if len(pts) > 2 else np.eye(2)
        w, v = np.linalg.eigh(cov)
        axis = v[:, -1]
        normal = np.array([-axis[1], axis[0]])
        dev = np.abs((pts - mean) @ normal)
        span = np.ptp((pts - mean) @ axis) * res
        curved = bool(dev.max() * res > max(6.0, 0.1 * span))
        major = bool(np.mean(cls[rows, cols] == MAJOR_ROAD) > 0.5)
        width = float(2 * np.median(dist[rows, cols]) * res)
        pieces.append(
            dict(
                orientation=_orientation(axis[0], axis[1]),
                major=major,
                curved=curved,
                mean=mean,
                axis=axis,
                normal=normal,
                length=length,
                width=width,
            )
        )
    # merge collinear pieces of one road (split by junctions)
    roads: List[dict] = []
    for p in sorted(pieces, key=lambda q: -q['length']):
        for road_ in roads:
            if road_['orientation'] != p['orientation'] or road_['major'] != p['major']:
                continue
            offset = abs((p['mean'] - road_['mean']) @ road_['normal']) * res
            if offset < 12:
                road_['length'] += p['length']
                road_['curved'] |= p['curved']
                road_['members'].append(p['mean'])
                break
        else:
            roads.append(dict(p, members=[p['mean']]))
    facts = []
    for road_ in roads:
        mean = np.mean(road_['members'], axis=0)
        facts.append(
            RoadFact(
                orientation=road_['orientation'],
                major=road_['major'],
                curved=road_['curved'],
                position=_cross_position(road_['orientation'], mean, n, road_['curved']),
                length_m=float(road_['length']),
                width_m=float(road_['width']),
            )
        )
    facts.sort(key=lambda f: (not f.major, -f.length_m))
    return facts, junctions


def _cross_position(orientation: str, mean: np.ndarray, n: int, curved: bool) -> str:
    r, c = region_of(mean[0], mean[1], n)
    if orientation == 'N-S' and not curved:
        return ('west', 'centre', 'east')[c]
    if orientation == 'E-W' and not curved:
        return ('north', 'centre', 'south')[r]
    return REGIONS[(r, c)][0]


def _roof_index(rgb: np.ndarray) -> int:
    # gabled roofs have a half at 0.84 brightness: compare with both shades
    cands = np.concatenate([_ROOF_RGB, _ROOF_RGB * 0.92])
    d = np.linalg.norm(cands - rgb[None], axis=1)
    return int(np.argmin(d) % len(_ROOF_RGB))


def _buildings(crop: Dict[str, np.ndarray], res: float) -> List[BuildingFact]:
    cls = crop['cls']
    n = cls.shape[0]
    mask = (cls == BUILDING).astype(np.uint8)
    nlab, lab, stats, cents = cv2.connectedComponentsWithStats(mask, connectivity=4)
    out = []
    height, albedo, wall = crop.get('height'), crop.get('albedo'), crop.get('wall')
    for j in range(1, nlab):
        area = stats[j, cv2.CC_STAT_AREA] * res * res
        if area < 40:  # slivers at the tile edge
            continue
        m = lab == j
        h = float(np.median(height[m].astype(np.float32))) if height is not None else 0.0
        roof = (
            _roof_index(np.median(albedo[m].astype(np.float32), axis=0))
            if (albedo is not None)
            else 0
        )
        w = -1
        if wall is not None:
            vals = wall[m]
            vals = vals[vals > 0]
            if len(vals):
                w = int(np.bincount(vals).argmax()) - 1
        c, r = cents[j]
        out.append(
            BuildingFact(
                height_m=h, roof=roof, area_m2=float(area), region=region_of(r, c, n), wall=w
            )
        )
    return out


def _water(cls: np.ndarray, res: float) -> List[WaterFact]:
    n = cls.shape[0]
    mask = (cls == WATER).astype(np.uint8)
    nlab, lab, stats, cents = cv2.connectedComponentsWithStats(mask, connectivity=8)
    out = []
    for j in range(1, nlab):
        share = stats[j, cv2.CC_STAT_AREA] / float(n * n)
        if share < 0.01:
            continue
        x, y, w, h = stats[j, :4]
        touches = [y == 0, y + h >= n, x == 0, x + w >= n]  # N, S, W, E edges
        c, r = cents[j]
        if (touches[0] and touches[1]) or (touches[2] and touches[3]):
            rows, cols = np.nonzero(lab == j)
            pts = np.stack([rows, cols], 1).astype(np.float64)
            _, v = np.linalg.eigh(np.cov((pts - pts.mean(0)).T))
            out.append(
                WaterFact('river', share, region_of(r, c, n), _orientation(v[0, -1], v[1, -1]))
            )
        elif sum(touches) >= 2 and share > 0.08:
            out.append(WaterFact('river', share, region_of(r, c, n), None))
        else:
            out.append(WaterFact('lake' if share >= 0.04 else 'pond', share, region_of(r, c, n)))
    return out


def _greens(cls: np.ndarray) -> List[GreenFact]:
    n = cls.shape[0]
    out = []
    sports = np.isin(cls, (PITCH, TRACK))
    if sports.mean() > 0.01:
        r, c = np.argwhere(sports).mean(0)
        out.append(GreenFact('sports ground', float(sports.mean()), region_of(r, c, n)))
    green = np.isin(cls, (PARK, TREE, PLAZA)).astype(np.uint8)
    # a park is a large green area; trees along streets are not
    green = cv2.morphologyEx(green, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    park_core = cls == PARK
    nlab, lab, stats, cents = cv2.connectedComponentsWithStats(green, connectivity=4)
    for j in range(1, nlab):
        share = stats[j, cv2.CC_STAT_AREA] / float(n * n)
        m = lab == j
        if share >= 0.05 and park_core[m].mean() > 0.25:
            c, r = cents[j]
            out.append(GreenFact('park', float(share), region_of(r, c, n)))
    out.sort(key=lambda g: -g.share)
    return out


def tile_facts(crop: Dict[str, np.ndarray], camera_centred: bool = False) -> SceneFacts:
    """Facts of a square crop (see :func:`crop_rasters`).

    Roads and buildings are read from ``base_cls`` when the crop has it (tree
    crowns do not cut them), tree cover from ``cls``. ``camera_centred``: the
    crop is centred on a street-level camera; records whether it stands on a
    main road.
    """
    cls = crop['cls']
    if cls.ndim != 2 or cls.shape[0] != cls.shape[1]:
        raise ValueError(f'tile_facts expects a square class raster, got {cls.shape}')
    res = float(crop.get('resolution_m', 1.0))
    base = crop.get('base_cls')
    base = cls if base is None else base
    roads, junctions = _roads(base, res)
    camera_on_main = None
    if camera_centred:
        n = cls.shape[0]
        k = max(1, int(round(6 / res)))
        around = base[n // 2 - k : n // 2 + k + 1, n // 2 - k : n // 2 + k + 1]
        camera_on_main = bool((around == MAJOR_ROAD).any())
    counts = np.bincount(cls.ravel(), minlength=13)[:13] / cls.size
    shares = dict(
        road=float(counts[ROAD] + counts[MAJOR_ROAD]),
        water=float(counts[WATER]),
        green=float(counts[PARK] + counts[TREE] + counts[PITCH] + counts[TRACK]),
        trees=float(counts[TREE]),
        building=float(counts[BUILDING]),
        parking=float(counts[PARKING]),
        bare=float(counts[BARE]),
        plaza=float(counts[PLAZA]),
    )
    return SceneFacts(
        size_m=cls.shape[0] * res,
        roads=roads,
        junctions=junctions,
        buildings=_buildings(dict(crop, cls=base), res),
        greens=_greens(cls),
        water=_water(base, res),
        shares=shares,
        camera_on_main_road=camera_on_main,
    )


def layout_statistics(facts: SceneFacts) -> np.ndarray:
    """A small vector of layout statistics; tiles close in it look alike (hard negatives)."""
    orient = facts.road_orientations()
    heights = facts.height_counts()
    s = facts.shares
    return np.array(
        [
            s['road'] * 4,
            s['water'] * 4,
            s['green'] * 4,
            s['building'] * 4,
            math.log1p(facts.num_buildings) / 2,
            math.log1p(heights['mid']) / 2,
            math.log1p(heights['high']) / 2,
            len(facts.junctions) / 3,
            float('N-S' in orient),
            float('E-W' in orient),
            float('NE-SW' in orient or 'NW-SE' in orient),
            float(any(r.curved for r in facts.roads)),
            float(any(r.major for r in facts.roads)),
        ],
        np.float32,
    )
