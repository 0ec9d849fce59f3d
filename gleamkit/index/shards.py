"""Embedding shards: each rank of a sharded gallery embedding writes one, merge reads all.

When ``torchrun`` ranks embed a gallery, rank ``r`` of ``W`` writes
``shard-{r:05d}-of-{W:05d}/`` under one root::

    shard.json          count, dim, rank, world size, model digests (written last)
    embeddings.npy      (n, D) float32, L2-normalised
    indices.npy         (n,) int64 positions of these tiles in the whole gallery
    metadata/<col>.npy  the tiles' metadata columns (id, lat, lon, footprint, ...)

Each shard directory is written atomically (:func:`atomic_directory`): one that
exists is complete, so a build killed half-way resumes by embedding only the ranks
:func:`finished_shards` does not list. :func:`merge_embedding_shards` puts the
shards back in gallery order and refuses duplicates (``DistributedSampler`` pads
the last batch by repeating the first samples) and gaps (a missing or short shard).
"""

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

import numpy as np

from .storage import atomic_directory, write_json
from .tile_metadata import TileMetadata

__all__ = [
    'write_embedding_shard',
    'finished_shards',
    'merge_embedding_shards',
    'MergedShards',
    'shard_name',
]

SHARD_MANIFEST = 'shard.json'
_SHARD_DIR = re.compile(r'^shard-(\d{5})-of-(\d{5})$')
PathLike = Union[str, os.PathLike]


def shard_name(rank: int, world_size: int) -> str:
    """``'shard-00002-of-00008'``: the directory of rank 2 of 8."""
    return f'shard-{int(rank):05d}-of-{int(world_size):05d}'


def write_embedding_shard(
    root: PathLike,
    rank: int,
    world_size: int,
    embeddings,
    indices,
    metadata,
    *,
    config_digest: Optional[str] = None,
    checkpoint_digest: Optional[str] = None,
    overwrite: bool = False,
) -> Path:
    """Write one rank's shard (atomically) and return its directory.

    Args:
        root: Directory holding all shards of one gallery.
        rank: This process's rank (0-based).
        world_size: Number of ranks.
        embeddings: ``(n, D)`` float32 embeddings of this rank's tiles.
        indices: ``(n,)`` positions of these tiles in the whole gallery. Drop the
            sampler's padding before writing (``DistributedSampler`` repeats the
            first samples so every rank gets as many).
        metadata: the tiles' metadata (:class:`TileMetadata`, columns or rows).
        config_digest: the embedding model's config digest. Defaults to None.
        checkpoint_digest: its checkpoint's sha256. Defaults to None.
        overwrite: replace an existing shard of this rank. Defaults to False.
    """
    if not 0 <= int(rank) < int(world_size):
        raise ValueError(f'rank must be in 0..{int(world_size) - 1}, got {rank}')
    embeddings = np.ascontiguousarray(
        np.asarray(
            embeddings.detach().float().cpu().numpy()
            if hasattr(embeddings, 'detach')
            else embeddings,
            dtype=np.float32,
        )
    )
    indices = np.asarray(indices, dtype=np.int64)
    if embeddings.ndim != 2 or indices.shape != (len(embeddings),):
        raise ValueError(
            f'shard of rank {rank}: embeddings must be (n, D) and indices (n,), '
            f'got {embeddings.shape} and {indices.shape}'
        )
    if not isinstance(metadata, TileMetadata):
        metadata = (
            TileMetadata(metadata)
            if isinstance(metadata, Mapping)
            else TileMetadata.from_rows(metadata)
        )
    if len(metadata) != len(embeddings):
        raise ValueError(
            f'shard of rank {rank}: {len(metadata)} metadata rows for {len(embeddings)} embeddings'
        )
    target = Path(root) / shard_name(rank, world_size)
    with atomic_directory(target, overwrite=overwrite) as tmp:
        np.save(tmp / 'embeddings.npy', embeddings, allow_pickle=False)
        np.save(tmp / 'indices.npy', indices, allow_pickle=False)
        columns = metadata.save(tmp / 'metadata')
        write_json(
            tmp / SHARD_MANIFEST,
            dict(
                rank=int(rank),
                world_size=int(world_size),
                count=len(embeddings),
                dim=int(embeddings.shape[1]) if embeddings.size else None,
                model=dict(config_digest=config_digest, checkpoint_digest=checkpoint_digest),
                metadata=columns,
            ),
        )
    return target


