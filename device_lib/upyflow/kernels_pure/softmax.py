# SOFTMAX and LOG_SOFTMAX (float32) over the last axis. int8 follows TFLite's fixed-point algorithm
# (Q5.26 scaled differences, exp in Q0.31, Q12.19 sum, Newton reciprocal).
import math
from ..qmath import srdhm, rdbypot, exp_on_negative_q5_26, reciprocal_q12, mul_by_qm, f32, log_q12_to_q5, wrap32

KERNELS = ("softmax_s8", "softmax_f32", "softmax_s16", "softmax_s8_s16", "log_softmax_f32", "log_softmax_s8")


def softmax_s8(x, out, rows, depth, in_mult, in_shift, diff_min):
    softmax_fixed(x, out, rows, depth, in_mult, in_shift, diff_min, 8)


def softmax_fixed(x, out, rows, depth, in_mult, in_shift, diff_min, out_bits):
    # int8 input; int8 (out_bits 8) or int16 (16) output, zero point at the minimum.
    lo = -(1 << (out_bits - 1))
    hi = -lo - 1
    for r in range(rows):
        base = r * depth
        top = x[base]
        for c in range(base, base + depth):
            if x[c] > top:
                top = x[c]
        exps = []
        total = 0
        for c in range(base, base + depth):
            diff = x[c] - top
            if diff >= diff_min:
                e = exp_on_negative_q5_26(srdhm(diff << in_shift, in_mult))
                total += rdbypot(e, 12)
            else:
                e = None
            exps.append(e)
        scale, bits_over_unit = reciprocal_q12(total)
        exponent = bits_over_unit + 31 - out_bits
        for k in range(depth):
            e = exps[k]
            if e is None:
                v = lo
            else:
                v = rdbypot(srdhm(scale, e), exponent) + lo
                v = hi if v > hi else (lo if v < lo else v)
            out[base + k] = v


def softmax_f32(x, out, rows, depth, beta):
    for r in range(rows):
        base = r * depth
        top = max(x[c] for c in range(base, base + depth))
        total = 0.0
        for c in range(base, base + depth):   # float32 steps, as TFLM
            e = f32(math.exp(f32(f32(x[c] - top) * beta)))
            out[c] = e
            total = f32(total + e)
        for c in range(base, base + depth):
            out[c] = out[c] / total


# int16 output: int16 input (TFLM's two interpolated lookup tables, exp and 1/(1+x),
# built at bake time) and int8 input (the int8 fixed-point algorithm with a 16-bit
# output scale).
def _lut16(v, lut):
    # 513-entry table over [-32768, 32767]: 9 high bits index, 7 bits interpolate
    i = 256 + (v >> 7)
    base = lut[i]
    return base + (((lut[i + 1] - base) * (v & 0x7F) + 64) >> 7)


def softmax_s16(x, exp_lut, recip_lut, out, rows, depth, in_mult, in_shift):
    for r in range(rows):
        base = r * depth
        end = base + depth
        top = x[base]
        for c in range(base, end):
            if x[c] > top:
                top = x[c]
        total = 0
        for c in range(base, end):
            v = mul_by_qm(x[c] - top, in_mult, in_shift) + 32767
            e = _lut16(-32768 if v < -32768 else (32767 if v > 32767 else v), exp_lut)
            out[c] = e      # the output doubles as scratch for the exps, as in TFLM
            total += e
        clz = 32
        t = total
        while t:
            t >>= 1
            clz -= 1
        s = (((total << (clz - 1)) + 8192) >> 14) - 98304
        recip = _lut16(-32768 if s < -32768 else (32767 if s > 32767 else s), recip_lut)
        shift = 31 - clz
        rnd = 1 << (shift - 1)
        for c in range(base, end):
            v = (out[c] * recip + rnd) >> shift
            out[c] = 0 if v < 0 else (32767 if v > 32767 else v)


def softmax_s8_s16(x, out, rows, depth, in_mult, in_shift, diff_min):
    softmax_fixed(x, out, rows, depth, in_mult, in_shift, diff_min, 16)


def log_softmax_f32(x, out, rows, depth):
    # x - max - log(sum of exp(x - max)), the sum in float32 steps as TFLM
    for r in range(rows):
        base = r * depth
        top = max(x[c] for c in range(base, base + depth))
        total = 0.0
        for c in range(base, base + depth):
            total = f32(total + f32(math.exp(f32(x[c] - top))))
        log_sum = f32(math.log(total)) if total > 0 else -math.inf
        for c in range(base, base + depth):
            out[c] = f32(x[c] - top) - log_sum


def log_softmax_s8(x, out, rows, depth, in_mult, in_shift, rev_mult, rev_shift, diff_min):
    # TFLM's int8 LOG_SOFTMAX: Q5.26 differences, exp summed in Q12.19, its log in Q5.26, the
    # output (scale 16/256, zero point 127) = difference - log sum
    for r in range(rows):
        base = r * depth
        top = max(x[c] for c in range(base, base + depth))
        total = 0
        for c in range(base, base + depth):
            d = x[c] - top
            if d >= diff_min:
                total = wrap32(total + rdbypot(exp_on_negative_q5_26(mul_by_qm(d, in_mult, in_shift)), 12))
        log_sum = log_q12_to_q5(total)
        limit = max(diff_min - 1, mul_by_qm(log_sum - 2147483648, rev_mult, rev_shift))
        for c in range(base, base + depth):
            d = x[c] - top
            if d > limit:
                v = rdbypot(mul_by_qm(d, in_mult, in_shift) - log_sum, 22) + 127
                out[c] = -128 if v < -128 else (127 if v > 127 else v)
            else:
                out[c] = -128
