"""CONV_2D and DEPTHWISE_CONV_2D; the int16-activation (16x8) helpers that FULLY_CONNECTED and
TRANSPOSE_CONV share."""
from __future__ import annotations

import numpy as np

from ... import BakeError
from ...ir import Graph, Op, Tensor
from ...quant import activation_range, activation_range_float, channel_multipliers
from ..core import (
    Call,
    bias_array,
    check_filter_quant,
    check_rank4,
    check_size,
    conv_geometry,
    inp,
    lowering,
    need_const,
    quant_extras,
    types_error,
)
from ..ort_rounding import ort_extras, uses_ort

INT32 = 2          # schema TensorType.INT32: quantized_bias_type asking for int32 accumulation
MAX_SHIFT64 = 14   # the int64 requantization shifts right by 15 - shift, at least 1


def bias_int64(graph: Graph, op: Op, k: int, channels: int, dtypes: tuple[str, ...]) -> tuple[np.ndarray, str | None]:
    """Optional bias input k as int64 values, and its dtype (None when absent)."""
    if len(op.inputs) <= k or op.inputs[k] < 0:
        return np.zeros(channels, np.int64), None
    b = need_const(graph, op, k, "bias")
    if b.dtype not in dtypes:
        names = {"i16": "int16", "i32": "int32", "i64": "int64"}
        raise BakeError("operator %s with int16 input has an %s bias %r; supported: %s"
                        % (op.kind, names.get(b.dtype, b.dtype), b.name, "/".join(names[d] for d in dtypes)))
    check_size(op, b, channels, "bias")
    return b.const_data.reshape(-1).astype(np.int64), b.dtype


def uses_acc64(op: Op, bias_dtype: str | None) -> bool:
    """TFLM accumulates in int32 for an int32 bias, or no bias with quantized_bias_type INT32."""
    if bias_dtype is None:
        return op.options.get("quantized_bias_type", 0) != INT32
    return bias_dtype != "i32"


def zero_points_zero(op: Op, *tensors: Tensor) -> None:
    """TFLM's 16x8 convolutions ignore zero points: accept only 0 (what converters write)."""
    for t in tensors:
        if any(z != 0 for z in t.zero_point):
            raise BakeError("operator %s int16 tensor %r has zero point %d; int16 convolutions need 0"
                            % (op.kind, t.name, t.zp))


def s16_consts(graph: Graph, op: Op, x: Tensor, w: Tensor, bias: np.ndarray, out: Tensor,
               channels: int, acc64: bool) -> list[int]:
    """Constant tensors (bias as int64 word pairs, multiplier, shift); their ids."""
    check_filter_quant(op, w, channels)
    mult, shift = channel_multipliers(x.sc, w.scale, out.sc, channels)
    if acc64 and channels and int(shift.max()) > MAX_SHIFT64:
        raise BakeError("operator %s %r: scale ratio input*filter/output of 2^%d is too large for "
                        "int16 requantization" % (op.kind, out.name, int(shift.max()) - 1))
    name = out.name
    words = np.ascontiguousarray(bias.astype("<i8")).view("<i4")   # (low, high) per value
    return [graph.add_const(name + "/bias64", words.astype(np.int32), "i32"),
            graph.add_const(name + "/multiplier", mult, "i32"),
            graph.add_const(name + "/shift", shift, "i32")]



def _operands(graph: Graph, op: Op) -> tuple[Tensor, Tensor, Tensor]:
    """Input, constant filter and output of a convolution, each of rank 4."""
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    w = need_const(graph, op, 1, "filter")
    check_rank4(op, x, w, out)
    return x, w, out


def _geometry(op: Op, x: Tensor, k_h: int, k_w: int, out: Tensor, **channels: int) -> dict[str, int]:
    """The kernel's geometry parameters: strides, dilations and padding, the input and output
    sizes, and channels (conv2d: out_c; depthwise: depth_mult)."""
    geom = conv_geometry(op, x, k_h, k_w, out)
    geom.update(in_h=x.shape[1], in_w=x.shape[2], in_c=x.shape[3], out_h=out.shape[1], out_w=out.shape[2],
                **channels)
    return geom


