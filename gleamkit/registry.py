"""gleamkit's registries.

Two kinds of registry live here:

* the children of mmengine's root registries that a ``Runner`` needs
  (``MODELS``, ``DATASETS``, ``TRANSFORMS``, ``METRICS``, ``HOOKS``, ...), all in
  scope ``gleamkit`` so that ``default_scope = 'gleamkit'`` in a config finds them;
* the domain registries a GLEAM config assembles a model from: ``BACKBONES``,
  ``ADAPTERS`` (modality adapters), ``LOSSES``, ``EXPLAINERS`` (GLEAM-X), plus
  ``SAMPLERS`` and ``EVALUATORS``.

``SAMPLERS`` *is* the gleamkit child of mmengine's ``DATA_SAMPLERS`` (the Runner
builds samplers there) and ``EVALUATORS`` *is* the gleamkit child of mmengine's
``METRICS`` (the Runner's ``Evaluator`` builds metrics there); ``DATA_SAMPLERS`` and
``METRICS`` are kept as aliases for readers used to mmengine names.

``BACKBONES``, ``ADAPTERS``, ``LOSSES`` and ``EXPLAINERS`` are registries of their
own; a name not found in one of them is looked up in ``MODELS`` (and from there
in mmengine and its downstream packages, e.g. ``type='mmpretrain.ResNet'``).

Every registry imports its modules lazily from ``locations``. Asking for a name
that is nowhere raises a ``KeyError`` naming the registry, where it looked and
the closest registered names. A config key the component does not take raises
:class:`~gleamkit.utils.config_keys.UnknownConfigKeyError` (a ``TypeError``) naming
the component, the keys it accepts and the closest one.
"""
import difflib
from typing import Optional, Type

from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

from gleamkit.utils.config_keys import (
    UNEXPECTED_KWARG,
    UnknownConfigKeyError,
    accepted_keys,
    resolve_type,
    unknown_key_message,
)

__all__ = [
    'BACKBONES', 'ADAPTERS', 'LOSSES', 'SAMPLERS', 'EXPLAINERS', 'EVALUATORS',
    'MODELS', 'DATASETS', 'TRANSFORMS', 'DATA_SAMPLERS', 'METRICS', 'EVALUATOR',
    'HOOKS', 'LOOPS', 'RUNNERS', 'OPTIMIZERS', 'OPTIM_WRAPPERS',
    'OPTIM_WRAPPER_CONSTRUCTORS', 'PARAM_SCHEDULERS', 'VISUALIZERS', 'VISBACKENDS',
    'LOG_PROCESSORS', 'MODEL_WRAPPERS', 'WEIGHT_INITIALIZERS', 'FUNCTIONS',
    'GleamkitRegistry'
]


class RegistryKeyError(KeyError):
    """A ``KeyError`` whose message prints as written (not as a quoted repr)."""

    def __str__(self):
        return str(self.args[0]) if self.args else ''


class GleamkitRegistry(Registry):
    """An mmengine ``Registry`` with a fallback registry and helpful errors.

    Args:
        name: Registry name, used in messages.
        fallback: Registry searched when a name is not in this one.
        **kwargs: Passed to :class:`mmengine.registry.Registry`
            (``parent``, ``scope``, ``locations``, ``build_func``).
    """

    def __init__(self, name: str, fallback: Optional[Registry] = None, **kwargs):
        kwargs.setdefault('scope', 'gleamkit')
        super().__init__(name, **kwargs)
        self.fallback = fallback
        # registries whose *own* modules this one also serves (no recursion):
        # lets the Runner build e.g. an explainer with MODELS.build(type=...)
        self.members: list = []

    def _all_names(self):
        names = set()
        registry = self
        seen = set()
        queue = [self]
        while queue:
            registry = queue.pop(0)
            if id(registry) in seen:
                continue
            seen.add(id(registry))
            registry.import_from_location()
            names.update(registry.module_dict.keys())
            if registry.parent is not None:
                queue.append(registry.parent)
            fallback = getattr(registry, 'fallback', None)
            if fallback is not None:
                queue.append(fallback)
            queue.extend(getattr(registry, 'members', []))
        return sorted(names)

    def _lookup(self, key: str) -> Optional[Type]:
        obj = super().get(key)
        if obj is None:
            _, real_key = self.split_scope_key(key)
            for member in self.members:
                member.import_from_location()
                if real_key in member.module_dict:
                    return member.module_dict[real_key]
        if obj is None and self.fallback is not None:
            obj = self.fallback._lookup(key)
        return obj

    def get(self, key: str) -> Optional[Type]:
        obj = self._lookup(key)
        if obj is None:
            raise RegistryKeyError(self._not_found_message(key))
        return obj

    def build(self, cfg, *args, **kwargs):
        """Build ``cfg``; a key the component does not take names the component, the
        accepted keys and the closest one (:class:`UnknownConfigKeyError`)."""
        try:
            return super().build(cfg, *args, **kwargs)
        except UnknownConfigKeyError:
            raise
        except TypeError as err:
            better = self._unknown_key_error(err, cfg)
            if better is None:
                raise
            raise better from err

    def _unknown_key_error(self, err: TypeError, cfg) -> Optional[UnknownConfigKeyError]:
        match = UNEXPECTED_KWARG.search(str(err))
        if not match or not isinstance(cfg, dict) or match.group('key') not in cfg:
            return None
        key, obj_type = match.group('key'), dict.get(cfg, 'type')
        component = self._lookup(obj_type) if isinstance(obj_type, str) else resolve_type(
            obj_type)
        keys = accepted_keys(component) if callable(component) else None
        if keys is None or key in keys:  # raised deeper down, not by this component
            return None
        return UnknownConfigKeyError(unknown_key_message(component, key),
                                     component=component, key=key)

    def _not_found_message(self, key: str) -> str:
        names = self._all_names()
        _, real_key = self.split_scope_key(key)
        close = difflib.get_close_matches(real_key, names, n=3, cutoff=0.5)
        hint = (f'Did you mean: {", ".join(repr(c) for c in close)}? '
                if close else '')
        where = ', '.join(self._locations) or 'no lazy-import locations'
        own = sorted(self.module_dict)
        return (f'{key!r} is not registered in gleamkit\'s {self.name!r} registry '
                f'(searched modules: {where}; then its parents and fallbacks). '
                f'{hint}If it lives in your own module, import it with '
                f'`custom_imports = dict(imports=["your.module"])` in the config. '
                f'Registered in {self.name!r}: {", ".join(own) or "(none)"}.')


