"""The ONNX front end: models built with onnx.helper, baked by upyflow, compared with onnxruntime.

onnxruntime is the oracle. Float32 models must agree within rtol 1e-4 / atol 1e-5. QDQ int8
models (made by onnxruntime.quantization.quantize_static from the float models here) must
agree within one output quantization step: upyflow rounds as TFLite Micro does (see the
docstring of upyflow_tools/readers/onnx/__init__.py), onnxruntime ties to even. Case parameters come
from one fixed seed and the case id. 4-D (NCHW) inputs and outputs are NHWC on the device;
in models with 1-D convolutions, 3-D (NCL) ones are NLC.
"""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto as TP  # noqa: E402
from onnx import helper as oh  # noqa: E402
from onnx import numpy_helper  # noqa: E402

from harness import CPYTHON_TIERS, load_cpython, needs_micropython, run_upyflow  # noqa: E402
from onnx_harness import (  # noqa: E402
    ACT_NODES,
    _count,
    act_node,
    bake_onnx,
    bn_inits,
    case_rng,
    cnn1d_model,
    cnn_model,
    conv_case,
    device_layout,
    f32,
    feeds_for,
    make,
    onnx_layout,
    ort_run,
    out_steps,
    pad_attrs,
    pool_case,
    quantize,
)
from upyflow_tools import BakeError  # noqa: E402
from upyflow_tools.bake import bake  # noqa: E402
from upyflow_tools.readers.onnx import read_onnx  # noqa: E402
from upyflow_tools.unixport import run_batch  # noqa: E402

RTOL, ATOL = 1e-4, 1e-5
pytestmark = pytest.mark.usefixtures("tier")  # every test on each CPython kernel tier


# --- building and running models ----------------------------------------------------------
def check_float(data: bytes, tmp_path, feeds_list: list[dict], rtol=RTOL, atol=ATOL, nlc: bool = False):
    mdir, name, result = bake_onnx(data, tmp_path)
    module = load_cpython(mdir, name)
    for feeds in feeds_list:
        want = ort_run(data, feeds)
        got = run_upyflow(module, [device_layout(v, nlc) for v in feeds.values()])
        for g, w in zip(got, want):
            np.testing.assert_allclose(onnx_layout(g, w.shape, nlc), w, rtol=rtol, atol=atol)
    return result


def kinds(result) -> list[str]:
    return [op.kind for op in result.graph.ops]


# --- convolution --------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["conv%d" % i for i in range(40)])
def test_conv(case, tmp_path):
    data, inputs, rng = conv_case(case, False)
    result = check_float(data, tmp_path, feeds_for(rng, inputs))
    assert "TRANSPOSE" not in kinds(result) and "CONV_2D" in kinds(result)


@pytest.mark.parametrize("case", ["dwconv%d" % i for i in range(30)])
def test_depthwise_conv(case, tmp_path):
    data, inputs, rng = conv_case(case, True)
    result = check_float(data, tmp_path, feeds_for(rng, inputs))
    assert "DEPTHWISE_CONV_2D" in kinds(result)


def test_conv_fuses_relu(tmp_path):
    rng = case_rng("fuse")
    inits = {"w": f32(rng, 4, 3, 3, 3), "b": f32(rng, 4)}
    nodes = [oh.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1])] + act_node("relu6", "c", "y", inits)
    result = check_float(
        make(nodes, {"x": [1, 3, 6, 6]}, ["y"], inits), tmp_path, feeds_for(rng, {"x": [1, 3, 6, 6]}, lo=-6, hi=6)
    )
    assert kinds(result) == ["CONV_2D"]
    assert result.graph.ops[0].options["fused_activation_function"] == "RELU6"


# --- grouped and 1-D convolution ---------------------------------------------------------------
def gconv_case(case: str, dims: int, mode: str, groups: tuple = (2, 5)):
    """A Conv with `dims` spatial axes; mode "grouped" (1 < group < C_in), "depthwise" or "plain"."""
    rng = case_rng(case)
    g = int(rng.integers(*groups)) if mode != "plain" else 1
    cg = 1 if mode == "depthwise" else int(rng.integers(2 if mode == "grouped" else 1, 4))
    og = int(rng.integers(1, 4))
    cin, cout = g * cg, g * og
    k = [int(rng.integers(1, 4)) for _ in range(dims)]
    s = [int(rng.integers(1, 3)) for _ in range(dims)]
    d = [int(rng.integers(1, 3)) for _ in range(dims)]
    pads = pad_attrs(rng, k, s, d)
    if str(pads.get("auto_pad", "")).startswith("SAME"):
        d = [1] * dims  # onnxruntime has no dilated SAME convolution
    size = [int(rng.integers((kk - 1) * dd + 1, 10 if dims == 2 else 20)) for kk, dd in zip(k, d)]
    attrs = dict(kernel_shape=k, strides=s, dilations=d, **pads)
    if g > 1:
        attrs["group"] = g
    inits = {"w": f32(rng, cout, cg, *k)}
    ins = ["x", "w"]
    if rng.random() < 0.7:
        inits["b"] = f32(rng, cout)
        ins.append("b")
    act = str(rng.choice(ACT_NODES))
    nodes = [oh.make_node("Conv", ins, ["c" if act != "none" else "y"], **attrs)]
    if act != "none":
        nodes += act_node(act, "c", "y", inits)
    shape = [1, cin] + size
    return make(nodes, {"x": shape}, ["y"], inits), {"x": shape}, rng, g, act


def check_groups(result, g: int, act: str) -> None:
    """A STRIDED_SLICE and a CONV_2D per group (the activation fused into each), one CONCATENATION."""
    k = kinds(result)
    assert k.count("STRIDED_SLICE") == g and k.count("CONV_2D") == g and k.count("CONCATENATION") == 1, k
    assert "TRANSPOSE" not in k and "DEPTHWISE_CONV_2D" not in k
    fused = {"relu": "RELU", "relu6": "RELU6", "relu_n1": "RELU_N1_TO_1"}.get(act, "NONE")
    convs = [op for op in result.graph.ops if op.kind == "CONV_2D"]
    assert all(op.options["fused_activation_function"] == fused for op in convs)
    assert ("MAXIMUM" in k) == (act == "clip")


