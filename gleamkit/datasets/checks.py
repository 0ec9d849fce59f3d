"""Checks the dataset readers share: text that must be UTF-8, column names with
did-you-mean, numbers and GPS in range, image paths that stay inside the data
root, and image files that open.

Every error names the file, the line and the key it is about, so that a bad
annotation file is fixed in one look. ``tools/misc/check_dataset.py`` uses the
same image check as the datasets' ``on_corrupt`` handling.
"""

import csv
import difflib
import io
import logging
import math
import os
import os.path as osp
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

__all__ = [
    'BadImageError',
    'did_you_mean',
    'read_text',
    'read_csv_rows',
    'split_known_keys',
    'parse_number',
    'parse_lat_lon',
    'read_gps_csv',
    'is_inside',
    'check_image',
    'CHECK_TOOL',
]

#: the command that lists every bad image of a config (named in errors)
CHECK_TOOL = 'python tools/misc/check_dataset.py CONFIG'

#: spellings that are not typos but still mean a known key
KEY_HINTS = {'latitude': 'lat', 'longitude': 'lon', 'lng': 'lon', 'long': 'lon'}


class BadImageError(OSError):
    """An image file of a sample is missing, unreadable or corrupt."""


def did_you_mean(
    value: str, choices: Iterable[str], hints: Optional[Dict[str, str]] = None, cutoff: float = 0.75
) -> str:
    """``" (did you mean 'x'?)"`` for the choice nearest to ``value``, else ``''``."""
    text = str(value)
    choices = [str(c) for c in choices]
    hint = (hints or {}).get(text.lower())
    if hint is None:
        if text.lower() in choices and text not in choices:
            hint = text.lower()
        else:
            close = difflib.get_close_matches(text.lower(), choices, n=1, cutoff=cutoff)
            # short keys such as 'lat' are too short for a ratio: 'lattitude' starts with it
            prefix = [c for c in choices if len(c) >= 3 and text.lower().startswith(c)]
            hint = close[0] if close else (max(prefix, key=len) if prefix else None)
    return f' (did you mean {hint!r}?)' if hint else ''


def read_text(path: str, who: str) -> str:
    """The file as text: UTF-8, with or without a byte-order mark (spreadsheets
    write one). Anything else raises a ``ValueError`` naming the line and byte."""
    with open(path, 'rb') as f:
        data = f.read()
    try:
        return data.decode('utf-8-sig')
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b'\n') + 1
        raise ValueError(
            f'{who}: {path}:{line}: not UTF-8 text (byte 0x{data[err.start]:02x} at offset '
            f'{err.start}); save the file as UTF-8 (a spreadsheet\'s "CSV UTF-8", or '
            f'iconv -f latin1 -t utf-8 {osp.basename(path)} > fixed.csv)'
        ) from err


def split_known_keys(keys: Iterable[str], known: Sequence[str]) -> Tuple[list, list]:
    """``(typos, extras)``: unknown keys close to a known one (with the nearest
    known key) and the other unknown keys."""
    typos, extras = [], []
    for key in keys:
        if key in known:
            continue
        hint = did_you_mean(key, known, KEY_HINTS)
        (typos if hint else extras).append((key, hint) if hint else key)
    return typos, extras


