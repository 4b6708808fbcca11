# FULLY_CONNECTED (the input zero point is folded into the bias at bake time) and
# BATCH_MATMUL.
from ..qmath import bias64, dot_f32, f32, mul_by_qm, mul_by_qm64, ort_requant, requant16, wrap32

KERNELS = ("fully_connected_s8", "fully_connected_f32", "fully_connected_s16",
           "fully_connected_s8_ort", "batch_matmul_q", "batch_matmul_f32")


def fully_connected_s8(x, w, bias, out, mult, shift, batches, n_in, n_out,
                       out_off, act_min, act_max):
    def requant(acc, o):
        v = mul_by_qm(acc, mult[o], shift[o]) + out_off
        return act_min if v < act_min else (act_max if v > act_max else v)
    fully_connected_acc(x, w, bias, out, requant, batches, n_in, n_out)


def fully_connected_acc(x, w, bias, out, requant, batches, n_in, n_out):
    # Every dtype's sum from bias[row]; requant(acc, row) turns each sum into the output.
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


# int16 activations with int8 weights (16x8): int64 bias as word pairs, acc64 as in
# qmath.requant16.
def fully_connected_s16(x, w, bias, out, mult, shift, batches, n_in, n_out, out_off,
                        acc64, act_min, act_max):
    # The input zero point is folded into the bias at bake time.
    def finish(acc, o):
        # requantize before the offset, clamp after: as TFLM
        v = requant16(acc, mult[o], shift[o], acc64, -2147483648, 2147483647) + out_off
        return act_min if v < act_min else (act_max if v > act_max else v)
    fully_connected_acc(x, w, bias64(bias, n_out), out, finish, batches, n_in, n_out)


# int8 requantized as onnxruntime does (qmath.requant_ort).
def fully_connected_s8_ort(x, w, bias, out, scale, batches, n_in, n_out,
                           out_off, act_min, act_max):
    fully_connected_acc(x, w, bias, out, ort_requant(scale, out_off, act_min, act_max),
                        batches, n_in, n_out)


# BATCH_MATMUL: d holds each output matrix's (lhs, rhs) start; strides walk rows, depth and
# columns (broadcasting and adj_x/adj_y resolved at bake time).
def batch_matmul_q(lhs, rhs, d, out, nb, m, n, k, lsi, lsk, rsk, rsj, esize, lhs_off, rhs_off,
                   mult, shift, out_off, act_min, act_max):
    # int8: TFLM's int32 sum (wrapping) and requantization; int16: int64 sum, 64-bit multiplier
    def dot(li, ri):
        acc = 0
        for _ in range(k):
            acc += (lhs[li] + lhs_off) * (rhs[ri] + rhs_off)
            li += lsk
            ri += rsk
        v = (mul_by_qm(wrap32(acc), mult, shift) if esize == 1 else mul_by_qm64(acc, mult, shift)) + out_off
        return act_min if v < act_min else (act_max if v > act_max else v)
    batch_matmul_walk(d, out, nb, m, n, lsi, rsj, dot)


def batch_matmul_f32(lhs, rhs, d, out, nb, m, n, k, lsi, lsk, rsk, rsj):
    def dot(li, ri):
        acc = 0.0
        for _ in range(k):
            acc = f32(acc + f32(lhs[li] * rhs[ri]))   # float32 sums in depth order, as TFLM
            li += lsk
            ri += rsk
        return acc
    batch_matmul_walk(d, out, nb, m, n, lsi, rsj, dot)


def batch_matmul_walk(d, out, nb, m, n, lsi, rsj, dot):
    # Both dtypes' output order: each output is dot(its lhs row's start, its rhs column's start).
    at = 0
    for b in range(nb):
        for i in range(m):
            for j in range(n):
                out[at] = dot(d[2 * b] + i * lsi, d[2 * b + 1] + j * rsj)
                at += 1
