"""TFLite quantization maths, done once on the host at bake time.

Each function mirrors how TFLite Micro prepares a kernel (double vs float32
products matter for bit-exactness), so the device only does integer work.
"""
from __future__ import annotations

import math

import numpy as np

from upyflow import qmath

from . import BakeError

QRANGE = {"i8": (-128, 127), "i16": (-32768, 32767), "u8": (0, 255), "i32": (-2**31, 2**31 - 1)}


def quantize_multiplier(real: float) -> tuple[int, int]:
    """(int32 Q0.31 multiplier, shift) with real = m * 2^(shift-31), as TFLite's QuantizeMultiplier."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = round_half_away(q * (1 << 31))
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return int(q_fixed), shift


# The host's fixed-point and rounding arithmetic is upyflow.qmath's (the device's own);
# below only its checked scalar entry points and numpy-vectorised mirrors, which
# tests/test_qmath.py compares with qmath on random and edge values.
def round_half_away(v: float) -> int:
    """qmath.round_half_away (std::round), refusing a NaN/inf bake-time parameter."""
    if not math.isfinite(v):   # a NaN/inf scale, beta or alpha, or a float32 overflow
        raise BakeError("a quantization parameter computes to %g; the model's scales or options "
                        "are out of range" % v)
    return int(qmath.round_half_away(v))


def f32(v: float) -> float:
    """qmath.f32: v rounded to float32 (scales are float32 in a model)."""
    return float(qmath.f32(v))


def checked_log2(x: float) -> tuple[bool, int]:
    """TFLM's CheckedLog2, in float32: (a power of two within 1e-3 in log2, log2 rounded)."""
    lg = float(np.float32(np.log(np.float32(x))) * np.float32(1.0 / np.log(np.float32(2.0))))
    r = round_half_away(lg)
    return abs(lg - r) < 1e-3, r


def round_half_away_np(x):
    """qmath.round_half_away over a numpy array (float64 result)."""
    t = np.trunc(x)
    d = x - t
    return t + (d >= 0.5) - (d <= -0.5)


def quantize_value(value: float, scale: float, zp: int) -> int:
    """TFLite's Quantize(): round(f / scale) in float32, plus the zero point."""
    return round_half_away(f32(np.float32(value) / np.float32(scale))) + zp


def activation_range(act: str, dtype: str, scale: float, zp: int) -> tuple[int, int]:
    """Integer clamp range of a fused activation on an output quantized (scale, zp)."""
    lo, hi = QRANGE[dtype]
    if act == "NONE":
        return lo, hi
    if act == "RELU":
        return max(lo, quantize_value(0.0, scale, zp)), hi
    if act == "RELU6":
        return max(lo, quantize_value(0.0, scale, zp)), min(hi, quantize_value(6.0, scale, zp))
    if act == "RELU_N1_TO_1":
        return max(lo, quantize_value(-1.0, scale, zp)), min(hi, quantize_value(1.0, scale, zp))
    raise ValueError(act)


FLOAT_MAX = 3.4028234663852886e38


def activation_range_float(act: str) -> tuple[float, float]:
    return {"NONE": (-FLOAT_MAX, FLOAT_MAX), "RELU": (0.0, FLOAT_MAX), "RELU6": (0.0, 6.0),
            "RELU_N1_TO_1": (-1.0, 1.0)}[act]


def channel_multipliers(in_scale: float, w_scales: list[float], out_scale: float,
                        channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-output-channel (multiplier, shift) arrays, a per-tensor scale broadcast.

    The scales are multiplied in double on every path, per-tensor FULLY_CONNECTED
    included: the TFLM interpreter does (a float32 product, as some TFLite sources
    show for that path, differs from it on some inputs).
    """
    mults, shifts = [], []
    for c in range(channels):
        ws = w_scales[c] if len(w_scales) > 1 else w_scales[0]
        real = in_scale * ws / out_scale
        m, s = quantize_multiplier(real)
        mults.append(m)
        shifts.append(s)
    return np.array(mults, np.int32), np.array(shifts, np.int32)


def softmax_params(beta: float, in_scale: float) -> tuple[int, int, int]:
    """(input multiplier, left shift, diff_min) of TFLite's int8 softmax (Q5.26 differences)."""
    integer_bits = 5
    real = min(beta * in_scale * (1 << (31 - integer_bits)), (1 << 31) - 1.0)
    mult, shift = quantize_multiplier(real)
    radius = math.floor(((1 << integer_bits) - 1) * (1 << (31 - integer_bits)) / (1 << shift))
    return mult, shift, -radius


def conv_out_size(padding: str, in_size: int, k: int, stride: int, dilation: int) -> int:
    eff = (k - 1) * dilation + 1
    if padding == "SAME":
        return (in_size + stride - 1) // stride
    return (in_size + stride - eff) // stride


def conv_pad(in_size: int, k: int, stride: int, dilation: int, out_size: int) -> int:
    """Leading padding as TFLite computes it (any odd pixel goes to the end)."""
    eff = (k - 1) * dilation + 1
    return max(0, ((out_size - 1) * stride + eff - in_size) // 2)
