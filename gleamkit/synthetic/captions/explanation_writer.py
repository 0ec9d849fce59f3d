"""Reference explanations written from scene facts, in English and Chinese.

A paragraph in the GLEAM paper's style: image 1 (the query view), image 2 (the
satellite tile), then road layout, buildings, green space and water compared,
then the verdict - "... confirming they depict the same area." / "... indicate
that the two images do not correspond." (and the Chinese equivalents). Every
sentence comes from :class:`~gleamkit.synthetic.captions.scene_facts.SceneFacts`
of the two tiles, so it is true of the rendered images; what a view cannot show
is not claimed (a street map has no roof colours, a street-level panorama shows
facades and the street, not the block layout).

Phrasing varies with a seeded ``random.Random`` (same seed, same text).
"""
import random
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

from .scene_facts import REGIONS, ROOF_COLOURS, WALL_COLOURS, RoadFact, SceneFacts

__all__ = ['ExplanationWriter', 'VIEW_CAPS', 'differences']

#: what each query view shows: compass (north-up layout), roofs (colours seen from
#: above), heights (building heights visible), footprints (a map's outlines),
#: street (a street-level view), wide (sees beyond the tile, as an oblique UAV image:
#: counts are approximate and nothing is claimed absent that lies further away)
VIEW_CAPS: Dict[str, Dict[str, bool]] = {
    'satellite': dict(compass=True, roofs=True, heights=False, footprints=False, street=False,
                      wide=False),
    'uav': dict(compass=False, roofs=True, heights=True, footprints=False, street=False,
                wide=True),
    'map': dict(compass=True, roofs=False, heights=False, footprints=True, street=False,
                wide=False),
    'panorama': dict(compass=False, roofs=False, heights=True, footprints=False, street=True,
                     wide=False),
    'ground': dict(compass=False, roofs=False, heights=True, footprints=False, street=True,
                   wide=False),
}
_DEFAULT_CAPS = VIEW_CAPS['uav']

_ORIENT = {
    'en': {'N-S': 'north-south', 'E-W': 'east-west', 'NE-SW': 'north-east to south-west',
           'NW-SE': 'north-west to south-east'},
    'zh': {'N-S': '南北向', 'E-W': '东西向', 'NE-SW': '东北-西南向', 'NW-SE': '西北-东南向'},
}
_EN_NUM = ['no', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten',
           'eleven', 'twelve']
_ZH_NUM = ['零', '一', '两', '三', '四', '五', '六', '七', '八', '九', '十']
_HEIGHT_EN = dict(low='low-rise', mid='mid-rise', high='high-rise')
_HEIGHT_ZH = dict(low='低层', mid='多层', high='高层')


def _en_num(n: int) -> str:
    return _EN_NUM[n] if 0 <= n < len(_EN_NUM) else str(n)


def _zh_num(n: int) -> str:
    return _ZH_NUM[n] if 0 <= n < len(_ZH_NUM) else str(n)


