"""The verdict parser on hand-written answers in English and Chinese."""

import pytest

from gleamkit.datasets.gleam_x.prompts import LABEL_ANSWERS
from gleamkit.evaluation.explanation import parse_structured_verdict, parse_verdict

MATCH, NO, UNP = 1, 0, -1

ENGLISH = [
    # the paper's closing sentences
    (
        'Image 1 is a drone view of a residential block with a north-south road. Image 2 is a '
        'satellite tile showing the same road grid. The road layout, the three red-roofed '
        'buildings and the pond all agree, confirming they depict the same area.',
        MATCH,
    ),
    (
        'Image 1 shows tall towers beside a river. Image 2 shows low houses and a park. The road '
        'layouts differ and no river is visible in image 2. These differences indicate that the '
        'two images do not correspond.',
        NO,
    ),
    # yes / no answers
    ('Yes', MATCH),
    ('No', NO),
    ('yes.', MATCH),
    ('No.', NO),
    ('YES!', MATCH),
    ('Yes, the two images show the same place.', MATCH),
    ('No, the two images do not show the same place.', NO),
    ('No, these are different locations.', NO),
    # negations
    ('The two images are not the same location.', NO),
    ('They do not depict the same area.', NO),
    ("They don't show the same neighbourhood.", NO),
    ('There is no evidence that they match.', NO),
    ('It is unlikely that the images depict the same area.', NO),
    ('Nothing suggests that they show the same place.', NO),
    ('The images fail to match.', NO),
    ('The drone image and the satellite tile are not a match.', NO),
    ('There is no match between the two images.', NO),
    ('These are two different places.', NO),
    ('The images come from separate locations.', NO),
    ('The images show different locations rather than the same place.', NO),
    ('These are not different places; both images show the same intersection.', MATCH),
    ('There is no doubt that they show the same place.', MATCH),
    # matches phrased in several ways
    ('Both images depict the same neighborhood.', MATCH),
    ('The two images correspond to the same geographic location.', MATCH),
    ('The query image matches the satellite image.', MATCH),
    ('Overall, the images match.', MATCH),
    ('This is a clear match.', MATCH),
    ('They are very likely the same site.', MATCH),
    ('The answer is yes.', MATCH),
    ('The answer is no.', NO),
    # the final verdict wins over descriptive mentions
    (
        'At first glance they look like different areas. However, the road network and the '
        'river bend confirm that they are the same location.',
        MATCH,
    ),
    (
        'The road layout matches in part. However, the buildings and the park differ, so the '
        'images show different places.',
        NO,
    ),
    (
        'Although they look like different areas at first glance, the road network confirms '
        'they are the same location.',
        MATCH,
    ),
    (
        'They appear to show the same place at first, but the details indicate different '
        'locations.',
        NO,
    ),
    (
        'Therefore the images depict the same area, although the river in image 1 does not '
        'correspond exactly.',
        MATCH,
    ),
    # features are not verdicts
    (
        'The road layout matches. The buildings do not match. The images depict the same area.',
        MATCH,
    ),
    ('The images show the same place. The roof colours do not match because of lighting.', MATCH),
    (
        'The buildings differ in colour and the road network indicates that the two images do '
        'not correspond.',
        NO,
    ),
    ('The road layout in image 1 matches image 2.', UNP),
    ('Image 1 shows the same kind of residential area as image 2.', UNP),
    # questions, whether-clauses and undecided answers
    ('Do the two images show the same place?', UNP),
    ('To decide whether they show the same place, I compared the roads.', UNP),
    ('It is unclear whether they show the same place.', UNP),
    ('I cannot determine if these images depict the same area.', UNP),
    ('They may be the same area. However, it is impossible to tell with certainty.', UNP),
    ('It is hard to tell at first. But the roads confirm they depict the same area.', MATCH),
    # no verdict at all
    ('Image 1 shows a street with trees. Image 2 shows rooftops.', UNP),
    ('', UNP),
    ('   ', UNP),
    # more phrasings
    ('In conclusion, these two images are of the same location.', MATCH),
    ('Based on the analysis, the images likely represent different areas.', NO),
    ('The satellite image does not match the drone image.', NO),
    ('Both images feature a river, but they are not from the same location.', NO),
    ('There are no significant differences; the two images depict the same region.', MATCH),
    ('The locations are different.', NO),
    ('The location is the same in both images.', MATCH),
    ('The building locations are different.', UNP),
    ('Therefore, image 1 and image 2 show the same intersection.', MATCH),
    ('They correspond.', MATCH),
    ('The two images correspond to different locations.', NO),
    ('The query image is not the same location as the satellite image.', NO),
    ('They are not likely the same place.', NO),
    ('These images do not show the same location; the roads differ.', NO),
    # markdown and numbers
    ('**Verdict:** The images **depict the same area**.', MATCH),
    ('The tower is 3.5 m taller in image 2. The two images show different areas.', NO),
]

