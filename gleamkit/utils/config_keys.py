"""Unknown config keys, reported with the component, the key path and the keys accepted.

A misspelt key (``embed_dimm=``, ``max_epoch=``) reaches a constructor as a keyword
argument, and Python's ``TypeError: unexpected keyword argument`` names neither the
config entry nor what would be right. Two places turn it into an
:class:`UnknownConfigKeyError`:

* gleamkit's registries (``GleamkitRegistry.build``) name the component, the key,
  the accepted keys and the closest one, for a component built from Python;
* :func:`explain_config_errors`, around the Runner in ``tools/train.py`` and
  ``tools/test.py``, adds where the key is in the config (``model.head.embed_dimm``,
  ``train_cfg.max_epoch``): it also covers what mmengine builds from its own
  registries (loops, optimizers, datasets, the model itself).
"""

import difflib
import inspect
import re
from contextlib import contextmanager
from typing import Iterator, List, Optional, Tuple

__all__ = [
    'UnknownConfigKeyError',
    'UNEXPECTED_KWARG',
    'accepted_keys',
    'resolve_type',
    'unknown_key_message',
    'unknown_key_error',
    'explain_config_errors',
]

# Python 3.10+: "EmbeddingHead.__init__() got an unexpected keyword argument 'embed_dimm'"
UNEXPECTED_KWARG = re.compile(
    r'(?:(?P<owner>[\w.]+?)\.)?(?P<func>\w+)\(\) got an unexpected keyword argument '
    r"'(?P<key>\w+)'"
)


class UnknownConfigKeyError(TypeError):
    """A config entry gives a component a key its constructor does not take.

    Args:
        message: The full message.
        component: The class (or function) built. Defaults to None.
        key: The unknown key. Defaults to None.
        path: Where the entry is in the config, e.g. ``'model.head'``. Defaults to None.
    """

    def __init__(
        self, message: str, component=None, key: Optional[str] = None, path: Optional[str] = None
    ):
        super().__init__(message)
        self.component, self.key, self.path = component, key, path


