"""Safe checkpoint loading and atomic checkpoint writing for mmengine on torch >= 2.6.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``: it only rebuilds
tensors, plain containers and globals that were explicitly allow-listed. mmengine
0.10.7 predates that and puts a few non-tensor Python objects into its checkpoints
(the message hub's ``HistoryBuffer`` objects, numpy arrays and scalars), so
``Runner(resume=True)`` and ``load_from`` fail with ``UnpicklingError: Weights only
load failed ... HistoryBuffer``.

gleamkit does **not** switch ``weights_only`` off: unpickling a checkpoint someone
else wrote must never be able to run code. Instead this module

* allow-lists exactly the globals mmengine's own checkpoints contain
  (:data:`SAFE_CHECKPOINT_GLOBALS`, :func:`register_safe_checkpoint_globals`);
* loads local checkpoints with :func:`safe_load_checkpoint`, which turns a refused
  global into a :class:`CheckpointSecurityError` that names the file and the global,
  and registers it as mmengine's loader for local paths, so ``Runner(load_from=...)``,
  ``Runner(resume=True)`` and ``mmengine.runner.load_checkpoint`` all go through it
  (:func:`register_safe_checkpoint_loader`);
* makes mmengine's local file backend write atomically (temporary file in the same
  directory, flush + fsync, ``os.replace``), so a crash or a full disk while saving
  never leaves a truncated file under a checkpoint's name and never destroys the
  previous version of that file (:class:`AtomicLocalBackend`,
  :func:`register_atomic_local_backend`).

All of this is installed when this module is imported (:func:`setup_safe_checkpointing`);
every step is idempotent.
"""

import contextlib
import os
import os.path as osp
import pickle
import re
import shlex
import uuid
import zipfile
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.fileio import LocalBackend, register_backend
from mmengine.fileio import io as mmengine_io
from mmengine.fileio.file_client import FileClient, HardDiskBackend
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

__all__ = [
    'CheckpointSecurityError',
    'CorruptCheckpointError',
    'SAFE_CHECKPOINT_GLOBALS',
    'CONVERTER_HINT',
    'STRIP_COMMAND',
    'check_checkpoint_file',
    'load_checkpoint_without_code',
    'register_safe_checkpoint_globals',
    'safe_load_checkpoint',
    'load_from_safe_local',
    'register_safe_checkpoint_loader',
    'atomic_write_bytes',
    'AtomicLocalBackend',
    'AtomicHardDiskBackend',
    'register_atomic_local_backend',
    'setup_safe_checkpointing',
]

PathLike = Union[str, os.PathLike]

#: The converter that salvages a refused checkpoint (see :func:`load_checkpoint_without_code`).
STRIP_COMMAND = 'python tools/model_converters/strip_checkpoint.py SRC DST'

#: Where the security error points users who want the weights of a checkpoint gleamkit refused.
CONVERTER_HINT = (
    f'keep only its tensors and plain containers with `{STRIP_COMMAND}` (under '
    "`tools/model_converters/`; it never runs the file's code and lists what it "
    'dropped)'
)

#: Modules torch's weights-only unpickler blocks outright. No model checkpoint needs a
#: function from them; a file that names one was built to run commands.
_BLOCKED_MODULES = ('os', 'sys', 'posix', 'nt')


# --- the allow-list ------------------------------------------------------------------


def _numpy_multiarray():
    """Return numpy's ``multiarray`` module (``numpy._core`` in numpy 2, ``numpy.core`` in 1)."""
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray
    return multiarray


