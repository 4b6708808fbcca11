"""Generated single-operator tests of operators the TFLM audit listed as gaps (tflm_audit.py), each
against the TFLite Micro interpreter (the oracle) on the CPython tiers and on MicroPython: int8
bytes equal, float32 within 1e-5 relative (1e-6 absolute, the audit's tolerance).

ADD_N int8: 2 to 20 inputs (TFLM's int32 sum wrapping past 16 full-range ones), several scales
and zero points, saturating outputs.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness import check, run_sets_on_tier, run_tflm, seeded_rng
from tflite_writer import ModelWriter

SEED = 0x6A95


def _int8_sets(rng, shape, count, n_random=3):
    """Per input set, `count` int8 arrays: random ones, then all at the extremes."""
    sets = [[rng.integers(-128, 128, size=shape).astype(np.int8) for _ in range(count)] for _ in range(n_random)]
    sets.append([np.full(shape, 127, np.int8) for _ in range(count)])
    sets.append([np.full(shape, -128, np.int8) for _ in range(count)])
    return sets


# --- ADD_N int8 ---------------------------------------------------------------------------------
# (inputs, shape, (in scale, in zp), (out scale, out zp))
ADD_N_CASES = [
    (2, [7], (0.05, 3), (0.07, -5)),
    (3, [2, 3, 4], (0.05, 3), (0.07, -5)),
    (3, [1, 4, 4, 8], (0.02, -128), (0.1, 100)),
    (4, [5, 6], (0.1, 127), (0.05, 0)),
    (5, [3, 1, 2, 5], (0.003, -20), (0.4, -128)),
    (2, [16], (1.0, 0), (0.004, 10)),
    (17, [9], (0.05, -128), (0.5, 0)),
    (20, [2, 5], (0.05, -128), (0.9, -100)),
]


def add_n_model(count, shape, qi, qo):
    w = ModelWriter()
    xs = [w.tensor(shape, "int8", *qi) for _ in range(count)]
    y = w.tensor(shape, "int8", *qo)
    w.op("ADD_N", xs, [y])
    return w.build(xs, [y])


def _add_n(case):
    count, shape, qi, qo = case
    return add_n_model(*case), _int8_sets(seeded_rng(SEED, "add_n%s" % (case,)), shape, count)


@pytest.mark.parametrize("case", ADD_N_CASES, ids=lambda c: "n%d-%s-%g" % (c[0], "x".join(map(str, c[1])), c[3][0]))
def test_add_n_s8(case, tier, tmp_path):
    model, sets = _add_n(case)
    check(model, tmp_path, sets)


def _mpy_models():
    return [_add_n(c) for c in ADD_N_CASES]


@pytest.mark.parametrize("mpy_tier", ["pure", "viper", "natmod"], indirect=True)
def test_gaps_micropython(mpy_tier, tmp_path):
    """Every model above on MicroPython: TFLM's int8 bytes, float32 within the tolerance."""
    for k, (model, sets) in enumerate(_mpy_models()):
        got = run_sets_on_tier(model, sets, tmp_path, "gp%d" % k, mpy_tier)
        for g_outs, s in zip(got, sets):
            for g, w in zip(g_outs, run_tflm(model, s)):
                g = np.frombuffer(g, w.dtype).reshape(w.shape)
                if w.dtype == np.float32:
                    np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6, err_msg="model %d" % k)
                else:
                    np.testing.assert_array_equal(g, w, err_msg="model %d" % k)
