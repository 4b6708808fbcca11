"""Float32 operators built from the element-wise and maths kernels (ADD, MUL, DIV, MAXIMUM,
MINIMUM, LOGISTIC, PRELU, ABS, NEG, SQRT, EXP, LOG, POW): Max, Min, Sum, Mean, Pow, Neg, Abs,
Sqrt, Exp, Log, Reciprocal, Expand, HardSigmoid, Swish and PRelu. Each is exact in float32
(Expand multiplies by 1), rounds once more than onnxruntime does (Mean's 1/n, Pow's x*x) or is
upyflow's expf/logf/sqrtf/powf, within the float tolerance.
"""
from __future__ import annotations

import numpy as np

from .... import BakeError
from ..checks import attrs
from ..fold import fold_shape
from ..layout import plain
from ..qdq import to_float
from ..registry import translator
from ..state import Reader
from ..values import Val
from .elementwise import aligned, const_operand, integer_op, is_integer


def float_op(r: Reader, node, kind: str, operands: list, name: str, **options) -> Val:
    """One float32 element-wise op on computed values and constants (broadcast as ONNX)."""
    items, shape, perm = aligned(r, node, operands)
    ts = []
    for k, it in enumerate(items):
        if isinstance(it, Val):
            ts.append(to_float(r, it).t)
        else:
            ts.append(const_operand(r, "%s/operand%d" % (name, k), it[0], it[1], perm, "f32"))
    out = r.tensor(name, tuple(shape[p] for p in perm), "f32")
    if kind in ("ADD", "SUB", "MUL"):
        options.setdefault("fused_activation_function", "NONE")
    r.op(kind, ts, [out], **options)
    return Val(out, shape, shape, perm)


def _computed_first(r: Reader, node, vals: list) -> list:
    if not any(isinstance(v, Val) for v in vals):
        raise BakeError("%s node %r has no computed input" % (node.op_type, node.name))
    return sorted(vals, key=lambda v: not isinstance(v, Val))   # aligned() follows the first


VARIADIC = {"Max": "MAXIMUM", "Min": "MINIMUM", "Sum": "ADD", "Mean": "ADD"}


@translator(*VARIADIC)
def variadic(r: Reader, node) -> None:
    """Max, Min, Sum, Mean of any number of operands: a chain of binary ops."""
    vals = _computed_first(r, node, [r.get(node, k) for k in range(len(node.input))])
    out = node.output[0]
    if is_integer(r, vals[0]) and node.op_type in ("Max", "Min", "Sum"):
        acc = vals[0]
        for k in range(1, len(vals)):
            acc = integer_op(r, node, VARIADIC[node.op_type], [acc, vals[k]],
                             out if k == len(vals) - 1 else "%s/part%d" % (out, k))
        r.set(out, acc)
        return
    if len(vals) == 1:
        acc = to_float(r, plain(r, vals[0]))
    for k in range(1, len(vals)):
        last = k == len(vals) - 1 and node.op_type != "Mean"
        acc = float_op(r, node, VARIADIC[node.op_type], [acc if k > 1 else vals[0], vals[k]],
                       out if last else "%s/part%d" % (out, k))
    if node.op_type == "Mean":
        acc = float_op(r, node, "MUL", [acc, np.array(1.0 / len(vals), np.float32)], out)
    r.set(out, acc)


@translator("Pow")
def power(r: Reader, node) -> None:
    """float32 base and exponent, either computed: exponent 1 is the base, 2 a MUL (x*x, as
    onnxruntime), any other a POW (std::pow's values within the float tolerance)."""
    base, e = r.get(node, 0), r.get(node, 1)
    if e is None:
        raise BakeError("Pow node %r needs an exponent" % node.name)
    if isinstance(base, Val) and not isinstance(e, Val):
        k = np.asarray(r.cval(node, 1, "exponent"))
        if k.dtype.kind not in "iuf":
            raise BakeError("Pow node %r: exponent of type %s" % (node.name, k.dtype))
        if k.size == 1 and k.ndim <= len(base.shape) and float(k.reshape(-1)[0]) in (1.0, 2.0):
            one = float(k.reshape(-1)[0]) == 1.0
            r.set(node.output[0], to_float(r, base) if one else float_op(r, node, "MUL", [base, base], node.output[0]))
            return
    _computed_first(r, node, [base, e])   # refuses two constants
    r.set(node.output[0], float_op(r, node, "POW", [base, e], node.output[0]))


