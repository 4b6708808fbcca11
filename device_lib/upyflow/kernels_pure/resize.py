# RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR, batch-1 NHWC. Every coordinate
# is baked into tables (TFLM's float or 10-bit fixed-point source positions), so
# a kernel only gathers and blends.

KERNELS = ("resize_nearest", "resize_bilinear_s8", "resize_bilinear_f32")


def resize_nearest(x, ymap, xmap, out, in_h, in_w, out_h, out_w, depth, esize):
    # ymap/xmap: the source row/column of each output row/column
    o = 0
    for oy in range(out_h):
        row = ymap[oy] * in_w
        for ox in range(out_w):
            i = (row + xmap[ox]) * depth
            for c in range(depth):
                out[o + c] = x[i + c]
            o += depth


def resize_bilinear_s8(x, ytab, xtab, out, in_h, in_w, out_h, out_w, depth):
    # tables: (lower, upper, 10-bit fraction) per output row/column; TFLM's
    # ResizeBilinearInteger rounds the 20-bit blend half away from zero
    _bilinear(x, ytab, ytab, xtab, xtab, out, in_w, out_h, out_w, depth, 3, 2, 1024)


def resize_bilinear_f32(x, ytab, yw, xtab, xw, out, in_h, in_w, out_h, out_w, depth):
    # ytab/xtab: (lower, upper) per output row/column; yw/xw: the fraction
    _bilinear(x, ytab, yw, xtab, xw, out, in_w, out_h, out_w, depth, 2, 0, 1)


def _bilinear(x, ytab, yf, xtab, xf, out, in_w, out_h, out_w, depth, k, at, one):
    # Both dtypes' blend: k table entries per row/column, the fraction at yf/xf[k * i + at]
    # (k = 3: in the index table) or yf/xf[i] (at = 0), in units of 1/one; one = 1024 is
    # int8's fixed point, rounded back from 20 fraction bits.
    fk = k if at else 1
    o = 0
    for oy in range(out_h):
        y0 = ytab[k * oy] * in_w
        y1 = ytab[k * oy + 1] * in_w
        fy = yf[fk * oy + at]
        gy = one - fy
        for ox in range(out_w):
            x0 = xtab[k * ox]
            x1 = xtab[k * ox + 1]
            fx = xf[fk * ox + at]
            gx = one - fx
            a = (y0 + x0) * depth
            b = (y1 + x0) * depth
            c_ = (y0 + x1) * depth
            d = (y1 + x1) * depth
            for c in range(depth):
                v = (x[a + c] * gy * gx + x[b + c] * fy * gx + x[c_ + c] * gy * fx
                     + x[d + c] * fy * fx)
                if one != 1:
                    v = (v + 524288) >> 20 if v > 0 else -((524288 - v) >> 20)
                out[o + c] = v
            o += depth
