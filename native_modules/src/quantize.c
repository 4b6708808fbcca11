// QUANTIZE (float32 -> int8/int16, int -> int requantize), DEQUANTIZE, and a
// byte copy for layout-only ops that cannot alias their input. Integer tensors
// here are int8 or int16 (requantize: also int32); `size` arguments give the
// element size in bytes.
#include "kernels.h"
#include "qmath.h"

static int32_t load_int(const void *p, int size, int i) {
    if (size == 4) {
        return ((const int32_t *)p)[i];
    }
    return size == 2 ? ((const int16_t *)p)[i] : ((const int8_t *)p)[i];
}

static void store_int(void *p, int size, int i, int32_t v) {
    if (size == 4) {
        ((int32_t *)p)[i] = v;
    } else if (size == 2) {
        ((int16_t *)p)[i] = (int16_t)v;
    } else {
        ((int8_t *)p)[i] = (int8_t)v;
    }
}

// std::round (half away from zero) of a float, clamped to +-2^30 first (the
// caller clamps to the output range anyway). Float-only: adding 0.5f could
// round up 0.49999997f.
static int32_t round_clamped(float v) {
    if (!(v == v)) {
        return 0;   // NaN: no defined result; pick zero rather than trap
    }
    if (v > 1073741824.0f) {
        return 1073741824;
    }
    if (v < -1073741824.0f) {
        return -1073741824;
    }
    int32_t t = (int32_t)v;     // truncates toward zero
    float frac = v - (float)t;  // exact for |v| < 2^30
    if (frac >= 0.5f) {
        t++;
    } else if (frac <= -0.5f) {
        t--;
    }
    return t;
}

void uf_quantize_f32(const float *x, void *out, int n, float scale, int zp, int qmin, int qmax,
                     int out_size) {
    for (int i = 0; i < n; i++) {
        int32_t q = round_clamped(x[i] / scale) + zp;
        store_int(out, out_size, i, q < qmin ? qmin : (q > qmax ? qmax : q));
    }
}

void uf_requantize(const void *x, void *out, int n, int in_zp, int32_t mult, int shift,
                   int out_zp, int qmin, int qmax, int in_size, int out_size) {
    for (int i = 0; i < n; i++) {
        int32_t q = uf_mul_by_qm(load_int(x, in_size, i) - in_zp, mult, shift) + out_zp;
        store_int(out, out_size, i, q < qmin ? qmin : (q > qmax ? qmax : q));
    }
}

void uf_dequantize_f32(const void *x, float *out, int n, float scale, int zp, int in_size) {
    // (x - zp) has at most 17 bits, so the float product is rounded once, as
    // TFLM's double product cast to float is
    for (int i = 0; i < n; i++) {
        out[i] = scale * (float)(load_int(x, in_size, i) - zp);
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
