"""Stateful sequence layers (SVDF, UNIDIRECTIONAL_SEQUENCE_LSTM) and the models built on them.

Their state tensors persist across invoke() in upyflow as in TFLM, so every comparison runs a
sequence of invokes on one upyflow Model and one TFLM interpreter and compares after each
invoke; reset() is compared against TFLM's reset(). Generated single-op cases use a fixed seed
per case id; nothing here hard-codes an expected output.
"""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest

import upyflow
from harness import bake_model, load_cpython, random_input, run_upyflow, shared
from tflite_writer import ModelWriter
from upyflow_tools import BakeError
from upyflow_tools.readers.tflite import read_tflite
from upyflow_tools.tflm import interpreter
from upyflow_tools.unixport import micropython_exe, run_batch

SEED = 0x5E0
CPYTHON_TIERS = [t for t in ("pure", "native") if upyflow.dispatch.available(t)]


def case_rng(case_id: str) -> np.random.Generator:
    return np.random.default_rng([SEED, zlib.crc32(case_id.encode())])


def bake_or_skip(model, outdir: Path, name: str | None = None, mpy: bool = False):
    """Bake; skip (naming the operator) while another op of a shared model is still missing."""
    try:
        return bake_model(model, outdir, name=name, mpy=mpy)
    except BakeError as e:
        if "unsupported operator" in str(e):
            pytest.skip(str(e).split(";")[0])
        raise


def load_or_skip(mdir: str, name: str, tier: str) -> upyflow.Model:
    try:
        return load_cpython(mdir, name, tier)
    except ValueError as e:   # a kernel another helper has lowered but not yet registered
        if "lacks" in str(e):
            pytest.skip(str(e))
        raise


def tflm_outputs(interp, n_out: int) -> list[np.ndarray]:
    return [np.array(interp.get_output(i)) for i in range(n_out)]


def assert_same(got: list[np.ndarray], want: list[np.ndarray], what: str) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == tuple(w.shape), what
        if w.dtype == np.float32:
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5, err_msg=what)
        else:
            np.testing.assert_array_equal(g, w, err_msg=what)


def compare_sequence(model_bytes: bytes, m: upyflow.Model, seq: list[list[np.ndarray]],
                     replay: int = 3) -> None:
    """Invoke both on seq, compare after every invoke; then reset both and replay a few."""
    interp = interpreter(model_bytes)
    n_out = len(m.output_shape)

    def step(k: int, ins: list[np.ndarray], what: str) -> None:
        for i, x in enumerate(ins):
            interp.set_input(x, i)
        interp.invoke()
        assert_same(run_upyflow(m, ins), tflm_outputs(interp, n_out), "%s %d differs from TFLM" % (what, k))

    for k, ins in enumerate(seq):
        step(k, ins, "invoke")
    m.reset()
    interp.reset()
    for k, ins in enumerate(seq[:replay]):
        step(k, ins, "after reset(), invoke")


# --- generated SVDF ----------------------------------------------------------------------
def svdf_model(rng, kind: str, batch: int, n_in: int, n_unit: int, rank: int, mem: int,
               act: str, bias: bool = True) -> bytes:
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
        wf = w.tensor([n_filter, n_in], "int8", wf_sc, 0,
                      data=rng.integers(-127, 128, size=(n_filter, n_in)))
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
        out = w.tensor([batch, n_unit], "int8", float(st_sc * wt_sc * acc / 60 * rng.uniform(0.3, 1.5)),
                       int(rng.integers(-30, 30)))
    w.op("SVDF", [x, wf, wt, b, state], [out], rank=rank, fused_activation_function=act)
    return w.build([x], [out])


def _svdf_cases():
    rng = np.random.default_rng(SEED)
    cases = []
    for kind, count in (("s16", 14), ("s8", 10), ("f32", 8)):
        for k in range(count):
            cases.append((kind, int(rng.integers(1, 3)), int(rng.integers(1, 40)), int(rng.integers(1, 12)),
                          int(rng.integers(1, 4)), int(rng.integers(1, 10)),
                          ("NONE", "RELU", "RELU6")[k % 3], True))
    # (always with a bias: TFLM's prepare crashes without one)
    return cases


SVDF_CASES = _svdf_cases()


@pytest.mark.parametrize("tier", CPYTHON_TIERS)
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


