"""Layout-only operators: they change how a value's bytes are read, not the bytes."""
from __future__ import annotations

import numpy as np

from .... import BakeError
from ..checks import attrs, transpose_perm
from ..fold import need_axes, read_axes, reshape_shape
from ..layout import stored_as
from ..registry import translator
from ..state import Reader
from ..values import QConst, Val, count, ident, inv


def reshaped(r: Reader, node, v: Val, shape) -> None:
    shape = tuple(int(d) for d in shape)
    if count(shape) != count(v.shape) or any(d < 1 for d in shape):
        raise BakeError("%s node %r: cannot make %s of %s" % (node.op_type, node.name, list(shape), list(v.shape)))
    r.set(node.output[0], Val(v.t, shape, v.base, v.perm, v.deq))


@translator("Identity", "Dropout")
def identity(r: Reader, node) -> None:
    if node.op_type == "Dropout" and len(node.input) > 2 and node.input[2]:
        mode = r.get(node, 2)   # training_mode: random masks, not inference
        if isinstance(mode, Val) or bool(np.asarray(mode).reshape(-1)[0]):
            raise BakeError("Dropout node %r: training mode is not supported (inference only: give a constant "
                            "training_mode false)" % node.name)
    r.set(node.output[0], r.get(node, 0))


@translator("Shape")
def shape_of(r: Reader, node) -> None:
    """Shapes are static: a constant (its Gather/Concat/Reshape arithmetic folds too)."""
    shape = r.rt(node, 0).shape
    a = attrs(node)
    r.set(node.output[0], np.array(shape[a.get("start", 0):a.get("end", len(shape))], np.int64))


@translator("Size")
def size_of(r: Reader, node) -> None:
    r.set(node.output[0], np.array(count(r.rt(node, 0).shape), np.int64))


# ONNX element types of Cast's `to` the board holds (int64, float16... are refused)
CAST_TYPES = {1: "f32", 2: "u8", 3: "i8", 5: "i16", 6: "i32", 9: "bool"}
_INT_MIN = np.array([-2147483648], np.int32)


@translator("Cast", "CastLike")
def cast(r: Reader, node) -> None:
    """Cast to float32, int8, uint8, int16, int32 or bool (Cast's `to`, CastLike's second
    operand's type); a constant operand is cast at bake time. Computed float32, bool bytes and
    plain integers (no quantization) become TFLite CASTs, with onnxruntime's results: integer
    to integer wraps (C conversion), to bool is nonzero (NaN true). float32 to an integer type
    is onnxruntime's on x86-64 (the host oracle): truncated toward zero into int32, where
    NaN and values outside int32 give INT32_MIN, then wrapped to the narrower type. CAST
    float32 -> int32 saturates as TFLM (NaN to 0), so a LESS(x, 2^31) and SELECT_V2 put
    INT32_MIN where the two differ (x >= 2^31 or NaN)."""
    from onnx import helper
    v = r.get(node, 0)
    if node.op_type == "Cast":
        to = attrs(node).get("to", 0)
        target = CAST_TYPES.get(to) or (str(helper.TensorProto.DataType.Name(to)).lower()
                                        if to in helper.TensorProto.DataType.values() else "type %d" % to)
    else:
        like = r.get(node, 1)
        if isinstance(like, Val):
            target = "bool" if _bool_bytes(r, like) else r.tensors[like.t].dtype
        else:
            target = {np.dtype(np.float32): "f32", np.dtype(np.int8): "i8", np.dtype(np.uint8): "u8",
                      np.dtype(np.int16): "i16", np.dtype(np.int32): "i32",
                      np.dtype(bool): "bool"}.get(np.asarray(like).dtype, str(np.asarray(like).dtype))
    if not isinstance(v, Val):
        if target != "f32":
            raise BakeError("%s node %r: casting a constant to %s for a computed tensor is not supported"
                            % (node.op_type, node.name, target))
        r.set(node.output[0], np.asarray(v.value() if isinstance(v, QConst) else v).astype(np.float32))
        return
    t = r.tensors[v.t]
    src = "bool" if _bool_bytes(r, v) else t.dtype
    plain = not v.deq and (not t.scale or src == "bool")
    if not plain or src not in CAST_TYPES.values() or target not in CAST_TYPES.values():
        raise BakeError("%s node %r: casting a computed %s%s tensor to %s is not supported (float32, int8, "
                        "uint8, int16, int32 and bool are)" % (node.op_type, node.name,
                                                                "quantized " if v.deq or t.scale else "", src, target))
    if src == target:
        r.set(node.output[0], v)
        return
    name = node.output[0]
    if target == "bool":   # bool bytes 0/1 (TFLM's bool), x != 0
        out = r.tensor(name, t.shape, "u8", 1.0, 0)
        r.op("CAST", [v.t], [out], bool_output=True)
    elif src == "f32" and target != "f32":
        sat = r.tensor(name + "/saturated", t.shape, "i32")
        r.op("CAST", [v.t], [sat])
        ok = r.tensor(name + "/in_range", t.shape, "u8", 1.0, 0)
        r.op("LESS", [v.t, r.const(name + "/2^31", np.array([2147483648.0], np.float32), "f32")], [ok])
        out = r.tensor(name if target == "i32" else name + "/int32", t.shape, "i32")
        r.op("SELECT_V2", [ok, sat, r.const(name + "/int_min", _INT_MIN, "i32")], [out])
        if target != "i32":
            wide, out = out, r.tensor(name, t.shape, target)
            r.op("CAST", [wide], [out])
    else:   # integers and bool bytes (0/1) to an integer type or float32
        out = r.tensor(name, t.shape, target)
        r.op("CAST", [v.t], [out])
    r.set(name, Val(out, v.shape, v.base, v.perm))


