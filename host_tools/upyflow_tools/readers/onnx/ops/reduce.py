"""Reductions: ReduceMean (MEAN), ReduceSum (SUM), ReduceMax/ReduceMin (REDUCE_MAX/REDUCE_MIN)
and ArgMax/ArgMin (ARG_MAX/ARG_MIN) over the stored axes; LayerNormalization and
RMSNormalization built from MEAN and the float32 element-wise kernels. ReduceMax/ReduceMin and the Arg ops
run on a DequantizeLinear output's int8 bytes directly (order is kept by a positive scale);
the sums run in float32. ArgMax/ArgMin give int32 indices (ONNX's int64 is not a run-time
type) and refuse select_last_index (TFLM keeps the first extreme)."""
from __future__ import annotations

import numpy as np

from .... import BakeError
from ..checks import attrs
from ..fold import read_axes
from ..layout import plain
from ..qdq import to_float
from ..registry import translator
from ..state import Reader
from ..values import Val

KINDS = {"ReduceMean": "MEAN", "ReduceSum": "SUM", "ReduceMax": "REDUCE_MAX", "ReduceMin": "REDUCE_MIN"}
# the opset from which the axes are an operand, not an attribute
AXES_OPERAND = {"ReduceSum": 13}


def _reduced(r: Reader, v: Val, axes: list[int], keep: bool) -> tuple[tuple, tuple, tuple, list[int]]:
    """(ONNX output shape, its storage perm, the ir output shape, the ir axes) of reducing `axes`."""
    rank, perm = len(v.shape), v.perm
    shape = tuple(1 if k in axes else d for k, d in enumerate(v.shape))
    kept = [k for k in range(rank) if k not in axes]
    if keep:
        out_shape, out_perm = shape, perm
        ir_shape = tuple(shape[p] for p in perm)
    else:
        out_shape = tuple(v.shape[k] for k in kept) or (1,)
        out_perm = tuple(kept.index(p) for p in perm if p not in axes) or (0,)
        ir_shape = tuple(out_shape[p] for p in out_perm)
    return out_shape, out_perm, ir_shape, sorted(perm.index(k) for k in axes)


@translator(*KINDS)
def reduce(r: Reader, node) -> None:
    a = attrs(node)
    v = plain(r, r.rt(node, 0))
    kind = KINDS[node.op_type]
    if kind in ("MEAN", "SUM") or not v.deq:
        v = to_float(r, v)
    rank = len(v.shape)
    spec = r.cval(node, 1, "axes") if r.opset >= AXES_OPERAND.get(node.op_type, 18) else None
    axes = read_axes(node, a, spec, rank)
    if not axes:
        if a.get("noop_with_empty_axes", 0):
            r.set(node.output[0], v)
            return
        axes = list(range(rank))
    keep = bool(a.get("keepdims", 1))
    out_shape, out_perm, ir_shape, ir_axes = _reduced(r, v, axes, keep)
    out = r.like(node.output[0], v.t, ir_shape)
    r.op(kind, [v.t, r.i32(node.output[0] + "/axes", ir_axes)], [out], keep_dims=keep)
    r.set(node.output[0], Val(out, out_shape, out_shape, out_perm, v.deq))


@translator("ArgMax", "ArgMin")
def arg_extreme(r: Reader, node) -> None:
    a = attrs(node)
    if a.get("select_last_index", 0):
        raise BakeError("%s node %r: select_last_index is not supported (the first extreme is taken)"
                        % (node.op_type, node.name))
    v = plain(r, r.rt(node, 0))
    if not v.deq:
        v = to_float(r, v)
    rank = len(v.shape)
    ax = int(a.get("axis", 0))
    if not -rank <= ax < rank:
        raise BakeError("%s node %r: axis %d for a %d-D input" % (node.op_type, node.name, ax, rank))
    out_shape, out_perm, ir_shape, ir_axes = _reduced(r, v, [ax % rank], bool(a.get("keepdims", 1)))
    out = r.tensor(node.output[0], ir_shape, "i32")
    r.op("ARG_MAX" if node.op_type == "ArgMax" else "ARG_MIN",
         [v.t, r.i32(node.output[0] + "/axis", ir_axes)], [out], output_type="INT32")
    r.set(node.output[0], Val(out, out_shape, out_shape, out_perm))


def _mean_kept(r: Reader, v: Val, axes: list[int], name: str) -> Val:
    """MEAN over `axes`, dimensions kept (float32)."""
    out_shape, out_perm, ir_shape, ir_axes = _reduced(r, v, axes, True)
    out = r.tensor(name, ir_shape, "f32")
    r.op("MEAN", [v.t, r.i32(name + "/axes", ir_axes)], [out], keep_dims=True)
    return Val(out, out_shape, out_shape, out_perm)


@translator("LayerNormalization", "RMSNormalization")
def normalization(r: Reader, node) -> None:
    """(x - mean) / sqrt(var + epsilon) * scale + bias over the axes from `axis` on (RMSNormalization:
    x / sqrt(mean(x^2) + epsilon) * scale), from MEAN, SUB, MUL, ADD and RSQRT in float32; the
    optional Mean and InvStdDev outputs too."""
    from .arith import float_op
    a = attrs(node)
    v = to_float(r, plain(r, r.rt(node, 0)))
    rank = len(v.shape)
    ax = int(a.get("axis", -1))
    if not -rank <= ax < rank:
        raise BakeError("%s node %r: axis %d for a %d-D input" % (node.op_type, node.name, ax, rank))
    if a.get("stash_type", 1) != 1:
        raise BakeError("%s node %r: stash_type %d is not supported (float32)" % (node.op_type, node.name,
                                                                                 a["stash_type"]))
    axes = list(range(ax % rank, rank))
    name = node.output[0]
    eps = np.array(a.get("epsilon", 1e-5), np.float32)
    rms = node.op_type == "RMSNormalization"
    mean = None if rms else _mean_kept(r, v, axes, name + "/mean")
    d = v if rms else float_op(r, node, "SUB", [v, mean], name + "/centred")
    var = _mean_kept(r, float_op(r, node, "MUL", [d, d], name + "/squared"), axes, name + "/variance")
    var = float_op(r, node, "ADD", [var, eps], name + "/variance_eps")
    inv = r.like(name + "/inv_std", var.t)
    r.op("RSQRT", [var.t], [inv])
    inv_v = Val(inv, var.shape, var.base, var.perm)
    y = float_op(r, node, "MUL", [d, inv_v], name + "/normalized")
    scale, bias = r.get(node, 1), r.get(node, 2)
    if scale is not None:
        y = float_op(r, node, "MUL", [y, scale], name + ("/scaled" if bias is not None else ""))
    if bias is not None:
        y = float_op(r, node, "ADD", [y, bias], name)
    r.set(name, y)
    extra = [] if rms else [mean, inv_v]
    for out_name, val in zip(node.output[1:], extra):
        if out_name:
            r.set(out_name, val)
