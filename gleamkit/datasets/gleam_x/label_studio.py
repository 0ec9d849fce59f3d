"""Human revision of GLEAM-X explanations in Label Studio, and back.

Round trip:

1. :func:`label_studio_config` - the labeling interface (XML): both images, the
   query view, one ``TextArea`` per language pre-filled with the explanation
   and a ``Choices`` control for the label. Paste it into the project's
   "Labeling Interface".
2. :func:`to_label_studio_tasks` - one task per record: ``data`` (image URLs,
   the record id and view, and the whole record for the way back) and
   ``predictions`` (the current explanation and label, ``model_version`` = the
   record's ``source``). Import the JSON file in the project.
3. Annotators edit the text / label and submit.
4. Export the project as "JSON" and :func:`from_label_studio` turns every task
   with a submitted annotation into a revised record: the annotation's text is
   the new explanation, its label the new label, ``source`` becomes
   ``'human:<annotator>'`` and the previous version is appended to
   ``revisions``. A submitted annotation counts as a revision even when the
   text was accepted unchanged (an expert vouched for it). Tasks without a
   submitted (non-cancelled) annotation come back unchanged.

Label Studio's JSON export holds only the *annotated* tasks unless all tasks are
asked for (``GET /api/projects/<id>/export?exportType=JSON&download_all_tasks=true``).
Each task carries ``data.set_size`` (how many tasks were made together), so
:func:`from_label_studio` warns when an export holds fewer, and its
``original=`` argument (the JSONL the tasks were made from) fills the missing
records in unchanged.

The images are shown through Label Studio's local-files storage: start it with
``LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true`` and
``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=<document_root>``, and add a "Local
files" source storage whose absolute path contains the images (saved, not
synced) to the project; ``docs/gleam_x_data.md`` has the steps.
"""

import json
import os.path as osp
import warnings
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union
from urllib.parse import quote

from .format import LABEL_NAMES, GleamXFormatError, GleamXRecord, read_jsonl, resolve_path
from .prompts import LANGS

__all__ = [
    'label_studio_config',
    'to_label_studio_tasks',
    'from_label_studio',
    'LOCAL_FILES_PREFIX',
]

#: Label Studio serves files under ``LOCAL_FILES_DOCUMENT_ROOT`` at this URL.
LOCAL_FILES_PREFIX = '/data/local-files/?d='
_LANG_TITLES = {'en': 'Explanation (English)', 'zh': 'Explanation (Chinese / 中文)'}


def _text_name(lang: str) -> str:
    return f'explanation_{lang}'


def label_studio_config(langs: Sequence[str] = LANGS) -> str:
    """The labeling-interface XML for the tasks of :func:`to_label_studio_tasks`."""
    areas = '\n'.join(
        f'  <Header value="{_LANG_TITLES[lang]}"/>\n'
        f'  <TextArea name="{_text_name(lang)}" toName="query_image" editable="true" '
        f'maxSubmissions="1" rows="8" showSubmitButton="false"/>'
        for lang in langs
    )
    choices = '\n'.join(f'    <Choice value="{v}"/>' for v in LABEL_NAMES.values())
    return (
        '<View>\n'
        '  <Header value="$record_id"/>\n'
        '  <Text name="query_view" value="$query_view"/>\n'
        '  <View style="display: flex; gap: 8px">\n'
        '    <Image name="query_image" value="$query_image" maxWidth="480px"/>\n'
        '    <Image name="satellite_image" value="$satellite_image" maxWidth="480px"/>\n'
        '  </View>\n'
        '  <Header value="Same place?"/>\n'
        '  <Choices name="label" toName="query_image" choice="single" required="true">\n'
        f'{choices}\n'
        '  </Choices>\n'
        f'{areas}\n'
        '</View>\n'
    )


def _local_files_url(document_root: Optional[str]) -> Callable[[str], str]:
    def url(path: str) -> str:
        rel = osp.relpath(path, document_root) if document_root else path.lstrip('/')
        return LOCAL_FILES_PREFIX + quote(rel.replace(osp.sep, '/'))

    return url


