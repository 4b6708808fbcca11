"""Element-wise operators: Add, Sub, Mul, Div, BatchNormalization, Concat and Pad; on plain
int8/uint8 tensors (no QuantizeLinear) Add, Sub and Mul wrap as ONNX's integer arithmetic, run
in int32 between two CASTs."""
from __future__ import annotations

import numpy as np

from .... import BakeError
from ..checks import MAX_ELEMENTS, attrs
from ..fold import read_axes
from ..layout import plain, stored_as
from ..qdq import bind_out, output_chain, q_after, requant, to_float
from ..registry import translator
from ..state import Reader
from ..values import QConst, Val, ident


def aligned(r: Reader, node, operands: list) -> tuple[list, tuple, tuple]:
    """Runtime operands in one storage layout, constants arranged to match: (items, shape, perm)."""
    shapes = [o.shape if isinstance(o, Val) else np.shape(o.value() if isinstance(o, QConst) else o)
              for o in operands]
    try:
        shape = tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise BakeError("%s node %r: shapes %s do not broadcast" % (node.op_type, node.name,
                                                                   [list(s) for s in shapes])) from None
    rank = len(shape)
    rts = [o for o in operands if isinstance(o, Val)]
    perm = ident(rank)
    first = rts[0]
    if len(first.shape) == rank and first.shape == first.base and len(first.perm) == rank:
        perm = first.perm
    items: list = []   # a Val, or (constant, padded shape)
    for o, s in zip(operands, shapes):
        padded = (1,) * (rank - len(s)) + tuple(s)
        if isinstance(o, Val):
            items.append(stored_as(r, o, padded, perm))
        else:
            items.append((o, padded))
    return items, shape, perm


def const_operand(r: Reader, name: str, o, padded, perm, dtype: str) -> int:
    if isinstance(o, QConst):
        if dtype == "i8":
            if o.scale.size != 1 or o.q.dtype != np.int8:
                raise BakeError("constant %r: int8 element-wise operands need per-tensor int8" % name)
            return r.const(name, o.q.reshape(padded).transpose(perm), "i8",
                               o.scale, o.zp)
        o = o.value()
    return r.const(name, np.asarray(o, np.float32).reshape(padded).transpose(perm), "f32")


BINARY = {"Add": "ADD", "Sub": "SUB", "Mul": "MUL", "Div": "DIV"}


def is_integer(r: Reader, v) -> bool:
    """A computed int8/uint8 tensor that is plain integers (no QuantizeLinear/DequantizeLinear)."""
    return isinstance(v, Val) and not v.deq and r.tensors[v.t].dtype in ("i8", "u8") and not r.tensors[v.t].scale


def integer_op(r: Reader, node, kind: str, operands: list, name: str) -> Val:
    """ONNX's int8/uint8 arithmetic (wrapping as C does): CAST to int32, the int32 kernel, CAST back."""
    dtypes = {r.tensors[o.t].dtype for o in operands if isinstance(o, Val)}
    consts = [np.asarray(o) for o in operands if not isinstance(o, Val)]
    if len(dtypes) != 1 or any(c.dtype.kind not in "iu" for c in consts) or \
            any(isinstance(o, Val) and not is_integer(r, o) for o in operands):
        raise BakeError("%s node %r: operands of types %s; integer arithmetic needs one int8 or uint8 type"
                        % (node.op_type, node.name, sorted(dtypes) + [str(c.dtype) for c in consts]))
    dtype = dtypes.pop()
    items, shape, perm = aligned(r, node, operands)
    ts = []
    for k, it in enumerate(items):
        if isinstance(it, Val):
            wide = r.tensor("%s/int32_%d" % (name, k), r.tensors[it.t].shape, "i32")
            r.op("CAST", [it.t], [wide])
            ts.append(wide)
        else:
            ts.append(r.i32("%s/operand%d" % (name, k), np.asarray(it[0]).reshape(it[1]).transpose(perm)))
    ir_shape = tuple(shape[p] for p in perm)
    wide_out = r.tensor(name + "/int32", ir_shape, "i32")
    r.op(kind, ts, [wide_out], **({"fused_activation_function": "NONE"} if kind in ("ADD", "SUB", "MUL") else {}))
    out = r.tensor(name, ir_shape, dtype)
    r.op("CAST", [wide_out], [out])
    return Val(out, shape, shape, perm)


