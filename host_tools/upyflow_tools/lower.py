"""Lower ir ops to device kernel calls with every input-independent number precomputed.

One function per TFLite operator, registered in LOWERINGS; the supported-operator
list printed by `upyflow inspect` is generated from this table and TYPES.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import math

import numpy as np

from . import BakeError
from .ir import Graph, Op, Tensor
from .quant import (QRANGE, activation_range, activation_range_float, channel_multipliers,
                    conv_out_size, conv_pad, softmax_params)


@dataclass
class Call:
    kernel: str                     # device kernel name, the dispatch key
    tensors: list[int]              # graph tensor indices, in the kernel's argument order
    params: list = field(default_factory=list)   # ints and floats after the tensors
    op_index: int = -1              # the source op, for reports


LOWERINGS: dict[str, Callable[[Graph, Op], list[Call]]] = {}
TYPES: dict[str, str] = {}          # op kind -> supported type combinations, for docs


def lowering(kind: str, types: str):
    def register(fn):
        LOWERINGS[kind] = fn
        TYPES[kind] = types
        return fn
    return register


def supported_ops() -> list[str]:
    return sorted(LOWERINGS)


def lower(graph: Graph) -> list[Call]:
    """Every op of the graph as kernel calls; BakeError on anything unsupported."""
    unsupported = sorted({op.kind for op in graph.ops if op.kind not in LOWERINGS})
    if unsupported:
        raise BakeError("unsupported operator%s %s; upyflow supports %s"
                        % ("s" if len(unsupported) > 1 else "", ", ".join(unsupported),
                           ", ".join(supported_ops())))
    _check_graph(graph)
    calls = []
    for i, op in enumerate(graph.ops):
        for call in LOWERINGS[op.kind](graph, op):
            call.op_index = i
            calls.append(call)
    return calls


# Operands each lowering reads without checking; more are optional (-1 or absent).
_MIN_INPUTS = {"FULLY_CONNECTED": 2, "CONV_2D": 2, "DEPTHWISE_CONV_2D": 2}
ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")


def _check_graph(graph: Graph) -> None:
    """Reject, with a BakeError, what would otherwise crash a lowering or the planner.

    A damaged or unusual file gets here with missing operands, graph inputs/outputs
    that name no tensor, fused activations we have no clamp for (TANH, SIGN_BIT), or
    int tensors without a usable scale (0, NaN, absent): without these checks they
    surfaced as IndexError / ZeroDivisionError / ValueError tracebacks."""
    n = len(graph.tensors)
    for what, ids in (("input", graph.inputs), ("output", graph.outputs)):
        for t in ids:
            if not 0 <= t < n:
                raise BakeError("graph %s refers to tensor %d of %d" % (what, t, n))
    for op in graph.ops:
        need = _MIN_INPUTS.get(op.kind, 1)
        if len(op.inputs) < need or any(t < 0 for t in op.inputs[:need]) \
                or not op.outputs or op.outputs[0] < 0:
            raise BakeError("operator %s has inputs %s and outputs %s; it needs %d input%s and an output"
                            % (op.kind, op.inputs, op.outputs, need, "s" if need > 1 else ""))
        act = op.options.get("fused_activation_function", "NONE")
        if act not in ACTIVATIONS:
            raise BakeError("operator %s has fused activation %s; upyflow supports %s"
                            % (op.kind, act, ", ".join(ACTIVATIONS)))
        if op.kind == "RESHAPE":
            continue  # no arithmetic: quantization does not matter
        for t in op.inputs + op.outputs:
            tensor = graph.tensors[t] if t >= 0 else None
            if tensor is None or tensor.dtype not in ("i8", "i16"):
                continue
            if not (tensor.scale and all(s > 0 and math.isfinite(s) for s in tensor.scale)):
                shown = ", ".join("%g" % s for s in tensor.scale[:4]) + (", ..." if len(tensor.scale) > 4 else "")
                raise BakeError("%s tensor %r has quantization scale %s; it needs positive, finite scales"
                                % (op.kind, tensor.name, "[%s]" % shown if tensor.scale else "(none)"))
            lo, hi = QRANGE[tensor.dtype]
            if any(not lo <= z <= hi for z in tensor.zero_point):
                raise BakeError("%s tensor %r has a zero point outside the %s range"
                                % (op.kind, tensor.name, tensor.dtype))


def _t(graph: Graph, op: Op, k: int) -> Tensor:
    return graph.tensors[op.inputs[k]]


def _check_size(op: Op, t: Tensor, size: int, what: str) -> None:
    if t.size != size:
        raise BakeError("%s %s %r has shape %s (%d values), expected %d values"
                        % (op.kind, what, t.name, list(t.shape), t.size, size))


def _types_error(op: Op, graph: Graph) -> BakeError:
    types = "/".join(graph.tensors[i].dtype for i in op.inputs + op.outputs if i >= 0)
    return BakeError("operator %s with tensor types %s is not supported (supported: %s)"
                     % (op.kind, types, TYPES[op.kind]))


def _need_const(graph: Graph, op: Op, k: int, what: str) -> Tensor:
    t = _t(graph, op, k)
    if not t.is_const:
        raise BakeError("operator %s needs a constant %s (tensor %r is computed at run time)"
                        % (op.kind, what, t.name))
    return t


def _quant_extras(graph: Graph, op: Op, x: Tensor, w: Tensor, bias: np.ndarray,
                  out: Tensor, channels: int, float_product: bool) -> list[int]:
    """Folded-bias, multiplier and shift constants of an int8 conv/FC; their tensor ids."""
    if len(w.scale) not in (1, channels):
        raise BakeError("operator %s has filter %r with %d scales for %d channels"
                        % (op.kind, w.name, len(w.scale), channels))
    if any(z != 0 for z in w.zero_point):
        raise BakeError("operator %s has filter %r with a non-zero zero point; "
                        "upyflow needs symmetric int8 weights" % (op.kind, w.name))
    mult, shift = channel_multipliers(x.sc, w.scale, out.sc, channels, float_product)
    name = graph.tensors[op.outputs[0]].name
    return [graph.add_const(name + "/bias_folded", bias.astype(np.int32), "i32"),
            graph.add_const(name + "/multiplier", mult, "i32"),
            graph.add_const(name + "/shift", shift, "i32")]


def _bias(graph: Graph, op: Op, channels: int, dtype) -> np.ndarray:
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        b = _need_const(graph, op, 2, "bias")
        _check_size(op, b, channels, "bias")
        return b.data.reshape(-1).astype(dtype)
    return np.zeros(channels, dtype)


@lowering("FULLY_CONNECTED", "int8 (per-tensor or per-channel weights, int32 bias); float32")
def _fully_connected(graph: Graph, op: Op) -> list[Call]:
    x, out = _t(graph, op, 0), graph.tensors[op.outputs[0]]
    w = _need_const(graph, op, 1, "weights")
    if len(w.shape) != 2:
        raise BakeError("FULLY_CONNECTED weights %r have shape %s, expected 2-D" % (w.name, list(w.shape)))
    n_out, n_in = w.shape
    if n_in < 1 or x.size % n_in:
        raise BakeError("FULLY_CONNECTED input %r of %d values is not a multiple of %d" % (x.name, x.size, n_in))
    batches = x.size // n_in
    _check_size(op, out, batches * n_out, "output")
    act = op.options.get("fused_activation_function", "NONE")
    if x.dtype == w.dtype == out.dtype == "f32":
        bias = _bias(graph, op, n_out, np.float32)
        b = graph.add_const(out.name + "/bias", bias, "f32")
        return [Call("fully_connected_f32", [op.inputs[0], op.inputs[1], b, op.outputs[0]],
                     [batches, n_in, n_out, *activation_range_float(act)])]
    if not (x.dtype == w.dtype == out.dtype == "i8"):
        raise _types_error(op, graph)
    bias = _bias(graph, op, n_out, np.int64)
    bias = bias - x.zp * w.data.astype(np.int64).sum(axis=1)
    extras = _quant_extras(graph, op, x, w, bias, out, n_out, float_product=len(w.scale) == 1)
    return [Call("fully_connected_s8", [op.inputs[0], op.inputs[1], extras[0], op.outputs[0],
                                        extras[1], extras[2]],
                 [batches, n_in, n_out, out.zp, *activation_range(act, "i8", out.sc, out.zp)])]


def _conv_geometry(op: Op, x: Tensor, k_h: int, k_w: int, out: Tensor) -> list[int]:
    if len(x.shape) != 4 or x.shape[0] != 1:
        raise BakeError("%s input %r has shape %s; upyflow runs batch-1 NHWC tensors"
                        % (op.kind, x.name, list(x.shape)))
    o = op.options
    s_h, s_w = o.get("stride_h", 1), o.get("stride_w", 1)
    d_h, d_w = o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1)
    padding = o.get("padding", "VALID")
    if padding not in ("SAME", "VALID") or min(s_h, s_w, d_h, d_w, k_h, k_w) < 1:
        raise BakeError("%s %r: unsupported geometry (padding %s, stride %dx%d, dilation %dx%d, filter %dx%d)"
                        % (op.kind, out.name, padding, s_h, s_w, d_h, d_w, k_h, k_w))
    _, in_h, in_w, _ = x.shape
    out_h = conv_out_size(padding, in_h, k_h, s_h, d_h)
    out_w = conv_out_size(padding, in_w, k_w, s_w, d_w)
    if tuple(out.shape[1:3]) != (out_h, out_w):
        raise BakeError("%s output %r has shape %s, but stride, padding and filter give %dx%d"
                        % (op.kind, out.name, list(out.shape), out_h, out_w))
    pad_h = 0 if padding == "VALID" else conv_pad(in_h, k_h, s_h, d_h, out_h)
    pad_w = 0 if padding == "VALID" else conv_pad(in_w, k_w, s_w, d_w, out_w)
    return [k_h, k_w, s_h, s_w, d_h, d_w, pad_h, pad_w]


def _check_rank4(op: Op, x: Tensor, w: Tensor, out: Tensor) -> None:
    """Input, filter and output must be 4-D, the output depth the filter's channel count."""
    for what, t in (("input", x), ("filter", w), ("output", out)):
        if len(t.shape) != 4:
            raise BakeError("%s %s %r has shape %s, expected 4-D" % (op.kind, what, t.name, list(t.shape)))
    oc = w.shape[0] if op.kind == "CONV_2D" else w.shape[3]
    if out.shape[3] != oc:
        raise BakeError("%s output %r has %d channels, the filter %d" % (op.kind, out.name, out.shape[3], oc))


