// Inline integer requantization helpers, bit-exact with TFLite Micro's double
// rounding and gemmlowp's fixed point (mirrors device_lib/upyflow/qmath.py).
// Assumes arithmetic right shift of negative values, as GCC/Clang/MSVC do.
#ifndef UPYFLOW_QMATH_H
#define UPYFLOW_QMATH_H

#include <stdint.h>
#include "load.h"

#define UF_INT32_MIN (-2147483647 - 1)
#define UF_INT32_MAX 2147483647

// SaturatingRoundingDoublingHighMul: high word of 2*a*b, rounded half away
// from zero. Shifts, not 64-bit division, so small cores avoid a libcall.
static inline int32_t uf_srdhm(int32_t a, int32_t b) {
    if (a == UF_INT32_MIN && b == UF_INT32_MIN) {
        return UF_INT32_MAX;
    }
    int64_t ab = (int64_t)a * b;
    if (ab >= 0) {
        return (int32_t)((ab + ((int64_t)1 << 30)) >> 31);
    }
    return (int32_t)-((((int64_t)1 << 30) - 1 - ab) >> 31);
}

// RoundingDivideByPOT: arithmetic shift, ties away from zero (exponent 0..31).
static inline int32_t uf_rdbypot(int32_t x, int exponent) {
    int32_t mask = (int32_t)(((uint32_t)1 << exponent) - 1);
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + ((x & mask) > threshold ? 1 : 0);
}

// The same for a shift that may reach 32 and beyond (softmax's output exponent).
static inline int32_t uf_rdbypot64(int32_t x, int exponent) {
    int64_t mask = ((int64_t)1 << exponent) - 1;
    int64_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (int32_t)(((int64_t)x >> exponent) + (((int64_t)x & mask) > threshold ? 1 : 0));
}

// MultiplyByQuantizedMultiplier. The left shift wraps like TFLM's int32 product.
static inline int32_t uf_mul_by_qm(int32_t x, int32_t multiplier, int shift) {
    if (shift > 0) {
        return uf_srdhm((int32_t)((uint32_t)x << shift), multiplier);
    }
    return uf_rdbypot(uf_srdhm(x, multiplier), -shift);
}

// SaturatingRoundingMultiplyByPOT with a positive exponent.
static inline int32_t uf_sat_shl(int32_t x, int exponent) {
    int32_t threshold = (int32_t)(((uint32_t)1 << (31 - exponent)) - 1);
    if (x > threshold) {
        return UF_INT32_MAX;
    }
    if (x < -threshold) {
        return UF_INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

static inline int32_t uf_clamp(int32_t v, int32_t lo, int32_t hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

// Requantize an int32 accumulator to a clamped output value.
static inline int32_t uf_requant(int32_t acc, int32_t mult, int shift, int32_t out_off,
                                 int32_t act_min, int32_t act_max) {
    int32_t v = uf_mul_by_qm(acc, mult, shift) + out_off;
    return v < act_min ? act_min : (v > act_max ? act_max : v);
}

// The same with channel ch's multiplier and shift, read from constant arrays.
static inline int32_t uf_requant_ch(int32_t acc, const void *mult, const void *shift, size_t ch,
                                    int32_t out_off, int32_t act_min, int32_t act_max) {
    return uf_requant(acc, uf_ld_i32(mult, ch), (int)uf_ld_i32(shift, ch), out_off, act_min, act_max);
}

// Contiguous int8 dot product, the inner loop of FULLY_CONNECTED and CONV_2D.
// Kept plain so compilers vectorize it (x64: pmaddwd) and small cores get a
// tight multiply-accumulate loop; int32 accumulation as in TFLM.
static inline int32_t uf_dot_s8(const int8_t *a, const int8_t *b, int n) {
    int32_t s = 0;
    for (int k = 0; k < n; k++) {
        s += (int32_t)a[k] * b[k];
    }
    return s;
}

// The same with a wrapping int32 sum (computed unsigned), as TFLM's int32
// accumulators of the sequence layers wrap.
static inline int32_t uf_dot_s8_wrap(const int8_t *a, const int8_t *b, int n) {
    uint32_t s = 0;
    for (int k = 0; k < n; k++) {
        s += (uint32_t)((int32_t)a[k] * b[k]);
    }
    return (int32_t)s;
}

// int8 requantization as onnxruntime's CPU kernels (MLAS) do:
// y = round_half_even((float)acc * scale) + zero point, the product in float32
// (scale = in*w/out in float32, computed at bake time). Relies on float32
// arithmetic with round-to-nearest-even (FLT_EVAL_METHOD 0: SSE, ARM VFP, or
// soft-float; not x87 extended precision). No libm: ties go to even through the
// 1.5 * 2^23 trick, exact for the clamped range |v| < 2^22.
static inline int8_t uf_requant_ort(int32_t acc, float scale, int out_off, int act_min,
                                    int act_max) {
    float lo = (float)(act_min - out_off), hi = (float)(act_max - out_off);
    float v = (float)acc * scale;
    v = v > lo ? (v < hi ? v : hi) : lo;   // NaN (a damaged scale) -> lo: no NaN to int
    volatile float t = v + 12582912.0f;   // volatile: keep the rounding add
    return (int8_t)((int32_t)(t - 12582912.0f) + out_off);
}

#endif
