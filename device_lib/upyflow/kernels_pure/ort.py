# int8 CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED requantized as onnxruntime's
# CPU kernels do (MLAS): y = round_half_even(f32(f32(acc) * scale[c])) + zero point,
# with scale[c] = f32(f32(in_scale * w_scale[c]) / out_scale), precomputed at bake time.
# float32 arithmetic is emulated exactly: on a double-float port (CPython, MicroPython
# unix) f32(acc) and the product are rounded to float32 through a 1-element float32
# array (the product of two float32 values is exact in a double); on a single-float
# port both are float32 already. round() ties to even on CPython and MicroPython.
# Not exact on ports whose floats lose mantissa bits (object representation C or D).
from array import array

from .conv import conv2d_acc, depthwise_conv2d_acc
from .fc import fully_connected_acc
from .elementwise import _pairs, _runs

KERNELS = ("conv2d_s8_ort", "depthwise_conv2d_s8_ort", "fully_connected_s8_ort",
           "binary_s8_ort", "avg_pool2d_s8_ort", "mean_s8_ort")

_F = array("f", [0.0])


def _requant(acc, scale, out_off, act_min, act_max):
    f = _F
    f[0] = acc
    f[0] = f[0] * scale
    v = round(f[0]) + out_off
    return act_min if v < act_min else (act_max if v > act_max else v)


def _ort_requant(scale, out_off, act_min, act_max):
    def requant(acc, oc):
        return _requant(acc, scale[oc], out_off, act_min, act_max)
    return requant


def conv2d_s8_ort(x, w, bias, out, scale, in_h, in_w, in_c, out_h, out_w, out_c,
                  k_h, k_w, s_h, s_w, d_h, d_w, pad_h, pad_w, in_off, out_off,
                  act_min, act_max):
    conv2d_acc(x, w, bias, out, _ort_requant(scale, out_off, act_min, act_max),
               in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, s_h, s_w, d_h, d_w,
               pad_h, pad_w, in_off)


def depthwise_conv2d_s8_ort(x, w, bias, out, scale, in_h, in_w, in_c, out_h, out_w,
                            depth_mult, k_h, k_w, s_h, s_w, d_h, d_w, pad_h, pad_w,
                            in_off, out_off, act_min, act_max):
    depthwise_conv2d_acc(x, w, bias, out, _ort_requant(scale, out_off, act_min, act_max),
                         in_h, in_w, in_c, out_h, out_w, depth_mult, k_h, k_w, s_h, s_w,
                         d_h, d_w, pad_h, pad_w, in_off)


def fully_connected_s8_ort(x, w, bias, out, scale, batches, n_in, n_out,
                           out_off, act_min, act_max):
    fully_connected_acc(x, w, bias, out, _ort_requant(scale, out_off, act_min, act_max),
                        batches, n_in, n_out)


# ADD/SUB/MUL as onnxruntime runs them between DequantizeLinear and QuantizeLinear:
# each input dequantized in float32 (f32((x - zp) * scale)), the op in float32,
# then quantized: round_half_even(f32(v / out_scale)) + zero point. A double result
# rounded once to float32 equals the float32 operation (53 >= 2 * 24 + 2 bits).
def binary_s8_ort(x1, x2, out, d, op, zp1, s1, zp2, s2, out_s, out_zp, lo, hi):
    f = _F

    def row(a, b, o, n, sa, sb):
        for i in range(n):
            f[0] = (x1[a] - zp1) * s1
            u = f[0]
            f[0] = (x2[b] - zp2) * s2
            w = f[0]
            f[0] = u * w if op == 2 else (u + w if op == 0 else u - w)
            f[0] = f[0] / out_s
            v = round(f[0]) + out_zp
            out[o + i] = lo if v < lo else (hi if v > hi else v)
            a += sa
            b += sb
    _pairs(d, d[0], 0, 0, 0, 0, row)


# onnxruntime's QLinearAveragePool (NHWC, batch 1): inputs dequantized in float32,
# summed in float32 row by row, divided by the count of valid taps, then
# round_half_even(f32(f32(sum / out_scale) + q_zp)) - q_shift: q_zp is the zero point
# as onnxruntime holds it (its x86 QDQ graphs convert int8 to uint8: q_zp = zp + 128,
# q_shift = 128). A pool over the whole image goes through its global average pool:
# mean_s8_ort's formula (glob_scale > 0).
def avg_pool2d_s8_ort(x, out, in_h, in_w, c, out_h, out_w, k_h, k_w, s_h, s_w, pad_h, pad_w,
                      in_zp, in_s, out_s, q_zp, q_shift, glob_scale, act_min, act_max):
    f = _F
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
                    out[o] = _requant(acc, glob_scale, q_zp - q_shift, act_min, act_max)
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


# onnxruntime's QLinearGlobalAveragePool (MLAS): the integer sum less count * zero
# point, times f32(in_scale / f32(out_scale * count)) in float32, ties to even.
def mean_s8_ort(x, out, d, in_zp, scale, out_zp, count, lo, hi):
    p = 1 + 2 * d[0]
    st = [0, 0]

    def inner(base, n, s):
        acc = 0
        for _ in range(n):
            acc += x[base]
            base += s
        st[1] += acc

    def outer(base, n, s):
        for _ in range(n):
            st[1] = 0
            _runs(d, p, 0, base, inner)
            out[st[0]] = _requant(st[1] - in_zp * count, scale, out_zp, lo, hi)
            st[0] += 1
            base += s
    _runs(d, 0, 0, 0, outer)
