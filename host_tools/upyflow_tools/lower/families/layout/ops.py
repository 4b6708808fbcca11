"""Data movement: CONCATENATION, PAD/PADV2, STRIDED_SLICE, TRANSPOSE, SPLIT, SPLIT_V,
DEPTH_TO_SPACE, GATHER (constant indices), TILE, FILL, UNPACK, SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND,
SELECT/SELECT_V2; the layout-only ops RESHAPE, SQUEEZE, EXPAND_DIMS and the resource
variables' copies (byte copies when not aliased away).

The movement ops lower to one kernel, strided_copy: out[o_off + sum(i*os)] =
x[x_off + sum(i*xs)] over a shape, all resolved at bake time into an int32
descriptor [nd, x_off, o_off, shape..., xs..., os...] (PAD adds a fill first).
"""
from __future__ import annotations

import numpy as np

from .... import BakeError
from ....ir import DTYPE_SIZE, NP_DTYPE, Graph, Op, Tensor
from ...core import UNQUANTIZED, Call, inp, lowering, need_const, types_error
from ..elementwise import contiguous_strides, fuse_dims

TYPES = ("i8", "i16", "f32", "i32", "u32")   # int32/uint32: the TFLM audio front end
BOOL_OK = ("CONCATENATION", "STRIDED_SLICE")   # the movement ops TFLM runs on bools too
MAX_COPY_DIMS = 8   # the strided copy's descriptor (UF_EW_MAX_DIMS)


def copy_call(graph: Graph, op: Op, src: int, dst: int, shape: list[int], xs: list[int], os_: list[int],
              x_off: int = 0, o_off: int = 0, tag: str = "copy") -> Call:
    fshape, (fxs, fos) = fuse_dims(list(shape), [list(xs), list(os_)])
    desc = np.array([len(fshape), x_off, o_off] + fshape + fxs + fos, np.int32)
    name = graph.tensors[op.outputs[0]].name + "/" + tag
    return Call("strided_copy", x=src, out=dst, d=graph.add_const(name, desc, "i32"),
                esize=DTYPE_SIZE[graph.tensors[dst].dtype])


def _bool_bytes(t: Tensor) -> bool:
    # a bool graph input/output, or a computed bool (uint8 bytes 0/1, scale 1)
    return t.dtype == "bool" or (t.dtype == "u8" and t.scale == [1.0] and t.zero_point == [0])


def same_type(graph: Graph, op: Op, x: Tensor, out: Tensor) -> None:
    if op.kind in BOOL_OK and _bool_bytes(x) and _bool_bytes(out):
        return   # TFLM's bool CONCATENATION and STRIDED_SLICE: the bytes copied
    if x.dtype != out.dtype or out.dtype not in TYPES:
        raise types_error(op, graph)


def const_ints(graph: Graph, op: Op, k: int, what: str) -> list[int]:
    t = need_const(graph, op, k, what)
    if t.dtype != "i32":
        raise BakeError("%s %s %r is %s; TFLM reads it as int32" % (op.kind, what, t.name, t.dtype))
    return [int(v) for v in t.const_data.reshape(-1)]


def _check_shape(op: Op, out: Tensor, shape: list[int]) -> None:
    if list(out.shape) != list(shape):
        raise BakeError("%s output %r has shape %s, the operator gives %s"
                        % (op.kind, out.name, list(out.shape), list(shape)))


@lowering("CONCATENATION", "int8 (inputs quantized as the output); int16 (zero points 0); float32; "
                          "int32, uint32; bool; any axis")