#: The only attributes :func:`_history_buffer_getattr` hands out: the statistics methods
#: ``HistoryBuffer._set_default_statistics`` registers and ``HistoryBuffer.__getstate__``
#: pickles.
_HISTORY_BUFFER_STATISTICS = frozenset({'min', 'max', 'current', 'mean'})


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """Stand-in for ``builtins.getattr`` while unpickling: only ``HistoryBuffer.<stat>``.

    ``HistoryBuffer.__getstate__`` pickles its ``statistics_methods`` dict, whose values
    are the functions ``HistoryBuffer.min/max/current/mean``. With pickle protocol 2
    (``torch.save``'s default) a function with a dotted qualname is written as
    ``getattr(HistoryBuffer, 'min')``. Allow-listing the real ``getattr`` would let a
    checkpoint reach ``getattr(<any allowed object>, <any name>)``, so this function is
    registered under the name ``builtins.getattr`` instead and resolves nothing else.
    """
    if obj is HistoryBuffer and name in _HISTORY_BUFFER_STATISTICS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'getattr({getattr(obj, "__qualname__", type(obj).__qualname__)}, {name!r}) is not '
        'allowed while loading a checkpoint: gleamkit only resolves '
        f'HistoryBuffer.{{{", ".join(sorted(_HISTORY_BUFFER_STATISTICS))}}}.'
    )


#: numpy dtypes whose classes are allow-listed. mmengine itself stores float64 only
#: (HistoryBuffer histories, the message hub's 'eta'); the other fixed-width real numeric
#: and bool dtypes are there because hooks store metric values as numpy scalars in the
#: message hub (``CheckpointHook(save_best=...)`` keeps ``best_score``, often a np.float32)
#: and ``dataset_meta`` may hold small numeric arrays. No object, string, void, datetime or
#: complex dtypes.
_NUMPY_DTYPE_CODES = ('?', 'i1', 'i2', 'i4', 'i8', 'u1', 'u2', 'u4', 'u8', 'f2', 'f4', 'f8')


def _numpy_dtype_classes() -> List[type]:
    """Return the dtype classes of :data:`_NUMPY_DTYPE_CODES` (``numpy.dtypes.*DType``)."""
    classes = []
    for code in _NUMPY_DTYPE_CODES:
        cls = type(np.dtype(code))
        # numpy < 1.25 has no per-dtype classes: type(dtype) is numpy.dtype, listed already.
        if cls is not np.dtype and cls not in classes:
            classes.append(cls)
    return classes


def _build_safe_globals() -> List[Tuple[Any, str]]:
    """Build :data:`SAFE_CHECKPOINT_GLOBALS`: ``(object, name in the pickle)`` pairs.

    The list was found by saving checkpoints from an mmengine ``Runner`` (SGD with
    momentum, ``LinearLR`` + ``MultiStepLR`` schedulers, message hub, no AMP), listing
    what ``torch.serialization.get_unsafe_globals_in_checkpoint`` reports and then the
    types ``torch.load(weights_only=True)`` still refused to build. Names torch
    already allows (``collections.OrderedDict`` for the message hub and state dicts,
    ``collections.Counter`` for ``MultiStepLR.milestones``, ``_codecs.encode`` for bytes,
    tensors, storages, dtypes) are not repeated here.
    """
    multiarray = _numpy_multiarray()
    return [
        # message_hub.log_scalars: one HistoryBuffer per logged scalar. Built via NEWOBJ +
        # HistoryBuffer.__setstate__, which only stores the unpickled state (numpy
        # arrays, an int, the statistics dict below) on the instance.
        (HistoryBuffer, 'mmengine.logging.history_buffer.HistoryBuffer'),
        # HistoryBuffer's pickled statistics_methods: getattr(HistoryBuffer, 'min'), ...
        # resolved by a getattr restricted to exactly those four attributes.
        (_history_buffer_getattr, 'builtins.getattr'),
        # HistoryBuffer._log_history / _count_history are numpy arrays, pickled as
        # _reconstruct(ndarray, (0,), b'b') + ndarray.__setstate__(shape, dtype, bytes).
        # numpy refuses object arrays from raw bytes ("object pickle not returning
        # list"), so object contents would have to be unpickled (and vetted) themselves.
        (multiarray._reconstruct, 'numpy._core.multiarray._reconstruct'),
        (np.ndarray, 'numpy.ndarray'),
        # The arrays' (and scalars') dtype: numpy.dtype('f8', False, True) + __setstate__.
        (np.dtype, 'numpy.dtype'),
        # ...whose BUILD step torch only allows for allow-listed *types*, and in numpy 2
        # type(np.dtype('f8')) is numpy.dtypes.Float64DType, not numpy.dtype; see
        # _NUMPY_DTYPE_CODES for which ones.
        *[(cls, f'{cls.__module__}.{cls.__qualname__}') for cls in _numpy_dtype_classes()],
        # numpy scalars in message_hub.runtime_info (e.g. 'eta' is a np.float64), pickled
        # as scalar(dtype, raw bytes); numpy refuses object dtypes here.
        (multiarray.scalar, 'numpy._core.multiarray.scalar'),
        # The same two functions under the module name numpy 1.x writes, so checkpoints
        # saved in a numpy < 2 environment load too (same objects, second name).
        (multiarray._reconstruct, 'numpy.core.multiarray._reconstruct'),
        (multiarray.scalar, 'numpy.core.multiarray.scalar'),
    ]


