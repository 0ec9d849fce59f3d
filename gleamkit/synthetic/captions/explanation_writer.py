"""Reference explanations written from scene facts, in English and Chinese.

A paragraph in the GLEAM paper's style: image 1 (the query view), image 2 (the
satellite tile), then road layout, buildings, green space and water compared,
then the verdict - "... confirming they depict the same area." / "... indicate
that the two images do not correspond." (and the Chinese equivalents). Every
sentence comes from :class:`~gleamkit.synthetic.captions.scene_facts.SceneFacts`
of the two tiles, so it is true of the rendered images; what a view cannot show
is not claimed (a street map has no roof colours, a street-level panorama shows
facades and the street, not the block layout).

One function per fact decides what to say, for every language; the words are the
templates of :mod:`.phrases`. Phrasing varies with a seeded ``random.Random`` (same
seed, same text).
"""

import random
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

from .phrases import LANGS, PHRASES
from .scene_facts import REGIONS, ROOF_COLOURS, WALL_COLOURS, RoadFact, SceneFacts

__all__ = ['ExplanationWriter', 'VIEW_CAPS', 'differences']

#: what each query view shows: compass (north-up layout), roofs (colours seen from
#: above), heights (building heights visible), footprints (a map's outlines),
#: street (a street-level view), wide (sees beyond the tile, as an oblique UAV image:
#: counts are approximate and nothing is claimed absent that lies further away)
VIEW_CAPS: Dict[str, Dict[str, bool]] = {
    'satellite': dict(
        compass=True, roofs=True, heights=False, footprints=False, street=False, wide=False
    ),
    'uav': dict(compass=False, roofs=True, heights=True, footprints=False, street=False, wide=True),
    'map': dict(
        compass=True, roofs=False, heights=False, footprints=True, street=False, wide=False
    ),
    'panorama': dict(
        compass=False, roofs=False, heights=True, footprints=False, street=True, wide=False
    ),
    'ground': dict(
        compass=False, roofs=False, heights=True, footprints=False, street=True, wide=False
    ),
}
_DEFAULT_CAPS = VIEW_CAPS['uav']


# ----------------------------------------------------------------------------- words
def _num(n: int, lang: str) -> str:
    numbers = PHRASES[lang]['numbers']
    return numbers[n] if 0 <= n < len(numbers) else str(n)


def _count(n: int, noun: str, lang: str) -> str:
    """``n`` things: 'two roads' / '两条道路'."""
    one, many = PHRASES[lang]['nouns'][noun]
    return PHRASES[lang]['count'].format(num=_num(n, lang), noun=one if n == 1 else many)


def _join(items: Sequence[str], lang: str) -> str:
    """Nouns: 'a, b and c' / 'a、b和c'."""
    items = [i for i in items if i]
    if len(items) <= 1:
        return ''.join(items)
    p = PHRASES[lang]
    return p['list_sep'].join(items[:-1]) + p['list_last'] + items[-1]


def _clauses(items: Sequence[str], lang: str) -> str:
    """Clauses: listed like nouns in English, after commas in Chinese."""
    sep = PHRASES[lang]['clause_sep']
    return _join(items, lang) if sep is None else sep.join(items)


def _capitalise(text: str, lang: str) -> str:
    return text[0].upper() + text[1:] if PHRASES[lang]['capitalise'] else text


def _region(region: Tuple[int, int], lang: str) -> str:
    return REGIONS[region][LANGS.index(lang)]


def _in_region(region: Tuple[int, int], compass: bool, lang: str) -> str:
    """Where a thing lies, when the view has a compass ('' otherwise)."""
    return PHRASES[lang]['in_region'].format(region=_region(region, lang)) if compass else ''


def _position(position: str, lang: str) -> str:
    """A road's position ('west', 'centre', 'north-west', ...) in words."""
    table = PHRASES[lang]['positions']
    if position in table:
        return table[position]
    for names in REGIONS.values():
        if names[0] == position:
            return names[LANGS.index(lang)]
    return position


def _height(facts: SceneFacts, lang: str) -> str:
    return PHRASES[lang]['heights'][_dominant_height(facts)]


def _orientations(orientations: Sequence[str], lang: str) -> str:
    return _join([PHRASES[lang]['orientations'][o] for o in orientations], lang)


def _approx(n: int, lang: str) -> str:
    key = 'few' if n < 5 else ('dozen' if n < 16 else 'many')
    return PHRASES[lang]['approx'][key]


