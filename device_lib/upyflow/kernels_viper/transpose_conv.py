# Viper TRANSPOSE_CONV int8, bit-exact with kernels_pure/transpose_conv.py and TFLM;
# the 32-bit rules of __init__.py apply; the accumulators go to __init__.requant in runs.
# It opens as conv.py's and fc.py's kernels do (see conv.py's top).
import micropython

from . import ACC as _ACC
from . import ACC0 as _ACC0
from . import CAP as _CAP
from . import begin, finish, flush

KERNELS = ("transpose_conv_s8",)

# --- TRANSPOSE_CONV int8 (see kernels_pure/transpose_conv.py) ------------------------
# Each output gathers its sources: input row iy reaches output row oy through filter
# row ky = oy + pad_h - iy * s_h, found by stepping iy (no division).


@micropython.viper
def transpose_conv_s8(args):
    acc = 0
    # spec: transpose_conv_s8 {
    x = ptr8(args[0])
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
    pad_h = int(args[16])
    pad_w = int(args[17])
    in_off = int(args[18])
    out_off = int(args[19])
    act_min = int(args[20])
    act_max = int(args[21])
    # }
    begin(out, mult, shift, 0 | (out_c << 2), out_off, act_min, act_max)
    sp = ptr32(_ACC)
    j = int(_ACC0)
    je = j + int(_CAP)
    fsize = k_h * k_w * in_c
    for oy in range(out_h):
        # first input row whose filter row is inside the filter
        iy0 = 0
        ky0 = oy + pad_h
        while ky0 >= k_h:
            iy0 += 1
            ky0 -= s_h
        for ox in range(out_w):
            # the same search for the first input column: inline, as the row's, since a
            # viper call per output pixel would cost as much as a small filter's taps
            ix0 = 0
            kx0 = ox + pad_w
            while kx0 >= k_w:
                ix0 += 1
                kx0 -= s_w
            for oc in range(out_c):
                acc = 0
                wo = oc * fsize
                iy = iy0
                ky = ky0
                while iy < in_h and ky >= 0:
                    ix = ix0
                    kx = kx0
                    while ix < in_w and kx >= 0:
                        xi = (iy * in_w + ix) * in_c
                        xe = xi + in_c
                        dw = wo + (ky * k_w + kx) * in_c - xi
                        while xi < xe:
                            acc += (((x[xi] ^ 0x80) - 0x80) + in_off) * ((w[xi + dw] ^ 0x80) - 0x80)
                            xi += 1
                        ix += 1
                        kx -= s_w
                    iy += 1
                    ky -= s_h
                k = oc << 2
                acc += bias[k] | (bias[k + 1] << 8) | (bias[k + 2] << 16) | (((bias[k + 3] ^ 0x80) - 0x80) << 24)
                sp[j] = acc
                j += 1
                if j == je:
                    j = int(flush(j))
    finish(j)
