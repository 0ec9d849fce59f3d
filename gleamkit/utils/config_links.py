"""Linked config variables: a value written once at the top of a config reaches every field
that was set from it, when a child config or ``--cfg-options`` changes it.

mmengine's pure-Python configs copy a variable into each field at parse time::

    data_root = None
    train_dataloader = dict(dataset=dict(type=University1652Dataset, data_root=data_root))
    val_dataloader = dict(dataset=dict(type=University1652Dataset, data_root=data_root))

so ``--cfg-options data_root=DIR`` (or ``data_root = DIR`` in a child config) changed only
the top-level ``data_root`` and nothing that reads it. :func:`merge_linked_options` reads
the config files themselves (the leaf and every base it imports with ``read_base``) and
records, for each field, the variable it was written from (``key=variable``,
``variable['key']``, ``x = variable``, ``x.update(key=variable)``, ``dict(variable, ...)``,
``for loader in (a, b): loader[...] = ...`` over a literal tuple). Then:

* a child config that reassigns or edits a variable (``data_root = '/data/u1652'``,
  ``max_epochs = 10``, ``world['num_locations'] = 300``) carries the new value into every
  field written from it, unless the child set that field itself afterwards;
* an override of a variable, or of a key inside it (``--cfg-options data_root=DIR
  world.num_locations=300 image_sizes.uav=[128,128]``) reaches every field written from
  it that still held the variable's value; a field the same command line sets itself
  keeps the user's value.

Every change is logged (``linked: world.num_locations=300 -> train_dataloader.dataset.
world.num_locations, ...``). Fields whose value no longer equals their variable (changed by
code this reader does not follow) are left alone. The Runner's own fields
(:data:`RUNNER_FIELDS`: ``val_dataloader``, ``val_evaluator``, ...) are not variables:
``test_dataloader = val_dataloader`` makes the test loader follow what the validation loader
was written from (``data_root``, ``world``), not later edits of ``val_dataloader`` itself.
"""

import ast
import copy
import importlib.util
import logging
import os.path as osp
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from mmengine.logging import print_log

Path = Tuple[Any, ...]
_MISSING = object()
# the Runner's own fields: `test_dataloader = val_dataloader` reuses a structure, it does
# not declare a setting (a leaf's `val_evaluator = None` turns validation off, not testing).
# Fields copied from them still follow the variables they were written from.
RUNNER_FIELDS = frozenset(
    (
        'model',
        'work_dir',
        'train_dataloader',
        'val_dataloader',
        'test_dataloader',
        'train_cfg',
        'val_cfg',
        'test_cfg',
        'auto_scale_lr',
        'optim_wrapper',
        'param_scheduler',
        'val_evaluator',
        'test_evaluator',
        'default_hooks',
        'custom_hooks',
        'data_preprocessor',
        'load_from',
        'resume',
        'launcher',
        'env_cfg',
        'log_processor',
        'log_level',
        'visualizer',
        'default_scope',
        'randomness',
        'experiment_name',
        'model_wrapper_cfg',
        'strategy',
    )
)


@dataclass
class Link:
    """``target`` (a key path in the config) was written from ``source``.

    Args:
        target (tuple): key path of the field, e.g. ``('train_dataloader', 'dataset',
            'data_root')``.
        source (tuple): key path of the variable (or a key inside it), e.g. ``('data_root',)``.
        where (str): ``file:line`` of the statement that wrote it.
        hops (int): 1 when written from ``source`` directly, more through other
            variables (``test_dataloader = val_dataloader``). Defaults to 1.
        stale (bool): ``source`` changed after the field was written. Defaults to False.
        excluded (set): key paths below ``target`` set on their own afterwards.
    """

    target: Path
    source: Path
    where: str
    hops: int = 1
    stale: bool = False
    excluded: set = field(default_factory=set)


def _dotted(path: Path) -> str:
    return '.'.join(str(p) for p in path) if path else '<root>'


