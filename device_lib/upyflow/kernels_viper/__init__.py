# Viper tier: @micropython.viper versions of the hot kernels, byte-identical to
# kernels_pure, one module per family with kernels_pure's stems. dispatch.py imports
# a family (dispatch.VIPER_FAMILIES) only when a model uses one of its kernels: on a
# board the machine code lives in the heap. Each kernel takes one tuple: raw byte
# memoryviews of the tensors (in the pure kernel's order) then its integer
# parameters (see dispatch.py).
#
# Rules every family module keeps:
# Boards are 32-bit, so every intermediate stays within int32 (or uint32 where
# written uint): the 64-bit product of the requantization is split into 16-bit
# halves (docs/viper.md; tests/test_viper.py checks a CPython transcription of it
# against qmath.mul_by_qm with range asserts). Integer constants stay below 2^30
# (small ints on every port). Weights are only read byte by byte: a bytes object
# in ROM (frozen or romfs) need not be word-aligned and Cortex-M0 faults on
# unaligned word loads. int8 bytes load unsigned: (b ^ 0x80) - 0x80 sign-extends.
#
# The requantization block (MultiplyByQuantizedMultiplier) is written out in each
# int8 kernel (conv2d_s8, depthwise_conv2d_s8, fully_connected_s8, ...): a viper call per
# output would box the accumulator (a heap int beyond 2^30 on 32-bit ports).
# In terms of qmath, with m the multiplier in [0, 2^31) and sh the shift:
#   a = acc << max(sh, 0)                      (TFLM: must fit int32)
#   srdhm(a, m) = floor((a*m + 2^30) / 2^31)   (equal to gemmlowp's rounding)
#   with a = ah*2^16 + al, m = mh*2^16 + ml:
#     = 2*ah*mh + (p1 >> 15) + (p2 >> 15)
#       + (((p1 & 0x7fff) + (p2 & 0x7fff) + (al*ml >> 16) + 2^14) >> 15)
#   where p1 = ah*ml, p2 = al*mh, and al*ml (< 2^32) is an unsigned product;
#   then rdbypot by -sh when sh < 0, with mask (half-1)+half so 2^31 never forms.
#
# `import micropython` fails on CPython and the decorator is a SyntaxError on
# ports without a native emitter: importing this package fails there and
# dispatch.py keeps the pure tier.
import micropython


@micropython.viper
def _word_shift() -> int:
    # 32 on a 64-bit port, 0 on a 32-bit one
    t = 1
    t = t << 31
    if t > 0:
        return 32
    return 0


# (v << HS) >> HS wraps v to int32 as C does: HS = 32 on a 64-bit port, 0 on a 32-bit one.
HS = _word_shift()
