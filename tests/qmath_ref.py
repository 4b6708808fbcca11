"""TFLM's fixed-point definitions as Python big ints (and Fractions), written from its
reference code (tensorflow/lite/kernels/internal/common.h, gemmlowp fixedpoint.h) with C's
int32/int64 wrapping and truncating division spelled out: the independent derivation that
test_qmath.py and test_requant_m0.py compare every tier with, and their shared cases."""

import math
import random
from fractions import Fraction

MIN, MAX = -(1 << 31), (1 << 31) - 1


def c_int32(v):
    return (v + (1 << 31)) % (1 << 32) - (1 << 31)


def c_int64(v):
    return (v + (1 << 63)) % (1 << 64) - (1 << 63)


def c_div(a, b):
    """C's integer division: truncates toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def ref_srdhm(a, b):
    # gemmlowp SaturatingRoundingDoublingHighMul
    if a == b == MIN:
        return MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return c_div(ab + nudge, 1 << 31)


def ref_rdbypot(x, e):
    # gemmlowp RoundingDivideByPOT: x / 2^e rounded half away from zero
    q = Fraction(x, 1 << e)
    r = math.floor(abs(q) + Fraction(1, 2))
    return r if q >= 0 else -r


def ref_mbqm(x, m, shift):
    # TFLM MultiplyByQuantizedMultiplier(int32_t x, ...): x * (1 << left_shift) is an
    # int32 product (wraps on the targets), then SRDHM, then RoundingDivideByPOT
    left, right = max(shift, 0), max(-shift, 0)
    return ref_rdbypot(ref_srdhm(c_int32(x * (1 << left)), m), right)


def ref_mbqm64(x, m, shift):
    # TFLM MultiplyByQuantizedMultiplier(int64_t x, ...), double-rounding build
    reduced = (m + (1 << 15)) >> 16 if m < 0x7FFF0000 else 0x7FFF
    total = 15 - shift
    result = c_int64(x * reduced + (1 << (total - 1)))
    return c_int32(result >> total)


EDGE32 = [MIN, MIN + 1, -(1 << 30), -65536, -129, -1, 0, 1, 127, 65535, 1 << 30, MAX - 1, MAX]
MULTS = [MIN, MIN + 1, -1, 0, 1, 1 << 30, (1 << 30) + 1, 1518500250, 0x7FFF0000, MAX]


def _cases(seed=14, n=400):
    rnd = random.Random(seed)
    cases = [(x, m, s) for x in EDGE32 for m in MULTS for s in (-31, -30, -1, 0, 1, 2, 30)]
    for _ in range(n):
        cases.append((rnd.randint(MIN, MAX), rnd.randint(1 << 30, MAX), rnd.randint(-31, 30)))
    # ties: x * m exactly half way at the SRDHM and at the right shift
    cases += [(1 << k, 1 << 30, -s) for k in range(0, 31) for s in (1, 2, 5)]
    cases += [(-(3 << k), 1 << 30, -(k + 1)) for k in range(0, 28)]
    return cases
