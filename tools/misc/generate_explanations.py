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

Written as it arrives, resumable:

* every answer (one per pair and language) is appended to the answer cache
  (``--cache``, default ``OUT``'s stem + ``.answers.jsonl``) and flushed to disk the
  moment it arrives; a pair's record is appended to OUT (one line, flushed) as soon as
  its last language is in, so a kill loses at most the requests in flight;
* a rerun skips the ids already in OUT (or in OUT's ``.rejected.jsonl`` with
  ``--drop-disagreeing``) and takes every cached answer from the cache: a pair whose
  Chinese request failed keeps its English answer and only Chinese is asked again;
* a reply cut off in the middle of its JSON (or otherwise not a chat completion) is
  retried like a server error (``--max-retries``, exponential backoff); an answer the
  model itself cut off at ``--max-tokens`` (``finish_reason='length'``, no verdict yet)
  is not written: the pair is reported, raise ``--max-tokens`` for it;
* a line cut short by a crash is removed on the next run. Pairs that failed are reported
  and left for the next run (exit status 1); an exhausted quota stops the run (exit
  status 2) with everything fetched so far kept.

Records are written in the order they finish (the input order with
``--max-concurrency 1``). The API key is read from the environment variable
``--api-key-env`` and never printed.
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
    'en': {
        1: 'Note: the two images do show the same place. Explain the evidence for this and '
        'end with that verdict.',
        0: 'Note: the two images do not show the same place. Explain the evidence for this '
        'and end with that verdict.',
    },
    'zh': {
        1: '提示：这两张图像确实是同一地点。请说明支持这一点的依据，并以该结论结尾。',
        0: '提示：这两张图像不是同一地点。请说明支持这一点的依据，并以该结论结尾。',
    },
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate GLEAM-X explanations with an OpenAI-compatible chat model'
    )
    parser.add_argument('pairs', help='input GLEAM-X JSONL (explanations optional)')
    parser.add_argument('out', help='output GLEAM-X JSONL (appended to; resumable)')
    parser.add_argument('--model', required=True, help='model name at the endpoint')
    parser.add_argument('--base-url', default='https://api.openai.com/v1')
    parser.add_argument(
        '--api-key-env',
        default='OPENAI_API_KEY',
        help='environment variable holding the API key ("" for none)',
    )
    parser.add_argument('--lang', nargs='+', default=['en'], choices=LANGS)
    parser.add_argument('--source', help='source written to the records (default: --model)')
    parser.add_argument('--system-prompt', help='system message')
    parser.add_argument(
        '--hint-label',
        action='store_true',
        help='tell the model the true label and ask it to explain it',
    )
    parser.add_argument(
        '--drop-disagreeing',
        action='store_true',
        help='write records whose verdict contradicts the label to '
        'OUT.rejected.jsonl instead of OUT',
    )
    parser.add_argument('--max-concurrency', type=int, default=1)
    parser.add_argument('--timeout', type=float, default=120.0)
    parser.add_argument(
        '--max-retries',
        type=int,
        default=5,
        help='retries of a failed or malformed (e.g. cut-off) reply',
    )
    parser.add_argument('--max-tokens', type=int, default=1024)
    parser.add_argument('--temperature', type=float, default=0.0)
    parser.add_argument('--limit', type=int, help='explain at most N new pairs')
    parser.add_argument(
        '--cache',
        help='answer cache (JSONL; default: OUT with the suffix .answers.jsonl); "" for none',
    )
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
                raise GleamXFormatError(
                    f'one JSON object per line ({err.msg})', file=path, line=lineno, show_got=False
                ) from err
            if isinstance(obj, dict) and not obj.get('explanation'):
                obj = dict(
                    obj, explanation={'en': '(to be generated)'}, source=obj.get('source') or 'none'
                )
                record = GleamXRecord.from_dict(obj, file=path, line=lineno)
                record.explanation = {}
            else:
                record = GleamXRecord.from_dict(obj, file=path, line=lineno)
            if record.id in seen:
                raise GleamXFormatError(
                    'unique ids', key='id', got=record.id, file=path, line=lineno
                )
            seen.add(record.id)
            records.append(record)
    return records


