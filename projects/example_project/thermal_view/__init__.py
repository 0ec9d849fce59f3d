"""Example gleamkit project: a pseudo-thermal UAV view.

Registered into gleamkit's registries when a config lists it in
``custom_imports`` - gleamkit itself is not modified.
"""

from .pseudo_thermal import PseudoThermal

__all__ = ['PseudoThermal']
