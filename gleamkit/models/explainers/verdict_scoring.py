"""Verdicts as probabilities: the verdict words GLEAM-X is trained to write, and P(match).

A GLEAM-X answer ends in a verdict. Instead of reading it from generated text
(which fails when the model writes none), an explainer *scores* the verdict: the
log-probability the model gives each candidate verdict continuation at the
verdict position, summed over the candidate's tokens, then normalised over the
two classes::

    log P(class) = logsumexp over the class's candidates c of sum_t log p(c_t | context, c_<t)
    P(match)     = exp(log P(match)) / (exp(log P(match)) + exp(log P(no match)))

The candidates are the words the training data uses, taken from the constants
that write it (never retyped):

* label-only answers (``answer_mode='label'``): the first clause of the
  label answers of :data:`gleamkit.datasets.gleam_x.prompts.LABEL_ANSWERS`
  (``'Yes'`` / ``'No'``, ``'是的'`` / ``'不是'``), scored right after the
  generation prompt;
* explanations (``answer_mode='explanation'``): the closing verdict sentences of
  :data:`gleamkit.synthetic.captions.phrases.PHRASES` (``match`` / ``no_match``),
  scored after the explanation body. Where the model wrote one of them (or
  another closing sentence the verdict parser reads), that sentence is cut off
  and the candidates are scored in its place; where it wrote none (cut off,
  rambling), the candidates are appended after the text - the verdict cue.
"""

import math
import re
from typing import Dict, List, Optional, Sequence, Tuple

__all__ = [
    'verification_prompt',
    'verdict_candidates',
    'infer_answer_mode',
    'split_closing_verdict',
    'class_probability',
    'p_match_from_top_logprobs',
    'verdict_separator',
]


def _phrases():
    from gleamkit.synthetic.captions.phrases import PHRASES

    return PHRASES


def verdict_separator(lang: str) -> str:
    """What separates the explanation body from its closing sentence in the training
    data (the writer's ``paragraph_sep``: a space in English, nothing in Chinese)."""
    return _phrases()[lang]['paragraph_sep']


def verification_prompt(
    lang: str = 'en', answer_mode: str = 'explanation', view: str = 'uav'
) -> str:
    """The prompt the GLEAM-X configs train with (for callers without a dataset).

    Args:
        lang (str): ``'en'`` or ``'zh'``. Defaults to ``'en'``.
        answer_mode (str): ``'explanation'`` or ``'label'``. Defaults to
            ``'explanation'``.
        view (str): the query view named in the prompt (``'uav'``, ``'map'``,
            ``'panorama'``, ``'ground'``). Defaults to ``'uav'``.
    """
    from gleamkit.datasets.gleam_x.prompts import build_prompt

    return build_prompt(view, lang, answer_mode)


def _first_clause(sentence: str) -> str:
    return re.split(r'[,，。.]', sentence, maxsplit=1)[0].strip()


def verdict_candidates(lang: str, answer_mode: str) -> Dict[int, Tuple[str, ...]]:
    """``{1: match candidates, 0: no-match candidates}`` for ``lang`` and ``answer_mode``."""
    from gleamkit.datasets.gleam_x.prompts import ANSWER_MODES, LABEL_ANSWERS, LANGS

    if lang not in LANGS:
        raise ValueError(f'lang={lang!r}: expected one of {LANGS}')
    if answer_mode not in ANSWER_MODES:
        raise ValueError(f'answer_mode={answer_mode!r}: expected one of {ANSWER_MODES}')
    if answer_mode == 'label':
        return {k: (_first_clause(LABEL_ANSWERS[lang][k]),) for k in (1, 0)}
    phrases = _phrases()[lang]
    return {1: tuple(phrases['match']), 0: tuple(phrases['no_match'])}


def infer_answer_mode(prompt: str, lang: str) -> str:
    """``'label'`` when ``prompt`` is a label-only prompt of the training data, else
    ``'explanation'`` (the label prompts end with the "answer yes or no" request)."""
    from gleamkit.datasets.gleam_x.prompts import DEFAULT_PROMPTS

    label_tail = DEFAULT_PROMPTS['label'].get(lang if lang in ('en', 'zh') else 'en')
    tail = label_tail.rsplit('?' if lang != 'zh' else '？', 1)[-1].strip()
    return 'label' if tail and prompt.strip().endswith(tail) else 'explanation'


_SENTENCE_END = re.compile(r'(?<=[.!?。！？])\s*')


