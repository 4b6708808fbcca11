"""Resize (and opset 9's Upsample) of the two spatial axes as RESIZE_NEAREST_NEIGHBOR or
RESIZE_BILINEAR.

The TFLite kernels know three coordinate rules (plain, align_corners, half_pixel_centers);
ONNX has six coordinate_transformation_modes and four nearest_modes. Rather than a table of
which pairs agree, the reader computes ONNX's source index (nearest) or interpolation
weights (linear) for every output row and column, as onnxruntime does, and takes the first
TFLite rule whose own table is the same map; none: the Resize is refused.
"""
from __future__ import annotations

import math

import numpy as np

from .... import BakeError
from ....lower.families.resize import _float_table, _nearest_map
from ..checks import attrs, check_shape
from ..layout import spatial_in
from ..qdq import to_float
from ..registry import translator
from ..state import Reader
from ..values import NHWC, Val

F = np.float32
TFLITE_RULES = ((False, False), (True, False), (False, True))   # (align_corners, half_pixel_centers)


def _text(a: dict, key: str, default: str) -> str:
    v = a.get(key, default)
    return v.decode() if isinstance(v, bytes) else v


def _source(mode: str, i: int, in_size: int, out_size: int, scale: float) -> float:
    """ONNX's source coordinate of output index i (float32, as onnxruntime)."""
    s = F(scale)
    if mode == "asymmetric":
        return float(F(i) / s)
    if mode == "align_corners":
        return 0.0 if out_size == 1 else float(F(i) * F(in_size - 1) / F(out_size - 1))
    if mode == "pytorch_half_pixel" and out_size == 1:
        return 0.0
    if mode in ("half_pixel", "pytorch_half_pixel"):
        return float((F(i) + F(0.5)) / s - F(0.5))
    if mode == "half_pixel_symmetric":
        adjust = F(out_size) / (s * F(in_size))
        offset = F(in_size) / F(2) * (F(1) - adjust)
        return float(offset + (F(i) + F(0.5)) / s - F(0.5))
    if mode == "tf_half_pixel_for_nn":
        return float((F(i) + F(0.5)) / s)
    raise AssertionError(mode)


def _onnx_nearest(mode: str, nearest: str, in_size: int, out_size: int, scale: float) -> list[int]:
    out = []
    for i in range(out_size):
        x = _source(mode, i, in_size, out_size, scale)
        if nearest == "floor":
            k = math.floor(x)
        elif nearest == "ceil":
            k = math.ceil(x)
        elif nearest == "round_prefer_ceil":
            k = math.floor(x + 0.5)
        else:   # round_prefer_floor
            k = math.ceil(x - 0.5) if x != math.floor(x) + 0.5 else math.floor(x)
        out.append(min(max(k, 0), in_size - 1))
    return out


def _onnx_linear(mode: str, in_size: int, out_size: int, scale: float) -> np.ndarray:
    """The [out, in] interpolation matrix of ONNX's linear mode (the source clamped to the input)."""
    m = np.zeros((out_size, in_size))
    for i in range(out_size):
        x = min(max(_source(mode, i, in_size, out_size, scale), 0.0), in_size - 1.0)
        lo = int(math.floor(x))
        hi = min(lo + 1, in_size - 1)
        m[i, lo] += 1.0 - (x - lo)
        m[i, hi] += x - lo
    return m


def _tflite_linear(in_size: int, out_size: int, align: bool, half: bool) -> np.ndarray:
    idx, frac = _float_table(in_size, out_size, align, half)
    m = np.zeros((out_size, in_size))
    for i in range(out_size):
        m[i, idx[2 * i]] += 1.0 - float(frac[i])
        m[i, idx[2 * i + 1]] += float(frac[i])
    return m


