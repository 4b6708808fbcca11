"""MEAN, SUM, REDUCE_MAX, REDUCE_MIN, REDUCE_ALL (bool bytes): the reduced axes and the kept
ones as two blocks of an int32 descriptor [outer block][inner block] (kernels_pure/reduce.py
walks it), 1/count folded into the requantization as TFLM does. CUMSUM: running sums along one
axis (the input as [pre][depth][post])."""
from __future__ import annotations

import numpy as np

from ... import BakeError
from ...ir import DTYPE_SIZE as ESIZE
from ...ir import Graph, Op, Tensor
from ...quant import QRANGE, quantize_multiplier
from ..core import Call, inp, lowering, need_const
from ..ort_rounding import ort_mean_scale, uses_ort
from .elementwise import contiguous_strides, fuse_dims, smaller_than_one
from .layout.ops import const_ints, same_type


def _reduce_blocks(op: Op, x: Tensor, out: Tensor, axes: list[int]) -> tuple[np.ndarray, int]:
    """[no, outer shape..., outer strides..., ni, inner shape..., inner strides...] and the count."""
    rank = len(x.shape)
    red = []
    for a in axes:   # TFLM's ResolveAxis: negative axes wrap, duplicates count once
        a = a + rank if a < 0 else a
        if not 0 <= a < rank:
            raise BakeError("%s %r: axis out of range for a %d-D input" % (op.kind, out.name, rank))
        if a not in red:
            red.append(a)
    keep = [d for d in range(rank) if d not in red]
    if op.options.get("keep_dims", False):
        want = [1 if d in red else x.shape[d] for d in range(rank)]
    else:
        want = [x.shape[d] for d in keep]
    # TFLM writes the kept dimensions in order: only the element count matters
    if out.size != int(np.prod(want, dtype=np.int64)):
        raise BakeError("%s output %r has shape %s, the reduction gives %s"
                        % (op.kind, out.name, list(out.shape), want))
    xs = contiguous_strides(x.shape)
    oshape, (ost,) = fuse_dims([x.shape[d] for d in keep], [[xs[d] for d in keep]])
    ishape, (ist,) = fuse_dims([x.shape[d] for d in red], [[xs[d] for d in red]])
    count = int(np.prod([x.shape[d] for d in red], dtype=np.int64))
    return np.array([len(oshape)] + oshape + ost + [len(ishape)] + ishape + ist, np.int32), count


def _descriptor(graph: Graph, op: Op, x: Tensor, out: Tensor, axes: list[int]) -> tuple[int, int]:
    """The block descriptor of a reduction over axes, as a constant's tensor id, and the count."""
    desc, count = _reduce_blocks(op, x, out, axes)
    return graph.add_const(out.name + "/reduce", desc, "i32"), count


def _mean_or_sum(graph: Graph, op: Op) -> tuple[Tensor, Tensor, int, int]:
    """MEAN's and SUM's input, output, descriptor (axes: operand 1) and count."""
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    same_type(graph, op, x, out)
    if x.size == 0:
        raise BakeError("%s %r: empty input" % (op.kind, out.name))
    d, count = _descriptor(graph, op, x, out, const_ints(graph, op, 1, "axis"))
    return x, out, d, count


def _mean_q(op: Op, x: Tensor, out: Tensor, d: int, mult: int, shift: int, count: int) -> Call:
    """The integer sum of count values less count zero points, requantized by (mult, shift)."""
    lo, hi = QRANGE[out.dtype]
    return Call("mean_q", x=op.inputs[0], out=op.outputs[0], d=d, esize=2 if x.dtype == "i16" else 1, in_zp=x.zp,
                m=int(mult), sh=int(shift), out_zp=out.zp, count=count, lo=lo, hi=hi)


