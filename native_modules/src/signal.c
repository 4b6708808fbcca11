// TFLite Micro's Signal ops (the audio front end), bit-exact with TFLM's
// signal/src: the same C integer types, so uint32/uint64 arithmetic and int16
// stores wrap as there. The RFFT is kissfft's 16-bit fixed point (what TFLM's
// int16 SignalRfft runs), its plan, permutation and twiddles baked by
// upyflow_tools/lower/families/signal.py (layout in kernels_pure/signal.py).
// The window, the packed tables and LUTs may be constants of the weights blob,
// at any address: they are read through load.h.
#include "kernels.h"
#include "load.h"

static int msb32(uint32_t x) {   // bit length, x > 0
#if defined(__GNUC__)
    return 32 - __builtin_clz(x);
#endif
    int n = 0;
    while (x) {
        x >>= 1;
        n++;
    }
    return n;
}

static int msb64(uint64_t x) {
    return (x >> 32) ? 32 + msb32((uint32_t)(x >> 32)) : msb32((uint32_t)x);
}

void uf_signal_window_s16(const int16_t *x, const void *w, int16_t *out, int n, int wn,
                          int shift) {
    for (int i = 0, j = 0; i < n; i++) {
        int32_t v = ((int32_t)x[i] * uf_ld_i16(w, (size_t)j)) >> shift;
        out[i] = (int16_t)(v < INT16_MIN ? INT16_MIN : (v > INT16_MAX ? INT16_MAX : v));
        if (++j == wn) {
            j = 0;
        }
    }
}

void uf_signal_fft_auto_scale_s16(const int16_t *x, int16_t *out, int32_t *scale, int n) {
    int16_t max = 0;   // as TFLM's MaxAbs16: -(-32768) wraps to -32768
    for (int i = 0; i < n; i++) {
        int16_t v = x[i];
        if (v > max) {
            max = v;
        } else if (-v > max) {
            max = (int16_t)-v;
        }
    }
    uint32_t m = (uint32_t)(int32_t)max;
    int bits = 15 - (m ? msb32(m) : 32);
    if (bits < 0) {
        bits = 0;
    }
    for (int i = 0; i < n; i++) {
        out[i] = (int16_t)(x[i] * (1 << bits));
    }
    *scale = bits;
}

// kissfft's fixed-point helpers (FRACBITS 15)
#define SROUND(v) ((int16_t)(((v) + (1 << 14)) >> 15))
#define FIXDIV(v, k) ((int16_t)SROUND((int32_t)(v) * (32767 / (k))))

// The twiddles tw are (re, im) int16 pairs of the constant tables.
static void bfly2(int16_t *f, int fstride, int m, const void *tw) {
    for (int k = 0; k < m; k++) {
        int16_t *a = f + 2 * k, *b = a + 2 * m;
        size_t w = 2 * (size_t)k * fstride;
        int32_t w0 = uf_ld_i16(tw, w), w1 = uf_ld_i16(tw, w + 1);
        int16_t ar = FIXDIV(a[0], 2), ai = FIXDIV(a[1], 2);
        int16_t br = FIXDIV(b[0], 2), bi = FIXDIV(b[1], 2);
        int16_t tr = SROUND((int32_t)br * w0 - (int32_t)bi * w1);
        int16_t ti = SROUND((int32_t)br * w1 + (int32_t)bi * w0);
        b[0] = (int16_t)(ar - tr);
        b[1] = (int16_t)(ai - ti);
        a[0] = (int16_t)(ar + tr);
        a[1] = (int16_t)(ai + ti);
    }
}

