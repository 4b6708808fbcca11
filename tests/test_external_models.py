"""Real models made by other projects (../shared/models/external): those the TFLM interpreter
runs with the operators upyflow has bake and give TFLM's bytes; the rest fail with one line
that names every missing piece (with its hint)."""
from __future__ import annotations

import numpy as np
import pytest

import upyflow
from harness import assert_bit_exact, bake_model, load_cpython, random_input, shared
from upyflow_tools import BakeError
from upyflow_tools.bake import compile_model

NATIVE = upyflow.dispatch.available("native")
# model -> tiers to compare (pure only where it takes well under a second per invoke)
BAKES = {"tm_mbnet128_0.25_q": ("native",), "tm_vww96_q": ("native",), "tm_cifar10_q": ("native",),
         "tm_mnist_resnet_q": ("native", "pure"), "tm_mnist_resnet_f": ("native",),
         "tm_mnist_valid_q": ("native", "pure"), "eml_mnist_cnn_int8": ("native", "pure"),
         "eml_mnist_cnn_fp32": ("native", "pure"), "tflm_magic_wand": ("native", "pure")}
CASES = [(m, t) for m, tiers in BAKES.items() for t in tiers if t != "native" or NATIVE]


@pytest.mark.parametrize("model,tier", CASES)
def test_external_model_matches_tflm(model, tier, tmp_path):
    path = shared("models/external/%s.tflite" % model)
    mdir, name, result = bake_model(path, tmp_path)
    if model == "tm_mbnet128_0.25_q":   # Flatten at a dynamic batch: folded, not run
        assert "folded at bake time: PACK, SHAPE, STRIDED_SLICE" in result.graph.notes
    m = load_cpython(mdir, name, tier)
    rng = np.random.default_rng(11)
    for _ in range(2):
        xs = [random_input(rng, d, s) for d, s in zip(m.input_dtype, m.input_shape)]
        assert_bit_exact(path.read_bytes(), m, xs)


@pytest.mark.parametrize("model,parts", [
    ("audio_preprocessor_float", ["CUSTOM(SignalFilterBank)", "UINT32 tensors"]),
])
def test_external_model_error_names_everything(model, parts):
    path = shared("models/external/%s.tflite" % model)
    with pytest.raises(BakeError) as e:
        compile_model(str(path))
    msg = str(e.value)
    assert "\n" not in msg and msg.endswith(", ".join(upyflow_ops()))
    for part in parts:
        assert part in msg, (part, msg)


def upyflow_ops() -> list[str]:
    from upyflow_tools.lower import supported_ops
    return supported_ops()