def _bool_bytes(r: Reader, v: Val) -> bool:
    t = r.tensors[v.t]
    return not v.deq and (t.dtype == "bool" or (t.dtype == "u8" and t.scale == [1.0] and t.zero_point == [0]))


@translator("Reshape")
def reshape(r: Reader, node) -> None:
    v = r.rt(node, 0)
    shape = r.cval(node, 1, "shape")
    if shape is None:
        shape = attrs(node).get("shape")
    reshaped(r, node, v, reshape_shape(node, v.shape, shape))


@translator("Flatten")
def flatten(r: Reader, node) -> None:
    v = r.rt(node, 0)
    ax = attrs(node).get("axis", 1)
    ax = ax + len(v.shape) if ax < 0 else ax
    reshaped(r, node, v, (int(np.prod(v.shape[:ax], dtype=np.int64)),
                             int(np.prod(v.shape[ax:], dtype=np.int64))))


@translator("Squeeze")
def squeeze(r: Reader, node) -> None:
    v = r.rt(node, 0)
    rank = len(v.shape)
    axes = read_axes(node, attrs(node), r.cval(node, 1, "axes"), rank)
    axes = [d for d in range(rank) if v.shape[d] == 1] if axes is None else axes
    reshaped(r, node, v, [d for k, d in enumerate(v.shape) if k not in axes])


@translator("Unsqueeze")
def unsqueeze(r: Reader, node) -> None:
    v = r.rt(node, 0)
    a = attrs(node)
    spec = r.cval(node, 1, "axes")
    n_new = len(np.asarray(a.get("axes") if "axes" in a else spec if spec is not None else []).reshape(-1))
    shape = list(v.shape)
    rank = len(shape) + n_new
    for ax in sorted(need_axes(node, a, spec, rank)):
        shape.insert(ax, 1)
    reshaped(r, node, v, shape)


@translator("Transpose")
def transpose(r: Reader, node) -> None:
    v = r.rt(node, 0)
    rank = len(v.shape)
    p = transpose_perm(node, attrs(node), rank)
    if v.shape != v.base:
        v = stored_as(r, v, v.shape, ident(rank))
    ip = inv(p)
    shape = tuple(v.shape[k] for k in p)
    r.set(node.output[0], Val(v.t, shape, shape, tuple(ip[k] for k in v.perm), v.deq))
