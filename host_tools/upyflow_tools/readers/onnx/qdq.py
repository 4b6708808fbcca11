"""QuantizeLinear/DequantizeLinear matching: the Q after an operator, the activation fused
before it, the int8 bias, and the DEQUANTIZE/QUANTIZE a float or requantized value needs."""
from __future__ import annotations

import numpy as np

from ... import BakeError
from .checks import attrs
from .state import Reader
from .values import QConst, Val


def to_float(r: Reader, v: Val) -> Val:
    """The float view of a value: a DEQUANTIZE for a DequantizeLinear output."""
    if not v.deq:
        if r.tensors[v.t].dtype != "f32":
            raise BakeError("tensor %r is %s where float32 is needed"
                            % (r.tensors[v.t].name, r.tensors[v.t].dtype))
        return v
    if v.t not in r.deq_cache:
        out = r.like(r.tensors[v.t].name + "/dequantized", v.t, dtype="f32")
        r.op("DEQUANTIZE", [v.t], [out])
        r.deq_cache[v.t] = out
    return Val(r.deq_cache[v.t], v.shape, v.base, v.perm)


def qparams(r: Reader, node) -> tuple[np.ndarray, np.ndarray]:
    """Scale and zero point of a QuantizeLinear/DequantizeLinear. uint8 is read as int8: zero
    point minus 128 (its bytes minus 128 too, see uint8_as_int8), so (q - zp) and every int8
    kernel are unchanged; the model's uint8 inputs and outputs are converted at the boundary."""
    s = r.get(node, 1)
    z = r.get(node, 2)
    if not isinstance(s, np.ndarray) or (z is not None and not isinstance(z, np.ndarray)):
        raise BakeError("%s node %r needs constant scale and zero point" % (node.op_type, node.name))
    if z is None:   # ONNX: QuantizeLinear without a zero point makes uint8 unless output_dtype says;
        # DequantizeLinear's zero point is of its input's type
        x = r.get(node, 0)
        if node.op_type == "QuantizeLinear":
            u8 = quantizes_to_uint8(node)
        else:
            u8 = (isinstance(x, np.ndarray) and x.dtype == np.uint8) or \
                (isinstance(x, Val) and r.tensors[x.t].dtype == "u8")
        z = np.zeros(s.shape, np.uint8 if u8 else np.int8)
    if s.ndim > 1 or s.size < 1 or z.size != s.size or z.dtype.kind not in "iu" \
            or not np.all(np.isfinite(s)) or np.any(s.astype(np.float64) <= 0):
        raise BakeError("%s node %r: scale %s and zero point %s; it needs matching, positive, finite scales"
                        % (node.op_type, node.name, s.reshape(-1)[:4].tolist(), z.reshape(-1)[:4].tolist()))
    if z.dtype not in (np.int8, np.uint8) and node.op_type == "QuantizeLinear":
        raise BakeError("QuantizeLinear %r quantizes to %s; upyflow runs int8 and uint8" % (node.name, z.dtype))
    for a in node.attribute:
        if a.name == "block_size" and a.i:
            raise BakeError("%s %r: blocked quantization is not supported" % (node.op_type, node.name))
        if a.name == "output_dtype" and node.op_type == "QuantizeLinear" and a.i not in (0, 2, 3):
            raise BakeError("QuantizeLinear %r: output_dtype %d; upyflow runs int8 and uint8" % (node.name, a.i))
    if z.dtype == np.uint8:
        z = (z.astype(np.int16) - 128).astype(np.int8)
    return s.astype(np.float32), z


def quantizes_to_uint8(node, r: Reader | None = None) -> bool:
    """A QuantizeLinear whose output is uint8 (its zero point's type, else output_dtype, else uint8)."""
    if r is not None and len(node.input) > 2 and node.input[2]:
        z = r.vals.get(node.input[2])
        return isinstance(z, np.ndarray) and z.dtype == np.uint8
    dtype = next((a.i for a in node.attribute if a.name == "output_dtype" and a.i), 0)
    return dtype in (0, 2)


def uint8_as_int8(q: np.ndarray) -> np.ndarray:
    """uint8 data as the int8 the reader runs (minus 128; zero points likewise)."""
    return (q.astype(np.int16) - 128).astype(np.int8)


def q_after(r: Reader, name: str):
    """(scale, zp, node index, output name) of a QuantizeLinear alone reading `name`."""
    c = r.sole_consumer(name)
    if c is None or c[1].op_type != "QuantizeLinear":
        return None
    i, node = c
    scale, zp = qparams(r, node)
    if scale.size != 1:
        return None
    return float(scale.reshape(-1)[0]), int(zp.reshape(-1)[0]), i, node.output[0]


