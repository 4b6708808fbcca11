"""Constant folding: run on the host every op whose inputs are all known at bake time.

Converters emit shape arithmetic a microcontroller never needs at run time: Keras
Flatten at a dynamic batch becomes SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE, fp16
weights arrive through DEQUANTIZE, sparse ones through DENSIFY, and so on. Once the
graph's shapes are fixed (batch 1), all of it is constant: each foldable op is
evaluated with numpy, its output becomes a constant tensor and the op is dropped.
Data movement folds for any type (it copies values, as TFLM does); arithmetic folds
only on unquantized tensors, where numpy's int32/int64/float32 results are TFLM's.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .ir import NP_DTYPE, Graph, Op, Tensor

# op kind -> fn(op, input arrays, input tensors) -> output arrays
Folder = Callable[[Op, list, list], list]
FOLDERS: dict[str, Folder] = {}
# ops that read only their input's (static) shape, never its values
SHAPE_ONLY = {"SHAPE", "RANK", "ZEROS_LIKE", "ONES_LIKE"}
# pure data movement: folds whatever the type, if input and output quantization agree
MOVEMENT = {"PACK", "UNPACK", "STRIDED_SLICE", "SLICE", "GATHER", "CONCATENATION", "TRANSPOSE",
            "TILE", "BROADCAST_TO", "SPLIT", "SPLIT_V", "REVERSE_V2", "RESHAPE", "SQUEEZE",
            "EXPAND_DIMS", "FILL", "SELECT", "SELECT_V2"}
# which inputs of a movement op carry the values (the rest are indices, shapes, axes)
DATA_INPUTS = {"FILL": [1], "SELECT": [1, 2], "SELECT_V2": [1, 2], "SPLIT": [1]}


# what the operator table says of a folded op, where the generic words fall short
FOLD_DOCS = {"DENSIFY": "sparse constants (DENSE/SPARSE_CSR levels, blocks, uint8/uint16/int32 indices), any type: "
                        "densified at bake time"}


def folder(*kinds: str):
    def register(fn):
        for k in kinds:
            FOLDERS[k] = fn
        return fn
    return register


def _axis(op: Op, rank: int, key: str = "axis") -> int:
    a = int(op.options.get(key, 0))
    return a + rank if a < 0 else a


@folder("SHAPE")
def _shape(op, xs, ts):
    return [np.array(ts[0].shape, np.int64)]


@folder("RANK")
def _rank(op, xs, ts):
    return [np.array(len(ts[0].shape), np.int64)]


@folder("ZEROS_LIKE")
def _zeros_like(op, xs, ts):
    return [np.zeros(ts[0].shape)]


@folder("ONES_LIKE")
def _ones_like(op, xs, ts):
    return [np.ones(ts[0].shape)]


@folder("PACK")
def _pack(op, xs, ts):
    return [np.stack(xs, axis=_axis(op, xs[0].ndim + 1))]


@folder("UNPACK")
def _unpack(op, xs, ts):
    a = _axis(op, xs[0].ndim)
    return [np.take(xs[0], i, axis=a) for i in range(xs[0].shape[a])]


@folder("CONCATENATION")
def _concat(op, xs, ts):
    if op.options.get("fused_activation_function", "NONE") != "NONE":
        return None
    return [np.concatenate([np.atleast_1d(x) for x in xs], axis=_axis(op, max(xs[0].ndim, 1)))]


@folder("STRIDED_SLICE")
def _strided_slice(op, xs, ts):
    from .lower.families.layout import slice_geometry
    x = xs[0]
    begin, end, strides = ([int(v) for v in a.reshape(-1)] for a in xs[1:4])
    starts, counts, out_shape = slice_geometry(op, ts[0].name, list(x.shape), begin, end, strides)
    index = np.ix_(*[s + st * np.arange(n) for s, n, st in zip(starts, counts, strides)])
    return [x[index].reshape(out_shape)]


@folder("SLICE")
def _slice(op, xs, ts):
    x, begin, size = xs[0], xs[1].reshape(-1), xs[2].reshape(-1)
    index = tuple(slice(int(b), None if s < 0 else int(b + s)) for b, s in zip(begin, size))
    return [x[index]]


@folder("GATHER")
def _gather(op, xs, ts):
    if op.options.get("batch_dims", 0):
        return None
    return [np.take(xs[0], xs[1].astype(np.int64), axis=_axis(op, xs[0].ndim))]


@folder("TRANSPOSE")
def _transpose(op, xs, ts):
    return [np.transpose(xs[0], [int(p) for p in xs[1].reshape(-1)])]


@folder("TILE")
def _tile(op, xs, ts):
    return [np.tile(xs[0], [int(m) for m in xs[1].reshape(-1)])]


@folder("BROADCAST_TO")
def _broadcast_to(op, xs, ts):
    return [np.broadcast_to(xs[0], [int(d) for d in xs[1].reshape(-1)])]


@folder("REVERSE_V2")
def _reverse(op, xs, ts):
    return [np.flip(xs[0], axis=tuple(int(a) for a in xs[1].reshape(-1)))]


@folder("SPLIT")
def _split(op, xs, ts):
    axis, x = int(xs[0].reshape(-1)[0]), xs[1]
    return np.split(x, int(op.options.get("num_splits", len(op.outputs))), axis=axis % x.ndim)


@folder("SPLIT_V")
def _split_v(op, xs, ts):
    x, sizes, axis = xs[0], [int(s) for s in xs[1].reshape(-1)], int(xs[2].reshape(-1)[0]) % xs[0].ndim
    if -1 in sizes:
        sizes[sizes.index(-1)] = x.shape[axis] - (sum(sizes) + 1)
    return np.split(x, np.cumsum(sizes)[:-1], axis=axis)


@folder("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
def _reshape(op, xs, ts):
    # the output tensor's declared shape applies (see _store); RESHAPE's own target
    # (its shape input or new_shape option, -1 resolved) when that is a placeholder
    target = xs[1].reshape(-1) if op.kind == "RESHAPE" and len(xs) > 1 else op.options.get("new_shape")
    if op.kind == "RESHAPE" and target is not None and len(target):
        return [xs[0].reshape([int(d) for d in target])]
    return [xs[0]]


@folder("FILL")
def _fill(op, xs, ts):
    return [np.full([int(d) for d in xs[0].reshape(-1)], xs[1].reshape(-1)[0])]


@folder("SELECT", "SELECT_V2")
def _select(op, xs, ts):
    return [np.where(xs[0].astype(bool), xs[1], xs[2])]


@folder("RANGE")
def _range(op, xs, ts):
    start, limit, delta = (x.reshape(-1)[0] for x in xs)
    return [np.arange(start, limit, delta)]


# float32 -> integer CAST: truncated, saturated, NaN -> 0 (the TFLM interpreter; kernels_pure.quantize)
_SATURATED = {"i8": (-128, 127), "i16": (-32768, 32767), "i32": (-2147483648, 2147483647), "u32": (0, 4294967295)}


@folder("CAST")
def _cast(op, xs, ts):
    if op.options.get("bool_output"):   # a bool the reader made uint8 (readers/tflite.py)
        return [xs[0] != 0]
    return [xs[0]]   # _store converts to the output type (float -> int: see _SATURATED)


def _int_div(a, b):
    # TFLM's DIV on int32 is C++ division: truncation toward zero
    q = np.abs(a) // np.abs(b)
    return np.where((a < 0) != (b < 0), -q, q)


_BINARY = {
    "ADD": np.add, "SUB": np.subtract, "MUL": np.multiply, "MAXIMUM": np.maximum,
    "MINIMUM": np.minimum, "FLOOR_MOD": np.mod,
    # TFLite: std::floor of the quotient in double on floats (numpy's // on floats, or a float32
    # quotient, can differ by one)
    "FLOOR_DIV": lambda a, b: np.floor(a.astype(np.float64) / b).astype(a.dtype) if a.dtype.kind == "f"
    else np.floor_divide(a, b),
    "POW": np.power, "SQUARED_DIFFERENCE": lambda a, b: (a - b) * (a - b),
    "EQUAL": np.equal, "NOT_EQUAL": np.not_equal, "LESS": np.less, "LESS_EQUAL": np.less_equal,
    "GREATER": np.greater, "GREATER_EQUAL": np.greater_equal, "LOGICAL_AND": np.logical_and,
    "LOGICAL_OR": np.logical_or,
}
_UNARY = {
    "NEG": np.negative, "ABS": np.abs, "FLOOR": np.floor, "CEIL": np.ceil, "SQRT": np.sqrt,
    "RSQRT": lambda v: 1 / np.sqrt(v), "EXP": np.exp, "LOG": np.log, "SQUARE": np.square,
    "LOGICAL_NOT": np.logical_not, "ROUND": np.round,
}
_REDUCE = {"SUM": np.sum, "REDUCE_PROD": np.prod, "REDUCE_MAX": np.max, "REDUCE_MIN": np.min,
           "MEAN": np.mean, "REDUCE_ANY": np.any}
ARITHMETIC = set(_BINARY) | set(_UNARY) | set(_REDUCE) | {"DIV", "ARG_MAX", "ARG_MIN", "RANGE",
                                                          "CAST", "DEQUANTIZE"}


def _activation(op: Op, v):
    act = op.options.get("fused_activation_function", "NONE")
    if act == "RELU":
        return np.maximum(v, 0)
    if act == "RELU6":
        return np.clip(v, 0, 6)
    if act == "RELU_N1_TO_1":
        return np.clip(v, -1, 1)
    return v if act == "NONE" else None


for _k, _f in _BINARY.items():
    folder(_k)(lambda op, xs, ts, f=_f: [_activation(op, f(xs[0], xs[1]))])
for _k, _f in _UNARY.items():
    folder(_k)(lambda op, xs, ts, f=_f: [f(xs[0])])
for _k, _f in _REDUCE.items():
    folder(_k)(lambda op, xs, ts, f=_f: [f(xs[0], axis=tuple(int(a) % max(xs[0].ndim, 1) for a in
                                                             xs[1].reshape(-1)),
                                           keepdims=bool(op.options.get("keep_dims", False)))])


@folder("DIV")
def _div(op, xs, ts):
    a, b = xs
    if a.dtype.kind == "f":
        return [_activation(op, a / b)]
    if not np.all(b):
        return None   # TFLM rejects a zero divisor at run time: leave it to the lowering
    return [_activation(op, _int_div(a.astype(np.int64), b.astype(np.int64)))]


@folder("ARG_MAX", "ARG_MIN")
def _arg(op, xs, ts):
    f = np.argmax if op.kind == "ARG_MAX" else np.argmin
    return [f(xs[0], axis=int(xs[1].reshape(-1)[0]) % xs[0].ndim)]


@folder("DEQUANTIZE")
def _dequantize(op, xs, ts):
    x, t = xs[0], ts[0]
    if t.dtype == "f16":
        return [x.astype(np.float32)]
    if t.dtype not in ("i8", "u8", "i16") or not t.scale:
        return None
    # TFLM: static_cast<float>(double(scale) * (q - zero point)), one scale per channel
    shape = [1] * x.ndim
    if len(t.scale) > 1:
        shape[t.quantized_dimension] = len(t.scale)
    scale = np.array(t.scale, np.float64).reshape(shape)
    zp = np.array(t.zero_point, np.float64).reshape(shape)
    return [(scale * (x.astype(np.float64) - zp)).astype(np.float32)]


@folder("DENSIFY")
def _densify(op, xs, ts):
    return [xs[0]]   # the reader densified the sparse constant (readers/sparsity.py)


def _quantized(t: Tensor) -> bool:
    return bool(t.scale) and t.dtype in ("i8", "u8", "i16", "i32")


def _foldable(graph: Graph, op: Op, ins: list[Tensor], outs: list[Tensor]) -> bool:
    if op.kind not in FOLDERS or not outs or any(t.variable for t in ins + outs):
        return False
    if any(t.dtype not in NP_DTYPE for t in ins + outs):
        return False   # a type bake cannot hold (UINT32, ...): the operator check names it
    if any(t in graph.outputs for t in op.outputs):
        return False   # a graph output stays computed (the caller reads it from the arena)
    if op.kind == "DENSIFY":
        # its output means what the sparse input does (the converter may leave it unquantized)
        return len(ins) == 1 and len(outs) == 1 and ins[0].dtype == outs[0].dtype and \
            (not _quantized(outs[0]) or (outs[0].scale, outs[0].zero_point) == (ins[0].scale, ins[0].zero_point))
    if any(t.sparse for t in ins):
        return False   # only DENSIFY and FULLY_CONNECTED take sparse weights: check_op refuses the rest
    if op.kind == "DEQUANTIZE":
        return True
    if op.kind in SHAPE_ONLY:
        return not any(_quantized(t) for t in outs)
    if op.kind in MOVEMENT:
        # values move unchanged: only fine if they mean the same on both sides
        data = [ins[k] for k in DATA_INPUTS.get(op.kind, range(1)) if k < len(ins)] \
            if op.kind not in ("PACK", "CONCATENATION") else ins
        q = {(tuple(t.scale), tuple(t.zero_point)) for t in data + outs if _quantized(t)}
        return len(q) <= 1 and all(_quantized(t) == _quantized(outs[0]) for t in data + outs)
    return not any(_quantized(t) for t in ins + outs)


def _store(graph: Graph, op: Op, t: Tensor, value: np.ndarray) -> None:
    value = np.asarray(value)
    if value.dtype.kind == "f" and t.dtype not in ("f32", "f16"):
        value = np.trunc(value)
        if op.kind == "CAST" and t.dtype in _SATURATED:
            value = np.clip(np.nan_to_num(value.astype(np.float64), nan=0.0), *_SATURATED[t.dtype])
    with np.errstate(invalid="ignore", over="ignore"):
        value = value.astype(NP_DTYPE[t.dtype])
    declared = int(np.prod(t.shape, dtype=np.int64))
    if value.size == declared:
        value = value.reshape(t.shape)
    else:
        # the file's static shape was a placeholder (dynamic dimensions): the values decide
        t.shape = tuple(int(d) for d in value.shape)
    t.data = np.array(value, order="C")   # (ascontiguousarray would make a scalar 1-D)


def fold_constants(graph: Graph) -> list[str]:
    """Replace every op computable at bake time by constant outputs; the kinds folded."""
    kept, folded = [], []
    for op in graph.ops:
        ins = [graph.tensors[i] for i in op.inputs if i >= 0]
        outs = [graph.tensors[i] for i in op.outputs if i >= 0]
        known = [] if op.kind in SHAPE_ONLY else ins
        if not all(t.is_const for t in known) or not _foldable(graph, op, ins, outs) \
                or len(outs) != len(op.outputs):
            kept.append(op)
            continue
        try:
            with np.errstate(all="ignore"):
                values = FOLDERS[op.kind](op, [t.data for t in ins] if op.kind not in SHAPE_ONLY
                                          else [None] * len(ins), ins)
        except Exception:   # an op numpy cannot evaluate as given: the lowering judges it
            values = None
        if values is None or len(values) != len(outs):
            kept.append(op)
            continue
        for t, v in zip(outs, values):
            _store(graph, op, t, v)
        if op.kind == "DENSIFY" and not outs[0].scale:
            o, i = outs[0], ins[0]
            o.scale, o.zero_point, o.quantized_dimension = list(i.scale), list(i.zero_point), i.quantized_dimension
        folded.append(op.kind)
    graph.ops = kept
    if folded:
        graph.notes.append("folded at bake time: " + ", ".join(sorted(set(folded))))
    return sorted(set(folded))
