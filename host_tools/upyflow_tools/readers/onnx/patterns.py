"""Graph rewrites before reading: exporters' spelled-out functions become the one operator the
board runs. torch's exact GELU below opset 20 is Div(x, sqrt 2) (or Mul by 1/sqrt 2) -> Erf ->
Add 1 -> Mul x -> Mul 0.5 (the two Mul in either order): one Gelu node."""
from __future__ import annotations

import numpy as np


def _scalar(g, consts: dict, name: str) -> float | None:
    """The single value of a constant operand (initializer or Constant node), else None."""
    v = consts.get(name)
    if v is None or np.size(v) != 1 or np.asarray(v).dtype.kind != "f":
        return None
    return float(np.asarray(v).reshape(-1)[0])


def _constants(g) -> dict:
    from onnx import numpy_helper
    def array(t):
        # a damaged tensor is not a GELU constant; the reader reports it later, in one line
        try:
            return numpy_helper.to_array(t)
        except Exception:
            return None

    out = {}
    for init in g.initializer:
        if not init.external_data and np.prod(init.dims, dtype=np.int64) == 1:
            out[init.name] = array(init)
    for node in g.node:
        if node.op_type == "Constant" and node.output:
            for a in node.attribute:
                if a.name == "value" and np.prod(a.t.dims, dtype=np.int64) == 1:
                    out[node.output[0]] = array(a.t)
                elif a.name == "value_float":
                    out[node.output[0]] = np.array(a.f, np.float32)
    return {k: v for k, v in out.items() if v is not None}


def _other(node, name: str) -> str | None:
    """The operand of a binary node that is not `name` (None if both or neither are)."""
    ins = list(node.input)
    if len(ins) != 2 or ins.count(name) != 1:
        return None
    return ins[1 - ins.index(name)]


def fuse_gelu(g) -> int:
    """Replace each exact-GELU chain in graph g by a Gelu node; the number replaced."""
    from onnx import helper
    consts = _constants(g)
    nodes = list(g.node)
    made = {o: k for k, n in enumerate(nodes) for o in n.output}
    users: dict[str, list[int]] = {}
    for k, n in enumerate(nodes):
        for i in n.input:
            users.setdefault(i, []).append(k)
    outputs = {o.name for o in g.output}

    def sole(name: str) -> int | None:
        u = users.get(name, [])
        return u[0] if len(u) == 1 and name not in outputs else None

    def scalar_is(node, name: str, want: float) -> bool:
        other = _other(node, name)
        v = _scalar(g, consts, other) if other is not None else None
        return v is not None and abs(v - want) <= 1e-4 * want

    replaced: dict[int, object] = {}   # first index of a chain -> its Gelu node
    drop: set[int] = set()
    for e, erf in enumerate(nodes):
        if erf.op_type != "Erf" or not erf.input:
            continue
        s = made.get(erf.input[0])
        if s is None or sole(erf.input[0]) != e or len(nodes[s].input) != 2:
            continue
        scale = nodes[s]
        if scale.op_type == "Div" and scale.input[0] != scale.input[1] and \
                scalar_is(scale, scale.input[0], 2 ** 0.5):
            x = scale.input[0]
        elif scale.op_type == "Mul":
            x = next((i for i in scale.input if scalar_is(scale, i, 0.5 ** 0.5)), None)
        else:
            x = None
        a = sole(erf.output[0])
        if x is None or a is None or nodes[a].op_type != "Add" or not scalar_is(nodes[a], erf.output[0], 1.0):
            continue
        m = sole(nodes[a].output[0])
        if m is None or nodes[m].op_type != "Mul":
            continue
        other = _other(nodes[m], nodes[a].output[0])
        h = made.get(other) if other is not None else None
        if other == x:   # Mul(x, 1 + erf), then Mul by 0.5
            last = sole(nodes[m].output[0])
            if last is None or nodes[last].op_type != "Mul" or not scalar_is(nodes[last], nodes[m].output[0], 0.5):
                continue
            chain = [s, e, a, m, last]
        elif h is not None and other is not None and nodes[h].op_type == "Mul" and sole(other) == m and \
                scalar_is(nodes[h], x, 0.5):   # Mul(0.5 x, 1 + erf)
            last = m
            chain = [s, e, a, h, m]
        else:
            continue
        if drop & set(chain):
            continue
        drop |= set(chain)
        replaced[min(chain)] = helper.make_node("Gelu", [x], [nodes[last].output[0]],
                                                name=(erf.name or "gelu") + "/gelu")
    if replaced:   # each Gelu where its chain began (x is computed before that)
        kept = [replaced.get(k, n) for k, n in enumerate(nodes) if k not in drop or k in replaced]
        del g.node[:]
        g.node.extend(kept)
    return len(replaced)