@lowering("MEAN", "int8; int16; float32; any axes, keep_dims", 2)
def _mean(graph: Graph, op: Op) -> list[Call]:
    x, out, d, count = _mean_or_sum(graph, op)
    if x.dtype == "f32":
        return [Call("mean_f32", x=op.inputs[0], out=op.outputs[0], d=d, count=count)]
    if uses_ort(graph) and x.dtype == "i8":   # onnxruntime's QLinearGlobalAveragePool
        lo, hi = QRANGE["i8"]
        return [Call("mean_s8_ort", x=op.inputs[0], out=op.outputs[0], d=d, in_zp=x.zp,
                     scale=ort_mean_scale(x, out, count), out_zp=out.zp, count=count, lo=lo, hi=hi)]
    # TFLM folds 1/count into the multiplier (reduce.h QuantizedMeanOrSum)
    mult, shift = quantize_multiplier(x.sc / out.sc)
    n = min(count.bit_length() - 1, 32, 31 + shift)
    mult = ((mult << n) // count) if n >= 0 else mult
    shift -= max(n, 0)
    return [_mean_q(op, x, out, d, mult, shift, count)]


@lowering("SUM", "int8; int16; float32; any axes, keep_dims", 2)
def _sum(graph: Graph, op: Op) -> list[Call]:
    x, out, d, count = _mean_or_sum(graph, op)
    if x.dtype == "f32":   # the mean kernel's float32 sum, divided by 1 (exact)
        return [Call("mean_f32", x=op.inputs[0], out=op.outputs[0], d=d, count=1)]
    # TFLM's QuantizedMeanOrSum with compute_sum: the int32 sum less count * zero point,
    # requantized by in_scale / out_scale
    mult, shift = quantize_multiplier(x.sc / out.sc)
    return [_mean_q(op, x, out, d, mult, shift, count)]


def _maxmin(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    same_type(graph, op, x, out)
    if x.dtype == "i16":
        raise BakeError("%s %r: int16 is not supported (TFLM's takes int8 and float32)" % (op.kind, out.name))
    if x.size == 0:
        raise BakeError("%s %r: empty input" % (op.kind, out.name))
    if x.dtype != "f32" and (x.sc != out.sc or x.zp != out.zp):
        raise BakeError("%s %r: input and output quantization differ (TFLM requires them equal)"
                        % (op.kind, out.name))
    d, _ = _descriptor(graph, op, x, out, const_ints(graph, op, 1, "axis"))
    is_max = int(op.kind == "REDUCE_MAX")
    if x.dtype == "f32":
        return [Call("reduce_maxmin_f32", x=op.inputs[0], out=op.outputs[0], d=d, is_max=is_max)]
    return [Call("reduce_maxmin_q", x=op.inputs[0], out=op.outputs[0], d=d, esize=1, is_max=is_max)]


lowering("REDUCE_MAX", "int8; float32; any axes, keep_dims", 2)(_maxmin)
lowering("REDUCE_MIN", "int8; float32; any axes, keep_dims", 2)(_maxmin)


def _arg_maxmin(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    if x.dtype not in ("i8", "f32") or out.dtype != "i32":   # TFLM: no int16; int64 is not a run-time type
        raise BakeError("%s %r: %s in, %s out is not supported (int8 or float32 in, int32 out)"
                        % (op.kind, out.name, x.dtype, out.dtype))
    ax = need_const(graph, op, 1, "axis")
    if ax.const_data.size != 1:
        raise BakeError("%s %r: the axis must be one value" % (op.kind, out.name))
    rank = len(x.shape)
    a = int(ax.const_data.reshape(-1)[0])
    a = a + rank if a < 0 else a
    if not 0 <= a < rank or x.size == 0:
        raise BakeError("%s %r: axis %d out of range for shape %s" % (op.kind, out.name, a, list(x.shape)))
    d, _ = _descriptor(graph, op, x, out, [a])
    return [Call("arg_maxmin", x=op.inputs[0], out=op.outputs[0], d=d, esize=ESIZE[x.dtype],
                 is_max=int(op.kind == "ARG_MAX"), n=out.size)]


lowering("ARG_MAX", "int8; float32 in, int32 out; one axis", 2)(_arg_maxmin)
lowering("ARG_MIN", "int8; float32 in, int32 out; one axis", 2)(_arg_maxmin)


@lowering("REDUCE_ALL", "bool; any axes, keep_dims (the minimum of the bool bytes)", 2)
def _reduce_all(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    if any(t.dtype != "bool" and (t.dtype != "u8" or t.scale != [1.0] or t.zero_point != [0]) for t in (x, out)):
        raise BakeError("REDUCE_ALL %r: %s in, %s out is not supported (bool)" % (out.name, x.dtype, out.dtype))
    d, _ = _descriptor(graph, op, x, out, const_ints(graph, op, 1, "axis"))
    return [Call("reduce_maxmin_q", x=op.inputs[0], out=op.outputs[0], d=d, esize=1, is_max=0)]


@lowering("CUMSUM", "int8 (TFLM's integer sums); float32; one constant axis, exclusive, reverse", 2)
def _cumsum(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    if x.dtype != out.dtype or x.dtype not in ("i8", "f32") or tuple(x.shape) != tuple(out.shape):
        raise BakeError("CUMSUM %r: %s %s in, %s %s out is not supported (int8 or float32, one shape)"
                        % (out.name, x.dtype, list(x.shape), out.dtype, list(out.shape)))
    ax = need_const(graph, op, 1, "axis")
    rank = len(x.shape)
    a = int(ax.const_data.reshape(-1)[0]) if ax.dtype == "i32" and ax.const_data.size == 1 else rank
    a = a + rank if a < 0 else a
    if not 0 <= a < rank:
        raise BakeError("CUMSUM %r: the axis must be one int32 within the input's %d dimensions" % (out.name, rank))
    o = op.options
    geom = dict(pre=int(np.prod(x.shape[:a], dtype=np.int64)), depth=x.shape[a],
                post=int(np.prod(x.shape[a + 1:], dtype=np.int64)), exclusive=int(bool(o.get("exclusive"))),
                reverse=int(bool(o.get("reverse"))))
    if x.size == 0:
        raise BakeError("CUMSUM %r: empty input" % out.name)
    if x.dtype == "f32":
        return [Call("cumsum_f32", x=op.inputs[0], out=op.outputs[0], **geom)]
    for t in (x, out):
        if len(t.scale) != 1:
            raise BakeError("CUMSUM %r: tensor %r needs per-tensor quantization" % (out.name, t.name))
    # TFLM: input multiplier scale / (2 scale) (exactly 1/2), output 2 scale / (2^20 out_scale)
    mo, sho = smaller_than_one(op, 2.0 * x.sc / ((1 << 20) * out.sc), "output")
    lo, hi = QRANGE["i8"]
    return [Call("cumsum_s8", x=op.inputs[0], out=op.outputs[0], **geom, off=-x.zp, mo=mo, sho=sho, ooff=out.zp,
                 lo=lo, hi=hi)]