@pytest.mark.parametrize("case", ["gconv%d" % i for i in range(24)])
def test_grouped_conv(case, tmp_path):
    data, inputs, rng, g, act = gconv_case(case, 2, "grouped")
    check_groups(check_float(data, tmp_path, feeds_for(rng, inputs)), g, act)


def test_grouped_conv_many_groups(tmp_path):
    """More than 10 groups: TFLM's CONCATENATION takes at most 10 inputs, so the concat is nested."""
    rng = case_rng("gconv12")
    inits = {"w": f32(rng, 24, 2, 3, 3), "b": f32(rng, 24)}
    data = make(
        [oh.make_node("Conv", ["x", "w", "b"], ["y"], group=12, pads=[1, 1, 1, 1])], {"x": [1, 24, 4, 5]}, ["y"], inits
    )
    result = check_float(data, tmp_path, feeds_for(rng, {"x": [1, 24, 4, 5]}))
    k = kinds(result)
    assert k.count("CONV_2D") == 12 and k.count("CONCATENATION") == 3
    assert max(len(op.inputs) for op in result.graph.ops if op.kind == "CONCATENATION") <= 10


def test_grouped_conv_folds_batchnorm(tmp_path):
    rng = case_rng("gconvbn")
    inits = {"w": f32(rng, 6, 2, 3, 3), **bn_inits(rng, 6, "bn")}
    nodes = [
        oh.make_node("Conv", ["x", "w"], ["c"], group=3, pads=[1, 1, 1, 1]),
        oh.make_node("BatchNormalization", ["c", "bng", "bnb", "bnm", "bnv"], ["n"]),
        oh.make_node("Relu", ["n"], ["y"]),
    ]
    result = check_float(make(nodes, {"x": [1, 6, 5, 5]}, ["y"], inits), tmp_path, feeds_for(rng, {"x": [1, 6, 5, 5]}))
    check_groups(result, 3, "relu")


@pytest.mark.parametrize("mode", ["plain", "grouped", "depthwise"])
@pytest.mark.parametrize("n", range(8))
def test_conv1d(mode, n, tmp_path):
    data, inputs, rng, _, _ = gconv_case("conv1d%s%d" % (mode, n), 1, mode)
    result = check_float(data, tmp_path, feeds_for(rng, inputs), nlc=True)
    k = kinds(result)
    assert "TRANSPOSE" not in k
    assert {"plain": "CONV_2D", "grouped": "CONCATENATION", "depthwise": "DEPTHWISE_CONV_2D"}[mode] in k


def pool1d_case(case: str, op: str):
    rng = case_rng(case)
    c, k, s = int(rng.integers(1, 5)), int(rng.integers(1, 4)), int(rng.integers(1, 3))
    attrs = dict(kernel_shape=[k], strides=[s])
    mode = rng.choice(["none", "same", "pads", "ceil"])
    if mode == "same":
        attrs["auto_pad"] = str(rng.choice(["SAME_UPPER", "SAME_LOWER"]))
        attrs["strides"] = [min(s, k)]
    elif mode == "pads":
        attrs["pads"] = [int(rng.integers(0, k))] * 2
    elif mode == "ceil" and op == "MaxPool":
        attrs["ceil_mode"] = 1
    if op == "AveragePool":
        # count_include_pad=0 with pads other than TFLite's SAME is rejected (tested for 2-D)
        lower = attrs.get("auto_pad") == "SAME_LOWER"
        attrs["count_include_pad"] = 1 if mode == "pads" or lower else int(rng.integers(0, 2))
    shape = [1, c, int(rng.integers(k, 16))]
    return make([oh.make_node(op, ["x"], ["y"], **attrs)], {"x": shape}, ["y"]), {"x": shape}, rng


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
@pytest.mark.parametrize("n", range(6))
def test_pool1d(op, n, tmp_path):
    data, inputs, rng = pool1d_case("%s1d%d" % (op, n), op)
    result = check_float(data, tmp_path, feeds_for(rng, inputs), nlc=True)
    assert "TRANSPOSE" not in kinds(result)


def test_cnn1d_runs_no_transpose(tmp_path):
    rng = case_rng("cnn1d")
    data, inputs = cnn1d_model(rng)
    result = check_float(data, tmp_path, feeds_for(rng, inputs, 3), nlc=True)
    k = kinds(result)
    assert "TRANSPOSE" not in k and "BATCH_NORMALIZATION" not in k and k.count("CONCATENATION") == 1
    assert k.count("CONV_2D") == 3 and k.count("DEPTHWISE_CONV_2D") == 1


def test_conv1d_without_kernel_shape(tmp_path):
    """A 1-D Conv is recognised by its weights' rank too: the rank-3 input is then NLC."""
    rng = case_rng("conv1dnok")
    data = make(
        [oh.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1])], {"x": [1, 3, 7]}, ["y"], {"w": f32(rng, 4, 3, 3)}
    )
    graph = read_onnx(data, input_layout="nhwc")
    assert graph.tensors[graph.inputs[0]].shape == (1, 7, 3) and graph.tensors[graph.outputs[0]].shape == (1, 7, 4)
    assert graph.tensors[graph.outputs[0]].name == "y"
    check_float(data, tmp_path, feeds_for(rng, {"x": [1, 3, 7]}), nlc=True)


def test_conv1d_on_rank3_input_of_2d_model_keeps_ncl(tmp_path):
    """Without 1-D convolutions a rank-3 input stays [N, C, L] on the device."""
    rng = case_rng("ncl")
    data = make([oh.make_node("Relu", ["x"], ["y"])], {"x": [1, 3, 5]}, ["y"])
    graph = read_onnx(data)
    assert graph.tensors[graph.inputs[0]].shape == (1, 3, 5)
    check_float(data, tmp_path, feeds_for(rng, {"x": [1, 3, 5]}))


# --- batch normalization -----------------------------------------------------------------------
def test_batchnorm_folds_into_conv(tmp_path):
    rng = case_rng("bnfold")
    inits = {"w": f32(rng, 5, 3, 3, 3), **bn_inits(rng, 5, "bn")}
    nodes = [
        oh.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        oh.make_node("BatchNormalization", ["c", "bng", "bnb", "bnm", "bnv"], ["n"], epsilon=1e-3),
        oh.make_node("Relu", ["n"], ["y"]),
    ]
    result = check_float(make(nodes, {"x": [1, 3, 7, 7]}, ["y"], inits), tmp_path, feeds_for(rng, {"x": [1, 3, 7, 7]}))
    assert kinds(result) == ["CONV_2D"]


