"""Constants of the int8 kernels that requantize as onnxruntime does (*_s8_ort), shared by
the conv, fc, pool, elementwise, quantize and reduce lowerings (not a kernel family).

onnxruntime's QLinearConv and QGemm (the CPU kernels its QDQ fusions make) scale each output
channel's int32 sum by f32(f32(in_scale * w_scale[c]) / out_scale), all float32 arithmetic,
then round the float32 product to even. The graph picks them: graph.rounding == "onnxruntime".
"""
from __future__ import annotations

import numpy as np

from .. import BakeError
from ..ir import Graph, Op, Tensor
from .core import check_accumulator, check_filter_quant


def uses_ort(graph: Graph) -> bool:
    return getattr(graph, "rounding", "tflm") == "onnxruntime"


def ort_extras(graph: Graph, op: Op, x: Tensor, w: Tensor, bias: np.ndarray,
               out: Tensor, channels: int) -> list[int]:
    """Folded-bias and float32 per-channel scale constants; their tensor ids."""
    check_filter_quant(op, w, channels)
    check_accumulator(op, w, bias, channels, graph.tensors[op.outputs[0]].name)
    ws = np.broadcast_to(np.asarray(w.scale, np.float32), (channels,))
    scale = (np.float32(x.sc) * ws) / np.float32(out.sc)   # float32 at each step, as onnxruntime
    # Kernel precondition: a finite scale of at most 2^20, so that an int32 sum times it stays
    # a finite float32 that every tier rounds alike.
    if not np.all(np.isfinite(scale)) or np.abs(scale).max() > 2.0 ** 20:
        raise BakeError("%s %r: requantization scale %g (input scale x filter scale / output scale) "
                        "is out of range" % (op.kind, graph.tensors[op.outputs[0]].name, np.abs(scale).max()))
    name = graph.tensors[op.outputs[0]].name
    return [graph.add_const(name + "/bias_folded", bias.astype(np.int32), "i32"),
            graph.add_const(name + "/scale", scale.astype(np.float32), "f32")]


def ort_requant_table(x: Tensor, out: Tensor) -> np.ndarray:
    """int8 -> int8 requantization as onnxruntime's DequantizeLinear + QuantizeLinear (and
    QLinearConcat's table): round_half_even(f32(f32((v - zp) * scale) / out_scale)) + out zp."""
    v = np.arange(-128, 128, dtype=np.int32)
    d = np.float32(x.sc) * (v - x.zp).astype(np.float32)
    q = np.rint(d / np.float32(out.sc)).astype(np.int64) + out.zp
    return np.clip(q, -128, 127).astype(np.int8)


def ort_mean_scale(x: Tensor, out: Tensor, count: int) -> float:
    """MLAS's global average pool multiplier: f32(in_scale / f32(out_scale * count))."""
    return float(np.float32(x.sc) / (np.float32(out.sc) * np.float32(count)))
