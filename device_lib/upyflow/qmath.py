# Fixed-point maths, the one module of it in Python (device pure tier and host).
#
# Bit-exact with TFLite Micro's reference arithmetic (gemmlowp fixed point, double
# rounding). Values are Python ints standing for int32 (int64 where said); overflow
# behaves as TFLM's on a 32-bit target, never as Python's unbounded ints.
#
# name                   mirrors (TFLM / gemmlowp)               overflow / edge behaviour
# srdhm(a, b)            SaturatingRoundingDoublingHighMul       MIN*MIN saturates to INT32_MAX;
#                                                                ties away from 0
# rdbypot(x, e)          RoundingDivideByPOT                     no overflow; ties away; e 0..31
# sat_shl(x, e)          SaturatingRoundingMultiplyByPOT, e > 0  saturates to INT32_MIN/MAX
# mul_by_qm(x, m, s)     MultiplyByQuantizedMultiplier (int32)   x << s WRAPS (a C int32 shift,
#                                                                as TFLM); then SRDHM saturates
# mul_by_qm64(x, m, s)   MultiplyByQuantizedMultiplier (int64)   result wraps to int32; s <= 14;
#                                                                |x| < 2**47 (x*m fits int64)
# requant16(...)         int16 conv/FC requantization            int32 acc wraps, then mul_by_qm
# wrap32(x)              a C int32 store                         two's complement wrap
# exp_quarter(a)         exp_on_interval_between_negative_one_quarter_and_0_excl
# exp_on_negative(a, ib) exp_on_negative_values, Q(ib) -> Q0.31  a == 0 -> INT32_MAX
# exp_on_negative_q5_26  the same with 5 integer bits (softmax)
# one_over_one_plus_x(a) one_over_one_plus_x_for_x_in_0_1's      Newton steps saturate;
#                        iterate: raw / 2**30 ~ 1 / (1 + a)
# reciprocal_q12(x)      GetReciprocal(x, 12)                    needs x > 0
# f32(v)                 a C float store                         nearest float32; overflow inf
# round_half_away(v)     std::round / roundf                     ties away from 0; finite v
# requant_ort(...)       onnxruntime MLAS int8 requantization    float32 product, ties to even
#
# The C tier has the same functions in native_modules/src/qmath.h; the host's
# numpy-vectorised mirrors are in upyflow_tools/quant.py; tests/test_qmath.py checks
# them against big-int definitions of TFLM's.
from array import array

INT32_MIN = -2147483648
INT32_MAX = 2147483647

F32 = array("f", [0.0])   # storing into F32[0] rounds a value to float32


def f32(v):
    # v rounded to float32 (overflow to inf), as a C float holds it: float kernels
    # round each product and sum where TFLM's float32 arithmetic does, so their
    # results are TFLM's bit for bit. One array cell: no allocation per call.
    F32[0] = v
    return F32[0]


def _dot_cell(acc, x, i, w, j, n):
    # acc + x[i + k] * w[j + k] for k < n, each product and sum rounded to float32
    # in that order (TFLM's float dot products); the cell inline, a call is slower.
    c = F32
    d = j - i
    for k in range(i, i + n):
        c[0] = x[k] * w[d + k]
        c[0] += acc
        acc = c[0]
    return acc


def _dot_plain(acc, x, i, w, j, n):
    # the same where Python floats are float32 (most boards): no cell needed
    d = j - i
    for k in range(i, i + n):
        acc += x[k] * w[d + k]
    return acc


dot_f32 = _dot_plain if 1.0 + 2.0 ** -24 == 1.0 else _dot_cell


def srdhm(a, b):
    # SaturatingRoundingDoublingHighMul: high 32 bits of 2*a*b, rounded half away
    # from zero; C's division truncates, so negatives are handled separately.
    if a == INT32_MIN and b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    if ab >= 0:
        return (ab + 1073741824) >> 31
    return -((1073741823 - ab) >> 31)


def rdbypot(x, exponent):
    # RoundingDivideByPOT: arithmetic shift rounding half away from zero.
    mask = (1 << exponent) - 1
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if (x & mask) > threshold else 0)


def mul_by_qm(x, multiplier, shift):
    # MultiplyByQuantizedMultiplier (double rounding). The left shift wraps like
    # TFLM's int32 product (and the C kernels): the tiers agree on extreme scales.
    if shift > 0:
        return srdhm(wrap32(x << shift), multiplier)
    return rdbypot(srdhm(x, multiplier), -shift)


