# TFLite Micro's Signal ops (the audio front end), bit-exact with TFLM's signal/src
# (C integer semantics: uint32/uint64 wrap, int16 stores wrap). Tables (kissfft plan
# and twiddles, filter bank, log LUT) are baked by upyflow_tools/lower/families/signal.py.

KERNELS = ("signal_window_s16", "signal_fft_auto_scale_s16", "signal_rfft_s16", "signal_energy",
           "signal_filter_bank", "signal_filter_bank_sqrt", "signal_spectral_subtraction",
           "signal_pcan", "signal_filter_bank_log")

_M32 = 0xFFFFFFFF
_M64 = 0xFFFFFFFFFFFFFFFF


def _msb(x):
    # MostSignificantBit32/64 for x > 0: the bit length
    n = 0
    while x >= 0x10000:
        x >>= 16
        n += 16
    while x:
        x >>= 1
        n += 1
    return n


def signal_window_s16(x, w, out, n, wn, shift):
    j = 0
    for i in range(n):
        v = (x[i] * w[j]) >> shift
        out[i] = -32768 if v < -32768 else (32767 if v > 32767 else v)
        j += 1
        if j == wn:
            j = 0


def signal_fft_auto_scale_s16(x, out, scale, n):
    m = 0   # MaxAbs16 keeps an int16: -(-32768) wraps back to -32768
    for i in range(n):
        v = x[i]
        if v > m:
            m = v
        elif -v > m:
            m = -v if v != -32768 else -32768
    bits = 15 - (_msb(m & _M32) if m else 32)
    if bits < 0:
        bits = 0
    for i in range(n):
        out[i] = ((x[i] << bits) + 32768 & 0xFFFF) - 32768
    scale[0] = bits


def _w(v):
    return (v + 32768 & 0xFFFF) - 32768


