"""Standalone activations (RELU, RELU6, RELU_N1_TO_1, LEAKY_RELU, HARD_SWISH, LOGISTIC, TANH,
PRELU), byte-identical with the TFLM interpreter (int16-output SOFTMAX: test_softmax.py; int32
QUANTIZE: test_quantize_op.py).

int8 cases feed every one of the 256 input values at once; int16 cases feed random values, the
extremes, and for LOGISTIC/TANH every one of the 65536 values. Cases derive from one fixed seed;
each runs on every CPython kernel tier (`tier`). Nothing here hard-codes an expected output: the oracle
is TFLM, except for RELU_N1_TO_1 (TFLM has no kernel for it; see its test).
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import NP, SHARED, TT, bake_model, check, check_isa, load_cpython, run_tflm, run_upyflow, seeded_rng
from op_models import all_int8, float_inputs, int16_inputs, unary_model
from tflite_writer import ModelWriter
from upyflow_tools import BakeError
from upyflow_tools.unixport import run_batch

SEED = 0xAC71
HYPOTHESIS_EXAMPLES = int(os.environ.get("UPYFLOW_HYPOTHESIS_EXAMPLES", "10"))


def rng_for(case_id: str) -> np.random.Generator:
    return seeded_rng(SEED, case_id)


def single(model: bytes, tmp_path, xs: list[np.ndarray]) -> None:
    check(model, tmp_path, [[x] for x in xs])


def int8_q(rng) -> tuple[float, int]:
    return float(np.exp(rng.uniform(np.log(0.002), np.log(0.5)))), int(rng.integers(-128, 128))


def int16_scale(rng) -> float:
    return float(np.exp(rng.uniform(np.log(1e-5), np.log(2e-3))))


# --- RELU, RELU6, LEAKY_RELU, HARD_SWISH (int8: all values; int16: random) -------------------
INT8_SHAPES = ([256], [1, 16, 16], [2, 2, 8, 8], [4, 64])
PIECEWISE = ["RELU", "RELU6", "LEAKY_RELU", "HARD_SWISH"]
INT8_CASES = [(kind, i) for kind in PIECEWISE for i in range(16)]


def piecewise_int8_case(kind: str, i: int):
    """(model bytes, input sets) of one case."""
    rng = rng_for("%s-i8-%d" % (kind, i))
    shape = INT8_SHAPES[i % len(INT8_SHAPES)]
    q_in = int8_q(rng)
    if i == 0:
        q_out = q_in  # same quantization
    elif kind == "HARD_SWISH" and i == 15:  # TFLM's int16 shifts by 16 and more
        q_in, q_out = (1e-4, int(q_in[1])), (0.5, 3)
    elif kind == "HARD_SWISH":  # TFLM needs out scale > in scale / 128
        q_out = (q_in[0] * float(rng.uniform(0.05, 3.0)), int(rng.integers(-128, 128)))
    else:
        q_out = int8_q(rng)
    options = {}
    if kind == "LEAKY_RELU":
        options["alpha"] = float(np.float32([0.2, 0.01, 0.3, -0.5, 1.7, 0.0, -2.0, 0.99][i % 8]))
    model = unary_model(kind, "i8", shape, q_in, q_out, **options)
    return model, [[all_int8(rng, shape)], [np.full(shape, q_in[1], np.int8)]]


@pytest.mark.parametrize("kind,i", INT8_CASES, ids=["%s-i8-%d" % c for c in INT8_CASES])
def test_piecewise_int8(tier, kind, i, tmp_path):
    model, sets = piecewise_int8_case(kind, i)
    check(model, tmp_path, sets)


@pytest.mark.parametrize("kind,i", INT8_CASES[::8], ids=["%s-i8-%d" % c for c in INT8_CASES[::8]])
def test_piecewise_int8_isa(kind, i, isa_arch):
    """Every 8th case on the boards' ISAs."""
    check_isa(*piecewise_int8_case(kind, i), isa_arch)


INT16_CASES = [(kind, i) for kind in ("RELU", "RELU6", "LEAKY_RELU") for i in range(8)]


