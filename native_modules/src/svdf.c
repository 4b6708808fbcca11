// SVDF, a stateful sequence layer: its state tensor is arena bytes that persist
// between invokes. Same argument order and packed constants as
// device_lib/upyflow/kernels_pure/svdf.py. int32 sums wrap (computed unsigned) as
// TFLM's int32 accumulators do.
#include "kernels.h"
#include "qmath.h"

// q: int32 [feature zero-point terms (n_filter) | time zero-point terms
// (n_filter) | bias (n_filter / rank)]. Per batch and filter, the state holds
// the last mem feature activations, oldest first.
#define SVDF_INT_BODY(T, WT, LO, HI)                                                   \
    int n_unit = n_filter / rank;                                                      \
    for (int b = 0; b < batch; b++) {                                                  \
        const int8_t *xb = x + (size_t)b * n_in;                                       \
        T *sb = state + (size_t)b * n_filter * mem;                                    \
        for (int u = 0; u < n_unit; u++) {                                             \
            uint32_t acc = (uint32_t)uf_ld_i32(q, 2 * n_filter + u);                   \
            for (int r = u * rank; r < u * rank + rank; r++) {                         \
                T *row = sb + (size_t)r * mem;                                         \
                for (int j = 0; j < mem - 1; j++) {                                    \
                    row[j] = row[j + 1];                                               \
                }                                                                      \
                int32_t d = (int32_t)((uint32_t)uf_ld_i32(q, r) +                      \
                    (uint32_t)uf_dot_s8_wrap(xb, wf + (size_t)r * n_in, n_in));        \
                d = uf_clamp(uf_mul_by_qm(d, m1, s1), LO, HI);                         \
                row[mem - 1] = (T)(d + state_zp);                                      \
                uint32_t t = (uint32_t)uf_ld_i32(q, n_filter + r);                     \
                size_t wr = (size_t)r * mem;                                           \
                for (int j = 0; j < mem; j++) {                                        \
                    t += (uint32_t)((int32_t)WT(wr + j) * row[j]);                     \
                }                                                                      \
                acc += t;                                                              \
            }                                                                          \
            int32_t v = uf_mul_by_qm((int32_t)acc, m2, s2) + out_zp;                   \
            out[(size_t)b * n_unit + u] = (int8_t)uf_clamp(v, -128, 127);              \
        }                                                                              \
    }

void uf_svdf_s8_i16(const int8_t *x, const int8_t *wf, const void *wt, const void *q,
                    int16_t *state, int8_t *out, int batch, int n_in, int n_filter, int rank,
                    int mem, int state_zp, int out_zp, int32_t m1, int s1, int32_t m2, int s2) {
#define WT16(k) uf_ld_i16(wt, k)
    SVDF_INT_BODY(int16_t, WT16, -32768, 32767)
}

void uf_svdf_s8_i8(const int8_t *x, const int8_t *wf, const int8_t *wt, const void *q,
                   int8_t *state, int8_t *out, int batch, int n_in, int n_filter, int rank,
                   int mem, int state_zp, int out_zp, int32_t m1, int s1, int32_t m2, int s2) {
#define WT8(k) wt[k]
    SVDF_INT_BODY(int8_t, WT8, -128, 127)
}

void uf_svdf_f32(const float *x, const void *wf, const void *wt, const void *bias,
                 float *state, float *out, int batch, int n_in, int n_filter, int rank, int mem,
                 float act_min, float act_max) {
    int n_unit = n_filter / rank;
    for (int b = 0; b < batch; b++) {
        const float *xb = x + (size_t)b * n_in;
        float *sb = state + (size_t)b * n_filter * mem;
        for (int u = 0; u < n_unit; u++) {
            float acc = uf_ld_f32(bias, u);
            for (int r = u * rank; r < u * rank + rank; r++) {
                float *row = sb + (size_t)r * mem;
                for (int j = 0; j < mem - 1; j++) {
                    row[j] = row[j + 1];
                }
                size_t w = (size_t)r * n_in;
                float d = 0.0f;
                for (int k = 0; k < n_in; k++) {
                    d += uf_ld_f32(wf, w + k) * xb[k];
                }
                row[mem - 1] = d;
                size_t wr = (size_t)r * mem;
                float t = 0.0f;
                for (int j = 0; j < mem; j++) {
                    t += uf_ld_f32(wt, wr + j) * row[j];
                }
                acc += t;
            }
            acc = acc < act_min ? act_min : acc;
            out[(size_t)b * n_unit + u] = acc > act_max ? act_max : acc;
        }
    }
}
