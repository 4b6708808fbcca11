"""ONNX RNN, LSTM and GRU beyond the kernels' defaults (readers/onnx/ops/rnn.py, rnn_ops.py):
ONNX's simple RNN, every recurrent activation of ONNX (with activation_alpha/beta) and a constant
sequence_lens shorter than the sequence, compared with onnxruntime within rtol 1e-5 (atol 1e-6)
on the pure and native tiers and under MicroPython. Models built with onnx.helper; PyTorch's
nn.RNN from tests/models/make_torch_rnn.py."""

from __future__ import annotations

import re

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto as TP  # noqa: E402
from onnx import helper as oh  # noqa: E402
from onnx import numpy_helper  # noqa: E402

from harness import ROOT, load_cpython, run_upyflow  # noqa: E402
from onnx_harness import assert_micropython_like_ort, bake_onnx, case_rng, device_layout, ort_run  # noqa: E402
from upyflow_tools import BakeError  # noqa: E402
from upyflow_tools.readers.onnx import read_onnx  # noqa: E402

RTOL, ATOL = 1e-5, 1e-6
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def model(
    op: str,
    steps: int = 4,
    batch: int = 1,
    n_in: int = 3,
    n: int = 4,
    lens=None,
    h0: str = "",
    outputs=None,
    seed: str = "",
    **attrs,
) -> tuple[bytes, dict]:
    """One recurrent node with constant weights: (model, inputs {name: shape}). lens: a constant
    sequence_lens; h0: "" (none), "const" (constant initial states) or "input" (graph inputs)."""
    rng = case_rng("%s%s%s%s%s" % (op, lens, h0, seed, sorted(attrs.items())))
    g, dirs = GATES[op], 2 if attrs.get("direction") == "bidirectional" else 1
    inits = {
        "W": rng.uniform(-0.7, 0.7, (dirs, g * n, n_in)).astype(np.float32),
        "R": rng.uniform(-0.7, 0.7, (dirs, g * n, n)).astype(np.float32),
        "B": rng.uniform(-0.4, 0.4, (dirs, 2 * g * n)).astype(np.float32),
    }
    inputs = {"x": [steps, batch, n_in]}
    ins = ["x", "W", "R", "B", ""]
    if lens is not None:
        inits["seq"] = np.array(lens, np.int32)
        ins[4] = "seq"
    states = ["h0", "c0"] if op == "LSTM" else ["h0"]
    if h0 == "const":
        for s in states:
            inits[s] = rng.uniform(-1, 1, (dirs, batch, n)).astype(np.float32)
    elif h0 == "input":
        inputs.update({s: [dirs, batch, n] for s in states})
    if h0:
        ins += states
    outs = outputs or (["y", "y_h"] + (["y_c"] if op == "LSTM" else []))
    graph = oh.make_graph(
        [oh.make_node(op, ins, outs, hidden_size=n, **attrs)],
        "rnn",
        [oh.make_tensor_value_info(k, TP.FLOAT, s) for k, s in inputs.items()],
        [oh.make_tensor_value_info(k, TP.FLOAT, None) for k in outs if k],
        [numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    return oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)], ir_version=8).SerializeToString(), inputs


def feeds(rng, inputs: dict, n: int = 2) -> list[dict]:
    return [{k: rng.uniform(-2, 2, s).astype(np.float32) for k, s in inputs.items()} for _ in range(n)]


def check(data: bytes, inputs: dict, tmp_path, seed: str):
    """Each feed on one baked model equals onnxruntime's outputs."""
    mdir, name, result = bake_onnx(data, tmp_path)
    m = load_cpython(mdir, name)
    for f in feeds(case_rng(seed), inputs):
        want = ort_run(data, f)
        got = run_upyflow(m, [device_layout(v) for v in f.values()])
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g.reshape(device_layout(w).shape), device_layout(w), rtol=RTOL, atol=ATOL)
    return result


def kinds(result) -> set[str]:
    return {op.kind for op in result.graph.ops}