@lowering("CONV_2D", "int8 (per-channel or per-tensor weights); int16 with int8 weights "
                    "(int32 or int64 bias); float32", min_inputs=2)
def _conv2d(graph: Graph, op: Op) -> list[Call]:
    x, w, out = _operands(graph, op)
    oc, k_h, k_w, ic = w.shape
    if ic != x.shape[-1]:
        raise BakeError("CONV_2D %r: grouped convolution (filter depth %d, input depth %d) "
                        "is not supported" % (out.name, ic, x.shape[-1]))
    geom = _geometry(op, x, k_h, k_w, out, out_c=oc)
    act = op.options.get("fused_activation_function", "NONE")
    if x.dtype == out.dtype == "i16" and w.dtype == "i8":
        zero_points_zero(op, x, out)
        bias, bias_dtype = bias_int64(graph, op, 2, oc, ("i32", "i64"))
        acc64 = uses_acc64(op, bias_dtype)
        return _int16(graph, op, "conv2d_s16", x, w, out, oc, geom, act, bias, acc64, acc64=int(acc64))
    return _float_or_int8(graph, op, "conv2d", x, w, out, oc, geom, act,
                          lambda: w.const_data.astype(np.int64).reshape(oc, -1).sum(axis=1))


@lowering("DEPTHWISE_CONV_2D", "int8 (per-channel or per-tensor weights); int16 with int8 weights "
                              "(int64 bias); float32", min_inputs=2)