CHINESE = [
    (
        '图像1是一张无人机图像，显示一条南北向道路和三栋红色屋顶的建筑。图像2是卫星图像，道路网络和建筑布局一致。'
        '综上所述，两张图像是同一地点。',
        MATCH,
    ),
    (
        '图像1中有高楼和河流，图像2中是低矮的住宅和公园，道路布局也不同。'
        '因此，两张图像不是同一地点。',
        NO,
    ),
    ('这两张图像是同一地点。', MATCH),
    ('这两张图像属于同一区域。', MATCH),
    ('两张图像相匹配。', MATCH),
    ('图像1与图像2相互对应，描绘的是同一个街区。', MATCH),
    ('这两张图像不是同一地点。', NO),
    ('两张图像不匹配。', NO),
    ('图像1与图像2不对应。', NO),
    ('它们并非同一区域。', NO),
    ('两者不属于同一区域。', NO),
    ('这两张图像显示的是不同的地点。', NO),
    ('两张图像来自两个不同区域。', NO),
    ('二者并不相符。', NO),
    ('两张图像不太可能是同一地点。', NO),
    ('是的，这是同一地点。', MATCH),
    ('是', MATCH),
    ('否', NO),
    ('不是。', NO),
    # compounds that contain negation characters without negating
    ('无人机图像和卫星图像显示的是同一区域。', MATCH),
    ('这两张图像非常可能是同一地点。', MATCH),
    ('毫无疑问，两张图像是同一地点。', MATCH),
    ('不难看出，两张图像描绘的是同一个区域。', MATCH),
    # the final verdict wins; features are not verdicts
    ('乍看之下像是不同的区域，但道路和河流的走向表明两者是同一地点。', MATCH),
    ('道路布局相匹配，但建筑和绿地差异明显，因此两张图像不是同一地点。', NO),
    ('两张图像是同一地点。屋顶颜色不匹配是由于光照不同。', MATCH),
    ('道路布局与卫星图像相匹配。', UNP),
    # questions and undecided answers
    ('这两张图像是同一地点吗？', UNP),
    ('为了判断两者是否为同一地点，我比较了道路。', UNP),
    ('无法判断两者是否为同一地点。', UNP),
    ('图像1显示一条河流，图像2显示一片住宅区。', UNP),
    ('综上，两张图像描绘的是同一个区域。', MATCH),
    ('两幅图像所示地点不同。', NO),
    ('两者并不是同一个地方。', NO),
    ('两张图片显示的是同一地理位置。', MATCH),
    ('可以确定二者为同一地点。', MATCH),
    ('这两张图像不对应同一地点。', NO),
    ('两张图像中的位置相同。', MATCH),
    ('两张图像的地点并不相同。', NO),
    ('建筑的位置相同。', UNP),
    ('图像1和图像2有几处不同。', UNP),
    # an English answer to a Chinese prompt, and the reverse
    ('The two images depict the same area.', MATCH),
]