@translator(*BINARY)
def binary(r: Reader, node) -> None:
    kind = BINARY[node.op_type]
    a, b = r.get(node, 0), r.get(node, 1)
    if not isinstance(a, Val) and not isinstance(b, Val):
        raise BakeError("%s node %r has no computed input" % (node.op_type, node.name))
    if kind != "DIV" and any(is_integer(r, o) for o in (a, b)):
        r.set(node.output[0], integer_op(r, node, kind, [a, b], node.output[0]))
        return
    if kind == "DIV":
        if isinstance(b, Val):   # the float32 DIV kernel (onnxruntime divides in float32 too)
            if is_integer(r, a) or is_integer(r, b):
                raise BakeError("Div node %r: integer division of computed tensors is not supported"
                                % node.name)
            items, shape, perm = aligned(r, node, [a, b])
            ts = [to_float(r, it).t if isinstance(it, Val) else
                  const_operand(r, "%s/operand%d" % (node.output[0], k), it[0], it[1], perm, "f32")
                  for k, it in enumerate(items)]
            out = r.tensor(node.output[0], tuple(shape[p] for p in perm), "f32")
            r.op("DIV", ts, [out], fused_activation_function="NONE")
            r.set(node.output[0], Val(out, shape, shape, perm))
            return
        b = 1.0 / np.asarray(b.value() if isinstance(b, QConst) else b, np.float32)
        kind = "MUL"
    ok_q = all((isinstance(o, Val) and o.deq) or (isinstance(o, QConst) and o.scale.size == 1
                                                  and o.q.dtype == np.int8) for o in (a, b))
    chain = output_chain(r, node.output[0], True) if ok_q else None
    if chain is None:
        chain = output_chain(r, node.output[0], False)
    act, name, q = chain
    items, shape, perm = aligned(r, node, [a, b])
    ts = []
    for k, it in enumerate(items):
        if isinstance(it, Val):
            ts.append(it.t if q else to_float(r, it).t)
        else:
            ts.append(const_operand(r, "%s/operand%d" % (name, k), it[0], it[1], perm, "i8" if q else "f32"))
    ir_shape = tuple(shape[p] for p in perm)
    out = r.tensor(q[3] if q else name, ir_shape, "i8" if q else "f32", *(q[:2] if q else (None, None)))
    r.op(kind, ts, [out], fused_activation_function=act)
    bind_out(r, name, q, Val(out, shape, shape, perm))


@translator("BatchNormalization")
def batch_normalization(r: Reader, node) -> None:
    if len(node.output) > 1 and any(node.output[1:]):
        raise BakeError("BatchNormalization node %r: training mode is not supported" % node.name)
    v = r.rt(node, 0)
    gamma, beta, mean, var = (np.asarray(r.cval(node, k, "parameter"), np.float64).reshape(-1)
                              for k in range(1, 5))
    if len(v.shape) < 2 or any(p.size != v.shape[1] for p in (gamma, beta, mean, var)):
        raise BakeError("BatchNormalization node %r: parameters %s for input %s"
                        % (node.name, [p.size for p in (gamma, beta, mean, var)], list(v.shape)))
    eps = attrs(node).get("epsilon", 1e-5)
    k = gamma / np.sqrt(var + eps)
    shape = [1] * len(v.shape)
    shape[1] = -1
    x = to_float(r, plain(r, v))
    perm = x.perm
    mul = r.const(node.output[0] + "/scale", k.astype(np.float32).reshape(shape).transpose(perm), "f32")
    add = r.const(node.output[0] + "/shift", (beta - mean * k).astype(np.float32).reshape(shape)
                      .transpose(perm), "f32")
    ir_shape = r.tensors[x.t].shape
    mid = r.tensor(node.output[0] + "/scaled", ir_shape, "f32")
    r.op("MUL", [x.t, mul], [mid], fused_activation_function="NONE")
    act, name, _ = output_chain(r, node.output[0], False)
    out = r.tensor(name, ir_shape, "f32")
    r.op("ADD", [mid, add], [out], fused_activation_function=act)
    r.set(name, Val(out, x.shape, x.base, x.perm))


