// ADD/SUB (TFLM's general int8/int16 scaling), MUL, MAXIMUM/MINIMUM with
// broadcasting, float32 and int32 binary arithmetic. Shapes arrive as int32
// descriptors baked by upyflow_tools (layout in kernels_pure/elementwise.py);
// table.c checks them against the tensor sizes. Descriptors and operands may be
// constants at any address: they are read through load.h.
#include "kernels.h"
#include "qmath.h"
#include "desc.h"

// RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x, m), -shift), shift <= 0.
static inline int32_t scale_down(int32_t x, int32_t m, int shift) {
    return uf_rdbypot(uf_srdhm(x, m), -shift);
}

// One innermost run of a binary op: n outputs from a (stride sa) and b (stride sb).
typedef void (*uf_row2)(const void *ctx, ptrdiff_t a, ptrdiff_t b, ptrdiff_t o, int n,
                        ptrdiff_t sa, ptrdiff_t sb);

// Walks a binary descriptor [nd, shape..., strides a..., strides b...]; the
// output is contiguous. Odometer over all but the innermost dimension.
static void walk2(const void *d, uf_row2 row, const void *ctx) {
    int nd = uf_ld_i32(d, 0);
    int32_t shape[UF_EW_MAX_DIMS], sa[UF_EW_MAX_DIMS], sb[UF_EW_MAX_DIMS];
    uf_desc_read(d, 1, nd, shape);
    uf_desc_read(d, 1 + nd, nd, sa);
    uf_desc_read(d, 1 + 2 * nd, nd, sb);
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
        int32_t v1 = (int32_t)((uint32_t)(uf_ld_q(c->x1, a, c->esize) + c->off1) << c->ls);
        int32_t v2 = (int32_t)((uint32_t)(uf_ld_q(c->x2, b, c->esize) + c->off2) << c->ls);
        v1 = scale_down(v1, c->m1, c->sh1);
        v2 = scale_down(v2, c->m2, c->sh2);
        int32_t raw = c->sign > 0 ? v1 + v2 : v1 - v2;
        uf_st_q(c->out, o + i, c->esize, uf_clamp(scale_down(raw, c->mo, c->sho) + c->ooff, c->lo, c->hi));
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
        int32_t v = (uf_ld_q(c->x1, a, c->esize) + c->off1) * (uf_ld_q(c->x2, b, c->esize) + c->off2);
        uf_st_q(c->out, o + i, c->esize, uf_clamp(uf_mul_by_qm(v, c->m, c->sh) + c->ooff, c->lo, c->hi));
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
        int32_t u = uf_ld_q(c->x1, a, c->esize), w = uf_ld_q(c->x2, b, c->esize);
        uf_st_q(c->out, o + i, c->esize, c->is_max ? (u > w ? u : w) : (u < w ? u : w));
    }
}

void uf_maxmin_q(const void *x1, const void *x2, void *out, const void *desc, int esize,
                 int is_max) {
    maxmin_ctx c = {x1, x2, out, esize, is_max};
    walk2(desc, maxmin_row, &c);
}

// int32 ADD, SUB, MUL, MAXIMUM, MINIMUM and DIV (op 0..5), wrapping as TFLM's int32
// arithmetic; either operand may be a constant.
static int32_t op_i32(int32_t a, int32_t b, int op) {
    switch (op) {
        case 0: return (int32_t)((uint32_t)a + (uint32_t)b);
        case 1: return (int32_t)((uint32_t)a - (uint32_t)b);
        case 2: return (int32_t)((uint32_t)a * (uint32_t)b);
        case 3: return a > b ? a : b;
        case 4: return a < b ? a : b;
        default:
            if (b == 0) {
                return 0;   // TFLM would fault; the bake rejects a constant 0
            }
            if (a == INT32_MIN && b == -1) {
                return INT32_MIN;
            }
            return a / b;
    }
}

typedef struct {
    const void *a, *b;
    int32_t *out;
    int op;
} i32_ctx;

static void i32_row(const void *p, ptrdiff_t a, ptrdiff_t b, ptrdiff_t o, int n, ptrdiff_t sa,
                    ptrdiff_t sb) {
    const i32_ctx *c = p;
    for (int i = 0; i < n; i++, a += sa, b += sb) {
        c->out[o + i] = op_i32(uf_ld_i32(c->a, (size_t)a), uf_ld_i32(c->b, (size_t)b), c->op);
    }
}

void uf_binary_i32(const void *a, const void *b, int32_t *out, const void *d, int op) {
    i32_ctx c = {a, b, out, op};
    walk2(d, i32_row, &c);
}