static void bfly4(int16_t *f, int fstride, int m, const void *tw) {
    for (int k = 0; k < m; k++) {
        int16_t *p0 = f + 2 * k, *p1 = p0 + 2 * m, *p2 = p1 + 2 * m, *p3 = p2 + 2 * m;
        int16_t r0 = FIXDIV(p0[0], 4), i0 = FIXDIV(p0[1], 4);
        int16_t r1 = FIXDIV(p1[0], 4), i1 = FIXDIV(p1[1], 4);
        int16_t r2 = FIXDIV(p2[0], 4), i2 = FIXDIV(p2[1], 4);
        int16_t r3 = FIXDIV(p3[0], 4), i3 = FIXDIV(p3[1], 4);
        size_t j1 = 2 * (size_t)k * fstride, j2 = 2 * j1, j3 = 3 * j1;
        int32_t w1r = uf_ld_i16(tw, j1), w1i = uf_ld_i16(tw, j1 + 1);
        int32_t w2r = uf_ld_i16(tw, j2), w2i = uf_ld_i16(tw, j2 + 1);
        int32_t w3r = uf_ld_i16(tw, j3), w3i = uf_ld_i16(tw, j3 + 1);
        int16_t s0r = SROUND((int32_t)r1 * w1r - (int32_t)i1 * w1i);
        int16_t s0i = SROUND((int32_t)r1 * w1i + (int32_t)i1 * w1r);
        int16_t s1r = SROUND((int32_t)r2 * w2r - (int32_t)i2 * w2i);
        int16_t s1i = SROUND((int32_t)r2 * w2i + (int32_t)i2 * w2r);
        int16_t s2r = SROUND((int32_t)r3 * w3r - (int32_t)i3 * w3i);
        int16_t s2i = SROUND((int32_t)r3 * w3i + (int32_t)i3 * w3r);
        int16_t s5r = (int16_t)(r0 - s1r), s5i = (int16_t)(i0 - s1i);
        r0 = (int16_t)(r0 + s1r);
        i0 = (int16_t)(i0 + s1i);
        int16_t s3r = (int16_t)(s0r + s2r), s3i = (int16_t)(s0i + s2i);
        int16_t s4r = (int16_t)(s0r - s2r), s4i = (int16_t)(s0i - s2i);
        p2[0] = (int16_t)(r0 - s3r);
        p2[1] = (int16_t)(i0 - s3i);
        p0[0] = (int16_t)(r0 + s3r);
        p0[1] = (int16_t)(i0 + s3i);
        p1[0] = (int16_t)(s5r + s4i);
        p1[1] = (int16_t)(s5i - s4r);
        p3[0] = (int16_t)(s5r - s4i);
        p3[1] = (int16_t)(s5i + s4r);
    }
}

// One frame: out gets the n-point complex FFT of the zero-padded input read as
// (re, im) pairs, then kiss_fftr's split into n + 1 bins, in place.
// t: [stages, (radix, m) per stage, permutation, twiddles, super twiddles] (int16).
static void rfft_frame(const int16_t *x, int n_in, const void *t, int16_t *out, int n) {
    int ns = uf_ld_i16(t, 0);
    size_t perm = 1 + 2 * (size_t)ns, tw = perm + (size_t)n, sup = tw + 2 * (size_t)n;
    const void *twp = (const uint8_t *)t + 2 * tw;
    for (int k = 0; k < n; k++) {
        int j = 2 * uf_ld_i16(t, perm + (size_t)k);
        out[2 * k] = j < n_in ? x[j] : 0;
        out[2 * k + 1] = j + 1 < n_in ? x[j + 1] : 0;
    }
    for (int s = ns - 1; s >= 0; s--) {
        int p = uf_ld_i16(t, 1 + 2 * (size_t)s), m = uf_ld_i16(t, 2 + 2 * (size_t)s);
        int fstride = n / (p * m);
        for (int b = 0; b < n; b += p * m) {
            if (p == 4) {
                bfly4(out + 2 * b, fstride, m, twp);
            } else {
                bfly2(out + 2 * b, fstride, m, twp);
            }
        }
    }
    int16_t dr = FIXDIV(out[0], 2), di = FIXDIV(out[1], 2);
    out[0] = (int16_t)(dr + di);
    out[1] = 0;
    out[2 * n] = (int16_t)(dr - di);
    out[2 * n + 1] = 0;
    for (int k = 1; k <= n / 2; k++) {
        int16_t *a = out + 2 * k, *c = out + 2 * (n - k);
        int16_t kr = FIXDIV(a[0], 2), ki = FIXDIV(a[1], 2);
        int16_t nr = FIXDIV(c[0], 2), ni = FIXDIV((int16_t)-c[1], 2);
        int16_t f1r = (int16_t)(kr + nr), f1i = (int16_t)(ki + ni);
        int16_t f2r = (int16_t)(kr - nr), f2i = (int16_t)(ki - ni);
        size_t w = sup + 2 * (size_t)(k - 1);
        int32_t w0 = uf_ld_i16(t, w), w1 = uf_ld_i16(t, w + 1);
        int16_t twr = SROUND((int32_t)f2r * w0 - (int32_t)f2i * w1);
        int16_t twi = SROUND((int32_t)f2r * w1 + (int32_t)f2i * w0);
        a[0] = (int16_t)((f1r + twr) >> 1);
        a[1] = (int16_t)((f1i + twi) >> 1);
        c[0] = (int16_t)((f1r - twr) >> 1);
        c[1] = (int16_t)((twi - f1i) >> 1);
    }
}

