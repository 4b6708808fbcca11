"""Layout-only ops (normally aliased away by passes.alias_layout_ops)."""
from __future__ import annotations


from ... import BakeError
from ...ir import Graph, Op
from ..core import (Call, inp, lowering)


@lowering("RESHAPE", "any (no kernel: the output shares the input's arena bytes)")
def _reshape(graph: Graph, op: Op) -> list[Call]:
    # Normally removed by passes.alias_layout_ops; a copy is the fallback.
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    if x.size != out.size or x.dtype != out.dtype:
        raise BakeError("%s %r: %s %s cannot become %s %s"
                        % (op.kind, out.name, x.dtype, list(x.shape), out.dtype, list(out.shape)))
    return [Call("copy_bytes", [op.inputs[0], op.outputs[0]], [x.size])]