# --- activations -----------------------------------------------------------------------------
ACTIVATIONS = {
    # op, activations, activation_alpha, activation_beta, extra attributes
    "lstm_relu_cell": ("LSTM", ["Sigmoid", "Relu", "Relu"], None, None, {}),
    "lstm_hardsigmoid_gates": ("LSTM", ["HardSigmoid", "Tanh", "Tanh"], None, None, {}),
    "lstm_scaled": ("LSTM", ["HardSigmoid", "ScaledTanh", "Softsign"], [0.3, 1.5], [0.4, 0.8], {}),
    "lstm_elu_softplus": ("LSTM", ["Sigmoid", "Elu", "Softplus"], [0.7], None, {}),
    "lstm_elu_default_alpha": ("LSTM", ["Sigmoid", "Elu", "Tanh"], None, None, {}),
    "lstm_bidirectional_each": (
        "LSTM",
        ["Sigmoid", "Tanh", "Tanh", "HardSigmoid", "LeakyRelu", "Softsign"],
        [0.25, 0.1],
        [0.45],
        {"direction": "bidirectional"},
    ),
    "lstm_affine_clip": ("LSTM", ["Sigmoid", "Affine", "Tanh"], [0.8], [0.1], {"clip": 1.5}),
    "gru_hardsigmoid": ("GRU", ["HardSigmoid", "Tanh"], None, None, {}),
    "gru_thresholded_lbr": ("GRU", ["Sigmoid", "ThresholdedRelu"], [0.2], None, {"linear_before_reset": 1}),
    "gru_leaky_reverse": ("GRU", ["Sigmoid", "LeakyRelu"], [0.2], None, {"direction": "reverse"}),
    "gru_softplus_clip": ("GRU", ["Softsign", "Softplus"], None, None, {"clip": 0.9}),
    "gru_bidirectional": (
        "GRU",
        ["Sigmoid", "Elu", "HardSigmoid", "Tanh"],
        [2.0],
        None,
        {"direction": "bidirectional"},
    ),
    "rnn_tanh": ("RNN", ["Tanh"], None, None, {}),
    "rnn_relu": ("RNN", ["Relu"], None, None, {}),
    "rnn_default": ("RNN", None, None, None, {}),
    "rnn_reverse_clip": ("RNN", None, None, None, {"direction": "reverse", "clip": 0.5}),
    "rnn_bidirectional": ("RNN", ["Tanh", "Sigmoid"], None, None, {"direction": "bidirectional"}),
    "rnn_affine": ("RNN", ["Affine"], [0.5], [0.2], {}),
    "rnn_thresholded": ("RNN", ["ThresholdedRelu"], [0.3], None, {}),
    "rnn_scaledtanh": ("RNN", ["ScaledTanh"], [1.3], [0.7], {}),
    "rnn_elu": ("RNN", ["Elu"], [0.5], None, {}),
}


def act_model(case: str, **kw):
    op, acts, alpha, beta, extra = ACTIVATIONS[case]
    attrs = dict(extra)
    if acts:
        attrs["activations"] = acts
    if alpha:
        attrs["activation_alpha"] = alpha
    if beta:
        attrs["activation_beta"] = beta
    return op, model(op, seed=case, **kw, **attrs)


@pytest.mark.parametrize("case", sorted(ACTIVATIONS))
def test_activations(case, tier, tmp_path):
    op, (data, inputs) = act_model(case, steps=5, batch=2)
    result = check(data, inputs, tmp_path, case)
    # non-default activations: no kernel of fixed sigmoid/tanh
    assert not kinds(result) & {"UNIDIRECTIONAL_SEQUENCE_LSTM", "GRU"}


def test_default_activations_keep_the_kernels():
    for op, acts in (("LSTM", ["sigmoid", "TANH", "Tanh"]), ("GRU", ["Sigmoid", "Tanh"])):
        graph = read_onnx(model(op, activations=acts)[0])
        assert {"UNIDIRECTIONAL_SEQUENCE_LSTM" if op == "LSTM" else "GRU"} <= {o.kind for o in graph.ops}


def test_activation_ops():
    """Each function is the few TFLite ops the module docstring names (RNN: one step, Y only)."""
    want = {
        "Relu": {"RELU"},
        "LeakyRelu": {"LEAKY_RELU"},
        "ThresholdedRelu": {"GREATER", "SELECT_V2"},
        "Softsign": {"ABS", "DIV"},
        "Softplus": {"EXP", "LOG"},
        "Elu": {"ELU"},
        "HardSigmoid": {"MAXIMUM", "MINIMUM"},
    }
    for f, ops in want.items():
        graph = read_onnx(model("RNN", steps=1, activations=[f])[0])
        assert ops <= {o.kind for o in graph.ops}, f


