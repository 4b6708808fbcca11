// Fixed-point maths of the C tier, the same functions as device_lib/upyflow/qmath.py
// (its table lists each one's TFLM/gemmlowp counterpart), bit-exact with TFLite
// Micro's double rounding. Overflow as TFLM's on a 32-bit target, written without
// signed-overflow UB (wrapping steps go through uint32_t/uint64_t):
//   uf_srdhm           SaturatingRoundingDoublingHighMul: MIN*MIN saturates, ties away
//   uf_rdbypot(64)     RoundingDivideByPOT: ties away; exponent 0..31 (64: any)
//   uf_sat_shl         SaturatingRoundingMultiplyByPOT: saturates
//   uf_mul_by_qm       MultiplyByQuantizedMultiplier: x << shift WRAPS, SRDHM saturates
//   uf_mul_by_qm64     the int64-accumulator one: result wraps to int32; shift <= 14
//   uf_requant16       int16 conv/FC requantization: int32 accumulator wraps first
//   uf_exp_quarter, uf_exp_on_negative_q5_26, uf_one_over_one_plus_x, uf_reciprocal_q12
//                      gemmlowp's exp / Newton reciprocal of TFLM's int8 softmax
//   uf_requant_ort     onnxruntime's float32 requantization (ties to even)
// tests/test_qmath.py checks them (through the kernels) against TFLM's definitions.
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
#if defined(__ARM_ARCH_6M__) && defined(__GNUC__)
    // Cortex-M0/M0+ (GCC's 64-bit product is a libgcc call): four 16x16 MULS summed
    // as a 64-bit H:L with ADDS/ADCS, then bits 31..62 plus bit 30: the floor of
    // (ab + 2^30) / 2^31, which gemmlowp's nudge and division toward zero equal for
    // every product (exact for every pair but MIN * MIN, above).
    int32_t al, bl, lo, t;
    __asm__(".syntax unified\n"
            "  uxth %[al], %[a]\n  asrs %[a], %[a], #16\n"
            "  uxth %[bl], %[b]\n  asrs %[b], %[b], #16\n"
            "  movs %[lo], %[al]\n  muls %[lo], %[bl]\n"   // al*bl (unsigned)
            "  muls %[bl], %[a]\n"                          // ah*bl
            "  muls %[al], %[b]\n"                          // al*bh
            "  muls %[b], %[a]\n"                           // H = ah*bh
            "  lsls %[t], %[bl], #16\n  asrs %[bl], %[bl], #16\n"
            "  adds %[lo], %[lo], %[t]\n  adcs %[b], %[bl]\n"
            "  lsls %[t], %[al], #16\n  asrs %[al], %[al], #16\n"
            "  adds %[lo], %[lo], %[t]\n  adcs %[b], %[al]\n"
            "  lsrs %[t], %[lo], #31\n  lsls %[b], %[b], #1\n  orrs %[b], %[t]\n"
            "  lsls %[t], %[lo], #2\n  movs %[t], #0\n  adcs %[b], %[t]\n"
            : [a] "+l"(a), [b] "+l"(b), [al] "=&l"(al), [bl] "=&l"(bl), [lo] "=&l"(lo),
              [t] "=&l"(t)
            :
            : "cc");
    return b;
#else
    int64_t ab = (int64_t)a * b;
    if (ab >= 0) {
        return (int32_t)((ab + ((int64_t)1 << 30)) >> 31);
    }
    return (int32_t)-((((int64_t)1 << 30) - 1 - ab) >> 31);
#endif
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

// exp(a) for a in [-1/4, 0), Q0.31: Taylor expansion around -1/8.
static inline int32_t uf_exp_quarter(int32_t a) {
    int32_t x = a + 268435456;
    int32_t x2 = uf_srdhm(x, x);
    int32_t x3 = uf_srdhm(x2, x);
    int32_t x4 = uf_srdhm(x2, x2);
    int32_t t = uf_rdbypot(uf_srdhm(uf_rdbypot(x4, 2) + x3, 715827883) + x2, 1);
    // gemmlowp adds in int32 (wrapping)
    return (int32_t)((uint32_t)1895147668 + (uint32_t)uf_srdhm(1895147668, x + t));
}

// exp(a) of a Q5.26 value a <= 0, result Q0.31.
static inline int32_t uf_exp_on_negative_q5_26(int32_t a) {
    // exp(-2^k) in Q0.31 for remainder bits 2^24 .. 2^30 (k = -2 .. 4)
    static const int32_t steps[7] = {
        1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242
    };
    if (a == 0) {
        return UF_INT32_MAX;
    }
    int32_t rem_minus_quarter = (a & 16777215) - 16777216;
    int32_t result = uf_exp_quarter(uf_sat_shl(rem_minus_quarter, 5));
    int32_t remainder = rem_minus_quarter - a;
    for (int k = 0; k < 7; k++) {
        if (remainder & ((int32_t)1 << (24 + k))) {
            result = uf_srdhm(result, steps[k]);
        }
    }
    return result;
}

