"""RSQRT int16 (TFLM's RsqrtEvalQuantized: zero points 0, 1/sqrt(x) as a fixed-point multiplier
and shift, rescaled to the output) byte-identical with the TFLM interpreter: every non-negative
int16 value in one tensor, over scale pairs whose output shift runs from -20 to +25, on the CPython
tiers, MicroPython and the board ISAs. TFLM fails on a negative input; upyflow gives 32767 there
(as for 0). Zero points other than 0, and scales that put TFLM's shift outside [-31, 30] (undefined
C shifts), are refused at bake time with one line.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness import bake_model, check, check_isa, load_cpython, run_sets_on_tier, run_tflm, run_upyflow
from op_models import unary_model
from upyflow_tools import BakeError

# (input scale, output scale): TFLM's second shift (QuantizeMultiplier's shift - 20) from -20 to +25
SCALES = [
    (1e-3, 1e-3),  # shift -5; a float32 sqrt and product would give a different multiplier
    (1 / 32768, 1 / 256),
    (1e-5, 0.1),
    (5.0, 1e-4),
    (2.0**-20, 2.0**-10),  # shift +1: every value saturates or nearly
    (1e-8, 1e-8),  # shift +20: TFLM's int32 left shift wraps
    (1e-9, 1e-9),  # +25
    (3.62374192043218e-05, 0.0004935211802989533),
    (1.0405817464689318e-05, 0.00011200911395398848),
    (1.0, 1e10),  # the multiplier underflows to 0 (QuantizeMultiplier's shift < -31)
]
ALL = np.arange(0, 32768).astype(np.int16)


def model_of(scales) -> bytes:
    return unary_model("RSQRT", "i16", [32768], (scales[0], 0), (scales[1], 0))


@pytest.mark.parametrize("scales", SCALES, ids=["%g-%g" % s for s in SCALES])
def test_rsqrt_int16_every_value(tier, scales, tmp_path):
    check(model_of(scales), tmp_path, [[ALL], [ALL[::-1].copy()]])


def test_rsqrt_int16_negative_inputs(tier, tmp_path):
    """TFLM's invoke fails below 0 (upyflow cannot refuse a runtime value): 32767, as for 0; the
    non-negative values beside them keep TFLM's bytes."""
    model = unary_model("RSQRT", "i16", [4, 8], (1e-3, 0), (1e-3, 0))
    x = np.arange(-16, 16).astype(np.int16).reshape(4, 8)
    mdir, name, _ = bake_model(model, tmp_path)
    got = run_upyflow(load_cpython(mdir, name), [x])[0].reshape(-1)
    assert (got[:17] == 32767).all()
    want = run_tflm(model, [np.maximum(x, 0)])[0].reshape(-1)
    np.testing.assert_array_equal(got[16:], want[16:])


@pytest.mark.parametrize(
    "q_in,q_out,match",
    [
        ((1e-3, 1), (1e-3, 0), "zero points 0"),
        ((1e-3, 0), (1e-3, -3), "zero points 0"),
        ((1.0, 0), (1e5, 0), "shift at -36"),
        ((3e-10, 0), (1e-12, 0), "shift at 36"),
        (None, None, "quantization scale"),
    ],
)
def test_rsqrt_int16_refused(q_in, q_out, match, tmp_path):
    model = unary_model("RSQRT", "i16", [8], q_in, q_out)
    with pytest.raises(BakeError, match=match) as err:
        bake_model(model, tmp_path)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("scales", [SCALES[0], SCALES[5]], ids=["shift-5", "shift20"])
def test_rsqrt_int16_micropython(mpy_tier, scales, tmp_path):
    model = model_of(scales)
    sets = [[ALL]]
    got = run_sets_on_tier(model, sets, tmp_path, "rs", mpy_tier)
    assert got[0][0] == run_tflm(model, [ALL])[0].tobytes()


@pytest.mark.parametrize("scales", [SCALES[0], SCALES[5]], ids=["shift-5", "shift20"])
def test_rsqrt_int16_isa(isa_arch, scales):
    x = ALL[::7].copy()  # 4682 values spanning the range
    check_isa(unary_model("RSQRT", "i16", [x.size], (scales[0], 0), (scales[1], 0)), [[x]], isa_arch)
