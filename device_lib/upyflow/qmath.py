# Integer requantization helpers, bit-exact with TFLite Micro's double rounding
# (SaturatingRoundingDoublingHighMul then RoundingDivideByPOT) and with the
# gemmlowp fixed-point routines its int8 softmax uses. One place for all tiers'
# reference arithmetic; values are Python ints standing for int32.
from array import array

INT32_MIN = -2147483648
INT32_MAX = 2147483647


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


def _exp_quarter(a):
    # exp(a) for a in [-1/4, 0), Q0.31: Taylor expansion around -1/8.
    x = a + 268435456
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    t = rdbypot(srdhm(rdbypot(x4, 2) + x3, 715827883) + x2, 1)
    return 1895147668 + srdhm(1895147668, x + t)


# exp(-2^k) in Q0.31 for the bits of the remainder, k = -2 .. 4.
_EXP_STEPS = ((1 << 24, 1672461947), (1 << 25, 1302514674), (1 << 26, 790015084),
              (1 << 27, 290630308), (1 << 28, 39332535), (1 << 29, 720401),
              (1 << 30, 242))


def exp_on_negative_q5_26(a):
    # exp(a) of a Q5.26 value a <= 0, result Q0.31.
    if a == 0:
        return INT32_MAX
    rem_minus_quarter = (a & 16777215) - 16777216
    result = _exp_quarter(sat_shl(rem_minus_quarter, 5))
    remainder = rem_minus_quarter - a
    for bit, factor in _EXP_STEPS:
        if remainder & bit:
            result = srdhm(result, factor)
    return result


def reciprocal_q12(x):
    # GetReciprocal(x, 12): 1/x for a positive Q12.19 sum, as (Q0.31 scale,
    # num_bits_over_unit).
    headroom = 0
    while not (x << headroom) & 0x80000000:
        headroom += 1
    a = (x << headroom) - 0x80000000
    # one_over_one_plus_x_for_x_in_0_1 by Newton-Raphson in Q2.29.
    s = a + INT32_MAX
    half_den = (s + 1) // 2 if s >= 0 else -((-s + 1) // 2)
    r = 1515870810 + srdhm(half_den, -1010580540)
    for _ in range(3):
        r = r + sat_shl(srdhm(r, 536870912 - srdhm(half_den, r)), 2)
    return sat_shl(r, 1), 12 - headroom


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
    if acc64:
        v = mul_by_qm64(acc, m, s)
    elif s > 0:
        v = srdhm(wrap32(wrap32(acc) << s), m)
    else:
        v = rdbypot(srdhm(wrap32(acc), m), -s)
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
F32 = array("f", [0.0])   # storing into F32[0] rounds a value to float32


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
