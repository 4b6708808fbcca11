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
    return [Call("copy_bytes", x=op.inputs[0], out=op.outputs[0], n=x.size)]


def _variable_copy(graph: Graph, op: Op) -> list[Call]:
    # variables.py made the resource a state tensor; TFLM copies raw bytes (memcpy)
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    if x.nbytes != out.nbytes or x.dtype != out.dtype:
        raise BakeError("%s %r: %s %s cannot become %s %s"
                        % (op.kind, out.name, x.dtype, list(x.shape), out.dtype, list(out.shape)))
    return [Call("copy_bytes", x=op.inputs[0], out=op.outputs[0], n=x.size)]


lowering("READ_VARIABLE", "any (the variable's state tensor, shared or copied)")(_variable_copy)
lowering("ASSIGN_VARIABLE", "any (a copy into the state tensor, or the producer writes it)")(_variable_copy)


@lowering("VAR_HANDLE", "resource variables: each becomes a state tensor at bake time", 0)
def _resolved(graph: Graph, op: Op) -> list[Call]:
    raise BakeError("%s outside a TFLite main graph is not supported" % op.kind)


lowering("CALL_ONCE", "run at bake time: its subgraph's constants are the variables' initial "
                      "values, restored by reset()", 0)(_resolved)
