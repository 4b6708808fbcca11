# Viper UNIDIRECTIONAL_SEQUENCE_LSTM (int8), byte-identical with kernels_pure/lstm.py
# and TFLM; __init__.py's rules hold (typed arguments from the spec, every intermediate
# within int32, int8 sign extension by (b ^ 0x80) - 0x80, constants read byte by byte, the
# split 16-bit requantization written out per use). Beyond those:
# * The requantization by scalar multipliers (per gate and side, then f*c, i*g and
#   tanh(c)*o: one block in one loop over the unit's stages) mirrors __init__.requant's
#   int32 block (and svdf.py's) on purpose: its results feed the next stage of the same
#   unit, so they cannot wait in ACC for a run, and a call per value would cost as much
#   as the arithmetic.
# * int32 sums that C lets wrap (the pure tier's wrap32) wrap here too: on a
#   32-bit port by themselves, on a 64-bit one by (v << _HS) >> _HS.
# * The state tensors live in the arena, whose tensors the planner aligns to
#   4 bytes: the int16 cell is read through ptr16.
# tests/test_viper.py transcribes the arithmetic into CPython with int32 range
# asserts; tests/test_lstm.py runs the kernel under 32- and 64-bit MicroPython.
import micropython

from . import HS as _HS

KERNELS = ("lstm_s8",)


# spec: lstm_s8 {
@micropython.viper
def lstm_s8(x: ptr8, w: ptr8, q: ptr8, table: ptr8, hidden: ptr8, cell: ptr16, out: ptr8, batch: int, steps: int,
            n_in: int, n: int, time_major: int, h_zp: int, m_fc: int, s_fc: int, m_ig: int, s_ig: int, m_out: int,
            s_out: int, qclip: int, tanh_mult: int, tanh_shift: int):
# }
    # Per step and unit: the four gates (two int32 matmuls each, requantized to
    # Q3.12 and added with saturation), their sigmoid/tanh, then the cell and
    # output (the unit's stages below); the hidden state takes the step's output only
    # after every unit read the old one. Gate k (f, i, g, o) of unit j is weight row k*n + j.
    hs = int(_HS)
    g4 = n << 2
    rec = g4 * n_in       # the first recurrent weight
    mq = (g4 << 3)        # q's byte offset of the (mult, shift) pairs
    for b in range(batch):
        hb = b * n
        he = hb + n
        for st in range(steps):
            row = b * steps + st
            if time_major:
                row = st * batch + b
            xb = row * n_in
            xe = xb + n_in
            ob = row * n
            for j in range(n):
                c = (cell[hb + j] ^ 0x8000) - 0x8000
                f = 0
                ig = 0
                g = 0
                o = 0
                th = 0
                pre = 0
                # Eleven stages share one requantization (__init__.requant's int32 block
                # inline, as svdf.py's; see the top) and one table lookup: 0-7 the gates
                # f, i, g, o (gate sg >> 1), each an input (even) then a recurrent (odd)
                # matmul requantized to Q3.12 and summed with saturation, the odd stage
                # taking the gate's sigmoid (tanh for g); 8: f*c; 9: i*g, added into the
                # new cell, then its tanh; 10: tanh(cell)*o, the output.
                for sg in range(11):
                    if sg < 8:
                        gk = sg >> 1
                        gi = gk * n + j
                        if sg & 1:
                            k = (g4 + gi) << 2
                            acc = q[k] | (q[k + 1] << 8) | (q[k + 2] << 16) | (((q[k + 3] ^ 0x80) - 0x80) << 24)
                            dw = rec + gi * n - hb
                            xi = hb
                            while xi < he:
                                acc += ((hidden[xi] ^ 0x80) - 0x80) * ((w[xi + dw] ^ 0x80) - 0x80)
                                xi += 1
                            k = mq + (gk << 4) + 8
                        else:
                            k = gi << 2
                            acc = q[k] | (q[k + 1] << 8) | (q[k + 2] << 16) | (((q[k + 3] ^ 0x80) - 0x80) << 24)
                            dw = gi * n_in - xb
                            xi = xb
                            while xi < xe:
                                acc += ((x[xi] ^ 0x80) - 0x80) * ((w[xi + dw] ^ 0x80) - 0x80)
                                xi += 1
                            k = mq + (gk << 4)
                        m = q[k] | (q[k + 1] << 8) | (q[k + 2] << 16) | (q[k + 3] << 24)
                        sh = (q[k + 4] ^ 0x80) - 0x80
                        a = acc
                    elif sg == 8:
                        a = f * c
                        m = m_fc
                        sh = s_fc
                    elif sg == 9:
                        a = ig * g
                        m = m_ig
                        sh = s_ig
                    else:
                        a = th * o
                        m = m_out
                        sh = s_out
                    a = (a << hs) >> hs   # a matmul's int32 sum wraps as in C (the products fit)
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
                    if sg == 10:
                        v += h_zp
                        if v < -128:
                            v = -128
                        elif v > 127:
                            v = 127
                        out[ob + j] = v
                        break
                    if v < -32768:
                        v = -32768
                    elif v > 32767:
                        v = 32767
                    if sg < 8:
                        pre += v
                        if not (sg & 1):
                            continue
                        if pre < -32768:
                            pre = -32768
                        elif pre > 32767:
                            pre = 32767
                        xv = pre * 3   # the gate's Q3.12 value times 3 (tanh's multiplier, no shift)
                        is_tanh = 0
                        if sg == 5:
                            is_tanh = 1
                        pre = 0
                    elif sg == 8:
                        c = v
                        continue
                    else:
                        c += v
                        if c < -32768:
                            c = -32768
                        elif c > 32767:
                            c = 32767
                        if qclip >= 0:
                            if c < 0 - qclip:
                                c = 0 - qclip
                            elif c > qclip:
                                c = qclip
                        cell[hb + j] = c
                        xv = c * tanh_mult
                        if tanh_shift:
                            xv = (xv + (1 << (tanh_shift - 1))) >> tanh_shift
                        is_tanh = 1
                    # sigmoid or tanh of xv from the table, Q0.15 out: tanh in steps of 256,
                    # sigmoid in steps of 512 (kernels_pure/lstm.py's _tanh16 and _sigmoid16)
                    ax = xv
                    if xv < 0:
                        ax = 0 - xv
                    bits = 9
                    sat = 0x7FFF << 10
                    if is_tanh:
                        bits = 8
                        sat = 0xFFFF << 8
                    uh = ax >> bits
                    if uh >= 255:
                        r = sat
                    else:
                        k = uh << 1
                        ua = (table[k] | (table[k + 1] << 8)) ^ 0x8000
                        ub = ((table[k + 2] | (table[k + 3] << 8)) ^ 0x8000) - ua
                        r = (ua << bits) + (ax & ((1 << bits) - 1)) * ub
                    if is_tanh:
                        if xv >= 0:
                            r = r - 8388480
                        else:
                            r = 8388735 - r
                        r = r >> 8
                    else:
                        if xv >= 0:
                            r = r + 512
                        else:
                            r = 33554432 - r + 511
                        r = r >> 10
                    if sg == 1:
                        f = r
                    elif sg == 3:
                        ig = r
                    elif sg == 5:
                        g = r
                    elif sg == 7:
                        o = r
                    else:
                        th = r
            j = hb
            k = ob
            while j < he:   # the new hidden state
                hidden[j] = out[k]
                j += 1
                k += 1
