"""Convert GLEAM-X records to and from the VLM fine-tuning ecosystem's formats.

Three chat formats, one sample per (record, language), query image first:

* ``'messages'`` - LLaMA-Factory / ms-swift ShareGPT style::

      {"messages": [{"role": "user", "content": "<image><image>PROMPT"},
                    {"role": "assistant", "content": "ANSWER"}],
       "images": ["query.jpg", "satellite.jpg"]}

* ``'conversations'`` - LLaMA-Factory ShareGPT with ``from``/``value``::

      {"conversations": [{"from": "human", "value": "<image><image>PROMPT"},
                         {"from": "gpt", "value": "ANSWER"}],
       "images": ["query.jpg", "satellite.jpg"]}

* ``'qwen'`` - Qwen2.5-VL's official fine-tuning scripts::

      {"image": ["query.jpg", "satellite.jpg"],
       "conversations": [{"from": "human", "value": "<image>\\n<image>\\nPROMPT"},
                         {"from": "gpt", "value": "ANSWER"}]}

One ``<image>`` tag per image in the user turn, none in the answer. With
``with_meta=True`` a ``"meta"`` object (``id``, ``query_view``, ``label``,
``lang``, ``source``, and the record's ``revisions`` and ``meta`` as
``revisions`` / ``record_meta`` when it has them) makes the way back lossless:
exporting every language of a file in explanation mode and importing the
result gives the same records (the answer text is kept as is, not stripped).
The tools ignore ``meta`` (drop it if yours does not). Reading back, a sample
without ``meta`` gets its label from the answer's verdict
(:func:`~gleamkit.evaluation.explanation.parse_verdict`), its language from its
script and its id from its position.
"""

import json
import os
import os.path as osp
import re
from typing import Dict, Iterable, List, Mapping, Optional, Sequence

from .format import (
    GleamXFormatError,
    GleamXRecord,
    json_error_expected,
    label_to_name,
    read_jsonl,
    resolve_path,
    write_jsonl,
)
from .prompts import LANGS, build_prompt, label_answer

__all__ = [
    'CHAT_FORMATS',
    'IMAGE_TAG',
    'record_to_chat',
    'chat_to_record',
    'detect_chat_format',
    'detect_lang',
    'export_chat',
    'import_chat',
    'read_chat_file',
    'write_chat_file',
]

CHAT_FORMATS = ('messages', 'conversations', 'qwen')
IMAGE_TAG = '<image>'
_CJK = re.compile(r'[\u4e00-\u9fff]')


def detect_lang(text: str) -> str:
    """``'zh'`` when at least a tenth of the letters are Chinese characters, else ``'en'``."""
    letters = [c for c in text if c.isalpha()]
    cjk = sum(bool(_CJK.match(c)) for c in letters)
    return 'zh' if letters and cjk / len(letters) >= 0.1 else 'en'


