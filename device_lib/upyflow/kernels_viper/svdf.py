# Viper SVDF (int8, int16 or int8 state), byte-identical with kernels_pure/svdf.py and
# TFLM; __init__.py's rules hold (one tuple argument: the two state widths share _svdf
# behind a flag; every intermediate within int32,
# int8 sign extension by (b ^ 0x80) - 0x80, constants read byte by byte, the split
# 16-bit requantization written out per use). Beyond those:
# * The requantization by scalar multipliers (a filter's activation into the state by
#   (m1, s1), a unit's sum into out by (m2, s2): one block in one loop serving both)
#   mirrors __init__.requant's int32 block on purpose, as lstm.py's does: a filter's
#   result feeds the time filter at once, and a call per value would cost as much as
#   the arithmetic.
# * int32 sums that C lets wrap (the pure tier's wrap32) wrap here too: on a
#   32-bit port by themselves, on a 64-bit one by (v << _HS) >> _HS.
# * The state tensor lives in the arena, whose tensors the planner aligns to
#   4 bytes: an int16 one is read through ptr16.
# tests/test_viper.py transcribes the arithmetic into CPython with int32 range
# asserts; tests/test_svdf.py runs the kernel under 32- and 64-bit MicroPython.
import micropython

from . import HS as _HS

KERNELS = ("svdf_s8_i16", "svdf_s8_i8")


@micropython.viper
def _svdf(args, wide: int):
    # spec: svdf_s8_i16 svdf_s8_i8 {
    x = ptr8(args[0])
    wf = ptr8(args[1])
    wt = ptr8(args[2])
    q = ptr8(args[3])
    state = ptr16(args[4])
    out = ptr8(args[5])
    batch = int(args[6])
    n_in = int(args[7])
    n_filter = int(args[8])
    rank = int(args[9])
    mem = int(args[10])
    state_zp = int(args[11])
    out_zp = int(args[12])
    m1 = int(args[13])
    s1 = int(args[14])
    m2 = int(args[15])
    s2 = int(args[16])
    # }
    s8 = ptr8(state)
    hs = int(_HS)
    # A filter's activation saturates to the state type, then takes state_zp (the store
    # truncates, as TFLM's); a unit's sum takes out_zp, then saturates to int8: both are
    # one saturation of v + zp, to [lo, hi] (the state type's range plus state_zp) or
    # [-128, 127], in the loop below.
    lo = -128
    hi = 127
    if wide:
        lo = -32768
        hi = 32767
    lo += state_zp
    hi += state_zp
    tq = n_filter << 2   # q's byte offsets: time zero-point terms, biases
    bq = n_filter << 3
    y = 0
    for b in range(batch):
        xb = b * n_in
        xe = xb + n_in
        row = b * n_filter * mem   # state index of filter r's memory, oldest first
        r = 0
        u = 0
        while r < n_filter:
            k = bq + (u << 2)
            acc = q[k] | (q[k + 1] << 8) | (q[k + 2] << 16) | (((q[k + 3] ^ 0x80) - 0x80) << 24)
            re = r + rank
            # the unit's filters (r < re), each requantized by (m1, s1) into its memory,
            # then (r == re) the unit's sum by (m2, s2) into out: one requantization and
            # saturation serve both, __init__.requant's int32 block inline as in lstm.py (see the top)
            while r <= re:
                if r < re:
                    last = row + mem - 1
                    j = row
                    if wide:   # age the memory by one step
                        while j < last:
                            state[j] = state[j + 1]
                            j += 1
                    else:
                        while j < last:
                            s8[j] = s8[j + 1]
                            j += 1
                    k = r << 2
                    a = q[k] | (q[k + 1] << 8) | (q[k + 2] << 16) | (((q[k + 3] ^ 0x80) - 0x80) << 24)
                    dw = r * n_in - xb
                    xi = xb
                    while xi < xe:
                        a += ((x[xi] ^ 0x80) - 0x80) * ((wf[xi + dw] ^ 0x80) - 0x80)
                        xi += 1
                    m = m1
                    sh = s1
                    zp = state_zp
                    vlo = lo
                    vhi = hi
                else:
                    a = acc
                    m = m2
                    sh = s2
                    zp = out_zp
                    vlo = -128
                    vhi = 127
                a = (a << hs) >> hs   # the int32 sum wraps as in C
                if sh > 0:
                    a = ((a << sh) << hs) >> hs
                ah = a >> 16
                al = a & 0xFFFF
                mh = m >> 16
                ml = m & 0xFFFF
                p1 = ah * ml
                p2 = al * mh
                lh = int((uint(al) * uint(ml)) >> 16) + 0x4000
                v = ((ah * mh) << 1) + (p1 >> 15) + (p2 >> 15) + (((p1 & 0x7FFF) + (p2 & 0x7FFF) + lh) >> 15)
                if sh < 0:
                    e = 0 - sh
                    half = 1 << (e - 1)
                    rem = v & ((half - 1) + half)
                    thr = half - 1
                    if v < 0:
                        thr += 1
                    v = v >> e
                    if rem > thr:
                        v += 1
                v += zp
                if v < vlo:
                    v = vlo
                elif v > vhi:
                    v = vhi
                if r == re:
                    break
                # the time filter over the memory; stores truncate to the state type as in TFLM
                t = q[tq + k] | (q[tq + k + 1] << 8) | (q[tq + k + 2] << 16) | \
                    (((q[tq + k + 3] ^ 0x80) - 0x80) << 24)
                j = row
                if wide:
                    state[last] = v
                    wi = (r * mem) << 1
                    while j <= last:
                        t += ((((wt[wi] | (wt[wi + 1] << 8)) ^ 0x8000) - 0x8000) *
                              ((state[j] ^ 0x8000) - 0x8000))
                        wi += 2
                        j += 1
                else:
                    s8[last] = v
                    dw = r * mem - row
                    while j <= last:
                        t += ((wt[j + dw] ^ 0x80) - 0x80) * ((s8[j] ^ 0x80) - 0x80)
                        j += 1
                acc += t
                r += 1
                row += mem
            out[y] = v
            y += 1
            u += 1

def svdf_s8_i16(args):
    _svdf(args, 1)


def svdf_s8_i8(args):
    _svdf(args, 0)
