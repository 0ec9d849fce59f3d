"""Write GLEAM-X explanations for (query, satellite) pairs with an OpenAI-compatible model.

    python tools/misc/generate_explanations.py PAIRS.jsonl OUT.jsonl \\
        --model gpt-4o [--base-url https://api.openai.com/v1] [--api-key-env OPENAI_API_KEY] \\
        [--lang en zh] [--hint-label] [--drop-disagreeing] [--max-concurrency 4] [--limit N]

PAIRS.jsonl is in the GLEAM-X JSONL format (``docs/gleam_x_data.md``); its records may
lack ``explanation`` (pairs still to explain). OUT.jsonl gets one complete GLEAM-X record
per pair: the generated explanation in every requested language, ``source`` = the model
(or ``--source``), and ``meta.generation`` = the model, the endpoint and the verdict read
from each explanation (and whether it agrees with the label). Image paths are rewritten
relative to OUT's folder.

Resumable: ids already in OUT (or in OUT's ``.rejected.jsonl`` with
``--drop-disagreeing``) are skipped; each record is appended as one line and flushed to
disk, and a line cut short by a crash is removed on the next run. Pairs whose request
failed are reported and left for the next run (exit status 1). The API key is read from
the environment variable ``--api-key-env`` and never printed.
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Set, Tuple

from gleamkit.datasets.gleam_x.format import GleamXFormatError, GleamXRecord, resolve_path
from gleamkit.datasets.gleam_x.prompts import LANGS, build_prompt

#: Sentences appended to the prompt with ``--hint-label`` (the truth the explanation argues).
LABEL_HINTS = {
    'en': {1: 'Note: the two images do show the same place. Explain the evidence for this and '
              'end with that verdict.',
           0: 'Note: the two images do not show the same place. Explain the evidence for this '
              'and end with that verdict.'},
    'zh': {1: '提示：这两张图像确实是同一地点。请说明支持这一点的依据，并以该结论结尾。',
           0: '提示：这两张图像不是同一地点。请说明支持这一点的依据，并以该结论结尾。'},
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate GLEAM-X explanations with an OpenAI-compatible chat model')
    parser.add_argument('pairs', help='input GLEAM-X JSONL (explanations optional)')
    parser.add_argument('out', help='output GLEAM-X JSONL (appended to; resumable)')
    parser.add_argument('--model', required=True, help='model name at the endpoint')
    parser.add_argument('--base-url', default='https://api.openai.com/v1')
    parser.add_argument('--api-key-env', default='OPENAI_API_KEY',
                        help='environment variable holding the API key ("" for none)')
    parser.add_argument('--lang', nargs='+', default=['en'], choices=LANGS)
    parser.add_argument('--source', help='source written to the records (default: --model)')
    parser.add_argument('--system-prompt', help='system message')
    parser.add_argument('--hint-label', action='store_true',
                        help='tell the model the true label and ask it to explain it')
    parser.add_argument('--drop-disagreeing', action='store_true',
                        help='write records whose verdict contradicts the label to '
                        'OUT.rejected.jsonl instead of OUT')
    parser.add_argument('--max-concurrency', type=int, default=1)
    parser.add_argument('--timeout', type=float, default=120.0)
    parser.add_argument('--max-retries', type=int, default=5)
    parser.add_argument('--max-tokens', type=int, default=1024)
    parser.add_argument('--temperature', type=float, default=0.0)
    parser.add_argument('--limit', type=int, help='explain at most N new pairs')
    parser.add_argument('--no-progress', action='store_true')
    return parser.parse_args(argv)


def read_pairs(path: str) -> List[GleamXRecord]:
    """GLEAM-X records whose ``explanation`` may be missing or empty."""
    if not osp.isfile(path):
        raise SystemExit(f'pairs file not found: {path}')
    records, seen = [], set()
    with open(path, encoding='utf-8') as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                raise GleamXFormatError(f'one JSON object per line ({err.msg})', file=path,
                                        line=lineno, show_got=False) from err
            if isinstance(obj, dict) and not obj.get('explanation'):
                obj = dict(obj, explanation={'en': '(to be generated)'},
                           source=obj.get('source') or 'none')
                record = GleamXRecord.from_dict(obj, file=path, line=lineno)
                record.explanation = {}
            else:
                record = GleamXRecord.from_dict(obj, file=path, line=lineno)
            if record.id in seen:
                raise GleamXFormatError('unique ids', key='id', got=record.id, file=path,
                                        line=lineno)
            seen.add(record.id)
            records.append(record)
    return records


def done_ids(path: str) -> Set[str]:
    """Ids of the complete lines of ``path``; drop a last line a crash cut short."""
    if not osp.isfile(path):
        return set()
    with open(path, 'rb') as f:
        data = f.read()
    keep = data if data.endswith(b'\n') or not data else data[:data.rfind(b'\n') + 1]
    ids = set()
    for line in keep.splitlines():
        if line.strip():
            ids.add(json.loads(line)['id'])
    if len(keep) != len(data):
        print(f'{path}: removing an incomplete last line ({len(data) - len(keep)} bytes)')
        with open(path, 'r+b') as f:
            f.truncate(len(keep))
    return ids


def append_line(path: str, obj: dict) -> None:
    """Append one JSON line with a single write, then flush it to disk."""
    data = (json.dumps(obj, ensure_ascii=False) + '\n').encode('utf-8')
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = os.write(fd, data)
        while written < len(data):  # a partial write is rare; finish the line
            written += os.write(fd, data[written:])
        os.fsync(fd)
    finally:
        os.close(fd)


def rebase(path: str, src_dir: str, out_dir: str) -> str:
    """An image path of the input file, relative to the output file's folder."""
    absolute = resolve_path(path, src_dir)
    try:
        return osp.relpath(absolute, out_dir)
    except ValueError:  # another drive (Windows)
        return absolute


