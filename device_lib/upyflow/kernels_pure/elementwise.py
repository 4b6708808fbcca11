# ADD/SUB (int8, int16, TFLM's general scaling), MUL, MAXIMUM/MINIMUM with
# broadcasting, and MEAN. Shapes come as int32 descriptors baked by
# upyflow_tools/lower/families/elementwise.py and tensor_ops.py: kernels walk
# the output row-major, each input with its own stride (0 where it broadcasts).
# The esize parameters are for the native tier; typed views know their width.
from ..qmath import srdhm, rdbypot

KERNELS = ("addsub_q", "mul_q", "binary_f32", "maxmin_q", "mean_q", "mean_f32")


def _pairs(d, nd, k, a, b, o, row):
    # Binary descriptor [nd, shape..., strides a..., strides b...]: row() per
    # innermost run (recursion depth = dimensions, at most 6).
    n = d[1 + k]
    if k == nd - 1:
        row(a, b, o, n, d[1 + nd + k], d[1 + 2 * nd + k])
        return
    sa = d[1 + nd + k]
    sb = d[1 + 2 * nd + k]
    block = 1
    for j in range(k + 1, nd):
        block *= d[1 + j]
    for _ in range(n):
        _pairs(d, nd, k + 1, a, b, o, row)
        a += sa
        b += sb
        o += block


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


def _scale(v, m, sh):
    # MultiplyByQuantizedMultiplier; the left shift wraps to int32 as TFLM's does.
    if sh > 0:
        v = ((v << sh) + 0x80000000 & 0xFFFFFFFF) - 0x80000000
        return srdhm(v, m)
    return rdbypot(srdhm(v, m), -sh)


def addsub_q(x1, x2, out, d, esize, sign, off1, m1, sh1, off2, m2, sh2, ls, mo, sho, ooff, lo, hi):
    def row(a, b, o, n, sa, sb):
        for i in range(n):
            v1 = rdbypot(srdhm((x1[a] + off1) << ls, m1), -sh1)
            v2 = rdbypot(srdhm((x2[b] + off2) << ls, m2), -sh2)
            v = rdbypot(srdhm(v1 + sign * v2, mo), -sho) + ooff
            out[o + i] = lo if v < lo else (hi if v > hi else v)
            a += sa
            b += sb
    _pairs(d, d[0], 0, 0, 0, 0, row)


def mul_q(x1, x2, out, d, esize, off1, off2, m, sh, ooff, lo, hi):
    def row(a, b, o, n, sa, sb):
        for i in range(n):
            v = _scale((x1[a] + off1) * (x2[b] + off2), m, sh) + ooff
            out[o + i] = lo if v < lo else (hi if v > hi else v)
            a += sa
            b += sb
    _pairs(d, d[0], 0, 0, 0, 0, row)


def binary_f32(x1, x2, out, d, op, lo, hi):
    # op: 0 add, 1 sub, 2 mul (clamped to the activation), 3 max, 4 min (not clamped).
    # float32 views round every stored result, as TFLM computes in float32.
    def row(a, b, o, n, sa, sb):
        for i in range(n):
            u = x1[a]
            w = x2[b]
            if op == 0:
                v = u + w
            elif op == 1:
                v = u - w
            elif op == 2:
                v = u * w
            elif op == 3:
                v = u if u > w else w
            else:
                v = u if u < w else w
            if op < 3:
                v = lo if v < lo else (hi if v > hi else v)
            out[o + i] = v
            a += sa
            b += sb
    _pairs(d, d[0], 0, 0, 0, 0, row)


def maxmin_q(x1, x2, out, d, esize, is_max):
    def row(a, b, o, n, sa, sb):
        for i in range(n):
            u = x1[a]
            w = x2[b]
            out[o + i] = (u if u > w else w) if is_max else (u if u < w else w)
            a += sa
            b += sb
    _pairs(d, d[0], 0, 0, 0, 0, row)


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
            v = _scale(v, m, sh) + out_zp
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
