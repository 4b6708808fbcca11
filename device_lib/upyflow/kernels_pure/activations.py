# Standalone activations. int8 ones are table lookups (the table holds TFLM's
# result for every input byte, computed at bake time); int16 ones follow TFLM's
# integer kernels; float32 ones compute directly.
import math
from ..qmath import f32, inv_sqrt_qm, mul_by_qm, wrap32

KERNELS = ("lut_s8", "clamp_f32", "unary_f32", "leaky_relu_q", "leaky_relu_f32", "hard_swish_f32",
           "logistic_s16", "tanh_s16", "logistic_f32", "tanh_f32", "prelu_q", "prelu_f32", "l2norm_s8",
           "l2norm_f32", "rsqrt_s16")


def lut_s8(x, table, out, n):
    # & 255: a uint8 input view (QUANTIZE uint8 -> int8) indexes by the same byte
    for i in range(n):
        out[i] = table[(x[i] + 128) & 255]


def clamp_f32(x, out, n, lo, hi):
    for i in range(n):
        v = x[i]
        out[i] = lo if v < lo else (hi if v > hi else v)


def leaky_relu_q(x, out, n, in_zp, m_id, s_id, m_al, s_al, neg, out_zp, qmin, qmax):
    for i in range(n):
        d = x[i] - in_zp
        if d >= 0:
            v = mul_by_qm(d, m_id, s_id)
        else:
            v = mul_by_qm(d, m_al, s_al)
            if neg:
                v = -v
        v += out_zp
        out[i] = qmin if v < qmin else (qmax if v > qmax else v)


def leaky_relu_f32(x, out, n, alpha):
    for i in range(n):
        v = x[i]
        out[i] = v if v > 0 else v * alpha


def hard_swish_f32(x, out, n):
    for i in range(n):
        v = x[i]
        r = v + 3.0
        out[i] = v * (0.0 if r < 0.0 else (6.0 if r > 6.0 else r)) / 6.0


def _sigmoid_q(x, table, out, n, mult, shift, bits):
    # TFLM's int16 sigmoid: |x| rescaled, 8 high bits index the sigmoid(i/24)
    # table (stored minus 32768), `bits` low bits interpolate. bits 9: logistic,
    # 8: tanh (tanh(x) = 2 sigmoid(2x) - 1).
    rnd = (1 << (shift - 1)) if shift > 0 else 0
    frac = (1 << bits) - 1
    for i in range(n):
        v = (x[i] * mult + rnd) >> shift
        a = -v if v < 0 else v
        h = a >> bits
        if h >= 255:
            r = (0x7FFF << 10) if bits == 9 else (0xFFFF << 8)
        else:
            ua = table[h] + 32768
            r = (ua << bits) + (a & frac) * (table[h + 1] + 32768 - ua)
        if bits == 9:
            r = (r + 512) if v >= 0 else ((1 << 25) - r + 511)
            out[i] = r >> 10
        else:
            r = (r - (1 << 23) + 128) if v >= 0 else (-r + (1 << 23) + 127)
            out[i] = r >> 8


def logistic_s16(x, table, out, n, mult, shift):
    _sigmoid_q(x, table, out, n, mult, shift, 9)


def tanh_s16(x, table, out, n, mult, shift):
    _sigmoid_q(x, table, out, n, mult, shift, 8)


def logistic_f32(x, out, n):
    for i in range(n):
        v = x[i]
        if v > 16.619047164916992:
            out[i] = 1.0
        elif v < -9.0:
            out[i] = math.exp(v)
        else:
            out[i] = 1.0 / (1.0 + math.exp(-v))


def tanh_f32(x, out, n):
    for i in range(n):
        out[i] = math.tanh(x[i])


def prelu_q(x, alpha, out, n, period, in_zp, m1, s1, m2, s2, out_zp, qmin, qmax):
    # alpha holds (alpha - alpha zero point), repeating every `period` values
    k = 0
    for i in range(n):
        d = x[i] - in_zp
        if d >= 0:
            v = mul_by_qm(d, m1, s1) + out_zp
        else:
            v = mul_by_qm(d * alpha[k], m2, s2) + out_zp
        out[i] = qmin if v < qmin else (qmax if v > qmax else v)
        k += 1
        if k == period:
            k = 0


def prelu_f32(x, alpha, out, n, period):
    k = 0
    for i in range(n):
        v = x[i]
        out[i] = v if v >= 0 else v * alpha[k]
        k += 1
        if k == period:
            k = 0


