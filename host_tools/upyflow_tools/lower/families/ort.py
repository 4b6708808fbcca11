"""Constants of the int8 conv/FC kernels that requantize as onnxruntime does (*_s8_ort).

onnxruntime's QLinearConv and QGemm (the CPU kernels its QDQ fusions make) scale each output
channel's int32 sum by f32(f32(in_scale * w_scale[c]) / out_scale), all float32 arithmetic,
then round the float32 product to even. The graph picks them: graph.rounding == "onnxruntime".
"""
from __future__ import annotations

import numpy as np

from ...ir import Graph, Op, Tensor
from ..core import check_filter_quant


def uses_ort(graph: Graph) -> bool:
    return getattr(graph, "rounding", "tflm") == "onnxruntime"


def ort_extras(graph: Graph, op: Op, x: Tensor, w: Tensor, bias: np.ndarray,
               out: Tensor, channels: int) -> list[int]:
    """Folded-bias and float32 per-channel scale constants; their tensor ids."""
    check_filter_quant(op, w, channels)
    ws = np.broadcast_to(np.asarray(w.scale, np.float32), (channels,))
    scale = (np.float32(x.sc) * ws) / np.float32(out.sc)   # float32 at each step, as onnxruntime
    name = graph.tensors[op.outputs[0]].name
    return [graph.add_const(name + "/bias_folded", bias.astype(np.int32), "i32"),
            graph.add_const(name + "/scale", scale.astype(np.float32), "f32")]
