"""The model zoo: real-world-like models made by the project's own scripts (tests/models/
make_keras_zoo.py, make_torch_resnet.py), each against its oracle on every tier.

- keras_gelu_{int8,f32}: a Keras CNN with GELU (exact and tanh-approximated) at Keras'
  dynamic batch. TFLM's interpreter here has no GELU kernel, so the oracle
  (keras_zoo_oracle.npz, made by the script) ran the model one operator at a time: GELU by
  TensorFlow Lite's reference kernels, every other operator by TFLM.
- keras_kws_stream_{int8,f32}: a streaming keyword model with three tf.Variable ring buffers
  (VAR_HANDLE / READ_VARIABLE / ASSIGN_VARIABLE, CALL_ONCE init): fed frame by frame, TFLM's
  bytes at every step, and again after reset().
- torch_resnet_{f32,ts_f32,qdq}: a PyTorch ResNet-ish network with GELU and Resize (bilinear
  and nearest) exported to ONNX (torch.export and TorchScript exporters, the latter with a
  dynamic batch; QDQ int8 from onnxruntime's quantize_static), baked with --input-layout nchw (the board takes what
  onnxruntime takes): onnxruntime's outputs, float32 within 1e-5 relative, QDQ within one
  output step.

int8 outputs byte-identical, float32 within rtol 1e-5, on the CPython tiers (pure, native)
and under MicroPython (pure, viper, natmod)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness import (
    assert_matches,
    bake_model,
    load_cpython,
    run_micropython,
    run_tflm,
    run_upyflow,
    tflm_sequence,
)
from upyflow_tools.bake import bake

MODELS = Path(__file__).resolve().parent / "models"
ORACLE = dict(np.load(MODELS / "keras_zoo_oracle.npz"))
GELU = ("keras_gelu_int8", "keras_gelu_f32")
STREAMS = ("keras_kws_stream_int8", "keras_kws_stream_f32")
TORCH = ("torch_resnet_f32", "torch_resnet_ts_f32", "torch_resnet_qdq")
FEAT = 16  # features per frame of the keyword model


@pytest.fixture(scope="module")
def baked(tmp_path_factory):
    """model name -> (model bytes, module dir, BakeResult), all baked in one folder."""
    outdir = tmp_path_factory.mktemp("zoo")
    cache = {}

    def get(model: str):
        if model not in cache:
            if model.startswith("torch"):
                path = MODELS / (model + ".onnx")
                result, _ = bake(str(path), str(outdir), name=model, input_layout="nchw")
            else:
                path = MODELS / (model + ".tflite")
                result = bake_model(path, outdir, name=model)[2]
            cache[model] = (path.read_bytes(), str(outdir), result)
        return cache[model]

    return get


def assert_close(got: np.ndarray, want: np.ndarray, what: str) -> None:
    """int8: the same bytes; float32: within rtol 1e-5."""
    got = np.asarray(got).reshape(want.shape)
    assert got.dtype == want.dtype, what
    if want.dtype == np.float32:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


# --- Keras GELU ---------------------------------------------------------------------------------
def gelu_sets(model: str) -> tuple[list[list[np.ndarray]], np.ndarray]:
    key = model.replace("keras_", "")
    return [[x] for x in ORACLE[key + "_x"]], ORACLE[key + "_y"]


def test_op_by_op_oracle_is_tflm():
    """The script's op-by-op run (each operator a model of its own, chained) of keras_cnn_int8,
    a model TFLM runs whole, gives TFLM's whole-model bytes: the GELU oracle's mechanics."""
    data = (MODELS / "keras_cnn_int8.tflite").read_bytes()
    for k, (x, y) in enumerate(zip(ORACLE["cnn_int8_x"], ORACLE["cnn_int8_y"])):
        np.testing.assert_array_equal(run_tflm(data, [x])[0], y, err_msg="input %d" % k)
    assert len(set(y.tobytes() for y in ORACLE["cnn_int8_y"])) > 2  # not a constant output


@pytest.mark.parametrize("model", GELU)
def test_keras_gelu_matches_oracle(baked, model, tier):
    _, mdir, result = baked(model)
    gelus = [c for c in result.calls if result.graph.ops[c.op_index].kind == "GELU"]
    assert len(gelus) == 3  # Conv2D(gelu), Activation(gelu tanh), Dense(gelu)
    approx = sorted(bool(result.graph.ops[c.op_index].options.get("approximate")) for c in gelus)
    assert approx == [False, False, True]
    assert any("dynamic batch dimension set to 1" in n for n in result.graph.notes)
    m = load_cpython(mdir, model, tier)
    sets, want = gelu_sets(model)
    for k, (group, w) in enumerate(zip(sets, want)):
        assert_close(run_upyflow(m, group)[0], w, "%s input %d on %s" % (model, k, tier))
    assert len(set(w.tobytes() for w in want)) > 2


# --- streaming keyword model with resource variables ----------------------------------------
def kws_stream(model: str, steps: int = 36) -> list[list[np.ndarray]]:
    """Frames as the script's training clips: noise, then a rising ridge across the features
    (the keyword), noise, a falling ridge, then random frames (int8: in the input's scale)."""
    rng = np.random.default_rng(1701)
    x = rng.normal(0.0, 0.3, size=(steps, FEAT))
    for t in range(8):
        x[4 + t, 2 * t] += 1.5
        x[18 + t, FEAT - 1 - 2 * t] += 1.5
    x[28:] = rng.uniform(-2.0, 2.0, size=(steps - 28, FEAT))
    x = x.reshape(steps, 1, 1, FEAT)
    if model.endswith("f32"):
        return [[f.astype(np.float32)] for f in x]
    scale, zp = 0.0124374, -49  # keras_kws_stream_int8's input quantization
    return [[np.clip(np.round(f / scale) + zp, -128, 127).astype(np.int8)] for f in x]


@pytest.mark.parametrize("model", STREAMS)
def test_kws_stream_matches_tflm_step_by_step(baked, model, tier):
    data, mdir, result = baked(model)
    assert any("3 resource variables baked as state tensors" in n for n in result.graph.notes)
    assert not {c.kernel for c in result.calls} & {"VAR_HANDLE", "CALL_ONCE", "ASSIGN_VARIABLE"}
    m = load_cpython(mdir, model, tier)
    if model.endswith("int8"):
        assert m.input_scale[0] == pytest.approx(0.0124374, rel=1e-5) and m.input_zero_point[0] == -49
    sets = kws_stream(model)
    want = tflm_sequence(data, sets)
    for rnd in ("", " after reset()"):
        for k, (group, w) in enumerate(zip(sets, want)):
            assert_close(run_upyflow(m, group)[0], w[0], "%s step %d on %s%s" % (model, k, tier, rnd))
        m.reset()


def test_kws_stream_state_matters():
    """The step test above would pass on a stateless model: here the same frame after another
    history gives other bytes (TFLM), and the keyword wins while the ridge passes."""
    data = (MODELS / "keras_kws_stream_int8.tflite").read_bytes()
    sets = kws_stream("keras_kws_stream_int8")
    a = tflm_sequence(data, sets[:14])
    b = tflm_sequence(data, sets[14:28] + sets[:14])[14:]
    assert any(not np.array_equal(x[0], y[0]) for x, y in zip(a, b))
    assert int(np.argmax(a[11][0])) == 1  # the rising ridge's last frame is at step 11


# --- PyTorch ResNet-ish block (ONNX) ---------------------------------------------------------------
def images(count: int = 4) -> list[np.ndarray]:
    """NCHW images as the script's task: noise with a brighter 8x8 square, then plain noise."""
    rng = np.random.default_rng(31337)
    out = []
    for k in range(count):
        x = rng.normal(0.0, 0.5, size=(1, 3, 32, 32)).astype(np.float32)
        if k < count - 1:
            y0, x0 = (int(v) for v in rng.integers(0, 24, size=2))
            x[0, :, y0 : y0 + 8, x0 : x0 + 8] += 1.5
        out.append(x)
    return out


def onnx_oracle(data: bytes, xs: list[np.ndarray]) -> list[list[np.ndarray]]:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
    return [sess.run(None, {"image": x}) for x in xs]


def qdq_steps(data: bytes) -> list[float]:
    """One int8 step of each output: the scale of the DequantizeLinear that makes it."""
    import onnx
    from onnx import numpy_helper

    g = onnx.load_from_string(data).graph
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    made_by = {n.output[0]: n for n in g.node}
    steps = []
    for o in g.output:
        node = made_by[o.name]
        assert node.op_type == "DequantizeLinear", node.op_type
        steps.append(float(inits[node.input[1]]))
    return steps


def check_onnx(model: str, data: bytes, got: list[list[np.ndarray]], want: list[list[np.ndarray]], what: str):
    steps = qdq_steps(data) if model.endswith("qdq") else None
    for k, (g_outs, w_outs) in enumerate(zip(got, want)):
        assert len(g_outs) == len(w_outs) == 2
        for j, (g, w) in enumerate(zip(g_outs, w_outs)):
            g = np.asarray(g, np.float32).reshape(w.shape)  # NCHW: --input-layout nchw
            msg = "%s image %d output %d on %s" % (model, k, j, what)
            if steps:
                assert np.abs(g - w).max() <= steps[j] * (1 + 1e-6), msg
            else:
                np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6, err_msg=msg)


