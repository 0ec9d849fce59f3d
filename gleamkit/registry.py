"""gleamkit's registries.

Two kinds of registry live here, and a lookup only ever runs one way:

* the children of mmengine's root registries that a ``Runner`` needs
  (``MODELS``, ``DATASETS``, ``TRANSFORMS``, ``METRICS``, ``HOOKS``, ...), all in
  scope ``gleamkit`` so that ``default_scope = 'gleamkit'`` in a config finds them;
  a name not registered in one is looked up in its mmengine parent (and, written
  ``type='mmpretrain.ResNet'``, in a downstream package's registry).
* the domain registries a GLEAM config assembles a model from: ``BACKBONES``,
  ``ADAPTERS`` (modality adapters), ``LOSSES`` and ``EXPLAINERS`` (GLEAM-X) are
  *families of* ``MODELS``: a class registered in a family is registered in
  ``MODELS`` too (so the Runner's ``model=dict(type='HuggingFaceVLMExplainer')`` and
  any config nested in a model find it), and a family looks up its own classes
  first and ``MODELS`` (then mmengine) second. ``MODELS`` never searches a family.

``SAMPLERS`` *is* the gleamkit child of mmengine's ``DATA_SAMPLERS`` (the Runner
builds samplers there) and ``EVALUATORS`` *is* the gleamkit child of mmengine's
``METRICS``: it holds metrics (``BaseMetric`` subclasses such as
``CrossViewRetrievalMetric``), which a config names in ``val_evaluator``; the
container that runs them is mmengine's ``Evaluator``, in ``EVALUATOR`` (singular).
``DATA_SAMPLERS`` and ``METRICS`` are aliases for readers used to mmengine names.

Every registry imports its modules lazily from ``locations``. Asking for a name
that is nowhere raises a ``KeyError`` naming the registry, where it looked and
the closest registered names (the family's own first). A config key the component
does not take raises :class:`~gleamkit.utils.config_keys.UnknownConfigKeyError`
(a ``TypeError``) naming the component, the keys it accepts and the closest one.
"""

import difflib
from typing import List, Optional, Type

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
    'BACKBONES',
    'ADAPTERS',
    'LOSSES',
    'SAMPLERS',
    'EXPLAINERS',
    'EVALUATORS',
    'MODELS',
    'DATASETS',
    'TRANSFORMS',
    'DATA_SAMPLERS',
    'METRICS',
    'EVALUATOR',
    'HOOKS',
    'LOOPS',
    'RUNNERS',
    'OPTIMIZERS',
    'OPTIM_WRAPPERS',
    'OPTIM_WRAPPER_CONSTRUCTORS',
    'PARAM_SCHEDULERS',
    'VISUALIZERS',
    'VISBACKENDS',
    'LOG_PROCESSORS',
    'MODEL_WRAPPERS',
    'WEIGHT_INITIALIZERS',
    'FUNCTIONS',
    'GleamkitRegistry',
]


class RegistryKeyError(KeyError):
    """A ``KeyError`` whose message prints as written (not as a quoted repr)."""

    def __str__(self):
        return str(self.args[0]) if self.args else ''


class GleamkitRegistry(Registry):
    """An mmengine ``Registry`` in scope ``gleamkit`` with errors that say where to look.

    Args:
        name: Registry name, used in messages.
        family_of: The registry this one is a family of (``MODELS`` for the domain
            registries). A class registered here is registered there too, under the same
            name, and a name not found here is looked up there: the lookup runs one way,
            family -> ``family_of`` -> its mmengine parents. Defaults to None.
        **kwargs: Passed to :class:`mmengine.registry.Registry`
            (``parent``, ``scope``, ``locations``, ``build_func``).
    """

    def __init__(self, name: str, family_of: Optional[Registry] = None, **kwargs):
        kwargs.setdefault('scope', 'gleamkit')
        super().__init__(name, **kwargs)
        self.family_of = family_of

    def _register_module(self, module, module_name=None, force: bool = False) -> None:
        names = module_name or module.__name__
        names = [names] if isinstance(names, str) else list(names)
        # check the family's registry first, so a refused class is registered nowhere
        for name in names if self.family_of is not None and not force else ():
            held = self.family_of.module_dict.get(name)
            if held is not None and held is not module:
                raise KeyError(
                    f"{name!r} ({module.__module__}) cannot be registered in gleamkit's "
                    f'{self.name!r} registry: every {self.name} is also registered in '
                    f'{self.family_of.name!r}, which already holds {name!r} from '
                    f'{held.__module__}. Pick another name (or pass force=True).'
                )
        super()._register_module(module, module_name, force)
        for name in names if self.family_of is not None else ():
            if self.family_of.module_dict.get(name) is not module:  # not in two families
                self.family_of._register_module(module, name, force)

    def _find(self, key: str) -> Optional[Type]:
        """The class registered as ``key`` here, else in ``family_of``; None if nowhere."""
        obj = super().get(key)
        if obj is None and self.family_of is not None:
            obj = Registry.get(self.family_of, key)
        return obj

    def get(self, key: str) -> Optional[Type]:
        obj = self._find(key)
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
        component = self._find(obj_type) if isinstance(obj_type, str) else resolve_type(obj_type)
        keys = accepted_keys(component) if callable(component) else None
        if keys is None or key in keys:  # raised deeper down, not by this component
            return None
        return UnknownConfigKeyError(
            unknown_key_message(component, key), component=component, key=key
        )

    def _names(self) -> List[str]:
        """Names registered here and in the registries a lookup goes on to."""
        names = set()
        chain = [self] + ([self.family_of] if self.family_of is not None else [])
        for registry in chain:
            while registry is not None:
                registry.import_from_location()
                names.update(registry.module_dict)
                registry = registry.parent
        return sorted(names)

    def _not_found_message(self, key: str) -> str:
        _, real_key = self.split_scope_key(key)
        own = sorted(self.module_dict)
        # the family's own names first: a typo'd backbone should not suggest a loss
        close = difflib.get_close_matches(
            real_key, own, n=3, cutoff=0.5
        ) or difflib.get_close_matches(real_key, self._names(), n=3, cutoff=0.5)
        hint = f'Did you mean: {", ".join(repr(c) for c in close)}? ' if close else ''
        where = ', '.join(self._locations) or 'no lazy-import locations'
        then = (
            f'then {self.family_of.name!r} and its parents'
            if self.family_of is not None
            else 'then its mmengine parents'
        )
        return (
            f"{key!r} is not registered in gleamkit's {self.name!r} registry "
            f'(searched modules: {where}; {then}). '
            f'{hint}If it lives in your own module, import it with '
            f'`custom_imports = dict(imports=["your.module"])` in the config. '
            f'Registered in {self.name!r}: {", ".join(own) or "(none)"}.'
        )


