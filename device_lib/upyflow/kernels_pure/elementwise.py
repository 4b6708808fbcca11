# ADD/SUB (int8, int16, TFLM's general scaling), MUL, int8 DIV, MAXIMUM/MINIMUM with
# broadcasting, their onnxruntime-rounded int8 form and int32 arithmetic. Shapes come
# as int32 descriptors baked by upyflow_tools/lower/families/elementwise.py: kernels
# walk the output row-major, each input with its own stride (0 where it broadcasts).
# The esize parameters are for the native tier; typed views know their width.
import math

from ..qmath import F32, mul_by_qm, one_over_one_plus_x, rdbypot, sat_shl, srdhm, wrap32

KERNELS = ("addsub_q", "mul_q", "div_q", "binary_f32", "maxmin_q", "compare_q", "binary_s8_ort", "binary_i32",
           "add_n_s8")


def _pairs(d, nd, k, a, b, o, row):
    # Binary descriptor [nd, shape..., strides a..., strides b...]: row() per
    # innermost run (recursion depth = dimensions, at most 6).
    n = d[1 + k]
    if k == nd - 1:
        row(a, b, o, n, d[1 + nd + k], d[1 + 2 * nd + k])
        return
    sa = d[1 + nd + k]
    sb = d[1 + 2 * nd + k]
    block = 1
    for j in range(k + 1, nd):
        block *= d[1 + j]
    for _ in range(n):
        _pairs(d, nd, k + 1, a, b, o, row)
        a += sa
        b += sb
        o += block


def addsub_q(x1, x2, out, d, esize, sign, off1, m1, sh1, off2, m2, sh2, ls, mo, sho, ooff, lo, hi):
    # sign 1: ADD, -1: SUB, 0: SQUARED_DIFFERENCE (the scaled difference squared, below 2^30)
    def row(a, b, o, n, sa, sb):
        for i in range(n):
            v1 = rdbypot(srdhm((x1[a] + off1) << ls, m1), -sh1)
            v2 = rdbypot(srdhm((x2[b] + off2) << ls, m2), -sh2)
            v = v1 + sign * v2 if sign else (v1 - v2) * (v1 - v2)
            v = rdbypot(srdhm(v, mo), -sho) + ooff
            out[o + i] = lo if v < lo else (hi if v > hi else v)
            a += sa
            b += sb
    _pairs(d, d[0], 0, 0, 0, 0, row)


def mul_q(x1, x2, out, d, esize, off1, off2, m, sh, ooff, lo, hi):
    def row(a, b, o, n, sa, sb):
        for i in range(n):
            v = mul_by_qm((x1[a] + off1) * (x2[b] + off2), m, sh) + ooff
            out[o + i] = lo if v < lo else (hi if v > hi else v)
            a += sa
            b += sb
    _pairs(d, d[0], 0, 0, 0, 0, row)


def _bits(v):
    # the bit length of 0 <= v < 2^31 (MicroPython's int has no bit_length)
    n = 0
    while v:
        v >>= 1
        n += 1
    return n


# gemmlowp's reciprocal of a divisor 0: 1 / (1 + x) at x = -1, the Newton steps' int32 sums wrapping
_RECIP_ZERO = -1515870788


def div_q(x1, x2, out, d, off1, off2, m, sh, ooff, lo, hi):
    # DIV int8 as TFLM's reference: the divisor's sign moved to the dividend, its reciprocal in
    # Q0.31 (GetReciprocal) and the dividend normalised by its redundant sign bits multiplied,
    # then m * 2^(sh - bits over unit - headroom). An exponent e >= 32 takes what the TFLM
    # interpreter's (x86-64) shifts give: a 64-bit mask truncated to int32 and the count mod 32.
    def row(a, b, o, n, sa, sb):
        for i in range(n):
            v1 = x1[a] + off1
            v2 = x2[b] + off2
            if v2 < 0:
                v1 = -v1
                v2 = -v2
            if v2:
                k = _bits(v2)
                inv = sat_shl(one_over_one_plus_x((v2 << (32 - k)) - 2147483648), 1)
                e = k - 1 - sh
            else:
                inv = _RECIP_ZERO
                e = -1 - sh
            k = _bits(v1 if v1 >= 0 else -1 - v1)   # headroom 31 - k
            v = srdhm(srdhm(v1 << (31 - k), inv), m)
            e += 31 - k
            if e < 32:
                v = rdbypot(v, e)
            elif e < 64:
                v = (v >> (e - 32)) + (1 if v >= 0 else 0)
            else:
                v = rdbypot(v, e - 64)
            v += ooff
            out[o + i] = lo if v < lo else (hi if v > hi else v)
            a += sa
            b += sb
    _pairs(d, d[0], 0, 0, 0, 0, row)


