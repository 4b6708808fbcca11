// UNIDIRECTIONAL_SEQUENCE_LSTM, a stateful sequence layer: its hidden and cell
// state tensors are arena bytes that persist between invokes. Same argument
// order and packed constants as device_lib/upyflow/kernels_pure/lstm.py.
// int32 sums wrap (computed unsigned) as TFLM's int32 accumulators do.
#include "kernels.h"
#include "qmath.h"
#if defined(__ARM_FEATURE_DSP)
// Cortex-M4/M7/M33: the four gates' rows of a unit in one SMLAD pass (uf_dot4_s8: each
// input word loaded once); its sums wrap mod 2^32 as uf_dot_s8_wrap's.
#include "mac8.h"
#define UF_LSTM_DOT4 1
#elif defined(__riscv) || defined(__XTENSA__)
// RV32 and Xtensa: the four gates' rows in one pass too, each input byte loaded once.
#define UF_LSTM_DOT4 1
static void uf_dot4_s8(const int8_t *x, const int8_t *w, int n, int stride, int32_t *acc) {
    const int8_t *w1 = w + stride, *w2 = w1 + stride, *w3 = w2 + stride;
    uint32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;   // wrapping sums, as uf_dot_s8_wrap
    for (int k = 0; k < n; k++) {
        int32_t v = x[k];
        a0 += (uint32_t)(v * w[k]);
        a1 += (uint32_t)(v * w1[k]);
        a2 += (uint32_t)(v * w2[k]);
        a3 += (uint32_t)(v * w3[k]);
    }
    acc[0] = (int32_t)a0, acc[1] = (int32_t)a1, acc[2] = (int32_t)a2, acc[3] = (int32_t)a3;
}
#else
#define UF_LSTM_DOT4 0
#endif

// int16 Q3.12 -> Q0.15 logistic: input times 3, table steps of 512, interpolated.
// table: TFLite's uint16 sigmoid table minus 32768, baked by the host (any alignment).
static inline int32_t sigmoid16(const void *table, int32_t v) {
    int32_t x = v * 3;
    uint32_t a = (uint32_t)(x < 0 ? -x : x);
    uint32_t uh = a >> 9, r;
    if (uh >= 255) {
        r = 0x7FFFu << 10;
    } else {
        uint32_t ua = (uint32_t)(uf_ld_i16(table, uh) + 32768);
        r = (ua << 9) + (a & 0x1FFu) * ((uint32_t)(uf_ld_i16(table, uh + 1) + 32768) - ua);
    }
    r = x >= 0 ? r + 512u : (1u << 25) - r + 511u;
    return (int32_t)(r >> 10);
}

// int16 tanh to Q0.15; (mult, shift) bring the input to the table's units.
static inline int32_t tanh16(const void *table, int32_t v, int32_t mult, int shift) {
    int32_t x = (v * mult + (shift > 0 ? (1 << (shift - 1)) : 0)) >> shift;
    uint32_t a = (uint32_t)(x < 0 ? -x : x);
    uint32_t uh = a >> 8;
    int32_t r;
    if (uh >= 255) {
        r = 0xFFFF << 8;
    } else {
        uint32_t ua = (uint32_t)(uf_ld_i16(table, uh) + 32768);
        r = (int32_t)((ua << 8) + (a & 0xFFu) * ((uint32_t)(uf_ld_i16(table, uh + 1) + 32768) - ua));
    }
    r = x >= 0 ? r - 8388480 : 8388735 - r;
    return r >> 8;
}

// The walk both LSTMs share (a macro: each body stays inlined and typed): per batch
// entry b and step t (rows time- or batch-major), the step's input row xr and output row
// o_row; the statements run for each unit j, reading the old hidden state h and
// updating cell c[j] and o_row[j]; then o_row becomes the hidden state.
#define UF_LSTM_WALK(h_type, c_type, ...)                                              \
    for (int b = 0; b < batch; b++) {                                                 \
        h_type *h = hidden + (size_t)b * n;                                           \
        c_type *c = cell + (size_t)b * n;                                             \
        for (int t = 0; t < steps; t++) {                                             \
            size_t row = time_major ? (size_t)t * batch + b : (size_t)b * steps + t;  \
            const h_type *xr = x + row * n_in;                                        \
            h_type *o_row = out + row * n;                                            \
            for (int j = 0; j < n; j++) {                                             \
                __VA_ARGS__                                                           \
            }                                                                         \
            for (int j = 0; j < n; j++) {                                             \
                h[j] = o_row[j];                                                      \
            }                                                                         \
        }                                                                             \
    }

