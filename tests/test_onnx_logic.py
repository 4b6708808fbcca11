"""ONNX Greater, GreaterOrEqual, Less, LessOrEqual, Equal, And, Or, Xor, Not (GREATER ..
NOT_EQUAL, LOGICAL_AND/OR/NOT): float32 and QDQ (DequantizeLinear outputs) operands, plain
integers, computed bools feeding Where or a bool graph output; against onnxruntime, on the
pure and native tiers (`tier`). Bool outputs come back as bool arrays."""

from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto as TP  # noqa: E402
from onnx import helper as oh  # noqa: E402
from onnx import numpy_helper  # noqa: E402

from harness import load_cpython, run_upyflow  # noqa: E402
from upyflow_tools import BakeError  # noqa: E402
from upyflow_tools.bake import bake, compile_model  # noqa: E402

RTOL, ATOL = 1e-5, 1e-6
_count = itertools.count()
CMP = ("Greater", "GreaterOrEqual", "Less", "LessOrEqual", "Equal")


def rng_for(case: str) -> np.random.Generator:
    return np.random.default_rng([0x10C1C, zlib.crc32(case.encode())])


def model(nodes, inputs: dict, outputs: dict, inits: dict | None = None, opset: int = 17) -> bytes:
    graph = oh.make_graph(
        nodes,
        "g",
        [oh.make_tensor_value_info(n, elem, s) for n, (elem, s) in inputs.items()],
        [oh.make_tensor_value_info(n, elem, None) for n, elem in outputs.items()],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()],
    )
    return oh.make_model(graph, opset_imports=[oh.make_opsetid("", opset)], ir_version=8).SerializeToString()


def run_both(data: bytes, tmp_path, feeds: list[dict]):
    name = "lg%d" % next(_count)
    result, _ = bake("model.onnx", str(tmp_path), name=name, data=data)
    module = load_cpython(str(tmp_path), name)
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    for f in feeds:
        got, want = run_upyflow(module, list(f.values())), sess.run(None, f)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.dtype == w.dtype, (g.dtype, w.dtype)
            if w.dtype == np.float32:
                np.testing.assert_allclose(g.reshape(w.shape), w, rtol=RTOL, atol=ATOL)
            else:
                np.testing.assert_array_equal(g.reshape(w.shape), w)
    return result


def _floats(rng, shape):
    # a coarse grid: ties between the operands occur
    return np.asarray(np.round(rng.uniform(-2, 2, shape) * 2) / 2, np.float32)


SHAPES = [([2, 3, 4], [2, 3, 4]), ([1, 2, 3, 4], [4]), ([3, 1], [1, 5]), ([5], [])]


@pytest.mark.parametrize("op", CMP)
@pytest.mark.parametrize("sa,sb", SHAPES, ids=lambda s: "x".join(map(str, s)) or "scalar")
def test_compare_float_bool_output(op, sa, sb, tier, tmp_path):
    rng = rng_for("f" + op + str(sa) + str(sb))
    data = model([oh.make_node(op, ["a", "b"], ["y"])], {"a": (TP.FLOAT, sa), "b": (TP.FLOAT, sb)}, {"y": TP.BOOL})
    feeds = [{"a": _floats(rng, sa), "b": _floats(rng, sb)} for _ in range(3)]
    feeds.append({"a": np.resize(np.array([np.nan, np.inf, -np.inf, 0.0], np.float32), sa), "b": _floats(rng, sb)})
    result = run_both(data, tmp_path, feeds)
    assert result.graph.tensors[result.graph.outputs[0]].dtype == "bool"


@pytest.mark.parametrize("op", CMP)
def test_compare_constant_feeds_where(op, tier, tmp_path):
    """x op c -> Where(., x, -x): the computed condition never leaves the board."""
    rng = rng_for("w" + op)
    nodes = [
        oh.make_node(op, ["x", "c"], ["m"]),
        oh.make_node("Neg", ["x"], ["nx"]),
        oh.make_node("Where", ["m", "x", "nx"], ["y"]),
    ]
    data = model(nodes, {"x": (TP.FLOAT, [1, 3, 4, 4])}, {"y": TP.FLOAT}, {"c": _floats(rng, [4])})
    result = run_both(data, tmp_path, [{"x": _floats(rng, [1, 3, 4, 4])} for _ in range(3)])
    assert {"SELECT_V2", {"Greater": "GREATER"}.get(op, "GREATER")} & {o.kind for o in result.graph.ops}


