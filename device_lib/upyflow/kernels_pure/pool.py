# AVERAGE_POOL_2D and MAX_POOL_2D, NHWC, batch 1; padded taps are skipped and
# the average divides by the count of valid taps, as TFLite does.
from ..qmath import f32

KERNELS = ("avg_pool2d_s8", "max_pool2d_s8", "avg_pool2d_f32", "max_pool2d_f32")


def _window(o, s, pad, k, size):
    start = o * s - pad
    return max(start, 0), min(start + k, size)


def _pool(x, out, in_h, in_w, c, out_h, out_w, k_h, k_w, s_h, s_w, pad_h, pad_w,
          act_min, act_max, reduce):
    o = 0
    for oy in range(out_h):
        y0, y1 = _window(oy, s_h, pad_h, k_h, in_h)
        for ox in range(out_w):
            x0, x1 = _window(ox, s_w, pad_w, k_w, in_w)
            for ch in range(c):
                v = reduce(x, [(iy * in_w + ix) * c + ch
                               for iy in range(y0, y1) for ix in range(x0, x1)])
                out[o] = min(max(v, act_min), act_max)
                o += 1


def _avg_int(x, idx):
    acc = 0
    for i in idx:
        acc += x[i]
    n = len(idx)
    # C division truncates toward zero; round half away from zero first.
    return (acc + n // 2) // n if acc > 0 else -((n // 2 - acc) // n)


def _max(x, idx):
    m = x[idx[0]]
    for i in idx:
        if x[i] > m:
            m = x[i]
    return m


def _avg_float(x, idx):
    acc = 0.0
    for i in idx:   # a float32 sum, as TFLM
        acc = f32(acc + x[i])
    return f32(acc / len(idx))


def avg_pool2d_s8(x, out, *geom):
    _pool(x, out, *geom, _avg_int)


def max_pool2d_s8(x, out, *geom):
    _pool(x, out, *geom, _max)


def avg_pool2d_f32(x, out, *geom):
    _pool(x, out, *geom, _avg_float)


def max_pool2d_f32(x, out, *geom):
    _pool(x, out, *geom, _max)