def piecewise_int16_case(kind: str, i: int):
    """(model bytes, input sets) of one case."""
    rng = rng_for("%s-i16-%d" % (kind, i))
    shape = [[1, 64], [2, 5, 32], [1, 1, 40, 32], [3, 100]][i % 4]
    sc_in = int16_scale(rng)
    sc_out = sc_in if i == 0 else int16_scale(rng)
    zp = 0
    if kind == "RELU6" and i % 2:  # TFLM's RELU6 takes any zero point (RELU needs 0)
        zp = int(rng.integers(-1000, 1000))
        sc_in = float(rng.uniform(6.0 / 30000, 1e-3))
    options = {}
    if kind == "LEAKY_RELU":
        options["alpha"] = float(np.float32([0.3, 0.1, -0.25, 1.5][i % 4]))
    model = unary_model(kind, "i16", shape, (sc_in, zp), (sc_out, zp if kind == "RELU6" else 0), **options)
    return model, [[x] for x in int16_inputs(rng, shape)]


@pytest.mark.parametrize("kind,i", INT16_CASES, ids=["%s-i16-%d" % c for c in INT16_CASES])
def test_piecewise_int16(tier, kind, i, tmp_path):
    model, sets = piecewise_int16_case(kind, i)
    check(model, tmp_path, sets)


@pytest.mark.parametrize("kind,i", INT16_CASES[::4], ids=["%s-i16-%d" % c for c in INT16_CASES[::4]])
def test_piecewise_int16_isa(kind, i, isa_arch):
    """Every 4th case on the boards' ISAs."""
    check_isa(*piecewise_int16_case(kind, i), isa_arch)


FLOAT_KINDS = ["RELU", "RELU6", "LEAKY_RELU", "HARD_SWISH", "LOGISTIC", "TANH"]


@pytest.mark.parametrize("kind", FLOAT_KINDS)
@pytest.mark.parametrize("shape", [[7], [2, 3, 17]], ids=["7", "2x3x17"])
def test_float32(tier, kind, shape, tmp_path):
    rng = rng_for("%s-f32-%s" % (kind, shape))
    options = {"alpha": 0.15} if kind == "LEAKY_RELU" else {}
    single(unary_model(kind, "f32", shape, **options), tmp_path, float_inputs(rng, shape, 12.0))


MATH_KINDS = ["ABS", "NEG", "SQRT", "RSQRT", "EXP", "LOG"]


def maths_case(kind: str):
    """Random values (non-negative for the roots and LOG), plus zero, subnormals, the extremes
    and values whose EXP overflows or underflows."""
    rng = rng_for("%s-f32" % kind)
    shape = [3, 17]
    xs = float_inputs(rng, shape, 40.0 if kind == "EXP" else 12.0)
    special = np.array(
        [
            0.0,
            -0.0,
            1e-40,
            1e-30,
            1.0,
            2.0,
            0.5,
            3e38,
            -3e38,
            88.0,
            89.0,
            -87.0,
            -104.0,
            1.4142135,
            0.70710677,
            1e-3,
            7.0,
        ],
        np.float32,
    )
    xs.append(np.resize(special, shape).astype(np.float32))
    if kind in ("SQRT", "RSQRT", "LOG"):
        xs = [np.abs(x) for x in xs]
    return unary_model(kind, "f32", shape), [[x] for x in xs]


@pytest.mark.parametrize("kind", MATH_KINDS)
def test_float32_maths(tier, kind, tmp_path):
    model, sets = maths_case(kind)
    check(model, tmp_path, sets)


@pytest.mark.parametrize("kind", MATH_KINDS)
def test_float32_maths_isa(kind, isa_arch):
    """The C sqrt, log and exp (no libm) on the boards' ISAs, soft float included."""
    check_isa(*maths_case(kind), isa_arch)


@pytest.mark.parametrize("i", range(8))
def test_abs_int8(tier, i, tmp_path):
    """Every int8 value; equal scales (no rescale in TFLM) in the even cases."""
    rng = rng_for("ABS-i8-%d" % i)
    q_in = int8_q(rng)
    q_out = (q_in[0], int(rng.integers(-128, 0))) if i % 2 == 0 else int8_q(rng)
    single(unary_model("ABS", "i8", [4, 64], q_in, q_out), tmp_path, [all_int8(rng, [4, 64])])


def test_abs_int8_multiplier_in_double(tier, tmp_path):
    """Scales whose float32 quotient rounds to another multiplier than the double one: TFLM's bytes
    follow the double (found by a search over random scale pairs)."""
    rng = rng_for("ABS-i8-double")
    single(
        unary_model("ABS", "i8", [4, 64], (0.052627544082717435, 125), (0.04112116248386972, -114)),
        tmp_path,
        [all_int8(rng, [4, 64])],
    )