def _concat(graph: Graph, op: Op) -> list[Call]:
    out = graph.tensors[op.outputs[0]]
    ins = [graph.tensors[i] for i in op.inputs]
    if op.options.get("fused_activation_function", "NONE") != "NONE":
        raise BakeError("CONCATENATION %r: TFLM supports no fused activation here" % out.name)
    if len(ins) > 10:
        raise BakeError("CONCATENATION %r has %d inputs; TFLM takes at most 10" % (out.name, len(ins)))
    rank = len(out.shape)
    axis = op.options.get("axis", 0)
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis < max(rank, 1):
        raise BakeError("CONCATENATION %r: axis %d for a %d-D output" % (out.name, op.options.get("axis", 0), rank))
    for x in ins:
        same_type(graph, op, x, out)
        if out.dtype == "i8" and (x.sc, x.zp) != (out.sc, out.zp):
            # TFLM's concatenation copies int8 bytes and so requires equal quantization
            raise BakeError("CONCATENATION %r: int8 input %r is quantized differently from the output "
                            "(TFLM requires equal scales and zero points)" % (out.name, x.name))
        if out.dtype == "i16" and (x.zp or out.zp):
            raise BakeError("CONCATENATION %r: int16 tensors need zero point 0 (TFLM)" % out.name)
        if len(x.shape) != rank or any(x.shape[d] != out.shape[d] for d in range(rank) if d != axis):
            raise BakeError("CONCATENATION %r: input %r of shape %s does not fit the output %s on axis %d"
                            % (out.name, x.name, list(x.shape), list(out.shape), axis))
    if sum(x.shape[axis] for x in ins) != out.shape[axis]:
        raise BakeError("CONCATENATION %r: inputs add up to %d on axis %d, the output has %d"
                        % (out.name, sum(x.shape[axis] for x in ins), axis, out.shape[axis]))
    outer = int(np.prod(out.shape[:axis], dtype=np.int64))
    inner = int(np.prod(out.shape[axis + 1:], dtype=np.int64))
    calls, at = [], 0
    for k, (t, x) in enumerate(zip(op.inputs, ins)):
        n = x.shape[axis] * inner
        calls.append(copy_call(graph, op, t, op.outputs[0], [outer, n], [n, 1], [out.shape[axis] * inner, 1],
                               0, at, "concat%d" % k))
        at += n
    return calls


