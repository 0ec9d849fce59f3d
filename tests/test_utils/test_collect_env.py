"""Tests for ``python -m gleamkit.utils.collect_env``."""

import importlib.metadata
import os
import platform
import subprocess
import sys

import pytest

import gleamkit
from gleamkit.utils.collect_env import NOT_INSTALLED, PACKAGES, package_version
from gleamkit.version import __version__ as gleamkit_version

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(gleamkit.__file__)))


def _run(args):
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [REPO_ROOT, env.get('PYTHONPATH')]))
    result = subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert 'Traceback' not in result.stderr, result.stderr
    report = {}
    for line in result.stdout.splitlines():
        key, sep, value = line.partition(': ')
        if sep and not line.startswith(' '):
            report[key] = value
    return report


def _installed_version(dist_names):
    for name in dist_names:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


@pytest.fixture(scope='module')
def report():
    return _run(['-m', 'gleamkit.utils.collect_env'])


@pytest.mark.slow
def test_report_has_system_lines(report):
    assert report['gleamkit'].startswith(gleamkit_version)
    assert report['Python'].startswith(platform.python_version())
    assert report['Platform']
    assert report['CPU count'].startswith(str(os.cpu_count()))


@pytest.mark.slow
def test_report_has_torch_lines(report):
    import torch

    assert report['PyTorch'] == torch.__version__
    assert report['CUDA available'] == str(torch.cuda.is_available())
    assert report['CUDA version (torch built with)'] == (torch.version.cuda or 'none (CPU)')
    assert 'cuDNN' in report
    if torch.cuda.is_available():
        assert any(key.startswith('GPU ') for key in report)
    else:
        assert report['GPUs'] == 'none'
    assert report['bf16 on CPU'].split()[0] in ('native', 'converted', 'supported', 'emulated')
    assert 'gloo' in report['torch.distributed backends']


@pytest.mark.slow
@pytest.mark.parametrize(
    'label, import_name, dist_names', PACKAGES, ids=[package[0] for package in PACKAGES]
)
def test_report_has_package_versions(report, label, import_name, dist_names):
    expected = _installed_version(dist_names)
    if expected is None:
        assert report[label] == NOT_INSTALLED
    else:
        # The module's __version__ may be shorter than the wheel's (cv2 5.0.0 vs 5.0.0.93).
        reported = report[label].split()[0].rstrip(',')
        assert expected.startswith(reported) or reported.startswith(expected), (
            label,
            report[label],
            expected,
        )
        assert 'import failed' not in report[label]


@pytest.mark.slow
def test_report_has_faiss_gpus(report):
    if report['faiss'] == NOT_INSTALLED:
        assert report['faiss GPUs'] == NOT_INSTALLED
    else:
        assert report['faiss GPUs'].isdigit()


@pytest.mark.slow
def test_report_lists_gleamkit_changes_to_mmengine(report):
    from gleamkit.utils import mmengine_changes

    for change in mmengine_changes():
        line = report[f'gleamkit change [{change.what}]']
        assert line.startswith(f'active ({change.where}; '), line


def test_missing_package_reads_not_installed():
    assert package_version('gleamkit_no_such_module_xyz', ('no-such-dist-xyz',)) == NOT_INSTALLED


@pytest.mark.slow
def test_broken_packages_do_not_crash_the_report():
    # sys.modules[name] = None makes `import name` raise ImportError although the
    # distribution is installed; it also skips the slowest imports.
    blocked = ['mmpretrain', 'transformers', 'peft', 'faiss', 'timm', 'torchvision']
    code = (
        'import runpy, sys\n'
        f'for name in {blocked!r}:\n'
        '    sys.modules[name] = None\n'
        "runpy.run_module('gleamkit.utils.collect_env', run_name='__main__')\n"
    )
    report = _run(['-c', code])
    for label, import_name, dist_names in PACKAGES:
        if import_name in blocked:
            if _installed_version(dist_names) is None:
                assert report[label] == NOT_INSTALLED
            else:
                assert 'import failed' in report[label]
    assert report['faiss GPUs'] in (NOT_INSTALLED, 'n/a (faiss does not import)')
    assert report['MMEngine'] == importlib.metadata.version('mmengine')