UNARY = {"Neg": "NEG", "Abs": "ABS", "Sqrt": "SQRT", "Exp": "EXP", "Log": "LOG", "Floor": "FLOOR", "Ceil": "CEIL",
         "Round": "ROUND"}


@translator(*UNARY)
def unary(r: Reader, node) -> None:
    """The float32 maths kernels (ABS, NEG, SQRT, EXP, LOG, FLOOR, CEIL, ROUND), in any storage
    order. Round is half to even as onnxruntime's (a negative value rounding to zero gives +0.0
    where onnxruntime gives -0.0: equal values)."""
    v = to_float(r, r.rt(node, 0))
    out = r.like(node.output[0], v.t)
    r.op(UNARY[node.op_type], [v.t], [out])
    r.set(node.output[0], Val(out, v.shape, v.base, v.perm))


@translator("Reciprocal")
def reciprocal(r: Reader, node) -> None:
    r.set(node.output[0], float_op(r, node, "DIV", [np.array(1.0, np.float32), r.rt(node, 0)], node.output[0]))


@translator("Expand")
def expand(r: Reader, node) -> None:
    """Broadcast to a shape: MUL by ones (exact) of the dimensions the input lacks."""
    v = r.rt(node, 0)
    shape = fold_shape(node, r.cval(node, 1, "shape"))
    try:
        out = np.broadcast_shapes(tuple(v.shape), tuple(shape))
    except ValueError:
        raise BakeError("Expand node %r: shape %s does not broadcast with %s"
                        % (node.name, shape, list(v.shape))) from None
    off = len(out) - len(v.shape)
    ones = [1 if k >= off and v.shape[k - off] == d else d for k, d in enumerate(out)]
    r.set(node.output[0], float_op(r, node, "MUL", [v, np.ones(ones, np.float32)], node.output[0]))


@translator("HardSigmoid")
def hard_sigmoid(r: Reader, node) -> None:
    a = attrs(node)
    out = node.output[0]
    v = float_op(r, node, "MUL", [r.rt(node, 0), np.array(a.get("alpha", 0.2), np.float32)], out + "/scaled")
    v = float_op(r, node, "ADD", [v, np.array(a.get("beta", 0.5), np.float32)], out + "/shifted")
    v = float_op(r, node, "MAXIMUM", [v, np.array(0.0, np.float32)], out + "/lower")
    r.set(out, float_op(r, node, "MINIMUM", [v, np.array(1.0, np.float32)], out))


@translator("Swish")
def swish(r: Reader, node) -> None:
    v = to_float(r, r.rt(node, 0))
    out = node.output[0]
    alpha = float(attrs(node).get("alpha", 1.0))
    s = v if alpha == 1.0 else float_op(r, node, "MUL", [v, np.array(alpha, np.float32)], out + "/scaled")
    sig = r.tensor(out + "/sigmoid", r.tensors[s.t].shape, "f32")
    r.op("LOGISTIC", [s.t], [sig])
    r.set(out, float_op(r, node, "MUL", [v, Val(sig, s.shape, s.base, s.perm)], out))


@translator("PRelu")
def prelu(r: Reader, node) -> None:
    v = r.rt(node, 0)
    slope = r.cval(node, 1, "slope")
    slope = np.asarray(slope, np.float32)
    try:
        if np.broadcast_shapes(slope.shape, tuple(v.shape)) != tuple(v.shape):
            raise ValueError
    except ValueError:
        raise BakeError("PRelu node %r: slope %s does not broadcast to %s"
                        % (node.name, list(slope.shape), list(v.shape))) from None
    r.set(node.output[0], float_op(r, node, "PRELU", [v, slope], node.output[0]))
