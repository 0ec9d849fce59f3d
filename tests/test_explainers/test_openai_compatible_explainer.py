"""OpenAICompatibleExplainer against a scripted OpenAI-compatible server on 127.0.0.1."""

import base64
import email.utils
import io
import json
import random
import socket

import numpy as np
import pytest
from explainer_fixtures import ANSWER, ScriptedServer, completion
from PIL import Image

from gleamkit.models.explainers import (
    APIError,
    MalformedResponseError,
    OpenAICompatibleExplainer,
    QuotaExceededError,
    parse_retry_after,
)
from gleamkit.structures.explanation_data_sample import ExplanationDataSample

NOW = 1_700_000_000.0
KEY = 'sk-test-0123456789abcdef'


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for var in ('http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY'):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv('GLEAMKIT_TEST_KEY', KEY)


def make(url, waits, **kwargs):
    kwargs.setdefault('max_retries', 3)
    kwargs.setdefault('jitter', 0.0)
    return OpenAICompatibleExplainer(
        model='gpt-4o',
        base_url=url,
        api_key_env='GLEAMKIT_TEST_KEY',
        timeout=2.0,
        sleep=waits.append,
        clock=lambda: NOW,
        progress=False,
        **kwargs,
    )


def images():
    rng = np.random.default_rng(0)
    return (
        rng.integers(0, 256, (20, 30, 3), dtype=np.uint8),
        rng.integers(0, 256, (16, 16, 3), dtype=np.uint8),
    )


def test_request_format_and_answer():
    query, sat = images()
    with ScriptedServer([(200, {'Content-Type': 'application/json'}, completion())]) as srv:
        waits = []
        result = make(
            srv.url + '/',
            waits,
            system_prompt='You are a remote-sensing expert.',
        ).explain(query, sat, 'Same place?', lang='en')
    # the fake endpoint returns no logprobs: no P(match), and the reply says why
    assert result == dict(
        text=ANSWER,
        label=1,
        finish_reason='stop',
        cached=False,
        p_match=None,
        scored_label=None,
        p_match_note='no logprobs in the reply',
    )
    assert waits == []
    (req,) = srv.requests
    assert req['path'] == '/v1/chat/completions'
    assert req['headers']['Authorization'] == f'Bearer {KEY}'
    body = req['json']
    assert body['model'] == 'gpt-4o' and body['temperature'] == 0
    assert body['messages'][0] == {'role': 'system', 'content': 'You are a remote-sensing expert.'}
    content = body['messages'][1]['content']
    assert [c['type'] for c in content] == ['image_url', 'image_url', 'text']
    assert content[2]['text'] == 'Same place?'
    for block, original in zip(content[:2], (query, sat)):
        prefix, data = block['image_url']['url'].split(',', 1)
        assert prefix == 'data:image/png;base64'
        decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(data))))
        np.testing.assert_array_equal(decoded, original)  # PNG: lossless


def test_retry_after_seconds_then_http_date_are_honoured():
    date = email.utils.formatdate(NOW + 7, usegmt=True)
    script = [
        (429, {'Retry-After': '3'}, b'{"error": {"code": "rate_limit_exceeded"}}'),
        (503, {'Retry-After': date}, b'overloaded'),
        (200, {}, completion()),
    ]
    with ScriptedServer(script) as srv:
        waits = []
        explainer = make(srv.url, waits)
        assert explainer.explain(*images(), 'Same place?')['label'] == 1
    assert waits == [3.0, 7.0]
    assert len(srv.requests) == 3
    assert explainer.stats == dict(requests=3, retries=2, waited=10.0, cached=0, failed=0)


def test_server_errors_back_off_exponentially():
    script = [(500, {}, b'boom'), (502, {}, b''), (504, {}, b''), (200, {}, completion())]
    with ScriptedServer(script) as srv:
        waits = []
        make(srv.url, waits, backoff_base=0.5).explain(*images(), 'Same place?')
    assert waits == [0.5, 1.0, 2.0]
    assert len(srv.requests) == 4


def test_429_without_retry_after_uses_backoff_and_gives_up_after_max_retries():
    script = [(429, {}, b'{"error": {"code": "rate_limit_exceeded"}}')] * 4
    with ScriptedServer(script) as srv:
        waits = []
        with pytest.raises(APIError) as err:
            make(srv.url, waits, max_retries=3, backoff_base=1, backoff_max=3).explain(
                *images(), 'Same place?'
            )
    assert waits == [1, 2, 3]  # capped at backoff_max
    assert len(srv.requests) == 4 and err.value.attempts == 4 and err.value.status == 429
    assert 'giving up after 4 attempts' in str(err.value) and srv.url in str(err.value)


