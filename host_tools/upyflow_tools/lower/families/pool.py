"""AVERAGE_POOL_2D and MAX_POOL_2D."""
from __future__ import annotations


from ... import BakeError
from ...ir import Graph, Op
from ...quant import (activation_range, activation_range_float, f32)
from ..core import (Call, conv_geometry, inp, lowering,
                   types_error)
from ..ort_rounding import ort_mean_scale, uses_ort


def _pool(kind: str):
    def lower_pool(graph: Graph, op: Op) -> list[Call]:
        x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
        o = op.options
        k_h, k_w = o.get("filter_height", 1), o.get("filter_width", 1)
        if len(out.shape) != 4 or len(x.shape) != 4 or out.shape[3] != x.shape[3]:
            raise BakeError("%s %r: input shape %s and output shape %s do not match"
                            % (op.kind, out.name, list(x.shape), list(out.shape)))
        geom = conv_geometry(op, x, k_h, k_w, out)
        del geom[4:6]  # pools have no dilation
        dims = [x.shape[1], x.shape[2], x.shape[3], out.shape[1], out.shape[2]]
        act = o.get("fused_activation_function", "NONE")
        if x.dtype == out.dtype == "f32":
            return [Call(kind + "_pool2d_f32", [op.inputs[0], op.outputs[0]],
                         dims + geom + list(activation_range_float(act)))]
        if not x.dtype == out.dtype == "i8":
            raise types_error(op, graph)
        if kind == "avg" and uses_ort(graph):
            # onnxruntime's QLinearAveragePool; whole-image windows take its global pool
            whole = (k_h, k_w) == tuple(x.shape[1:3]) and dims[3:5] == [1, 1] and geom[4:6] == [0, 0]
            glob = ort_mean_scale(x, out, k_h * k_w) if whole else 0.0
            return [Call("avg_pool2d_s8_ort", [op.inputs[0], op.outputs[0]],
                         dims + geom + [x.zp, f32(x.sc), f32(out.sc), out.zp + 128, 128, glob]
                         + list(activation_range(act, "i8", out.sc, out.zp)))]
        if (x.sc, x.zp) != (out.sc, out.zp):
            raise BakeError("%s %r: input and output quantization differ" % (op.kind, out.name))
        return [Call(kind + "_pool2d_s8", [op.inputs[0], op.outputs[0]],
                     dims + geom + list(activation_range(act, "i8", out.sc, out.zp)))]
    return lower_pool


lowering("AVERAGE_POOL_2D", "int8; float32")(_pool("avg"))
lowering("MAX_POOL_2D", "int8; float32")(_pool("max"))
