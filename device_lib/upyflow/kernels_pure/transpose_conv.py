# TRANSPOSE_CONV, NHWC, batch 1, filter [out_c, k_h, k_w, in_c]. TFLM scatters
# each input pixel into the output; here each output gathers the input pixels
# that reach it (same integer sums; float sums in TFLM's order: input row, column,
# channel ascending). No scratch buffer is needed.
from ..qmath import bias64, dot_f32, f32, mul_by_qm, mul_by_qm64

KERNELS = ("transpose_conv_s8", "transpose_conv_s16", "transpose_conv_f32")


def _sources(o, stride, pad, k, size):
    # (input coordinate, filter index) reaching output coordinate o, input ascending.
    src = []
    for kk in range(k - 1, -1, -1):
        t = o + pad - kk
        if t >= 0 and t % stride == 0 and t // stride < size:
            src.append((t // stride, kk))
    return src


def _taps(oy, ox, in_h, in_w, in_c, k_h, k_w, s_h, s_w, pad_h, pad_w):
    ys = _sources(oy, s_h, pad_h, k_h, in_h)
    xs = _sources(ox, s_w, pad_w, k_w, in_w)
    return [((iy * in_w + ix) * in_c, (ky * k_w + kx) * in_c) for iy, ky in ys for ix, kx in xs]


def _gather(x, w, out, start, finish, in_off, in_h, in_w, in_c, out_h, out_w, out_c,
            k_h, k_w, s_h, s_w, pad_h, pad_w):
    # Every dtype's sum: start[oc] + (x + in_off) * w over the taps (in_off None: float32
    # products and sums, as TFLM); finish(acc, oc) the output.
    fsize = k_h * k_w * in_c
    o = 0
    for oy in range(out_h):
        for ox in range(out_w):
            taps = _taps(oy, ox, in_h, in_w, in_c, k_h, k_w, s_h, s_w, pad_h, pad_w)
            for oc in range(out_c):
                acc = start[oc]
                wb = oc * fsize
                if in_off is None:
                    for xi, wi in taps:
                        acc = dot_f32(acc, x, xi, w, wb + wi, in_c)
                else:
                    for xi, wi in taps:
                        d = wb + wi - xi
                        for k in range(xi, xi + in_c):
                            acc += (x[k] + in_off) * w[d + k]
                out[o] = finish(acc, oc)
                o += 1


def transpose_conv_s8(x, w, bias, out, mult, shift, in_h, in_w, in_c, out_h, out_w, out_c,
                      k_h, k_w, s_h, s_w, pad_h, pad_w, in_off, out_off, act_min, act_max):
    def finish(acc, oc):
        v = mul_by_qm(acc + bias[oc], mult[oc], shift[oc]) + out_off
        return act_min if v < act_min else (act_max if v > act_max else v)
    _gather(x, w, out, [0] * out_c, finish, in_off, in_h, in_w, in_c, out_h, out_w, out_c,
            k_h, k_w, s_h, s_w, pad_h, pad_w)


def transpose_conv_s16(x, w, bias, out, mult, shift, in_h, in_w, in_c, out_h, out_w, out_c,
                       k_h, k_w, s_h, s_w, pad_h, pad_w, act_min, act_max):
    # int64 accumulator and bias (word pairs); zero points are 0.
    def finish(acc, oc):
        v = mul_by_qm64(acc, mult[oc], shift[oc])
        return act_min if v < act_min else (act_max if v > act_max else v)
    _gather(x, w, out, bias64(bias, out_c), finish, 0, in_h, in_w, in_c, out_h, out_w, out_c,
            k_h, k_w, s_h, s_w, pad_h, pad_w)


def transpose_conv_f32(x, w, bias, out, in_h, in_w, in_c, out_h, out_w, out_c,
                       k_h, k_w, s_h, s_w, pad_h, pad_w, act_min, act_max):
    def finish(acc, oc):
        return min(max(f32(acc + bias[oc]), act_min), act_max)
    _gather(x, w, out, [0.0] * out_c, finish, None, in_h, in_w, in_c, out_h, out_w, out_c,
            k_h, k_w, s_h, s_w, pad_h, pad_w)
