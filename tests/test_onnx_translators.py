"""ONNX operators the reader builds from existing TFLite kernels (issue 15): Resize, ConvTranspose,
Split, DepthToSpace, Max/Min/Sum/Mean, Pow, Neg, Abs, Expand, HardSigmoid, Swish, PRelu,
ReduceMean; opsets up to 28; graph inputs baked as constants. onnxruntime is the oracle
(float32 within rtol 1e-5 / atol 1e-6); rank-4 tensors are NHWC on the device."""

from __future__ import annotations

import json
import subprocess
import sys
import zlib

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto as TP  # noqa: E402
from onnx import helper as oh  # noqa: E402
from onnx import numpy_helper  # noqa: E402

from harness import load_cpython, run_upyflow  # noqa: E402
from upyflow_tools import BakeError  # noqa: E402
from upyflow_tools.bake import bake, compile_model  # noqa: E402

RTOL, ATOL = 1e-5, 1e-6
_count = iter(range(10**6))


# every test on each CPython tier: conftest.py's tier fixture
pytestmark = pytest.mark.usefixtures("tier")


def rng_for(case: str) -> np.random.Generator:
    return np.random.default_rng([0x15, zlib.crc32(case.encode())])


def model(nodes, inputs: dict, outputs: list[str], inits: dict | None = None, opset: int = 21) -> bytes:
    graph = oh.make_graph(
        nodes,
        "g",
        [oh.make_tensor_value_info(n, TP.FLOAT, s) for n, s in inputs.items()],
        [oh.make_tensor_value_info(n, TP.FLOAT, None) for n in outputs],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()],
    )
    return oh.make_model(graph, opset_imports=[oh.make_opsetid("", opset)], ir_version=10).SerializeToString()


def nhwc(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if x.ndim == 4 else x


def check(data: bytes, tmp_path, inputs: dict, case: str, constants: dict | None = None):
    """Bake, run on the tier, compare every output with onnxruntime's; the baked graph."""
    name = "tr%d" % next(_count)
    result, _ = bake("model.onnx", str(tmp_path), name=name, data=data, constants=constants, input_layout="nhwc")
    module = load_cpython(str(tmp_path), name)
    rng = rng_for(case)
    feeds = {k: rng.uniform(-2, 2, size=s).astype(np.float32) for k, s in inputs.items()}
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    want = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"]).run(
        None, {**feeds, **(constants or {})}
    )
    got = run_upyflow(module, [nhwc(v) for v in feeds.values()])
    for g, w in zip(got, want):
        g = g.transpose(0, 3, 1, 2) if w.ndim == 4 else g.reshape(w.shape)
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL)
    return result


def kinds(result) -> list[str]:
    return [op.kind for op in result.graph.ops]


# --- Resize ------------------------------------------------------------------------------------
RESIZES = [  # (mode, coordinate_transformation_mode, nearest_mode, input H, W, scales H, W, TFLite op)
    ("nearest", "asymmetric", "floor", 3, 4, 2.0, 2.0, "RESIZE_NEAREST_NEIGHBOR"),
    ("nearest", "half_pixel", "round_prefer_ceil", 3, 4, 2.0, 3.0, "RESIZE_NEAREST_NEIGHBOR"),
    ("nearest", "align_corners", "round_prefer_ceil", 3, 5, 2.0, 2.0, "RESIZE_NEAREST_NEIGHBOR"),
    ("nearest", "half_pixel", "round_prefer_floor", 2, 2, 2.0, 2.0, "RESIZE_NEAREST_NEIGHBOR"),
    ("linear", "asymmetric", "", 3, 4, 2.0, 2.0, "RESIZE_BILINEAR"),
    ("linear", "half_pixel", "", 3, 4, 2.0, 3.0, "RESIZE_BILINEAR"),
    ("linear", "pytorch_half_pixel", "", 4, 4, 2.0, 2.0, "RESIZE_BILINEAR"),
    ("linear", "align_corners", "", 3, 5, 2.0, 2.0, "RESIZE_BILINEAR"),
]


@pytest.mark.parametrize("mode,coord,nearest,h,w,sh,sw,kind", RESIZES)
def test_resize(tmp_path, mode, coord, nearest, h, w, sh, sw, kind):
    attrs = {"mode": mode, "coordinate_transformation_mode": coord}
    if nearest:
        attrs["nearest_mode"] = nearest
    data = model(
        [oh.make_node("Resize", ["x", "", "scales"], ["y"], **attrs)],
        {"x": [1, 3, h, w]},
        ["y"],
        {"scales": np.array([1, 1, sh, sw], np.float32)},
    )
    assert kind in kinds(check(data, tmp_path, {"x": [1, 3, h, w]}, "resize" + mode + coord + nearest))


def test_resize_with_sizes(tmp_path):
    data = model(
        [oh.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="linear")],
        {"x": [1, 2, 4, 4]},
        ["y"],
        {"sizes": np.array([1, 2, 8, 8], np.int64)},
    )
    assert "RESIZE_BILINEAR" in kinds(check(data, tmp_path, {"x": [1, 2, 4, 4]}, "resize_sizes"))


