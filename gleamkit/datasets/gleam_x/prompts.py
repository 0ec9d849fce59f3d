"""Default prompts and label-only answers of GLEAM-X, in English and Chinese.

A prompt template is a ``str.format`` string that may use ``{view}`` (the query
view's name in the prompt's language, e.g. ``'UAV (drone)'`` / ``'无人机'``) and
``{view_id}`` (the raw view key, e.g. ``'uav'``). Prompts carry no ``<image>``
tags: the model (or the converter to an ecosystem format) puts the image
placeholders in front of the text, query image first.
"""

from typing import Dict, Mapping, Optional

__all__ = [
    'LANGS',
    'ANSWER_MODES',
    'VIEW_NAMES',
    'DEFAULT_PROMPTS',
    'LABEL_ANSWERS',
    'view_name',
    'build_prompt',
    'label_answer',
    'resolve_prompts',
]

LANGS = ('en', 'zh')
ANSWER_MODES = ('explanation', 'label')

VIEW_NAMES: Dict[str, Dict[str, str]] = {
    'en': {
        'uav': 'UAV (drone)',
        'map': 'street map',
        'panorama': 'street-level panorama',
        'ground': 'ground-level',
        'satellite': 'satellite',
    },
    'zh': {
        'uav': '无人机',
        'map': '街道地图',
        'panorama': '街景全景',
        'ground': '地面拍摄的',
        'satellite': '卫星',
    },
}

DEFAULT_PROMPTS: Dict[str, Dict[str, str]] = {
    'explanation': {
        'en': (
            'Image 1 is a {view} image and image 2 is a satellite image. Do the two images '
            'show the same place? Describe image 1, then image 2, compare their road layout, '
            'buildings, green space and water, and end with your verdict: whether they '
            'depict the same area.'
        ),
        'zh': (
            '图像1是一张{view}图像，图像2是一张卫星图像。'
            '这两张图像是否为同一地点？请先描述图像1，再描述图像2，'
            '比较它们的道路布局、建筑、绿地和水体，最后给出结论：它们是否为同一地点。'
        ),
    },
    'label': {
        'en': (
            'Image 1 is a {view} image and image 2 is a satellite image. Do the two images '
            'show the same place? Answer yes or no in one sentence.'
        ),
        'zh': (
            '图像1是一张{view}图像，图像2是一张卫星图像。'
            '这两张图像是否为同一地点？请用一句话回答是或否。'
        ),
    },
}

#: The label-only target answers (the paper's label-only baseline); the verdict
#: parser reads them back (tested).
LABEL_ANSWERS: Dict[str, Dict[int, str]] = {
    'en': {
        1: 'Yes, the two images show the same place.',
        0: 'No, the two images do not show the same place.',
    },
    'zh': {1: '是的，这两张图像是同一地点。', 0: '不是，这两张图像不是同一地点。'},
}


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise ValueError(f'lang={lang!r}: expected one of {LANGS}')


def view_name(view: str, lang: str) -> str:
    """The query view's name in ``lang`` (the raw key for views not listed)."""
    _check_lang(lang)
    return VIEW_NAMES[lang].get(view, view)


def resolve_prompts(
    answer_mode: str = 'explanation', prompts: Optional[Mapping[str, str]] = None
) -> Dict[str, str]:
    """The templates of ``answer_mode``, overridden per language by ``prompts``."""
    if answer_mode not in ANSWER_MODES:
        raise ValueError(f'answer_mode={answer_mode!r}: expected one of {ANSWER_MODES}')
    out = dict(DEFAULT_PROMPTS[answer_mode])
    for lang, template in (prompts or {}).items():
        _check_lang(lang)
        if not isinstance(template, str) or not template.strip():
            raise ValueError(
                f'prompts[{lang!r}]: expected a non-empty template string, got {template!r}'
            )
        if '<image>' in template:
            raise ValueError(
                f'prompts[{lang!r}] contains an "<image>" tag; prompts carry text '
                'only (the model adds the image placeholders)'
            )
        out[lang] = template
    return out


def build_prompt(
    view: str,
    lang: str,
    answer_mode: str = 'explanation',
    prompts: Optional[Mapping[str, str]] = None,
) -> str:
    """The user text for a pair whose query view is ``view``."""
    template = resolve_prompts(answer_mode, prompts)[lang]
    try:
        return template.format(view=view_name(view, lang), view_id=view)
    except (KeyError, IndexError, ValueError) as err:
        raise ValueError(
            f'prompt template for {lang!r} cannot be filled ({err!r}); it may use '
            f'only {{view}} and {{view_id}} (write literal braces as {{{{ }}}}): '
            f'{template!r}'
        ) from err


def label_answer(label: int, lang: str) -> str:
    """The label-only answer sentence for ``label`` (1 match, 0 no match)."""
    _check_lang(lang)
    if label not in (0, 1):
        raise ValueError(f'label={label!r}: expected 1 (match) or 0 (no match)')
    return LABEL_ANSWERS[lang][int(label)]
