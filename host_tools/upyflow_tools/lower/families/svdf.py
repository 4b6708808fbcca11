"""SVDF: a stateful sequence layer.

Its state tensor is a variable tensor (ir.Tensor.variable): the planner keeps its bytes for
the whole run, so the state carries over between invokes until Model.reset(). Every
multiplier, shift and zero-point correction is folded here, following how TFLite Micro
prepares the kernel (svdf_common.cc).
"""
from __future__ import annotations

import numpy as np

from ... import BakeError
from ...ir import Graph, Op, Tensor
from ...quant import activation_range_float, f32, quantize_multiplier
from ..core import Call, check_size, inp, lowering, need_const, need_state, types_error


def _shape2(op: Op, t: Tensor, what: str) -> tuple[int, int]:
    if len(t.shape) != 2:
        raise BakeError("%s %s %r has shape %s, expected 2-D" % (op.kind, what, t.name, list(t.shape)))
    return t.shape


@lowering("SVDF", "int8 input/weights/output with int16 or int8 time weights and state; float32",
          min_inputs=3)
def _svdf(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    if len(op.inputs) != 5 or op.inputs[4] < 0:
        raise BakeError("SVDF %r has operands %s, expected 5 (the last the state)" % (out.name, op.inputs))
    wf = need_const(graph, op, 1, "feature weights")
    wt = need_const(graph, op, 2, "time weights")
    state = need_state(graph, op, 4, "activation state")
    batch, n_in = _shape2(op, x, "input")
    n_filter, n_in_w = _shape2(op, wf, "feature weights")
    n_filter_t, mem = _shape2(op, wt, "time weights")
    rank = op.options.get("rank", 0)
    if n_in_w != n_in or n_filter_t != n_filter or rank < 1 or n_filter % rank or mem < 1:
        raise BakeError("SVDF %r: input %s, feature weights %s, time weights %s and rank %d do not fit"
                        % (out.name, list(x.shape), list(wf.shape), list(wt.shape), rank))
    n_unit = n_filter // rank
    check_size(op, out, batch * n_unit, "output")
    check_size(op, state, batch * n_filter * mem, "activation state")
    has_bias = len(op.inputs) > 3 and op.inputs[3] >= 0
    bias = need_const(graph, op, 3, "bias") if has_bias else None
    if bias is not None:
        check_size(op, bias, n_unit, "bias")
    dims = dict(batch=batch, n_in=n_in, n_filter=n_filter, rank=rank, mem=mem)
    if x.dtype == wf.dtype == wt.dtype == state.dtype == out.dtype == "f32" \
            and (bias is None or bias.dtype == "f32"):
        b = graph.add_const(out.name + "/bias", bias.const_data.reshape(-1) if bias is not None
                            else np.zeros(n_unit, np.float32), "f32")
        act = op.options.get("fused_activation_function", "NONE")
        lo, hi = activation_range_float(act)
        return [Call("svdf_f32", x=op.inputs[0], wf=op.inputs[1], wt=op.inputs[2], bias=b, state=op.inputs[4],
                     out=op.outputs[0], **dims, act_min=lo, act_max=hi)]
    if not (x.dtype == wf.dtype == out.dtype == "i8" and wt.dtype == state.dtype
            and wt.dtype in ("i8", "i16") and (bias is None or bias.dtype == "i32")):
        raise types_error(op, graph)
    # TFLM multiplies and divides the scales in float32 before widening to double.
    real1 = f32(f32(x.sc * wf.sc) / state.sc)
    real2 = f32(f32(state.sc * wt.sc) / out.sc)
    # TFLM's int SVDF subtracts the input and state zero points inside its dot
    # products; folded here as per-filter constants. It applies no activation
    # beyond the int8 clamp (the option is ignored for integer SVDF).
    feat = -x.zp * wf.const_data.astype(np.int64).sum(axis=1)
    time = -state.zp * wt.const_data.astype(np.int64).sum(axis=1)
    bias64 = bias.const_data.reshape(-1).astype(np.int64) if bias is not None else np.zeros(n_unit, np.int64)
    q = graph.add_const(out.name + "/svdf_q", np.concatenate([feat, time, bias64]).astype(np.int32), "i32")
    kernel = "svdf_s8_i16" if state.dtype == "i16" else "svdf_s8_i8"
    (m1, s1), (m2, s2) = quantize_multiplier(real1), quantize_multiplier(real2)
    return [Call(kernel, x=op.inputs[0], wf=op.inputs[1], wt=op.inputs[2], q=q, state=op.inputs[4],
                 out=op.outputs[0], **dims, state_zp=state.zp, out_zp=out.zp, m1=m1, s1=s1, m2=m2, s2=s2)]
