"""The TFLM example models from ../shared: upyflow must be byte-identical to the TFLM interpreter."""

from __future__ import annotations

import os

import numpy as np
import pytest

from harness import assert_bit_exact, bake_model, bmp_input, load_cpython, run_tflm, run_upyflow, seeded_inputs, shared
from upyflow_tools.unixport import run_batch

SEEDED = 20


@pytest.fixture(scope="module")
def baked(tmp_path_factory):
    """Bake each shared model once per module: name -> (model bytes, module dir, module name)."""
    cache = {}

    def get(model: str):
        if model not in cache:
            path = shared("models/%s.tflite" % model)
            outdir = tmp_path_factory.mktemp(model)
            mdir, name, _ = bake_model(path, outdir, name=model, mpy=True)
            cache[model] = (path.read_bytes(), mdir, name)
        return cache[model]

    return get


@pytest.mark.parametrize("model", ["hello_world_int8", "microflow_sine", "micro_speech_quantized", "hello_world_float"])
def test_bit_exact_cpython(baked, model, tier):
    data, mdir, name = baked(model)
    m = load_cpython(mdir, name, tier)
    assert m.tier == tier
    for inputs in seeded_inputs(m, SEEDED):
        assert_bit_exact(data, m, inputs)


def test_person_detect_images_and_random(baked, tier):
    data, mdir, name = baked("person_detect")
    m = load_cpython(mdir, name, tier)
    person, no_person = bmp_input("person.bmp"), bmp_input("no_person.bmp")
    # The images must be classified as the labels say ([no_person, person] scores).
    assert run_upyflow(m, [person])[0].ravel().argmax() == 1
    assert run_upyflow(m, [no_person])[0].ravel().argmax() == 0
    for x in [person, no_person] + [i[0] for i in seeded_inputs(m, 2)]:
        assert_bit_exact(data, m, [x])


def test_arena_not_larger_than_tflm(baked):
    from upyflow_tools.tflm import head_arena_bytes

    for model in ["hello_world_int8", "micro_speech_quantized", "person_detect"]:
        _, mdir, name = baked(model)
        m = load_cpython(mdir, name)
        head = head_arena_bytes(str(shared("models/%s.tflite" % model)))
        assert head is not None and m.arena_size <= head, (model, m.arena_size, head)


@pytest.mark.parametrize("model", ["hello_world_int8", "microflow_sine", "micro_speech_quantized", "hello_world_float"])
@pytest.mark.parametrize("form", ["py", "mpy"])
@pytest.mark.parametrize("mpy_tier", ["pure", "viper"], indirect=True)  # the natmod: test_native.py
def test_micropython_matches(baked, model, form, mpy_tier, tmp_path):
    """The same baked module under the real MicroPython unix port, 190 KB heap like an RP2040."""
    data, mdir, name = baked(model)
    if form == "mpy":  # only the compiled module beside the runtime
        os.replace(os.path.join(mdir, name + ".mpy"), tmp_path / (name + ".mpy"))
        os.link(tmp_path / (name + ".mpy"), os.path.join(mdir, name + ".mpy"))
        run_dir = str(tmp_path)
    else:
        run_dir = mdir
    m = load_cpython(mdir, name)
    inputs = seeded_inputs(m, SEEDED)
    outs, _ = run_batch(
        run_dir, name, [[x.tobytes() for x in group] for group in inputs], env={"UPYFLOW_TIER": mpy_tier.tier}
    )
    assert len(outs) == len(inputs)
    for group, got in zip(inputs, outs):
        want = run_tflm(data, group)[0]
        got = np.frombuffer(got[0], want.dtype).reshape(want.shape)
        if want.dtype == np.float32:
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    "model",
    ["keyword_scrambled", "keyword_scrambled_8bit", "trained_lstm_int8", "micro_speech_lstm", "dtln_noise_suppression"],
)
def test_stateful_models_activations_fit_tflm_head_arena(model):
    """State tensors persist (TFLM keeps them in its tail); the activations, planned offline,
    need no more than TFLM's head arena."""
    from upyflow_tools.bake import compile_model
    from upyflow_tools.tflm import head_arena_bytes

    path = shared("models/%s.tflite" % model)
    result = compile_model(str(path))
    assert result.state_bytes > 0
    assert result.arena_size - result.state_bytes <= head_arena_bytes(str(path))
