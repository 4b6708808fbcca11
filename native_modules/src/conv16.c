// int16 activations with int8 weights (TFLite's 16x8 quantization): CONV_2D,
// DEPTHWISE_CONV_2D and FULLY_CONNECTED, as kernels_pure/conv16.py. Biases are
// int64 (little-endian word pairs); zero points of the convolutions are 0, so
// padded taps add nothing.
#include "kernels.h"
#include "qmath64.h"

// Filter taps [k0, k1) whose input coordinate start + k * d lies in [0, size).
static void tap_range(int start, int k, int d, int size, int *k0, int *k1) {
    int a = 0, b = k;
    while (a < k && start + a * d < 0) {
        a++;
    }
    while (b > a && start + (b - 1) * d >= size) {
        b--;
    }
    *k0 = a;
    *k1 = b;
}

void uf_conv2d_s16(const int16_t *x, const int8_t *w, const void *bias, int16_t *out,
                   const void *mult, const void *shift, int in_h, int in_w, int in_c,
                   int out_h, int out_w, int out_c, int k_h, int k_w, int s_h, int s_w,
                   int d_h, int d_w, int pad_h, int pad_w, int acc64, int act_min, int act_max) {
    const size_t fsize = (size_t)k_h * k_w * in_c;
    for (int oy = 0; oy < out_h; oy++) {
        int y0 = oy * s_h - pad_h, ky0, ky1;
        tap_range(y0, k_h, d_h, in_h, &ky0, &ky1);
        for (int ox = 0; ox < out_w; ox++) {
            int x0 = ox * s_w - pad_w, kx0, kx1;
            tap_range(x0, k_w, d_w, in_w, &kx0, &kx1);
            const int8_t *wo = w;
            for (int oc = 0; oc < out_c; oc++, wo += fsize) {
                int64_t acc = uf_ld_i64w(bias, oc);
                for (int ky = ky0; ky < ky1 && kx1 > kx0; ky++) {
                    const int16_t *xr = x + ((size_t)(y0 + ky * d_h) * in_w + (x0 + kx0 * d_w)) * in_c;
                    const int8_t *wr = wo + (size_t)(ky * k_w + kx0) * in_c;
                    if (d_w == 1) {   // the valid part of a filter row is one run
                        acc += uf_dot_s16s8(xr, wr, (kx1 - kx0) * in_c);
                    } else {
                        for (int kx = kx0; kx < kx1; kx++) {
                            acc += uf_dot_s16s8(xr, wr, in_c);
                            xr += (size_t)d_w * in_c;
                            wr += in_c;
                        }
                    }
                }
                *out++ = (int16_t)uf_requant16(acc, mult, shift, oc, acc64, act_min, act_max);
            }
        }
    }
}

void uf_depthwise_conv2d_s16(const int16_t *x, const int8_t *w, const void *bias, int16_t *out,
                             const void *mult, const void *shift, int in_h, int in_w,
                             int in_c, int out_h, int out_w, int depth_mult, int k_h, int k_w,
                             int s_h, int s_w, int d_h, int d_w, int pad_h, int pad_w,
                             int act_min, int act_max) {
    const int out_c = in_c * depth_mult;
    for (int oy = 0; oy < out_h; oy++) {
        int y0 = oy * s_h - pad_h, ky0, ky1;
        tap_range(y0, k_h, d_h, in_h, &ky0, &ky1);
        for (int ox = 0; ox < out_w; ox++) {
            int x0 = ox * s_w - pad_w, kx0, kx1;
            tap_range(x0, k_w, d_w, in_w, &kx0, &kx1);
            for (int oc = 0; oc < out_c; oc++) {
                int ic = oc / depth_mult;
                int64_t acc = uf_ld_i64w(bias, oc);
                for (int ky = ky0; ky < ky1; ky++) {
                    for (int kx = kx0; kx < kx1; kx++) {
                        acc += (int32_t)x[((size_t)(y0 + ky * d_h) * in_w + (x0 + kx * d_w)) * in_c + ic]
                               * w[(size_t)(ky * k_w + kx) * out_c + oc];
                    }
                }
                out[oc] = (int16_t)uf_requant16(acc, mult, shift, oc, 1, act_min, act_max);
            }
            out += out_c;
        }
    }
}

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
