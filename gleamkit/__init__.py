"""gleamkit: cross-view geo-localisation (GLEAM-C retrieval, GLEAM-X explanation).

Importing gleamkit installs its checkpoint safety (``weights_only`` loading with an
explicit allow-list, atomic local writes; see :mod:`gleamkit.utils.checkpoint`).
Components register lazily: building a config with ``default_scope='gleamkit'``
imports what it needs.
"""
from . import utils  # noqa: F401  (installs safe checkpoint loading and atomic writes)
from .version import __version__

__all__ = ['__version__']
