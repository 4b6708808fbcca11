# SOFTMAX with int16 output: int16 input (TFLM's two interpolated lookup tables,
# exp and 1/(1+x), built at bake time) and int8 input (the int8 fixed-point
# algorithm with a 16-bit output scale).
from ..qmath import mul_by_qm
from .softmax import softmax_fixed

KERNELS = ("softmax_s16", "softmax_s8_s16")


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
