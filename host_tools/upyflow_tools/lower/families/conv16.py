"""Helpers of the int16-activation (16x8) lowerings: CONV_2D, DEPTHWISE_CONV_2D,
FULLY_CONNECTED (in conv.py and fc.py) and TRANSPOSE_CONV. No lowering of its own."""
from __future__ import annotations

import numpy as np

from ... import BakeError
from ...ir import Graph, Op, Tensor
from ...quant import channel_multipliers
from ..core import check_filter_quant, check_size, need_const

INT32 = 2          # schema TensorType.INT32: quantized_bias_type asking for int32 accumulation
MAX_SHIFT64 = 14   # the int64 requantization shifts right by 15 - shift, at least 1


def bias_int64(graph: Graph, op: Op, k: int, channels: int, dtypes: tuple[str, ...]) -> tuple[np.ndarray, str | None]:
    """Optional bias input k as int64 values, and its dtype (None when absent)."""
    if len(op.inputs) <= k or op.inputs[k] < 0:
        return np.zeros(channels, np.int64), None
    b = need_const(graph, op, k, "bias")
    if b.dtype not in dtypes:
        names = {"i16": "int16", "i32": "int32", "i64": "int64"}
        raise BakeError("operator %s with int16 input has an %s bias %r; supported: %s"
                        % (op.kind, names.get(b.dtype, b.dtype), b.name, "/".join(names[d] for d in dtypes)))
    check_size(op, b, channels, "bias")
    return b.data.reshape(-1).astype(np.int64), b.dtype


def uses_acc64(op: Op, bias_dtype: str | None) -> bool:
    """TFLM accumulates in int32 for an int32 bias, or no bias with quantized_bias_type INT32."""
    if bias_dtype is None:
        return op.options.get("quantized_bias_type", 0) != INT32
    return bias_dtype != "i32"


def zero_points_zero(op: Op, *tensors: Tensor) -> None:
    """TFLM's 16x8 convolutions ignore zero points: accept only 0 (what converters write)."""
    for t in tensors:
        if any(z != 0 for z in t.zero_point):
            raise BakeError("operator %s int16 tensor %r has zero point %d; int16 convolutions need 0"
                            % (op.kind, t.name, t.zp))


def s16_consts(graph: Graph, op: Op, x: Tensor, w: Tensor, bias: np.ndarray, out: Tensor,
               channels: int, acc64: bool) -> list[int]:
    """Constant tensors (bias as int64 word pairs, multiplier, shift); their ids."""
    check_filter_quant(op, w, channels)
    mult, shift = channel_multipliers(x.sc, w.scale, out.sc, channels)
    if acc64 and channels and int(shift.max()) > MAX_SHIFT64:
        raise BakeError("operator %s %r: scale ratio input*filter/output of 2^%d is too large for "
                        "int16 requantization" % (op.kind, out.name, int(shift.max()) - 1))
    name = out.name
    words = np.ascontiguousarray(bias.astype("<i8")).view("<i4")   # (low, high) per value
    return [graph.add_const(name + "/bias64", words.astype(np.int32), "i32"),
            graph.add_const(name + "/multiplier", mult, "i32"),
            graph.add_const(name + "/shift", shift, "i32")]
