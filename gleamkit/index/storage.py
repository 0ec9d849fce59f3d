"""Files of a gallery index: atomic directories, file and config digests.

A saved index (and each embedding shard) is a directory whose manifest is written
last. :func:`atomic_directory` builds the directory under a hidden temporary name
next to its destination and renames it into place only when everything, the
manifest included, is on disk: a crash mid-save leaves a ``.NAME.tmp-*`` folder
and never a directory under the real name that looks complete.
"""

import contextlib
import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Iterator, Union

__all__ = ['atomic_directory', 'sha256_file', 'config_digest', 'write_json']

PathLike = Union[str, os.PathLike]


def sha256_file(path: PathLike, chunk_bytes: int = 1 << 22) -> str:
    """``'sha256:<hex>'`` of a file's bytes (a checkpoint, an index file)."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(chunk_bytes), b''):
            digest.update(chunk)
    return 'sha256:' + digest.hexdigest()


def config_digest(config: Any) -> str:
    """``'sha256:<hex>'`` of a config's canonical JSON (sorted keys).

    Accepts an mmengine ``Config``/``ConfigDict``, a dict, or anything ``json``
    can write with ``default=str`` (types and callables become their ``str``).
    Two configs with the same keys and values have the same digest whatever
    their key order.
    """
    if hasattr(config, 'to_dict'):
        config = config.to_dict()
    text = json.dumps(config, sort_keys=True, default=str, separators=(',', ':'))
    return 'sha256:' + hashlib.sha256(text.encode()).hexdigest()


def _fsync_directory(path: PathLike) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be opened
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_json(path: PathLike, data: Any) -> None:
    """Write ``data`` as indented JSON, flushed and fsynced."""
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(data, f, indent=2, sort_keys=False)
        f.write('\n')
        f.flush()
        os.fsync(f.fileno())


@contextlib.contextmanager
def atomic_directory(target: PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that becomes ``target`` when the block succeeds.

    Args:
        target: The final directory.
        overwrite: Replace an existing ``target``. The old directory is moved aside
            and deleted only after the new one is in place. Defaults to False
            (an existing ``target`` is an error).

    Raises:
        FileExistsError: ``target`` exists and ``overwrite`` is False.
    """
    target = Path(target).absolute()
    if target.exists() and not overwrite:
        raise FileExistsError(
            f'{target} already exists: pass overwrite=True to replace it, '
            'or choose another directory'
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tag = f'{os.getpid()}-{uuid.uuid4().hex[:12]}'
    tmp = target.parent / f'.{target.name}.tmp-{tag}'
    tmp.mkdir()
    try:
        yield tmp
        for child in tmp.rglob('*'):
            if child.is_file():
                with open(child, 'rb') as f:
                    os.fsync(f.fileno())
        _fsync_directory(tmp)
        if target.exists():
            old = target.parent / f'.{target.name}.old-{tag}'
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
        _fsync_directory(target.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
