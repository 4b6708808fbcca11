// ADD/SUB (TFLM's general int8/int16 scaling), MUL, int8 DIV, MAXIMUM/MINIMUM with
// broadcasting, float32 and int32 binary arithmetic. Shapes arrive as int32
// descriptors baked by upyflow_tools (layout in kernels_pure/elementwise.py);
// table.c checks them against the tensor sizes. Descriptors and operands may be
// constants at any address: they are read through load.h.
#include "kernels.h"
#include "qmath.h"
#include "desc.h"

// RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x, m), -shift), shift <= 0.
static inline int32_t scale_down(int32_t x, int32_t m, int shift) {
    return uf_rdbypot(uf_srdhm(x, m), -shift);
}

// Runs the statements for each element of a binary descriptor [nd, shape...,
// strides a..., strides b...] in order, with a, b the operands' element offsets and o
// the output's (contiguous); an odometer over all but the innermost dimension. A
// macro, so each op's inner loop stays inlined with its parameters in registers.
#define UF_WALK2(d, ...) \
    int32_t shape_[UF_EW_MAX_DIMS], sa_[UF_EW_MAX_DIMS], sb_[UF_EW_MAX_DIMS]; \
    int32_t idx_[UF_EW_MAX_DIMS] = {0}; \
    int nd_ = uf_desc_walk2(d, 1, shape_, sa_, sb_); \
    ptrdiff_t a_ = 0, b_ = 0, o = 0; \
    while (nd_ > 0) { \
        ptrdiff_t a = a_, b = b_, sa = sa_[nd_ - 1], sb = sb_[nd_ - 1]; \
        for (int i_ = shape_[nd_ - 1]; i_ > 0; i_--, a += sa, b += sb, o++) { \
            __VA_ARGS__ \
        } \
        if (!uf_odo2_next(nd_ - 1, idx_, shape_, sa_, sb_, &a_, &b_)) { \
            break; \
        } \
    }

// sign 1: ADD, -1: SUB, 0: SQUARED_DIFFERENCE (the scaled difference squared).
void uf_addsub_q(const void *x1, const void *x2, void *out, const void *desc, int esize,
                 int sign, int off1, int32_t m1, int sh1, int off2, int32_t m2, int sh2, int ls,
                 int32_t mo, int sho, int ooff, int lo, int hi) {
    UF_WALK2(desc, {
        int32_t v1 = (int32_t)((uint32_t)(uf_ld_q(x1, a, esize) + off1) << ls);
        int32_t v2 = (int32_t)((uint32_t)(uf_ld_q(x2, b, esize) + off2) << ls);
        v1 = scale_down(v1, m1, sh1);
        v2 = scale_down(v2, m2, sh2);
        int32_t raw = sign > 0 ? v1 + v2 : v1 - v2;
        if (sign == 0) {   // SQUARED_DIFFERENCE: |v1 - v2| <= 2^15, the square fits
            raw = (int32_t)((uint32_t)raw * (uint32_t)raw);
        }
        uf_st_q(out, o, esize, uf_clamp(scale_down(raw, mo, sho) + ooff, lo, hi));
    })
}

void uf_mul_q(const void *x1, const void *x2, void *out, const void *desc, int esize, int off1,
              int off2, int32_t m, int sh, int ooff, int lo, int hi) {
    UF_WALK2(desc, {
        int32_t v = (uf_ld_q(x1, a, esize) + off1) * (uf_ld_q(x2, b, esize) + off2);
        uf_st_q(out, o, esize, uf_clamp(uf_mul_by_qm(v, m, sh) + ooff, lo, hi));
    })
}

// gemmlowp's reciprocal of a divisor 0: 1 / (1 + x) at x = -1, its Newton steps' int32 sums
// wrapping (a constant here: C's signed sums must not overflow).
#define UF_RECIP_ZERO (-1515870788)