@pytest.mark.parametrize(
    "attrs,scales,match",
    [
        ({"mode": "cubic"}, [1, 1, 2, 2], r"mode 'cubic' is not supported"),
        ({"mode": "linear"}, [1, 1, 0.6, 0.6], r"is not one the TFLite resize kernels compute$"),
        ({"mode": "nearest"}, [1, 2, 2, 2], r"resizes the batch or channel axis"),
    ],
)
def test_resize_refused_in_one_line(attrs, scales, match):
    data = model(
        [oh.make_node("Resize", ["x", "", "scales"], ["y"], **attrs)],
        {"x": [1, 2, 2, 4]},
        ["y"],
        {"scales": np.array(scales, np.float32)},
    )
    with pytest.raises(BakeError, match=match) as e:
        compile_model("m.onnx", "m", data)
    assert "\n" not in str(e.value)


# --- ConvTranspose -----------------------------------------------------------------------------
CONV_T = [  # (in channels, out channels per group, group, kernel, attributes)
    (2, 3, 1, (3, 3), {}),
    (2, 3, 1, (3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    (2, 3, 1, (3, 2), {"strides": [2, 3], "pads": [0, 1, 1, 0], "output_padding": [1, 1]}),
    (3, 2, 1, (2, 2), {"strides": [2, 2], "auto_pad": "SAME_UPPER"}),
    (4, 2, 2, (3, 3), {"strides": [2, 2], "pads": [1, 1, 0, 0]}),
    (2, 2, 1, (2, 2), {"dilations": [2, 2]}),
    (2, 2, 1, (3, 3), {"strides": [2, 2], "output_shape": [9, 10]}),
]


@pytest.mark.parametrize("ci,og,group,k,attrs", CONV_T)
def test_conv_transpose(tmp_path, ci, og, group, k, attrs):
    rng = rng_for("convt%d%d%d%s" % (ci, og, group, attrs))
    inits = {
        "w": rng.normal(0, 0.5, (ci, og) + k).astype(np.float32),
        "b": rng.normal(0, 0.5, og * group).astype(np.float32),
    }
    data = model(
        [
            oh.make_node("ConvTranspose", ["x", "w", "b"], ["y"], group=group, **attrs),
            oh.make_node("Relu", ["y"], ["z"]),
        ],
        {"x": [1, ci, 4, 5]},
        ["z"],
        inits,
    )
    result = check(data, tmp_path, {"x": [1, ci, 4, 5]}, "convt")
    assert kinds(result).count("TRANSPOSE_CONV") == group


def test_conv_transpose_1d(tmp_path):
    rng = rng_for("convt1d")
    data = model(
        [oh.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2], pads=[1, 0])],
        {"x": [1, 2, 6]},
        ["y"],
        {"w": rng.normal(0, 0.5, (2, 3, 3)).astype(np.float32)},
    )
    name = "tr%d" % next(_count)
    bake("model.onnx", str(tmp_path), name=name, data=data, input_layout="nhwc")
    x = rng.normal(0, 1, (1, 2, 6)).astype(np.float32)
    want = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = run_upyflow(load_cpython(str(tmp_path), name), [np.ascontiguousarray(x.transpose(0, 2, 1))])[0]
    np.testing.assert_allclose(
        got.reshape(want.shape[0], want.shape[2], want.shape[1]).transpose(0, 2, 1), want, rtol=RTOL, atol=ATOL
    )


# --- element-wise and data movement ------------------------------------------------------------
def test_split_max_min_sum_mean(tmp_path):
    nodes = [
        oh.make_node("Split", ["x", "sizes"], ["a", "b", "c"], axis=1),
        oh.make_node("Max", ["a", "b", "c"], ["mx"]),
        oh.make_node("Min", ["a", "b"], ["mn"]),
        oh.make_node("Sum", ["a", "c"], ["sm"]),
        oh.make_node("Mean", ["a", "b", "c"], ["me"]),
    ]
    data = model(nodes, {"x": [1, 6, 3, 4]}, ["mx", "mn", "sm", "me"], {"sizes": np.array([2, 2, 2], np.int64)})
    result = check(data, tmp_path, {"x": [1, 6, 3, 4]}, "split")
    assert "SPLIT_V" in kinds(result) and "MAXIMUM" in kinds(result) and "MINIMUM" in kinds(result)


def test_split_equal_parts_on_last_axis(tmp_path):
    data = model(
        [oh.make_node("Split", ["x"], ["a", "b"], axis=-1, num_outputs=2)], {"x": [2, 7]}, ["a", "b"], opset=18
    )
    check(data, tmp_path, {"x": [2, 7]}, "split_last")


def test_unary_chain(tmp_path):
    inits = {
        "two": np.array(2.0, np.float32),
        "slope": np.array([[[0.1]], [[0.2]], [[-0.3]]], np.float32),
        "shape": np.array([2, 1, 3, 4, 5], np.int64),
    }
    nodes = [
        oh.make_node("Pow", ["x", "two"], ["p"]),
        oh.make_node("Neg", ["p"], ["n"]),
        oh.make_node("Abs", ["x"], ["a"]),
        oh.make_node("Sub", ["n", "a"], ["s"]),
        oh.make_node("HardSigmoid", ["s"], ["h"], alpha=0.3, beta=0.4),
        oh.make_node("PRelu", ["x", "slope"], ["pr"]),
        oh.make_node("Add", ["h", "pr"], ["y"]),
        oh.make_node("Expand", ["x", "shape"], ["e"]),
    ]
    data = model(nodes, {"x": [1, 3, 4, 5]}, ["y", "e"], inits)
    result = check(data, tmp_path, {"x": [1, 3, 4, 5]}, "unary")
    assert {"MUL", "MAXIMUM", "MINIMUM", "PRELU"} <= set(kinds(result))


