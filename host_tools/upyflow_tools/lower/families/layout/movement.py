"""More data movement on computed tensors, each one or a few strided copies (layout.py's
strided_copy; descriptors resolved at bake time): SLICE, PACK, BROADCAST_TO, REVERSE_V2,
SPACE_TO_DEPTH, MIRROR_PAD, GATHER_ND and EMBEDDING_LOOKUP with constant indices,
DYNAMIC_UPDATE_SLICE with constant start indices; ZEROS_LIKE (a fill); SQUARE and ADD_N on
float32 (binary_f32: x * x, and the inputs added in order as TFLM's loop does). Types as the
TFLM kernels take them; values move unchanged, so int8/int16 tensors must share one
quantization (TFLM copies the bytes).
"""
from __future__ import annotations

import itertools

import numpy as np

from .... import BakeError
from ....ir import NP_DTYPE, Graph, Op, Tensor
from ....quant import activation_range
from ...core import UNQUANTIZED, Call, inp, lowering, need_const, types_error
from ..elementwise import F32_OP, _desc_const, broadcast_desc, contiguous_strides, smaller_than_one
from .ops import _check_shape, const_ints, copy_call

UNQUANTIZED.update({"ZEROS_LIKE"})


def _same(graph: Graph, op: Op, x: Tensor, out: Tensor, types: tuple) -> None:
    if x.dtype != out.dtype or out.dtype not in types:
        raise types_error(op, graph)
    if out.dtype in ("i8", "i16") and (x.scale, x.zero_point) != (out.scale, out.zero_point):
        raise BakeError("%s %r: input %r is quantized differently from the output (TFLM copies the values)"
                        % (op.kind, out.name, x.name))