def test_batchnorm_standalone(tmp_path):
    rng = case_rng("bnalone")
    inits = bn_inits(rng, 3, "bn")
    nodes = [oh.make_node("BatchNormalization", ["x", "bng", "bnb", "bnm", "bnv"], ["y"])]
    check_float(make(nodes, {"x": [1, 3, 4, 5]}, ["y"], inits), tmp_path, feeds_for(rng, {"x": [1, 3, 4, 5]}))


# --- pools --------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["maxpool%d" % i for i in range(20)])
def test_maxpool(case, tmp_path):
    data, inputs, rng = pool_case(case, "MaxPool")
    check_float(data, tmp_path, feeds_for(rng, inputs))


@pytest.mark.parametrize("case", ["avgpool%d" % i for i in range(20)])
def test_avgpool(case, tmp_path):
    data, inputs, rng = pool_case(case, "AveragePool")
    check_float(data, tmp_path, feeds_for(rng, inputs))


def test_avgpool_count_include_pad_same_semantics(tmp_path):
    """SAME-style pads: count_include_pad=0 is TFLite's SAME pool, 1 pads explicitly."""
    rng = case_rng("cip")
    for include in (0, 1):
        data = make(
            [
                oh.make_node(
                    "AveragePool", ["x"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=include
                )
            ],
            {"x": [1, 2, 5, 5]},
            ["y"],
        )
        result = check_float(data, tmp_path, feeds_for(rng, {"x": [1, 2, 5, 5]}))
        assert ("PAD" in kinds(result)) == bool(include)


def test_avgpool_unexpressible_pads_rejected():
    data = make(
        [oh.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], pads=[0, 0, 2, 2])], {"x": [1, 2, 5, 5]}, ["y"]
    )
    with pytest.raises(BakeError, match="AveragePool node .*count_include_pad=0 differ from TFLite's SAME"):
        read_onnx(data)


def test_avgpool_ceil_overhang_rejected():
    data = make(
        [oh.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)],
        {"x": [1, 2, 6, 6]},
        ["y"],
    )
    with pytest.raises(BakeError, match="AveragePool node .*ceil_mode windows that run past the input"):
        read_onnx(data)


@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool"])
@pytest.mark.parametrize("shape", [[1, 3, 4, 6], [1, 3, 7]])
def test_global_pools(op, shape, tmp_path):
    rng = case_rng(op if len(shape) == 4 else op + "1d")
    check_float(make([oh.make_node(op, ["x"], ["y"])], {"x": shape}, ["y"]), tmp_path, feeds_for(rng, {"x": shape}))


# --- fully connected -------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["gemm%d" % i for i in range(12)])
def test_gemm(case, tmp_path):
    rng = case_rng(case)
    m, k, n = int(rng.integers(1, 4)), int(rng.integers(1, 12)), int(rng.integers(1, 9))
    trans_b = int(rng.integers(0, 2))
    attrs = dict(transB=trans_b, alpha=float(rng.choice([1.0, 0.5])), beta=float(rng.choice([1.0, 2.0])))
    inits = {"w": f32(rng, *((n, k) if trans_b else (k, n))), "c": f32(rng, *([n] if rng.random() < 0.5 else [1, n]))}
    data = make([oh.make_node("Gemm", ["x", "w", "c"], ["y"], **attrs)], {"x": [m, k]}, ["y"], inits)
    assert kinds(check_float(data, tmp_path, feeds_for(rng, {"x": [m, k]}))) == ["FULLY_CONNECTED"]


def test_mlp_matmul_add(tmp_path):
    rng = case_rng("mlp")
    inits = {"w1": f32(rng, 10, 16), "b1": f32(rng, 16), "w2": f32(rng, 16, 4), "b2": f32(rng, 4)}
    nodes = [
        oh.make_node("MatMul", ["x", "w1"], ["h"]),
        oh.make_node("Add", ["h", "b1"], ["ha"]),
        oh.make_node("Relu", ["ha"], ["r"]),
        oh.make_node("MatMul", ["r", "w2"], ["o"]),
        oh.make_node("Add", ["o", "b2"], ["oa"]),
        oh.make_node("Softmax", ["oa"], ["y"]),
    ]
    result = check_float(make(nodes, {"x": [1, 10]}, ["y"], inits), tmp_path, feeds_for(rng, {"x": [1, 10]}, 3))
    assert kinds(result) == ["FULLY_CONNECTED", "FULLY_CONNECTED", "SOFTMAX"]


def test_matmul_of_two_computed_tensors_reads_as_batch_matmul():
    data = make([oh.make_node("MatMul", ["a", "b"], ["y"])], {"a": [2, 3], "b": [3, 2]}, ["y"])
    assert [op.kind for op in read_onnx(data).ops] == ["BATCH_MATMUL"]
    bad = make([oh.make_node("MatMul", ["a", "b"], ["y"])], {"a": [2, 3], "b": [4, 2]}, ["y"])
    with pytest.raises(BakeError, match=r"^MatMul node '': shapes \[2, 3\] and \[4, 2\] \(BATCH_MATMUL"):
        read_onnx(bad)


# --- a small CNN: the layout folding -----------------------------------------------------------------
@pytest.mark.parametrize("flatten", ["Flatten", "Reshape"])
def test_cnn_runs_no_transpose(flatten, tmp_path):
    """NCHW flatten order is fixed by permuting the Gemm weights at bake time, not at run time."""
    rng = case_rng("cnn" + flatten)
    data, inputs = cnn_model(rng, flatten)
    result = check_float(data, tmp_path, feeds_for(rng, inputs, 3))
    assert kinds(result) == [
        "CONV_2D",
        "PAD",
        "DEPTHWISE_CONV_2D",
        "CONV_2D",
        "MAX_POOL_2D",
        "FULLY_CONNECTED",
        "SOFTMAX",
    ]
    assert "batch dimension 'N' of input 'x' set to 1" in result.graph.description