def test_pow_exponent_of_another_type_refused():
    data = model([oh.make_node("Pow", ["x", "e"], ["y"])], {"x": [1, 4]}, ["y"], {"e": np.array(True)})
    with pytest.raises(BakeError, match=r"^Pow node '': exponent of type bool$"):
        compile_model("m.onnx", "m", data)


@pytest.mark.parametrize("axes,keep", [([2, 3], 1), ([2, 3], 0), ([-1], 1), ([1], 0)])
def test_reduce_mean(tmp_path, axes, keep):
    data = model(
        [oh.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=keep)],
        {"x": [1, 3, 4, 5]},
        ["y"],
        {"axes": np.array(axes, np.int64)},
        opset=18,
    )
    assert "MEAN" in kinds(check(data, tmp_path, {"x": [1, 3, 4, 5]}, "rmean%s%d" % (axes, keep)))


@pytest.mark.parametrize("mode", ["DCR", "CRD"])
def test_depth_to_space(tmp_path, mode):
    data = model([oh.make_node("DepthToSpace", ["x"], ["y"], blocksize=2, mode=mode)], {"x": [1, 8, 2, 3]}, ["y"])
    assert "DEPTH_TO_SPACE" in kinds(check(data, tmp_path, {"x": [1, 8, 2, 3]}, "d2s" + mode))


# --- opsets and constants ----------------------------------------------------------------------
def test_opset_28_reads(tmp_path):
    data = model([oh.make_node("Relu", ["x"], ["y"])], {"x": [1, 4]}, ["y"], opset=28)
    check(data, tmp_path, {"x": [1, 4]}, "opset28")


@pytest.mark.parametrize(
    "node,match",
    [
        (
            oh.make_node("Cast", ["x"], ["y"], to=TP.FLOAT, round_mode="down"),
            r"^Cast node 'c': round_mode = 'down' \(rounding to float8e8m0\) is not supported$",
        ),
        (
            oh.make_node("QuantizeLinear", ["x", "s", "z"], ["y"], precision=TP.FLOAT16),
            r"^QuantizeLinear node 'c': precision = 10 "
            r"\(division in a precision other than float32\) is not supported$",
        ),
    ],
)
def test_new_attributes_refused(node, match):
    node.name = "c"
    data = model([node], {"x": [1, 4]}, ["y"], {"s": np.array(0.1, np.float32), "z": np.array(0, np.int8)}, opset=25)
    with pytest.raises(BakeError, match=match):
        compile_model("m.onnx", "m", data)


def _conv_weights_as_inputs():
    graph = oh.make_graph(
        [oh.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1])],
        "g",
        [
            oh.make_tensor_value_info("x", TP.FLOAT, [1, 2, 5, 5]),
            oh.make_tensor_value_info("w", TP.FLOAT, [3, 2, 3, 3]),
            oh.make_tensor_value_info("b", TP.FLOAT, [3]),
        ],
        [oh.make_tensor_value_info("y", TP.FLOAT, None)],
    )
    data = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)], ir_version=8).SerializeToString()
    rng = rng_for("constants")
    return data, {
        "w": rng.normal(0, 0.5, (3, 2, 3, 3)).astype(np.float32),
        "b": rng.normal(0, 0.5, 3).astype(np.float32),
    }


def test_weights_given_as_constants(tmp_path):
    data, consts = _conv_weights_as_inputs()
    with pytest.raises(BakeError, match="needs constant weights"):
        compile_model("m.onnx", "m", data)
    result = check(data, tmp_path, {"x": [1, 2, 5, 5]}, "constants", constants=consts)
    assert len(result.graph.inputs) == 1


@pytest.mark.parametrize(
    "consts,match",
    [
        (
            {"nope": np.zeros(3, np.float32)},
            r"^--const nope: the model has no graph input named 'nope' \(inputs: x, w, b\)$",
        ),
        ({"b": np.zeros(4, np.float32)}, r"^--const b: float32 \[4\] given, the input is float32 \[3\]$"),
        ({"b": np.zeros(3, np.float64)}, r"^--const b: float64 \[3\] given"),
    ],
)
def test_constants_checked(consts, match):
    data, _ = _conv_weights_as_inputs()
    with pytest.raises(BakeError, match=match):
        compile_model("m.onnx", "m", data, constants=consts)