def _depthwise_conv2d(graph: Graph, op: Op) -> list[Call]:
    x, w, out = _operands(graph, op)
    _, k_h, k_w, oc = w.shape
    ic = x.shape[-1]
    if ic < 1 or oc % ic:
        raise BakeError("DEPTHWISE_CONV_2D %r: %d output channels for %d input channels" % (out.name, oc, ic))
    if op.options.get("depth_multiplier", oc // ic) != oc // ic:   # TFLM's loops follow the option
        raise BakeError("DEPTHWISE_CONV_2D %r: depth_multiplier %s, but %d input and %d output channels"
                        % (out.name, op.options["depth_multiplier"], ic, oc))
    geom = _geometry(op, x, k_h, k_w, out, depth_mult=oc // ic)
    act = op.options.get("fused_activation_function", "NONE")
    if x.dtype == out.dtype == "i16" and w.dtype == "i8":
        # TFLM reads a 16x8 depthwise bias as int64 whatever its type: only int64 is safe
        zero_points_zero(op, x, out)
        bias, _ = bias_int64(graph, op, 2, oc, ("i64",))
        return _int16(graph, op, "depthwise_conv2d_s16", x, w, out, oc, geom, act, bias, True)
    return _float_or_int8(graph, op, "depthwise_conv2d", x, w, out, oc, geom, act,
                          lambda: w.const_data.astype(np.int64).reshape(-1, oc).sum(axis=0))


def _int16(graph: Graph, op: Op, kernel: str, x: Tensor, w: Tensor, out: Tensor, oc: int, geom: dict,
           act: str, bias: np.ndarray, wide_acc: bool, **more: int) -> list[Call]:
    """The 16x8 kernel (int16 activations, int8 weights), accumulating in int64
    if wide_acc; more: its parameters besides the geometry and the activation range."""
    extras = s16_consts(graph, op, x, w, bias, out, oc, wide_acc)
    lo, hi = activation_range(act, "i16", out.sc, out.zp)
    return [Call(kernel, x=op.inputs[0], w=op.inputs[1], bias=extras[0], out=op.outputs[0],
                 mult=extras[1], shift=extras[2], **geom, **more, act_min=lo, act_max=hi)]


def _float_or_int8(graph: Graph, op: Op, kind: str, x: Tensor, w: Tensor, out: Tensor, oc: int,
                   geom: dict, act: str, filter_sums) -> list[Call]:
    """CONV_2D and DEPTHWISE_CONV_2D in float32 or int8 (TFLM's or onnxruntime's rounding);
    kind is the kernel stem, filter_sums() each output channel's filter sum."""
    if x.dtype == w.dtype == out.dtype == "f32":
        b = graph.add_const(out.name + "/bias", bias_array(graph, op, oc, np.float32), "f32")
        lo, hi = activation_range_float(act)
        return [Call(kind + "_f32", x=op.inputs[0], w=op.inputs[1], bias=b, out=op.outputs[0], **geom,
                     act_min=lo, act_max=hi)]
    if not (x.dtype == w.dtype == out.dtype == "i8"):
        raise types_error(op, graph)
    bias = bias_array(graph, op, oc, np.int64) - x.zp * filter_sums()
    lo, hi = activation_range(act, "i8", out.sc, out.zp)
    if uses_ort(graph):
        extras = ort_extras(graph, op, x, w, bias, out, oc)
        return [Call(kind + "_s8_ort", x=op.inputs[0], w=op.inputs[1], bias=extras[0], out=op.outputs[0],
                     scale=extras[1], **geom, in_off=-x.zp, out_off=out.zp, act_min=lo, act_max=hi)]
    extras = quant_extras(graph, op, x, w, bias, out, oc)
    wtab = _weight_table(graph, out, geom) if kind == "conv2d" else no_scratch(graph)
    w_min = int(w.const_data.min()) if w.const_data is not None and w.const_data.size else -128
    return [Call(kind + "_s8", x=op.inputs[0], w=op.inputs[1], bias=extras[0], out=op.outputs[0],
                 mult=extras[1], shift=extras[2], wtab=wtab, **geom, in_off=-x.zp, out_off=out.zp, act_min=lo,
                 act_max=hi, wtab_n=0, w_min=w_min)]


# The Cortex-M0+ pointwise kernel with a weight table in the arena (conv.c's conv1x1_wtab_m0):
# layers of 1x1 filters, stride 1, more than 32 inputs (a multiple of 8; fewer take the table
# on the C stack) and WTAB_PIXELS pixels or more (UF_M0_WTAB_PIXELS, a 3x3 layer's 9: fewer do
# not pay for the table). It holds rows * (in_c + 4) words per block of up to WTAB_ROWS rows (a multiple of 4),
# and the packed inputs (pixels / 2 * in_c words) too where blocks take only part of the rows:
# otherwise each block packs them again, which blocks of fewer than WTAB_LEAST rows do not pay
# for; beside the packed inputs, blocks of WTAB_ONCE rows do (UF_M0_WTAB_ONCE).
WTAB_ROWS, WTAB_LEAST, WTAB_ONCE, WTAB_PIXELS = 128, 32, 8, 9


def _weight_table(graph: Graph, out: Tensor, geom: dict) -> int:
    """conv2d_s8's scratch: a weight table the planner may place (graph.scratch), or none."""
    in_c, rows, pixels = geom["in_c"], geom["out_c"] & ~3, geom["out_h"] * geom["out_w"]
    if not (geom["k_h"] == geom["k_w"] == geom["s_h"] == geom["s_w"] == 1 and geom["pad_h"] == geom["pad_w"] == 0
            and in_c > 32 and in_c % 8 == 0 and rows and pixels >= WTAB_PIXELS):
        return no_scratch(graph)
    row, packed = 4 * (in_c + 4), 4 * (pixels // 2) * in_c   # bytes
    want = row * min(rows, WTAB_ROWS) + (packed if rows > WTAB_ROWS else 0)
    least = min(row * min(rows, WTAB_LEAST), packed + row * min(rows, WTAB_ONCE))
    t = graph.add_tensor(Tensor(out.name + "/wtab", (0,), "i32"))
    graph.scratch[t] = (want, least)
    return t


def no_scratch(graph: Graph) -> int:
    """The graph's one empty scratch tensor, for the calls that want none."""
    for t, (want, _) in graph.scratch.items():
        if not want:
            return t
    t = graph.add_tensor(Tensor("no_scratch", (0,), "i32"))
    graph.scratch[t] = (0, 0)
    return t
