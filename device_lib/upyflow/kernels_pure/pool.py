# AVERAGE_POOL_2D, MAX_POOL_2D and L2_POOL_2D, NHWC, batch 1; padded taps are skipped and
# the average divides by the count of valid taps, as TFLite does.
import math

from ..qmath import F32, f32, requant_ort

KERNELS = ("avg_pool2d_s8", "max_pool2d_s8", "avg_pool2d_f32", "max_pool2d_f32",
           "avg_pool2d_s8_ort", "l2_pool2d_f32")


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


def _max_float(x, idx):
    # TFLM's: from the lowest float, a NaN tap never wins (an all-NaN window gives it), as the C tier
    m = -3.4028234663852886e38
    for i in idx:
        if x[i] > m:
            m = x[i]
    return m


def _avg_float(x, idx):
    acc = 0.0
    for i in idx:   # a float32 sum, as TFLM
        acc = f32(acc + x[i])
    return f32(acc / len(idx))


def _l2_float(x, idx):
    # TFLM's L2Pool: the squares summed in float32, over the count (float32), the square root
    acc = 0.0
    for i in idx:
        acc = f32(acc + f32(x[i] * x[i]))
    if not idx:
        return math.nan
    v = f32(acc / len(idx))
    return math.sqrt(v) if v >= 0 else v   # inf and NaN stay


def avg_pool2d_s8(x, out, in_h, in_w, c, out_h, out_w, k_h, k_w, s_h, s_w, pad_h, pad_w, act_min, act_max):
    _pool(x, out, in_h, in_w, c, out_h, out_w, k_h, k_w, s_h, s_w, pad_h, pad_w, act_min, act_max, _avg_int)


def max_pool2d_s8(x, out, in_h, in_w, c, out_h, out_w, k_h, k_w, s_h, s_w, pad_h, pad_w, act_min, act_max):
    _pool(x, out, in_h, in_w, c, out_h, out_w, k_h, k_w, s_h, s_w, pad_h, pad_w, act_min, act_max, _max)


def avg_pool2d_f32(x, out, in_h, in_w, c, out_h, out_w, k_h, k_w, s_h, s_w, pad_h, pad_w, act_min, act_max):
    _pool(x, out, in_h, in_w, c, out_h, out_w, k_h, k_w, s_h, s_w, pad_h, pad_w, act_min, act_max, _avg_float)


def l2_pool2d_f32(x, out, in_h, in_w, c, out_h, out_w, k_h, k_w, s_h, s_w, pad_h, pad_w, act_min, act_max):
    _pool(x, out, in_h, in_w, c, out_h, out_w, k_h, k_w, s_h, s_w, pad_h, pad_w, act_min, act_max, _l2_float)


def max_pool2d_f32(x, out, in_h, in_w, c, out_h, out_w, k_h, k_w, s_h, s_w, pad_h, pad_w, act_min, act_max):
    _pool(x, out, in_h, in_w, c, out_h, out_w, k_h, k_w, s_h, s_w, pad_h, pad_w, act_min, act_max, _max_float)


# onnxruntime's QLinearAveragePool (NHWC, batch 1): inputs dequantized in float32,
# summed in float32 row by row, divided by the count of valid taps, then
# round_half_even(f32(f32(sum / out_scale) + q_zp)) - q_shift: q_zp is the zero point
# as onnxruntime holds it (its x86 QDQ graphs convert int8 to uint8: q_zp = zp + 128,
# q_shift = 128). A pool over the whole image goes through its global average pool:
# mean_s8_ort's formula (glob_scale > 0).
def avg_pool2d_s8_ort(x, out, in_h, in_w, c, out_h, out_w, k_h, k_w, s_h, s_w, pad_h, pad_w,
                      in_zp, in_s, out_s, q_zp, q_shift, glob_scale, act_min, act_max):
    f = F32
    o = 0
    for oy in range(out_h):
        y0 = max(oy * s_h - pad_h, 0)
        y1 = min(oy * s_h - pad_h + k_h, in_h)
        for ox in range(out_w):
            x0 = max(ox * s_w - pad_w, 0)
            x1 = min(ox * s_w - pad_w + k_w, in_w)
            for ch in range(c):
                if glob_scale > 0:
                    acc = 0
                    for iy in range(y0, y1):
                        for ix in range(x0, x1):
                            acc += x[(iy * in_w + ix) * c + ch] - in_zp
                    out[o] = requant_ort(acc, glob_scale, q_zp - q_shift, act_min, act_max)
                else:
                    acc = 0.0
                    for iy in range(y0, y1):
                        for ix in range(x0, x1):
                            f[0] = (x[(iy * in_w + ix) * c + ch] - in_zp) * in_s
                            f[0] = acc + f[0]
                            acc = f[0]
                    f[0] = acc / ((y1 - y0) * (x1 - x0))
                    f[0] = f[0] / out_s
                    f[0] = f[0] + q_zp
                    v = round(f[0]) - q_shift
                    out[o] = act_min if v < act_min else (act_max if v > act_max else v)
                o += 1
