"""The layout family's lowerings (kernels in kernels_pure/layout.py and layout.c): reshapes,
copies and fills in ops.py, the data movement on computed tensors in movement.py."""

from . import movement, ops  # noqa: F401
from .ops import slice_geometry  # noqa: F401  (fold.py folds constant slices with it)
