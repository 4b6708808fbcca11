"""ONNX LSTM and GRU (readers/onnx/ops/rnn.py), compared with onnxruntime.

The models are built with onnx.helper the way torch.onnx exports nn.LSTM / nn.GRU (opset 17):
batch_first inputs transposed to time-major, one LSTM/GRU node per layer with its initial
state a zeros initializer (or taken from a graph input h0), Y squeezed (one direction) or
transposed and reshaped to [T, B, 2H] (bidirectional), GRU with linear_before_reset=1. Float32
outputs agree with onnxruntime within rtol 1e-5 (atol 1e-6) on the pure and native tiers and
under MicroPython. ONNX's own LSTM/GRU node tests run in test_onnx_conformance.py.
"""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto as TP  # noqa: E402
from onnx import helper as oh  # noqa: E402
from onnx import numpy_helper  # noqa: E402

from harness import load_cpython, run_upyflow  # noqa: E402
from onnx_harness import assert_micropython_like_ort, bake_onnx, case_rng, device_layout, ort_run, out_steps, quantize  # noqa: E402
from upyflow_tools import BakeError  # noqa: E402
from upyflow_tools.readers.onnx import read_onnx  # noqa: E402

RTOL, ATOL = 1e-5, 1e-6
GATES = {"LSTM": 4, "GRU": 3}


