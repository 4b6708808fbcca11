"""SVDF (int8 input with int16 or int8 state, float32): generated single-op models against the
TFLM interpreter on every kernel tier.

The state tensor persists across invoke() in upyflow as in TFLM, so every comparison runs a
sequence of invokes on one upyflow Model and one TFLM interpreter and compares after each
invoke; reset() is compared against TFLM's reset(). Cases use a fixed seed per case id
(shared with test_lstm.py's); nothing here hard-codes an expected output. The shared models
built on SVDF: test_sequence.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness import (
    assert_same,
    bake_model,
    compare_sequence,
    load_cpython,
    random_input,
    run_micropython_cases,
    run_upyflow,
    seeded_rng,
    tflm_sequence,
)
from tflite_writer import ModelWriter
from upyflow_tools import BakeError
from upyflow_tools.tflm import interpreter

SEED = 0x5E0


def case_rng(case_id: str) -> np.random.Generator:
    return seeded_rng(SEED, case_id)


# --- generated SVDF ----------------------------------------------------------------------
def svdf_model(
    rng, kind: str, batch: int, n_in: int, n_unit: int, rank: int, mem: int, act: str, bias: bool = True
) -> bytes:
    """kind: 's16' (int8, int16 time weights and state), 's8' (int8 state), 'f32'."""
    w = ModelWriter()
    n_filter = n_unit * rank
    if kind == "f32":
        x = w.tensor([batch, n_in], "float32")
        wf = w.tensor([n_filter, n_in], "float32", data=rng.normal(size=(n_filter, n_in)) / np.sqrt(n_in))
        wt = w.tensor([n_filter, mem], "float32", data=rng.normal(size=(n_filter, mem)) / np.sqrt(mem))
        b = w.tensor([n_unit], "float32", data=rng.normal(size=n_unit)) if bias else -1
        state = w.tensor([batch, n_filter * mem], "float32", variable=True)
        out = w.tensor([batch, n_unit], "float32")
    else:
        sdt = "int16" if kind == "s16" else "int8"
        smax = 32767 if kind == "s16" else 127
        in_sc, in_zp = float(rng.uniform(0.005, 0.05)), int(rng.integers(-60, 60))
        x = w.tensor([batch, n_in], "int8", in_sc, in_zp)
        wf_sc = float(rng.uniform(0.002, 0.02))
        wf = w.tensor([n_filter, n_in], "int8", wf_sc, 0, data=rng.integers(-127, 128, size=(n_filter, n_in)))
        # state scale: the feature activations (~ in * wf * 128 * sqrt(n_in)) fill part of the range
        feat = in_sc * wf_sc * 128 * 40 * np.sqrt(n_in)
        st_sc = float(feat / smax * rng.uniform(1.0, 4.0))
        st_zp = 0 if kind == "s16" else int(rng.integers(-20, 20))
        wt_sc = float(rng.uniform(0.002, 0.02)) * (256.0 if kind == "s16" else 1.0) / 256.0
        wt = w.tensor([n_filter, mem], sdt, wt_sc, 0, data=rng.integers(-smax, smax + 1, size=(n_filter, mem)))
        # bias scale must be state * time-weight scale (TFLM checks it)
        b_sc = float(np.float32(st_sc) * np.float32(wt_sc))
        b = w.tensor([n_unit], "int32", b_sc, 0, data=rng.integers(-3000, 3000, size=n_unit))
        state = w.tensor([batch, n_filter * mem], sdt, st_sc, st_zp, variable=True)
        # output ~ +-60 for typical sums of mem * rank products of state and time weights
        acc = smax * smax * 0.15 * np.sqrt(mem * rank)
        out = w.tensor(
            [batch, n_unit], "int8", float(st_sc * wt_sc * acc / 60 * rng.uniform(0.3, 1.5)), int(rng.integers(-30, 30))
        )
    w.op("SVDF", [x, wf, wt, b, state], [out], rank=rank, fused_activation_function=act)
    return w.build([x], [out])


def _svdf_cases():
    rng = np.random.default_rng(SEED)
    cases = []
    for kind, count in (("s16", 14), ("s8", 10), ("f32", 8)):
        for k in range(count):
            cases.append(
                (
                    kind,
                    int(rng.integers(1, 3)),
                    int(rng.integers(1, 40)),
                    int(rng.integers(1, 12)),
                    int(rng.integers(1, 4)),
                    int(rng.integers(1, 10)),
                    ("NONE", "RELU", "RELU6")[k % 3],
                    True,
                )
            )
    # (always with a bias: TFLM's prepare crashes without one)
    return cases


SVDF_CASES = _svdf_cases()


@pytest.mark.parametrize("case", SVDF_CASES, ids=lambda c: "%s-b%d-i%d-u%d-r%d-m%d-%s-%s" % c)
def test_svdf_generated(case, tier, tmp_path):
    case_id = "svdf-%s-b%d-i%d-u%d-r%d-m%d-%s-%s" % case
    rng = case_rng(case_id)
    kind, batch, n_in, n_unit, rank, mem, act, bias = case
    model = svdf_model(rng, kind, batch, n_in, n_unit, rank, mem, act, bias)
    mdir, name, _ = bake_model(model, tmp_path)
    m = load_cpython(mdir, name, tier)
    dt = "f32" if kind == "f32" else "i8"
    seq = [[random_input(rng, dt, (batch, n_in))] for _ in range(mem + 4)]
    compare_sequence(model, m, seq)


def test_reset_matches_tflm_mid_sequence(tmp_path):
    """reset() in the middle of a sequence: the next invokes equal a fresh interpreter's."""
    rng = case_rng("reset-mid")
    model = svdf_model(rng, "s8", 1, 12, 5, 2, 6, "NONE")
    mdir, name, _ = bake_model(model, tmp_path)
    m = load_cpython(mdir, name)
    seq = [[random_input(rng, "i8", (1, 12))] for _ in range(10)]
    for ins in seq[:7]:
        run_upyflow(m, ins)
    m.reset()
    fresh = interpreter(model)
    for k, ins in enumerate(seq[7:]):
        fresh.set_input(ins[0], 0)
        fresh.invoke()
        assert_same(run_upyflow(m, ins), [np.array(fresh.get_output(0))], "invoke %d after reset" % k)