def read_csv_rows(
    path: str, who: str, delimiter: str = ',', required: Sequence[str] = ()
) -> Tuple[List[str], List[Tuple[int, dict]]]:
    """``(columns, [(line number, row)])`` of a CSV file with a header.

    Values are stripped; a row with more fields than the header is an error naming
    its line; a missing ``required`` column is an error naming the columns found.
    """
    reader = csv.reader(io.StringIO(read_text(path, who), newline=''), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise ValueError(f'{who}: {path} is empty; it needs a header line') from None
    columns = [c.strip() for c in header]
    missing = [c for c in required if c not in columns]
    if missing:
        raise ValueError(
            f'{who}: {path}:1: the header {columns} lacks {missing}'
            + ''.join(did_you_mean(m, columns) for m in missing[:1])
        )
    rows = []
    start = reader.line_num + 1
    for fields in reader:
        line = start
        start = reader.line_num + 1
        if not any(f.strip() for f in fields):
            continue
        if len(fields) > len(columns):
            raise ValueError(
                f'{who}: {path}:{line}: {len(fields)} fields but the header has '
                f'{len(columns)} ({columns}); quote values that contain '
                f'{delimiter!r}'
            )
        rows.append(
            (line, {c: fields[i].strip() if i < len(fields) else '' for i, c in enumerate(columns)})
        )
    return columns, rows


def parse_number(
    value, where: str, key: str, minimum: Optional[float] = None, maximum: Optional[float] = None
) -> float:
    """``float(value)``, finite and within ``[minimum, maximum]``; else a
    ``ValueError`` that starts with ``where`` (``file:line``) and names ``key``."""
    if isinstance(value, bool):
        raise ValueError(f'{where}: {key}={value!r} is not a number')
    try:
        number = float(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f'{where}: {key}={value!r} is not a number') from err
    if not math.isfinite(number):
        raise ValueError(f'{where}: {key}={value!r} is not a finite number')
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        low = '-inf' if minimum is None else f'{minimum:g}'
        high = 'inf' if maximum is None else f'{maximum:g}'
        raise ValueError(f'{where}: {key}={value!r} is outside [{low}, {high}]')
    return number


def parse_lat_lon(lat, lon, where: str) -> Tuple[float, float]:
    """WGS84 degrees: latitude in [-90, 90], longitude in [-180, 180]."""
    lat = parse_number(lat, where, 'lat', -90, 90)
    lon = parse_number(lon, where, 'lon', -180, 180)
    return lat, lon


def read_gps_csv(path: str, who: str, name_column: str) -> Dict[str, Tuple[float, float]]:
    """``{name: (lat, lon)}`` of a ``<name_column>,lat,lon`` CSV file (a header line,
    UTF-8); a misspelt column, a repeated name or a bad coordinate is an error
    naming the file, the line and the key."""
    columns, rows = read_csv_rows(path, who)
    known = (name_column, 'lat', 'lon')
    typos, extras = split_known_keys(columns, known)
    if typos or any(k not in columns for k in known):
        hint = ''.join(h for _, h in typos[:1])
        raise ValueError(
            f'{who}: {path}:1: the header is {columns}; expected '
            f'{",".join(known)}' + (f' ({typos[0][0]!r}{hint})' if typos else '')
        )
    out: Dict[str, Tuple[float, float]] = {}
    for line, row in rows:
        name = row[name_column]
        if not name:
            raise ValueError(f'{who}: {path}:{line}: empty {name_column}')
        if name in out:
            raise ValueError(f'{who}: {path}:{line}: {name_column}={name!r} is listed twice')
        out[name] = parse_lat_lon(row['lat'], row['lon'], f'{who}: {path}:{line}')
    if extras:
        from mmengine.logging import print_log

        print_log(
            f'{who}: {path}:1: columns {extras} are ignored (read: {",".join(known)})',
            logger='current',
            level=logging.WARNING,
        )
    return out


def is_inside(path: str, root: str) -> bool:
    """Whether ``path`` lies under ``root`` as written (``..`` resolved, links not
    followed: a data root whose folders link to other disks stays usable)."""
    path, root = osp.abspath(path), osp.abspath(root)
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def check_image(path: str, decode: bool = True) -> Optional[Tuple[str, str]]:
    """``None`` when ``path`` is a good image, else ``(kind, reason)`` with kind
    ``'missing'``, ``'unreadable'`` or ``'corrupt'``. ``decode=False`` only reads
    the header (faster; misses truncated files)."""
    from PIL import Image

    if not osp.lexists(path):
        return 'missing', 'no such file'
    if osp.isdir(path):
        return 'unreadable', 'is a folder'
    if not osp.exists(path):
        return 'missing', 'broken link'
    if not os.access(path, os.R_OK):
        return 'unreadable', 'permission denied'
    try:
        if osp.getsize(path) == 0:
            return 'corrupt', 'empty file'
        with Image.open(path) as img:
            if decode:
                img.load()
            else:
                img.verify()
    except PermissionError as err:
        return 'unreadable', str(err)
    except Exception as err:  # PIL raises many types for broken files
        return 'corrupt', f'{type(err).__name__}: {err}'
    return None
