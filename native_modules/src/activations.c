// Standalone activations, as kernels_pure/activations.py: int8 activations are
// 256-entry table lookups baked by the host; int16 ones follow TFLM's integer
// kernels with host-prepared multipliers and tables. esize arguments give the
// bytes per int8/int16 element.
#include "kernels.h"
#include <float.h>
#include "qmath.h"

static int32_t ld(const void *p, int esize, int i) {
    return esize == 2 ? ((const int16_t *)p)[i] : ((const int8_t *)p)[i];
}

static void st(void *p, int esize, int i, int32_t v) {
    if (esize == 2) {
        ((int16_t *)p)[i] = (int16_t)v;
    } else {
        ((int8_t *)p)[i] = (int8_t)v;
    }
}

void uf_lut_s8(const int8_t *x, const int8_t *table, int8_t *out, int n) {
    for (int i = 0; i < n; i++) {
        out[i] = table[x[i] + 128];
    }
}

void uf_clamp_f32(const float *x, float *out, int n, float lo, float hi) {
    for (int i = 0; i < n; i++) {
        float v = x[i];
        out[i] = v < lo ? lo : (v > hi ? hi : v);
    }
}

// erfc(-x / sqrt(2)) / 2, the normal distribution's CDF at x: the Chebyshev fit of erfc(z)
// (Numerical Recipes' erfcc: relative error below 1.2e-7 for z >= 0, so GELU keeps its
// precision far into the negative tail), erfc(-z) = 2 - erfc(z).
static float uf_normal_cdf(float x) {
    // |x| by its bits: a select between -c and c would crash LLVM 22's Xtensa backend
    float z = uf_bits_f32(uf_f32_bits(x) & 0x7fffffffu) * 0.707106781f;
    float t = 1.0f / (1.0f + 0.5f * z);
    float p = -1.26551223f + t * (1.00002368f + t * (0.37409196f + t * (0.09678418f +
              t * (-0.18628806f + t * (0.27886807f + t * (-1.13520398f + t * (1.48851587f +
              t * (-0.82215223f + t * 0.17087277f))))))));
    // exp(-z*z) = exp(-x*x/2) as exp(-xh*xh/2) * exp(-(x - xh)(x + xh)/2), xh = x to 12 bits:
    // xh*xh is exact in float32, so the tail keeps its relative precision (a rounded z*z loses
    // 1e-5 of it at x = -12)
    float xh = uf_bits_f32(uf_f32_bits(x) & 0xfffff000u);
    float half_erfc = 0.5f * t * uf_expf(-0.5f * (xh * xh)) * uf_expf(p - 0.5f * ((x - xh) * (x + xh)));
    return x < 0.0f ? half_erfc : 1.0f - half_erfc;
}

// ABS, NEG, SQRT, RSQRT, EXP, LOG (op 0..5) in float32 (SIN, COS: 12, 13), as TFLM's elementwise.cc / exp.cc / log;
// GELU (6: x * CDF(x); 7: the tanh approximation, as x / (1 + exp(-2u)), u = sqrt(2/pi) *
// (x + 0.044715 x^3))
// TFLM's RoundToNearest: floor, then half to even (a negative value rounding to 0 gives +0.0)
static float uf_roundf(float v) {
    float fl = uf_floorf(v), diff = v - fl;
    if (diff < 0.5f || (diff == 0.5f && !((int32_t)fl & 1))) {
        return fl;
    }
    return fl + 1.0f;
}

// ELU below 0: expm1 to float32's relative accuracy without libm (exp(v) - 1 away from 0,
// a Taylor series near it)
static float uf_expm1f(float v) {
    if (!(v > -0.5f)) {
        return uf_expf(v) - 1.0f;
    }
    float s = 1.0f;
    for (int k = 8; k >= 2; k--) {
        s = 1.0f + v / (float)k * s;
    }
    return v * s;
}

