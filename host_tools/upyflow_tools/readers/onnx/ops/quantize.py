"""QuantizeLinear and DequantizeLinear: of constants at bake time, of activations QUANTIZE
(a DequantizeLinear output stays int8 bytes until a float operator reads it)."""
from __future__ import annotations

import numpy as np

from .... import BakeError
from ..checks import attrs
from ..qdq import qparams, to_float, uint8_as_int8
from ..registry import translator
from ..state import Reader
from ..values import QConst, Val


@translator("DequantizeLinear")
def dequantize_linear(r: Reader, node) -> None:
    x = r.get(node, 0)
    scale, zp = qparams(r, node)
    axis = attrs(node).get("axis", 1)
    if isinstance(x, np.ndarray):
        rank = max(x.ndim, 1)   # the axis matters only for per-axis scales
        if scale.size > 1 and (not -rank <= axis < rank or scale.size != (np.shape(x)[axis] if x.ndim else 1)):
            raise BakeError("DequantizeLinear %r: %d scales for data of shape %s on axis %d"
                            % (node.name, scale.size, list(np.shape(x)), axis))
        if x.dtype == np.uint8:
            x = uint8_as_int8(x)
        if x.dtype not in (np.int8, np.int32):
            raise BakeError("DequantizeLinear %r of %s data: upyflow runs int8/uint8 weights and int32 biases"
                            % (node.name, x.dtype))
        r.set(node.output[0], QConst(x, scale.reshape(-1), zp.reshape(-1).astype(np.int64),
                                         axis % max(x.ndim, 1)))
        return
    if isinstance(x, QConst):
        raise BakeError("DequantizeLinear %r of an already dequantized constant" % node.name)
    t = r.tensors[x.t]
    if t.dtype == "u8" and not x.deq and scale.size == 1:   # a uint8 graph input: its bytes as int8
        s8, z8 = float(scale.reshape(-1)[0]), int(zp.reshape(-1)[0])
        if not t.scale:
            t.scale, t.zero_point = [s8], [z8 + 128]
        out = r.like(node.input[0] + "/as_int8", x.t, dtype="i8", q=(t.sc, t.zp - 128))
        r.op("QUANTIZE", [x.t], [out])
        x = Val(out, x.shape, x.base, x.perm)
        t = r.tensors[out]
    if t.dtype != "i8" or x.deq:
        raise BakeError("DequantizeLinear %r reads %s data; upyflow runs int8" % (node.name, t.dtype))
    if scale.size != 1:
        raise BakeError("DequantizeLinear %r: per-channel activations are not supported" % node.name)
    s, z = float(scale.reshape(-1)[0]), int(zp.reshape(-1)[0])
    if not t.scale:   # an int8 graph input: its quantization comes from here
        t.scale, t.zero_point = [s], [z]
    elif (np.float32(t.sc), t.zp) != (np.float32(s), z):
        raise BakeError("DequantizeLinear %r: scale/zero point differ from the QuantizeLinear "
                        "that made %r" % (node.name, node.input[0]))
    r.set(node.output[0], Val(x.t, x.shape, x.base, x.perm, True))


@translator("QuantizeLinear")
def quantize_linear(r: Reader, node) -> None:
    x = r.get(node, 0)
    scale, zp = qparams(r, node)
    if isinstance(x, (np.ndarray, QConst)):
        xf = x.value() if isinstance(x, QConst) else x.astype(np.float32)
        axis = attrs(node).get("axis", 1) % max(xf.ndim, 1)
        shape = [1] * xf.ndim
        if scale.size > 1:
            shape[axis] = -1
        q = np.clip(np.rint(xf / scale.reshape(shape)) + zp.reshape(shape), -128, 127).astype(np.int8)
        r.set(node.output[0], QConst(q, scale.reshape(-1), zp.reshape(-1).astype(np.int64), axis))
        return
    if scale.size != 1:
        raise BakeError("QuantizeLinear %r: per-channel activations are not supported" % node.name)
    s, z = float(scale.reshape(-1)[0]), int(zp.reshape(-1)[0])
    t = r.tensors[x.t]
    if x.deq and (np.float32(t.sc), t.zp) == (np.float32(s), z):
        r.set(node.output[0], Val(x.t, x.shape, x.base, x.perm))
        return
    src = x.t if x.deq else to_float(r, x).t
    out = r.like(node.output[0], src, dtype="i8", q=(s, z))
    r.op("QUANTIZE", [src], [out])
    r.set(node.output[0], Val(out, x.shape, x.base, x.perm))
