"""Tests for gleamkit.utils.checkpoint: safe loading, mmengine hooks, atomic writes."""

import builtins
import contextlib
import copy
import errno
import os
import os.path as osp
import shlex
import subprocess
import sys
import uuid
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.evaluator import BaseMetric
from mmengine.fileio import LocalBackend, get_file_backend
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import HistoryBuffer, MessageHub, MMLogger
from mmengine.model import BaseModel
from mmengine.registry import DefaultScope
from mmengine.runner import Runner, load_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader
from mmengine.visualization import Visualizer
from torch.utils.data import Dataset

from gleamkit.engine.hooks import IterationCheckpointHook
from gleamkit.engine.loops import ResumableEpochBasedTrainLoop
from gleamkit.utils import (
    SAFE_CHECKPOINT_GLOBALS,
    AtomicLocalBackend,
    CheckpointSecurityError,
    atomic_write_bytes,
    load_from_safe_local,
    safe_load_checkpoint,
    setup_safe_checkpointing,
)
from gleamkit.utils.checkpoint import CorruptCheckpointError, load_checkpoint_without_code
from gleamkit.utils.resume import (
    NoCheckpointToResumeError,
    find_resume_checkpoint,
    resolve_resume,
)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# --- a tiny mmengine setup -------------------------------------------------------------


class ToyModel(BaseModel):
    """Linear classifier on 4 features."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 3)

    def forward(self, inputs, labels, mode='tensor'):
        logits = self.linear(inputs)
        if mode == 'loss':
            return dict(loss=nn.functional.cross_entropy(logits, labels))
        if mode == 'predict':
            return list(zip(logits.argmax(dim=1), labels))
        return logits


class ToyDataset(Dataset):
    """16 fixed random samples."""

    metainfo = dict(classes=('a', 'b', 'c'))

    def __init__(self):
        generator = torch.Generator().manual_seed(0)
        self.inputs = torch.randn(16, 4, generator=generator)
        self.labels = torch.randint(0, 3, (16,), generator=generator)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return dict(inputs=self.inputs[index], labels=self.labels[index])


class ToyAccuracy(BaseMetric):
    """Accuracy returned as a np.float32, as numpy-based metrics often do.

    ``CheckpointHook(save_best='acc')`` then stores a numpy scalar of a dtype other
    than float64 in the message hub, i.e. in every checkpoint.
    """

    def process(self, data_batch, data_samples):
        self.results.extend(int(pred == label) for pred, label in data_samples)

    def compute_metrics(self, results):
        return dict(acc=np.float32(np.mean(results)))


class RecordStateHook(Hook):
    """Snapshot the runner's state at ``before_train`` (i.e. right after resuming)."""

    def __init__(self):
        self.snapshot = None

    def before_train(self, runner):
        self.snapshot = _runner_state(runner)


def _runner_state(runner):
    # Deep copies: the optimizer's state dict holds the live momentum buffers.
    return copy.deepcopy(
        dict(
            epoch=runner.epoch,
            iter=runner.iter,
            weights={k: v.clone() for k, v in runner.model.state_dict().items()},
            optimizer=runner.optim_wrapper.state_dict(),
            schedulers=[s.state_dict() for s in runner.param_schedulers],
            loss_history=runner.message_hub.get_scalar('train/loss').data[0].copy()
            if 'train/loss' in runner.message_hub.log_scalars
            else None,
        )
    )