def torch_like(
    rng,
    op: str,
    n_in: int,
    n: int,
    steps: int,
    batch: int,
    layers: int = 1,
    bidirectional: bool = False,
    batch_first: bool = True,
    h0_input: bool = False,
    dynamic_batch: bool = False,
    classes: int = 0,
) -> tuple[bytes, dict]:
    """An nn.LSTM / nn.GRU as torch.onnx.export writes it; inputs {name: shape}."""
    dirs = 2 if bidirectional else 1
    g = GATES[op]
    nodes, inits = [], {}
    inputs = {"x": [batch, steps, n_in] if batch_first else [steps, batch, n_in]}
    cur = "x"
    if batch_first:
        nodes.append(oh.make_node("Transpose", ["x"], ["x_tm"], perm=[1, 0, 2]))
        cur = "x_tm"
    if h0_input:  # torch slices h0 per layer; Split here (Slice of computed tensors: another change)
        inputs["h0"] = [layers * dirs, batch, n]
        if layers > 1:
            inits["h0_split"] = np.array([dirs] * layers, np.int64)
            nodes.append(oh.make_node("Split", ["h0", "h0_split"], ["h0_%d" % k for k in range(layers)], axis=0))
    inits["axes1"] = np.array([1], np.int64)
    inits["flat"] = np.array([0, 0, -1], np.int64)
    finals = []
    for k in range(layers):
        size = n_in if k == 0 else n * dirs
        inits["W%d" % k] = rng.uniform(-0.6, 0.6, (dirs, g * n, size)).astype(np.float32)
        inits["R%d" % k] = rng.uniform(-0.6, 0.6, (dirs, g * n, n)).astype(np.float32)
        inits["B%d" % k] = rng.uniform(-0.3, 0.3, (dirs, 2 * g * n)).astype(np.float32)
        if h0_input:
            h0 = "h0_%d" % k if layers > 1 else "h0"
        elif dynamic_batch:  # torch.zeros(layers * dirs, x.size(0), n): a shape subgraph
            h0 = "zeros%d" % k
            inits["bx"], inits["d%d" % k], inits["n%d" % k] = (np.array(v, np.int64) for v in (0, [dirs], [n]))
            inits["zero_axes"] = np.array([0], np.int64)
            nodes += [
                oh.make_node("Shape", ["x"], ["x_shape%d" % k]),
                oh.make_node("Gather", ["x_shape%d" % k, "bx"], ["b%d" % k]),
                oh.make_node("Unsqueeze", ["b%d" % k, "zero_axes"], ["b1_%d" % k]),
                oh.make_node("Concat", ["d%d" % k, "b1_%d" % k, "n%d" % k], ["hs%d" % k], axis=0),
                oh.make_node("ConstantOfShape", ["hs%d" % k], [h0]),
            ]
        else:
            h0 = "zeros%d" % k
            inits[h0] = np.zeros((dirs, batch, n), np.float32)
        ins = [cur, "W%d" % k, "R%d" % k, "B%d" % k, "", h0]
        outs = ["Y%d" % k, "Yh%d" % k]
        extra = {"linear_before_reset": 1} if op == "GRU" else {}
        if op == "LSTM":
            ins.append(h0)  # torch passes c0 like h0; zeros here
            outs.append("Yc%d" % k)
        if bidirectional:
            extra["direction"] = "bidirectional"
        nodes.append(oh.make_node(op, ins, outs, hidden_size=n, **extra))
        if bidirectional:
            nodes.append(oh.make_node("Transpose", ["Y%d" % k], ["Yt%d" % k], perm=[0, 2, 1, 3]))
            nodes.append(oh.make_node("Reshape", ["Yt%d" % k, "flat"], ["L%d" % k]))
        else:
            nodes.append(oh.make_node("Squeeze", ["Y%d" % k, "axes1"], ["L%d" % k]))
        cur = "L%d" % k
        finals.append("Yh%d" % k)
    if batch_first:
        nodes.append(oh.make_node("Transpose", [cur], ["y"], perm=[1, 0, 2]))
    else:
        nodes.append(oh.make_node("Identity", [cur], ["y"]))
    if layers > 1:
        nodes.append(oh.make_node("Concat", finals, ["h_n"], axis=0))
    else:
        nodes.append(oh.make_node("Identity", [finals[0]], ["h_n"]))
    outputs = ["y", "h_n"]
    if classes:  # nn.Linear on the last step, y[:, -1, :] (batch_first) or y[-1]
        inits["last"] = np.array(-1, np.int64)
        inits["fc_w"] = rng.uniform(-0.5, 0.5, (classes, n * dirs)).astype(np.float32)
        inits["fc_b"] = rng.uniform(-0.5, 0.5, classes).astype(np.float32)
        nodes.append(oh.make_node("Gather", ["y", "last"], ["y_last"], axis=1 if batch_first else 0))
        nodes.append(oh.make_node("Gemm", ["y_last", "fc_w", "fc_b"], ["logits"], transB=1))
        outputs = ["logits"]
    graph = oh.make_graph(
        nodes,
        "rnn",
        [
            oh.make_tensor_value_info(k, TP.FLOAT, ["batch"] + s[1:] if dynamic_batch and k == "x" else s)
            for k, s in inputs.items()
        ],
        [oh.make_tensor_value_info(k, TP.FLOAT, None) for k in outputs],
        [numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)], ir_version=8)
    return model.SerializeToString(), inputs


def one_node(op: str, steps=4, batch=2, n_in=3, n=5, inputs_extra=(), **attrs) -> bytes:
    """A single LSTM/GRU node with constant weights (one direction)."""
    rng = case_rng("%s%s" % (op, sorted(attrs.items())))
    g = GATES[op]
    dirs = 2 if attrs.get("direction") == "bidirectional" else 1
    inits = {
        "W": rng.uniform(-0.6, 0.6, (dirs, g * n, n_in)).astype(np.float32),
        "R": rng.uniform(-0.6, 0.6, (dirs, g * n, n)).astype(np.float32),
        "B": rng.uniform(-0.3, 0.3, (dirs, 2 * g * n)).astype(np.float32),
    }
    ins = ["x", "W", "R", "B", *inputs_extra]
    for name, value in (("seq", np.full(batch, steps, np.int32)), ("P", rng.uniform(-1, 1, (dirs, 3 * n)))):
        if name in ins:
            inits[name] = value.astype(np.int32 if name == "seq" else np.float32)
    outs = ["y", "y_h"] + (["y_c"] if op == "LSTM" else [])
    node = oh.make_node(op, ins, outs, hidden_size=n, **attrs)
    graph = oh.make_graph(
        [node],
        "rnn",
        [oh.make_tensor_value_info("x", TP.FLOAT, [steps, batch, n_in])],
        [oh.make_tensor_value_info(k, TP.FLOAT, None) for k in outs],
        [numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    return oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)], ir_version=8).SerializeToString()