# int16 ABS: (input scale, output scale), zero points 0 (TFLM); equal scales take TFLM's no-rescale path
ABS16_SCALES = [
    (3e-4, 3e-4),
    (2e-4, 5e-5),  # multiplier 4: saturates
    (1e-5, 7e-4),  # multiplier < 1/64
    (0.0015617261850773957, 0.0018027852999274985),  # float32 and double quotients differ
    (0.16036066952937386, 0.021313174674015008),
    (1.0, 3.1e-5),  # multiplier just below 2^15, the largest accepted
]


@pytest.mark.parametrize("i", range(len(ABS16_SCALES) + 4))
def test_abs_int16(tier, i, tmp_path):
    """Every int16 value (-32768 included: |x| saturates), on the listed and random scale pairs."""
    rng = rng_for("ABS-i16-%d" % i)
    q_in, q_out = ABS16_SCALES[i] if i < len(ABS16_SCALES) else (int16_scale(rng), int16_scale(rng))
    allv = rng.permutation(np.arange(-32768, 32768)).astype(np.int16).reshape(16, 4096)
    single(unary_model("ABS", "i16", [16, 4096], (q_in, 0), (q_out, 0)), tmp_path, [allv])


def test_abs_int16_refused_beyond_int32(tmp_path):
    """An input scale 2^15 times the output's: TFLM's |x| << 16 wraps to INT32_MIN; refused."""
    model = unary_model("ABS", "i16", [8], (1.0, 0), (2.0**-15, 0))
    with pytest.raises(BakeError, match="ABS") as err:
        bake_model(model, tmp_path)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("i", range(8))
def test_rsqrt_int8(tier, i, tmp_path):
    """Every int8 value from the zero point up (TFLM fails below it)."""
    rng = rng_for("RSQRT-i8-%d" % i)
    scale, zp = int8_q(rng)
    zp = int(rng.integers(-128, 20))
    q_out = (float(np.exp(rng.uniform(np.log(0.01), np.log(0.5)))), int(rng.integers(-128, 0)))
    vals = np.arange(zp, 128)
    xs = [np.resize(rng.permutation(vals), 256).astype(np.int8).reshape(4, 64), np.full((4, 64), zp, np.int8)]
    single(unary_model("RSQRT", "i8", [4, 64], (scale, zp), q_out), tmp_path, xs)


# --- LOGISTIC and TANH ---------------------------------------------------------------------
SIGMOID_INT8 = [(kind, i) for kind in ("LOGISTIC", "TANH") for i in range(12)]


def sigmoid_int8_case(kind: str, i: int):
    """(model bytes, input sets) of one case."""
    rng = rng_for("%s-i8-%d" % (kind, i))
    shape = INT8_SHAPES[i % len(INT8_SHAPES)]
    # input scales from tiny (all inside the linear range) to coarse (saturating)
    sc = [0.001, 0.01, 0.02, 0.0625, 0.1, 0.25, 0.5, 1.0][i % 8] * float(rng.uniform(0.8, 1.25))
    q_in = (sc, int(rng.integers(-128, 128)))
    # TFLM writes 1/256 (LOGISTIC, zero point -128) or 1/128 (TANH) whatever the output says
    q_out = (1 / 256, -128) if kind == "LOGISTIC" else ((1 / 128, 0) if i % 3 else (0.05, 9))
    return unary_model(kind, "i8", shape, q_in, q_out), [[all_int8(rng, shape)]]


@pytest.mark.parametrize("kind,i", SIGMOID_INT8, ids=["%s-i8-%d" % c for c in SIGMOID_INT8])
def test_sigmoid_int8(tier, kind, i, tmp_path):
    model, sets = sigmoid_int8_case(kind, i)
    check(model, tmp_path, sets)


@pytest.mark.parametrize("kind,i", SIGMOID_INT8[::4], ids=["%s-i8-%d" % c for c in SIGMOID_INT8[::4]])
def test_sigmoid_int8_isa(kind, i, isa_arch):
    """Every 4th case on the boards' ISAs."""
    check_isa(*sigmoid_int8_case(kind, i), isa_arch)


SIGMOID_INT16 = [
    (kind, sc)
    for kind in ("LOGISTIC", "TANH")
    for sc in (2.0**-12, 2.0**-11, 2.0**-10, 2.0**-13, 1 / 3000, 0.0007, 3.1e-5, 0.004)
]


