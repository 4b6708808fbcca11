// int8/int16 element access and int32 descriptor reads shared by elementwise.c,
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

#endif
