"""Run the Python code blocks of the tutorials, in order, as a reader would."""
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / 'docs'
TUTORIALS = sorted((DOCS / 'tutorials').glob('*.md'))
BLOCK = re.compile(r'```python\n(.*?)```', re.S)
FILE_HEADER = re.compile(r'#\s*([\w/]+\.py)\b')


@pytest.mark.parametrize('page', TUTORIALS, ids=[p.name for p in TUTORIALS])
def test_tutorial_code_blocks_run(page, tmp_path, monkeypatch):
    blocks = BLOCK.findall(page.read_text())
    assert blocks, f'{page} has no python code blocks'
    monkeypatch.chdir(tmp_path)
    namespace = {'__name__': f'tutorial_{page.stem}'}
    monkeypatch.syspath_prepend(str(tmp_path))
    for i, code in enumerate(blocks, start=1):
        header = FILE_HEADER.match(code)
        if header:  # a file the reader saves, imported by later blocks
            (tmp_path / header.group(1)).write_text(code)
            continue
        exec(compile(code, f'{page.name}[block {i}]', 'exec'), namespace)
