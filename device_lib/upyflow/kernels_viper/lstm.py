# Viper UNIDIRECTIONAL_SEQUENCE_LSTM (int8), byte-identical with kernels_pure/lstm.py
# and TFLM; __init__.py's rules hold (one tuple argument, every intermediate within
# int32, int8 sign extension by (b ^ 0x80) - 0x80, constants read byte by byte, the
# split 16-bit requantization written out per use). Beyond those:
# * int32 sums that C lets wrap (the pure tier's wrap32) wrap here too: on a
#   32-bit port by themselves, on a 64-bit one by (v << _HS) >> _HS.
# * The state tensors live in the arena, whose tensors the planner aligns to
#   4 bytes: the int16 cell is read through ptr16.
# tests/test_viper_sequence.py transcribes the arithmetic into CPython with
# int32 range asserts and runs the kernel under 32- and 64-bit MicroPython.
import micropython

from . import HS as _HS

KERNELS = ("lstm_s8",)


# TFLite's uint16 sigmoid table (kernels_pure/lstm.py's _SIGMOID), little-endian.
_SIG16 = (
    b"\x00\x80\xab\x82\x55\x85\xfd\x87\xa5\x8a\x49\x8d\xeb\x8f\x89\x92\x24\x95\xb9\x97\x4a\x9a\xd5\x9c"
    b"\x5a\x9f\xd8\xa1\x50\xa4\xc0\xa6\x28\xa9\x88\xab\xdf\xad\x2e\xb0\x73\xb2\xaf\xb4\xe1\xb6\x09\xb9"
    b"\x27\xbb\x3b\xbd\x44\xbf\x43\xc1\x37\xc3\x20\xc5\xfe\xc6\xd1\xc8\x99\xca\x57\xcc\x09\xce\xb1\xcf"
    b"\x4d\xd1\xdf\xd2\x66\xd4\xe3\xd5\x55\xd7\xbd\xd8\x1a\xda\x6e\xdb\xb7\xdc\xf7\xdd\x2d\xdf\x59\xe0"
    b"\x7c\xe1\x97\xe2\xa8\xe3\xb0\xe4\xb0\xe5\xa8\xe6\x98\xe7\x7f\xe8\x5f\xe9\x37\xea\x08\xeb\xd2\xeb"
    b"\x95\xec\x51\xed\x07\xee\xb6\xee\x5f\xef\x01\xf0\x9f\xf0\x36\xf1\xc8\xf1\x54\xf2\xdc\xf2\x5e\xf3"
    b"\xdc\xf3\x55\xf4\xca\xf4\x3a\xf5\xa6\xf5\x0e\xf6\x72\xf6\xd2\xf6\x2f\xf7\x88\xf7\xde\xf7\x30\xf8"
    b"\x7f\xf8\xcb\xf8\x15\xf9\x5b\xf9\x9f\xf9\xe0\xf9\x1e\xfa\x5a\xfa\x94\xfa\xcc\xfa\x01\xfb\x34\xfb"
    b"\x65\xfb\x95\xfb\xc2\xfb\xee\xfb\x18\xfc\x40\xfc\x66\xfc\x8c\xfc\xaf\xfc\xd1\xfc\xf2\xfc\x12\xfd"
    b"\x30\xfd\x4d\xfd\x69\xfd\x84\xfd\x9e\xfd\xb6\xfd\xce\xfd\xe5\xfd\xfb\xfd\x0f\xfe\x24\xfe\x37\xfe"
    b"\x49\xfe\x5b\xfe\x6c\xfe\x7d\xfe\x8c\xfe\x9b\xfe\xaa\xfe\xb8\xfe\xc5\xfe\xd2\xfe\xde\xfe\xea\xfe"
    b"\xf5\xfe\x00\xff\x0b\xff\x15\xff\x1e\xff\x27\xff\x30\xff\x39\xff\x41\xff\x48\xff\x50\xff\x57\xff"
    b"\x5e\xff\x65\xff\x6b\xff\x71\xff\x77\xff\x7c\xff\x82\xff\x87\xff\x8c\xff\x91\xff\x95\xff\x99\xff"
    b"\x9e\xff\xa2\xff\xa5\xff\xa9\xff\xad\xff\xb0\xff\xb3\xff\xb6\xff\xb9\xff\xbc\xff\xbf\xff\xc2\xff"
    b"\xc4\xff\xc7\xff\xc9\xff\xcb\xff\xcd\xff\xd0\xff\xd1\xff\xd3\xff\xd5\xff\xd7\xff\xd9\xff\xda\xff"
    b"\xdc\xff\xdd\xff\xdf\xff\xe0\xff\xe1\xff\xe3\xff\xe4\xff\xe5\xff\xe6\xff\xe7\xff\xe8\xff\xe9\xff"
    b"\xea\xff\xeb\xff\xec\xff\xed\xff\xed\xff\xee\xff\xef\xff\xf0\xff\xf0\xff\xf1\xff\xf2\xff\xf2\xff"
    b"\xf3\xff\xf3\xff\xf4\xff\xf4\xff\xf5\xff\xf5\xff\xf6\xff\xf6\xff\xf6\xff\xf7\xff\xf7\xff\xf8\xff"
    b"\xf8\xff\xf8\xff\xf9\xff\xf9\xff\xf9\xff\xf9\xff\xfa\xff\xfa\xff\xfa\xff\xfa\xff\xfb\xff\xfb\xff"
    b"\xfb\xff\xfb\xff\xfb\xff\xfc\xff\xfc\xff\xfc\xff\xfc\xff\xfc\xff\xfc\xff\xfd\xff\xfd\xff\xfd\xff"
    b"\xfd\xff\xfd\xff\xfd\xff\xfd\xff\xfd\xff\xfe\xff\xfe\xff\xfe\xff\xfe\xff\xfe\xff\xfe\xff\xfe\xff"
    b"\xfe\xff\xfe\xff\xfe\xff\xff\xff")


