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


@translator("Cast", "CastLike")
def cast(r: Reader, node) -> None:
    """To float32 (Cast's `to`, CastLike's second operand): nothing to do on a float32 tensor;
    a constant operand is cast at bake time."""
    from onnx import helper
    v = r.get(node, 0)
    if node.op_type == "Cast":
        to = attrs(node).get("to", 0)
        target = "f32" if to == 1 else str(helper.TensorProto.DataType.Name(to)).lower() \
            if to in helper.TensorProto.DataType.values() else "type %d" % to
    else:
        like = r.get(node, 1)
        target = r.tensors[like.t].dtype if isinstance(like, Val) else \
            ("f32" if np.asarray(like).dtype == np.float32 else str(np.asarray(like).dtype))
    if not isinstance(v, Val):
        if target != "f32":
            raise BakeError("%s node %r: casting a constant to %s for a computed tensor is not supported"
                            % (node.op_type, node.name, target))
        r.set(node.output[0], np.asarray(v.value() if isinstance(v, QConst) else v).astype(np.float32))
        return
    if r.tensors[v.t].dtype != "f32" or v.deq or target != "f32":
        raise BakeError("%s node %r: casting a computed %s tensor to %s is not supported"
                        % (node.op_type, node.name, r.tensors[v.t].dtype, target))
    r.set(node.output[0], v)


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
