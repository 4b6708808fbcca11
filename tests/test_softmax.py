"""SOFTMAX (int8, float32, int16, int8 in with int16 out): byte-identical with TFLM (float32
within rtol 1e-5) on every CPython kernel tier (`tier`).

Generated single-op models, parameters fixed by a seed and the case id; inputs are random ones,
the extremes, one large logit over far smaller ones (diff_min), close logits. Nothing here
hard-codes an expected output.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import check, check_isa, make_inputs, seeded_rng
from op_models import int16_inputs, unary_model
from tflite_writer import ModelWriter

SEED = 0x5EED  # the int8 and float32 cases
SEED16 = 0xAC71  # the int16-output cases
HYPOTHESIS_EXAMPLES = int(os.environ.get("UPYFLOW_HYPOTHESIS_EXAMPLES", "10"))


def case_rng(case_id: str) -> np.random.Generator:
    return seeded_rng(SEED, case_id)


def case_rng16(case_id: str) -> np.random.Generator:
    return seeded_rng(SEED16, case_id)


def single(model: bytes, tmp_path, xs: list[np.ndarray]) -> None:
    check(model, tmp_path, [[x] for x in xs])


# --- int8 and float32 ------------------------------------------------------------------
def softmax_model(dtype, shape, beta, in_scale=0.1, in_zp=0):
    w = ModelWriter()
    if dtype == "f32":
        x, y = w.tensor(shape, "float32"), w.tensor(shape, "float32")
    else:
        x = w.tensor(shape, "int8", in_scale, in_zp)
        y = w.tensor(shape, "int8", 1 / 256, -128)
    w.op("SOFTMAX", [x], [y], beta=beta)
    return w.build([x], [y])


SOFTMAX_CASES = [
    ("i8", shape, beta, sc, zp)
    for shape in ([1, 10], [3, 10])
    for beta in (1.0, 0.5, 2.0)
    for sc, zp in ((0.01, 0), (0.03, -10), (0.0625, 5), (0.1, -128), (0.25, 127), (0.5, 3))
]
SOFTMAX_CASES += [
    ("i8", [2, d], 1.0, sc, -7)
    for d, sc in zip((1, 2, 3, 5, 7, 16, 31, 50), (0.02, 0.5, 0.1, 0.3, 0.05, 0.15, 0.08, 0.2))
]
SOFTMAX_CASES += [("i8", [1, 2, 2, 6], 1.0, 0.125, 0)]
SOFTMAX_CASES += [
    ("f32", shape, beta, 0, 0) for shape in ([1, 10], [3, 10], [2, 1], [1, 50], [2, 2, 7]) for beta in (1.0, 0.5, 2.0)
]


def _softmax_id(c):
    dt, shape, beta, sc, zp = c
    return "%s-%s-beta%g-s%g-zp%d" % (dt, "x".join(map(str, shape)), beta, sc, zp)


def softmax_case(case):
    """(model bytes, input sets) of one case."""
    dt, shape, beta, sc, zp = case
    rng = case_rng("softmax" + _softmax_id(case))
    xs = make_inputs(rng, dt, shape, zp, n_random=4, f_range=5.0)
    if dt == "i8":  # one large logit, the rest far below (exercises diff_min)
        x = np.full(shape, -128, np.int8)
        x[..., 0] = 127
        xs.append(x)
    return softmax_model(dt, shape, beta, sc, zp), [[x] for x in xs]


@pytest.mark.parametrize("case", SOFTMAX_CASES, ids=_softmax_id)
def test_softmax(case, tier, tmp_path):
    model, sets = softmax_case(case)
    check(model, tmp_path, sets)


@pytest.mark.parametrize("case", SOFTMAX_CASES[::12], ids=_softmax_id)
def test_softmax_isa(case, isa_arch):
    """Every 12th case on the boards' ISAs."""
    check_isa(*softmax_case(case), isa_arch)


# --- int16 output (int16 and int8 input) ------------------------------------------------
SOFTMAX16 = [
    ("i16", shape, beta, sc)
    for shape in ([1, 10], [3, 17], [2, 2, 40])
    for beta, sc in ((1.0, 0.0003), (0.5, 0.001), (2.0, 1 / 4096), (1.0, 3e-5))
]
SOFTMAX16 += [
    ("i8", shape, beta, sc) for shape in ([1, 10], [2, 33]) for beta, sc in ((1.0, 0.05), (0.7, 0.2), (1.5, 0.01))
]
# int8 -> int16 (the C kernel softmax_s8_s16): one class, keyword_scrambled's 12, a wide
# cut-off (large beta * scale: most differences fall below diff_min), many rows
SOFTMAX16 += [
    ("i8", [1, 1], 1.0, 0.05),
    ("i8", [1, 12], 1.0, 0.1),
    ("i8", [2, 70], 3.0, 0.5),
    ("i8", [5, 3, 7], 1.0, 1 / 16),
]


def _softmax16_id(c):
    return "%s-%s-b%g-s%g" % (c[0], "x".join(map(str, c[1])), *c[2:])


