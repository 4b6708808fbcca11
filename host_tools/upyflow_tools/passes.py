"""Graph rewrites before lowering."""
from __future__ import annotations

from . import BakeError
from .ir import Graph

LAYOUT_ONLY = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")


def alias_layout_ops(graph: Graph) -> dict[int, int]:
    """Drop reshape-like ops: their output shares the input's bytes.

    Returns {tensor: tensor whose storage it uses}. A constant input makes the
    output a constant; an op whose input is also a graph output keeps its copy.
    """
    alias: dict[int, int] = {}
    kept = []
    for op in graph.ops:
        if op.kind not in LAYOUT_ONLY:
            kept.append(op)
            continue
        if not op.inputs or not op.outputs or op.inputs[0] < 0 or op.outputs[0] < 0:
            raise BakeError("%s has inputs %s and outputs %s; it needs an input and an output"
                            % (op.kind, op.inputs, op.outputs))
        src, dst = op.inputs[0], op.outputs[0]
        s, d = graph.tensors[src], graph.tensors[dst]
        if s.size != d.size or s.dtype != d.dtype:
            raise BakeError("%s %r: %s %s cannot become %s %s"
                            % (op.kind, d.name, s.dtype, list(s.shape), d.dtype, list(d.shape)))
        if s.is_const:
            d.data = s.data.reshape(d.shape)
        elif src in graph.outputs or (src in graph.inputs and dst in graph.outputs):
            kept.append(op)
        else:
            alias[dst] = alias.get(src, src)
    graph.ops = kept
    return alias