// SIN and COS without libm, to float32's precision for every finite argument: |x| reduced by
// pi/2 exactly (Payne-Hanek: its 24-bit mantissa times a 96-bit window of 2/pi's binary digits,
// the window chosen so the product mod 2^96 is |x| * 2/pi mod 4 with 94 fraction bits), then
// Taylor series of sin and cos on [-pi/4, pi/4] (their first omitted terms are below 1e-11).
static const uint32_t uf_two_over_pi[7] = {   // floor(2/pi * 2^224), most significant word first
    0xa2f9836eu, 0x4e441529u, 0xfc2757d1u, 0xf534ddc0u, 0xdb629599u, 0x3c439041u, 0xfe5163abu};

// 2/pi's binary digits pos .. pos + 31 (digit k weighs 2^-k; digits k <= 0 are 0)
static uint32_t uf_two_over_pi_bits(int pos) {
    int b = pos - 1;
    if (b <= -32) {
        return 0;
    }
    int w = b >= 0 ? b / 32 : -1, sh = b - 32 * w;
    uint32_t hi = w >= 0 ? uf_two_over_pi[w] : 0, lo = w + 1 < 7 ? uf_two_over_pi[w + 1] : 0;
    return sh ? (hi << sh) | (lo >> (32 - sh)) : hi;
}

static float uf_sin_poly(float r) {
    float r2 = r * r;
    return r + r * r2 * (-1.0f / 6 + r2 * (1.0f / 120 + r2 * (-1.0f / 5040 + r2 * (1.0f / 362880 +
           r2 * (-1.0f / 39916800)))));
}

static float uf_cos_poly(float r) {
    float r2 = r * r;
    return 1.0f + r2 * (-0.5f + r2 * (1.0f / 24 + r2 * (-1.0f / 720 + r2 * (1.0f / 40320 + r2 * (
           -1.0f / 3628800 + r2 * (1.0f / 479001600))))));
}

// sin(x) (cosine 0) or cos(x) (cosine 1)
static float uf_sincosf(float x, int cosine) {
    uint32_t u = uf_f32_bits(x) & 0x7fffffffu;
    if (u >= 0x7f800000u) {
        return uf_bits_f32(0x7fc00000u);   // inf, NaN: NaN
    }
    float r = x;
    int q = 0;
    if (u > 0x3f490fdau) {   // |x| > pi/4: r = |x| - q pi/2 in [-pi/4, pi/4]
        uint32_t m = (u & 0x7fffffu) | 0x800000u;
        int k0 = (int)(u >> 23) - 151;   // |x| = m 2^(k0 + 1): digits before k0 give multiples of 4
        uint64_t p0 = (uint64_t)m * uf_two_over_pi_bits(k0 + 64), p1 = (uint64_t)m * uf_two_over_pi_bits(k0 + 32);
        uint32_t p2 = m * uf_two_over_pi_bits(k0);
        uint64_t mid = (p0 >> 32) + (uint32_t)p1;
        uint32_t w2 = p2 + (uint32_t)(p1 >> 32) + (uint32_t)(mid >> 32), w1 = (uint32_t)mid, w0 = (uint32_t)p0;
        q = (int)(w2 >> 30);
        uint32_t fh = (w2 << 2) | (w1 >> 30), fl = (w1 << 2) | (w0 >> 30);   // the fraction, 64 bits
        int neg = fh >= 0x80000000u;
        if (neg) {   // past one half: the next multiple of pi/2, r negative
            q++;
            fl = ~fl + 1u;
            fh = ~fh + (fl == 0u);
        }
        int e = 0;
        if (fh == 0u) {
            fh = fl;
            fl = 0u;
            e = 32;
        }
        int c = fh ? uf_clz32(fh) : 0;
        if (c) {
            fh = (fh << c) | (fl >> (32 - c));
        }
        e += c + 32;   // the fraction is fh 2^-e
        r = (float)fh * uf_bits_f32((uint32_t)(127 - e) << 23) * 1.57079637f;
        r = neg ? -r : r;
        if (x < 0.0f) {   // sin(-x) = -sin(x), cos(-x) = cos(x): reduce -x as x, mirrored
            r = -r;
            q = -q;
        }
    }
    q = (q + cosine) & 3;
    float v = (q & 1) ? uf_cos_poly(r) : uf_sin_poly(r);
    return (q & 2) ? -v : v;
}

