// SOFTMAX over the last axis. int8 follows TFLite's fixed-point algorithm
// (Q5.26 scaled differences, exp in Q0.31, Q12.19 sum, Newton reciprocal);
// float32 follows TFLM's reference order with a float exp of our own, so no
// libm is needed on boards. int16 follows TFLM's int16 kernel with exp and
// reciprocal lookup tables baked by the host; int8 -> int16 is the int8 maths
// with output scale 1/65536, zero point -32768.
#include "kernels.h"
#include "qmath.h"

// A difference from the row's maximum in Q5.26: TFLM's
// MultiplyByQuantizedMultiplierGreaterThanOne (in_shift >= 0, the shift wrapping).
static inline int32_t scaled_diff(int32_t diff, int32_t in_mult, int in_shift) {
    return uf_srdhm((int32_t)((uint32_t)diff << in_shift), in_mult);
}

// The start of both int8 kernels: the row's maximum (into *top) and the sum of
// exp(x - maximum) in Q12.19 over the differences from diff_min up (int32, wrapping
// as TFLM's sum_of_exps).
static inline int32_t exp_sum_q12(const int8_t *x, int depth, int32_t in_mult, int in_shift,
                                  int32_t diff_min, int32_t *top) {
    int32_t t = x[0];
    for (int c = 1; c < depth; c++) {
        t = x[c] > t ? x[c] : t;
    }
    int32_t total = 0;
    for (int c = 0; c < depth; c++) {
        int32_t diff = x[c] - t;
        if (diff >= diff_min) {
            total = uf_wadd(total, uf_rdbypot(uf_exp_on_negative_q5_26(scaled_diff(diff, in_mult, in_shift)), 12));
        }
    }
    *top = t;
    return total;
}

// int8 input, output int8 (out_bits 8, zero point -128) or int16 (16, -32768):
// TFLM's Softmax<int8_t, OutputT>, whose output exponent depends on the type.
// Inlined into each entry, so each is compiled for its constant out_bits.
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void softmax_fixed(
        const int8_t *x, void *out, int rows, int depth, int32_t in_mult, int in_shift,
        int32_t diff_min, int out_bits) {
    int32_t lo = out_bits == 8 ? -128 : -32768, hi = -lo - 1;
    for (int r = 0; r < rows; r++) {
        const int8_t *xr = x + (size_t)r * depth;
        size_t at = (size_t)r * depth;
        int32_t top;
        // two passes recompute exp instead of keeping it: no scratch memory
        int32_t total = exp_sum_q12(xr, depth, in_mult, in_shift, diff_min, &top);
        int bits_over_unit;
        int32_t scale = uf_reciprocal_q12(total, &bits_over_unit);
        int exponent = bits_over_unit + 31 - out_bits;
        for (int c = 0; c < depth; c++) {
            int32_t diff = xr[c] - top;
            int32_t v = lo;
            if (diff >= diff_min) {
                int32_t e = uf_exp_on_negative_q5_26(scaled_diff(diff, in_mult, in_shift));
                v = uf_rdbypot64(uf_srdhm(scale, e), exponent) + lo;
                v = v > hi ? hi : (v < lo ? lo : v);
            }
            if (out_bits == 8) {
                ((int8_t *)out)[at + c] = (int8_t)v;
            } else {
                ((int16_t *)out)[at + c] = (int16_t)v;
            }
        }
    }
}

void uf_softmax_s8(const int8_t *x, int8_t *out, int rows, int depth, int32_t in_mult,
                   int in_shift, int32_t diff_min) {
    softmax_fixed(x, out, rows, depth, in_mult, in_shift, diff_min, 8);
}

void uf_softmax_s8_s16(const int8_t *x, int16_t *out, int rows, int depth, int32_t in_mult,
                       int in_shift, int32_t diff_min) {
    softmax_fixed(x, out, rows, depth, in_mult, in_shift, diff_min, 16);
}

