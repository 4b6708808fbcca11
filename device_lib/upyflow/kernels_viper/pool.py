# Viper AVERAGE_POOL_2D and MAX_POOL_2D int8, byte-identical with kernels_pure/pool.py.
import micropython

KERNELS = ("avg_pool2d_s8", "max_pool2d_s8")


@micropython.viper
def _pool2d_s8(args, is_max: int):
    # One window walk for both; the average or maximum is chosen per channel, not per element.
    # s and v before the prologue: with args they take viper's three registers (see
    # __init__.py), which the window loops want.
    s = 0
    v = 0
    # spec: avg_pool2d_s8 max_pool2d_s8 {
    x = ptr8(args[0])
    out = ptr8(args[1])
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
    # }
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
            # the row's clip again for the columns: inline, since a viper call per output
            # pixel would cost as much as a small window's elements
            x0 = ox * s_w - pad_w
            x1 = x0 + k_w
            if x0 < 0:
                x0 = 0
            if x1 > in_w:
                x1 = in_w
            n = (y1 - y0) * (x1 - x0)
            base = y0 * row + x0 * c
            for ch in range(c):
                xr = base + ch
                if is_max:
                    q = -128
                    for iy in range(y0, y1):
                        xi = xr
                        for ix in range(x0, x1):
                            v = (x[xi] ^ 0x80) - 0x80
                            if v > q:
                                q = v
                            xi += c
                        xr += row
                else:
                    s = 0
                    for iy in range(y0, y1):
                        xi = xr
                        for ix in range(x0, x1):
                            s += (x[xi] ^ 0x80) - 0x80
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
                out[o] = q
                o += 1


def avg_pool2d_s8(args):
    _pool2d_s8(args, 0)


def max_pool2d_s8(args):
    _pool2d_s8(args, 1)
