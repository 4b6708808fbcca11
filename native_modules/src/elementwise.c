// ADD/SUB (TFLM's general int8/int16 scaling), MUL, MAXIMUM/MINIMUM with
// broadcasting, MEAN, and the data movement of CONCATENATION, PAD,
// STRIDED_SLICE and TRANSPOSE (one strided copy plus a fill). Shapes arrive as
// int32 descriptors baked by upyflow_tools (see kernels_pure/elementwise.py and
// layout.py for their layout); table.c checks them against the tensor sizes.
// Descriptors and the operands of binary ops and strided copies may be
// constants at any address: they are read through load.h.
#include "kernels.h"
#include "qmath.h"

static inline int32_t ld(const void *p, ptrdiff_t i, int esize) {
    return esize == 1 ? ((const int8_t *)p)[i] : uf_ld_i16(p, (size_t)i);
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

// n int32 descriptor values from word `from` on, into a local array.
static void desc_read(const void *d, int from, int n, int32_t *to) {
    for (int k = 0; k < n; k++) {
        to[k] = uf_ld_i32(d, (size_t)(from + k));
    }
}

// Walks a binary descriptor [nd, shape..., strides a..., strides b...]; the
// output is contiguous. Odometer over all but the innermost dimension.
static void walk2(const void *d, uf_row2 row, const void *ctx) {
    int nd = uf_ld_i32(d, 0);
    int32_t shape[UF_EW_MAX_DIMS], sa[UF_EW_MAX_DIMS], sb[UF_EW_MAX_DIMS];
    desc_read(d, 1, nd, shape);
    desc_read(d, 1 + nd, nd, sa);
    desc_read(d, 1 + 2 * nd, nd, sb);
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

void uf_addsub_q(const void *x1, const void *x2, void *out, const void *desc, int esize,
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

void uf_mul_q(const void *x1, const void *x2, void *out, const void *desc, int esize, int off1,
              int off2, int32_t m, int sh, int ooff, int lo, int hi) {
    mul_ctx c = {x1, x2, out, esize, off1, off2, sh, ooff, lo, hi, m};
    walk2(desc, mul_row, &c);
}

typedef struct {
    const void *x1, *x2;
    float *out;
    int op;
    float lo, hi;
} f32_ctx;

static void f32_row(const void *p, ptrdiff_t a, ptrdiff_t b, ptrdiff_t o, int n, ptrdiff_t sa,
                    ptrdiff_t sb) {
    const f32_ctx *c = p;
    for (int i = 0; i < n; i++, a += sa, b += sb) {
        float u = uf_ld_f32(c->x1, (size_t)a), w = uf_ld_f32(c->x2, (size_t)b), v;
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

void uf_binary_f32(const void *x1, const void *x2, float *out, const void *desc, int op,
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

void uf_maxmin_q(const void *x1, const void *x2, void *out, const void *desc, int esize,
                 int is_max) {
    maxmin_ctx c = {x1, x2, out, esize, is_max};
    walk2(desc, maxmin_row, &c);
}

// Offsets of a block [nd, shape..., strides...] in row-major order: next()
// advances an odometer; returns 0 after the last.
// The block (at descriptor word `at`) is copied in: descriptors are constants.
typedef struct {
    int nd;
    int32_t shape[UF_EW_MAX_DIMS], stride[UF_EW_MAX_DIMS];
    int32_t idx[UF_EW_MAX_DIMS];
    ptrdiff_t off;
} odo;

static void odo_reset(odo *w) {
    for (int k = 0; k < w->nd; k++) {
        w->idx[k] = 0;
    }
    w->off = 0;
}

static void odo_init(odo *w, const void *desc, int at) {
    w->nd = uf_ld_i32(desc, (size_t)at);
    desc_read(desc, at + 1, w->nd, w->shape);
    desc_read(desc, at + 1 + w->nd, w->nd, w->stride);
    odo_reset(w);
}

// Is a block of an initialized walker empty?
static int odo_empty(const odo *w) {
    for (int k = 0; k < w->nd; k++) {
        if (w->shape[k] <= 0) {
            return 1;
        }
    }
    return 0;
}

static int odo_next(odo *w) {
    const int32_t *shape = w->shape, *stride = w->stride;
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

// MEAN: descriptor [outer block][inner block]; one output per outer element.
void uf_mean_q(const void *x, void *out, const void *desc, int esize, int in_zp, int32_t m,
               int sh, int out_zp, int count, int lo, int hi) {
    odo ow, iw;
    odo_init(&ow, desc, 0);
    odo_init(&iw, desc, 1 + 2 * ow.nd);
    if (odo_empty(&ow) || odo_empty(&iw)) {
        return;
    }
    ptrdiff_t o = 0;
    do {
        uint32_t acc = 0;   // int32 wrap-around, as TFLM's int32 sums
        odo_reset(&iw);
        do {
            acc += (uint32_t)ld(x, ow.off + iw.off, esize);
        } while (odo_next(&iw));
        int32_t v = (int32_t)(acc - (uint32_t)in_zp * (uint32_t)count);
        st(out, o++, esize, clamp(uf_mul_by_qm(v, m, sh) + out_zp, lo, hi));
    } while (odo_next(&ow));
}

void uf_mean_f32(const float *x, float *out, const void *desc, int count) {
    odo ow, iw;
    odo_init(&ow, desc, 0);
    odo_init(&iw, desc, 1 + 2 * ow.nd);
    if (odo_empty(&ow) || odo_empty(&iw)) {
        return;
    }
    ptrdiff_t o = 0;
    do {
        float acc = 0.0f;   // float32 sums in input order, as TFLM
        odo_reset(&iw);
        do {
            acc += x[ow.off + iw.off];
        } while (odo_next(&iw));
        out[o++] = acc / (float)count;
    } while (odo_next(&ow));
}

// Descriptor [nd, x_off, o_off, shape..., x strides..., out strides...] in elements.
void uf_strided_copy(const void *x, void *out, const void *desc, int esize) {
    int nd = uf_ld_i32(desc, 0);
    int32_t shape[UF_EW_MAX_DIMS], xs[UF_EW_MAX_DIMS], os[UF_EW_MAX_DIMS];
    desc_read(desc, 3, nd, shape);
    desc_read(desc, 3 + nd, nd, xs);
    desc_read(desc, 3 + 2 * nd, nd, os);
    int32_t idx[UF_EW_MAX_DIMS] = {0};
    for (int k = 0; k < nd; k++) {
        if (shape[k] <= 0) {
            return;
        }
    }
    ptrdiff_t a = uf_ld_i32(desc, 1), o = uf_ld_i32(desc, 2);
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
                ((int16_t *)dst)[io] = (int16_t)uf_ld_i16(src, (size_t)ia);
            }
        } else {
            for (int i = 0; i < n; i++, ia += sx, io += so) {
                ((int32_t *)dst)[io] = uf_ld_i32(src, (size_t)ia);
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
