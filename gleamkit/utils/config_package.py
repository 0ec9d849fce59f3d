"""The shipped configs as the package ``gleamkit.configs``, for configs outside the checkout.

A user's config in a folder of their own inherits a shipped one with an absolute
``read_base()`` import::

    with read_base():
        from gleamkit.configs.gleam_c.phase2 import *

mmengine turns ``gleamkit.configs.gleam_c.phase2`` into the file
``<gleamkit package folder>/configs/gleam_c/phase2.py`` and finds the package folder
with ``mmengine.utils.get_installed_path``. ``configs/`` stays the single config
tree: in a checkout (and so in an editable install) ``gleamkit/configs`` is a
symbolic link to it, and ``setup.py`` copies it into a built wheel as
``gleamkit/configs``.

mmengine 0.10.7's ``get_installed_path`` fails in two common set-ups: it imports
``pkg_resources``, which setuptools >= 81 no longer ships (mmengine's own fix,
open-mmlab/mmengine#1676, is not released), and for a PEP 660 editable install it
returns ``site-packages/gleamkit``, a folder that does not exist.
:func:`install_config_package_resolver` (run when gleamkit is imported) makes the
config parser ask Python's import system first, which knows where a package really
is, and fall back to mmengine's function otherwise.
"""

import importlib.util
import os.path as osp

__all__ = ['installed_package_path', 'install_config_package_resolver', 'CONFIG_PACKAGE']

CONFIG_PACKAGE = 'gleamkit.configs'


def installed_package_path(package: str, fallback=None) -> str:
    """The folder of an importable package, found by Python's import system.

    Args:
        package: A top-level package (module) name, e.g. ``'gleamkit'``.
        fallback: Called with ``package`` when the import system does not find a
            regular package (e.g. a distribution name that differs from its
            module name). Defaults to None (raise ``ModuleNotFoundError``).

    Returns:
        The package's folder.
    """
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin not in (None, 'namespace'):
        return osp.dirname(spec.origin)
    if spec is not None and spec.submodule_search_locations:
        # e.g. the checkout's configs/ on sys.path: any folder of that name would do,
        # so a config would mean different files from different working directories
        raise ModuleNotFoundError(
            f'{package!r} is a folder without __init__.py '
            f'({", ".join(spec.submodule_search_locations)}), not an installed package: '
            'read_base() imports configs from installed packages, e.g. '
            f'`from {CONFIG_PACKAGE}.gleam_c.phase2 import *`',
            name=package,
        )
    if fallback is not None:
        return fallback(package)
    raise ModuleNotFoundError(
        f'no importable package {package!r} (needed by a config that '
        f'imports its configs with read_base())',
        name=package,
    )


def install_config_package_resolver() -> None:
    """Let ``read_base()`` resolve absolute imports through Python's import system.

    Idempotent; only mmengine's config parser is affected.
    """
    from mmengine.config import config as mmengine_config

    current = mmengine_config.get_installed_path
    if getattr(current, '_gleamkit', False):
        return

    def get_installed_path(package: str) -> str:
        return installed_package_path(package, fallback=current)

    get_installed_path._gleamkit = True
    mmengine_config.get_installed_path = get_installed_path