def _normal_cdf(x):
    # erfc(-x / sqrt(2)) / 2 by the Chebyshev fit of erfc (Numerical Recipes' erfcc, relative
    # error below 1.2e-7 for z >= 0; math.erfc is missing from many ports), as activations.c
    z = abs(x) * 0.7071067811865476
    t = 1.0 / (1.0 + 0.5 * z)
    p = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))
    e = p - z * z
    half_erfc = 0.5 * t * math.exp(e) if e > -745.0 else 0.0
    return half_erfc if x < 0 else 1.0 - half_erfc


def _floor(v):
    # IEEE floor of a float32 value: itself if integral (|v| >= 2^23), infinite or NaN; a zero
    # result keeps v's sign (floor(-0.0) is -0.0)
    if v != v or not -8388608.0 < v < 8388608.0:
        return v
    r = float(math.floor(v))
    if r == 0:
        return -0.0 if str(v)[0] == "-" else 0.0
    return r


def _expm1(v):
    # expm1 for ELU: exp(v) - 1 away from 0, a Taylor series near it (relative accuracy)
    if v != v or not -0.5 < v < 0.5:
        return math.exp(v) - 1.0 if v < 700.0 else math.inf
    s = 1.0
    for k in (8, 7, 6, 5, 4, 3, 2):
        s = 1.0 + v / k * s
    return v * s


def _unary(v, op):
    if op >= 12:   # SIN, COS: NaN for infinities and NaN (CPython's math raises there)
        if v != v or not -3.5e38 < v < 3.5e38:
            return math.nan
        return math.sin(v) if op == 12 else math.cos(v)
    if op == 11:   # ELU
        return _expm1(v) if v < 0 else v
    if op == 8:
        return _floor(v)
    if op == 9:   # ceil(v) = -floor(-v)
        return -_floor(-v)
    if op == 10:   # TFLM's RoundToNearest: half to even on floor(v); -0.3 gives +0.0
        fl = _floor(v)
        diff = v - fl
        if diff < 0.5 or (diff == 0.5 and int(fl) % 2 == 0):
            return fl
        return fl + 1.0
    if op == 6:
        return v * _normal_cdf(v) if v == v else v
    if op == 7:
        u = -1.5957691216057308 * (v + 0.044715 * v * v * v)
        return v / (1.0 + math.exp(u)) if u < 700.0 else (0.0 if v == v else v)
    if op == 0:
        return abs(v)
    if op == 1:
        return -v
    if op == 4:
        return math.exp(v) if v < 700.0 else math.inf
    if v != v:
        return v
    if op == 5:
        return math.log(v) if v > 0 else (-math.inf if v == 0 else math.nan)
    if v < 0:
        return math.nan
    r = math.sqrt(v)
    if op == 2:
        return r
    return 1.0 / r if r else (-math.inf if str(v)[0] == "-" else math.inf)


def unary_f32(x, out, n, op):
    # ABS, NEG, SQRT, RSQRT, EXP, LOG, GELU, tanh-approximated GELU, FLOOR, CEIL, ROUND, ELU, SIN,
    # COS (op 0..13): float64 maths, rounded to float32 when stored
    for i in range(n):
        out[i] = _unary(x[i], op)


# L2_NORMALIZATION over rows of depth values: int8 as TFLM's integer kernel (output scale 2^-7),
# float32 with its float32 sum and the norm at least 1e-6
def l2norm_s8(x, out, rows, depth, in_zp):
    for r in range(rows):
        b = r * depth
        acc = 0
        for k in range(b, b + depth):
            v = x[k] - in_zp
            acc += v * v
        m, s = inv_sqrt_qm(wrap32(acc))
        for k in range(b, b + depth):
            v = mul_by_qm(x[k] - in_zp, m, s + 7)
            out[k] = -128 if v < -128 else (127 if v > 127 else v)


# RSQRT int16 as TFLM's RsqrtEvalQuantized (zero points 0): 1/sqrt(v) as a multiplier and shift
# (GetInvSqrtQuantizedMultiplierExp) applied to 1 << 20, then rescaled by (mult, shift), the host's
# 2^-20 / (sqrt(in_scale) * out_scale). 0 gives 32767; TFLM fails below 0: 32767 there too.
def rsqrt_s16(x, out, n, mult, shift):
    for i in range(n):
        v = x[i]
        if v <= 0:
            out[i] = 32767
            continue
        m, s = inv_sqrt_qm(v)
        v = mul_by_qm(mul_by_qm(1, m, s + 20), mult, shift)
        out[i] = -32768 if v < -32768 else (32767 if v > 32767 else v)


def l2norm_f32(x, out, rows, depth):
    for r in range(rows):
        b = r * depth
        acc = 0.0
        for k in range(b, b + depth):
            acc = f32(acc + f32(x[k] * x[k]))
        norm = f32(math.sqrt(acc))
        if not norm >= 1e-6:
            norm = f32(1e-6)
        for k in range(b, b + depth):
            out[k] = x[k] / norm
