"""``custom_imports`` for every config style: register a user's modules before building.

mmengine imports ``custom_imports`` only while it parses an old-style (``_base_``)
config; for a pure-Python (``read_base()``) config - every config gleamkit ships - the
key is kept but nothing is imported, and an ``--cfg-options custom_imports...`` given
on the command line comes too late in both styles. :func:`import_custom_modules`
closes both gaps; ``prepare_config`` (``tools/train.py``, ``tools/test.py`` and the
``dist_*.sh`` scripts that run them) calls it after the command-line overrides.

Where a module is looked up - for ``custom_imports`` and for a pure-Python config's
own ``from my_module import MyLoss`` (mmengine imports those when the config is
built): ``sys.path`` first (installed packages, ``PYTHONPATH``, and the checkout root
for the tools), then the config file's own folder, then the current working
directory. The two folders are appended, never prepended, so a file next to a
config cannot shadow an installed package.
"""

import difflib
import importlib
import os
import os.path as osp
import sys
import warnings
from typing import List, Optional

__all__ = ['import_custom_modules', 'add_config_search_paths']

_KEYS = ('imports', 'allow_failed_imports')


def add_config_search_paths(config_path: Optional[str] = None) -> List[str]:
    """Make the config file's folder and the working directory importable.

    Args:
        config_path: The config file; its folder is added. Defaults to None
            (only the working directory).

    Returns:
        The folders appended to ``sys.path`` by this call (those not there yet).
    """
    folders = [osp.dirname(osp.abspath(config_path))] if config_path else []
    folders.append(os.getcwd())
    present = {osp.abspath(p or os.curdir) for p in sys.path}
    added = []
    for folder in folders:
        if folder not in present:
            sys.path.append(folder)
            present.add(folder)
            added.append(folder)
    return added


def _module_names(spec, where: str) -> List[str]:
    imports = spec.get('imports', [])
    if isinstance(imports, str):
        imports = [imports]
    if not isinstance(imports, (list, tuple)) or not all(
        isinstance(name, str) and name for name in imports
    ):
        raise TypeError(
            f'{where}: custom_imports.imports must be a module name or a list of '
            f'module names (e.g. imports=["my_project.modules"]), got {imports!r}'
        )
    return list(imports)


def import_custom_modules(cfg, config_path: Optional[str] = None) -> List[str]:
    """Import the modules a config lists in ``custom_imports``; make its folder importable.

    ``custom_imports = dict(imports=['my_project.losses'], allow_failed_imports=False)``:
    importing a module runs its ``@LOSSES.register_module()`` (etc.) decorators, so
    ``type='MyLoss'`` then resolves. Importing twice is harmless (Python caches modules).

    Args:
        cfg: A config (``mmengine.Config`` or a dict) with an optional
            ``custom_imports`` entry.
        config_path: The config file, for messages and for the module search path
            (see the module docstring). Defaults to ``cfg.filename`` when ``cfg`` has one.

    Returns:
        The names of the modules imported (an empty list without ``custom_imports``).

    Raises:
        TypeError: ``custom_imports`` is not a dict of the accepted keys.
        ImportError: A module cannot be imported and ``allow_failed_imports`` is False
            (the default); the message names the config, the module and the folders searched.
    """
    if config_path is None:
        config_path = getattr(cfg, 'filename', None)
    add_config_search_paths(config_path)
    spec = cfg.get('custom_imports', None)
    where = f'config {config_path}' if config_path else 'config'
    if spec is None:
        return []
    if not isinstance(spec, dict):
        raise TypeError(
            f'{where}: custom_imports must be a dict such as '
            f'dict(imports=["my_module"], allow_failed_imports=False), '
            f'got {spec!r}'
        )
    unknown = [key for key in spec if key not in _KEYS]
    if unknown:
        close = difflib.get_close_matches(unknown[0], _KEYS, n=1)
        hint = f' Did you mean {close[0]!r}?' if close else ''
        raise TypeError(
            f'{where}: unknown key custom_imports.{unknown[0]}.{hint} '
            f'Accepted keys: {", ".join(_KEYS)}.'
        )
    allow_failed = spec.get('allow_failed_imports', False)
    if not isinstance(allow_failed, bool):
        raise TypeError(
            f'{where}: custom_imports.allow_failed_imports must be True or False, '
            f'got {allow_failed!r}'
        )
    names = _module_names(spec, where)
    imported = []
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as err:
            missing = getattr(err, 'name', None)
            if missing and (name == missing or name.startswith(missing + '.')):
                msg = (
                    f'{where}: custom_imports names {name!r}, which is not importable: '
                    f'no module {missing!r} in sys.path (installed packages, PYTHONPATH), '
                    f"the config's folder or the working directory {os.getcwd()}. Put the "
                    'module next to the config, run from its folder, or add its folder to '
                    'PYTHONPATH.'
                )
            else:  # the module is there; something it imports is not
                msg = (
                    f'{where}: custom_imports module {name!r} was found, but importing it '
                    f'failed: {err}'
                )
            if allow_failed:
                warnings.warn(f'{msg} (skipped: allow_failed_imports=True)')
                continue
            raise ImportError(msg) from err
        imported.append(name)
    return imported
