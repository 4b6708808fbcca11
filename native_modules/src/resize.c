// RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR (batch-1 NHWC). The bake computes
// every source row/column and blend weight as TFLM does, so these only gather
// and blend. The uf_run_* entries check a call before running it (the kernel
// table in table.c points at them). The tables are constants of the weights blob:
// read through load.h, since they may sit at any address.
#include "kernels.h"
#include "load.h"

void uf_resize_nearest(const void *x, const void *ymap, const void *xmap, void *out,
                       int in_w, int out_h, int out_w, int depth, int esize) {
    const uint8_t *src = (const uint8_t *)x;
    uint8_t *dst = (uint8_t *)out;
    size_t pixel = (size_t)depth * esize;
    for (int oy = 0; oy < out_h; oy++) {
        size_t row = (size_t)uf_ld_i32(ymap, (size_t)oy) * in_w;
        for (int ox = 0; ox < out_w; ox++) {
            const uint8_t *p = src + (row + uf_ld_i32(xmap, (size_t)ox)) * pixel;
            // a plain loop: natmods have no memcpy to call
            for (size_t k = 0; k < pixel; k++) {
                *dst++ = p[k];
            }
        }
    }
}

void uf_resize_bilinear_s8(const int8_t *x, const void *ytab, const void *xtab, int8_t *out,
                           int in_w, int out_h, int out_w, int depth) {
    // 10-bit weights in [-512, 1536]: every product and their sum fit int32 for int8
    for (int oy = 0; oy < out_h; oy++) {
        size_t y = 3 * (size_t)oy;
        const int8_t *r0 = x + (size_t)uf_ld_i32(ytab, y) * in_w * depth;
        const int8_t *r1 = x + (size_t)uf_ld_i32(ytab, y + 1) * in_w * depth;
        int32_t fy = uf_ld_i32(ytab, y + 2), gy = 1024 - fy;
        for (int ox = 0; ox < out_w; ox++) {
            size_t k = 3 * (size_t)ox;
            size_t c0 = (size_t)uf_ld_i32(xtab, k) * depth, c1 = (size_t)uf_ld_i32(xtab, k + 1) * depth;
            int32_t fx = uf_ld_i32(xtab, k + 2), gx = 1024 - fx;
            int32_t w00 = gy * gx, w10 = fy * gx, w01 = gy * fx, w11 = fy * fx;
            for (int c = 0; c < depth; c++) {
                int32_t v = r0[c0 + c] * w00 + r1[c0 + c] * w10 + r0[c1 + c] * w01 + r1[c1 + c] * w11;
                // TFLM: round half away from zero, then C's truncating division by 2^20
                *out++ = (int8_t)(v > 0 ? (v + (1 << 19)) >> 20 : -((((int32_t)1 << 19) - v) >> 20));
            }
        }
    }
}

void uf_resize_bilinear_f32(const float *x, const void *ytab, const void *yw,
                            const void *xtab, const void *xw, float *out, int in_w,
                            int out_h, int out_w, int depth) {
    for (int oy = 0; oy < out_h; oy++) {
        const float *r0 = x + (size_t)uf_ld_i32(ytab, 2 * (size_t)oy) * in_w * depth;
        const float *r1 = x + (size_t)uf_ld_i32(ytab, 2 * (size_t)oy + 1) * in_w * depth;
        float fy = uf_ld_f32(yw, (size_t)oy), gy = 1.0f - fy;
        for (int ox = 0; ox < out_w; ox++) {
            size_t c0 = (size_t)uf_ld_i32(xtab, 2 * (size_t)ox) * depth;
            size_t c1 = (size_t)uf_ld_i32(xtab, 2 * (size_t)ox + 1) * depth;
            float fx = uf_ld_f32(xw, (size_t)ox), gx = 1.0f - fx;
            for (int c = 0; c < depth; c++) {
                // TFLM's order: each corner times the row then the column weight
                *out++ = r0[c0 + c] * gy * gx + r1[c0 + c] * fy * gx + r0[c1 + c] * gy * fx +
                         r1[c1 + c] * fy * fx;
            }
        }
    }
}

