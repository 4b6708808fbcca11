# Viper TFLM Signal kernels: the RFFT (kissfft 16-bit fixed point; two thirds of the
# front end's pure time), the window and the FFT auto-scale, bit-exact with
# kernels_pure/signal.py (read it for the maths). The other Signal ops (uint64
# arithmetic) stay pure. 32-bit rules as in __init__.py: every intermediate fits
# int32 (int16 x int16 products, sums of two of them); constant tables load byte by
# byte (a weights buffer in ROM need not be aligned); the arena's int16 tensors use
# ptr16 (loads zero-extend: (v ^ 0x8000) - 0x8000).
# The RFFT's radix-4 and radix-2 butterflies and the real split (kissfft's kf_bfly4,
# kf_bfly2 and kiss_fftr) each scale their inputs and turn them by a twiddle in the
# same steps, written out per butterfly on purpose: the values stay in locals (a loop
# over a butterfly's inputs would store and reload them through out).
import micropython

KERNELS = ("signal_window_s16", "signal_fft_auto_scale_s16", "signal_rfft_s16")


# spec: signal_window_s16 {
@micropython.viper
def signal_window_s16(x: ptr16, w: ptr8, out: ptr16, n: int, wn: int, shift: int):
# }
    j = 0
    for i in range(n):
        wv = ((w[2 * j] | (w[2 * j + 1] << 8)) ^ 0x8000) - 0x8000
        v = (((x[i] ^ 0x8000) - 0x8000) * wv) >> shift
        # saturate inline, as svdf.py's and lstm.py's: a viper call per value costs more
        if v < -32768:
            v = -32768
        elif v > 32767:
            v = 32767
        out[i] = v
        j += 1
        if j == wn:
            j = 0


# spec: signal_fft_auto_scale_s16 {
@micropython.viper
def signal_fft_auto_scale_s16(x: ptr16, out: ptr16, scale: ptr32, n: int):
# }
    m = 0   # an int16 as in TFLM's MaxAbs16: -(-32768) wraps to -32768
    for i in range(n):
        v = (x[i] ^ 0x8000) - 0x8000
        if v > m:
            m = v
        elif 0 - v > m:
            m = (((0 - v) + 32768) & 0xFFFF) - 32768
    bits = 0
    if m > 0:   # 15 - bit length; a negative max has bit length 32: no scaling
        msb = 0
        while m:
            m = m >> 1
            msb += 1
        bits = 15 - msb
    for i in range(n):
        out[i] = x[i] << bits
    scale[0] = bits


