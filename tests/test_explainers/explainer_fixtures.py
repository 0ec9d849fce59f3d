"""Helpers of the explainer tests: contract samples, a scripted OpenAI-compatible server."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from gleamkit.structures.explanation_data_sample import ExplanationDataSample

ANSWERS = {
    ('en', 1): 'The roads and buildings line up. They depict the same area.',
    ('en', 0): 'The layouts differ. The two images do not correspond.',
    ('zh', 1): '道路和建筑一致，它们是同一地点。',
    ('zh', 0): '布局不同，这两张图像不是同一地点。',
}
PROMPTS = {
    'en': 'Image 1 is a UAV image and image 2 is a satellite image. Same place?',
    'zh': '图像1是无人机图像，图像2是卫星图像。是否为同一地点？',
}


def contract_sample(index: int, seed: int = 0, size: int = 48) -> dict:
    """One sample as the GLEAM-X pipeline packs it (the shared sample contract).

    Matching pairs show the same random blocks (the satellite image is a noisy
    copy of the query); non-matching pairs show unrelated blocks.
    """
    rng = np.random.default_rng([seed, index])
    label = index % 2
    lang = ('en', 'zh')[(index // 2) % 2]
    query = np.kron(rng.integers(0, 256, (size // 8, size // 8, 3)), np.ones((8, 8, 1))).astype(
        np.uint8
    )
    other = np.kron(rng.integers(0, 256, (size // 8, size // 8, 3)), np.ones((8, 8, 1))).astype(
        np.uint8
    )
    satellite = query if label else other
    satellite = np.clip(
        satellite.astype(int) + rng.integers(-8, 9, satellite.shape), 0, 255
    ).astype(np.uint8)
    answer = ANSWERS[(lang, label)]
    meta = dict(
        id=f'pair-{seed}-{index}',
        view='uav',
        lang=lang,
        label=label,
        reference=answer,
        source='test',
    )
    return dict(
        inputs=dict(images=[query, satellite], prompt=PROMPTS[lang], answer=answer),
        data_samples=ExplanationDataSample(metainfo=meta),
    )


def contract_batch(indices, seed: int = 0) -> dict:
    """``pseudo_collate`` of :func:`contract_sample`\\ s."""
    samples = [contract_sample(i, seed) for i in indices]
    return dict(
        inputs=[s['inputs'] for s in samples], data_samples=[s['data_samples'] for s in samples]
    )


ANSWER = (
    'Image 1 shows a grid of streets; image 2 shows the same grid. Taken together, these '
    'similarities confirm that they depict the same area.'
)


def completion(text=ANSWER):
    return json.dumps(
        {
            'id': 'x',
            'object': 'chat.completion',
            'choices': [
                {
                    'index': 0,
                    'finish_reason': 'stop',
                    'message': {'role': 'assistant', 'content': text},
                }
            ],
        }
    ).encode()


class ScriptedServer:
    """Answers each request with the next scripted reply; records the requests.

    A reply is ``(status, headers, body)`` or ``('sleep', seconds, reply)``. The server
    answers at most ``len(script)`` requests (then 599) and shuts itself down after
    ``lifetime`` seconds whatever happens.
    """

    def __init__(self, script, lifetime=20.0):
        self.script = list(script)
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
                outer.requests.append(
                    dict(path=self.path, headers=dict(self.headers), json=json.loads(body))
                )
                reply = outer.script.pop(0) if outer.script else (599, {}, b'script exhausted')
                if reply[0] == 'sleep':
                    time.sleep(reply[1])
                    reply = reply[2]
                status, headers, payload = reply
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header('Content-Length', str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the client gave up (timeout test)
                    pass

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.server.daemon_threads = True
        self.url = f'http://127.0.0.1:{self.server.server_address[1]}/v1'
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs=dict(poll_interval=0.05), daemon=True
        )
        self.timer = threading.Timer(lifetime, self.stop)
        self.timer.daemon = True

    def __enter__(self):
        self.thread.start()
        self.timer.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def __exit__(self, *exc):
        self.timer.cancel()
        self.stop()
