# Viper CONV_2D and DEPTHWISE_CONV_2D, byte-identical with kernels_pure/conv.py and
# TFLM: int8 (the split requantization written out, see __init__.py) and int16
# activations with int8 weights (16x8). Beyond __init__.py's rules, for 16x8:
# * TFLM accumulates in int64 (int32 for an int32 bias). Here the accumulator is
#   a pair: al in [0, 2^16) and ah = floor(acc / 2^16), an int32 as TFLM
#   requires |acc| < 2^47. int16 x int8 products are below 2^22 in magnitude,
#   so sums of up to 255 of them fit an int32 partial s, folded in by
#   al += s; ah += al >> 16; al &= 0xFFFF.
# * Input and output live in the arena, whose tensors the planner aligns to 4
#   bytes: they are read and written through ptr16.
# * Requantization, written out in each kernel:
#   - int64 accumulator (TFLM's int64 MultiplyByQuantizedMultiplier,
#     qmath.mul_by_qm64): with m16 the multiplier rounded to 16 bits (below
#     2^15) and T = 15 - shift in [1, 46], the result is
#     floor((acc*m16 + 2^(T-1)) / 2^T) truncated to int32. With
#     acc = hh*2^32 + hl*2^16 + al (hh = ah >> 16, hl = ah & 0xFFFF), the partial
#     products c0 = al*m16, c1 = hl*m16 (below 2^31) and c2 = hh*m16
#     (|c2| <= 2^30), the rounding bit added to the one it falls in, carry into
#     16-bit limbs P = d2*2^32 + d1*2^16 + d0 (d2 signed). P >> T is d2 >> (T-32)
#     for T >= 32, else its two low 16-bit halves gathered from neighbouring
#     limbs, the upper one sign-extended: the int32 truncation.
#   - int32 accumulator: acc wrapped to int32 is the low 32 bits of (ah, al);
#     then the split requantization (__init__.py), the left shift wrapping as in C
#     (by itself on a 32-bit port, by (v << _HS) >> _HS on a 64-bit one).
# tests/test_viper_sequence.py transcribes the arithmetic into CPython with
# int32 range asserts and runs the kernels under 32- and 64-bit MicroPython.
import micropython

from . import HS as _HS

KERNELS = ("conv2d_s8", "depthwise_conv2d_s8", "conv2d_s16", "depthwise_conv2d_s16")