// DIV int8 as TFLM's reference (kernels_pure/elementwise.py div_q): the divisor's sign moved to
// the dividend, GetReciprocal(divisor, 31) times the dividend shifted by its redundant sign
// bits, then m * 2^(sh - bits over unit - headroom); an exponent of 32 or more takes what the
// TFLM interpreter's x86-64 shifts give. |v1|, v2 <= 255 and sh <= 22 keep the exponent >= 0.
void uf_div_q(const void *x1, const void *x2, int8_t *out, const void *desc, int off1, int off2,
              int32_t m, int sh, int ooff, int lo, int hi) {
    UF_WALK2(desc, {
        int32_t v1 = uf_ld_q(x1, a, 1) + off1, v2 = uf_ld_q(x2, b, 1) + off2, inv;
        int e;
        if (v2 < 0) {
            v1 = -v1;
            v2 = -v2;
        }
        if (v2) {
            int h = uf_clz32((uint32_t)v2);
            inv = uf_sat_shl(uf_one_over_one_plus_x((int32_t)(((uint32_t)v2 << h) - 0x80000000u)), 1);
            e = 31 - h - sh;
        } else {
            inv = UF_RECIP_ZERO;
            e = -1 - sh;
        }
        int hr = uf_clz32((uint32_t)(v1 >= 0 ? v1 : -1 - v1)) - 1;
        int32_t v = uf_srdhm(uf_srdhm((int32_t)((uint32_t)v1 << hr), inv), m);
        e += hr;
        if (e < 32) {
            v = uf_rdbypot(v, e);
        } else if (e < 64) {
            v = (v >> (e - 32)) + (v >= 0 ? 1 : 0);
        } else {
            v = uf_rdbypot(v, e - 64);
        }
        out[o] = (int8_t)uf_clamp(v + ooff, lo, hi);
    })
}

// POW as std::pow (no libm): an integer exponent up to 16 by repeated squaring (a few
// roundings), else exp(y log|x|) with the sign of an odd integer exponent; a negative base
// with a fractional exponent is NaN; x^0 is 1.
static float uf_powf(float x, float y) {
    if (y == 0.0f) {
        return 1.0f;
    }
    float ay = uf_bits_f32(uf_f32_bits(y) & 0x7fffffffu);
    int32_t yi = 0;
    int integral = ay >= 16777216.0f;   // every float that large is an even integer
    if (ay < 16777216.0f) {
        yi = (int32_t)y;
        integral = (float)yi == y;
    }
    if (integral && ay <= 16.0f) {
        float b = x, r = 1.0f;
        for (int32_t k = yi < 0 ? -yi : yi; k; k >>= 1) {
            if (k & 1) {
                r *= b;
            }
            b *= b;
        }
        return yi < 0 ? 1.0f / r : r;
    }
    if (x < 0.0f && !integral) {
        return uf_bits_f32(0x7fc00000u);
    }
    float r = uf_expf(y * uf_logf(uf_bits_f32(uf_f32_bits(x) & 0x7fffffffu)));
    if (x < 0.0f && (yi & 1)) {
        r = -r;
    }
    return r;
}

// fmod without libm, exact as std::fmod: both magnitudes as 24-bit integers times powers of two
// (subnormals normalised), the dividend's reduced by long division one exponent step at a time;
// the remainder is a float (below |b|, on b's grid) and takes a's sign.
static float uf_fmodf(float a, float b) {
    uint32_t ua = uf_f32_bits(a), ub = uf_f32_bits(b), sign = ua & 0x80000000u;
    ua &= 0x7fffffffu;
    ub &= 0x7fffffffu;
    if (ub == 0 || ua >= 0x7f800000u || ub > 0x7f800000u) {
        return uf_bits_f32(0x7fc00000u);   // x % 0, inf % y, NaN: NaN
    }
    if (ua < ub) {
        return a;   // |a| < |b| (b infinite too)
    }
    int ea = (int)(ua >> 23), eb = (int)(ub >> 23);
    uint32_t r = ea ? (ua & 0x7fffffu) | 0x800000u : ua, mb = eb ? (ub & 0x7fffffu) | 0x800000u : ub;
    ea = ea ? ea : 1;
    eb = eb ? eb : 1;
    for (; r < 0x800000u; r <<= 1) {
        ea--;
    }
    for (; mb < 0x800000u; mb <<= 1) {
        eb--;
    }
    for (int k = ea - eb; k > 0; k--) {   // r < 2 mb < 2^25 throughout
        if (r >= mb) {
            r -= mb;
        }
        r <<= 1;
    }
    if (r >= mb) {
        r -= mb;
    }
    if (r == 0) {
        return uf_bits_f32(sign);
    }
    for (; r < 0x800000u; r <<= 1) {
        eb--;
    }
    return uf_bits_f32(sign | (eb >= 1 ? ((uint32_t)eb << 23) | (r & 0x7fffffu) : r >> (1 - eb)));
}