def check(data: bytes, feeds_list: list[dict], tmp_path):
    """Every feed in turn on one Model: each run equals onnxruntime's (no state carried over)."""
    mdir, name, result = bake_onnx(data, tmp_path)
    model = load_cpython(mdir, name)
    for feeds in feeds_list:
        want = ort_run(data, feeds)
        got = run_upyflow(model, [device_layout(v) for v in feeds.values()])
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g.reshape(device_layout(w).shape), device_layout(w), rtol=RTOL, atol=ATOL)
    return result


def feeds(rng, inputs: dict, n: int = 3) -> list[dict]:
    out = [{k: rng.uniform(-2, 2, s).astype(np.float32) for k, s in inputs.items()} for _ in range(n)]
    return out + [out[0]]  # the first again: the same answer after other sequences


def kinds(result) -> list[str]:
    return [op.kind for op in result.graph.ops]


TORCH_CASES = {
    "b1": dict(n_in=4, n=8, steps=6, batch=1),
    "b2": dict(n_in=3, n=5, steps=5, batch=2),
    "time_major": dict(n_in=3, n=4, steps=4, batch=2, batch_first=False),
    "two_layers": dict(n_in=4, n=6, steps=5, batch=1, layers=2),
    "bidirectional": dict(n_in=3, n=4, steps=5, batch=2, bidirectional=True),
    "bi_two_layers": dict(n_in=3, n=4, steps=4, batch=1, layers=2, bidirectional=True),
    "dynamic_batch": dict(n_in=3, n=5, steps=4, batch=1, dynamic_batch=True),
    "dynamic_batch_bi": dict(n_in=3, n=4, steps=3, batch=1, dynamic_batch=True, bidirectional=True, layers=2),
    "classifier": dict(n_in=4, n=8, steps=6, batch=1, classes=3),
    "classifier_bi_b2": dict(n_in=3, n=4, steps=5, batch=2, classes=3, bidirectional=True, layers=2),
    "classifier_time_major": dict(n_in=3, n=4, steps=5, batch=2, classes=2, batch_first=False),
    "h0": dict(n_in=3, n=5, steps=4, batch=2, h0_input=True),
    "bi_h0": dict(n_in=3, n=4, steps=4, batch=1, bidirectional=True, h0_input=True, layers=2),
}


@pytest.mark.parametrize("case", sorted(TORCH_CASES))
@pytest.mark.parametrize("op", ["LSTM", "GRU"])
def test_torch_export(op, case, tier, tmp_path):
    rng = case_rng("torch_%s_%s" % (op, case))
    data, inputs = torch_like(rng, op, **TORCH_CASES[case])
    result = check(data, feeds(rng, inputs), tmp_path)
    if op == "LSTM":
        assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in kinds(result)
    else:
        assert "GRU" in kinds(result)


