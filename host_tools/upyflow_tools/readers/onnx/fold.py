"""Constant folding: exporters' shape arithmetic (Shape, Gather, Concat, Reshape, ...) on
constants, evaluated with numpy at bake time, every size checked before it is allocated."""
from __future__ import annotations

import numpy as np

from ... import BakeError
from .checks import MAX_ELEMENTS, attrs, first_line, transpose_perm
from .values import count

# ops evaluated with numpy when every input is a constant (shape arithmetic of exporters)
FOLDABLE = {"Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Cast", "Reshape", "Flatten",
             "Transpose", "Identity", "Add", "Sub", "Mul", "Div", "Slice", "Range", "ConstantOfShape",
             "Neg", "Sqrt", "Equal", "Where", "Expand", "DequantizeLinear", "QuantizeLinear", "Size", "Not",
             "CastLike", "Greater", "GreaterOrEqual", "Less", "LessOrEqual", "And", "Or", "Xor"}
_LOGIC = {"Greater": np.greater, "GreaterOrEqual": np.greater_equal, "Less": np.less, "LessOrEqual": np.less_equal,
          "Equal": np.equal, "And": np.logical_and, "Or": np.logical_or, "Xor": np.logical_xor}


MAX_RANK = 32


def fold_shape(node, spec) -> list[int]:
    """A shape operand of a constant-folded node, checked before anything is allocated."""
    shape = [int(d) for d in np.asarray(spec).reshape(-1)]
    if any(d < 0 for d in shape):
        raise BakeError("%s node %r: negative dimension in shape %s" % (node.op_type, node.name, shape))
    if len(shape) > MAX_RANK:   # numpy's own limit: its broadcasting raises beyond it
        raise BakeError("%s node %r: a shape of %d dimensions; upyflow takes at most %d"
                        % (node.op_type, node.name, len(shape), MAX_RANK))
    fold_size(node, shape)
    return shape


def fold_size(node, shape) -> None:
    if count(shape) > MAX_ELEMENTS:
        raise BakeError("%s node %r would make %d values; upyflow folds at most %d"
                        % (node.op_type, node.name, count(shape), MAX_ELEMENTS))


def constant(node) -> np.ndarray:
    from onnx import numpy_helper
    a = attrs(node)
    if "value" in a:
        return numpy_helper.to_array(a["value"])
    for k in ("value_float", "value_int"):
        if k in a:
            return np.array(a[k], np.float32 if k == "value_float" else np.int64)
    for k in ("value_floats", "value_ints"):
        if k in a:
            return np.array(a[k], np.float32 if k == "value_floats" else np.int64)
    raise BakeError("Constant node %r: unsupported value attribute %s" % (node.name, sorted(a)))


