// TRANSPOSE_CONV, as kernels_pure/transpose_conv.py: each output gathers the
// input pixels TFLM's scatter would add into it, in its order (input row,
// column, channel ascending), so no scratch buffer is needed.
#include "kernels.h"
#include "qmath.h"

// Input coordinate reaching output coordinate o through filter tap k, or -1.
static int source(int o, int k, int stride, int pad, int size) {
    int t = o + pad - k;
    if (t < 0 || t % stride) {
        return -1;
    }
    t /= stride;
    return t < size ? t : -1;
}

// The gather shared by the three dtypes (a macro, so each inner loop stays typed and
// inlined): per output (oy, ox, oc) in order, acc starts at INIT, TAP runs for each input
// pixel reaching it with xo, wo the element offsets of that pixel in x and of its filter
// tap in w, and STORE writes *out from acc.
#define UF_TCONV_GATHER(acc_type, INIT, TAP, STORE)                                         \
    const size_t fsize = (size_t)k_h * k_w * in_c;                                         \
    for (int oy = 0; oy < out_h; oy++) {                                                   \
        for (int ox = 0; ox < out_w; ox++) {                                               \
            for (int oc = 0; oc < out_c; oc++) {                                           \
                acc_type acc = INIT;                                                       \
                for (int ky = k_h - 1; ky >= 0; ky--) {                                    \
                    int iy = source(oy, ky, s_h, pad_h, in_h);                             \
                    for (int kx = k_w - 1; kx >= 0 && iy >= 0; kx--) {                     \
                        int ix = source(ox, kx, s_w, pad_w, in_w);                         \
                        if (ix >= 0) {                                                     \
                            size_t xo = ((size_t)iy * in_w + ix) * in_c;                   \
                            size_t wo = oc * fsize + (size_t)(ky * k_w + kx) * in_c;       \
                            TAP                                                            \
                        }                                                                  \
                    }                                                                      \
                }                                                                          \
                STORE                                                                      \
                out++;                                                                     \
            }                                                                              \
        }                                                                                  \
    }

void uf_transpose_conv_s8(const int8_t *x, const int8_t *w, const void *bias, int8_t *out,
                          const void *mult, const void *shift, int in_h, int in_w, int in_c,
                          int out_h, int out_w, int out_c, int k_h, int k_w, int s_h, int s_w,
                          int pad_h, int pad_w, int in_off, int out_off, int act_min, int act_max) {
    UF_TCONV_GATHER(int32_t, 0, {
        for (int c = 0; c < in_c; c++) {
            acc += ((int32_t)x[xo + c] + in_off) * w[wo + c];
        }
    }, {
        *out = (int8_t)uf_requant_ch(acc + uf_ld_i32(bias, oc), mult, shift, oc, out_off, act_min, act_max);
    })
}

void uf_transpose_conv_s16(const int16_t *x, const int8_t *w, const void *bias, int16_t *out,
                           const void *mult, const void *shift, int in_h, int in_w, int in_c,
                           int out_h, int out_w, int out_c, int k_h, int k_w, int s_h, int s_w,
                           int pad_h, int pad_w, int act_min, int act_max) {
    UF_TCONV_GATHER(int64_t, uf_ld_i64w(bias, oc), {
        acc += uf_dot_s16s8(x + xo, w + wo, in_c);
    }, {
        *out = (int16_t)uf_requant16(acc, mult, shift, oc, 1, act_min, act_max);
    })
}

void uf_transpose_conv_f32(const float *x, const void *w, const void *bias, float *out,
                           int in_h, int in_w, int in_c, int out_h, int out_w, int out_c,
                           int k_h, int k_w, int s_h, int s_w, int pad_h, int pad_w,
                           float act_min, float act_max) {
    UF_TCONV_GATHER(float, 0.0f, {
        for (int c = 0; c < in_c; c++) {
            acc += x[xo + c] * uf_ld_f32(w, wo + c);
        }
    }, {
        acc += uf_ld_f32(bias, oc);
        acc = acc < act_min ? act_min : acc;
        *out = acc > act_max ? act_max : acc;
    })
}
