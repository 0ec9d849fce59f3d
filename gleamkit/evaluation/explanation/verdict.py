"""Read the match / no-match decision from a GLEAM-X answer, in English or Chinese.

:func:`parse_verdict` returns ``1`` (the two images show the same place), ``0``
(they do not) or ``-1`` (no decision can be read, or the answer says it cannot
decide). It never guesses: an answer without a recognisable verdict is ``-1``.

How a decision is read, in order:

1. **A structured answer** (always tried first): the last JSON object with a
   verdict key (``{"match": true}``, ``{"same_location": "no"}``,
   ``{"是否匹配": "是"}``, ...) or the last line of the form ``Answer: yes`` /
   ``Verdict: no match`` / ``Final answer: **Yes**`` / ``结论：不匹配`` /
   ``答案：是``. With ``structured=True`` nothing else is read: an answer that
   does not follow the requested structure is ``-1``.
2. **Free text**: the text is cut into sentences and clauses; each clause is
   searched for verdict phrases (``the same area``, ``do not correspond``,
   ``different locations``, ``a match``, ``Yes``/``No`` as the first word,
   ``同一地点``, ``不同区域``, ``相匹配``, ...), negations in front of a phrase flip
   it (``not the same location``, ``no evidence that they match``,
   ``unlikely to be the same place``, ``不是同一地点``, ``并非同一区域``) and a
   clause that says it cannot decide (``cannot determine``, ``无法确定``) reads
   as ``-1``. The **last** decisive clause of the text wins, so the closing
   verdict beats descriptive mentions earlier in the paragraph.

3. **Bare answers**: a sentence that is only a verdict (``Match.``, ``It's a
   match.``, ``Not a match.``, ``No.``, ``匹配``, ``不匹配``, ``是的。``) is one,
   wherever it stands, and a leading ``Yes``/``No``/``是``/``不是`` counts in the
   first sentence and in the sentence right after a question
   (``... the same place? No.``, ``……是同一地点吗？是的。``). Bare answers
   that contradict each other (``Yes. No.``) make the answer ``-1``.

Phrases about a *feature* (``the road layout matches``, ``道路布局相匹配``) are
not verdicts: ``match``/``correspond``/``匹配``/``对应`` count only with the
images (or "they", "both", "两张图像", "两者", ...) as subject and no feature
noun in front; questions (``... the same place?``) and ``whether`` / ``是否``
clauses are skipped.
"""

import json
import re
from typing import List, Optional, Tuple

__all__ = ['parse_verdict', 'parse_structured_verdict', 'MATCH', 'NO_MATCH', 'UNPARSEABLE']

MATCH, NO_MATCH, UNPARSEABLE = 1, 0, -1

# ----------------------------------------------------------------------------- short values
_YES = {
    'yes',
    'y',
    'true',
    '1',
    'match',
    'matched',
    'matching',
    'same',
    'same place',
    'same location',
    'same area',
    'positive',
    'correct',
    'it is a match',
    'a match',
    '是',
    '是的',
    '对',
    '匹配',
    '相匹配',
    '相同',
    '一致',
    '同一地点',
    '是同一地点',
    '吻合',
}
_NO = {
    'no',
    'n',
    'false',
    '0',
    'no match',
    'no_match',
    'nomatch',
    'not match',
    'not a match',
    'not matched',
    'mismatch',
    'different',
    'different places',
    'different locations',
    'not same',
    'not the same',
    'negative',
    'incorrect',
    '否',
    '不是',
    '不',
    '不匹配',
    '不相同',
    '不一致',
    '不同',
    '不同地点',
    '不是同一地点',
    '不吻合',
    '不对应',
}
_JSON_KEYS = {
    'match',
    'is_match',
    'matched',
    'matches',
    'same_location',
    'same_place',
    'same_area',
    'is_same_location',
    'is_same_place',
    'same',
    'verdict',
    'answer',
    'final_answer',
    'label',
    'result',
    'prediction',
    'decision',
    '是否匹配',
    '匹配',
    '是否同一地点',
    '是否为同一地点',
    '结论',
    '答案',
    '判断',
}
_LINE_KEY = re.compile(
    r'^[\s>*#\-]*(?:\*\*|__)?\s*(final answer|final verdict|answer|verdict|conclusion|decision|'
    r'result|match|same location|same place|label|最终答案|最终结论|答案|结论|判断|结果|是否匹配|'
    r'是否为同一地点|是否同一地点)\s*(?:\*\*|__)?\s*[:：]\s*(.+?)\s*$',
    re.I,
)


