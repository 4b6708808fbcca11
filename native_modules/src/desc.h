// int8/int16 element access, int32 descriptor reads and the two-operand odometer shared by elementwise.c,
// reduce.c and layout.c. Descriptors and int16 operands may be constants at any
// address: they are read through load.h.
#ifndef UPYFLOW_DESC_H
#define UPYFLOW_DESC_H

#include <stddef.h>
#include <stdint.h>
#include "load.h"

// Element i of an int8 (esize 1) or int16 (esize 2) tensor.
static inline int32_t uf_ld_q(const void *p, ptrdiff_t i, int esize) {
    return esize == 1 ? ((const int8_t *)p)[i] : uf_ld_i16(p, (size_t)i);
}

static inline void uf_st_q(void *p, ptrdiff_t i, int esize, int32_t v) {
    if (esize == 1) {
        ((int8_t *)p)[i] = (int8_t)v;
    } else {
        ((int16_t *)p)[i] = (int16_t)v;
    }
}

// n int32 descriptor values from word `from` on, into a local array.
static inline void uf_desc_read(const void *d, int from, int n, int32_t *to) {
    for (int k = 0; k < n; k++) {
        to[k] = uf_ld_i32(d, (size_t)(from + k));
    }
}

// A two-operand walk's geometry: nd (descriptor word 0), then from word `at` the shape
// and the strides of operands a and b, nd values each. Returns nd, or 0 if the
// shape is empty (nothing to walk).
static inline int uf_desc_walk2(const void *d, int at, int32_t *shape, int32_t *sa, int32_t *sb) {
    int nd = uf_ld_i32(d, 0);
    uf_desc_read(d, at, nd, shape);
    uf_desc_read(d, at + nd, nd, sa);
    uf_desc_read(d, at + 2 * nd, nd, sb);
    for (int k = 0; k < nd; k++) {
        if (shape[k] <= 0) {
            return 0;
        }
    }
    return nd;
}

// Advances such a walk's odometer over dimensions [0, outer) (the caller runs the
// innermost ones itself), moving offsets *a and *b. Returns 0 after the last.
static inline int uf_odo2_next(int outer, int32_t *idx, const int32_t *shape, const int32_t *sa,
                               const int32_t *sb, ptrdiff_t *a, ptrdiff_t *b) {
    for (int k = outer - 1; k >= 0; k--) {
        *a += sa[k];
        *b += sb[k];
        if (++idx[k] < shape[k]) {
            return 1;
        }
        *a -= (ptrdiff_t)sa[k] * shape[k];
        *b -= (ptrdiff_t)sb[k] * shape[k];
        idx[k] = 0;
    }
    return 0;
}

#endif
