"""The fixed-point maths of every tier against TFLM's definitions.

Expected values come from Python big ints (and Fractions) written from TFLM's
reference code (tensorflow/lite/kernels/internal/common.h, gemmlowp fixedpoint.h),
with C's int32/int64 wrapping and truncating division spelled out; the code under
test is upyflow.qmath (pure tier and host), the C tier through the native
`requantize` kernel (int32 in and out, zero points 0, no clamp) and the host's
numpy mirrors in upyflow_tools.quant.
"""

import math
import random
import struct
from array import array
from fractions import Fraction

import numpy as np
import pytest
from qmath_ref import (
    EDGE32,
    MAX,
    MIN,
    _cases,
    c_int32,
    ref_mbqm,
    ref_mbqm64,
    ref_rdbypot,
    ref_srdhm,
)

from upyflow import dispatch, qmath
from upyflow.kernels_pure.quantize import requantize as pure_requantize
from upyflow_tools import quant


def test_srdhm_edges_and_random():
    rnd = random.Random(1)
    pairs = [(a, b) for a in EDGE32 for b in EDGE32]
    pairs += [(rnd.randint(MIN, MAX), rnd.randint(MIN, MAX)) for _ in range(2000)]
    for a, b in pairs:
        assert qmath.srdhm(a, b) == ref_srdhm(a, b), (a, b)
    assert qmath.srdhm(MIN, MIN) == MAX  # the one saturating case


def test_rdbypot_ties_and_range():
    xs = EDGE32 + [3, -3, 5, -5, 6, -6, 1 << 20, -(1 << 20), (1 << 20) + (1 << 19), -((1 << 20) + (1 << 19))]
    for x in xs:
        for e in range(0, 32):
            assert qmath.rdbypot(x, e) == ref_rdbypot(x, e), (x, e)
    assert qmath.rdbypot(5, 1) == 3 and qmath.rdbypot(-5, 1) == -3  # ties away from zero


def test_mul_by_qm_wraps_left_shift_like_tflm():
    for x, m, s in _cases():
        assert qmath.mul_by_qm(x, m, s) == ref_mbqm(x, m, s), (x, m, s)
    # the left shift wraps (int32 product), it does not saturate
    assert qmath.mul_by_qm(1 << 30, 1 << 30, 1) == ref_srdhm(MIN, 1 << 30) == -(1 << 30)


def test_requantize_kernel_tiers_agree_with_tflm():
    """requantize(int32 -> int32, zero points 0, no clamp) is mul_by_qm in every tier."""
    cases = _cases(seed=3, n=200)
    want = [ref_mbqm(x, m, s) for x, m, s in cases]
    got = []
    for x, m, s in cases:
        out = array("i", [0])
        pure_requantize(array("i", [x]), out, 1, 0, m, s, 0, MIN, MAX)
        got.append(out[0])
    assert got == want
    if not dispatch.available("native"):
        pytest.skip("the upyflow_native C extension is not built")
    import upyflow_native

    got = []
    for x, m, s in cases:
        out = array("i", [0])
        upyflow_native.requantize((array("i", [x]), out, 1, 0, m, s, 0, MIN, MAX))
        got.append(out[0])
    assert got == want


def test_mul_by_qm64():
    rnd = random.Random(5)
    # |x| < 2^47 (every 16x8 accumulator): x * m fits int64, where TFLM does not overflow
    xs = [0, 1, -1, (1 << 40) + 12345, -(1 << 47) + 7, (1 << 47) - 1, 1 << 46]
    xs += [rnd.randint(-(1 << 47), 1 << 47) for _ in range(300)]
    for x in xs:
        for m in (1 << 30, 1518500250, 0x7FFEFFFF, 0x7FFF0000, MAX):
            for s in (-31, -20, -1, 0, 1, 14):
                assert qmath.mul_by_qm64(x, m, s) == ref_mbqm64(x, m, s), (x, m, s)


def test_requant16_int32_accumulator_wraps_first():
    for acc in (MAX + 1, MIN - 1, (1 << 40) + 3, -(1 << 33) + 5):
        want = max(-32768, min(32767, ref_mbqm(c_int32(acc), 1 << 30, 2)))
        assert qmath.requant16(acc, 1 << 30, 2, 0, -32768, 32767) == want


def test_exp_and_reciprocal_accuracy():
    # bit-exactness with TFLM is test_softmax's and test_activations' (TFLM oracle);
    # here the values against real maths, and the edges
    assert qmath.exp_on_negative_q5_26(0) == MAX
    for a in [-1, -(1 << 20), -(1 << 24), -(1 << 26), -(3 << 26), -(1 << 28), -(1 << 30), -MAX, MIN]:
        for bits, fn in ((5, qmath.exp_on_negative_q5_26), (5, lambda v: qmath.exp_on_negative(v, 5))):
            got = fn(a) / 2**31
            assert abs(got - math.exp(a / 2 ** (31 - bits))) < 5e-7, a
        got4 = qmath.exp_on_negative(a, 4) / 2**31
        assert abs(got4 - math.exp(a / 2**27)) < 5e-7, a
    for x in [1 << 19, (1 << 19) + 1, 3 << 19, 1000 << 19, MAX]:
        scale, bits = qmath.reciprocal_q12(x)
        # scale / 2^31 * 2^-bits ~ 1 / (x / 2^19)
        assert abs(scale / 2**31 / 2**bits - 2**19 / x) < 1e-8 * 2**19 / x * 2**31 / scale, x
    for a in (0, 1 << 29, 1 << 30, MAX):
        assert abs(qmath.one_over_one_plus_x(a) / 2**30 - 1 / (1 + a / 2**31)) < 1e-8


def test_f32_and_round_half_away():
    rnd = random.Random(9)
    vals = [0.1, -0.1, 1e-45, 3.4028234663852886e38, 1e39, -1e39, 16777217.0, 0.49999997]
    vals += [rnd.uniform(-1e6, 1e6) for _ in range(500)]
    for v in vals:
        want = struct.unpack("f", struct.pack("f", v))[0] if abs(v) < 3.5e38 else math.copysign(math.inf, v)
        assert qmath.f32(v) == want == quant.f32(v), v
    ties = [k + 0.5 for k in range(-20, 20)] + [0.49999999999999994, -0.49999999999999994, 2.5, -2.5, 1e15 + 0.5]
    for v in ties + [rnd.uniform(-1e6, 1e6) for _ in range(500)]:
        q = Fraction(v)
        want = math.floor(abs(q) + Fraction(1, 2)) * (1 if q >= 0 else -1)
        assert qmath.round_half_away(v) == want == quant.round_half_away(v), v
    arr = np.array(ties)
    assert list(quant.round_half_away_np(arr).astype(np.int64)) == [qmath.round_half_away(v) for v in ties]