// gemmlowp's one_over_one_plus_x_for_x_in_0_1 Newton-Raphson iterate for a Q0.31
// a in [0, 1): 1 / ((1 + a) / 2) in Q2.29; the half sum a + 1 needs 33 bits.
static inline int32_t uf_one_over_one_plus_x(int32_t a) {
    int64_t s = (int64_t)a + UF_INT32_MAX;
    int32_t half_den = (int32_t)((s + 1) / 2);
    int32_t r = 1515870810 + uf_srdhm(half_den, -1010580540);
    for (int k = 0; k < 3; k++) {
        r = r + uf_sat_shl(uf_srdhm(r, 536870912 - uf_srdhm(half_den, r)), 2);
    }
    return r;
}

// GetReciprocal(x, 12): 1/x of a positive Q12.19 sum, as a Q0.31 scale and
// the number of bits over unit.
static inline int32_t uf_reciprocal_q12(int32_t x, int *bits_over_unit) {
    int headroom = 0;
    while (!(((uint32_t)x << headroom) & 0x80000000u)) {
        headroom++;
    }
    *bits_over_unit = 12 - headroom;
    return uf_sat_shl(uf_one_over_one_plus_x((int32_t)(((uint32_t)x << headroom) - 0x80000000u)), 1);
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

// MultiplyByQuantizedMultiplier of an int64 accumulator (TFLM's double-rounding
// build): the multiplier rounded to 16 bits, one rounding shift by 15 - shift
// (shift <= 14, checked by the table), the result truncated to int32.
static inline int32_t uf_mul_by_qm64(int64_t x, int32_t multiplier, int shift) {
    int64_t m = multiplier < 0x7FFF0000 ? ((int64_t)multiplier + (1 << 15)) >> 16 : 0x7FFF;
    int total = 15 - shift;
    int64_t r = (int64_t)((uint64_t)x * (uint64_t)m + ((uint64_t)1 << (total - 1)));
    return (int32_t)(uint32_t)(uint64_t)(r >> total);
}

// Requantize and clamp, with TFLM's int64 or int32 (wrapping) accumulator and
// channel ch's multiplier and shift, read from constant arrays.
static inline int32_t uf_requant16(int64_t acc, const void *mult, const void *shift, size_t ch,
                                   int acc64, int32_t act_min, int32_t act_max) {
    int32_t m = uf_ld_i32(mult, ch);
    int sh = (int)uf_ld_i32(shift, ch);
    int32_t v = acc64 ? uf_mul_by_qm64(acc, m, sh)
                      : uf_mul_by_qm((int32_t)(uint32_t)(uint64_t)acc, m, sh);
    return v < act_min ? act_min : (v > act_max ? act_max : v);
}

// TFLite's GetInvSqrtQuantizedMultiplierExp(v, reverse_shift -1): 1/sqrt(v) as a multiplier and
// left shift, gemmlowp fixed point (3 integer bits), five Newton steps from 1 (L2_NORMALIZATION).
static inline void uf_inv_sqrt_qm(int32_t v, int32_t *mult, int *shift) {
    if (v <= 1) {
        *mult = UF_INT32_MAX;
        *shift = 0;
        return;
    }
    int s = 11;
    while (v >= (1 << 29)) {
        v /= 4;
        s++;
    }
    int bits = 0;   // the bit length of v
    for (uint32_t u = (uint32_t)v; u; u >>= 1) {
        bits++;
    }
    int pairs = (32 - bits - 1) / 2 - 1;
    s -= pairs;
    v = (int32_t)((uint32_t)v << (2 * pairs));
    int32_t half_input = uf_rdbypot(v >> 1, 1);
    const int32_t half_three = (1 << 28) + (1 << 27);
    int32_t x = 1 << 28;
    for (int i = 0; i < 5; i++) {
        int32_t x3 = uf_sat_shl(uf_srdhm(uf_srdhm(x, x), x), 6);
        x = uf_sat_shl(uf_srdhm(half_three, x) - uf_srdhm(half_input, x3), 3);
    }
    x = uf_srdhm(x, 1518500250);
    if (s < 0) {
        x = (int32_t)((uint32_t)x << -s);
        s = 0;
    }
    *mult = x;
    *shift = -s;
}

// SaturatingRoundingMultiplyByPOT by a signed exponent.
static inline int32_t uf_srmpot(int32_t x, int e) {
    return e > 0 ? uf_sat_shl(x, e) : (e < 0 ? uf_rdbypot(x, -e) : x);
}

static inline int uf_clz32(uint32_t u) {
    int n = 0;
    while (n < 32 && !(u & 0x80000000u)) {
        u <<= 1;
        n++;
    }
    return n;
}

static inline int32_t uf_sat32(int64_t v) {
    return v < UF_INT32_MIN ? UF_INT32_MIN : (v > UF_INT32_MAX ? UF_INT32_MAX : (int32_t)v);
}

static inline int32_t uf_wadd(int32_t a, int32_t b) {   // int32 sum, wrapping
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

// TFLite's log_x_for_x_greater_than_or_equal_to_1<5>(x in Q12.19), gemmlowp fixed point
// (LOG_SOFTMAX): log2 of the leading power, then a rational fit of the rest.
static inline int32_t uf_log_q12_to_q5(int32_t x) {
    const int32_t sqrt_sqrt_half = 1805811301, sqrt_half = 1518500250, quarter = 8388608;
    int hr1 = uf_clz32((uint32_t)x);
    int32_t r_a = uf_srmpot(uf_srdhm(uf_srmpot(x, hr1 - 1), sqrt_half), 1);
    int32_t a_adj = uf_sat32((int64_t)uf_srmpot(12 - hr1, 25) + quarter);
    int hr_b = uf_clz32((uint32_t)uf_srdhm(x, sqrt_half)) - 1;
    int32_t r_b = uf_srmpot(x, hr_b);
    int32_t b_adj = uf_sat32((int64_t)uf_srmpot(12 - hr_b, 25) - quarter);
    int32_t r = r_a < r_b ? r_a : r_b;
    int32_t adj = a_adj > b_adj ? a_adj : b_adj;
    int64_t t = (int64_t)r + sqrt_sqrt_half;   // RoundingHalfSum
    int32_t p = (int32_t)((t + (t >= 0 ? 1 : -1)) / 2);
    int32_t q = uf_wadd(r, -sqrt_sqrt_half);
    q = uf_wadd(q, q);
    int32_t sq = uf_srdhm(q, q);
    int32_t num = uf_wadd(uf_srdhm(q, r), uf_srdhm(uf_srdhm(q, sq), 117049297));
    int32_t den = uf_wadd(uf_srdhm(p, uf_wadd(uf_wadd(1057819769, q), uf_srdhm(127690142, sq))),
                          uf_srdhm(638450708, q));
    int32_t recip = uf_sat_shl(uf_one_over_one_plus_x(den), 1);
    int32_t acc = uf_wadd(uf_srdhm(adj, 1488522236), uf_srdhm(uf_rdbypot(num, 6), recip));
    return uf_sat_shl(acc, 1);
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
#if defined(__ARM_ARCH_6M__) && defined(__GNUC__)
    // Cortex-M0/M0+: four MACs per loop pass over one negative index from the row
    // ends (n mod 4 enters at the step that leaves a multiple of four), 6.75 cycles
    // per MAC; MULS and ADDS wrap as the unsigned sum does.
    int32_t s = 0, k = -n, t, u;
    if (n > 0) {
#define UF_DOT_M0_STEP "  ldrsb %[t], [%[a], %[k]]\n  ldrsb %[u], [%[b], %[k]]\n" \
                       "  muls %[t], %[u]\n  adds %[s], %[s], %[t]\n  adds %[k], #1\n"
        __asm__(".syntax unified\n"
                "  lsls %[t], %[k], #31\n"   // Z = !bit 0 of -n, C = bit 1
                "  bcc 7f\n  bne 4f\n  b 6f\n"
                "7:\n  bne 5f\n"
                "1:\n" UF_DOT_M0_STEP "5:\n" UF_DOT_M0_STEP "6:\n" UF_DOT_M0_STEP
                "4:\n" UF_DOT_M0_STEP "  bne 1b\n"
                : [s] "+l"(s), [k] "+l"(k), [t] "=&l"(t), [u] "=&l"(u)
                : [a] "l"(a + n), [b] "l"(b + n)
                : "cc", "memory");
#undef UF_DOT_M0_STEP
    }
    return s;
#else
    uint32_t s = 0;
    for (int k = 0; k < n; k++) {
        s += (uint32_t)((int32_t)a[k] * b[k]);
    }
    return (int32_t)s;
#endif
}

// int16 x int8 dot product. Runs of 256 fit an int32 (|product| <= 2^22), so
// the inner loop vectorizes; the runs add up in int64.
static inline int64_t uf_dot_s16s8(const int16_t *a, const int8_t *b, int n) {
    int64_t s = 0;
    while (n > 0) {
        int m = n < 256 ? n : 256;
        int32_t p = 0;
        for (int k = 0; k < m; k++) {
            p += (int32_t)a[k] * b[k];
        }
        s += p;
        a += m;
        b += m;
        n -= m;
    }
    return s;
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
