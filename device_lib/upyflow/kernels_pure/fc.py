# FULLY_CONNECTED. The input zero point is folded into the bias at bake time.
from ..qmath import mul_by_qm, f32, dot_f32

KERNELS = ("fully_connected_s8", "fully_connected_f32")


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
            acc = f32(dot_f32(0.0, x, xb, w, o * n_in, n_in) + bias[o])   # float32, as TFLM
            out[b * n_out + o] = min(max(acc, act_min), act_max)