#: Globals allow-listed for ``torch.load(weights_only=True)``, as ``(object, name)``.
SAFE_CHECKPOINT_GLOBALS: List[Tuple[Any, str]] = _build_safe_globals()


def register_safe_checkpoint_globals() -> None:
    """Allow-list :data:`SAFE_CHECKPOINT_GLOBALS` for ``torch.load(weights_only=True)``.

    Idempotent: torch keeps the allow-list in a set, and entries already present are
    skipped. Called when this module is imported.
    """
    present = set(torch.serialization.get_safe_globals())
    missing = [entry for entry in SAFE_CHECKPOINT_GLOBALS if entry not in present]
    if missing:
        torch.serialization.add_safe_globals(missing)


# --- safe loading ----------------------------------------------------------------------


class CheckpointSecurityError(RuntimeError):
    """A checkpoint holds Python objects gleamkit will not unpickle.

    Attributes:
        filename: The checkpoint file.
        offending_globals: The globals (``module.name``) that were refused, as far as they
            could be determined.
    """

    def __init__(self, filename: str, offending_globals: Sequence[str], detail: str = ''):
        self.filename = filename
        self.offending_globals = list(offending_globals)
        offending = ', '.join(self.offending_globals) or 'unknown'
        message = (
            f'Refusing to load checkpoint {filename!r}: this checkpoint contains Python '
            f'objects beyond tensors and plain containers (offending global(s): {offending}). '
            'gleamkit refuses to unpickle them because that could run arbitrary code. '
        )
        if _names_blocked_module(self.offending_globals):
            message += (
                'It names functions of os/sys, which no model checkpoint needs: treat '
                'the file as hostile and do not load it (the converter under '
                '`tools/model_converters/` refuses it too).'
            )
        else:
            command = STRIP_COMMAND.replace('SRC DST', f'{shlex.quote(filename)} STRIPPED.pth')
            message += (
                f'To use its weights, keep only its tensors and plain containers with '
                f"`{command}` (it never runs the file's code and lists what it "
                'dropped); load it with '
                '`torch.load(path, weights_only=False)` only if you trust its author.'
            )
        detail = _core_of_torch_message(detail)
        if detail:
            message += f'\ntorch: {detail}'
        super().__init__(message)


def _names_blocked_module(names: Sequence[str]) -> bool:
    """Whether any ``module.name`` in ``names`` lives in :data:`_BLOCKED_MODULES`."""
    return any(name.split('.')[0] in _BLOCKED_MODULES for name in names)


