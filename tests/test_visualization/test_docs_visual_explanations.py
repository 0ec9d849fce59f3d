"""docs/visual_explanations.md's commands and code, run in order as a reader would, with
tests/test_docs.py's runner (the miniature world and model it adds to tool commands)."""

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # trains and tests in subprocesses

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / 'docs' / 'visual_explanations.md'


def _docs_runner():
    spec = importlib.util.spec_from_file_location(
        '_gleamkit_docs_runner', ROOT / 'tests' / 'test_docs.py'
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_visual_explanations_page_runs(tmp_path, monkeypatch, free_port):
    runner = _docs_runner()
    found = runner.blocks(PAGE)
    assert [lang for lang, _, _ in found] == ['bash', 'python']
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    namespace = {'__name__': 'docs_visual_explanations'}
    runner._run_blocks(PAGE, found, tmp_path, namespace, free_port)
    show = tmp_path / 'work_dirs' / 'phase2_show'
    assert (show / 'test' / 'recall_curves.png').exists()
    assert len(list((show / 'test').glob('query*_grid.png'))) == 4
    assert (tmp_path / 'heatmap.png').exists()
    explanation = namespace['explanation']
    assert explanation.exact
    assert explanation.decomposed_similarity == pytest.approx(
        namespace['out']['similarity'], abs=1e-5
    )


def test_the_pictures_the_page_shows_exist():
    for name in ('grid', 'heatmap', 'heatmap_ground', 'recall'):
        picture = f'images/visual_explanation_{name}.png'
        assert (ROOT / 'docs' / picture).is_file(), picture
        assert f']({picture})' in PAGE.read_text()  # and the page shows it