def finished_shards(root: PathLike, world_size: Optional[int] = None) -> Dict[int, Path]:
    """rank -> directory of every complete shard under ``root`` (for resuming).

    Args:
        root: The shards' directory (missing: no shard is finished).
        world_size: Only shards of this world size. Defaults to None (all).
    """
    root = Path(root)
    found = {}
    if not root.is_dir():
        return found
    for path in sorted(root.iterdir()):
        match = _SHARD_DIR.match(path.name)
        if not match or not (path / SHARD_MANIFEST).is_file():
            continue
        rank, world = int(match.group(1)), int(match.group(2))
        if world_size is not None and world != int(world_size):
            continue
        if rank in found:
            raise ValueError(
                f'{root} holds shards of rank {rank} for several world sizes '
                f'({found[rank].name}, {path.name}); keep one run per directory'
            )
        found[rank] = path
    return found


@dataclass
class MergedShards:
    """The gallery put back together by :func:`merge_embedding_shards`.

    Attributes:
        embeddings: ``(N, D)`` float32, row ``i`` is gallery position ``i``.
        metadata: the matching metadata rows.
        model: the model digests the shards record.
        shard_dirs: the shard directories read, by rank.
    """

    embeddings: np.ndarray
    metadata: TileMetadata
    model: Dict[str, Any]
    shard_dirs: List[Path] = field(default_factory=list)


def _read_shard(path: Path) -> Dict[str, Any]:
    try:
        info = json.loads((path / SHARD_MANIFEST).read_text(encoding='utf-8'))
    except json.JSONDecodeError as err:
        raise ValueError(
            f'{path / SHARD_MANIFEST} is not valid JSON ({err}); delete the '
            'shard directory and embed that rank again'
        ) from err
    info['embeddings'] = np.load(path / 'embeddings.npy', mmap_mode='r', allow_pickle=False)
    info['indices'] = np.load(path / 'indices.npy', allow_pickle=False)
    info['meta'] = TileMetadata.load(path, info['metadata'], mmap=True, expected_rows=info['count'])
    if len(info['embeddings']) != info['count'] or len(info['indices']) != info['count']:
        raise ValueError(
            f'shard {path} holds {len(info["embeddings"])} embeddings and '
            f'{len(info["indices"])} indices, its {SHARD_MANIFEST} says '
            f'{info["count"]}; delete it and embed that rank again'
        )
    return info


