// int8 CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED requantized as onnxruntime's
// CPU kernels (MLAS) do: y = round_half_even((float)acc * scale[c]) + zero point, the
// product in float32 (scale[c] = in*w/out in float32, computed at bake time). Relies on
// float32 arithmetic with round-to-nearest-even (FLT_EVAL_METHOD 0: SSE, ARM VFP, or
// soft-float; not x87 extended precision). No libm: ties go to even through the
// 1.5 * 2^23 trick, exact for the clamped range |v| < 2^22.
#include "kernels.h"
#include "qmath.h"

static int8_t requant_ort(int32_t acc, float scale, int out_off, int act_min, int act_max) {
    float lo = (float)(act_min - out_off), hi = (float)(act_max - out_off);
    float v = (float)acc * scale;
    v = v > lo ? (v < hi ? v : hi) : lo;   // NaN (a damaged scale) -> lo: no NaN to int
    volatile float t = v + 12582912.0f;   // volatile: keep the rounding add
    return (int8_t)((int32_t)(t - 12582912.0f) + out_off);
}

void uf_conv2d_s8_ort(const int8_t *x, const int8_t *w, const void *bias, int8_t *out,
                      const void *scale, int in_h, int in_w, int in_c, int out_h, int out_w,
                      int out_c, int k_h, int k_w, int s_h, int s_w, int d_h, int d_w,
                      int pad_h, int pad_w, int in_off, int out_off, int act_min, int act_max) {
    const size_t fsize = (size_t)k_h * k_w * in_c;
    for (int oy = 0; oy < out_h; oy++) {
        for (int ox = 0; ox < out_w; ox++) {
            const int8_t *wo = w;
            for (int oc = 0; oc < out_c; oc++, wo += fsize) {
                int32_t acc = uf_ld_i32(bias, oc);
                for (int ky = 0; ky < k_h; ky++) {
                    int iy = oy * s_h - pad_h + ky * d_h;
                    for (int kx = 0; kx < k_w; kx++) {
                        int ix = ox * s_w - pad_w + kx * d_w;
                        const int8_t *wp = wo + (size_t)(ky * k_w + kx) * in_c;
                        if (iy >= 0 && iy < in_h && ix >= 0 && ix < in_w) {
                            acc += uf_dot_s8(x + ((size_t)iy * in_w + ix) * in_c, wp, in_c);
                        } else {   // a padded tap reads the input zero point: undo its folded share
                            int32_t s = 0;
                            for (int k = 0; k < in_c; k++) {
                                s += wp[k];
                            }
                            acc -= in_off * s;
                        }
                    }
                }
                *out++ = requant_ort(acc, uf_ld_f32(scale, oc), out_off, act_min, act_max);
            }
        }
    }
}

void uf_depthwise_conv2d_s8_ort(const int8_t *x, const int8_t *w, const void *bias, int8_t *out,
                                const void *scale, int in_h, int in_w, int in_c, int out_h,
                                int out_w, int depth_mult, int k_h, int k_w, int s_h, int s_w,
                                int d_h, int d_w, int pad_h, int pad_w, int in_off, int out_off,
                                int act_min, int act_max) {
    const int out_c = in_c * depth_mult;
    for (int oy = 0; oy < out_h; oy++) {
        for (int ox = 0; ox < out_w; ox++) {
            for (int oc = 0; oc < out_c; oc++) {
                int32_t acc = uf_ld_i32(bias, oc);
                int ic = oc / depth_mult;
                for (int ky = 0; ky < k_h; ky++) {
                    int iy = oy * s_h - pad_h + ky * d_h;
                    for (int kx = 0; kx < k_w; kx++) {
                        int ix = ox * s_w - pad_w + kx * d_w;
                        int32_t wv = w[(size_t)(ky * k_w + kx) * out_c + oc];
                        if (iy >= 0 && iy < in_h && ix >= 0 && ix < in_w) {
                            acc += x[((size_t)iy * in_w + ix) * in_c + ic] * wv;
                        } else {
                            acc -= in_off * wv;
                        }
                    }
                }
                *out++ = requant_ort(acc, uf_ld_f32(scale, oc), out_off, act_min, act_max);
            }
        }
    }
}

void uf_fully_connected_s8_ort(const int8_t *x, const int8_t *w, const void *bias, int8_t *out,
                               const void *scale, int batches, int n_in, int n_out, int out_off,
                               int act_min, int act_max) {
    for (int b = 0; b < batches; b++) {
        const int8_t *xb = x + (size_t)b * n_in;
        for (int o = 0; o < n_out; o++) {
            int32_t acc = uf_ld_i32(bias, o) + uf_dot_s8(xb, w + (size_t)o * n_in, n_in);
            *out++ = requant_ort(acc, uf_ld_f32(scale, o), out_off, act_min, act_max);
        }
    }
}