@pytest.mark.parametrize("kind,sc", SIGMOID_INT16, ids=["%s-i16-s%g" % c for c in SIGMOID_INT16])
def test_sigmoid_int16(tier, kind, sc, tmp_path):
    rng = rng_for("%s-i16-%g" % (kind, sc))
    shape = [4, 4096]
    model = unary_model(kind, "i16", shape, (sc, 0), (2.0**-15, 0))
    single(model, tmp_path, int16_inputs(rng, shape, sweep=True))


# --- RELU_N1_TO_1 (no TFLM kernel) -----------------------------------------------------------
@pytest.mark.parametrize("i", range(6))
def test_relu_n1_to_1(tier, i, tmp_path):
    """With equal input/output quantization the oracle is TFLM's MAX_POOL_2D 1x1 with the fused
    RELU_N1_TO_1 clamp; with different ones, the real result within one output step (rounding
    of the clamp bounds and of the requantization); float32 against numpy's clip."""
    rng = rng_for("relu_n1_%d" % i)
    shape = [1, 16, 16, 1]
    q_in = int8_q(rng)
    q_in = (q_in[0] / 10, q_in[1])  # scales where [-1, 1] is inside the int8 range
    x = all_int8(rng, shape)
    mdir, name, _ = bake_model(unary_model("RELU_N1_TO_1", "i8", shape, q_in, q_in), tmp_path)
    got = run_upyflow(load_cpython(mdir, name), [x])[0]
    w = ModelWriter()
    a, b = w.tensor(shape, "int8", *q_in), w.tensor(shape, "int8", *q_in)
    w.op("MAX_POOL_2D", [a], [b], fused_activation_function="RELU_N1_TO_1")
    np.testing.assert_array_equal(got, run_tflm(w.build([a], [b]), [x])[0])

    q_out = (float(rng.uniform(1 / 127, 0.05)), int(rng.integers(-20, 20)))
    mdir, name, _ = bake_model(unary_model("RELU_N1_TO_1", "i8", shape, q_in, q_out), tmp_path, name="n1b%d" % i)
    got = run_upyflow(load_cpython(mdir, name), [x])[0].astype(np.float64)
    real = np.clip((x.astype(np.float64) - q_in[1]) * q_in[0], -1, 1)
    assert np.all(np.abs((got - q_out[1]) * q_out[0] - real) <= q_out[0] * 1.0001)

    xf = float_inputs(rng, [3, 11], 3.0)[0]
    mdir, name, _ = bake_model(unary_model("RELU_N1_TO_1", "f32", [3, 11]), tmp_path, name="n1f%d" % i)
    np.testing.assert_array_equal(run_upyflow(load_cpython(mdir, name), [xf])[0], np.clip(xf, -1, 1))


# --- PRELU ---------------------------------------------------------------------------------
PRELU_ALPHA_SHAPES = [[3], [1, 1, 3], [1], [4, 1, 1], [4, 4, 3], [1, 4, 1, 3], [4, 1, 3]]
PRELU_CASES = [
    (dt, a, k)
    for dt in ("i8", "i16", "f32")
    for a in range(len(PRELU_ALPHA_SHAPES))
    for k in range(2 if dt == "i8" else 1)
]


@pytest.mark.parametrize("dt,a,k", PRELU_CASES, ids=["%s-alpha%d-%d" % c for c in PRELU_CASES])
def test_prelu(tier, dt, a, k, tmp_path):
    rng = rng_for("prelu-%s-%d-%d" % (dt, a, k))
    shape, ashape = [1, 4, 4, 3], PRELU_ALPHA_SHAPES[a]
    w = ModelWriter()
    if dt == "f32":
        x, y = w.tensor(shape, "float32"), w.tensor(shape, "float32")
        al = w.tensor(ashape, "float32", data=rng.uniform(-1, 1, size=ashape).astype(np.float32))
        xs = float_inputs(rng, shape, 4.0)
    else:
        q_in = int8_q(rng) if dt == "i8" else (int16_scale(rng), 0)
        q_out = int8_q(rng) if dt == "i8" else (int16_scale(rng), 0)
        q_al = (float(rng.uniform(0.002, 0.02)), int(rng.integers(-50, 50)))
        x, y = w.tensor(shape, TT[dt], *q_in), w.tensor(shape, TT[dt], *q_out)
        al = w.tensor(ashape, "int8", *q_al, data=rng.integers(-128, 128, size=ashape))
        if dt == "i8":
            xs = [np.resize(all_int8(rng, [256]), 48).reshape(shape) for _ in range(6)]
        else:
            xs = int16_inputs(rng, shape)
    w.op("PRELU", [x, al], [y])
    single(w.build([x], [y]), tmp_path, xs)