class CorruptCheckpointError(RuntimeError):
    """A checkpoint file is empty, cut off or not a ``torch.save`` archive.

    Attributes:
        filename: The checkpoint file.
        reason: What is wrong with it.
    """

    def __init__(self, filename: str, reason: str):
        self.filename = filename
        self.reason = reason
        super().__init__(
            f'Checkpoint {filename!r} is unreadable: {reason}. It was probably cut off while '
            'being written or copied (a full disk, a killed copy); copy it again, or use '
            'another checkpoint.'
        )


# What torch's weights-only unpickler names in its errors: a refused GLOBAL, a type it
# will not build or instantiate, or a function it will not call.
#: Boilerplate lines of torch's weights-only error; they advise weights_only=False, which
#: is exactly the advice gleamkit must not repeat for an untrusted file.
_TORCH_BOILERPLATE = (
    'Weights only load failed',
    'Please file an issue',
    'Check the documentation of torch.load',
)


def _core_of_torch_message(message: str) -> str:
    """Keep the part of torch's weights-only error that says what was refused."""
    lines = [line.strip() for line in message.splitlines()]
    lines = [
        line
        for line in lines
        if line and not line.startswith(_TORCH_BOILERPLATE) and line != 'WeightsUnpickler error:'
    ]
    return ' '.join(lines)


_GLOBAL_IN_MESSAGE = re.compile(
    r"GLOBAL ([\w.]+)|(?:but got|got) <class '([\w.]+)'>|unrecognized function ([^\s]+)"
)


def _offending_globals(filename: str, error: Exception) -> List[str]:
    """Name the globals that made ``weights_only`` loading fail, without unpickling."""
    try:
        # Scans the pickle's opcodes only; respects the allow-list registered above.
        names = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
    except Exception:  # legacy (non-zip) files and corrupt archives cannot be scanned
        names = []
    if not names:
        names = [
            next(group for group in groups if group)
            for groups in _GLOBAL_IN_MESSAGE.findall(str(error))
        ]
    return list(dict.fromkeys(names))


def check_checkpoint_file(path: PathLike) -> str:
    """Cheap structural check of a checkpoint file, without unpickling anything.

    ``torch.save`` writes a zip archive whose central directory sits at the very end of
    the file, so an empty or cut-off file is caught by opening the archive (reading the
    directory only, not the tensors). Files in torch's legacy (pre-1.6, non-zip) format
    are only checked for being non-empty.

    Args:
        path: The checkpoint file (``~`` is expanded).

    Returns:
        The expanded file name.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        CorruptCheckpointError: The file is empty, cut off or a zip without ``data.pkl``.
    """
    filename = osp.expanduser(os.fspath(path))
    if not osp.isfile(filename):
        raise FileNotFoundError(f'Checkpoint file not found: {filename!r}')
    size = osp.getsize(filename)
    if size == 0:
        raise CorruptCheckpointError(filename, 'the file is empty (0 bytes)')
    with open(filename, 'rb') as f:
        magic = f.read(4)
    if magic != b'PK\x03\x04':
        return filename  # legacy format, or not a checkpoint: torch.load will say
    try:
        with zipfile.ZipFile(filename) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as error:
        raise CorruptCheckpointError(
            filename, f'its zip archive ends early ({size} bytes, {error})'
        ) from error
    if not any(name == 'data.pkl' or name.endswith('/data.pkl') for name in names):
        raise CorruptCheckpointError(
            filename, 'the zip archive has no data.pkl, so it was not written by torch.save'
        )
    return filename