def record_to_chat(
    record: GleamXRecord,
    fmt: str = 'messages',
    lang: str = 'en',
    answer_mode: str = 'explanation',
    prompts: Optional[Mapping[str, str]] = None,
    images: Optional[Sequence[str]] = None,
    system: Optional[str] = None,
    with_meta: bool = False,
) -> dict:
    """One chat sample of ``record`` in ``lang``.

    Args:
        record: the pair.
        fmt: ``'messages'``, ``'conversations'`` or ``'qwen'``.
        lang: ``'en'`` or ``'zh'``; the record must have an explanation in it
            when ``answer_mode='explanation'``.
        answer_mode: ``'explanation'`` (the answer is the explanation) or
            ``'label'`` (the label-only verdict sentence).
        prompts: per-language prompt templates overriding the defaults.
        images: the two image paths to write (default: the record's, as is).
        system: an optional system prompt.
        with_meta: add the ``"meta"`` object (see the module docstring).
    """
    if fmt not in CHAT_FORMATS:
        raise ValueError(f'fmt={fmt!r}: expected one of {CHAT_FORMATS}')
    if answer_mode == 'explanation' and not record.explanation.get(lang):
        raise ValueError(
            f'record {record.id!r} has no {lang!r} explanation (it has {record.langs})'
        )
    prompt = build_prompt(record.query_view, lang, answer_mode, prompts)
    answer = (
        record.explanation[lang]
        if answer_mode == 'explanation'
        else label_answer(record.label_id, lang)
    )
    if IMAGE_TAG in answer:
        raise ValueError(
            f'record {record.id!r}: the {lang!r} explanation contains an '
            f'{IMAGE_TAG!r} tag; answers must not carry image tags'
        )
    images = list(images) if images is not None else [record.query_image, record.satellite_image]
    if fmt == 'messages':
        turns = [
            dict(role='user', content=IMAGE_TAG * 2 + prompt),
            dict(role='assistant', content=answer),
        ]
        if system:
            turns.insert(0, dict(role='system', content=system))
        out = dict(messages=turns, images=images)
    elif fmt == 'conversations':
        turns = [
            {'from': 'human', 'value': IMAGE_TAG * 2 + prompt},
            {'from': 'gpt', 'value': answer},
        ]
        out = dict(conversations=turns, images=images)
        if system:
            out['system'] = system
    else:
        turns = [
            {'from': 'human', 'value': f'{IMAGE_TAG}\n{IMAGE_TAG}\n{prompt}'},
            {'from': 'gpt', 'value': answer},
        ]
        if system:
            turns.insert(0, {'from': 'system', 'value': system})
        out = dict(image=images, conversations=turns)
    if with_meta:
        meta = dict(
            id=record.id,
            query_view=record.query_view,
            label=record.label,
            lang=lang,
            source=record.source,
        )
        if record.revisions:
            meta['revisions'] = [dict(r) for r in record.revisions]
        if record.meta:
            meta['record_meta'] = dict(record.meta)
        out['meta'] = meta
    return out


def detect_chat_format(sample: dict) -> str:
    """``'messages'``, ``'conversations'`` or ``'qwen'`` from a sample's keys."""
    if isinstance(sample, dict):
        if 'messages' in sample:
            return 'messages'
        if 'conversations' in sample and 'image' in sample:
            return 'qwen'
        if 'conversations' in sample:
            return 'conversations'
    raise ValueError(
        'not a chat sample: expected a "messages" list (LLaMA-Factory/ms-swift) '
        'or a "conversations" list (LLaMA-Factory ShareGPT, Qwen), got keys '
        f'{sorted(sample) if isinstance(sample, dict) else type(sample).__name__}'
    )


_ROLE_USER = {'user', 'human'}
_ROLE_ASSISTANT = {'assistant', 'gpt'}


