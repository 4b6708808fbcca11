# Viper tier: @micropython.viper versions of the hot int8 kernels, byte-identical
# to kernels_pure. Each takes one tuple: raw byte memoryviews of the tensors (in
# the pure kernel's order) then its integer parameters (see dispatch.py).
#
# Boards are 32-bit, so every intermediate stays within int32 (or uint32 where
# written uint): the 64-bit product of the requantization is split into 16-bit
# halves (docs/viper.md; tests/test_viper.py checks a CPython transcription of it
# against qmath.mul_by_qm with range asserts). Integer constants stay below 2^30
# (small ints on every port). Weights are only read byte by byte: a bytes object
# in ROM (frozen or romfs) need not be word-aligned and Cortex-M0 faults on
# unaligned word loads. int8 bytes load unsigned: (b ^ 0x80) - 0x80 sign-extends.
#
# `import micropython` fails on CPython and the decorator is a SyntaxError on
# ports without a native emitter: dispatch.py then keeps the pure tier.
import micropython

KERNELS = ("conv2d_s8", "depthwise_conv2d_s8", "fully_connected_s8",
           "avg_pool2d_s8", "max_pool2d_s8")

# The requantization block (MultiplyByQuantizedMultiplier) is written out in each
# of conv2d_s8, depthwise_conv2d_s8 and fully_connected_s8: a viper call per
# output would box the accumulator (a heap int beyond 2^30 on 32-bit ports).
# In terms of qmath, with m the multiplier in [0, 2^31) and sh the shift:
#   a = acc << max(sh, 0)                      (TFLM: must fit int32)
#   srdhm(a, m) = floor((a*m + 2^30) / 2^31)   (equal to gemmlowp's rounding)
#   with a = ah*2^16 + al, m = mh*2^16 + ml:
#     = 2*ah*mh + (p1 >> 15) + (p2 >> 15)
#       + (((p1 & 0x7fff) + (p2 & 0x7fff) + (al*ml >> 16) + 2^14) >> 15)
#   where p1 = ah*ml, p2 = al*mh, and al*ml (< 2^32) is an unsigned product;
#   then rdbypot by -sh when sh < 0, with mask (half-1)+half so 2^31 never forms.


@micropython.viper
def conv2d_s8(args):
    acc = 0
    xi = 0
    xp = ptr8(args[0])
    wp = ptr8(args[1])
    bp = ptr8(args[2])
    yp = ptr8(args[3])
    mp = ptr8(args[4])
    sp = ptr8(args[5])
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
                acc = bp[k] | (bp[k + 1] << 8) | (bp[k + 2] << 16) | (((bp[k + 3] ^ 0x80) - 0x80) << 24)
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
                            acc += ((xp[xi] ^ 0x80) - 0x80) * ((wp[xi + dw] ^ 0x80) - 0x80)
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
                                    s += (wp[j] ^ 0x80) - 0x80
                                    j += 1
                            wt += in_c
                    acc -= in_off * s
                # requantize (see the note at the top)
                m = mp[k] | (mp[k + 1] << 8) | (mp[k + 2] << 16) | (mp[k + 3] << 24)
                sh = (sp[k] ^ 0x80) - 0x80
                if sh > 0:
                    acc = acc << sh
                    # wrapped to int32 as in C (a no-op on 32-bit ports, not on 64-bit ones)
                    acc = (((((acc >> 16) & 0xFFFF) ^ 0x8000) - 0x8000) << 16) | (acc & 0xFFFF)
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
                yp[o] = v
                o += 1


@micropython.viper
def depthwise_conv2d_s8(args):
    acc = 0
    xi = 0
    xp = ptr8(args[0])
    wp = ptr8(args[1])
    bp = ptr8(args[2])
    yp = ptr8(args[3])
    mp = ptr8(args[4])
    sp = ptr8(args[5])
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
                    acc = bp[k] | (bp[k + 1] << 8) | (bp[k + 2] << 16) | (((bp[k + 3] ^ 0x80) - 0x80) << 24)
                    xr = xtap0 + ic
                    wr = wtap0 + oc
                    for ky in range(ky0, ky1):
                        xi = xr
                        wi = wr
                        for kx in range(kx0, kx1):
                            acc += ((xp[xi] ^ 0x80) - 0x80) * ((wp[wi] ^ 0x80) - 0x80)
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
                                    s += (wp[wt] ^ 0x80) - 0x80
                                wt += out_c
                        acc -= in_off * s
                    # requantize (see the note at the top)
                    m = mp[k] | (mp[k + 1] << 8) | (mp[k + 2] << 16) | (mp[k + 3] << 24)
                    sh = (sp[k] ^ 0x80) - 0x80
                    if sh > 0:
                        acc = acc << sh
                        # wrapped to int32 as in C (a no-op on 32-bit ports, not on 64-bit ones)
                        acc = (((((acc >> 16) & 0xFFFF) ^ 0x8000) - 0x8000) << 16) | (acc & 0xFFFF)
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
                    yp[o] = v
                    o += 1
                    oc += 1


