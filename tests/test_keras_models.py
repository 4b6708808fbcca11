"""Keras models as a new user exports them (tests/models/make_keras_cnn.py made the files):
a CNN at Keras' dynamic batch (Flatten -> SHAPE/STRIDED_SLICE/PACK/RESHAPE, folded at bake
time), the same with uint8 input/output, and with float16 weights. Every tier must give the
TFLM interpreter's bytes (float: within 1e-5 relative)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import upyflow
from harness import assert_bit_exact, bake_model, load_cpython, random_input, run_tflm, run_upyflow
from upyflow_tools.unixport import run_batch

MODELS = Path(__file__).resolve().parent / "models"
CPYTHON_TIERS = [t for t in ("pure", "native") if upyflow.dispatch.available(t)]


@pytest.fixture(scope="module")
def baked(tmp_path_factory):
    cache = {}

    def get(model: str):
        if model not in cache:
            path = MODELS / (model + ".tflite")
            mdir, name, result = bake_model(path, tmp_path_factory.mktemp(model), name=model)
            cache[model] = (path.read_bytes(), mdir, name, result)
        return cache[model]

    return get


def inputs_for(m, count: int, seed: int = 7) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    if m.input_dtype[0] == "f32":
        return [[random_input(rng, "f32", m.input_shape[0], 0.0, 1.0)] for _ in range(count)]
    return [[random_input(rng, m.input_dtype[0], m.input_shape[0])] for _ in range(count)]


def test_dynamic_batch_cnn_bakes_with_no_flag(baked):
    _, _, _, result = baked("keras_cnn_int8")
    kinds = {result.graph.ops[c.op_index].kind for c in result.calls}
    assert not kinds & {"SHAPE", "STRIDED_SLICE", "PACK"}  # folded, not run on the board
    notes = " ".join(result.graph.notes)
    assert "dynamic batch dimension set to 1" in notes and "SHAPE" in notes and "PACK" in notes


@pytest.mark.parametrize("model", ["keras_cnn_int8", "keras_cnn_uint8", "keras_upsample_int8", "keras_upsample_f32"])
def test_keras_models_match_tflm(baked, model, tier):
    data, mdir, name, _ = baked(model)
    m = load_cpython(mdir, name, tier)
    io = {"int8": "i8", "uint8": "u8", "f32": "f32"}[model.split("_")[-1]]
    assert m.input_dtype[0] == m.output_dtype[0] == io
    for group in inputs_for(m, 12):
        assert_bit_exact(data, m, group)


def test_uint8_io_extremes(baked):
    """Every uint8 byte value through QUANTIZE uint8 -> int8 (the input ramps 0..255)."""
    data, mdir, name, _ = baked("keras_cnn_uint8")
    for tier in CPYTHON_TIERS:
        m = load_cpython(mdir, name, tier)
        ramp = (np.arange(256) % 256).astype(np.uint8).reshape(m.input_shape[0])
        for x in (ramp, ramp[..., ::-1].copy(), np.zeros_like(ramp), np.full_like(ramp, 255)):
            assert_bit_exact(data, m, [x])


def test_fp16_weights_match_float_reference(baked, tier):
    """TFLM cannot run DEQUANTIZE float16; its oracle is the same model converted with the
    weights rounded through float16 (keras_cnn_fp16_ref.tflite, float32 weights)."""
    _, mdir, name, result = baked("keras_cnn_fp16")
    assert "DEQUANTIZE" in " ".join(result.graph.notes)  # folded into float32 weights
    ref = (MODELS / "keras_cnn_fp16_ref.tflite").read_bytes()
    m = load_cpython(mdir, name, tier)
    for group in inputs_for(m, 8):
        want, got = run_tflm(ref, group)[0], run_upyflow(m, group)[0]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mpy_tier", ["pure", "viper", "natmod"], indirect=True)
@pytest.mark.parametrize(
    "model", ["keras_cnn_int8", "keras_cnn_uint8", "keras_cnn_fp16", "keras_upsample_int8", "keras_upsample_f32"]
)
def test_keras_cnn_micropython(baked, model, mpy_tier):
    data, mdir, name, _ = baked(model)
    oracle = (MODELS / "keras_cnn_fp16_ref.tflite").read_bytes() if model.endswith("fp16") else data
    m = load_cpython(mdir, name)
    groups = inputs_for(m, 4)
    # the natmod needs a bigger heap than the 190 KB of an RP2040 the Python tiers run in
    outs, _ = run_batch(
        mdir,
        name,
        [[x.tobytes() for x in g] for g in groups],
        heapsize="2M" if mpy_tier.extra_paths else "190K",
        env={"UPYFLOW_TIER": mpy_tier.tier},
        extra_paths=list(mpy_tier.extra_paths),
    )
    for group, got in zip(groups, outs):
        want = run_tflm(oracle, group)[0]
        got = np.frombuffer(got[0], want.dtype).reshape(want.shape)
        if want.dtype == np.float32:
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(got, want)