def test_cli_const(tmp_path):
    data, consts = _conv_weights_as_inputs()
    (tmp_path / "m.onnx").write_bytes(data)
    for k, v in consts.items():
        np.save(tmp_path / (k + ".npy"), v)
    cmd = [
        sys.executable,
        "-m",
        "upyflow_tools.cli",
        "bake",
        str(tmp_path / "m.onnx"),
        "-o",
        str(tmp_path / "out"),
        "--const",
        "w=%s" % (tmp_path / "w.npy"),
        "--const",
        "b=%s" % (tmp_path / "b.npy"),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "m.py").exists()
    bad = subprocess.run(cmd[:-2] + ["--const", "b"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].endswith("--const takes NAME=FILE.npy, not 'b'")


def test_readme_onnx_operator_table_is_current():
    from harness import ROOT
    from upyflow_tools.report import onnx_supported_table

    table = onnx_supported_table()
    assert "| Resize | resize.py | - |" in table and "| Shape | shape.py | folded at bake time |" in table
    assert table in (ROOT / "README.md").read_text(), "regenerate README's ONNX table (report.onnx_supported_table)"


# --- uint8 at the model boundary ---------------------------------------------------------------
def _uint8_model() -> bytes:
    inits = {
        "s": np.array(0.05, np.float32),
        "z": np.array(120, np.uint8),
        "s2": np.array(0.04, np.float32),
        "z2": np.array(100, np.uint8),
        "w": numpy_helper.to_array(
            numpy_helper.from_array(rng_for("u8w").integers(-90, 90, (3, 2, 3, 3)).astype(np.int8))
        ),
        "ws": np.array(0.02, np.float32),
        "wz": np.array(0, np.int8),
    }
    nodes = [
        oh.make_node("DequantizeLinear", ["x", "s", "z"], ["xf"]),
        oh.make_node("DequantizeLinear", ["w", "ws", "wz"], ["wf"]),
        oh.make_node("Conv", ["xf", "wf"], ["c"], pads=[1, 1, 1, 1]),
        oh.make_node("QuantizeLinear", ["c", "s2", "z2"], ["y"]),
        oh.make_node("MaxPool", ["xf"], ["p"], kernel_shape=[2, 2]),
        oh.make_node("Relu", ["p"], ["pf"]),
    ]
    graph = oh.make_graph(
        nodes,
        "g",
        [oh.make_tensor_value_info("x", TP.UINT8, [1, 2, 4, 4])],
        [oh.make_tensor_value_info("y", TP.UINT8, None), oh.make_tensor_value_info("pf", TP.FLOAT, None)],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()],
    )
    return oh.make_model(graph, opset_imports=[oh.make_opsetid("", 21)], ir_version=10).SerializeToString()


def test_uint8_input_and_output_byte_exact(tmp_path):
    data = _uint8_model()
    name = "tr%d" % next(_count)
    result, _ = bake("model.onnx", str(tmp_path), name=name, data=data, input_layout="nhwc")
    g = result.graph
    assert [g.tensors[t].dtype for t in g.inputs] == ["u8"] and g.tensors[g.outputs[0]].dtype == "u8"
    module = load_cpython(str(tmp_path), name)
    rng = rng_for("uint8")
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    for _ in range(3):
        x = rng.integers(0, 256, (1, 2, 4, 4)).astype(np.uint8)
        want_y, want_p = sess.run(None, {"x": x})
        got_y, got_p = run_upyflow(module, [nhwc(x)])
        assert got_y.dtype == np.uint8
        np.testing.assert_array_equal(got_y.transpose(0, 3, 1, 2), want_y)
        np.testing.assert_allclose(got_p.transpose(0, 3, 1, 2), want_p, rtol=RTOL, atol=ATOL)


def test_quantize_linear_without_zero_point_is_uint8(tmp_path):
    graph = oh.make_graph(
        [oh.make_node("QuantizeLinear", ["x", "s"], ["y"])],
        "g",
        [oh.make_tensor_value_info("x", TP.FLOAT, [2, 6])],
        [oh.make_tensor_value_info("y", TP.UINT8, None)],
        [numpy_helper.from_array(np.array(0.03, np.float32), "s")],
    )
    data = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 21)], ir_version=10).SerializeToString()
    name = "tr%d" % next(_count)
    bake("model.onnx", str(tmp_path), name=name, data=data)
    x = rng_for("q_no_zp").uniform(-1, 8, (2, 6)).astype(np.float32)
    want = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = run_upyflow(load_cpython(str(tmp_path), name), [x])[0]
    np.testing.assert_array_equal(got.reshape(want.shape), want)


# --- shape subgraphs folded at bake time -------------------------------------------------------
@pytest.mark.parametrize("cond", [True, False])
def test_if_on_a_constant_condition_size_not_castlike(tmp_path, cond):
    """Size and Not fold; the If takes the branch numpy says (scale 2 or 3) and CastLike to
    float32 is free."""
    then_g = oh.make_graph(
        [oh.make_node("Mul", ["xc", "two"], ["t_out"])],
        "then",
        [],
        [oh.make_tensor_value_info("t_out", TP.FLOAT, None)],
        [numpy_helper.from_array(np.array(2.0, np.float32), "two")],
    )
    else_g = oh.make_graph(
        [oh.make_node("Mul", ["xc", "three"], ["e_out"])],
        "else",
        [],
        [oh.make_tensor_value_info("e_out", TP.FLOAT, None)],
        [numpy_helper.from_array(np.array(3.0, np.float32), "three")],
    )
    inits = {"n": np.array(12 if cond else 13, np.int64), "f": np.array(0.0, np.float32)}
    nodes = [
        oh.make_node("Size", ["x"], ["size"]),
        oh.make_node("Equal", ["size", "n"], ["eq"]),
        oh.make_node("Not", ["eq"], ["ne"]),
        oh.make_node("Not", ["ne"], ["c"]),
        oh.make_node("CastLike", ["x", "f"], ["xc"]),
        oh.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g),
    ]
    data = model(nodes, {"x": [3, 4]}, ["y"], inits)
    result = check(data, tmp_path, {"x": [3, 4]}, "if")
    assert kinds(result) == ["MUL"]
    scale = result.graph.tensors[result.graph.ops[0].inputs[1]].data
    assert float(np.asarray(scale).reshape(-1)[0]) == (2.0 if cond else 3.0)