def main(argv=None, explainer=None) -> int:
    args = parse_args(argv)
    records = read_pairs(args.pairs)
    rejected_path = osp.splitext(args.out)[0] + '.rejected.jsonl'
    done = done_ids(args.out) | (done_ids(rejected_path) if args.drop_disagreeing else set())
    todo = [r for r in records if r.id not in done]
    if args.limit is not None:
        todo = todo[:args.limit]
    already = sum(r.id in done for r in records)
    print(f'{len(records)} pairs, {already} already done, explaining {len(todo)} in '
          f'{"/".join(args.lang)}')
    if explainer is None:
        from gleamkit.models.explainers import OpenAICompatibleExplainer
        explainer = OpenAICompatibleExplainer(
            model=args.model, base_url=args.base_url, api_key_env=args.api_key_env or None,
            timeout=args.timeout, max_retries=args.max_retries,
            system_prompt=args.system_prompt, max_concurrency=args.max_concurrency,
            generation=dict(temperature=args.temperature, max_tokens=args.max_tokens),
            progress=not args.no_progress)
    src_dir = osp.dirname(osp.abspath(args.pairs))
    out_dir = osp.dirname(osp.abspath(args.out))
    source = args.source or args.model
    chunk = max(1, explainer.max_concurrency * 4)
    written = rejected = failed = 0
    for start in range(0, len(todo), chunk):
        part = todo[start:start + chunk]
        tasks: List[Tuple[GleamXRecord, str]] = [(r, lang) for r in part for lang in args.lang]
        pairs = []
        for rec, lang in tasks:
            prompt = build_prompt(rec.query_view, lang, 'explanation')
            if args.hint_label:
                prompt = f'{prompt}\n{LABEL_HINTS[lang][rec.label_id]}'
            pairs.append((resolve_path(rec.query_image, src_dir),
                          resolve_path(rec.satellite_image, src_dir), prompt, lang))
        results = explainer.explain_batch(pairs, on_error='skip')
        by_record: Dict[str, Dict[str, dict]] = {}
        for (rec, lang), result in zip(tasks, results):
            by_record.setdefault(rec.id, {})[lang] = result
        for rec in part:
            answers = by_record[rec.id]
            errors = [f'{lang}: {a["error"]}' for lang, a in answers.items() if a['text'] is None]
            if errors:
                failed += 1
                print(f'pair {rec.id!r} failed (left for the next run): {"; ".join(errors)}',
                      file=sys.stderr)
                continue
            verdicts = {lang: a['label'] for lang, a in answers.items()}
            agrees = {lang: v == rec.label_id for lang, v in verdicts.items()}
            meta = dict(rec.meta)
            meta['generation'] = dict(model=args.model, endpoint=explainer.endpoint,
                                      hint_label=args.hint_label, verdicts=verdicts,
                                      agrees=agrees)
            explanation = dict(rec.explanation)
            explanation.update({lang: a['text'] for lang, a in answers.items()})
            out = GleamXRecord(
                id=rec.id, query_image=rebase(rec.query_image, src_dir, out_dir),
                satellite_image=rebase(rec.satellite_image, src_dir, out_dir),
                query_view=rec.query_view, label=rec.label, explanation=explanation,
                source=source, revisions=list(rec.revisions), meta=meta)
            out = GleamXRecord.from_dict(out.to_dict())  # validate before writing
            if args.drop_disagreeing and not all(agrees.values()):
                append_line(rejected_path, out.to_dict())
                rejected += 1
            else:
                append_line(args.out, out.to_dict())
                written += 1
    print(f'written {written} to {args.out}' +
          (f', {rejected} disagreeing with their label to {rejected_path}'
           if args.drop_disagreeing else '') +
          (f'; {failed} failed: run again to retry them' if failed else ''))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