// The bits of x above and below its 12 low mantissa bits (Dekker's split: x = hi + lo exactly)
static void uf_split(float x, float *hi, float *lo) {
    float c = 4097.0f * x;
    *hi = c - (c - x);
    *lo = x - *hi;
}

// FLOOR_DIV as TFLM: floor of the quotient in double, without double: the float quotient's floor,
// less one where the quotient rounded up onto an integer f the exact a / b is below (the sign of
// a - f * b, the product exact as Dekker's two halves); a quotient underflowing to 0 floors to -1
// when negative.
static float uf_floor_divf(float a, float b) {
    float q = a / b, f = uf_floorf(q);
    float ab = uf_bits_f32(uf_f32_bits(b) & 0x7fffffffu);
    if (q == 0.0f) {
        return a != 0.0f && ab <= 3.4028235e38f && (a < 0.0f) != (b < 0.0f) ? -1.0f : q;
    }
    if (f == q && f > -16777216.0f && f < 16777216.0f && ab > 1e-24f && ab < 1e24f) {
        float fh, fl, bh, bl, p = f * b;
        uf_split(f, &fh, &fl);
        uf_split(b, &bh, &bl);
        float e = ((fh * bh - p) + fh * bl + fl * bh) + fl * bl;
        float d = (a - p) - e;   // a - p is exact: p is within a factor 2 of a
        if (b > 0.0f ? d < 0.0f : d > 0.0f) {
            f -= 1.0f;
        }
    }
    return f;
}

// FLOOR_MOD as TFLM: fmod, moved by b when nonzero with the other sign than b
static float uf_floor_modf(float a, float b) {
    float t = uf_fmodf(a, b);
    return t != 0.0f && (b < 0.0f) != (t < 0.0f) ? t + b : t;
}

void uf_binary_f32(const void *x1, const void *x2, float *out, const void *desc, int op,
                   float lo, float hi) {
    UF_WALK2(desc, {
        float u = uf_ld_f32(x1, (size_t)a), w = uf_ld_f32(x2, (size_t)b), v;
        switch (op) {
            case 0: v = u + w; break;
            case 1: v = u - w; break;
            case 2: v = u * w; break;
            case 3: v = u > w ? u : w; break;
            case 4: v = u < w ? u : w; break;
            case 5: v = u / w; break;
            case 6: v = (u - w) * (u - w); break;
            // onnxruntime's Max/Min: a NaN operand gives NaN (TFLM's 3/4 take w when u is NaN)
            case 8: v = u != u ? u : (w != w ? w : (u > w ? u : w)); break;
            case 9: v = u != u ? u : (w != w ? w : (u < w ? u : w)); break;
            case 10: v = uf_floor_divf(u, w); break;
            case 11: v = uf_floor_modf(u, w); break;
            default: v = uf_powf(u, w); break;
        }
        if (op < 3 || op == 5) {
            v = v < lo ? lo : (v > hi ? hi : v);
        }
        out[o] = v;
    })
}

void uf_maxmin_q(const void *x1, const void *x2, void *out, const void *desc, int esize,
                 int is_max) {
    UF_WALK2(desc, {
        int32_t u = uf_ld_q(x1, a, esize), w = uf_ld_q(x2, b, esize);
        uf_st_q(out, o, esize, is_max ? (u > w ? u : w) : (u < w ? u : w));
    })
}

