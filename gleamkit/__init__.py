"""gleamkit: cross-view geo-localisation (GLEAM-C retrieval, GLEAM-X explanation).

Importing gleamkit changes a few settings of mmengine and torch (``weights_only``
checkpoint loading with an explicit allow-list, atomic local writes, the ``read_base()``
resolver for ``gleamkit.configs``): :func:`gleamkit.utils.mmengine_changes` lists them and
checks each is in effect; ``docs/design.md`` explains them.
Components register lazily: building a config with ``default_scope='gleamkit'``
imports what it needs.
"""

from . import utils  # noqa: F401  (installs what gleamkit.utils.mmengine_changes() lists)
from .version import __version__

__all__ = ['__version__']