def softmax16_case(case):
    """(model bytes, input sets) of one case."""
    dt, shape, beta, sc = case
    rng = case_rng16("softmax16-%s-%s-%g-%g" % (dt, shape, beta, sc))
    if dt == "i16":
        model = unary_model("SOFTMAX", "i16", shape, (sc, 0), (1 / 32768, 0), beta=beta)
        xs = int16_inputs(rng, shape)
        xs.append((rng.integers(-300, 300, size=shape) + 20000).astype(np.int16))  # close logits
    else:
        model = unary_model("SOFTMAX", "i8", shape, (sc, -3), (1 / 65536, -32768), out_dt="i16", beta=beta)
        xs = [rng.integers(-128, 128, size=shape).astype(np.int8) for _ in range(4)]
        xs.append(np.full(shape, -128, np.int8))
        xs.append(np.where(np.arange(int(np.prod(shape))) % 5, -128, 127).astype(np.int8).reshape(shape))
    return model, [[x] for x in xs]


@pytest.mark.parametrize("case", SOFTMAX16, ids=_softmax16_id)
def test_softmax_int16_output(case, tier, tmp_path):
    model, sets = softmax16_case(case)
    check(model, tmp_path, sets)


@pytest.mark.parametrize("case", SOFTMAX16[::6], ids=_softmax16_id)
def test_softmax_int16_output_isa(case, isa_arch):
    """Every 6th case on the boards' ISAs."""
    check_isa(*softmax16_case(case), isa_arch)


def test_softmax_int8_int16_is_native():
    """The native tier runs int8 -> int16 SOFTMAX in C (keyword_scrambled's last op), not pure."""
    upyflow_native = pytest.importorskip("upyflow_native", reason="the C extension is not built")
    assert upyflow_native.kernel_index("softmax_s8_s16") >= 0


# --- property test -------------------------------------------------------------------------
@pytest.mark.usefixtures("tier")
@settings(max_examples=HYPOTHESIS_EXAMPLES, deadline=None)
@given(
    depth=st.integers(1, 40),
    rows=st.integers(1, 3),
    beta=st.floats(0.1, 4.0),
    in_scale=st.floats(0.002, 1.0),
    in_zp=st.integers(-128, 127),
    seed=st.integers(0, 2**32 - 1),
)
def test_softmax_property(depth, rows, beta, in_scale, in_zp, seed, tmp_path_factory):
    rng = np.random.default_rng(seed)
    model = softmax_model("i8", [rows, depth], float(np.float32(beta)), in_scale, in_zp)
    single(model, tmp_path_factory.mktemp("prop"), make_inputs(rng, "i8", [rows, depth], in_zp, n_random=3))


# --- LOG_SOFTMAX (float32) ------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [[1, 10], [3, 7], [2, 2, 5], [4, 1]], ids=lambda s: "x".join(map(str, s)))
def test_log_softmax_float32(shape, tier, tmp_path):
    from op_models import float_inputs, unary_model

    rng = np.random.default_rng([0x106, len(shape), shape[-1]])
    check(unary_model("LOG_SOFTMAX", "f32", shape), tmp_path, [[x] for x in float_inputs(rng, shape)])


# --- LOG_SOFTMAX (int8: TFLM's fixed-point algorithm) ----------------------------------------------
@pytest.mark.parametrize("seed", range(6))
def test_log_softmax_int8(seed, tier, tmp_path):
    from op_models import unary_model

    rng = np.random.default_rng([0x1065, seed])
    shape = [[1, 10], [3, 7], [2, 2, 33], [4, 1], [1, 256], [2, 5]][seed]
    scale = float(np.exp(rng.uniform(np.log(0.005), np.log(0.5))))
    model = unary_model("LOG_SOFTMAX", "i8", shape, (scale, int(rng.integers(-128, 128))), (16.0 / 256, 127))
    xs = (
        [rng.integers(-128, 128, shape).astype(np.int8) for _ in range(3)]
        + [np.full(shape, v, np.int8) for v in (-128, 127)]
        + [np.where(rng.random(shape) < 0.5, -128, 127).astype(np.int8)]
    )
    check(model, tmp_path, [[x] for x in xs])


def test_log_softmax_int8_isa(isa_arch):
    from op_models import unary_model

    rng = np.random.default_rng([0x1065, 99])
    model = unary_model("LOG_SOFTMAX", "i8", [3, 20], (0.05, -7), (16.0 / 256, 127))
    check_isa(model, [[rng.integers(-128, 128, [3, 20]).astype(np.int8)] for _ in range(2)], isa_arch)


@pytest.mark.parametrize("mpy_tier", ["pure", "natmod"], indirect=True)
def test_log_softmax_int8_micropython(mpy_tier, tmp_path):
    from harness import bake_model, run_micropython_cases, run_tflm
    from op_models import unary_model

    baked = {}
    for k, shape in enumerate([[1, 10], [3, 7], [2, 40]]):
        rng = np.random.default_rng([0x1065, 50 + k])
        model = unary_model("LOG_SOFTMAX", "i8", shape, (0.02 * (k + 1), 5 - k), (16.0 / 256, 127))
        sets = [[rng.integers(-128, 128, shape).astype(np.int8)] for _ in range(2)]
        bake_model(model, tmp_path, name="lsm%d" % k, mpy=True)
        baked["lsm%d" % k] = ("logsoftmax-%d" % k, sets, [run_tflm(model, s) for s in sets])
    run_micropython_cases(mpy_tier, str(tmp_path), baked)