void uf_signal_rfft_s16(const int16_t *x, const void *t, int16_t *out, int frames, int n_in,
                        int n) {
    for (int f = 0; f < frames; f++) {
        rfft_frame(x + (ptrdiff_t)f * n_in, n_in, t, out + (ptrdiff_t)f * (2 * n + 2), n);
    }
}

void uf_signal_energy(const int16_t *x, uint32_t *out, int start, int end) {
    for (int i = start; i < end; i++) {
        int32_t r = x[2 * i], m = x[2 * i + 1];
        out[i] = (uint32_t)(r * r) + (uint32_t)(m * m);
    }
}

// t (int16): weights and unweights (nw each), then per channel 0..nch its
// frequency starts, weight starts and widths.
void uf_signal_filter_bank(const uint32_t *x, const void *t, void *out, int nch, int nw) {
    size_t fs = 2 * (size_t)nw, ws = fs + (size_t)nch + 1, wd = ws + (size_t)nch + 1;
    uint64_t acc = 0;
    for (int i = 0; i <= nch; i++) {
        uint64_t unw = 0;
        const uint32_t *xi = x + uf_ld_i16(t, fs + (size_t)i);
        size_t w = (size_t)uf_ld_i16(t, ws + (size_t)i), uw = w + (size_t)nw;
        int width = uf_ld_i16(t, wd + (size_t)i);
        for (int j = 0; j < width; j++) {
            uint64_t v = xi[j];
            acc += (uint64_t)(int64_t)uf_ld_i16(t, w + (size_t)j) * v;
            unw += (uint64_t)(int64_t)uf_ld_i16(t, uw + (size_t)j) * v;
        }
        if (i) {   // as two words: the arena aligns tensors to 4 bytes, not 8
            uint32_t *o = (uint32_t *)out + 2 * (i - 1);
            o[0] = (uint32_t)acc;
            o[1] = (uint32_t)(acc >> 32);
        }
        acc = unw;
    }
}

