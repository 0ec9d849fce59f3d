"""custom_imports in every config style, from the config and from --cfg-options."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from mmengine.config import Config

from gleamkit.utils.custom_imports import add_config_search_paths, import_custom_modules

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clean_path(monkeypatch):
    """Restore sys.path and forget the test's modules afterwards."""
    monkeypatch.setattr(sys, 'path', list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith('ci_mod_'):
            del sys.modules[name]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_new_style_config_imports_its_module_from_the_config_folder(
    tmp_path, clean_path, monkeypatch
):
    # a read_base() config: mmengine keeps custom_imports but does not import it
    write(tmp_path / 'cfgs' / 'ci_mod_flag.py', 'LOADED = True\n')
    cfg_file = write(
        tmp_path / 'cfgs' / 'cfg.py',
        """
        from mmengine.config import read_base
        from gleamkit.models import EmbeddingHead
        custom_imports = dict(imports=['ci_mod_flag'])
        head = dict(type=EmbeddingHead)
    """,
    )
    monkeypatch.chdir(ROOT)
    cfg = Config.fromfile(str(cfg_file))
    assert 'ci_mod_flag' not in sys.modules  # mmengine did nothing with it
    assert import_custom_modules(cfg) == ['ci_mod_flag']  # cfg.filename found the folder
    assert sys.modules['ci_mod_flag'].LOADED is True
    # the folder was appended, after the installed packages: it cannot shadow them
    site = [i for i, p in enumerate(sys.path) if 'site-packages' in p]
    assert sys.path.index(str(tmp_path / 'cfgs')) > max(site)


def test_folders_are_appended_once_and_cwd_is_importable(tmp_path, clean_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sys.path[:] = [p for p in sys.path if p not in ('', str(tmp_path))]
    added = add_config_search_paths(str(tmp_path / 'sub' / 'cfg.py'))
    assert added == [str(tmp_path / 'sub'), str(tmp_path)]
    assert add_config_search_paths(str(tmp_path / 'sub' / 'cfg.py')) == []
    write(tmp_path / 'ci_mod_cwd.py', 'VALUE = 3\n')
    cfg = Config(dict(custom_imports=dict(imports='ci_mod_cwd')))
    assert import_custom_modules(cfg, str(tmp_path / 'elsewhere' / 'cfg.py')) == ['ci_mod_cwd']


def test_missing_module_names_config_module_and_folders(tmp_path, clean_path):
    cfg = Config(dict(custom_imports=dict(imports=['ci_mod_missing'])))
    with pytest.raises(ImportError) as err:
        import_custom_modules(cfg, str(tmp_path / 'my_cfg.py'))
    msg = str(err.value)
    assert f'config {tmp_path / "my_cfg.py"}' in msg
    assert "'ci_mod_missing', which is not importable" in msg
    assert 'PYTHONPATH' in msg and 'working directory' in msg


def test_a_broken_dependency_is_told_apart_from_a_missing_module(tmp_path, clean_path):
    write(tmp_path / 'ci_mod_broken.py', 'import ci_dependency_not_installed\n')
    cfg = Config(dict(custom_imports=dict(imports=['ci_mod_broken'])))
    with pytest.raises(
        ImportError,
        match="'ci_mod_broken' was found, but importing it failed: "
        "No module named 'ci_dependency_not_installed'",
    ):
        import_custom_modules(cfg, str(tmp_path / 'cfg.py'))


def test_allow_failed_imports_warns_and_goes_on(tmp_path, clean_path):
    write(tmp_path / 'ci_mod_ok.py', 'X = 1\n')
    cfg = Config(
        dict(custom_imports=dict(imports=['ci_mod_absent', 'ci_mod_ok'], allow_failed_imports=True))
    )
    with pytest.warns(UserWarning, match='ci_mod_absent.*skipped'):
        assert import_custom_modules(cfg, str(tmp_path / 'cfg.py')) == ['ci_mod_ok']


@pytest.mark.parametrize(
    'spec, match',
    [
        (['a'], 'custom_imports must be a dict'),
        (dict(import_=['a']), "unknown key custom_imports.import_. Did you mean 'imports'"),
        (dict(imports=[3]), 'must be a module name or a list of module names'),
        (dict(imports=['a'], allow_failed_imports='yes'), 'must be True or False'),
    ],
)
def test_malformed_custom_imports_are_named(spec, match, tmp_path, clean_path):
    with pytest.raises(TypeError, match=match):
        import_custom_modules(Config(dict(custom_imports=spec)), str(tmp_path / 'c.py'))


def test_no_custom_imports_imports_nothing(tmp_path, clean_path):
    assert import_custom_modules(Config(dict(a=1)), str(tmp_path / 'c.py')) == []


@pytest.mark.slow
def test_prepare_config_imports_what_cfg_options_add(tmp_path):
    # `--cfg-options custom_imports.imports=[mod]` on a shipped (read_base) config
    write(
        tmp_path / 'ci_mod_adapter.py',
        """
        from gleamkit.models import IdentityAdapter
        from gleamkit.registry import ADAPTERS

        @ADAPTERS.register_module()
        class CiModAdapter(IdentityAdapter):
            pass
    """,
    )
    code = textwrap.dedent(f"""
        import argparse, sys
        sys.path.insert(0, {str(ROOT)!r})
        from mmengine.config import Config
        from gleamkit.registry import ADAPTERS
        from gleamkit.utils.runtime import prepare_config
        cfg = Config.fromfile({str(ROOT / 'configs/gleam_c/phase2.py')!r})
        args = argparse.Namespace(
            config={str(ROOT / 'configs/gleam_c/phase2.py')!r}, launcher='none',
            cfg_options={{'custom_imports.imports': ['ci_mod_adapter'],
                          'model.adapter.type': 'CiModAdapter'}},
            work_dir={str(tmp_path / 'w')!r}, load_from=None, resume=None, amp=False,
            no_validate=False)
        cfg = prepare_config(cfg, args)
        print(ADAPTERS.get(cfg.model.adapter.type).__module__)
    """)
    out = subprocess.run(
        [sys.executable, '-c', code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == 'ci_mod_adapter'
