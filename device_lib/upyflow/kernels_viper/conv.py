# Viper CONV_2D and DEPTHWISE_CONV_2D, byte-identical with kernels_pure/conv.py and
# TFLM: int8 and int16 activations with int8 weights (16x8). One window walk per
# activation size serves both ops (dw: depthwise); the accumulators go to
# __init__.requant in runs (the requantization and its int64 form are described there).
# Beyond __init__.py's rules, for 16x8:
# * TFLM accumulates in int64 (int32 for an int32 bias). Here the accumulator is
#   a pair: al in [0, 2^16) and ah = floor(acc / 2^16), an int32 as TFLM
#   requires |acc| < 2^47. int16 x int8 products are below 2^22 in magnitude,
#   so sums of up to 255 of them fit an int32 partial s, folded in by
#   al += s; ah += al >> 16; al &= 0xFFFF.
# * Input and output live in the arena, whose tensors the planner aligns to 4
#   bytes: they are read and written through ptr16.
# The int8 and 16x8 walks mirror each other (ptr8 against ptr16 input, int32 against
# (ah, al) sums): one walk reading 16-bit values byte by byte would slow the int8 models.
# fc.py and transpose_conv.py open as these do (the generated tuple prologue, then
# begin(out, mult, shift, ...), which hands __init__.requant the output and its
# per-channel multipliers, and the ACC run indices): tuple kernels, as acc and xi want
# viper's registers (typed arguments would take them: docs/viper.md).
# tests/test_viper.py transcribes the arithmetic into CPython with int32 range
# asserts; tests/test_conv.py runs the kernels under 32- and 64-bit MicroPython.
import micropython

from . import ACC as _ACC
from . import ACC0 as _ACC0
from . import CAP as _CAP
from . import begin, finish, flush

# The walk a kernel wants (1: depthwise), set by its wrapper: a second argument would
# take one of the three registers viper gives the first locals, which acc and xi want.
_DW = bytearray(1)

KERNELS = ("conv2d_s8", "depthwise_conv2d_s8", "conv2d_s16", "depthwise_conv2d_s16")


# The int8 walk; _conv_s16 mirrors it for 16x8 (see the top).
@micropython.viper
def _conv_s8(args):
    acc = 0
    xi = 0
    # spec: conv2d_s8 depthwise_conv2d_s8 {
    x = ptr8(args[0])
    w = ptr8(args[1])
    bias = ptr8(args[2])
    out = args[3]
    mult = args[4]
    shift = args[5]
    wtab = ptr32(args[6])
    in_h = int(args[7])
    in_w = int(args[8])
    in_c = int(args[9])
    out_h = int(args[10])
    out_w = int(args[11])
    out_c = depth_mult = int(args[12])
    k_h = int(args[13])
    k_w = int(args[14])
    s_h = int(args[15])
    s_w = int(args[16])
    d_h = int(args[17])
    d_w = int(args[18])
    pad_h = int(args[19])
    pad_w = int(args[20])
    in_off = int(args[21])
    out_off = int(args[22])
    act_min = int(args[23])
    act_max = int(args[24])
    wtab_n = int(args[25])
    w_min = int(args[26])
    # }
    dw = int(ptr8(_DW)[0])
    if dw:
        out_c = in_c * depth_mult
    begin(out, mult, shift, 0 | (out_c << 2), out_off, act_min, act_max)
    sp = ptr32(_ACC)
    j0 = int(_ACC0)
    je = j0 + int(_CAP)
    j = j0
    fsize = k_h * k_w * in_c
    xstep = d_w * in_c              # input bytes between filter taps
    xrow_step = d_h * in_w * in_c   # and between filter rows
    wstep = in_c                    # the weights' tap stride
    if dw:
        wstep = out_c
    wrow_step = k_w * wstep
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
            # a conv filter row's valid taps: contiguous runs of bytes in input and filter
            if d_w == 1:
                run = (kx1 - kx0) * in_c
                nrun = 1
            else:
                run = in_c
                nrun = kx1 - kx0
            xtap0 = ((iy0 + ky0 * d_h) * in_w + ix0 + kx0 * d_w) * in_c
            wtap0 = (ky0 * k_w + kx0) * wstep
            # conv: the weights are summed as W = w ^ 0x80 (w + 128), which saves the
            # sign extension per product; sum(x*w) = sum(x*W) - 128*sum(x), the input
            # sum once per pixel for every output channel
            sx = 0
            if not dw:
                xr = xtap0
                for ky in range(ky0, ky1):
                    xj = xr
                    for r in range(nrun):
                        xi = xj
                        xe = xj + run
                        while xi < xe:
                            sx += (x[xi] ^ 0x80) - 0x80
                            xi += 1
                        xj += xstep
                    xr += xrow_step
                sx = sx << 7
            ic = 0
            dm = 0
            two = 0   # conv: two output channels per pass share each input load
            acc2 = 0
            for oc in range(out_c):
                if two:   # the second of a pass: summed already
                    acc = acc2
                    two = 0
                    wt = oc * fsize
                else:
                    k = oc << 2
                    acc = bias[k] | (bias[k + 1] << 8) | (bias[k + 2] << 16) | (((bias[k + 3] ^ 0x80) - 0x80) << 24)
                    if dw:
                        xr = xtap0 + ic
                        wr = wtap0 + oc
                        wt = oc
                        xspan = (kx1 - kx0) * xstep
                        for ky in range(ky0, ky1):
                            xi = xr
                            wi = wr
                            xe = xr + xspan
                            while xi < xe:
                                acc += ((x[xi] ^ 0x80) - 0x80) * ((w[wi] ^ 0x80) - 0x80)
                                xi += xstep
                                wi += wstep
                            xr += xrow_step
                            wr += wrow_step
                        dm += 1
                        if dm == depth_mult:
                            dm = 0
                            ic += 1
                    else:
                        acc -= sx
                        if oc + 1 < out_c:
                            two = 1
                            k += 4
                            acc2 = (bias[k] | (bias[k + 1] << 8) | (bias[k + 2] << 16) |
                                    (((bias[k + 3] ^ 0x80) - 0x80) << 24)) - sx
                        xr = xtap0
                        wr = oc * fsize + wtap0
                        wt = oc * fsize
                        for ky in range(ky0, ky1):
                            xj = xr
                            wj = wr
                            for r in range(nrun):
                                xi = xj
                                xe = xj + run
                                dwo = wj - xj
                                if two:
                                    dwo2 = dwo + fsize
                                    while xi < xe:
                                        xv = (x[xi] ^ 0x80) - 0x80
                                        acc += xv * (w[xi + dwo] ^ 0x80)
                                        acc2 += xv * (w[xi + dwo2] ^ 0x80)
                                        xi += 1
                                else:
                                    while xi < xe:
                                        acc += ((x[xi] ^ 0x80) - 0x80) * (w[xi + dwo] ^ 0x80)
                                        xi += 1
                                xj += xstep
                                wj += in_c
                            xr += xrow_step
                            wr += wrow_step
                if border:
                    # padded taps read as the input zero point, which the folded bias
                    # counted: take in_off * their weights back out
                    s = 0
                    for ky in range(k_h):
                        for kx in range(k_w):
                            if ky < ky0 or ky >= ky1 or kx < kx0 or kx >= kx1:
                                if dw:
                                    s += (w[wt] ^ 0x80) - 0x80
                                else:
                                    wi = wt
                                    we = wt + in_c
                                    while wi < we:
                                        s += (w[wi] ^ 0x80) - 0x80
                                        wi += 1
                            wt += wstep
                    acc -= in_off * s
                sp[j] = acc
                j += 1
                if j == je:
                    j = int(flush(j))
    finish(j)