# --- what TFLM rejects, upyflow rejects at bake time ---------------------------------------------
REJECTED = [
    ("LOGISTIC", "i8", (0.1, 0), (1 / 256, 0), {}),  # output zero point must be -128
    ("LOGISTIC", "i16", (0.001, 0), (2**-14, 0), {}),  # output scale must be 2^-15
    ("TANH", "i16", (0.001, 5), (2**-15, 0), {}),  # int16 zero points must be 0
    ("HARD_SWISH", "i8", (0.5, 0), (0.001, 0), {}),  # output scale < input scale / 128
    ("RELU", "i16", (0.001, 3), (0.001, 3), {}),
    ("ABS", "i16", (0.001, 3), (0.001, 0), {}),  # int16 zero points must be 0
    ("ABS", "i16", (0.001, 0), (0.002, -2), {}),
]


@pytest.mark.parametrize("case", REJECTED, ids=lambda c: "%s-%s" % c[:2])
def test_rejected_like_tflm(case, tmp_path):
    kind, dt, q_in, q_out, opts = case
    model = unary_model(kind, dt, [8], q_in, q_out, **opts)
    with pytest.raises(Exception):  # noqa: B017 (TFLM's error type is not ours to fix)
        run_tflm(model, [np.zeros([8], NP[dt])])
    with pytest.raises(BakeError, match=kind):
        bake_model(model, tmp_path)


# --- the seanet int16 models (../shared) ---------------------------------------------------
SEANET = SHARED / "tflm_integration" / "seanet"
SEANET_MODELS = sorted(
    Path(p).stem
    for p in glob.glob(str(SEANET / "leaky_relu" / "*.tflite")) + glob.glob(str(SEANET / "quantize" / "*.tflite"))
)


def seanet_case(stem: str):
    folder = SEANET / ("leaky_relu" if stem.startswith("leaky") else "quantize")
    inp = glob.glob(str(folder / (stem + "_input0_*.csv")))[0]
    golden = glob.glob(str(folder / (stem + "_golden_*.csv")))[0]
    in_dt = {"int16": np.int16, "int32": np.int32}[inp.rsplit("_", 1)[1][:-4]]
    x = np.loadtxt(inp, delimiter=",", dtype=np.int64).astype(in_dt)
    return folder / (stem + ".tflite"), x, np.loadtxt(golden, delimiter=",", dtype=np.int64)


@pytest.mark.skipif(not SEANET_MODELS, reason="../shared/tflm_integration/seanet is not present")
@pytest.mark.parametrize("stem", SEANET_MODELS)
def test_seanet(tier, stem, tmp_path):
    """Byte-identical with the TFLM interpreter. The goldens came from an older TFLM whose
    LEAKY_RELU multipliers were float32 ratios: leaky_relu3/11/18/19 differ from the
    interpreter by 1 LSB in 1-3 elements, so they are compared with the interpreter only."""
    path, x, golden = seanet_case(stem)
    mdir, name, _ = bake_model(path, tmp_path)
    m = load_cpython(mdir, name)
    x = x.reshape(m.input_shape[0])
    got = run_upyflow(m, [x])[0]
    np.testing.assert_array_equal(got, run_tflm(path.read_bytes(), [x])[0])
    if stem not in ("leaky_relu3", "leaky_relu11", "leaky_relu18", "leaky_relu19"):
        np.testing.assert_array_equal(got.reshape(-1), golden.reshape(-1))