def merge_embedding_shards(
    root: PathLike, expected_count: Optional[int] = None, allow_padding_duplicates: bool = False
) -> MergedShards:
    """Read every rank's shard under ``root`` and return the gallery in order.

    Args:
        root: Directory the ranks wrote their shards to.
        expected_count: Gallery size N; positions must be exactly ``0..N-1``.
            Defaults to None (``max(index) + 1``).
        allow_padding_duplicates: keep the first copy of a position written by
            several ranks when the copies agree (same tile id, embeddings within
            1e-3), as ``DistributedSampler`` padding produces. Defaults to False
            (any duplicate is an error).

    Raises:
        FileNotFoundError: no finished shard, or a rank's shard is missing.
        ValueError: shards that disagree (world size, dim, model), duplicate
            positions, or gaps.
    """
    root = Path(root)
    shards = finished_shards(root)
    if not shards:
        unfinished = sorted(p.name for p in root.glob('.shard-*.tmp-*')) if root.is_dir() else []
        raise FileNotFoundError(
            f'no finished embedding shard (shard-RRRRR-of-WWWWW/'
            f'{SHARD_MANIFEST}) under {root}'
            + (f'; unfinished: {unfinished}' if unfinished else '')
        )
    worlds = {int(_SHARD_DIR.match(p.name).group(2)) for p in shards.values()}
    if len(worlds) != 1:
        raise ValueError(
            f'{root} mixes shards of world sizes {sorted(worlds)}; keep the '
            'shards of one run per directory'
        )
    world = worlds.pop()
    missing = sorted(set(range(world)) - set(shards))
    if missing:
        raise FileNotFoundError(
            f'{root}: the shards of ranks {missing} (of {world}) are missing or unfinished '
            f'(e.g. {shard_name(missing[0], world)}/); run the embedding again: finished '
            'shards are kept and only the missing ranks are embedded'
        )
    infos = [_read_shard(shards[r]) for r in range(world)]
    dims = {info['dim'] for info in infos if info['count']}
    if len(dims) > 1:
        raise ValueError(f'{root}: shards have different embedding dims {sorted(dims)}')
    models = {json.dumps(info['model'], sort_keys=True) for info in infos}
    if len(models) > 1:
        raise ValueError(
            f'{root}: shards were embedded by different models {sorted(models)}; '
            'embed all ranks with one config and checkpoint'
        )
    indices = np.concatenate([info['indices'] for info in infos])
    if indices.size == 0:
        raise ValueError(f'{root}: every shard is empty; the gallery has no tiles')
    ranks = np.concatenate([np.full(info['count'], r) for r, info in enumerate(infos)])
    order = np.argsort(indices, kind='stable')
    sorted_idx = indices[order]
    if sorted_idx[0] < 0:
        raise ValueError(
            f'{root}: negative gallery position {int(sorted_idx[0])} in the '
            f'shard of rank {int(ranks[order[0]])}'
        )
    repeated = np.flatnonzero(sorted_idx[1:] == sorted_idx[:-1]) + 1
    keep = np.ones(len(order), bool)
    if repeated.size:
        first = _duplicate_report(sorted_idx, order, ranks, repeated)
        if not allow_padding_duplicates:
            raise ValueError(
                f'{root}: {repeated.size} gallery positions were written by more than one '
                f'shard, e.g. {first}. Drop the sampler padding before writing shards '
                '(DistributedSampler repeats the first samples so ranks get equal batches), '
                'or pass allow_padding_duplicates=True to keep the first of identical copies'
            )
        _check_identical_copies(root, infos, sorted_idx, order, ranks, repeated)
        keep[repeated] = False
    order, sorted_idx = order[keep], sorted_idx[keep]
    count = int(sorted_idx[-1]) + 1 if expected_count is None else int(expected_count)
    if len(sorted_idx) != count or sorted_idx[-1] != count - 1:
        present = np.zeros(max(count, int(sorted_idx[-1]) + 1), bool)
        present[sorted_idx] = True
        gaps = np.flatnonzero(~present[:count])
        beyond = sorted_idx[sorted_idx >= count]
        raise ValueError(
            f'{root}: the shards hold {len(sorted_idx)} distinct gallery positions, expected '
            f'0..{count - 1}: {gaps.size} missing (e.g. {gaps[:5].tolist()})'
            + (
                f', {beyond.size} beyond the end (e.g. {beyond[:5].tolist()})'
                if beyond.size
                else ''
            )
            + '. A rank wrote a short shard or the gallery changed; embed the missing tiles'
        )
    offsets = np.cumsum([0] + [info['count'] for info in infos])
    dim = dims.pop()
    embeddings = np.empty((count, dim), np.float32)
    for r, info in enumerate(infos):
        rows = np.flatnonzero(ranks[order] == r)  # merged rows taken from this shard
        local = order[rows] - offsets[r]
        ascending = np.sort(local)  # read the memory-mapped shard front to back
        embeddings[rows] = info['embeddings'][ascending][np.searchsorted(ascending, local)]
    meta_parts = TileMetadata.concatenate([info['meta'] for info in infos])
    columns = {name: np.asarray(col)[order] for name, col in meta_parts.columns.items()}
    return MergedShards(
        embeddings=embeddings,
        metadata=TileMetadata(columns),
        model=dict(infos[0]['model']),
        shard_dirs=[shards[r] for r in range(world)],
    )


def _duplicate_report(sorted_idx, order, ranks, repeated) -> str:
    pos = int(sorted_idx[repeated[0]])
    writers = sorted({int(ranks[order[j]]) for j in np.flatnonzero(sorted_idx == pos)})
    return f'position {pos} in the shards of ranks {writers}'


def _check_identical_copies(root, infos, sorted_idx, order, ranks, repeated) -> None:
    offsets = np.cumsum([0] + [info['count'] for info in infos])

    def row(j):
        r = int(ranks[order[j]])
        local = int(order[j] - offsets[r])
        return (np.asarray(infos[r]['embeddings'][local]), infos[r]['meta'].columns['id'][local], r)

    for j in repeated:
        a_vec, a_id, a_rank = row(j - 1)
        b_vec, b_id, b_rank = row(j)
        if a_id != b_id or not np.allclose(a_vec, b_vec, atol=1e-3):
            raise ValueError(
                f'{root}: gallery position {int(sorted_idx[j])} was written by ranks {a_rank} '
                f'and {b_rank} with different contents (ids {a_id!r} vs {b_id!r}); this is '
                'not sampler padding: the ranks disagree about the gallery order'
            )
