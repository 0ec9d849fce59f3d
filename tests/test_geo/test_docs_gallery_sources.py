"""docs/gallery_sources.md: its commands and Python blocks run, in order, as a reader
would run them in an empty folder."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / 'docs' / 'gallery_sources.md'
BLOCK = re.compile(r'```(bash|python)\n(.*?)```', re.S)


@pytest.mark.slow
def test_gallery_sources_page_runs(tmp_path, monkeypatch):
    blocks = BLOCK.findall(PAGE.read_text())
    assert [kind for kind, _ in blocks].count('bash') >= 1
    assert [kind for kind, _ in blocks].count('python') >= 4
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ROOT))
    namespace = {'__name__': 'gallery_sources_doc'}
    for i, (kind, code) in enumerate(blocks, start=1):
        if kind == 'bash':
            for command in code.replace('\\\n', ' ').splitlines():
                args = shlex.split(command)
                assert args[0] == 'python', command
                done = subprocess.run(
                    [sys.executable] + args[1:],
                    cwd=tmp_path,
                    text=True,
                    capture_output=True,
                    timeout=300,
                    env={'PYTHONPATH': str(ROOT), 'PATH': '/usr/bin:/bin'},
                )
                assert done.returncode == 0, done.stderr
        else:
            exec(compile(code, f'{PAGE.name}[block {i}]', 'exec'), namespace)
    assert (tmp_path / 'region.tif').is_file() and (tmp_path / 'places.csv').is_file()
    assert namespace['meta']['tile_id'].startswith('region/150m/')