@lowering("CONV_2D", "int8 (per-channel or per-tensor weights); float32")
def _conv2d(graph: Graph, op: Op) -> list[Call]:
    x, out = _t(graph, op, 0), graph.tensors[op.outputs[0]]
    w = _need_const(graph, op, 1, "filter")
    _check_rank4(op, x, w, out)
    oc, k_h, k_w, ic = w.shape
    if ic != x.shape[-1]:
        raise BakeError("CONV_2D %r: grouped convolution (filter depth %d, input depth %d) "
                        "is not supported" % (out.name, ic, x.shape[-1]))
    geom = _conv_geometry(op, x, k_h, k_w, out)
    dims = [x.shape[1], x.shape[2], ic, out.shape[1], out.shape[2], oc]
    act = op.options.get("fused_activation_function", "NONE")
    if x.dtype == w.dtype == out.dtype == "f32":
        b = graph.add_const(out.name + "/bias", _bias(graph, op, oc, np.float32), "f32")
        return [Call("conv2d_f32", [op.inputs[0], op.inputs[1], b, op.outputs[0]],
                     dims + geom + list(activation_range_float(act)))]
    if not (x.dtype == w.dtype == out.dtype == "i8"):
        raise _types_error(op, graph)
    bias = _bias(graph, op, oc, np.int64) - x.zp * w.data.astype(np.int64).reshape(oc, -1).sum(axis=1)
    extras = _quant_extras(graph, op, x, w, bias, out, oc, float_product=False)
    return [Call("conv2d_s8", [op.inputs[0], op.inputs[1], extras[0], op.outputs[0], extras[1], extras[2]],
                 dims + geom + [-x.zp, out.zp, *activation_range(act, "i8", out.sc, out.zp)])]