// --- UNIDIRECTIONAL_SEQUENCE_LSTM (int8, int16 cell) -----------------------------------
// w: int8 rows [input weights of gates f, i, g, o | their recurrent weights];
// q: int32 [input-side biases (4n) | recurrent-side biases (4n) | per gate:
// input mult, shift, recurrent mult, shift]. The new hidden values go to this
// step's output row first and into the hidden state once every gate has read
// the old one, so no scratch buffer is needed.
void uf_lstm_s8(const int8_t *x, const int8_t *w, const void *q, const void *table, int8_t *hidden,
                int16_t *cell, int8_t *out, int batch, int steps, int n_in, int n,
                int time_major, int h_zp, int32_t m_fc, int s_fc, int32_t m_ig, int s_ig,
                int32_t m_out, int s_out, int qclip, int32_t tanh_mult, int tanh_shift) {
    const int8_t *rec = w + (size_t)4 * n * n_in;
    const size_t qm = (size_t)8 * n;   // gate multipliers and shifts, after the biases
    UF_LSTM_WALK(int8_t, int16_t, {
        int32_t g[4];
#if UF_LSTM_DOT4
        int32_t da[4], dr[4];
        uf_dot4_s8(xr, w + (size_t)j * n_in, n_in, n * n_in, da);
        uf_dot4_s8(h, rec + (size_t)j * n, n, n * n, dr);
#define UF_LSTM_DA(k, gi) da[k]
#define UF_LSTM_DR(k, gi) dr[k]
#else
#define UF_LSTM_DA(k, gi) uf_dot_s8_wrap(xr, w + (size_t)(gi) * n_in, n_in)
#define UF_LSTM_DR(k, gi) uf_dot_s8_wrap(h, rec + (size_t)(gi) * n, n)
#endif
        for (int k = 0; k < 4; k++) {
            int gi = k * n + j;
            size_t m = qm + 4 * k;
            int32_t a = (int32_t)((uint32_t)uf_ld_i32(q, gi) + (uint32_t)UF_LSTM_DA(k, gi));
            a = uf_clamp(uf_mul_by_qm(a, uf_ld_i32(q, m), uf_ld_i32(q, m + 1)), -32768, 32767);
            int32_t r = (int32_t)((uint32_t)uf_ld_i32(q, 4 * n + gi) + (uint32_t)UF_LSTM_DR(k, gi));
            r = uf_clamp(uf_mul_by_qm(r, uf_ld_i32(q, m + 2), uf_ld_i32(q, m + 3)), -32768, 32767);
            g[k] = uf_clamp(a + r, -32768, 32767);
        }
        int32_t f = sigmoid16(table, g[0]), i = sigmoid16(table, g[1]);
        int32_t cg = tanh16(table, g[2], 3, 0), o = sigmoid16(table, g[3]);
        int32_t cv = uf_clamp(uf_mul_by_qm(f * c[j], m_fc, s_fc), -32768, 32767);
        cv = uf_clamp(cv + uf_clamp(uf_mul_by_qm(i * cg, m_ig, s_ig), -32768, 32767), -32768, 32767);
        if (qclip >= 0) {
            cv = uf_clamp(cv, -qclip, qclip);
        }
        c[j] = (int16_t)cv;
        int32_t hv = uf_mul_by_qm(tanh16(table, cv, tanh_mult, tanh_shift) * o, m_out, s_out) + h_zp;
        o_row[j] = (int8_t)uf_clamp(hv, -128, 127);
    })
}

// --- UNIDIRECTIONAL_SEQUENCE_LSTM (float32) ---------------------------------------------
// TFLM's float path: per gate FC(input) + bias, plus FC(hidden), each summed in float in
// order; sigmoid with TFLM's Logistic cut-offs, tanh; same weight layout as uf_lstm_s8.
static float sigmoid_f(float v) {
    if (v > 16.619047164916992f) {
        return 1.0f;
    }
    if (v < -9.0f) {
        return uf_expf(v);
    }
    return 1.0f / (1.0f + uf_expf(-v));
}