def sat_shl(x, exponent):
    # SaturatingRoundingMultiplyByPOT with a positive exponent.
    threshold = (1 << (31 - exponent)) - 1
    if x > threshold:
        return INT32_MAX
    if x < -threshold:
        return INT32_MIN
    return x << exponent


def _clz(x):
    n = 0
    u = x & 0xFFFFFFFF
    while n < 32 and not u & 0x80000000:
        u <<= 1
        n += 1
    return n


def inv_sqrt_qm(v):
    # TFLite's GetInvSqrtQuantizedMultiplierExp(v, reverse_shift=-1): (multiplier, shift) of
    # 1/sqrt(v), gemmlowp fixed point (3 integer bits), five Newton steps from 1.
    if v <= 1:
        return INT32_MAX, 0
    shift = 11
    while v >= 1 << 29:
        v //= 4
        shift += 1
    pairs = (_clz(v) - 1) // 2 - 1   # (MicroPython's int has no bit_length)
    shift -= pairs
    v <<= 2 * pairs
    half_input = rdbypot(v >> 1, 1)
    half_three = (1 << 28) + (1 << 27)
    x = 1 << 28
    for _ in range(5):
        x3 = sat_shl(srdhm(srdhm(x, x), x), 6)
        x = sat_shl(srdhm(half_three, x) - srdhm(half_input, x3), 3)
    x = srdhm(x, 1518500250)
    if shift < 0:
        x <<= -shift
        shift = 0
    return x, -shift


def exp_quarter(a):
    # exp(a) for a in [-1/4, 0), Q0.31: Taylor expansion around -1/8. The last add
    # wraps in gemmlowp (int32); within the domain it does not overflow.
    x = a + 268435456
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    t = rdbypot(srdhm(rdbypot(x4, 2) + x3, 715827883) + x2, 1)
    return 1895147668 + srdhm(1895147668, x + t)


# exp(-2^k) in Q0.31 for the bits of the remainder, k = -2 .. 4.
_EXP_STEPS = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
              (2, 39332535), (3, 720401), (4, 242))


def exp_on_negative(a, integer_bits):
    # exp(a) of a raw Q(integer_bits) value a <= 0, result Q0.31.
    if a == 0:
        return INT32_MAX
    frac = 31 - integer_bits
    quarter = 1 << (frac - 2)
    rem = (a & (quarter - 1)) - quarter
    result = exp_quarter(sat_shl(rem, integer_bits))
    remainder = rem - a
    for k, factor in _EXP_STEPS:
        if integer_bits > k and remainder & (1 << (frac + k)):
            result = srdhm(result, factor)
    return result


def exp_on_negative_q5_26(a):
    # softmax's exp: 5 integer bits.
    return exp_on_negative(a, 5)


def one_over_one_plus_x(a):
    # gemmlowp's Newton-Raphson iterate for a Q0.31 a in [0, 1): 1 / ((1 + a) / 2) in
    # Q2.29 (raw / 2**30 ~ 1 / (1 + a)); gemmlowp's result is sat_shl(it, 1).
    s = a + INT32_MAX
    half_den = (s + 1) // 2 if s >= 0 else -((1 - s) // 2)
    r = 1515870810 + srdhm(half_den, -1010580540)
    for _ in range(3):
        r = r + sat_shl(srdhm(r, 536870912 - srdhm(half_den, r)), 2)
    return r


def _srmpot(x, e):
    # SaturatingRoundingMultiplyByPOT by a signed exponent
    return sat_shl(x, e) if e > 0 else (rdbypot(x, -e) if e < 0 else x)


def _sat32(v):
    return INT32_MIN if v < INT32_MIN else (INT32_MAX if v > INT32_MAX else v)


def log_q12_to_q5(x):
    # TFLite's log_x_for_x_greater_than_or_equal_to_1<5>(x in Q12.19), gemmlowp fixed point
    # (LOG_SOFTMAX): log2 of the leading power, then a rational fit of the rest; int32 sums wrap.
    sqrt_sqrt_half = 1805811301
    sqrt_half = 1518500250
    quarter = 8388608   # 1/4 in Q6.25
    hr1 = _clz(x)
    r_a = _srmpot(srdhm(_srmpot(x, hr1 - 1), sqrt_half), 1)
    a_adj = _sat32(_srmpot(12 - hr1, 25) + quarter)
    hr_b = _clz(srdhm(x, sqrt_half)) - 1
    r_b = _srmpot(x, hr_b)
    b_adj = _sat32(_srmpot(12 - hr_b, 25) - quarter)
    r = min(r_a, r_b)
    adj = max(a_adj, b_adj)
    t = r + sqrt_sqrt_half   # RoundingHalfSum: (a + b + sign) / 2, truncated
    p = (t + 1) // 2 if t >= 0 else -((1 - t) // 2)
    q = wrap32(2 * wrap32(r - sqrt_sqrt_half))
    sq = srdhm(q, q)
    num = wrap32(srdhm(q, r) + srdhm(srdhm(q, sq), 117049297))
    den = wrap32(srdhm(p, wrap32(1057819769 + q + srdhm(127690142, sq))) + srdhm(638450708, q))
    recip = sat_shl(one_over_one_plus_x(den), 1)
    acc = wrap32(srdhm(adj, 1488522236) + srdhm(rdbypot(num, 6), recip))
    return sat_shl(acc, 1)


