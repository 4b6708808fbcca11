"""Lower ir ops to device kernel calls with every input-independent number precomputed.

One function per TFLite operator, registered in LOWERINGS; the supported-operator
list printed by `upyflow inspect` is generated from this table and TYPES.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

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
    calls = []
    for i, op in enumerate(graph.ops):
        for call in LOWERINGS[op.kind](graph, op):
            call.op_index = i
            calls.append(call)
    return calls


def _t(graph: Graph, op: Op, k: int) -> Tensor:
    return graph.tensors[op.inputs[k]]


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
        return b.data.reshape(-1).astype(dtype)
    return np.zeros(channels, dtype)


@lowering("FULLY_CONNECTED", "int8 (per-tensor or per-channel weights, int32 bias); float32")
def _fully_connected(graph: Graph, op: Op) -> list[Call]:
    x, out = _t(graph, op, 0), graph.tensors[op.outputs[0]]
    w = _need_const(graph, op, 1, "weights")
    if len(w.shape) != 2:
        raise BakeError("FULLY_CONNECTED weights %r have shape %s, expected 2-D" % (w.name, list(w.shape)))
    n_out, n_in = w.shape
    if x.size % n_in:
        raise BakeError("FULLY_CONNECTED input %r of %d values is not a multiple of %d" % (x.name, x.size, n_in))
    batches = x.size // n_in
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
    _, in_h, in_w, _ = x.shape
    out_h = conv_out_size(padding, in_h, k_h, s_h, d_h)
    out_w = conv_out_size(padding, in_w, k_w, s_w, d_w)
    if tuple(out.shape[1:3]) != (out_h, out_w):
        raise BakeError("%s output %r has shape %s, but stride, padding and filter give %dx%d"
                        % (op.kind, out.name, list(out.shape), out_h, out_w))
    pad_h = 0 if padding == "VALID" else conv_pad(in_h, k_h, s_h, d_h, out_h)
    pad_w = 0 if padding == "VALID" else conv_pad(in_w, k_w, s_w, d_w, out_w)
    return [k_h, k_w, s_h, s_w, d_h, d_w, pad_h, pad_w]


@lowering("CONV_2D", "int8 (per-channel or per-tensor weights); float32")
def _conv2d(graph: Graph, op: Op) -> list[Call]:
    x, out = _t(graph, op, 0), graph.tensors[op.outputs[0]]
    w = _need_const(graph, op, 1, "filter")
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
    _, k_h, k_w, oc = w.shape
    ic = x.shape[-1]
    if oc % ic:
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
    return [Call("dequantize_f32", [op.inputs[0], op.outputs[0]], [x.size, x.sc, x.zp])]


@lowering("RESHAPE", "any (no kernel: the output shares the input's arena bytes)")
def _reshape(graph: Graph, op: Op) -> list[Call]:
    # Normally removed by passes.alias_layout_ops; a copy is the fallback.
    x, out = _t(graph, op, 0), graph.tensors[op.outputs[0]]
    return [Call("copy_bytes", [op.inputs[0], op.outputs[0]], [x.size])]
