# SVDF. Its state tensor is arena bytes of its own that persists between invokes
# (Model.reset() re-initializes it). Zero points, biases and multipliers come folded
# from the lowering (upyflow_tools/lower/families/svdf.py).
from ..qmath import dot_f32, f32, mul_by_qm, wrap32

KERNELS = ("svdf_s8_i16", "svdf_s8_i8", "svdf_f32")


# q: int32 [feature zero-point terms (n_filter) | time zero-point terms
# (n_filter) | bias (n_filter / rank)]. The state holds, per batch and filter,
# the last `mem` feature activations, oldest first.
def _svdf_int(x, wf, wt, q, state, out, batch, n_in, n_filter, rank, mem,
              state_zp, out_zp, m1, s1, m2, s2, lo, hi):
    n_unit = n_filter // rank
    span = hi - lo + 1
    for b in range(batch):
        xb = b * n_in
        sb = b * n_filter * mem
        for u in range(n_unit):
            acc = q[2 * n_filter + u]
            for r in range(u * rank, u * rank + rank):
                row = sb + r * mem
                last = row + mem - 1
                for j in range(row, last):   # age the memory by one step
                    state[j] = state[j + 1]
                dot = q[r]
                wb = r * n_in - xb
                for k in range(xb, xb + n_in):
                    dot += wf[wb + k] * x[k]
                dot = mul_by_qm(wrap32(dot), m1, s1)   # int32 sums wrap as in C
                dot = lo if dot < lo else (hi if dot > hi else dot)
                v = dot + state_zp
                if v < lo or v > hi:   # TFLM's store truncates to the state type
                    v = (v - lo) % span + lo
                state[last] = v
                t = q[n_filter + r]
                wb = r * mem - row
                for j in range(row, row + mem):
                    t += wt[wb + j] * state[j]
                acc += t
            v = mul_by_qm(wrap32(acc), m2, s2) + out_zp
            out[b * n_unit + u] = -128 if v < -128 else (127 if v > 127 else v)


def svdf_s8_i16(x, wf, wt, q, state, out, batch, n_in, n_filter, rank, mem,
                state_zp, out_zp, m1, s1, m2, s2):
    _svdf_int(x, wf, wt, q, state, out, batch, n_in, n_filter, rank, mem,
              state_zp, out_zp, m1, s1, m2, s2, -32768, 32767)


def svdf_s8_i8(x, wf, wt, q, state, out, batch, n_in, n_filter, rank, mem,
               state_zp, out_zp, m1, s1, m2, s2):
    _svdf_int(x, wf, wt, q, state, out, batch, n_in, n_filter, rank, mem,
              state_zp, out_zp, m1, s1, m2, s2, -128, 127)


def svdf_f32(x, wf, wt, bias, state, out, batch, n_in, n_filter, rank, mem, act_min, act_max):
    n_unit = n_filter // rank
    for b in range(batch):
        xb = b * n_in
        sb = b * n_filter * mem
        for u in range(n_unit):
            acc = bias[u]
            for r in range(u * rank, u * rank + rank):
                row = sb + r * mem
                last = row + mem - 1
                for j in range(row, last):
                    state[j] = state[j + 1]
                # float32 products and sums, as TFLM
                state[last] = dot_f32(0.0, x, xb, wf, r * n_in, n_in)
                acc = f32(acc + dot_f32(0.0, state, row, wt, r * mem, mem))
            out[b * n_unit + u] = min(max(acc, act_min), act_max)