def test_if_on_a_computed_condition_is_one_line():
    g = oh.make_graph(
        [oh.make_node("Identity", ["x"], ["o"])], "b", [], [oh.make_tensor_value_info("o", TP.FLOAT, None)]
    )
    data = model(
        [oh.make_node("Greater", ["x", "z"], ["c"]), oh.make_node("If", ["c"], ["y"], then_branch=g, else_branch=g)],
        {"x": [1]},
        ["y"],
        {"z": np.array(0.0, np.float32)},
    )
    with pytest.raises(BakeError, match=r"^If node .. needs a constant condition \(.c. is computed at run time\)$"):
        compile_model("m.onnx", "m", data)


# --- input shape and layout --------------------------------------------------------------------
def _conv_model(dims) -> bytes:
    rng = rng_for("layout")
    graph = oh.make_graph(
        [oh.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), oh.make_node("Relu", ["c"], ["y"])],
        "g",
        [oh.make_tensor_value_info("x", TP.FLOAT, dims)],
        [oh.make_tensor_value_info("y", TP.FLOAT, None)],
        [numpy_helper.from_array(rng.normal(0, 0.5, (4, 1 if dims[1] == 1 else 3, 3, 3)).astype(np.float32), "w")],
    )
    return oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)], ir_version=8).SerializeToString()


def test_input_shape_fixes_a_symbolic_dimension(tmp_path):
    data = _conv_model(["N", 3, "H", "W"])
    with pytest.raises(
        BakeError,
        match=r"dynamic dimension 'H' \(axis 2\); .* give them with "
        r"--input-shape x=1,3,N,N$",
    ):
        compile_model("m.onnx", "m", data)
    with pytest.raises(
        BakeError,
        match=r"^--input-shape x=1,4,6,5 does not fit the input's shape "
        r"\['\?', 3, '\?', '\?'\]$",
    ):
        compile_model("m.onnx", "m", data, input_shapes={"x": (1, 4, 6, 5)})
    name = "tr%d" % next(_count)
    bake("model.onnx", str(tmp_path), name=name, data=data, input_shapes={"x": (1, 3, 6, 5)}, input_layout="nhwc")
    x = rng_for("shape").normal(0, 1, (1, 3, 6, 5)).astype(np.float32)
    want = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = run_upyflow(load_cpython(str(tmp_path), name), [nhwc(x)])[0]
    np.testing.assert_allclose(got.transpose(0, 3, 1, 2), want, rtol=RTOL, atol=ATOL)


def test_input_layout_default_takes_what_onnxruntime_takes(tmp_path):
    """Without --input-layout the board takes and gives the file's NCHW (a transpose on each
    side of the conv); nhwc takes NHWC with none; a single-channel input needs none either."""
    data = _conv_model([1, 3, 5, 6])
    x = rng_for("nchw").normal(0, 1, (1, 3, 5, 6)).astype(np.float32)
    want = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    for layout in (None, "nchw", "nhwc"):
        name = "tr%d" % next(_count)
        result, _ = bake("model.onnx", str(tmp_path), name=name, data=data, input_layout=layout)
        g = result.graph
        if layout == "nhwc":
            assert "TRANSPOSE" not in kinds(result)
            assert g.input_layouts == ["NHWC"] and g.output_layouts == ["NHWC"]
            assert list(g.tensors[g.inputs[0]].shape) == [1, 5, 6, 3]
            assert any("image tensors NHWC (--input-layout nhwc" in n for n in g.notes)
            got = run_upyflow(load_cpython(str(tmp_path), name), [nhwc(x)])[0]
            np.testing.assert_allclose(got.transpose(0, 3, 1, 2), want, rtol=RTOL, atol=ATOL)
            continue
        assert kinds(result).count("TRANSPOSE") == 2  # NCHW -> NHWC before the conv, back after it
        assert g.input_layouts == ["NCHW"] and g.output_layouts == ["NCHW"]
        assert list(g.tensors[g.inputs[0]].shape) == [1, 3, 5, 6]
        assert any("as the file does (NCHW), as onnxruntime takes them; a transpose" in n for n in g.notes)
        got = run_upyflow(load_cpython(str(tmp_path), name), [x])[0]
        np.testing.assert_allclose(got.reshape(want.shape), want, rtol=RTOL, atol=ATOL)
    one = compile_model("m.onnx", "m", _conv_model([1, 1, 5, 6])).graph
    assert [op.kind for op in one.ops].count("TRANSPOSE") == 1  # only the 2-channel output moves
    with pytest.raises(BakeError, match=r"^--input-layout must be nchw or nhwc, not 'chwn'$"):
        compile_model("m.onnx", "m", data, input_layout="chwn")