def _arith(op, u, w):
    # op 0 add, 1 sub, 2 mul, 3 max, 4 min: shared by binary_f32 and binary_i32.
    if op == 0:
        return u + w
    if op == 1:
        return u - w
    if op == 2:
        return u * w
    if op == 3:
        return u if u > w else w
    return u if u < w else w


_F32_INF = 3.4028235677973366e38   # 2^128 - 2^103: float32 rounds this and above to inf


def _pow(u, w):
    # std::pow in float64 (stored as float32): a negative base with a fractional exponent is
    # NaN, 0 to a negative power and overflow infinite (CPython's math.pow raises there)
    if w == 0:
        return 1.0
    odd = w == int(w) and int(w) % 2 == 1 if -1e300 < w < 1e300 else False
    try:
        v = math.pow(u, w)
    except (ValueError, ZeroDivisionError, OverflowError):
        if u < 0 and w != int(w):
            return float("nan")
        v = float("inf")
        if (u < 0 or str(u)[0] == "-") and odd:
            v = -v
        return v
    if v >= _F32_INF or v <= -_F32_INF:   # rounds past float32's largest: infinite, as powf
        return float("inf") if v > 0 else float("-inf")
    return v


def _div(u, w):
    # IEEE float division: x/0 is +-inf (NaN for 0/0), as C's
    if w == 0:
        if u != u or u == 0:
            return float("nan")
        neg = (u < 0) != (str(w)[0] == "-")
        return float("-inf") if neg else float("inf")
    return u / w


def _floor_div(u, w):
    # TFLM's floor of the quotient in double (exact: a float's quotient is never within 2^-48 of
    # an integer it is not); where floats are 32-bit, a quotient rounded onto an integer the
    # exact one is below is moved down, as elementwise.c does
    if w == 0 or u != u or w != w:
        return _div(u, w)
    v = u / w
    if v == 0:   # zero, or a quotient below the smallest float: -1 when negative
        return -1.0 if u != 0 and -_F32_INF < w < _F32_INF and (u < 0) != (w < 0) else v
    if not -4503599627370496.0 < v < 4503599627370496.0:
        return v   # integral or infinite
    f = float(math.floor(v))
    if f == v and -16777216.0 < f < 16777216.0:
        r = u - f * w
        if (r < 0) if w > 0 else (r > 0):
            f -= 1.0
    return f


def _floor_mod(u, w):
    # TFLM: std::fmod (exact), moved by w when nonzero with the other sign than w; x % 0, an
    # infinite or NaN operand give NaN except x % inf = x
    if w == 0 or u != u or w != w or not -_F32_INF < u < _F32_INF:
        return float("nan")
    t = math.fmod(u, w) if -_F32_INF < w < _F32_INF else u
    return t + w if t != 0 and (w < 0) != (t < 0) else t


def binary_f32(x1, x2, out, d, op, lo, hi):
    # op: 0 add, 1 sub, 2 mul, 5 div (clamped to the activation), 3 max, 4 min,
    # 6 squared difference, 7 power, 8 max and 9 min with a NaN operand giving NaN (not
    # clamped), 10 FLOOR_DIV, 11 FLOOR_MOD. float32 views round every stored result, as TFLM
    # computes in float32 (the difference is rounded to float32 before squaring).
    def row(a, b, o, n, sa, sb):
        for i in range(n):
            u = x1[a]
            w = x2[b]
            if op < 5:
                v = _arith(op, u, w)
            elif op == 5:
                v = _div(u, w)
            elif op == 7:
                v = _pow(u, w)
            elif op == 10:
                v = _floor_div(u, w)
            elif op == 11:
                v = _floor_mod(u, w)
            elif op >= 8:   # onnxruntime's Max/Min: a NaN operand gives NaN
                v = u if u != u else (w if w != w else _arith(op - 5, u, w))
            else:
                out[o + i] = u - w
                v = out[o + i]
                v = v * v
            if op < 3 or op == 5:
                v = lo if v < lo else (hi if v > hi else v)
            out[o + i] = v
            a += sa
            b += sb
    _pairs(d, d[0], 0, 0, 0, 0, row)


