"""gleamkit: cross-view geo-localisation (GLEAM-C retrieval, GLEAM-X explanation)."""
from .version import __version__

__all__ = ['__version__']