def chat_to_record(
    sample: dict,
    *,
    index: int = 0,
    id_prefix: str = 'sample',
    view: str = 'unknown',
    source: str = 'import',
    file: Optional[str] = None,
    line: Optional[int] = None,
) -> GleamXRecord:
    """A record from one chat sample (its first user turn and the reply).

    ``meta`` in the sample wins over ``view``/``source``; without it the label
    is read from the answer (an unreadable verdict is an error), the id is
    ``f'{id_prefix}-{index:06d}'``.
    """

    def err(expected, key=None, got=None, show_got=True):
        return GleamXFormatError(
            expected, key=key, got=got, file=file, line=line, show_got=show_got
        )

    fmt = detect_chat_format(sample)
    turns = sample['messages'] if fmt == 'messages' else sample['conversations']
    key_turns = 'messages' if fmt == 'messages' else 'conversations'
    role_key, text_key = ('role', 'content') if fmt == 'messages' else ('from', 'value')
    if not isinstance(turns, list):
        raise err('a list of turns', key=key_turns, got=turns)
    user = assistant = None
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict) or role_key not in turn or text_key not in turn:
            raise err(
                f'a turn with {role_key!r} and {text_key!r}', key=f'{key_turns}[{i}]', got=turn
            )
        if user is None and turn[role_key] in _ROLE_USER:
            user = turn[text_key]
        elif user is not None and turn[role_key] in _ROLE_ASSISTANT:
            assistant = turn[text_key]
            break
    if user is None or assistant is None:
        raise err(
            f'a user turn followed by an assistant turn ({role_key!r} in '
            f'{sorted(_ROLE_USER)} then {sorted(_ROLE_ASSISTANT)})',
            key=key_turns,
            show_got=False,
        )
    image_key = 'image' if fmt == 'qwen' else 'images'
    images = sample.get(image_key)
    if isinstance(images, str):
        images = [images]
    if (
        not isinstance(images, list)
        or len(images) != 2
        or not all(isinstance(p, str) and p for p in images)
    ):
        raise err('two image paths [query, satellite]', key=image_key, got=images)
    if not isinstance(user, str) or user.count(IMAGE_TAG) != 2:
        raise err(
            f'exactly two {IMAGE_TAG!r} tags in the user turn (one per image)',
            key=key_turns,
            got=user,
        )
    if not isinstance(assistant, str) or IMAGE_TAG in assistant:
        raise err(f'an answer without {IMAGE_TAG!r} tags', key=key_turns, got=assistant)
    meta = sample.get('meta') or {}
    if not isinstance(meta, dict):
        raise err(
            'an object (id, query_view, label, lang, source, revisions, record_meta)',
            key='meta',
            got=meta,
        )
    lang = meta.get('lang') or detect_lang(assistant)
    label = meta.get('label')
    if label is None:
        from gleamkit.evaluation.explanation.verdict import parse_verdict

        verdict = parse_verdict(assistant, lang=lang)
        if verdict == -1:
            raise err(
                'an answer whose verdict can be read (no "meta.label" given)',
                key=key_turns,
                got=assistant,
            )
        label = verdict
    record = dict(
        id=str(meta.get('id') or f'{id_prefix}-{index:06d}'),
        query_image=images[0],
        satellite_image=images[1],
        query_view=meta.get('query_view') or view,
        label=label_to_name(label),
        # with meta the text is ours, kept byte for byte (lossless round trip)
        explanation={lang: assistant if meta else assistant.strip()},
        source=meta.get('source') or source,
    )
    if meta.get('revisions'):
        record['revisions'] = meta['revisions']
    if meta.get('record_meta'):
        record['meta'] = meta['record_meta']
    return GleamXRecord.from_dict(record, file=file, line=line)


# ----------------------------------------------------------------------------- files
def read_chat_file(path: str) -> List[dict]:
    """The samples of a ``.json`` (list) or ``.jsonl`` chat file."""
    with open(path, encoding='utf-8-sig') as f:  # a byte-order mark is dropped
        text = f.read()
    if path.endswith('.json'):
        data = json.loads(text)
        if not isinstance(data, list):
            raise GleamXFormatError('a JSON list of samples', file=path, got=type(data).__name__)
        return data
    samples = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                samples.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise GleamXFormatError(
                    json_error_expected(e), file=path, line=lineno, show_got=False
                ) from e
    return samples


