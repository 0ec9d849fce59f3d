"""Per-tile metadata of a gallery, stored as one ``.npy`` file per column.

Columns rather than JSON lines: a million tiles load in milliseconds and
memory-mapped (``np.load(mmap_mode='r')``), and only the rows a search returns
are ever turned into Python objects. ``.npy`` files are read with
``allow_pickle=False``, so a metadata file cannot run code.

Columns the rest of gleamkit understands (only ``id`` is required):

========== =================== ==================================================
column     shape, dtype        meaning
========== =================== ==================================================
id         (N,) str or int     tile identifier, unique
lat, lon   (N,) float64        tile centre, WGS84 degrees
footprint  (N, K, 2) float64   tile outline in WGS84, K (lon, lat) corners
========== =================== ==================================================

Any other column of a fixed per-row shape (numbers, booleans, strings) is kept
and returned too (e.g. ``scale``, ``source``).
"""

import re
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

import numpy as np

__all__ = ['TileMetadata']

_COLUMN_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')


def _column_array(name: str, values) -> np.ndarray:
    array = np.asanyarray(values)  # keeps np.memmap columns mapped
    if array.dtype == object:
        # strings of mixed length arrive as objects from lists of str: make them fixed width
        try:
            array = np.asarray(values, dtype=str)
        except (TypeError, ValueError) as err:
            raise ValueError(
                f'metadata column {name!r} holds Python objects; use numbers, '
                'booleans or strings of one per-row shape'
            ) from err
        if array.dtype == object:
            raise ValueError(f'metadata column {name!r} holds Python objects')
    if array.dtype.kind not in 'biufUSM':
        raise ValueError(
            f'metadata column {name!r} has dtype {array.dtype}; expected numbers, '
            'booleans or strings'
        )
    if array.ndim == 0:
        raise ValueError(f'metadata column {name!r} is a scalar; expected one value per tile')
    return array


def _python(value):
    return (
        value.tolist()
        if isinstance(value, np.ndarray)
        else (value.item() if isinstance(value, np.generic) else value)
    )


class TileMetadata:
    """Columns of per-tile metadata, one row per gallery tile.

    Args:
        columns: column name -> array-like with one row per tile. ``id`` is
            required and must be unique.

    Example:
        >>> meta = TileMetadata({'id': ['a', 'b'], 'lat': [48.1, 48.2],
        ...                      'lon': [11.5, 11.6]})
        >>> meta.row(1)
        {'id': 'b', 'lat': 48.2, 'lon': 11.6}
    """

    def __init__(self, columns: Mapping[str, Any]):
        if 'id' not in columns:
            raise ValueError(f'tile metadata needs an "id" column; got columns {sorted(columns)}')
        self.columns: Dict[str, np.ndarray] = {}
        length = None
        for name, values in columns.items():
            if not _COLUMN_NAME.match(name):
                raise ValueError(
                    f'metadata column name {name!r} must be letters, digits and '
                    'underscores (it becomes a file name)'
                )
            array = _column_array(name, values)
            if length is None:
                length = len(array)
            elif len(array) != length:
                raise ValueError(
                    f'metadata column {name!r} has {len(array)} rows, column '
                    f'{next(iter(self.columns))!r} has {length}'
                )
            self.columns[name] = array

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> 'TileMetadata':
        """Build from dicts, one per tile, all with the same keys."""
        rows = list(rows)
        if not rows:
            raise ValueError('tile metadata from_rows got no rows (an empty gallery)')
        keys = list(rows[0])
        for i, row in enumerate(rows):
            if list(row) != keys and set(row) != set(keys):
                raise ValueError(
                    f'tile metadata row {i} has keys {sorted(row)}, row 0 has {sorted(keys)}'
                )
        return cls({key: [row[key] for row in rows] for key in keys})

    @classmethod
    def concatenate(cls, parts: Sequence['TileMetadata']) -> 'TileMetadata':
        """Rows of ``parts`` one after another; all parts must have the same columns."""
        names = list(parts[0].columns)
        for i, part in enumerate(parts):
            if set(part.columns) != set(names):
                raise ValueError(
                    f'metadata part {i} has columns {sorted(part.columns)}, '
                    f'part 0 has {sorted(names)}'
                )
        return cls(
            {name: np.concatenate([np.asarray(p.columns[name]) for p in parts]) for name in names}
        )

    def __len__(self) -> int:
        return len(self.columns['id'])

    @property
    def ids(self) -> np.ndarray:
        return self.columns['id']

    def check_unique_ids(self, source: str = 'tile metadata') -> None:
        """Raise if two tiles share an ``id`` (names the first repeated ids)."""
        ids = np.asarray(self.ids)
        unique, counts = np.unique(ids, return_counts=True)
        if len(unique) != len(ids):
            repeated = unique[counts > 1][:5].tolist()
            raise ValueError(
                f'{source}: {len(ids) - len(unique)} repeated tile ids, e.g. '
                f'{repeated}; every tile needs its own id'
            )

    def take(self, indices) -> 'TileMetadata':
        """The rows at ``indices`` (a new, in-memory table)."""
        indices = np.asarray(indices)
        return TileMetadata({name: np.asarray(col[indices]) for name, col in self.columns.items()})

    def row(self, index: int) -> Dict[str, Any]:
        """One row as a dict of Python values."""
        return {name: _python(col[index]) for name, col in self.columns.items()}

    def rows(self, indices: Iterable[int]) -> List[Dict[str, Any]]:
        return [self.row(int(i)) for i in indices]

    def save(self, directory: Union[str, Path]) -> Dict[str, Dict[str, Any]]:
        """Write ``directory/<column>.npy`` per column; return their manifest entries."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        entries = {}
        for name, col in self.columns.items():
            np.save(directory / f'{name}.npy', np.ascontiguousarray(col), allow_pickle=False)
            entries[name] = dict(
                file=f'{directory.name}/{name}.npy', dtype=col.dtype.str, shape=list(col.shape)
            )
        return entries

    @classmethod
    def load(
        cls,
        root: Union[str, Path],
        entries: Mapping[str, Mapping[str, Any]],
        mmap: bool = True,
        expected_rows: Optional[int] = None,
    ) -> 'TileMetadata':
        """Read the columns a manifest lists (``entries`` as :meth:`save` returned them).

        Args:
            root: The directory the entries' ``file`` paths are relative to.
            entries: column name -> ``dict(file, dtype, shape)``.
            mmap: Memory-map the columns. Defaults to True.
            expected_rows: Rows the manifest promises. Defaults to None (unchecked).
        """
        root = Path(root)
        columns = {}
        for name, entry in entries.items():
            path = root / entry['file']
            if not path.is_file():
                raise FileNotFoundError(
                    f'metadata column {name!r}: {path} is missing; the '
                    f'index directory {root} is incomplete, rebuild it'
                )
            try:
                col = np.load(path, mmap_mode='r' if mmap else None, allow_pickle=False)
            except ValueError as err:
                raise ValueError(
                    f'metadata column {name!r}: {path} is not a plain .npy array ({err})'
                ) from err
            if list(col.shape) != list(entry['shape']) or col.dtype.str != entry['dtype']:
                raise ValueError(
                    f'metadata column {name!r}: {path} has shape {list(col.shape)} '
                    f'dtype {col.dtype.str}, the manifest says {entry["shape"]} '
                    f'{entry["dtype"]}; the index directory was modified, rebuild'
                )
            columns[name] = col
        meta = cls(columns)
        if expected_rows is not None and len(meta) != expected_rows:
            raise ValueError(
                f'tile metadata in {root} has {len(meta)} rows, the manifest says {expected_rows}'
            )
        return meta