@micropython.viper
def conv2d_s8(args):
    acc = 0
    xi = 0
    # spec: conv2d_s8 {
    x = ptr8(args[0])
    w = ptr8(args[1])
    bias = ptr8(args[2])
    out = ptr8(args[3])
    mult = ptr8(args[4])
    shift = ptr8(args[5])
    in_h = int(args[6])
    in_w = int(args[7])
    in_c = int(args[8])
    out_h = int(args[9])
    out_w = int(args[10])
    out_c = int(args[11])
    k_h = int(args[12])
    k_w = int(args[13])
    s_h = int(args[14])
    s_w = int(args[15])
    d_h = int(args[16])
    d_w = int(args[17])
    pad_h = int(args[18])
    pad_w = int(args[19])
    in_off = int(args[20])
    out_off = int(args[21])
    act_min = int(args[22])
    act_max = int(args[23])
    # }
    fsize = k_h * k_w * in_c
    xrow_step = d_h * in_w * in_c   # input bytes between filter rows
    wrow_step = k_w * in_c          # filter bytes between filter rows
    o = 0
    for oy in range(out_h):
        iy0 = oy * s_h - pad_h
        # valid filter rows [ky0, ky1), found without // (see docs/viper.md)
        ky0 = 0
        while ky0 < k_h and iy0 + ky0 * d_h < 0:
            ky0 += 1
        ky1 = k_h
        while ky1 > ky0 and iy0 + (ky1 - 1) * d_h >= in_h:
            ky1 -= 1
        for ox in range(out_w):
            ix0 = ox * s_w - pad_w
            kx0 = 0
            while kx0 < k_w and ix0 + kx0 * d_w < 0:
                kx0 += 1
            kx1 = k_w
            while kx1 > kx0 and ix0 + (kx1 - 1) * d_w >= in_w:
                kx1 -= 1
            border = 0
            if ky0 > 0 or ky1 < k_h or kx0 > 0 or kx1 < k_w:
                border = 1
            # a filter row's valid taps: contiguous runs of bytes in input and filter
            if d_w == 1:
                run = (kx1 - kx0) * in_c
                nrun = 1
            else:
                run = in_c
                nrun = kx1 - kx0
            xstep = d_w * in_c
            xtap0 = ((iy0 + ky0 * d_h) * in_w + ix0 + kx0 * d_w) * in_c
            wtap0 = (ky0 * k_w + kx0) * in_c
            for oc in range(out_c):
                k = oc << 2
                acc = bias[k] | (bias[k + 1] << 8) | (bias[k + 2] << 16) | (((bias[k + 3] ^ 0x80) - 0x80) << 24)
                xr = xtap0
                wr = oc * fsize + wtap0
                for ky in range(ky0, ky1):
                    xj = xr
                    wj = wr
                    for r in range(nrun):
                        xi = xj
                        xe = xj + run
                        dw = wj - xj
                        while xi < xe:
                            acc += ((x[xi] ^ 0x80) - 0x80) * ((w[xi + dw] ^ 0x80) - 0x80)
                            xi += 1
                        xj += xstep
                        wj += in_c
                    xr += xrow_step
                    wr += wrow_step
                if border:
                    # padded taps read as the input zero point, which the folded bias
                    # counted: take in_off * their weights back out
                    s = 0
                    wt = oc * fsize
                    for ky in range(k_h):
                        for kx in range(k_w):
                            if ky < ky0 or ky >= ky1 or kx < kx0 or kx >= kx1:
                                j = wt
                                je = wt + in_c
                                while j < je:
                                    s += (w[j] ^ 0x80) - 0x80
                                    j += 1
                            wt += in_c
                    acc -= in_off * s
                # requantize (see the note at the top)
                m = mult[k] | (mult[k + 1] << 8) | (mult[k + 2] << 16) | (mult[k + 3] << 24)
                sh = (shift[k] ^ 0x80) - 0x80
                if sh > 0:
                    acc = acc << sh
                ah = acc >> 16
                al = acc & 0xFFFF
                mh = m >> 16
                ml = m & 0xFFFF
                p1 = ah * ml
                p2 = al * mh
                lh = int((uint(al) * uint(ml)) >> 16) + 0x4000
                v = ((ah * mh) << 1) + (p1 >> 15) + (p2 >> 15) + (((p1 & 0x7FFF) + (p2 & 0x7FFF) + lh) >> 15)
                if sh < 0:
                    e = 0 - sh
                    half = 1 << (e - 1)
                    rem = v & ((half - 1) + half)
                    thr = half - 1
                    if v < 0:
                        thr += 1
                    v = v >> e
                    if rem > thr:
                        v += 1
                v += out_off
                if v < act_min:
                    v = act_min
                elif v > act_max:
                    v = act_max
                out[o] = v
                o += 1