def _pad(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    same_type(graph, op, x, out)
    rank = len(x.shape)
    if rank > 5:
        raise BakeError("%s %r: %d-D input; TFLM pads up to 5-D" % (op.kind, out.name, rank))
    pads = const_ints(graph, op, 1, "paddings")
    if len(pads) != 2 * rank:
        raise BakeError("%s %r: %d paddings for a %d-D input" % (op.kind, out.name, len(pads), rank))
    if min(pads, default=0) < 0:
        raise BakeError("%s %r: negative paddings are not supported" % (op.kind, out.name))
    _check_shape(op, out, [x.shape[d] + pads[2 * d] + pads[2 * d + 1] for d in range(rank)])
    value: int | float
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        c = need_const(graph, op, 2, "constant value")
        if c.dtype != x.dtype or c.size != 1:
            raise BakeError("%s %r: the constant value must be one %s" % (op.kind, out.name, x.dtype))
        if x.dtype == "i8" and (c.sc, c.zp) != (out.sc, out.zp):
            raise BakeError("%s %r: int8 constant value quantized differently from the output (TFLM)"
                            % (op.kind, out.name))
        value = c.const_data.reshape(-1)[0].item()
    else:
        # int8 pads with the output zero point; int16 and float32 with 0 (as TFLM)
        value = out.zp if x.dtype == "i8" else 0
    os_ = contiguous_strides(out.shape)
    o_off = sum(pads[2 * d] * os_[d] for d in range(rank))
    copy = copy_call(graph, op, op.inputs[0], op.outputs[0], list(x.shape), contiguous_strides(x.shape), os_,
                     0, o_off)
    if out.size == x.size:
        return [copy]
    if x.dtype == "f32":
        fill = Call("fill_f32", out=op.outputs[0], n=out.size, value=float(value))
    elif x.dtype in ("i8", "i16"):
        fill = Call("fill_int", out=op.outputs[0], n=out.size, value=int(value))
    else:   # int32 and the other widths: the value's bytes copied everywhere (a stride-0 copy)
        v = graph.add_const(out.name + "/pad_value", np.array([value], NP_DTYPE[x.dtype]), x.dtype)
        fill = copy_call(graph, op, v, op.outputs[0], [out.size], [0], [1], 0, 0, "pad_fill")
    return [fill, copy]


lowering("PAD", "int8 (pads with the zero point); int16; float32; up to 5-D", 2)(_pad)
lowering("PADV2", "int8; int16; float32; up to 5-D; constant value from the third input", 2)(_pad)


def _clamp(v: int, lo: int, hi: int) -> int:
    return hi if v > hi else (lo if v < lo else v)


def slice_geometry(op: Op, name: str, shape: list[int], begin: list[int], end: list[int],
                   strides: list[int]) -> tuple[list[int], list[int], list[int]]:
    """TFLM's STRIDED_SLICE arithmetic: per-dimension start and count, and the output shape."""
    o = op.options
    if o.get("ellipsis_mask", 0) or o.get("new_axis_mask", 0) or o.get("offset", False):
        raise BakeError("STRIDED_SLICE %r: ellipsis/new-axis masks and offset are not supported (TFLM ignores them)"
                        % name)
    rank = len(shape)
    if not len(begin) == len(end) == len(strides) == rank:
        raise BakeError("STRIDED_SLICE %r: begin/end/strides need one value per input dimension" % name)
    if 0 in strides:
        raise BakeError("STRIDED_SLICE %r: a stride is 0" % name)
    bm, em, sm = o.get("begin_mask", 0), o.get("end_mask", 0), o.get("shrink_axis_mask", 0)
    starts, counts, out_shape = [], [], []
    for d in range(rank):
        size, st = shape[d], strides[d]
        # TFLM's eval-time start/stop (strided_slice_logic.h), then the element count
        lo, hi = (0, size) if st > 0 else (-1, size - 1)
        s = begin[d] + size if begin[d] < 0 else begin[d]
        s = _clamp(s, lo, hi)
        if bm & (1 << d):
            s = 0 if st > 0 else size - 1
        if sm & (1 << d):
            e = s if s >= size else s + 1
        else:
            e = end[d] + size if end[d] < 0 else end[d]
            e = _clamp(e, lo, hi)
            if em & (1 << d):
                e = size if st > 0 else -1
        n = max(0, -(-(e - s) // st)) if st > 0 else max(0, -(-(s - e) // -st))
        starts.append(s)
        counts.append(n)
        if not sm & (1 << d):
            out_shape.append(n)
    return starts, counts, out_shape


@lowering("STRIDED_SLICE", "int8; int16; float32; int32, uint32; bool; up to 4-D; begin/end/shrink-axis masks", 4)
def _strided_slice(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    same_type(graph, op, x, out)
    rank = len(x.shape)
    begin, end, strides = (const_ints(graph, op, k, w) for k, w in ((1, "begin"), (2, "end"), (3, "strides")))
    if rank > 4:
        raise BakeError("STRIDED_SLICE %r: %d-D input; TFLM slices up to 4-D" % (out.name, rank))
    starts, counts, out_shape = slice_geometry(op, out.name, list(x.shape), begin, end, strides)
    _check_shape(op, out, out_shape)
    xs = contiguous_strides(x.shape)
    x_off = sum(s * t for s, t in zip(starts, xs)) if out.size else 0
    return [copy_call(graph, op, op.inputs[0], op.outputs[0], counts, [st * t for st, t in zip(strides, xs)],
                      contiguous_strides(counts), x_off)]


@lowering("TRANSPOSE", "int8; int16; float32; up to 5-D", 2)
def _transpose(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    same_type(graph, op, x, out)
    rank = len(x.shape)
    perm = const_ints(graph, op, 1, "permutation")
    if rank > 5 or sorted(perm) != list(range(rank)):
        raise BakeError("TRANSPOSE %r: permutation %s for a %d-D input (TFLM: up to 5-D)" % (out.name, perm, rank))
    _check_shape(op, out, [x.shape[p] for p in perm])
    xs = contiguous_strides(x.shape)
    return [copy_call(graph, op, op.inputs[0], op.outputs[0], list(out.shape), [xs[p] for p in perm],
                      contiguous_strides(out.shape))]


def _layout_copy(graph: Graph, op: Op) -> list[Call]:
    # Normally aliased away by passes.alias_layout_ops (or variables.py); a byte copy otherwise.
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    if x.size != out.size or x.dtype != out.dtype:
        raise BakeError("%s %r: %s %s cannot become %s %s"
                        % (op.kind, out.name, x.dtype, list(x.shape), out.dtype, list(out.shape)))
    return [Call("copy_bytes", x=op.inputs[0], out=op.outputs[0], n=x.size)]


lowering("RESHAPE", "any (no kernel: the output shares the input's arena bytes)")(_layout_copy)
lowering("SQUEEZE", "any (no kernel: the output shares the input's arena bytes)")(_layout_copy)
lowering("EXPAND_DIMS", "any (no kernel: the output shares the input's arena bytes)")(_layout_copy)


def _split_calls(graph: Graph, op: Op, x_id: int, axis: int, sizes: list[int]) -> list[Call]:
    """One strided_copy per output: output k takes sizes[k] slices of the axis (as TFLM,
    raw values: the outputs keep the input's quantization)."""
    x = graph.tensors[x_id]
    rank = len(x.shape)
    a = axis + rank if axis < 0 else axis
    if not 0 <= a < rank:
        raise BakeError("%s %r: axis %d for a %d-D input" % (op.kind, x.name, axis, rank))
    if len(sizes) != len(op.outputs) or sum(sizes) != x.shape[a] or min(sizes, default=0) < 0:
        raise BakeError("%s %r: %d outputs of sizes %s do not split %d on axis %d"
                        % (op.kind, x.name, len(op.outputs), sizes, x.shape[a], a))
    outer = int(np.prod(x.shape[:a], dtype=np.int64))
    inner = int(np.prod(x.shape[a + 1:], dtype=np.int64))
    calls, at = [], 0
    for t, n in zip(op.outputs, sizes):
        out = graph.tensors[t]
        same_type(graph, op, x, out)
        _check_shape(op, out, list(x.shape[:a]) + [n] + list(x.shape[a + 1:]))
        if n:
            calls.append(copy_call(graph, Op(op.kind, op.inputs, [t]), x_id, t, [outer, n * inner],
                                   [x.shape[a] * inner, 1], [n * inner, 1], at * inner, 0, "split"))
        at += n
    return calls


@lowering("SPLIT", "int8; int16; float32; int32; any axis (a copy per output)", 2)
def _split(graph: Graph, op: Op) -> list[Call]:
    axis = const_ints(graph, op, 0, "axis")
    x = inp(graph, op, 1)
    if len(axis) != 1:
        raise BakeError("SPLIT %r: the axis must be one value" % x.name)
    a = axis[0] + len(x.shape) if axis[0] < 0 else axis[0]
    n = len(op.outputs)
    if op.options.get("num_splits", n) != n or not 0 <= a < len(x.shape) or x.shape[a] % n:
        raise BakeError("SPLIT %r: %d outputs cannot split %s on axis %d evenly"
                        % (x.name, n, list(x.shape), axis[0]))
    return _split_calls(graph, op, op.inputs[1], a, [x.shape[a] // n] * n)


@lowering("SPLIT_V", "int8; int16; float32; int32; any axis, one size may be -1", 3)
def _split_v(graph: Graph, op: Op) -> list[Call]:
    x = inp(graph, op, 0)
    sizes, axis = const_ints(graph, op, 1, "size_splits"), const_ints(graph, op, 2, "axis")
    if len(axis) != 1 or not -len(x.shape) <= axis[0] < len(x.shape):
        raise BakeError("SPLIT_V %r: axis %s for a %d-D input" % (x.name, axis, len(x.shape)))
    a = axis[0] % len(x.shape)
    if sizes.count(-1) > 1:
        raise BakeError("SPLIT_V %r: more than one size is -1" % x.name)
    if -1 in sizes:   # the rest of the axis, as TFLM resolves it
        sizes[sizes.index(-1)] = x.shape[a] - (sum(sizes) + 1)
    return _split_calls(graph, op, op.inputs[0], a, sizes)


@lowering("DEPTH_TO_SPACE", "int8; float32 (as TFLM); NHWC, batch 1")
def _depth_to_space(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    same_type(graph, op, x, out)
    if x.dtype not in ("i8", "f32"):
        raise types_error(op, graph)
    b = int(op.options.get("block_size", 0))
    if len(x.shape) != 4 or x.shape[0] != 1 or b < 1 or x.shape[3] % (b * b):
        raise BakeError("DEPTH_TO_SPACE %r: input %s with block size %d (needs batch-1 NHWC, "
                        "depth a multiple of the block size squared)" % (out.name, list(x.shape), b))
    _, h, w, c = x.shape
    co = c // (b * b)
    _check_shape(op, out, [1, h * b, w * b, co])
    # out[h*b+i, w*b+j, k] = x[h, w, (i*b+j)*co + k], walked over (h, i, w, j, k)
    return [copy_call(graph, op, op.inputs[0], op.outputs[0], [h, b, w, b, co],
                      [w * c, b * co, c, co, 1], [b * w * b * co, w * b * co, b * co, co, 1])]


# variables.py made each resource a state tensor; TFLM copies raw bytes (memcpy)
lowering("READ_VARIABLE", "any (the variable's state tensor, shared or copied)")(_layout_copy)
lowering("ASSIGN_VARIABLE", "any (a copy into the state tensor, or the producer writes it)")(_layout_copy)


@lowering("VAR_HANDLE", "resource variables: each becomes a state tensor at bake time", 0)
def _resolved(graph: Graph, op: Op) -> list[Call]:
    raise BakeError("%s outside a TFLite main graph is not supported" % op.kind)


lowering("CALL_ONCE", "run at bake time: its subgraph's constants are the variables' initial "
                      "values, restored by reset()", 0)(_resolved)


@lowering("GATHER", "int8; float32; constant indices (copies of index runs), batch_dims 0", 2)
def _gather(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    same_type(graph, op, x, out)
    if x.dtype not in ("i8", "f32"):   # TFLM's gather takes these (constant int32 ones are folded)
        raise BakeError("GATHER %r: %s is not supported (TFLM's takes int8 and float32)"
                        % (out.name, {"i16": "int16", "i32": "int32", "u32": "uint32"}.get(x.dtype, x.dtype)))
    idx_t = inp(graph, op, 1)
    if not idx_t.is_const:
        raise BakeError("GATHER %r: indices computed at run time are not supported (constant ones are)"
                        % out.name)
    if op.options.get("batch_dims", 0):
        raise BakeError("GATHER %r: batch_dims %d is not supported (0 is)" % (out.name, op.options["batch_dims"]))
    rank = len(x.shape)
    axis = op.options.get("axis", 0)
    a = axis + rank if axis < 0 else axis
    if not 0 <= a < rank:
        raise BakeError("GATHER %r: axis %d for a %d-D input" % (out.name, axis, rank))
    idx = [int(v) for v in np.asarray(idx_t.data).reshape(-1)]
    n = x.shape[a]
    if any(not 0 <= v < n for v in idx):   # TFLM fails the invoke on these
        raise BakeError("GATHER %r: an index is outside [0, %d)" % (out.name, n))
    _check_shape(op, out, list(x.shape[:a]) + list(idx_t.shape) + list(x.shape[a + 1:]))
    outer = int(np.prod(x.shape[:a], dtype=np.int64))
    inner = int(np.prod(x.shape[a + 1:], dtype=np.int64))
    if not idx or outer * inner == 0:
        return []
    # one strided copy per run of consecutive indices
    calls, j = [], 0
    while j < len(idx):
        k = j + 1
        while k < len(idx) and idx[k] == idx[k - 1] + 1:
            k += 1
        calls.append(copy_call(graph, op, op.inputs[0], op.outputs[0], [outer, (k - j) * inner],
                               [n * inner, 1], [len(idx) * inner, 1], idx[j] * inner, j * inner, "gather%d" % j))
        j = k
    return calls


def _const_values(graph: Graph, op: Op, k: int, what: str) -> list[int]:
    """An int32/int64 constant operand's values (TILE's multiples may be int64)."""
    t = need_const(graph, op, k, what)
    if t.dtype not in ("i32", "i64"):
        raise BakeError("%s %s %r is %s; expected int32 or int64" % (op.kind, what, t.name, t.dtype))
    return [int(v) for v in t.const_data.reshape(-1)]


@lowering("TILE", "any of int8, int16, float32, int32 (one strided copy; TFLM has no kernel, as TFLite)", 2)
def _tile(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    same_type(graph, op, x, out)
    mult = _const_values(graph, op, 1, "multiples")
    if len(mult) != len(x.shape) or min(mult, default=1) < 1:
        raise BakeError("TILE %r: multiples %s for a %d-D input" % (out.name, mult, len(x.shape)))
    _check_shape(op, out, [d * m for d, m in zip(x.shape, mult)])
    # out[(j, i) per axis] = x[i]: each axis walked as (repeat j, index i), x not moving with j
    xs, os_ = contiguous_strides(x.shape), contiguous_strides(out.shape)
    shape, xst, ost = [], [], []
    for d, m, s, o in zip(x.shape, mult, xs, os_):
        shape += [m, d]
        xst += [0, s]
        ost += [d * o, o]
    if len(fuse_dims(shape, [xst, ost])[0]) > MAX_COPY_DIMS:
        raise BakeError("TILE %r: %s tiled %s needs more than %d copy dimensions"
                        % (out.name, list(x.shape), mult, MAX_COPY_DIMS))
    return [copy_call(graph, op, op.inputs[0], op.outputs[0], shape, xst, ost, tag="tile")]


UNQUANTIZED.add("FILL")   # the value's bytes, whatever they mean (and integer dims)


@lowering("FILL", "int8, int32, float32 (as TFLM; the value's bytes copied, a computed value too); "
                  "constant dims equal to the output's shape", 2)
def _fill(graph: Graph, op: Op) -> list[Call]:
    value, out = inp(graph, op, 1), graph.tensors[op.outputs[0]]
    if value.dtype != out.dtype or out.dtype not in ("i8", "i32", "f32"):
        raise types_error(op, graph)
    if len(value.shape):
        raise BakeError("FILL value %r has shape %s; TFLM takes a scalar" % (value.name, list(value.shape)))
    dims = need_const(graph, op, 0, "dims")
    if dims.dtype not in ("i8", "i16", "i32", "i64") or len(dims.shape) != 1:
        raise BakeError("FILL dims %r: a 1-D integer tensor, not %s %s" % (dims.name, dims.dtype, list(dims.shape)))
    _check_shape(op, out, [int(d) for d in dims.const_data.reshape(-1)])
    # out[i] = value for every i: a copy whose input stride is 0
    return [copy_call(graph, op, op.inputs[1], op.outputs[0], [out.size], [0], [1], tag="fill")] if out.size else []


@lowering("UNPACK", "int8; int16; float32; int32 (a copy per output)")
def _unpack(graph: Graph, op: Op) -> list[Call]:
    x = inp(graph, op, 0)
    rank = len(x.shape)
    a = int(op.options.get("axis", 0))
    a = a + rank if a < 0 else a
    if not 0 <= a < rank or len(op.outputs) != x.shape[a]:
        raise BakeError("UNPACK %r: %d outputs on axis %d of %s" % (x.name, len(op.outputs), a, list(x.shape)))
    xs = contiguous_strides(x.shape)
    shape = list(x.shape[:a]) + list(x.shape[a + 1:])
    calls = []
    for k, t in enumerate(op.outputs):
        out = graph.tensors[t]
        same_type(graph, op, x, out)
        _check_shape(op, out, shape)
        calls.append(copy_call(graph, Op(op.kind, op.inputs, [t]), op.inputs[0], t, shape or [1],
                               (xs[:a] + xs[a + 1:]) or [1], contiguous_strides(shape) or [1], k * xs[a], 0,
                               "unpack"))
    return calls


def _block_geometry(graph: Graph, op: Op, spatial: Tensor, k_block: int, k_pads: int, what: str):
    """(input as [b, h, w, c], block [bh, bw], [[top, bottom], [left, right]]): a 3-D tensor is
    [b, h, 1, c] with block width 1, as TFLite's ExtendShapeSpaceToBatch."""
    block, pads = const_ints(graph, op, k_block, "block_shape"), const_ints(graph, op, k_pads, what)
    rank = len(spatial.shape)
    if rank not in (3, 4) or len(block) != rank - 2 or len(pads) != 2 * (rank - 2) or min(block) < 1 \
            or min(pads) < 0:
        raise BakeError("%s %r: shape %s, block %s, %s %s (3-D or 4-D, positive blocks)"
                        % (op.kind, spatial.name, list(spatial.shape), block, what, pads))
    shape = list(spatial.shape)
    if rank == 3:
        shape, block, pads = [shape[0], shape[1], 1, shape[2]], block + [1], pads + [0, 0]
    return shape, block, [pads[:2], pads[2:]]


def _fill_call(out_id: int, out: Tensor) -> Call:
    # TFLM memsets the padding with the output zero point's byte (0 for float32)
    return Call("fill_f32", out=out_id, n=out.size, value=0.0) if out.dtype == "f32" else \
        Call("fill_int", out=out_id, n=out.size, value=int(out.zp or 0))


@lowering("SPACE_TO_BATCH_ND", "int8; int16; float32 (3-D or 4-D; pads with the zero point); dilated convolutions", 3)
def _space_to_batch(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    same_type(graph, op, x, out)
    (b, h, w, c), (bh, bw), ((pt, pb), (pl, pr)) = _block_geometry(graph, op, x, 1, 2, "paddings")
    if (h + pt + pb) % bh or (w + pl + pr) % bw:
        raise BakeError("SPACE_TO_BATCH_ND %r: padded %dx%d is not a multiple of the block %dx%d"
                        % (out.name, h + pt + pb, w + pl + pr, bh, bw))
    oh, ow = (h + pt + pb) // bh, (w + pl + pr) // bw
    if out.size != b * bh * bw * oh * ow * c:
        raise BakeError("SPACE_TO_BATCH_ND %r: output shape %s, the operator gives %s"
                        % (out.name, list(out.shape), [b * bh * bw, oh, ow, c]))
    calls = [_fill_call(op.outputs[0], out)] if pt + pb + pl + pr else []
    for sh in range(bh):
        for sw in range(bw):
            # output rows y with y*bh + sh - pt inside [0, h), columns likewise
            y0, x0 = max(0, -(-(pt - sh) // bh)), max(0, -(-(pl - sw) // bw))
            y1, x1 = min(oh, -(-(h + pt - sh) // bh)), min(ow, -(-(w + pl - sw) // bw))
            if y1 <= y0 or x1 <= x0:
                continue
            for ib in range(b):
                ob = (sh * bw + sw) * b + ib
                src = ((ib * h + y0 * bh + sh - pt) * w + x0 * bw + sw - pl) * c
                dst = ((ob * oh + y0) * ow + x0) * c
                calls.append(copy_call(graph, op, op.inputs[0], op.outputs[0], [y1 - y0, x1 - x0, c],
                                       [bh * w * c, bw * c, 1], [ow * c, c, 1], src, dst, "s2b%d" % ob))
    return calls


@lowering("BATCH_TO_SPACE_ND", "int8; int16; float32 (3-D or 4-D, crops); dilated convolutions", 3)
def _batch_to_space(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    same_type(graph, op, x, out)
    (ib_n, h, w, c), (bh, bw), ((ct, cb), (cl, cr)) = _block_geometry(graph, op, x, 1, 2, "crops")
    if ib_n % (bh * bw):
        raise BakeError("BATCH_TO_SPACE_ND %r: batch %d is not a multiple of the block %dx%d"
                        % (out.name, ib_n, bh, bw))
    b, oh, ow = ib_n // (bh * bw), h * bh - ct - cb, w * bw - cl - cr
    if oh < 0 or ow < 0 or out.size != b * oh * ow * c:
        raise BakeError("BATCH_TO_SPACE_ND %r: output shape %s, the operator gives %s"
                        % (out.name, list(out.shape), [b, oh, ow, c]))
    calls = []
    for ib in range(ib_n):
        ob, sh, sw = ib % b, (ib // b) // bw, (ib // b) % bw
        # input rows y land on y*bh + sh - ct, kept inside [0, oh)
        y0, x0 = max(0, -(-(ct - sh) // bh)), max(0, -(-(cl - sw) // bw))
        y1, x1 = min(h, -(-(oh + ct - sh) // bh)), min(w, -(-(ow + cl - sw) // bw))
        if y1 <= y0 or x1 <= x0:
            continue
        src = ((ib * h + y0) * w + x0) * c
        dst = ((ob * oh + y0 * bh + sh - ct) * ow + x0 * bw + sw - cl) * c
        calls.append(copy_call(graph, op, op.inputs[0], op.outputs[0], [y1 - y0, x1 - x0, c],
                               [w * c, c, 1], [bh * ow * c, bw * c, 1], src, dst, "b2s%d" % ib))
    return calls


def _bcast_strides(op: Op, shape, out_shape) -> list[int]:
    """Element strides reading a tensor of `shape` broadcast to out_shape (0 on broadcast axes)."""
    rank = len(out_shape)
    s = [1] * (rank - len(shape)) + list(shape)
    if len(shape) > rank or any(d not in (1, o) for d, o in zip(s, out_shape)):
        raise BakeError("%s: operand shape %s does not broadcast to the output shape %s"
                        % (op.kind, list(shape), list(out_shape)))
    st = contiguous_strides(s)
    return [0 if d == 1 else k for d, k in zip(s, st)]


def _select(graph: Graph, op: Op) -> list[Call]:
    out = graph.tensors[op.outputs[0]]
    cond = inp(graph, op, 0)
    for k in (1, 2):
        v = inp(graph, op, k)
        same_type(graph, op, v, out)
        if v.dtype in ("i8", "i16") and (v.sc, v.zp) != (out.sc, out.zp):
            raise BakeError("%s %r: operand %r must have the output's quantization" % (op.kind, out.name, v.name))
    c_shape = list(cond.shape)
    if op.kind == "SELECT" and len(c_shape) == 1 and len(out.shape) > 1:
        c_shape += [1] * (len(out.shape) - 1)   # TFLM: a rank-1 condition picks rows of dimension 0
    if len(out.shape) > 5:
        raise BakeError("%s %r: %d-D tensors; TFLM selects up to 5-D" % (op.kind, out.name, len(out.shape)))
    for shape in (c_shape, inp(graph, op, 1).shape, inp(graph, op, 2).shape):
        if op.kind == "SELECT" and list(shape) != list(out.shape) and shape is not c_shape:
            raise BakeError("%s %r: operands must have the output's shape (SELECT_V2 broadcasts)"
                            % (op.kind, out.name))
        _bcast_strides(op, shape, out.shape)
    if not cond.is_const:
        return _select_computed(graph, op, cond, c_shape)
    flat = np.broadcast_to(np.asarray(cond.data).astype(bool).reshape(c_shape), tuple(out.shape)).reshape(-1)
    calls = []
    if any(list(inp(graph, op, k).shape) != list(out.shape) for k in (1, 2)):   # broadcast operands: pick whole
        calls.append(_bcast_copy(graph, op, op.inputs[2], op.outputs[0]))
        x = _expanded(graph, op, op.inputs[1], "/x", calls)
        mask = graph.add_const(out.name + "/condition", flat.astype(np.uint8), "u8")
        return calls + [Call("select_elems", c=mask, x=x, out=op.outputs[0], n=out.size,
                             esize=DTYPE_SIZE[out.dtype])]
    # one copy per run of equal conditions, from the operand it picks
    j = 0
    while j < flat.size:
        k = j + 1
        while k < flat.size and flat[k] == flat[j]:
            k += 1
        src = op.inputs[1] if flat[j] else op.inputs[2]
        calls.append(copy_call(graph, op, src, op.outputs[0], [k - j], [1], [1], j, j, "select%d" % j))
        j = k
    return calls


def _bcast_copy(graph: Graph, op: Op, src: int, dst: int, shape=None) -> Call:
    """dst (contiguous, the output's shape) = src broadcast to it."""
    out_shape = list(graph.tensors[dst].shape)
    return copy_call(graph, op, src, dst, out_shape, _bcast_strides(op, shape or graph.tensors[src].shape, out_shape),
                     contiguous_strides(out_shape), tag="broadcast%d" % src)


def _expanded(graph: Graph, op: Op, src: int, suffix: str, calls: list[Call], shape=None, dtype=None) -> int:
    """src itself when it has the output's shape, else a scratch tensor it is broadcast into."""
    out, t = graph.tensors[op.outputs[0]], graph.tensors[src]
    if list(shape or t.shape) == list(out.shape):
        return src
    graph.tensors.append(Tensor(out.name + suffix, tuple(out.shape), dtype or t.dtype, list(t.scale),
                                list(t.zero_point)))
    scratch = len(graph.tensors) - 1
    calls.append(_bcast_copy(graph, op, src, scratch, shape))
    return scratch


def _select_computed(graph: Graph, op: Op, cond: Tensor, c_shape: list[int]) -> list[Call]:
    """A run-time condition (TFLM's bool bytes, 0 or 1; uint8 on the board): the false operand
    copied to the output, then the true one's elements where the condition is set; an operand
    or condition of another shape is broadcast into a scratch tensor first."""
    if cond.dtype not in ("u8", "bool"):   # the readers make a computed bool condition uint8 (the same bytes)
        raise BakeError("%s %r: condition %r is %s; TFLM takes bool" % (op.kind, graph.tensors[op.outputs[0]].name,
                                                                      cond.name, cond.dtype))
    out = graph.tensors[op.outputs[0]]
    calls = [_bcast_copy(graph, op, op.inputs[2], op.outputs[0])]
    x = _expanded(graph, op, op.inputs[1], "/x", calls)
    c = _expanded(graph, op, op.inputs[0], "/condition", calls, c_shape, "u8")
    return calls + [Call("select_elems", c=c, x=x, out=op.outputs[0], n=out.size, esize=DTYPE_SIZE[out.dtype])]


lowering("SELECT", "int8, int16, float32, int32 (operands quantized as the output); bool condition, computed "
                   "(same shape, or rank 1 picking rows) or constant", 3)(_select)
lowering("SELECT_V2", "int8, int16, float32, int32 (operands quantized as the output); bool condition, computed "
                      "or constant; all three broadcast, up to 5-D", 3)(_select)