def fold(node, xs: list) -> np.ndarray:
    """The value of a node whose operands are all constants."""
    op, a = node.op_type, attrs(node)
    x = xs[0]
    if op == "Shape":
        return np.array(x.shape, np.int64)
    if op == "Size":
        return np.array(np.size(x), np.int64)
    if op == "Not":
        return np.logical_not(x)
    if op == "CastLike":
        return np.asarray(x).astype(np.asarray(xs[1]).dtype)
    if op == "Gather":
        idx, ax = np.asarray(xs[1]), a.get("axis", 0)
        if not -max(x.ndim, 1) <= ax < max(x.ndim, 1) or idx.dtype.kind not in "iu" or \
                np.any(idx < -x.shape[ax]) or np.any(idx >= x.shape[ax]):
            raise BakeError("Gather node %r: indices or axis %d out of range for shape %s"
                            % (node.name, ax, list(x.shape)))
        return np.take(x, idx, axis=ax)
    if op == "Unsqueeze":
        spec = xs[1] if len(xs) > 1 else None
        n_new = len(np.asarray(a.get("axes") if "axes" in a else spec if spec is not None else []).reshape(-1))
        for ax in sorted(need_axes(node, a, spec, x.ndim + n_new)):
            x = np.expand_dims(x, ax)
        return x
    if op == "Squeeze":
        axes = read_axes(node, a, xs[1] if len(xs) > 1 else None, x.ndim)
        if axes is not None and any(x.shape[k] != 1 for k in axes):
            raise BakeError("Squeeze node %r: axes %s of shape %s are not 1" % (node.name, axes, list(x.shape)))
        return np.squeeze(x, tuple(axes) if axes is not None else None)
    if op == "Concat":
        try:
            return np.concatenate([np.atleast_1d(v) for v in xs], axis=a.get("axis", 0))
        except (ValueError, TypeError) as e:   # numpy checks ranks, axis and dims first
            raise BakeError("Concat node %r: %s" % (node.name, first_line(e))) from None
    if op == "Cast":
        from onnx import helper
        try:
            return x.astype(helper.tensor_dtype_to_np_dtype(a["to"]))
        except KeyError:
            raise BakeError("Cast node %r needs a known type 'to'" % node.name) from None
    if op == "Reshape":
        return x.reshape(reshape_shape(node, x.shape, xs[1]))
    if op == "Flatten":
        ax = a.get("axis", 1) % max(x.ndim, 1) if a.get("axis", 1) != x.ndim else x.ndim
        return x.reshape(int(np.prod(x.shape[:ax])), -1)
    if op == "Transpose":
        return x.transpose(transpose_perm(node, a, x.ndim))
    if op == "Identity":
        return x
    if op in ("Add", "Sub", "Mul", "Div"):
        f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply,
             "Div": np.floor_divide if x.dtype.kind in "iu" else np.divide}[op]
        try:
            fold_size(node, np.broadcast_shapes(np.shape(x), np.shape(xs[1])))
        except ValueError:
            raise BakeError("%s node %r: shapes %s and %s do not broadcast"
                            % (op, node.name, list(np.shape(x)), list(np.shape(xs[1])))) from None
        return f(x, xs[1]).astype(np.result_type(x, xs[1]))
    if op == "Neg":
        return -x
    if op == "Sqrt":
        return np.sqrt(x)
    if op in _LOGIC:
        return _LOGIC[op](x, xs[1])
    if op == "Where":
        return np.where(x, xs[1], xs[2])
    if op == "Expand":
        shape = fold_shape(node, xs[1])
        try:
            fold_size(node, np.broadcast_shapes(np.shape(x), tuple(shape)))
        except ValueError:
            raise BakeError("Expand node %r: shape %s does not broadcast with %s"
                            % (node.name, shape, list(np.shape(x)))) from None
        return x * np.ones(shape, x.dtype)
    if op == "ConstantOfShape":
        from onnx import numpy_helper
        v = numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1, np.float32)
        if v.size < 1:
            raise BakeError("ConstantOfShape node %r has an empty value" % node.name)
        return np.full(fold_shape(node, x), v.reshape(-1)[0], v.dtype)
    if op == "Range":
        bounds = [float(np.asarray(v).reshape(-1)[0]) for v in (x, xs[1], xs[2]) if np.size(v) == 1]
        if len(bounds) != 3 or bounds[2] == 0 or not all(np.isfinite(v) for v in bounds):
            raise BakeError("Range node %r needs finite scalar start, limit and a non-zero delta" % node.name)
        start, limit, delta = bounds
        fold_size(node, (max(0, int(np.ceil((limit - start) / delta))),))
        return np.arange(x, xs[1], xs[2])
    if op == "Slice":
        starts, ends = np.asarray(xs[1]).reshape(-1), np.asarray(xs[2]).reshape(-1)
        slice_axes = np.asarray(xs[3]).reshape(-1) if len(xs) > 3 and xs[3] is not None \
            else np.arange(len(starts))
        steps = np.asarray(xs[4]).reshape(-1) if len(xs) > 4 and xs[4] is not None else np.ones(len(starts), int)
        if not len(starts) == len(ends) == len(slice_axes) == len(steps):
            raise BakeError("Slice node %r: starts, ends, axes and steps differ in length" % node.name)
        sl = [slice(None)] * x.ndim
        for s, stop, ax, st in zip(starts, ends, slice_axes, steps):
            if not -x.ndim <= int(ax) < x.ndim or int(st) == 0:
                raise BakeError("Slice node %r: axis %d or step %d does not fit shape %s"
                                % (node.name, int(ax), int(st), list(x.shape)))
            sl[int(ax)] = slice(int(s), int(stop), int(st))
        return x[tuple(sl)]
    raise BakeError("cannot evaluate constant %s node %r" % (op, node.name))


def reshape_shape(node, in_shape, spec) -> tuple:
    if spec is None or np.asarray(spec).dtype.kind not in "iu":
        raise BakeError("Reshape node %r needs an integer shape" % node.name)
    spec = [int(v) for v in np.asarray(spec).reshape(-1)]
    allowzero = attrs(node).get("allowzero", 0)
    if any(d < -1 for d in spec) or spec.count(-1) > 1 or \
            any(d == 0 and k >= len(in_shape) and not allowzero for k, d in enumerate(spec)):
        raise BakeError("Reshape node %r: shape %s for an input of shape %s" % (node.name, spec, list(in_shape)))
    out = [in_shape[k] if (d == 0 and not allowzero) else d for k, d in enumerate(spec)]
    n = int(np.prod(in_shape, dtype=np.int64))
    if out.count(-1) == 1:
        rest = int(np.prod([d for d in out if d != -1], dtype=np.int64))
        out[out.index(-1)] = n // rest if rest else 0
    if int(np.prod(out, dtype=np.int64)) != n:
        raise BakeError("Reshape node %r: cannot reshape %s to %s" % (node.name, list(in_shape), spec))
    return tuple(out)


def read_axes(node, a: dict, spec, rank: int) -> list[int] | None:
    """Axes from the attribute or the operand `spec`, as non-negative ints below rank; None
    when the node gives none."""
    axes = a.get("axes") if "axes" in a else spec
    if axes is None:
        return None
    arr = np.asarray(axes)
    if arr.ndim > 1 or (arr.size and arr.dtype.kind not in "iu") or \
            any(not -rank <= int(x) < rank for x in arr.reshape(-1)):
        raise BakeError("%s node %r: axes %s do not fit rank %d" % (node.op_type, node.name,
                                                                     arr.reshape(-1).tolist(), rank))
    out = [int(x) % rank for x in arr.reshape(-1)]
    if len(set(out)) != len(out):
        raise BakeError("%s node %r: repeated axes %s" % (node.op_type, node.name, out))
    return out


def need_axes(node, a: dict, spec, rank: int) -> list[int]:
    """read_axes for a node that must give axes."""
    axes = read_axes(node, a, spec, rank)
    if axes is None:
        raise BakeError("%s node %r needs axes" % (node.op_type, node.name))
    return axes
