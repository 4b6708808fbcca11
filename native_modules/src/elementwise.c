// ADD/SUB (TFLM's general int8/int16 scaling), MUL, MAXIMUM/MINIMUM with
// broadcasting, MEAN, and the data movement of CONCATENATION, PAD,
// STRIDED_SLICE and TRANSPOSE (one strided copy plus a fill). Shapes arrive as
// int32 descriptors baked by upyflow_tools (see kernels_pure/elementwise.py and
// layout.py for their layout); table.c checks them against the tensor sizes.
#include "kernels.h"
#include "qmath.h"

static inline int32_t ld(const void *p, ptrdiff_t i, int esize) {
    return esize == 1 ? ((const int8_t *)p)[i] : ((const int16_t *)p)[i];
}

static inline void st(void *p, ptrdiff_t i, int esize, int32_t v) {
    if (esize == 1) {
        ((int8_t *)p)[i] = (int8_t)v;
    } else {
        ((int16_t *)p)[i] = (int16_t)v;
    }
}

static inline int32_t clamp(int32_t v, int32_t lo, int32_t hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

// RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x, m), -shift), shift <= 0.
static inline int32_t scale_down(int32_t x, int32_t m, int shift) {
    return uf_rdbypot(uf_srdhm(x, m), -shift);
}

// One innermost run of a binary op: n outputs from a (stride sa) and b (stride sb).
typedef void (*uf_row2)(const void *ctx, ptrdiff_t a, ptrdiff_t b, ptrdiff_t o, int n,
                        ptrdiff_t sa, ptrdiff_t sb);

// Walks a binary descriptor [nd, shape..., strides a..., strides b...]; the
// output is contiguous. Odometer over all but the innermost dimension.
static void walk2(const int32_t *d, uf_row2 row, const void *ctx) {
    int nd = d[0];
    const int32_t *shape = d + 1, *sa = d + 1 + nd, *sb = d + 1 + 2 * nd;
    int32_t idx[UF_EW_MAX_DIMS] = {0};
    ptrdiff_t a = 0, b = 0, o = 0;
    for (int k = 0; k < nd; k++) {
        if (shape[k] <= 0) {
            return;
        }
    }
    for (;;) {
        row(ctx, a, b, o, shape[nd - 1], sa[nd - 1], sb[nd - 1]);
        o += shape[nd - 1];
        int k = nd - 2;
        for (; k >= 0; k--) {
            a += sa[k];
            b += sb[k];
            if (++idx[k] < shape[k]) {
                break;
            }
            a -= (ptrdiff_t)sa[k] * shape[k];
            b -= (ptrdiff_t)sb[k] * shape[k];
            idx[k] = 0;
        }
        if (k < 0) {
            return;
        }
    }
}

typedef struct {
    const void *x1, *x2;
    void *out;
    int esize, sign, off1, sh1, off2, sh2, ls, sho, ooff, lo, hi;
    int32_t m1, m2, mo;
} addsub_ctx;

static void addsub_row(const void *p, ptrdiff_t a, ptrdiff_t b, ptrdiff_t o, int n, ptrdiff_t sa,
                       ptrdiff_t sb) {
    const addsub_ctx *c = p;
    for (int i = 0; i < n; i++, a += sa, b += sb) {
        int32_t v1 = (int32_t)((uint32_t)(ld(c->x1, a, c->esize) + c->off1) << c->ls);
        int32_t v2 = (int32_t)((uint32_t)(ld(c->x2, b, c->esize) + c->off2) << c->ls);
        v1 = scale_down(v1, c->m1, c->sh1);
        v2 = scale_down(v2, c->m2, c->sh2);
        int32_t raw = c->sign > 0 ? v1 + v2 : v1 - v2;
        st(c->out, o + i, c->esize, clamp(scale_down(raw, c->mo, c->sho) + c->ooff, c->lo, c->hi));
    }
}

void uf_addsub_q(const void *x1, const void *x2, void *out, const int32_t *desc, int esize,
                 int sign, int off1, int32_t m1, int sh1, int off2, int32_t m2, int sh2, int ls,
                 int32_t mo, int sho, int ooff, int lo, int hi) {
    addsub_ctx c = {x1, x2, out, esize, sign, off1, sh1, off2, sh2, ls, sho, ooff, lo, hi, m1, m2, mo};
    walk2(desc, addsub_row, &c);
}

typedef struct {
    const void *x1, *x2;
    void *out;
    int esize, off1, off2, sh, ooff, lo, hi;
    int32_t m;
} mul_ctx;

static void mul_row(const void *p, ptrdiff_t a, ptrdiff_t b, ptrdiff_t o, int n, ptrdiff_t sa,
                    ptrdiff_t sb) {
    const mul_ctx *c = p;
    for (int i = 0; i < n; i++, a += sa, b += sb) {
        int32_t v = (ld(c->x1, a, c->esize) + c->off1) * (ld(c->x2, b, c->esize) + c->off2);
        st(c->out, o + i, c->esize, clamp(uf_mul_by_qm(v, c->m, c->sh) + c->ooff, c->lo, c->hi));
    }
}

void uf_mul_q(const void *x1, const void *x2, void *out, const int32_t *desc, int esize, int off1,
              int off2, int32_t m, int sh, int ooff, int lo, int hi) {
    mul_ctx c = {x1, x2, out, esize, off1, off2, sh, ooff, lo, hi, m};
    walk2(desc, mul_row, &c);
}

typedef struct {
    const float *x1, *x2;
    float *out;
    int op;
    float lo, hi;
} f32_ctx;

static void f32_row(const void *p, ptrdiff_t a, ptrdiff_t b, ptrdiff_t o, int n, ptrdiff_t sa,
                    ptrdiff_t sb) {
    const f32_ctx *c = p;
    for (int i = 0; i < n; i++, a += sa, b += sb) {
        float u = c->x1[a], w = c->x2[b], v;
        switch (c->op) {
            case 0: v = u + w; break;
            case 1: v = u - w; break;
            case 2: v = u * w; break;
            case 3: v = u > w ? u : w; break;
            default: v = u < w ? u : w; break;
        }
        if (c->op < 3) {
            v = v < c->lo ? c->lo : (v > c->hi ? c->hi : v);
        }
        c->out[o + i] = v;
    }
}

void uf_binary_f32(const float *x1, const float *x2, float *out, const int32_t *desc, int op,
                   float lo, float hi) {
    f32_ctx c = {x1, x2, out, op, lo, hi};
    walk2(desc, f32_row, &c);
}

typedef struct {
    const void *x1, *x2;
    void *out;
    int esize, is_max;
} maxmin_ctx;

static void maxmin_row(const void *p, ptrdiff_t a, ptrdiff_t b, ptrdiff_t o, int n, ptrdiff_t sa,
                       ptrdiff_t sb) {
    const maxmin_ctx *c = p;
    for (int i = 0; i < n; i++, a += sa, b += sb) {
        int32_t u = ld(c->x1, a, c->esize), w = ld(c->x2, b, c->esize);
        st(c->out, o + i, c->esize, c->is_max ? (u > w ? u : w) : (u < w ? u : w));
    }
}

void uf_maxmin_q(const void *x1, const void *x2, void *out, const int32_t *desc, int esize,
                 int is_max) {
    maxmin_ctx c = {x1, x2, out, esize, is_max};
    walk2(desc, maxmin_row, &c);
}

// Offsets of a block [nd, shape..., strides...] in row-major order: next()
// advances an odometer; returns 0 after the last.
typedef struct {
    const int32_t *d;
    int nd;
    int32_t idx[UF_EW_MAX_DIMS];
    ptrdiff_t off;
} odo;

static void odo_init(odo *w, const int32_t *block) {
    w->d = block;
    w->nd = block[0];
    for (int k = 0; k < w->nd; k++) {
        w->idx[k] = 0;
    }
    w->off = 0;
}

static int odo_next(odo *w) {
    const int32_t *shape = w->d + 1, *stride = w->d + 1 + w->nd;
    for (int k = w->nd - 1; k >= 0; k--) {
        w->off += stride[k];
        if (++w->idx[k] < shape[k]) {
            return 1;
        }
        w->off -= (ptrdiff_t)stride[k] * shape[k];
        w->idx[k] = 0;
    }
    return 0;
}

static int block_empty(const int32_t *block) {
    for (int k = 0; k < block[0]; k++) {
        if (block[1 + k] <= 0) {
            return 1;
        }
    }
    return 0;
}

// MEAN: descriptor [outer block][inner block]; one output per outer element.
void uf_mean_q(const void *x, void *out, const int32_t *desc, int esize, int in_zp, int32_t m,
               int sh, int out_zp, int count, int lo, int hi) {
    const int32_t *inner = desc + 1 + 2 * desc[0];
    if (block_empty(desc) || block_empty(inner)) {
        return;
    }
    odo ow, iw;
    odo_init(&ow, desc);
    ptrdiff_t o = 0;
    do {
        uint32_t acc = 0;   // int32 wrap-around, as TFLM's int32 sums
        odo_init(&iw, inner);
        do {
            acc += (uint32_t)ld(x, ow.off + iw.off, esize);
        } while (odo_next(&iw));
        int32_t v = (int32_t)(acc - (uint32_t)in_zp * (uint32_t)count);
        st(out, o++, esize, clamp(uf_mul_by_qm(v, m, sh) + out_zp, lo, hi));
    } while (odo_next(&ow));
}

void uf_mean_f32(const float *x, float *out, const int32_t *desc, int count) {
    const int32_t *inner = desc + 1 + 2 * desc[0];
    if (block_empty(desc) || block_empty(inner)) {
        return;
    }
    odo ow, iw;
    odo_init(&ow, desc);
    ptrdiff_t o = 0;
    do {
        float acc = 0.0f;   // float32 sums in input order, as TFLM
        odo_init(&iw, inner);
        do {
            acc += x[ow.off + iw.off];
        } while (odo_next(&iw));
        out[o++] = acc / (float)count;
    } while (odo_next(&ow));
}

// Descriptor [nd, x_off, o_off, shape..., x strides..., out strides...] in elements.
void uf_strided_copy(const void *x, void *out, const int32_t *desc, int esize) {
    int nd = desc[0];
    const int32_t *shape = desc + 3, *xs = desc + 3 + nd, *os = desc + 3 + 2 * nd;
    int32_t idx[UF_EW_MAX_DIMS] = {0};
    for (int k = 0; k < nd; k++) {
        if (shape[k] <= 0) {
            return;
        }
    }
    ptrdiff_t a = desc[1], o = desc[2];
    const uint8_t *src = x;
    uint8_t *dst = out;
    int n = shape[nd - 1];
    ptrdiff_t sx = xs[nd - 1], so = os[nd - 1];
    for (;;) {
        ptrdiff_t ia = a, io = o;
        if (esize == 1) {
            for (int i = 0; i < n; i++, ia += sx, io += so) {
                dst[io] = src[ia];
            }
        } else if (esize == 2) {
            for (int i = 0; i < n; i++, ia += sx, io += so) {
                ((int16_t *)dst)[io] = ((const int16_t *)src)[ia];
            }
        } else {
            for (int i = 0; i < n; i++, ia += sx, io += so) {
                ((int32_t *)dst)[io] = ((const int32_t *)src)[ia];
            }
        }
        int k = nd - 2;
        for (; k >= 0; k--) {
            a += xs[k];
            o += os[k];
            if (++idx[k] < shape[k]) {
                break;
            }
            a -= (ptrdiff_t)xs[k] * shape[k];
            o -= (ptrdiff_t)os[k] * shape[k];
            idx[k] = 0;
        }
        if (k < 0) {
            return;
        }
    }
}

void uf_fill_int(void *out, int n, int value, int esize) {
    for (int i = 0; i < n; i++) {
        st(out, i, esize, value);
    }
}

void uf_fill_f32(float *out, int n, float value) {
    for (int i = 0; i < n; i++) {
        out[i] = value;
    }
}
