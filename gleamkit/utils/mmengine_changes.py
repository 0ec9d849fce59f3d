"""What importing gleamkit changes in mmengine (and torch), checked live.

``import gleamkit`` changes a few process-wide settings of mmengine and torch so that
checkpoints load safely on torch >= 2.6, are written atomically, and configs outside
the checkout can inherit the shipped ones. :func:`mmengine_changes` lists each change
with where it is made, why, and whether it is in effect *now* (each check looks at
mmengine's or torch's own tables, not at a flag of ours), so nobody has to guess::

    >>> from gleamkit.utils import mmengine_changes
    >>> for change in mmengine_changes():
    ...     print(change.active, change.what)

``python -m gleamkit.utils.collect_env`` prints the same list; ``docs/design.md``
("What `import gleamkit` changes") explains it.
"""

from typing import Callable, List, NamedTuple

__all__ = ['MmengineChange', 'mmengine_changes']


class MmengineChange(NamedTuple):
    """One change gleamkit makes to mmengine or torch.

    Args:
        what: The change, in a few words.
        where: The mmengine / torch object that is changed.
        why: What would go wrong without it.
        when: What installs it (``import gleamkit`` or a submodule).
        active: Whether the change is in effect in this process, checked live.
    """

    what: str
    where: str
    why: str
    when: str
    active: bool


def _safe_globals_registered() -> bool:
    import torch

    from .checkpoint import SAFE_CHECKPOINT_GLOBALS

    present = set(torch.serialization.get_safe_globals())
    return all(entry in present for entry in SAFE_CHECKPOINT_GLOBALS)


def _safe_loader_registered() -> bool:
    from mmengine.runner.checkpoint import CheckpointLoader

    from .checkpoint import load_from_safe_local

    return CheckpointLoader._get_checkpoint_loader('work_dirs/epoch_1.pth') is load_from_safe_local


def _atomic_backend_registered() -> bool:
    from mmengine.fileio import get_file_backend
    from mmengine.fileio.file_client import FileClient

    from .checkpoint import AtomicHardDiskBackend, AtomicLocalBackend

    backend = get_file_backend('work_dirs/epoch_1.pth', enable_singleton=True)
    return (
        isinstance(backend, AtomicLocalBackend)
        and isinstance(get_file_backend('work_dirs/epoch_1.pth'), AtomicLocalBackend)
        and FileClient._backends.get('disk') is AtomicHardDiskBackend
    )


def _config_resolver_installed() -> bool:
    from mmengine.config import config as mmengine_config

    return bool(getattr(mmengine_config.get_installed_path, '_gleamkit', False))


def _registries_attached() -> bool:
    import sys

    registry = sys.modules.get('gleamkit.registry')
    if registry is None:  # not imported yet: nothing attached, and nothing missing
        return False
    from mmengine.registry import MODELS

    return MODELS._children.get('gleamkit') is registry.MODELS


_CHANGES = (
    (
        'safe checkpoint globals',
        'torch.serialization.add_safe_globals',
        "mmengine's checkpoints hold HistoryBuffer and numpy objects that torch >= 2.6 "
        'refuses under weights_only=True; only these are allow-listed (weights_only stays on)',
        'import gleamkit (gleamkit.utils.checkpoint)',
        _safe_globals_registered,
    ),
    (
        'safe loader for local checkpoints',
        "mmengine.runner.CheckpointLoader scheme ''",
        'load_from / resume / load_checkpoint of a local file go through safe_load_checkpoint, '
        'which names the file and the refused global instead of a bare UnpicklingError',
        'import gleamkit (gleamkit.utils.checkpoint)',
        _safe_loader_registered,
    ),
    (
        'atomic writes of local files',
        "mmengine.fileio backend 'local' (prefix '') and FileClient 'disk'",
        'a crash or full disk while saving never leaves a truncated checkpoint under its name',
        'import gleamkit (gleamkit.utils.checkpoint)',
        _atomic_backend_registered,
    ),
    (
        'read_base() finds gleamkit.configs',
        'mmengine.config.config.get_installed_path',
        'mmengine 0.10.7 asks pkg_resources (gone from setuptools >= 81) and misses PEP 660 '
        "editable installs; Python's import system is asked first",
        'import gleamkit (gleamkit.utils.config_package)',
        _config_resolver_installed,
    ),
    (
        "registries in scope 'gleamkit'",
        "children 'gleamkit' of mmengine's root registries (MODELS, DATASETS, HOOKS, ...)",
        "default_scope='gleamkit' builds gleamkit's components; mmengine's own names still "
        'resolve through the parents',
        'import gleamkit.registry (any build; not import gleamkit itself)',
        _registries_attached,
    ),
)


def _check(probe: Callable[[], bool]) -> bool:
    try:
        return bool(probe())
    except Exception:  # a broken probe reads as "not active", never as an error
        return False


def mmengine_changes() -> List[MmengineChange]:
    """List what gleamkit changes in mmengine and torch, each checked live.

    Returns:
        One :class:`MmengineChange` per change, in the order gleamkit installs them;
        ``active`` says whether it is in effect in this process now.
    """
    return [
        MmengineChange(what, where, why, when, _check(probe))
        for what, where, why, when, probe in _CHANGES
    ]
