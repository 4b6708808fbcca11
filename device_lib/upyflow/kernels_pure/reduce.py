# MEAN, SUM, REDUCE_MAX, REDUCE_MIN (int8/int16, float32, and onnxruntime's rounding for int8). The reduction
# descriptor, baked by upyflow_tools/lower/families/reduce.py, is [outer block][inner
# block], each block [nd, shape..., strides...]; one output per outer element.
# The esize parameter is for the native tier; typed views know their width.
from ..qmath import F32, mul_by_qm, rdbypot, requant_ort, srdhm, wrap32

KERNELS = ("mean_q", "mean_f32", "mean_s8_ort", "reduce_maxmin_q", "reduce_maxmin_f32",
           "arg_maxmin", "cumsum_s8", "cumsum_f32")


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


def _integer_means(x, out, d, finish):
    # Integer MEAN: out[i] = finish(sum of outer element i's inner block).
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
            out[st[0]] = finish(st[1])
            st[0] += 1
            base += s
    _runs(d, 0, 0, 0, outer)


def mean_q(x, out, d, esize, in_zp, m, sh, out_zp, count, lo, hi):
    def finish(total):
        v = ((total - in_zp * count) + 0x80000000 & 0xFFFFFFFF) - 0x80000000
        v = mul_by_qm(v, m, sh) + out_zp
        return lo if v < lo else (hi if v > hi else v)
    _integer_means(x, out, d, finish)


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
    _integer_means(x, out, d,
                   lambda total: requant_ort(total - in_zp * count, scale, out_zp, lo, hi))


def _maxmin(x, out, d, is_max, first):
    # first: the start value of each block (None: its first element)
    p = 1 + 2 * d[0]
    st = [0, 0]

    def inner(base, n, s):
        b = st[1]
        for _ in range(n):
            v = x[base]
            if b is None or (v > b if is_max else v < b):
                b = v
            base += s
        st[1] = b

    def outer(base, n, s):
        for _ in range(n):
            st[1] = first
            _runs(d, p, 0, base, inner)
            out[st[0]] = st[1]
            st[0] += 1
            base += s
    _runs(d, 0, 0, 0, outer)


def reduce_maxmin_q(x, out, d, esize, is_max):
    _maxmin(x, out, d, is_max, None)


# float32 starts from the lowest (highest) finite float as TFLM's ReduceGeneric: NaN is skipped.
def reduce_maxmin_f32(x, out, d, is_max):
    _maxmin(x, out, d, is_max, -3.4028234663852886e38 if is_max else 3.4028234663852886e38)


def arg_maxmin(x, out, d, esize, is_max, n):
    # The index of the first extreme along the inner block (one axis); n outputs.
    p = 1 + 2 * d[0]
    st = [0, 0, 0, 0]   # output index, best value, its index, index of the next value

    def inner(base, m, s):
        for _ in range(m):
            v = x[base]
            k = st[3]
            if k == 0 or (v > st[1] if is_max else v < st[1]):
                st[1] = v
                st[2] = k
            st[3] = k + 1
            base += s

    def outer(base, m, s):
        for _ in range(m):
            st[2] = st[3] = 0
            _runs(d, p, 0, base, inner)
            out[st[0]] = st[2]
            st[0] += 1
            base += s
    _runs(d, 0, 0, 0, outer)


# CUMSUM along one axis, x as [pre][depth][post]: running sums over depth, from the end when
# reverse, each output the sum before its value when exclusive. int8 as TFLM: acc sums x - zp
# exactly from TFLM's starting -zp (off); each value's (x - zp) << 20 times the exact input
# multiplier 1/2 is (x - zp) << 19, so TFLM's wrapping int32 sum is acc << 19, scaled out.
def cumsum_s8(x, out, pre, depth, post, exclusive, reverse, off, mo, sho, ooff, lo, hi):
    step = -post if reverse else post
    for p in range(pre):
        for q in range(post):
            i = p * depth * post + q + ((depth - 1) * post if reverse else 0)
            acc = off
            for _ in range(depth):
                if not exclusive:
                    acc += x[i] + off
                v = rdbypot(srdhm(wrap32(acc << 19), mo), -sho) + ooff
                out[i] = lo if v < lo else (hi if v > hi else v)
                if exclusive:
                    acc += x[i] + off
                i += step


def cumsum_f32(x, out, pre, depth, post, exclusive, reverse):
    # float32 sums from +0.0 (F32 rounds each one, as TFLM's float accumulator)
    f = F32
    step = -post if reverse else post
    for p in range(pre):
        for q in range(post):
            i = p * depth * post + q + ((depth - 1) * post if reverse else 0)
            f[0] = 0.0
            for _ in range(depth):
                v = x[i]
                if exclusive:
                    out[i] = f[0]
                f[0] = f[0] + v
                if not exclusive:
                    out[i] = f[0]
                i += step
