// FULLY_CONNECTED. The input zero point is folded into the int8 bias at bake time.
#include "kernels.h"
#include "qmath.h"
#include "qmath64.h"
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
