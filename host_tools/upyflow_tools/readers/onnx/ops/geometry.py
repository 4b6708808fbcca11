"""Window geometry shared by Conv and the pools: attributes, pads, TFLite padding."""
from __future__ import annotations

import numpy as np

from .... import BakeError
from ..state import Reader
from ..values import NHWC, Val


def geometry(node, a: dict, kernel=None) -> None:
    """2-D Conv/pool attributes (after _attrs_2d): two kernel sizes (a pool's are required,
    a Conv's equal its weights'), two strides and dilations, four pads >= 0."""
    k = a.get("kernel_shape")
    if (k is None and kernel is None) or (k is not None and len(k) != 2) or \
            (k is not None and kernel is not None and tuple(k) != tuple(kernel)):
        raise BakeError("%s node %r: kernel_shape %s does not fit a %s"
                        % (node.op_type, node.name, None if k is None else list(k),
                           "filter of %s" % list(kernel) if kernel is not None else "2-D pool"))
    for name, n in (("strides", 2), ("dilations", 2), ("pads", 4)):
        if name in a and len(a[name]) != n:
            raise BakeError("%s node %r: %s %s, expected %d values" % (node.op_type, node.name, name,
                                                                      list(a[name]), n))
    if any(p < 0 for p in a.get("pads", [])):
        raise BakeError("%s node %r: negative pads %s" % (node.op_type, node.name, list(a["pads"])))


def attrs_2d(a: dict) -> dict:
    """1-D Conv/pool attributes as those of the height-1 2-D operator."""
    a = dict(a)
    for k in ("kernel_shape", "strides", "dilations"):
        if k in a:
            a[k] = [1] + list(a[k])
    if "pads" in a:   # [begin, end]; any other length stays invalid for _geometry
        p = list(a["pads"])
        a["pads"] = [0, p[0], 0, p[1]] if len(p) == 2 else p + [0] * 5
    return a


def pad_amounts(node, a: dict, in_hw, k_hw, s_hw, d_hw) -> tuple[list[int], list[int]]:
    """(begin pads, end pads) per spatial axis from pads/auto_pad."""
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        begin, end = [], []
        for n, k, s, d in zip(in_hw, k_hw, s_hw, d_hw):
            out = -(-n // s)
            total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
            small = total // 2
            begin.append(small if auto == "SAME_UPPER" else total - small)
            end.append(total - begin[-1])
        return begin, end
    if auto == "VALID":
        return [0, 0], [0, 0]
    pads = list(a.get("pads", [0, 0, 0, 0]))
    return pads[:2], pads[2:]


def tflite_padding(node, in_hw, k_hw, s_hw, d_hw, begin, end, ceil_mode: bool = False):
    """'SAME'/'VALID' when TFLite's padding reproduces ONNX's, else None; and ONNX's output size."""
    outs = []
    for n, k, s, d, b, e in zip(in_hw, k_hw, s_hw, d_hw, begin, end):
        eff = (k - 1) * d + 1
        span = n + b + e - eff
        if span < 0:
            raise BakeError("%s node %r: kernel larger than the padded input" % (node.op_type, node.name))
        o = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (o - 1) * s >= n + b:   # ONNX drops a window starting in the end padding
            o -= 1
        outs.append(o)
    if all(b == 0 for b in begin) and all(
            (n - ((k - 1) * d + 1)) // s + 1 == o for n, k, s, d, o in zip(in_hw, k_hw, s_hw, d_hw, outs)):
        # VALID: begin pads zero and the end padding (if any) reaches no window
        return "VALID", outs
    same = True
    for n, k, s, d, b, o in zip(in_hw, k_hw, s_hw, d_hw, begin, outs):
        eff = (k - 1) * d + 1
        so = -(-n // s)
        total = max((so - 1) * s + eff - n, 0)
        if so != o or b != total // 2:
            same = False
    return ("SAME" if same else None), outs


def pad_op(r: Reader, x: Val, begin, end, value_f: float | None) -> Val:
    """Explicit zero (or value) padding of an NHWC value; int8 pads with the zero point."""
    t = r.tensors[x.t]
    n, h, w, c = t.shape
    shape = (n, h + begin[0] + end[0], w + begin[1] + end[1], c)
    out = r.like(t.name + "/padded", x.t, shape)
    pads = r.i32(t.name + "/paddings", [[0, 0], [begin[0], end[0]], [begin[1], end[1]], [0, 0]])
    if value_f is None or value_f == 0.0:
        r.op("PAD", [x.t, pads], [out])
    else:
        if t.dtype == "f32":
            cv = r.const(t.name + "/pad_value", np.array([value_f], np.float32), "f32")
        else:
            q = -128 if value_f < -1e30 else int(np.clip(np.rint(value_f / t.sc) + t.zp, -128, 127))
            cv = r.const(t.name + "/pad_value", np.array([q], np.int8), "i8", t.sc, t.zp)
        r.op("PADV2", [x.t, pads, cv], [out])
    logical = (n, c, shape[1], shape[2])
    return Val(out, logical, logical, NHWC, x.deq)