// tanh from expm1(2|x|), computed by Taylor series near 0 where exp(2x) - 1 would cancel.
// (The sign goes on last: a select between two float constants is more than LLVM's
// Xtensa back end can compile.)
static float tanh_f(float x) {
    float a = x < 0.0f ? -x : x;
    float t = 1.0f;
    if (a <= 9.5f) {
        float y = 2.0f * a, e;
        if (y < 0.5f) {
            e = y * (1.0f + y * (0.5f + y * (1.0f / 6 + y * (1.0f / 24 + y * (1.0f / 120
                + y * (1.0f / 720 + y * (1.0f / 5040 + y * (1.0f / 40320))))))));
        } else {
            e = uf_expf(y) - 1.0f;
        }
        t = e / (e + 2.0f);
    }
    return x < 0.0f ? -t : t;
}

void uf_lstm_f32(const float *x, const float *w, const float *bias, float *hidden, float *cell,
                 float *out, int batch, int steps, int n_in, int n, int time_major, float clip) {
    const float *rec = w + (size_t)4 * n * n_in;
    UF_LSTM_WALK(float, float, {
        float g[4];
        for (int k = 0; k < 4; k++) {
            int gi = k * n + j;
            const float *wi = w + (size_t)gi * n_in, *wr = rec + (size_t)gi * n;
            float a = 0.0f, r = 0.0f;
            for (int m = 0; m < n_in; m++) {
                a += xr[m] * wi[m];
            }
            for (int m = 0; m < n; m++) {
                r += h[m] * wr[m];
            }
            g[k] = (a + bias[gi]) + r;
        }
        float cv = sigmoid_f(g[0]) * c[j] + sigmoid_f(g[1]) * tanh_f(g[2]);
        if (clip > 0.0f) {
            cv = cv < -clip ? -clip : (cv > clip ? clip : cv);
        }
        c[j] = cv;
        o_row[j] = sigmoid_f(g[3]) * tanh_f(cv);
    })
}

// --- GRU (ONNX's, float32; no TFLite operator) -------------------------------------------
// w: rows [input weights of gates z, r, h | their recurrent weights]; bias: [Wb (3n) | Rb (3n)];
// scratch: z, then r * h (lbr 0) or r (lbr 1). As gru_f32 in kernels_pure/lstm.py.
static inline float clip_f(float v, float clip) {
    return clip <= 0.0f ? v : (v < -clip ? -clip : (v > clip ? clip : v));
}

static float dot_f(const float *a, const float *b, int n) {
    float s = 0.0f;
    for (int m = 0; m < n; m++) {
        s += a[m] * b[m];
    }
    return s;
}

void uf_gru_f32(const float *x, const float *w, const float *bias, float *hidden, float *scratch,
                float *out, int batch, int steps, int n_in, int n, int time_major, int lbr, float clip) {
    const float *rec = w + (size_t)3 * n * n_in;
    const float *rb = bias + (size_t)3 * n;
    for (int b = 0; b < batch; b++) {
        float *h = hidden + (size_t)b * n;
        for (int t = 0; t < steps; t++) {
            size_t row = time_major ? (size_t)t * batch + b : (size_t)b * steps + t;
            const float *xr = x + row * n_in;
            float *o_row = out + row * n;
            for (int gi = 0; gi < 2 * n; gi++) {
                float a = dot_f(xr, w + (size_t)gi * n_in, n_in);
                float r = dot_f(h, rec + (size_t)gi * n, n);
                scratch[gi] = sigmoid_f(clip_f((a + bias[gi]) + (r + rb[gi]), clip));
            }
            if (!lbr) {
                for (int j = 0; j < n; j++) {
                    scratch[n + j] *= h[j];
                }
            }
            for (int j = 0; j < n; j++) {
                int gi = 2 * n + j;
                float a = dot_f(xr, w + (size_t)gi * n_in, n_in) + bias[gi];
                float v;
                if (lbr) {
                    v = a + scratch[n + j] * (dot_f(h, rec + (size_t)gi * n, n) + rb[gi]);
                } else {
                    v = a + (dot_f(scratch + n, rec + (size_t)gi * n, n) + rb[gi]);
                }
                float hh = tanh_f(clip_f(v, clip));
                float z = scratch[j];
                o_row[j] = (1.0f - z) * hh + z * h[j];
            }
            for (int j = 0; j < n; j++) {
                h[j] = o_row[j];
            }
        }
    }
}
