"""RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR: source rows/columns and blend
weights computed here as TFLM computes them (float32 or 10-bit fixed point), so
the kernels only gather and blend."""
from __future__ import annotations

import math

import numpy as np

from ... import BakeError
from ...ir import DTYPE_SIZE, Graph, Op
from ..core import Call, inp, lowering, need_const, types_error

F = np.float32


def _geometry(graph: Graph, op: Op):
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    if x.dtype != out.dtype:
        raise types_error(op, graph)
    for what, t in (("input", x), ("output", out)):
        if len(t.shape) != 4 or t.shape[0] != 1:
            raise BakeError("%s %s %r has shape %s; upyflow resizes batch-1 NHWC tensors"
                            % (op.kind, what, t.name, list(t.shape)))
    size = need_const(graph, op, 1, "size")
    hw = [int(v) for v in size.const_data.reshape(-1)]
    if len(hw) != 2 or [out.shape[1], out.shape[2]] != hw or out.shape[3] != x.shape[3]:
        raise BakeError("%s output %r has shape %s; the size input %s and input %s give [1, %s, %d]"
                        % (op.kind, out.name, list(out.shape), hw, list(x.shape),
                           ", ".join(map(str, hw)), x.shape[3]))
    align = bool(op.options.get("align_corners", False))
    half = bool(op.options.get("half_pixel_centers", False))
    if align and half:
        raise BakeError("%s %r: align_corners and half_pixel_centers together (TFLM rejects it)"
                        % (op.kind, out.name))
    return x, out, align, half


def _nearest_map(in_size: int, out_size: int, align: bool, half: bool) -> np.ndarray:
    """TFLM's GetNearestNeighbor for every output index (float32 arithmetic)."""
    scale = F(in_size - 1) / F(out_size - 1) if align and out_size > 1 else F(in_size) / F(out_size)
    off = F(0.5) if half else F(0.0)
    out = []
    for i in range(out_size):
        v = (F(i) + off) * scale
        # align_corners: TfLiteRound, half away from zero
        r = int(math.floor(float(v) + 0.5)) if align else int(math.floor(v))
        r = min(r, in_size - 1)
        out.append(max(r, 0) if half else r)
    return np.array(out, np.int32)


@lowering("RESIZE_NEAREST_NEIGHBOR", "int8; int16; float32 (any type: values are copied); "
                                     "align_corners, half_pixel_centers", 2)
def _resize_nearest(graph: Graph, op: Op) -> list[Call]:
    x, out, align, half = _geometry(graph, op)
    if x.dtype not in ("i8", "u8", "i16", "f32"):
        raise types_error(op, graph)
    _, in_h, in_w, depth = x.shape
    _, out_h, out_w, _ = out.shape
    ym = graph.add_const(out.name + "/rows", _nearest_map(in_h, out_h, align, half), "i32")
    xm = graph.add_const(out.name + "/cols", _nearest_map(in_w, out_w, align, half), "i32")
    return [Call("resize_nearest", x=op.inputs[0], ymap=ym, xmap=xm, out=op.outputs[0], in_h=in_h, in_w=in_w,
                 out_h=out_h, out_w=out_w, depth=depth, esize=DTYPE_SIZE[x.dtype])]


def _float_table(in_size: int, out_size: int, align: bool, half: bool):
    """(lower, upper) pairs and fractions: TFLM's ComputeInterpolationValues in float32."""
    scale = F(in_size) / F(out_size)
    if align and out_size > 1:
        scale = F(in_size - 1) / F(out_size - 1)
    idx, frac = [], []
    for i in range(out_size):
        v = (F(i) + F(0.5)) * scale - F(0.5) if half else F(i) * scale
        lo = max(int(math.floor(v)), 0)
        hi = min(int(math.ceil(v)), in_size - 1)
        idx += [lo, hi]
        frac.append(v - F(lo))
    return np.array(idx, np.int32), np.array(frac, np.float32)


def _int_table(in_size: int, out_size: int, align: bool, half: bool) -> np.ndarray:
    """(lower, upper, 10-bit fraction) triples: TFLM's ComputeInterpolationValuesInteger."""
    def cdiv(a: int, b: int) -> int:   # C division, truncating toward zero
        q = abs(a) // abs(b)
        return q if (a >= 0) == (b > 0) else -q
    scale = cdiv(1024 * in_size + out_size // 2, out_size)
    if align and out_size > 1:
        scale = cdiv(1024 * (in_size - 1) + (out_size - 1) // 2, out_size - 1)
    tab = []
    for i in range(out_size):
        v = i * scale + scale // 2 - 512 if half else i * scale
        lo = max(cdiv(v, 1024), 0)
        hi = min(cdiv(v + 1023, 1024), in_size - 1)
        tab += [lo, hi, v - 1024 * lo]
    return np.array(tab, np.int32)


@lowering("RESIZE_BILINEAR", "int8 (TFLM's fixed-point blend); float32; align_corners, half_pixel_centers", 2)
def _resize_bilinear(graph: Graph, op: Op) -> list[Call]:
    x, out, align, half = _geometry(graph, op)
    _, in_h, in_w, depth = x.shape
    _, out_h, out_w, _ = out.shape
    geo = dict(in_h=in_h, in_w=in_w, out_h=out_h, out_w=out_w, depth=depth)
    if x.dtype == "i8":
        yt = graph.add_const(out.name + "/rows", _int_table(in_h, out_h, align, half), "i32")
        xt = graph.add_const(out.name + "/cols", _int_table(in_w, out_w, align, half), "i32")
        return [Call("resize_bilinear_s8", x=op.inputs[0], ytab=yt, xtab=xt, out=op.outputs[0], **geo)]
    if x.dtype == "f32":
        yi, yf = _float_table(in_h, out_h, align, half)
        xi, xf = _float_table(in_w, out_w, align, half)
        name = out.name
        tabs = dict(ytab=graph.add_const(name + "/rows", yi, "i32"), yw=graph.add_const(name + "/row_frac", yf, "f32"),
                    xtab=graph.add_const(name + "/cols", xi, "i32"), xw=graph.add_const(name + "/col_frac", xf, "f32"))
        return [Call("resize_bilinear_f32", x=op.inputs[0], **tabs, out=op.outputs[0], **geo)]
    raise types_error(op, graph)
