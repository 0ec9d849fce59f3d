"""``gleamkit.utils.mmengine_changes``: each reported change is really in effect."""

import subprocess
import sys

import pytest
import torch
from mmengine.fileio import LocalBackend, get_file_backend
from mmengine.runner.checkpoint import CheckpointLoader

import gleamkit  # noqa: F401  (installs the changes)
import gleamkit.registry  # noqa: F401  (attaches the registries, as any build does)
from gleamkit.utils import mmengine_changes
from gleamkit.utils.checkpoint import (
    AtomicLocalBackend,
    load_from_safe_local,
    register_atomic_local_backend,
    register_safe_checkpoint_loader,
)


def _by_what():
    return {change.what: change for change in mmengine_changes()}


def test_every_change_is_reported_and_active():
    changes = mmengine_changes()
    assert [c.what for c in changes] == [
        'safe checkpoint globals',
        'safe loader for local checkpoints',
        'atomic writes of local files',
        'read_base() finds gleamkit.configs',
        "registries in scope 'gleamkit'",
    ]
    for change in changes:
        assert change.active, change
        assert change.where and change.why and change.when


def test_active_reflects_what_mmengine_does_now():
    # the checks read mmengine's own tables: undo a change and it reads inactive
    try:
        CheckpointLoader.register_scheme(prefixes='', loader=lambda *a, **k: None, force=True)
        assert not _by_what()['safe loader for local checkpoints'].active
    finally:
        register_safe_checkpoint_loader()
    assert CheckpointLoader._get_checkpoint_loader('x.pth') is load_from_safe_local
    assert _by_what()['safe loader for local checkpoints'].active

    from mmengine.fileio import register_backend

    try:
        register_backend('local', LocalBackend, force=True, prefixes='')
        assert not _by_what()['atomic writes of local files'].active
    finally:
        register_atomic_local_backend()
    assert isinstance(get_file_backend('a/b.pth'), AtomicLocalBackend)
    assert _by_what()['atomic writes of local files'].active


def test_a_history_buffer_loads_with_weights_only(tmp_path):
    # what mmengine's resume needs, and what the allow-list reported active allows
    from mmengine.logging import HistoryBuffer

    assert _by_what()['safe checkpoint globals'].active
    buffer = HistoryBuffer()
    buffer.update(2.5)
    torch.save({'buffer': buffer}, tmp_path / 'hb.pth')
    loaded = torch.load(tmp_path / 'hb.pth', weights_only=True)
    assert loaded['buffer'].current() == 2.5


@pytest.mark.slow
def test_import_gleamkit_alone_installs_all_but_the_registries():
    code = (
        'import gleamkit\n'
        'from gleamkit.utils import mmengine_changes\n'
        'for c in mmengine_changes(): print(int(c.active), c.what)\n'
    )
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines == [
        '1 safe checkpoint globals',
        '1 safe loader for local checkpoints',
        '1 atomic writes of local files',
        '1 read_base() finds gleamkit.configs',
        "0 registries in scope 'gleamkit'",
    ]