# --- sequence_lens ---------------------------------------------------------------------------
LENS = {
    # op, lens, steps, extra
    "lstm_b1_short": ("LSTM", [3], 6, {}),
    "lstm_b3_mixed": ("LSTM", [6, 2, 2], 6, {}),
    "lstm_zero_length": ("LSTM", [0, 4, 6], 6, {}),
    "lstm_reverse": ("LSTM", [4, 6], 6, {"direction": "reverse"}),
    "lstm_bidirectional_h0": ("LSTM", [2, 5], 5, {"direction": "bidirectional", "h0": "const"}),
    "lstm_h0_input": ("LSTM", [3, 1], 4, {"h0": "input"}),
    "lstm_unrolled_clip": ("LSTM", [5, 3], 5, {"clip": 1.0, "direction": "bidirectional"}),
    "lstm_one_step": ("LSTM", [1], 4, {}),
    "gru_b1_short": ("GRU", [2], 5, {"linear_before_reset": 1}),
    "gru_mixed_h0": ("GRU", [4, 1, 3], 4, {"h0": "const", "direction": "bidirectional"}),
    "gru_activations": ("GRU", [3, 5], 5, {"activations": ["HardSigmoid", "Softsign"]}),
    "rnn_mixed": ("RNN", [1, 4, 0], 4, {"direction": "bidirectional", "h0": "input"}),
    "rnn_full_and_short": ("RNN", [5, 3], 5, {}),
}


@pytest.mark.parametrize("case", sorted(LENS))
def test_sequence_lens(case, tier, tmp_path):
    """Y is zero past each entry's length, Y_h / Y_c its last valid step (0: zeros), as onnxruntime."""
    op, lens, steps, extra = LENS[case]
    data, inputs = model(op, steps=steps, batch=len(lens), lens=lens, seed=case, **extra)
    check(data, inputs, tmp_path, case)


@pytest.mark.parametrize("outputs", [["y"], ["", "y_h"], ["", "", "y_c"], ["y", "", "y_c"]])
def test_sequence_lens_some_outputs(outputs, tier, tmp_path):
    data, inputs = model("LSTM", steps=5, batch=3, lens=[5, 0, 2], outputs=outputs, seed=str(outputs))
    check(data, inputs, tmp_path, str(outputs))


def test_full_sequence_lens_is_one_pass():
    graph = read_onnx(model("LSTM", steps=4, batch=2, lens=[4, 4])[0])
    assert [o.kind for o in graph.ops].count("UNIDIRECTIONAL_SEQUENCE_LSTM") == 1
    assert "STRIDED_SLICE" not in {o.kind for o in graph.ops}


def _with_computed_lens() -> bytes:
    data, _ = model("GRU", steps=4, batch=1)
    m = onnx.load_from_string(data)
    m.graph.input.append(oh.make_tensor_value_info("lens", TP.INT32, [1]))
    m.graph.node[0].input[4] = "lens"
    return m.SerializeToString()


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: model("LSTM", steps=4, batch=2, lens=[0, 0])[0], "every sequence_lens is 0"),
        (lambda: model("RNN", steps=4, batch=1, lens=[-1])[0], r"sequence_lens \[-1\]; expected 1 integers"),
        (lambda: model("RNN", steps=4, batch=2, lens=[3])[0], r"sequence_lens \[3\]; expected 2 integers"),
        (_with_computed_lens, "needs a constant sequence_lens"),
        (lambda: model("RNN", activations=["Swish"])[0], "activation 'swish' is not one of ONNX's"),
        (lambda: model("RNN", activations=["Tanh", "Tanh", "Tanh"])[0], "3 activations, expected 1"),
        (  # ONNX (and onnxruntime): a bidirectional layer lists both directions' functions
            lambda: model("LSTM", direction="bidirectional", activations=["Sigmoid", "Tanh", "Tanh"])[0],
            "3 activations, expected 6",
        ),
        (lambda: model("RNN", steps=300)[0], "300 time steps; upyflow unrolls this layer over at most 256"),
    ],
)
def test_refused_in_one_line(make, words):
    with pytest.raises(BakeError) as e:
        read_onnx(make())
    msg = str(e.value)
    assert "\n" not in msg
    assert re.search(words, msg), msg


# --- nn.RNN as PyTorch exports it (tests/models/make_torch_rnn.py) -----------------------------
TORCH_RNN = ["torch_rnn_ts_f32", "torch_rnn_relu_ts_f32"]


@pytest.mark.parametrize("name", TORCH_RNN)
def test_pytorch_rnn_export(name, tier, tmp_path):
    """The TorchScript exporter writes nn.RNN as ONNX RNN nodes (the default exporter as
    MatMul/Add/Tanh per step, read already)."""
    data = (ROOT / "tests" / "models" / (name + ".onnx")).read_bytes()
    assert "RNN" in {n.op_type for n in onnx.load_from_string(data).graph.node}
    check(data, {"x": [1, 16, 6]}, tmp_path, name)


