"""Gemm and MatMul with constant weights as FULLY_CONNECTED; MatMul of a computed second
operand (or a constant first one) as float32 BATCH_MATMUL (numpy's broadcasting and 1-D
promotion, as ONNX)."""
from __future__ import annotations

import numpy as np

from .... import BakeError
from ..checks import attrs
from ..layout import stored_as
from ..qdq import bind_out, is_q, output_chain, qbias, to_float
from ..registry import translator
from ..state import Reader
from ..values import QConst, Val, ident, order


@translator("Gemm")
def gemm(r: Reader, node) -> None:
    a = attrs(node)
    v = r.rt(node, 0)
    if a.get("transA", 0):   # A^T: only how its bytes are read changes (a TRANSPOSE if FC needs it)
        if len(v.shape) != 2:
            raise BakeError("Gemm node %r: A is %d-D" % (node.name, len(v.shape)))
        if v.shape != v.base:
            v = stored_as(r, v, v.shape, ident(2))
        v = Val(v.t, v.shape[::-1], v.shape[::-1], tuple(1 - k for k in v.perm), v.deq)
    w = r.get(node, 1)
    if isinstance(w, Val) or w is None:
        raise BakeError("Gemm node %r needs constant weights (B)" % node.name)
    if np.ndim(w.q if isinstance(w, QConst) else w) != 2:
        raise BakeError("Gemm node %r: B is %d-D; Gemm takes a 2-D B"
                        % (node.name, np.ndim(w.q if isinstance(w, QConst) else w)))
    alpha, beta = float(a.get("alpha", 1.0)), float(a.get("beta", 1.0))
    trans_b = a.get("transB", 0)
    c = r.get(node, 2)
    n_out = np.shape(w.q if isinstance(w, QConst) else w)[0 if trans_b else -1]
    cf = None if c is None or isinstance(c, Val) else np.asarray(c.value() if isinstance(c, QConst) else c,
                                                                  np.float32)
    if cf is not None and not (cf.size == 1 or cf.shape[-1:] == (n_out,) and cf.size == n_out) \
            and len(v.shape) == 2:
        # a bias matrix C: FULLY_CONNECTED without bias, then ADD beta*C (broadcast as ONNX)
        from .arith import float_op
        mid = node.output[0] + "/product"
        fully_connected(r, node, w, trans_b, None, alpha, 1.0, v, mid)
        r.set(node.output[0], float_op(r, node, "ADD", [r.vals[mid], cf * np.float32(beta)], node.output[0]))
        return
    fully_connected(r, node, w, trans_b, c, alpha, beta, v)


@translator("MatMul")
def matmul(r: Reader, node) -> None:
    w = r.get(node, 1)
    if w is None:
        raise BakeError("MatMul node %r needs two operands" % node.name)
    if isinstance(w, Val) or not isinstance(r.get(node, 0), Val):
        batch_matmul(r, node)
        return
    wd = w.q if isinstance(w, QConst) else w
    if wd.ndim != 2:
        raise BakeError("MatMul node %r: %d-D weights; upyflow needs 2-D" % (node.name, wd.ndim))
    fully_connected(r, node, w, 0, None, 1.0, 1.0)