void uf_softmax_f32(const float *x, float *out, int rows, int depth, float beta) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * depth;
        float *orow = out + (size_t)r * depth;
        float top = xr[0];
        for (int c = 1; c < depth; c++) {
            top = xr[c] > top ? xr[c] : top;
        }
        float total = 0.0f;
        for (int c = 0; c < depth; c++) {
            float e = uf_expf((xr[c] - top) * beta);
            orow[c] = e;
            total += e;
        }
        for (int c = 0; c < depth; c++) {
            orow[c] = orow[c] / total;
        }
    }
}

// 513-entry table over [-32768, 32767]: 9 high bits index, 7 low bits interpolate.
static int32_t lut16(int32_t v, const void *lut) {
    int idx = 256 + (v >> 7);
    int32_t base = uf_ld_i16(lut, idx);
    return base + (((uf_ld_i16(lut, idx + 1) - base) * (v & 0x7F) + 64) >> 7);
}

void uf_softmax_s16(const int16_t *x, const void *exp_lut, const void *recip_lut,
                    int16_t *out, int rows, int depth, int32_t mult, int shift) {
    for (int r = 0; r < rows; r++) {
        const int16_t *xr = x + (size_t)r * depth;
        int16_t *o = out + (size_t)r * depth;
        int32_t top = xr[0];
        for (int c = 1; c < depth; c++) {
            if (xr[c] > top) {
                top = xr[c];
            }
        }
        int32_t total = 0;
        for (int c = 0; c < depth; c++) {
            int32_t v = uf_clamp(uf_mul_by_qm(xr[c] - top, mult, shift) + 32767, -32768, 32767);
            int32_t e = lut16(v, exp_lut);
            o[c] = (int16_t)e;   // the output doubles as scratch for the exps, as in TFLM
            total += e;
        }
        int clz = 0;
        while (clz < 32 && !((uint32_t)total & (0x80000000u >> clz))) {
            clz++;
        }
        int32_t s = (int32_t)((((int64_t)total << (clz - 1)) + (1 << 13)) >> 14) - 98304;
        int32_t recip = lut16(uf_clamp(s, -32768, 32767), recip_lut);
        int rs = 31 - clz;
        int64_t rnd = (int64_t)1 << (rs - 1);
        for (int c = 0; c < depth; c++) {
            int32_t v = (int32_t)(((int64_t)o[c] * recip + rnd) >> rs);
            o[c] = (int16_t)uf_clamp(v, 0, 32767);
        }
    }
}

// LOG_SOFTMAX in float32, as TFLM's reference: x - max - log(sum of exp(x - max)).
void uf_log_softmax_f32(const float *x, float *out, int rows, int depth) {
    for (int r = 0; r < rows; r++, x += depth, out += depth) {
        float top = x[0];
        for (int c = 1; c < depth; c++) {
            top = x[c] > top ? x[c] : top;
        }
        float sum = 0.0f;
        for (int c = 0; c < depth; c++) {
            sum += uf_expf(x[c] - top);
        }
        float log_sum = uf_logf(sum);
        for (int c = 0; c < depth; c++) {
            out[c] = x[c] - top - log_sum;
        }
    }
}

// int8 LOG_SOFTMAX as TFLM's LogSoftmaxQuantized: Q5.26 differences, exp summed in Q12.19,
// its log in Q5.26; output (scale 16/256, zero point 127) = difference - log sum.
void uf_log_softmax_s8(const int8_t *x, int8_t *out, int rows, int depth, int32_t in_mult, int in_shift,
                       int32_t rev_mult, int rev_shift, int32_t diff_min) {
    for (int r = 0; r < rows; r++, x += depth, out += depth) {
        int32_t top;
        int32_t log_sum = uf_log_q12_to_q5(exp_sum_q12(x, depth, in_mult, in_shift, diff_min, &top));
        int32_t limit = uf_mul_by_qm(uf_wadd(log_sum, UF_INT32_MIN), rev_mult, rev_shift);
        limit = diff_min - 1 > limit ? diff_min - 1 : limit;
        for (int c = 0; c < depth; c++) {
            int32_t d = x[c] - top;
            if (d > limit) {
                int32_t v = uf_rdbypot(scaled_diff(d, in_mult, in_shift) - log_sum, 22) + 127;
                out[c] = (int8_t)uf_clamp(v, -128, 127);
            } else {
                out[c] = -128;
            }
        }
    }
}
