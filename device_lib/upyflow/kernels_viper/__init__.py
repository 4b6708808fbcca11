# Viper tier: @micropython.viper versions of the hot kernels, byte-identical to
# kernels_pure, one module per family with kernels_pure's stems. dispatch.py imports
# a family (dispatch.VIPER_FAMILIES) only when a model uses one of its kernels: on a
# board the machine code lives in the heap. Each kernel takes raw byte memoryviews of
# the tensors (in the pure kernel's order) then its integer parameters, as typed
# arguments or as one tuple (the spec's viper= convention; see dispatch.py).
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
# The requantization (MultiplyByQuantizedMultiplier) lives once, in requant() below:
# a kernel stores its accumulators into ACC and hands them over in runs of up to CAP
# (one call per run, not per output: a viper call per output would also box the
# accumulator, a heap int beyond 2^30 on 32-bit ports). lstm.py and svdf.py mirror
# its int32 block inline for their scalar multipliers (see their tops).
# In terms of qmath, with m the multiplier in [0, 2^31) and sh the shift:
#   a = acc << max(sh, 0)                      (TFLM: must fit int32)
#   srdhm(a, m) = floor((a*m + 2^30) / 2^31)   (equal to gemmlowp's rounding)
#   with a = ah*2^16 + al, m = mh*2^16 + ml:
#     = 2*ah*mh + (p1 >> 15) + (p2 >> 15)
#       + (((p1 & 0x7fff) + (p2 & 0x7fff) + (al*ml >> 16) + 2^14) >> 15)
#   where p1 = ah*ml, p2 = al*mh, and al*ml (< 2^32) is an unsigned product;
#   then rdbypot by -sh when sh < 0, with mask (half-1)+half so 2^31 never forms.
# The int64 form (16x8 kernels, TFLM's int64 MultiplyByQuantizedMultiplier,
# qmath.mul_by_qm64): with m16 the multiplier rounded to 16 bits (below 2^15) and
# T = 15 - shift in [1, 46], the result is floor((acc*m16 + 2^(T-1)) / 2^T) truncated
# to int32. With acc = hh*2^32 + hl*2^16 + al (hh = ah >> 16, hl = ah & 0xFFFF), the
# partial products c0 = al*m16, c1 = hl*m16 (below 2^31) and c2 = hh*m16 (|c2| <=
# 2^30), the rounding bit added to the one it falls in, carry into 16-bit limbs
# P = d2*2^32 + d1*2^16 + d0 (d2 signed). P >> T is d2 >> (T-32) for T >= 32, else
# its two low 16-bit halves gathered from neighbouring limbs, the upper one
# sign-extended: the int32 truncation.
#
# Generated from upyflow_tools/kernel_spec.py between `# spec: NAME {` and `# }`
# (gen_kernels.py; a test checks it is current): a positional kernel's def, its
# arguments typed (ptr8/ptr16/ptr32, int) and named as the spec names them; or a tuple
# kernel's prologue, a line per tensor or parameter (a ptr or int() of the tuple's
# item), because viper types a local by its first assignment (an annotation on a local
# is ignored and a tuple unpack gives untyped objects). Tuple kernels are those sharing
# one walk behind a flag, and those whose loops want particular locals in the three
# registers viper gives the first locals (arguments first), which typed arguments would
# take: they assign those before the prologue (conv.py's acc and xi; docs/viper.md has
# the measurements). So the requantizing kernels (conv, fc, transpose_conv) open alike
# on purpose: the prologue, then begin() and the ACC run indices.
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


# Accumulators waiting for requant(), one buffer for the tier (kernels run one at a
# time), made at import so that invoke allocates nothing. int32 words: a header
# (mode, out_off, act_min, act_max, channels, next channel, next output, end of the
# accumulators), then an int32 per accumulator (mode S8) or (al, ah) pairs (16x8:
# acc = ah*2^16 + al with al in [0, 2^16)). requant() takes no argument and flush()
# one: viper keeps only a function's first three locals (arguments first) in
# registers, which their loops want.
CAP = 64          # accumulators per requant() call
ACC0 = 8          # the first pair's word
ACC = bytearray(4 * (ACC0 + 2 * CAP))
S8 = 0            # modes: int32 accumulator, int8 output
S16 = 1           # int32 accumulator, int16 output
S16_ACC64 = 2     # int64 accumulator, int16 output


# The running kernel's out, mult and shift (objects: the arena and constant buffers),
# from begin() to finish(), for requant().
_OUT = [None, None, None]


@micropython.viper
def begin(out, mult, shift, mode: int, out_off: int, act_min: int, act_max: int):
    # A kernel's outputs start: into out, by the per-channel mult and shift; mode |
    # channels << 2 (per-channel mult and shift wrap around after that many), from
    # channel 0 and output 0.
    t = _OUT
    t[0] = out
    t[1] = mult
    t[2] = shift
    s = ptr32(ACC)
    s[0] = mode & 3
    s[1] = out_off
    s[2] = act_min
    s[3] = act_max
    s[4] = mode >> 2
    s[5] = 0
    s[6] = 0


@micropython.viper
def requant():
    # Requantize the pairs of ACC (up to its header's end word) into the next outputs
    # of begin()'s out by its per-channel mult and shift, then add out_off and clamp.
    # The channel and output counters carry on.
    i = int(ACC0)
    v = 0
    t = _OUT
    out8 = ptr8(t[0])
    out16 = ptr16(t[0])
    mult = ptr8(t[1])
    shift = ptr8(t[2])
    s = ptr32(ACC)
    hs = int(HS)
    mode = s[0]
    out_off = (s[1] << hs) >> hs
    act_min = (s[2] << hs) >> hs
    act_max = (s[3] << hs) >> hs
    kend = s[4] << 2   # channel byte offsets wrap here
    k = s[5] << 2
    o = s[6]
    ie = s[7]
    a = 0
    while i < ie:
        if mode:
            al = s[i]
            ah = (s[i + 1] << hs) >> hs
            # acc wrapped to int32, as C's int32 sum (unused by the int64 form)
            a = ((((ah & 0xFFFF) ^ 0x8000) - 0x8000) << 16) | al
            i += 2
        else:
            a = (s[i] << hs) >> hs
            i += 1
        ml = mult[k] | (mult[k + 1] << 8)
        mh = mult[k + 2] | (mult[k + 3] << 8)
        sh = (shift[k] ^ 0x80) - 0x80
        if mode == 2:
            if mh < 0x7FFF and (ml & 0x8000):
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
        else:   # mirrored inline by lstm.py and svdf.py (see the top)
            if sh > 0:   # wrapping as in C
                a = ((a << sh) << hs) >> hs
            ah = a >> 16
            al = a & 0xFFFF
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
        if mode:
            out16[o] = v
        else:
            out8[o] = v
        o += 1
        k += 4
        if k == kend:
            k = 0
    s[5] = k >> 2
    s[6] = o
    s[7] = int(ACC0)


@micropython.viper
def flush(end: int) -> int:
    # requant() the accumulators ACC holds up to word `end`; where the next ones go
    s = ptr32(ACC)
    s[7] = end
    requant()
    return int(ACC0)


@micropython.viper
def finish(end: int):
    # The kernel's last run: flush(end), then let go of its buffers (no arena outlives
    # its model here).
    flush(end)
    t = _OUT
    t[0] = None
    t[1] = None
    t[2] = None
