# FULLY_CONNECTED. The input zero point is folded into the bias at bake time.
from ..qmath import bias64, mul_by_qm, ort_requant, requant16

KERNELS = ("fully_connected_s8", "fully_connected_f32", "fully_connected_s16",
           "fully_connected_s8_ort")


def fully_connected_s8(x, w, bias, out, mult, shift, batches, n_in, n_out,
                       out_off, act_min, act_max):
    def requant(acc, o):
        v = mul_by_qm(acc, mult[o], shift[o]) + out_off
        return act_min if v < act_min else (act_max if v > act_max else v)
    fully_connected_acc(x, w, bias, out, requant, batches, n_in, n_out)


def fully_connected_acc(x, w, bias, out, requant, batches, n_in, n_out):
    # The int8 accumulation; requant(acc, row) turns each sum into the output.
    for b in range(batches):
        xb = b * n_in
        ob = b * n_out
        for o in range(n_out):
            acc = bias[o]
            wb = o * n_in - xb
            for k in range(xb, xb + n_in):
                acc += x[k] * w[wb + k]
            out[ob + o] = requant(acc, o)


def fully_connected_f32(x, w, bias, out, batches, n_in, n_out, act_min, act_max):
    for b in range(batches):
        xb = b * n_in
        for o in range(n_out):
            acc = 0.0
            wb = o * n_in - xb
            for k in range(xb, xb + n_in):
                acc += x[k] * w[wb + k]
            acc += bias[o]
            out[b * n_out + o] = min(max(acc, act_min), act_max)


# int16 activations with int8 weights (16x8): int64 bias as word pairs, acc64 as in
# qmath.requant16.
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
            v = requant16(acc, mult[o], shift[o], acc64, -2147483648, 2147483647) + out_off
            out[ob + o] = act_min if v < act_min else (act_max if v > act_max else v)


# int8 requantized as onnxruntime does (qmath.requant_ort).
def fully_connected_s8_ort(x, w, bias, out, scale, batches, n_in, n_out,
                           out_off, act_min, act_max):
    fully_connected_acc(x, w, bias, out, ort_requant(scale, out_off, act_min, act_max),
                        batches, n_in, n_out)
