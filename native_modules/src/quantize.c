// Type conversions: QUANTIZE (float32 -> int8/int16, int -> int requantize),
// DEQUANTIZE and CAST. Integer tensors of the first three are int8 or int16
// (requantize: also int32); `size` arguments give the element size in bytes.
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

// CAST between integer types, and from them to float, by emit.DTYPE_CODES: 0 i8, 1 u8,
// 2 i16, 3 i32, 4 f32 (output only), 5 u32.
static uint32_t load_coded(const void *p, int i, int code) {
    switch (code) {
        case 0: return (uint32_t)(int32_t)((const int8_t *)p)[i];
        case 1: return ((const uint8_t *)p)[i];
        case 2: return (uint32_t)(int32_t)((const int16_t *)p)[i];
        default: return ((const uint32_t *)p)[i];
    }
}

void uf_cast_int(const void *x, void *out, int n, int in_code, int out_code) {
    for (int i = 0; i < n; i++) {
        uint32_t v = load_coded(x, i, in_code);
        switch (out_code) {
            case 4:
                ((float *)out)[i] = (in_code == 1 || in_code == 5) ? (float)v : (float)(int32_t)v;
                break;
            case 0: ((int8_t *)out)[i] = (int8_t)v; break;
            case 1: ((uint8_t *)out)[i] = (uint8_t)v; break;
            case 2: ((int16_t *)out)[i] = (int16_t)v; break;
            default: ((uint32_t *)out)[i] = v; break;
        }
    }
}

// CAST from float32: truncated toward zero and saturated to the output type, NaN -> 0 (the
// TFLM interpreter's results; C leaves out-of-range conversions undefined, so every
// conversion here is of an in-range value, and only to int32).
static uint32_t saturated(float v, int code) {
    if (v != v) {
        return 0;
    }
    switch (code) {
        case 0: return v <= -128.0f ? (uint32_t)-128 : (v >= 127.0f ? 127u : (uint32_t)(int32_t)v);
        case 2: return v <= -32768.0f ? (uint32_t)-32768 : (v >= 32767.0f ? 32767u : (uint32_t)(int32_t)v);
        case 3:
            return v <= -2147483648.0f ? 0x80000000u : (v >= 2147483648.0f ? 0x7FFFFFFFu : (uint32_t)(int32_t)v);
        default:   // 5: uint32; above 2^31 the float is a multiple of 256, so v - 2^31 is exact
            if (v <= 0.0f) {
                return 0;
            }
            if (v >= 4294967296.0f) {
                return 0xFFFFFFFFu;
            }
            return v >= 2147483648.0f ? (uint32_t)(int32_t)(v - 2147483648.0f) + 0x80000000u : (uint32_t)(int32_t)v;
    }
}

void uf_cast_f32(const float *x, void *out, int n, int out_code) {
    for (int i = 0; i < n; i++) {
        float v = x[i];
        switch (out_code) {
            case 4: ((float *)out)[i] = v; break;
            case 0: ((int8_t *)out)[i] = (int8_t)saturated(v, 0); break;
            case 2: ((int16_t *)out)[i] = (int16_t)saturated(v, 2); break;
            default: ((uint32_t *)out)[i] = saturated(v, out_code); break;
        }
    }
}