def test_jitter_draws_waits_below_the_exponential_bound():
    script = [(500, {}, b'')] * 3 + [(200, {}, completion())]
    with ScriptedServer(script) as srv:
        waits = []
        make(srv.url, waits, jitter=0.5, backoff_base=1.0, rng=random.Random(0)).explain(
            *images(), 'Same place?'
        )
    rng = random.Random(0)
    assert waits == pytest.approx([w * (1 - 0.5 * rng.random()) for w in (1, 2, 4)])
    for wait, bound in zip(waits, (1, 2, 4)):
        assert bound * 0.5 <= wait <= bound


def test_quota_exhausted_429_is_not_retried():
    body = json.dumps(
        {
            'error': {
                'message': 'You exceeded your current quota.',
                'type': 'insufficient_quota',
                'code': 'insufficient_quota',
            }
        }
    )
    with ScriptedServer(
        [(429, {'Retry-After': '1'}, body.encode()), (200, {}, completion())]
    ) as srv:
        waits = []
        with pytest.raises(QuotaExceededError) as err:
            make(srv.url, waits).explain(*images(), 'Same place?')
    assert waits == [] and len(srv.requests) == 1
    assert 'quota' in str(err.value) and KEY not in str(err.value)


def test_timeouts_are_retried():
    script = [('sleep', 0.6, (200, {}, completion('late'))), (200, {}, completion())]
    with ScriptedServer(script) as srv:
        waits = []
        explainer = make(srv.url, waits)
        explainer.timeout = 0.2
        assert explainer.explain(*images(), 'Same place?')['text'] == ANSWER
    assert waits == [1.0] and len(srv.requests) == 2


def test_connection_errors_are_retried_then_reported():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    waits = []
    with pytest.raises(APIError, match='connection error') as err:
        make(f'http://127.0.0.1:{port}/v1', waits, max_retries=2).explain(*images(), 'x')
    assert waits == [1.0, 2.0] and err.value.attempts == 3


@pytest.mark.parametrize(
    'body, what',
    [
        (b'<html>Bad gateway</html>', 'not JSON'),
        (b'{"choices": []}', '"choices"'),
        (b'[1, 2]', 'JSON object'),
        (b'{"choices": [{"message": {"role": "assistant", "content": null}}]}', 'content'),
        (b'{"choices": [{"text": "completion-style"}]}', 'message'),
    ],
)
def test_malformed_bodies_are_retried_then_raise_a_clear_error(body, what):
    with ScriptedServer([(200, {}, body)] * 4) as srv:
        waits = []
        with pytest.raises(MalformedResponseError) as err:
            make(srv.url, waits).explain(*images(), 'Same place?')
    message = str(err.value)
    assert what in message and srv.url + '/chat/completions' in message
    assert 'after 4 attempts' in message and err.value.attempts == 4
    assert waits == [1.0, 2.0, 4.0] and len(srv.requests) == 4


def test_a_reply_cut_off_in_its_json_is_retried():
    with ScriptedServer([(200, {}, completion()[:50]), (200, {}, completion())]) as srv:
        waits = []
        result = make(srv.url, waits).explain(*images(), 'Same place?')
    assert result['text'] == ANSWER and waits == [1.0] and len(srv.requests) == 2


def test_answer_cache_resumes_and_keys_on_prompt_images_and_settings(tmp_path):
    cache = tmp_path / 'answers.jsonl'
    query, sat = images()
    with ScriptedServer(
        [
            (200, {}, completion('One.')),
            (200, {}, completion('Two.')),
            (200, {}, completion('Three.')),
            (200, {}, completion('Four.')),
        ]
    ) as srv:
        waits = []
        first = make(srv.url, waits, cache_file=str(cache))
        assert first.explain(query, sat, 'p')['text'] == 'One.'
        assert first.explain(query, sat, 'q')['text'] == 'Two.'  # another prompt
        # a new explainer (a rerun) reads the file: no request for what is answered
        again = make(srv.url, waits, cache_file=str(cache))
        result = again.explain(query, sat, 'p')
        assert result['text'] == 'One.' and result['cached'] and len(srv.requests) == 2
        assert again.stats['cached'] == 1 and again.stats['requests'] == 0
        # other pixels, other settings: asked anew
        assert again.explain(query[::-1].copy(), sat, 'p')['text'] == 'Three.'
        hotter = make(srv.url, waits, cache_file=str(cache), generation=dict(temperature=1))
        assert hotter.explain(query, sat, 'p')['text'] == 'Four.'
    lines = cache.read_text().splitlines()
    assert len(lines) == 4 and json.loads(lines[0])['text'] == 'One.'
    assert KEY not in cache.read_text()
    # a line cut short by a crash is dropped (and cut off the file) on the next open
    with open(cache, 'a') as f:
        f.write('{"key": "abc", "te')
    from gleamkit.models.explainers import AnswerCache

    assert len(AnswerCache(str(cache))) == 4
    assert cache.read_text().endswith('\n')


