"""An append-only JSONL cache of API answers, so an interrupted run resumes."""

import hashlib
import json
import os
import os.path as osp
import threading
from typing import Any, Dict, Optional, Sequence

__all__ = ['AnswerCache', 'image_digest']


def image_digest(image) -> str:
    """SHA-256 of a PIL image's pixels, size and mode (not of an encoded file)."""
    h = hashlib.sha256()
    h.update(f'{image.mode}:{image.size[0]}x{image.size[1]}:'.encode())
    h.update(image.tobytes())
    return h.hexdigest()


class AnswerCache:
    """Answers of a chat-completions endpoint, one JSON line each, keyed by request.

    The key (:meth:`key`) is a SHA-256 of the model name, the system prompt, the
    prompt, the generation settings and the digests of the images' pixels: the
    same request asked again is answered from the file (from whichever endpoint
    serves that model name: a local server restarted on another port keeps its
    cache), a changed prompt, image or setting is asked anew. Each line also
    records the endpoint that answered. Each answer is appended with one
    write and flushed to disk as soon as it arrives, so a run that is killed
    keeps every finished answer; a last line cut short by a crash is dropped
    (and cut off the file) when the cache is opened. Failures are not cached.

    Args:
        path (str): the JSONL file (created with its folder on the first answer).
    """

    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()
        self._answers: Dict[str, dict] = {}
        self.hits = 0
        self._load()

    def _load(self) -> None:
        if not osp.isfile(self.path):
            return
        with open(self.path, 'rb') as f:
            data = f.read()
        keep = data if not data or data.endswith(b'\n') else data[: data.rfind(b'\n') + 1]
        if len(keep) != len(data):  # a crash mid-write: the next append must start a line
            with open(self.path, 'r+b') as f:
                f.truncate(len(keep))
        for lineno, line in enumerate(keep.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                self._answers[entry['key']] = entry
            except (ValueError, KeyError, TypeError) as err:
                raise ValueError(
                    f'{self.path}:{lineno}: not an answer-cache line ({err}); '
                    'delete the file to start the cache afresh'
                ) from err

    def __len__(self) -> int:
        return len(self._answers)

    @staticmethod
    def key(
        model: str,
        prompt: str,
        image_digests: Sequence[str],
        system_prompt: Optional[str] = None,
        generation: Optional[dict] = None,
    ) -> str:
        """The cache key of one request."""
        request = dict(
            model=model,
            system_prompt=system_prompt,
            prompt=prompt,
            images=list(image_digests),
            generation=generation or {},
        )
        text = json.dumps(request, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode('utf-8')).hexdigest()

    def get(self, key: str) -> Optional[dict]:
        """The cached reply ``dict(text, finish_reason, usage)`` or ``None``."""
        entry = self._answers.get(key)
        if entry is None:
            return None
        with self._lock:
            self.hits += 1
        return dict(
            text=entry['text'], finish_reason=entry.get('finish_reason'), usage=entry.get('usage')
        )

    def put(self, key: str, reply: Dict[str, Any], **info) -> None:
        """Append one answer (``reply`` of ``complete``; ``info``: e.g. the model)."""
        entry = dict(
            key=key,
            text=reply['text'],
            finish_reason=reply.get('finish_reason'),
            usage=reply.get('usage'),
            **info,
        )
        data = (json.dumps(entry, ensure_ascii=False) + '\n').encode('utf-8')
        with self._lock:
            os.makedirs(osp.dirname(osp.abspath(self.path)), exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                written = os.write(fd, data)
                while written < len(data):
                    written += os.write(fd, data[written:])
                os.fsync(fd)
            finally:
                os.close(fd)
            self._answers[key] = entry