# --- property test -------------------------------------------------------------------------
@pytest.mark.usefixtures("tier")
@settings(max_examples=HYPOTHESIS_EXAMPLES, deadline=None)
@given(
    kind=st.sampled_from(["RELU", "RELU6", "LEAKY_RELU", "HARD_SWISH", "LOGISTIC", "TANH"]),
    dt=st.sampled_from(["i8", "i16"]),
    in_scale=st.floats(1e-4, 0.5),
    in_zp=st.integers(-128, 127),
    out_scale=st.floats(1e-4, 0.5),
    out_zp=st.integers(-128, 127),
    alpha=st.floats(-3.0, 3.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_activation_property(kind, dt, in_scale, in_zp, out_scale, out_zp, alpha, seed, tmp_path_factory):
    rng = np.random.default_rng(seed)
    if dt == "i16":
        if kind == "HARD_SWISH":
            dt = "i8"
        else:
            in_scale, out_scale = in_scale / 100, out_scale / 100
            in_zp = out_zp = 0
    if kind == "HARD_SWISH":
        out_scale = max(out_scale, in_scale / 100)
    if kind in ("LOGISTIC", "TANH"):
        out_scale, out_zp = (2.0**-15, 0) if dt == "i16" else (1 / 256, -128)
    opts = {"alpha": float(np.float32(alpha))} if kind == "LEAKY_RELU" else {}
    model = unary_model(kind, dt, [256], (in_scale, in_zp), (out_scale, out_zp), **opts)
    xs = [all_int8(rng, [256])] if dt == "i8" else int16_inputs(rng, [256])[:2]
    single(model, tmp_path_factory.mktemp("prop"), xs)


# --- MicroPython unix port ---------------------------------------------------------------------
def _mpy_models(rng):
    yield "leaky_i8", unary_model("LEAKY_RELU", "i8", [256], (0.05, 3), (0.03, -7), alpha=0.2), [all_int8(rng, [256])]
    yield (
        "logistic_i16",
        unary_model("LOGISTIC", "i16", [512], (1 / 3000, 0), (2**-15, 0)),
        int16_inputs(rng, [512])[:2],
    )
    yield "tanh_i16", unary_model("TANH", "i16", [512], (2**-12, 0), (2**-15, 0)), int16_inputs(rng, [512])[:2]
    yield "abs_i16", unary_model("ABS", "i16", [512], (3e-4, 0), (1e-4, 0)), int16_inputs(rng, [512])[:3]
    yield (
        "softmax_i16",
        unary_model("SOFTMAX", "i16", [3, 20], (0.0003, 0), (1 / 32768, 0)),
        int16_inputs(rng, [3, 20])[:2],
    )
    w = ModelWriter()
    x, y = w.tensor([1, 4, 4, 3], "int8", 0.05, 2), w.tensor([1, 4, 4, 3], "int8", 0.04, -1)
    al = w.tensor([3], "int8", 0.01, 0, data=np.array([20, -40, 90]))
    w.op("PRELU", [x, al], [y])
    yield "prelu_i8", w.build([x], [y]), [np.resize(all_int8(rng, [256]), 48).reshape(1, 4, 4, 3)]


@pytest.mark.parametrize("mpy_tier", ["pure"], indirect=True)
def test_micropython_pure(mpy_tier, tmp_path):
    rng = rng_for("micropython")
    for name, model, xs in _mpy_models(rng):
        mdir, mod, _ = bake_model(model, tmp_path, name=name)
        outs, _ = run_batch(mdir, mod, [[x.tobytes()] for x in xs], env={"UPYFLOW_TIER": "pure"})
        for x, got in zip(xs, outs):
            want = run_tflm(model, [x])[0]
            np.testing.assert_array_equal(np.frombuffer(got[0], want.dtype).reshape(want.shape), want, err_msg=name)


# --- GELU (TFLM's interpreter here has no GELU kernel: independent float64 references) ----------
def _gelu64(x: np.ndarray, approximate: bool) -> np.ndarray:
    from math import erfc, exp, pi, sqrt

    def tanh_form(v):  # (1 + tanh(u)) / 2 as exp(2u) / (1 + exp(2u)) below 0: no cancellation
        u = sqrt(2 / pi) * (v + 0.044715 * v**3)
        return v / (1 + exp(-2 * u)) if u >= 0 else v * exp(2 * u) / (1 + exp(2 * u))

    f = tanh_form if approximate else (lambda v: 0.5 * v * erfc(-v / sqrt(2)))
    return np.vectorize(f)(x.astype(np.float64))


@pytest.mark.parametrize("approximate", [False, True])
def test_gelu_float32(approximate, tier, tmp_path):
    shape = [2, 3, 50]
    x = np.concatenate([np.linspace(-12, 12, 150), np.linspace(-1e-3, 1e-3, 150)]).astype(np.float32).reshape(shape)
    mdir, name, _ = bake_model(unary_model("GELU", "f32", shape, approximate=approximate), tmp_path)
    got = run_upyflow(load_cpython(mdir, name), [x])[0]
    np.testing.assert_allclose(got, _gelu64(x, approximate), rtol=1e-5, atol=1e-37)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("approximate", [False, True])
def test_gelu_int8_table(seed, approximate, tier, tmp_path):
    """All 256 inputs: within one output step of round(gelu(real input) / out_scale) + zp (the
    table TFLite builds from float32 arithmetic can round a tie the other way), mostly equal."""
    rng = rng_for("gelu%d%d" % (seed, approximate))
    q_in = int8_q(rng)
    q_out = (q_in[0] * float(rng.uniform(0.3, 1.2)), int(rng.integers(-128, 0)))
    mdir, name, _ = bake_model(unary_model("GELU", "i8", [256], q_in, q_out, approximate=approximate), tmp_path)
    x = np.arange(-128, 128, dtype=np.int8)
    got = run_upyflow(load_cpython(mdir, name), [x])[0].astype(np.int64)
    want = np.clip(
        np.floor(_gelu64(q_in[0] * (x.astype(np.float64) - q_in[1]), approximate) / q_out[0] + 0.5) + q_out[1],
        -128,
        127,
    )
    assert np.abs(got - want).max() <= 1 and np.mean(got == want) > 0.98


# --- L2_NORMALIZATION ---------------------------------------------------------------------------
L2_SHAPES = [[1, 8], [3, 5], [2, 3, 16], [1, 1], [2, 2, 2, 64]]


@pytest.mark.parametrize("dt", ["i8", "f32"])
@pytest.mark.parametrize("shape", L2_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_l2_normalization(dt, shape, tier, tmp_path):
    rng = rng_for("l2%s%s" % (dt, shape))
    q_in = int8_q(rng) if dt == "i8" else None
    q_out = (1.0 / 128, 0) if dt == "i8" else None
    model = unary_model("L2_NORMALIZATION", dt, shape, q_in, q_out)
    if dt == "i8":
        xs = [rng.integers(-128, 128, shape).astype(np.int8) for _ in range(3)] + [
            np.full(shape, v, np.int8) for v in (-128, 127, q_in[1])
        ]
    else:
        xs = float_inputs(rng, shape) + [np.full(shape, 1e-8, np.float32)]
    single(model, tmp_path, xs)


@pytest.mark.parametrize("dt", ["i8", "f32"])
def test_l2_normalization_isa(dt, isa_arch):
    rng = rng_for("l2isa" + dt)
    shape = [3, 16]
    q_in = int8_q(rng) if dt == "i8" else None
    model = unary_model("L2_NORMALIZATION", dt, shape, q_in, (1.0 / 128, 0) if dt == "i8" else None)
    xs = [rng.integers(-128, 128, shape).astype(np.int8)] if dt == "i8" else float_inputs(rng, shape)[:2]
    check_isa(model, [[x] for x in xs], isa_arch)


def test_gelu_isa(isa_arch):
    """GELU (float32 kernel) on the boards' ISAs against the float64 reference."""
    from upyflow_tools.bake import compile_model
    from upyflow_tools.isa import IsaModel, module_from_baked

    x = np.linspace(-8, 8, 64).astype(np.float32).reshape(1, 64)
    for approximate in (False, True):
        m = IsaModel(
            module_from_baked(
                compile_model("g.tflite", "m", data=unary_model("GELU", "f32", [1, 64], approximate=approximate)), "m"
            ),
            isa_arch,
            False,
        )
        got = np.frombuffer(m.invoke([x.tobytes()])[0], np.float32).reshape(x.shape)
        np.testing.assert_allclose(got, _gelu64(x, approximate), rtol=1e-5, atol=1e-37)


@pytest.mark.parametrize("mpy_tier", ["pure", "natmod"], indirect=True)
def test_l2_normalization_micropython(mpy_tier, tmp_path):
    from harness import run_micropython_cases

    baked = {}
    for k, shape in enumerate(L2_SHAPES):
        rng = rng_for("l2mpy%d" % k)
        model = unary_model("L2_NORMALIZATION", "i8", shape, int8_q(rng), (1.0 / 128, 0))
        sets = [[rng.integers(-128, 128, shape).astype(np.int8)] for _ in range(2)]
        bake_model(model, tmp_path, name="l2n%d" % k, mpy=True)
        baked["l2n%d" % k] = ("l2-%d" % k, sets, [run_tflm(model, s) for s in sets])
    run_micropython_cases(mpy_tier, str(tmp_path), baked)