def split_closing_verdict(
    text: str, lang: str, candidates: Optional[Dict[int, Sequence[str]]] = None
) -> Tuple[str, bool]:
    """``(body, had_verdict)``: the explanation without its closing verdict sentence.

    The closing sentence is cut when it is one of the ``candidates`` (default: the
    explanation candidates of ``lang``) or a sentence :func:`parse_verdict` reads a
    verdict from; ``had_verdict`` says whether one was cut. The body is where the
    candidates are scored (followed by the language's separator).
    """
    from gleamkit.evaluation.explanation.verdict import UNPARSEABLE, parse_verdict

    text = (text or '').strip()
    if not text:
        return '', False
    candidates = candidates or verdict_candidates(lang, 'explanation')
    found = [(text.rfind(c), c) for cs in candidates.values() for c in cs if c in text]
    if found:
        pos, _ = max(found)
        return text[:pos].rstrip(), True
    pieces = [p for p in _SENTENCE_END.split(text) if p.strip()]
    if pieces and parse_verdict(pieces[-1], lang=lang) != UNPARSEABLE:
        return text[: text.rfind(pieces[-1])].rstrip(), True
    return text, False


def _logsumexp(values: Sequence[float]) -> float:
    top = max(values)
    if top == -math.inf:
        return -math.inf
    return top + math.log(sum(math.exp(v - top) for v in values))


def class_probability(match_logps: Sequence[float], no_match_logps: Sequence[float]) -> float:
    """P(match) from the summed log-probabilities of each class's candidates.

    ``log P(class) = logsumexp(candidate log-probs)``, then normalised over the two
    classes (a sigmoid of the difference). Both classes at ``-inf`` give 0.5.
    """
    a, b = _logsumexp(match_logps), _logsumexp(no_match_logps)
    if a == b == -math.inf:
        return 0.5
    if a == -math.inf:
        return 0.0
    if b == -math.inf:
        return 1.0
    return 1.0 / (1.0 + math.exp(b - a))


# ----------------------------------------------------------------- from an API's logprobs
def _norm(text: str) -> str:
    """Lower case, byte-level space marks as spaces, leading spaces/punctuation gone."""
    text = text.replace('Ġ', ' ').replace('▁', ' ').lower()
    return re.sub(r'^[^\w]+', '', text)


def _common_prefix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n].lower() == b[n].lower():
        n += 1
    return n


def p_match_from_top_logprobs(
    tokens: List[dict], candidates: Dict[int, Sequence[str]]
) -> Tuple[Optional[float], str]:
    """P(match) from an OpenAI-style ``logprobs.content`` list (no tokenizer at hand).

    ``tokens``: ``[{'token': str, 'logprob': float, 'top_logprobs': [{'token',
    'logprob'}, ...]}, ...]`` of the generated answer. The verdict position is
    found in the text the tokens spell: the **last** candidate the answer contains;
    the decisive token is the one where that candidate parts from the other
    class's candidates (``'Yes'`` / ``'No'``: the first token; ``'These consistent
    ...'`` / ``'These differences ...'``: the second word). Each alternative in
    that token's ``top_logprobs`` counts for the class whose candidates continue
    with it; P(match) is the normalised mass of the two classes there (exact up to
    the endpoint's ``top_logprobs`` cut-off; conditional on the sentence's shared
    start, e.g. ``'These'``).

    Returns ``(p_match, '')``, or ``(None, why)`` when the answer contains no
    candidate or no alternative at the decisive token is one.
    """
    texts = [str(t.get('token', '')) for t in tokens]
    starts, pos = [], 0
    for t in texts:
        starts.append(pos)
        pos += len(t)
    full = ''.join(texts)
    hits = [
        (full.lower().rfind(c.lower()), label, c)
        for label, cands in candidates.items()
        for c in cands
        if c.lower() in full.lower()
    ]
    if not hits:
        every = [c for cs in candidates.values() for c in cs]
        return None, f'the answer contains none of the verdict candidates {every[:4]}'
    at, label, _ = max(hits)
    written = full[at:]
    split = max(_common_prefix(c, written) for c in candidates[1 - label])
    index = max(i for i, s in enumerate(starts) if s <= at + split)
    head = full[at : starts[index]] if starts[index] > at else ''
    mass: Dict[int, List[float]] = {0: [], 1: []}
    alternatives = tokens[index].get('top_logprobs') or [
        dict(token=texts[index], logprob=tokens[index].get('logprob'))
    ]
    seen = set()
    for alt in alternatives:
        token, logprob = str(alt.get('token', '')), alt.get('logprob')
        if token in seen or logprob is None:
            continue
        seen.add(token)
        prefix = _norm(head + token).rstrip()
        if not prefix:
            continue
        labels = {
            k
            for k, cands in candidates.items()
            for c in cands
            if _norm(c).startswith(prefix) or prefix.startswith(_norm(c))
        }
        if len(labels) == 1:
            mass[labels.pop()].append(float(logprob))
    if not mass[0] and not mass[1]:
        return None, (
            f'no verdict candidate among the top_logprobs at the verdict token {texts[index]!r}'
        )
    return class_probability(mass[1] or [-math.inf], mass[0] or [-math.inf]), ''
