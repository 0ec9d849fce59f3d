"""GLEAM-X explainer behind any OpenAI-compatible chat-completions endpoint.

GPT-4o, Doubao (Volcengine Ark), a GLEAM-X model served by ``vllm serve``, or any
local server that speaks ``POST {base_url}/chat/completions``. Standard library
only (``urllib.request``, ``json``).
"""

import base64
import email.utils
import http.client
import io
import json
import logging
import os
import random
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import timezone
from typing import Any, Callable, Dict, List, Optional, Sequence

from mmengine.logging import print_log
from mmengine.model import BaseModel

from gleamkit.registry import EXPLAINERS

from .answer_cache import AnswerCache, image_digest

__all__ = [
    'OpenAICompatibleExplainer',
    'APIError',
    'QuotaExceededError',
    'MalformedResponseError',
    'parse_retry_after',
    'image_to_data_url',
]

#: Error codes (``error.code`` / ``error.type`` of a 429 body) that mean the account
#: is out of credit: waiting does not help, so they are not retried.
QUOTA_ERROR_CODES = (
    'insufficient_quota',
    'billing_hard_limit_reached',
    'QuotaExceeded',
    'AccountOverdueError',
)
_RETRY_AFTER_STATUSES = (429, 503)


class APIError(RuntimeError):
    """A request to a chat-completions endpoint failed.

    Attributes: ``endpoint`` (URL), ``status`` (HTTP status or ``None``),
    ``attempts`` (requests made).
    """

    def __init__(
        self, message: str, endpoint: str, status: Optional[int] = None, attempts: int = 1
    ):
        super().__init__(message)
        self.endpoint, self.status, self.attempts = endpoint, status, attempts


class QuotaExceededError(APIError):
    """HTTP 429 whose body says the quota/credit is exhausted (never retried)."""


class MalformedResponseError(APIError):
    """The endpoint answered, but not with a chat completion."""


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP date.

    Returns ``None`` for a missing or unreadable value; dates in the past give 0.
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        seconds = None
    if seconds is not None:
        return max(0.0, seconds) if seconds == seconds else None  # NaN -> None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def image_to_data_url(image: Any) -> str:
    """An image (``HxWx3`` uint8 array, PIL image or path) as a base64 PNG data URL."""
    from .vlm_data_preprocessor import to_pil_image

    buffer = io.BytesIO()
    to_pil_image(image).save(buffer, format='PNG')
    return 'data:image/png;base64,' + base64.b64encode(buffer.getvalue()).decode('ascii')


class _Retryable(Exception):
    """Internal: an attempt failed in a way worth retrying."""

    def __init__(
        self, message: str, status: Optional[int] = None, retry_after: Optional[float] = None
    ):
        super().__init__(message)
        self.status, self.retry_after = status, retry_after


