"""The demo as a person uses it: the app served on 127.0.0.1, driven by a real headless
Chromium (the system package; tools/setup_env.sh installs it), plus the README's one
command started as a process and asked through gradio's API."""

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from demo_fixtures import ScriptedExplainer
from PIL import Image

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get('GLEAMKIT_CHROMIUM', '/usr/bin/chromium')
REPO = Path(__file__).resolve().parents[2]


def chromium_or_fail():
    # a missing browser fails (with the fix) instead of skipping: CI must run this test
    if not (os.path.isfile(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.fail(
            f'no Chromium at {CHROMIUM}: `apt-get install -y chromium` (as root; '
            'tools/setup_env.sh does it), or set GLEAMKIT_CHROMIUM to a Chromium binary'
        )
    return CHROMIUM


def wait_for_http(url, timeout_s, process=None):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f'the demo exited with {process.returncode}')
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f'{url} did not answer within {timeout_s} s')


@pytest.fixture(scope='module')
def served(demo_gallery, free_port_factory):
    from gleamkit.demo import DemoBackend
    from gleamkit.demo.demo_app import launch_demo

    backend = DemoBackend.from_gallery(str(demo_gallery['gallery']), explainer=ScriptedExplainer())
    port = free_port_factory()
    app = launch_demo(backend, host='127.0.0.1', port=port, block=False)
    url = f'http://127.0.0.1:{port}/'
    wait_for_http(url, 60)
    yield dict(backend=backend, url=url)
    app.close()


def upload_and_wait(page, path, previous_status=None):
    """Put ``path`` into the upload widget, press the button, wait for a new status."""
    clear = page.locator('#upload button[aria-label="Clear"]')
    if clear.count():
        clear.first.click()
    page.set_input_files('#upload input[type=file]', str(path))
    page.wait_for_selector(f'#upload >> text={Path(path).stem}', timeout=30_000)
    page.click('#go-upload')
    page.wait_for_function(
        "([name, before]) => { const s = document.querySelector('#status');"
        ' return s && s.innerText.includes(name) && s.innerText !== before; }',
        arg=[Path(path).name, previous_status or ''],
        timeout=60_000,
    )
    # the pictures arrive after the text: wait until every <img> has decoded
    page.wait_for_function(
        '() => Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)',
        timeout=30_000,
    )
    return page.inner_text('#status')


