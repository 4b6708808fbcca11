"""FULLY_CONNECTED."""
from __future__ import annotations

import numpy as np

from ... import BakeError
from ...ir import Graph, Op
from ...quant import activation_range, activation_range_float
from ..core import Call, bias_array, check_size, inp, lowering, need_const, quant_extras, types_error
from ..ort_rounding import ort_extras, uses_ort
from .conv import bias_int64, s16_consts, uses_acc64


@lowering("FULLY_CONNECTED", "int8 (per-tensor or per-channel weights, int32 bias); int16 with int8 "
                            "weights (int32 or int64 bias); float32", min_inputs=2)
def _fully_connected(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    w = need_const(graph, op, 1, "weights")
    if len(w.shape) != 2:
        raise BakeError("FULLY_CONNECTED weights %r have shape %s, expected 2-D" % (w.name, list(w.shape)))
    n_out, n_in = w.shape
    if n_in < 1 or x.size % n_in:
        raise BakeError("FULLY_CONNECTED input %r of %d values is not a multiple of %d" % (x.name, x.size, n_in))
    batches = x.size // n_in
    check_size(op, out, batches * n_out, "output")
    act = op.options.get("fused_activation_function", "NONE")
    if x.dtype == w.dtype == out.dtype == "f32":
        bias = bias_array(graph, op, n_out, np.float32)
        b = graph.add_const(out.name + "/bias", bias, "f32")
        lo, hi = activation_range_float(act)
        return [Call("fully_connected_f32", x=op.inputs[0], w=op.inputs[1], bias=b, out=op.outputs[0],
                     batches=batches, n_in=n_in, n_out=n_out, act_min=lo, act_max=hi)]
    if x.dtype == out.dtype == "i16" and w.dtype == "i8":
        bias, bias_dtype = bias_int64(graph, op, 2, n_out, ("i32", "i64"))
        acc64 = uses_acc64(op, bias_dtype)
        bias = bias - x.zp * w.const_data.astype(np.int64).sum(axis=1)
        # the TFLM interpreter's per-tensor multiplier is the double product here too
        extras = s16_consts(graph, op, x, w, bias, out, n_out, acc64)
        lo, hi = activation_range(act, "i16", out.sc, out.zp)
        return [Call("fully_connected_s16", x=op.inputs[0], w=op.inputs[1], bias=extras[0], out=op.outputs[0],
                     mult=extras[1], shift=extras[2], batches=batches, n_in=n_in, n_out=n_out, out_off=out.zp,
                     acc64=int(acc64), act_min=lo, act_max=hi)]
    if not (x.dtype == w.dtype == out.dtype == "i8"):
        raise types_error(op, graph)
    bias = bias_array(graph, op, n_out, np.int64)
    bias = bias - x.zp * w.const_data.astype(np.int64).sum(axis=1)
    if uses_ort(graph):
        extras = ort_extras(graph, op, x, w, bias, out, n_out)
        lo, hi = activation_range(act, "i8", out.sc, out.zp)
        return [Call("fully_connected_s8_ort", x=op.inputs[0], w=op.inputs[1], bias=extras[0], out=op.outputs[0],
                     scale=extras[1], batches=batches, n_in=n_in, n_out=n_out, out_off=out.zp, act_min=lo,
                     act_max=hi)]
    extras = quant_extras(graph, op, x, w, bias, out, n_out)
    lo, hi = activation_range(act, "i8", out.sc, out.zp)
    return [Call("fully_connected_s8", x=op.inputs[0], w=op.inputs[1], bias=extras[0], out=op.outputs[0],
                 mult=extras[1], shift=extras[2], batches=batches, n_in=n_in, n_out=n_out, out_off=out.zp,
                 act_min=lo, act_max=hi)]