# ----------------------------------------------------------------------------- facts -> phrases
def _road_groups(roads: Sequence[RoadFact]) -> List[Tuple[Tuple[str, bool, bool], List[RoadFact]]]:
    groups: Dict[Tuple[str, bool, bool], List[RoadFact]] = {}
    for r in roads:
        groups.setdefault((r.orientation, r.major, r.curved), []).append(r)
    return sorted(groups.items(), key=lambda kv: (not kv[0][1], -sum(r.length_m for r in kv[1])))


def _one_road(orientation: str, position: str) -> str:
    """How a single road's position is told: through the centre, along a side, across a
    strip, or in a region."""
    if position == 'centre':
        return 'centre'
    if orientation == 'N-S' and position in ('west', 'east'):
        return 'side'
    if orientation == 'E-W' and position in ('north', 'south'):
        return 'across'
    return 'inside'


def _roads(facts: SceneFacts, compass: bool, lang: str) -> str:
    p = PHRASES[lang]
    if not facts.roads:
        return p['no_roads']
    if not compass:
        return _road_summary(facts.roads, lang) + _junctions(facts, False, lang)
    parts = []
    for (orient, major, curved), rs in _road_groups(facts.roads)[:3]:
        kind = p['road_kind'][major]
        kind = (
            p['curved_kind'].format(kind=kind)
            if curved
            else p['wide_kind'].format(kind=kind)
            if major
            else kind
        )
        o = p['orientations'][orient]
        if len(rs) == 1:
            parts.append(
                p['one_road'][_one_road(orient, rs[0].position)].format(
                    kind=kind, o=o, p=_position(rs[0].position, lang)
                )
            )
        else:
            where = _join([_position(q, lang) for q in sorted({r.position for r in rs})], lang)
            adj = '' if curved else p['parallel']
            parts.append(
                p['roads'].format(num=_num(len(rs), lang), adj=adj, o=o, kind=kind, where=where)
            )
    return _clauses(parts, lang) + _junctions(facts, True, lang)


def _junctions(facts: SceneFacts, compass: bool, lang: str) -> str:
    p = PHRASES[lang]
    junc = facts.junction_counts()
    parts = []
    if junc['crossroads']:
        parts.append(_count(junc['crossroads'], 'crossroads', lang))
    if junc['T-junction']:
        parts.append(_count(junc['T-junction'], 't_junction', lang))
    if not parts:
        return ''
    where = ''
    if compass and len(facts.junctions) <= 2:
        regions = _join(sorted({_region(j.region, lang) for j in facts.junctions}), lang)
        where = p['junctions_where'].format(regions=regions)
    return p['junctions'].format(junctions=_join(parts, lang), where=where)


def _road_summary(roads: Sequence[RoadFact], lang: str) -> str:
    """Roads without compass directions (a rotated or street-level view)."""
    p = PHRASES[lang]
    parts = []
    for major in (True, False):
        group = [r for r in roads if r.major == major]
        if not group:
            continue
        noun, n = p['summary_nouns'][major], len(group)
        text = p['summary_one' if n == 1 else 'summary_many'].format(num=_num(n, lang), noun=noun)
        curved = sum(r.curved for r in group)
        if curved and n == 1:
            text = p['summary_curved_one'].format(noun=noun, short=p['summary_short'][major])
        elif curved:
            text += (
                p['summary_some_curved'].format(num=_num(curved, lang))
                if curved < n
                else p['summary_all_curved']
            )
        parts.append(text)
    text = _join(parts, lang)
    straight = [r for r in roads if not r.curved]
    if len({r.orientation for r in straight}) < len(straight):
        text += p['summary_parallel']
    return text


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
    idx = 1 + LANGS.index(lang)
    return [ROOF_COLOURS[i][idx] for i, _ in facts.roof_counts()[:k]]


def _wall_names(facts: SceneFacts, lang: str, k: int = 2) -> List[str]:
    idx = 1 + LANGS.index(lang)
    counts = Counter(b.wall for b in facts.buildings if b.wall >= 0)
    return [WALL_COLOURS[i][idx] for i, _ in counts.most_common(k)]


