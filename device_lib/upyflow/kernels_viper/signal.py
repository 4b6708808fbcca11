# Viper TFLM Signal kernels: the RFFT (kissfft 16-bit fixed point; two thirds of the
# front end's pure time), the window and the FFT auto-scale, bit-exact with
# kernels_pure/signal.py (read it for the maths). The other Signal ops (uint64
# arithmetic) stay pure. 32-bit rules as in __init__.py: every intermediate fits
# int32 (int16 x int16 products, sums of two of them); constant tables load byte by
# byte (a weights buffer in ROM need not be aligned); the arena's int16 tensors use
# ptr16 (loads zero-extend: (v ^ 0x8000) - 0x8000).
import micropython

KERNELS = ("signal_window_s16", "signal_fft_auto_scale_s16", "signal_rfft_s16")


@micropython.viper
def signal_window_s16(args):
    xp = ptr16(args[0])
    wp = ptr8(args[1])
    yp = ptr16(args[2])
    n = int(args[3])
    wn = int(args[4])
    shift = int(args[5])
    j = 0
    for i in range(n):
        w = ((wp[2 * j] | (wp[2 * j + 1] << 8)) ^ 0x8000) - 0x8000
        v = (((xp[i] ^ 0x8000) - 0x8000) * w) >> shift
        if v < -32768:
            v = -32768
        elif v > 32767:
            v = 32767
        yp[i] = v
        j += 1
        if j == wn:
            j = 0


@micropython.viper
def signal_fft_auto_scale_s16(args):
    xp = ptr16(args[0])
    yp = ptr16(args[1])
    sp = ptr32(args[2])
    n = int(args[3])
    m = 0   # an int16 as in TFLM's MaxAbs16: -(-32768) wraps to -32768
    for i in range(n):
        v = (xp[i] ^ 0x8000) - 0x8000
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
        yp[i] = xp[i] << bits
    sp[0] = bits


