# CONV_2D and DEPTHWISE_CONV_2D, NHWC, batch 1. The bias arrives with
# input_offset * sum(filter) folded in, so padded taps (which TFLite treats as
# the input zero point) are corrected by subtracting input_offset * their weight.
from ..qmath import bias64, dot_f32, f32, mul_by_qm, ort_requant, requant16

KERNELS = ("conv2d_s8", "depthwise_conv2d_s8", "conv2d_f32", "depthwise_conv2d_f32",
           "conv2d_s16", "depthwise_conv2d_s16", "conv2d_s8_ort", "depthwise_conv2d_s8_ort")


def _taps(oy, ox, in_h, in_w, in_c, k_h, k_w, s_h, s_w, d_h, d_w, pad_h, pad_w, wstride):
    # (input index, filter index) of the valid taps and filter indices of padded ones.
    taps = []
    padded = []
    y0 = oy * s_h - pad_h
    x0 = ox * s_w - pad_w
    for ky in range(k_h):
        iy = y0 + ky * d_h
        for kx in range(k_w):
            ix = x0 + kx * d_w
            wi = (ky * k_w + kx) * wstride
            if 0 <= iy < in_h and 0 <= ix < in_w:
                taps.append(((iy * in_w + ix) * in_c, wi))
            else:
                padded.append(wi)
    return taps, padded


# (wtab, wtab_n: kernel_spec's optional scratch, and w_min, which only the Cortex-M0+ C kernel uses)
def conv2d_s8(x, w, bias, out, mult, shift, wtab, in_h, in_w, in_c, out_h, out_w, out_c,
              k_h, k_w, s_h, s_w, d_h, d_w, pad_h, pad_w, in_off, out_off,
              act_min, act_max, wtab_n, w_min):
    conv2d_acc(x, w, bias, out, _tflm_requant(mult, shift, out_off, act_min, act_max),
               in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, s_h, s_w, d_h, d_w,
               pad_h, pad_w, in_off)


def depthwise_conv2d_s8(x, w, bias, out, mult, shift, wtab, in_h, in_w, in_c, out_h, out_w,
                        depth_mult, k_h, k_w, s_h, s_w, d_h, d_w, pad_h, pad_w,
                        in_off, out_off, act_min, act_max, wtab_n, w_min):
    depthwise_conv2d_acc(x, w, bias, out, _tflm_requant(mult, shift, out_off, act_min, act_max),
                         in_h, in_w, in_c, out_h, out_w, depth_mult, k_h, k_w, s_h, s_w,
                         d_h, d_w, pad_h, pad_w, in_off)


def _tflm_requant(mult, shift, out_off, act_min, act_max):
    # TFLM's per-channel requantization and clamp, as requant(acc, channel).
    def requant(acc, oc):
        v = mul_by_qm(acc, mult[oc], shift[oc]) + out_off
        return act_min if v < act_min else (act_max if v > act_max else v)
    return requant


def _f32_act(bias, act_min, act_max):
    # The float32 output: the sum plus bias, rounded, clamped to the activation.
    def finish(acc, oc):
        return min(max(f32(acc + bias[oc]), act_min), act_max)
    return finish


def conv2d_acc(x, w, bias, out, requant, in_h, in_w, in_c, out_h, out_w, out_c,
               k_h, k_w, s_h, s_w, d_h, d_w, pad_h, pad_w, in_off):
    # The int8 accumulation (in_off None: float32 products and sums, as TFLM, the bias
    # left to requant); requant(acc, channel) turns each sum into the output.
    _walk(x, w, bias, out, requant, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, s_h, s_w,
          d_h, d_w, pad_h, pad_w, in_off, 0)


def depthwise_conv2d_acc(x, w, bias, out, requant, in_h, in_w, in_c, out_h, out_w,
                         depth_mult, k_h, k_w, s_h, s_w, d_h, d_w, pad_h, pad_w, in_off):
    # As conv2d_acc, one input channel per depth_mult outputs.
    _walk(x, w, bias, out, requant, in_h, in_w, in_c, out_h, out_w, in_c * depth_mult, k_h, k_w,
          s_h, s_w, d_h, d_w, pad_h, pad_w, in_off, depth_mult)


def _walk(x, w, bias, out, requant, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, s_h, s_w,
          d_h, d_w, pad_h, pad_w, in_off, depth_mult):
    # Both convolutions' output walk: depth_mult 0 is CONV_2D, else DEPTHWISE_CONV_2D.
    fsize = k_h * k_w * in_c
    o = 0
    for oy in range(out_h):
        for ox in range(out_w):
            taps, padded = _taps(oy, ox, in_h, in_w, in_c, k_h, k_w, s_h, s_w,
                                 d_h, d_w, pad_h, pad_w, out_c if depth_mult else in_c)
            for oc in range(out_c):
                if not depth_mult:
                    acc = _conv_sum(x, w, bias, taps, padded, oc, oc * fsize, in_c, in_off)
                elif in_off is None:   # depthwise inline: a few products per channel
                    ic = oc // depth_mult
                    acc = 0.0
                    for xi, wi in taps:
                        acc = f32(acc + f32(x[xi + ic] * w[wi + oc]))
                else:
                    ic = oc // depth_mult
                    acc = bias[oc]
                    for xi, wi in taps:
                        acc += x[xi + ic] * w[wi + oc]
                    for wi in padded if in_off else ():
                        acc -= in_off * w[wi + oc]
                out[o] = requant(acc, oc)
                o += 1


