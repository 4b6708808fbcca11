# Viper FULLY_CONNECTED, byte-identical with kernels_pure/fc.py and TFLM: int8 (the
# split requantization written out, see __init__.py) and int16 activations with int8
# weights (16x8: the (ah, al) accumulator and its requantization as conv.py describes).
import micropython

from . import HS as _HS

KERNELS = ("fully_connected_s8", "fully_connected_s16")


@micropython.viper
def fully_connected_s8(args):
    acc = 0
    xi = 0
    # spec: fully_connected_s8 {
    x = ptr8(args[0])
    w = ptr8(args[1])
    bias = ptr8(args[2])
    out = ptr8(args[3])
    mult = ptr8(args[4])
    shift = ptr8(args[5])
    batches = int(args[6])
    n_in = int(args[7])
    n_out = int(args[8])
    out_off = int(args[9])
    act_min = int(args[10])
    act_max = int(args[11])
    # }
    y = 0
    for b in range(batches):
        xb = b * n_in
        xe = xb + n_in
        for oc in range(n_out):
            k = oc << 2
            acc = bias[k] | (bias[k + 1] << 8) | (bias[k + 2] << 16) | (((bias[k + 3] ^ 0x80) - 0x80) << 24)
            dw = oc * n_in - xb
            xi = xb
            while xi < xe:
                acc += ((x[xi] ^ 0x80) - 0x80) * ((w[xi + dw] ^ 0x80) - 0x80)
                xi += 1
            # requantize (see the note at the top)
            m = mult[k] | (mult[k + 1] << 8) | (mult[k + 2] << 16) | (mult[k + 3] << 24)
            sh = (shift[k] ^ 0x80) - 0x80
            if sh > 0:
                acc = acc << sh
            ah = acc >> 16
            al = acc & 0xFFFF
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
            v += out_off
            if v < act_min:
                v = act_min
            elif v > act_max:
                v = act_max
            out[y] = v
            y += 1


@micropython.viper
def fully_connected_s16(args):
    s = 0
    xi = 0
    # spec: fully_connected_s16 {
    x = ptr16(args[0])
    w = ptr8(args[1])
    bias = ptr8(args[2])
    out = ptr16(args[3])
    mult = ptr8(args[4])
    shift = ptr8(args[5])
    batches = int(args[6])
    n_in = int(args[7])
    n_out = int(args[8])
    out_off = int(args[9])
    acc64 = int(args[10])
    act_min = int(args[11])
    act_max = int(args[12])
    # }
    hs = int(_HS)
    y = 0
    for bt in range(batches):
        xb = bt * n_in
        xe = xb + n_in
        for oc in range(n_out):
            k = oc << 3
            al = bias[k] | (bias[k + 1] << 8)
            ah = bias[k + 2] | (bias[k + 3] << 8) | (bias[k + 4] << 16) | (((bias[k + 5] ^ 0x80) - 0x80) << 24)
            dw = oc * n_in - xb
            xi = xb
            while xi < xe:
                ce = xi + 255
                if ce > xe:
                    ce = xe
                s = 0
                while xi < ce:
                    s += ((x[xi] ^ 0x8000) - 0x8000) * ((w[xi + dw] ^ 0x80) - 0x80)
                    xi += 1
                al += s
                ah += al >> 16
                al &= 0xFFFF
            # requantize (see the note at the top), before the output offset as TFLM
            k = oc << 2
            m = mult[k] | (mult[k + 1] << 8) | (mult[k + 2] << 16) | (mult[k + 3] << 24)
            sh = (shift[k] ^ 0x80) - 0x80
            if acc64:
                mh = m >> 16
                if mh < 0x7FFF and (m & 0x8000):
                    mh += 1
                tt = 15 - sh
                c0 = al * mh
                c1 = (ah & 0xFFFF) * mh
                c2 = (ah >> 16) * mh
                e = tt - 1
                if e < 16:
                    c0 += 1 << e
                elif e < 32:
                    c1 += 1 << (e - 16)
                else:
                    c2 += 1 << (e - 32)
                d0 = c0 & 0xFFFF
                d1 = (c1 & 0xFFFF) + (c0 >> 16)
                d2 = c2 + (c1 >> 16) + (d1 >> 16)
                d1 &= 0xFFFF
                if tt >= 32:
                    v = d2 >> (tt - 32)
                else:
                    if tt >= 16:
                        e = tt - 16
                        lo = (d1 >> e) | ((d2 & ((1 << e) - 1)) << (16 - e))
                        hi = d2 >> e
                    else:
                        e = tt
                        lo = (d0 >> e) | ((d1 & ((1 << e) - 1)) << (16 - e))
                        hi = (d1 >> e) | ((d2 & ((1 << e) - 1)) << (16 - e))
                    v = ((((hi & 0xFFFF) ^ 0x8000) - 0x8000) << 16) | lo
            else:
                a = ((((ah & 0xFFFF) ^ 0x8000) - 0x8000) << 16) | al
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
            v += out_off
            if v < act_min:
                v = act_min
            elif v > act_max:
                v = act_max
            out[y] = v
            y += 1
