"""One module per operator group; importing them fills the translator table (registry.py)."""
from . import (
    activations,
    arith,
    conv,
    elementwise,
    fc,
    movement,
    pool,
    quantize,
    reduce,
    resize,
    rnn,
    shape,
    transpose_conv,
)

__all__ = ["activations", "arith", "conv", "elementwise", "fc", "movement", "pool", "quantize", "reduce", "resize",
           "rnn", "shape", "transpose_conv"]
from . import slicing  # noqa: E402  (Slice, Where on computed tensors)

__all__ += ["slicing"]
from . import logic  # noqa: E402  (comparisons, And/Or/Xor/Not)

__all__ += ["logic"]
