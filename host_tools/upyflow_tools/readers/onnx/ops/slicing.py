"""Slice of a computed tensor with constant starts/ends/axes/steps: one STRIDED_SLICE on the
stored axes (the bytes keep their order; begin/end resolved here by ONNX's clamping rule, so
TFLM's own negative-index and clamping rules never apply). Where on computed float32 operands
or a computed condition (a bool graph input, uint8 bytes on the board): one SELECT_V2."""
from __future__ import annotations

import numpy as np

from .... import BakeError
from ..checks import attrs
from ..layout import plain
from ..qdq import to_float
from ..registry import translator
from ..state import Reader
from ..values import QConst, Val
from .elementwise import aligned, const_operand

MAX_SLICE_RANK = 4   # the STRIDED_SLICE lowering's (TFLM's) limit


def _ints(r: Reader, node, k: int, what: str) -> list[int] | None:
    v = r.cval(node, k, what)
    if v is None:
        return None
    a = np.asarray(v)
    if a.dtype.kind not in "iu" or a.ndim > 1:
        raise BakeError("Slice node %r: %s must be a 1-D integer tensor" % (node.name, what))
    return [int(x) for x in a.reshape(-1)]


def slice_spec(r: Reader, node, rank: int) -> list[tuple[int, int, int, int]]:
    """(axis, start, end, step) per sliced axis as the node gives them (inputs from opset 10,
    attributes before), axes made non-negative."""
    if r.opset < 10:
        a = attrs(node)
        starts, ends = list(a.get("starts", [])), list(a.get("ends", []))
        if not all(isinstance(x, int) for x in starts + ends):
            raise BakeError("Slice node %r: starts and ends must be integers" % node.name)
        axes: list[int] | None = list(a["axes"]) if "axes" in a else None
        steps: list[int] | None = None
    else:
        starts, ends = _ints(r, node, 1, "starts") or [], _ints(r, node, 2, "ends") or []
        axes, steps = _ints(r, node, 3, "axes"), _ints(r, node, 4, "steps")
    axes = axes if axes is not None else list(range(len(starts)))
    steps = steps if steps is not None else [1] * len(starts)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise BakeError("Slice node %r: starts, ends, axes and steps differ in length" % node.name)
    out = []
    for ax, s, e, st in zip(axes, starts, ends, steps):
        if not -rank <= ax < rank or st == 0:
            raise BakeError("Slice node %r: axis %d or step %d for a %d-D input" % (node.name, ax, st, rank))
        out.append((ax % rank, s, e, st))
    if len({ax for ax, *_ in out}) != len(out):
        raise BakeError("Slice node %r: an axis is sliced twice" % node.name)
    return out


def onnx_range(dim: int, start: int, end: int, step: int) -> tuple[int, int]:
    """ONNX Slice's first index and element count on an axis of length dim."""
    start += dim if start < 0 else 0
    end += dim if end < 0 else 0
    if step > 0:
        start, end = min(max(start, 0), dim), min(max(end, 0), dim)
        return start, max(0, -(-(end - start) // step))
    start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
    return start, max(0, -(-(start - end) // -step))


@translator("Slice")
def slice_(r: Reader, node) -> None:
    v = plain(r, r.rt(node, 0))
    rank = len(v.shape)
    first, count, step = [0] * rank, list(v.shape), [1] * rank
    for ax, s, e, st in slice_spec(r, node, rank):
        first[ax], count[ax] = onnx_range(v.shape[ax], s, e, st)
        step[ax] = st
    if 0 in count:
        raise BakeError("Slice node %r makes an empty tensor %s; upyflow needs at least one value"
                        % (node.name, count))
    if count == list(v.shape) and all(st == 1 for st in step):
        r.set(node.output[0], v)
        return
    if rank > MAX_SLICE_RANK:
        raise BakeError("Slice node %r: a %d-D input; upyflow slices computed tensors of up to %d dimensions"
                        % (node.name, rank, MAX_SLICE_RANK))
    name = node.output[0]
    # on the stored axes: stored axis k is logical axis perm[k]; end = start + count*step, or
    # past index 0 for a negative step (end_mask: TFLM would read -1 as the last index)
    begin = [first[p] for p in v.perm]
    end = [first[p] + count[p] * step[p] for p in v.perm]
    strides = [step[p] for p in v.perm]
    end_mask = sum(1 << k for k, e in enumerate(end) if e < 0)
    end = [max(e, 0) for e in end]
    shape = tuple(count)
    out = r.like(name, v.t, tuple(shape[p] for p in v.perm))
    r.op("STRIDED_SLICE", [v.t, r.i32(name + "/begin", begin), r.i32(name + "/end", end),
                           r.i32(name + "/strides", strides)], [out],
         begin_mask=0, end_mask=end_mask, ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=0)
    r.set(name, Val(out, shape, shape, v.perm, v.deq))


@translator("Where")
def where(r: Reader, node) -> None:
    """float32 x and y (a DequantizeLinear output dequantized first), condition computed or
    constant; broadcast as ONNX in the first computed operand's storage order."""
    operands = [r.get(node, k) for k in range(3)]
    if any(v is None for v in operands):
        raise BakeError("Where node %r needs a condition and two values" % node.name)
    c = operands[0]
    if isinstance(c, QConst) or (r.tensors[c.t].dtype not in ("u8", "bool") or c.deq if isinstance(c, Val)
                                 else np.asarray(c).dtype != bool):
        raise BakeError("Where node %r: the condition must be bool" % node.name)
    items, shape, perm = aligned(r, node, operands)
    name = node.output[0]
    ts = []
    for k, it in enumerate(items):
        if isinstance(it, Val):
            ts.append(it.t if k == 0 else to_float(r, it).t)
        elif k == 0:
            ts.append(r.const(name + "/condition", np.asarray(it[0], bool).reshape(it[1]).transpose(perm), "bool"))
        else:
            ts.append(const_operand(r, "%s/operand%d" % (name, k), it[0], it[1], perm, "f32"))
    out = r.tensor(name, tuple(shape[p] for p in perm), "f32")
    r.op("SELECT_V2", ts, [out])
    r.set(name, Val(out, shape, shape, perm))