@EXPLAINERS.register_module()
class OpenAICompatibleExplainer(BaseModel):
    """Explains (query, satellite) pairs with a model behind a chat-completions API.

    Each pair is sent as one user message: two ``image_url`` blocks (base64 PNG
    data URLs, query first) and the prompt text; the reply's text is the
    explanation and :func:`parse_verdict` reads its verdict.

    Retries: timeouts, connection errors, HTTP 408/429/5xx and replies that are
    not a chat completion (a body cut short, HTML from a proxy, no ``choices``)
    are retried up to ``max_retries`` times. On 429/503 a ``Retry-After`` header
    (seconds or HTTP date; also ``retry-after-ms``) is honoured when present;
    otherwise waits grow exponentially (``backoff_base * 2**retry``, capped at
    ``backoff_max``) with jitter (the wait is drawn from ``[(1 - jitter) * w,
    w]``). A 429 whose body says the quota is exhausted
    (:data:`QUOTA_ERROR_CODES`) raises :class:`QuotaExceededError` at once;
    other 4xx raise :class:`APIError`; a reply still malformed after the retries
    raises :class:`MalformedResponseError`. Every error names the endpoint; the
    API key never appears in messages, logs or ``repr``.

    With ``cache_file`` every answer is appended to an :class:`AnswerCache` as
    soon as it arrives (keyed by model name, prompts, generation settings and
    image digests): a rerun after a crash, a kill or a quota stop asks only
    what is not answered yet.

    As an mmengine model it is predict-only (no parameters): ``tools/test.py``
    evaluates it like a fine-tuned explainer. A pair whose request still fails
    after the retries does not stop the evaluation (``on_error='record'``): its
    sample gets ``pred_text=''``, ``pred_label=-1`` and ``pred_error`` (the
    message), which ``GleamXMetric`` counts as unparseable and reports as
    ``failed``. A quota stop still ends the run (every further request would
    fail too); the answers fetched so far stay in the cache.

    Args:
        model (str): the endpoint's model name (``'gpt-4o'``, a Doubao endpoint id,
            the name ``vllm serve`` registered).
        base_url (str): e.g. ``'https://api.openai.com/v1'``, ``'http://localhost:8000/v1'``.
            Defaults to ``'https://api.openai.com/v1'``.
        api_key_env (str, optional): environment variable holding the API key
            (read at each request, never stored); ``None`` or unset: no
            ``Authorization`` header (local servers). Defaults to
            ``'OPENAI_API_KEY'``.
        timeout (float): seconds per request. Defaults to 120.0.
        max_retries (int): retries after the first attempt. Defaults to 5.
        backoff_base (float): exponential backoff: the first wait in seconds.
            Defaults to 1.0.
        backoff_max (float): exponential backoff: the longest wait in seconds.
            Defaults to 60.0.
        jitter (float): exponential backoff: the random share of a wait.
            Defaults to 0.5.
        max_retry_after (float): longest ``Retry-After`` honoured; a server asking for
            more makes the request fail (with the asked wait in the message).
            Defaults to 300.0.
        system_prompt (str, optional): a system message. Defaults to None.
        generation (dict, optional): request fields. Defaults to None
            (``dict(temperature=0, max_tokens=1024)``).
        extra_headers (dict, optional): more HTTP headers (not secrets: they are
            not redacted). Defaults to None.
        max_concurrency (int): parallel requests in :meth:`explain_batch`.
            Defaults to 1.
        progress (bool): show a progress bar in :meth:`explain_batch`.
            Defaults to True.
        cache_file (str, optional): JSONL answer cache (see above). Defaults to
            None (no cache).
        on_error (str): what predict mode does with a pair whose request failed:
            ``'record'`` (record the failure and go on) or ``'raise'``.
            Defaults to ``'record'``.
        sleep (Callable, optional): injectable ``time.sleep`` (tests). Defaults to
            None (``time.sleep``).
        clock (Callable, optional): injectable ``time.time`` (tests). Defaults to
            None (``time.time``).
        rng (random.Random, optional): injectable random generator (tests).
            Defaults to None (a new ``random.Random``).
        score_verdicts (bool): ask for the answer's token log-probabilities
            (``logprobs``, ``top_logprobs``) and read P(match) from them at the
            verdict position (:func:`~gleamkit.models.explainers.verdict_scoring.
            p_match_from_top_logprobs`). vLLM returns them; an endpoint that does
            not (no ``logprobs`` in the reply, or HTTP 400 naming them) gets
            ``p_match=None`` with a one-time warning naming the endpoint and the
            model - never a guess from the text. Defaults to True.
        top_logprobs (int): alternatives per token asked for. Defaults to 20.
        answer_mode (str, optional): ``'label'`` or ``'explanation'``: which
            verdict words are looked for. Defaults to None (from the prompt).
        match_threshold (float): ``scored_label = p_match >= match_threshold``.
            Defaults to 0.5.
        data_preprocessor (dict, optional): as in mmengine's ``BaseModel``.
            Defaults to None.
        init_cfg (dict, optional): mmengine's initialisation config. Defaults to
            None.
    """

    def __init__(
        self,
        model: str,
        base_url: str = 'https://api.openai.com/v1',
        api_key_env: Optional[str] = 'OPENAI_API_KEY',
        timeout: float = 120.0,
        max_retries: int = 5,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        jitter: float = 0.5,
        max_retry_after: float = 300.0,
        system_prompt: Optional[str] = None,
        generation: Optional[dict] = None,
        extra_headers: Optional[Dict[str, str]] = None,
        max_concurrency: int = 1,
        progress: bool = True,
        cache_file: Optional[str] = None,
        on_error: str = 'record',
        sleep: Optional[Callable[[float], None]] = None,
        clock: Optional[Callable[[], float]] = None,
        rng: Optional[random.Random] = None,
        score_verdicts: bool = True,
        top_logprobs: int = 20,
        answer_mode: Optional[str] = None,
        match_threshold: float = 0.5,
        data_preprocessor: Optional[dict] = None,
        init_cfg: Optional[dict] = None,
    ):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if not isinstance(model, str) or not model:
            raise ValueError(f"model: expected the endpoint's model name, got {model!r}")
        if max_retries < 0 or timeout <= 0 or not 0 <= jitter <= 1:
            raise ValueError(
                f'need max_retries >= 0, timeout > 0 and 0 <= jitter <= 1; got '
                f'{max_retries}, {timeout}, {jitter}'
            )
        self.model_name = model
        self.base_url = base_url.rstrip('/')
        self.endpoint = (
            self.base_url
            if self.base_url.endswith('/chat/completions')
            else self.base_url + '/chat/completions'
        )
        self.api_key_env = api_key_env
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.backoff_base, self.backoff_max = float(backoff_base), float(backoff_max)
        self.jitter = float(jitter)
        self.max_retry_after = float(max_retry_after)
        self.system_prompt = system_prompt
        self.generation = dict(temperature=0, max_tokens=1024)
        self.generation.update(generation or {})
        self.extra_headers = dict(extra_headers or {})
        self.max_concurrency = max(1, int(max_concurrency))
        self.progress = progress
        if on_error not in ('record', 'raise'):
            raise ValueError(f"on_error={on_error!r}: expected 'record' or 'raise'")
        self.on_error = on_error
        self.cache = AnswerCache(cache_file) if cache_file else None
        self._sleep = sleep or time.sleep
        self._clock = clock or time.time
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self.stats = dict(requests=0, retries=0, waited=0.0, cached=0, failed=0)
        self.score_verdicts = bool(score_verdicts)
        self.top_logprobs = int(top_logprobs)
        if answer_mode not in (None, 'label', 'explanation'):
            raise ValueError(
                f"answer_mode={answer_mode!r}: expected None, 'label' or 'explanation'"
            )
        self.answer_mode = answer_mode
        self.match_threshold = float(match_threshold)
        self._logprobs_supported = True  # until the endpoint shows otherwise
        self._warned_no_logprobs = False

    def __repr__(self) -> str:  # nothing secret in here, and short
        return (
            f'{type(self).__name__}(model={self.model_name!r}, endpoint={self.endpoint!r}, '
            f'api_key_env={self.api_key_env!r})'
        )

    # ------------------------------------------------------------------ requests
    def _api_key(self) -> Optional[str]:
        return os.environ.get(self.api_key_env) if self.api_key_env else None

    def _redact(self, text: str) -> str:
        key = self._api_key()
        return text.replace(key, '***') if key else text

    def build_messages(self, query_img, satellite_img, prompt: str) -> List[dict]:
        """The chat messages of one pair (images as ``image_url`` data URLs)."""
        messages = []
        if self.system_prompt:
            messages.append(dict(role='system', content=self.system_prompt))
        content = [
            dict(type='image_url', image_url=dict(url=image_to_data_url(img)))
            for img in (query_img, satellite_img)
        ]
        content.append(dict(type='text', text=prompt))
        messages.append(dict(role='user', content=content))
        return messages

    def _backoff(self, retry: int) -> float:
        wait = min(self.backoff_max, self.backoff_base * (2**retry))
        with self._lock:
            u = self._rng.random()
        return wait * (1.0 - self.jitter * u)

    def _error_detail(self, body: bytes) -> tuple:
        """``(code, message)`` of an OpenAI-style error body (best effort)."""
        text = body.decode('utf-8', errors='replace')
        try:
            error = json.loads(text).get('error')
        except (ValueError, AttributeError):
            return None, text.strip()[:300]
        if isinstance(error, dict):
            code = error.get('code') or error.get('type')
            return (str(code) if code is not None else None, str(error.get('message', ''))[:300])
        return None, str(error)[:300] if error else text.strip()[:300]

    def _is_quota_error(self, body: bytes) -> bool:
        code, _ = self._error_detail(body)
        text = body.decode('utf-8', errors='replace')
        return code in QUOTA_ERROR_CODES or any(c in text for c in QUOTA_ERROR_CODES)

    def _attempt(self, payload: bytes) -> dict:
        headers = {
            'Content-Type': 'application/json',
            'Accept': 'application/json',
            **self.extra_headers,
        }
        key = self._api_key()
        if key:
            headers['Authorization'] = f'Bearer {key}'
        request = urllib.request.Request(
            self.endpoint, data=payload, headers=headers, method='POST'
        )
        with self._lock:
            self.stats['requests'] += 1
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read()
                status = response.status
        except urllib.error.HTTPError as err:
            body = err.read() or b''
            code, message = self._error_detail(body)
            detail = self._redact(
                f'HTTP {err.code}'
                + (f' ({code})' if code else '')
                + (f': {message}' if message else '')
            )
            if err.code == 429 and self._is_quota_error(body):
                raise QuotaExceededError(
                    f'{self.endpoint}: quota exhausted, not retrying: {detail}. Add credit or '
                    'raise the quota of the account whose key is in '
                    f'${self.api_key_env}.',
                    self.endpoint,
                    err.code,
                ) from None
            if err.code == 408 or err.code == 429 or err.code >= 500:
                retry_after = None
                if err.code in _RETRY_AFTER_STATUSES and err.headers is not None:
                    ms = err.headers.get('retry-after-ms')
                    try:
                        retry_after = float(ms) / 1000.0 if ms is not None else None
                    except ValueError:
                        retry_after = None
                    if retry_after is None:
                        retry_after = parse_retry_after(
                            err.headers.get('Retry-After'), now=self._clock()
                        )
                raise _Retryable(detail, err.code, retry_after) from None
            hint = {
                401: f' (is ${self.api_key_env} set to a valid key?)',
                404: ' (check base_url and model)',
            }.get(err.code, '')
            raise APIError(f'{self.endpoint}: {detail}{hint}', self.endpoint, err.code) from None
        except TimeoutError as err:
            raise _Retryable(f'timed out after {self.timeout:g} s ({err})') from None
        except urllib.error.URLError as err:
            reason = err.reason
            if isinstance(reason, TimeoutError):
                raise _Retryable(f'timed out after {self.timeout:g} s') from None
            raise _Retryable(f'connection error: {reason}') from None
        except (ConnectionError, http.client.HTTPException, OSError) as err:
            raise _Retryable(f'connection error: {type(err).__name__}: {err}') from None
        return self._parse_completion(body, status)

    def _parse_completion(self, body: bytes, status: int) -> dict:
        def malformed(what: str):
            text = body.decode('utf-8', errors='replace')
            excerpt = self._redact(text[:200] + ('...' if len(text) > 200 else ''))
            return MalformedResponseError(
                f'{self.endpoint} returned HTTP {status} but not a chat completion: {what}. '
                f'Body: {excerpt!r}',
                self.endpoint,
                status,
            )

        try:
            obj = json.loads(body.decode('utf-8'))
        except (UnicodeDecodeError, ValueError) as err:
            raise malformed(f'the body is not JSON ({err})') from None
        if not isinstance(obj, dict):
            raise malformed(f'expected a JSON object, got {type(obj).__name__}')
        if obj.get('error') and not obj.get('choices'):
            _, message = self._error_detail(body)
            raise APIError(
                self._redact(f'{self.endpoint}: error in an HTTP {status} reply: {message}'),
                self.endpoint,
                status,
            )
        choices = obj.get('choices')
        if not isinstance(choices, list) or not choices:
            raise malformed('no "choices" list (or it is empty)')
        choice = choices[0]
        message = choice.get('message') if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            raise malformed('"choices[0].message" is missing or not an object')
        content = message.get('content')
        if isinstance(content, list):  # content parts
            content = ''.join(
                part.get('text', '')
                for part in content
                if isinstance(part, dict) and part.get('type') in ('text', None)
            )
        if content is None and message.get('refusal'):
            raise APIError(
                f'{self.endpoint}: the model refused: {message["refusal"]!r}', self.endpoint, status
            )
        if not isinstance(content, str):
            raise malformed(
                f'"choices[0].message.content" is {type(content).__name__}, expected a string'
            )
        reply = dict(
            text=content.strip(), finish_reason=choice.get('finish_reason'), usage=obj.get('usage')
        )
        logprobs = choice.get('logprobs')
        if isinstance(logprobs, dict) and isinstance(logprobs.get('content'), list):
            reply['logprobs'] = [
                dict(
                    token=t.get('token', ''),
                    logprob=t.get('logprob'),
                    top_logprobs=[
                        dict(token=a.get('token', ''), logprob=a.get('logprob'))
                        for a in t.get('top_logprobs') or []
                        if isinstance(a, dict)
                    ],
                )
                for t in logprobs['content']
                if isinstance(t, dict)
            ]
        return reply

    def _warn_no_logprobs(self, why: str) -> None:
        with self._lock:
            if self._warned_no_logprobs:
                return
            self._warned_no_logprobs = True
        print_log(
            f'{type(self).__name__}: {self.endpoint} (model {self.model_name!r}) {why}: '
            'P(match) cannot be read from token probabilities, p_match is None for its '
            'answers (the free-text verdict is still parsed). vLLM returns logprobs.',
            logger='current',
            level=logging.WARNING,
        )

    def complete(self, messages: List[dict]) -> dict:
        """POST one chat completion with retries; ``dict(text, finish_reason, usage)``
        (plus ``logprobs`` when asked for and returned)."""
        fields = dict(self.generation)
        if self.score_verdicts and self._logprobs_supported:
            fields.update(logprobs=True, top_logprobs=self.top_logprobs)
        try:
            return self._complete(messages, fields)
        except APIError as err:
            # an endpoint that refuses the logprobs fields: ask again without them
            if err.status != 400 or 'logprob' not in str(err).lower() or 'logprobs' not in fields:
                raise
            self._logprobs_supported = False
            self._warn_no_logprobs(f'refused the logprobs request ({err})')
            fields.pop('logprobs'), fields.pop('top_logprobs')
            return self._complete(messages, fields)

    def _complete(self, messages: List[dict], fields: dict) -> dict:
        payload = json.dumps(
            dict(model=self.model_name, messages=messages, **fields), ensure_ascii=False
        ).encode('utf-8')
        retry = 0
        while True:
            try:
                return self._attempt(payload)
            except MalformedResponseError as err:
                # a body cut short or a proxy's error page is usually gone on the next try
                if retry >= self.max_retries:
                    raise MalformedResponseError(
                        f'{err} (after {retry + 1} attempts)',
                        self.endpoint,
                        err.status,
                        attempts=retry + 1,
                    ) from None
                wait = self._backoff(retry)
                with self._lock:
                    self.stats['retries'] += 1
                    self.stats['waited'] += wait
                self._sleep(wait)
                retry += 1
            except _Retryable as err:
                if retry >= self.max_retries:
                    raise APIError(
                        f'{self.endpoint}: giving up after {retry + 1} attempts; last error: {err}',
                        self.endpoint,
                        err.status,
                        attempts=retry + 1,
                    ) from None
                if err.retry_after is not None:
                    if err.retry_after > self.max_retry_after:
                        raise APIError(
                            f'{self.endpoint}: {err}; the server asks to wait '
                            f'{err.retry_after:.0f} s (Retry-After), more than max_retry_after='
                            f'{self.max_retry_after:g} s',
                            self.endpoint,
                            err.status,
                            attempts=retry + 1,
                        ) from None
                    wait = err.retry_after
                else:
                    wait = self._backoff(retry)
                with self._lock:
                    self.stats['retries'] += 1
                    self.stats['waited'] += wait
                self._sleep(wait)
                retry += 1

    # ------------------------------------------------------------------ explain
    def cache_key(self, images: Sequence[Any], prompt: str) -> str:
        """The :class:`AnswerCache` key of one pair (PIL images, prompt)."""
        return AnswerCache.key(
            self.model_name,
            prompt,
            [image_digest(img) for img in images],
            system_prompt=self.system_prompt,
            generation=self.generation,
        )

    def explain(
        self, query_img, satellite_img, prompt: str, lang: Optional[str] = None
    ) -> Dict[str, Any]:
        """Explain one pair: ``dict(text, label=1/0/-1, finish_reason, cached)``.

        ``finish_reason`` is the endpoint's (``'length'``: cut off at
        ``max_tokens``); ``cached`` says whether the answer came from the cache.
        """
        from gleamkit.evaluation.explanation.verdict import parse_verdict

        from .vlm_data_preprocessor import to_pil_image

        images = [to_pil_image(query_img), to_pil_image(satellite_img)]
        key = self.cache_key(images, prompt) if self.cache is not None else None
        reply = self.cache.get(key) if key is not None else None
        cached = reply is not None
        if reply is None:
            reply = self.complete(self.build_messages(*images, prompt))
            if key is not None:
                self.cache.put(key, reply, model=self.model_name, endpoint=self.endpoint)
        else:
            with self._lock:
                self.stats['cached'] += 1
        result = dict(
            text=reply['text'],
            label=int(parse_verdict(reply['text'], lang=lang)),
            finish_reason=reply.get('finish_reason'),
            cached=cached,
        )
        if self.score_verdicts:
            result.update(self.score_reply(reply, prompt, lang))
        return result

    def score_reply(self, reply: dict, prompt: str, lang: Optional[str]) -> dict:
        """``dict(p_match, scored_label)`` from a reply's token log-probabilities
        (both None, with ``p_match_note`` saying why, when they cannot be read)."""
        from .verdict_scoring import (
            infer_answer_mode,
            p_match_from_top_logprobs,
            verdict_candidates,
        )

        lang = lang if lang in ('en', 'zh') else 'en'
        tokens = reply.get('logprobs')
        if not tokens:
            self._warn_no_logprobs('returned no token log-probabilities (logprobs)')
            return dict(p_match=None, scored_label=None, p_match_note='no logprobs in the reply')
        mode = self.answer_mode or infer_answer_mode(prompt, lang)
        p, why = p_match_from_top_logprobs(tokens, verdict_candidates(lang, mode))
        if p is None:
            return dict(p_match=None, scored_label=None, p_match_note=why)
        return dict(p_match=p, scored_label=int(p >= self.match_threshold))

    def explain_batch(
        self,
        pairs: Sequence[tuple],
        progress: Optional[bool] = None,
        on_error: str = 'raise',
        on_result: Optional[Callable[[int, dict], None]] = None,
        batch_size: Optional[int] = None,
    ) -> List[Optional[dict]]:
        """Explain ``(query_img, satellite_img, prompt, lang)`` tuples, in order.

        Up to ``max_concurrency`` requests run at once. ``on_error='skip'``
        returns ``dict(text=None, label=-1, error=message)`` for a pair that failed
        (quota exhaustion still raises: every further request would fail too).
        ``on_result(index, result)`` is called in the calling thread as each
        pair finishes (in completion order), e.g. to write it at once.
        ``batch_size`` is accepted for the explainers' common interface and unused.
        """
        if on_error not in ('raise', 'skip'):
            raise ValueError(f'on_error={on_error!r}: expected "raise" or "skip"')
        progress = self.progress if progress is None else progress
        bar = None
        if progress and len(pairs) > 0:
            from mmengine.utils import ProgressBar

            bar = ProgressBar(len(pairs))

        def one(pair):
            try:
                return self.explain(*pair)
            except QuotaExceededError:
                raise
            except APIError as err:
                if on_error == 'raise':
                    raise
                with self._lock:
                    self.stats['failed'] += 1
                return dict(text=None, label=-1, error=str(err), finish_reason=None, cached=False)

        results: List[Optional[dict]] = [None] * len(pairs)

        def done(i, result):
            results[i] = result
            if on_result is not None:
                on_result(i, result)
            if bar is not None:
                bar.update()

        if self.max_concurrency == 1:
            for i, pair in enumerate(pairs):
                done(i, one(pair))
            return results
        with ThreadPoolExecutor(self.max_concurrency) as pool:
            futures = {pool.submit(one, pair): i for i, pair in enumerate(pairs)}
            try:
                for future in as_completed(futures):
                    done(futures[future], future.result())
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        return results

    def score_batch(self, pairs: Sequence[tuple], batch_size: int = 8) -> List[Optional[float]]:
        """P(match) per ``(query_img, satellite_img, prompt, lang)`` tuple, read from the
        answer's token log-probabilities (one request per pair; ``None`` where the
        endpoint returns none, see ``score_verdicts``). ``batch_size`` is unused: the
        requests run ``max_concurrency`` at a time."""
        return [r.get('p_match') for r in self.explain_batch(pairs, progress=False)]

    # ------------------------------------------------------------- mmengine model
    def forward(self, inputs, data_samples: Optional[list] = None, mode: str = 'predict'):
        if mode == 'loss':
            raise RuntimeError(
                f'{type(self).__name__} is predict-only (an API has no '
                'trainable parameters here): use it with tools/test.py'
            )
        from .vlm_data_preprocessor import sample_inputs

        inputs = sample_inputs(inputs)
        langs = (
            [None] * len(inputs)
            if data_samples is None
            else [s.metainfo.get('lang') for s in data_samples]
        )
        results = self.explain_batch(
            [
                (item['images'][0], item['images'][1], item['prompt'], lang)
                for item, lang in zip(inputs, langs)
            ],
            progress=False,
            on_error='skip' if self.on_error == 'record' else 'raise',
        )
        ids = (
            [None] * len(results)
            if data_samples is None
            else [s.metainfo.get('id') for s in data_samples]
        )
        for sample_id, result in zip(ids, results):
            if result.get('error'):
                print_log(
                    f'{type(self).__name__}: no answer for sample {sample_id!r}, recorded '
                    f'as failed (unparseable): {result["error"]}',
                    logger='current',
                    level=logging.WARNING,
                )
        if mode == 'tensor':
            return [r['text'] for r in results]
        if mode != 'predict':
            raise RuntimeError(f'Invalid mode {mode!r}: expected "tensor", "loss" or "predict"')
        if data_samples is None:
            from gleamkit.structures import ExplanationDataSample

            data_samples = [ExplanationDataSample() for _ in results]
        for sample, result in zip(data_samples, results):
            sample.pred_text = result['text'] or ''
            sample.pred_label = result['label']
            if result.get('p_match') is not None:
                sample.p_match = float(result['p_match'])
                sample.scored_label = int(result['scored_label'])
            if result.get('error'):
                sample.pred_error = result['error']
        return data_samples