def safe_load_checkpoint(path: PathLike, map_location: Any = 'cpu') -> Any:
    """Load a local checkpoint with ``torch.load(weights_only=True)``.

    Args:
        path: Local checkpoint file (``~`` is expanded).
        map_location: Passed to ``torch.load``. Defaults to ``'cpu'``.

    Returns:
        The loaded object, usually a dict with ``state_dict`` (and for mmengine
        checkpoints ``meta``, ``message_hub``, ``optimizer``, ``param_schedulers``).

    Raises:
        FileNotFoundError: ``path`` is not a file.
        CorruptCheckpointError: The file is empty, cut off or otherwise unreadable.
        CheckpointSecurityError: The checkpoint contains globals outside torch's and
            gleamkit's allow-list (:data:`SAFE_CHECKPOINT_GLOBALS`).
    """
    filename = check_checkpoint_file(path)
    # Cheap, and makes the function safe to call even if someone cleared torch's list.
    register_safe_checkpoint_globals()
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointSecurityError(
            filename, _offending_globals(filename, error), str(error)
        ) from error
    except (EOFError, zipfile.BadZipFile) as error:
        raise CorruptCheckpointError(filename, f'{type(error).__name__}: {error}') from error
    except RuntimeError as error:
        if 'PytorchStreamReader' not in str(error):
            raise
        raise CorruptCheckpointError(filename, str(error).split('. ')[0]) from error


# --- salvaging the tensors of a refused checkpoint ----------------------------------------


class _Unresolved:
    """Stand-in for a global a checkpoint names but gleamkit will not import.

    Building, calling or restoring it only records the arguments: no code of the
    checkpoint's classes or functions runs. One subclass per name (``global_name``).
    """

    global_name = ''

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        self.args = args

    def __setstate__(self, state):
        self.state = state


def _unresolved(name: str) -> type:
    return type(f'Unresolved[{name}]', (_Unresolved,), {'global_name': name})


def _count_tensors(obj: Any, depth: int = 0) -> int:
    if isinstance(obj, torch.Tensor):
        return 1
    if depth > 50:
        return 0
    if isinstance(obj, _Unresolved):
        obj = [getattr(obj, 'args', ()), getattr(obj, 'state', None)]
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (list, tuple, set)):
        return sum(_count_tensors(item, depth + 1) for item in obj)
    return 0


_DROPPED = object()


def _keep_plain(obj: Any, where: str, dropped: List[str]) -> Any:
    """``obj`` without the :class:`_Unresolved` parts; what was removed goes to ``dropped``."""
    is_stub_class = isinstance(obj, type) and issubclass(obj, _Unresolved)
    if isinstance(obj, _Unresolved) or is_stub_class:
        held = 0 if is_stub_class else _count_tensors(obj)
        dropped.append(
            f'{where or "<top level>"}: {obj.global_name}'
            + (f' (held {held} tensor(s))' if held else '')
        )
        return _DROPPED
    if isinstance(obj, dict):
        kept = type(obj)() if type(obj) in (dict, OrderedDict) else {}
        for key, value in obj.items():
            path = f'{where}.{key}' if where else str(key)
            if _keep_plain(key, path + ' (key)', dropped) is _DROPPED:
                continue
            value = _keep_plain(value, path, dropped)
            if value is not _DROPPED:
                kept[key] = value
        return kept
    if isinstance(obj, (list, tuple)):
        # positions matter (schedulers, param groups): a dropped item becomes None
        items = [_keep_plain(item, f'{where}[{i}]', dropped) for i, item in enumerate(obj)]
        items = [None if item is _DROPPED else item for item in items]
        return items if isinstance(obj, list) else tuple(items)
    return obj