# --- children of mmengine's roots: what the Runner builds from ------------------
RUNNERS = GleamkitRegistry('runner', parent=MMENGINE_RUNNERS, locations=['gleamkit.engine'])
LOOPS = GleamkitRegistry('loop', parent=MMENGINE_LOOPS, locations=['gleamkit.engine'])
HOOKS = GleamkitRegistry('hook', parent=MMENGINE_HOOKS, locations=['gleamkit.engine'])
LOG_PROCESSORS = GleamkitRegistry(
    'log processor', parent=MMENGINE_LOG_PROCESSORS, locations=['gleamkit.engine'])
OPTIMIZERS = GleamkitRegistry(
    'optimizer', parent=MMENGINE_OPTIMIZERS, locations=['gleamkit.engine'])
OPTIM_WRAPPERS = GleamkitRegistry(
    'optim wrapper', parent=MMENGINE_OPTIM_WRAPPERS, locations=['gleamkit.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = GleamkitRegistry(
    'optimizer wrapper constructor', parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
    locations=['gleamkit.engine'])
PARAM_SCHEDULERS = GleamkitRegistry(
    'parameter scheduler', parent=MMENGINE_PARAM_SCHEDULERS, locations=['gleamkit.engine'])
DATASETS = GleamkitRegistry('dataset', parent=MMENGINE_DATASETS, locations=['gleamkit.datasets'])
SAMPLERS = GleamkitRegistry(
    'sampler', parent=MMENGINE_DATA_SAMPLERS, locations=['gleamkit.datasets.samplers'])
DATA_SAMPLERS = SAMPLERS
TRANSFORMS = GleamkitRegistry(
    'transform', parent=MMENGINE_TRANSFORMS, locations=['gleamkit.datasets.transforms'])
MODELS = GleamkitRegistry('model', parent=MMENGINE_MODELS, locations=['gleamkit.models'])
MODEL_WRAPPERS = GleamkitRegistry(
    'model_wrapper', parent=MMENGINE_MODEL_WRAPPERS, locations=['gleamkit.models'])
WEIGHT_INITIALIZERS = GleamkitRegistry(
    'weight initializer', parent=MMENGINE_WEIGHT_INITIALIZERS, locations=['gleamkit.models'])
EVALUATORS = GleamkitRegistry(
    'metric', parent=MMENGINE_METRICS, locations=['gleamkit.evaluation'])
METRICS = EVALUATORS
EVALUATOR = GleamkitRegistry(
    'evaluator', parent=MMENGINE_EVALUATOR, locations=['gleamkit.evaluation'])
VISUALIZERS = GleamkitRegistry(
    'visualizer', parent=MMENGINE_VISUALIZERS, locations=['gleamkit.visualization'])
VISBACKENDS = GleamkitRegistry(
    'vis_backend', parent=MMENGINE_VISBACKENDS, locations=['gleamkit.visualization'])
FUNCTIONS = GleamkitRegistry(
    'function', parent=MMENGINE_FUNCTIONS, locations=['gleamkit.datasets'])

# --- gleamkit's domain registries (fall back to MODELS) -------------------------
BACKBONES = GleamkitRegistry(
    'backbone', fallback=MODELS, locations=['gleamkit.models.backbones'])
ADAPTERS = GleamkitRegistry(
    'modality adapter', fallback=MODELS, locations=['gleamkit.models.adapters'])
LOSSES = GleamkitRegistry('loss', fallback=MODELS, locations=['gleamkit.models.losses'])
EXPLAINERS = GleamkitRegistry(
    'explainer', fallback=MODELS, locations=['gleamkit.models.explainers'])

# The Runner builds every model through MODELS: let it find the domain registries'
# own classes too (``model=dict(type='HuggingFaceExplainer')`` in a GLEAM-X config).
MODELS.members.extend([BACKBONES, ADAPTERS, LOSSES, EXPLAINERS])