# --- children of mmengine's roots: what the Runner builds from ------------------
RUNNERS = GleamkitRegistry('runner', parent=MMENGINE_RUNNERS, locations=['gleamkit.engine'])
LOOPS = GleamkitRegistry('loop', parent=MMENGINE_LOOPS, locations=['gleamkit.engine'])
HOOKS = GleamkitRegistry('hook', parent=MMENGINE_HOOKS, locations=['gleamkit.engine'])
LOG_PROCESSORS = GleamkitRegistry(
    'log processor', parent=MMENGINE_LOG_PROCESSORS, locations=['gleamkit.engine']
)
OPTIMIZERS = GleamkitRegistry(
    'optimizer', parent=MMENGINE_OPTIMIZERS, locations=['gleamkit.engine']
)
OPTIM_WRAPPERS = GleamkitRegistry(
    'optim wrapper', parent=MMENGINE_OPTIM_WRAPPERS, locations=['gleamkit.engine']
)
OPTIM_WRAPPER_CONSTRUCTORS = GleamkitRegistry(
    'optimizer wrapper constructor',
    parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
    locations=['gleamkit.engine'],
)
PARAM_SCHEDULERS = GleamkitRegistry(
    'parameter scheduler', parent=MMENGINE_PARAM_SCHEDULERS, locations=['gleamkit.engine']
)
DATASETS = GleamkitRegistry('dataset', parent=MMENGINE_DATASETS, locations=['gleamkit.datasets'])
SAMPLERS = GleamkitRegistry(
    'sampler', parent=MMENGINE_DATA_SAMPLERS, locations=['gleamkit.datasets.samplers']
)
DATA_SAMPLERS = SAMPLERS
TRANSFORMS = GleamkitRegistry(
    'transform', parent=MMENGINE_TRANSFORMS, locations=['gleamkit.datasets.transforms']
)
MODELS = GleamkitRegistry('model', parent=MMENGINE_MODELS, locations=['gleamkit.models'])
MODEL_WRAPPERS = GleamkitRegistry(
    'model_wrapper', parent=MMENGINE_MODEL_WRAPPERS, locations=['gleamkit.models']
)
WEIGHT_INITIALIZERS = GleamkitRegistry(
    'weight initializer', parent=MMENGINE_WEIGHT_INITIALIZERS, locations=['gleamkit.models']
)
EVALUATORS = GleamkitRegistry('metric', parent=MMENGINE_METRICS, locations=['gleamkit.evaluation'])
METRICS = EVALUATORS
EVALUATOR = GleamkitRegistry(
    'evaluator', parent=MMENGINE_EVALUATOR, locations=['gleamkit.evaluation']
)
VISUALIZERS = GleamkitRegistry(
    'visualizer', parent=MMENGINE_VISUALIZERS, locations=['gleamkit.visualization']
)
VISBACKENDS = GleamkitRegistry(
    'vis_backend', parent=MMENGINE_VISBACKENDS, locations=['gleamkit.visualization']
)
FUNCTIONS = GleamkitRegistry('function', parent=MMENGINE_FUNCTIONS, locations=['gleamkit.datasets'])

# --- gleamkit's domain registries: families of MODELS ---------------------------
# Each class registered in a family is registered in MODELS too, so the Runner's
# ``model=dict(type=...)`` and any config nested in a model find it; a family looks
# up its own classes first and MODELS (then mmengine and downstream scopes) second.
BACKBONES = GleamkitRegistry('backbone', family_of=MODELS, locations=['gleamkit.models.backbones'])
ADAPTERS = GleamkitRegistry(
    'modality adapter', family_of=MODELS, locations=['gleamkit.models.adapters']
)
LOSSES = GleamkitRegistry('loss', family_of=MODELS, locations=['gleamkit.models.losses'])
EXPLAINERS = GleamkitRegistry(
    'explainer', family_of=MODELS, locations=['gleamkit.models.explainers']
)
