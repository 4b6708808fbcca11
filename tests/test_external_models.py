"""Real models made by other projects (../shared/models/external) bake and give TFLM's bytes
(float32: within 1e-5 relative) on the pure and native CPython tiers and under the MicroPython
unix port on the viper tier and the natmod. (The microWakeWord streaming models are tested on
every tier in test_variables.py, the float LSTM in test_lstm.py; the float audio front end on
CPython in test_signal.py, under MicroPython here.)"""

from __future__ import annotations

import wave

import numpy as np
import pytest

import upyflow
from harness import (
    assert_bit_exact,
    bake_model,
    load_cpython,
    random_input,
    run_micropython,
    shared,
    tflm_outputs,
    tflm_sequence,
)

NATIVE = upyflow.dispatch.available("native")
# the single-shot models (the largest takes ~1.4 s per invoke on the pure tier)
MODELS = (
    "tm_mbnet128_0.25_q",
    "tm_vww96_q",
    "tm_cifar10_q",
    "tm_mnist_resnet_q",
    "tm_mnist_resnet_f",
    "tm_mnist_valid_q",
    "eml_mnist_cnn_int8",
    "eml_mnist_cnn_fp32",
    "tflm_magic_wand",
)
CASES = [(m, t) for m in MODELS for t in ("native", "pure") if t != "native" or NATIVE]


def assert_close_or_equal(got: np.ndarray, want: np.ndarray, what: str) -> None:
    """int outputs byte-identical, float32 within 1e-5 relative."""
    assert got.dtype == want.dtype and got.shape == want.shape, what
    if want.dtype == np.float32:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


def input_sets(rng: np.random.Generator, m: upyflow.Model) -> list[list[np.ndarray]]:
    """Two input sets: uniform noise, then faint sparse strokes on a blank background (a fifth
    of the elements within 100 steps of the lowest int, or uniform floats; the rest at the
    lowest int / 0.0): noise alone saturates the MNIST models' int8 outputs to a one-hot."""
    sets = [[random_input(rng, d, s) for d, s in zip(m.input_dtype, m.input_shape)] for _ in range(2)]
    for i, x in enumerate(sets[1]):
        low = np.iinfo(x.dtype).min if x.dtype != np.float32 else 0.0
        if x.dtype != np.float32:
            x = low + rng.integers(0, 100, size=x.shape)
        sets[1][i] = np.where(rng.random(x.shape) < 0.2, x, low).astype(sets[0][i].dtype)
    return sets


@pytest.mark.parametrize("model,tier", CASES)
def test_external_model_matches_tflm(model, tier, tmp_path):
    path = shared("models/external/%s.tflite" % model)
    mdir, name, result = bake_model(path, tmp_path)
    if model == "tm_mbnet128_0.25_q":  # Flatten at a dynamic batch: folded, not run
        assert "folded at bake time: PACK, SHAPE, STRIDED_SLICE" in result.graph.notes
    m = load_cpython(mdir, name, tier)
    for xs in input_sets(np.random.default_rng(11), m):
        assert_bit_exact(path.read_bytes(), m, xs)


# --- MicroPython: every model in one process per tier ---------------------------------------------
FRONT_END = "audio_preprocessor_float"
WINDOW, HOP, WINDOWS = 480, 320, 49


def clip_windows(clip: str) -> list[list[np.ndarray]]:
    """The 30 ms windows (10 ms hop) of a 1 s test clip, as (1, 480) int16 input sets."""
    with wave.open(str(shared("testdata/%s_1000ms.wav" % clip))) as w:
        samples = np.frombuffer(w.readframes(w.getnframes()), np.int16)
    return [[samples[i * HOP : i * HOP + WINDOW].reshape(1, WINDOW)] for i in range(WINDOWS)]


@pytest.fixture(scope="module")
def baked_external(tmp_path_factory):
    """All the models baked into one folder: (folder, {module name: (input sets, TFLM outputs)}).
    input_sets for each single-shot model; the float front end (stateful: its noise estimate)
    on every window of one clip, TFLM's one interpreter carrying its state the same way."""
    outdir = tmp_path_factory.mktemp("external_mpy")
    cases = {}
    for model in MODELS:
        path = shared("models/external/%s.tflite" % model)
        name = model.replace(".", "")  # a module name
        mdir, _, _ = bake_model(path, outdir, name=name)
        m = load_cpython(mdir, name)
        sets = input_sets(np.random.default_rng(11), m)
        cases[name] = (sets, tflm_outputs(path.read_bytes(), sets))
    path = shared("models/external/%s.tflite" % FRONT_END)
    bake_model(path, outdir, name=FRONT_END)
    sets = clip_windows("yes")
    cases[FRONT_END] = (sets, tflm_sequence(path.read_bytes(), sets))
    return str(outdir), cases


@pytest.mark.parametrize("mpy_tier", ["viper", "natmod"], indirect=True)
def test_external_models_micropython(baked_external, mpy_tier):
    """The nine single-shot models and audio_preprocessor_float (49 windows on one Model) in one
    MicroPython process: TFLM's bytes, float32 within 1e-5 relative. A 4M heap (importing
    tm_mbnet128_0.25_q's 1.8 MB .py source fails at 1M): this checks outputs, not RAM."""
    mdir, cases = baked_external
    got, _ = run_micropython(
        mpy_tier,
        mdir,
        [(n, sets) for n, (sets, _) in cases.items()],
        {n: [w.nbytes for w in want[0]] for n, (_, want) in cases.items()},
        heapsize="4M",
    )
    for name, (_, want) in cases.items():
        assert len(got[name]) == len(want)
        for k, (g_outs, w_outs) in enumerate(zip(got[name], want)):
            for g, w in zip(g_outs, w_outs):
                what = "%s, input set %d on MicroPython %s" % (name, k, mpy_tier.name)
                assert_close_or_equal(np.frombuffer(g, w.dtype).reshape(w.shape), w, what)