@lowering("ZEROS_LIKE", "int8, int32, float32 (zero bytes, as TFLM)")
def _zeros_like(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    if x.dtype != out.dtype or out.dtype not in ("i8", "i32", "f32"):
        raise types_error(op, graph)
    _check_shape(op, out, list(x.shape))
    if out.dtype == "i8":
        return [Call("fill_int", out=op.outputs[0], n=out.size, value=0)]
    if out.dtype == "f32":
        return [Call("fill_f32", out=op.outputs[0], n=out.size, value=0.0)]
    zero = graph.add_const(out.name + "/zero", np.zeros(1, NP_DTYPE[out.dtype]), out.dtype)
    return [copy_call(graph, op, zero, op.outputs[0], [out.size], [0], [1], tag="zeros")]


@lowering("DYNAMIC_UPDATE_SLICE", "int8, int16, int32, float32; constant start indices (clamped as TFLM)", 3)
def _dynamic_update_slice(graph: Graph, op: Op) -> list[Call]:
    x, upd, out = inp(graph, op, 0), inp(graph, op, 1), graph.tensors[op.outputs[0]]
    _same(graph, op, x, out, ("i8", "i16", "i32", "f32"))
    _same(graph, op, upd, out, ("i8", "i16", "i32", "f32"))
    rank = len(x.shape)
    start = const_ints(graph, op, 2, "start indices")
    if len(upd.shape) != rank or len(start) != rank or any(u > n for u, n in zip(upd.shape, x.shape)):
        raise BakeError("DYNAMIC_UPDATE_SLICE %r: update %s and start %s for an input %s"
                        % (out.name, list(upd.shape), start, list(x.shape)))
    _check_shape(op, out, list(x.shape))
    start = [min(max(s, 0), n - u) for s, n, u in zip(start, x.shape, upd.shape)]
    os_ = contiguous_strides(out.shape)
    return [copy_call(graph, op, op.inputs[0], op.outputs[0], list(x.shape), os_, os_, tag="base"),
            copy_call(graph, op, op.inputs[1], op.outputs[0], list(upd.shape), contiguous_strides(upd.shape), os_, 0,
                      sum(s * t for s, t in zip(start, os_)), "update")]


@lowering("SLICE", "int8, int16, int32, float32, bool; up to 5-D; constant begin and size (-1: to the end)", 3)
def _slice(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    _same(graph, op, x, out, ("i8", "i16", "i32", "f32", "bool", "u8"))
    rank = len(x.shape)
    begin, size = const_ints(graph, op, 1, "begin"), const_ints(graph, op, 2, "size")
    if rank > 5 or len(begin) != rank or len(size) != rank:
        raise BakeError("SLICE %r: begin %s and size %s for a %d-D input (TFLM: up to 5-D)" % (out.name, begin, size,
                                                                                            rank))
    size = [x.shape[d] - begin[d] if size[d] == -1 else size[d] for d in range(rank)]
    if any(b < 0 or s < 0 or b + s > n for b, s, n in zip(begin, size, x.shape)):
        raise BakeError("SLICE %r: begin %s and size %s fall outside the input %s" % (out.name, begin, size,
                                                                                    list(x.shape)))
    _check_shape(op, out, size)
    xs = contiguous_strides(x.shape)
    return [copy_call(graph, op, op.inputs[0], op.outputs[0], size, xs, contiguous_strides(size),
                      sum(b * s for b, s in zip(begin, xs)))]


@lowering("PACK", "int8, int16, int32, float32 (a copy per input); any axis")
def _pack(graph: Graph, op: Op) -> list[Call]:
    out = graph.tensors[op.outputs[0]]
    ins = [inp(graph, op, k) for k in range(len(op.inputs))]
    rank = len(out.shape)
    axis = int(op.options.get("axis", 0))
    axis = axis + rank if axis < 0 else axis
    shape = list(ins[0].shape)
    if not 0 <= axis < rank or len(ins) != out.shape[axis] or any(list(x.shape) != shape for x in ins):
        raise BakeError("PACK %r: %d inputs of shapes %s on axis %d do not make %s"
                        % (out.name, len(ins), [list(x.shape) for x in ins], axis, list(out.shape)))
    _check_shape(op, out, shape[:axis] + [len(ins)] + shape[axis:])
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    inner = int(np.prod(shape[axis:], dtype=np.int64))
    calls = []
    for k, (t, x) in enumerate(zip(op.inputs, ins)):
        _same(graph, op, x, out, ("i8", "i16", "i32", "f32"))
        calls.append(copy_call(graph, op, t, op.outputs[0], [outer, inner], [inner, 1], [len(ins) * inner, 1],
                               0, k * inner, "pack%d" % k))
    return calls


@lowering("BROADCAST_TO", "any (a copy whose broadcast strides are 0); up to 5-D", 2)
def _broadcast_to(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    _same(graph, op, x, out, ("i8", "i16", "i32", "f32", "bool", "u8", "u32"))
    shape = const_ints(graph, op, 1, "shape")
    _check_shape(op, out, shape)
    rank = len(shape)
    if rank > 5 or len(x.shape) > rank:
        raise BakeError("BROADCAST_TO %r: %s to %s (TFLM: up to 5-D)" % (out.name, list(x.shape), shape))
    sx = [1] * (rank - len(x.shape)) + list(x.shape)
    if any(a not in (1, b) for a, b in zip(sx, shape)):
        raise BakeError("BROADCAST_TO %r: %s does not broadcast to %s" % (out.name, list(x.shape), shape))
    st = contiguous_strides(sx)
    return [copy_call(graph, op, op.inputs[0], op.outputs[0], shape, [0 if a == 1 else s for a, s in zip(sx, st)],
                      contiguous_strides(shape))]


@lowering("REVERSE_V2", "int8, int16, int32, float32, bool, uint8; constant axes", 2)
def _reverse(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    _same(graph, op, x, out, ("i8", "i16", "i32", "f32", "bool", "u8"))
    rank = len(x.shape)
    axes = {a + rank if a < 0 else a for a in const_ints(graph, op, 1, "axis")}
    if any(not 0 <= a < rank for a in axes):
        raise BakeError("REVERSE_V2 %r: axes %s for a %d-D input" % (out.name, sorted(axes), rank))
    _check_shape(op, out, list(x.shape))
    xs = contiguous_strides(x.shape)
    start = sum((x.shape[a] - 1) * xs[a] for a in axes)
    return [copy_call(graph, op, op.inputs[0], op.outputs[0], list(x.shape),
                      [-s if d in axes else s for d, s in enumerate(xs)], contiguous_strides(x.shape), start)]


@lowering("SPACE_TO_DEPTH", "int8; float32 (as TFLM); NHWC")
def _space_to_depth(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    _same(graph, op, x, out, ("i8", "f32"))
    b = int(op.options.get("block_size", 0))
    if len(x.shape) != 4 or b < 1 or x.shape[1] % b or x.shape[2] % b:
        raise BakeError("SPACE_TO_DEPTH %r: input %s with block size %d (needs NHWC, height and width multiples "
                        "of the block size)" % (out.name, list(x.shape), b))
    n, h, w, c = x.shape
    _check_shape(op, out, [n, h // b, w // b, b * b * c])
    # out[n, i, j, (p*b + q)*c + k] = x[n, i*b + p, j*b + q, k], walked over (n, i, j, p, q, k)
    return [copy_call(graph, op, op.inputs[0], op.outputs[0], [n, h // b, w // b, b, b, c],
                      [h * w * c, b * w * c, b * c, w * c, c, 1], contiguous_strides([n, h // b, w // b, b, b, c]))]


@lowering("MIRROR_PAD", "int8, int32, float32; REFLECT and SYMMETRIC (a copy per block of the padded output)", 2)
def _mirror_pad(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    _same(graph, op, x, out, ("i8", "i32", "f32"))
    rank = len(x.shape)
    pads = const_ints(graph, op, 1, "paddings")
    mode = op.options.get("mode", 0)
    reflect = 1 if mode in (0, "REFLECT") else 0
    if len(pads) != 2 * rank or min(pads, default=0) < 0 or \
            any(max(pads[2 * d], pads[2 * d + 1]) > x.shape[d] - reflect for d in range(rank)):
        raise BakeError("MIRROR_PAD %r: paddings %s for input %s (each at most the dimension%s)"
                        % (out.name, pads, list(x.shape), " - 1 in REFLECT mode" if reflect else ""))
    _check_shape(op, out, [x.shape[d] + pads[2 * d] + pads[2 * d + 1] for d in range(rank)])
    xs, os_ = contiguous_strides(x.shape), contiguous_strides(out.shape)
    # per dimension, up to three runs of output indices: (count, first input index, input step, output start)
    runs = []
    for d in range(rank):
        n, lo, hi = x.shape[d], pads[2 * d], pads[2 * d + 1]
        r = [(n, 0, 1, lo)]
        if lo:
            r.append((lo, lo - 1 + reflect, -1, 0))
        if hi:
            r.append((hi, n - 1 - reflect, -1, lo + n))
        runs.append(r)
    calls = []
    for k, block in enumerate(itertools.product(*runs)):
        shape = [b[0] for b in block]
        x_off = sum(b[1] * s for b, s in zip(block, xs))
        o_off = sum(b[3] * s for b, s in zip(block, os_))
        calls.append(copy_call(graph, op, op.inputs[0], op.outputs[0], shape, [b[2] * s for b, s in zip(block, xs)],
                               os_, x_off, o_off, "mirror%d" % k))
    return calls


def _row_copies(graph: Graph, op: Op, x_id: int, rows: list[int], row: int, tag: str) -> list[Call]:
    """out row k = x row rows[k] (rows of `row` elements); runs of consecutive rows in one copy."""
    calls, k = [], 0
    while k < len(rows):
        j = k + 1
        while j < len(rows) and rows[j] == rows[j - 1] + 1:
            j += 1
        calls.append(copy_call(graph, op, x_id, op.outputs[0], [(j - k) * row], [1], [1], rows[k] * row, k * row,
                               "%s%d" % (tag, k)))
        k = j
    return calls


@lowering("GATHER_ND", "int8, int32, float32; constant indices (copies of index runs)", 2)
def _gather_nd(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    _same(graph, op, x, out, ("i8", "i32", "f32"))
    idx = need_const(graph, op, 1, "indices")
    if idx.dtype != "i32" or not idx.shape:
        raise BakeError("GATHER_ND %r: indices must be an int32 array" % out.name)
    ind = idx.const_data.reshape(-1, idx.shape[-1]).astype(np.int64)
    depth = idx.shape[-1]
    if depth > len(x.shape) or (ind < 0).any() or (ind >= np.array(x.shape[:depth])).any():
        raise BakeError("GATHER_ND %r: indices outside the input %s" % (out.name, list(x.shape)))
    _check_shape(op, out, list(idx.shape[:-1]) + list(x.shape[depth:]))
    row = int(np.prod(x.shape[depth:], dtype=np.int64))
    flat = [int(np.ravel_multi_index(tuple(i), x.shape[:depth])) for i in ind] if depth else [0] * len(ind)
    return _row_copies(graph, op, op.inputs[0], flat, row, "gather")


@lowering("EMBEDDING_LOOKUP", "int8, float32 (same type in and out); constant ids (copies of rows)", 2)
def _embedding_lookup(graph: Graph, op: Op) -> list[Call]:
    ids, x, out = need_const(graph, op, 0, "ids"), inp(graph, op, 1), graph.tensors[op.outputs[0]]
    _same(graph, op, x, out, ("i8", "f32"))
    rows = [int(v) for v in ids.const_data.reshape(-1)]
    if ids.dtype != "i32" or len(ids.shape) != 1 or any(not 0 <= r < x.shape[0] for r in rows):
        raise BakeError("EMBEDDING_LOOKUP %r: ids must be 1-D int32 within the %d rows" % (out.name, x.shape[0]))
    _check_shape(op, out, [len(rows)] + list(x.shape[1:]))
    return _row_copies(graph, op, op.inputs[1], rows, int(np.prod(x.shape[1:], dtype=np.int64)), "row")


@lowering("SQUARE", "float32 (x * x)")
def _square(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    if x.dtype != "f32" or out.dtype != "f32":
        raise types_error(op, graph)
    return [Call("binary_f32", x1=op.inputs[0], x2=op.inputs[0], out=op.outputs[0],
                 d=_desc_const(graph, op, broadcast_desc(op, x, x, out)), op=F32_OP["MUL"],
                 lo=-3.4028234663852886e38, hi=3.4028234663852886e38)]


@lowering("ADD_N", "int8 (TFLM's integer sum); float32 (added in input order, as TFLM)")
def _add_n(graph: Graph, op: Op) -> list[Call]:
    ins, out = [inp(graph, op, k) for k in range(len(op.inputs))], graph.tensors[op.outputs[0]]
    if len(ins) >= 2 and out.dtype == "i8" and all(t.dtype == "i8" and t.shape == out.shape for t in ins):
        return _add_n_s8(graph, op, ins, out)
    if len(ins) < 2 or any(t.dtype != "f32" or t.shape != out.shape for t in ins) or out.dtype != "f32":
        raise types_error(op, graph)
    desc = _desc_const(graph, op, broadcast_desc(op, out, out, out))
    big = 3.4028234663852886e38
    calls = [Call("binary_f32", x1=op.inputs[0], x2=op.inputs[1], out=op.outputs[0], d=desc, op=F32_OP["ADD"],
                  lo=-big, hi=big)]
    for t in op.inputs[2:]:   # element-wise in place: out[i] = out[i] + x[i]
        calls.append(Call("binary_f32", x1=op.outputs[0], x2=t, out=op.outputs[0], d=desc, op=F32_OP["ADD"],
                          lo=-big, hi=big))
    return calls


def _add_n_s8(graph: Graph, op: Op, ins: list[Tensor], out: Tensor) -> list[Call]:
    # TFLM: every input quantized as the first; the input multiplier scale / (2 scale) is exactly
    # 1/2 (add_n_s8 relies on it), the output one 2 scale / (2^20 out_scale) below one
    x = ins[0]
    for t in [x] + [out]:
        if len(t.scale) != 1:
            raise BakeError("ADD_N %r: tensor %r needs per-tensor quantization" % (out.name, t.name))
    if any((t.scale, t.zero_point) != (x.scale, x.zero_point) for t in ins[1:]):
        raise BakeError("ADD_N %r: the inputs are quantized differently (TFLM needs one scale and zero point)"
                        % out.name)
    mo, sho = smaller_than_one(op, 2.0 * x.sc / ((1 << 20) * out.sc), "output")
    lo, hi = activation_range("NONE", "i8", out.sc, out.zp)
    acc = graph.add_tensor(Tensor(out.name + "/add_n_sum", (out.size,), "i32"))
    last = len(op.inputs) - 1
    return [Call("add_n_s8", x=t, acc=acc, out=op.outputs[0], n=out.size,
                 stage=0 if k == 0 else (2 if k == last else 1), off=-x.zp, mo=mo, sho=sho, ooff=out.zp, lo=lo,
                 hi=hi) for k, t in enumerate(op.inputs)]
