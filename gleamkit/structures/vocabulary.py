"""gleamkit's data vocabulary: the view names and the dataset modes, defined once.

Every module that names a view or a mode imports it from here. Where a module needs
its own order (the synthetic world's random streams, a modality adapter's embedding
rows, the synthetic datasets' sample order), it derives that order from these
tuples with :func:`views_in_order`, so the order is explicit and stays fixed.
"""

import difflib
from typing import Iterable, Sequence, Tuple

__all__ = [
    'VIEWS',
    'REFERENCE_VIEW',
    'QUERY_VIEWS',
    'DATASET_MODES',
    'VIEW_ALIASES',
    'check_view',
    'check_views',
    'check_mode',
    'views_in_order',
]

#: every view gleamkit knows, in canonical order (the synthetic world seeds its
#: random streams with the index into this tuple: do not reorder it)
VIEWS: Tuple[str, ...] = ('satellite', 'map', 'uav', 'panorama', 'ground')
#: the view of the gallery / the reference side of a training pair
REFERENCE_VIEW = 'satellite'
#: the views a query can have, in canonical order
QUERY_VIEWS: Tuple[str, ...] = tuple(v for v in VIEWS if v != REFERENCE_VIEW)
#: what a cross-view dataset serves: training pairs, evaluation queries, the gallery
DATASET_MODES: Tuple[str, ...] = ('pairs', 'query', 'gallery')
#: words people use for a view, named in errors (``drone`` -> ``uav``)
VIEW_ALIASES = {
    'drone': 'uav',
    'street': 'ground',
    'streetview': 'ground',
    'sat': 'satellite',
    'aerial': 'satellite',
    'pano': 'panorama',
    'osm': 'map',
}


def _suggestion(name: str, choices: Sequence[str]) -> str:
    text = str(name).lower()
    hint = VIEW_ALIASES.get(text) if text not in choices else text
    if hint not in choices:
        close = difflib.get_close_matches(text, choices, n=1, cutoff=0.6)
        hint = close[0] if close else None
    return f' (did you mean {hint!r}?)' if hint else ''


def check_view(name: str, where: str, allowed: Sequence[str] = VIEWS, key: str = 'view') -> str:
    """``name`` if it is one of ``allowed``, else a ``ValueError`` naming ``where``.

    Args:
        name (str): the view name to check.
        where (str): what holds the name (a class and key, a file and line), put at
            the start of the error.
        allowed (sequence of str): the accepted views. Defaults to :data:`VIEWS`.
        key (str): the config key or column named in the error. Defaults to ``'view'``.

    Returns:
        str: ``name``.
    """
    if name not in allowed:
        raise ValueError(
            f'{where}: {key}={name!r}, expected one of {tuple(allowed)}'
            f'{_suggestion(name, tuple(allowed))}'
        )
    return name


def check_views(
    names: Iterable[str], where: str, allowed: Sequence[str] = VIEWS
) -> Tuple[str, ...]:
    """:func:`check_view` for each of ``names`` (a single string is refused: it is
    almost always a missing comma in ``('uav',)``); returns them as a tuple."""
    if isinstance(names, str):
        raise ValueError(
            f'{where}: views={names!r} is a string, expected a sequence of view '
            f'names such as ({names!r}, )'
        )
    names = tuple(names)
    unknown = [v for v in names if v not in allowed]
    if unknown:
        raise ValueError(
            f'{where}: unknown views {unknown}; expected some of {tuple(allowed)}'
            f'{_suggestion(unknown[0], tuple(allowed))}'
        )
    return names


def check_mode(mode: str, where: str, allowed: Sequence[str] = DATASET_MODES) -> str:
    """``mode`` if it is one of ``allowed`` (:data:`DATASET_MODES`), else a ``ValueError``
    that starts with ``where``."""
    if mode not in allowed:
        close = difflib.get_close_matches(str(mode), allowed, n=1, cutoff=0.6)
        hint = f' (did you mean {close[0]!r}?)' if close else ''
        raise ValueError(f'{where}: mode={mode!r}, expected one of {tuple(allowed)}{hint}')
    return mode


def views_in_order(views: Sequence[str], first: Sequence[str] = ()) -> Tuple[str, ...]:
    """``first``, then the rest of ``views`` in their order: a fixed order derived
    from the vocabulary (``views_in_order(QUERY_VIEWS, first=('uav',))`` is
    ``('uav', 'map', 'panorama', 'ground')``).

    Args:
        views (sequence of str): the views to order.
        first (sequence of str): views that come first, in this order; each must be
            one of ``views``. Defaults to ``()``.
    """
    missing = [v for v in first if v not in views]
    if missing:
        raise ValueError(f'views_in_order: {missing} are not among {tuple(views)}')
    return tuple(first) + tuple(v for v in views if v not in first)
