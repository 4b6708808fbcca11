"""rounding="onnxruntime": QDQ ONNX models' int8 conv/FC requantize as onnxruntime's CPU kernels.

onnxruntime (the oracle) runs the fused QLinearConv/QGemm: f32(acc) * f32(in*w/out) in float32,
ties to even; Add/Mul in float32 between DQ and Q; QLinearConcat, QLinearAveragePool and
QLinearGlobalAveragePool with their own float32 requantization. Single-operator models must
match it exactly; whole models within one output step everywhere (onnxruntime may run a Conv
in float32 between DQ and Q, as in the branch model: a rounding tie can then differ).
TFLite models keep rounding "tflm" (the rest of the suite checks them bit-exact with TFLM).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
import onnx_harness as T  # noqa: E402
from harness import CPYTHON_TIERS, load_cpython, needs_micropython, run_upyflow  # noqa: E402
from upyflow_tools import BakeError  # noqa: E402
from upyflow_tools.bake import bake, compile_model  # noqa: E402
from upyflow_tools.unixport import run_batch  # noqa: E402

oh = T.oh
ORT_KERNELS = {"conv2d_s8_ort", "depthwise_conv2d_s8_ort", "fully_connected_s8_ort"}
ALL_ORT_KERNELS = ORT_KERNELS | {"binary_s8_ort", "avg_pool2d_s8_ort", "mean_s8_ort"}


pytestmark = pytest.mark.usefixtures("tier")  # every test on each CPython kernel tier


def steps_vs_ort(qdata: bytes, tmp_path, feeds_list, nlc: bool = False, rounding=None):
    """|upyflow - onnxruntime| in output steps over all outputs, and the kernels used."""
    name = "ortr%d" % next(T._count)
    result, _ = bake("model.onnx", str(tmp_path), name=name, data=qdata, rounding=rounding, input_layout="nhwc")
    module = load_cpython(str(tmp_path), name)
    steps = T.out_steps(qdata)
    d = []
    for feeds in feeds_list:
        got = run_upyflow(module, [T.device_layout(v, nlc) for v in feeds.values()])
        for g, w, st in zip(got, T.ort_run(qdata, feeds), steps):
            d.append(np.abs(T.onnx_layout(g, w.shape, nlc).astype(np.float64) - w).ravel() / st)
    return np.rint(np.concatenate(d)), {c.kernel for c in result.calls}


def cnn(tag: str, per_channel: bool, flatten: str, tmp_path):
    rng = T.case_rng("ortcnn%s%s%s" % (tag, per_channel, flatten))
    data, inputs = T.cnn_model(rng, flatten)
    return T.quantize(data, inputs, tmp_path, per_channel, "cnn" + tag, preprocess=True), inputs, rng


def mlp(per_channel: bool, tmp_path):
    rng = T.case_rng("ortmlp%s" % per_channel)
    inits = {"w1": T.f32(rng, 12, 16), "b1": T.f32(rng, 16), "w2": T.f32(rng, 8, 16), "b2": T.f32(rng, 8)}
    nodes = [
        oh.make_node("Gemm", ["x", "w1", "b1"], ["h"]),
        oh.make_node("Relu", ["h"], ["r"]),
        oh.make_node("Gemm", ["r", "w2", "b2"], ["y"], transB=1),
    ]
    data = T.make(nodes, {"x": [1, 12]}, ["y"], inits)
    return T.quantize(data, {"x": [1, 12]}, tmp_path, per_channel, "ortmlp"), {"x": [1, 12]}, rng


# --- whole models ---------------------------------------------------------------------------
@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("flatten", ["Flatten", "Reshape"])
def test_cnn_within_one_step(per_channel, flatten, tmp_path):
    qdata, inputs, rng = cnn("", per_channel, flatten, tmp_path)
    d, kernels = steps_vs_ort(qdata, tmp_path, T.feeds_for(rng, inputs, 12))
    assert {"conv2d_s8_ort", "depthwise_conv2d_s8_ort", "fully_connected_s8_ort"} <= kernels
    print("cnn %s %s: %.1f%% of %d outputs equal onnxruntime's" % (per_channel, flatten, 100 * np.mean(d == 0), d.size))
    assert d.max() <= 1


@pytest.mark.parametrize("per_channel", [False, True])
def test_mlp_equals_onnxruntime(per_channel, tmp_path):
    qdata, inputs, rng = mlp(per_channel, tmp_path)
    d, kernels = steps_vs_ort(qdata, tmp_path, T.feeds_for(rng, inputs, 12))
    assert "fully_connected_s8_ort" in kernels
    assert d.max() == 0


def test_tflm_rounding_option_keeps_tflm_kernels(tmp_path):
    qdata, inputs, rng = mlp(True, tmp_path)
    _, kernels = steps_vs_ort(qdata, tmp_path, T.feeds_for(rng, inputs, 1), rounding="tflm")
    assert "fully_connected_s8" in kernels and not kernels & ALL_ORT_KERNELS
    with pytest.raises(BakeError, match="--rounding must be tflm or onnxruntime"):
        compile_model("m.onnx", "m", qdata, rounding="even")


def test_tflite_models_keep_tflm_rounding():
    from tflite_writer import ModelWriter

    w = ModelWriter()
    x = w.tensor([1, 4], "int8", [0.05], [3])
    wt = w.tensor([2, 4], "int8", [0.02], [0], data=np.arange(8, dtype=np.int8).reshape(2, 4))
    y = w.tensor([1, 2], "int8", [0.1], [-1])
    w.op("FULLY_CONNECTED", [x, wt, -1], [y])
    result = compile_model("m.tflite", "m", w.build([x], [y]))
    assert result.graph.rounding == "tflm" and [c.kernel for c in result.calls] == ["fully_connected_s8"]


def branch_model():
    rng = T.case_rng("ortbranch")
    inits = {
        "w1": T.f32(rng, 4, 4, 3, 3),
        "w2": T.f32(rng, 4, 4, 1, 1),
        "s": rng.uniform(0.5, 1.5, (1, 4, 1, 1)).astype(np.float32),
        "w3": T.f32(rng, 6, 8, 1, 1),
    }
    nodes = [
        oh.make_node("Conv", ["x", "w1"], ["a"], pads=[1, 1, 1, 1]),
        oh.make_node("Relu", ["a"], ["ar"]),
        oh.make_node("Add", ["ar", "x"], ["res"]),
        oh.make_node("Mul", ["res", "s"], ["sc"]),
        oh.make_node("Conv", ["x", "w2"], ["b"]),
        oh.make_node("Concat", ["sc", "b"], ["cat"], axis=1),
        oh.make_node("AveragePool", ["cat"], ["ap"], kernel_shape=[2, 2], strides=[2, 2]),
        oh.make_node("Conv", ["ap", "w3"], ["c3"]),
        oh.make_node("GlobalAveragePool", ["c3"], ["y"]),
    ]
    inputs = {"x": [1, 4, 6, 6]}
    return T.make(nodes, inputs, ["y"], inits), inputs, rng


def test_tflm_rounding_option_on_branch_model(tmp_path):
    data, inputs, rng = branch_model()
    qdata = T.quantize(data, inputs, tmp_path, True, "ortbranch")
    kinds = {c.kernel for c in compile_model("m.onnx", "m", qdata, rounding="tflm").calls}
    assert {"addsub_q", "mul_q", "requantize", "avg_pool2d_s8", "mean_q"} <= kinds
    assert not kinds & ALL_ORT_KERNELS and "lut_s8" not in kinds


@pytest.mark.parametrize("model", ["branch", "cnn1d"])
def test_models_with_float_layers_in_onnxruntime(model, tmp_path):
    """onnxruntime runs Add, Mul and two Convs of the branch model in float32 between DQ and Q,
    Concat/AveragePool/GlobalAveragePool as QLinear* kernels: within one step everywhere."""
    if model == "branch":
        (data, inputs, rng), pre, nlc = branch_model(), False, False
    else:
        rng = T.case_rng("ortcnn1d")
        (data, inputs), pre, nlc = T.cnn1d_model(rng), True, True
    qdata = T.quantize(data, inputs, tmp_path, True, "ort" + model, preprocess=pre)
    d, kernels = steps_vs_ort(qdata, tmp_path, T.feeds_for(rng, inputs, 8), nlc=nlc)
    assert "conv2d_s8_ort" in kernels
    if model == "branch":
        assert {"binary_s8_ort", "lut_s8", "avg_pool2d_s8_ort", "mean_s8_ort"} <= kernels
    print("%s: %.1f%% equal, %.1f%% within one step" % (model, 100 * np.mean(d == 0), 100 * np.mean(d <= 1)))
    assert d.max() <= 1


# --- single operators: exactly onnxruntime's -------------------------------------------------
@pytest.mark.parametrize("case", ["ortconv%d" % i for i in range(16)] + ["ortdw%d" % i for i in range(12)])
def test_conv_equals_onnxruntime(case, tmp_path):
    data, inputs, rng = T.conv_case(case, case.startswith("ortdw"))
    qdata = T.quantize(data, inputs, tmp_path, bool(rng.integers(0, 2)), case)
    d, kernels = steps_vs_ort(qdata, tmp_path, T.feeds_for(rng, inputs, 3))
    assert kernels & ORT_KERNELS
    assert d.max() == 0, "%d of %d differ" % (np.sum(d > 0), d.size)


@pytest.mark.parametrize("case", ["ortgemm%d" % i for i in range(10)])
def test_gemm_equals_onnxruntime(case, tmp_path):
    rng = T.case_rng(case)
    m, k, n = int(rng.integers(1, 4)), int(rng.integers(2, 40)), int(rng.integers(1, 12))
    inits = {"w": T.f32(rng, n, k), "c": T.f32(rng, n)}
    data = T.make([oh.make_node("Gemm", ["x", "w", "c"], ["y"], transB=1)], {"x": [m, k]}, ["y"], inits)
    qdata = T.quantize(data, {"x": [m, k]}, tmp_path, bool(rng.integers(0, 2)), case)
    d, kernels = steps_vs_ort(qdata, tmp_path, T.feeds_for(rng, {"x": [m, k]}, 3))
    assert "fully_connected_s8_ort" in kernels
    assert d.max() == 0


def single_op_case(kind: str, i: int):
    """Add/Mul (second operand broadcast, an input or a constant), Concat of inputs quantized
    differently, AveragePool (test_onnx's pool cases) and GlobalAveragePool after a 1x1 Conv
    (so that the quantizer quantizes them)."""
    rng = T.case_rng("ort%s%d" % (kind, i))
    c, h, w = int(rng.integers(1, 6)), int(rng.integers(1, 7)), int(rng.integers(1, 7))
    inits: dict = {}
    if kind in ("add", "mul"):
        op = "Add" if kind == "add" else "Mul"
        bshape = [[1, c, h, w], [1, c, 1, 1], [1, 1, 1, w], [w]][int(rng.integers(0, 4))]
        inputs = {"x": [1, c, h, w]}
        if rng.random() < 0.5:
            inits["k"] = (rng.uniform(0.3, 1.5, bshape) * rng.choice([-1, 1])).astype(np.float32)
            nodes = [oh.make_node(op, ["x", "k"], ["y"])]
        else:
            nodes = [oh.make_node("Relu", ["x2"], ["r"]), oh.make_node(op, ["x", "r"], ["y"])]
            inputs["x2"] = bshape
        return T.make(nodes, inputs, ["y"], inits), inputs, rng
    if kind == "pool":
        import onnx

        data, inputs, rng = T.pool_case("ortpool%d" % i, "AveragePool")
        m = onnx.load_from_string(data)
        c = inputs["x"][1]
        m.graph.node[0].input[0] = "a"
        m.graph.node.insert(0, oh.make_node("Conv", ["x", "w"], ["a"]))
        m.graph.initializer.append(onnx.numpy_helper.from_array(T.f32(rng, c, c, 1, 1), "w"))
        return m.SerializeToString(), inputs, rng
    inputs = {"x": [1, c, h + 1, w + 1]}
    if kind == "cat":
        inits["w"] = T.f32(rng, 3, c, 1, 1)
        nodes = [oh.make_node("Conv", ["x", "w"], ["a"]), oh.make_node("Concat", ["a", "x"], ["y"], axis=1)]
    else:
        inits["w"] = T.f32(rng, c, c, 1, 1)
        nodes = [oh.make_node("Conv", ["x", "w"], ["a"]), oh.make_node("GlobalAveragePool", ["a"], ["y"])]
    return T.make(nodes, inputs, ["y"], inits), inputs, rng


SINGLE_KERNEL = {
    "add": "binary_s8_ort",
    "mul": "binary_s8_ort",
    "cat": "lut_s8",
    "pool": "avg_pool2d_s8_ort",
    "gap": "mean_s8_ort",
}
# pool cases whose count_include_pad=0 pads TFLite's SAME cannot express (the reader rejects them)
REJECTED_POOLS = {2, 9, 14}


@pytest.mark.parametrize(
    "case",
    [(k, i) for k in ("add", "mul", "cat", "gap") for i in range(8)]
    + [("pool", i) for i in range(16) if i not in REJECTED_POOLS],
)
def test_single_ops_equal_onnxruntime(case, tmp_path):
    kind, i = case
    data, inputs, rng = single_op_case(kind, i)
    qdata = T.quantize(data, inputs, tmp_path, False, "ort%s%d" % (kind, i))
    d, kernels = steps_vs_ort(qdata, tmp_path, T.feeds_for(rng, inputs, 3))
    assert SINGLE_KERNEL[kind] in kernels
    assert d.max() == 0, "%d of %d differ" % (np.sum(d > 0), d.size)


# --- MicroPython ------------------------------------------------------------------------------
@needs_micropython
def test_micropython_unix_port(tier, tmp_path):
    """The pure kernels' float32 emulation on MicroPython (double floats) gives CPython's bytes."""
    if tier != CPYTHON_TIERS[0]:
        pytest.skip("one MicroPython run")
    qdata, inputs, rng = cnn("upy", True, "Flatten", tmp_path)
    check_micropython(qdata, inputs, rng, tmp_path, "ortupy", ORT_KERNELS)
    data, inputs, rng = branch_model()
    qdata = T.quantize(data, inputs, tmp_path, True, "ortbranch")
    check_micropython(
        qdata, inputs, rng, tmp_path, "ortupyb", ALL_ORT_KERNELS - {"depthwise_conv2d_s8_ort", "fully_connected_s8_ort"}
    )


def check_micropython(qdata, inputs, rng, tmp_path, name, kernels):
    result, _ = bake("model.onnx", str(tmp_path), name=name, data=qdata, input_layout="nhwc")
    assert {c.kernel for c in result.calls} >= kernels
    feeds = T.feeds_for(rng, inputs, 3)
    outs, _ = run_batch(
        str(tmp_path), name, [[T.device_layout(f["x"]).tobytes()] for f in feeds], env={"UPYFLOW_TIER": "pure"}
    )
    module = load_cpython(str(tmp_path), name)
    step = T.out_steps(qdata)[0]
    for f, o in zip(feeds, outs):
        want = T.ort_run(qdata, f)[0]
        got = np.frombuffer(o[0], np.float32).reshape(want.shape)
        np.testing.assert_array_equal(got, run_upyflow(module, [T.device_layout(f["x"])])[0].reshape(want.shape))
        assert np.abs(got - want).max() <= step * (1 + 1e-3)
