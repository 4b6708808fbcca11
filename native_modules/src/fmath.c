// Float maths without libm (natmods link none), shared by the kernel families that
// need it (activations, elementwise, lstm, pool, softmax): in a file of its own so each
// family's natmod links it without another family's kernels.
#include "kernels.h"
#include <float.h>
#include "qmath.h"

// Single-precision bits of 2^k for k in [-126, 127].
static float pow2i(int k) {
    return uf_bits_f32((uint32_t)(k + 127) << 23);
}

// exp(x) in float32 to about 1 ulp: x = k*ln2 + r with |r| <= ln2/2 (ln2 split
// in two so k*ln2_hi is exact), then a degree-7 Taylor polynomial, whose
// truncation error r^8/8! is below float precision.
float uf_expf(float x) {
    if (x != x) {
        return x;   // NaN (from a NaN or infinite input) stays NaN, as TFLM's std::exp; no NaN to int
    }
    if (x < -104.0f) {
        return 0.0f;
    }
    if (x > 88.7f) {
        return pow2i(127) * 2.0f;   // overflows to +inf as expf does
    }
    float kf = x * 1.44269504f;
    // k = kf rounded half away from zero, as (int)(kf < 0 ? kf - 0.5f : kf + 0.5f)
    // gives, written as kf + (0.5f with kf's sign): no select between two float
    // constants, which LLVM 22's Xtensa backend cannot compile. The same k for every
    // kf: for kf < 0, kf + -0.5f is exactly kf - 0.5f (the same rounded sum); for
    // kf >= +0 both add 0.5f; for kf = -0.0 the sums are -0.5f and 0.5f, which both
    // truncate to 0. (kf is finite or NaN here: |x| <= 104.)
    union {
        float f;
        uint32_t u;
    } half = {kf};
    half.u = (half.u & 0x80000000u) | 0x3F000000u;   // 0x3F000000: 0.5f
    int k = (int)(kf + half.f);
    float r = (x - (float)k * 0.693359375f) - (float)k * -2.12194440e-4f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120
              + r * (1.0f / 720 + r * (1.0f / 5040)))))));
    if (k < -126) {   // subnormal result: scale in two steps
        return p * pow2i(k + 64) * pow2i(-64);
    }
    return p * pow2i(k);
}

// sqrt and log without libm (natmods link none): sqrt by three Newton steps from the
// exponent-halving guess (below 1 ulp), log as e*ln2 + 2*atanh((m-1)/(m+1)), m in
// [sqrt(1/2), sqrt(2)] (a few ulp); both within TFLM's std:: results at 1e-6.
float uf_sqrtf(float x) {
    if (!(x > 0.0f) || x > FLT_MAX) {
        return x == 0.0f || x > FLT_MAX ? x : uf_bits_f32(0x7fc00000u);   // 0, inf; NaN below 0
    }
    // (a scale factor chosen between two float constants would crash LLVM 22's Xtensa
    // backend: the subnormal case multiplies twice instead)
    int subnormal = x < FLT_MIN;
    if (subnormal) {   // scale into the normal range
        x *= 16777216.0f;
    }
    float y = uf_bits_f32(0x1fbd1df5u + (uf_f32_bits(x) >> 1));
    for (int k = 0; k < 3; k++) {
        y = 0.5f * (y + x / y);
    }
    if (subnormal) {
        y *= 1.0f / 4096.0f;
    }
    return y;
}

float uf_logf(float x) {
    if (!(x > 0.0f) || x > FLT_MAX) {
        return x == 0.0f ? -uf_bits_f32(0x7f800000u) : (x > FLT_MAX ? x : uf_bits_f32(0x7fc00000u));
    }
    int e = 0;
    if (x < FLT_MIN) {
        x *= 16777216.0f;
        e = -24;
    }
    uint32_t u = uf_f32_bits(x);
    e += (int)(u >> 23) - 127;
    float m = uf_bits_f32((u & 0x007fffffu) | 0x3f800000u);
    if (m > 1.41421356f) {
        m *= 0.5f;
        e++;
    }
    float s = (m - 1.0f) / (m + 1.0f), s2 = s * s;
    float p = s2 * (1.0f / 3 + s2 * (1.0f / 5 + s2 * (1.0f / 7 + s2 * (1.0f / 9 + s2 * (1.0f / 11)))));
    float lm = 2.0f * s + 2.0f * s * p;
    return (float)e * 0.693145752f + ((float)e * 1.42860677e-06f + lm);
}

// IEEE floor without libm: integral values (|v| >= 2^23), infinities and NaN are themselves;
// a zero result keeps v's sign (floor(-0.0) is -0.0, floor(0.5) is +0.0).
float uf_floorf(float v) {
    if (!(v > -8388608.0f && v < 8388608.0f)) {
        return v;
    }
    float t = (float)(int32_t)v;   // truncated toward zero, exact below 2^23
    if (t > v) {
        t -= 1.0f;
    }
    return t == 0.0f ? uf_bits_f32(uf_f32_bits(v) & 0x80000000u) : t;
}
