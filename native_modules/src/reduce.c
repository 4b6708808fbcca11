// MEAN over a block of axes: descriptor [outer block][inner block] baked by
// upyflow_tools (layout in kernels_pure/reduce.py), checked by table.c. int8/int16
// sums wrap in int32 and float32 sums go in input order, as TFLM's.
#include "kernels.h"
#include "qmath.h"
#include "desc.h"
#include <float.h>

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
    uf_desc_read(desc, at + 1, w->nd, w->shape);
    uf_desc_read(desc, at + 1 + w->nd, w->nd, w->stride);
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

// The blocks of output o (0, 1, ... in turn): at o = 0 reads descriptor [outer block]
// [inner block] and checks neither is empty, later advances the outer walker; each time
// rewinds the inner one. Returns 0 when there is no output o.
static int odo_block(odo *ow, odo *iw, const void *desc, ptrdiff_t o) {
    if (o == 0) {
        odo_init(ow, desc, 0);
        odo_init(iw, desc, 1 + 2 * ow->nd);
        return !odo_empty(ow) && !odo_empty(iw);
    }
    odo_reset(iw);
    return odo_next(ow);
}

// MEAN: one output per outer element.
void uf_mean_q(const void *x, void *out, const void *desc, int esize, int in_zp, int32_t m,
               int sh, int out_zp, int count, int lo, int hi) {
    odo ow, iw;
    for (ptrdiff_t o = 0; odo_block(&ow, &iw, desc, o); o++) {
        uint32_t acc = 0;   // int32 wrap-around, as TFLM's int32 sums
        do {
            acc += (uint32_t)uf_ld_q(x, ow.off + iw.off, esize);
        } while (odo_next(&iw));
        int32_t v = (int32_t)(acc - (uint32_t)in_zp * (uint32_t)count);
        uf_st_q(out, o, esize, uf_clamp(uf_mul_by_qm(v, m, sh) + out_zp, lo, hi));
    }
}

void uf_mean_f32(const float *x, float *out, const void *desc, int count) {
    odo ow, iw;
    for (ptrdiff_t o = 0; odo_block(&ow, &iw, desc, o); o++) {
        float acc = 0.0f;   // float32 sums in input order, as TFLM
        do {
            acc += x[ow.off + iw.off];
        } while (odo_next(&iw));
        out[o] = acc / (float)count;
    }
}

// The first element of the inner block (at load(x, ow.off)), then the index k of each
// later one v that BETTER(v, best) (a strict comparison): the extreme found in best, its
// index in at. For REDUCE_MAX/MIN and ARG_MAX/MIN, int and float.
#define UF_SCAN_BLOCK(type, load, BETTER)                      \
    type best = load(x, ow.off);                               \
    int32_t at = 0, k = 0;                                     \
    while (odo_next(&iw)) {                                    \
        type v = load(x, ow.off + iw.off);                     \
        k++;                                                   \
        if (BETTER(v, best)) {                                 \
            best = v;                                          \
            at = k;                                            \
        }                                                      \
    }

#define UF_LD_Q(p, i) uf_ld_q(p, i, esize)
#define UF_LD_F32(p, i) uf_ld_f32(p, (size_t)(i))
#define UF_BETTER(v, best) (is_max ? (v) > (best) : (v) < (best))

// REDUCE_MAX / REDUCE_MIN: the first element of each block, then the larger (smaller) ones.
void uf_reduce_maxmin_q(const void *x, void *out, const void *desc, int esize, int is_max) {
    odo ow, iw;
    for (ptrdiff_t o = 0; odo_block(&ow, &iw, desc, o); o++) {
        UF_SCAN_BLOCK(int32_t, UF_LD_Q, UF_BETTER)
        (void)at;
        uf_st_q(out, o, esize, best);
    }
}

// float32: as TFLM's ReduceGeneric, from the lowest (highest) finite float, so NaN is
// skipped and an all -inf (+inf) block gives -FLT_MAX (FLT_MAX).
void uf_reduce_maxmin_f32(const float *x, float *out, const void *desc, int is_max) {
    odo ow, iw;
    for (ptrdiff_t o = 0; odo_block(&ow, &iw, desc, o); o++) {
        // MAX as the MIN of the negated values (negation is exact): one start value,
        // as a select between two float constants crashes LLVM 22's Xtensa backend.
        float best = FLT_MAX;
        do {
            float v = x[ow.off + iw.off];
            if (is_max) {
                v = -v;
            }
            if (v < best) {
                best = v;
            }
        } while (odo_next(&iw));
        out[o] = is_max ? -best : best;
    }
}

// ARG_MAX / ARG_MIN: the index of the first extreme along the inner block (one axis);
// esize 4 is float32 (a NaN first element stays, as TFLM's comparisons).
void uf_arg_maxmin(const void *x, int32_t *out, const void *desc, int esize, int is_max) {
    odo ow, iw;
    for (ptrdiff_t o = 0; odo_block(&ow, &iw, desc, o); o++) {
        if (esize == 4) {
            UF_SCAN_BLOCK(float, UF_LD_F32, UF_BETTER)
            out[o] = at;
        } else {
            UF_SCAN_BLOCK(int32_t, UF_LD_Q, UF_BETTER)
            out[o] = at;
        }
    }
}

// CUMSUM along one axis, x as [pre][depth][post] (kernels_pure/reduce.py): running sums over
// depth, from the end when reverse, the sum before each value when exclusive. int8 as TFLM:
// acc sums x - zp exactly from its starting -zp (off); TFLM's wrapping int32 sum is acc << 19.
void uf_cumsum_s8(const void *x, int8_t *out, int pre, int depth, int post, int exclusive, int reverse,
                  int off, int32_t mo, int sho, int ooff, int lo, int hi) {
    ptrdiff_t step = reverse ? -(ptrdiff_t)post : post;
    for (int p = 0; p < pre; p++) {
        for (int q = 0; q < post; q++) {
            ptrdiff_t i = ((ptrdiff_t)p * depth + (reverse ? depth - 1 : 0)) * post + q;
            int32_t acc = off;
            for (int k = 0; k < depth; k++, i += step) {
                int32_t v = uf_ld_q(x, i, 1) + off;
                if (!exclusive) {
                    acc = (int32_t)((uint32_t)acc + (uint32_t)v);   // wraps as TFLM's scaled sum
                }
                int32_t s = uf_rdbypot(uf_srdhm((int32_t)((uint32_t)acc << 19), mo), -sho);
                out[i] = (int8_t)uf_clamp(s + ooff, lo, hi);
                if (exclusive) {
                    acc = (int32_t)((uint32_t)acc + (uint32_t)v);
                }
            }
        }
    }
}

void uf_cumsum_f32(const void *x, float *out, int pre, int depth, int post, int exclusive, int reverse) {
    ptrdiff_t step = reverse ? -(ptrdiff_t)post : post;
    for (int p = 0; p < pre; p++) {
        for (int q = 0; q < post; q++) {
            ptrdiff_t i = ((ptrdiff_t)p * depth + (reverse ? depth - 1 : 0)) * post + q;
            float acc = 0.0f;
            for (int k = 0; k < depth; k++, i += step) {
                float v = uf_ld_f32(x, (size_t)i);
                if (exclusive) {
                    out[i] = acc;
                }
                acc += v;
                if (!exclusive) {
                    out[i] = acc;
                }
            }
        }
    }
}
