// Data movement: CONCATENATION, PAD, STRIDED_SLICE, TRANSPOSE and the like as one
// strided copy plus a fill (descriptors baked by upyflow_tools, layout in
// kernels_pure/layout.py, checked by table.c), and a byte copy for layout-only ops
// that cannot alias their input. The source of a strided copy may be a constant at
// any address: it is read through load.h.
#include "kernels.h"
#include "desc.h"

// Descriptor [nd, x_off, o_off, shape..., x strides..., out strides...] in elements.
void uf_strided_copy(const void *x, void *out, const void *desc, int esize) {
    int32_t shape[UF_EW_MAX_DIMS], xs[UF_EW_MAX_DIMS], os[UF_EW_MAX_DIMS];
    int32_t idx[UF_EW_MAX_DIMS] = {0};
    int nd = uf_desc_walk2(desc, 3, shape, xs, os);
    if (nd == 0) {
        return;
    }
    ptrdiff_t a = uf_ld_i32(desc, 1), o = uf_ld_i32(desc, 2);
    const uint8_t *src = x;
    uint8_t *dst = out;
    int n = shape[nd - 1];
    ptrdiff_t sx = xs[nd - 1], so = os[nd - 1];
    do {
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
    } while (uf_odo2_next(nd - 1, idx, shape, xs, os, &a, &o));
}

void uf_fill_int(void *out, int n, int value, int esize) {
    for (int i = 0; i < n; i++) {
        uf_st_q(out, i, esize, value);
    }
}

void uf_fill_f32(float *out, int n, float value) {
    for (int i = 0; i < n; i++) {
        out[i] = value;
    }
}

void uf_copy_bytes(const void *x, void *out, int n, int size) {
    // a plain loop: natmods have no memcpy to call
    const uint8_t *src = (const uint8_t *)x;
    uint8_t *dst = (uint8_t *)out;
    size_t nbytes = (size_t)n * size;
    for (size_t i = 0; i < nbytes; i++) {
        dst[i] = src[i];
    }
}

// SELECT with a computed condition: out[i] = x[i] where c[i] != 0 (TFLM's bool bytes); the
// other elements keep what out holds (the other operand, copied first). x may be a
// constant at any address: read through load.h.
void uf_select_elems(const void *c, const void *x, void *out, int n, int esize) {
    const uint8_t *cond = (const uint8_t *)c;
    for (int i = 0; i < n; i++) {
        if (!cond[i]) {
            continue;
        }
        if (esize == 1) {
            ((uint8_t *)out)[i] = ((const uint8_t *)x)[i];
        } else if (esize == 2) {
            ((int16_t *)out)[i] = (int16_t)uf_ld_i16(x, (size_t)i);
        } else {
            ((int32_t *)out)[i] = uf_ld_i32(x, (size_t)i);
        }
    }
}