def load_checkpoint_without_code(
    path: PathLike, map_location: Any = 'cpu', max_rounds: int = 32
) -> Tuple[Any, List[str]]:
    """Load a checkpoint's tensors and plain containers; drop every other object unbuilt.

    Every global the file names beyond torch's and gleamkit's allow-list is replaced by
    an inert stand-in while torch's own weights-only unpickler reads the file, so none of
    the file's classes or functions is imported or run; the stand-ins are then removed
    (dict entries deleted, list / tuple items set to ``None``). Files that name ``os`` /
    ``sys`` functions are refused: no model checkpoint needs them.

    Args:
        path: Local checkpoint file.
        map_location: Passed to ``torch.load``. Defaults to ``'cpu'``.
        max_rounds: How many times to retry with globals found only while unpickling
            (names a static scan of the pickle cannot see). Defaults to 32.

    Returns:
        ``(checkpoint, dropped)``: the cleaned object and one ``'key.path: module.Name'``
        line per removed object.

    Raises:
        CorruptCheckpointError: The file is empty or cut off.
        CheckpointSecurityError: The file names ``os`` / ``sys`` functions, or the
            unpickler refused something a stand-in cannot replace.
    """
    filename = check_checkpoint_file(path)
    register_safe_checkpoint_globals()
    try:
        names = list(torch.serialization.get_unsafe_globals_in_checkpoint(filename))
    except Exception:  # legacy (non-zip) files cannot be scanned: found while loading
        names = []
    for _ in range(max_rounds):
        if _names_blocked_module(names):
            raise CheckpointSecurityError(
                filename, [n for n in names if _names_blocked_module([n])]
            )
        stand_ins = [(_unresolved(name), name) for name in names]
        try:
            with torch.serialization.safe_globals(stand_ins):
                checkpoint = torch.load(filename, map_location=map_location, weights_only=True)
            break
        except pickle.UnpicklingError as error:
            found = [
                name
                for groups in _GLOBAL_IN_MESSAGE.findall(str(error))
                for name in groups
                if name and '.' in name and name not in names
            ]
            if not found:
                raise CheckpointSecurityError(filename, names, str(error)) from error
            names += found
    else:
        raise CheckpointSecurityError(
            filename, names, f'still refused after {max_rounds} rounds of stand-ins'
        )
    dropped: List[str] = []
    checkpoint = _keep_plain(checkpoint, '', dropped)
    return (None if checkpoint is _DROPPED else checkpoint), dropped


def load_from_safe_local(filename: str, map_location: Any = None) -> Any:
    """mmengine ``CheckpointLoader`` scheme for local paths, via :func:`safe_load_checkpoint`.

    Replaces mmengine's ``load_from_local`` (which calls ``torch.load`` without
    ``weights_only`` and so breaks on its own checkpoints under torch >= 2.6). Its name
    matters: mmengine logs ``'Loads checkpoint by ' + name[10:] + ' backend'``.
    """
    return safe_load_checkpoint(filename, map_location=map_location)


def register_safe_checkpoint_loader() -> None:
    """Make :func:`load_from_safe_local` mmengine's loader for local checkpoint paths.

    mmengine resolves a path to a loader by regex-matching the registered prefixes,
    longest first; the empty prefix (local files) matches whatever no other scheme does.
    ``Runner.load_checkpoint`` (``load_from``), ``Runner.resume`` and
    ``mmengine.runner.load_checkpoint`` all go through ``CheckpointLoader``. Idempotent.
    """
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_safe_local, force=True)


# --- atomic writes ---------------------------------------------------------------------