void uf_unary_f32(const float *x, float *out, int n, int op) {
    for (int i = 0; i < n; i++) {
        float v = x[i];
        switch (op) {
            case 0: v = uf_bits_f32(uf_f32_bits(v) & 0x7fffffffu); break;
            case 1: v = -v; break;
            case 2: v = uf_sqrtf(v); break;
            case 3: v = 1.0f / uf_sqrtf(v); break;
            case 4: v = uf_expf(v); break;
            case 5: v = uf_logf(v); break;
            case 6: v = v * uf_normal_cdf(v); break;
            case 7: v = v / (1.0f + uf_expf(-1.59576912f * (v + 0.044715f * v * v * v))); break;
            case 8: v = uf_floorf(v); break;
            case 9: v = -uf_floorf(-v); break;
            case 10: v = uf_roundf(v); break;
            case 12: v = uf_sincosf(v, 0); break;
            case 13: v = uf_sincosf(v, 1); break;
            default: v = v < 0.0f ? uf_expm1f(v) : v; break;
        }
        out[i] = v;
    }
}

// L2_NORMALIZATION: int8 as TFLM's reference_integer_ops (sum of squares, 1/sqrt as a
// multiplier, output scale 2^-7), float32 as its reference (float32 sum, norm at least 1e-6).
void uf_l2norm_s8(const int8_t *x, int8_t *out, int rows, int depth, int in_zp) {
    for (int r = 0; r < rows; r++, x += depth, out += depth) {
        uint32_t acc = 0;   // int32 wrapping, as TFLM's accumulator
        for (int k = 0; k < depth; k++) {
            int32_t v = x[k] - in_zp;
            acc += (uint32_t)(v * v);
        }
        int32_t mult;
        int shift;
        uf_inv_sqrt_qm((int32_t)acc, &mult, &shift);
        for (int k = 0; k < depth; k++) {
            out[k] = (int8_t)uf_clamp(uf_mul_by_qm(x[k] - in_zp, mult, shift + 7), -128, 127);
        }
    }
}

// RSQRT int16 as TFLM's RsqrtEvalQuantized (zero points 0): 1/sqrt(v) as a multiplier and shift
// applied to 1 << 20, then rescaled by (mult, shift), the host's 2^-20 / (sqrt(in_scale) *
// out_scale). 0 gives 32767; TFLM fails below 0: 32767 there too.
void uf_rsqrt_s16(const int16_t *x, int16_t *out, int n, int32_t mult, int shift) {
    for (int i = 0; i < n; i++) {
        int32_t v = x[i];
        if (v <= 0) {
            out[i] = 32767;
            continue;
        }
        int32_t m;
        int s;
        uf_inv_sqrt_qm(v, &m, &s);
        out[i] = (int16_t)uf_clamp(uf_mul_by_qm(uf_mul_by_qm(1, m, s + 20), mult, shift), -32768, 32767);
    }
}

void uf_l2norm_f32(const float *x, float *out, int rows, int depth) {
    for (int r = 0; r < rows; r++, x += depth, out += depth) {
        float acc = 0.0f;
        for (int k = 0; k < depth; k++) {
            acc += x[k] * x[k];
        }
        float norm = uf_sqrtf(acc);
        if (!(norm >= 1e-6f)) {
            norm = 1e-6f;
        }
        for (int k = 0; k < depth; k++) {
            out[k] = x[k] / norm;
        }
    }
}