static uint32_t sqrt64(uint64_t num) {   // TFLM's Sqrt64 / Sqrt32
    if (num == 0) {
        return 0;
    }
    int width = (num >> 32) ? 64 : 32;
    int top = width - 1;
    int mbn = (width - msb64(num)) | 1;
    uint64_t bit = (uint64_t)1 << (top - mbn), res = 0;
    for (int it = (top - mbn) / 2 + 1; it > 0; it--) {
        if (num >= res + bit) {
            num -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    if (num > res && res != (width == 32 ? 0xFFFFu : 0xFFFFFFFFu)) {
        res++;
    }
    return (uint32_t)res;
}

void uf_signal_filter_bank_sqrt(const void *x, const void *bits, uint32_t *out, int n) {
    int s = uf_ld_i32(bits, 0);
    for (int i = 0; i < n; i++) {
        const uint32_t *w = (const uint32_t *)x + 2 * i;   // 4-aligned, as above
        out[i] = s >= 0 && s < 32 ? sqrt64(((uint64_t)w[1] << 32) | w[0]) >> s : 0;   // TFLM: undefined beyond
    }
}

void uf_signal_spectral_subtraction(const uint32_t *x, uint32_t *out, uint32_t *noise,
                                    uint32_t *state, int n, int sm, int oms, int alt_sm,
                                    int alt_oms, int min_rem, int sm_bits, int ss_bits,
                                    int clamping) {
    for (int i = 0; i < n; i++) {
        uint32_t s = (uint32_t)((i & 1) ? alt_sm : sm), o = (uint32_t)((i & 1) ? alt_oms : oms);
        uint32_t up = x[i] << sm_bits;
        state[i] = (uint32_t)(((uint64_t)up * s + (uint64_t)state[i] * o) >> ss_bits);
        uint32_t est = state[i];
        if (est > up) {
            est = up;
            if (clamping) {
                state[i] = up;
            }
        }
        uint32_t floor = (uint32_t)(((uint64_t)x[i] * (uint32_t)min_rem) >> ss_bits);
        uint32_t sub = (up - est) >> sm_bits;
        out[i] = sub > floor ? sub : floor;
        noise[i] = state[i];
    }
}

static int16_t wide_dynamic(uint32_t x, const void *lut) {
    if (x <= 2) {
        return (int16_t)uf_ld_i16(lut, x);
    }
    int iv = msb32(x);
    size_t at = 4 * (size_t)iv - 6;
    int32_t l0 = uf_ld_i16(lut, at), l1 = uf_ld_i16(lut, at + 1), l2 = uf_ld_i16(lut, at + 2);
    int16_t frac = (int16_t)(((iv < 11) ? (x << (11 - iv)) : (x >> (iv - 11))) & 0x3FF);
    // int32 arithmetic as TFLM's, done in uint32 where C's int32 could overflow
    int32_t r = (l2 * frac) >> 5;
    r = (int32_t)((uint32_t)r + ((uint32_t)l1 << 5));
    r = (int32_t)((uint32_t)r * (uint32_t)(int32_t)frac);
    r = (int32_t)((uint32_t)r + (1u << 14)) >> 15;
    return (int16_t)(r + l0);
}

void uf_signal_pcan(const uint32_t *x, const uint32_t *noise, const void *lut, uint32_t *out,
                    int n, int snr_shift) {
    for (int i = 0; i < n; i++) {
        uint32_t gain = (uint32_t)(int32_t)wide_dynamic(noise[i], lut);
        uint32_t snr = (uint32_t)(((uint64_t)x[i] * gain) >> snr_shift);
        // PcanShrink, kPcanSnrBits 12 and kPcanOutputBits 6
        out[i] = snr < (2u << 12) ? (snr * snr) >> 20 : (snr >> 6) - (1u << 6);
    }
}

void uf_signal_filter_bank_log(const uint32_t *x, const void *lut, int16_t *out, int n,
                               int out_scale, int bits) {
    for (int i = 0; i < n; i++) {
        uint32_t v = x[i] << bits;
        if (v <= 1) {
            out[i] = 0;
            continue;
        }
        uint32_t e = (uint32_t)msb32(v) - 1;
        int32_t frac = (int32_t)(v - ((uint32_t)1 << e));
        frac = e < 16 ? frac << (16 - e) : frac >> (e - 16);
        uint32_t seg = (uint32_t)frac >> 9;
        int32_t c0 = uf_ld_i16(lut, seg), c1 = uf_ld_i16(lut, seg + 1);
        int32_t rel = ((c1 - c0) * (frac - (int32_t)(512 * seg))) >> 16;
        uint32_t log2 = (e << 16) + (uint32_t)(frac + c0 + rel);
        uint32_t loge = (uint32_t)(((uint64_t)45426 * log2 + 32768) >> 16);
        uint32_t scaled = ((uint32_t)out_scale * loge + 32768) >> 16;
        out[i] = (int16_t)(scaled < 32767u ? scaled : 32767u);
    }
}