def _startswith(path: Path, prefix: Path) -> bool:
    return path[: len(prefix)] == prefix


# ------------------------------------------------------------------------ reading files
class _LinkReader:
    """Follows the statements of a config and its bases in execution order."""

    def __init__(self):
        self.links: List[Link] = []
        self.names: set = set()
        self._reading: List[str] = []

    # paths ------------------------------------------------------------------------
    def _path(self, node, aliases) -> Optional[Path]:
        """The key path an expression stands for (``a['b'][0]``), or None."""
        keys = []
        while isinstance(node, ast.Subscript):
            if not isinstance(node.slice, ast.Constant):
                return None
            keys.append(node.slice.value)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        if node.id in aliases:
            base = aliases[node.id]
        elif node.id in self.names:
            base = (node.id,)
        else:
            return None
        return tuple(base) + tuple(reversed(keys))

    def _refs(self, node, path: Path, aliases, where: str) -> List[Link]:
        """The links an expression assigned at ``path`` carries."""
        source = self._path(node, aliases)
        if source is not None:
            if _startswith(path, source) or _startswith(source, path):
                return []  # x = x + [...]: x keeps its links
            found = [] if source[0] in RUNNER_FIELDS else [Link(path, source, where)]
            # what the source itself was written from comes along
            for link in self.links:
                if _startswith(link.target, source):
                    found.append(
                        Link(
                            path + link.target[len(source) :],
                            link.source,
                            where,
                            link.hops + 1,
                            link.stale,
                            set(link.excluded),
                        )
                    )
            return found
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == 'dict'
        ):
            found = []
            own = {kw.arg for kw in node.keywords if kw.arg}
            for arg in node.args:  # dict(variable, key=...): the other keys follow it
                for link in self._refs(arg, path, aliases, where):
                    if link.target == path:
                        link.excluded |= {(k,) for k in own}
                    found.append(link)
            for kw in node.keywords:
                if kw.arg:
                    found += self._refs(kw.value, path + (kw.arg,), aliases, where)
            return found
        if isinstance(node, ast.Dict):
            found = []
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant):
                    found += self._refs(value, path + (key.value,), aliases, where)
            return found
        if isinstance(node, (ast.List, ast.Tuple)):
            found = []
            for i, element in enumerate(node.elts):
                found += self._refs(element, path + (i,), aliases, where)
            return found
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left = self._path(node.left, aliases)
            if left is not None and left == path:
                # custom_hooks = custom_hooks + [...]: the old items keep their links
                return [link for link in self.links if _startswith(link.target, path)]
            return self._refs(node.left, path, aliases, where)
        return []

    # statements -------------------------------------------------------------------
    def _assign(self, path: Path, new: List[Link]) -> None:
        kept = []
        for link in self.links:
            if _startswith(link.target, path):
                continue  # overwritten
            if _startswith(path, link.target):
                link.excluded.add(path[len(link.target) :])  # a key of the field set anew
            if _startswith(link.source, path) or _startswith(path, link.source):
                link.stale = True  # its variable changed after the field was written
            kept.append(link)
        self.links = kept + new
        if len(path) == 1:
            self.names.add(path[0])

    def _statement(self, node, filename: str, aliases: Dict[str, Path]) -> None:
        where = f'{filename}:{getattr(node, "lineno", "?")}'
        if isinstance(node, ast.With):
            if any(
                isinstance(item.context_expr, ast.Call)
                and getattr(item.context_expr.func, 'id', None) == 'read_base'
                for item in node.items
            ):
                for child in node.body:
                    if isinstance(child, ast.ImportFrom):
                        self._import(child, filename)
            return
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id not in aliases:
                    path = (target.id,)
                else:
                    path = self._path(target, aliases)
                if path is not None:
                    self._assign(path, self._refs(node.value, path, aliases, where))
            return
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            call = node.value
            if isinstance(call.func, ast.Attribute) and call.func.attr == 'update':
                path = self._path(call.func.value, aliases)
                if path is not None:
                    for kw in call.keywords:
                        if kw.arg:
                            sub = path + (kw.arg,)
                            self._assign(sub, self._refs(kw.value, sub, aliases, where))
            return
        if (
            isinstance(node, ast.For)
            and isinstance(node.target, ast.Name)
            and isinstance(node.iter, (ast.Tuple, ast.List))
        ):
            for element in node.iter.elts:  # unrolled: one pass per listed dict
                path = self._path(element, aliases)
                if path is None:
                    continue
                for child in node.body:
                    self._statement(child, filename, {**aliases, node.target.id: path})

    def _import(self, node: ast.ImportFrom, filename: str) -> None:
        path = _module_file(node, filename)
        if path is None:
            return
        if any(alias.name == '*' for alias in node.names):
            self.read(path)
            return
        # `from base import model`: only those names (and what they were written from)
        sub = _LinkReader()
        sub.read(path)
        for alias in node.names:
            name = alias.asname or alias.name
            self._assign(
                (name,),
                [
                    Link(
                        (name,) + link.target[1:],
                        link.source,
                        link.where,
                        link.hops,
                        link.stale,
                        set(link.excluded),
                    )
                    for link in sub.links
                    if link.target[0] == alias.name and link.source[0] == alias.name
                ],
            )

    def read(self, filename: str) -> None:
        filename = osp.abspath(filename)
        if filename in self._reading:
            return  # an import cycle: mmengine reports it
        self._reading.append(filename)
        with open(filename, encoding='utf-8') as f:
            tree = ast.parse(f.read(), filename)
        short = osp.relpath(filename)
        short = filename if short.startswith('..') else short
        for node in tree.body:
            self._statement(node, short, {})
        self._reading.pop()


