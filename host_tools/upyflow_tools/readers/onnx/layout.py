"""Layout: ONNX is NCHW, the runtime NHWC; a value moves to the storage order an operator
needs with a RESHAPE (aliased away) or a TRANSPOSE only where its bytes are not in that order."""
from __future__ import annotations

from ... import BakeError
from .state import Reader
from .values import NHWC, NLC, Val, ident, inv, same_order


def stored_as(r: Reader, v: Val, shape, perm) -> Val:
    """v with storage shape.transpose(perm); free when the bytes are already in that order."""
    shape, perm = tuple(shape), tuple(perm)
    want_ir = tuple(shape[p] for p in perm)
    if same_order(v.base, v.perm, shape, perm):
        if r.tensors[v.t].shape == want_ir:
            return Val(v.t, shape, shape, perm, v.deq)
        out = r.like(r.tensors[v.t].name + "/reshaped", v.t, want_ir)
        r.op("RESHAPE", [v.t, r.i32(r.tensors[out].name + "/shape", want_ir)], [out])
        return Val(out, shape, shape, perm, v.deq)
    t = v.t
    if v.perm != ident(len(v.perm)):   # storage back to base order
        base_t = r.like(r.tensors[t].name + "/transposed", t, v.base)
        r.op("TRANSPOSE", [t, r.i32(r.tensors[base_t].name + "/perm", inv(v.perm))], [base_t])
        t = base_t
    cur = Val(t, v.base, v.base, ident(len(v.base)), v.deq)
    if perm == ident(len(perm)):
        return stored_as(r, cur, shape, perm)
    flat = stored_as(r, cur, shape, ident(len(shape)))
    out = r.like(r.tensors[flat.t].name + "/transposed", flat.t, want_ir)
    r.op("TRANSPOSE", [flat.t, r.i32(r.tensors[out].name + "/perm", perm)], [out])
    return Val(out, shape, shape, perm, v.deq)


def plain(r: Reader, v: Val) -> Val:
    """v in its own logical shape, keeping its perm when it already is (no op)."""
    if v.shape == v.base:
        return v
    if len(v.shape) == 4 and same_order(v.base, v.perm, v.shape, NHWC):
        return stored_as(r, v, v.shape, NHWC)
    return stored_as(r, v, v.shape, ident(len(v.shape)))


def spatial_in(r: Reader, node, v: Val) -> Val:
    """The NHWC input of a 2-D operator; a 1-D [N, C, L] input as [N, C, 1, L] (free when NLC)."""
    if len(v.shape) not in (3, 4):
        raise BakeError("%s node %r: %d-D input %s; upyflow runs 1-D (NCL) and 2-D (NCHW) spatial tensors"
                        % (node.op_type, node.name, len(v.shape), list(v.shape)))
    if v.shape[0] != 1:
        raise BakeError("%s node %r: batch %d; upyflow runs batch 1" % (node.op_type, node.name, v.shape[0]))
    if len(v.shape) == 3:
        return stored_as(r, v, (1, v.shape[1], 1, v.shape[2]), NHWC)
    return stored_as(r, v, v.shape, NHWC)


def out_1d(r: Reader, v: Val) -> Val:
    """A [1, C, 1, L] NHWC result as the [1, C, L] NLC value of a 1-D operator (an aliased RESHAPE)."""
    res = stored_as(r, v, (v.shape[0], v.shape[1], v.shape[3]), NLC)
    if res.t != v.t:   # the ONNX name goes to the 1-D tensor
        t2, t1 = r.tensors[v.t], r.tensors[res.t]
        t2.name, t1.name = t2.name + "/2d", t2.name
    return res