def test_inspect_names_the_layout_the_board_takes(tmp_path, capsys):
    from upyflow_tools.cli import main

    path = tmp_path / "m.onnx"
    path.write_bytes(_conv_model([1, 3, 5, 6]))
    assert main(["inspect", str(path), "--no-tflm", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [(io["layout"], io["shape"]) for io in info["inputs"] + info["outputs"]] == [
        ("NCHW", [1, 3, 5, 6]),
        ("NCHW", [1, 4, 5, 6]),
    ]
    assert main(["inspect", str(path), "--no-tflm", "--input-layout", "nhwc"]) == 0
    out = capsys.readouterr().out
    assert "f32    1x5x6x3          NHWC" in out and "f32    1x5x6x4          NHWC" in out
    assert "note: the board reads and writes image tensors NHWC" in out


def test_cli_input_shape_and_layout(tmp_path):
    (tmp_path / "m.onnx").write_bytes(_conv_model(["N", 3, "H", "W"]))
    cmd = [sys.executable, "-m", "upyflow_tools.cli", "bake", str(tmp_path / "m.onnx"), "-o", str(tmp_path / "out")]
    done = subprocess.run(cmd + ["--input-shape", "x=1,3,8,8"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "note: the board reads and writes image tensors as the file does (NCHW)" in done.stdout
    done = subprocess.run(
        cmd + ["--input-shape", "x=1,3,8,8", "--input-layout", "nhwc"], capture_output=True, text=True
    )
    assert "note: the board reads and writes image tensors NHWC" in done.stdout
    bad = subprocess.run(cmd + ["--input-shape", "x=1,3,a"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].endswith(
        "--input-shape takes NAME=D0,D1,... (positive integers), not 'x=1,3,a'"
    )


@pytest.mark.parametrize("c_shape,trans_a", [((3, 4), 0), ((3, 1), 1), ((4,), 1), ((1, 4), 0)])
def test_gemm_trans_a_and_bias_matrix(tmp_path, c_shape, trans_a):
    rng = rng_for("gemm%s%d" % (c_shape, trans_a))
    inits = {"b": rng.normal(0, 0.5, (5, 4)).astype(np.float32), "c": rng.normal(0, 0.5, c_shape).astype(np.float32)}
    a_shape = [5, 3] if trans_a else [3, 5]
    data = model(
        [
            oh.make_node("Gemm", ["a", "b", "c"], ["y"], transA=trans_a, alpha=0.5, beta=1.5),
            oh.make_node("Relu", ["y"], ["z"]),
        ],
        {"a": a_shape},
        ["z"],
        inits,
    )
    assert "FULLY_CONNECTED" in kinds(check(data, tmp_path, {"a": a_shape}, "gemm"))


@pytest.mark.parametrize("elem,np_type", [(TP.INT8, np.int8), (TP.UINT8, np.uint8)])
def test_integer_arithmetic_wraps_as_onnxruntime(tmp_path, elem, np_type):
    """Plain int8/uint8 Add/Sub/Mul/Max/Min/Clip (no quantization): int32 between two CASTs,
    wrapping on overflow exactly as onnxruntime."""
    lo, hi = (
        (np.array(-20, np_type), np.array(90, np_type))
        if np_type == np.int8
        else (np.array(20, np_type), np.array(200, np_type))
    )
    nodes = [
        oh.make_node("Add", ["a", "b"], ["s"]),
        oh.make_node("Mul", ["s", "b"], ["m"]),
        oh.make_node("Sub", ["m", "a"], ["d"]),
        oh.make_node("Max", ["d", "a", "b"], ["mx"]),
        oh.make_node("Min", ["mx", "a"], ["mn"]),
        oh.make_node("Clip", ["d", "lo", "hi"], ["y"]),
    ]
    graph = oh.make_graph(
        nodes,
        "g",
        [oh.make_tensor_value_info(n, elem, [2, 3, 4]) for n in ("a", "b")],
        [oh.make_tensor_value_info(n, elem, None) for n in ("mn", "y")],
        [numpy_helper.from_array(lo, "lo"), numpy_helper.from_array(hi, "hi")],
    )
    data = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 21)], ir_version=10).SerializeToString()
    name = "tr%d" % next(_count)
    result, _ = bake("model.onnx", str(tmp_path), name=name, data=data)
    assert "CAST" in kinds(result)
    info = np.iinfo(np_type)
    rng = rng_for("int%s" % np_type)
    feeds = {k: rng.integers(info.min, info.max + 1, (2, 3, 4)).astype(np_type) for k in ("a", "b")}
    want = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, feeds)
    got = run_upyflow(load_cpython(str(tmp_path), name), list(feeds.values()))
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.reshape(w.shape), w)


@pytest.mark.parametrize(
    "nodes,inits,match",
    [
        (
            [oh.make_node("Split", ["x"], ["a", "b"], axis=1, num_outputs=2**31 - 1)],
            {},
            r"^Split node '': num_outputs 2147483647 for 2 outputs$",
        ),
        (
            [oh.make_node("Resize", ["x", "", "s"], ["y"])],
            {"s": np.array([1, 1, 1e9, 1e9], np.float32)},
            r"^tensor 'y' would have shape \[1, 4, 6000000000, 6000000000\]",
        ),
        (
            [oh.make_node("ConvTranspose", ["x", "w"], ["y"], dilations=[2**30, 1])],
            {"w": np.ones((4, 2, 3, 3), np.float32)},
            r"^tensor 'w' would have shape \[4, 2, 2147483649, 3\]",
        ),
        ([oh.make_node("Pow", ["x"], ["y"])], {}, r"^Pow node '' needs an exponent$"),
        ([oh.make_node("Cast", ["x"], ["y"], to=100)], {}, r"^Cast node '': casting a computed f32 tensor to type 100"),
    ],
)
def test_new_translators_refuse_in_one_line(nodes, inits, match):
    """Mutations that once reached the reader's catch-all (found by mutating the conformance models)."""
    data = model(nodes, {"x": [1, 4, 6, 6]}, ["y"] if nodes[0].output[0] == "y" else ["a", "b"], inits)
    with pytest.raises(BakeError, match=match) as e:
        compile_model("m.onnx", "m", data)
    assert "malformed" not in str(e.value)