void uf_leaky_relu_q(const void *x, void *out, int n, int in_zp, int32_t m_id, int s_id,
                     int32_t m_al, int s_al, int neg, int out_zp, int qmin, int qmax, int esize) {
    for (int i = 0; i < n; i++) {
        int32_t d = ld(x, esize, i) - in_zp;
        int32_t v;
        if (d >= 0) {
            v = uf_mul_by_qm(d, m_id, s_id);
        } else {
            v = uf_mul_by_qm(d, m_al, s_al);
            if (neg) {
                v = -v;
            }
        }
        st(out, esize, i, uf_clamp(v + out_zp, qmin, qmax));
    }
}

void uf_leaky_relu_f32(const float *x, float *out, int n, float alpha) {
    for (int i = 0; i < n; i++) {
        float v = x[i];
        out[i] = v > 0 ? v : v * alpha;
    }
}

void uf_hard_swish_f32(const float *x, float *out, int n) {
    for (int i = 0; i < n; i++) {
        float v = x[i];
        float r = v + 3.0f;
        r = r < 0.0f ? 0.0f : (r > 6.0f ? 6.0f : r);
        out[i] = v * r / 6.0f;
    }
}

// TFLM's int16 sigmoid: |x| rescaled; the high bits index the sigmoid(i/24)
// table (stored minus 32768), `bits` low bits interpolate. bits 9: logistic;
// 8: tanh, as 2 sigmoid(2x) - 1.
static void sigmoid_q(const int16_t *x, const void *table, int16_t *out, int n,
                      int32_t mult, int shift, int bits) {
    int32_t rnd = shift > 0 ? (int32_t)1 << (shift - 1) : 0;
    uint32_t frac = ((uint32_t)1 << bits) - 1;
    for (int i = 0; i < n; i++) {
        int32_t v = (x[i] * mult + rnd) >> shift;
        uint32_t a = v < 0 ? (uint32_t)-v : (uint32_t)v;
        uint32_t h = a >> bits;
        int32_t r;
        if (h >= 255) {
            r = bits == 9 ? (0x7FFF << 10) : (0xFFFF << 8);
        } else {
            uint32_t ua = (uint32_t)(uf_ld_i16(table, h) + 32768);
            uint32_t ub = (uint32_t)(uf_ld_i16(table, h + 1) + 32768);
            r = (int32_t)((ua << bits) + (a & frac) * (ub - ua));
        }
        if (bits == 9) {
            r = v >= 0 ? r + 512 : (1 << 25) - r + 511;
            out[i] = (int16_t)(r >> 10);
        } else {
            r = v >= 0 ? r - (1 << 23) + 128 : -r + (1 << 23) + 127;
            out[i] = (int16_t)(r >> 8);
        }
    }
}

void uf_logistic_s16(const int16_t *x, const void *table, int16_t *out, int n, int32_t mult,
                     int shift) {
    sigmoid_q(x, table, out, n, mult, shift, 9);
}

void uf_tanh_s16(const int16_t *x, const void *table, int16_t *out, int n, int32_t mult,
                 int shift) {
    sigmoid_q(x, table, out, n, mult, shift, 8);
}

void uf_prelu_q(const void *x, const void *alpha, void *out, int n, int period, int in_zp,
                int32_t m1, int s1, int32_t m2, int s2, int out_zp, int qmin, int qmax,
                int esize) {
    int k = 0;
    for (int i = 0; i < n; i++) {
        int32_t d = ld(x, esize, i) - in_zp;
        int32_t v = d >= 0 ? uf_mul_by_qm(d, m1, s1) : uf_mul_by_qm(d * uf_ld_i16(alpha, k), m2, s2);
        st(out, esize, i, uf_clamp(v + out_zp, qmin, qmax));
        if (++k == period) {
            k = 0;
        }
    }
}

void uf_prelu_f32(const float *x, const void *alpha, float *out, int n, int period) {
    int k = 0;
    for (int i = 0; i < n; i++) {
        float v = x[i];
        out[i] = v >= 0.0f ? v : v * uf_ld_f32(alpha, k);
        if (++k == period) {
            k = 0;
        }
    }
}
