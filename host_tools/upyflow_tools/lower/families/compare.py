"""GREATER, GREATER_EQUAL, LESS, LESS_EQUAL, EQUAL, NOT_EQUAL and LOGICAL_AND/OR/NOT with
numpy-style broadcasting (elementwise.py's descriptors). Their bool outputs are uint8 bytes 0/1
on the board (TFLM's bool bytes; scale 1, zero point 0): the readers make computed bool
tensors uint8. int8 operands are rescaled to a common scale as TFLM does: each input
((x - zp) << 8) times its scale as a multiplier smaller than one, then compared."""
from __future__ import annotations

import numpy as np

from ... import BakeError
from ...ir import Graph, Op
from ..core import Call, inp, lowering, types_error
from .elementwise import _desc_const, broadcast_desc, smaller_than_one

CMP_OP = {"GREATER": 0, "GREATER_EQUAL": 1, "LESS": 2, "LESS_EQUAL": 3, "EQUAL": 4, "NOT_EQUAL": 5}
ESIZE = {"i8": 1, "u8": 1, "bool": 1, "i16": 2, "i32": 4, "f32": 4}
BOOL = ("u8", "bool")   # bool bytes: uint8 inside the graph, bool as a graph input or output


def _compare(graph: Graph, op: Op) -> list[Call]:
    a, b, out = inp(graph, op, 0), inp(graph, op, 1), graph.tensors[op.outputs[0]]
    # TFLM has no int16 comparisons
    ok = ("i8", "i32", "f32") + (BOOL if op.kind in ("EQUAL", "NOT_EQUAL") else ())
    same = a.dtype == b.dtype or (a.dtype in BOOL and b.dtype in BOOL)
    if not same or a.dtype not in ok or out.dtype not in BOOL:
        raise types_error(op, graph)
    desc = broadcast_desc(op, a, b, out)   # up to 6-D (the tflite-micro runtime broadcasts 6-D too)
    tensors = dict(x1=op.inputs[0], x2=op.inputs[1], out=op.outputs[0], d=_desc_const(graph, op, desc))
    q = dict(off1=0, m1=0, sh1=0, off2=0, m2=0, sh2=0)
    kind = 1 if a.dtype == "f32" else 0
    if a.dtype == "i8":
        for t in (a, b):
            if len(t.scale) > 1:
                raise BakeError("%s tensor %r is quantized per channel; %s needs per-tensor quantization"
                                % (op.kind, t.name, op.kind))
        kind = 2
        q["m1"], q["sh1"] = smaller_than_one(op, a.sc, "input 1 scale")
        q["m2"], q["sh2"] = smaller_than_one(op, b.sc, "input 2 scale")
        q["off1"], q["off2"] = -a.zp, -b.zp
    return [Call("compare_q", **tensors, esize=ESIZE[a.dtype], op=CMP_OP[op.kind], kind=kind, **q)]


for _kind in CMP_OP:
    _bools = ", bool" if _kind in ("EQUAL", "NOT_EQUAL") else ""
    lowering(_kind, "int8 (rescaled as TFLM), int32, float32%s; bool output; broadcasting up to 6-D"
             % _bools, min_inputs=2)(_compare)


def _bool_operands(graph: Graph, op: Op, n: int) -> None:
    ts = [inp(graph, op, k) for k in range(n)] + [graph.tensors[op.outputs[0]]]
    if any(t.dtype not in BOOL for t in ts):
        raise types_error(op, graph)


def _logical(graph: Graph, op: Op) -> list[Call]:
    # bool bytes are 0 or 1: AND is their minimum, OR their maximum
    _bool_operands(graph, op, 2)
    a, b, out = inp(graph, op, 0), inp(graph, op, 1), graph.tensors[op.outputs[0]]
    desc = broadcast_desc(op, a, b, out)
    return [Call("maxmin_q", x1=op.inputs[0], x2=op.inputs[1], out=op.outputs[0], d=_desc_const(graph, op, desc),
                 esize=1, is_max=1 if op.kind == "LOGICAL_OR" else 0)]


lowering("LOGICAL_AND", "bool; broadcasting up to 6-D", min_inputs=2)(_logical)
lowering("LOGICAL_OR", "bool; broadcasting up to 6-D", min_inputs=2)(_logical)


@lowering("LOGICAL_NOT", "bool")
def _logical_not(graph: Graph, op: Op) -> list[Call]:
    # EQUAL(x, 0) on the bool bytes
    _bool_operands(graph, op, 1)
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    zero = graph.add_const(out.name + "/false", np.zeros(1, np.uint8), "u8")
    desc = broadcast_desc(op, x, graph.tensors[zero], out)
    return [Call("compare_q", x1=op.inputs[0], x2=zero, out=op.outputs[0], d=_desc_const(graph, op, desc), esize=1,
                 op=4, kind=0, off1=0, m1=0, sh1=0, off2=0, m2=0, sh2=0)]