# --- generated UNIDIRECTIONAL_SEQUENCE_LSTM -------------------------------------------------
def lstm_model(rng, batch: int, steps: int, n_in: int, n: int, time_major: bool, cell_scale: float,
               clip: float, act: str, h_zp: int) -> bytes:
    """An int8 LSTM (int16 cell) with random per-tensor weights; all four gates."""
    w = ModelWriter()
    in_sc, in_zp = float(rng.uniform(0.004, 0.03)), int(rng.integers(-128, 60))
    shape = [steps, batch, n_in] if time_major else [batch, steps, n_in]
    x = w.tensor(shape, "int8", in_sc, in_zp)
    h_sc = float(rng.uniform(0.004, 0.01))
    ins = [x]
    w_scales = {}
    for kind, cols, xs in (("in", n_in, in_sc), ("rec", n, h_sc)):
        for g in "ifgo":
            # gate pre-activations of a few units (Q3.12 saturates at +-8)
            sc = float(6.0 / (127 * 128 * xs * np.sqrt(cols)) * rng.uniform(0.5, 2.0))
            w_scales[kind + g] = sc
            ins.append(w.tensor([n, cols], "int8", sc, 0, data=rng.integers(-127, 128, size=(n, cols))))
    ins += [-1, -1, -1]
    for g in "ifgo":
        bs = float(np.float32(in_sc) * np.float32(w_scales["in" + g]))
        ins.append(w.tensor([n], "int32", bs, 0, data=rng.integers(-1, 2) * rng.integers(0, int(2.0 / bs), size=n)))
    ins += [-1, -1]
    hidden = w.tensor([batch, n], "int8", h_sc, h_zp, variable=True)
    cell = w.tensor([batch, n], "int16", cell_scale, 0, variable=True)
    ins += [hidden, cell, -1, -1, -1, -1]
    out_shape = shape[:2] + [n]
    out = w.tensor(out_shape, "int8", h_sc, h_zp)
    w.op("UNIDIRECTIONAL_SEQUENCE_LSTM", ins, [out], fused_activation_function=act, cell_clip=clip,
         time_major=time_major)
    return w.build([x], [out])


def _lstm_cases():
    rng = np.random.default_rng(SEED + 1)
    cases = []
    for k in range(24):
        cases.append((int(rng.integers(1, 3)), int(rng.integers(1, 5)), int(rng.integers(1, 24)),
                      int(rng.integers(1, 16)), bool(k % 4 == 3),
                      # cell scale: a power of two as converters make it, sometimes not
                      2.0 ** int(rng.integers(-13, -9)) * (1.0 if k % 5 else 1.3),
                      (0.0, 3.0, 10.0)[k % 3], "TANH",
                      int(rng.integers(-20, 20))))
    return cases


LSTM_CASES = _lstm_cases()


def _lstm_id(c):
    return "b%d-t%d-i%d-n%d-tm%d-cs%g-clip%g-%s-zp%d" % c


@pytest.mark.parametrize("tier", CPYTHON_TIERS)
@pytest.mark.parametrize("case", LSTM_CASES, ids=_lstm_id)
def test_lstm_generated(case, tier, tmp_path):
    rng = case_rng("lstm-" + _lstm_id(case))
    batch, steps, n_in, n, time_major = case[:5]
    model = lstm_model(rng, *case)
    mdir, name, _ = bake_model(model, tmp_path)
    m = load_cpython(mdir, name, tier)
    shape = (steps, batch, n_in) if time_major else (batch, steps, n_in)
    seq = [[random_input(rng, "i8", shape)] for _ in range(6)]
    compare_sequence(model, m, seq)


def lstm_layer_of(model: str, layer: int = 0) -> bytes:
    """The shared model's LSTM layer alone (its weights and quantization), as its own model:
    the layer's int8 output is compared directly, not through a saturating softmax."""
    g = read_tflite(shared("models/%s.tflite" % model).read_bytes())
    op = [o for o in g.ops if o.kind == "UNIDIRECTIONAL_SEQUENCE_LSTM"][layer]
    w = ModelWriter()
    dt = {"i8": "int8", "i16": "int16", "i32": "int32"}
    ids = []
    for _k, t in enumerate(op.inputs + op.outputs):
        if t < 0:
            ids.append(-1)
            continue
        ten = g.tensors[t]
        ids.append(w.tensor(list(ten.shape), dt[ten.dtype], ten.scale or None, ten.zero_point or None,
                            data=ten.data, variable=ten.variable))
    opts = {k: op.options[k] for k in ("fused_activation_function", "cell_clip", "proj_clip", "time_major")}
    w.op("UNIDIRECTIONAL_SEQUENCE_LSTM", ids[:24], [ids[24]], **opts)
    return w.build([ids[0]], [ids[24]])


@pytest.mark.parametrize("tier", CPYTHON_TIERS)
@pytest.mark.parametrize("model,layer", [("trained_lstm_int8", 0), ("micro_speech_lstm", 0),
                                         ("dtln_noise_suppression", 0), ("dtln_noise_suppression", 1)])
def test_lstm_layer_of_shared_model(model, layer, tier, tmp_path):
    data = lstm_layer_of(model, layer)
    mdir, name, _ = bake_model(data, tmp_path)
    m = load_cpython(mdir, name, tier)
    rng = np.random.default_rng(99)
    count = 2 if model == "micro_speech_lstm" and tier == "pure" else 8   # 49 steps: slow in pure
    seq = [[random_input(rng, "i8", m.input_shape[0])] for _ in range(count)]
    compare_sequence(data, m, seq, replay=1)


# --- the shared models ---------------------------------------------------------------------
SHARED_MODELS = ["keyword_scrambled", "keyword_scrambled_8bit", "trained_lstm_int8", "micro_speech_lstm",
                 "dtln_noise_suppression"]
