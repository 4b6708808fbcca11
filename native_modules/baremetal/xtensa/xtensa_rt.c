// Run-time helpers the LLVM Xtensa backend calls and Debian has no Xtensa
// libgcc/compiler-rt for. The ESP32 FPU has no divide instruction, so float
// division is __divsf3: here correctly rounded (IEEE 754 binary32, round to
// nearest even, subnormals kept), done with integer long division so the
// result is the same bits x86's divss gives (the TFLM oracle). 64-bit
// multiplies and shifts are inlined by LLVM (mull/muluh/mulsh, ssl/src);
// nothing else is needed by native_modules/src.
#include <stdint.h>

typedef union {
    float f;
    uint32_t u;
} uf_bits;

#ifdef UF_RT_HOST_TEST
#define UF_DIVSF3 uf_divsf3_test
#else
#define UF_DIVSF3 __divsf3
#endif

// A finite nonzero operand's significand m with its implicit bit, in [2^23, 2^24), and
// its exponent e (a subnormal's shifted up, e going below 1).
static void normalise(uint32_t *m, int *e) {
    if (*e == 0) {
        *e = 1;
        while (!(*m & 0x800000u)) {
            *m <<= 1;
            (*e)--;
        }
    } else {
        *m |= 0x800000u;
    }
}

float UF_DIVSF3(float a, float b) {
    uf_bits x, y, r;
    x.f = a;
    y.f = b;
    uint32_t sign = (x.u ^ y.u) & 0x80000000u;
    int ea = (x.u >> 23) & 0xff, eb = (y.u >> 23) & 0xff;
    uint32_t ma = x.u & 0x7fffff, mb = y.u & 0x7fffff;
    if (ea == 0xff || eb == 0xff) {
        if ((ea == 0xff && ma) || (eb == 0xff && mb) || (ea == 0xff && eb == 0xff)) {
            r.u = 0x7fc00000u;  // NaN in, or inf/inf
        } else {
            r.u = sign | (ea == 0xff ? 0x7f800000u : 0);  // inf/x, x/inf
        }
        return r.f;
    }
    if (eb == 0 && mb == 0) {
        r.u = (ea == 0 && ma == 0) ? 0x7fc00000u : (sign | 0x7f800000u);  // 0/0, x/0
        return r.f;
    }
    if (ea == 0 && ma == 0) {
        r.u = sign;
        return r.f;
    }
    // Normalise both significands to [2^23, 2^24).
    normalise(&ma, &ea);
    normalise(&mb, &eb);
    int e = ea - eb + 127;  // biased exponent of a quotient in [1, 2)
    if (ma < mb) {
        ma <<= 1;
        e--;
    }
    // 26 quotient bits: 24 significant, a round bit and one more; remainder -> sticky.
    uint32_t q = 0, rem = ma;
    for (int i = 0; i < 26; i++) {
        q <<= 1;
        if (rem >= mb) {
            rem -= mb;
            q |= 1;
        }
        rem <<= 1;
    }
    uint32_t sticky = rem != 0;
    if (e >= 0xff) {
        r.u = sign | 0x7f800000u;
        return r.f;
    }
    if (e <= 0) {  // subnormal result: shift out the bits below 2^-149
        int sh = 1 - e;
        if (sh >= 27) {
            sticky |= q != 0;
            q = 0;
        } else {
            sticky |= (q & ((1u << sh) - 1)) != 0;
            q >>= sh;
        }
        e = 0;
    }
    uint32_t mant = q >> 2, round = (q >> 1) & 1;
    sticky |= q & 1;
    if (round && (sticky || (mant & 1))) {
        mant++;  // a carry into bit 23/24 bumps the exponent, up to inf
    }
    r.u = sign | (e == 0 ? mant : ((uint32_t)(e - 1) << 23) + mant);
    return r.f;
}

#if defined(UF_RT_MULDI3) || defined(UF_RT_HOST_TEST)
// 64-bit multiply for cores without MUL32_HIGH (QEMU's de233_fpu; the ESP32
// has it and the natmod uses mulsh/muluh inline). Built from 16x16 products so
// that nothing here is itself a 64-bit multiply.
static uint32_t mulhu32(uint32_t a, uint32_t b) {
    uint32_t al = a & 0xFFFF, ah = a >> 16, bl = b & 0xFFFF, bh = b >> 16;
    uint32_t ll = al * bl, lh = al * bh, hl = ah * bl;
#ifndef UF_RT_HOST_TEST
    // LLVM recognises this as a 32x32->64 multiply and would call __muldi3
    // from __muldi3: hide the partial products from it.
    __asm__("" : "+r"(ll), "+r"(lh), "+r"(hl));
#endif
    uint32_t mid = (ll >> 16) + (lh & 0xFFFF) + (hl & 0xFFFF);
    return ah * bh + (lh >> 16) + (hl >> 16) + (mid >> 16);
}

#ifdef UF_RT_HOST_TEST
#define UF_MULDI3 uf_muldi3_test
#else
#define UF_MULDI3 __muldi3
#endif
#ifndef UF_RT_HOST_TEST
// Calls, so the harness can tell how many instructions the ESP32 (mulsh/muluh
// inline) would not execute.
volatile uint32_t uf_rt_muldi3_calls;
#endif

long long UF_MULDI3(long long a, long long b) {
#ifndef UF_RT_HOST_TEST
    uf_rt_muldi3_calls++;
#endif
    uint32_t a0 = (uint32_t)a, a1 = (uint32_t)((unsigned long long)a >> 32);
    uint32_t b0 = (uint32_t)b, b1 = (uint32_t)((unsigned long long)b >> 32);
    uint32_t hi = mulhu32(a0, b0) + a0 * b1 + a1 * b0;
    return (long long)(((unsigned long long)hi << 32) | (uint32_t)(a0 * b0));
}
#endif