def _buildings(facts: SceneFacts, caps: Dict[str, bool], lang: str) -> str:
    p = PHRASES[lang]
    n = facts.num_buildings
    if n == 0:
        return p['no_buildings']
    counts = facts.height_counts()
    noun = p['building_nouns'][caps['footprints']][0 if n == 1 else 1]
    count = _approx(n, lang) if caps.get('wide') else _num(n, lang)
    text = p['buildings'].format(count=count, noun=noun)
    if caps['heights'] or caps['roofs']:
        height = _height(facts, lang)
        text = (
            p['buildings_mostly'].format(text=text, count=count, height=height)
            if n > 1
            else p['buildings_single'].format(height=height)
        )
        if counts['high'] and _dominant_height(facts) != 'high':
            metres = int(round(max(b.height_m for b in facts.buildings) / 5.0) * 5)
            text += (
                p['tower'].format(metres=metres)
                if counts['high'] == 1
                else p['towers'].format(num=_num(counts['high'], lang), metres=metres)
            )
    if caps['roofs']:
        text += p['roofs'].format(roofs=_join(_roof_names(facts, lang), lang))
    cluster = _cluster(facts)
    if cluster is not None and caps['compass']:
        text += p['clustered'].format(region=_region(cluster, lang))
    return text


def _parks(facts: SceneFacts):
    parks = [g for g in facts.greens if g.kind == 'park']
    sports = [g for g in facts.greens if g.kind == 'sports ground']
    return parks, sports


def _green(facts: SceneFacts, compass: bool, lang: str) -> str:
    p = PHRASES[lang]
    parks, sports = _parks(facts)
    parts = []
    if len(parks) == 1:
        parts.append(
            p['one_park'].format(
                size=p['park'][parks[0].share >= 0.25],
                where=_in_region(parks[0].region, compass, lang),
            )
        )
    elif parks:
        where = (
            p['parks_where'].format(
                regions=_join([_region(g.region, lang) for g in parks[:3]], lang)
            )
            if compass
            else ''
        )
        parts.append(p['parks'].format(num=_num(len(parks), lang), where=where))
    if sports:
        parts.append(p['sports'].format(where=_in_region(sports[0].region, compass, lang)))
    if not parts:
        trees = facts.shares.get('trees', 0.0)
        parts.append(p['street_trees'] if trees > 0.04 else p['little_green'])
    return _clauses(parts, lang)


def _water(facts: SceneFacts, compass: bool, lang: str) -> str:
    p = PHRASES[lang]
    if not facts.water:
        return p['water_far'] if _sees(facts, 'water') else p['no_water']
    parts = []
    for w in facts.water[:2]:
        if w.kind == 'river' and compass and w.orientation:
            parts.append(p['river_flowing'].format(o=p['orientations'][w.orientation]))
        else:
            kind = w.kind if w.kind in ('river', 'lake') else 'pond'
            parts.append(p[kind].format(where=_in_region(w.region, compass, lang)))
    return _clauses(parts, lang)


def _character(facts: SceneFacts, lang: str) -> str:
    s = facts.shares
    dom = _dominant_height(facts)
    if s.get('water', 0) > 0.1 and s.get('green', 0) > 0.3:
        key = 'park_by_water'
    elif s.get('water', 0) > 0.2:
        key = 'waterside'
    elif s.get('green', 0) > 0.35 and facts.num_buildings < 6:
        key = 'green'
    elif dom == 'high' and facts.num_buildings >= 5:
        key = 'tall'
    elif dom == 'low' and facts.num_buildings >= 5:
        key = 'low_rise'
    elif facts.num_buildings >= 5:
        key = 'urban'
    else:
        key = 'sparse'
    return PHRASES[lang]['character'][key]


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
        not qw and _sees(query, 'water')
    ):
        out.append('water')
    qp = any(g.kind == 'park' for g in query.greens)
    sp = any(g.kind == 'park' for g in satellite.greens)
    if qp != sp and not (not qp and _sees(query, 'park')):
        out.append('park')
    if any(g.kind == 'sports ground' for g in query.greens) != any(
        g.kind == 'sports ground' for g in satellite.greens
    ):
        out.append('sports')
    nq, ns = query.num_buildings, satellite.num_buildings
    if caps.get('wide'):
        if max(nq, ns) >= 8 and max(nq, ns) >= 2.5 * max(1, min(nq, ns)):
            out.append('building_count')
    elif not caps['street'] and abs(nq - ns) >= max(4, 0.4 * max(nq, ns)):
        out.append('building_count')
    if (
        (caps['heights'] or caps['street'])
        and nq
        and ns
        and (_dominant_height(query) != _dominant_height(satellite))
    ):
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
    q_main = (
        query.camera_on_main_road
        if caps['street'] and query.camera_on_main_road is not None
        else any(r.major for r in query.roads)
    )
    if q_main != any(r.major for r in satellite.roads) and not (
        not q_main and _sees(query, 'main_road')
    ):
        out.append('main_road')
    q_curved = any(r.curved for r in query.roads)
    if (
        not caps['street']
        and q_curved != any(r.curved for r in satellite.roads)
        and not (not q_curved and _sees(query, 'curved_road'))
    ):
        out.append('curved_road')
    return out


