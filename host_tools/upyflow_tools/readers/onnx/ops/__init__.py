"""One module per operator group; importing them fills the translator table (registry.py)."""
from . import activations, conv, elementwise, fc, pool, quantize, shape

__all__ = ["activations", "conv", "elementwise", "fc", "pool", "quantize", "shape"]