@translator("Concat")
def concat(r: Reader, node) -> None:
    ax = attrs(node).get("axis")
    vals = [r.get(node, k) for k in range(len(node.input))]
    if any(v is None for v in vals) or ax is None:
        raise BakeError("Concat node %r needs an axis and no empty operand" % node.name)
    shapes = [tuple(v.shape) if isinstance(v, Val) else np.shape(v.value() if isinstance(v, QConst) else v)
              for v in vals]
    rank = len(shapes[0])
    if not -rank <= ax < rank or any(len(sh) != rank or sh[:ax % rank] + sh[ax % rank + 1:] !=
                                     shapes[0][:ax % rank] + shapes[0][ax % rank + 1:] for sh in shapes):
        raise BakeError("Concat node %r: shapes %s do not join on axis %d"
                        % (node.name, [list(sh) for sh in shapes], ax))
    ax = ax + rank if ax < 0 else ax
    quant = all(isinstance(v, Val) and v.deq for v in vals)
    q = q_after(r, node.output[0]) if quant else None
    rts = [v for v in vals if isinstance(v, Val)]
    first = plain(r, rts[0])
    perm = first.perm if len(first.perm) == rank else ident(rank)
    ts = []
    for k, v in enumerate(vals):
        if isinstance(v, Val):
            x = stored_as(r, v, v.shape, perm)
            if q:
                x = requant(r, x, (q[0], q[1], None, r.tensors[x.t].name + "/requantized"))
            else:
                x = to_float(r, x)
            ts.append(x.t)
        else:
            c = v.value() if isinstance(v, QConst) else np.asarray(v, np.float32)
            ts.append(r.const("%s/part%d" % (node.output[0], k), c.astype(np.float32).transpose(perm), "f32"))
    dims = list(rts[0].shape)
    dims[ax] = sum((v.shape if isinstance(v, Val) else np.shape(v.value() if isinstance(v, QConst) else v))[ax]
                   for v in vals)
    shape = tuple(dims)
    ir_shape = tuple(shape[p] for p in perm)
    out = r.tensor(q[3] if q else node.output[0], ir_shape, "i8" if q else "f32",
                       *(q[:2] if q else (None, None)))
    r.op("CONCATENATION", ts, [out], axis=perm.index(ax), fused_activation_function="NONE")
    bind_out(r, node.output[0], q, Val(out, shape, shape, perm))


@translator("Pad")
def pad(r: Reader, node) -> None:
    a = attrs(node)
    mode = a.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode != "constant":
        raise BakeError("Pad node %r: mode %r is not supported (only constant)" % (node.name, mode))
    v = plain(r, r.rt(node, 0))
    rank = len(v.shape)
    if r.opset < 11:
        pads, value = list(a["pads"]), float(a.get("value", 0.0))
    else:
        pv = np.asarray(r.cval(node, 1, "pads"))
        if pv.dtype.kind not in "iu":   # ONNX: int64 (a float operand may hold NaN)
            raise BakeError("Pad node %r: pads of type %s; Pad takes int64 pads" % (node.name, pv.dtype))
        pads = [int(p) for p in pv.reshape(-1)]
        cv = r.cval(node, 2, "constant value")
        value = 0.0 if cv is None or np.size(cv) < 1 else float(np.asarray(cv).reshape(-1)[0])
        axes = read_axes(node, {}, r.cval(node, 3, "axes"), rank)
        if axes is not None:
            if len(pads) != 2 * len(axes):
                raise BakeError("Pad node %r: %d pads for %d axes" % (node.name, len(pads), len(axes)))
            full = [0] * (2 * rank)
            for k, ax in enumerate(axes):
                full[ax], full[ax + rank] = pads[k], pads[k + len(axes)]
            pads = full
    if len(pads) != 2 * rank or not np.isfinite(value):
        raise BakeError("Pad node %r: pads %s and value %g for a rank-%d input" % (node.name, pads, value, rank))
    if any(p > MAX_ELEMENTS for p in pads):
        raise BakeError("Pad node %r: pads %s beyond %d" % (node.name, pads, MAX_ELEMENTS))
    if min(pads) < 0:
        raise BakeError("Pad node %r: negative pads are not supported" % node.name)
    quant = v.deq
    q = q_after(r, node.output[0]) if quant else None
    x = v if q else to_float(r, v)
    xt = r.tensors[x.t]
    shape = tuple(d + pads[k] + pads[k + rank] for k, d in enumerate(v.shape))
    ir_pads = [[pads[p], pads[p + rank]] for p in v.perm]
    pt = r.i32(node.output[0] + "/paddings", ir_pads)
    out = r.tensor(node.output[0], tuple(shape[p] for p in v.perm), xt.dtype,
                       *((xt.sc, xt.zp) if q else (None, None)))
    if value == 0.0:
        r.op("PAD", [x.t, pt], [out])
    elif q:
        cq = int(np.clip(np.rint(value / xt.sc) + xt.zp, -128, 127))
        r.op("PADV2", [x.t, pt, r.const(node.output[0] + "/value", np.array([cq], np.int8), "i8",
                                                 xt.sc, xt.zp)], [out])
    else:
        r.op("PADV2", [x.t, pt, r.const(node.output[0] + "/value", np.array([value], np.float32),
                                                 "f32")], [out])
    res = Val(out, shape, shape, v.perm)
    if q:
        res = requant(r, res, q)
    bind_out(r, node.output[0], q, res)