@pytest.mark.parametrize("op", CMP)
def test_compare_qdq(op, tier, tmp_path):
    """DequantizeLinear outputs compared: the dequantized float32 values, as onnxruntime."""
    rng = rng_for("q" + op)
    inits = {"s": np.array(0.05, np.float32), "z": np.array(-3, np.int8), "s2": np.array(0.125, np.float32)}
    nodes = [
        oh.make_node("QuantizeLinear", ["x", "s", "z"], ["qx"]),
        oh.make_node("DequantizeLinear", ["qx", "s", "z"], ["dx"]),
        oh.make_node("QuantizeLinear", ["y", "s2", "z"], ["qy"]),
        oh.make_node("DequantizeLinear", ["qy", "s2", "z"], ["dy"]),
        oh.make_node(op, ["dx", "dy"], ["out"]),
    ]
    data = model(nodes, {"x": (TP.FLOAT, [2, 8]), "y": (TP.FLOAT, [8])}, {"out": TP.BOOL}, inits, opset=13)
    feeds = [{"x": rng.uniform(-6, 6, [2, 8]).astype(np.float32), "y": rng.uniform(-6, 6, [8]).astype(np.float32)}]
    feeds.append({"x": np.full([2, 8], 0.5, np.float32), "y": np.full([8], 0.5, np.float32)})
    run_both(data, tmp_path, feeds)


def test_compare_int32_inputs(tier, tmp_path):
    rng = rng_for("i32")
    nodes = [oh.make_node(op, ["a", "b"], [op.lower()]) for op in CMP]
    data = model(nodes, {"a": (TP.INT32, [3, 4]), "b": (TP.INT32, [4])}, {op.lower(): TP.BOOL for op in CMP})
    feeds = [{"a": rng.integers(-3, 4, [3, 4]).astype(np.int32), "b": rng.integers(-3, 4, [4]).astype(np.int32)}]
    run_both(data, tmp_path, feeds)


@pytest.mark.parametrize("op", ["And", "Or", "Xor", "Not", "Equal"])
def test_logic_bool_inputs(op, tier, tmp_path):
    rng = rng_for("l" + op)
    if op == "Not":
        data = model([oh.make_node(op, ["a"], ["y"])], {"a": (TP.BOOL, [2, 3, 4])}, {"y": TP.BOOL})
        feeds = [{"a": rng.random([2, 3, 4]) < 0.5}]
    else:
        data = model(
            [oh.make_node(op, ["a", "b"], ["y"])], {"a": (TP.BOOL, [2, 3, 4]), "b": (TP.BOOL, [3, 1])}, {"y": TP.BOOL}
        )
        feeds = [{"a": rng.random([2, 3, 4]) < 0.5, "b": rng.random([3, 1]) < 0.5} for _ in range(3)]
    run_both(data, tmp_path, feeds)


def test_logic_chain_of_comparisons_feeds_where(tier, tmp_path):
    """(x > lo) And Not(x >= hi) Or (x == y), Xor a constant -> Where; the mask also an output."""
    rng = rng_for("chain")
    inits = {"lo": np.array(-0.5, np.float32), "hi": np.array(1.0, np.float32), "k": rng.random([4]) < 0.5}
    nodes = [
        oh.make_node("Greater", ["x", "lo"], ["g"]),
        oh.make_node("GreaterOrEqual", ["x", "hi"], ["ge"]),
        oh.make_node("Not", ["ge"], ["lt"]),
        oh.make_node("And", ["g", "lt"], ["inside"]),
        oh.make_node("Equal", ["x", "y"], ["eq"]),
        oh.make_node("Or", ["inside", "eq"], ["m"]),
        oh.make_node("Xor", ["m", "k"], ["mask"]),
        oh.make_node("Where", ["mask", "x", "y"], ["out"]),
    ]
    data = model(
        nodes, {"x": (TP.FLOAT, [1, 3, 4]), "y": (TP.FLOAT, [1, 3, 4])}, {"out": TP.FLOAT, "mask": TP.BOOL}, inits
    )
    feeds = [{"x": _floats(rng, [1, 3, 4]), "y": _floats(rng, [1, 3, 4])} for _ in range(4)]
    run_both(data, tmp_path, feeds)


def test_logic_refusals_are_one_line():
    data = model([oh.make_node("And", ["a", "b"], ["y"])], {"a": (TP.FLOAT, [3]), "b": (TP.FLOAT, [3])}, {"y": TP.BOOL})
    with pytest.raises(BakeError, match="And node .*operands must be bool") as e:
        compile_model("m.onnx", data=data)
    assert "\n" not in str(e.value)


def test_older_opset_read_only_when_its_operators_are_unchanged():
    """And of opset 7 reads as opset 9 (And is defined the same); an opset-7 BatchNormalization
    (changed at 9) is still refused with the opset line."""
    data = model(
        [oh.make_node("And", ["a", "b"], ["y"])], {"a": (TP.BOOL, [3]), "b": (TP.BOOL, [3])}, {"y": TP.BOOL}, opset=7
    )
    assert [op.kind for op in compile_model("m.onnx", data=data).graph.ops] == ["LOGICAL_AND"]
    inits = {k: np.ones(2, np.float32) for k in ("s", "b", "m", "v")}
    data = model(
        [oh.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"])],
        {"x": (TP.FLOAT, [1, 2, 3, 3])},
        {"y": TP.FLOAT},
        inits,
        opset=7,
    )
    with pytest.raises(BakeError, match=r"^ONNX opset 7 is not supported \(upyflow reads opsets 9 to \d+\)$"):
        compile_model("m.onnx", data=data)
