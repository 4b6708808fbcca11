# SOFTMAX over the last axis. int8 follows TFLite's fixed-point algorithm
# (Q5.26 scaled differences, exp in Q0.31, Q12.19 sum, Newton reciprocal).
import math
from ..qmath import srdhm, rdbypot, exp_on_negative_q5_26, reciprocal_q12, f32

KERNELS = ("softmax_s8", "softmax_f32")


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
