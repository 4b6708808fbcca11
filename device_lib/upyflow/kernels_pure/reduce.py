# MEAN (int8/int16, float32, and onnxruntime's rounding for int8). The reduction
# descriptor, baked by upyflow_tools/lower/families/reduce.py, is [outer block][inner
# block], each block [nd, shape..., strides...]; one output per outer element.
# The esize parameter is for the native tier; typed views know their width.
from ..qmath import mul_by_qm, requant_ort

KERNELS = ("mean_q", "mean_f32", "mean_s8_ort")


def _runs(d, p, k, base, fn):
    # One block [nd, shape..., strides...] at d[p]: fn(base, n, stride) per innermost run.
    nd = d[p]
    n = d[p + 1 + k]
    s = d[p + 1 + nd + k]
    if k == nd - 1:
        fn(base, n, s)
        return
    for _ in range(n):
        _runs(d, p, k + 1, base, fn)
        base += s


def mean_q(x, out, d, esize, in_zp, m, sh, out_zp, count, lo, hi):
    # Reduction descriptor: [outer block][inner block]; one output per outer element.
    p = 1 + 2 * d[0]
    st = [0, 0]   # output index, running sum

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
            v = ((st[1] - in_zp * count) + 0x80000000 & 0xFFFFFFFF) - 0x80000000
            v = mul_by_qm(v, m, sh) + out_zp
            out[st[0]] = lo if v < lo else (hi if v > hi else v)
            st[0] += 1
            base += s
    _runs(d, 0, 0, 0, outer)


def mean_f32(x, out, d, count):
    # Sums in input order through the float32 output, so each partial sum is
    # rounded to float32 as in TFLM; then divided by the count.
    p = 1 + 2 * d[0]
    st = [0]

    def inner(base, n, s):
        o = st[0]
        for _ in range(n):
            out[o] = out[o] + x[base]
            base += s

    def outer(base, n, s):
        for _ in range(n):
            o = st[0]
            out[o] = 0.0
            _runs(d, p, 0, base, inner)
            out[o] = out[o] / count
            st[0] = o + 1
            base += s
    _runs(d, 0, 0, 0, outer)


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
            out[st[0]] = requant_ort(st[1] - in_zp * count, scale, out_zp, lo, hi)
            st[0] += 1
            base += s
    _runs(d, 0, 0, 0, outer)