@micropython.viper
def fully_connected_s8(args):
    acc = 0
    xi = 0
    xp = ptr8(args[0])
    wp = ptr8(args[1])
    bp = ptr8(args[2])
    yp = ptr8(args[3])
    mp = ptr8(args[4])
    sp = ptr8(args[5])
    batches = int(args[6])
    n_in = int(args[7])
    n_out = int(args[8])
    out_off = int(args[9])
    act_min = int(args[10])
    act_max = int(args[11])
    y = 0
    for b in range(batches):
        xb = b * n_in
        xe = xb + n_in
        for oc in range(n_out):
            k = oc << 2
            acc = bp[k] | (bp[k + 1] << 8) | (bp[k + 2] << 16) | (((bp[k + 3] ^ 0x80) - 0x80) << 24)
            dw = oc * n_in - xb
            xi = xb
            while xi < xe:
                acc += ((xp[xi] ^ 0x80) - 0x80) * ((wp[xi + dw] ^ 0x80) - 0x80)
                xi += 1
            # requantize (see the note at the top)
            m = mp[k] | (mp[k + 1] << 8) | (mp[k + 2] << 16) | (mp[k + 3] << 24)
            sh = (sp[k] ^ 0x80) - 0x80
            if sh > 0:
                acc = acc << sh
                # wrapped to int32 as in C (a no-op on 32-bit ports, not on 64-bit ones)
                acc = (((((acc >> 16) & 0xFFFF) ^ 0x8000) - 0x8000) << 16) | (acc & 0xFFFF)
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
            yp[y] = v
            y += 1


@micropython.viper
def avg_pool2d_s8(args):
    s = 0
    xp = ptr8(args[0])
    yp = ptr8(args[1])
    in_h = int(args[2])
    in_w = int(args[3])
    c = int(args[4])
    out_h = int(args[5])
    out_w = int(args[6])
    k_h = int(args[7])
    k_w = int(args[8])
    s_h = int(args[9])
    s_w = int(args[10])
    pad_h = int(args[11])
    pad_w = int(args[12])
    act_min = int(args[13])
    act_max = int(args[14])
    row = in_w * c
    o = 0
    for oy in range(out_h):
        y0 = oy * s_h - pad_h
        y1 = y0 + k_h
        if y0 < 0:
            y0 = 0
        if y1 > in_h:
            y1 = in_h
        for ox in range(out_w):
            x0 = ox * s_w - pad_w
            x1 = x0 + k_w
            if x0 < 0:
                x0 = 0
            if x1 > in_w:
                x1 = in_w
            n = (y1 - y0) * (x1 - x0)
            base = y0 * row + x0 * c
            for ch in range(c):
                s = 0
                xr = base + ch
                for iy in range(y0, y1):
                    xi = xr
                    for ix in range(x0, x1):
                        s += (xp[xi] ^ 0x80) - 0x80
                        xi += c
                    xr += row
                # C's rounded, truncating division |s| + n/2 over n; the quotient
                # is at most 128 (|s| <= 128 n), so 8 bits by binary search
                neg = 0
                if s <= 0:
                    neg = 1
                    s = 0 - s
                num = s + (n >> 1)
                q = 0
                bit = 128
                while bit:
                    if (q + bit) * n <= num:
                        q += bit
                    bit >>= 1
                if neg:
                    q = 0 - q
                if q < act_min:
                    q = act_min
                elif q > act_max:
                    q = act_max
                yp[o] = q
                o += 1


@micropython.viper
def max_pool2d_s8(args):
    v = 0
    xp = ptr8(args[0])
    yp = ptr8(args[1])
    in_h = int(args[2])
    in_w = int(args[3])
    c = int(args[4])
    out_h = int(args[5])
    out_w = int(args[6])
    k_h = int(args[7])
    k_w = int(args[8])
    s_h = int(args[9])
    s_w = int(args[10])
    pad_h = int(args[11])
    pad_w = int(args[12])
    act_min = int(args[13])
    act_max = int(args[14])
    row = in_w * c
    o = 0
    for oy in range(out_h):
        y0 = oy * s_h - pad_h
        y1 = y0 + k_h
        if y0 < 0:
            y0 = 0
        if y1 > in_h:
            y1 = in_h
        for ox in range(out_w):
            x0 = ox * s_w - pad_w
            x1 = x0 + k_w
            if x0 < 0:
                x0 = 0
            if x1 > in_w:
                x1 = in_w
            base = y0 * row + x0 * c
            for ch in range(c):
                mx = -128
                xr = base + ch
                for iy in range(y0, y1):
                    xi = xr
                    for ix in range(x0, x1):
                        v = (xp[xi] ^ 0x80) - 0x80
                        if v > mx:
                            mx = v
                        xi += c
                    xr += row
                if mx < act_min:
                    mx = act_min
                elif mx > act_max:
                    mx = act_max
                yp[o] = mx
                o += 1