def _make_runner(work_dir, max_epochs, train_cfg=None, extra_hooks=None, **kwargs):
    def loader(shuffle):
        return dict(
            dataset=ToyDataset(),
            batch_size=4,
            collate_fn=dict(type='default_collate'),
            sampler=dict(type='DefaultSampler', shuffle=shuffle),
        )

    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        # Unique, so runners built within the same second do not share a MessageHub.
        experiment_name=f'test_checkpoint_{uuid.uuid4().hex}',
        train_dataloader=loader(shuffle=True),
        # a loop `type` replaces by_epoch (mmengine passes every key to the loop)
        train_cfg=dict(**(train_cfg or dict(by_epoch=True)), max_epochs=max_epochs, val_interval=1),
        val_dataloader=loader(shuffle=False),
        val_cfg=dict(),
        val_evaluator=dict(type=ToyAccuracy),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        param_scheduler=[
            dict(type='LinearLR', start_factor=0.5, by_epoch=True, begin=0, end=1),
            dict(type='MultiStepLR', milestones=[2], by_epoch=True, begin=1, end=10),
        ],
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1, save_best='acc', rule='greater'),
            logger=dict(type='LoggerHook', interval=1),
            **(extra_hooks or {}),
        ),
        randomness=dict(seed=0),
        default_scope='mmengine',
        log_level='WARNING',
        **kwargs,
    )


