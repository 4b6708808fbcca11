"""Layout-only operators: they change how a value's bytes are read, not the bytes."""
from __future__ import annotations

import numpy as np

from .... import BakeError
from ..checks import attrs, transpose_perm
from ..fold import need_axes, read_axes, reshape_shape
from ..layout import stored_as
from ..registry import translator
from ..state import Reader
from ..values import Val, count, ident, inv


def reshaped(r: Reader, node, v: Val, shape) -> None:
    shape = tuple(int(d) for d in shape)
    if count(shape) != count(v.shape) or any(d < 1 for d in shape):
        raise BakeError("%s node %r: cannot make %s of %s" % (node.op_type, node.name, list(shape), list(v.shape)))
    r.set(node.output[0], Val(v.t, shape, v.base, v.perm, v.deq))


@translator("Identity", "Dropout")
def identity(r: Reader, node) -> None:
    r.set(node.output[0], r.get(node, 0))


@translator("Shape")
def shape_of(r: Reader, node) -> None:
    """Shapes are static: a constant (its Gather/Concat/Reshape arithmetic folds too)."""
    shape = r.rt(node, 0).shape
    a = attrs(node)
    r.set(node.output[0], np.array(shape[a.get("start", 0):a.get("end", len(shape))], np.int64))


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