// --- checked entries for the kernel table ---
// A constant table: its size only (it may sit at any address).
static int sized(const uf_call *c, int k, uint64_t count, int esize) {
    return (uint64_t)c->len[k] >= count * (uint64_t)esize ? UF_OK : UF_ESIZE;
}

// An arena tensor (input, output), read directly: aligned as well.
static int ok_len(const uf_call *c, int k, uint64_t count, int esize) {
    if (esize > 1 && ((uintptr_t)c->t[k] & (uintptr_t)(esize - 1))) {
        return UF_EALIGN;
    }
    return sized(c, k, count, esize);
}

// Every table entry must point inside [0, limit): a bad table is an error, not a stray read.
static int in_range(const void *tab, int n, int stride, int limit) {
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 2 && k < stride; k++) {
            int32_t v = uf_ld_i32(tab, (size_t)stride * i + k);
            if (v < 0 || v >= limit) {
                return 0;
            }
        }
    }
    return 1;
}

#define RET(e) do { int e_ = (e); if (e_) return e_; } while (0)

// ints: in_h, in_w, out_h, out_w, depth (and esize); tensors x, tables..., out
static int geometry(const uf_call *c, int out_k, int esize) {
    for (int k = 0; k < 5; k++) {
        if (c->i[k] < 0) {
            return UF_EPARAM;
        }
    }
    uint64_t in_n = (uint64_t)c->i[0] * c->i[1] * c->i[4];
    uint64_t out_n = (uint64_t)c->i[2] * c->i[3] * c->i[4];
    RET(ok_len(c, 0, in_n, esize));
    return ok_len(c, out_k, out_n, esize);
}

int uf_run_resize_nearest(const uf_call *c) {
    int esize = c->i[5];
    if (esize != 1 && esize != 2 && esize != 4) {
        return UF_EPARAM;
    }
    RET(geometry(c, 3, esize));
    RET(sized(c, 1, c->i[2], 4));
    RET(sized(c, 2, c->i[3], 4));
    if (!in_range(c->t[1], c->i[2], 1, c->i[0]) || !in_range(c->t[2], c->i[3], 1, c->i[1])) {
        return UF_EPARAM;
    }
    uf_resize_nearest(c->t[0], c->t[1], c->t[2], c->t[3], c->i[1], c->i[2], c->i[3], c->i[4], esize);
    return UF_OK;
}

int uf_run_resize_bilinear_s8(const uf_call *c) {
    RET(geometry(c, 3, 1));
    RET(sized(c, 1, 3 * (uint64_t)c->i[2], 4));
    RET(sized(c, 2, 3 * (uint64_t)c->i[3], 4));
    if (!in_range(c->t[1], c->i[2], 3, c->i[0]) || !in_range(c->t[2], c->i[3], 3, c->i[1])) {
        return UF_EPARAM;
    }
    // the fractions must be 10-bit weights in the range TFLM produces
    for (int k = 1; k <= 2; k++) {
        for (int i = 0; i < c->i[k + 1]; i++) {
            int32_t f = uf_ld_i32(c->t[k], 3 * (size_t)i + 2);
            if (f < -512 || f > 1024) {
                return UF_EPARAM;
            }
        }
    }
    uf_resize_bilinear_s8(c->t[0], c->t[1], c->t[2], c->t[3], c->i[1], c->i[2], c->i[3], c->i[4]);
    return UF_OK;
}

int uf_run_resize_bilinear_f32(const uf_call *c) {
    RET(geometry(c, 5, 4));
    RET(sized(c, 1, 2 * (uint64_t)c->i[2], 4));
    RET(sized(c, 2, c->i[2], 4));
    RET(sized(c, 3, 2 * (uint64_t)c->i[3], 4));
    RET(sized(c, 4, c->i[3], 4));
    if (!in_range(c->t[1], c->i[2], 2, c->i[0]) || !in_range(c->t[3], c->i[3], 2, c->i[1])) {
        return UF_EPARAM;
    }
    uf_resize_bilinear_f32(c->t[0], c->t[1], c->t[2], c->t[3], c->t[4], c->t[5], c->i[1], c->i[2],
                           c->i[3], c->i[4]);
    return UF_OK;
}
