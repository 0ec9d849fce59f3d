"""The project's own files agree with each other (Python version, markers, changelog)."""

import re
from pathlib import Path

import yaml

from gleamkit.version import __version__

ROOT = Path(__file__).resolve().parents[1]


def _pyproject(key: str) -> str:
    """The value of ``key = "..."`` in pyproject.toml (tomllib is Python >= 3.11 only)."""
    match = re.search(
        rf'^{re.escape(key)} = "([^"]*)"', (ROOT / 'pyproject.toml').read_text(), re.M
    )
    assert match, f'pyproject.toml has no {key} = "..."'
    return match.group(1)


def test_python_requires_agrees_with_ruffs_target():
    match = re.search(r"python_requires='>=(\d+)\.(\d+)'", (ROOT / 'setup.py').read_text())
    assert match, 'setup.py has no python_requires=">=X.Y"'
    target = _pyproject('target-version')
    assert target == f'py{match.group(1)}{match.group(2)}', (target, match.group(0))


def test_slow_marker_is_registered(pytestconfig):
    # the running pytest read pyproject.toml's [tool.pytest.ini_options]
    assert any(marker.startswith('slow:') for marker in pytestconfig.getini('markers'))


def test_pre_commit_runs_ruff_check_and_format_at_a_pinned_version():
    config = yaml.safe_load((ROOT / '.pre-commit-config.yaml').read_text())
    (ruff,) = [repo for repo in config['repos'] if repo['repo'].endswith('ruff-pre-commit')]
    assert re.fullmatch(r'v\d+\.\d+\.\d+', ruff['rev'])
    assert [hook['id'] for hook in ruff['hooks']] == ['ruff-check', 'ruff-format']
    assert _pyproject('quote-style') == 'single'


def test_changelog_has_unreleased_and_the_current_version():
    headings = re.findall(r'^## (.+)$', (ROOT / 'CHANGELOG.md').read_text(), re.M)
    assert headings[:2] == ['Unreleased', __version__]


# What makes a test slow: it starts another Python (or several) or a whole training run.
_STARTS_A_PROCESS = re.compile(r'subprocess\.|torchrun|runpy\.|\bRunner\(|Runner\.from_cfg')


def _starts_process(name, functions, source, seen=()):
    """Whether function ``name`` (or a helper / fixture of its file it uses) starts one."""
    import ast

    node = functions.get(name)
    if node is None or name in seen:
        return False
    if _STARTS_A_PROCESS.search(ast.get_source_segment(source, node)):
        return True
    used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    used |= {arg.arg for arg in node.args.args}
    return any(_starts_process(other, functions, source, seen + (name,)) for other in used - {name})


def _unmarked_process_tests():
    """Tests that start a process or a Runner but carry no ``slow`` mark."""
    import ast

    found = []
    for path in sorted((ROOT / 'tests').rglob('test_*.py')):
        source = path.read_text()
        if re.search(r'^pytestmark = .*slow|^    pytest\.mark\.slow', source, re.M):
            continue  # the whole file is slow
        tree = ast.parse(source)
        functions = {
            node.name: node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
        }
        for node in functions.values():
            if not node.name.startswith('test_'):
                continue
            marked = any('slow' in ast.unparse(d) for d in node.decorator_list)
            if not marked and _starts_process(node.name, functions, source):
                found.append(f'{path.relative_to(ROOT)}::{node.name}')
    return found


def test_tests_that_start_processes_are_marked_slow():
    # keeps `pytest -m "not slow"` fast: a new test that starts a process says so
    unmarked = _unmarked_process_tests()
    assert not unmarked, (
        'mark these @pytest.mark.slow (they start a process or a Runner):\n' + '\n'.join(unmarked)
    )