# ----------------------------------------------------------------------------- the writer
class ExplanationWriter:
    """Writes the paragraph for a (query facts, satellite facts) pair.

    Args:
        seed: seeds the phrasing choices (deterministic output).
    """

    def __init__(self, seed: int = 0):
        self.rng = random.Random(seed)

    def pick(self, options: Sequence[str]) -> str:
        return options[self.rng.randrange(len(options))]

    # -- image descriptions
    def describe_query(self, facts: SceneFacts, view: str, lang: str) -> str:
        p = PHRASES[lang]
        caps = VIEW_CAPS.get(view, _DEFAULT_CAPS)
        what = self.pick(p['views'].get(view, [p['other_view'].format(view=view)]))
        if caps['street']:
            return self._street(facts, what, lang)
        return p['query'].format(
            what=what,
            character=_character(facts, lang),
            centre=p['query_centre'] if caps.get('wide') else '',
            roads=_roads(facts, caps['compass'], lang),
            buildings=_buildings(facts, caps, lang),
            green=_green(facts, caps['compass'], lang),
            water=_water(facts, caps['compass'], lang),
        )

    def _street(self, facts: SceneFacts, what: str, lang: str) -> str:
        p = PHRASES[lang]
        if facts.num_buildings:
            buildings = p['street_buildings'].format(height=_height(facts, lang))
            walls = _wall_names(facts, lang)
            if walls:
                buildings += p['street_walls'].format(walls=_join(walls, lang))
        else:
            buildings = p['street_no_buildings']
        extra = []
        if facts.water:
            extra.append(p['street_water'])
        if any(g.kind == 'park' for g in facts.greens):
            extra.append(p['street_park'])
        elif facts.shares.get('trees', 0) > 0.04:
            extra.append(p['street_trees_near'])
        return p['street'].format(
            what=what,
            street=p['street_kind'][_on_main_road(facts)],
            buildings=buildings,
            extra=p['street_extra'].format(extra=_clauses(extra, lang)) if extra else '',
        )

    def describe_satellite(self, facts: SceneFacts, lang: str) -> str:
        caps = VIEW_CAPS['satellite']
        return PHRASES[lang]['satellite'].format(
            character=_character(facts, lang),
            roads=_roads(facts, True, lang),
            buildings=_buildings(facts, caps, lang),
            green=_green(facts, True, lang),
            water=_water(facts, True, lang),
        )

    # -- comparisons
    def _agreements(self, query: SceneFacts, facts: SceneFacts, view: str, lang: str) -> List[str]:
        p = PHRASES[lang]
        caps = VIEW_CAPS.get(view, _DEFAULT_CAPS)
        out = []
        if caps['street']:
            if query.roads:
                out.append(
                    p['agree_camera_road'].format(road=p['camera_road'][_on_main_road(query)])
                )
            if query.num_buildings and facts.num_buildings:
                out.append(p['agree_street_buildings'].format(height=_height(query, lang)))
        else:
            if facts.roads:
                j = len(facts.junctions)
                out.append(
                    p['agree_roads'].format(
                        roads=_count(len(facts.roads), 'road', lang),
                        junctions=p['agree_junctions'].format(junctions=_count(j, 'junction', lang))
                        if j
                        else '',
                        curved=p['agree_curved'] if any(r.curved for r in facts.roads) else '',
                    )
                )
            if facts.num_buildings:
                text = (
                    p['agree_buildings'].format(
                        buildings=_count(facts.num_buildings, 'building', lang)
                    )
                    if not caps.get('wide')
                    else p['agree_buildings_wide']
                )
                if caps['roofs']:
                    text += p['agree_roofs'].format(roofs=_join(_roof_names(facts, lang), lang))
                out.append(text)
        parks, sports = _parks(facts)
        q_parks, q_sports = _parks(query)
        if parks and q_parks:
            out.append(
                p['agree_park']
                if len(parks) == 1 or caps['street']
                else p['agree_parks'].format(num=_num(len(parks), lang))
            )
        if sports and q_sports:
            out.append(p['agree_sports'])
        if facts.water and query.water:
            out.append(p['agree_water'].format(kind=p['water_kinds'][facts.water[0].kind]))
        elif not caps['street'] and not facts.water and not _sees(query, 'water'):
            out.append(p['agree_no_water'])
        return out

    def _difference(self, q: SceneFacts, s: SceneFacts, key: str, lang: str) -> str:
        p = PHRASES[lang]

        def has_water(f):
            if not f.water:
                return p['no_water']
            return p['has_water'].format(
                described=_water(f, False, lang), kind=p['water_kinds'][f.water[0].kind]
            )

        def junctions(f, side):
            n = len(f.junctions)
            return p[f'junctions_of_{side}'][n > 0].format(
                count=_count(n, 'junction', lang), num=_num(n, lang)
            )

        if key == 'water':
            return p['diff_water'].format(query=has_water(q), satellite=has_water(s))
        if key == 'park':
            return p['diff_park'][1 if any(g.kind == 'park' for g in q.greens) else 2]
        if key == 'sports':
            only = 1 if any(g.kind == 'sports ground' for g in q.greens) else 2
            return p['diff_sports'].format(only=only)
        if key == 'building_count':
            if q.surroundings is not None:
                dense = 1 if q.num_buildings > s.num_buildings else 2
                return p['diff_density'].format(
                    dense=dense,
                    sparse=3 - dense,
                    approx=_approx(q.num_buildings, lang),
                    num=_num(s.num_buildings, lang),
                )
            return p['diff_building_count'].format(
                query=_count(q.num_buildings, 'building', lang), num=_num(s.num_buildings, lang)
            )
        if key == 'height':
            return p['diff_height'].format(query=_height(q, lang), satellite=_height(s, lang))
        if key == 'roofs':
            return p['diff_roofs'].format(
                query=_join(_roof_names(q, lang), lang), satellite=_join(_roof_names(s, lang), lang)
            )
        if key == 'road_orientation':
            return p['diff_road_orientation'].format(
                query=_orientations(q.road_orientations(), lang) or p['no_orientation'],
                satellite=_orientations(s.road_orientations(), lang) or p['no_orientation'],
            )
        if key == 'junctions':
            return p['diff_junctions'].format(
                query=junctions(q, 'query'), satellite=junctions(s, 'satellite')
            )
        if key == 'main_road':
            if p['diff_main_road_uses_camera'] and q.camera_on_main_road is not None:
                case = 'camera_on' if q.camera_on_main_road else 'camera_off'
            else:
                case = 'query' if any(r.major for r in q.roads) else 'satellite'
            return p['diff_main_road'][case]
        only = 1 if any(r.curved for r in q.roads) else 2
        return p['diff_curved_road'].format(only=only)

    def _shared(self, q: SceneFacts, s: SceneFacts, view: str, lang: str) -> str:
        p = PHRASES[lang]
        caps = VIEW_CAPS.get(view, _DEFAULT_CAPS)
        if caps['street'] or not caps['compass']:
            if not (q.roads and s.roads):
                return ''
            both_built = q.num_buildings and s.num_buildings
            return p['shared_streets'].format(buildings=p['shared_buildings'] if both_built else '')
        common = sorted(set(q.road_orientations()) & set(s.road_orientations()))
        if common:
            return p['shared_orientations'].format(orientations=_orientations(common, lang))
        return ''

    # -- the paragraph
    def explain(
        self,
        query: SceneFacts,
        satellite: SceneFacts,
        view: str,
        label: int,
        lang: str,
        diffs: Optional[List[str]] = None,
    ) -> str:
        """The explanation of a pair (``label`` 1: same place, 0: not)."""
        if lang not in PHRASES:
            raise ValueError(f'lang={lang!r}: expected ' + ' or '.join(map(repr, LANGS)))
        p = PHRASES[lang]
        parts = [self.describe_query(query, view, lang), self.describe_satellite(satellite, lang)]
        if label == 1:
            agree = [_capitalise(a, lang) for a in self._agreements(query, satellite, view, lang)]
            parts.append(p['agree_sep'].join(agree) + p['sentence_end'] if agree else '')
            parts.append(self.pick(p['match']))
        else:
            diffs = list(diffs if diffs is not None else differences(query, satellite, view))
            if not diffs:
                raise ValueError('a no-match pair needs at least one visible difference')
            lines = [self._difference(query, satellite, k, lang) for k in diffs[:3]]
            shared = self._shared(query, satellite, view, lang)
            first = _capitalise(
                (p['although'].format(shared=shared) if shared else '') + lines[0], lang
            )
            parts.append(
                p['diffs_more'].format(first=first, rest=p['diff_sep'].join(lines[1:]))
                if lines[1:]
                else p['diffs_one'].format(first=first)
            )
            parts.append(self.pick(p['no_match']))
        return p['paragraph_sep'].join(part for part in parts if part)