def test_pytorch_lstm_with_states(tier, tmp_path):
    """nn.LSTM given (h0, c0) and returning (y, (h_n, c_n)), the default exporter: the graph's
    initial states are Slice'd per layer into the LSTM nodes; runs start from them."""
    data = (ROOT / "tests" / "models" / "torch_lstm_states_f32.onnx").read_bytes()
    result = check(data, {"x": [1, 16, 6], "h0": [2, 1, 12], "c0": [2, 1, 12]}, tmp_path, "states")
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in kinds(result)


@pytest.mark.parametrize("mpy_tier", ["pure", "viper", "natmod"], indirect=True)
def test_micropython(mpy_tier, tmp_path):
    """RNN, activations made of GREATER/SELECT_V2, DIV, EXP/LOG, ELU, and sequence_lens passes."""
    models = {
        "rnn_thresholded": act_model("rnn_thresholded", steps=3, batch=1)[1],
        "lstm_scaled": act_model("lstm_scaled", steps=3, batch=1)[1],
        "gru_softplus_clip": act_model("gru_softplus_clip", steps=3, batch=1)[1],
        "lstm_elu_softplus": act_model("lstm_elu_softplus", steps=3, batch=1)[1],
        "lens": model("LSTM", steps=5, batch=3, lens=[5, 2, 0], h0="input", seed="upy"),
        "gru_lens": model("GRU", steps=4, batch=1, lens=[2], direction="bidirectional", seed="upy"),
        "torch_rnn": ((ROOT / "tests" / "models" / "torch_rnn_ts_f32.onnx").read_bytes(), {"x": [1, 16, 6]}),
        "torch_states": (
            (ROOT / "tests" / "models" / "torch_lstm_states_f32.onnx").read_bytes(),
            {"x": [1, 16, 6], "h0": [2, 1, 12], "c0": [2, 1, 12]},
        ),
    }
    cases = [(data, feeds(case_rng("upy" + key), inputs)) for key, (data, inputs) in models.items()]
    assert_micropython_like_ort(mpy_tier, tmp_path, cases, RTOL, ATOL)


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
def test_sequence_lens_layout_1(op, tier, tmp_path):
    """layout=1 (batch-major) with sequence_lens: onnxruntime refuses layout 1, so the oracle is
    the same node with layout 0 fed X transposed, its outputs transposed back."""
    lens, steps = [2, 5, 0], 5
    attrs = dict(lens=lens, seed="layout1", direction="bidirectional", h0="const" if op != "RNN" else "")
    data0, _ = model(op, steps=steps, batch=3, **attrs)
    m = onnx.load_from_string(data0)
    node = m.graph.node[0]
    node.attribute.append(oh.make_attribute("layout", 1))
    m.graph.input[0].CopyFrom(oh.make_tensor_value_info("x", TP.FLOAT, [3, steps, 3]))
    for init in m.graph.initializer:  # initial states [dirs, batch, n] -> [batch, dirs, n]
        if init.name in ("h0", "c0"):
            init.CopyFrom(
                numpy_helper.from_array(np.ascontiguousarray(numpy_helper.to_array(init).transpose(1, 0, 2)), init.name)
            )
    mdir, name, _ = bake_onnx(m.SerializeToString(), tmp_path)
    x = case_rng("layout1" + op).uniform(-2, 2, (3, steps, 3)).astype(np.float32)
    ref = ort_run(data0, {"x": np.ascontiguousarray(x.transpose(1, 0, 2))})
    want = [ref[0].transpose(2, 0, 1, 3)] + [s.transpose(1, 0, 2) for s in ref[1:]]  # [B, T, D, n], [B, D, n]
    got = run_upyflow(load_cpython(mdir, name), [x])
    assert len(got) == len(want)
    for g, w in zip(got, want):
        w = device_layout(np.ascontiguousarray(w))
        np.testing.assert_allclose(g.reshape(w.shape), w, rtol=RTOL, atol=ATOL)


def test_dequantized_weights(tier, tmp_path):
    """W as int8 through DequantizeLinear (weights-only QDQ): dequantized at bake time."""
    data, inputs = model("LSTM", steps=4, batch=1, seed="dq")
    m = onnx.load_from_string(data)
    w = next(i for i in m.graph.initializer if i.name == "W")
    wf = numpy_helper.to_array(w)
    scale = np.float32(np.abs(wf).max() / 127)
    w.CopyFrom(numpy_helper.from_array(np.round(wf / scale).astype(np.int8), "W_q"))
    m.graph.initializer.extend(
        [numpy_helper.from_array(np.array(scale), "W_s"), numpy_helper.from_array(np.int8(0), "W_z")]
    )
    m.graph.node.insert(0, oh.make_node("DequantizeLinear", ["W_q", "W_s", "W_z"], ["W"]))
    check(m.SerializeToString(), inputs, tmp_path, "dq")