@micropython.viper
def signal_rfft_s16(args):
    xp = ptr16(args[0])
    tp = ptr8(args[1])
    f = ptr16(args[2])
    frames = int(args[3])
    n_in = int(args[4])
    n = int(args[5])
    ns = tp[0] | (tp[1] << 8)
    pp = 1 + 2 * ns          # table index of the permutation, the twiddles, the super twiddles
    tw = pp + n
    sup = tw + 2 * n
    xo = 0
    oo = 0
    for fr in range(frames):
        for k in range(n):
            q = 2 * (pp + k)
            j = xo + 2 * (tp[q] | (tp[q + 1] << 8))
            o = oo + 2 * k
            f[o] = 0
            f[o + 1] = 0
            if j < xo + n_in:
                f[o] = xp[j]
            if j + 1 < xo + n_in:
                f[o + 1] = xp[j + 1]
        s = ns - 1
        while s >= 0:
            q = 2 * (1 + 2 * s)
            p = tp[q] | (tp[q + 1] << 8)
            m = tp[q + 2] | (tp[q + 3] << 8)
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
                        r0 = (((f[a0] ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
                        i0 = (((f[a0 + 1] ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
                        r1 = (((f[a1] ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
                        i1 = (((f[a1 + 1] ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
                        r2 = (((f[a2] ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
                        i2 = (((f[a2 + 1] ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
                        r3 = (((f[a3] ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
                        i3 = (((f[a3 + 1] ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
                        w = tw + 2 * k * fstride
                        wr = ((tp[2 * w] | (tp[2 * w + 1] << 8)) ^ 0x8000) - 0x8000
                        wi = ((tp[2 * w + 2] | (tp[2 * w + 3] << 8)) ^ 0x8000) - 0x8000
                        s0r = ((((r1 * wr - i1 * wi + 16384) >> 15) + 32768) & 0xFFFF) - 32768
                        s0i = ((((r1 * wi + i1 * wr + 16384) >> 15) + 32768) & 0xFFFF) - 32768
                        w = tw + 4 * k * fstride
                        wr = ((tp[2 * w] | (tp[2 * w + 1] << 8)) ^ 0x8000) - 0x8000
                        wi = ((tp[2 * w + 2] | (tp[2 * w + 3] << 8)) ^ 0x8000) - 0x8000
                        s1r = ((((r2 * wr - i2 * wi + 16384) >> 15) + 32768) & 0xFFFF) - 32768
                        s1i = ((((r2 * wi + i2 * wr + 16384) >> 15) + 32768) & 0xFFFF) - 32768
                        w = tw + 6 * k * fstride
                        wr = ((tp[2 * w] | (tp[2 * w + 1] << 8)) ^ 0x8000) - 0x8000
                        wi = ((tp[2 * w + 2] | (tp[2 * w + 3] << 8)) ^ 0x8000) - 0x8000
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
                        f[a2] = r0 - s3r          # int16 stores wrap as kissfft's do
                        f[a2 + 1] = i0 - s3i
                        f[a0] = r0 + s3r
                        f[a0 + 1] = i0 + s3i
                        f[a1] = s5r + s4i
                        f[a1 + 1] = s5i - s4r
                        f[a3] = s5r - s4i
                        f[a3 + 1] = s5i + s4r
                    else:
                        ar = (((f[a0] ^ 0x8000) - 0x8000) * 16383 + 16384) >> 15
                        ai = (((f[a0 + 1] ^ 0x8000) - 0x8000) * 16383 + 16384) >> 15
                        br = (((f[a1] ^ 0x8000) - 0x8000) * 16383 + 16384) >> 15
                        bi = (((f[a1 + 1] ^ 0x8000) - 0x8000) * 16383 + 16384) >> 15
                        w = tw + 2 * k * fstride
                        wr = ((tp[2 * w] | (tp[2 * w + 1] << 8)) ^ 0x8000) - 0x8000
                        wi = ((tp[2 * w + 2] | (tp[2 * w + 3] << 8)) ^ 0x8000) - 0x8000
                        tr = ((((br * wr - bi * wi + 16384) >> 15) + 32768) & 0xFFFF) - 32768
                        ti = ((((br * wi + bi * wr + 16384) >> 15) + 32768) & 0xFFFF) - 32768
                        f[a1] = ar - tr
                        f[a1 + 1] = ai - ti
                        f[a0] = ar + tr
                        f[a0 + 1] = ai + ti
                b += p * m
            s -= 1
        # kiss_fftr's split into n + 1 bins, in place
        r = (((f[oo] ^ 0x8000) - 0x8000) * 16383 + 16384) >> 15
        i = (((f[oo + 1] ^ 0x8000) - 0x8000) * 16383 + 16384) >> 15
        f[oo] = r + i
        f[oo + 1] = 0
        f[oo + 2 * n] = r - i
        f[oo + 2 * n + 1] = 0
        k = 1
        while 2 * k <= n:
            a = oo + 2 * k
            c = oo + 2 * (n - k)
            kr = (((f[a] ^ 0x8000) - 0x8000) * 16383 + 16384) >> 15
            ki = (((f[a + 1] ^ 0x8000) - 0x8000) * 16383 + 16384) >> 15
            nr = (((f[c] ^ 0x8000) - 0x8000) * 16383 + 16384) >> 15
            ni = ((((0 - ((f[c + 1] ^ 0x8000) - 0x8000) + 32768) & 0xFFFF) - 32768) * 16383 + 16384) >> 15
            f1r = (((kr + nr) + 32768) & 0xFFFF) - 32768
            f1i = (((ki + ni) + 32768) & 0xFFFF) - 32768
            f2r = (((kr - nr) + 32768) & 0xFFFF) - 32768
            f2i = (((ki - ni) + 32768) & 0xFFFF) - 32768
            w = sup + 2 * k - 2
            wr = ((tp[2 * w] | (tp[2 * w + 1] << 8)) ^ 0x8000) - 0x8000
            wi = ((tp[2 * w + 2] | (tp[2 * w + 3] << 8)) ^ 0x8000) - 0x8000
            twr = ((((f2r * wr - f2i * wi + 16384) >> 15) + 32768) & 0xFFFF) - 32768
            twi = ((((f2r * wi + f2i * wr + 16384) >> 15) + 32768) & 0xFFFF) - 32768
            f[a] = (f1r + twr) >> 1
            f[a + 1] = (f1i + twi) >> 1
            f[c] = (f1r - twr) >> 1
            f[c + 1] = (twi - f1i) >> 1
            k += 1
        xo += n_in
        oo += 2 * n + 2
