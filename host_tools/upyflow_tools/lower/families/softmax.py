"""SOFTMAX."""
from __future__ import annotations

import numpy as np

from ... import BakeError
from ...ir import Graph, Op
from ...quant import (softmax_params)
from ..core import (Call, check_size, inp, lowering,
                   types_error)


@lowering("SOFTMAX", "int8 -> int8 (output scale 1/256, zero point -128); float32")
def _softmax(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    if not x.shape or x.shape[-1] < 1:
        raise BakeError("SOFTMAX input %r has shape %s" % (x.name, list(x.shape)))
    check_size(op, out, x.size, "output")
    depth = x.shape[-1]
    rows = x.size // depth
    beta = float(op.options.get("beta", 1.0))
    if x.dtype == out.dtype == "f32":
        return [Call("softmax_f32", [op.inputs[0], op.outputs[0]], [rows, depth, beta])]
    if not x.dtype == out.dtype == "i8":
        raise types_error(op, graph)
    if out.zp != -128 or out.sc != float(np.float32(1 / 256)):
        raise BakeError("SOFTMAX %r: int8 output must have scale 1/256 and zero point -128" % out.name)
    return [Call("softmax_s8", [op.inputs[0], op.outputs[0]], [rows, depth, *softmax_params(beta, x.sc)])]
