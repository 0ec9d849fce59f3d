"""The GLEAM-X JSONL format: one (query, satellite) pair with its label and
explanations per line. ``docs/gleam_x_data.md`` documents it with a full example.

Keys of a record (a JSON object on one line):

* ``id`` (str, unique in the file);
* ``query_image``, ``satellite_image`` (str): image paths, relative to the JSONL
  file's folder unless absolute;
* ``query_view`` (str): ``'uav'``, ``'map'``, ``'panorama'``, ``'ground'`` (any
  lower-case identifier is accepted, for new views);
* ``label`` (str): ``'match'`` or ``'no_match'``;
* ``explanation`` (object): ``{"en": str, "zh": str}``, at least one language;
* ``source`` (str): who wrote the explanation (``'gpt-4o'``,
  ``'doubao-1.5-thinking-vision-pro'``, ``'human:<annotator>'``,
  ``'synthetic:gleamkit-world'``, ...);
* ``revisions`` (list, optional): earlier versions, oldest first, each
  ``{"explanation", "label", "source", "replaced_by", "replaced_at"}``;
* ``meta`` (object, optional): anything else (dataset, location ids, GPS, ...).

Any other key is an error (a typo would otherwise silently drop data); errors
name the file, the line, the key and what was expected.
"""

import json
import os
import os.path as osp
import re
import tempfile
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional

from gleamkit.structures.vocabulary import QUERY_VIEWS

from .prompts import LANGS

__all__ = [
    'GleamXFormatError',
    'GleamXRecord',
    'LABEL_NAMES',
    'KNOWN_VIEWS',
    'RECORD_KEYS',
    'label_to_int',
    'label_to_name',
    'json_error_expected',
    'read_jsonl',
    'write_jsonl',
    'resolve_path',
]

LABEL_NAMES = {1: 'match', 0: 'no_match'}
_LABEL_IDS = {v: k for k, v in LABEL_NAMES.items()}
#: views named in errors (records may carry any lower-case view name)
KNOWN_VIEWS = QUERY_VIEWS
REQUIRED_KEYS = (
    'id',
    'query_image',
    'satellite_image',
    'query_view',
    'label',
    'explanation',
    'source',
)
OPTIONAL_KEYS = ('revisions', 'meta')
RECORD_KEYS = REQUIRED_KEYS + OPTIONAL_KEYS
REVISION_KEYS = ('explanation', 'label', 'source', 'replaced_by', 'replaced_at')
_VIEW_RE = re.compile(r'^[a-z][a-z0-9_]*$')


class GleamXFormatError(ValueError):
    """A record that does not follow the GLEAM-X JSONL format.

    Attributes ``file``, ``line`` (1-based), ``key`` and ``expected`` say where
    and what; the message reads ``file:line: key 'k': expected ..., got ...``.
    """

    def __init__(
        self,
        expected: str,
        *,
        key: Optional[str] = None,
        got: Any = None,
        file: Optional[str] = None,
        line: Optional[int] = None,
        show_got: bool = True,
    ):
        self.file, self.line, self.key, self.expected = file, line, key, expected
        where = ':'.join(str(p) for p in (file, line) if p is not None)
        parts = [f'{where}: ' if where else '']
        if key is not None:
            parts.append(f'key {key!r}: ')
        parts.append(f'expected {expected}')
        if show_got:
            text = repr(got)
            parts.append(f', got {text[:120] + "..." if len(text) > 120 else text}')
        super().__init__(''.join(parts))


def json_error_expected(err: json.JSONDecodeError) -> str:
    """What a JSONL reader expected, from a decode error (message and column)."""
    # json's messages may end in 'at' ('Unterminated string starting at'): no 'at at'
    return f'one JSON object per line ({err.msg}: column {err.colno})'


def label_to_int(label: Any) -> int:
    """``'match'`` -> 1, ``'no_match'`` -> 0 (ints 1/0 pass through)."""
    if isinstance(label, bool):
        return int(label)
    if label in (0, 1):
        return int(label)
    if label in _LABEL_IDS:
        return _LABEL_IDS[label]
    raise ValueError(f"label {label!r}: expected 'match' or 'no_match'")


