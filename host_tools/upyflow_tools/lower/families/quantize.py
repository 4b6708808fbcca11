"""Type conversions: QUANTIZE, DEQUANTIZE and CAST."""
from __future__ import annotations

import numpy as np

from upyflow.qmath import mul_by_qm

from ...ir import DTYPE_SIZE, NP_DTYPE, Graph, Op, Tensor
from ...quant import QRANGE, channel_multipliers
from ..core import UNQUANTIZED, Call, check_size, inp, lowering, types_error
from ..ort_rounding import ort_requant_table, uses_ort
from .elementwise import _desc_const, broadcast_desc


def _byte_requant_table(x, out) -> np.ndarray:
    """TFLM's Requantize of every possible input byte, as an int8 table for lut_s8.

    uint8 <-> int8 (uint8 model inputs/outputs): one byte in, one byte out, so the
    whole operator is a 256-entry table (row k: the byte whose int8 reading is k - 128)."""
    mult, shift = channel_multipliers(x.sc, [1.0], out.sc, 1)
    lo, hi = (0, 255) if out.dtype == "u8" else QRANGE["i8"]
    table = np.empty(256, np.int64)
    for k in range(256):
        q = k - 128 if x.dtype == "i8" else (k - 128) & 0xFF
        v = mul_by_qm(q - x.zp, int(mult[0]), int(shift[0])) + out.zp
        table[k] = min(max(v, lo), hi)
    # typed as the output, so the pure tier's views agree; the bytes are the same
    return table.astype(np.uint8) if out.dtype == "u8" else table.astype(np.int8)


@lowering("QUANTIZE", "float32 -> int8/int16; int8/int16/int32 -> int8/int16/int32 (requantize; "
                      "not int32 -> int32); uint8 <-> int8")
def _quantize(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    if "u8" in (x.dtype, out.dtype) and {x.dtype, out.dtype} <= {"u8", "i8"}:
        if x.dtype == out.dtype:
            raise types_error(op, graph)
        check_size(op, out, x.size, "output")
        t = graph.add_const(out.name + "/lut", _byte_requant_table(x, out), out.dtype)
        return [Call("lut_s8", x=op.inputs[0], table=t, out=op.outputs[0], n=x.size)]
    if out.dtype not in ("i8", "i16", "i32"):
        raise types_error(op, graph)
    check_size(op, out, x.size, "output")
    qmin, qmax = QRANGE[out.dtype]
    if x.dtype == "f32" and out.dtype != "i32":
        return [Call("quantize_f32", x=op.inputs[0], out=op.outputs[0], n=x.size, scale=out.sc, zp=out.zp,
                     qmin=qmin, qmax=qmax)]
    # TFLM's requantizing pairs: int32 on at most one side
    if x.dtype not in ("i8", "i16", "i32") or x.dtype == out.dtype == "i32":
        raise types_error(op, graph)
    if uses_ort(graph) and x.dtype == out.dtype == "i8":
        # onnxruntime: DequantizeLinear then QuantizeLinear (QLinearConcat's table too)
        t = graph.add_const(out.name + "/lut", ort_requant_table(x, out), "i8")
        return [Call("lut_s8", x=op.inputs[0], table=t, out=op.outputs[0], n=x.size)]
    mult, shift = channel_multipliers(x.sc, [1.0], out.sc, 1)
    return [Call("requantize", x=op.inputs[0], out=op.outputs[0], n=x.size, in_zp=x.zp, mult=int(mult[0]),
                 shift=int(shift[0]), out_zp=out.zp, qmin=qmin, qmax=qmax)]


@lowering("DEQUANTIZE", "int8/int16/uint8 -> float32; float16 and int8 constants (weights): folded at bake time")
def _dequantize(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    if x.dtype not in ("i8", "i16", "u8") or out.dtype != "f32":
        raise types_error(op, graph)
    check_size(op, out, x.size, "output")
    if x.dtype == "u8":
        # uint8 bytes -> int8 (minus 128, a byte table) into a scratch tensor, then as int8
        flip = np.array([(k - 128) ^ -128 for k in range(256)], np.int8)
        graph.tensors.append(Tensor(x.name + "/as_int8", tuple(x.shape), "i8", list(x.scale), [x.zp - 128]))
        scratch = len(graph.tensors) - 1
        t = graph.add_const(x.name + "/flip", flip, "i8")
        return [Call("lut_s8", x=op.inputs[0], table=t, out=scratch, n=x.size),
                Call("dequantize_f32", x=scratch, out=op.outputs[0], n=x.size, scale=x.sc, zp=x.zp - 128)]
    return [Call("dequantize_f32", x=op.inputs[0], out=op.outputs[0], n=x.size, scale=x.sc, zp=x.zp)]




# --- CAST ---------------------------------------------------------------------------------
INT_TYPES = ("i8", "u8", "i16", "i32", "u32")
DTYPE_CODES = {"i8": 0, "u8": 1, "i16": 2, "i32": 3, "f32": 4, "u32": 5}   # emit.DTYPE_CODES (emit imports lower)
UNQUANTIZED.add("CAST")


@lowering("CAST", "int8, int16, int32, uint32 and uint8 between them (C conversion: wraps); those, float32 and "
                  "bool to float32; float32 to int8/int16/int32/uint32 (truncated toward zero, saturated, NaN to 0, "
                  "as the TFLM interpreter); bool to any of them; any of them to bool (nonzero)")
def _cast(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    src = "u8" if x.dtype == "bool" else x.dtype   # bool bytes are 0 or 1
    # the reader makes a computed bool uint8 (the same bytes) and marks the CASTs that produce one
    to_bool = out.dtype == "bool" or bool(op.options.get("bool_output"))
    if src not in INT_TYPES + ("f32",) or out.dtype not in INT_TYPES + ("f32", "bool") or \
            (src == "f32" and out.dtype == "u8" and not to_bool):
        raise types_error(op, graph)
    check_size(op, out, x.size, "output")
    if to_bool:
        # x != 0 (the float comparison: NaN is true, -0.0 false), as TFLM's static_cast<bool>
        zero = graph.add_const(out.name + "/zero", np.zeros(1, NP_DTYPE[src]), src)
        desc = broadcast_desc(op, x, graph.tensors[zero], out)
        return [Call("compare_q", x1=op.inputs[0], x2=zero, out=op.outputs[0], d=_desc_const(graph, op, desc),
                     esize=DTYPE_SIZE[src], op=5, kind=1 if src == "f32" else 0, off1=0, m1=0, sh1=0, off2=0, m2=0,
                     sh2=0)]
    if src == "f32":
        return [Call("cast_f32", x=op.inputs[0], out=op.outputs[0], n=x.size, out_code=DTYPE_CODES[out.dtype])]
    return [Call("cast_int", x=op.inputs[0], out=op.outputs[0], n=x.size, in_code=DTYPE_CODES[src],
                 out_code=DTYPE_CODES[out.dtype])]