@micropython.viper
def depthwise_conv2d_s8(args):
    acc = 0
    xi = 0
    # spec: depthwise_conv2d_s8 {
    x = ptr8(args[0])
    w = ptr8(args[1])
    bias = ptr8(args[2])
    out = ptr8(args[3])
    mult = ptr8(args[4])
    shift = ptr8(args[5])
    in_h = int(args[6])
    in_w = int(args[7])
    in_c = int(args[8])
    out_h = int(args[9])
    out_w = int(args[10])
    depth_mult = int(args[11])
    k_h = int(args[12])
    k_w = int(args[13])
    s_h = int(args[14])
    s_w = int(args[15])
    d_h = int(args[16])
    d_w = int(args[17])
    pad_h = int(args[18])
    pad_w = int(args[19])
    in_off = int(args[20])
    out_off = int(args[21])
    act_min = int(args[22])
    act_max = int(args[23])
    # }
    out_c = in_c * depth_mult
    xtap_step = d_w * in_c
    xrow_step = d_h * in_w * in_c
    wrow_step = k_w * out_c
    o = 0
    for oy in range(out_h):
        iy0 = oy * s_h - pad_h
        ky0 = 0
        while ky0 < k_h and iy0 + ky0 * d_h < 0:
            ky0 += 1
        ky1 = k_h
        while ky1 > ky0 and iy0 + (ky1 - 1) * d_h >= in_h:
            ky1 -= 1
        for ox in range(out_w):
            ix0 = ox * s_w - pad_w
            kx0 = 0
            while kx0 < k_w and ix0 + kx0 * d_w < 0:
                kx0 += 1
            kx1 = k_w
            while kx1 > kx0 and ix0 + (kx1 - 1) * d_w >= in_w:
                kx1 -= 1
            border = 0
            if ky0 > 0 or ky1 < k_h or kx0 > 0 or kx1 < k_w:
                border = 1
            xtap0 = ((iy0 + ky0 * d_h) * in_w + ix0 + kx0 * d_w) * in_c
            wtap0 = (ky0 * k_w + kx0) * out_c
            oc = 0
            for ic in range(in_c):
                for dm in range(depth_mult):
                    k = oc << 2
                    acc = bias[k] | (bias[k + 1] << 8) | (bias[k + 2] << 16) | (((bias[k + 3] ^ 0x80) - 0x80) << 24)
                    xr = xtap0 + ic
                    wr = wtap0 + oc
                    for ky in range(ky0, ky1):
                        xi = xr
                        wi = wr
                        for kx in range(kx0, kx1):
                            acc += ((x[xi] ^ 0x80) - 0x80) * ((w[wi] ^ 0x80) - 0x80)
                            xi += xtap_step
                            wi += out_c
                        xr += xrow_step
                        wr += wrow_step
                    if border:
                        # padded taps: see conv2d_s8
                        s = 0
                        wt = oc
                        for ky in range(k_h):
                            for kx in range(k_w):
                                if ky < ky0 or ky >= ky1 or kx < kx0 or kx >= kx1:
                                    s += (w[wt] ^ 0x80) - 0x80
                                wt += out_c
                        acc -= in_off * s
                    # requantize (see the note at the top)
                    m = mult[k] | (mult[k + 1] << 8) | (mult[k + 2] << 16) | (mult[k + 3] << 24)
                    sh = (shift[k] ^ 0x80) - 0x80
                    if sh > 0:
                        acc = acc << sh
                    ah = acc >> 16
                    al = acc & 0xFFFF
                    mh = m >> 16
                    ml = m & 0xFFFF
                    p1 = ah * ml
                    p2 = al * mh
                    lh = int((uint(al) * uint(ml)) >> 16) + 0x4000
                    v = ((ah * mh) << 1) + (p1 >> 15) + (p2 >> 15) + (((p1 & 0x7FFF) + (p2 & 0x7FFF) + lh) >> 15)
                    if sh < 0:
                        e = 0 - sh
                        half = 1 << (e - 1)
                        rem = v & ((half - 1) + half)
                        thr = half - 1
                        if v < 0:
                            thr += 1
                        v = v >> e
                        if rem > thr:
                            v += 1
                    v += out_off
                    if v < act_min:
                        v = act_min
                    elif v > act_max:
                        v = act_max
                    out[o] = v
                    o += 1
                    oc += 1


