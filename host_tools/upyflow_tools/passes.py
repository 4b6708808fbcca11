"""Graph rewrites before lowering."""
from __future__ import annotations

from . import BakeError
from .ir import Graph

LAYOUT_ONLY = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")


def alias_layout_ops(graph: Graph) -> dict[int, int]:
    """Drop reshape-like ops: their output shares the input's bytes.

    Returns {tensor: tensor whose storage it uses}. A constant input makes the
    output a constant; an op whose input is also a graph output keeps its copy.
    """
    alias: dict[int, int] = {}
    kept = []
    for op in graph.ops:
        # variables.py marks the READ_VARIABLEs that may share the state's bytes
        if op.kind not in LAYOUT_ONLY and not op.options.get("shares_state"):
            kept.append(op)
            continue
        if not op.inputs or not op.outputs or op.inputs[0] < 0 or op.outputs[0] < 0:
            raise BakeError("%s has inputs %s and outputs %s; it needs an input and an output"
                            % (op.kind, op.inputs, op.outputs))
        src, dst = op.inputs[0], op.outputs[0]
        s, d = graph.tensors[src], graph.tensors[dst]
        if s.size != d.size or s.dtype != d.dtype:
            kept.append(op)   # its lowering reports it, beside every other problem
            continue
        if s.data is not None:   # a constant
            d.data = s.data.reshape(d.shape)
        elif src in graph.outputs or (src in graph.inputs and dst in graph.outputs):
            kept.append(op)
        else:
            alias[dst] = alias.get(src, src)
    graph.ops = kept
    return alias


def split_large_layers(graph: Graph, max_weight_bytes: int) -> int:
    """Split CONV_2D / FULLY_CONNECTED ops whose weights exceed max_weight_bytes into
    output-channel slices joined by a CONCATENATION on the channel axis.

    For weights streamed from NAME.bin (--weights file) the RAM cost is the largest
    layer's weights; slicing bounds it by max_weight_bytes instead. Each slice is an
    ordinary op on its share of the filter, bias and per-channel scales, so every
    kernel tier runs it unchanged and the output is byte-identical. Returns the
    number of ops split.
    """
    import numpy as np

    from .ir import Op, Tensor
    kept, split = [], 0
    for op in graph.ops:
        w = graph.tensors[op.inputs[1]] if op.kind in ("CONV_2D", "FULLY_CONNECTED") \
            and len(op.inputs) > 1 and op.inputs[1] >= 0 else None
        out = graph.tensors[op.outputs[0]] if op.outputs else None
        b = graph.tensors[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        if w is None or w.data is None or w.nbytes <= max_weight_bytes or out is None \
                or (b is not None and b.data is None) \
                or out.shape[-1] != w.shape[0] or op.options.get("keep_num_dims") is False and \
                op.kind == "FULLY_CONNECTED" and len(out.shape) != 2:
            kept.append(op)
            continue
        channels = w.shape[0]
        per_channel = max(1, w.nbytes // channels)
        step = max(1, max_weight_bytes // per_channel)
        parts = []
        for c0 in range(0, channels, step):
            c1 = min(channels, c0 + step)
            sl = slice(c0, c1)

            def sub(t: Tensor, data: np.ndarray, c0: int = c0, c1: int = c1, sl: slice = sl) -> int:
                pc = len(t.scale) > 1
                graph.tensors.append(Tensor(
                    "%s[%d:%d]" % (t.name, c0, c1), tuple(data.shape), t.dtype,
                    t.scale[sl] if pc else list(t.scale), t.zero_point[sl] if pc else list(t.zero_point),
                    0 if pc else t.quantized_dimension, data=data))
                return len(graph.tensors) - 1
            inputs = list(op.inputs)
            inputs[1] = sub(w, w.data[sl])
            if b is not None and b.data is not None:
                inputs[2] = sub(b, b.data.reshape(-1)[sl])
            graph.tensors.append(Tensor("%s/part%d" % (out.name, c0), tuple(out.shape[:-1]) + (c1 - c0,),
                                        out.dtype, list(out.scale), list(out.zero_point)))
            parts.append(len(graph.tensors) - 1)
            kept.append(Op(op.kind, inputs, [parts[-1]], dict(op.options)))
        kept.append(Op("CONCATENATION", parts, list(op.outputs),
                       {"axis": len(out.shape) - 1, "fused_activation_function": "NONE"}))
        split += 1
    graph.ops = kept
    return split