def test_transpose_pair_folds(tmp_path):
    """An NHWC model exported through Transposes keeps its layout and runs no transpose."""
    rng = case_rng("tpair")
    inits = {"w": f32(rng, 4, 3, 3, 3)}
    nodes = [
        oh.make_node("Transpose", ["x"], ["xt"], perm=[0, 3, 1, 2]),
        oh.make_node("Conv", ["xt", "w"], ["c"], pads=[1, 1, 1, 1]),
        oh.make_node("Transpose", ["c"], ["y"], perm=[0, 2, 3, 1]),
    ]
    data = make(nodes, {"x": [1, 5, 5, 3]}, ["y"], inits)
    mdir, name, result = bake_onnx(data, tmp_path)
    assert kinds(result) == ["CONV_2D"]
    module = load_cpython(mdir, name)
    x = rng.uniform(-1, 1, (1, 5, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(run_upyflow(module, [x])[0], ort_run(data, {"x": x})[0], rtol=RTOL, atol=ATOL)


def test_transpose_that_changes_order_runs(tmp_path):
    rng = case_rng("tperm")
    nodes = [oh.make_node("Transpose", ["x"], ["t"], perm=[1, 0, 2]), oh.make_node("Relu", ["t"], ["y"])]
    result = check_float(make(nodes, {"x": [2, 3, 4]}, ["y"]), tmp_path, feeds_for(rng, {"x": [2, 3, 4]}))
    assert "TRANSPOSE" in kinds(result)


def test_shape_arithmetic_is_folded(tmp_path):
    """PyTorch's x.view(x.size(0), -1): Shape -> Gather -> Unsqueeze -> Concat -> Reshape."""
    rng = case_rng("shapefold")
    inits = {
        "w": f32(rng, 3, 2, 3, 3),
        "wf": f32(rng, 4, 3 * 4 * 4),
        "i0": np.array(0, np.int64),
        "m1": np.array([-1], np.int64),
        "ax": np.array([0], np.int64),
    }
    nodes = [
        oh.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        oh.make_node("Shape", ["c"], ["s"]),
        oh.make_node("Gather", ["s", "i0"], ["n"], axis=0),
        oh.make_node("Unsqueeze", ["n", "ax"], ["nu"]),
        oh.make_node("Concat", ["nu", "m1"], ["sh"], axis=0),
        oh.make_node("Reshape", ["c", "sh"], ["f"]),
        oh.make_node("Gemm", ["f", "wf"], ["y"], transB=1),
    ]
    result = check_float(make(nodes, {"x": [1, 2, 4, 4]}, ["y"], inits), tmp_path, feeds_for(rng, {"x": [1, 2, 4, 4]}))
    assert kinds(result) == ["CONV_2D", "FULLY_CONNECTED"]


# --- element-wise and branches -----------------------------------------------------------------------
def test_residual_add_and_concat(tmp_path):
    rng = case_rng("residual")
    inits = {
        "w1": f32(rng, 4, 4, 3, 3),
        "w2": f32(rng, 4, 4, 1, 1),
        "s": f32(rng, 1, 4, 1, 1),
        "w3": f32(rng, 3, 8, 1, 1),
    }
    nodes = [
        oh.make_node("Conv", ["x", "w1"], ["a"], pads=[1, 1, 1, 1]),
        oh.make_node("Relu", ["a"], ["ar"]),
        oh.make_node("Add", ["ar", "x"], ["res"]),
        oh.make_node("Mul", ["res", "s"], ["sc"]),
        oh.make_node("Conv", ["x", "w2"], ["b"]),
        oh.make_node("Concat", ["sc", "b"], ["cat"], axis=1),
        oh.make_node("Conv", ["cat", "w3"], ["y"]),
    ]
    result = check_float(
        make(nodes, {"x": [1, 4, 5, 6]}, ["y"], inits), tmp_path, feeds_for(rng, {"x": [1, 4, 5, 6]}, 3)
    )
    assert "TRANSPOSE" not in kinds(result)


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
@pytest.mark.parametrize("bshape", [[1, 3, 1, 1], [3, 1, 1], [1], [4], [1, 3, 2, 4], "runtime"])
def test_binary_broadcast(op, bshape, tmp_path):
    rng = case_rng(op + str(bshape))
    if bshape == "runtime":
        data = make(
            [oh.make_node(op if op != "Div" else "Mul", ["x", "z"], ["y"])],
            {"x": [1, 3, 2, 4], "z": [1, 3, 2, 4]},
            ["y"],
        )
        check_float(data, tmp_path, feeds_for(rng, {"x": [1, 3, 2, 4], "z": [1, 3, 2, 4]}))
        return
    c = rng.uniform(0.5, 2.0, size=bshape).astype(np.float32)
    data = make([oh.make_node(op, ["x", "c"], ["y"])], {"x": [1, 3, 2, 4]}, ["y"], {"c": c})
    check_float(data, tmp_path, feeds_for(rng, {"x": [1, 3, 2, 4]}))


@pytest.mark.parametrize(
    "shape,axis", [([1, 3, 4, 5], 1), ([1, 3, 4, 5], 3), ([2, 6], 1), ([2, 6], 0), ([3, 4, 2], -1)]
)
def test_concat(shape, axis, tmp_path):
    rng = case_rng("concat%s%d" % (shape, axis))
    other = list(shape)
    other[axis] += 2
    other[axis] -= 1
    data = make([oh.make_node("Concat", ["a", "b"], ["y"], axis=axis)], {"a": shape, "b": other}, ["y"])
    check_float(data, tmp_path, feeds_for(rng, {"a": shape, "b": other}))


# --- activations and softmax --------------------------------------------------------------------------
UNARY = [
    ("Relu", {}),
    ("Sigmoid", {}),
    ("Tanh", {}),
    ("HardSwish", {}),
    ("LeakyRelu", {"alpha": 0.1}),
    ("LeakyRelu", {}),
    ("Elu", {}),
    ("Elu", {"alpha": 0.3}),
    ("Identity", {}),
    ("Softmax", {"axis": 1}),
    ("Softmax", {"axis": -1}),
]


@pytest.mark.parametrize("shape", [[1, 3, 4, 5], [2, 7]])
@pytest.mark.parametrize("op,attrs", UNARY)
def test_unary(op, attrs, shape, tmp_path):
    rng = case_rng("%s%s%s" % (op, attrs, shape))
    data = make([oh.make_node(op, ["x"], ["y"], **attrs)], {"x": shape}, ["y"])
    check_float(data, tmp_path, feeds_for(rng, {"x": shape}, lo=-5, hi=5))


@pytest.mark.parametrize("bounds", [(0.0, 6.0), (-1.0, 1.0), (0.0, None), (-0.5, 2.0), (None, 1.5)])
def test_clip(bounds, tmp_path):
    rng = case_rng("clip%s" % (bounds,))
    inits = {}
    ins = ["x", "", ""]
    for k, v in enumerate(bounds):
        if v is not None:
            inits["b%d" % k] = np.array(v, np.float32)
            ins[k + 1] = "b%d" % k
    data = make([oh.make_node("Clip", ins, ["y"])], {"x": [1, 2, 3, 4]}, ["y"], inits)
    check_float(data, tmp_path, feeds_for(rng, {"x": [1, 2, 3, 4]}, lo=-8, hi=8))


def test_softmax_opset11_flattens(tmp_path):
    rng = case_rng("sm11")
    data = make([oh.make_node("Softmax", ["x"], ["y"], axis=1)], {"x": [2, 3, 4]}, ["y"], opset=11)
    check_float(data, tmp_path, feeds_for(rng, {"x": [2, 3, 4]}))


@pytest.mark.parametrize("pads,value", [([0, 0, 1, 2, 0, 0, 2, 1], 0.0), ([0, 1, 0, 1, 0, 2, 1, 0], 1.5)])
def test_pad(pads, value, tmp_path):
    rng = case_rng("pad%s" % pads)
    inits = {"p": np.array(pads, np.int64), "v": np.array(value, np.float32)}
    data = make([oh.make_node("Pad", ["x", "p", "v"], ["y"])], {"x": [1, 2, 3, 4]}, ["y"], inits)
    check_float(data, tmp_path, feeds_for(rng, {"x": [1, 2, 3, 4]}))


def test_constant_node(tmp_path):
    rng = case_rng("constnode")
    c = oh.make_node("Constant", [], ["c"], value=numpy_helper.from_array(f32(rng, 1, 3, 1, 1), "c"))
    data = make([c, oh.make_node("Add", ["x", "c"], ["y"])], {"x": [1, 3, 2, 2]}, ["y"])
    check_float(data, tmp_path, feeds_for(rng, {"x": [1, 3, 2, 2]}))


# --- errors -----------------------------------------------------------------------------------------
def test_unsupported_op_is_named():
    data = make([oh.make_node("Erf", ["x"], ["y"])], {"x": [1, 4]}, ["y"])
    with pytest.raises(
        BakeError,
        match=r"^unsupported ONNX operator Erf \(Erf is read only inside torch's "
        r"exact GELU, .*, which runs as GELU\); upyflow reads ONNX "
        r"Abs, Add, .*AveragePool, .*Conv, .*MatMul, ",
    ):
        read_onnx(data)


def test_unsupported_opset():
    # Flatten changed at opset 9 (Relu of opset 7 is Relu-6, as at 9: read as opset 9)
    assert read_onnx(make([oh.make_node("Relu", ["x"], ["y"])], {"x": [1, 4]}, ["y"], opset=7)).ops[0].kind == "RELU"
    data = make([oh.make_node("Flatten", ["x"], ["y"])], {"x": [1, 4]}, ["y"], opset=7)
    with pytest.raises(BakeError, match=r"^ONNX opset 7 is not supported \(upyflow reads opsets 9 to 28\)$"):
        read_onnx(data)


def test_dynamic_shape():
    data = make([oh.make_node("Relu", ["x"], ["y"])], {"x": [1, "H", 4]}, ["y"])
    with pytest.raises(
        BakeError, match="^graph input 'x' has a dynamic dimension 'H' .axis 1.; upyflow needs static shapes"
    ):
        read_onnx(data)


def test_float64_input_rejected():
    graph = oh.make_graph(
        [oh.make_node("Relu", ["x"], ["y"])],
        "g",
        [oh.make_tensor_value_info("x", TP.DOUBLE, [1, 4])],
        [oh.make_tensor_value_info("y", TP.DOUBLE, [1, 4])],
    )
    data = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)]).SerializeToString()
    with pytest.raises(BakeError, match="graph input 'x' has type float64, which upyflow does not support"):
        read_onnx(data)