def _fsync_directory(dirname: str) -> None:
    """Persist a rename on POSIX by syncing its directory (best effort, no-op on Windows)."""
    if os.name == 'nt':
        return
    with contextlib.suppress(OSError):
        fd = os.open(dirname, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(data: Union[bytes, bytearray, memoryview], filepath: PathLike) -> None:
    """Write ``data`` to ``filepath`` so readers see the old file or the new one, never half.

    The bytes go to a hidden temporary file in the same directory (same filesystem, so
    the rename is atomic), which is flushed and fsynced and then ``os.replace``-d over
    ``filepath``. On any error the temporary file is removed and ``filepath`` is left
    as it was. Missing parent directories are created (as ``LocalBackend.put`` does).

    Args:
        data: The bytes to write.
        filepath: Destination. A symlink is written through (its target is replaced), as
            ``open(filepath, 'wb')`` would.
    """
    filepath = os.fspath(filepath)
    if osp.islink(filepath):
        filepath = osp.realpath(filepath)
    dirname = osp.dirname(osp.abspath(filepath))
    os.makedirs(dirname, exist_ok=True)
    # Hidden and without the final suffix, so globs like '*.pth' never pick it up;
    # pid + random part keep concurrent writers (several ranks, several jobs) apart.
    tmp_path = osp.join(
        dirname, f'.{osp.basename(filepath)}.tmp-{os.getpid()}-{uuid.uuid4().hex[:12]}'
    )
    try:
        # 'x': never clobber anything; the file gets 0o666 & ~umask like a plain open().
        with open(tmp_path, 'xb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if osp.exists(filepath):
            # Overwriting must not change the permissions of the file being replaced.
            with contextlib.suppress(OSError):
                os.chmod(tmp_path, os.stat(filepath).st_mode & 0o7777)
        os.replace(tmp_path, filepath)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp_path)
        raise
    _fsync_directory(dirname)


class _AtomicPutMixin:
    """``put``/``put_text`` through :func:`atomic_write_bytes`."""

    def put(self, obj: bytes, filepath: PathLike) -> None:
        """Write bytes to ``filepath`` atomically (see :func:`atomic_write_bytes`)."""
        atomic_write_bytes(obj, filepath)

    def put_text(self, obj: str, filepath: PathLike, encoding: str = 'utf-8') -> None:
        """Write text to ``filepath`` atomically (see :func:`atomic_write_bytes`)."""
        atomic_write_bytes(obj.encode(encoding), filepath)


class AtomicLocalBackend(_AtomicPutMixin, LocalBackend):
    """mmengine ``LocalBackend`` whose writes are atomic.

    mmengine's ``save_checkpoint`` serialises the checkpoint into memory and hands the
    bytes to ``get_file_backend(path).put``; the plain ``LocalBackend`` opens the final
    path with ``'wb'`` (truncating the previous file) and writes into it, so an
    interrupted save leaves a truncated checkpoint under the real name.
    """


class AtomicHardDiskBackend(_AtomicPutMixin, HardDiskBackend):
    """The deprecated ``FileClient('disk')`` backend with atomic writes.

    Used when a ``CheckpointHook`` is given ``file_client_args``.
    """


def register_atomic_local_backend() -> None:
    """Register :class:`AtomicLocalBackend` as mmengine's backend for local paths.

    * ``register_backend('local', ..., prefixes='', force=True)`` replaces both the
      ``'local'`` name and the empty (local path) prefix, so ``get_file_backend(path)``,
      which ``CheckpointHook.before_train`` and ``save_checkpoint`` call, builds ours.
    * ``get_file_backend(..., enable_singleton=True)`` (used by ``mmengine.fileio.put``,
      ``dump`` and friends) caches instances in ``mmengine.fileio.io.backend_instances``;
      cached plain ``LocalBackend`` objects are dropped so the next call builds ours.
    * The deprecated ``FileClient`` keeps its own table; ``'disk'`` is replaced there too
      (``FileClient.register_backend(force=True)`` drops its cached instances itself).

    A ``CheckpointHook`` that already ran ``before_train`` keeps the backend it built.
    Idempotent.
    """
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
    for key, backend in list(mmengine_io.backend_instances.items()):
        if isinstance(backend, LocalBackend) and not isinstance(backend, _AtomicPutMixin):
            del mmengine_io.backend_instances[key]
    if FileClient._backends.get('disk') is not AtomicHardDiskBackend:
        FileClient.register_backend('disk', AtomicHardDiskBackend, force=True)


def setup_safe_checkpointing() -> Dict[str, Optional[object]]:
    """Install everything this module provides; idempotent. Runs at import time.

    Returns:
        What is installed: the allow-list, the local loader and the local backend class.
    """
    register_safe_checkpoint_globals()
    register_safe_checkpoint_loader()
    register_atomic_local_backend()
    return dict(
        safe_globals=SAFE_CHECKPOINT_GLOBALS,
        local_loader=load_from_safe_local,
        local_backend=AtomicLocalBackend,
    )


setup_safe_checkpointing()