@micropython.viper
def conv2d_s16(args):
    s = 0
    xi = 0
    # spec: conv2d_s16 {
    x = ptr16(args[0])
    w = ptr8(args[1])
    bias = ptr8(args[2])
    out = ptr16(args[3])
    mult = ptr8(args[4])
    shift = ptr8(args[5])
    in_h = int(args[6])
    in_w = int(args[7])
    in_c = int(args[8])
    out_h = int(args[9])
    out_w = int(args[10])
    out_c = int(args[11])
    k_h = int(args[12])
    k_w = int(args[13])
    s_h = int(args[14])
    s_w = int(args[15])
    d_h = int(args[16])
    d_w = int(args[17])
    pad_h = int(args[18])
    pad_w = int(args[19])
    acc64 = int(args[20])
    act_min = int(args[21])
    act_max = int(args[22])
    # }
    hs = int(_HS)
    fsize = k_h * k_w * in_c
    xrow_step = d_h * in_w * in_c
    wrow_step = k_w * in_c
    o = 0
    for oy in range(out_h):
        iy0 = oy * s_h - pad_h
        ky0 = 0
        while ky0 < k_h and iy0 + ky0 * d_h < 0:
            ky0 += 1
        ky1 = k_h
        while ky1 > ky0 and iy0 + (ky1 - 1) * d_h >= in_h:
            ky1 -= 1
        for ox in range(out_w):
            ix0 = ox * s_w - pad_w
            kx0 = 0
            while kx0 < k_w and ix0 + kx0 * d_w < 0:
                kx0 += 1
            kx1 = k_w
            while kx1 > kx0 and ix0 + (kx1 - 1) * d_w >= in_w:
                kx1 -= 1
            # zero points are 0: padded taps add nothing. Runs as in conv2d_s8.
            if d_w == 1:
                run = (kx1 - kx0) * in_c
                nrun = 1
            else:
                run = in_c
                nrun = kx1 - kx0
            xstep = d_w * in_c
            xtap0 = ((iy0 + ky0 * d_h) * in_w + ix0 + kx0 * d_w) * in_c
            wtap0 = (ky0 * k_w + kx0) * in_c
            for oc in range(out_c):
                k = oc << 3
                al = bias[k] | (bias[k + 1] << 8)
                ah = bias[k + 2] | (bias[k + 3] << 8) | (bias[k + 4] << 16) | (((bias[k + 5] ^ 0x80) - 0x80) << 24)
                xr = xtap0
                wr = oc * fsize + wtap0
                for ky in range(ky0, ky1):
                    xj = xr
                    wj = wr
                    for r in range(nrun):
                        xi = xj
                        xe = xj + run
                        dw = wj - xj
                        while xi < xe:
                            ce = xi + 255
                            if ce > xe:
                                ce = xe
                            s = 0
                            while xi < ce:
                                s += ((x[xi] ^ 0x8000) - 0x8000) * ((w[xi + dw] ^ 0x80) - 0x80)
                                xi += 1
                            al += s
                            ah += al >> 16
                            al &= 0xFFFF
                        xj += xstep
                        wj += in_c
                    xr += xrow_step
                    wr += wrow_step
                # requantize (see the note at the top)
                k = oc << 2
                m = mult[k] | (mult[k + 1] << 8) | (mult[k + 2] << 16) | (mult[k + 3] << 24)
                sh = (shift[k] ^ 0x80) - 0x80
                if acc64:
                    mh = m >> 16
                    if mh < 0x7FFF and (m & 0x8000):
                        mh += 1
                    tt = 15 - sh
                    c0 = al * mh
                    c1 = (ah & 0xFFFF) * mh
                    c2 = (ah >> 16) * mh
                    e = tt - 1
                    if e < 16:
                        c0 += 1 << e
                    elif e < 32:
                        c1 += 1 << (e - 16)
                    else:
                        c2 += 1 << (e - 32)
                    d0 = c0 & 0xFFFF
                    d1 = (c1 & 0xFFFF) + (c0 >> 16)
                    d2 = c2 + (c1 >> 16) + (d1 >> 16)
                    d1 &= 0xFFFF
                    if tt >= 32:
                        v = d2 >> (tt - 32)
                    else:
                        if tt >= 16:
                            e = tt - 16
                            lo = (d1 >> e) | ((d2 & ((1 << e) - 1)) << (16 - e))
                            hi = d2 >> e
                        else:
                            e = tt
                            lo = (d0 >> e) | ((d1 & ((1 << e) - 1)) << (16 - e))
                            hi = (d1 >> e) | ((d2 & ((1 << e) - 1)) << (16 - e))
                        v = ((((hi & 0xFFFF) ^ 0x8000) - 0x8000) << 16) | lo
                else:
                    a = ((((ah & 0xFFFF) ^ 0x8000) - 0x8000) << 16) | al
                    if sh > 0:
                        a = ((a << sh) << hs) >> hs
                    ah = a >> 16
                    al = a & 0xFFFF
                    mh = m >> 16
                    ml = m & 0xFFFF
                    p1 = ah * ml
                    p2 = al * mh
                    lh = int((uint(al) * uint(ml)) >> 16) + 0x4000
                    v = ((ah * mh) << 1) + (p1 >> 15) + (p2 >> 15) + (((p1 & 0x7FFF) + (p2 & 0x7FFF) + lh) >> 15)
                    if sh < 0:
                        e = 0 - sh
                        half = 1 << (e - 1)
                        rem = v & ((half - 1) + half)
                        thr = half - 1
                        if v < 0:
                            thr += 1
                        v = v >> e
                        if rem > thr:
                            v += 1
                if v < act_min:
                    v = act_min
                elif v > act_max:
                    v = act_max
                out[o] = v
                o += 1