def test_not_onnx():
    with pytest.raises(BakeError, match="^not a valid ONNX file"):
        read_onnx(b"\xff\xff\xff\xff garbage")


# --- QDQ int8 models ----------------------------------------------------------------------------------
def check_qdq(
    qdata: bytes, tmp_path, feeds_list: list[dict], max_steps: float = 1.0, within_one: float = 1.0, nlc: bool = False
):
    """upyflow vs onnxruntime in output steps: at most max_steps anywhere, and at most one step
    for the fraction within_one of all outputs (a one-step rounding difference in one layer can
    move later layers by more than one step)."""
    mdir, name, result = bake_onnx(qdata, tmp_path)
    module = load_cpython(mdir, name)
    steps = out_steps(qdata)
    diffs = []
    for feeds in feeds_list:
        want = ort_run(qdata, feeds)
        got = run_upyflow(module, [device_layout(v, nlc) for v in feeds.values()])
        for g, w, step in zip(got, want, steps):
            diffs.append((np.abs(onnx_layout(g, w.shape, nlc).astype(np.float64) - w) / step).ravel())
    d = np.concatenate(diffs)
    assert d.max() <= max_steps + 1e-3, "differs from onnxruntime by %.2f output steps" % d.max()
    assert np.mean(d <= 1 + 1e-3) >= within_one, "%.1f%% within one step" % (100 * np.mean(d <= 1 + 1e-3))
    return result


_WRITER_DTYPES = {"f32": "float32", "i8": "int8", "i32": "int32", "i16": "int16"}


