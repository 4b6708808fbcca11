"""ConvTranspose (2-D and 1-D, float32) as TRANSPOSE_CONV (grouped: one per group and a
CONCATENATION; dilated: the kernel with zeros between its taps).

TFLite's TRANSPOSE_CONV pads only at the start (VALID: none) and takes its output size from
the output tensor, so ONNX's begin pads become a VALID transposed convolution that many rows
and columns larger and a STRIDED_SLICE dropping them; end pads and output_padding are the
output size.
"""
from __future__ import annotations

import numpy as np

from .... import BakeError
from ..checks import attrs, check_shape
from ..layout import out_1d, spatial_in
from ..qdq import output_chain, to_float
from ..registry import translator
from ..state import Reader
from ..values import NHWC, QConst, Val
from .conv import concat_channels, const_weights, slice_channels
from .geometry import attrs_2d


@translator("ConvTranspose")
def conv_transpose(r: Reader, node) -> None:
    a = attrs(node)
    v = r.rt(node, 0)
    w, b = const_weights(r, node)
    wf = np.asarray(w.value() if isinstance(w, QConst) else w, np.float32)
    one_d = wf.ndim == 3
    if one_d:
        a = attrs_2d(a)
        a.pop("output_padding", None)
        if "output_padding" in attrs(node):
            a["output_padding"] = [0] + list(attrs(node)["output_padding"])
        if "output_shape" in a:
            a["output_shape"] = [1] + list(a["output_shape"])[-1:]
        wf = wf[:, :, None, :]
    if wf.ndim != 4 or len(v.shape) != wf.ndim - (1 if one_d else 0):
        raise BakeError("ConvTranspose node %r: weights %s for input %s; upyflow runs 1-D and 2-D"
                        % (node.name, list(wf.shape), list(v.shape)))
    x = to_float(r, spatial_in(r, node, v))
    c_in, og, kh, kw = wf.shape
    group = int(a.get("group", 1))
    if c_in != x.shape[1] or c_in % group:
        raise BakeError("ConvTranspose node %r: weights %s for %d input channels in %d groups"
                        % (node.name, list(wf.shape), x.shape[1], group))
    if "kernel_shape" in a and list(a["kernel_shape"]) != [kh, kw]:
        raise BakeError("ConvTranspose node %r: kernel_shape %s for weights %s"
                        % (node.name, list(a["kernel_shape"]), list(wf.shape)))
    dil = [int(d) for d in a.get("dilations", [1, 1])]
    if len(dil) != 2 or min(dil) < 1:
        raise BakeError("ConvTranspose node %r: dilations %s" % (node.name, dil))
    if dil != [1, 1]:   # a dilated kernel is the kernel with zeros between its taps (exact)
        check_shape(node.input[1], (c_in, og, (kh - 1) * dil[0] + 1, (kw - 1) * dil[1] + 1))
        wd = np.zeros((c_in, og, (kh - 1) * dil[0] + 1, (kw - 1) * dil[1] + 1), np.float32)
        wd[:, :, ::dil[0], ::dil[1]] = wf
        wf = wd
        kh, kw = wf.shape[2:]
    c_out = og * group
    in_hw = x.shape[2:]
    s_hw = [int(s) for s in a.get("strides", [1, 1])]
    out_pad = [int(p) for p in a.get("output_padding", [0, 0])]
    if len(s_hw) != 2 or len(out_pad) != 2 or min(s_hw) < 1 or any(not 0 <= p < max(s, 1) for p, s in
                                                                    zip(out_pad, s_hw)):
        raise BakeError("ConvTranspose node %r: strides %s, output_padding %s" % (node.name, s_hw, out_pad))
    full = [(n - 1) * s + k + p for n, s, k, p in zip(in_hw, s_hw, (kh, kw), out_pad)]
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if "output_shape" in a and len(a["output_shape"]) < 2:
        raise BakeError("ConvTranspose node %r: output_shape %s" % (node.name, list(a["output_shape"])))
    if "output_shape" in a or auto in ("SAME_UPPER", "SAME_LOWER"):
        out_hw = [int(d) for d in a["output_shape"]][-2:] if "output_shape" in a else \
            [n * s for n, s in zip(in_hw, s_hw)]
        # as ONNX and onnxruntime: an odd total pads more at the end only for SAME_UPPER
        begin = [t // 2 if auto == "SAME_UPPER" else t - t // 2 for t in (f - o for f, o in zip(full, out_hw))]
    else:
        pads = [0, 0, 0, 0] if auto == "VALID" else [int(p) for p in a.get("pads", [0, 0, 0, 0])]
        if len(pads) != 4:
            raise BakeError("ConvTranspose node %r: pads %s" % (node.name, pads))
        begin = pads[:2]
        out_hw = [f - p0 - p1 for f, p0, p1 in zip(full, pads[:2], pads[2:])]
    begin = [max(bg, 0) for bg in begin]   # an output larger than the input reaches: zeros + bias
    if min(out_hw) < 1:
        raise BakeError("ConvTranspose node %r: output %s with pads %s from input %s is not supported"
                        % (node.name, out_hw, begin, list(in_hw)))
    bias = np.zeros(c_out, np.float32) if b is None else \
        np.asarray(b.value() if isinstance(b, QConst) else b, np.float32).reshape(-1)
    if bias.size != c_out:
        raise BakeError("ConvTranspose node %r: bias of %d values for %d outputs" % (node.name, bias.size, c_out))
    act, name, _ = output_chain(r, node.output[0], False)
    big = [bg + o for bg, o in zip(begin, out_hw)]   # computed size: begin pads, then the output
    cropped = any(begin)
    raw_name = name + "/uncropped" if cropped else name
    cg = c_in // group
    parts = []
    for j in range(group):   # a grouped ConvTranspose: one per group, joined on channels
        tag = "/group%d" % j if group > 1 else ""
        xj = slice_channels(r, x.t, j * cg, cg, raw_name + tag + "/input") if group > 1 else x.t
        wj = wf[j * cg:(j + 1) * cg].transpose(1, 2, 3, 0)   # [O, H, W, I]
        wt = r.const(node.input[1] + tag, np.ascontiguousarray(wj), "f32")
        bt = r.const(node.input[1] + "/bias" + tag, bias[j * og:(j + 1) * og], "f32")
        part = r.tensor(raw_name + tag, (1, big[0], big[1], og), "f32")
        r.op("TRANSPOSE_CONV", [r.i32(raw_name + tag + "/output_shape", [1, big[0], big[1], og]), wt, xj, bt],
             [part], padding="VALID", stride_h=s_hw[0], stride_w=s_hw[1], fused_activation_function=act)
        parts.append(part)
    raw = parts[0] if group == 1 else concat_channels(r, parts, raw_name, "f32", (None, None))
    out = raw
    if cropped:
        out = r.tensor(name, (1, out_hw[0], out_hw[1], c_out), "f32")
        r.op("STRIDED_SLICE", [raw, r.i32(name + "/begin", [0, begin[0], begin[1], 0]),
                               r.i32(name + "/end", [1, big[0], big[1], c_out]),
                               r.i32(name + "/strides", [1, 1, 1, 1])], [out],
             begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=0)
    logical = (1, c_out, out_hw[0], out_hw[1])
    res = Val(out, logical, logical, NHWC)
    r.set(name, out_1d(r, res) if one_d else res)
