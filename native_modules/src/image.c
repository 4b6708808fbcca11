// Camera frame -> model input (not a TFLite op: device_lib/upyflow/image.py calls it
// directly). One pass: read each needed source pixel (gray8, RGB565 either byte order,
// RGB888), convert it to gray or RGB888, resize (nearest or bilinear, the source
// rows/columns and Q10 weights precomputed per geometry, crop included), then map
// the 0..255 value through a 256-entry table that holds the normalised, quantized
// input value (int8/uint8 bytes or float32).
#include "kernels.h"

// fmt: 0 gray8, 1 RGB565 little-endian (low byte first), 2 RGB565 big-endian, 3 RGB888
static void pixel(const uint8_t *f, int fmt, size_t i, int32_t *rgb) {
    if (fmt == 0) {
        rgb[0] = rgb[1] = rgb[2] = f[i];
        return;
    }
    if (fmt == 3) {
        rgb[0] = f[3 * i], rgb[1] = f[3 * i + 1], rgb[2] = f[3 * i + 2];
        return;
    }
    uint32_t w = fmt == 1 ? (uint32_t)f[2 * i] | ((uint32_t)f[2 * i + 1] << 8)
                          : ((uint32_t)f[2 * i] << 8) | f[2 * i + 1];
    uint32_t r = w >> 11, g = (w >> 5) & 63, b = w & 31;
    // widen to 8 bits by repeating the top bits, so 31 -> 255 and 63 -> 255
    rgb[0] = (int32_t)((r << 3) | (r >> 2));
    rgb[1] = (int32_t)((g << 2) | (g >> 4));
    rgb[2] = (int32_t)((b << 3) | (b >> 2));
}

// BT.601 luma in integers (weights sum to 256); a gray pixel stays itself.
static int32_t luma(const int32_t *rgb) {
    return (77 * rgb[0] + 150 * rgb[1] + 29 * rgb[2] + 128) >> 8;
}

// Convert source pixel i to out_c values (1: gray, 3: RGB) in v.
static void fetch(const uint8_t *f, int fmt, size_t i, int out_c, int32_t *v) {
    int32_t rgb[3];
    pixel(f, fmt, i, rgb);
    if (out_c == 1) {
        v[0] = fmt == 0 ? rgb[0] : luma(rgb);
    } else {
        v[0] = rgb[0], v[1] = rgb[1], v[2] = rgb[2];
    }
}

static void put(void *out, size_t k, const uint8_t *lut, int esize, int32_t v) {
    if (esize == 1) {
        ((uint8_t *)out)[k] = lut[v];
    } else {
        ((uint32_t *)out)[k] = ((const uint32_t *)lut)[v];   // float32 bits
    }
}

void uf_image_to_input(const uint8_t *frame, const int32_t *ytab, const int32_t *xtab,
                       const uint8_t *lut, void *out, int fmt, int in_w, int out_h, int out_w,
                       int out_c, int bilinear, int esize) {
    size_t k = 0;
    int32_t a[3], b[3], c[3], d[3];
    for (int oy = 0; oy < out_h; oy++) {
        size_t r0 = (size_t)ytab[3 * oy] * in_w, r1 = (size_t)ytab[3 * oy + 1] * in_w;
        int32_t fy = ytab[3 * oy + 2];
        for (int ox = 0; ox < out_w; ox++) {
            size_t c0 = (size_t)xtab[3 * ox], c1 = (size_t)xtab[3 * ox + 1];
            if (!bilinear) {
                fetch(frame, fmt, r0 + c0, out_c, a);
                for (int ch = 0; ch < out_c; ch++) {
                    put(out, k++, lut, esize, a[ch]);
                }
                continue;
            }
            int32_t fx = xtab[3 * ox + 2];
            fetch(frame, fmt, r0 + c0, out_c, a);
            fetch(frame, fmt, r0 + c1, out_c, b);
            fetch(frame, fmt, r1 + c0, out_c, c);
            fetch(frame, fmt, r1 + c1, out_c, d);
            for (int ch = 0; ch < out_c; ch++) {
                // Q10 x Q10 weights on 0..255: at most 255 << 20, within int32
                int32_t top = a[ch] * (1024 - fx) + b[ch] * fx;
                int32_t bot = c[ch] * (1024 - fx) + d[ch] * fx;
                put(out, k++, lut, esize, (top * (1024 - fy) + bot * fy + (1 << 19)) >> 20);
            }
        }
    }
}

// Every table triple (i0, i1, weight) must have i0, i1 in [0, limit) and weight in 0..1024.
static int table_ok(const int32_t *t, int n, int limit) {
    for (int i = 0; i < n; i++) {
        if (t[3 * i] < 0 || t[3 * i] >= limit || t[3 * i + 1] < 0 || t[3 * i + 1] >= limit ||
            t[3 * i + 2] < 0 || t[3 * i + 2] > 1024) {
            return 0;
        }
    }
    return 1;
}

static int fits(const uf_call *c, int k, uint64_t bytes, int align) {
    if (align > 1 && ((uintptr_t)c->t[k] & (uintptr_t)(align - 1))) {
        return UF_EALIGN;
    }
    return (uint64_t)c->len[k] >= bytes ? UF_OK : UF_ESIZE;
}

// frame, ytab, xtab, lut, out; fmt, in_w, in_h, out_h, out_w, out_c, bilinear, esize
int uf_run_image_to_input(const uf_call *c) {
    int fmt = c->i[0], in_w = c->i[1], in_h = c->i[2], out_h = c->i[3], out_w = c->i[4];
    int out_c = c->i[5], bilinear = c->i[6], esize = c->i[7];
    static const uint8_t bpp[4] = {1, 2, 2, 3};
    if (fmt < 0 || fmt > 3 || in_w < 1 || in_h < 1 || out_h < 1 || out_w < 1 ||
        (out_c != 1 && out_c != 3) || (bilinear != 0 && bilinear != 1) || (esize != 1 && esize != 4)) {
        return UF_EPARAM;
    }
    int e;
    if ((e = fits(c, 0, (uint64_t)in_w * in_h * bpp[fmt], 1)) ||
        (e = fits(c, 1, (uint64_t)out_h * 12, 4)) || (e = fits(c, 2, (uint64_t)out_w * 12, 4)) ||
        (e = fits(c, 3, 256u * esize, esize)) ||
        (e = fits(c, 4, (uint64_t)out_h * out_w * out_c * esize, esize))) {
        return e;
    }
    if (!table_ok((const int32_t *)c->t[1], out_h, in_h) || !table_ok((const int32_t *)c->t[2], out_w, in_w)) {
        return UF_EPARAM;
    }
    uf_image_to_input((const uint8_t *)c->t[0], (const int32_t *)c->t[1], (const int32_t *)c->t[2],
                      (const uint8_t *)c->t[3], c->t[4], fmt, in_w, out_h, out_w, out_c, bilinear, esize);
    return UF_OK;
}