def _scales(r: Reader, node, a: dict, shape: tuple) -> tuple[list[float], list[int]]:
    """(scale per axis, output shape) from scales or sizes (opset 10: scales only)."""
    rank = len(shape)
    if node.op_type == "Upsample" or r.opset < 11:
        k = 1
        scales = r.cval(node, k, "scales") if len(node.input) > k else a.get("scales")
        sizes = None
    else:
        scales = r.cval(node, 2, "scales")
        sizes = r.cval(node, 3, "sizes")
        if r.cval(node, 1, "roi") is not None and _text(a, "coordinate_transformation_mode", "") \
                == "tf_crop_and_resize":
            raise BakeError("Resize node %r: tf_crop_and_resize is not supported" % node.name)
    axes = [int(x) % rank for x in a.get("axes", range(rank))]
    have_scales = scales is not None and np.size(scales) > 0
    have_sizes = sizes is not None and np.size(sizes) > 0
    if have_scales == have_sizes or len(np.asarray(scales if have_scales else sizes).reshape(-1)) != len(axes):
        raise BakeError("Resize node %r needs constant scales or sizes, one per axis of %s"
                        % (node.name, list(shape)))
    full_s, full_o = [1.0] * rank, list(shape)
    if have_scales:
        for ax, s in zip(axes, np.asarray(scales, np.float32).reshape(-1)):
            if not (np.isfinite(s) and s > 0):
                raise BakeError("Resize node %r: scale %g" % (node.name, s))
            full_s[ax], full_o[ax] = float(s), int(math.floor(shape[ax] * float(s)))
    else:
        if _text(a, "keep_aspect_ratio_policy", "stretch") != "stretch":
            raise BakeError("Resize node %r: keep_aspect_ratio_policy other than stretch is not supported"
                            % node.name)
        for ax, n in zip(axes, np.asarray(sizes).reshape(-1)):
            full_o[ax] = int(n)
            full_s[ax] = float(F(int(n)) / F(shape[ax]))
    if any(o < 1 for o in full_o):
        raise BakeError("Resize node %r: output shape %s" % (node.name, full_o))
    check_shape(node.output[0], full_o)   # before any table of that size is made
    return full_s, full_o


@translator("Resize", "Upsample")
def resize(r: Reader, node) -> None:
    a = attrs(node)
    v = r.rt(node, 0)
    if len(v.shape) != 4:
        raise BakeError("%s node %r: %d-D input; upyflow resizes the H and W axes of NCHW tensors"
                        % (node.op_type, node.name, len(v.shape)))
    scales, out_shape = _scales(r, node, a, v.shape)
    if out_shape[:2] != list(v.shape[:2]):
        raise BakeError("%s node %r resizes the batch or channel axis (%s to %s); upyflow resizes H and W"
                        % (node.op_type, node.name, list(v.shape), out_shape))
    old = node.op_type == "Upsample" or r.opset < 11
    mode = _text(a, "mode", "nearest")
    coord = "asymmetric" if old else _text(a, "coordinate_transformation_mode", "half_pixel")
    nearest = "floor" if old else _text(a, "nearest_mode", "round_prefer_floor")
    if mode not in ("nearest", "linear", "bilinear"):
        raise BakeError("%s node %r: mode %r is not supported (nearest, linear)" % (node.op_type, node.name, mode))
    if coord not in ("asymmetric", "align_corners", "half_pixel", "pytorch_half_pixel", "half_pixel_symmetric",
                     "tf_half_pixel_for_nn"):
        raise BakeError("%s node %r: coordinate_transformation_mode %r is not supported"
                        % (node.op_type, node.name, coord))
    if a.get("antialias", 0) and min(scales[2:]) < 1:
        raise BakeError("%s node %r: antialiased downsampling is not supported" % (node.op_type, node.name))
    in_hw, out_hw, s_hw = v.shape[2:], out_shape[2:], scales[2:]
    rule = None
    for align, half in TFLITE_RULES:
        if mode == "nearest":
            same = all(_onnx_nearest(coord, nearest, n, o, s) == _nearest_map(n, o, align, half).tolist()
                       for n, o, s in zip(in_hw, out_hw, s_hw))
        else:
            same = all(np.allclose(_onnx_linear(coord, n, o, s), _tflite_linear(n, o, align, half), atol=1e-6)
                       for n, o, s in zip(in_hw, out_hw, s_hw))
        if same:
            rule = (align, half)
            break
    if rule is None:
        raise BakeError("%s node %r: %s mode with %s%s coordinates for %s -> %s is not one the TFLite "
                        "resize kernels compute" % (node.op_type, node.name, mode, coord,
                                                    "/" + nearest if mode == "nearest" else "",
                                                    list(in_hw), list(out_hw)))
    x = to_float(r, spatial_in(r, node, v))
    kind = "RESIZE_NEAREST_NEIGHBOR" if mode == "nearest" else "RESIZE_BILINEAR"
    c = v.shape[1]
    out = r.tensor(node.output[0], (1, out_hw[0], out_hw[1], c), "f32")
    r.op(kind, [x.t, r.i32(node.output[0] + "/size", list(out_hw))], [out],
         align_corners=rule[0], half_pixel_centers=rule[1])
    logical = (1, c, out_hw[0], out_hw[1])
    r.set(node.output[0], Val(out, logical, logical, NHWC))