def graph_to_tflite(graph) -> bytes:
    """The ir.Graph the ONNX reader made, written as a .tflite (for the TFLM interpreter)."""
    from tflite_writer import ModelWriter

    w = ModelWriter()
    for t in graph.tensors:
        w.tensor(
            list(t.shape),
            _WRITER_DTYPES[t.dtype],
            t.scale or None,
            t.zero_point or None,
            t.quantized_dimension,
            t.data,
            t.name,
        )
    for op in graph.ops:
        opts = dict(op.options)
        if op.kind == "FULLY_CONNECTED":
            opts.pop("keep_num_dims")  # TFLM keeps the dims from the output tensor's shape
        w.op(op.kind, op.inputs, op.outputs, **opts)
    return w.build(graph.inputs, graph.outputs)


def check_tflm(qdata: bytes, feeds_list: list[dict], nlc: bool = False) -> None:
    """upyflow runs the graph read from ONNX bit-exactly as the TFLM interpreter runs it."""
    from harness import run_tflm

    graph = read_onnx(qdata, input_layout="nhwc")  # the layout device_layout gives
    tfl = graph_to_tflite(graph)
    mdir, name, _ = bake_onnx_tflite(tfl)
    module = load_cpython(mdir, name)
    for feeds in feeds_list:
        ins = [device_layout(v, nlc) for v in feeds.values()]
        for g, t in zip(run_upyflow(module, ins), run_tflm(tfl, ins)):
            np.testing.assert_array_equal(g, t)


def bake_onnx_tflite(tfl: bytes):
    import tempfile

    d = tempfile.mkdtemp(prefix="upyflow_onnx_")
    name = "tfl%d" % next(_count)
    result, _ = bake("model.tflite", d, name=name, data=tfl)
    return d, name, result


def int8_kinds(result) -> list[str]:
    g = result.graph
    return [op.kind for op in g.ops if g.tensors[op.outputs[0]].dtype == "i8"]


