"""TRANSPOSE_CONV: inputs (output_shape, filter, input, optional bias).

As in TFLM, the output size comes from the output tensor's shape; the
output_shape operand (often a graph input) is never read at run time.
"""
from __future__ import annotations

import numpy as np

from ... import BakeError
from ...ir import Graph, Op
from ...quant import activation_range, activation_range_float
from ..core import Call, check_int16_geometry, check_size, inp, lowering, need_const, quant_extras, types_error
from .conv import bias_int64, s16_consts, zero_points_zero


def _pad(padding: str, size: int, k: int, stride: int) -> int:
    # TFLM pads as a convolution from the output back to the input would.
    if padding != "SAME":
        return 0
    conv_out = (size + stride - 1) // stride
    return max(0, ((conv_out - 1) * stride + k - size) // 2)


@lowering("TRANSPOSE_CONV", "int8 (per-channel or per-tensor weights, int32 bias); int16 with int8 "
                           "weights (int16 or int64 bias); float32", min_inputs=3)
def _transpose_conv(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 2), graph.tensors[op.outputs[0]]
    w = need_const(graph, op, 1, "filter")
    for what, t in (("input", x), ("filter", w), ("output", out)):
        if len(t.shape) != 4:
            raise BakeError("TRANSPOSE_CONV %s %r has shape %s, expected 4-D" % (what, t.name, list(t.shape)))
    oc, k_h, k_w, ic = w.shape
    if x.shape[0] != 1 or out.shape[0] != 1:
        raise BakeError("TRANSPOSE_CONV %r: batch %d; upyflow runs batch-1 NHWC tensors" % (out.name, x.shape[0]))
    if x.shape[3] != ic or out.shape[3] != oc:
        raise BakeError("TRANSPOSE_CONV %r: input depth %d, output depth %d for a filter of shape %s"
                        % (out.name, x.shape[3], out.shape[3], list(w.shape)))
    shape_t = inp(graph, op, 0)
    if shape_t.is_const and [int(v) for v in shape_t.const_data.reshape(-1)] != list(out.shape):
        raise BakeError("TRANSPOSE_CONV %r: output_shape operand %s differs from the output shape %s"
                        % (out.name, shape_t.const_data.reshape(-1).tolist(), list(out.shape)))
    o = op.options
    s_h, s_w = o.get("stride_h", 1), o.get("stride_w", 1)
    padding = o.get("padding", "VALID")
    if padding not in ("SAME", "VALID") or min(s_h, s_w, k_h, k_w) < 1:
        raise BakeError("TRANSPOSE_CONV %r: unsupported geometry (padding %s, stride %dx%d, filter %dx%d)"
                        % (out.name, padding, s_h, s_w, k_h, k_w))
    _, in_h, in_w, _ = x.shape
    _, out_h, out_w, _ = out.shape
    geom = dict(in_h=in_h, in_w=in_w, in_c=ic, out_h=out_h, out_w=out_w, out_c=oc, k_h=k_h, k_w=k_w, s_h=s_h,
                s_w=s_w, pad_h=_pad(padding, out_h, k_h, s_h), pad_w=_pad(padding, out_w, k_w, s_w))
    check_int16_geometry(op, out, geom)
    act = o.get("fused_activation_function", "NONE")
    x_w = dict(x=op.inputs[2], w=op.inputs[1])
    if x.dtype == w.dtype == out.dtype == "f32":
        b = graph.add_const(out.name + "/bias", bias_array_at(graph, op, oc, "f32"), "f32")
        lo, hi = activation_range_float(act)
        return [Call("transpose_conv_f32", **x_w, bias=b, out=op.outputs[0], **geom, act_min=lo, act_max=hi)]
    if x.dtype == out.dtype == "i16" and w.dtype == "i8":
        # TFLM converts an int16 bias to int64 and reads any other type as int64
        zero_points_zero(op, x, out)
        bias, _ = bias_int64(graph, op, 3, oc, ("i16", "i64"))
        extras = s16_consts(graph, op, x, w, bias, out, oc, True)
        lo, hi = activation_range(act, "i16", out.sc, out.zp)
        return [Call("transpose_conv_s16", **x_w, bias=extras[0], out=op.outputs[0], mult=extras[1],
                     shift=extras[2], **geom, act_min=lo, act_max=hi)]
    if not (x.dtype == w.dtype == out.dtype == "i8"):
        raise types_error(op, graph)
    extras = quant_extras(graph, op, x, w, bias_array_at(graph, op, oc, "i32"), out, oc)
    lo, hi = activation_range(act, "i8", out.sc, out.zp)
    return [Call("transpose_conv_s8", **x_w, bias=extras[0], out=op.outputs[0], mult=extras[1], shift=extras[2],
                 **geom, in_off=-x.zp, out_off=out.zp, act_min=lo, act_max=hi)]


def bias_array_at(graph: Graph, op: Op, channels: int, dtype: str) -> np.ndarray:
    """The optional bias of type dtype, operand 3 here (core.bias_array reads operand 2)."""
    np_type = np.float32 if dtype == "f32" else np.int64
    if len(op.inputs) > 3 and op.inputs[3] >= 0:
        b = need_const(graph, op, 3, "bias")
        if b.dtype != dtype:
            raise types_error(op, graph)
        check_size(op, b, channels, "bias")
        return b.const_data.reshape(-1).astype(np_type)
    return np.zeros(channels, np_type)