def test_upload_in_a_browser_shows_tiles_scores_verdict_and_survives_a_non_image(served, tmp_path):
    from playwright.sync_api import sync_playwright

    backend = served['backend']
    world = backend.world
    first = tmp_path / 'drone_5.png'
    Image.fromarray(world.render(5, 'uav')).save(first)
    second = tmp_path / 'drone_9.png'
    Image.fromarray(world.render(9, 'uav')).save(second)
    junk = tmp_path / 'holiday.png'
    junk.write_text('a shopping list, not a picture')
    expected = {
        p.name: backend.localizer.localize(np.asarray(Image.open(p)), view='uav', topk=5)
        for p in (first, second)
    }
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_or_fail(), args=['--no-sandbox'])
        try:
            page = browser.new_page(viewport={'width': 1400, 'height': 1000})
            page.goto(served['url'], wait_until='domcontentloaded')
            page.wait_for_selector('#go-upload', timeout=60_000)
            # the button pressed before any upload
            page.click('#go-upload')
            page.wait_for_function(
                "() => document.querySelector('#status').innerText.includes('No image')",
                timeout=60_000,
            )
            assert page.inner_text('#status').startswith('Error: No image uploaded: choose a')

            status = upload_and_wait(page, first, page.inner_text('#status'))
            top = expected[first.name].tiles
            assert f'drone_5.png [uav]: top-1 tile {top[0].tile_id} (score {top[0].score:.3f})' in (
                status
            )
            table = page.inner_text('#results-table')
            rows = [line.split('\t') for line in table.strip().splitlines()]
            assert rows[0] == ['rank', 'tile', 'score', 'lat', 'lon', 'GLEAM-X', 'P(match)']
            assert [r[:3] for r in rows[1:]] == [
                [str(t.rank), t.tile_id, f'{t.score:.4f}'] for t in top
            ]
            assert rows[1][5:] == ['match', '0.810']
            verdict = page.inner_text('#verdict')
            assert f'GLEAM-X verdict for #1 {top[0].tile_id}: match, P(match) = 0.810' in verdict
            assert 'They depict the same area.' in verdict

            page.screenshot(path=str(tmp_path / 'page.png'), full_page=True)
            shot = Image.open(tmp_path / 'page.png').convert('RGB')
            pixels = np.asarray(shot)
            assert shot.width >= 1000 and shot.height >= 900
            # the page shows the region map and tiles, not only text on white
            colours = len(np.unique(pixels.reshape(-1, 3) // 8, axis=0))
            assert colours > 2000, colours
            assert pixels.std() > 30
            map_size = page.evaluate(
                '() => Array.from(document.images).filter(i => i.naturalWidth >= 600)'
                '.map(i => [i.naturalWidth, i.naturalHeight])'
            )
            assert map_size == [[700, 560]]  # draw_region_map's 7 x 5.6 in at 100 dpi

            # a file that is not an image: the page says so, the app keeps serving
            status = upload_and_wait(page, junk, status)
            assert status.startswith('Error: The upload holiday.png is not an image')
            assert page.inner_text('#results-table').strip() == ''
            status = upload_and_wait(page, second, status)
            top = expected[second.name].tiles
            assert f'drone_9.png [uav]: top-1 tile {top[0].tile_id} (score {top[0].score:.3f})' in (
                status
            )
        finally:
            browser.close()


def test_the_readme_command_serves_offline_with_the_tiny_explainer(
    demo_gallery, free_port_factory, tmp_path
):
    """`python tools/demo.py --gallery G --explainer CONFIG` as a process; gradio's API
    answers a good upload with a verdict and a bad one with the error."""
    from gradio_client import Client, handle_file

    port = free_port_factory()
    env = dict(os.environ, HF_HUB_OFFLINE='1', GRADIO_ANALYTICS_ENABLED='False')
    env['PYTHONPATH'] = str(REPO)
    command = [
        sys.executable,
        str(REPO / 'tools' / 'demo.py'),
        '--gallery',
        str(demo_gallery['gallery']),
        '--explainer',
        str(REPO / 'configs' / 'gleam_x' / 'tiny_qwen2_5_vl_lora_synthetic.py'),
        '--port',
        str(port),
        '--device',
        'cpu',
    ]
    log = open(tmp_path / 'demo.log', 'w')
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        wait_for_http(f'http://127.0.0.1:{port}/', 240, process)
        client = Client(f'http://127.0.0.1:{port}/', verbose=False)
        good = tmp_path / 'drone_2.png'
        Image.fromarray(demo_gallery['world'].render(2, 'uav')).save(good)
        status, *_, table, verdict, _ = client.predict(
            handle_file(str(good)), 'uav', 3, 'en', True, api_name='/localise_upload'
        )
        assert status.startswith('**drone_2.png** [uav]: top-1 tile **region/')
        assert table.count('\n') == 4  # header, rule, 3 tiles
        assert verdict.startswith('**GLEAM-X verdict for #1 region/')
        junk = tmp_path / 'notes.txt'
        junk.write_text('not an image')
        status, *_ = client.predict(
            handle_file(str(junk)), 'uav', 3, 'en', True, api_name='/localise_upload'
        )
        assert status.startswith('**Error:** The upload notes.txt is not an image')
        status, *_ = client.predict(2, 'ground', 3, 'zh', False, api_name='/localise_builtin')
        assert status.startswith('**place 2** [ground]: top-1 tile **region/')
        assert process.poll() is None
    finally:
        process.terminate()
        process.wait(30)
        log.close()