def _own_keys(func) -> Tuple[List[str], bool]:
    """A function's keyword names and whether it also takes ``**kwargs``."""
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return [], True
    names = [
        p.name
        for p in params
        if p.name != 'self' and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    return names, any(p.kind is p.VAR_KEYWORD for p in params)


def accepted_keys(component) -> Optional[List[str]]:
    """The keyword arguments a class or function takes, or None where that is unknown.

    A class whose ``__init__`` takes ``**kwargs`` is followed up its bases (the usual
    ``super().__init__(**kwargs)``) until an ``__init__`` without ``**kwargs``.
    """
    if not inspect.isclass(component):
        names, open_ended = _own_keys(component)
        return None if open_ended else names
    keys: List[str] = []
    for klass in component.__mro__:
        if '__init__' not in vars(klass):
            continue
        if klass is object:
            return None
        names, open_ended = _own_keys(vars(klass)['__init__'])
        keys += [name for name in names if name not in keys]
        if not open_ended:
            return keys
    return None


def _where(component) -> str:
    module = getattr(component, '__module__', None)
    name = getattr(component, '__qualname__', getattr(component, '__name__', repr(component)))
    return f'{name} ({module})' if module else name


def unknown_key_message(
    component, key: str, path: Optional[str] = None, config_file: Optional[str] = None
) -> str:
    """``<path>.<key>: <Component> (<module>) has no config key ...`` with a did-you-mean."""
    keys = accepted_keys(component)
    lead = f'{path}.{key}: ' if path else ''
    msg = f'{lead}{_where(component)} has no config key {key!r}.'
    if keys is not None:
        close = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
        if close:
            msg += f' Did you mean {close[0]!r}?'
        msg += f' Accepted keys: {", ".join(keys) or "(none)"}.'
    if config_file:
        msg += f' (config {config_file})'
    return msg


def resolve_type(value):
    """A config ``type`` as a class or function: lazy imports built, names looked up."""
    from mmengine.config.lazy import LazyAttr, LazyObject

    if isinstance(value, (LazyObject, LazyAttr)):
        try:
            value = value.build()
        except Exception:
            return None
    if isinstance(value, str):
        from gleamkit import registry

        for reg in (
            registry.MODELS,
            registry.DATASETS,
            registry.TRANSFORMS,
            registry.LOOPS,
            registry.HOOKS,
            registry.OPTIMIZERS,
            registry.OPTIM_WRAPPERS,
            registry.PARAM_SCHEDULERS,
            registry.SAMPLERS,
            registry.EVALUATORS,
            registry.VISUALIZERS,
            registry.VISBACKENDS,
        ):
            try:
                found = reg._find(value)
            except Exception:
                found = None
            if found is not None:
                return found
        return None
    return value if callable(value) else None


def _entries(node, path: str = '') -> Iterator[Tuple[str, dict]]:
    """Every dict in a config tree with its key path (``'model.head'``,
    ``'custom_hooks.0.dataloader'``)."""
    if isinstance(node, dict):
        yield path, node
        for key, value in dict.items(node):
            yield from _entries(value, f'{path}.{key}' if path else str(key))
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _entries(value, f'{path}.{i}' if path else str(i))


def _name_of(value) -> Optional[str]:
    if isinstance(value, str):
        return value.split('.')[-1]
    return getattr(resolve_type(value), '__name__', None)


def unknown_key_error(err: TypeError, cfg) -> Optional[UnknownConfigKeyError]:
    """Rephrase an "unexpected keyword argument" ``TypeError`` with its config key path.

    Args:
        err: The error raised while building from ``cfg``.
        cfg: The whole config.

    Returns:
        An :class:`UnknownConfigKeyError` naming the path(s), or None when ``err`` is not
        about a keyword argument that some entry of ``cfg`` holds.
    """
    if isinstance(err, UnknownConfigKeyError) and err.path is not None:
        return None
    if isinstance(err, UnknownConfigKeyError):
        component, key = err.component, err.key
        owner = getattr(component, '__name__', None)
    else:
        match = UNEXPECTED_KWARG.search(str(err))
        if not match:
            return None
        key, func, owner = match.group('key'), match.group('func'), match.group('owner')
        if owner and func != '__init__':
            return None  # a method call (e.g. forward) at run time, not a constructor
        owner = (owner or func).split('.')[-1]
        component = None
    holders = [
        (path, node)
        for path, node in _entries(cfg._cfg_dict if hasattr(cfg, '_cfg_dict') else cfg)
        if key in node and path
    ]

    def type_of(node):
        return dict.get(node, 'type')

    def rejects(candidate) -> bool:
        keys = accepted_keys(candidate) if candidate is not None else None
        return keys is not None and key not in keys

    # the entry whose type is the class that refused the key; an entry without a type
    # that mmengine fills in (train_cfg -> its loop) when that class rejects the key; an
    # entry whose type passes the key up to a base class that refused it
    chosen = [(p, n) for p, n in holders if _name_of(type_of(n)) == owner]
    if not chosen and rejects(component or resolve_type(owner)):
        chosen = [(p, n) for p, n in holders if type_of(n) is None]
    if not chosen:
        chosen = [
            (p, n)
            for p, n in holders
            if type_of(n) is not None and rejects(resolve_type(type_of(n)))
        ]
    if not chosen:
        return None  # no entry of the config explains it: leave the error as it is
    if component is None:
        component = resolve_type(type_of(chosen[0][1])) or resolve_type(owner)
    paths = [p for p, _ in chosen]
    config_file = getattr(cfg, 'filename', None)
    if component is None:
        msg = (
            f'{paths[0]}.{key}: {owner} takes no keyword {key!r}'
            f'{f" (config {config_file})" if config_file else ""}: {err}'
        )
    else:
        msg = unknown_key_message(component, key, paths[0], config_file)
    if len(paths) > 1:
        msg += f' The same entry is at: {", ".join(p + "." + key for p in paths[1:])}.'
    return UnknownConfigKeyError(msg, component=component, key=key, path=paths[0])


@contextmanager
def explain_config_errors(cfg):
    """Re-raise an unknown-keyword ``TypeError`` from building ``cfg`` with its key path.

    Args:
        cfg: The config the Runner is built from.
    """
    try:
        yield
    except TypeError as err:
        better = unknown_key_error(err, cfg)
        if better is None:
            raise
        raise better from err