def _rfft_frame(x, xo, n_in, t, out, oo, n):
    # kissfft (16-bit fixed point): complex FFT of n points over the real input
    # read as (re, im) pairs, then kiss_fftr's split. out[oo:] holds the
    # complex work array and then the n + 1 bins (the split runs in place).
    ns = t[0]
    pp = 1 + 2 * ns
    for k in range(n):
        j = 2 * t[pp + k]
        o = oo + 2 * k
        out[o] = x[xo + j] if j < n_in else 0
        out[o + 1] = x[xo + j + 1] if j + 1 < n_in else 0
    tw = pp + n
    for s in range(ns - 1, -1, -1):
        p = t[1 + 2 * s]
        m = t[2 + 2 * s]
        fstride = n // (p * m)
        for b in range(oo, oo + 2 * n, 2 * p * m):
            if p == 4:
                _bfly4(out, b, fstride, m, t, tw)
            else:
                _bfly2(out, b, fstride, m, t, tw)
    sup = tw + 2 * n
    r = (out[oo] * 16383 + 16384) >> 15   # C_FIXDIV(tdc, 2)
    i = (out[oo + 1] * 16383 + 16384) >> 15
    out[oo] = _w(r + i)
    out[oo + 1] = 0
    out[oo + 2 * n] = _w(r - i)
    out[oo + 2 * n + 1] = 0
    for k in range(1, n // 2 + 1):
        a = oo + 2 * k
        c = oo + 2 * (n - k)
        kr = (out[a] * 16383 + 16384) >> 15
        ki = (out[a + 1] * 16383 + 16384) >> 15
        nr = (out[c] * 16383 + 16384) >> 15
        ni = (_w(-out[c + 1]) * 16383 + 16384) >> 15
        f1r = _w(kr + nr)
        f1i = _w(ki + ni)
        f2r = _w(kr - nr)
        f2i = _w(ki - ni)
        sr = t[sup + 2 * k - 2]
        si = t[sup + 2 * k - 1]
        twr = _w((f2r * sr - f2i * si + 16384) >> 15)
        twi = _w((f2r * si + f2i * sr + 16384) >> 15)
        out[a] = (f1r + twr) >> 1
        out[a + 1] = (f1i + twi) >> 1
        out[c] = (f1r - twr) >> 1
        out[c + 1] = (twi - f1i) >> 1


def _twiddle(f, c, m, t, w):
    # f[c] + i f[c + 1] <- C_FIXDIV(., 32767 / m) times twiddle t[w] + i t[w + 1] (Q15),
    # rounded and wrapped: kissfft's scaled C_MUL, in place.
    br = (f[c] * m + 16384) >> 15
    bi = (f[c + 1] * m + 16384) >> 15
    wr = t[w]
    wi = t[w + 1]
    f[c] = _w((br * wr - bi * wi + 16384) >> 15)
    f[c + 1] = _w((br * wi + bi * wr + 16384) >> 15)


def _bfly2(f, b, fstride, m, t, tw):
    # (_bfly4 writes its three twiddles out inline: it does most of the work)
    for k in range(m):
        a = b + 2 * k
        c = a + 2 * m
        _twiddle(f, c, 16383, t, tw + 2 * k * fstride)
        ar = (f[a] * 16383 + 16384) >> 15
        ai = (f[a + 1] * 16383 + 16384) >> 15
        tr = f[c]
        ti = f[c + 1]
        f[c] = _w(ar - tr)
        f[c + 1] = _w(ai - ti)
        f[a] = _w(ar + tr)
        f[a + 1] = _w(ai + ti)


def _bfly4(f, b, fstride, m, t, tw):
    m2 = 2 * m
    for k in range(m):
        a0 = b + 2 * k
        a1 = a0 + m2
        a2 = a1 + m2
        a3 = a2 + m2
        # C_FIXDIV(., 4): multiply by 32767 / 4 with rounding
        r0 = (f[a0] * 8191 + 16384) >> 15
        i0 = (f[a0 + 1] * 8191 + 16384) >> 15
        r1 = (f[a1] * 8191 + 16384) >> 15
        i1 = (f[a1 + 1] * 8191 + 16384) >> 15
        r2 = (f[a2] * 8191 + 16384) >> 15
        i2 = (f[a2 + 1] * 8191 + 16384) >> 15
        r3 = (f[a3] * 8191 + 16384) >> 15
        i3 = (f[a3 + 1] * 8191 + 16384) >> 15
        w = tw + 2 * k * fstride
        wr = t[w]
        wi = t[w + 1]
        s0r = _w((r1 * wr - i1 * wi + 16384) >> 15)
        s0i = _w((r1 * wi + i1 * wr + 16384) >> 15)
        w = tw + 4 * k * fstride
        wr = t[w]
        wi = t[w + 1]
        s1r = _w((r2 * wr - i2 * wi + 16384) >> 15)
        s1i = _w((r2 * wi + i2 * wr + 16384) >> 15)
        w = tw + 6 * k * fstride
        wr = t[w]
        wi = t[w + 1]
        s2r = _w((r3 * wr - i3 * wi + 16384) >> 15)
        s2i = _w((r3 * wi + i3 * wr + 16384) >> 15)
        s5r = _w(r0 - s1r)
        s5i = _w(i0 - s1i)
        r0 = _w(r0 + s1r)
        i0 = _w(i0 + s1i)
        s3r = _w(s0r + s2r)
        s3i = _w(s0i + s2i)
        s4r = _w(s0r - s2r)
        s4i = _w(s0i - s2i)
        f[a2] = _w(r0 - s3r)
        f[a2 + 1] = _w(i0 - s3i)
        f[a0] = _w(r0 + s3r)
        f[a0 + 1] = _w(i0 + s3i)
        f[a1] = _w(s5r + s4i)
        f[a1 + 1] = _w(s5i - s4r)
        f[a3] = _w(s5r - s4i)
        f[a3 + 1] = _w(s5i + s4r)


def signal_rfft_s16(x, t, out, frames, n_in, n):
    for fr in range(frames):
        _rfft_frame(x, fr * n_in, n_in, t, out, fr * (2 * n + 2), n)


def signal_energy(x, out, start, end):
    for i in range(start, end):
        r = x[2 * i]
        m = x[2 * i + 1]
        out[i] = (r * r + m * m) & _M32


def signal_filter_bank(x, t, out, nch, nw):
    # t: weights, unweights (nw each), then channel frequency starts, weight
    # starts and widths (nch + 1 each). Channel i's unweighted sum seeds i + 1.
    fs = 2 * nw
    ws = fs + nch + 1
    wd = ws + nch + 1
    acc = 0
    for i in range(nch + 1):
        f0 = t[fs + i]
        w0 = t[ws + i]
        unw = 0
        for j in range(t[wd + i]):
            v = x[f0 + j]
            acc += t[w0 + j] * v
            unw += t[nw + w0 + j] * v
        if i:
            out[i - 1] = acc & _M64   # int16 weights convert to uint64: mod 2^64
        acc = unw


def _sqrt(num, width):
    # TFLM's Sqrt32 / Sqrt64 (bit-by-bit, rounded up when the remainder exceeds the root)
    if num == 0:
        return 0
    if width == 64 and num >> 32 == 0:
        width = 32
    top = width - 1
    mbn = (width - _msb(num)) | 1
    bit = 1 << (top - mbn)
    res = 0
    for _ in range((top - mbn) // 2 + 1):
        if num >= res + bit:
            num -= res + bit
            res = (res >> 1) + bit
        else:
            res >>= 1
        bit >>= 2
    if num > res and res != (0xFFFF if width == 32 else 0xFFFFFFFF):
        res += 1
    return res


def signal_filter_bank_sqrt(x, bits, out, n):
    s = bits[0]
    for i in range(n):
        out[i] = (_sqrt(x[i], 64) >> s) & _M32


def signal_spectral_subtraction(x, out, noise, state, n, sm, oms, alt_sm, alt_oms, min_rem,
                                sm_bits, ss_bits, clamping):
    for i in range(n):
        if i & 1:
            s, o = alt_sm, alt_oms
        else:
            s, o = sm, oms
        v = x[i]
        up = (v << sm_bits) & _M32
        est = ((up * s + state[i] * o) >> ss_bits) & _M32
        state[i] = est
        if est > up:
            est = up
            if clamping:
                state[i] = up
        floor = ((v * min_rem) >> ss_bits) & _M32
        sub = (up - est) >> sm_bits
        out[i] = sub if sub > floor else floor
        noise[i] = state[i]


def _wide_dynamic(x, lut):
    if x <= 2:
        return lut[x]
    iv = _msb(x)
    b = 4 * iv - 6
    frac = ((x << (11 - iv)) if iv < 11 else (x >> (iv - 11))) & 0x3FF
    r = (lut[b + 2] * frac) >> 5
    r += ((lut[b + 1] << 5) + 0x80000000 & _M32) - 0x80000000
    r = (r * frac + 0x80000000 & _M32) - 0x80000000
    r = ((r + 16384 + 0x80000000 & _M32) - 0x80000000) >> 15
    return _w(r + lut[b])


def signal_pcan(x, noise, lut, out, n, snr_shift):
    for i in range(n):
        gain = _wide_dynamic(noise[i], lut) & _M32   # int16 -> uint32 sign-extends
        snr = ((x[i] * gain) >> snr_shift) & _M32
        # PcanShrink with kPcanSnrBits 12, kPcanOutputBits 6
        out[i] = ((snr * snr) & _M32) >> 20 if snr < 8192 else (snr >> 6) - 64 & _M32


def signal_filter_bank_log(x, lut, out, n, out_scale, bits):
    for i in range(n):
        v = (x[i] << bits) & _M32
        if v <= 1:
            out[i] = 0
            continue
        # Log32: log2 as integer part + a LUT-corrected fraction (Q16), then
        # times ln 2 (45426 / 2^16) and output_scale, each rounded
        e = _msb(v) - 1
        frac = v - (1 << e)
        frac = (frac << (16 - e)) if e < 16 else (frac >> (e - 16))
        seg = frac >> 9
        c0 = lut[seg]
        frac += c0 + (((lut[seg + 1] - c0) * (frac - (seg << 9))) >> 16)
        log2 = ((e << 16) + frac) & _M32
        loge = ((45426 * log2 + 32768) >> 16) & _M32
        v = ((out_scale * loge + 32768) & _M32) >> 16
        out[i] = v if v < 32767 else 32767