def done_ids(path: str) -> Set[str]:
    """Ids of the complete lines of ``path``; drop a last line a crash cut short."""
    if not osp.isfile(path):
        return set()
    with open(path, 'rb') as f:
        data = f.read()
    keep = data if data.endswith(b'\n') or not data else data[: data.rfind(b'\n') + 1]
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
    cache = (
        (osp.splitext(args.out)[0] + '.answers.jsonl') if args.cache is None else args.cache or None
    )
    done = done_ids(args.out) | (done_ids(rejected_path) if args.drop_disagreeing else set())
    todo = [r for r in records if r.id not in done]
    if args.limit is not None:
        todo = todo[: args.limit]
    already = sum(r.id in done for r in records)
    print(
        f'{len(records)} pairs, {already} already done, explaining {len(todo)} in '
        f'{"/".join(args.lang)}' + (f' (answers cached in {cache})' if cache else '')
    )
    if explainer is None:
        from gleamkit.models.explainers import OpenAICompatibleExplainer

        explainer = OpenAICompatibleExplainer(
            model=args.model,
            base_url=args.base_url,
            api_key_env=args.api_key_env or None,
            timeout=args.timeout,
            max_retries=args.max_retries,
            system_prompt=args.system_prompt,
            max_concurrency=args.max_concurrency,
            generation=dict(temperature=args.temperature, max_tokens=args.max_tokens),
            progress=not args.no_progress,
            cache_file=cache,
        )
    src_dir = osp.dirname(osp.abspath(args.pairs))
    out_dir = osp.dirname(osp.abspath(args.out))
    source = args.source or args.model
    counts = dict(written=0, rejected=0, failed=0)
    tasks: List[Tuple[GleamXRecord, str]] = [(r, lang) for r in todo for lang in args.lang]
    answers: Dict[str, Dict[str, dict]] = {r.id: {} for r in todo}

    def finish(rec: GleamXRecord) -> None:
        """Write a pair's record once all its languages have an answer (or report it)."""
        got = answers.pop(rec.id)
        errors = [f'{lang}: {a["error"]}' for lang, a in got.items() if a['text'] is None]
        errors += [
            f'{lang}: the answer was cut off at --max-tokens={args.max_tokens} '
            "(finish_reason 'length', no verdict yet): raise --max-tokens"
            for lang, a in got.items()
            if a['text'] is not None and a.get('finish_reason') == 'length'
        ]
        if errors:
            counts['failed'] += 1
            print(
                f'pair {rec.id!r} failed (left for the next run; answers that arrived are '
                f'kept in the cache): {"; ".join(errors)}',
                file=sys.stderr,
            )
            return
        verdicts = {lang: got[lang]['label'] for lang in args.lang}
        agrees = {lang: v == rec.label_id for lang, v in verdicts.items()}
        meta = dict(rec.meta)
        meta['generation'] = dict(
            model=args.model,
            endpoint=explainer.endpoint,
            hint_label=args.hint_label,
            verdicts=verdicts,
            agrees=agrees,
        )
        explanation = dict(rec.explanation)
        explanation.update({lang: got[lang]['text'] for lang in args.lang})
        out = GleamXRecord(
            id=rec.id,
            query_image=rebase(rec.query_image, src_dir, out_dir),
            satellite_image=rebase(rec.satellite_image, src_dir, out_dir),
            query_view=rec.query_view,
            label=rec.label,
            explanation=explanation,
            source=source,
            revisions=list(rec.revisions),
            meta=meta,
        )
        out = GleamXRecord.from_dict(out.to_dict())  # validate before writing
        if args.drop_disagreeing and not all(agrees.values()):
            append_line(rejected_path, out.to_dict())
            counts['rejected'] += 1
        else:
            append_line(args.out, out.to_dict())
            counts['written'] += 1

    def on_result(index: int, result: dict) -> None:
        rec, lang = tasks[index]
        answers[rec.id][lang] = result
        if len(answers[rec.id]) == len(args.lang):
            finish(rec)

    pairs = []
    for rec, lang in tasks:
        prompt = build_prompt(rec.query_view, lang, 'explanation')
        if args.hint_label:
            prompt = f'{prompt}\n{LABEL_HINTS[lang][rec.label_id]}'
        pairs.append(
            (
                resolve_path(rec.query_image, src_dir),
                resolve_path(rec.satellite_image, src_dir),
                prompt,
                lang,
            )
        )
    from gleamkit.models.explainers import QuotaExceededError

    try:
        explainer.explain_batch(pairs, on_error='skip', on_result=on_result)
    except QuotaExceededError as err:
        print(
            f'stopped: {err}\n{counts["written"]} records written to {args.out}'
            + (f'; every answer that arrived is kept in {cache}' if cache else '')
            + ': run the same command again when the quota is back.',
            file=sys.stderr,
        )
        return 2
    print(
        f'written {counts["written"]} to {args.out}'
        + (
            f', {counts["rejected"]} disagreeing with their label to {rejected_path}'
            if args.drop_disagreeing
            else ''
        )
        + (f'; {counts["failed"]} failed: run again to retry them' if counts['failed'] else '')
    )
    return 1 if counts['failed'] else 0


if __name__ == '__main__':
    sys.exit(main())