// int32 ADD, SUB, MUL, MAXIMUM, MINIMUM, DIV and SQUARED_DIFFERENCE (op 0..6), wrapping
// as TFLM's int32 arithmetic; either operand may be a constant.
static int32_t op_i32(int32_t a, int32_t b, int op) {
    uint32_t diff;
    switch (op) {
        case 0: return (int32_t)((uint32_t)a + (uint32_t)b);
        case 1: return (int32_t)((uint32_t)a - (uint32_t)b);
        case 2: return (int32_t)((uint32_t)a * (uint32_t)b);
        case 3: return a > b ? a : b;
        case 4: return a < b ? a : b;
        case 6:
            diff = (uint32_t)a - (uint32_t)b;
            return (int32_t)(diff * diff);
        default:
            if (b == 0) {
                return 0;   // TFLM would fault; the bake rejects a constant 0
            }
            if (a == INT32_MIN && b == -1) {
                return INT32_MIN;
            }
            return a / b;
    }
}

void uf_binary_i32(const void *x1, const void *x2, int32_t *out, const void *d, int op) {
    UF_WALK2(d, {
        out[o] = op_i32(uf_ld_i32(x1, (size_t)a), uf_ld_i32(x2, (size_t)b), op);
    })
}

// GREATER, GREATER_EQUAL, LESS, LESS_EQUAL, EQUAL, NOT_EQUAL (op 0..5) with broadcasting,
// bool bytes (0 or 1) out. kind 0: int8/int16/int32/bool values compared raw (esize 1, 2, 4);
// kind 1: float32; kind 2: int8 rescaled as TFLM does, each input ((x + off) << 8) times its
// scale as a multiplier smaller than one.
static uint8_t cmp_result(int op, int gt, int eq, int lt) {
    switch (op) {
        case 0: return (uint8_t)gt;
        case 1: return (uint8_t)(gt || eq);
        case 2: return (uint8_t)lt;
        case 3: return (uint8_t)(lt || eq);
        case 4: return (uint8_t)eq;
        default: return (uint8_t)!eq;
    }
}

void uf_compare_q(const void *x1, const void *x2, uint8_t *out, const void *desc, int esize, int op,
                  int kind, int off1, int32_t m1, int sh1, int off2, int32_t m2, int sh2) {
    if (kind == 1) {
        UF_WALK2(desc, {
            float u = uf_ld_f32(x1, (size_t)a), w = uf_ld_f32(x2, (size_t)b);
            out[o] = cmp_result(op, u > w, u == w, u < w);
        })
        return;
    }
    UF_WALK2(desc, {
        int32_t u, w;
        if (esize == 4) {
            u = uf_ld_i32(x1, (size_t)a);
            w = uf_ld_i32(x2, (size_t)b);
        } else {
            u = uf_ld_q(x1, a, esize);
            w = uf_ld_q(x2, b, esize);
        }
        if (kind == 2) {
            u = scale_down((int32_t)((uint32_t)(u + off1) << 8), m1, sh1);
            w = scale_down((int32_t)((uint32_t)(w + off2) << 8), m2, sh2);
        }
        out[o] = cmp_result(op, u > w, u == w, u < w);
    })
}

// ADD_N int8 as TFLM's reference, one call per input: acc sums x - zp exactly (the first call adds
// TFLM's starting -zp, off being -zp), the last scales the sum: every input's (x - zp) << 20 times
// the exact input multiplier 1/2 is (x - zp) << 19, so TFLM's int32 sum is acc << 19, wrapping.
void uf_add_n_s8(const void *x, int32_t *acc, int8_t *out, int n, int stage, int off, int32_t mo,
                 int sho, int ooff, int lo, int hi) {
    for (int i = 0; i < n; i++) {
        int32_t v = uf_ld_q(x, i, 1) + off + (stage == 0 ? off : acc[i]);
        if (stage < 2) {
            acc[i] = v;
        } else {
            out[i] = (int8_t)uf_clamp(scale_down((int32_t)((uint32_t)v << 19), mo, sho) + ooff, lo, hi);
        }
    }
}
