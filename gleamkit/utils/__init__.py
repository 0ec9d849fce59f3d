"""gleamkit utilities.

Importing this package installs gleamkit's safe checkpoint handling (see
:mod:`gleamkit.utils.checkpoint`): the ``weights_only`` allow-list for mmengine
checkpoints, the safe local checkpoint loader and atomic local writes, and the
``read_base()`` resolver for ``gleamkit.configs``; :func:`mmengine_changes` lists these
changes and checks each is in effect.

:mod:`gleamkit.utils.collect_env` is deliberately not imported here: it is run as
``python -m gleamkit.utils.collect_env``.
"""

from .checkpoint import (
    CONVERTER_HINT,
    SAFE_CHECKPOINT_GLOBALS,
    AtomicHardDiskBackend,
    AtomicLocalBackend,
    CheckpointSecurityError,
    atomic_write_bytes,
    load_from_safe_local,
    register_atomic_local_backend,
    register_safe_checkpoint_globals,
    register_safe_checkpoint_loader,
    safe_load_checkpoint,
    setup_safe_checkpointing,
)
from .config_package import install_config_package_resolver
from .mmengine_changes import MmengineChange, mmengine_changes

# `from gleamkit.configs... import *` in read_base() (see config_package)
install_config_package_resolver()

__all__ = [
    'CheckpointSecurityError',
    'SAFE_CHECKPOINT_GLOBALS',
    'CONVERTER_HINT',
    'register_safe_checkpoint_globals',
    'safe_load_checkpoint',
    'load_from_safe_local',
    'register_safe_checkpoint_loader',
    'atomic_write_bytes',
    'AtomicLocalBackend',
    'AtomicHardDiskBackend',
    'register_atomic_local_backend',
    'setup_safe_checkpointing',
    'MmengineChange',
    'mmengine_changes',
]