def to_label_studio_tasks(
    records: Union[str, Sequence[GleamXRecord]],
    langs: Optional[Sequence[str]] = None,
    base_dir: Optional[str] = None,
    document_root: Optional[str] = None,
    image_url: Optional[Callable[[str], str]] = None,
    out_path: Optional[str] = None,
) -> List[dict]:
    """Label Studio tasks (with predictions) for human revision.

    Args:
        records: a GLEAM-X JSONL path or records.
        langs: the languages to show (default: those any record has).
        base_dir: where relative image paths start (default: the JSONL's folder).
        document_root: Label Studio's ``LOCAL_FILES_DOCUMENT_ROOT``: image URLs
            become ``/data/local-files/?d=<path relative to it>``.
        image_url: a function ``abs_path -> URL`` instead (e.g. an S3 or HTTP
            server of your images).
        out_path: also write the tasks there as a JSON list.
    """
    if isinstance(records, str):
        base_dir = base_dir or osp.dirname(osp.abspath(records))
        records = read_jsonl(records)
    records = list(records)
    if langs is None:
        langs = [lang for lang in LANGS if any(lang in r.explanation for r in records)]
    url = image_url or _local_files_url(document_root)
    tasks = []
    for rec in records:
        paths = [
            osp.abspath(resolve_path(p, base_dir)) for p in (rec.query_image, rec.satellite_image)
        ]
        result = [
            dict(
                from_name='label',
                to_name='query_image',
                type='choices',
                value=dict(choices=[rec.label]),
            )
        ]
        for lang in langs:
            if rec.explanation.get(lang):
                result.append(
                    dict(
                        from_name=_text_name(lang),
                        to_name='query_image',
                        type='textarea',
                        value=dict(text=[rec.explanation[lang]]),
                    )
                )
        tasks.append(
            dict(
                data=dict(
                    query_image=url(paths[0]),
                    satellite_image=url(paths[1]),
                    record_id=rec.id,
                    query_view=rec.query_view,
                    record=rec.to_dict(),
                    set_size=len(records),
                ),
                predictions=[dict(model_version=rec.source, result=result)],
            )
        )
    if out_path is not None:
        with open(out_path, 'w', encoding='utf-8') as f:
            json.dump(tasks, f, ensure_ascii=False, indent=1)
    return tasks


def _annotator(annotation: dict, names: Mapping[Any, str]) -> str:
    who = annotation.get('completed_by')
    if isinstance(who, dict):
        key = who.get('id')
        name = names.get(key) or who.get('email') or who.get('username') or key
    else:
        name = names.get(who, who)
    if name in (None, ''):
        raise GleamXFormatError(
            'an annotation with "completed_by" (the annotator)',
            key='annotations[].completed_by',
            got=annotation.get('id'),
        )
    return str(name)


def _submitted(task: dict) -> Optional[dict]:
    """The latest submitted, non-cancelled annotation of a task (None if none)."""
    kept = [
        a
        for a in task.get('annotations') or []
        if isinstance(a, dict) and not a.get('was_cancelled')
    ]
    if not kept:
        return None
    return max(
        enumerate(kept),
        key=lambda ia: (str(ia[1].get('updated_at') or ia[1].get('created_at') or ''), ia[0]),
    )[1]