# --- reductions, maths, Div, Gather onto the existing kernels ------------------------------------
@pytest.mark.parametrize(
    "op,axes,keep",
    [
        ("ReduceMax", [2, 3], 1),
        ("ReduceMin", [1], 0),
        ("ReduceSum", [1, 3], 0),
        ("ReduceSum", None, 1),
        ("ReduceMax", [-1], 0),
    ],
)
def test_reduce_max_min_sum(tmp_path, op, axes, keep):
    inits = {"axes": np.array(axes, np.int64)} if axes is not None else {}
    data = model(
        [oh.make_node(op, ["x"] + (["axes"] if axes is not None else []), ["y"], keepdims=keep)],
        {"x": [1, 3, 4, 5]},
        ["y"],
        inits,
        opset=18,
    )
    result = check(data, tmp_path, {"x": [1, 3, 4, 5]}, "r%s%s%d" % (op, axes, keep))
    assert {"ReduceMax": "REDUCE_MAX", "ReduceMin": "REDUCE_MIN", "ReduceSum": "SUM"}[op] in kinds(result)


def test_reduce_axes_attribute_before_opset_18(tmp_path):
    data = model([oh.make_node("ReduceMax", ["x"], ["y"], axes=[1], keepdims=1)], {"x": [2, 6, 3]}, ["y"], opset=13)
    check(data, tmp_path, {"x": [2, 6, 3]}, "rmax13")


@pytest.mark.parametrize("op,axis,keep", [("ArgMax", 1, 1), ("ArgMin", 3, 0), ("ArgMax", -1, 0), ("ArgMin", 0, 1)])
def test_arg_max_min(tmp_path, op, axis, keep):
    shape = [1, 5, 3, 4] if axis != 0 else [4, 6]
    graph = oh.make_graph(
        [oh.make_node(op, ["x"], ["y"], axis=axis, keepdims=keep)],
        "g",
        [oh.make_tensor_value_info("x", TP.FLOAT, shape)],
        [oh.make_tensor_value_info("y", TP.INT64, None)],
    )
    data = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 13)], ir_version=8).SerializeToString()
    name = "tr%d" % next(_count)
    result, _ = bake("model.onnx", str(tmp_path), name=name, data=data, input_layout="nhwc")
    assert op.upper().replace("ARG", "ARG_") in kinds(result)
    x = rng_for("arg%s%d%d" % (op, axis, keep)).uniform(-2, 2, shape).astype(np.float32)
    want = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = run_upyflow(load_cpython(str(tmp_path), name), [nhwc(x)])[0]
    if x.ndim == 4 and keep:
        got = got.transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(got.reshape(want.shape), want)


def test_arg_max_select_last_index_refused():
    data = model([oh.make_node("ArgMax", ["x"], ["y"], axis=1, select_last_index=1)], {"x": [2, 6]}, ["y"])
    with pytest.raises(BakeError, match=r"^ArgMax node '': select_last_index is not supported"):
        compile_model("m.onnx", "m", data)


def test_maths_and_division_of_computed_tensors(tmp_path):
    """Exp, Log, Sqrt, Abs, Neg, Reciprocal and Div of two computed tensors: single float32 kernels."""
    nodes = [
        oh.make_node("Abs", ["x"], ["a"]),
        oh.make_node("Sqrt", ["a"], ["s"]),
        oh.make_node("Exp", ["x"], ["e"]),
        oh.make_node("Log", ["e"], ["l"]),
        oh.make_node("Neg", ["l"], ["n"]),
        oh.make_node("Div", ["n", "e"], ["d"]),
        oh.make_node("Reciprocal", ["e"], ["rc"]),
        oh.make_node("Div", ["s", "b"], ["db"]),
        oh.make_node("Add", ["d", "rc"], ["y"]),
    ]
    data = model(nodes, {"x": [1, 3, 4, 5], "b": [1, 1, 4, 5]}, ["y", "db", "s"])
    result = check(data, tmp_path, {"x": [1, 3, 4, 5], "b": [1, 1, 4, 5]}, "maths")
    assert {"ABS", "SQRT", "EXP", "LOG", "NEG", "DIV"} <= set(kinds(result))
    assert "MUL" not in kinds(result) and "MAXIMUM" not in kinds(result)


@pytest.mark.parametrize("axis,indices", [(1, [2, 0, 1]), (3, [[4, 0], [-1, 2]]), (2, 1), (-1, [3, 4])])
def test_gather_of_a_computed_tensor(tmp_path, axis, indices):
    nodes = [
        oh.make_node("Relu", ["x"], ["r"]),
        oh.make_node("Gather", ["r", "i"], ["g"], axis=axis),
        oh.make_node("Mul", ["g", "two"], ["y"]),
    ]
    data = model(
        nodes, {"x": [1, 3, 4, 5]}, ["y"], {"i": np.array(indices, np.int64), "two": np.array(2.0, np.float32)}
    )
    assert "GATHER" in kinds(check(data, tmp_path, {"x": [1, 3, 4, 5]}, "gather%d%s" % (axis, indices)))


@pytest.mark.parametrize(
    "a_shape,b_shape,a_const",
    [
        ([1, 3, 4], [1, 4, 5], False),
        ([2, 3, 4], [4], False),
        ([4], [2, 4, 3], False),
        ([2, 1, 3, 4], [1, 2, 4, 2], False),
        ([3, 4], [4, 6], True),
        ([5], [5], False),
    ],
)
def test_matmul_of_computed_tensors(tmp_path, a_shape, b_shape, a_const):
    """MatMul whose second operand is computed (or first is constant): float32 BATCH_MATMUL."""
    inits = {"a": rng_for("mma").uniform(-2, 2, a_shape).astype(np.float32)} if a_const else {}
    nodes = [oh.make_node("Tanh", ["b"], ["bt"]), oh.make_node("MatMul", ["a", "bt"], ["y"])]
    inputs = {"b": b_shape} if a_const else {"a": a_shape, "b": b_shape}
    data = model(nodes, inputs, ["y"], inits)
    result = check(data, tmp_path, inputs, "matmul%s%s" % (a_shape, b_shape))
    assert "BATCH_MATMUL" in kinds(result) and "FULLY_CONNECTED" not in kinds(result)