ONE_NODE = {
    "lstm_reverse": ("LSTM", {"direction": "reverse"}),
    "lstm_bidirectional": ("LSTM", {"direction": "bidirectional"}),
    "lstm_full_sequence_lens": ("LSTM", {"inputs_extra": ("seq",)}),
    "lstm_default_activations": ("LSTM", {"activations": ["Sigmoid", "Tanh", "Tanh"]}),
    "lstm_clip": ("LSTM", {"clip": 0.8}),
    "lstm_input_forget": ("LSTM", {"input_forget": 1}),
    "lstm_peepholes": ("LSTM", {"inputs_extra": ("", "", "", "P")}),
    "lstm_peepholes_clip_bidirectional": (
        "LSTM",
        {"inputs_extra": ("", "", "", "P"), "clip": 0.9, "direction": "bidirectional"},
    ),
    "lstm_input_forget_reverse": ("LSTM", {"input_forget": 1, "direction": "reverse"}),
    "gru_before_reset": ("GRU", {}),
    "gru_linear_before_reset": ("GRU", {"linear_before_reset": 1}),
    "gru_reverse": ("GRU", {"direction": "reverse", "linear_before_reset": 1}),
    "gru_bidirectional": ("GRU", {"direction": "bidirectional"}),
    "gru_clip": ("GRU", {"clip": 0.7}),
    "gru_one_step": ("GRU", {"steps": 1, "batch": 1}),
    "gru_long": ("GRU", {"steps": 23, "batch": 1, "linear_before_reset": 1}),
    "lstm_clip_long": ("LSTM", {"steps": 101, "batch": 1, "clip": 2.0}),
}


