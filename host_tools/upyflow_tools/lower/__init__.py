"""Lower ir ops to device kernel calls (the table is in core.py, one module per family)."""
import importlib
import pkgutil

from . import families
from .core import LOWERINGS, TYPES, Call, lower, lowering, supported_ops

for _info in pkgutil.iter_modules(families.__path__):
    importlib.import_module(families.__name__ + "." + _info.name)

__all__ = ["Call", "LOWERINGS", "TYPES", "lower", "lowering", "supported_ops"]
