// AVERAGE_POOL_2D and MAX_POOL_2D, NHWC, batch 1. Padded taps are skipped and
// the average divides by the count of valid taps, as TFLite does.
#include "kernels.h"

// The window's valid input range [*i0, *i1) along one axis.
static void window(int o, int s, int pad, int k, int size, int *i0, int *i1) {
    int start = o * s - pad;
    int end = start + k;
    *i0 = start < 0 ? 0 : start;
    *i1 = end > size ? size : end;
}

static int clamp_int(int v, int lo, int hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

static float clamp_float(float v, float lo, float hi) {
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}

// The walk shared by all four kernels: for each output pixel, the window's
// corners; a macro so each reduction's inner loop stays inlined and typed.
#define UF_POOL_LOOP(...) \
    for (int oy = 0; oy < out_h; oy++) { \
        int y0, y1; \
        window(oy, s_h, pad_h, k_h, in_h, &y0, &y1); \
        for (int ox = 0; ox < out_w; ox++) { \
            int x0, x1; \
            window(ox, s_w, pad_w, k_w, in_w, &x0, &x1); \
            for (int ch = 0; ch < c; ch++) { \
                __VA_ARGS__ \
                out++; \
            } \
        } \
    }

void uf_avg_pool2d_s8(const int8_t *x, int8_t *out, int in_h, int in_w, int c, int out_h,
                      int out_w, int k_h, int k_w, int s_h, int s_w, int pad_h, int pad_w,
                      int act_min, int act_max) {
    UF_POOL_LOOP({
        int32_t acc = 0;
        for (int iy = y0; iy < y1; iy++) {
            for (int ix = x0; ix < x1; ix++) {
                acc += x[((size_t)iy * in_w + ix) * c + ch];
            }
        }
        int32_t n = (y1 - y0) * (x1 - x0);
        // round half away from zero; C division truncates toward zero
        int32_t v = n <= 0 ? 0 : (acc > 0 ? (acc + n / 2) / n : -((n / 2 - acc) / n));
        *out = (int8_t)clamp_int(v, act_min, act_max);
    })
}

void uf_max_pool2d_s8(const int8_t *x, int8_t *out, int in_h, int in_w, int c, int out_h,
                      int out_w, int k_h, int k_w, int s_h, int s_w, int pad_h, int pad_w,
                      int act_min, int act_max) {
    UF_POOL_LOOP({
        int m = -128;
        for (int iy = y0; iy < y1; iy++) {
            for (int ix = x0; ix < x1; ix++) {
                int v = x[((size_t)iy * in_w + ix) * c + ch];
                m = v > m ? v : m;
            }
        }
        *out = (int8_t)clamp_int(m, act_min, act_max);
    })
}

void uf_avg_pool2d_f32(const float *x, float *out, int in_h, int in_w, int c, int out_h,
                       int out_w, int k_h, int k_w, int s_h, int s_w, int pad_h, int pad_w,
                       float act_min, float act_max) {
    UF_POOL_LOOP({
        float acc = 0.0f;
        for (int iy = y0; iy < y1; iy++) {
            for (int ix = x0; ix < x1; ix++) {
                acc += x[((size_t)iy * in_w + ix) * c + ch];
            }
        }
        int n = (y1 - y0) * (x1 - x0);
        *out = clamp_float(n > 0 ? acc / (float)n : 0.0f, act_min, act_max);
    })
}

void uf_max_pool2d_f32(const float *x, float *out, int in_h, int in_w, int c, int out_h,
                       int out_w, int k_h, int k_w, int s_h, int s_w, int pad_h, int pad_w,
                       float act_min, float act_max) {
    UF_POOL_LOOP({
        float m = -3.40282347e38f;   // TFLM's start: the lowest float
        for (int iy = y0; iy < y1; iy++) {
            for (int ix = x0; ix < x1; ix++) {
                float v = x[((size_t)iy * in_w + ix) * c + ch];
                m = v > m ? v : m;
            }
        }
        *out = clamp_float(m, act_min, act_max);
    })
}
