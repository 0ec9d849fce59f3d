"""The shipped configs as ``gleamkit.configs``: a config outside the checkout inherits them."""

import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from gleamkit.utils.config_package import installed_package_path

ROOT = Path(__file__).resolve().parents[2]

USER_CONFIG = """
from mmengine.config import read_base

with read_base():
    from gleamkit.configs.gleam_c.phase2 import *

model['head']['embed_dim'] = 48
"""

PRINT_CONFIG = """
import gleamkit
from mmengine.config import Config
cfg = Config.fromfile('user_cfg.py')
print(gleamkit.__file__)
print(cfg.model.head.embed_dim, cfg.train_cfg.max_epochs,
      cfg.train_dataloader.sampler.type.__name__, cfg.model.loss.type.__name__)
"""


def run_python(code, cwd, pythonpath):
    return subprocess.run(
        [sys.executable, '-c', code],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, PYTHONPATH=pythonpath),
    )


def test_the_checkout_links_gleamkit_configs_to_the_single_tree():
    link = ROOT / 'gleamkit' / 'configs'
    assert link.is_symlink() and os.readlink(link) == '../configs'
    assert (link / 'gleam_c' / 'phase2.py').samefile(ROOT / 'configs' / 'gleam_c' / 'phase2.py')


def test_resolver_uses_the_import_system():
    assert installed_package_path('gleamkit') == str(ROOT / 'gleamkit')
    assert (
        installed_package_path('no_such_pkg_x', fallback=lambda p: f'/fb/{p}')
        == '/fb/no_such_pkg_x'
    )
    with pytest.raises(ModuleNotFoundError, match="no importable package 'no_such_pkg_x'"):
        installed_package_path('no_such_pkg_x')


def test_a_folder_named_like_a_package_is_refused(tmp_path, monkeypatch):
    (tmp_path / 'configs').mkdir()
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(
        ModuleNotFoundError,
        match="'configs' is a folder without __init__.py "
        r'.*`from gleamkit.configs.gleam_c.phase2 import \*`',
    ):
        installed_package_path('configs')


@pytest.mark.slow
def test_outside_config_inherits_phase2_from_the_checkout(tmp_path):
    (tmp_path / 'user_cfg.py').write_text(USER_CONFIG)
    out = run_python(PRINT_CONFIG, tmp_path, str(ROOT))
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    assert lines[-2] == str(ROOT / 'gleamkit' / '__init__.py')
    # the child's change and everything phase2 sets (its epochs, sampler and loss)
    assert lines[-1] == '48 2 ViewBalancedSampler SymmetricInfoNCELoss'


@pytest.mark.slow
def test_a_regular_wheel_install_carries_the_configs(tmp_path):
    pytest.importorskip('setuptools', reason='building the wheel needs setuptools in this venv')
    # build from a copy (the build writes build/ and egg-info next to setup.py)
    src = tmp_path / 'src'
    src.mkdir()
    for name in ('setup.py', 'README.md'):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / 'configs', src / 'configs', ignore=shutil.ignore_patterns('__pycache__'))
    shutil.copytree(
        ROOT / 'gleamkit',
        src / 'gleamkit',
        symlinks=True,
        ignore=shutil.ignore_patterns('__pycache__'),
    )
    wheels = tmp_path / 'wheels'
    build = subprocess.run(
        [
            sys.executable,
            '-m',
            'pip',
            'wheel',
            '--no-deps',
            '--no-build-isolation',
            '-q',
            str(src),
            '-w',
            str(wheels),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    wheel = next(wheels.glob('gleamkit-*.whl'))
    names = zipfile.ZipFile(wheel).namelist()
    shipped = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / 'configs').rglob('*.py'))
    assert (
        sorted(n[len('gleamkit/') :] for n in names if n.startswith('gleamkit/configs/')) == shipped
    )  # every config, once, as real files
    target = tmp_path / 'site'
    install = subprocess.run(
        [
            sys.executable,
            '-m',
            'pip',
            'install',
            '--no-deps',
            '-q',
            '--target',
            str(target),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    user = tmp_path / 'user'
    user.mkdir()
    (user / 'user_cfg.py').write_text(USER_CONFIG)
    # only the installed copy on the path: the checkout is not reachable
    out = run_python(PRINT_CONFIG, user, str(target))
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    assert lines[-2] == str(target / 'gleamkit' / '__init__.py')
    assert lines[-1] == '48 2 ViewBalancedSampler SymmetricInfoNCELoss'


@pytest.mark.slow
def test_a_relative_base_that_does_not_exist_is_still_reported(tmp_path):
    (tmp_path / 'user_cfg.py').write_text(
        textwrap.dedent("""
        from mmengine.config import read_base

        with read_base():
            from gleamkit.configs.gleam_c.phase9 import *
    """)
    )
    out = run_python(PRINT_CONFIG, tmp_path, str(ROOT))
    assert out.returncode != 0
    assert 'gleamkit/configs/gleam_c/phase9.py not found' in out.stderr