@pytest.mark.parametrize("case", sorted(ONE_NODE))
def test_one_node(case, tier, tmp_path):
    op, attrs = ONE_NODE[case]
    attrs = dict(attrs)
    steps, batch = attrs.pop("steps", 4), attrs.pop("batch", 2)
    data = one_node(op, steps=steps, batch=batch, **attrs)
    rng = case_rng(case)
    check(data, feeds(rng, {"x": [steps, batch, 3]}), tmp_path)


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("op", ["LSTM", "GRU"])
def test_layout_1(op, direction, tier, tmp_path):
    """layout=1 (batch-major X, Y, Y_h): onnxruntime refuses it; the oracle is onnxruntime on the
    same node with layout 0, fed X transposed, its outputs transposed back."""
    rng = case_rng("layout1%s%s" % (op, direction))
    g, n, dirs = GATES[op], 4, 2 if direction == "bidirectional" else 1
    inits = {
        "W": rng.uniform(-0.6, 0.6, (dirs, g * n, 3)).astype(np.float32),
        "R": rng.uniform(-0.6, 0.6, (dirs, g * n, n)).astype(np.float32),
        "B": rng.uniform(-0.3, 0.3, (dirs, 2 * g * n)).astype(np.float32),
    }
    outs = ["y", "y_h"] + (["y_c"] if op == "LSTM" else [])

    def model(layout: int, shape) -> bytes:
        graph = oh.make_graph(
            [oh.make_node(op, ["x", "W", "R", "B"], outs, hidden_size=n, layout=layout, direction=direction)],
            "rnn",
            [oh.make_tensor_value_info("x", TP.FLOAT, shape)],
            [oh.make_tensor_value_info(k, TP.FLOAT, None) for k in outs],
            [numpy_helper.from_array(v, k) for k, v in inits.items()],
        )
        return oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)], ir_version=8).SerializeToString()

    mdir, name, _ = bake_onnx(model(1, [2, 5, 3]), tmp_path)
    x = rng.uniform(-2, 2, (2, 5, 3)).astype(np.float32)
    ref = ort_run(model(0, [5, 2, 3]), {"x": np.ascontiguousarray(x.transpose(1, 0, 2))})
    want = [ref[0].transpose(2, 0, 1, 3)] + [s.transpose(1, 0, 2) for s in ref[1:]]  # [B, T, D, n], [B, D, n]
    got = run_upyflow(load_cpython(mdir, name), [x])
    for gv, w in zip(got, want):
        w = device_layout(np.ascontiguousarray(w))
        np.testing.assert_allclose(gv.reshape(w.shape), w, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize(
    "op, attrs, words",
    [
        ("LSTM", {"activations": ["Sigmoid", "Gelu", "Tanh"]}, "activation 'gelu' is not one of ONNX's"),
        ("GRU", {"activations": ["HardSigmoid"]}, "1 activations, expected 2"),
        ("GRU", {"direction": "sideways"}, "direction"),
        ("LSTM", {"clip": 0.0}, "positive threshold"),
        ("GRU", {"clip": -1.0}, "positive threshold"),
    ],
)
def test_refused_in_one_line(op, attrs, words):
    with pytest.raises(BakeError) as e:
        read_onnx(one_node(op, **attrs))
    msg = str(e.value)
    assert words in msg and "\n" not in msg and op in msg


def test_integer_bias_refused():
    m = onnx.load_from_string(one_node("GRU"))
    for init in m.graph.initializer:
        if init.name == "B":
            init.CopyFrom(numpy_helper.from_array(np.ones((1, 30), np.int32), "B"))
    with pytest.raises(BakeError, match="bias B is int32; the layer takes float32$"):
        read_onnx(m.SerializeToString())


def test_sequence_lens_beyond_the_sequence_refused():
    data = one_node("LSTM", inputs_extra=("seq",))
    m = onnx.load_from_string(data)
    for init in m.graph.initializer:
        if init.name == "seq":
            init.CopyFrom(numpy_helper.from_array(np.array([4, 5], np.int32), "seq"))
    with pytest.raises(BakeError, match=r"sequence_lens \[4, 5\]; expected 2 integers from 0 to 4$"):
        read_onnx(m.SerializeToString())


@pytest.mark.parametrize("mpy_tier", ["pure", "viper", "natmod"], indirect=True)
def test_micropython(mpy_tier, tmp_path):
    """The LSTM and GRU kernels, and an LSTM with peepholes and clip unrolled into plain ops."""
    cases = []
    for op in ("LSTM", "GRU", "unrolled"):
        rng = case_rng("upy" + op)
        if op == "unrolled":
            data = one_node("LSTM", steps=3, batch=1, inputs_extra=("", "", "", "P"), clip=1.0)
            inputs = {"x": [3, 1, 3]}
        else:
            data, inputs = torch_like(rng, op, n_in=3, n=5, steps=5, batch=1, bidirectional=op == "GRU")
        cases.append((data, feeds(rng, inputs, 2)))
    assert_micropython_like_ort(mpy_tier, tmp_path, cases, RTOL, ATOL)


# --- long sequences: as close to the exact result as onnxruntime --------------------------------
def _sigmoid64(v):
    return 1 / (1 + np.exp(-v))


def exact(op: str, x: np.ndarray, w, r, b, lbr: int = 0) -> np.ndarray:
    """Y of a forward LSTM/GRU from zero state, in float64 (ONNX's equations, written here)."""
    n = r.shape[-1]
    w, r, b = (np.asarray(a[0], np.float64) for a in (w, r, b))
    g = 4 if op == "LSTM" else 3
    wb, rb = b[: g * n], b[g * n :]
    h = np.zeros((x.shape[1], n))
    c = np.zeros_like(h)
    ys = []
    for xt in x.astype(np.float64):
        gx = xt @ w.T + wb
        if op == "LSTM":
            a = gx + h @ r.T + rb
            i, o, f, cc = (
                _sigmoid64(a[:, :n]),
                _sigmoid64(a[:, n : 2 * n]),
                _sigmoid64(a[:, 2 * n : 3 * n]),
                a[:, 3 * n :],
            )
            c = f * c + i * np.tanh(cc)
            h = o * np.tanh(c)
        else:
            z = _sigmoid64(gx[:, :n] + h @ r[:n].T + rb[:n])
            rg = _sigmoid64(gx[:, n : 2 * n] + h @ r[n : 2 * n].T + rb[n : 2 * n])
            if lbr:
                hh = np.tanh(gx[:, 2 * n :] + rg * (h @ r[2 * n :].T + rb[2 * n :]))
            else:
                hh = np.tanh(gx[:, 2 * n :] + (rg * h) @ r[2 * n :].T + rb[2 * n :])
            h = (1 - z) * hh + z * h
        ys.append(h)
    return np.stack(ys)[:, None]


@pytest.mark.parametrize("op, lbr", [("LSTM", 0), ("GRU", 0), ("GRU", 1)])
def test_long_sequence_as_accurate_as_onnxruntime(op, lbr, tier, tmp_path):
    """60 steps of 32 units: float32 rounding differences grow along the recurrence, so both runtimes
    are held to the exact (float64) result: upyflow's error at most twice onnxruntime's."""
    steps, n_in, n = 60, 16, 32
    data = one_node(op, steps=steps, batch=1, n_in=n_in, n=n, **({"linear_before_reset": lbr} if op == "GRU" else {}))
    inits = {i.name: numpy_helper.to_array(i) for i in onnx.load_from_string(data).graph.initializer}
    x = case_rng("long%s%d" % (op, lbr)).uniform(-2, 2, (steps, 1, n_in)).astype(np.float32)
    want = exact(op, x, inits["W"], inits["R"], inits["B"], lbr)
    ort_y = ort_run(data, {"x": x})[0]
    mdir, name, _ = bake_onnx(data, tmp_path)
    got = run_upyflow(load_cpython(mdir, name), [x])[0]
    got = got.reshape(device_layout(ort_y).shape).transpose(0, 3, 1, 2)  # the board's Y is NHWC
    ort_err, err = np.abs(ort_y - want).max(), np.abs(got - want).max()
    assert err <= 2 * ort_err + 1e-7, (err, ort_err)
    np.testing.assert_allclose(got, ort_y, rtol=1e-4, atol=1e-5)


# --- models exported by PyTorch (tests/models/make_torch_rnn.py) ---------------------------------
TORCH_MODELS = ["torch_lstm_f32", "torch_gru_f32", "torch_lstm_ts_f32", "torch_gru_ts_f32"]


def torch_model(name: str) -> bytes:
    from harness import ROOT

    return (ROOT / "tests" / "models" / (name + ".onnx")).read_bytes()


@pytest.mark.parametrize("name", TORCH_MODELS)
def test_pytorch_export(name, tier, tmp_path):
    """torch.onnx.export's default exporter and the TorchScript one (dynamic batch, set to 1)."""
    data = torch_model(name)
    op = "GRU" if "gru" in name else "LSTM"
    assert op in {n.op_type for n in onnx.load_from_string(data).graph.node}
    rng = case_rng(name)
    result = check(data, feeds(rng, {"x": [1, 16, 6]}), tmp_path)
    assert ("GRU" if op == "GRU" else "UNIDIRECTIONAL_SEQUENCE_LSTM") in kinds(result)
    if "_ts_" in name:
        assert "batch dimension 'batch' of input 'x' set to 1" in result.graph.description


@pytest.mark.parametrize("name", ["torch_lstm_ts_f32", "torch_gru_f32"])
def test_pytorch_export_quantized(name, tier, tmp_path):
    """quantize_static (QDQ) leaves LSTM/GRU in float32 between DequantizeLinear and QuantizeLinear:
    they run as float32 kernels beside the int8 head, within one output step of onnxruntime."""
    data = quantize(torch_model(name), {"x": [1, 16, 6]}, tmp_path, True, name)
    assert "DequantizeLinear" in {n.op_type for n in onnx.load_from_string(data).graph.node}
    mdir, mname, result = bake_onnx(data, tmp_path)
    assert "FULLY_CONNECTED" in kinds(result) and "QUANTIZE" in kinds(result)
    model, step = load_cpython(mdir, mname), out_steps(data)[0]
    for f in feeds(case_rng("q" + name), {"x": [1, 16, 6]}):
        want = ort_run(data, f)[0]
        got = run_upyflow(model, [f["x"]])[0].reshape(want.shape)
        assert np.abs(got - want).max() <= step * 1.01


@pytest.mark.parametrize("mpy_tier", ["pure", "viper", "natmod"], indirect=True)
def test_pytorch_export_micropython(mpy_tier, tmp_path):
    cases = [(torch_model(m), feeds(case_rng("upy" + m), {"x": [1, 16, 6]}, 2)) for m in TORCH_MODELS]
    assert_micropython_like_ort(mpy_tier, tmp_path, cases, RTOL, ATOL)