# Whole models: bit-exact with TFLM running the same graph, and close to onnxruntime.
@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("flatten", ["Flatten", "Reshape"])
def test_qdq_cnn(per_channel, flatten, tmp_path):
    rng = case_rng("qcnn%s%s" % (per_channel, flatten))
    data, inputs = cnn_model(rng, flatten)
    qdata = quantize(data, inputs, tmp_path, per_channel, "cnn", preprocess=True)
    feeds = feeds_for(rng, inputs, 8)
    result = check_qdq(qdata, tmp_path, feeds, max_steps=4, within_one=0.95)
    check_tflm(qdata, feeds)
    k = int8_kinds(result)
    for kind in ("CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "FULLY_CONNECTED"):
        assert kind in k
    assert kinds(result)[0] == "QUANTIZE" and kinds(result)[-1] == "DEQUANTIZE"
    assert "TRANSPOSE" not in kinds(result)


@pytest.mark.parametrize("per_channel", [False, True])
def test_qdq_mlp(per_channel, tmp_path):
    rng = case_rng("qmlp%s" % per_channel)
    inits = {"w1": f32(rng, 12, 16), "b1": f32(rng, 16), "w2": f32(rng, 8, 16), "b2": f32(rng, 8)}
    nodes = [
        oh.make_node("Gemm", ["x", "w1", "b1"], ["h"]),
        oh.make_node("Relu", ["h"], ["r"]),
        oh.make_node("Gemm", ["r", "w2", "b2"], ["y"], transB=1),
    ]
    data = make(nodes, {"x": [1, 12]}, ["y"], inits)
    qdata = quantize(data, {"x": [1, 12]}, tmp_path, per_channel, "mlp")
    feeds = feeds_for(rng, {"x": [1, 12]}, 8)
    result = check_qdq(qdata, tmp_path, feeds, max_steps=2, within_one=0.95)
    check_tflm(qdata, feeds)
    assert int8_kinds(result).count("FULLY_CONNECTED") == 2


def test_qdq_branches(tmp_path):
    """Residual Add, Mul by a constant, Concat, average pool, global average pool."""
    rng = case_rng("qbranch")
    inits = {
        "w1": f32(rng, 4, 4, 3, 3),
        "w2": f32(rng, 4, 4, 1, 1),
        "s": rng.uniform(0.5, 1.5, (1, 4, 1, 1)).astype(np.float32),
        "w3": f32(rng, 6, 8, 1, 1),
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
    data = make(nodes, {"x": [1, 4, 6, 6]}, ["y"], inits)
    qdata = quantize(data, {"x": [1, 4, 6, 6]}, tmp_path, True, "branch")
    feeds = feeds_for(rng, {"x": [1, 4, 6, 6]}, 8)
    result = check_qdq(qdata, tmp_path, feeds, max_steps=4, within_one=0.85)
    check_tflm(qdata, feeds)
    k = int8_kinds(result)
    for kind in ("ADD", "MUL", "CONCATENATION", "AVERAGE_POOL_2D", "MEAN"):
        assert kind in k


# Each operator on its own (quantize_static of a one-op model): within one output step.
def qdq_single(
    case: str, tmp_path, data: bytes, inputs: dict, per_channel: bool, kind: str, nlc: bool = False, tflm: bool = False
):
    """`tflm`: also run the graph read from ONNX on the TFLM interpreter (bit-exact)."""
    rng = case_rng(case)
    qdata = quantize(data, inputs, tmp_path, per_channel, case)
    feeds = feeds_for(rng, inputs, 4)
    result = check_qdq(qdata, tmp_path, feeds, nlc=nlc)
    assert kind in int8_kinds(result), kinds(result)
    if tflm:
        check_tflm(qdata, feeds, nlc)
    return result


@pytest.mark.parametrize("case", ["qconv%d" % i for i in range(12)])
def test_qdq_conv(case, tmp_path):
    data, inputs, rng = conv_case(case, False)
    qdq_single(case, tmp_path, data, inputs, bool(rng.integers(0, 2)), "CONV_2D")


@pytest.mark.parametrize("case", ["qdwconv%d" % i for i in range(8)])
def test_qdq_depthwise(case, tmp_path):
    data, inputs, rng = conv_case(case, True)
    qdq_single(case, tmp_path, data, inputs, bool(rng.integers(0, 2)), "DEPTHWISE_CONV_2D")


@pytest.mark.parametrize("case", ["qgconv%d" % i for i in range(10)])
def test_qdq_grouped_conv(case, tmp_path):
    data, inputs, rng, g, _ = gconv_case(case, 2, "grouped")
    result = qdq_single(case, tmp_path, data, inputs, bool(rng.integers(0, 2)), "CONV_2D", tflm=True)
    assert "CONCATENATION" in int8_kinds(result) and int8_kinds(result).count("CONV_2D") == g
    concat = [op for op in result.graph.ops if op.kind == "CONCATENATION"][0]
    ts = result.graph.tensors
    assert all((ts[t].sc, ts[t].zp) == (ts[concat.outputs[0]].sc, ts[concat.outputs[0]].zp) for t in concat.inputs)


def test_qdq_grouped_conv_many_groups(tmp_path):
    rng = case_rng("qgconv12")
    inits = {"w": f32(rng, 22, 2, 3, 3), "b": f32(rng, 22)}
    data = make(
        [oh.make_node("Conv", ["x", "w", "b"], ["y"], group=11, pads=[1, 1, 1, 1])], {"x": [1, 22, 4, 4]}, ["y"], inits
    )
    result = qdq_single("qgconv12", tmp_path, data, {"x": [1, 22, 4, 4]}, True, "CONV_2D", tflm=True)
    assert int8_kinds(result).count("CONCATENATION") == 2


@pytest.mark.parametrize("mode", ["plain", "grouped", "depthwise"])
@pytest.mark.parametrize("n", range(3))
def test_qdq_conv1d(mode, n, tmp_path):
    case = "qconv1d%s%d" % (mode, n)
    data, inputs, rng, _, _ = gconv_case(case, 1, mode)
    qdq_single(
        case,
        tmp_path,
        data,
        inputs,
        bool(rng.integers(0, 2)),
        "DEPTHWISE_CONV_2D" if mode == "depthwise" else "CONV_2D",
        nlc=True,
        tflm=True,
    )


@pytest.mark.parametrize("op,kind", [("MaxPool", "MAX_POOL_2D"), ("AveragePool", "AVERAGE_POOL_2D")])
def test_qdq_pool1d(op, kind, tmp_path):
    rng = case_rng("qpool1d" + op)
    attrs = dict(kernel_shape=[3], strides=[2], pads=[1, 1])
    if op == "AveragePool":
        attrs["count_include_pad"] = 1
    data = manual_qdq(op, attrs, (0.03, -5), (0.03, -5), [1, 3, 11])
    feeds = feeds_for(rng, {"x": [1, 3, 11]}, 4)
    result = check_qdq(data, tmp_path, feeds, nlc=True)
    check_tflm(data, feeds, nlc=True)
    assert kind in int8_kinds(result) and "TRANSPOSE" not in kinds(result)


@pytest.mark.parametrize("per_channel", [False, True])
def test_qdq_cnn1d(per_channel, tmp_path):
    rng = case_rng("qcnn1d%s" % per_channel)
    data, inputs = cnn1d_model(rng)
    qdata = quantize(data, inputs, tmp_path, per_channel, "cnn1d", preprocess=True)
    feeds = feeds_for(rng, inputs, 8)
    result = check_qdq(qdata, tmp_path, feeds, max_steps=4, within_one=0.95, nlc=True)
    check_tflm(qdata, feeds, nlc=True)
    k = int8_kinds(result)
    for kind in ("CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "CONCATENATION", "MEAN", "FULLY_CONNECTED"):
        assert kind in k
    assert "TRANSPOSE" not in kinds(result)


@pytest.mark.parametrize("case", ["qgemm%d" % i for i in range(6)])
def test_qdq_gemm(case, tmp_path):
    rng = case_rng(case)
    k, n = int(rng.integers(2, 12)), int(rng.integers(1, 9))
    inits = {"w": f32(rng, n, k), "c": f32(rng, n)}
    data = make([oh.make_node("Gemm", ["x", "w", "c"], ["y"], transB=1)], {"x": [1, k]}, ["y"], inits)
    qdq_single(case, tmp_path, data, {"x": [1, k]}, bool(rng.integers(0, 2)), "FULLY_CONNECTED")


@pytest.mark.parametrize(
    "op,kind,pads",
    [
        ("MaxPool", "MAX_POOL_2D", [0, 0, 0, 0]),
        ("MaxPool", "MAX_POOL_2D", [1, 0, 1, 1]),
        ("AveragePool", "AVERAGE_POOL_2D", [0, 0, 0, 0]),
        ("AveragePool", "AVERAGE_POOL_2D", [1, 1, 1, 1]),
    ],
)
def test_qdq_pool(op, kind, pads, tmp_path):
    """(onnxruntime's quantizer leaves a pool on a graph input in float: Q/DQ written here.)"""
    rng = case_rng("qpool" + op + str(pads))
    attrs = dict(kernel_shape=[2, 3], strides=[2, 1], pads=pads)
    if op == "AveragePool":
        attrs["count_include_pad"] = 1
    data = manual_qdq(op, attrs, (0.03, -5), (0.03, -5), [1, 3, 6, 7])
    result = check_qdq(data, tmp_path, feeds_for(rng, {"x": [1, 3, 6, 7]}, 4))
    assert kind in int8_kinds(result)


@pytest.mark.parametrize("op,kind", [("Add", "ADD"), ("Mul", "MUL"), ("Sub", "SUB")])
def test_qdq_binary(op, kind, tmp_path):
    data = make([oh.make_node(op, ["a", "b"], ["y"])], {"a": [1, 3, 4, 5], "b": [1, 3, 4, 5]}, ["y"])
    rng = case_rng("q" + op)
    qdata = quantize(data, {"a": [1, 3, 4, 5], "b": [1, 3, 4, 5]}, tmp_path, False, "q" + op)
    if kind == "SUB":  # onnxruntime's quantizer leaves Sub in float: Q/DQ written here
        qdata = manual_qdq(op, {}, (0.02, 4), (0.035, -9), [1, 3, 4, 5], second=(0.015, -20))
    result = check_qdq(qdata, tmp_path, feeds_for(rng, {"a": [1, 3, 4, 5], "b": [1, 3, 4, 5]}, 4))
    assert kind in int8_kinds(result)


def test_qdq_concat_and_global_pool(tmp_path):
    nodes = [oh.make_node("Concat", ["a", "b"], ["c"], axis=1), oh.make_node("GlobalAveragePool", ["c"], ["y"])]
    data = make(nodes, {"a": [1, 2, 4, 4], "b": [1, 3, 4, 4]}, ["y"])
    rng = case_rng("qcat")
    qdata = quantize(data, {"a": [1, 2, 4, 4], "b": [1, 3, 4, 4]}, tmp_path, False, "qcat")
    result = check_qdq(qdata, tmp_path, feeds_for(rng, {"a": [1, 2, 4, 4], "b": [1, 3, 4, 4]}, 4))
    assert {"CONCATENATION", "MEAN"} <= set(int8_kinds(result))


def manual_qdq(op: str, attrs: dict, in_q: tuple, out_q: tuple, shape, second: tuple | None = None) -> bytes:
    """x -> Q -> DQ -> op -> Q -> DQ -> y with the given (scale, zero point) pairs; `second`:
    a second input b quantized so (inputs named a and b then)."""
    ins = {"a": shape, "b": shape} if second else {"x": shape}
    inits = {"so": np.array(out_q[0], np.float32), "zo": np.array(out_q[1], np.int8)}
    nodes = []
    for name, q in zip(ins, (in_q, second)):
        inits["s" + name], inits["z" + name] = np.array(q[0], np.float32), np.array(q[1], np.int8)
        nodes += [
            oh.make_node("QuantizeLinear", [name, "s" + name, "z" + name], [name + "q"]),
            oh.make_node("DequantizeLinear", [name + "q", "s" + name, "z" + name], [name + "d"]),
        ]
    nodes += [
        oh.make_node(op, [n + "d" for n in ins], ["h"], **attrs),
        oh.make_node("QuantizeLinear", ["h", "so", "zo"], ["hq"]),
        oh.make_node("DequantizeLinear", ["hq", "so", "zo"], ["y"]),
    ]
    return make(nodes, ins, ["y"], inits)


@pytest.mark.parametrize(
    "op,attrs,out_q,kind",
    [
        ("Sigmoid", {}, (1 / 256, -128), "LOGISTIC"),
        ("Tanh", {}, (1 / 128, 0), "TANH"),
        ("HardSwish", {}, (0.03, -100), "HARD_SWISH"),
        ("LeakyRelu", {"alpha": 0.2}, (0.02, -30), "LEAKY_RELU"),
        ("Relu", {}, (0.02, -128), "RELU"),
        ("Elu", {}, (0.03, -94), "ELU"),
        ("Elu", {"alpha": 0.3}, (0.03, -94), "DEQUANTIZE"),  # TFLite's ELU has alpha 1: float
        ("Softmax", {"axis": -1}, (1 / 256, -128), "SOFTMAX"),
        ("Sigmoid", {}, (0.004, -120), "DEQUANTIZE"),
    ],
)  # an output TFLM's LOGISTIC cannot make: float
def test_qdq_activation(op, attrs, out_q, kind, tmp_path):
    rng = case_rng("qact" + op + str(out_q))
    data = manual_qdq(op, attrs, (0.04, 3), out_q, [2, 9])
    result = check_qdq(data, tmp_path, feeds_for(rng, {"x": [2, 9]}, 6, lo=-5, hi=5))
    assert kind in kinds(result) and (kind == "DEQUANTIZE" or kind in int8_kinds(result))


def test_uint8_quantization_runs_as_int8(tmp_path):
    """QUInt8 activations: zero points and bytes minus 128 are the same int8 model; the
    output agrees with onnxruntime within one output step."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    rng = case_rng("u8")
    data = make([oh.make_node("Gemm", ["x", "w"], ["y"], transB=1)], {"x": [1, 4]}, ["y"], {"w": f32(rng, 3, 4)})
    (tmp_path / "f.onnx").write_bytes(data)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"x": rng.uniform(-1, 1, (1, 4)).astype(np.float32)} for _ in range(4)])

        def get_next(self):
            return next(self.it, None)

    quantize_static(
        str(tmp_path / "f.onnx"),
        str(tmp_path / "q.onnx"),
        Reader(),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
    )
    q = onnx.load(str(tmp_path / "q.onnx"))
    last_dq = [n for n in q.graph.node if n.op_type == "DequantizeLinear"][-1]
    step = float(numpy_helper.to_array([i for i in q.graph.initializer if i.name == last_dq.input[1]][0]))
    qdata = q.SerializeToString()
    mdir, name, result = bake_onnx(qdata, tmp_path)
    assert "FULLY_CONNECTED" in kinds(result)
    module = load_cpython(mdir, name)
    for feeds in feeds_for(rng, {"x": [1, 4]}, 3, -1.0, 1.0):
        want = ort_run(qdata, feeds)[0]
        got = run_upyflow(module, [feeds["x"]])[0]
        np.testing.assert_allclose(got.reshape(want.shape), want, atol=step * 1.01, rtol=0)


# --- MicroPython --------------------------------------------------------------------------------------
@needs_micropython
@pytest.mark.parametrize("model", ["cnn", "cnn1d"])
@pytest.mark.parametrize("quant", [False, True])
def test_micropython_unix_port(quant, model, tier, tmp_path):
    if tier != CPYTHON_TIERS[0]:
        pytest.skip("one MicroPython run per model")
    one_d = model == "cnn1d"
    tag = "upy1d" if one_d else "upy"
    rng = case_rng("%s%s" % (tag, quant))
    data, inputs = cnn1d_model(rng) if one_d else cnn_model(rng)
    if quant:
        data = quantize(data, inputs, tmp_path, True, tag, preprocess=True)
    mdir, name, _ = bake_onnx(data, tmp_path)
    feeds = feeds_for(rng, inputs, 3)
    outs, _ = run_batch(
        mdir, name, [[device_layout(f["x"], one_d).tobytes()] for f in feeds], env={"UPYFLOW_TIER": "pure"}
    )
    steps = out_steps(data) if quant else None
    for f, o in zip(feeds, outs):
        for k, want in enumerate(ort_run(data, f)):
            want = device_layout(want, one_d)
            got = np.frombuffer(o[k], np.float32).reshape(want.shape)
            if quant:  # one step for one layer; the 1-D model's int8 layers may add up to a few
                assert np.abs(got - want).max() <= steps[k] * (4 if one_d else 1) * (1 + 1e-3)
            else:
                np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
