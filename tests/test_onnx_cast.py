"""ONNX Cast (and CastLike) of computed tensors between float32, int8, uint8, int16, int32 and
bool, against onnxruntime on the pure and native tiers (`tier`): float32 inputs at the
conversion's edges (halves, each type's limits and past them, values at and beyond 2^31,
infinities, NaN, signed zeros), where onnxruntime on x86-64 truncates into int32 (NaN and
values outside int32 give INT32_MIN) and then wraps to the narrower type; integer inputs over
their whole range (C conversion wraps); bools from a graph input and computed by Greater. Casts
of quantized values and to int64 are refused with one line. Also Floor, Ceil and Round (FLOOR,
CEIL, ROUND) at the same edges."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto as TP  # noqa: E402
from onnx import helper as oh  # noqa: E402

from harness import load_cpython, run_upyflow  # noqa: E402
from upyflow_tools import BakeError  # noqa: E402
from upyflow_tools.bake import bake  # noqa: E402

E = {"f32": TP.FLOAT, "i8": TP.INT8, "u8": TP.UINT8, "i16": TP.INT16, "i32": TP.INT32, "bool": TP.BOOL}
NPT = {"f32": np.float32, "i8": np.int8, "u8": np.uint8, "i16": np.int16, "i32": np.int32, "bool": np.bool_}
EDGES = np.array(
    [0.5, -0.5, 1.9, -1.9, 127.9, 128.0, -128.9, -129.0, 200.5, 255.9, 256.0, 300.7, -300.7, 32767.5, 32768.0]
    + [-32768.9, -32769.0, 40000.0, 65535.0, 65536.0, -40000.0, 2147483520.0, 2147483648.0, -2147483648.0]
    + [-2147483904.0, 3e9, -3e9, 4294967296.0, 1e10, -1e10, np.inf, -np.inf, np.nan, -0.0, 0.0, 1e-45]
    + [7.0, -7.0, 99.99, -1000.5],
    np.float32,
).reshape(5, 8)
SRC = ("f32", "i8", "u8", "i32", "bool")  # graph input types the reader takes (int16: through a Cast)
_count = itertools.count()


def model(nodes, inputs: dict, outputs: dict) -> bytes:
    graph = oh.make_graph(
        nodes,
        "g",
        [oh.make_tensor_value_info(n, E[t], s) for n, (t, s) in inputs.items()],
        [oh.make_tensor_value_info(n, E[t], None) for n, t in outputs.items()],
    )
    return oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)], ir_version=8).SerializeToString()


def feeds(src: str, rng) -> list[np.ndarray]:
    if src == "f32":
        return [EDGES, rng.uniform(-300, 300, (5, 8)).astype(np.float32), (EDGES * 3).astype(np.float32)]
    if src == "bool":
        return [rng.random((5, 8)) < 0.5]
    info = np.iinfo(NPT[src])
    edges = np.resize(np.array([info.min, info.max, 0, 1, -1 if info.min else 2, info.max // 2 + 1]), 40)
    return [
        edges.astype(NPT[src]).reshape(5, 8),
        rng.integers(info.min, info.max, (5, 8), endpoint=True).astype(NPT[src]),
    ]


def run_both(data: bytes, tmp_path, xs: list[np.ndarray]) -> None:
    name = "cast%d" % next(_count)
    bake("model.onnx", str(tmp_path), name=name, data=data)
    module = load_cpython(str(tmp_path), name)
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    for x in xs:
        (want,) = sess.run(None, {"x": x})
        (got,) = run_upyflow(module, [x])
        assert got.dtype == want.dtype, (got.dtype, want.dtype)
        np.testing.assert_array_equal(got.reshape(want.shape), want)


@pytest.mark.parametrize("src,dst", [(s, d) for s in SRC for d in E if s != d])
def test_cast_computed(src, dst, tier, tmp_path):
    # Identity first: the Cast's operand is a computed tensor, not the graph input itself
    nodes = [oh.make_node("Identity", ["x"], ["xi"]), oh.make_node("Cast", ["xi"], ["y"], to=E[dst])]
    run_both(
        model(nodes, {"x": (src, [5, 8])}, {"y": dst}), tmp_path, feeds(src, np.random.default_rng(len(src + dst)))
    )


@pytest.mark.parametrize("dst", ["f32", "i8", "u8", "i32", "bool"])
def test_cast_through_int16(dst, tier, tmp_path):
    # float32 -> int16 (wrapped past int16) -> dst
    nodes = [oh.make_node("Cast", ["x"], ["h"], to=TP.INT16), oh.make_node("Cast", ["h"], ["y"], to=E[dst])]
    run_both(model(nodes, {"x": ("f32", [5, 8])}, {"y": dst}), tmp_path, feeds("f32", np.random.default_rng(3)))


def test_cast_computed_bool_and_castlike(tier, tmp_path):
    # Greater's bool to int32, then back to float32 by CastLike of the input; and to bool by Cast
    nodes = [
        oh.make_node("Greater", ["x", "zero"], ["g"]),
        oh.make_node("Cast", ["g"], ["gi"], to=TP.INT32),
        oh.make_node("CastLike", ["gi", "x"], ["gf"]),
        oh.make_node("Add", ["gf", "x"], ["s"]),
        oh.make_node("Cast", ["s"], ["b"], to=TP.BOOL),
        oh.make_node("Not", ["b"], ["y"]),
    ]
    graph = oh.make_graph(
        nodes,
        "g",
        [oh.make_tensor_value_info("x", TP.FLOAT, [5, 8])],
        [oh.make_tensor_value_info("y", TP.BOOL, None)],
        [oh.make_tensor("zero", TP.FLOAT, [], [0.0])],
    )
    data = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)], ir_version=8).SerializeToString()
    x = np.where(np.arange(40).reshape(5, 8) % 3 == 0, -1.0, EDGES).astype(np.float32)
    run_both(data, tmp_path, [x, -np.abs(EDGES)])


@pytest.mark.parametrize("case", ["int64", "quantized"])
def test_cast_refusals(case, tmp_path):
    if case == "int64":
        nodes = [oh.make_node("Relu", ["x"], ["r"]), oh.make_node("Cast", ["r"], ["y"], to=TP.INT64)]
        outs = [oh.make_tensor_value_info("y", TP.INT64, None)]
        inits = []
        msg = r"^Cast node 'c': casting a computed f32 tensor to int64 is not supported \(float32, int8, uint8"
    else:
        nodes = [
            oh.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
            oh.make_node("DequantizeLinear", ["q", "s", "z"], ["d"]),
            oh.make_node("Cast", ["d"], ["y"], to=TP.INT32),
        ]
        outs = [oh.make_tensor_value_info("y", TP.INT32, None)]
        inits = [oh.make_tensor("s", TP.FLOAT, [], [0.1]), oh.make_tensor("z", TP.INT8, [], [0])]
        msg = r"^Cast node 'c': casting a computed quantized i8 tensor to i32 is not supported"
    nodes[-1].name = "c"
    graph = oh.make_graph(nodes, "g", [oh.make_tensor_value_info("x", TP.FLOAT, [4])], outs, inits)
    data = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)], ir_version=8).SerializeToString()
    with pytest.raises(BakeError, match=msg):
        bake("model.onnx", str(tmp_path), name="refused", data=data)


@pytest.mark.parametrize("op", ["Floor", "Ceil", "Round"])
def test_floor_ceil_round(op, tier, tmp_path):
    # FLOOR, CEIL and ROUND (half to even) of a computed float32 tensor: onnxruntime's values
    # (zeros compare equal whatever their sign: ROUND(-0.3) is +0.0 on the board, -0.0 in onnxruntime)
    nodes = [oh.make_node("Identity", ["x"], ["xi"]), oh.make_node(op, ["xi"], ["y"])]
    data = model(nodes, {"x": ("f32", [5, 8])}, {"y": "f32"})
    name = "fcr%d" % next(_count)
    bake("model.onnx", str(tmp_path), name=name, data=data)
    module = load_cpython(str(tmp_path), name)
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    halves = (np.arange(40, dtype=np.float32).reshape(5, 8) - 20.0) / 2
    for x in (EDGES, halves, np.random.default_rng(9).uniform(-5, 5, (5, 8)).astype(np.float32)):
        (want,) = sess.run(None, {"x": x})
        (got,) = run_upyflow(module, [x])
        np.testing.assert_array_equal(got.reshape(want.shape), want)