def test_predict_records_a_failed_pair_and_goes_on():
    script = (
        [(200, {}, completion())] + [(200, {}, b'{"choices": [')] * 2 + [(200, {}, completion())]
    )
    with ScriptedServer(script) as srv:
        waits = []
        explainer = make(srv.url, waits, max_retries=1)
        query, sat = images()
        samples = [ExplanationDataSample(metainfo=dict(id=str(i), lang='en')) for i in range(3)]
        out = explainer(
            inputs=[dict(images=[query, sat], prompt=f'p{i}', answer='') for i in range(3)],
            data_samples=samples,
            mode='predict',
        )
    assert [s.pred_label for s in out] == [1, -1, 1]
    assert out[1].pred_text == '' and 'not a chat completion' in out[1].pred_error
    assert 'pred_error' not in out[0] and explainer.stats['failed'] == 1
    with pytest.raises(ValueError, match='on_error'):
        make('http://127.0.0.1:9/v1', [], on_error='skip')


def test_client_errors_are_not_retried_and_never_show_the_key():
    body = json.dumps(
        {'error': {'message': f'Incorrect API key provided: {KEY}', 'code': 'invalid_api_key'}}
    ).encode()
    with ScriptedServer([(401, {}, body)]) as srv:
        waits = []
        explainer = make(srv.url, waits)
        with pytest.raises(APIError) as err:
            explainer.explain(*images(), 'Same place?')
    assert err.value.status == 401 and waits == []
    assert KEY not in str(err.value) and KEY not in repr(explainer)
    assert '$GLEAMKIT_TEST_KEY' in str(err.value)


def test_retry_after_longer_than_allowed_fails_fast():
    with ScriptedServer([(429, {'Retry-After': '3600'}, b'{}')]) as srv:
        waits = []
        with pytest.raises(APIError, match='3600 s'):
            make(srv.url, waits, max_retry_after=60).explain(*images(), 'Same place?')
    assert waits == []


def test_batch_keeps_order_and_predict_mode_fills_samples():
    zh = '这两张图像的道路布局一致，综合来看它们是同一地点。'
    en_no = 'These differences indicate that the two images do not correspond.'
    with ScriptedServer([(200, {}, completion(t)) for t in (ANSWER, en_no, zh)]) as srv:
        waits = []
        explainer = make(srv.url, waits)
        query, sat = images()
        samples = [
            ExplanationDataSample(metainfo=dict(id=str(i), lang=lang))
            for i, lang in enumerate(('en', 'en', 'zh'))
        ]
        data = explainer.data_preprocessor(
            dict(
                inputs=[dict(images=[query, sat], prompt=f'p{i}', answer='') for i in range(3)],
                data_samples=samples,
            ),
            False,
        )
        out = explainer(**data, mode='predict')
    prompts = [r['json']['messages'][0]['content'][2]['text'] for r in srv.requests]
    assert prompts == ['p0', 'p1', 'p2']
    assert [(s.pred_text, s.pred_label) for s in out] == [(ANSWER, 1), (en_no, 0), (zh, 1)]
    assert list(explainer.parameters()) == []
    with pytest.raises(RuntimeError, match='predict-only'):
        explainer(**data, mode='loss')


def test_concurrent_batch_with_skip_on_error():
    script = [(200, {}, completion())] * 3 + [(400, {}, b'{"error": {"message": "bad"}}')]
    with ScriptedServer(script) as srv:
        waits = []
        explainer = make(srv.url, waits, max_concurrency=2)
        pairs = [(*images(), f'p{i}', 'en') for i in range(4)]
        results = explainer.explain_batch(pairs, on_error='skip')
    assert len(srv.requests) == 4
    failed = [r for r in results if r['text'] is None]
    assert len(failed) == 1 and failed[0]['label'] == -1 and 'HTTP 400' in failed[0]['error']
    assert sum(r['label'] == 1 for r in results) == 3


def test_parse_retry_after():
    assert parse_retry_after('12') == 12.0
    assert parse_retry_after(' 1.5 ') == 1.5
    assert parse_retry_after('-3') == 0.0
    assert parse_retry_after(email.utils.formatdate(NOW + 30, usegmt=True), now=NOW) == 30.0
    assert parse_retry_after('Wed, 21 Oct 2015 07:28:00 GMT', now=NOW) == 0.0  # past
    assert parse_retry_after('soon') is None and parse_retry_after(None) is None
