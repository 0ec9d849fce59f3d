"""The project's own files agree with each other (Python version, markers, changelog)."""
import re
from pathlib import Path

import yaml

from gleamkit.version import __version__

ROOT = Path(__file__).resolve().parents[1]


def _pyproject(key: str) -> str:
    """The value of ``key = "..."`` in pyproject.toml (tomllib is Python >= 3.11 only)."""
    match = re.search(rf'^{re.escape(key)} = "([^"]*)"', (ROOT / 'pyproject.toml').read_text(),
                      re.M)
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
    (ruff, ) = [repo for repo in config['repos'] if repo['repo'].endswith('ruff-pre-commit')]
    assert re.fullmatch(r'v\d+\.\d+\.\d+', ruff['rev'])
    assert [hook['id'] for hook in ruff['hooks']] == ['ruff-check', 'ruff-format']
    assert _pyproject('quote-style') == 'single'


def test_changelog_has_unreleased_and_the_current_version():
    headings = re.findall(r'^## (.+)$', (ROOT / 'CHANGELOG.md').read_text(), re.M)
    assert headings[:2] == ['Unreleased', __version__]