def reciprocal_q12(x):
    # GetReciprocal(x, 12): 1/x for a positive Q12.19 sum, as (Q0.31 scale,
    # num_bits_over_unit).
    headroom = 0
    while headroom < 32 and not (x << headroom) & 0x80000000:   # bounded: a sum of 0 ends too
        headroom += 1
    return sat_shl(one_over_one_plus_x((x << headroom) - 0x80000000), 1), 12 - headroom


# --- int16 activations (16x8 conv/FC/transpose conv) ---
def bias64(bias, n):
    # int64 values from their little-endian int32 word pairs; small ones stay small ints.
    b = []
    for c in range(n):
        lo = bias[2 * c]
        hi = bias[2 * c + 1]
        if (hi == 0 and lo >= 0) or (hi == -1 and lo < 0):
            b.append(lo)
        else:
            b.append((hi << 32) + (lo & 0xFFFFFFFF))
    return b



def requant16(acc, m, s, acc64, act_min, act_max):
    # acc64 selects TFLM's accumulator: 1 = int64 (requantized with the 16-bit reduced
    # multiplier), 0 = int32 (wraps, then the usual double-rounding requantization).
    v = mul_by_qm64(acc, m, s) if acc64 else mul_by_qm(wrap32(acc), m, s)
    return act_min if v < act_min else (act_max if v > act_max else v)



def mul_by_qm64(x, multiplier, shift):
    # MultiplyByQuantizedMultiplier for a 64-bit accumulator (TFLM's double-
    # rounding build): the multiplier is first rounded to 16 bits, then one
    # rounding shift by 15 - shift; the result is truncated to int32 as TFLM's
    # assignment does. Needs shift <= 14 (the lowering guarantees it).
    if multiplier < 0x7FFF0000:
        m = (multiplier + 32768) >> 16
    else:
        m = 0x7FFF
    total = 15 - shift
    r = (x * m + (1 << (total - 1))) >> total
    if r < INT32_MIN or r > INT32_MAX:
        r = ((r + 2147483648) & 0xFFFFFFFF) - 2147483648
    return r


def wrap32(x):
    # Two's complement int32 wrap, as a C int32 accumulator overflows.
    if INT32_MIN <= x <= INT32_MAX:
        return x
    return ((x + 2147483648) & 0xFFFFFFFF) - 2147483648


# --- int8 requantized as onnxruntime's CPU kernels do (MLAS) ---
# y = round_half_even(f32(f32(acc) * scale)) + zero point, scale precomputed in float32
# at bake time. float32 arithmetic is emulated exactly: on a double-float port
# (CPython, MicroPython unix) values are rounded to float32 through a 1-element float32
# array (the product of two float32 values is exact in a double); on a single-float
# port they are float32 already. round() ties to even on CPython and MicroPython.
# Not exact on ports whose floats lose mantissa bits (object representation C or D).


def round_half_away(v):
    # std::round: half away from zero (Python's round() ties to even). v - int(v) is
    # exact, so no v + 0.5 rounding up (0.49999999999999994 -> 0, as in C).
    n = int(v)
    d = v - n
    return n + 1 if d >= 0.5 else (n - 1 if d <= -0.5 else n)


def requant_ort(acc, scale, out_off, act_min, act_max):
    f = F32
    f[0] = acc
    f[0] = f[0] * scale
    v = round(f[0]) + out_off
    return act_min if v < act_min else (act_max if v > act_max else v)


def ort_requant(scale, out_off, act_min, act_max):
    # requant_ort per channel, as requant(acc, channel) for conv2d_acc / fully_connected_acc.
    def requant(acc, oc):
        return requant_ort(acc, scale[oc], out_off, act_min, act_max)
    return requant