# spec: signal_rfft_s16 {
@micropython.viper
def signal_rfft_s16(x: ptr16, t: ptr8, out: ptr16, frames: int, n_in: int, n: int):
# }
    ns = t[0] | (t[1] << 8)
    pp = 1 + 2 * ns          # table index of the permutation, the twiddles, the super twiddles
    tw = pp + n
    sup = tw + 2 * n
    xo = 0
    oo = 0
    for fr in range(frames):
        for k in range(n):
            q = 2 * (pp + k)
            j = xo + 2 * (t[q] | (t[q + 1] << 8))
            o = oo + 2 * k
            out[o] = 0
            out[o + 1] = 0
            if j < xo + n_in:
                out[o] = x[j]
            if j + 1 < xo + n_in:
                out[o + 1] = x[j + 1]
        s = ns - 1
        while s >= 0:
            q = 2 * (1 + 2 * s)
            p = t[q] | (t[q + 1] << 8)
            m = t[q + 2] | (t[q + 3] << 8)
            fstride = 1
            while fstride * p * m < n:
                fstride = fstride << 1
            b = 0
            while b < n:
                for k in range(m):
                    a0 = oo + 2 * (b + k)
                    a1 = a0 + 2 * m
                    if p == 4:
                        a2 = a1 + 2 * m
                        a3 = a2 + 2 * m
                        r0 = (((out[a0] ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
                        i0 = (((out[a0 + 1] ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
                        r1 = (((out[a1] ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
                        i1 = (((out[a1 + 1] ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
                        r2 = (((out[a2] ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
                        i2 = (((out[a2 + 1] ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
                        r3 = (((out[a3] ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
                        i3 = (((out[a3 + 1] ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
                        w = tw + 2 * k * fstride
                        wr = ((t[2 * w] | (t[2 * w + 1] << 8)) ^ 0x8000) - 0x8000
                        wi = ((t[2 * w + 2] | (t[2 * w + 3] << 8)) ^ 0x8000) - 0x8000
                        s0r = ((((r1 * wr - i1 * wi + 16384) >> 15) + 32768) & 0xFFFF) - 32768
                        s0i = ((((r1 * wi + i1 * wr + 16384) >> 15) + 32768) & 0xFFFF) - 32768
                        w = tw + 4 * k * fstride
                        wr = ((t[2 * w] | (t[2 * w + 1] << 8)) ^ 0x8000) - 0x8000
                        wi = ((t[2 * w + 2] | (t[2 * w + 3] << 8)) ^ 0x8000) - 0x8000
                        s1r = ((((r2 * wr - i2 * wi + 16384) >> 15) + 32768) & 0xFFFF) - 32768
                        s1i = ((((r2 * wi + i2 * wr + 16384) >> 15) + 32768) & 0xFFFF) - 32768
                        w = tw + 6 * k * fstride
                        wr = ((t[2 * w] | (t[2 * w + 1] << 8)) ^ 0x8000) - 0x8000
                        wi = ((t[2 * w + 2] | (t[2 * w + 3] << 8)) ^ 0x8000) - 0x8000
                        s2r = ((((r3 * wr - i3 * wi + 16384) >> 15) + 32768) & 0xFFFF) - 32768
                        s2i = ((((r3 * wi + i3 * wr + 16384) >> 15) + 32768) & 0xFFFF) - 32768
                        s5r = (((r0 - s1r) + 32768) & 0xFFFF) - 32768
                        s5i = (((i0 - s1i) + 32768) & 0xFFFF) - 32768
                        r0 = (((r0 + s1r) + 32768) & 0xFFFF) - 32768
                        i0 = (((i0 + s1i) + 32768) & 0xFFFF) - 32768
                        s3r = (((s0r + s2r) + 32768) & 0xFFFF) - 32768
                        s3i = (((s0i + s2i) + 32768) & 0xFFFF) - 32768
                        s4r = (((s0r - s2r) + 32768) & 0xFFFF) - 32768
                        s4i = (((s0i - s2i) + 32768) & 0xFFFF) - 32768
                        out[a2] = r0 - s3r          # int16 stores wrap as kissfft's do
                        out[a2 + 1] = i0 - s3i
                        out[a0] = r0 + s3r
                        out[a0 + 1] = i0 + s3i
                        out[a1] = s5r + s4i
                        out[a1 + 1] = s5i - s4r
                        out[a3] = s5r - s4i
                        out[a3 + 1] = s5i + s4r
                    else:
                        ar = (((out[a0] ^ 0x8000) - 0x8000) * 16383 + 16384) >> 15
                        ai = (((out[a0 + 1] ^ 0x8000) - 0x8000) * 16383 + 16384) >> 15
                        br = (((out[a1] ^ 0x8000) - 0x8000) * 16383 + 16384) >> 15
                        bi = (((out[a1 + 1] ^ 0x8000) - 0x8000) * 16383 + 16384) >> 15
                        w = tw + 2 * k * fstride
                        wr = ((t[2 * w] | (t[2 * w + 1] << 8)) ^ 0x8000) - 0x8000
                        wi = ((t[2 * w + 2] | (t[2 * w + 3] << 8)) ^ 0x8000) - 0x8000
                        tr = ((((br * wr - bi * wi + 16384) >> 15) + 32768) & 0xFFFF) - 32768
                        ti = ((((br * wi + bi * wr + 16384) >> 15) + 32768) & 0xFFFF) - 32768
                        out[a1] = ar - tr
                        out[a1 + 1] = ai - ti
                        out[a0] = ar + tr
                        out[a0 + 1] = ai + ti
                b += p * m
            s -= 1
        # kiss_fftr's split into n + 1 bins, in place
        r = (((out[oo] ^ 0x8000) - 0x8000) * 16383 + 16384) >> 15
        i = (((out[oo + 1] ^ 0x8000) - 0x8000) * 16383 + 16384) >> 15
        out[oo] = r + i
        out[oo + 1] = 0
        out[oo + 2 * n] = r - i
        out[oo + 2 * n + 1] = 0
        k = 1
        while 2 * k <= n:
            a = oo + 2 * k
            c = oo + 2 * (n - k)
            kr = (((out[a] ^ 0x8000) - 0x8000) * 16383 + 16384) >> 15
            ki = (((out[a + 1] ^ 0x8000) - 0x8000) * 16383 + 16384) >> 15
            nr = (((out[c] ^ 0x8000) - 0x8000) * 16383 + 16384) >> 15
            ni = ((((0 - ((out[c + 1] ^ 0x8000) - 0x8000) + 32768) & 0xFFFF) - 32768) * 16383 + 16384) >> 15
            f1r = (((kr + nr) + 32768) & 0xFFFF) - 32768
            f1i = (((ki + ni) + 32768) & 0xFFFF) - 32768
            f2r = (((kr - nr) + 32768) & 0xFFFF) - 32768
            f2i = (((ki - ni) + 32768) & 0xFFFF) - 32768
            w = sup + 2 * k - 2
            wr = ((t[2 * w] | (t[2 * w + 1] << 8)) ^ 0x8000) - 0x8000
            wi = ((t[2 * w + 2] | (t[2 * w + 3] << 8)) ^ 0x8000) - 0x8000
            twr = ((((f2r * wr - f2i * wi + 16384) >> 15) + 32768) & 0xFFFF) - 32768
            twi = ((((f2r * wi + f2i * wr + 16384) >> 15) + 32768) & 0xFFFF) - 32768
            out[a] = (f1r + twr) >> 1
            out[a + 1] = (f1i + twi) >> 1
            out[c] = (f1r - twr) >> 1
            out[c + 1] = (twi - f1i) >> 1
            k += 1
        xo += n_in
        oo += 2 * n + 2