@micropython.viper
def depthwise_conv2d_s16(args):
    s = 0
    xi = 0
    # spec: depthwise_conv2d_s16 {
    x = ptr16(args[0])
    w = ptr8(args[1])
    bias = ptr8(args[2])
    out = ptr16(args[3])
    mult = ptr8(args[4])
    shift = ptr8(args[5])
    in_h = int(args[6])
    in_w = int(args[7])
    in_c = int(args[8])
    out_h = int(args[9])
    out_w = int(args[10])
    depth_mult = int(args[11])
    k_h = int(args[12])
    k_w = int(args[13])
    s_h = int(args[14])
    s_w = int(args[15])
    d_h = int(args[16])
    d_w = int(args[17])
    pad_h = int(args[18])
    pad_w = int(args[19])
    act_min = int(args[20])
    act_max = int(args[21])
    # }
    out_c = in_c * depth_mult
    xtap_step = d_w * in_c
    xrow_step = d_h * in_w * in_c
    wrow_step = k_w * out_c
    o = 0
    for oy in range(out_h):
        iy0 = oy * s_h - pad_h
        ky0 = 0
        while ky0 < k_h and iy0 + ky0 * d_h < 0:
            ky0 += 1
        ky1 = k_h
        while ky1 > ky0 and iy0 + (ky1 - 1) * d_h >= in_h:
            ky1 -= 1
        for ox in range(out_w):
            ix0 = ox * s_w - pad_w
            kx0 = 0
            while kx0 < k_w and ix0 + kx0 * d_w < 0:
                kx0 += 1
            kx1 = k_w
            while kx1 > kx0 and ix0 + (kx1 - 1) * d_w >= in_w:
                kx1 -= 1
            xtap0 = ((iy0 + ky0 * d_h) * in_w + ix0 + kx0 * d_w) * in_c
            wtap0 = (ky0 * k_w + kx0) * out_c
            oc = 0
            for ic in range(in_c):
                for dm in range(depth_mult):
                    k = oc << 3
                    al = bias[k] | (bias[k + 1] << 8)
                    ah = bias[k + 2] | (bias[k + 3] << 8) | (bias[k + 4] << 16) | (((bias[k + 5] ^ 0x80) - 0x80) << 24)
                    xr = xtap0 + ic
                    wr = wtap0 + oc
                    for ky in range(ky0, ky1):
                        xi = xr
                        wi = wr
                        left = kx1 - kx0
                        while left > 0:   # at most 255 products per partial sum
                            cnt = left
                            if cnt > 255:
                                cnt = 255
                            left -= cnt
                            s = 0
                            while cnt > 0:
                                s += ((x[xi] ^ 0x8000) - 0x8000) * ((w[wi] ^ 0x80) - 0x80)
                                xi += xtap_step
                                wi += out_c
                                cnt -= 1
                            al += s
                            ah += al >> 16
                            al &= 0xFFFF
                        xr += xrow_step
                        wr += wrow_step
                    # requantize, int64 (see the note at the top)
                    k = oc << 2
                    m = mult[k] | (mult[k + 1] << 8) | (mult[k + 2] << 16) | (mult[k + 3] << 24)
                    sh = (shift[k] ^ 0x80) - 0x80
                    mh = m >> 16
                    if mh < 0x7FFF and (m & 0x8000):
                        mh += 1
                    tt = 15 - sh
                    c0 = al * mh
                    c1 = (ah & 0xFFFF) * mh
                    c2 = (ah >> 16) * mh
                    e = tt - 1
                    if e < 16:
                        c0 += 1 << e
                    elif e < 32:
                        c1 += 1 << (e - 16)
                    else:
                        c2 += 1 << (e - 32)
                    d0 = c0 & 0xFFFF
                    d1 = (c1 & 0xFFFF) + (c0 >> 16)
                    d2 = c2 + (c1 >> 16) + (d1 >> 16)
                    d1 &= 0xFFFF
                    if tt >= 32:
                        v = d2 >> (tt - 32)
                    else:
                        if tt >= 16:
                            e = tt - 16
                            lo = (d1 >> e) | ((d2 & ((1 << e) - 1)) << (16 - e))
                            hi = d2 >> e
                        else:
                            e = tt
                            lo = (d0 >> e) | ((d1 & ((1 << e) - 1)) << (16 - e))
                            hi = (d1 >> e) | ((d2 & ((1 << e) - 1)) << (16 - e))
                        v = ((((hi & 0xFFFF) ^ 0x8000) - 0x8000) << 16) | lo
                    if v < act_min:
                        v = act_min
                    elif v > act_max:
                        v = act_max
                    out[o] = v
                    o += 1
                    oc += 1