def _assert_nested_equal(a, b):
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _assert_nested_equal(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_nested_equal(x, y)
    else:
        assert a == b


@contextlib.contextmanager
def _isolated_mmengine_globals():
    """Undo the global instances a Runner registers (its default scope, message hub...).

    Otherwise the 'mmengine' default scope of these runners would stay current and
    change how registries resolve names in tests that run later in the same process.
    """
    managers = (DefaultScope, MessageHub, MMLogger, Visualizer)
    saved = {manager: dict(manager._instance_dict) for manager in managers}
    try:
        yield
    finally:
        for manager, instances in saved.items():
            manager._instance_dict.clear()
            manager._instance_dict.update(instances)


@pytest.fixture(autouse=True)
def _isolate_runner_state():
    with _isolated_mmengine_globals():
        yield


@pytest.fixture(scope='module')
def trained_run(tmp_path_factory):
    """A run trained for 2 epochs (epoch_1.pth, epoch_2.pth, best_acc_*.pth) and its state."""
    with _isolated_mmengine_globals():
        work_dir = tmp_path_factory.mktemp('run')
        runner = _make_runner(work_dir, max_epochs=2)
        runner.train()
        yield work_dir, _runner_state(runner)


# --- (a) resume ------------------------------------------------------------------------


@pytest.mark.slow
def test_mmengine_checkpoint_has_only_allow_listed_globals(trained_run):
    work_dir, _ = trained_run
    path = osp.join(work_dir, 'epoch_2.pth')
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []
    checkpoint = safe_load_checkpoint(path)
    assert {'meta', 'state_dict', 'message_hub', 'optimizer', 'param_schedulers'} <= set(checkpoint)
    log_scalars = checkpoint['message_hub']['log_scalars']
    assert isinstance(log_scalars['train/loss'], HistoryBuffer)
    assert log_scalars['train/loss'].statistics('mean') == pytest.approx(
        log_scalars['train/loss'].mean()
    )
    # The np.float32 best score travelled through the allow-listed numpy dtype classes.
    best_score = checkpoint['message_hub']['runtime_info']['best_score']
    assert isinstance(best_score, np.float32)


@pytest.mark.slow
def test_resume_restores_state_and_continues(trained_run, tmp_path):
    work_dir, trained = trained_run
    # Resume in a copy, so other tests see the 2-epoch run unchanged.
    resume_dir = tmp_path / 'resume'
    resume_dir.mkdir()
    for name in os.listdir(work_dir):
        if name.endswith('.pth') or name == 'last_checkpoint':
            data = open(osp.join(work_dir, name), 'rb').read()
            if name == 'last_checkpoint':
                data = data.replace(str(work_dir).encode(), str(resume_dir).encode())
            (resume_dir / name).write_bytes(data)

    record = RecordStateHook()
    runner = _make_runner(resume_dir, max_epochs=3, resume=True, custom_hooks=[record])
    runner.train()

    resumed = record.snapshot
    assert resumed['epoch'] == 2 and trained['epoch'] == 2
    assert resumed['iter'] == trained['iter'] == 8
    _assert_nested_equal(resumed['weights'], trained['weights'])
    _assert_nested_equal(resumed['optimizer'], trained['optimizer'])
    assert 'momentum_buffer' in resumed['optimizer']['state'][0]
    _assert_nested_equal(resumed['schedulers'], trained['schedulers'])
    np.testing.assert_array_equal(resumed['loss_history'], trained['loss_history'])

    assert runner.epoch == 3 and runner.iter == 12
    assert osp.isfile(resume_dir / 'epoch_3.pth')
    assert safe_load_checkpoint(resume_dir / 'epoch_3.pth')['meta']['epoch'] == 3


# --- (b), (c) malicious checkpoints ----------------------------------------------------


class _ShellPayload:
    """Unpickling this runs ``touch <marker>`` through os.system."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {shlex.quote(str(self.marker))}',)


class _ExecPayload:
    """Unpickling this runs Python code that writes the marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return exec, (f'open({str(self.marker)!r}, "w").close()',)


class _GetattrPayload:
    """Pickles as ``getattr(HistoryBuffer, 'register_statistics')``.

    ``builtins.getattr`` is in gleamkit's allow-list only as a stand-in restricted to
    ``HistoryBuffer.min/max/current/mean``; any other attribute must be refused.
    """

    def __reduce__(self):
        return getattr, (HistoryBuffer, 'register_statistics')


PAYLOADS = [
    pytest.param(
        _ShellPayload,
        'system',
        id='os.system',
        marks=pytest.mark.skipif(os.name == 'nt', reason='uses touch'),
    ),
    pytest.param(_ExecPayload, 'exec', id='exec'),
]


def _craft(tmp_path, payload_cls):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil_checkpoint.pth'
    torch.save({'state_dict': ToyModel().state_dict(), 'meta': {'x': payload_cls(marker)}}, path)
    return path, marker


def _assert_refused(excinfo, path, global_name):
    message = str(excinfo.value)
    assert path.name in message and global_name in message
    assert 'arbitrary code' in message and 'tools/model_converters/' in message
    assert excinfo.value.filename == str(path)
    assert any(global_name in name for name in excinfo.value.offending_globals)


@pytest.mark.parametrize('payload_cls, global_name', PAYLOADS)
def test_payload_is_live_without_weights_only(tmp_path, payload_cls, global_name):
    """Sanity check: the crafted files really run code under a plain unpickler."""
    path, marker = _craft(tmp_path, payload_cls)
    torch.load(path, weights_only=False)
    assert marker.exists()


@pytest.mark.slow
@pytest.mark.parametrize('payload_cls, global_name', PAYLOADS)
def test_runner_load_from_refuses_payload(tmp_path, payload_cls, global_name):
    path, marker = _craft(tmp_path, payload_cls)
    runner = _make_runner(tmp_path / 'work', max_epochs=1, load_from=str(path))
    with pytest.raises(CheckpointSecurityError) as excinfo:
        runner.train()
    _assert_refused(excinfo, path, global_name)
    assert not marker.exists()


@pytest.mark.slow
@pytest.mark.parametrize('payload_cls, global_name', PAYLOADS)
def test_mmengine_load_checkpoint_refuses_payload(tmp_path, payload_cls, global_name):
    path, marker = _craft(tmp_path, payload_cls)
    with pytest.raises(CheckpointSecurityError) as excinfo:
        load_checkpoint(ToyModel(), str(path), map_location='cpu')
    _assert_refused(excinfo, path, global_name)
    assert not marker.exists()
    with pytest.raises(CheckpointSecurityError):
        safe_load_checkpoint(path)
    assert not marker.exists()


def test_restricted_getattr_refuses_other_attributes(tmp_path):
    path = tmp_path / 'getattr.pth'
    torch.save({'meta': {'x': _GetattrPayload()}}, path)
    with pytest.raises(CheckpointSecurityError) as excinfo:
        safe_load_checkpoint(path)
    assert 'register_statistics' in str(excinfo.value)
    assert isinstance(excinfo.value, RuntimeError)


# --- (d) atomic writes -----------------------------------------------------------------


class _HalfThenFail:
    """File wrapper that writes half of the data, then fails like a full disk."""

    def __init__(self, file):
        self._file = file

    def write(self, data):
        view = memoryview(data)
        self._file.write(view[: len(view) // 2])
        self._file.flush()
        raise OSError(errno.ENOSPC, 'No space left on device (simulated)')

    def __getattr__(self, name):
        return getattr(self._file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._file.close()


def _fail_binary_writes_under(monkeypatch, directory):
    real_open = builtins.open

    def faulty_open(file, mode='r', *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        if (
            isinstance(file, (str, os.PathLike))
            and 'b' in mode
            and set(mode) & set('wxa')
            and os.fspath(file).startswith(str(directory))
        ):
            return _HalfThenFail(handle)
        return handle

    monkeypatch.setattr(builtins, 'open', faulty_open)


@pytest.mark.slow
def test_checkpoint_hook_writes_through_atomic_backend(tmp_path, monkeypatch):
    replaced = []
    real_replace = os.replace

    def spy_replace(src, dst, **kwargs):
        replaced.append(osp.basename(os.fspath(dst)))
        return real_replace(src, dst, **kwargs)

    monkeypatch.setattr(os, 'replace', spy_replace)
    runner = _make_runner(tmp_path, max_epochs=1)
    runner.train()
    hook = next(h for h in runner.hooks if isinstance(h, CheckpointHook))
    assert isinstance(hook.file_backend, AtomicLocalBackend)
    assert isinstance(get_file_backend(str(tmp_path)), AtomicLocalBackend)
    # (CheckpointHook writes the small 'last_checkpoint' pointer with a plain open().)
    assert {'epoch_1.pth', 'best_acc_epoch_1.pth'} <= set(replaced)
    assert not [name for name in os.listdir(tmp_path) if '.tmp-' in name]


@pytest.mark.slow
def test_interrupted_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    runner = _make_runner(tmp_path, max_epochs=1)
    runner.train()
    final = tmp_path / 'epoch_1.pth'
    before = final.read_bytes()

    _fail_binary_writes_under(monkeypatch, tmp_path)
    with pytest.raises(OSError, match='simulated'):
        runner.save_checkpoint(str(tmp_path), 'epoch_1.pth')
    with pytest.raises(OSError, match='simulated'):
        atomic_write_bytes(b'x' * 1000, final)
    monkeypatch.undo()

    assert final.read_bytes() == before
    assert not [name for name in os.listdir(tmp_path) if '.tmp-' in name]
    assert safe_load_checkpoint(final)['meta']['epoch'] == 1


def test_plain_local_backend_would_truncate(tmp_path, monkeypatch):
    """The fault injection above bites: mmengine's own LocalBackend loses the old file."""
    final = tmp_path / 'epoch_1.pth'
    final.write_bytes(b'old checkpoint' * 100)
    _fail_binary_writes_under(monkeypatch, tmp_path)
    with pytest.raises(OSError, match='simulated'):
        LocalBackend().put(b'new checkpoint' * 100, str(final))
    monkeypatch.undo()
    assert final.read_bytes() == (b'new checkpoint' * 100)[:700]


def test_atomic_write_keeps_mode_and_creates_dirs(tmp_path):
    target = tmp_path / 'a' / 'b' / 'file.bin'
    atomic_write_bytes(b'one', target)
    assert target.read_bytes() == b'one'
    if os.name != 'nt':
        os.chmod(target, 0o640)
    AtomicLocalBackend().put_text('two', str(target))
    assert target.read_text() == 'two'
    if os.name != 'nt':
        assert (os.stat(target).st_mode & 0o777) == 0o640
    assert sorted(os.listdir(target.parent)) == ['file.bin']


# --- (e) plain checkpoints, errors, idempotency ----------------------------------------


def test_plain_state_dict_checkpoint_loads(tmp_path):
    source = ToyModel()
    path = tmp_path / 'plain.pth'
    torch.save({'state_dict': source.state_dict()}, path)
    checkpoint = safe_load_checkpoint(path)
    _assert_nested_equal(checkpoint['state_dict'], source.state_dict())

    target = ToyModel()
    load_checkpoint(target, str(path), map_location='cpu', strict=True)
    _assert_nested_equal(target.state_dict(), source.state_dict())

    bare = tmp_path / 'bare.pth'
    torch.save(OrderedDict(source.state_dict()), bare)
    target = ToyModel()
    load_checkpoint(target, str(bare), map_location='cpu', strict=True)
    _assert_nested_equal(target.state_dict(), source.state_dict())


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / 'nowhere' / 'missing.pth'
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        safe_load_checkpoint(path)
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        load_checkpoint(ToyModel(), str(path))


def test_setup_is_idempotent_and_installed():
    before = list(torch.serialization.get_safe_globals())
    setup_safe_checkpointing()
    setup_safe_checkpointing()
    after = list(torch.serialization.get_safe_globals())
    assert len(after) == len(before)
    assert set(SAFE_CHECKPOINT_GLOBALS) <= set(after)
    assert CheckpointLoader._get_checkpoint_loader('/some/local.pth') is load_from_safe_local
    assert CheckpointLoader._get_checkpoint_loader('https://x/y.pth') is not load_from_safe_local
    assert isinstance(get_file_backend('/some/local.pth'), AtomicLocalBackend)


# --- (f) cut-off checkpoints and resume that cannot resume ------------------------------


def _cut(path, keep):
    data = path.read_bytes()
    path.write_bytes(data[:keep] if keep is not None else b'')


@pytest.mark.slow
@pytest.mark.parametrize(
    'keep', [None, 100, -10], ids=['empty', 'first-100-bytes', 'last-10-bytes-missing']
)
def test_cut_off_checkpoint_error_names_the_file(trained_run, tmp_path, keep):
    work_dir, _ = trained_run
    path = tmp_path / 'epoch_2.pth'
    path.write_bytes((work_dir / 'epoch_2.pth').read_bytes())
    _cut(path, keep)
    for load in (safe_load_checkpoint, lambda p: load_checkpoint(ToyModel(), str(p))):
        with pytest.raises(CorruptCheckpointError) as excinfo:
            load(path)
        assert str(path) in str(excinfo.value) and excinfo.value.filename == str(path)
        assert ('empty' if keep is None else 'ends early') in str(excinfo.value)
    # an explicit --resume PATH to it stops before anything is built
    with pytest.raises(CorruptCheckpointError, match='epoch_2.pth'):
        resolve_resume(str(tmp_path), str(path))


def _copy_run(work_dir, dest):
    dest.mkdir()
    for name in ('epoch_1.pth', 'epoch_2.pth'):
        (dest / name).write_bytes((work_dir / name).read_bytes())
    (dest / 'last_checkpoint').write_text(str(dest / 'epoch_2.pth'))
    return dest


@pytest.mark.slow
def test_resume_skips_a_cut_off_newest_checkpoint_by_name(trained_run, tmp_path, monkeypatch):
    work_dir, trained = trained_run
    resume_dir = _copy_run(work_dir, tmp_path / 'resume')
    _cut(resume_dir / 'epoch_2.pth', 1000)
    messages = []
    monkeypatch.setattr(
        'gleamkit.utils.resume.print_log', lambda msg, **kwargs: messages.append(msg)
    )
    # the pointer names the cut-off file: fall back to the newest good one, and say so
    assert resolve_resume(str(resume_dir), 'auto') == str(resume_dir / 'epoch_1.pth')
    assert len(messages) == 1
    assert str(resume_dir / 'epoch_2.pth') in messages[0] and 'epoch_1.pth' in messages[0]
    # ...and mmengine really resumes from it (epoch 1 of 2, 4 iterations done)
    monkeypatch.undo()
    record = RecordStateHook()
    runner = _make_runner(
        resume_dir,
        max_epochs=2,
        resume=True,
        custom_hooks=[record],
        load_from=resolve_resume(str(resume_dir), 'auto'),
    )
    runner.train()
    assert (record.snapshot['epoch'], record.snapshot['iter']) == (1, 4)
    assert runner.iter == 8 and safe_load_checkpoint(resume_dir / 'epoch_2.pth')


def test_resume_with_nothing_to_resume_is_an_error(tmp_path):
    for work_dir in (tmp_path, tmp_path / 'never_created'):
        with pytest.raises(NoCheckpointToResumeError) as excinfo:
            resolve_resume(str(work_dir), 'auto')
        message = str(excinfo.value)
        assert str(work_dir) in message and 'drop --resume' in message
        assert '--resume PATH' in message
    (tmp_path / 'epoch_1.pth').write_bytes(b'')
    (tmp_path / 'last_checkpoint').write_text('')
    with pytest.raises(
        NoCheckpointToResumeError, match='every checkpoint there is unreadable.*epoch_1.pth.*empty'
    ):
        resolve_resume(str(tmp_path), 'auto')
    with pytest.raises(FileNotFoundError, match='--resume .*missing.pth'):
        resolve_resume(str(tmp_path), str(tmp_path / 'missing.pth'))


def test_resume_candidates_order_epoch_and_iteration_files(tmp_path):
    for name, mtime in (
        ('epoch_2.pth', 200),
        ('epoch_10.pth', 100),
        ('iter_30.pth', 150),
        ('iter_100.pth', 50),
        ('best_acc_epoch_10.pth', 999),
    ):
        (tmp_path / name).write_bytes(b'x')
        os.utime(tmp_path / name, (mtime, mtime))
    # within a kind by number (a copy may reset times), between kinds by time
    assert find_resume_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_10.pth')
    os.utime(tmp_path / 'iter_100.pth', (300, 300))
    assert find_resume_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_100.pth')


# --- (g) iteration checkpoints, resumed in the middle of an epoch -----------------------


def _iteration_run(work_dir, max_epochs, loop=ResumableEpochBasedTrainLoop, interval=3, **kwargs):
    return _make_runner(
        work_dir,
        max_epochs,
        train_cfg=dict(type=loop),
        extra_hooks=dict(iter_checkpoint=dict(type=IterationCheckpointHook, interval=interval)),
        **kwargs,
    )


def _final_weights(runner):
    return {k: v.clone() for k, v in runner.model.state_dict().items()}


@pytest.mark.slow
def test_resume_from_an_iteration_checkpoint_continues_its_epoch(tmp_path):
    # 16 samples, batch 4: 4 iterations an epoch, 8 in all; iter_3 and iter_6 are saved
    full = _iteration_run(tmp_path / 'full', max_epochs=2)
    full.train()
    assert full.iter == 8
    assert sorted(p.name for p in (tmp_path / 'full').glob('iter_*.pth')) == [
        'iter_3.pth',
        'iter_6.pth',
    ]
    meta = safe_load_checkpoint(tmp_path / 'full' / 'iter_6.pth')['meta']
    assert (meta['epoch'], meta['iter']) == (1, 6)  # 2 of epoch 2's 4 batches done

    def resumed(name, loop, interval):
        work = tmp_path / name
        work.mkdir()
        (work / 'iter_6.pth').write_bytes((tmp_path / 'full' / 'iter_6.pth').read_bytes())
        runner = _iteration_run(
            work,
            max_epochs=2,
            loop=loop,
            interval=interval,
            resume=True,
            load_from=resolve_resume(str(work), 'auto'),
        )
        runner.train()
        return runner

    # mmengine's own epoch loop repeats the interrupted epoch: 2 batches trained twice
    plain = resumed('plain', 'EpochBasedTrainLoop', interval=-1)
    assert plain.iter == 10
    runner = resumed('resumable', ResumableEpochBasedTrainLoop, interval=3)
    assert runner.iter == full.iter == 8 and runner.epoch == 2
    # same batches in the same order: the same final weights, bit for bit (SGD, no dropout)
    _assert_nested_equal(_final_weights(runner), _final_weights(full))
    assert not torch.equal(plain.model.linear.weight, full.model.linear.weight)


@pytest.mark.slow
def test_iteration_hook_refuses_the_epoch_loop_that_would_repeat_an_epoch(tmp_path):
    runner = _iteration_run(tmp_path, max_epochs=1, loop='EpochBasedTrainLoop')
    with pytest.raises(ValueError, match='ResumableEpochBasedTrainLoop'):
        runner.train()


@pytest.mark.slow
def test_epoch_and_iteration_hooks_keep_their_own_files(tmp_path):
    kwargs = dict(interval=2)
    runner = _iteration_run(tmp_path, max_epochs=2, **kwargs)
    runner.train()
    names = sorted(p.name for p in tmp_path.glob('*_*.pth') if not p.name.startswith('best'))
    assert names == ['epoch_1.pth', 'epoch_2.pth', 'iter_6.pth', 'iter_8.pth']
    # after a resume each hook still deletes its own old files only
    runner = _iteration_run(
        tmp_path, max_epochs=3, resume=True, load_from=str(tmp_path / 'epoch_2.pth'), **kwargs
    )
    runner.train()
    names = sorted(p.name for p in tmp_path.glob('*_*.pth') if not p.name.startswith('best'))
    assert names == ['epoch_1.pth', 'epoch_2.pth', 'epoch_3.pth', 'iter_10.pth', 'iter_12.pth']


# --- (h) the security error's advice works ----------------------------------------------


def _strip_command(message, dst):
    command = message.split('`python ')[1].split('`')[0]
    assert command.startswith('tools/model_converters/strip_checkpoint.py ')
    return [sys.executable] + [
        dst if arg == 'STRIPPED.pth' else arg for arg in shlex.split(command)
    ]


@pytest.mark.slow
def test_security_error_recommends_a_converter_that_accepts_the_file(tmp_path):
    """The refusal points at a command; running it yields a checkpoint gleamkit loads."""
    import argparse

    source = ToyModel()
    path = tmp_path / 'foreign.pth'
    torch.save(
        {
            'state_dict': source.state_dict(),
            'args': argparse.Namespace(lr=0.1),
            'hooks': [print, 3],
        },
        path,
    )
    with pytest.raises(CheckpointSecurityError) as excinfo:
        safe_load_checkpoint(path)
    out = tmp_path / 'stripped.pth'
    proc = subprocess.run(
        _strip_command(str(excinfo.value), str(out)),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'dropped args: argparse.Namespace' in proc.stdout
    assert 'dropped hooks[0]: builtins.print' in proc.stdout
    stripped = safe_load_checkpoint(out)
    assert stripped['hooks'] == [None, 3] and 'args' not in stripped
    target = ToyModel()
    load_checkpoint(target, str(out), strict=True)
    _assert_nested_equal(target.state_dict(), source.state_dict())


@pytest.mark.parametrize('payload_cls, global_name', PAYLOADS)
def test_stripping_never_runs_the_payload(tmp_path, payload_cls, global_name):
    path, marker = _craft(tmp_path, payload_cls)
    with pytest.raises(CheckpointSecurityError) as excinfo:
        safe_load_checkpoint(path)
    message = str(excinfo.value)
    if payload_cls is _ShellPayload:
        # os.system: no advice to salvage it, and the converter refuses it too
        assert 'hostile' in message and 'strip_checkpoint' not in message
        with pytest.raises(CheckpointSecurityError, match='posix.system|nt.system'):
            load_checkpoint_without_code(path)
    else:
        checkpoint, dropped = load_checkpoint_without_code(path)
        assert dropped == ['meta.x: builtins.exec']
        assert {k: tuple(v.shape) for k, v in checkpoint['state_dict'].items()} == {
            'linear.weight': (3, 4),
            'linear.bias': (3,),
        }
    assert not marker.exists()


@pytest.mark.slow
def test_strip_refuses_to_write_a_checkpoint_without_tensors(tmp_path):
    """A whole pickled module keeps its weights inside the (dropped) module object."""
    path = tmp_path / 'module.pth'
    torch.save(nn.Linear(2, 2), path)
    proc = subprocess.run(
        [
            sys.executable,
            'tools/model_converters/strip_checkpoint.py',
            str(path),
            str(tmp_path / 'out.pth'),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert 'dropped <top level>: torch.nn.modules.linear.Linear (held 2 tensor(s))' in (proc.stdout)
    assert 'nothing written' in proc.stdout and not (tmp_path / 'out.pth').exists()
