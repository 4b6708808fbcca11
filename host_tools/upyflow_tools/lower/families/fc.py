"""FULLY_CONNECTED and BATCH_MATMUL."""
from __future__ import annotations

import numpy as np

from ... import BakeError
from ...ir import DTYPE_SIZE as ESIZE
from ...ir import Graph, Op
from ...quant import QRANGE, activation_range, activation_range_float, quantize_multiplier
from ..core import Call, bias_array, check_size, inp, lowering, need_const, quant_extras, types_error
from ..ort_rounding import ort_extras, uses_ort
from .conv import MAX_SHIFT64, bias_int64, s16_consts, uses_acc64


@lowering("FULLY_CONNECTED", "int8 (per-tensor or per-channel weights, int32 bias); int16 with int8 "
                            "weights (int32 or int64 bias); float32", min_inputs=2)
def _fully_connected(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    w = need_const(graph, op, 1, "weights")
    if len(w.shape) != 2:
        raise BakeError("FULLY_CONNECTED weights %r have shape %s, expected 2-D" % (w.name, list(w.shape)))
    n_out, n_in = w.shape
    if n_in < 1 or x.size % n_in:
        raise BakeError("FULLY_CONNECTED input %r of %d values is not a multiple of %d" % (x.name, x.size, n_in))
    batches = x.size // n_in
    check_size(op, out, batches * n_out, "output")
    act = op.options.get("fused_activation_function", "NONE")
    if x.dtype == w.dtype == out.dtype == "f32":
        bias = bias_array(graph, op, n_out, np.float32)
        b = graph.add_const(out.name + "/bias", bias, "f32")
        lo, hi = activation_range_float(act)
        return [Call("fully_connected_f32", x=op.inputs[0], w=op.inputs[1], bias=b, out=op.outputs[0],
                     batches=batches, n_in=n_in, n_out=n_out, act_min=lo, act_max=hi)]
    if x.dtype == out.dtype == "i16" and w.dtype == "i8":
        bias, bias_dtype = bias_int64(graph, op, 2, n_out, ("i32", "i64"))
        acc64 = uses_acc64(op, bias_dtype)
        bias = bias - x.zp * w.const_data.astype(np.int64).sum(axis=1)
        # the TFLM interpreter's per-tensor multiplier is the double product here too
        extras = s16_consts(graph, op, x, w, bias, out, n_out, acc64)
        lo, hi = activation_range(act, "i16", out.sc, out.zp)
        return [Call("fully_connected_s16", x=op.inputs[0], w=op.inputs[1], bias=extras[0], out=op.outputs[0],
                     mult=extras[1], shift=extras[2], batches=batches, n_in=n_in, n_out=n_out, out_off=out.zp,
                     acc64=int(acc64), act_min=lo, act_max=hi)]
    if not (x.dtype == w.dtype == out.dtype == "i8"):
        raise types_error(op, graph)
    bias = bias_array(graph, op, n_out, np.int64)
    bias = bias - x.zp * w.const_data.astype(np.int64).sum(axis=1)
    if uses_ort(graph):
        extras = ort_extras(graph, op, x, w, bias, out, n_out)
        lo, hi = activation_range(act, "i8", out.sc, out.zp)
        return [Call("fully_connected_s8_ort", x=op.inputs[0], w=op.inputs[1], bias=extras[0], out=op.outputs[0],
                     scale=extras[1], batches=batches, n_in=n_in, n_out=n_out, out_off=out.zp, act_min=lo,
                     act_max=hi)]
    extras = quant_extras(graph, op, x, w, bias, out, n_out)
    lo, hi = activation_range(act, "i8", out.sc, out.zp)
    return [Call("fully_connected_s8", x=op.inputs[0], w=op.inputs[1], bias=extras[0], out=op.outputs[0],
                 mult=extras[1], shift=extras[2], batches=batches, n_in=n_in, n_out=n_out, out_off=out.zp,
                 act_min=lo, act_max=hi)]


def matmul_geometry(op: Op, ls: list[int], rs: list[int], adj_x: bool, adj_y: bool) -> tuple[list[int], dict]:
    """The output shape and the batch_matmul kernels' offsets and strides of lhs @ rhs (TFLite's
    BATCH_MATMUL: ranks 2 to 5, batch dimensions broadcast, adj_x/adj_y transpose the last two)."""
    if not (2 <= len(ls) <= 5 and 2 <= len(rs) <= 5):
        raise BakeError("%s: operands of rank %d and %d (TFLM: 2 to 5)" % (op.kind, len(ls), len(rs)))
    rank = max(len(ls), len(rs))
    ls, rs = [1] * (rank - len(ls)) + list(ls), [1] * (rank - len(rs)) + list(rs)
    m, k = (ls[-1], ls[-2]) if adj_x else (ls[-2], ls[-1])
    k2, n = (rs[-1], rs[-2]) if adj_y else (rs[-2], rs[-1])
    batch = []
    for a, b in zip(ls[:-2], rs[:-2]):
        if a != b and 1 not in (a, b):
            raise BakeError("%s: batch dimensions %s and %s do not broadcast" % (op.kind, ls[:-2], rs[:-2]))
        batch.append(max(a, b))
    if k != k2:
        raise BakeError("%s: depths %d and %d differ (shapes %s, %s)" % (op.kind, k, k2, ls, rs))

    def batch_strides(shape: list[int], size: int) -> list[int]:
        strides, step = [], size
        for d in reversed(shape[:-2]):
            strides.append(0 if d == 1 else step)
            step *= d
        return strides[::-1]
    lst, rst = batch_strides(ls, m * k), batch_strides(rs, k * n)
    offsets = []
    for idx in np.ndindex(*batch):
        offsets += [sum(i * s for i, s in zip(idx, lst)), sum(i * s for i, s in zip(idx, rst))]
    geo = dict(nb=len(offsets) // 2, m=m, n=n, k=k, lsi=1 if adj_x else k, lsk=m if adj_x else 1,
               rsk=1 if adj_y else n, rsj=k if adj_y else 1)
    return batch + [m, n], dict(geo, offsets=np.array(offsets, np.int32))


@lowering("BATCH_MATMUL", "int8; int16 (zero points 0); float32; ranks 2 to 5, broadcast batches, adj_x/adj_y; "
                         "either operand computed or constant", min_inputs=2)
def _batch_matmul(graph: Graph, op: Op) -> list[Call]:
    lhs, rhs, out = inp(graph, op, 0), inp(graph, op, 1), graph.tensors[op.outputs[0]]
    shape, geo = matmul_geometry(op, list(lhs.shape), list(rhs.shape), bool(op.options.get("adj_x")),
                                 bool(op.options.get("adj_y")))
    if list(out.shape) != shape:
        raise BakeError("BATCH_MATMUL output %r has shape %s, the operands give %s"
                        % (out.name, list(out.shape), shape))
    d = graph.add_const(out.name + "/offsets", geo.pop("offsets"), "i32")
    names = dict(lhs=op.inputs[0], rhs=op.inputs[1], d=d, out=op.outputs[0])
    if lhs.dtype == rhs.dtype == out.dtype == "f32":
        return [Call("batch_matmul_f32", **names, **geo)]
    if not (lhs.dtype == rhs.dtype == out.dtype and lhs.dtype in ("i8", "i16")):
        raise types_error(op, graph)
    if any(len(t.scale) != 1 for t in (lhs, rhs, out)):
        raise BakeError("BATCH_MATMUL %r: needs per-tensor quantization of both operands and the output" % out.name)
    if lhs.dtype == "i16" and (lhs.zp or rhs.zp or out.zp):
        raise BakeError("BATCH_MATMUL %r: int16 needs zero points 0 (TFLM)" % out.name)
    mult, shift = quantize_multiplier(lhs.sc * rhs.sc / out.sc)   # in double, as TFLM
    if lhs.dtype == "i16" and shift > MAX_SHIFT64:
        raise BakeError("BATCH_MATMUL %r: scale ratio lhs*rhs/output of 2^%d is too large for int16 "
                        "requantization" % (out.name, shift - 1))
    lo, hi = QRANGE[out.dtype]
    return [Call("batch_matmul_q", **names, **geo, esize=ESIZE[lhs.dtype], lhs_off=-lhs.zp, rhs_off=-rhs.zp,
                 mult=mult, shift=shift, out_off=out.zp, act_min=lo, act_max=hi)]
