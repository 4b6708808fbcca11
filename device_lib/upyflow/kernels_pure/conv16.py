# int16 activations with int8 weights (TFLite's 16x8 quantization) for
# CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED, NHWC, batch 1.
#
# Biases arrive as int64 values stored as (low, high) int32 word pairs. acc64
# selects TFLM's accumulator: 1 = int64 (requantized with the 16-bit reduced
# multiplier), 0 = int32 (wraps, then the usual double-rounding requantization).
# Convolutions have zero points 0 (the lowering checks): padded taps add nothing.
from ..qmath import mul_by_qm64, wrap32, srdhm, rdbypot

KERNELS = ("conv2d_s16", "depthwise_conv2d_s16", "fully_connected_s16")


def bias64(bias, n):
    # int64 values from their little-endian int32 word pairs; small ones stay small ints.
    b = []
    for c in range(n):
        lo = bias[2 * c]
        hi = bias[2 * c + 1]
        if (hi == 0 and lo >= 0) or (hi == -1 and lo < 0):
            b.append(lo)
        else:
            b.append((hi << 32) + (lo & 0xFFFFFFFF))
    return b


def requant(acc, m, s, acc64, act_min, act_max):
    if acc64:
        v = mul_by_qm64(acc, m, s)
    elif s > 0:
        v = srdhm(wrap32(wrap32(acc) << s), m)
    else:
        v = rdbypot(srdhm(wrap32(acc), m), -s)
    return act_min if v < act_min else (act_max if v > act_max else v)


def _valid_taps(o, stride, pad, k, dil, size):
    # (input coordinate, filter index) of the taps inside the image.
    taps = []
    i0 = o * stride - pad
    for kk in range(k):
        i = i0 + kk * dil
        if 0 <= i < size:
            taps.append((i, kk))
    return taps


def conv2d_s16(x, w, bias, out, mult, shift, in_h, in_w, in_c, out_h, out_w, out_c,
               k_h, k_w, s_h, s_w, d_h, d_w, pad_h, pad_w, acc64, act_min, act_max):
    b = bias64(bias, out_c)
    fsize = k_h * k_w * in_c
    o = 0
    for oy in range(out_h):
        ys = _valid_taps(oy, s_h, pad_h, k_h, d_h, in_h)
        for ox in range(out_w):
            xs = _valid_taps(ox, s_w, pad_w, k_w, d_w, in_w)
            taps = [((iy * in_w + ix) * in_c, (ky * k_w + kx) * in_c) for iy, ky in ys for ix, kx in xs]
            for oc in range(out_c):
                acc = b[oc]
                wb = oc * fsize
                for xi, wi in taps:
                    d = wb + wi - xi
                    for k in range(xi, xi + in_c):
                        acc += x[k] * w[d + k]
                out[o] = requant(acc, mult[oc], shift[oc], acc64, act_min, act_max)
                o += 1


def depthwise_conv2d_s16(x, w, bias, out, mult, shift, in_h, in_w, in_c, out_h, out_w,
                         depth_mult, k_h, k_w, s_h, s_w, d_h, d_w, pad_h, pad_w,
                         act_min, act_max):
    out_c = in_c * depth_mult
    b = bias64(bias, out_c)
    o = 0
    for oy in range(out_h):
        ys = _valid_taps(oy, s_h, pad_h, k_h, d_h, in_h)
        for ox in range(out_w):
            xs = _valid_taps(ox, s_w, pad_w, k_w, d_w, in_w)
            taps = [((iy * in_w + ix) * in_c, (ky * k_w + kx) * out_c) for iy, ky in ys for ix, kx in xs]
            for oc in range(out_c):
                ic = oc // depth_mult
                acc = b[oc]
                for xi, wi in taps:
                    acc += x[xi + ic] * w[wi + oc]
                out[o] = requant(acc, mult[oc], shift[oc], 1, act_min, act_max)
                o += 1


def fully_connected_s16(x, w, bias, out, mult, shift, batches, n_in, n_out, out_off,
                        acc64, act_min, act_max):
    # The input zero point is folded into the bias at bake time.
    b = bias64(bias, n_out)
    for bt in range(batches):
        xb = bt * n_in
        ob = bt * n_out
        for o in range(n_out):
            acc = b[o]
            wb = o * n_in - xb
            for k in range(xb, xb + n_in):
                acc += x[k] * w[wb + k]
            # requantize before the offset, clamp after: as TFLM
            v = requant(acc, mult[o], shift[o], acc64, -2147483648, 2147483647) + out_off
            out[ob + o] = act_min if v < act_min else (act_max if v > act_max else v)
