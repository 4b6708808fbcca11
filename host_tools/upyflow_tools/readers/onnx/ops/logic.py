"""Comparisons and logic: Greater, GreaterOrEqual, Less, LessOrEqual, Equal (GREATER ..
EQUAL) on float32 values (a DequantizeLinear output dequantized first: the float32 values
onnxruntime compares) or on plain integers (int8, uint8, int32); And, Or, Xor (NOT_EQUAL), Not
on bools. A computed bool is uint8 bytes 0/1 on the board (TFLM's bool bytes), bool as a graph
output; broadcast as ONNX in the first computed operand's storage order."""
from __future__ import annotations

import numpy as np

from .... import BakeError
from ..qdq import to_float
from ..registry import translator
from ..state import Reader
from ..values import QConst, Val
from .elementwise import aligned, const_operand

COMPARE = {"Greater": "GREATER", "GreaterOrEqual": "GREATER_EQUAL", "Less": "LESS", "LessOrEqual": "LESS_EQUAL",
           "Equal": "EQUAL"}
LOGIC = {"And": "LOGICAL_AND", "Or": "LOGICAL_OR", "Xor": "NOT_EQUAL"}
BOOL = ("u8", "bool")


def _is_bool(r: Reader, v) -> bool:
    if isinstance(v, Val):
        t = r.tensors[v.t]
        # bool bytes: a bool input, or uint8 of scale 1 (computed; plain uint8 numbers have none)
        return not v.deq and (t.dtype == "bool" or (t.dtype == "u8" and t.scale == [1.0] and t.zero_point == [0]))
    return not isinstance(v, QConst) and np.asarray(v).dtype == bool


def _plain_int(r: Reader, v) -> str | None:
    """The dtype of a computed plain-integer value (no quantization), else None."""
    if isinstance(v, Val) and not v.deq and not r.tensors[v.t].scale and r.tensors[v.t].dtype in ("i8", "u8", "i32"):
        return r.tensors[v.t].dtype
    return None


def _operands(r: Reader, node, n: int) -> list:
    vals = [r.get(node, k) for k in range(n)]
    if any(v is None for v in vals):
        raise BakeError("%s node %r needs %d inputs" % (node.op_type, node.name, n))
    if not any(isinstance(v, Val) for v in vals):
        raise BakeError("%s node %r has no computed input" % (node.op_type, node.name))
    return vals


def _bool_out(r: Reader, name: str, shape, perm, kind: str, ts: list[int], **options) -> None:
    out = r.tensor(name, tuple(shape[p] for p in perm), "u8", 1.0, 0)   # bool bytes 0/1
    r.op(kind, ts, [out], **options)
    r.set(name, Val(out, shape, shape, perm))


@translator(*COMPARE)
def compare(r: Reader, node) -> None:
    vals = _operands(r, node, 2)
    name = node.output[0]
    if node.op_type == "Equal" and all(_is_bool(r, v) for v in vals):
        return _logic(r, node, "EQUAL", vals)
    ints = {_plain_int(r, v) for v in vals if isinstance(v, Val)}
    items, shape, perm = aligned(r, node, vals)
    ts = []
    if ints and None not in ints:
        if len(ints) != 1 or any(not isinstance(it, Val) and np.asarray(it[0]).dtype.kind not in "iu" for it in items):
            raise BakeError("%s node %r: integer operands of different types" % (node.op_type, node.name))
        dtype = ints.pop()
        wide = dtype != "i32"   # plain int8/uint8 (no quantization) compared as int32
        for k, it in enumerate(items):
            if isinstance(it, Val):
                t = it.t
                if wide:
                    t = r.tensor("%s/int32_%d" % (name, k), r.tensors[it.t].shape, "i32")
                    r.op("CAST", [it.t], [t])
                ts.append(t)
            else:
                ts.append(r.i32("%s/operand%d" % (name, k), np.asarray(it[0]).reshape(it[1]).transpose(perm)))
    else:
        for k, it in enumerate(items):
            if isinstance(it, Val):
                ts.append(to_float(r, it).t)
            else:
                ts.append(const_operand(r, "%s/operand%d" % (name, k), it[0], it[1], perm, "f32"))
    _bool_out(r, name, shape, perm, COMPARE[node.op_type], ts)


def _logic(r: Reader, node, kind: str, vals: list) -> None:
    if not all(_is_bool(r, v) for v in vals):
        raise BakeError("%s node %r: operands must be bool" % (node.op_type, node.name))
    items, shape, perm = aligned(r, node, vals)
    name = node.output[0]
    ts = [it.t if isinstance(it, Val) else
          r.const("%s/operand%d" % (name, k), np.asarray(it[0]).reshape(it[1]).transpose(perm).astype(np.uint8), "u8",
                  1.0, 0)
          for k, it in enumerate(items)]
    _bool_out(r, name, shape, perm, kind, ts)


@translator(*LOGIC)
def logic(r: Reader, node) -> None:
    _logic(r, node, LOGIC[node.op_type], _operands(r, node, 2))


@translator("Not")
def not_(r: Reader, node) -> None:
    _logic(r, node, "LOGICAL_NOT", _operands(r, node, 1))