def label_to_name(label: Any) -> str:
    return LABEL_NAMES[label_to_int(label)]


def _check_explanation(value: Any, key: str, err) -> Dict[str, str]:
    if not isinstance(value, dict) or not value:
        raise err(
            f'an object {{"en": str, "zh": str}} with at least one of {LANGS}', key=key, got=value
        )
    for lang, text in value.items():
        if lang not in LANGS:
            raise err(f'language keys among {LANGS}', key=f'{key}.{lang}', got=lang)
        if not isinstance(text, str) or not text.strip():
            raise err('a non-empty string', key=f'{key}.{lang}', got=text)
    return {lang: value[lang] for lang in LANGS if lang in value}


@dataclass
class GleamXRecord:
    """One line of a GLEAM-X JSONL file (see the module docstring)."""

    id: str
    query_image: str
    satellite_image: str
    query_view: str
    label: str
    explanation: Dict[str, str]
    source: str
    revisions: List[dict] = field(default_factory=list)
    meta: Dict[str, Any] = field(default_factory=dict)
    #: 1-based line in the file it was read from (not part of the record's data)
    line: Optional[int] = field(default=None, repr=False, compare=False)

    @property
    def label_id(self) -> int:
        """``1`` for ``'match'``, ``0`` for ``'no_match'``."""
        return _LABEL_IDS[self.label]

    @property
    def langs(self) -> List[str]:
        return [lang for lang in LANGS if self.explanation.get(lang)]

    def to_dict(self) -> dict:
        out = dict(
            id=self.id,
            query_image=self.query_image,
            satellite_image=self.satellite_image,
            query_view=self.query_view,
            label=self.label,
            explanation=dict(self.explanation),
            source=self.source,
        )
        if self.revisions:
            out['revisions'] = [dict(r) for r in self.revisions]
        if self.meta:
            out['meta'] = dict(self.meta)
        return out

    @classmethod
    def from_dict(
        cls, obj: Any, file: Optional[str] = None, line: Optional[int] = None
    ) -> 'GleamXRecord':
        """Validate ``obj`` and build a record; errors name ``file:line`` and the key."""

        def err(expected, key=None, got=None, show_got=True):
            return GleamXFormatError(
                expected, key=key, got=got, file=file, line=line, show_got=show_got
            )

        if not isinstance(obj, dict):
            raise err('a JSON object (one record per line)', got=obj)
        unknown = [k for k in obj if k not in RECORD_KEYS]
        if unknown:
            raise err(
                f'only the keys {list(RECORD_KEYS)} (put extra fields under "meta")',
                key=unknown[0],
                show_got=False,
            )
        for key in REQUIRED_KEYS:
            if key not in obj:
                raise err(
                    'to be present (required keys: ' + ', '.join(REQUIRED_KEYS) + ')',
                    key=key,
                    show_got=False,
                )
        for key in ('id', 'query_image', 'satellite_image', 'source'):
            if not isinstance(obj[key], str) or not obj[key].strip():
                raise err('a non-empty string', key=key, got=obj[key])
        view = obj['query_view']
        if not isinstance(view, str) or not _VIEW_RE.match(view):
            raise err(
                f'a lower-case view name such as {", ".join(map(repr, KNOWN_VIEWS))}',
                key='query_view',
                got=view,
            )
        if obj['label'] not in _LABEL_IDS:
            raise err("'match' or 'no_match'", key='label', got=obj['label'])
        explanation = _check_explanation(obj['explanation'], 'explanation', err)
        revisions = obj.get('revisions', [])
        if not isinstance(revisions, list):
            raise err('a list of earlier versions', key='revisions', got=revisions)
        for i, rev in enumerate(revisions):
            key = f'revisions[{i}]'
            if not isinstance(rev, dict):
                raise err(f'an object with keys {list(REVISION_KEYS)}', key=key, got=rev)
            extra = [k for k in rev if k not in REVISION_KEYS]
            if extra:
                raise err(
                    f'only the keys {list(REVISION_KEYS)}', key=f'{key}.{extra[0]}', show_got=False
                )
            if 'explanation' not in rev or 'source' not in rev:
                raise err('"explanation" and "source" in every revision', key=key, got=rev)
            _check_explanation(rev['explanation'], f'{key}.explanation', err)
            if 'label' in rev and rev['label'] not in _LABEL_IDS:
                raise err("'match' or 'no_match'", key=f'{key}.label', got=rev['label'])
            for k in ('source', 'replaced_by', 'replaced_at'):
                if k in rev and not isinstance(rev[k], str):
                    raise err('a string', key=f'{key}.{k}', got=rev[k])
        meta = obj.get('meta', {})
        if not isinstance(meta, dict):
            raise err('an object', key='meta', got=meta)
        return cls(
            id=obj['id'],
            query_image=obj['query_image'],
            satellite_image=obj['satellite_image'],
            query_view=view,
            label=obj['label'],
            explanation=explanation,
            source=obj['source'],
            revisions=[dict(r) for r in revisions],
            meta=dict(meta),
            line=line,
        )

    def revised(
        self,
        *,
        source: str,
        explanation: Optional[Dict[str, str]] = None,
        label: Optional[str] = None,
        replaced_at: Optional[str] = None,
    ) -> 'GleamXRecord':
        """A copy with a new explanation/label/source; this version goes to ``revisions``.

        Languages missing from ``explanation`` keep their current text.
        """
        history = dict(
            explanation=dict(self.explanation),
            label=self.label,
            source=self.source,
            replaced_by=source,
        )
        if replaced_at is not None:
            history['replaced_at'] = replaced_at
        new_expl = dict(self.explanation)
        new_expl.update({k: v for k, v in (explanation or {}).items() if v and v.strip()})
        new = GleamXRecord(
            id=self.id,
            query_image=self.query_image,
            satellite_image=self.satellite_image,
            query_view=self.query_view,
            label=label_to_name(label) if label is not None else self.label,
            explanation=new_expl,
            source=source,
            revisions=[dict(r) for r in self.revisions] + [history],
            meta=dict(self.meta),
        )
        return GleamXRecord.from_dict(new.to_dict())  # re-validate