def _en_join(items: Sequence[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return ''.join(items)
    return ', '.join(items[:-1]) + ' and ' + items[-1]


def _zh_join(items: Sequence[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return ''.join(items)
    return '、'.join(items[:-1]) + '和' + items[-1]


def _region(region: Tuple[int, int], lang: str) -> str:
    return REGIONS[region][0 if lang == 'en' else 1]


def _plural(n: int, word: str, plural: Optional[str] = None) -> str:
    return f'{_en_num(n)} {word if n == 1 else (plural or word + "s")}'


# ----------------------------------------------------------------------------- facts -> phrases
def _road_groups(roads: Sequence[RoadFact]) -> List[Tuple[Tuple[str, bool, bool], List[RoadFact]]]:
    groups: Dict[Tuple[str, bool, bool], List[RoadFact]] = {}
    for r in roads:
        groups.setdefault((r.orientation, r.major, r.curved), []).append(r)
    return sorted(groups.items(), key=lambda kv: (not kv[0][1], -sum(r.length_m for r in kv[1])))


def _en_position(orientation: str, position: str) -> str:
    if position == 'centre':
        return 'through the centre'
    if orientation == 'N-S' and position in ('west', 'east'):
        return f'along the {position} side'
    if orientation == 'E-W' and position in ('north', 'south'):
        return f'across the {position}'
    return f'in the {position}'


_ZH_POSITION = {'west': '西侧', 'east': '东侧', 'north': '北侧', 'south': '南侧', 'centre': '中部'}


def _zh_position(position: str) -> str:
    if position in _ZH_POSITION:
        return _ZH_POSITION[position]
    for (en, zh) in REGIONS.values():
        if en == position:
            return zh
    return position


def _roads_en(facts: SceneFacts, compass: bool) -> str:
    if not facts.roads:
        return 'no road is visible'
    if not compass:
        text = _road_summary_en(facts.roads)
    else:
        parts = []
        for (orient, major, curved), rs in _road_groups(facts.roads)[:3]:
            kind = ('main road' if major else 'side street')
            kind = ('curved ' + kind) if curved else (('wide ' + kind) if major else kind)
            o = _ORIENT['en'][orient]
            if len(rs) == 1:
                parts.append(f'a {kind} running {o} {_en_position(orient, rs[0].position)}')
            else:
                where = _en_join(sorted({r.position for r in rs}))
                adj = '' if curved else 'parallel '
                parts.append(f'{_en_num(len(rs))} {adj}{o} {kind}s ({where})')
        text = _en_join(parts)
    junc = facts.junction_counts()
    jparts = []
    if junc['crossroads']:
        jparts.append(_plural(junc['crossroads'], 'crossroads', 'crossroads'))
    if junc['T-junction']:
        jparts.append(_plural(junc['T-junction'], 'T-junction'))
    if jparts:
        where = ''
        if compass and len(facts.junctions) <= 2:
            where = ' in the ' + _en_join(sorted({_region(j.region, 'en')
                                                  for j in facts.junctions}))
        text += f', meeting at {_en_join(jparts)}{where}'
    return text


def _roads_zh(facts: SceneFacts, compass: bool) -> str:
    if not facts.roads:
        return '看不到道路'
    if not compass:
        return _road_summary_zh(facts.roads) + _junctions_zh(facts, False)
    parts = []
    for (orient, major, curved), rs in _road_groups(facts.roads)[:3]:
        kind = '主干道' if major else '支路'
        kind = ('弯曲的' + kind) if curved else (('宽阔的' + kind) if major else kind)
        o = _ORIENT['zh'][orient]
        if len(rs) == 1:
            parts.append(f'一条{o}的{kind}从{_zh_position(rs[0].position)}穿过'
                         if rs[0].position == 'centre' else
                         f'{_zh_position(rs[0].position)}有一条{o}的{kind}')
        else:
            where = _zh_join([_zh_position(p) for p in sorted({r.position for r in rs})])
            adj = '' if curved else '平行的'
            parts.append(f'{_zh_num(len(rs))}条{adj}{o}{kind}（位于{where}）')
    return '，'.join(parts) + _junctions_zh(facts, True)


def _junctions_zh(facts: SceneFacts, compass: bool) -> str:
    junc = facts.junction_counts()
    jparts = []
    if junc['crossroads']:
        jparts.append(f'{_zh_num(junc["crossroads"])}个十字路口')
    if junc['T-junction']:
        jparts.append(f'{_zh_num(junc["T-junction"])}个丁字路口')
    if not jparts:
        return ''
    where = ''
    if compass and len(facts.junctions) <= 2:
        where = '在' + _zh_join(sorted({_region(j.region, 'zh') for j in facts.junctions}))
    return f'，道路{where}形成{_zh_join(jparts)}'


def _road_summary_en(roads: Sequence[RoadFact]) -> str:
    """Roads without compass directions (a rotated or street-level view)."""
    major = [r for r in roads if r.major]
    minor = [r for r in roads if not r.major]
    parts = []
    for group, noun in ((major, 'wide main road'), (minor, 'side street')):
        if not group:
            continue
        text = _plural(len(group), noun) if len(group) > 1 else f'a {noun}'
        curved = sum(r.curved for r in group)
        if curved and len(group) > 1:
            text += f' ({_en_num(curved)} of them curved)' if curved < len(group) else (
                ', all curved')
        elif curved:
            text = text.replace(noun, 'curved ' + noun.replace('wide ', ''))
        parts.append(text)
    text = _en_join(parts)
    straight = [r for r in roads if not r.curved]
    if len({r.orientation for r in straight}) < len(straight):
        text += ', some of them parallel'
    return text


def _road_summary_zh(roads: Sequence[RoadFact]) -> str:
    major = [r for r in roads if r.major]
    minor = [r for r in roads if not r.major]
    parts = []
    for group, noun in ((major, '宽阔的主干道'), (minor, '支路')):
        if not group:
            continue
        text = f'{_zh_num(len(group))}条{noun}'
        curved = sum(r.curved for r in group)
        if curved and len(group) == 1:
            text = f'一条弯曲的{noun}'
        elif curved:
            text += (f'（其中{_zh_num(curved)}条是弯曲的）' if curved < len(group)
                     else '（均为弯曲的）')
        parts.append(text)
    return '和'.join(parts)


def _on_main_road(facts: SceneFacts) -> bool:
    if facts.camera_on_main_road is not None:
        return facts.camera_on_main_road
    return bool(facts.roads and facts.roads[0].major)


def _dominant_height(facts: SceneFacts) -> Optional[str]:
    counts = facts.height_counts()
    if not facts.buildings:
        return None
    return max(counts, key=lambda k: (counts[k], k == 'mid'))


def _cluster(facts: SceneFacts) -> Optional[Tuple[int, int]]:
    if facts.num_buildings < 3:
        return None
    region, count = Counter(b.region for b in facts.buildings).most_common(1)[0]
    return region if count >= 0.5 * facts.num_buildings and region != (1, 1) else None


def _approx_en(n: int) -> str:
    return 'a few' if n < 5 else ('a dozen or so' if n < 16 else 'many')


def _approx_zh(n: int) -> str:
    return '几' if n < 5 else ('十几' if n < 16 else '许多')


def _sees(facts: SceneFacts, what: str) -> bool:
    """Whether a wide view may show ``what`` ('water', 'park', 'main_road',
    'curved_road') beyond its tile."""
    wide = facts.surroundings
    if wide is None:
        return False
    if what == 'water':
        return bool(wide.water)
    if what == 'park':
        return any(g.kind == 'park' for g in wide.greens)
    if what == 'main_road':
        return any(r.major for r in wide.roads)
    return any(r.curved for r in wide.roads)


def _roof_names(facts: SceneFacts, lang: str, k: int = 2) -> List[str]:
    idx = 1 if lang == 'en' else 2
    return [ROOF_COLOURS[i][idx] for i, _ in facts.roof_counts()[:k]]


def _wall_names(facts: SceneFacts, lang: str, k: int = 2) -> List[str]:
    idx = 1 if lang == 'en' else 2
    counts = Counter(b.wall for b in facts.buildings if b.wall >= 0)
    return [WALL_COLOURS[i][idx] for i, _ in counts.most_common(k)]


def _buildings_en(facts: SceneFacts, caps: Dict[str, bool]) -> str:
    n = facts.num_buildings
    if n == 0:
        return 'no buildings'
    dom = _dominant_height(facts)
    counts = facts.height_counts()
    noun = 'building footprints' if caps['footprints'] else 'buildings'
    if caps['footprints'] and n == 1:
        noun = 'building footprint'
    elif n == 1:
        noun = 'building'
    text = f'{_en_num(n)} {noun}'
    if caps.get('wide'):
        text = _approx_en(n) + ' ' + noun
    if caps['heights'] or caps['roofs']:
        if n > 1:
            text += f', mostly {_HEIGHT_EN[dom]}'
        else:
            text = f'a single {_HEIGHT_EN[dom]} building'
        if counts['high'] and dom != 'high':
            tallest = int(round(max(b.height_m for b in facts.buildings) / 5.0) * 5)
            text += (f', including a tower of about {tallest} m' if counts['high'] == 1 else
                     f', including {_en_num(counts["high"])} towers of up to about {tallest} m')
    if caps['roofs']:
        roofs = _roof_names(facts, 'en')
        text += f' with {_en_join(roofs)} roofs'
    cluster = _cluster(facts)
    if cluster is not None and caps['compass']:
        text += f', clustered in the {_region(cluster, "en")}'
    return text


def _buildings_zh(facts: SceneFacts, caps: Dict[str, bool]) -> str:
    n = facts.num_buildings
    if n == 0:
        return '没有建筑'
    dom = _dominant_height(facts)
    counts = facts.height_counts()
    noun = '栋建筑的轮廓' if caps['footprints'] else '栋建筑'
    count = _approx_zh(n) if caps.get('wide') else _zh_num(n)
    text = f'{count}{noun}'
    if caps['heights'] or caps['roofs']:
        text = (f'{count}栋以{_HEIGHT_ZH[dom]}为主的建筑' if n > 1
                else f'一栋{_HEIGHT_ZH[dom]}建筑')
        if counts['high'] and dom != 'high':
            tallest = max(b.height_m for b in facts.buildings)
            metres = int(round(tallest / 5.0) * 5)
            text += (f'，其中有一栋约{metres}米高的高楼' if counts['high'] == 1 else
                     f'，其中有{_zh_num(counts["high"])}栋高楼，最高约{metres}米')
    if caps['roofs']:
        text += f'，屋顶多为{_zh_join(_roof_names(facts, "zh"))}'
    cluster = _cluster(facts)
    if cluster is not None and caps['compass']:
        text += f'，集中在{_region(cluster, "zh")}'
    return text


def _parks(facts: SceneFacts):
    parks = [g for g in facts.greens if g.kind == 'park']
    sports = [g for g in facts.greens if g.kind == 'sports ground']
    return parks, sports


def _green_en(facts: SceneFacts, compass: bool) -> str:
    parks, sports = _parks(facts)
    parts = []
    if len(parks) == 1:
        size = 'a large park' if parks[0].share >= 0.25 else 'a park'
        parts.append(size + (f' in the {_region(parks[0].region, "en")}' if compass else ''))
    elif parks:
        where = (' (in the ' + _en_join([_region(g.region, 'en') for g in parks[:3]]) + ')'
                 if compass else '')
        parts.append(f'{_en_num(len(parks))} parks{where}')
    if sports:
        where = f' in the {_region(sports[0].region, "en")}' if compass else ''
        parts.append(f'a sports ground with a running track{where}')
    if not parts:
        trees = facts.shares.get('trees', 0.0)
        parts.append('trees along the streets' if trees > 0.04 else 'little green space')
    return _en_join(parts)


def _green_zh(facts: SceneFacts, compass: bool) -> str:
    parks, sports = _parks(facts)
    parts = []
    if len(parks) == 1:
        size = '一片大型公园' if parks[0].share >= 0.25 else '一处公园'
        parts.append((f'{_region(parks[0].region, "zh")}有' if compass else '有') + size)
    elif parks:
        where = ('，分别位于' + _zh_join([_region(g.region, 'zh') for g in parks[:3]])
                 if compass else '')
        parts.append(f'有{_zh_num(len(parks))}处公园{where}')
    if sports:
        where = f'{_region(sports[0].region, "zh")}有' if compass else '有'
        parts.append(f'{where}一个带跑道的运动场')
    if not parts:
        trees = facts.shares.get('trees', 0.0)
        parts.append('街道两旁种有树木' if trees > 0.04 else '绿地很少')
    return '，'.join(parts)


def _water_en(facts: SceneFacts, compass: bool) -> str:
    if not facts.water:
        return 'water further away' if _sees(facts, 'water') else 'no water'
    parts = []
    for w in facts.water[:2]:
        where = f' in the {_region(w.region, "en")}' if compass else ''
        if w.kind == 'river':
            flow = (f' flowing {_ORIENT["en"][w.orientation]}'
                    if compass and w.orientation else '')
            parts.append(f'a river{flow}{where if not flow else ""}')
        elif w.kind == 'lake':
            parts.append(f'a lake{where}')
        else:
            parts.append(f'a small pond{where}')
    return _en_join(parts)


def _water_zh(facts: SceneFacts, compass: bool) -> str:
    if not facts.water:
        return '远处可见水面' if _sees(facts, 'water') else '没有水体'
    parts = []
    for w in facts.water[:2]:
        where = _region(w.region, 'zh') if compass else ''
        if w.kind == 'river':
            if compass and w.orientation:
                parts.append(f'一条{_ORIENT["zh"][w.orientation]}的河流')
            else:
                parts.append(f'{where}有一条河流')
        elif w.kind == 'lake':
            parts.append(f'{where}有一片湖泊')
        else:
            parts.append(f'{where}有一个小池塘')
    return '，'.join(parts)


def _character_en(facts: SceneFacts) -> str:
    s = facts.shares
    dom = _dominant_height(facts)
    if s.get('water', 0) > 0.1 and s.get('green', 0) > 0.3:
        base = 'a park by the water'
    elif s.get('water', 0) > 0.2:
        base = 'a waterside area'
    elif s.get('green', 0) > 0.35 and facts.num_buildings < 6:
        base = 'a green, open area'
    elif dom == 'high' and facts.num_buildings >= 5:
        base = 'a dense district of tall buildings'
    elif dom == 'low' and facts.num_buildings >= 5:
        base = 'a low-rise residential neighbourhood'
    elif facts.num_buildings >= 5:
        base = 'a built-up urban block'
    else:
        base = 'a sparsely built area'
    return base


def _character_zh(facts: SceneFacts) -> str:
    s = facts.shares
    dom = _dominant_height(facts)
    if s.get('water', 0) > 0.1 and s.get('green', 0) > 0.3:
        return '一片临水的公园绿地'
    if s.get('water', 0) > 0.2:
        return '一片临水区域'
    if s.get('green', 0) > 0.35 and facts.num_buildings < 6:
        return '一片开阔的绿地区域'
    if dom == 'high' and facts.num_buildings >= 5:
        return '一片高楼密集的街区'
    if dom == 'low' and facts.num_buildings >= 5:
        return '一片低层住宅区'
    if facts.num_buildings >= 5:
        return '一片建成的城市街区'
    return '一片建筑稀疏的区域'


# ----------------------------------------------------------------------------- differences
def differences(query: SceneFacts, satellite: SceneFacts, view: str) -> List[str]:
    """Keys of the visible differences between two tiles, most telling first:
    ``'water'``, ``'park'``, ``'sports'``, ``'building_count'``, ``'height'``,
    ``'roofs'``, ``'road_orientation'``, ``'junctions'``, ``'main_road'``,
    ``'curved_road'``."""
    caps = VIEW_CAPS.get(view, _DEFAULT_CAPS)
    out = []
    qw, sw = {w.kind for w in query.water}, {w.kind for w in satellite.water}
    if (bool(qw) != bool(sw) or ({'river'} & qw) != ({'river'} & sw)) and not (
            not qw and _sees(query, 'water')):
        out.append('water')
    qp = any(g.kind == 'park' for g in query.greens)
    sp = any(g.kind == 'park' for g in satellite.greens)
    if qp != sp and not (not qp and _sees(query, 'park')):
        out.append('park')
    if any(g.kind == 'sports ground' for g in query.greens) != any(
            g.kind == 'sports ground' for g in satellite.greens):
        out.append('sports')
    nq, ns = query.num_buildings, satellite.num_buildings
    if caps.get('wide'):
        if max(nq, ns) >= 8 and max(nq, ns) >= 2.5 * max(1, min(nq, ns)):
            out.append('building_count')
    elif not caps['street'] and abs(nq - ns) >= max(4, 0.4 * max(nq, ns)):
        out.append('building_count')
    if (caps['heights'] or caps['street']) and nq and ns and (
            _dominant_height(query) != _dominant_height(satellite)):
        out.append('height')
    if caps['roofs'] and nq >= 2 and ns >= 2:
        rq = {i for i, _ in query.roof_counts()[:2]}
        rs = {i for i, _ in satellite.roof_counts()[:2]}
        if not rq & rs:
            out.append('roofs')
    if not caps['street'] and not caps.get('wide'):
        oq, os_ = set(query.road_orientations()), set(satellite.road_orientations())
        if caps['compass'] and oq != os_ and (oq or os_):
            out.append('road_orientation')
        jq, js = len(query.junctions), len(satellite.junctions)
        if abs(jq - js) >= 2 or (min(jq, js) == 0 and max(jq, js) >= 1):
            out.append('junctions')
    q_main = (query.camera_on_main_road if caps['street'] and query.camera_on_main_road
              is not None else any(r.major for r in query.roads))
    if q_main != any(r.major for r in satellite.roads) and not (
            not q_main and _sees(query, 'main_road')):
        out.append('main_road')
    q_curved = any(r.curved for r in query.roads)
    if not caps['street'] and q_curved != any(r.curved for r in satellite.roads) and not (
            not q_curved and _sees(query, 'curved_road')):
        out.append('curved_road')
    return out


# ----------------------------------------------------------------------------- the writer
class ExplanationWriter:
    """Writes the paragraph for a (query facts, satellite facts) pair.

    Args:
        seed: seeds the phrasing choices (deterministic output).
    """

    _VIEW_EN = {
        'uav': ['a drone (UAV) image', 'an oblique UAV image', 'a drone photograph'],
        'map': ['a street map', 'a street-map tile'],
        'panorama': ['a street-level panorama', 'a 360-degree street-level panorama'],
        'ground': ['a ground-level photo', 'a street-level photo'],
    }
    _VIEW_ZH = {'uav': ['一张无人机图像', '一张倾斜拍摄的无人机图像'], 'map': ['一张街道地图'],
                'panorama': ['一张街景全景图', '一张街道层面的全景图'],
                'ground': ['一张地面照片', '一张在街道上拍摄的照片']}

    def __init__(self, seed: int = 0):
        self.rng = random.Random(seed)

    def pick(self, options: Sequence[str]) -> str:
        return options[self.rng.randrange(len(options))]

    # -- image descriptions
    def describe_query(self, facts: SceneFacts, view: str, lang: str) -> str:
        caps = VIEW_CAPS.get(view, _DEFAULT_CAPS)
        if lang == 'en':
            what = self.pick(self._VIEW_EN.get(view, [f'a {view} image']))
            if caps['street']:
                return self._street_en(facts, what)
            centre = ' (around the centre of the view)' if caps.get('wide') else ''
            return (f'Image 1 is {what} of {_character_en(facts)}{centre}: '
                    f'{_roads_en(facts, caps["compass"])}; '
                    f'{_buildings_en(facts, caps)}; {_green_en(facts, caps["compass"])}; '
                    f'{_water_en(facts, caps["compass"])}.')
        what = self.pick(self._VIEW_ZH.get(view, [f'一张{view}图像']))
        if caps['street']:
            return self._street_zh(facts, what)
        centre = '（画面中部）' if caps.get('wide') else ''
        return (f'图像1是{what}，显示{_character_zh(facts)}{centre}：'
                f'{_roads_zh(facts, caps["compass"])}；'
                f'{_buildings_zh(facts, caps)}；{_green_zh(facts, caps["compass"])}；'
                f'{_water_zh(facts, caps["compass"])}。')

    def _street_en(self, facts: SceneFacts, what: str) -> str:
        street = 'a wide main road' if _on_main_road(facts) else 'a side street'
        dom = _dominant_height(facts)
        walls = _wall_names(facts, 'en')
        if facts.num_buildings:
            bld = f'{_HEIGHT_EN[dom]} buildings'
            if walls:
                bld += f' with {_en_join(walls)} facades'
        else:
            bld = 'no buildings close by'
        extra = []
        if facts.water:
            extra.append('water visible nearby')
        if any(g.kind == 'park' for g in facts.greens):
            extra.append('the trees of a park')
        elif facts.shares.get('trees', 0) > 0.04:
            extra.append('street trees')
        tail = f', with {_en_join(extra)}' if extra else ''
        return f'Image 1 is {what} taken on {street}, lined by {bld}{tail}.'

    def _street_zh(self, facts: SceneFacts, what: str) -> str:
        street = '一条宽阔的主干道' if _on_main_road(facts) else '一条支路'
        dom = _dominant_height(facts)
        walls = _wall_names(facts, 'zh')
        if facts.num_buildings:
            bld = f'两旁是{_HEIGHT_ZH[dom]}建筑'
            if walls:
                bld += f'，外墙多为{_zh_join(walls)}'
        else:
            bld = '附近没有建筑'
        extra = []
        if facts.water:
            extra.append('附近可以看到水面')
        if any(g.kind == 'park' for g in facts.greens):
            extra.append('可以看到公园的树木')
        elif facts.shares.get('trees', 0) > 0.04:
            extra.append('街道旁种有行道树')
        tail = ('，' + '，'.join(extra)) if extra else ''
        return f'图像1是{what}，拍摄于{street}上，{bld}{tail}。'

    def describe_satellite(self, facts: SceneFacts, lang: str) -> str:
        caps = VIEW_CAPS['satellite']
        if lang == 'en':
            return (f'Image 2 is a satellite image of {_character_en(facts)}: '
                    f'{_roads_en(facts, True)}; {_buildings_en(facts, caps)}; '
                    f'{_green_en(facts, True)}; {_water_en(facts, True)}.')
        return (f'图像2是一张卫星图像，显示{_character_zh(facts)}：{_roads_zh(facts, True)}；'
                f'{_buildings_zh(facts, caps)}；{_green_zh(facts, True)}；'
                f'{_water_zh(facts, True)}。')

    # -- comparisons
    def _agree_en(self, query: SceneFacts, facts: SceneFacts, view: str) -> List[str]:
        caps = VIEW_CAPS.get(view, _DEFAULT_CAPS)
        out = []
        if caps['street']:
            if query.roads:
                road = 'main road' if _on_main_road(query) else 'street'
                out.append(f'the {road} at the camera position matches a road close to the '
                           'centre of the satellite tile')
            if query.num_buildings and facts.num_buildings:
                out.append(f'the {_HEIGHT_EN[_dominant_height(query)]} buildings seen at street '
                           'level fit the buildings next to it')
        else:
            if facts.roads:
                n = len(facts.roads)
                j = len(facts.junctions)
                road_text = f'both show {_plural(n, "road")}'
                if j:
                    road_text += f' with {_plural(j, "junction")}'
                if any(r.curved for r in facts.roads):
                    road_text += ', including the same curved road'
                out.append(f'the road layout agrees: {road_text}')
            if facts.num_buildings:
                text = (f'the {_plural(facts.num_buildings, "building")} appear in the same places'
                        if not caps.get('wide') else
                        'the buildings around the centre of image 1 match those of image 2')
                if caps['roofs']:
                    text += f' with the same {_en_join(_roof_names(facts, "en"))} roofs'
                out.append(text)
        parks, sports = _parks(facts)
        q_parks, q_sports = _parks(query)
        if parks and q_parks:
            out.append('the park is present in both' if len(parks) == 1 or caps['street'] else
                       f'the {_en_num(len(parks))} parks are present in both')
        if sports and q_sports:
            out.append('both show the sports ground with its running track')
        if facts.water and query.water:
            out.append(f'the {facts.water[0].kind} appears in both images')
        elif not caps['street'] and not facts.water and not _sees(query, 'water'):
            out.append('neither image shows water')
        return out

    def _agree_zh(self, query: SceneFacts, facts: SceneFacts, view: str) -> List[str]:
        caps = VIEW_CAPS.get(view, _DEFAULT_CAPS)
        out = []
        if caps['street']:
            if query.roads:
                out.append('拍摄位置所在的道路与卫星图像中部附近的道路相对应')
            if query.num_buildings and facts.num_buildings:
                height = _HEIGHT_ZH[_dominant_height(query)]
                out.append(f'街道上看到的{height}建筑与道路旁的建筑相符')
        else:
            if facts.roads:
                text = f'道路布局一致，两者都有{_zh_num(len(facts.roads))}条道路'
                if facts.junctions:
                    text += f'和{_zh_num(len(facts.junctions))}个路口'
                out.append(text)
            if facts.num_buildings:
                text = (f'{_zh_num(facts.num_buildings)}栋建筑的位置相同' if not caps.get('wide')
                        else '图像1中部的建筑与图像2中的建筑相对应')
                if caps['roofs']:
                    text += f'，屋顶颜色同为{_zh_join(_roof_names(facts, "zh"))}'
                out.append(text)
        parks, sports = _parks(facts)
        q_parks, q_sports = _parks(query)
        if parks and q_parks:
            out.append('两张图像中都有公园')
        if sports and q_sports:
            out.append('两张图像中都有运动场')
        if facts.water and query.water:
            kind = {'river': '河流', 'lake': '湖泊', 'pond': '池塘'}[facts.water[0].kind]
            out.append(f'两张图像中都有{kind}')
        elif not caps['street'] and not facts.water and not _sees(query, 'water'):
            out.append('两张图像中都没有水体')
        return out

    def _diff_en(self, q: SceneFacts, s: SceneFacts, key: str) -> str:
        def has_water(f):
            return _water_en(f, False) if f.water else 'no water'

        if key == 'water':
            return f'image 1 shows {has_water(q)} while image 2 shows {has_water(s)}'
        if key == 'park':
            return ('image 1 contains a park that has no counterpart in image 2'
                    if any(g.kind == 'park' for g in q.greens) else
                    'the park in image 2 is missing from image 1')
        if key == 'sports':
            only = 1 if any(g.kind == 'sports ground' for g in q.greens) else 2
            return f'only image {only} has a sports ground'
        if key == 'building_count':
            if q.surroundings is not None:
                dense = 1 if q.num_buildings > s.num_buildings else 2
                return (f'image {dense} is far more densely built than image {3 - dense} '
                        f'({_approx_en(q.num_buildings)} buildings around the centre of image '
                        f'1, {_en_num(s.num_buildings)} in image 2)')
            return (f'image 1 has {_plural(q.num_buildings, "building")} but image 2 has '
                    f'{_en_num(s.num_buildings)}')
        if key == 'height':
            return (f'the buildings in image 1 are mostly {_HEIGHT_EN[_dominant_height(q)]}, '
                    f'those in image 2 mostly {_HEIGHT_EN[_dominant_height(s)]}')
        if key == 'roofs':
            return (f'the roofs in image 1 are mainly {_en_join(_roof_names(q, "en"))}, in image '
                    f'2 mainly {_en_join(_roof_names(s, "en"))}')
        if key == 'road_orientation':
            oq = _en_join([_ORIENT['en'][o] for o in q.road_orientations()]) or 'no'
            os_ = _en_join([_ORIENT['en'][o] for o in s.road_orientations()]) or 'no'
            return f'the roads of image 1 run {oq}, those of image 2 {os_}'
        if key == 'junctions':
            nq, ns = len(q.junctions), len(s.junctions)
            return (f'image 1 has {_plural(nq, "junction")} while image 2 has '
                    f'{_en_num(ns) if ns else "none"}')
        if key == 'main_road':
            if q.camera_on_main_road is not None:
                return ('image 1 is taken on a wide main road, but image 2 shows none'
                        if q.camera_on_main_road else
                        'image 2 has a wide main road that image 1 does not show')
            return ('a wide main road crosses image 1 but not image 2'
                    if any(r.major for r in q.roads) else
                    'image 2 has a wide main road that image 1 lacks')
        return ('a curved road appears only in image 1' if any(r.curved for r in q.roads) else
                'a curved road appears only in image 2')

    def _diff_zh(self, q: SceneFacts, s: SceneFacts, key: str) -> str:
        def has_water(f):
            return ('有' + {'river': '河流', 'lake': '湖泊', 'pond': '池塘'}[f.water[0].kind]
                    if f.water else '没有水体')

        if key == 'water':
            return f'图像1中{has_water(q)}，而图像2中{has_water(s)}'
        if key == 'park':
            return ('图像1中有公园，图像2中却没有' if any(g.kind == 'park' for g in q.greens)
                    else '图像2中有公园，图像1中却没有')
        if key == 'sports':
            return ('只有图像1中有运动场' if any(g.kind == 'sports ground' for g in q.greens)
                    else '只有图像2中有运动场')
        if key == 'building_count':
            if q.surroundings is not None:
                dense = 1 if q.num_buildings > s.num_buildings else 2
                return (f'图像{dense}的建筑远比图像{3 - dense}密集（图像1中部约有'
                        f'{_approx_zh(q.num_buildings)}栋建筑，图像2中有{_zh_num(s.num_buildings)}栋）')
            return (f'图像1中有{_zh_num(q.num_buildings)}栋建筑，'
                    f'图像2中却有{_zh_num(s.num_buildings)}栋')
        if key == 'height':
            return (f'图像1中的建筑以{_HEIGHT_ZH[_dominant_height(q)]}为主，'
                    f'图像2中则以{_HEIGHT_ZH[_dominant_height(s)]}为主')
        if key == 'roofs':
            return (f'图像1的屋顶多为{_zh_join(_roof_names(q, "zh"))}，'
                    f'图像2的屋顶多为{_zh_join(_roof_names(s, "zh"))}')
        if key == 'road_orientation':
            oq = _zh_join([_ORIENT['zh'][o] for o in q.road_orientations()]) or '无'
            os_ = _zh_join([_ORIENT['zh'][o] for o in s.road_orientations()]) or '无'
            return f'图像1的道路为{oq}，图像2的道路为{os_}'
        if key == 'junctions':
            def count(f):
                return f'有{_zh_num(len(f.junctions))}个路口' if f.junctions else '没有路口'
            return f'图像1{count(q)}，图像2{count(s)}'
        if key == 'main_road':
            return ('图像1中有一条宽阔的主干道，图像2中没有' if any(r.major for r in q.roads)
                    else '图像2中有一条宽阔的主干道，图像1中没有')
        return ('只有图像1中有弯曲的道路' if any(r.curved for r in q.roads)
                else '只有图像2中有弯曲的道路')

    # -- the paragraph
    def explain(self, query: SceneFacts, satellite: SceneFacts, view: str, label: int,
                lang: str, diffs: Optional[List[str]] = None) -> str:
        """The explanation of a pair (``label`` 1: same place, 0: not)."""
        if lang not in ('en', 'zh'):
            raise ValueError(f"lang={lang!r}: expected 'en' or 'zh'")
        parts = [self.describe_query(query, view, lang), self.describe_satellite(satellite, lang)]
        if label == 1:
            agree = (self._agree_en if lang == 'en' else self._agree_zh)(query, satellite, view)
            if lang == 'en':
                agree = [a[0].upper() + a[1:] for a in agree]
                parts.append('. '.join(agree) + '.' if agree else '')
                parts.append(self.pick([
                    'These consistent features confirm that they depict the same area.',
                    'Taken together, the matching road layout, buildings and surroundings '
                    'confirm that the two images show the same place.',
                    'All of these correspondences confirm that they depict the same area.']))
            else:
                parts.append('；'.join(agree) + '。' if agree else '')
                parts.append(self.pick(['这些一致的特征表明两张图像是同一地点。',
                                        '综上所述，道路布局、建筑和周边环境都相互吻合，两张图像是同一地点。']))
        else:
            diffs = list(diffs if diffs is not None else differences(query, satellite, view))
            if not diffs:
                raise ValueError('a no-match pair needs at least one visible difference')
            diffs = diffs[:3]
            if lang == 'en':
                lines = [self._diff_en(query, satellite, k) for k in diffs]
                shared = self._shared_en(query, satellite, view)
                lead = f'Although {shared}, ' if shared else ''
                first = lead + lines[0]
                text = first[0].upper() + first[1:] + '. '
                if lines[1:]:
                    text += ('Moreover, ' + '; '.join(lines[1:]) + '.')
                parts.append(text.strip())
                parts.append(self.pick([
                    'These differences indicate that the two images do not correspond.',
                    'Given these differences, the two images do not show the same place.',
                    'These inconsistencies indicate that the two images do not correspond.']))
            else:
                lines = [self._diff_zh(query, satellite, k) for k in diffs]
                shared = self._shared_zh(query, satellite, view)
                lead = f'虽然{shared}，但' if shared else ''
                parts.append(lead + '；'.join(lines) + '。')
                parts.append(self.pick(['这些差异表明两张图像不是同一地点。',
                                        '由于存在这些差异，两张图像并非同一地点。']))
        return ' '.join(p for p in parts if p) if lang == 'en' else ''.join(parts)

    def _shared_en(self, q: SceneFacts, s: SceneFacts, view: str) -> str:
        caps = VIEW_CAPS.get(view, _DEFAULT_CAPS)
        if caps['street'] or not caps['compass']:
            if q.roads and s.roads:
                both_built = q.num_buildings and s.num_buildings
                return 'both images show streets' + (' and buildings' if both_built else '')
            return ''
        common = sorted(set(q.road_orientations()) & set(s.road_orientations()))
        if common:
            return f'both images have {_en_join([_ORIENT["en"][o] for o in common])} roads'
        return ''

    def _shared_zh(self, q: SceneFacts, s: SceneFacts, view: str) -> str:
        caps = VIEW_CAPS.get(view, _DEFAULT_CAPS)
        if caps['street'] or not caps['compass']:
            if not (q.roads and s.roads):
                return ''
            both_built = q.num_buildings and s.num_buildings
            return '两张图像中都有街道' + ('和建筑' if both_built else '')
        common = sorted(set(q.road_orientations()) & set(s.road_orientations()))
        if common:
            return f'两张图像中都有{_zh_join([_ORIENT["zh"][o] for o in common])}的道路'
        return ''