def test_variable_tensor_errors(tmp_path):
    """An SVDF whose state is not a variable tensor is rejected with a one-line error."""
    rng = case_rng("novar")
    w = ModelWriter()
    x = w.tensor([1, 4], "int8", 0.02, 0)
    wf = w.tensor([2, 4], "int8", 0.01, 0, data=rng.integers(-127, 128, size=(2, 4)))
    wt = w.tensor([2, 3], "int16", 0.0001, 0, data=rng.integers(-999, 999, size=(2, 3)))
    b = w.tensor([2], "int32", 1e-8, 0, data=np.zeros(2))
    state = w.tensor([1, 6], "int16", 0.001, 0)  # not marked variable
    out = w.tensor([1, 2], "int8", 0.05, 0)
    w.op("SVDF", [x, wf, wt, b, state], [out])
    with pytest.raises(BakeError, match="variable tensor"):
        bake_model(w.build([x], [out]), tmp_path)


# --- MicroPython: the int8 cases on viper (x64; 32-bit with MICROPYTHON32) -----------------------
@pytest.fixture(scope="module")
def svdf_baked(tmp_path_factory):
    outdir = tmp_path_factory.mktemp("viper_svdf")
    cases = {}
    for k, case in enumerate(c for c in SVDF_CASES if c[0] != "f32"):
        cid = "svdf-%s-b%d-i%d-u%d-r%d-m%d-%s-%s" % case
        rng = case_rng(cid)
        kind, batch, n_in, n_unit, rank, mem, act, bias = case
        model = svdf_model(rng, kind, batch, n_in, n_unit, rank, mem, act, bias)
        sets = [[random_input(rng, "i8", (batch, n_in))] for _ in range(mem + 4)]
        name = "vs%d" % k
        bake_model(model, outdir, name=name)
        cases[name] = (cid, sets, tflm_sequence(model, sets))
    return str(outdir), cases


@pytest.mark.parametrize("mpy_tier", ["viper", "viper32"], indirect=True)
def test_generated_micropython(svdf_baked, mpy_tier):
    """The int8 SVDF cases (int16 and int8 state) on the viper tier: a sequence of invokes each,
    byte-identical with TFLM after every invoke."""
    run_micropython_cases(mpy_tier, *svdf_baked, step="invoke", show=3)