@pytest.mark.parametrize("model", TORCH)
def test_torch_resnet_matches_onnxruntime(baked, model, tier):
    data, mdir, result = baked(model)
    kinds = [op.kind for op in result.graph.ops]
    assert kinds.count("GELU") == 6 and "Erf" not in kinds  # torch's Erf chain recognised as GELU
    assert "RESIZE_BILINEAR" in kinds and "RESIZE_NEAREST_NEIGHBOR" in kinds
    if model.endswith("qdq"):
        # all 8 convolutions int8, not dequantized (onnxruntime left the Gelu nodes before ReduceMean
        # and Resize float: their DequantizeLinear / float Gelu / QuantizeLinear are baked as such)
        assert sum(c.kernel.startswith("conv2d_s8") for c in result.calls) == 8
    if model == "torch_resnet_ts_f32":  # exported with a dynamic batch (dynamic_axes)
        assert "'batch'" in result.graph.description and "set to 1" in result.graph.description
    m = load_cpython(mdir, model, tier)
    assert list(m.input_shape[0]) == [1, 3, 32, 32]  # NCHW, as onnxruntime takes it
    xs = images()
    want = onnx_oracle(data, xs)
    check_onnx(model, data, [run_upyflow(m, [x]) for x in xs], want, tier)


# --- MicroPython ----------------------------------------------------------------------------------
@pytest.mark.parametrize("mpy_tier", ["pure", "viper", "natmod"], indirect=True)
def test_zoo_micropython(baked, mpy_tier):
    """Every zoo model in one MicroPython process: the GELU models on the oracle's inputs, the
    keyword model stream frame after frame (one load: state carried), two images through each
    ONNX model."""
    jobs, sizes, want = [], {}, {}
    for model in GELU:
        sets, w = gelu_sets(model)
        sets, w = sets[:4], w[:4]
        jobs.append((model, sets))
        want[model] = [[y] for y in w]
    for model in STREAMS:
        sets = kws_stream(model)
        jobs.append((model, sets))
        want[model] = tflm_sequence(baked(model)[0], sets)
    for model in TORCH:
        xs = images(2)
        jobs.append((model, [[x] for x in xs]))
        want[model] = onnx_oracle(baked(model)[0], xs)
    mdir = ""
    for model, _ in jobs:
        mdir = baked(model)[1]
        sizes[model] = [w.nbytes for w in want[model][0]]
    got, _ = run_micropython(mpy_tier, mdir, jobs, sizes, heapsize="4M")
    for model, _ in jobs:
        what = "MicroPython " + mpy_tier.name
        if model in TORCH:
            outs = [[np.frombuffer(b, np.float32) for b in g] for g in got[model]]
            check_onnx(model, baked(model)[0], outs, want[model], what)
        elif model.endswith("f32"):
            for k, (g, w) in enumerate(zip(got[model], want[model])):
                assert_close(np.frombuffer(g[0], np.float32), w[0], "%s set %d on %s" % (model, k, what))
        else:
            assert_matches(want[model], got[model], "%s on %s" % (model, what), "invoke")
