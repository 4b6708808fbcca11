// AVERAGE_POOL_2D, MAX_POOL_2D and L2_POOL_2D, NHWC, batch 1. Padded taps are skipped and
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
// corners and n, its count of valid taps; a macro so each reduction's inner loop
// stays inlined and typed.
#define UF_POOL_LOOP(...) \
    for (int oy = 0; oy < out_h; oy++) { \
        int y0, y1; \
        window(oy, s_h, pad_h, k_h, in_h, &y0, &y1); \
        for (int ox = 0; ox < out_w; ox++) { \
            int x0, x1; \
            window(ox, s_w, pad_w, k_w, in_w, &x0, &x1); \
            int n = (y1 - y0) * (x1 - x0); \
            (void)n; \
            for (int ch = 0; ch < c; ch++) { \
                __VA_ARGS__ \
                out++; \
            } \
        } \
    }

// Element (iy, ix) of the input's channel ch.
#define UF_TAP(iy, ix) x[((size_t)(iy) * in_w + (ix)) * c + ch]

// acc: the sum of the window's taps, in type (int32 for int8, as TFLM; float32 in order).
#define UF_WINDOW_SUM(type, acc) \
    type acc = 0; \
    for (int iy = y0; iy < y1; iy++) { \
        for (int ix = x0; ix < x1; ix++) { \
            acc += UF_TAP(iy, ix); \
        } \
    }

// m: the largest tap, from `lowest` (TFLM's start value).
#define UF_WINDOW_MAX(type, m, lowest) \
    type m = lowest; \
    for (int iy = y0; iy < y1; iy++) { \
        for (int ix = x0; ix < x1; ix++) { \
            type v = UF_TAP(iy, ix); \
            m = v > m ? v : m; \
        } \
    }

#if defined(__ARM_ARCH_6M__)
// Cortex-M0+ (no divide instruction: libgcc's takes about 70 cycles; a multiply per tap's
// index in the generic walk): the window's taps by pointer steps, and the rounding division
// of a = |acc| + n / 2 by n as (a * ceil(2^24 / n)) >> 24, which is floor(a / n) when a n <
// 2^24 (the error a (ceil(2^24 / n) n - 2^24) / (n 2^24) < 1 / n then), so for windows of
// fewer than 360 taps (|acc| <= 128 n); larger ones divide.
static int32_t avg_round_m0(int32_t acc, int n, uint32_t inv) {
    uint32_t a = (uint32_t)(acc > 0 ? acc : -acc) + (uint32_t)(n / 2);
    uint32_t q = inv ? (a * inv) >> 24 : a / (uint32_t)n;
    return acc > 0 ? (int32_t)q : -(int32_t)q;
}
#endif

