# QUANTIZE (float32 -> int8/int16, int -> int requantize), DEQUANTIZE, and a byte
# copy for layout-only ops that cannot alias their input.
from ..qmath import mul_by_qm, f32

KERNELS = ("quantize_f32", "requantize", "dequantize_f32", "copy_bytes")


def _round(v):
    # std::round: half away from zero.
    return int(v + 0.5) if v >= 0 else -int(0.5 - v)


def quantize_f32(x, out, n, scale, zp, qmin, qmax):
    for i in range(n):
        v = x[i] / scale
        # as the C kernel's round_clamped: NaN -> 0, beyond +-2^30 (inf too) clamped
        if -1073741824.0 <= v <= 1073741824.0:
            q = _round(f32(v)) + zp   # TFLite computes val / scale in float
        else:
            q = zp if v != v else (1073741824 if v > 0 else -1073741824) + zp
        out[i] = qmin if q < qmin else (qmax if q > qmax else q)


def requantize(x, out, n, in_zp, mult, shift, out_zp, qmin, qmax):
    for i in range(n):
        q = mul_by_qm(x[i] - in_zp, mult, shift) + out_zp
        out[i] = qmin if q < qmin else (qmax if q > qmax else q)


def dequantize_f32(x, out, n, scale, zp):
    for i in range(n):
        out[i] = f32(scale * (x[i] - zp))


def copy_bytes(x, out, n):
    for i in range(n):
        out[i] = x[i]
