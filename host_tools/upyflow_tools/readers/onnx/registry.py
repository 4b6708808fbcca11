"""The translator table: ONNX operator -> the function that adds its ir ops.

Modules in ops/ register with @translator, as the TFLite lowerings do with @lowering;
importing the ops package fills the table.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .state import Reader

Translator = Callable[[Reader, Any], None]   # (reader, onnx.NodeProto)
TRANSLATORS: dict[str, Translator] = {}


def translator(*op_types: str) -> Callable[[Translator], Translator]:
    """Register fn as the translator of ONNX operators `op_types` (on computed tensors)."""
    def register(fn: Translator) -> Translator:
        for op_type in op_types:
            TRANSLATORS[op_type] = fn
        return fn
    return register