def from_label_studio(
    tasks: Union[str, Sequence[dict]],
    annotators: Optional[Mapping[Any, str]] = None,
    out_path: Optional[str] = None,
    original: Union[str, Sequence[GleamXRecord], None] = None,
) -> List[GleamXRecord]:
    """Records revised by the annotations of a Label Studio JSON export.

    Label Studio exports only the annotated tasks by default. When the export
    holds fewer tasks than were made (``data.set_size``) and no ``original`` is
    given, a warning names both numbers and how to export all tasks: the
    result is then only the exported subset.

    Args:
        tasks: the exported JSON file (a list of tasks) or the list itself;
            every task must carry ``data.record`` (as written by
            :func:`to_label_studio_tasks`).
        annotators: maps Label Studio user ids (``completed_by``) to names
            (default: the user's e-mail when the export has it, else the id).
        out_path: also write the records there as GLEAM-X JSONL.
        original: the records the tasks were made from (a GLEAM-X JSONL path or
            records). The result is then the whole set in its order: exported
            tasks revised, the others unchanged. An exported record whose id
            is not in it is an error.
    """
    from .format import write_jsonl

    where = tasks if isinstance(tasks, str) else '<label studio tasks>'
    if isinstance(tasks, str):
        with open(tasks, encoding='utf-8') as f:
            tasks = json.load(f)
    if not isinstance(tasks, list):
        raise GleamXFormatError(
            'a JSON list of tasks (Label Studio "JSON" export)',
            file=where,
            got=type(tasks).__name__,
        )
    names = dict(annotators or {})
    records: List[GleamXRecord] = []
    for i, task in enumerate(tasks):
        loc = f'{where}[{i}]'
        record = (task.get('data') or {}).get('record') if isinstance(task, dict) else None
        if not isinstance(record, dict):
            raise GleamXFormatError(
                'a task made by to_label_studio_tasks (with "data.record")',
                key='data.record',
                file=loc,
                show_got=False,
            )
        rec = GleamXRecord.from_dict(record, file=f'{loc}.data.record')
        annotation = _submitted(task)
        if annotation is None:
            records.append(rec)
            continue
        texts: Dict[str, str] = {}
        label = None
        for item in annotation.get('result') or []:
            name, value = item.get('from_name', ''), item.get('value') or {}
            if name == 'label' and value.get('choices'):
                label = value['choices'][0]
                if label not in LABEL_NAMES.values():
                    raise GleamXFormatError(
                        "'match' or 'no_match'", key='result.label', got=label, file=loc
                    )
            elif name.startswith('explanation_') and value.get('text') is not None:
                lang = name[len('explanation_') :]
                if lang not in LANGS:
                    raise GleamXFormatError(
                        f'a TextArea named explanation_<lang>, lang in {LANGS}',
                        key='result.from_name',
                        got=name,
                        file=loc,
                    )
                text = value['text']
                texts[lang] = '\n'.join(text) if isinstance(text, list) else str(text)
        when = (
            annotation.get('updated_at')
            or annotation.get('created_at')
            or datetime.now(timezone.utc).isoformat(timespec='seconds')
        )
        records.append(
            rec.revised(
                source=f'human:{_annotator(annotation, names)}',
                explanation=texts,
                label=label,
                replaced_at=str(when),
            )
        )
    sizes = {
        task['data'].get('set_size') for task in tasks if isinstance(task.get('data'), dict)
    } - {None}
    if original is not None:
        records = _complete_from_original(records, original, where)
    elif sizes and len(tasks) < max(sizes):
        warnings.warn(
            f'{where} holds {len(tasks)} of the {max(sizes)} tasks made by '
            'to_label_studio_tasks: Label Studio exports only annotated tasks by default, so '
            f'the {len(records)} records returned are not the whole set. Export all tasks '
            '(API: GET /api/projects/<id>/export?exportType=JSON&download_all_tasks=true), or '
            'pass original=<the JSONL the tasks were made from> to get the others back '
            'unchanged.',
            UserWarning,
            stacklevel=2,
        )
    if out_path is not None:
        write_jsonl(records, out_path)
    return records


def _complete_from_original(
    records: List[GleamXRecord], original, where: str
) -> List[GleamXRecord]:
    """The original set in its order, with the exported (revised) records swapped in."""
    base = read_jsonl(original) if isinstance(original, str) else list(original)
    revised = {r.id: r for r in records}
    known = {r.id for r in base}
    stray = [i for i in revised if i not in known]
    if stray:
        raise GleamXFormatError(
            f'every exported record to be in original= ({len(stray)} are not)',
            key='data.record.id',
            got=stray[:5],
            file=where,
        )
    return [revised.get(r.id, r) for r in base]
