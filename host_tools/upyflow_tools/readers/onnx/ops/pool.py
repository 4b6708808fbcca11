"""MaxPool, AveragePool, GlobalAveragePool (MEAN) and GlobalMaxPool."""
from __future__ import annotations

import numpy as np

from .... import BakeError
from ..checks import attrs
from ..layout import out_1d, spatial_in
from ..qdq import bind_out, is_q, q_after, requant, to_float
from ..registry import translator
from ..state import Reader
from ..values import NHWC, Val
from .geometry import attrs_2d, geometry, pad_amounts, pad_op, tflite_padding

POOLS = {"MaxPool": "MAX_POOL_2D", "AveragePool": "AVERAGE_POOL_2D"}


@translator(*POOLS)
def pool(r: Reader, node) -> None:
    kind = POOLS[node.op_type]
    a = attrs(node)
    if len(node.output) > 1 and node.output[1]:
        raise BakeError("MaxPool node %r: the Indices output is not supported" % node.name)
    v = r.rt(node, 0)
    one_d = len(v.shape) == 3
    if one_d:
        a = attrs_2d(a)
    x = spatial_in(r, node, v)
    geometry(node, a)
    k_hw = list(a["kernel_shape"])
    s_hw = list(a.get("strides", [1, 1]))
    if any(d != 1 for d in a.get("dilations", [1, 1])):
        raise BakeError("%s node %r: dilations are not supported" % (node.op_type, node.name))
    ceil = bool(a.get("ceil_mode", 0))
    begin, end = pad_amounts(node, a, x.shape[2:], k_hw, s_hw, [1, 1])
    padding, (oh, ow) = tflite_padding(node, x.shape[2:], k_hw, s_hw, [1, 1], begin, end, ceil)
    floor_hw = [(n + b + e - k) // s + 1 for n, b, e, k, s in zip(x.shape[2:], begin, end, k_hw, s_hw)]
    if kind == "AVERAGE_POOL_2D" and ceil and [oh, ow] != floor_hw:
        raise BakeError("AveragePool node %r: ceil_mode windows that run past the input are not supported"
                        % node.name)
    if ceil and padding is None or ceil and padding == "SAME":
        # the last window runs past the end: pad so that every window is inside
        need = [(o - 1) * s + k - n - b for o, s, k, n, b in zip((oh, ow), s_hw, k_hw, x.shape[2:], begin)]
        end = [max(e, nd) for e, nd in zip(end, need)]
        padding = None
    include = a.get("count_include_pad", 0)
    if kind == "AVERAGE_POOL_2D" and padding != "VALID" and include:
        padding = None   # count_include_pad=1: padded zeros count, so pad explicitly
    elif kind == "AVERAGE_POOL_2D" and padding is None:
        raise BakeError("AveragePool node %r: pads %s with count_include_pad=0 differ from TFLite's SAME "
                        "padding; not supported" % (node.name, list(begin) + list(end)))
    quant = is_q(v)
    q = q_after(r, node.output[0]) if quant else None
    if q is None:
        x = to_float(r, x)
    if padding is None:
        x = pad_op(r, x, begin, end, -np.inf if kind == "MAX_POOL_2D" else 0.0)
        padding = "VALID"
    c = x.shape[1]
    out_shape = (1, oh, ow, c)
    xt = r.tensors[x.t]
    if q is None:
        out = r.tensor(node.output[0], out_shape, "f32")
    else:   # TFLM pools keep the input quantization: requantize after when Q differs
        out = r.tensor(node.output[0], out_shape, "i8", xt.sc, xt.zp)
    r.op(kind, [x.t], [out], padding=padding, stride_h=s_hw[0], stride_w=s_hw[1],
             filter_height=k_hw[0], filter_width=k_hw[1], fused_activation_function="NONE")
    logical = (1, c, oh, ow)
    res = Val(out, logical, logical, NHWC)
    if q is not None:
        res = requant(r, res, q)
    bind_out(r, node.output[0], q, out_1d(r, res) if one_d else res)


def _global_in(r: Reader, node):
    """GlobalAveragePool/GlobalMaxPool: the input, its NHWC form (float unless a
    QuantizeLinear follows) and that quantization (None: float)."""
    v = r.rt(node, 0)
    x = spatial_in(r, node, v)
    q = q_after(r, node.output[0]) if is_q(v) else None
    if q is None:
        x = to_float(r, x)
    return v, x, q


@translator("GlobalAveragePool")
def global_average_pool(r: Reader, node) -> None:
    v, x, q = _global_in(r, node)
    c = x.shape[1]
    out_shape = (1, 1, 1, c)
    out = r.tensor(q[3] if q else node.output[0], out_shape, "i8" if q else "f32",
                       *(q[:2] if q else (None, None)))
    r.op("MEAN", [x.t, r.i32(node.output[0] + "/axes", [1, 2])], [out], keep_dims=True)
    logical = (1, c, 1, 1)
    res = Val(out, logical, logical, NHWC)
    bind_out(r, node.output[0], q, out_1d(r, res) if len(v.shape) == 3 else res)


@translator("GlobalMaxPool")
def global_max_pool(r: Reader, node) -> None:
    v, x, q = _global_in(r, node)
    xt = r.tensors[x.t]
    _, h, w, c = xt.shape
    out = r.tensor(node.output[0], (1, 1, 1, c), xt.dtype,
                       *((xt.sc, xt.zp) if q else (None, None)))
    r.op("MAX_POOL_2D", [x.t], [out], padding="VALID", stride_h=1, stride_w=1, filter_height=h,
             filter_width=w, fused_activation_function="NONE")
    logical = (1, c, 1, 1)
    res = Val(out, logical, logical, NHWC)
    if q is not None:
        res = requant(r, res, q)
    bind_out(r, node.output[0], q, out_1d(r, res) if len(v.shape) == 3 else res)