def read_jsonl(path: str) -> List[GleamXRecord]:
    """Read and validate a GLEAM-X JSONL file (blank lines are skipped).

    Raises :class:`GleamXFormatError` naming the file, line and key of the first
    problem (invalid JSON, missing/unknown key, wrong value, duplicate id).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'GLEAM-X annotation file not found: {path!r}')
    records: List[GleamXRecord] = []
    first_line: Dict[str, int] = {}
    # utf-8-sig: drops a byte-order mark at the start, reads plain UTF-8 the same
    with open(path, encoding='utf-8-sig') as f:
        for lineno, text in enumerate(f, start=1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as e:
                raise GleamXFormatError(
                    json_error_expected(e), file=path, line=lineno, show_got=False
                ) from e
            record = GleamXRecord.from_dict(obj, file=path, line=lineno)
            if record.id in first_line:
                raise GleamXFormatError(
                    f'unique ids (also on line {first_line[record.id]})',
                    key='id',
                    got=record.id,
                    file=path,
                    line=lineno,
                )
            first_line[record.id] = lineno
            records.append(record)
    return records


def write_jsonl(records: Iterable[Any], path: str) -> int:
    """Write records (``GleamXRecord`` or dicts, validated) as UTF-8 JSONL.

    The file is replaced atomically; Chinese is written as is (not ``\\u``
    escaped). Returns the number of records written.
    """
    lines, seen = [], set()
    for i, rec in enumerate(records):
        if not isinstance(rec, GleamXRecord):
            rec = GleamXRecord.from_dict(rec, file=f'<record {i}>')
        if rec.id in seen:
            raise GleamXFormatError('unique ids', key='id', got=rec.id, file=f'<record {i}>')
        seen.add(rec.id)
        lines.append(json.dumps(rec.to_dict(), ensure_ascii=False))
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.tmp-', suffix='.jsonl')
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            f.write(''.join(line + '\n' for line in lines))
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    return len(lines)


def resolve_path(path: str, base_dir: Optional[str]) -> str:
    """A record's image path, made absolute against ``base_dir`` when relative."""
    path = osp.expanduser(path)
    if osp.isabs(path) or not base_dir:
        return path
    return osp.normpath(osp.join(base_dir, path))