void uf_avg_pool2d_s8(const int8_t *x, int8_t *out, int in_h, int in_w, int c, int out_h,
                      int out_w, int k_h, int k_w, int s_h, int s_w, int pad_h, int pad_w,
                      int act_min, int act_max) {
#if defined(__ARM_ARCH_6M__)
    for (int oy = 0; oy < out_h; oy++) {
        int y0, y1;
        window(oy, s_h, pad_h, k_h, in_h, &y0, &y1);
        for (int ox = 0; ox < out_w; ox++) {
            int x0, x1;
            window(ox, s_w, pad_w, k_w, in_w, &x0, &x1);
            int n = (y1 - y0) * (x1 - x0);
            uint32_t inv = n > 0 && n < 360 ? ((1u << 24) + (uint32_t)n - 1) / (uint32_t)n : 0;
            // each channel's sum in a register, its taps by pointer steps (c apart along a
            // row, in_w c from row to row)
            size_t row = (size_t)in_w * c, span = (size_t)(x1 - x0) * c;
            const int8_t *p0 = x + ((size_t)y0 * in_w + x0) * c, *pe = p0 + (size_t)(y1 - y0) * row;
            int k = 0;
            if (!(((uintptr_t)x | (uint32_t)c) & 3u) && n > 0 && n < 256) {
                // four channels per word: each byte biased to v + 128 (XOR 0x80), the even and
                // odd bytes summed in 16-bit lanes (at most 255 n < 2^16)
                for (; k < c; k += 4, p0 += 4, pe += 4) {
                    uint32_t se = 0, so = 0;
                    for (const int8_t *p = p0; p < pe; p += row) {
                        for (const int8_t *q = p, *qe = p + span; q < qe; q += c) {
                            uint32_t v = *(const uint32_t *)(const void *)q ^ 0x80808080u;
                            se += v & 0x00FF00FFu, so += (v >> 8) & 0x00FF00FFu;
                        }
                    }
                    int32_t bias = 128 * n;
                    int32_t a[4] = {(int32_t)(se & 0xFFFFu) - bias, (int32_t)(so & 0xFFFFu) - bias,
                                    (int32_t)(se >> 16) - bias, (int32_t)(so >> 16) - bias};
                    for (int j = 0; j < 4; j++) {
                        *out++ = (int8_t)clamp_int(avg_round_m0(a[j], n, inv), act_min, act_max);
                    }
                }
            }
            for (; k < c; k++, p0++, pe++) {
                int32_t acc = 0;
                for (const int8_t *p = p0; n > 0 && p < pe; p += row) {
                    for (const int8_t *q = p, *qe = p + span; q < qe; q += c) {
                        acc += *q;
                    }
                }
                *out++ = (int8_t)clamp_int(n <= 0 ? 0 : avg_round_m0(acc, n, inv), act_min, act_max);
            }
        }
    }
    return;
#endif
    UF_POOL_LOOP({
        UF_WINDOW_SUM(int32_t, acc)
        // round half away from zero; C division truncates toward zero
        int32_t v = n <= 0 ? 0 : (acc > 0 ? (acc + n / 2) / n : -((n / 2 - acc) / n));
        *out = (int8_t)clamp_int(v, act_min, act_max);
    })
}

void uf_max_pool2d_s8(const int8_t *x, int8_t *out, int in_h, int in_w, int c, int out_h,
                      int out_w, int k_h, int k_w, int s_h, int s_w, int pad_h, int pad_w,
                      int act_min, int act_max) {
    UF_POOL_LOOP({
        UF_WINDOW_MAX(int, m, -128)
        *out = (int8_t)clamp_int(m, act_min, act_max);
    })
}

void uf_avg_pool2d_f32(const float *x, float *out, int in_h, int in_w, int c, int out_h,
                       int out_w, int k_h, int k_w, int s_h, int s_w, int pad_h, int pad_w,
                       float act_min, float act_max) {
    UF_POOL_LOOP({
        UF_WINDOW_SUM(float, acc)
        *out = clamp_float(n > 0 ? acc / (float)n : 0.0f, act_min, act_max);
    })
}

void uf_max_pool2d_f32(const float *x, float *out, int in_h, int in_w, int c, int out_h,
                       int out_w, int k_h, int k_w, int s_h, int s_w, int pad_h, int pad_w,
                       float act_min, float act_max) {
    UF_POOL_LOOP({
        UF_WINDOW_MAX(float, m, -3.40282347e38f)   // TFLM's start: the lowest float
        *out = clamp_float(m, act_min, act_max);
    })
}

// TFLM's L2Pool: the squares summed in float32 in window order, over the count, the square root
void uf_l2_pool2d_f32(const float *x, float *out, int in_h, int in_w, int c, int out_h,
                      int out_w, int k_h, int k_w, int s_h, int s_w, int pad_h, int pad_w,
                      float act_min, float act_max) {
    UF_POOL_LOOP({
        float acc = 0.0f;
        for (int iy = y0; iy < y1; iy++) {
            for (int ix = x0; ix < x1; ix++) {
                float v = UF_TAP(iy, ix);
                acc += v * v;
            }
        }
        *out = clamp_float(uf_sqrtf(acc / (float)n), act_min, act_max);
    })
}
