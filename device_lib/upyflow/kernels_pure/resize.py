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
    o = 0
    for oy in range(out_h):
        y0 = ytab[3 * oy] * in_w
        y1 = ytab[3 * oy + 1] * in_w
        fy = ytab[3 * oy + 2]
        gy = 1024 - fy
        for ox in range(out_w):
            x0 = xtab[3 * ox]
            x1 = xtab[3 * ox + 1]
            fx = xtab[3 * ox + 2]
            gx = 1024 - fx
            a = (y0 + x0) * depth
            b = (y1 + x0) * depth
            c_ = (y0 + x1) * depth
            d = (y1 + x1) * depth
            for c in range(depth):
                v = (x[a + c] * gy * gx + x[b + c] * fy * gx + x[c_ + c] * gy * fx
                     + x[d + c] * fy * fx)
                out[o + c] = (v + 524288) >> 20 if v > 0 else -((524288 - v) >> 20)
            o += depth


def resize_bilinear_f32(x, ytab, yw, xtab, xw, out, in_h, in_w, out_h, out_w, depth):
    # ytab/xtab: (lower, upper) per output row/column; yw/xw: the fraction
    o = 0
    for oy in range(out_h):
        y0 = ytab[2 * oy] * in_w
        y1 = ytab[2 * oy + 1] * in_w
        fy = yw[oy]
        gy = 1 - fy
        for ox in range(out_w):
            x0 = xtab[2 * ox]
            x1 = xtab[2 * ox + 1]
            fx = xw[ox]
            gx = 1 - fx
            a = (y0 + x0) * depth
            b = (y1 + x0) * depth
            c_ = (y0 + x1) * depth
            d = (y1 + x1) * depth
            for c in range(depth):
                out[o + c] = (x[a + c] * gy * gx + x[b + c] * fy * gx + x[c_ + c] * gy * fx
                              + x[d + c] * fy * fx)
            o += depth