def _conv_sum(x, w, bias, taps, padded, oc, wb, in_c, in_off):
    # Output channel oc's sum over the taps, its filter at wb; padded taps (the input zero
    # point) corrected, the folded bias holding in_off * sum(filter).
    if in_off is None:
        acc = 0.0
        for xi, wi in taps:
            acc = dot_f32(acc, x, xi, w, wb + wi, in_c)
        return acc
    acc = bias[oc]
    for xi, wi in taps:
        d = wb + wi - xi
        for k in range(xi, xi + in_c):
            acc += x[k] * w[d + k]
    for wi in padded if in_off else ():
        s = 0
        for k in range(wb + wi, wb + wi + in_c):
            s += w[k]
        acc -= in_off * s
    return acc


def conv2d_f32(x, w, bias, out, in_h, in_w, in_c, out_h, out_w, out_c,
               k_h, k_w, s_h, s_w, d_h, d_w, pad_h, pad_w, act_min, act_max):
    conv2d_acc(x, w, bias, out, _f32_act(bias, act_min, act_max), in_h, in_w, in_c, out_h,
               out_w, out_c, k_h, k_w, s_h, s_w, d_h, d_w, pad_h, pad_w, None)


def depthwise_conv2d_f32(x, w, bias, out, in_h, in_w, in_c, out_h, out_w, depth_mult,
                         k_h, k_w, s_h, s_w, d_h, d_w, pad_h, pad_w, act_min, act_max):
    depthwise_conv2d_acc(x, w, bias, out, _f32_act(bias, act_min, act_max), in_h, in_w, in_c,
                         out_h, out_w, depth_mult, k_h, k_w, s_h, s_w, d_h, d_w, pad_h, pad_w,
                         None)


# --- int16 activations with int8 weights (TFLite's 16x8 quantization) ---
# Biases arrive as int64 values stored as (low, high) int32 word pairs; acc64 selects
# TFLM's accumulator (qmath.requant16). Zero points are 0 (the lowering checks):
# padded taps add nothing, so the int8 accumulation serves with in_off 0.
def _requant16(mult, shift, acc64, act_min, act_max):
    def requant(acc, oc):
        return requant16(acc, mult[oc], shift[oc], acc64, act_min, act_max)
    return requant


def conv2d_s16(x, w, bias, out, mult, shift, in_h, in_w, in_c, out_h, out_w, out_c,
               k_h, k_w, s_h, s_w, d_h, d_w, pad_h, pad_w, acc64, act_min, act_max):
    conv2d_acc(x, w, bias64(bias, out_c), out, _requant16(mult, shift, acc64, act_min, act_max),
               in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, s_h, s_w, d_h, d_w,
               pad_h, pad_w, 0)


def depthwise_conv2d_s16(x, w, bias, out, mult, shift, in_h, in_w, in_c, out_h, out_w,
                         depth_mult, k_h, k_w, s_h, s_w, d_h, d_w, pad_h, pad_w,
                         act_min, act_max):
    depthwise_conv2d_acc(x, w, bias64(bias, in_c * depth_mult), out,
                         _requant16(mult, shift, 1, act_min, act_max), in_h, in_w, in_c,
                         out_h, out_w, depth_mult, k_h, k_w, s_h, s_w, d_h, d_w, pad_h, pad_w, 0)


# --- int8 requantized as onnxruntime does (qmath.requant_ort) ---
def conv2d_s8_ort(x, w, bias, out, scale, in_h, in_w, in_c, out_h, out_w, out_c,
                  k_h, k_w, s_h, s_w, d_h, d_w, pad_h, pad_w, in_off, out_off,
                  act_min, act_max):
    conv2d_acc(x, w, bias, out, ort_requant(scale, out_off, act_min, act_max),
               in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, s_h, s_w, d_h, d_w,
               pad_h, pad_w, in_off)


def depthwise_conv2d_s8_ort(x, w, bias, out, scale, in_h, in_w, in_c, out_h, out_w,
                            depth_mult, k_h, k_w, s_h, s_w, d_h, d_w, pad_h, pad_w,
                            in_off, out_off, act_min, act_max):
    depthwise_conv2d_acc(x, w, bias, out, ort_requant(scale, out_off, act_min, act_max),
                         in_h, in_w, in_c, out_h, out_w, depth_mult, k_h, k_w, s_h, s_w,
                         d_h, d_w, pad_h, pad_w, in_off)