def _module_file(node: ast.ImportFrom, filename: str) -> Optional[str]:
    """The file of a base imported in ``read_base()``, relative or installed."""
    module = node.module or ''
    if node.level:
        folder = osp.dirname(osp.abspath(filename))
        for _ in range(node.level - 1):
            folder = osp.dirname(folder)
        base = osp.join(folder, *module.split('.'))
        for candidate in (base + '.py', osp.join(base, '__init__.py')):
            if osp.isfile(candidate):
                return candidate
        return None
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    origin = getattr(spec, 'origin', None) if spec else None
    return origin if origin and origin.endswith('.py') else None


def find_links(filename: str) -> List[Link]:
    """The links of a config file (and its bases), in statement order.

    Args:
        filename (str): the config file (pure-Python style with ``read_base``; in an
            old-style file only its own statements are read).
    """
    reader = _LinkReader()
    reader.read(filename)
    # links whose source is not a key of the config (a loop variable) are dropped later
    return reader.links


# ------------------------------------------------------------------------- applying
def _get(root, path: Path, default=_MISSING):
    node = root
    for key in path:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return default
    return node


def _set(root, path: Path, value) -> bool:
    parent = _get(root, path[:-1])
    if parent is _MISSING or isinstance(parent, (str, bytes, tuple)):
        return False
    try:
        parent[path[-1]] = value
    except (IndexError, TypeError):
        return False
    return True


def _leaf_changes(old, new, prefix: Path = ()) -> List[Path]:
    """Key paths (below ``prefix``) where ``new`` differs from ``old``: dicts and
    same-length lists are compared key by key, anything else as a whole."""
    if old is new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in list(old) + [k for k in new if k not in old]:
            found += _leaf_changes(old.get(key, _MISSING), new.get(key, _MISSING), prefix + (key,))
        return found
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        found = []
        for i, (a, b) in enumerate(zip(old, new)):
            found += _leaf_changes(a, b, prefix + (i,))
        return found
    return [] if _same(old, new) else [prefix]


def _same(a, b) -> bool:
    try:
        return bool(a == b)
    except Exception:  # e.g. tensors
        return False


def _excluded(link: Link, rel: Path) -> bool:
    return any(_startswith(rel, ex) for ex in link.excluded)


