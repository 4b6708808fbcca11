// FULLY_CONNECTED (the input zero point is folded into the int8 bias at bake time) and
// BATCH_MATMUL.
#include "kernels.h"
#include "qmath.h"
#define UF_MAC8_NO_CONV 1   // (the M0+ conv kernels: not here)
#include "mac8.h"

void uf_fully_connected_s8(const int8_t *x, const int8_t *w, const void *bias, int8_t *out,
                           const void *mult, const void *shift, int batches, int n_in,
                           int n_out, int out_off, int act_min, int act_max) {
    int32_t acc[4];
    for (int b = 0; b < batches; b++) {
        const int8_t *xb = x + (size_t)b * n_in;
        int8_t *ob = out + (size_t)b * n_out;
        const int8_t *wo = w;
        int o = 0;
        for (; o + 4 <= n_out; o += 4, wo += 4 * (size_t)n_in) {   // four rows per input pass
            uf_dot4_s8(xb, wo, n_in, n_in, acc);
            uf_requant_block(acc, 4, bias, ob + o, mult, shift, o, out_off, act_min, act_max);
        }
        for (; o < n_out; o++, wo += n_in) {
            int32_t a = uf_ld_i32(bias, o) + uf_dot1_s8(xb, wo, n_in);
            ob[o] = (int8_t)uf_requant_mac(a, mult, shift, o, out_off, act_min, act_max);
        }
    }
}

void uf_fully_connected_f32(const float *x, const void *w, const void *bias, float *out,
                            int batches, int n_in, int n_out, float act_min, float act_max) {
    for (int b = 0; b < batches; b++) {
        const float *xb = x + (size_t)b * n_in;
        for (int o = 0; o < n_out; o++) {
            size_t wo = (size_t)o * n_in;
            // float32 sum in input order, then the bias: TFLM's reference order
            float acc = 0.0f;
            for (int k = 0; k < n_in; k++) {
                acc += xb[k] * uf_ld_f32(w, wo + k);
            }
            acc += uf_ld_f32(bias, o);
            acc = acc < act_min ? act_min : acc;
            out[(size_t)b * n_out + o] = acc > act_max ? act_max : acc;
        }
    }
}

// int16 activations with int8 weights (16x8): int64 bias, zero point 0.
void uf_fully_connected_s16(const int16_t *x, const int8_t *w, const void *bias, int16_t *out,
                            const void *mult, const void *shift, int batches, int n_in,
                            int n_out, int out_off, int acc64, int act_min, int act_max) {
    for (int b = 0; b < batches; b++) {
        const int16_t *xb = x + (size_t)b * n_in;
        const int8_t *wo = w;
        for (int o = 0; o < n_out; o++, wo += n_in) {
            int64_t acc = uf_ld_i64w(bias, o) + uf_dot_s16s8(xb, wo, n_in);
            // the output offset goes on after requantization, before the clamp
            int64_t v = (int64_t)uf_requant16(acc, mult, shift, o, acc64, UF_INT32_MIN, UF_INT32_MAX)
                        + out_off;
            *out++ = (int16_t)(v < act_min ? act_min : (v > act_max ? act_max : v));
        }
    }
}

// int8 requantized as onnxruntime does (float32 scale, ties to even: qmath.h).
void uf_fully_connected_s8_ort(const int8_t *x, const int8_t *w, const void *bias, int8_t *out,
                               const void *scale, int batches, int n_in, int n_out, int out_off,
                               int act_min, int act_max) {
    for (int b = 0; b < batches; b++) {
        const int8_t *xb = x + (size_t)b * n_in;
        for (int o = 0; o < n_out; o++) {
            int32_t acc = uf_ld_i32(bias, o) + uf_dot_s8(xb, w + (size_t)o * n_in, n_in);
            *out++ = uf_requant_ort(acc, uf_ld_f32(scale, o), out_off, act_min, act_max);
        }
    }
}

// BATCH_MATMUL: one m x n matrix per offset pair of d; operands through load.h (either may
// be a constant). int8 sums in int32 and requantizes as TFLM's reference; int16 sums in
// int64 and takes the int64 MultiplyByQuantizedMultiplier (TFLM's BatchMatMul<int16, int64>).
void uf_batch_matmul_q(const void *lhs, const void *rhs, const void *d, void *out, int nb, int m,
                       int n, int k, int lsi, int lsk, int rsk, int rsj, int esize, int lhs_off,
                       int rhs_off, int mult, int shift, int out_off, int act_min, int act_max) {
    int8_t *o8 = (int8_t *)out;
    int16_t *o16 = (int16_t *)out;
    size_t at = 0;
    for (int b = 0; b < nb; b++) {
        size_t lo = (size_t)uf_ld_i32(d, 2 * (size_t)b), ro = (size_t)uf_ld_i32(d, 2 * (size_t)b + 1);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++, at++) {
                size_t li = lo + (size_t)i * lsi, ri = ro + (size_t)j * rsj;
                int32_t v;
                if (esize == 1) {
                    uint32_t acc = 0;   // int32 wrapping, without C's signed overflow
                    for (int t = 0; t < k; t++, li += lsk, ri += rsk) {
                        acc += (uint32_t)((((const int8_t *)lhs)[li] + lhs_off) *
                                          (((const int8_t *)rhs)[ri] + rhs_off));
                    }
                    v = uf_mul_by_qm((int32_t)acc, mult, shift);
                } else {
                    int64_t acc = 0;
                    for (int t = 0; t < k; t++, li += lsk, ri += rsk) {
                        acc += (int64_t)(uf_ld_i16(lhs, li) + lhs_off) * (uf_ld_i16(rhs, ri) + rhs_off);
                    }
                    v = uf_mul_by_qm64(acc, mult, shift);
                }
                v = uf_clamp(v + out_off, act_min, act_max);
                if (esize == 1) {
                    o8[at] = (int8_t)v;
                } else {
                    o16[at] = (int16_t)v;
                }
            }
        }
    }
}

void uf_batch_matmul_f32(const void *lhs, const void *rhs, const void *d, float *out, int nb, int m,
                         int n, int k, int lsi, int lsk, int rsk, int rsj) {
    for (int b = 0; b < nb; b++) {
        size_t lo = (size_t)uf_ld_i32(d, 2 * (size_t)b), ro = (size_t)uf_ld_i32(d, 2 * (size_t)b + 1);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                size_t li = lo + (size_t)i * lsi, ri = ro + (size_t)j * rsj;
                float acc = 0.0f;   // float32 sum in depth order, as TFLM's reference
                for (int t = 0; t < k; t++, li += lsk, ri += rsk) {
                    acc += uf_ld_f32(lhs, li) * uf_ld_f32(rhs, ri);
                }
                *out++ = acc;
            }
        }
    }
}
