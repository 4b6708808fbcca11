"""Real models made by other projects (../shared/models/external) bake and give TFLM's bytes.
(All 13 bake: the microWakeWord streaming models are tested in test_variables.py, the float
LSTM in test_lstm.py, the float audio front end in test_signal.py.)"""

from __future__ import annotations

import numpy as np
import pytest

import upyflow
from harness import assert_bit_exact, bake_model, load_cpython, random_input, shared

NATIVE = upyflow.dispatch.available("native")
# model -> tiers to compare (pure only where it takes well under a second per invoke)
BAKES = {
    "tm_mbnet128_0.25_q": ("native",),
    "tm_vww96_q": ("native",),
    "tm_cifar10_q": ("native",),
    "tm_mnist_resnet_q": ("native", "pure"),
    "tm_mnist_resnet_f": ("native",),
    "tm_mnist_valid_q": ("native", "pure"),
    "eml_mnist_cnn_int8": ("native", "pure"),
    "eml_mnist_cnn_fp32": ("native", "pure"),
    "tflm_magic_wand": ("native", "pure"),
}
CASES = [(m, t) for m, tiers in BAKES.items() for t in tiers if t != "native" or NATIVE]


@pytest.mark.parametrize("model,tier", CASES)
def test_external_model_matches_tflm(model, tier, tmp_path):
    path = shared("models/external/%s.tflite" % model)
    mdir, name, result = bake_model(path, tmp_path)
    if model == "tm_mbnet128_0.25_q":  # Flatten at a dynamic batch: folded, not run
        assert "folded at bake time: PACK, SHAPE, STRIDED_SLICE" in result.graph.notes
    m = load_cpython(mdir, name, tier)
    rng = np.random.default_rng(11)
    for _ in range(2):
        xs = [random_input(rng, d, s) for d, s in zip(m.input_dtype, m.input_shape)]
        assert_bit_exact(path.read_bytes(), m, xs)