def fully_connected(r: Reader, node, w, trans_b: int, b, alpha: float, beta: float, v: Val | None = None,
                    out_name: str | None = None) -> None:
    """FULLY_CONNECTED of input v (default: the node's first) writing out_name (default: the
    node's output, a Relu/Clip and a QuantizeLinear after it fused; given: nothing fused)."""
    v = r.rt(node, 0) if v is None else v
    wq = w if isinstance(w, QConst) and not np.any(w.zp) else None   # as in ops/conv.py
    wd = wq.q if wq is not None else (w.value() if isinstance(w, QConst) else np.asarray(w, np.float32))
    if wd.ndim != 2:
        raise BakeError("%s node %r: %d-D weights; upyflow needs 2-D" % (node.op_type, node.name, wd.ndim))
    wmat = wd.T if not trans_b else wd      # [N, K]
    n_out, k = wmat.shape
    if v.shape[-1] != k:
        raise BakeError("%s node %r: input %s does not match weights %s"
                        % (node.op_type, node.name, list(v.shape), list(wd.shape)))
    if isinstance(b, Val):
        raise BakeError("%s node %r: computed bias C is not supported" % (node.op_type, node.name))
    quant = is_q(v) and wq is not None and wq.q.dtype == np.int8 and alpha == 1.0 and beta == 1.0
    if quant and wq is not None and wq.scale.size > 1 and wq.axis != (0 if trans_b else 1):
        quant = False
    chain = output_chain(r, node.output[0], True) if quant and out_name is None else None
    if chain is None:
        quant = False
        name = node.output[0]
        bias_f = np.zeros(n_out, np.float32)
        if b is not None and np.size(b.q if isinstance(b, QConst) else b) not in (1, n_out):
            raise BakeError("%s node %r: bias of %d values for %d outputs"
                            % (node.op_type, node.name, np.size(b.q if isinstance(b, QConst) else b), n_out))
        if b is not None:
            bias_f = np.broadcast_to((b.value() if isinstance(b, QConst) else np.asarray(b, np.float32))
                                     .reshape(-1), (n_out,)).astype(np.float32) * np.float32(beta)
        if node.op_type == "MatMul":   # MatMul + Add(constant) -> one FULLY_CONNECTED with bias
            name, bias_f = matmul_bias(r, name, bias_f, n_out)
        chain = output_chain(r, name, False) if out_name is None else ("NONE", out_name, None)
    act, name, q = chain
    # a flat NHWC tensor feeds the weights with permuted columns: no transpose on the device
    batches = int(np.prod(v.shape[:-1], dtype=np.int64))
    x = v
    stored = order(v.base, v.perm)
    cols: np.ndarray | None = None if np.array_equal(stored, np.arange(stored.size)) else stored
    if cols is not None and batches != 1:
        x, cols = stored_as(r, v, v.shape, ident(len(v.shape))), None
    if cols is not None:
        wmat = wmat[:, cols]
    qw = wq if quant else None   # the int8 weights when the FC runs int8
    if qw is None:
        x = to_float(r, x)
        wf = np.asarray(wq.value() if wq is not None else wd, np.float32)
        wf = wf if trans_b else wf.T
        if cols is not None:
            wf = wf[:, cols]
        wt = r.const(node.input[1], np.ascontiguousarray(wf * np.float32(alpha)), "f32")
        bt = r.const(node.input[1] + "/bias", bias_f, "f32")
    else:
        xt = r.tensors[x.t]
        wt = r.const(node.input[1], np.ascontiguousarray(wmat), "i8", qw.scale,
                         np.zeros_like(qw.scale), 0)
        bt = qbias(r, node, b, xt.sc, qw.scale, n_out)
    out_shape = tuple(v.shape[:-1]) + (n_out,)
    out = r.tensor(q[3] if q else name, out_shape, "i8" if q else "f32", *(q[:2] if q else (None, None)))
    r.op("FULLY_CONNECTED", [x.t, wt, bt], [out], fused_activation_function=act,
             keep_num_dims=True, weights_format="DEFAULT")
    bind_out(r, name, q, Val(out, out_shape, out_shape, ident(len(out_shape))))


def matmul_bias(r: Reader, name: str, bias: np.ndarray, n_out: int):
    c = r.sole_consumer(name)
    if c is None or c[1].op_type != "Add":
        return name, bias
    i, node = c
    other = node.input[1] if node.input[0] == name else node.input[0]
    v = r.vals.get(other)
    if isinstance(v, QConst):
        v = v.value()
    if not isinstance(v, np.ndarray) or v.size != n_out or v.shape[-1:] != (n_out,):
        return name, bias
    r.done.add(i)
    return node.output[0], bias + v.reshape(-1).astype(np.float32)


def batch_matmul(r: Reader, node) -> None:
    """A @ B with B computed (or A constant): BATCH_MATMUL in float32, both operands row-major."""
    ops, shapes = [], []
    for k in range(2):   # a 1-D operand becomes a matrix: [1, K] on the left, [K, 1] on the right
        v = r.get(node, k)
        shape = tuple(v.shape) if isinstance(v, Val) else np.shape(v.value() if isinstance(v, QConst) else v)
        if not shape:
            raise BakeError("MatMul node %r: a scalar operand" % node.name)
        shapes.append(shape)
        mat = shape if len(shape) > 1 else ((1,) + shape if k == 0 else shape + (1,))
        if isinstance(v, Val):
            ops.append(to_float(r, stored_as(r, v, mat, ident(len(mat)))).t)
        else:
            c = np.asarray(v.value() if isinstance(v, QConst) else v, np.float32).reshape(mat)
            ops.append(r.const("%s/operand%d" % (node.output[0], k), c, "f32"))
    lt2, rt2 = ops
    ls, rs = shapes
    l2, r2 = r.tensors[lt2].shape, r.tensors[rt2].shape
    if len(l2) > 5 or len(r2) > 5 or l2[-1] != r2[-2]:
        raise BakeError("MatMul node %r: shapes %s and %s (BATCH_MATMUL: ranks up to 5, matching depths)"
                        % (node.name, list(ls), list(rs)))
    try:
        batch = tuple(np.broadcast_shapes(tuple(l2[:-2]), tuple(r2[:-2])))
    except ValueError:
        raise BakeError("MatMul node %r: batch dimensions of %s and %s do not broadcast"
                        % (node.name, list(ls), list(rs))) from None
    full = batch + (l2[-2], r2[-1])
    shape = full[:-2] + ((full[-2],) if len(ls) > 1 else ()) + ((full[-1],) if len(rs) > 1 else ())
    out = r.tensor(node.output[0] + ("/matrix" if shape != full else ""), full, "f32")
    r.op("BATCH_MATMUL", [lt2, rt2], [out], adj_x=False, adj_y=False)
    r.set(node.output[0], Val(out, shape or (1,), full, ident(len(full))))