# Everyday short answers (issue 10.18): read them, still never guess.
EVERYDAY = [
    ("It's a match.", MATCH),
    ('It’s a match.', MATCH),
    ("That's a match!", MATCH),
    ('Match.', MATCH),
    ('Match', MATCH),
    ('**Match**', MATCH),
    ('Matched.', MATCH),
    ('匹配', MATCH),
    ('匹配。', MATCH),
    ('相匹配。', MATCH),
    ('是的。', MATCH),
    ('不匹配', NO),
    ('不匹配。', NO),
    ('No match.', NO),
    # a question followed by its answer
    ('Do the two images show the same place? No.', NO),
    ('Do the two images show the same place? Yes.', MATCH),
    ('Is it the same place? Yes, it is.', MATCH),
    ('Are they the same place? No, the roads differ.', NO),
    ('这两张图像是同一地点吗？是的。', MATCH),
    ('这两张图像是同一地点吗？不是。', NO),
    ('是同一地点吗？不是，道路布局不同。', NO),
    # tricky negatives
    ('not a match', NO),
    ('Not a match.', NO),
    ("It's not a match.", NO),
    ("It isn't a match.", NO),
    ('mismatch', NO),
    ('Mismatch.', NO),
    ("It's a mismatch.", NO),
    ('不是同一个地方', NO),
    ('不是同一个地方。', NO),
    ('They do not match.', NO),
    # ambiguous or contradictory: no guess
    ('Yes. No.', UNP),
    ('Match. Not a match.', UNP),
    ('匹配。不匹配。', UNP),
    ('Is it the same place? Yes and no.', UNP),
    ('Same place? Maybe.', UNP),
    ('Same place?', UNP),
    ('Same.', UNP),
    ('Different.', UNP),
    ('相同', UNP),
    ('不同', UNP),
    ('1.', UNP),
    ('The roads match.', UNP),
    ('道路布局匹配。', UNP),
]

STRUCTURED = [
    ('{"match": true}', MATCH),
    ('{"match": false, "reason": "different roads"}', NO),
    ('The images share a road.\n```json\n{"same_location": "no"}\n```', NO),
    ('{"verdict": "match"}', MATCH),
    ('{"是否匹配": "是"}', MATCH),
    ('{"answer": 0}', NO),
    ('Image 1 shows ... Image 2 shows ...\nAnswer: yes', MATCH),
    ('Image 1 shows ... Image 2 shows ...\nAnswer: No', NO),
    ('The images depict the same area.\nFinal answer: **No**', NO),
    ('Verdict: no match', NO),
    ('Conclusion: the two images show the same place.', MATCH),
    ('图像1显示……图像2显示……\n结论：不匹配', NO),
    ('答案：是', MATCH),
    # the last structured verdict wins
    ('Answer: yes\nOn reflection the roads differ.\nAnswer: no', NO),
]


@pytest.mark.parametrize('text,expected', ENGLISH, ids=[t[:40] for t, _ in ENGLISH])
def test_english(text, expected):
    assert parse_verdict(text, lang='en') == expected


@pytest.mark.parametrize('text,expected', CHINESE, ids=[t[:20] for t, _ in CHINESE])
def test_chinese(text, expected):
    assert parse_verdict(text, lang='zh') == expected


@pytest.mark.parametrize('text,expected', EVERYDAY, ids=[t[:30] for t, _ in EVERYDAY])
def test_everyday_short_answers(text, expected):
    assert parse_verdict(text) == expected


@pytest.mark.parametrize('text,expected', STRUCTURED, ids=[t[:30] for t, _ in STRUCTURED])
def test_structured(text, expected):
    assert parse_verdict(text) == expected
    assert parse_verdict(text, structured=True) == expected
    assert parse_structured_verdict(text) == expected


def test_structured_only_reads_no_free_text():
    text = 'The two images depict the same area.'
    assert parse_verdict(text) == MATCH
    assert parse_verdict(text, structured=True) == UNP
    assert parse_structured_verdict(text) == UNP
    # a broken JSON object is not a verdict either
    assert parse_verdict('{"match": tru', structured=True) == UNP


def test_lang_is_a_hint_only():
    # a model asked in Chinese sometimes answers in English (and the reverse)
    assert parse_verdict('They depict the same area.', lang='zh') == MATCH
    assert parse_verdict('两张图像是同一地点。', lang='en') == MATCH
    with pytest.raises(ValueError, match='lang'):
        parse_verdict('Yes', lang='fr')


def test_non_text_is_unparseable():
    assert parse_verdict(None) == UNP


@pytest.mark.parametrize('lang', ['en', 'zh'])
def test_label_only_answers_parse_back(lang):
    for label, sentence in LABEL_ANSWERS[lang].items():
        assert parse_verdict(sentence, lang=lang) == label
