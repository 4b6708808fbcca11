# Viper FULLY_CONNECTED, byte-identical with kernels_pure/fc.py and TFLM: int8 and
# int16 activations with int8 weights (16x8: the (ah, al) accumulator as conv.py
# describes); the accumulators go to __init__.requant in runs. The two mirror each
# other as conv.py's walks do (ptr8 against ptr16 input), their dot products are
# conv.py's conv walks' on one row (fully_connected_s16's 255-product partial sums are
# _conv_s16's), and they open as conv.py's and transpose_conv.py's kernels do (see
# conv.py's top): mirrors within the tier, since a shared helper would cost a viper call
# per output with its pointers passed as ints.
import micropython

from . import ACC as _ACC
from . import ACC0 as _ACC0
from . import CAP as _CAP
from . import begin, finish, flush

KERNELS = ("fully_connected_s8", "fully_connected_s16")


@micropython.viper
def fully_connected_s8(args):
    acc = 0
    xi = 0
    # spec: fully_connected_s8 {
    x = ptr8(args[0])
    w = ptr8(args[1])
    bias = ptr8(args[2])
    out = args[3]
    mult = args[4]
    shift = args[5]
    batches = int(args[6])
    n_in = int(args[7])
    n_out = int(args[8])
    out_off = int(args[9])
    act_min = int(args[10])
    act_max = int(args[11])
    # }
    begin(out, mult, shift, 0 | (n_out << 2), out_off, act_min, act_max)
    sp = ptr32(_ACC)
    j = int(_ACC0)
    je = j + int(_CAP)
    for b in range(batches):
        xb = b * n_in
        xe = xb + n_in
        # the weights summed as w ^ 0x80, less 128 * the input sum (see conv.py)
        sx = 0
        xi = xb
        while xi < xe:
            sx += (x[xi] ^ 0x80) - 0x80
            xi += 1
        sx = sx << 7
        for oc in range(n_out):
            k = oc << 2
            acc = bias[k] | (bias[k + 1] << 8) | (bias[k + 2] << 16) | (((bias[k + 3] ^ 0x80) - 0x80) << 24)
            acc -= sx
            dw = oc * n_in - xb
            xi = xb
            while xi < xe:
                acc += ((x[xi] ^ 0x80) - 0x80) * (w[xi + dw] ^ 0x80)
                xi += 1
            sp[j] = acc
            j += 1
            if j == je:
                j = int(flush(j))
    finish(j)


# fully_connected_s8's mirror for 16x8 (see the top).
@micropython.viper
def fully_connected_s16(args):
    s = 0
    xi = 0
    # spec: fully_connected_s16 {
    x = ptr16(args[0])
    w = ptr8(args[1])
    bias = ptr8(args[2])
    out = args[3]
    mult = args[4]
    shift = args[5]
    batches = int(args[6])
    n_in = int(args[7])
    n_out = int(args[8])
    out_off = int(args[9])
    acc64 = int(args[10])
    act_min = int(args[11])
    act_max = int(args[12])
    # }
    begin(out, mult, shift, (1 + acc64) | (n_out << 2), out_off, act_min, act_max)
    sp = ptr32(_ACC)
    j = int(_ACC0)
    je = j + (int(_CAP) << 1)
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
            sp[j] = al
            sp[j + 1] = ah
            j += 2
            if j == je:
                j = int(flush(j))
    finish(j)
