"""QUANTIZE and DEQUANTIZE."""
from __future__ import annotations


from ...ir import Graph, Op
from ...quant import (QRANGE, channel_multipliers)
from ..core import SHIFT, precondition
from ..core import (Call, check_size, inp, lowering,
                   types_error)
from .ort import ort_requant_table, uses_ort


@lowering("QUANTIZE", "float32 -> int8/int16; int8/int16/int32 -> int8/int16/int32 (requantize; "
                      "not int32 -> int32)")
def _quantize(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    if out.dtype not in ("i8", "i16", "i32"):
        raise types_error(op, graph)
    check_size(op, out, x.size, "output")
    qmin, qmax = QRANGE[out.dtype]
    if x.dtype == "f32" and out.dtype != "i32":
        return [Call("quantize_f32", [op.inputs[0], op.outputs[0]], [x.size, out.sc, out.zp, qmin, qmax])]
    # TFLM's requantizing pairs: int32 on at most one side
    if x.dtype not in ("i8", "i16", "i32") or x.dtype == out.dtype == "i32":
        raise types_error(op, graph)
    if uses_ort(graph) and x.dtype == out.dtype == "i8":
        # onnxruntime: DequantizeLinear then QuantizeLinear (QLinearConcat's table too)
        t = graph.add_const(out.name + "/lut", ort_requant_table(x, out), "i8")
        return [Call("lut_s8", [op.inputs[0], t, op.outputs[0]], [x.size])]
    mult, shift = channel_multipliers(x.sc, [1.0], out.sc, 1)
    return [Call("requantize", [op.inputs[0], op.outputs[0]],
                 [x.size, x.zp, int(mult[0]), int(shift[0]), out.zp, qmin, qmax])]


@lowering("DEQUANTIZE", "int8/int16 -> float32")
def _dequantize(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    if x.dtype not in ("i8", "i16") or out.dtype != "f32":
        raise types_error(op, graph)
    check_size(op, out, x.size, "output")
    return [Call("dequantize_f32", [op.inputs[0], op.outputs[0]], [x.size, x.sc, x.zp])]


# Kernel preconditions (lower.core.check_call).
precondition("requantize", ints={3: (SHIFT[0], SHIFT[1], "requantization shift")})