SEEDED = 20


@pytest.fixture(scope="module")
def baked(tmp_path_factory):
    cache = {}

    def get(model: str):
        if model not in cache:
            path = shared("models/%s.tflite" % model)
            outdir = tmp_path_factory.mktemp(model)
            try:
                mdir, name, _ = bake_model(path, outdir, name=model, mpy=False)
                cache[model] = (path.read_bytes(), mdir, name, None)
            except BakeError as e:
                cache[model] = (None, None, None, str(e))
        data, mdir, name, err = cache[model]
        if err is not None:
            if "unsupported operator" in err:
                pytest.skip(err.split(";")[0])
            raise BakeError(err)
        return data, mdir, name
    return get


def seeded(m: upyflow.Model, count: int, seed: int = 1234) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [[random_input(rng, m.input_dtype[i], m.input_shape[i]) for i in range(len(m.input_shape))]
            for _ in range(count)]


@pytest.mark.parametrize("tier", CPYTHON_TIERS)
@pytest.mark.parametrize("model", SHARED_MODELS)
def test_shared_model_sequence(baked, model, tier):
    """20 consecutive invokes from a fresh model (state carried over), compared after each;
    then reset() on both sides and the start of the sequence again."""
    data, mdir, name = baked(model)
    m = load_or_skip(mdir, name, tier)
    assert m.tier == tier
    compare_sequence(data, m, seeded(m, SEEDED))


@pytest.mark.parametrize("model", SHARED_MODELS)
def test_state_is_planned_apart(baked, model):
    """Variable tensors own their arena bytes for the whole run; reset() restores them."""
    data, mdir, name = baked(model)
    g = read_tflite(data)
    n_var = sum(t.variable for t in g.tensors)
    mod = load_or_skip(mdir, name, CPYTHON_TIERS[-1])
    assert len(mod._variables) == 3 * n_var
    fresh = bytes(mod._arena)
    for ins in seeded(mod, 2):
        run_upyflow(mod, ins)
    mod.reset()
    after = bytes(mod._arena)
    for k in range(0, len(mod._variables), 3):
        tid = mod._variables[k] | (mod._variables[k + 1] << 8)
        _w, off, nbytes = mod._meta(tid)[:3]
        assert after[off:off + nbytes] == fresh[off:off + nbytes]


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
        assert_same(run_upyflow(m, ins), tflm_outputs(fresh, 1), "invoke %d after reset" % k)


def test_variable_tensor_errors(tmp_path):
    """An SVDF whose state is not a variable tensor is rejected with a one-line error."""
    rng = case_rng("novar")
    w = ModelWriter()
    x = w.tensor([1, 4], "int8", 0.02, 0)
    wf = w.tensor([2, 4], "int8", 0.01, 0, data=rng.integers(-127, 128, size=(2, 4)))
    wt = w.tensor([2, 3], "int16", 0.0001, 0, data=rng.integers(-999, 999, size=(2, 3)))
    b = w.tensor([2], "int32", 1e-8, 0, data=np.zeros(2))
    state = w.tensor([1, 6], "int16", 0.001, 0)     # not marked variable
    out = w.tensor([1, 2], "int8", 0.05, 0)
    w.op("SVDF", [x, wf, wt, b, state], [out])
    with pytest.raises(BakeError, match="variable tensor"):
        bake_model(w.build([x], [out]), tmp_path)


# --- MicroPython: state across invokes in one process ----------------------------------------
needs_micropython = pytest.mark.skipif(micropython_exe() is None,
                                       reason="MicroPython unix port not installed")


def _micropython_sequence(baked, model: str, tier: str, natmod: str | None = None) -> None:
    data, mdir, name = baked(model)
    m = load_or_skip(mdir, name, "pure")
    seq = seeded(m, 8)
    outs, _ = run_batch(mdir, name, [[x.tobytes() for x in group] for group in seq],
                        env={"UPYFLOW_TIER": tier}, heapsize="2M" if natmod else "190K",
                        extra_paths=[natmod] if natmod else None)
    interp = interpreter(data)
    assert len(outs) == len(seq)
    for k, (group, got) in enumerate(zip(seq, outs)):
        interp.set_input(group[0], 0)
        interp.invoke()
        want = np.array(interp.get_output(0))
        np.testing.assert_array_equal(np.frombuffer(got[0], want.dtype).reshape(want.shape), want,
                                      err_msg="invoke %d" % k)


@needs_micropython
@pytest.mark.parametrize("tier", ["pure", "viper"])
@pytest.mark.parametrize("model", ["keyword_scrambled", "trained_lstm_int8"])
def test_micropython_sequence(baked, model, tier):
    _micropython_sequence(baked, model, tier)


@needs_micropython
@pytest.mark.parametrize("model", SHARED_MODELS)
def test_natmod_sequence(baked, model, natmod_dir):
    """The x64 natmod (svdf.c, lstm.c) under the unix port (shipped, or built with MPY_DIR)."""
    _micropython_sequence(baked, model, "native", natmod_dir)