def write_chat_file(samples: Sequence[dict], path: str) -> None:
    """Write samples as a JSON list (``.json``) or one per line (``.jsonl``)."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        if path.endswith('.json'):
            json.dump(list(samples), f, ensure_ascii=False, indent=1)
        else:
            f.writelines(json.dumps(s, ensure_ascii=False) + '\n' for s in samples)


def export_chat(
    records,
    out_path: str,
    fmt: str = 'messages',
    langs: Sequence[str] = LANGS,
    answer_mode: str = 'explanation',
    prompts: Optional[Mapping[str, str]] = None,
    base_dir: Optional[str] = None,
    path_mode: str = 'relative',
    system: Optional[str] = None,
    with_meta: bool = False,
) -> int:
    """Write a GLEAM-X file (or records) as an ecosystem chat file.

    Args:
        records: a GLEAM-X JSONL path or an iterable of records.
        out_path: ``.jsonl`` (one sample per line) or ``.json`` (a list; what
            LLaMA-Factory's and Qwen's examples use).
        fmt, answer_mode, prompts, system, with_meta: see :func:`record_to_chat`.
        langs: languages to export; a record gets one sample per language it
            has (in label mode: per language asked for).
        base_dir: where the records' relative image paths start (default: the
            JSONL's folder, or the current directory for records).
        path_mode: ``'relative'`` (image paths relative to ``out_path``'s
            folder: LLaMA-Factory's ``media_dir`` default when the file sits in
            its ``dataset_dir``) or ``'absolute'``.

    Returns the number of samples written.
    """
    if path_mode not in ('relative', 'absolute'):
        raise ValueError(f"path_mode={path_mode!r}: expected 'relative' or 'absolute'")
    langs = _iter_langs(langs)
    if isinstance(records, str):
        base_dir = base_dir or osp.dirname(osp.abspath(records))
        records = read_jsonl(records)
    base_dir = base_dir or os.getcwd()
    out_dir = osp.dirname(osp.abspath(out_path))
    samples = []
    for rec in records:
        images = [
            osp.abspath(resolve_path(p, base_dir)) for p in (rec.query_image, rec.satellite_image)
        ]
        if path_mode == 'relative':
            images = [osp.relpath(p, out_dir) for p in images]
        for lang in langs:
            if answer_mode == 'explanation' and not rec.explanation.get(lang):
                continue
            samples.append(
                record_to_chat(rec, fmt, lang, answer_mode, prompts, images, system, with_meta)
            )
    write_chat_file(samples, out_path)
    return len(samples)


def import_chat(
    path: str,
    view: str = 'unknown',
    source: str = 'import',
    id_prefix: Optional[str] = None,
    out_path: Optional[str] = None,
    path_mode: str = 'relative',
) -> List[GleamXRecord]:
    """Read an ecosystem chat file (format detected per sample) into records.

    Samples with the same ``meta.id`` (one per language) merge into one record.
    Image paths are made relative to ``out_path``'s folder when given
    (``path_mode='relative'``), else kept as written. With ``out_path`` the
    records are also written there as GLEAM-X JSONL.
    """
    samples = read_chat_file(path)
    id_prefix = id_prefix or osp.splitext(osp.basename(path))[0]
    src_dir = osp.dirname(osp.abspath(path))
    merged: Dict[str, GleamXRecord] = {}
    for i, sample in enumerate(samples):
        line = i + 1 if not path.endswith('.json') else None
        rec = chat_to_record(
            sample,
            index=i,
            id_prefix=id_prefix,
            view=view,
            source=source,
            file=path if line else f'{path}[{i}]',
            line=line,
        )
        if out_path is not None:
            out_dir = osp.dirname(osp.abspath(out_path))
            paths = [
                osp.abspath(resolve_path(p, src_dir))
                for p in (rec.query_image, rec.satellite_image)
            ]
            if path_mode == 'relative':
                paths = [osp.relpath(p, out_dir) for p in paths]
            rec.query_image, rec.satellite_image = paths
        if rec.id in merged:
            old = merged[rec.id]
            clash = [lang for lang in rec.explanation if lang in old.explanation]
            if clash or (old.label, old.source, old.revisions, old.meta) != (
                rec.label,
                rec.source,
                rec.revisions,
                rec.meta,
            ):
                raise GleamXFormatError(
                    f'one sample per language of id {rec.id!r}, all with the same label, '
                    'source, revisions and record_meta',
                    key='meta.id',
                    got=rec.id,
                    file=path,
                    line=line,
                )
            old.explanation.update(rec.explanation)
        else:
            merged[rec.id] = rec
    records = list(merged.values())
    if out_path is not None:
        write_jsonl(records, out_path)
    return records


def _iter_langs(langs: Iterable[str]) -> List[str]:
    out = list(langs)
    bad = [lang for lang in out if lang not in LANGS]
    if bad:
        raise ValueError(f'langs {bad}: expected among {LANGS}')
    return out