def conv2d_s8(args):
    _DW[0] = 0
    _conv_s8(args)


def depthwise_conv2d_s8(args):
    _DW[0] = 1
    _conv_s8(args)


# The 16x8 walk: _conv_s8's mirror (see the top).
@micropython.viper
def _conv_s16(args):
    s = 0
    xi = 0
    dw = int(ptr8(_DW)[0])
    if dw:
        # spec: depthwise_conv2d_s16 {
        x = ptr16(args[0])
        w = ptr8(args[1])
        bias = ptr8(args[2])
        out = args[3]
        mult = args[4]
        shift = args[5]
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
        acc64 = 1
        out_c = in_c * depth_mult
    else:
        # spec: conv2d_s16 {
        x = ptr16(args[0])
        w = ptr8(args[1])
        bias = ptr8(args[2])
        out = args[3]
        mult = args[4]
        shift = args[5]
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
    begin(out, mult, shift, (1 + acc64) | (out_c << 2), 0, act_min, act_max)
    sp = ptr32(_ACC)
    j0 = int(_ACC0)
    je = j0 + (int(_CAP) << 1)
    j = j0
    fsize = k_h * k_w * in_c
    xstep = d_w * in_c
    xrow_step = d_h * in_w * in_c
    wstep = in_c
    if dw:
        wstep = out_c
    wrow_step = k_w * wstep
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
            # zero points are 0: padded taps add nothing. Runs as in _conv_s8.
            if d_w == 1:
                run = (kx1 - kx0) * in_c
                nrun = 1
            else:
                run = in_c
                nrun = kx1 - kx0
            xtap0 = ((iy0 + ky0 * d_h) * in_w + ix0 + kx0 * d_w) * in_c
            wtap0 = (ky0 * k_w + kx0) * wstep
            ic = 0
            dm = 0
            for oc in range(out_c):
                k = oc << 3
                al = bias[k] | (bias[k + 1] << 8)
                ah = bias[k + 2] | (bias[k + 3] << 8) | (bias[k + 4] << 16) | (((bias[k + 5] ^ 0x80) - 0x80) << 24)
                if dw:
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
                                xi += xstep
                                wi += wstep
                                cnt -= 1
                            al += s
                            ah += al >> 16
                            al &= 0xFFFF
                        xr += xrow_step
                        wr += wrow_step
                    dm += 1
                    if dm == depth_mult:
                        dm = 0
                        ic += 1
                else:
                    xr = xtap0
                    wr = oc * fsize + wtap0
                    for ky in range(ky0, ky1):
                        xj = xr
                        wj = wr
                        for r in range(nrun):
                            xi = xj
                            xe = xj + run
                            dwo = wj - xj
                            while xi < xe:
                                ce = xi + 255
                                if ce > xe:
                                    ce = xe
                                s = 0
                                while xi < ce:
                                    s += ((x[xi] ^ 0x8000) - 0x8000) * ((w[xi + dwo] ^ 0x80) - 0x80)
                                    xi += 1
                                al += s
                                ah += al >> 16
                                al &= 0xFFFF
                            xj += xstep
                            wj += in_c
                        xr += xrow_step
                        wr += wrow_step
                sp[j] = al
                sp[j + 1] = ah
                j += 2
                if j == je:
                    j = int(flush(j))
    finish(j)


def conv2d_s16(args):
    _DW[0] = 0
    _conv_s16(args)


def depthwise_conv2d_s16(args):
    _DW[0] = 1
    _conv_s16(args)