# --- GELU: the Gelu operator and torch's Erf chain ----------------------------------------------
def _erf_chain(variant: str) -> tuple[list, dict]:
    """torch's exact GELU below opset 20 (Div by sqrt 2 or Mul by its inverse; Mul by x then 0.5,
    or 0.5 * x first), constants as initializers or Constant nodes."""
    c = {
        "sqrt2": np.array(1.4142135, np.float32),
        "inv": np.array(0.70710677, np.float32),
        "one": np.array(1.0, np.float32),
        "half": np.array(0.5, np.float32),
    }
    nodes = [oh.make_node("Conv", ["x", "w"], ["h"], pads=[1, 1, 1, 1])]
    if variant == "torch":
        nodes += [
            oh.make_node("Div", ["h", "sqrt2"], ["d"]),
            oh.make_node("Erf", ["d"], ["e"]),
            oh.make_node("Add", ["e", "one"], ["a"]),
            oh.make_node("Mul", ["h", "a"], ["m"]),
            oh.make_node("Mul", ["m", "half"], ["y"]),
        ]
    else:  # Constant nodes, Mul by 1/sqrt 2, 0.5 * x first, operands swapped
        nodes += [
            oh.make_node("Constant", [], ["k_inv"], value=numpy_helper.from_array(c["inv"])),
            oh.make_node("Constant", [], ["k_half"], value_float=0.5),
            oh.make_node("Mul", ["k_inv", "h"], ["d"]),
            oh.make_node("Erf", ["d"], ["e"]),
            oh.make_node("Add", ["one", "e"], ["a"]),
            oh.make_node("Mul", ["k_half", "h"], ["hx"]),
            oh.make_node("Mul", ["a", "hx"], ["y"]),
        ]
    w = rng_for("gelu_w").normal(0, 0.6, (3, 2, 3, 3)).astype(np.float32)
    return nodes, {"w": w, "one": c["one"], **({"sqrt2": c["sqrt2"], "half": c["half"]} if variant == "torch" else {})}


@pytest.mark.parametrize("variant", ["torch", "reordered"])
def test_erf_chain_runs_as_one_gelu(tmp_path, variant):
    nodes, inits = _erf_chain(variant)
    data = model(nodes, {"x": [1, 2, 5, 6]}, ["y"], inits, opset=17)
    result = check(data, tmp_path, {"x": [1, 2, 5, 6]}, "erfchain" + variant)
    assert kinds(result) == ["CONV_2D", "GELU"]


def test_erf_chain_with_a_shared_intermediate_is_not_fused(tmp_path):
    """The chain's Add also feeds an output: not a GELU, so Erf stays unsupported."""
    nodes, inits = _erf_chain("torch")
    data = model(nodes, {"x": [1, 2, 5, 6]}, ["y", "a"], inits, opset=17)
    with pytest.raises(BakeError, match=r"^unsupported ONNX operator Erf \("):
        compile_model("m.onnx", "m", data)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_operator(tmp_path, approximate):
    data = model([oh.make_node("Gelu", ["x"], ["y"], approximate=approximate)], {"x": [1, 3, 4, 5]}, ["y"], opset=20)
    assert kinds(check(data, tmp_path, {"x": [1, 3, 4, 5]}, "gelu" + approximate)) == ["GELU"]


@pytest.mark.parametrize("axis,opset", [(-1, 13), (1, 13), (1, 11)])
def test_log_softmax(tmp_path, axis, opset):
    data = model([oh.make_node("LogSoftmax", ["x"], ["y"], axis=axis)], {"x": [2, 5, 3]}, ["y"], opset=opset)
    assert "LOG_SOFTMAX" in kinds(check(data, tmp_path, {"x": [2, 5, 3]}, "logsoftmax%d%d" % (axis, opset)))


@pytest.mark.parametrize("axis,outputs", [(-1, ["y"]), (1, ["y", "m", "inv"]), (2, ["y"])])
def test_layer_normalization(tmp_path, axis, outputs):
    rng = rng_for("ln%d" % axis)
    norm_shape = [2, 3, 4][axis % 3 :]
    inits = {
        "s": rng.normal(1, 0.3, norm_shape).astype(np.float32),
        "b": rng.normal(0, 0.3, norm_shape).astype(np.float32),
    }
    data = model(
        [oh.make_node("LayerNormalization", ["x", "s", "b"], outputs, axis=axis, epsilon=1e-3)],
        {"x": [2, 3, 4]},
        outputs,
        inits,
        opset=17,
    )
    result = check(data, tmp_path, {"x": [2, 3, 4]}, "ln%d" % axis)
    assert {"MEAN", "RSQRT"} <= set(kinds(result))


def test_rms_normalization(tmp_path):
    inits = {"s": rng_for("rms").normal(1, 0.3, [5]).astype(np.float32)}
    data = model([oh.make_node("RMSNormalization", ["x", "s"], ["y"], axis=-1)], {"x": [3, 5]}, ["y"], inits, opset=23)
    check(data, tmp_path, {"x": [3, 5]}, "rms")
