"""Conv (1-D, 2-D, depthwise, grouped) as CONV_2D / DEPTHWISE_CONV_2D, a BatchNormalization
after it folded into its weights."""
from __future__ import annotations

import numpy as np

from .... import BakeError
from ..checks import attrs
from ..layout import out_1d, spatial_in
from ..qdq import bias_name, bind_out, is_q, output_chain, qbias_values, to_float
from ..registry import translator
from ..state import Reader
from ..values import NHWC, QConst, Val
from .geometry import attrs_2d, geometry, pad_amounts, pad_op, tflite_padding


def const_weights(r: Reader, node) -> tuple:
    """Weights (input 1) and optional bias (input 2) of Conv or ConvTranspose: constants
    (QConst or array; the bias may be None)."""
    w, b = r.get(node, 1), r.get(node, 2)
    if isinstance(w, Val) or w is None:
        raise BakeError("%s node %r needs constant weights" % (node.op_type, node.name))
    if isinstance(b, Val):
        raise BakeError("%s node %r: a computed bias is not supported" % (node.op_type, node.name))
    return w, b


@translator("Conv")
def conv(r: Reader, node) -> None:
    a = attrs(node)
    v = r.rt(node, 0)
    w, b = const_weights(r, node)
    # int8 weights with a non-zero zero point run in float (the kernels' are symmetric)
    wq = w if isinstance(w, QConst) and not np.any(w.zp) else None
    wf = w.value() if isinstance(w, QConst) else w
    one_d = wf.ndim == 3
    if one_d:   # [O, C/g, K] on [N, C, L]: the 2-D conv of height 1
        if len(v.shape) != 3:
            raise BakeError("Conv node %r: 1-D weights on a %d-D input" % (node.name, len(v.shape)))
        a = attrs_2d(a)
        wf = wf[:, :, None, :]
        if wq is not None:
            wq = QConst(wq.q[:, :, None, :], wq.scale, wq.zp, wq.axis if wq.axis < 2 else wq.axis + 1)
    if wf.ndim != 4:
        raise BakeError("Conv node %r: %d-D weights; upyflow runs 1-D and 2-D convolutions"
                        % (node.name, wf.ndim))
    x = spatial_in(r, node, v)
    c_out, c_in_g, kh, kw = wf.shape
    geometry(node, a, (kh, kw))
    c_in = x.shape[1]
    group = a.get("group", 1)
    s_hw = list(a.get("strides", [1, 1]))
    d_hw = list(a.get("dilations", [1, 1]))
    begin, end = pad_amounts(node, a, x.shape[2:], (kh, kw), s_hw, d_hw)
    if c_in_g * group != c_in or c_out % group:
        raise BakeError("Conv node %r: weights %s for %d input channels in %d groups"
                        % (node.name, list(wf.shape), c_in, group))
    if group == 1:
        kind = "CONV_2D"
    elif group == c_in:
        kind = "DEPTHWISE_CONV_2D"
    else:
        kind = "GROUPED"   # a CONV_2D per group
    # quantized when input and weights are DQ'd int8 and one QuantizeLinear takes the output
    quant = is_q(v) and wq is not None and wq.q.dtype == np.int8 and \
        (b is None or isinstance(b, (QConst, np.ndarray)))
    chain = output_chain(r, node.output[0], True) if quant else None
    if chain is None:
        quant = False
        x = to_float(r, x)
        if b is not None and np.size(b.q if isinstance(b, QConst) else b) != c_out:
            raise BakeError("Conv node %r: bias for %d outputs" % (node.name, c_out))
        bias_f = np.zeros(c_out, np.float32) if b is None else \
            (b.value() if isinstance(b, QConst) else np.asarray(b, np.float32)).reshape(-1).astype(np.float32)
        wf, bias_f, name = fold_bn(r, node.output[0], wf.astype(np.float32), bias_f)
        chain = output_chain(r, name, False)
    act, name, q = chain
    qw = wq if quant else None   # the int8 weights when the Conv runs int8
    padding, (oh, ow) = tflite_padding(node, x.shape[2:], (kh, kw), s_hw, d_hw, begin, end)
    if padding is None:
        x = pad_op(r, x, begin, end, 0.0)
        padding = "VALID"
    opts = dict(padding=padding, stride_h=s_hw[0], stride_w=s_hw[1], dilation_h_factor=d_hw[0],
                dilation_w_factor=d_hw[1], fused_activation_function=act)
    wname = node.input[1]
    if kind == "DEPTHWISE_CONV_2D":
        opts["depth_multiplier"] = c_out // c_in
        wt = (qw.q if qw is not None else wf).reshape(c_out, kh, kw).transpose(1, 2, 0).reshape(1, kh, kw, c_out)
        qdim = 3
    else:
        wt = (qw.q if qw is not None else wf).transpose(0, 2, 3, 1)
        qdim = 0
    b_scale: np.ndarray | None = None
    if qw is not None:
        bias, b_scale = qbias_values(r, node, b, r.tensors[x.t].sc, qw.scale, c_out)
    else:
        bias = bias_f
    out_name, dtype = (q[3], "i8") if q else (name, "f32")
    qout = q[:2] if q else (None, None)
    groups = group if kind == "GROUPED" else 1
    og, cg = c_out // groups, c_in // groups
    parts = []
    for j in range(groups):
        ws = slice(j * og, (j + 1) * og)
        xj, tag = x.t, ""
        if groups > 1:
            tag = "/group%d" % j
            xj = slice_channels(r, x.t, j * cg, cg, out_name + tag + "/input")
        if qw is not None and b_scale is not None:
            sc = qw.scale[ws] if qw.scale.size > 1 else qw.scale
            w_t = r.const(wname + tag, wt[ws], "i8", sc, np.zeros_like(sc), qdim)
            bias_t = r.const(bias_name(node) + tag, bias[ws], "i32", b_scale[ws],
                                 np.zeros(og, np.int64))
        else:
            w_t = r.const(wname + tag, wt[ws], "f32")
            bias_t = r.const(wname + "/bias" + tag, bias[ws], "f32")
        part = r.tensor(out_name + tag, (1, oh, ow, og), dtype, *qout)
        r.op(kind if groups == 1 else "CONV_2D", [xj, w_t, bias_t], [part], **opts)
        parts.append(part)
    out = parts[0] if groups == 1 else concat_channels(r, parts, out_name, dtype, qout)
    logical = (1, c_out, oh, ow)
    res = Val(out, logical, logical, NHWC)
    bind_out(r, name, q, out_1d(r, res) if one_d else res)