@lowering("DEPTHWISE_CONV_2D", "int8 (per-channel or per-tensor weights); float32")
def _depthwise_conv2d(graph: Graph, op: Op) -> list[Call]:
    x, out = _t(graph, op, 0), graph.tensors[op.outputs[0]]
    w = _need_const(graph, op, 1, "filter")
    _check_rank4(op, x, w, out)
    _, k_h, k_w, oc = w.shape
    ic = x.shape[-1]
    if ic < 1 or oc % ic:
        raise BakeError("DEPTHWISE_CONV_2D %r: %d output channels for %d input channels" % (out.name, oc, ic))
    geom = _conv_geometry(op, x, k_h, k_w, out)
    dims = [x.shape[1], x.shape[2], ic, out.shape[1], out.shape[2], oc // ic]
    act = op.options.get("fused_activation_function", "NONE")
    if x.dtype == w.dtype == out.dtype == "f32":
        b = graph.add_const(out.name + "/bias", _bias(graph, op, oc, np.float32), "f32")
        return [Call("depthwise_conv2d_f32", [op.inputs[0], op.inputs[1], b, op.outputs[0]],
                     dims + geom + list(activation_range_float(act)))]
    if not (x.dtype == w.dtype == out.dtype == "i8"):
        raise _types_error(op, graph)
    bias = _bias(graph, op, oc, np.int64) - x.zp * w.data.astype(np.int64).reshape(-1, oc).sum(axis=0)
    extras = _quant_extras(graph, op, x, w, bias, out, oc, float_product=False)
    return [Call("depthwise_conv2d_s8", [op.inputs[0], op.inputs[1], extras[0], op.outputs[0],
                                         extras[1], extras[2]],
                 dims + geom + [-x.zp, out.zp, *activation_range(act, "i8", out.sc, out.zp)])]


def _pool(kind: str):
    def lower_pool(graph: Graph, op: Op) -> list[Call]:
        x, out = _t(graph, op, 0), graph.tensors[op.outputs[0]]
        o = op.options
        k_h, k_w = o.get("filter_height", 1), o.get("filter_width", 1)
        if len(out.shape) != 4 or len(x.shape) != 4 or out.shape[3] != x.shape[3]:
            raise BakeError("%s %r: input shape %s and output shape %s do not match"
                            % (op.kind, out.name, list(x.shape), list(out.shape)))
        geom = _conv_geometry(op, x, k_h, k_w, out)
        del geom[4:6]  # pools have no dilation
        dims = [x.shape[1], x.shape[2], x.shape[3], out.shape[1], out.shape[2]]
        act = o.get("fused_activation_function", "NONE")
        if x.dtype == out.dtype == "f32":
            return [Call(kind + "_pool2d_f32", [op.inputs[0], op.outputs[0]],
                         dims + geom + list(activation_range_float(act)))]
        if not x.dtype == out.dtype == "i8":
            raise _types_error(op, graph)
        if (x.sc, x.zp) != (out.sc, out.zp):
            raise BakeError("%s %r: input and output quantization differ" % (op.kind, out.name))
        return [Call(kind + "_pool2d_s8", [op.inputs[0], op.outputs[0]],
                     dims + geom + list(activation_range(act, "i8", out.sc, out.zp)))]
    return lower_pool


lowering("AVERAGE_POOL_2D", "int8; float32")(_pool("avg"))
lowering("MAX_POOL_2D", "int8; float32")(_pool("max"))


@lowering("SOFTMAX", "int8 -> int8 (output scale 1/256, zero point -128); float32")
def _softmax(graph: Graph, op: Op) -> list[Call]:
    x, out = _t(graph, op, 0), graph.tensors[op.outputs[0]]
    if not x.shape or x.shape[-1] < 1:
        raise BakeError("SOFTMAX input %r has shape %s" % (x.name, list(x.shape)))
    _check_size(op, out, x.size, "output")
    depth = x.shape[-1]
    rows = x.size // depth
    beta = float(op.options.get("beta", 1.0))
    if x.dtype == out.dtype == "f32":
        return [Call("softmax_f32", [op.inputs[0], op.outputs[0]], [rows, depth, beta])]
    if not x.dtype == out.dtype == "i8":
        raise _types_error(op, graph)
    if out.zp != -128 or out.sc != float(np.float32(1 / 256)):
        raise BakeError("SOFTMAX %r: int8 output must have scale 1/256 and zero point -128" % out.name)
    return [Call("softmax_s8", [op.inputs[0], op.outputs[0]], [rows, depth, *softmax_params(beta, x.sc)])]


@lowering("QUANTIZE", "float32 -> int8/int16; int8/int16 -> int8/int16 (requantize)")
def _quantize(graph: Graph, op: Op) -> list[Call]:
    x, out = _t(graph, op, 0), graph.tensors[op.outputs[0]]
    if out.dtype not in ("i8", "i16"):
        raise _types_error(op, graph)
    _check_size(op, out, x.size, "output")
    qmin, qmax = QRANGE[out.dtype]
    if x.dtype == "f32":
        return [Call("quantize_f32", [op.inputs[0], op.outputs[0]], [x.size, out.sc, out.zp, qmin, qmax])]
    if x.dtype not in ("i8", "i16"):
        raise _types_error(op, graph)
    mult, shift = channel_multipliers(x.sc, [1.0], out.sc, 1)
    return [Call("requantize", [op.inputs[0], op.outputs[0]],
                 [x.size, x.zp, int(mult[0]), int(shift[0]), out.zp, qmin, qmax])]


@lowering("DEQUANTIZE", "int8/int16 -> float32")
def _dequantize(graph: Graph, op: Op) -> list[Call]:
    x, out = _t(graph, op, 0), graph.tensors[op.outputs[0]]
    if x.dtype not in ("i8", "i16") or out.dtype != "f32":
        raise _types_error(op, graph)
    _check_size(op, out, x.size, "output")
    return [Call("dequantize_f32", [op.inputs[0], op.outputs[0]], [x.size, x.sc, x.zp])]


@lowering("RESHAPE", "any (no kernel: the output shares the input's arena bytes)")
def _reshape(graph: Graph, op: Op) -> list[Call]:
    # Normally removed by passes.alias_layout_ops; a copy is the fallback.
    x, out = _t(graph, op, 0), graph.tensors[op.outputs[0]]
    return [Call("copy_bytes", [op.inputs[0], op.outputs[0]], [x.size])]