def _log(lines: Dict[str, List[str]], what: str) -> None:
    for change, targets in lines.items():
        print_log(
            f'linked{what}: {change} -> {", ".join(targets)}', logger='current', level=logging.INFO
        )


def _follow(
    cfg, link: Link, changes: List[Path], before_source, before_target, set_by_user, lines
) -> None:
    """Carry the changed keys of ``link.source`` into ``link.target``."""
    for rel in changes:
        if _excluded(link, rel):
            continue
        old = _get(before_source, rel)
        if _get(before_target, rel) is _MISSING and old is not _MISSING:
            continue
        if not _same(_get(before_target, rel), old):
            continue  # the field already held something else
        target = link.target + rel
        if any(_startswith(target, user) or _startswith(user, target) for user in set_by_user):
            continue  # the command line set this field itself
        new = _get(cfg, link.source + rel)
        if new is _MISSING or _same(_get(cfg, target), new):
            continue  # already carried there through another variable
        if not _set(cfg, target, copy.deepcopy(new)):
            continue
        key = f'{_dotted(link.source + rel)}={new!r}'
        lines.setdefault(key, []).append(_dotted(target))


def resolve_links(cfg, links: Sequence[Link]) -> List[Link]:
    """Carry variables a child config changed into the fields written from them.

    Returns the links that hold (field equal to its variable, outside the keys set on
    their own), for :func:`merge_linked_options`.
    """
    live, lines = [], {}
    for link in sorted(links, key=lambda link: -link.hops):
        source, target = _get(cfg, link.source), _get(cfg, link.target)
        if source is _MISSING or target is _MISSING:
            continue
        changes = [rel for rel in _leaf_changes(target, source) if not _excluded(link, rel)]
        if changes and link.stale:
            for rel in changes:
                new = _get(source, rel)
                if new is _MISSING or not _set(cfg, link.target + rel, copy.deepcopy(new)):
                    break
                key = f'{_dotted(link.source + rel)}={new!r}'
                lines.setdefault(key, []).append(_dotted(link.target + rel))
            else:
                live.append(link)
        elif not changes:
            live.append(link)
    _log(lines, ' (changed in the config)')
    return live


def merge_linked_options(cfg, options: Optional[dict] = None) -> None:
    """``cfg.merge_from_dict(options)``, then carry each changed variable (or key inside
    it) into the fields written from it. Also applies a child config's changes to its
    variables (:func:`resolve_links`). Configs without a file only merge.

    Args:
        cfg (Config): the config loaded with ``Config.fromfile``.
        options (dict, optional): ``--cfg-options`` as mmengine's ``DictAction`` parses
            them. Defaults to None.
    """
    filename = getattr(cfg, 'filename', None)
    links: List[Link] = []
    if filename and osp.isfile(filename) and filename.endswith('.py'):
        try:
            links = find_links(filename)
        except (OSError, SyntaxError, UnicodeDecodeError) as e:  # mmengine read it already
            print_log(
                f'config links not read from {filename}: {e}',
                logger='current',
                level=logging.WARNING,
            )
        links = resolve_links(cfg, links)
    if not options:
        return
    roots = {link.source for link in links}
    before = {path: copy.deepcopy(_get(cfg, path)) for path in roots}
    before_targets = {link.target: copy.deepcopy(_get(cfg, link.target)) for link in links}
    cfg.merge_from_dict(options)
    set_by_user = [tuple(int(k) if k.isdigit() else k for k in key.split('.')) for key in options]
    lines: Dict[str, List[str]] = {}
    # the most direct link wins: applied last
    for link in sorted(links, key=lambda link: -link.hops):
        changes = _leaf_changes(before[link.source], _get(cfg, link.source))
        if changes:
            _follow(
                cfg,
                link,
                changes,
                before[link.source],
                before_targets[link.target],
                set_by_user,
                lines,
            )
    _log(lines, '')
