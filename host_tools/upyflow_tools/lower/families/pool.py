"""AVERAGE_POOL_2D, MAX_POOL_2D and L2_POOL_2D (float32 only, as TFLM)."""
from __future__ import annotations

from ... import BakeError
from ...ir import Graph, Op
from ...quant import activation_range, activation_range_float, f32
from ..core import Call, conv_geometry, inp, lowering, types_error
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
        del geom["d_h"], geom["d_w"]  # pools have no dilation
        geom.update(in_h=x.shape[1], in_w=x.shape[2], c=x.shape[3], out_h=out.shape[1], out_w=out.shape[2])
        act = o.get("fused_activation_function", "NONE")
        if x.dtype == out.dtype == "f32":
            lo, hi = activation_range_float(act)
            return [Call(kind + "_pool2d_f32", x=op.inputs[0], out=op.outputs[0], **geom, act_min=lo, act_max=hi)]
        if not x.dtype == out.dtype == "i8" or kind == "l2":
            raise types_error(op, graph)
        if kind == "avg" and uses_ort(graph):
            # onnxruntime's QLinearAveragePool; whole-image windows take its global pool
            whole = (k_h, k_w) == tuple(x.shape[1:3]) and (geom["out_h"], geom["out_w"]) == (1, 1) \
                and (geom["pad_h"], geom["pad_w"]) == (0, 0)
            glob = ort_mean_scale(x, out, k_h * k_w) if whole else 0.0
            lo, hi = activation_range(act, "i8", out.sc, out.zp)
            return [Call("avg_pool2d_s8_ort", x=op.inputs[0], out=op.outputs[0], **geom, in_zp=x.zp,
                         in_s=f32(x.sc), out_s=f32(out.sc), q_zp=out.zp + 128, q_shift=128, glob_scale=glob,
                         act_min=lo, act_max=hi)]
        if (x.sc, x.zp) != (out.sc, out.zp):
            raise BakeError("%s %r: input and output quantization differ" % (op.kind, out.name))
        lo, hi = activation_range(act, "i8", out.sc, out.zp)
        return [Call(kind + "_pool2d_s8", x=op.inputs[0], out=op.outputs[0], **geom, act_min=lo, act_max=hi)]
    return lower_pool


lowering("AVERAGE_POOL_2D", "int8; float32")(_pool("avg"))
lowering("MAX_POOL_2D", "int8; float32")(_pool("max"))
lowering("L2_POOL_2D", "float32")(_pool("l2"))
