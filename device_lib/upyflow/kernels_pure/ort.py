# int8 CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED requantized as onnxruntime's
# CPU kernels do (MLAS): y = round_half_even(f32(f32(acc) * scale[c])) + zero point,
# with scale[c] = f32(f32(in_scale * w_scale[c]) / out_scale), precomputed at bake time.
# float32 arithmetic is emulated exactly: on a double-float port (CPython, MicroPython
# unix) f32(acc) and the product are rounded to float32 through a 1-element float32
# array (the product of two float32 values is exact in a double); on a single-float
# port both are float32 already. round() ties to even on CPython and MicroPython.
# Not exact on ports whose floats lose mantissa bits (object representation C or D).
from array import array

from .conv import _taps

KERNELS = ("conv2d_s8_ort", "depthwise_conv2d_s8_ort", "fully_connected_s8_ort")

_F = array("f", [0.0])


def _requant(acc, scale, out_off, act_min, act_max):
    f = _F
    f[0] = acc
    f[0] = f[0] * scale
    v = round(f[0]) + out_off
    return act_min if v < act_min else (act_max if v > act_max else v)


def conv2d_s8_ort(x, w, bias, out, scale, in_h, in_w, in_c, out_h, out_w, out_c,
                  k_h, k_w, s_h, s_w, d_h, d_w, pad_h, pad_w, in_off, out_off,
                  act_min, act_max):
    fsize = k_h * k_w * in_c
    o = 0
    for oy in range(out_h):
        for ox in range(out_w):
            taps, padded = _taps(oy, ox, in_h, in_w, in_c, k_h, k_w, s_h, s_w,
                                 d_h, d_w, pad_h, pad_w, in_c)
            for oc in range(out_c):
                acc = bias[oc]
                wb = oc * fsize
                for xi, wi in taps:
                    d = wb + wi - xi
                    for k in range(xi, xi + in_c):
                        acc += x[k] * w[d + k]
                for wi in padded:
                    s = 0
                    for k in range(wb + wi, wb + wi + in_c):
                        s += w[k]
                    acc -= in_off * s
                out[o] = _requant(acc, scale[oc], out_off, act_min, act_max)
                o += 1


def depthwise_conv2d_s8_ort(x, w, bias, out, scale, in_h, in_w, in_c, out_h, out_w,
                            depth_mult, k_h, k_w, s_h, s_w, d_h, d_w, pad_h, pad_w,
                            in_off, out_off, act_min, act_max):
    out_c = in_c * depth_mult
    o = 0
    for oy in range(out_h):
        for ox in range(out_w):
            taps, padded = _taps(oy, ox, in_h, in_w, in_c, k_h, k_w, s_h, s_w,
                                 d_h, d_w, pad_h, pad_w, out_c)
            for oc in range(out_c):
                ic = oc // depth_mult
                acc = bias[oc]
                for xi, wi in taps:
                    acc += x[xi + ic] * w[wi + oc]
                for wi in padded:
                    acc -= in_off * w[wi + oc]
                out[o] = _requant(acc, scale[oc], out_off, act_min, act_max)
                o += 1


def fully_connected_s8_ort(x, w, bias, out, scale, batches, n_in, n_out,
                           out_off, act_min, act_max):
    for b in range(batches):
        xb = b * n_in
        ob = b * n_out
        for o in range(n_out):
            acc = bias[o]
            wb = o * n_in - xb
            for k in range(xb, xb + n_in):
                acc += x[k] * w[wb + k]
            out[ob + o] = _requant(acc, scale[o], out_off, act_min, act_max)