def maxmin_q(x1, x2, out, d, esize, is_max):
    def row(a, b, o, n, sa, sb):
        for i in range(n):
            u = x1[a]
            w = x2[b]
            out[o + i] = (u if u > w else w) if is_max else (u if u < w else w)
            a += sa
            b += sb
    _pairs(d, d[0], 0, 0, 0, 0, row)


# GREATER, GREATER_EQUAL, LESS, LESS_EQUAL, EQUAL, NOT_EQUAL (op 0..5): bool bytes out.
# kind 2: int8 rescaled as TFLM, ((x + off) << 8) times each input's scale; 0 and 1
# compare the values as they are (typed views: int or float).
def compare_q(x1, x2, out, d, esize, op, kind, off1, m1, sh1, off2, m2, sh2):
    def row(a, b, o, n, sa, sb):
        for i in range(n):
            u = x1[a]
            w = x2[b]
            if kind == 2:
                u = rdbypot(srdhm((u + off1) << 8, m1), -sh1)
                w = rdbypot(srdhm((w + off2) << 8, m2), -sh2)
            if op == 0:
                r = u > w
            elif op == 1:
                r = u >= w
            elif op == 2:
                r = u < w
            elif op == 3:
                r = u <= w
            elif op == 4:
                r = u == w
            else:
                r = u != w
            out[o + i] = 1 if r else 0
            a += sa
            b += sb
    _pairs(d, d[0], 0, 0, 0, 0, row)


# ADD/SUB/MUL as onnxruntime runs them between DequantizeLinear and QuantizeLinear:
# each input dequantized in float32 (f32((x - zp) * scale)), the op in float32,
# then quantized: round_half_even(f32(v / out_scale)) + zero point. A double result
# rounded once to float32 equals the float32 operation (53 >= 2 * 24 + 2 bits).
def binary_s8_ort(x1, x2, out, d, op, zp1, s1, zp2, s2, out_s, out_zp, lo, hi):
    f = F32

    def row(a, b, o, n, sa, sb):
        for i in range(n):
            f[0] = (x1[a] - zp1) * s1
            u = f[0]
            f[0] = (x2[b] - zp2) * s2
            w = f[0]
            f[0] = u * w if op == 2 else (u + w if op == 0 else u - w)
            f[0] = f[0] / out_s
            v = round(f[0]) + out_zp
            out[o + i] = lo if v < lo else (hi if v > hi else v)
            a += sa
            b += sb
    _pairs(d, d[0], 0, 0, 0, 0, row)


def _cdiv(u, w):
    # int32 division as C's: truncated toward zero; by 0 gives 0 (TFLM would fault; the
    # bake rejects a constant 0, native gives 0).
    if w == 0:
        return 0
    v = abs(u) // abs(w)
    return -v if (u < 0) != (w < 0) else v


# int32 ADD, SUB, MUL, MAXIMUM, MINIMUM, DIV, SQUARED_DIFFERENCE (op 0..6), wrapping as
# C int32 (the difference wraps before it is squared).
def binary_i32(x1, x2, out, d, op):
    def row(a, b, o, n, sa, sb):
        for i in range(n):
            u = x1[a]
            w = x2[b]
            if op == 6:
                v = wrap32(u - w)
                out[o + i] = wrap32(v * v)
            else:
                out[o + i] = wrap32(_arith(op, u, w) if op < 5 else _cdiv(u, w))
            a += sa
            b += sb
    _pairs(d, d[0], 0, 0, 0, 0, row)


# ADD_N int8 as TFLM, one call per input (stage 0 first, 1 next, 2 last): acc sums x - zp (the
# first adds TFLM's starting -zp); each input's (x - zp) << 20 times the exact multiplier 1/2 is
# (x - zp) << 19, so TFLM's wrapping int32 sum is acc << 19, scaled by the output multiplier.
def add_n_s8(x, acc, out, n, stage, off, mo, sho, ooff, lo, hi):
    for i in range(n):
        v = x[i] + off + (off if stage == 0 else acc[i])
        if stage < 2:
            acc[i] = v
        else:
            v = rdbypot(srdhm(wrap32(v << 19), mo), -sho) + ooff
            out[i] = lo if v < lo else (hi if v > hi else v)