def slice_channels(r: Reader, t: int, start: int, n: int, name: str) -> int:
    """Channels [start, start + n) of an NHWC tensor: a STRIDED_SLICE."""
    b, h, w, _ = r.tensors[t].shape
    out = r.like(name, t, (b, h, w, n))
    r.op("STRIDED_SLICE", [t, r.i32(name + "/begin", [0, 0, 0, start]),
                               r.i32(name + "/end", [b, h, w, start + n]),
                               r.i32(name + "/strides", [1, 1, 1, 1])], [out],
             begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=0)
    return out


def concat_channels(r: Reader, parts: list[int], name: str, dtype: str, qout) -> int:
    """CONCATENATION of NHWC tensors on the channel axis; TFLM takes at most 10 inputs: nested."""
    level = 0
    while True:
        chunks = [parts[k:k + 10] for k in range(0, len(parts), 10)]
        joined = []
        for k, chunk in enumerate(chunks):
            if len(chunk) == 1:
                joined.append(chunk[0])
                continue
            shape = r.tensors[chunk[0]].shape[:3] + (sum(r.tensors[t].shape[3] for t in chunk),)
            last = len(chunks) == 1
            out = r.tensor(name if last else "%s/concat%d_%d" % (name, level, k), shape, dtype, *qout)
            r.op("CONCATENATION", chunk, [out], axis=3, fused_activation_function="NONE")
            joined.append(out)
        if len(joined) == 1:
            return joined[0]
        parts, level = joined, level + 1


def fold_bn(r: Reader, name: str, w: np.ndarray, bias: np.ndarray):
    """Fold a BatchNormalization that alone reads a float conv output into its weights."""
    c = r.sole_consumer(name)
    if c is None or c[1].op_type != "BatchNormalization" or len(c[1].output) > 1 and any(c[1].output[1:]):
        return w, bias, name
    i, node = c
    try:
        gamma, beta, mean, var = (np.asarray(r.cval(node, k, "parameter"), np.float64).reshape(-1)
                                  for k in range(1, 5))
    except BakeError:
        return w, bias, name
    if any(np.size(p) != w.shape[0] for p in (gamma, beta, mean, var)):
        raise BakeError("BatchNormalization node %r: parameters for %d channels, the Conv makes %d"
                        % (node.name, np.size(gamma), w.shape[0]))
    eps = attrs(node).get("epsilon", 1e-5)
    k = gamma / np.sqrt(var + eps)
    r.done.add(i)
    w = (w.astype(np.float64) * k.reshape(-1, *([1] * (w.ndim - 1)))).astype(np.float32)
    bias = ((bias.astype(np.float64) - mean) * k + beta).astype(np.float32)
    return w, bias, node.output[0]