def _short_value(value) -> Optional[int]:
    """A structured value (bool, 0/1, yes/no, match/no_match, 是/否, ...) or None."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return int(value)
    if not isinstance(value, str):
        return None
    text = re.sub(r'[*_`"\'“”‘’「」()（）\[\]]', '', value).strip().lower()
    text = re.sub(r'[\s.!。！,，;；:：]+$', '', text).strip()
    if text in _YES:
        return MATCH
    if text in _NO:
        return NO_MATCH
    return None


def _structured_value(value) -> Optional[int]:
    """A short value, or a longer text read as free text (``Conclusion: they ...``)."""
    short = _short_value(value)
    if short is not None or not isinstance(value, str):
        return short
    verdict = _free_text_verdict(value)
    return None if verdict is None else verdict


def _json_verdicts(text: str) -> List[Tuple[int, int]]:
    """(position, verdict) of every JSON object in ``text`` with a verdict key."""
    found = []
    decoder = json.JSONDecoder()
    for m in re.finditer(r'\{', text):
        try:
            obj, _ = decoder.raw_decode(text, m.start())
        except ValueError:
            continue
        if not isinstance(obj, dict):
            continue
        for key, value in obj.items():
            if str(key).strip().lower() in _JSON_KEYS:
                verdict = _structured_value(value)
                if verdict is not None:
                    found.append((m.start(), verdict))
                    break
    return found


def _line_verdicts(text: str) -> List[Tuple[int, int]]:
    found, pos = [], 0
    for line in text.splitlines(keepends=True):
        m = _LINE_KEY.match(line)
        if m:
            verdict = _structured_value(m.group(2))
            if verdict is not None:
                found.append((pos, verdict))
        pos += len(line)
    return found


def parse_structured_verdict(text: str) -> int:
    """The verdict of a structured answer only (JSON object or ``Answer: yes`` line).

    Returns ``-1`` when the answer has no structured verdict.
    """
    if not isinstance(text, str):
        return UNPARSEABLE
    found = _json_verdicts(text) + _line_verdicts(text)
    if not found:
        return UNPARSEABLE
    return max(found)[1]


# ----------------------------------------------------------------------------- free text: EN
_EN_PLACE = (
    r'(?:place|places|location|locations|area|areas|region|regions|site|sites|scene|'
    r'scenes|spot|spots|neighbou?rhoods?|locale|district|districts|block|blocks|'
    r'intersection|intersections|junction|crossroads|zone|zones|locality|campus|'
    r'geograph(?:ic|ical)\s+(?:area|location|region|position|spot)|position|part of '
    r'(?:the )?(?:city|town))'
)
_EN_NOT_ADJ = r'(?!(?:kind|type|sort|style|pattern|number|colou?r|shape|size|height|density)\b)'
_EN_SAME = re.compile(
    r'\b(?:same|identical|very same|one and the same)\s+(?:'
    + _EN_NOT_ADJ
    + r'[a-z\-]+\s+){0,2}?'
    + _EN_PLACE
    + r'\b',
    re.I,
)
_EN_DIFFERENT = re.compile(
    r'\b(?:different|separate|distinct|unrelated|two different|two separate|two distinct)\s+'
    r'(?:' + _EN_NOT_ADJ + r'[a-z\-]+\s+){0,1}?' + _EN_PLACE + r'\b',
    re.I,
)
# 'the locations are different', 'the location is the same'
_EN_PLACE_IS = re.compile(
    r'\b(?:location|locations|place|places|area|areas|site|sites|scene|scenes|region|regions)'
    r'\s+(?:is|are|appears?\s+to\s+be|seems?\s+to\s+be)\s+(?:(?:clearly|completely|entirely|'
    r'indeed|likely|probably|definitely|also)\s+)?(?:(not)\s+)?(?:(?:clearly|completely|entirely|'
    r'quite)\s+)?(the\s+same|identical|different|distinct|unrelated)\b',
    re.I,
)
_EN_NOT_DIFFERENT = re.compile(
    r"\b(?:not|n't)\s+(?:\w+\s+)?(?:different|separate|distinct)\b", re.I
)
_EN_MATCH_VERB = re.compile(
    r'\b(?:match|matches|matched|correspond|corresponds|corresponded|coincide|coincides|'
    r'align|aligns|agree|agrees)\b',
    re.I,
)
_EN_MATCH_NOUN = re.compile(
    r'\b(?:is|are|be|been|as|represents?|constitutes?|indicates?|shows?|find|found)\s+'
    r'(?:a|an)\s+(?:[a-z\-]+\s+){0,2}?(?:match|correspondence)\b',
    re.I,
)
_EN_NO_MATCH = re.compile(
    r'\b(?:no|not\s+(?:a|an))\s+(?:[a-z\-]+\s+){0,2}?(?:match|correspondence)\b|'
    r'\bmis-?match(?:es|ed)?\b|\bnon-?match(?:ing)?\b|\bdo(?:es)?\s+not\s+belong\s+together\b',
    re.I,
)
_EN_SUBJECT = re.compile(
    r'\b(?:images?|they|both|pair|two|views?|photos?|pictures?|tiles?|panoramas?|maps?|'
    r'query|them|these|those|scenes)\b',
    re.I,
)
_EN_FEATURE = re.compile(
    r'\b(?:roads?|streets?|buildings?|roofs?|rooftops?|trees?|parks?|rivers?|lakes?|water|'
    r'layouts?|patterns?|features?|colou?rs?|shapes?|vegetation|greenery|green|grass|'
    r'landmarks?|structures?|houses?|towers?|details?|textures?|orientation|heights?|'
    r'networks?|grid|intersections?|paths?|fields?|lawns?)\b',
    re.I,
)
# 'in image 1', 'of the satellite image': a place in an image, not a subject
_EN_PREP_IMAGE = re.compile(
    r'\b(?:in|of|from|on|at|within|across|between|to)\s+(?:the\s+)?(?:[a-z\-]+\s+){0,2}?'
    r'(?:images?|photos?|views?|tiles?|pictures?|panoramas?|maps?)(?:\s*[12])?\b',
    re.I,
)
_EN_NEGATOR = re.compile(
    r'\b(?:not|no|never|neither|nor|cannot|unlikely|nothing|none|hardly|rather than|'
    r"instead of|fails?|failed|doubtful|improbable)\b|n't\b",
    re.I,
)
_EN_UNCERTAIN = re.compile(
    r"\b(?:cannot|can't|can not|unable to|impossible to|hard to|difficult to|not possible to)\s+"
    r'(?:be\s+)?(?:determine|determined|tell|say|conclude|confirm|judge|decide|be certain|'
    r'be sure|verify|establish)|\b(?:unclear|uncertain|inconclusive|undetermined|not sure|'
    r'not certain|insufficient (?:information|evidence|detail))\b',
    re.I,
)
_EN_WHETHER = re.compile(r'\b(?:whether|if)\b', re.I)
_EN_ANSWER_IS = re.compile(r'\banswer\s+is\s*:?\s*(yes|no)\b', re.I)
_EN_LEADING = re.compile(r'^\W*(yes|no)\b(?=\s*(?:[,.!;:]|$|\W*$))', re.I)
_EN_CLAUSE_SPLIT = re.compile(
    r'[,;:()\u2014]|\s-\s|\b(?:but|while|although|though|whereas|however|yet|and|which|because|'
    r'since|so|thus|therefore|hence)\b',
    re.I,
)
_EN_POSITIVE_FIXUPS = [
    (re.compile(r'\b(?:no|without a|without any)\s+doubt\b|\bundoubtedly\b', re.I), 'certainly'),
    (re.compile(r'\bnot only\b', re.I), 'both'),
    (re.compile(r'\bwhether or not\b', re.I), 'whether'),
    (re.compile(r'\bno evidence (?:to the contrary|otherwise)\b', re.I), 'consistent evidence'),
]

# ----------------------------------------------------------------------------- free text: ZH
_ZH_PLACE = r'(?:地理位置|地点|位置|地方|区域|地区|场景|街区|范围|场所|片区|地块|路口|处)'
_ZH_SAME = re.compile(r'(?:同一(?:个|片|块)?|相同的?)' + _ZH_PLACE)
_ZH_DIFFERENT = re.compile(r'(?:不同|两个不同|两处不同)的?' + _ZH_PLACE + r'|不在一起')
# '地点不同', '位置相同', '地点并不相同'
_ZH_PLACE_IS = re.compile(
    r'(?:地理位置|地点|位置|地方|区域|地区|场景|街区|场所)'
    r'(?:是|也|都|完全|明显|显然|并|均)*'
    r'(不同|不一样|不相同|不一致|相同|一样|一致)'
)
_ZH_MATCH_VERB = re.compile(r'相?(?:匹配|对应|吻合|契合|相符|符合)')
_ZH_SUBJECT = re.compile(r'(?:图像|图片|影像|两者|二者|它们|两图|两幅|两张|这对|卫星图)')
_ZH_FEATURE = re.compile(
    r'(?:道路|街道|建筑|楼|房屋|屋顶|绿地|树|公园|水体|河|湖|布局|颜色|形状|'
    r'纹理|植被|草|路网|路口|高度|特征|结构)'
)
_ZH_NEGATOR = re.compile(r'(?:不|没|非|无|未|否)')
_ZH_UNCERTAIN = re.compile(
    r'(?:无法|不能|难以|很难|不好|不易)'
    r'(?:确定|判断|断定|确认|得出|判定|下结论)|'
    r'不确定|不能肯定|无从判断|信息不足'
)
_ZH_WHETHER = re.compile(r'(?:是否|能否|是不是|可否|有没有)')
_ZH_LEADING = re.compile(r'^\W*(是的|是|否|不是)(?=[，,。.！!；;]|$)')
_ZH_CLAUSE_SPLIT = re.compile(
    r'[，,；;：:、（）()]|'
    r'(?:但是|但|然而|虽然|尽管|而且|并且|因此|所以|因为|由于)'
)
# Compounds whose characters look like negations but are not (非常 = very,
# 无人机 = drone, 不少 = many, ...) and double negations (不可否认 = undeniably).
_ZH_POSITIVE_FIXUPS = [
    (re.compile(r'毫无疑问|无疑|无可置疑|毫无疑义|毋庸置疑|不可否认|无可否认'), '确定'),
    (re.compile(r'不仅|不光|不但'), '既'),
    (re.compile(r'无论|不管'), '对于'),
    (re.compile(r'非常'), '很'),
    (re.compile(r'无人机'), '航拍'),
    (re.compile(r'不少'), '许多'),
    (re.compile(r'不断'), '持续'),
    (re.compile(r'不错'), '良好'),
    (re.compile(r'不难|并不难'), '容易'),
    (re.compile(r'不过'), '但'),
    (re.compile(r'未来'), '将来'),
]

# Sentences that are nothing but a verdict (normalised by _bare_key: lower case, no
# punctuation or apostrophes). Deliberately short: a bare 'same', 'different', '1' or
# '一致' could be anything, so they are not in here.
_BARE_YES = {
    'yes',
    'yes it is',
    'yes they are',
    'yes they do',
    'yes it does',
    'match',
    'matched',
    'a match',
    'its a match',
    'it is a match',
    'thats a match',
    'that is a match',
    'this is a match',
    'a clear match',
    'its a clear match',
    'they match',
    'same place',
    'same location',
    'same area',
    'the same place',
    'the same location',
    'the same area',
    'its the same place',
    'it is the same place',
    'they are the same place',
    '是',
    '是的',
    '对',
    '匹配',
    '相匹配',
    '是匹配的',
    '同一地点',
    '是同一地点',
    '同一个地方',
    '是同一个地方',
    '是同一个地点',
    '同一区域',
    '是同一区域',
}
_BARE_NO = {
    'no',
    'no it is not',
    'no it isnt',
    'no they are not',
    'no they arent',
    'no they do not',
    'no they dont',
    'no match',
    'not a match',
    'its not a match',
    'it is not a match',
    'it isnt a match',
    'thats not a match',
    'that is not a match',
    'this is not a match',
    'mismatch',
    'a mismatch',
    'its a mismatch',
    'they do not match',
    'they dont match',
    'different places',
    'different locations',
    'different areas',
    'not the same place',
    'not the same location',
    'not the same area',
    '否',
    '不是',
    '不',
    '不匹配',
    '不相匹配',
    '不是同一地点',
    '不是同一个地方',
    '不是同一个地点',
    '不同地点',
    '不同的地点',
    '不对应',
    '不是同一区域',
}
_EN_CONTRACTIONS = [
    (re.compile(r"(it|that|this|there|what)['’]s", re.I), r' is'),
    (re.compile(r"(they|these|those|we|you)['’]re", re.I), r' are'),
    (re.compile(r"(is|are|was|were)n['’]t", re.I), r' not'),
]

_SENTENCE_END = re.compile(r'[.!?]+(?=\s|$)|[。！？!?]+|\n+')
_CJK = re.compile(r'[\u4e00-\u9fff]')


def _window_before(clause: str, pos: int, words: int = 8) -> str:
    return ' '.join(clause[:pos].split()[-words:])


def _subject_is_images(head: str, subject, feature) -> bool:
    """Whether the noun nearest before a 'match' verb is the images, not a feature."""
    last_subject = max((m.end() for m in subject.finditer(head)), default=-1)
    last_feature = max((m.end() for m in feature.finditer(head)), default=-1)
    return last_subject > last_feature


def _en_clause_hits(clause: str) -> List[Tuple[int, int]]:
    """(position, verdict) hits of one English clause, negations applied."""
    hits = []

    def negated(pos):
        return bool(_EN_NEGATOR.search(_window_before(clause, pos)))

    def skipped(pos):  # a 'whether/if' clause is a question, not a verdict
        return bool(_EN_WHETHER.search(_window_before(clause, pos)))

    for m in _EN_SAME.finditer(clause):
        if not skipped(m.start()):
            hits.append((m.start(), NO_MATCH if negated(m.start()) else MATCH))
    for m in _EN_DIFFERENT.finditer(clause):
        if skipped(m.start()):
            continue
        before = clause[max(0, m.start() - 12) : m.end()]
        flipped = bool(_EN_NOT_DIFFERENT.search(before))
        hits.append((m.start(), MATCH if flipped else NO_MATCH))
    for m in _EN_PLACE_IS.finditer(clause):
        head = clause[: m.start()]
        if skipped(m.start()) or (
            _EN_FEATURE.search(head) and not _subject_is_images(head, _EN_SUBJECT, _EN_FEATURE)
        ):  # 'the building locations differ'
            continue
        same = m.group(2).lower().startswith(('the', 'identical'))
        positive = same != bool(m.group(1))
        hits.append((m.start(), MATCH if positive else NO_MATCH))
    feature_free = not _EN_FEATURE.search(clause)
    for m in _EN_NO_MATCH.finditer(clause):
        if feature_free and not skipped(m.start()):
            hits.append((m.start(), NO_MATCH))
    for m in _EN_MATCH_NOUN.finditer(clause):
        head = clause[: m.start()]
        if not _EN_FEATURE.search(head) and not skipped(m.start()):
            hits.append((m.start(), NO_MATCH if negated(m.start()) else MATCH))
    for m in _EN_MATCH_VERB.finditer(clause):
        if _subject_is_images(
            _EN_PREP_IMAGE.sub(' ', clause[: m.start()]), _EN_SUBJECT, _EN_FEATURE
        ) and not skipped(m.start()):
            hits.append((m.start(), NO_MATCH if negated(m.start()) else MATCH))
    for m in _EN_ANSWER_IS.finditer(clause):
        hits.append((m.start(), MATCH if m.group(1).lower() == 'yes' else NO_MATCH))
    return hits


def _zh_clause_hits(clause: str) -> List[Tuple[int, int]]:
    hits = []

    def window(pos, chars=8):
        return clause[max(0, pos - chars) : pos]

    def negated(pos):
        return bool(_ZH_NEGATOR.search(window(pos)))

    def skipped(pos):
        return bool(_ZH_WHETHER.search(window(pos, 12)))

    for m in _ZH_SAME.finditer(clause):
        if not skipped(m.start()):
            hits.append((m.start(), NO_MATCH if negated(m.start()) else MATCH))
    for m in _ZH_DIFFERENT.finditer(clause):
        if not skipped(m.start()):
            flipped = bool(re.search(r'(?:不是|并非|并不是|不属于|不在)$', window(m.start(), 4)))
            hits.append((m.start(), MATCH if flipped else NO_MATCH))
    for m in _ZH_PLACE_IS.finditer(clause):
        head = clause[: m.start()]
        feature_owned = _ZH_FEATURE.search(head) and not _subject_is_images(
            head, _ZH_SUBJECT, _ZH_FEATURE
        )  # '建筑的位置相同' is about buildings
        if not skipped(m.start()) and not feature_owned:
            positive = m.group(1) in ('相同', '一样', '一致')
            hits.append((m.start(), MATCH if positive else NO_MATCH))
    for m in _ZH_MATCH_VERB.finditer(clause):
        head = re.split(r'[与和跟]', clause[: m.start()])[0]  # X in 'X与Y相匹配'
        if not _subject_is_images(head, _ZH_SUBJECT, _ZH_FEATURE) or skipped(m.start()):
            continue
        hits.append((m.start(), NO_MATCH if negated(m.start()) else MATCH))
    return hits


def _clauses(sentence: str, splitter) -> List[str]:
    return [c for c in splitter.split(sentence) if c and c.strip()]


def _bare_key(sentence: str) -> str:
    text = re.sub(r"['’]", '', sentence.lower())
    return ' '.join(re.sub(r'[^\w\u4e00-\u9fff]+', ' ', text).split())


def _bare_verdict(sentence: str) -> Optional[int]:
    """The verdict of a sentence that is nothing but one (``Match.``, ``不匹配``), or None."""
    key = _bare_key(sentence)
    if key in _BARE_YES:
        return MATCH
    if key in _BARE_NO:
        return NO_MATCH
    return None


def _leading_verdict(sentence: str) -> Optional[int]:
    """A leading ``Yes``/``No``/``是``/``不是`` (``No, they differ.``), or None."""
    m = _EN_LEADING.match(sentence) or (
        _ZH_LEADING.match(sentence) if _CJK.search(sentence) else None
    )
    if m is None:
        return None
    return MATCH if m.group(1).lower() in ('yes', '是', '是的') else NO_MATCH


def _sentence_verdict(sentence: str, first: bool) -> Tuple[Optional[int], Optional[int]]:
    """``(verdict of the last decisive clause, leading Yes/No)`` of a sentence.

    Either may be None; the leading answer is read only when ``first``.
    """
    zh = bool(_CJK.search(sentence))
    for pattern, repl in (
        _EN_CONTRACTIONS + _EN_POSITIVE_FIXUPS + (_ZH_POSITIVE_FIXUPS if zh else [])
    ):
        sentence = pattern.sub(repl, sentence)
    leading = _leading_verdict(sentence) if first else None
    verdict = leading
    clauses = _clauses(sentence, _EN_CLAUSE_SPLIT)
    if zh:
        clauses = [z for c in clauses for z in _clauses(c, _ZH_CLAUSE_SPLIT)]
    for clause in clauses:
        if _EN_UNCERTAIN.search(clause) or (zh and _ZH_UNCERTAIN.search(clause)):
            verdict = UNPARSEABLE
            continue
        hits = _en_clause_hits(clause) + (_zh_clause_hits(clause) if zh else [])
        if hits:
            verdict = max(hits)[1]
    return verdict, leading


def _sentences(text: str) -> List[Tuple[str, bool]]:
    """(sentence, is_question) pieces; a '.' inside '3.5' does not end a sentence."""
    out, pos = [], 0
    for m in _SENTENCE_END.finditer(text):
        out.append((text[pos : m.start()], '?' in m.group(0) or '？' in m.group(0)))
        pos = m.end()
    out.append((text[pos:], False))
    return [(s.strip(), q) for s, q in out if s.strip()]


def _free_text_verdict(text: str) -> Optional[int]:
    """The verdict of the last decisive sentence, or None when there is none.

    Bare answers (a sentence that is only a verdict, or a leading Yes/No where
    one is expected) that contradict each other give ``UNPARSEABLE``.
    """
    text = re.sub(r'[*_`#>]+', ' ', text)
    verdict, bare, after_question = None, set(), False
    for i, (sentence, question) in enumerate(_sentences(text)):
        if question or sentence.endswith(('吗', '呢')):
            after_question = True
            continue
        answer_expected = i == 0 or after_question
        after_question = False
        found = _bare_verdict(sentence)
        if found is None:
            found, leading = _sentence_verdict(sentence, first=answer_expected)
            if leading is not None:
                bare.add(leading)
        else:
            bare.add(found)
        if found is not None:
            verdict = found
    if len(bare) > 1:  # 'Yes. No.': no guessing which one was meant
        return UNPARSEABLE
    return verdict


def parse_verdict(text: str, lang: Optional[str] = None, structured: bool = False) -> int:
    """The decision in a GLEAM-X answer: ``1`` match, ``0`` no match, ``-1`` unparseable.

    Args:
        text: the model's answer (free text, optionally with a JSON object or a
            final ``Answer: yes`` line).
        lang: ``'en'``, ``'zh'`` or None. A hint only: the rules of both
            languages are always applied (a model asked in Chinese sometimes
            answers in English, and the reverse).
        structured: read only a structured verdict (JSON object with a verdict
            key or an ``Answer: ...`` line); an answer without one is ``-1``.

    See the module docstring for the rules.
    """
    if lang not in (None, 'en', 'zh'):
        raise ValueError(f"parse_verdict: lang={lang!r}, expected 'en', 'zh' or None")
    if not isinstance(text, str) or not text.strip():
        return UNPARSEABLE
    verdict = parse_structured_verdict(text)
    if verdict != UNPARSEABLE or structured:
        return verdict
    verdict = _free_text_verdict(text)
    return UNPARSEABLE if verdict is None else verdict