@micropython.viper
def lstm_s8(args):
    # Per step and unit: the four gates (two int32 matmuls each, requantized to
    # Q3.12 and added with saturation), their sigmoid/tanh, then the cell and
    # output; the hidden state takes the step's output only after every unit read
    # the old one. Gate k (f, i, g, o) of unit j is weight row k*n + j.
    # spec: lstm_s8 {
    x = ptr8(args[0])
    w = ptr8(args[1])
    q = ptr8(args[2])
    hidden = ptr8(args[3])
    cell = ptr16(args[4])
    out = ptr8(args[5])
    batch = int(args[6])
    steps = int(args[7])
    n_in = int(args[8])
    n = int(args[9])
    time_major = int(args[10])
    h_zp = int(args[11])
    m_fc = int(args[12])
    s_fc = int(args[13])
    m_ig = int(args[14])
    s_ig = int(args[15])
    m_out = int(args[16])
    s_out = int(args[17])
    qclip = int(args[18])
    tanh_mult = int(args[19])
    tanh_shift = int(args[20])
    # }
    tp = ptr8(_SIG16)
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
                f = 0
                ig = 0
                g = 0
                o = 0
                for gk in range(4):
                    gi = gk * n + j
                    pre = 0
                    for side in range(2):
                        if side == 0:
                            k = gi << 2
                            acc = q[k] | (q[k + 1] << 8) | (q[k + 2] << 16) | (((q[k + 3] ^ 0x80) - 0x80) << 24)
                            dw = gi * n_in - xb
                            xi = xb
                            while xi < xe:
                                acc += ((x[xi] ^ 0x80) - 0x80) * ((w[xi + dw] ^ 0x80) - 0x80)
                                xi += 1
                            k = mq + (gk << 4)
                        else:
                            k = (g4 + gi) << 2
                            acc = q[k] | (q[k + 1] << 8) | (q[k + 2] << 16) | (((q[k + 3] ^ 0x80) - 0x80) << 24)
                            dw = rec + gi * n - hb
                            xi = hb
                            while xi < he:
                                acc += ((hidden[xi] ^ 0x80) - 0x80) * ((w[xi + dw] ^ 0x80) - 0x80)
                                xi += 1
                            k = mq + (gk << 4) + 8
                        m = q[k] | (q[k + 1] << 8) | (q[k + 2] << 16) | (q[k + 3] << 24)
                        sh = (q[k + 4] ^ 0x80) - 0x80
                        # requantize acc (wrapped to int32, see the top) to Q3.12
                        a = (acc << hs) >> hs
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
                        if v < -32768:
                            v = -32768
                        elif v > 32767:
                            v = 32767
                        pre += v
                    if pre < -32768:
                        pre = -32768
                    elif pre > 32767:
                        pre = 32767
                    if gk == 2:
                        # tanh of a Q3.12 value (input multiplier 3, no shift), Q0.15 out
                        xv = pre * 3
                        ax = xv
                        if xv < 0:
                            ax = 0 - xv
                        uh = ax >> 8
                        if uh >= 255:
                            r = 0xFFFF << 8
                        else:
                            k = uh << 1
                            ua = tp[k] | (tp[k + 1] << 8)
                            r = (ua << 8) + (ax & 0xFF) * ((tp[k + 2] | (tp[k + 3] << 8)) - ua)
                        if xv >= 0:
                            r = r - 8388480
                        else:
                            r = 8388735 - r
                        g = r >> 8
                    else:
                        # sigmoid of a Q3.12 value, Q0.15 out: the table in steps of 512 of 3x
                        xv = pre * 3
                        ax = xv
                        if xv < 0:
                            ax = 0 - xv
                        uh = ax >> 9
                        if uh >= 255:
                            r = 0x7FFF << 10
                        else:
                            k = uh << 1
                            ua = tp[k] | (tp[k + 1] << 8)
                            r = (ua << 9) + (ax & 0x1FF) * ((tp[k + 2] | (tp[k + 3] << 8)) - ua)
                        if xv >= 0:
                            r = r + 512
                        else:
                            r = 33554432 - r + 511
                        if gk == 0:
                            f = r >> 10
                        elif gk == 1:
                            ig = r >> 10
                        else:
                            o = r >> 10
                c = (cell[hb + j] ^ 0x8000) - 0x8000
                # three requantizations: f*c, i*g (the new cell), tanh(cell)*o (the output)
                for sg in range(3):
                    if sg == 0:
                        a = f * c
                        m = m_fc
                        sh = s_fc
                    elif sg == 1:
                        a = ig * g
                        m = m_ig
                        sh = s_ig
                    else:
                        xv = c * tanh_mult
                        if tanh_shift:
                            xv = (xv + (1 << (tanh_shift - 1))) >> tanh_shift
                        ax = xv
                        if xv < 0:
                            ax = 0 - xv
                        uh = ax >> 8
                        if uh >= 255:
                            r = 0xFFFF << 8
                        else:
                            k = uh << 1
                            ua = tp[k] | (tp[k + 1] << 8)
                            r = (ua << 8) + (ax & 0xFF) * ((tp[k + 2] | (tp[k + 3] << 8)) - ua)
                        if xv >= 0:
                            r = r - 8388480
                        else:
                            r = 8388735 - r
                        a = (r >> 8) * o
                        m = m_out
                        sh = s_out
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
                    if sg == 2:
                        v += h_zp
                        if v < -128:
                            v = -128
                        elif v > 127:
                            v = 127
                        out[ob + j] = v
                    else:
                        if v < -32768:
                            v = -32768
                        elif v > 32767:
                            v = 32767
                        if sg == 0:
                            c = v
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
            j = hb
            k = ob
            while j < he:   # the new hidden state
                hidden[j] = out[k]
                j += 1
                k += 1
