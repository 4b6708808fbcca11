"""Resource variables (VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE) as state tensors.

Streaming models (ESPHome's microWakeWord) keep their ring buffers in resource
variables that a CALL_ONCE subgraph initializes. At bake time the init subgraph
is run (constant folding) for each variable's initial value; each variable
becomes one state tensor of the arena, like SVDF/LSTM state: it persists across
invokes and Model.reset() restores the initial value. READ_VARIABLE becomes an
alias of the state (or a copy when the state changes while the value read is
still needed), ASSIGN_VARIABLE a byte copy into it, or nothing when the op that
computes the new value can write the state itself. TFLM's variable ops move raw
bytes (memcpy), and so do these.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import BakeError
from .fold import fold_constants
from .ir import Graph, Op, Tensor

VARIABLE_OPS = ("CALL_ONCE", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE")


def _key(op: Op) -> tuple:
    return (op.options.get("container", b""), op.options.get("shared_name", b""))


def _initial_values(init: Graph) -> dict[tuple, Tensor]:
    """Run a CALL_ONCE subgraph at bake time: {variable key: tensor holding its value}."""
    fold_constants(init)
    handles, values = {}, {}
    for op in init.ops:
        if op.kind == "VAR_HANDLE" and op.outputs:
            handles[op.outputs[0]] = _key(op)
        elif op.kind == "ASSIGN_VARIABLE" and len(op.inputs) == 2 and op.inputs[0] in handles:
            value = init.tensors[op.inputs[1]]
            if not value.is_const:
                raise BakeError("the CALL_ONCE init subgraph assigns variable %r a value computed at "
                                "run time; upyflow needs initial values known at bake time"
                                % handles[op.inputs[0]][1].decode(errors="replace"))
            values[handles[op.inputs[0]]] = value
        else:
            raise BakeError("the CALL_ONCE init subgraph has a %s that bake cannot run; upyflow "
                            "initializes variables with constants" % op.kind)
    return values


def resolve_variables(graph: Graph, subgraph: Callable[[int], Graph]) -> None:
    """Rewrite the variable ops of `graph` (in place) into state tensors and copies;
    `subgraph(k)` reads the model's subgraph k (a CALL_ONCE's init subgraph)."""
    init: dict[tuple, Tensor] = {}
    handles: dict[int, tuple] = {}     # resource tensor -> variable key
    ops = []
    for op in graph.ops:
        if op.kind == "CALL_ONCE":
            init.update(_initial_values(subgraph(int(op.options.get("init_subgraph_index", 0)))))
        elif op.kind == "VAR_HANDLE":
            if not op.outputs or op.outputs[0] < 0:
                raise BakeError("VAR_HANDLE has no output")
            handles[op.outputs[0]] = _key(op)
        else:
            ops.append(op)
    # one state tensor per variable, shaped and typed as its initial value (or as the
    # first value read or assigned, starting at zero as TFLM's does)
    state: dict[tuple, int] = {}

    def state_of(op: Op, resource: int, like: int) -> int:
        if resource not in handles:
            raise BakeError("%s reads a resource tensor no VAR_HANDLE of the main graph makes" % op.kind)
        key = handles[resource]
        if key not in state:
            src = init.get(key) or graph.tensors[like]
            t = Tensor(key[1].decode(errors="replace") or "variable", tuple(src.shape), src.dtype,
                       list(src.scale), list(src.zero_point), src.quantized_dimension, variable=True)
            if src.is_const:
                t.initial = np.ascontiguousarray(src.data).tobytes()
            state[key] = graph.add_tensor(t)
        s = graph.tensors[state[key]]
        v = graph.tensors[like]
        if v.dtype != s.dtype or v.nbytes != s.nbytes:
            raise BakeError("%s: variable %r holds %s %s, the tensor %r is %s %s"
                            % (op.kind, s.name, s.dtype, list(s.shape), v.name, v.dtype, list(v.shape)))
        return state[key]

    rewritten = []
    for op in ops:
        if op.kind == "READ_VARIABLE" and op.inputs and op.outputs:
            rewritten.append(Op("READ_VARIABLE", [state_of(op, op.inputs[0], op.outputs[0])],
                                list(op.outputs)))
        elif op.kind == "ASSIGN_VARIABLE" and len(op.inputs) == 2:
            rewritten.append(Op("ASSIGN_VARIABLE", [op.inputs[1]],
                                [state_of(op, op.inputs[0], op.inputs[1])]))
        else:
            rewritten.append(op)
    graph.ops = rewritten
    _alias_reads(graph)
    _write_in_place(graph)
    if state:
        graph.notes.append("%d resource variable%s baked as state tensors (reset() restores their "
                           "initial value)" % (len(state), "s" if len(state) > 1 else ""))


def _consumers(graph: Graph, t: int) -> list[int]:
    return [i for i, op in enumerate(graph.ops) if t in op.inputs]


def _alias_reads(graph: Graph) -> None:
    """A READ_VARIABLE whose value is used up before the variable is next assigned
    shares the state's bytes (passes.alias_layout_ops drops it, as a RESHAPE)."""
    for i, op in enumerate(graph.ops):
        if op.kind != "READ_VARIABLE":
            continue
        s = op.inputs[0]
        assigns = [j for j, o in enumerate(graph.ops) if j > i and o.kind == "ASSIGN_VARIABLE"
                   and o.outputs[0] == s] + [len(graph.ops)]
        # a graph output is read after the whole invoke
        used = _consumers(graph, op.outputs[0]) + \
            ([len(graph.ops)] if op.outputs[0] in graph.outputs else [])
        if all(j <= assigns[0] for j in used):
            op.options["shares_state"] = True


def _write_in_place(graph: Graph) -> None:
    """ASSIGN_VARIABLE(value) dropped when value's producer can write the state
    itself: value has no other use, and nothing reads the state (directly or through
    an aliased read) at or after that producer."""
    for k in range(len(graph.ops) - 1, -1, -1):
        op = graph.ops[k]
        if op.kind != "ASSIGN_VARIABLE":
            continue
        v, s = op.inputs[0], op.outputs[0]
        vt, st = graph.tensors[v], graph.tensors[s]
        if vt.is_const or v in graph.inputs or v in graph.outputs or v in graph.views \
                or (vt.dtype, tuple(vt.shape), vt.scale, vt.zero_point) != \
                (st.dtype, tuple(st.shape), st.scale, st.zero_point):
            continue
        producers = [i for i, o in enumerate(graph.ops) if v in o.outputs]
        if len(producers) != 1 or _consumers(graph, v) != [k]:
            continue
        p = producers[0]
        readers = set(_consumers(graph, s))
        for _i, o in enumerate(graph.ops):
            if o.kind == "READ_VARIABLE" and o.inputs[:1] == [s]:
                readers |= set(_consumers(graph, o.outputs[0]))
        if any(i >= p for i in readers if i != k):
            continue
        prod = graph.ops[p]
        prod.outputs = [s if t == v else t for t in prod.outputs]
        del graph.ops[k]
