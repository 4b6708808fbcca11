"""Activations: Relu, Clip, Sigmoid, Tanh, HardSwish, LeakyRelu, Elu, Gelu (also torch's Erf
chain, patterns.py), Softmax and LogSoftmax (float32); int8 when the QuantizeLinear after them has the quantization
the TFLite kernel needs."""
from __future__ import annotations

import numpy as np

from .... import BakeError
from ..checks import attrs
from ..layout import stored_as
from ..qdq import bind_out, clip_act, clip_bounds, q_after, to_float
from ..registry import translator
from ..state import Reader
from ..values import Val, ident
from .arith import float_op
from .elementwise import integer_op, is_integer


def unary(r: Reader, node, kind: str, q_ok, **options) -> None:
    """One TFLite activation; int8 when the input is DQ'd, a QuantizeLinear follows and q_ok(in, out)."""
    v = r.rt(node, 0)
    q = q_after(r, node.output[0]) if v.deq else None
    if q is not None and not q_ok(r.tensors[v.t], q):
        q = None
    x = v if q else to_float(r, v)
    ir_shape = r.tensors[x.t].shape
    out = r.tensor(q[3] if q else node.output[0], ir_shape, "i8" if q else "f32",
                       *(q[:2] if q else (None, None)))
    r.op(kind, [x.t], [out], **options)
    bind_out(r, node.output[0], q, Val(out, v.shape, v.base, v.perm))


@translator("Relu")
def relu(r: Reader, node) -> None:
    unary(r, node, "RELU", lambda t, q: True)


@translator("Clip")
def clip(r: Reader, node) -> None:
    v = r.rt(node, 0)
    if is_integer(r, v):   # plain int8/uint8: MAXIMUM/MINIMUM in int32
        cur, lo, hi = v, r.cval(node, 1, "min"), r.cval(node, 2, "max")
        for kind, bound in (("MAXIMUM", lo), ("MINIMUM", hi)):
            if bound is not None:
                last = kind == "MINIMUM" or hi is None
                cur = integer_op(r, node, kind, [cur, np.asarray(bound)],
                                 node.output[0] if last else node.output[0] + "/lower")
        r.set(node.output[0], cur)
        return
    act = clip_act(r, node)
    if act is not None:
        same = (lambda t, q: (np.float32(t.sc), t.zp) == (np.float32(q[0]), q[1])) if act == "RELU6" \
            else (lambda t, q: True)
        unary(r, node, act, same)
        return
    lo, hi = clip_bounds(r, node)
    v = to_float(r, r.rt(node, 0))
    cur = v
    ir_shape = r.tensors[v.t].shape
    for kind, bound in (("MAXIMUM", lo), ("MINIMUM", hi)):
        if bound is None:
            continue
        last = (kind == "MINIMUM" or hi is None)
        out = r.tensor(node.output[0] if last else node.output[0] + "/lower", ir_shape, "f32")
        c = r.const(node.output[0] + "/" + kind.lower(), np.array([bound], np.float32), "f32")
        r.op(kind, [cur.t, c], [out])
        cur = Val(out, v.shape, v.base, v.perm)
    r.set(node.output[0], cur)


@translator("Sigmoid")
def sigmoid(r: Reader, node) -> None:
    unary(r, node, "LOGISTIC", lambda t, q: (np.float32(q[0]), q[1]) == (np.float32(1 / 256), -128))


@translator("Tanh")
def tanh(r: Reader, node) -> None:
    unary(r, node, "TANH", lambda t, q: (np.float32(q[0]), q[1]) == (np.float32(1 / 128), 0))


@translator("HardSwish")
def hard_swish(r: Reader, node) -> None:
    unary(r, node, "HARD_SWISH", lambda t, q: t.sc / 128.0 < q[0])


@translator("LeakyRelu")
def leaky_relu(r: Reader, node) -> None:
    unary(r, node, "LEAKY_RELU", lambda t, q: True, alpha=float(attrs(node).get("alpha", 0.01)))


@translator("Elu")
def elu(r: Reader, node) -> None:
    """TFLite's ELU (alpha 1; int8 as its table when DQ'd and a QuantizeLinear follows); another
    alpha in float32 as RELU(x) + alpha * ELU(MINIMUM(x, 0)) (exp(x) - 1 once, scaled)."""
    alpha = float(attrs(node).get("alpha", 1.0))
    if alpha == 1.0:
        unary(r, node, "ELU", lambda t, q: True)
        return
    v = to_float(r, r.rt(node, 0))
    out = node.output[0]
    neg = float_op(r, node, "MINIMUM", [v, np.array(0.0, np.float32)], out + "/negative")
    parts = []
    for kind, src in (("ELU", neg), ("RELU", v)):
        t = r.tensor("%s/%s" % (out, kind.lower()), r.tensors[src.t].shape, "f32")
        r.op(kind, [src.t], [t])
        parts.append(Val(t, src.shape, src.base, src.perm))
    scaled = float_op(r, node, "MUL", [parts[0], np.array(alpha, np.float32)], out + "/scaled")
    r.set(out, float_op(r, node, "ADD", [scaled, parts[1]], out))


@translator("Softmax", "LogSoftmax")
def softmax(r: Reader, node) -> None:
    """SOFTMAX (int8 when a QuantizeLinear to 1/256, -128 follows) or float32 LOG_SOFTMAX, over
    `axis` moved last in storage (before opset 13: the dimensions from `axis` on, flattened)."""
    v = r.rt(node, 0)
    rank = len(v.shape)
    ax = attrs(node).get("axis", -1 if r.opset >= 13 else 1)
    if not isinstance(ax, int) or not -rank <= ax < rank:
        raise BakeError("%s node %r: axis %r for a %d-D input" % (node.op_type, node.name, ax, rank))
    ax = ax + rank if ax < 0 else ax
    if r.opset < 13:   # softmax over the flattened dims from `axis` on
        flat = (int(np.prod(v.shape[:ax], dtype=np.int64)), int(np.prod(v.shape[ax:], dtype=np.int64)))
        x = stored_as(r, v, flat, (0, 1))
    else:
        rest = tuple(d for d in range(rank) if d != ax)
        x = stored_as(r, v, v.shape, rest + (ax,))
    q = q_after(r, node.output[0]) if v.deq and node.op_type == "Softmax" else None
    if q is not None and (np.float32(q[0]), q[1]) != (np.float32(1 / 256), -128):
        q = None
    if q is None:
        x = to_float(r, x)
    ir_shape = r.tensors[x.t].shape
    out = r.tensor(q[3] if q else node.output[0], ir_shape, "i8" if q else "f32",
                       *(q[:2] if q else (None, None)))
    if node.op_type == "LogSoftmax":
        r.op("LOG_SOFTMAX", [x.t], [out])
    else:
        r.op("SOFTMAX", [x.t], [out], beta=1.0)
    bind_out(r, node.output[0], q, Val(out, v.shape, x.base if x.shape == v.shape else v.shape,
                                          x.perm if x.shape == v.shape else ident(rank)))


@translator("Gelu")
def gelu(r: Reader, node) -> None:
    mode = attrs(node).get("approximate", b"none")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode not in ("none", "tanh"):
        raise BakeError("Gelu node %r: approximate=%r is not supported (none, tanh)" % (node.name, mode))
    unary(r, node, "GELU", lambda t, q: True, approximate=mode == "tanh")