def absorb_act(r: Reader, name: str):
    """Relu/Clip reading only `name`, fusable as a TFLite activation: (act, index, its output)."""
    c = r.sole_consumer(name)
    if c is None:
        return None
    i, node = c
    if node.op_type == "Relu":
        return "RELU", i, node.output[0]
    if node.op_type == "Clip":
        act = clip_act(r, node)
        if act is not None:
            return act, i, node.output[0]
    return None


def clip_bounds(r: Reader, node) -> tuple[float | None, float | None]:
    if r.opset < 11:
        a = attrs(node)
        lo, hi = a.get("min"), a.get("max")
    else:
        lo_v, hi_v = r.cval(node, 1, "min"), r.cval(node, 2, "max")
        lo = None if lo_v is None else float(np.asarray(lo_v).reshape(-1)[0])
        hi = None if hi_v is None else float(np.asarray(hi_v).reshape(-1)[0])
    if lo is not None and lo <= -3.4e38:
        lo = None
    if hi is not None and hi >= 3.4e38:
        hi = None
    # NaN, or a bound making every output infinite: the TFLite operators' float semantics
    # (a max pool starts at -FLT_MAX, activations clamp at +-FLT_MAX) would then differ
    # from onnxruntime's
    if any(v is not None and not np.isfinite(v) for v in (lo, hi)):
        raise BakeError("Clip node %r: min %s, max %s; upyflow needs finite bounds"
                        % (node.name, lo, hi))
    if lo is not None and hi is not None and lo > hi:
        lo = hi   # ONNX: every output is max; the kernels' clamps then agree whatever their order
    return lo, hi


def clip_act(r: Reader, node) -> str | None:
    acts: dict[tuple[float | None, float | None], str] = {(0.0, None): "RELU", (0.0, 6.0): "RELU6",
                                                          (-1.0, 1.0): "RELU_N1_TO_1"}
    return acts.get(clip_bounds(r, node))


def output_chain(r: Reader, name: str, quant: bool, fuse: bool = True):
    """(activation, final ONNX name, Q) after an op whose output is `name`: a Relu/Clip fused,
    then (when quant) the QuantizeLinear that gives the int8 output. None: no such Q."""
    a = absorb_act(r, name) if fuse else None
    act, idx, end = ("NONE", None, name) if a is None else a
    q = q_after(r, end) if quant else None
    if quant and q is None:
        return None
    if idx is not None:
        r.done.add(idx)
    return act, end, q


def bind_out(r: Reader, out_name: str, q, val: Val) -> None:
    if q is None:
        r.set(out_name, val)
    else:
        r.done.add(q[2])
        r.set(q[3], val)


def is_q(v) -> bool:
    return isinstance(v, Val) and v.deq


def requant(r: Reader, v: Val, q) -> Val:
    t = r.tensors[v.t]
    if (np.float32(t.sc), t.zp) == (np.float32(q[0]), q[1]):
        return v
    out = r.like(q[3], v.t, q=(q[0], q[1]))
    r.op("QUANTIZE", [v.t], [out])
    return Val(out, v.shape, v.base, v.perm)


def qbias(r: Reader, node, b, in_scale: float, w_scale: np.ndarray, n: int) -> int:
    data, bscale = qbias_values(r, node, b, in_scale, w_scale, n)
    return r.const(bias_name(node), data, "i32", bscale, np.zeros(n, np.int64))


def bias_name(node) -> str:
    return node.input[2] if len(node.input) > 2 and node.input[2] else node.output[0] + "/bias"


def qbias_values(r: Reader, node, b, in_scale: float, w_scale: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """int32 bias and its scales: the DQ'd initializer's data, or a float bias quantized at in_scale*w_scale."""
    bscale = (np.float64(in_scale) * w_scale.astype(np.float64)) * np.ones(n)
    if b is not None and np.size(b.q if isinstance(b, QConst) else b) != n:
        raise BakeError("%s node %r: bias of %d values for %d outputs"
                        % (node.op_type, node.name, np.size(b.q if isinstance(b, QConst) else b), n))
    data: np.ndarray
    if b is None:
        data = np.zeros(n, np.int32)
    elif isinstance(b, QConst):
        if b.q.dtype != np.int32:
            raise BakeError("%s node %r: the bias is %s; upyflow needs int32" % (node.op_type, node.name, b.q.dtype))
        data = (b.q.astype(np.int64) - b.zp.astype(np.int64)).reshape(-1)
        if not np.allclose(b.scale * np.ones(n), bscale, rtol=1e-3):
            data = np.rint(b.value().reshape(-1) / bscale).astype(np.int64)
    else:
        data = np.rint(np.asarray(b, np.float64).reshape(-1) / bscale).astype(np.int64)
    data = np.clip(data, -2**31, 2**31 - 1).astype(np.int32)
    return data, bscale.astype(np.float32)
