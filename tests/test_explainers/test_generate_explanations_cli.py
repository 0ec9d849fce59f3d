"""tools/misc/generate_explanations.py: GLEAM-X records from an API, resumable."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from explainer_fixtures import ANSWER, ScriptedServer, completion
from PIL import Image

from gleamkit.datasets.gleam_x import read_jsonl, resolve_path

pytestmark = pytest.mark.slow  # starts subprocesses / runs (see CONTRIBUTING.md)

ROOT = Path(__file__).resolve().parents[2]
KEY = 'sk-cli-secret-42'
NO = 'The layouts differ, so the two images do not correspond.'
ZH_NO = '这些差异表明两张图像并不对应。'


def load_cli():
    spec = importlib.util.spec_from_file_location(
        'generate_explanations', ROOT / 'tools/misc/generate_explanations.py'
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def env(monkeypatch):
    for var in ('http_proxy', 'HTTP_PROXY', 'all_proxy', 'ALL_PROXY'):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv('CLI_TEST_KEY', KEY)


@pytest.fixture
def pairs(tmp_path):
    folder = tmp_path / 'in'
    (folder / 'img').mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines = []
    for i, label in enumerate(('match', 'no_match', 'match')):
        for kind in ('q', 's'):
            Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(
                folder / 'img' / f'{kind}{i}.png'
            )
        lines.append(
            dict(
                id=f'p{i}',
                query_image=f'img/q{i}.png',
                satellite_image=f'img/s{i}.png',
                query_view='uav',
                label=label,
                source='university-1652',
            )
        )
    lines[2]['explanation'] = {'zh': '已有的中文解释。'}  # kept, English added
    path = folder / 'pairs.jsonl'
    path.write_text(''.join(json.dumps(x) + '\n' for x in lines))
    return path


def run(cli, srv, pairs, out, *extra):
    return cli.main(
        [
            str(pairs),
            str(out),
            '--model',
            'gpt-4o',
            '--base-url',
            srv.url,
            '--api-key-env',
            'CLI_TEST_KEY',
            '--max-retries',
            '0',
            '--no-progress',
            *extra,
        ]
    )


def test_resumable_generation_writes_valid_records(pairs, tmp_path, capsys):
    cli = load_cli()
    out = tmp_path / 'out' / 'explained.jsonl'
    with ScriptedServer([(200, {}, completion(ANSWER)), (200, {}, completion(NO))]) as srv:
        assert run(cli, srv, pairs, out, '--limit', '2') == 0
    assert len(srv.requests) == 2
    assert [r.id for r in read_jsonl(str(out))] == ['p0', 'p1']
    # a crash while writing leaves half a line: it is dropped and p2 redone
    with open(out, 'a') as f:
        f.write('{"id": "p2", "query_ima')
    with ScriptedServer([(200, {}, completion(ANSWER))]) as srv:
        assert run(cli, srv, pairs, out) == 0
    assert len(srv.requests) == 1  # p0, p1 skipped
    records = read_jsonl(str(out))
    assert [r.id for r in records] == ['p0', 'p1', 'p2']
    assert [r.explanation['en'] for r in records] == [ANSWER, NO, ANSWER]
    assert records[2].explanation['zh'] == '已有的中文解释。'
    assert {r.source for r in records} == {'gpt-4o'}
    gen = records[1].meta['generation']
    assert gen['verdicts'] == {'en': 0} and gen['agrees'] == {'en': True}
    assert records[2].meta['generation']['endpoint'] == srv.url + '/chat/completions'
    # image paths now relative to the output file, same files
    src = Path(resolve_path(records[0].query_image, str(out.parent)))
    assert src.resolve() == (pairs.parent / 'img' / 'q0.png').resolve()
    # nothing left to do: no request at all
    with ScriptedServer([]) as srv:
        assert run(cli, srv, pairs, out) == 0
    assert srv.requests == []
    assert KEY not in capsys.readouterr().out


def test_failures_are_left_for_the_next_run_and_disagreements_rejected(pairs, tmp_path, capsys):
    cli = load_cli()
    out = tmp_path / 'explained.jsonl'
    script = [
        (200, {}, completion(ANSWER)),
        (200, {}, completion('同一地点。')),
        (400, {}, b'{"error": {"message": "image too large"}}'),
        (200, {}, b''),
        (200, {}, completion(ANSWER)),
        (200, {}, completion(ZH_NO)),
    ]
    with ScriptedServer(script) as srv:
        status = run(
            cli, srv, pairs, out, '--lang', 'en', 'zh', '--hint-label', '--drop-disagreeing'
        )
    assert status == 1  # p1 failed (HTTP 400 in English, malformed body in Chinese)
    err = capsys.readouterr().err
    assert "pair 'p1' failed" in err and 'image too large' in err
    assert [r.id for r in read_jsonl(str(out))] == ['p0']
    rejected = read_jsonl(str(tmp_path / 'explained.rejected.jsonl'))
    assert [r.id for r in rejected] == ['p2']  # the Chinese verdict contradicts 'match'
    assert rejected[0].meta['generation']['agrees'] == {'en': True, 'zh': False}
    prompts = [r['json']['messages'][0]['content'][2]['text'] for r in srv.requests]
    assert prompts[0].endswith(
        'Note: the two images do show the same place. Explain the '
        'evidence for this and end with that verdict.'
    )
    assert prompts[1].endswith(
        '提示：这两张图像确实是同一地点。请说明支持这一点的依据，并以该结论结尾。'
    )
    with ScriptedServer([(200, {}, completion(NO)), (200, {}, completion(ZH_NO))]) as srv:
        assert run(cli, srv, pairs, out, '--lang', 'en', 'zh', '--drop-disagreeing') == 0
    assert len(srv.requests) == 2  # only p1
    assert [r.id for r in read_jsonl(str(out))] == ['p0', 'p1']


def test_each_language_is_kept_on_its_own(pairs, tmp_path, capsys):
    """A failure in Chinese does not throw the English answer away: the rerun asks only
    for Chinese (the English answer waits in the answer cache)."""
    cli = load_cli()
    out = tmp_path / 'explained.jsonl'
    script = [(200, {}, completion(ANSWER)), (400, {}, b'{"error": {"message": "busy"}}')]
    with ScriptedServer(script) as srv:
        assert run(cli, srv, pairs, out, '--lang', 'en', 'zh', '--limit', '1') == 1
    assert "pair 'p0' failed" in capsys.readouterr().err
    assert not out.exists() or read_jsonl(str(out)) == []
    cache = tmp_path / 'explained.answers.jsonl'
    assert [json.loads(x)['text'] for x in cache.read_text().splitlines()] == [ANSWER]
    with ScriptedServer([(200, {}, completion('两张图像是同一地点。'))]) as srv:
        assert run(cli, srv, pairs, out, '--lang', 'en', 'zh', '--limit', '1') == 0
    assert len(srv.requests) == 1
    assert srv.requests[0]['json']['messages'][0]['content'][2]['text'].startswith('图像1')
    (record,) = read_jsonl(str(out))
    assert record.explanation == {'en': ANSWER, 'zh': '两张图像是同一地点。'}


def test_cut_off_replies_are_retried_and_truncated_answers_reported(pairs, tmp_path, capsys):
    cli = load_cli()
    out = tmp_path / 'explained.jsonl'
    length = json.dumps(
        {
            'choices': [
                {
                    'index': 0,
                    'finish_reason': 'length',
                    'message': {'role': 'assistant', 'content': 'Image 1 shows a road and'},
                }
            ]
        }
    ).encode()
    script = [
        (200, {}, completion(ANSWER)[:60]),
        (200, {}, completion(ANSWER)),  # p0
        (200, {}, length),
    ]  # p1: the model ran out of tokens
    with ScriptedServer(script) as srv:
        status = cli.main(
            [
                str(pairs),
                str(out),
                '--model',
                'gpt-4o',
                '--base-url',
                srv.url,
                '--api-key-env',
                'CLI_TEST_KEY',
                '--max-retries',
                '1',
                '--no-progress',
                '--limit',
                '2',
                '--max-tokens',
                '16',
            ]
        )
    assert status == 1 and len(srv.requests) == 3
    assert [r.id for r in read_jsonl(str(out))] == ['p0']
    err = capsys.readouterr().err
    assert "pair 'p1' failed" in err and '--max-tokens=16' in err and 'length' in err


def test_a_killed_run_keeps_every_finished_answer(pairs, tmp_path):
    """SIGKILL while the second answer is on its way: the first is already on disk, and
    the rerun does not ask for it again."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / 'explained.jsonl'
    script = [(200, {}, completion(ANSWER)), ('sleep', 30, (200, {}, completion(NO)))]
    with ScriptedServer(script, lifetime=60) as srv:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / 'tools/misc/generate_explanations.py'),
                str(pairs),
                str(out),
                '--model',
                'gpt-4o',
                '--base-url',
                srv.url,
                '--api-key-env',
                'CLI_TEST_KEY',
                '--no-progress',
                '--timeout',
                '60',
            ],
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.time() + 60
            while len(srv.requests) < 2 and time.time() < deadline and proc.poll() is None:
                time.sleep(0.1)
            assert len(srv.requests) == 2, (
                proc.stderr.read() if proc.poll() is not None else 'the second request never came'
            )
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert [r.id for r in read_jsonl(str(out))] == ['p0']
    assert len((tmp_path / 'explained.answers.jsonl').read_text().splitlines()) == 1
    cli = load_cli()
    with ScriptedServer([(200, {}, completion(NO)), (200, {}, completion(ANSWER))]) as srv:
        assert run(cli, srv, pairs, out) == 0
    assert len(srv.requests) == 2  # p1 and p2 only
    assert [r.id for r in read_jsonl(str(out))] == ['p0', 'p1', 'p2']
