# Type conversions: QUANTIZE (float32 -> int8/int16, int -> int requantize),
# DEQUANTIZE and CAST.
from ..qmath import f32, mul_by_qm, round_half_away

KERNELS = ("quantize_f32", "requantize", "dequantize_f32", "cast_int", "cast_f32")


def quantize_f32(x, out, n, scale, zp, qmin, qmax):
    for i in range(n):
        v = x[i] / scale
        # as the C kernel's round_clamped: NaN -> 0, beyond +-2^30 (inf too) clamped
        if -1073741824.0 <= v <= 1073741824.0:
            q = round_half_away(f32(v)) + zp   # TFLite divides in float
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


_BITS = (8, 8, 16, 32, 32, 32)     # by emit.DTYPE_CODES: i8 u8 i16 i32 f32 u32
_SIGNED = (1, 0, 1, 1, 1, 0)


def cast_int(x, out, n, in_code, out_code):
    if out_code == 4:   # to float32: exact for int16, rounded to nearest for int32/uint32
        for i in range(n):
            out[i] = float(x[i])
        return
    mask = (1 << _BITS[out_code]) - 1
    if _SIGNED[out_code]:
        half = 1 << (_BITS[out_code] - 1)
        for i in range(n):
            out[i] = (x[i] + half & mask) - half
    else:
        for i in range(n):
            out[i] = x[i] & mask


# float32 -> integer bounds by out code (u8 (1) and f32 (4) are not saturated targets)
_LO = (-128, 0, -32768, -2147483648, 0, 0)
_HI = (127, 0, 32767, 2147483647, 0, 4294967295)


def cast_f32(x, out, n, out_code):
    # truncated toward zero, saturated, NaN -> 0 (the TFLM interpreter's results)
    if out_code == 4:
        for i in range(n):
            out[i] = x[i]
        return
    lo = _LO[out_code]
    hi = _HI[out_code]
    for i in range(n):
        v = x[i]
        if v != v:
            out[i] = 0
        elif v <= lo:
            out[i] = lo
        elif v >= hi:
            out[i] = hi
        else:
            out[i] = int(v)
