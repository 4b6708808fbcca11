"""ONNX Slice of computed tensors (STRIDED_SLICE), Where with a computed condition (SELECT_V2)
and Pow with a general constant exponent, against onnxruntime on each CPython kernel tier
(`tier`). Models are built with onnx.helper; inputs come from a fixed seed and the case id."""

from __future__ import annotations

import itertools
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
_count = itertools.count()
pytestmark = pytest.mark.usefixtures("tier")


def rng_for(case: str) -> np.random.Generator:
    return np.random.default_rng([0x5C1, zlib.crc32(case.encode())])


def model(nodes, inputs: dict, outputs: list[str], inits: dict | None = None, opset: int = 17) -> bytes:
    """inputs {name: (TensorProto type, shape)}; outputs typed float32 (shape left open)."""
    graph = oh.make_graph(
        nodes,
        "g",
        [oh.make_tensor_value_info(n, elem, s) for n, (elem, s) in inputs.items()],
        [oh.make_tensor_value_info(n, TP.FLOAT, None) for n in outputs],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()],
    )
    return oh.make_model(graph, opset_imports=[oh.make_opsetid("", opset)], ir_version=8).SerializeToString()


def run_both(data: bytes, tmp_path, feeds: list[dict], **bake_args):
    """(baked result, [(upyflow outputs, onnxruntime outputs)] per feed), the default layout:
    the file's, so inputs go in as onnxruntime takes them."""
    name = "sw%d" % next(_count)
    result, _ = bake("model.onnx", str(tmp_path), name=name, data=data, **bake_args)
    module = load_cpython(str(tmp_path), name)
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
    pairs = []
    for f in feeds:
        got = run_upyflow(module, list(f.values()))
        pairs.append((got, sess.run(None, f)))
    return result, pairs


def kinds(result) -> list[str]:
    return [op.kind for op in result.graph.ops]


# --- Slice --------------------------------------------------------------------------------------
SLICE_CASES = [  # (input shape, starts, ends, axes, steps)
    ([2, 6, 5], [1], [5], [1], None),
    ([2, 6, 5], [0, -3], [1, 100], [0, 2], [1, 1]),
    ([1, 3, 8, 8], [1, 1], [3, 7], [1, 3], [1, 2]),  # channels and columns of an NCHW image
    ([1, 4, 7, 5], [-1], [-100], [2], [-2]),  # backwards past index 0 (TFLM's end -1 would wrap)
    ([1, 4, 7, 5], [5, 0], [1, 4], [2, 1], [-1, 3]),
    ([6, 9], [2, -2], [2**62, 1], [0, 1], [1, -3]),  # INT64-sized end, negative start
    ([12], [3], [11], None, [4]),
]


def _slice_id(c):
    shape, starts, ends, axes, steps = c
    return "x".join(map(str, shape)) + "-s%s-e%s-a%s-st%s" % (starts, ends, axes, steps)


def slice_model(case, relu_first: bool = True) -> tuple[bytes, dict]:
    """Relu (a computed input) -> Slice -> Relu; the constants as initializers."""
    shape, starts, ends, axes, steps = case
    inits = {"starts": np.array(starts, np.int64), "ends": np.array(ends, np.int64)}
    ins = ["r", "starts", "ends"]
    if axes is not None or steps is not None:
        inits["axes"] = np.array(axes if axes is not None else range(len(starts)), np.int64)
        ins.append("axes")
    if steps is not None:
        inits["steps"] = np.array(steps, np.int64)
        ins.append("steps")
    nodes = [
        oh.make_node("Relu", ["x"], ["r"]),
        oh.make_node("Slice", ins, ["s"]),
        oh.make_node("Sigmoid", ["s"], ["y"]),
    ]
    return model(nodes, {"x": (TP.FLOAT, shape)}, ["y"], inits), {"x": shape}


@pytest.mark.parametrize(
    "case,layout",
    [(c, None) for c in SLICE_CASES] + [(c, "nhwc") for c in SLICE_CASES if len(c[0]) == 4],
    ids=lambda v: _slice_id(v) if isinstance(v, tuple) else str(v),
)
def test_slice_of_a_computed_tensor(case, layout, tmp_path):
    data, inputs = slice_model(case)
    rng = rng_for("slice" + _slice_id(case))
    feeds = [{"x": rng.uniform(-2, 2, inputs["x"]).astype(np.float32)} for _ in range(2)]
    if layout == "nhwc":  # the board takes NHWC: feed it so, compare NCHW
        name = "sw%d" % next(_count)
        result, _ = bake("model.onnx", str(tmp_path), name=name, data=data, input_layout="nhwc")
        module = load_cpython(str(tmp_path), name)
        sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        for f in feeds:
            want = sess.run(None, f)[0]
            got = run_upyflow(module, [np.ascontiguousarray(f["x"].transpose(0, 2, 3, 1))])[0]
            np.testing.assert_allclose(got.transpose(0, 3, 1, 2), want, rtol=RTOL, atol=ATOL)
    else:
        result, pairs = run_both(data, tmp_path, feeds)
        for got, want in pairs:
            np.testing.assert_allclose(got[0].reshape(want[0].shape), want[0], rtol=RTOL, atol=ATOL)
    assert "STRIDED_SLICE" in kinds(result)


def test_slice_of_a_quantized_tensor_moves_int8_bytes(tmp_path):
    """Slice between DequantizeLinear and QuantizeLinear slices the int8 bytes as they are."""
    inits = {
        "s": np.array(0.05, np.float32),
        "z": np.array(3, np.int8),
        "starts": np.array([1, 0], np.int64),
        "ends": np.array([4, 5], np.int64),
        "axes": np.array([1, 2], np.int64),
        "steps": np.array([2, 2], np.int64),
    }
    nodes = [
        oh.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
        oh.make_node("DequantizeLinear", ["q", "s", "z"], ["d"]),
        oh.make_node("Slice", ["d", "starts", "ends", "axes", "steps"], ["sl"]),
        oh.make_node("QuantizeLinear", ["sl", "s", "z"], ["q2"]),
        oh.make_node("DequantizeLinear", ["q2", "s", "z"], ["y"]),
    ]
    data = model(nodes, {"x": (TP.FLOAT, [1, 5, 6])}, ["y"], inits, opset=13)
    rng = rng_for("slice-q")
    feeds = [{"x": rng.uniform(-6, 6, (1, 5, 6)).astype(np.float32)} for _ in range(2)]
    result, pairs = run_both(data, tmp_path, feeds)
    g = result.graph
    sl = [op for op in g.ops if op.kind == "STRIDED_SLICE"]
    assert len(sl) == 1 and g.tensors[sl[0].inputs[0]].dtype == "i8"
    for got, want in pairs:
        np.testing.assert_allclose(got[0].reshape(want[0].shape), want[0], rtol=RTOL, atol=ATOL)


def test_slice_opset9_attributes(tmp_path):
    nodes = [oh.make_node("Relu", ["x"], ["r"]), oh.make_node("Slice", ["r"], ["y"], starts=[1, -4], ends=[3, 9])]
    data = model(nodes, {"x": (TP.FLOAT, [4, 7])}, ["y"], opset=9)
    feeds = [{"x": rng_for("slice9").uniform(-2, 2, (4, 7)).astype(np.float32)}]
    _, pairs = run_both(data, tmp_path, feeds)
    for got, want in pairs:
        np.testing.assert_allclose(got[0].reshape(want[0].shape), want[0], rtol=RTOL, atol=ATOL)


def test_slice_refusals_are_one_line():
    def sliced(starts, ends, axes, shape=(2, 3, 4)):
        inits = {"a": np.array(starts, np.int64), "b": np.array(ends, np.int64), "c": np.array(axes, np.int64)}
        nodes = [oh.make_node("Relu", ["x"], ["r"]), oh.make_node("Slice", ["r", "a", "b", "c"], ["y"])]
        return model(nodes, {"x": (TP.FLOAT, list(shape))}, ["y"], inits)

    with pytest.raises(
        BakeError, match=r"^Slice node '' makes an empty tensor \[2, 0, 4\]; upyflow needs at least one value$"
    ):
        compile_model("m.onnx", "m", sliced([2], [2], [1]))
    with pytest.raises(BakeError, match=r"^Slice node '': axis 3 or step 1 for a 3-D input$"):
        compile_model("m.onnx", "m", sliced([0], [1], [3]))
    with pytest.raises(BakeError, match=r"^Slice node '': an axis is sliced twice$"):
        compile_model("m.onnx", "m", sliced([0, 1], [1, 2], [1, -2]))
    with pytest.raises(BakeError, match=r"^Slice node '': a 5-D input; upyflow slices computed tensors of up to 4"):
        compile_model("m.onnx", "m", sliced([0], [1], [1], (1, 2, 3, 2, 2)))


# --- Where --------------------------------------------------------------------------------------
WHERE_CASES = [  # (condition shape or "const", x shape, y shape or a constant's shape prefixed by "c")
    ([2, 3, 4], [2, 3, 4], [2, 3, 4]),
    ([3, 1], [2, 3, 4], [4]),
    ([1, 3, 5, 5], [1, 3, 5, 5], "c[1, 3, 1, 1]"),  # torch.where(mask, x, per-channel constant)
    ("const[2, 1, 4]", [2, 3, 4], [1, 3, 1]),
    ([1, 1, 4, 4], [1, 2, 1, 4], [1, 2, 4, 4]),
]


def _where_id(c):
    return "c%s-x%s-y%s" % tuple(str(v).replace(" ", "") for v in c)


def where_model(case, rng) -> tuple[bytes, dict]:
    """Where(condition, Relu(x), Sigmoid(y) or a constant); the condition a bool input or a constant."""
    cs, xs, ys = case
    inputs: dict = {"x": (TP.FLOAT, xs)}
    inits: dict = {}
    if isinstance(cs, str):
        inits["cond"] = rng.random(eval(cs[5:])) < 0.5
    else:
        inputs["cond"] = (TP.BOOL, cs)
    nodes = [oh.make_node("Relu", ["x"], ["rx"])]
    if isinstance(ys, str):
        inits["ry"] = rng.normal(0, 1, eval(ys[1:])).astype(np.float32)
    else:
        inputs["y"] = (TP.FLOAT, ys)
        nodes.append(oh.make_node("Sigmoid", ["y"], ["ry"]))
    nodes.append(oh.make_node("Where", ["cond", "rx", "ry"], ["w"]))
    nodes.append(oh.make_node("Neg", ["w"], ["out"]))
    return model(nodes, inputs, ["out"], inits), inputs


@pytest.mark.parametrize(
    "case,layout",
    [(c, None) for c in WHERE_CASES] + [(c, "nhwc") for c in WHERE_CASES if len(c[1]) == 4],
    ids=lambda v: _where_id(v) if isinstance(v, tuple) else str(v),
)
def test_where_with_a_computed_operand_or_condition(case, layout, tmp_path):
    rng = rng_for("where" + _where_id(case))
    data, inputs = where_model(case, rng)
    feeds = []
    for _ in range(3):
        f = {}
        for k, (elem, s) in inputs.items():
            f[k] = (rng.random(s) < 0.5) if elem == TP.BOOL else rng.uniform(-2, 2, s).astype(np.float32)
        feeds.append(f)
    name = "sw%d" % next(_count)
    result, _ = bake("model.onnx", str(tmp_path), name=name, data=data, input_layout=layout)
    assert "SELECT_V2" in kinds(result)
    module = load_cpython(str(tmp_path), name)
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    to_board = (lambda v: np.ascontiguousarray(v.transpose(0, 2, 3, 1)) if v.ndim == 4 else v) if layout else None
    for f in feeds:
        want = sess.run(None, f)[0]
        got = run_upyflow(module, [to_board(v) if to_board else v for v in f.values()])[0]
        if to_board and want.ndim == 4:
            got = got.reshape([want.shape[i] for i in (0, 2, 3, 1)]).transpose(0, 3, 1, 2)
        np.testing.assert_allclose(got.reshape(want.shape), want, rtol=RTOL, atol=ATOL)


def test_where_of_quantized_values(tmp_path):
    """QDQ: Where between two DequantizeLinear outputs, quantized again: within one output step
    of onnxruntime (a pick: the same values)."""
    inits = {"s": np.array(0.05, np.float32), "z": np.array(-3, np.int8), "s2": np.array(0.04, np.float32)}
    nodes = [
        oh.make_node("QuantizeLinear", ["x", "s", "z"], ["qx"]),
        oh.make_node("DequantizeLinear", ["qx", "s", "z"], ["dx"]),
        oh.make_node("QuantizeLinear", ["y", "s2", "z"], ["qy"]),
        oh.make_node("DequantizeLinear", ["qy", "s2", "z"], ["dy"]),
        oh.make_node("Where", ["c", "dx", "dy"], ["w"]),
        oh.make_node("QuantizeLinear", ["w", "s", "z"], ["qw"]),
        oh.make_node("DequantizeLinear", ["qw", "s", "z"], ["out"]),
    ]
    shape = [1, 2, 3, 4]
    data = model(nodes, {"c": (TP.BOOL, shape), "x": (TP.FLOAT, shape), "y": (TP.FLOAT, [4])}, ["out"], inits, opset=13)
    rng = rng_for("where-qdq")
    feeds = [
        {
            "c": rng.random(shape) < 0.5,
            "x": rng.uniform(-6, 6, shape).astype(np.float32),
            "y": rng.uniform(-5, 5, [4]).astype(np.float32),
        }
        for _ in range(3)
    ]
    result, pairs = run_both(data, tmp_path, feeds)
    assert "SELECT_V2" in kinds(result)
    for got, want in pairs:
        assert np.abs(got[0].reshape(want[0].shape) - want[0]).max() <= 0.05 * (1 + 1e-3)


def test_where_refusals_are_one_line():
    data = model(
        [oh.make_node("Where", ["c", "x", "x"], ["y"])],
        {"c": (TP.FLOAT, [2, 3]), "x": (TP.FLOAT, [2, 3])},
        ["y"],
    )
    with pytest.raises(BakeError, match=r"^Where node '': the condition must be bool$"):
        compile_model("m.onnx", "m", data)
    data = model(
        [oh.make_node("Where", ["c", "x", "x"], ["y"]), oh.make_node("Not", ["c"], ["n"])],
        {"c": (TP.BOOL, [2, 3]), "x": (TP.FLOAT, [2, 3])},
        ["y"],
    )
    # a bool input read by more than Where is bool bytes too (test_onnx_logic.py); read as a number it is refused
    assert compile_model("m.onnx", "m", data).graph.tensors[0].dtype == "bool"
    data = model(
        [oh.make_node("Where", ["c", "x", "x"], ["y"]), oh.make_node("Relu", ["c"], ["n"])],
        {"c": (TP.BOOL, [2, 3]), "x": (TP.FLOAT, [2, 3])},
        ["y"],
    )
    with pytest.raises(BakeError) as e:
        compile_model("m.onnx", "m", data)
    assert "\n" not in str(e.value) and "'c'" in str(e.value), str(e.value)


# --- Pow ----------------------------------------------------------------------------------------
POW_CASES = [  # (base shape, exponent: a constant's values or "computed" with its shape)
    ([2, 3, 4], [3.0]),
    ([2, 3, 4], [-2.0]),
    ([2, 3, 4], [0.5]),
    ([1, 3, 4, 4], [1.5, 2.0, 7.0, -0.25]),  # per column, broadcast
    ([1, 3, 4, 4], [[[17.0]], [[0.0]], [[-3.0]]]),  # per channel: a large integer, 0, negative
    ([2, 5], "computed[2, 5]"),
    ([4, 3], "computed[3]"),
]


def _pow_id(c):
    return "x%s-e%s" % (str(c[0]).replace(" ", ""), str(c[1]).replace(" ", ""))


@pytest.mark.parametrize("case", POW_CASES, ids=_pow_id)
def test_pow_general_exponent(case, tmp_path):
    """Negative bases (NaN for fractional exponents, the sign of odd ones) and zeros included;
    float32 within the tolerance of onnxruntime's std::pow."""
    xs, e = case
    rng = rng_for("pow" + _pow_id(case))
    inputs = {"x": (TP.FLOAT, xs)}
    inits = {}
    if isinstance(e, str):
        inputs["e"] = (TP.FLOAT, eval(e[8:]))
    else:
        inits["e"] = np.array(e, np.float32)
    data = model([oh.make_node("Pow", ["x", "e"], ["y"])], inputs, ["y"], inits)
    feeds = []
    for _ in range(3):
        f = {"x": rng.uniform(-3, 3, xs).astype(np.float32)}
        f["x"].reshape(-1)[::7] = 0.0
        if "e" in inputs:
            f["e"] = rng.uniform(-3, 3, inputs["e"][1]).astype(np.float32)
            f["e"].reshape(-1)[::3] = np.round(f["e"].reshape(-1)[::3])
        feeds.append(f)
    result, pairs = run_both(data, tmp_path, feeds)
    assert "POW" in kinds(result)
    for got, want in pairs:
        np.testing.assert_allclose(got[0].reshape(want[0].shape), want[0], rtol=RTOL, atol=ATOL, equal_nan=True)


def test_pow_exponent_two_stays_a_multiply():
    data = model([oh.make_node("Pow", ["x", "e"], ["y"])], {"x": (TP.FLOAT, [3, 4])}, ["y"], {"e": np.float32(2)})
    assert [op.kind for op in compile_model("m.onnx", "m", data).graph.ops] == ["MUL"]


def test_tflite_pow_against_numpy(tmp_path):
    """TFLM has no POW kernel: numpy's float32 power (std::pow) is the reference."""
    from harness import bake_model
    from tflite_writer import ModelWriter

    w = ModelWriter()
    a, b = w.tensor([2, 3, 4], "float32"), w.tensor([4], "float32")
    y = w.tensor([2, 3, 4], "float32")
    w.op("POW", [a, b], [y])
    mdir, name, _ = bake_model(w.build([a, b], [y]), tmp_path)
    module = load_cpython(mdir, name)
    rng = rng_for("tflite-pow")
    for e in ([2.0, 3.0, -1.0, 0.5], [0.0, 1.25, -2.5, 9.0]):
        x = rng.uniform(-4, 4, (2, 3, 4)).astype(np.float32)
        ev = np.array(e, np.float32)
        with np.errstate(invalid="ignore", divide="ignore"):
            want = np.power(x, ev)
        got = run_upyflow(module, [x, ev])[0].reshape(want.shape)
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, equal_nan=True)


@pytest.mark.parametrize("mpy_tier", ["pure", "viper", "natmod"], indirect=True)
def test_pow_micropython(mpy_tier, tmp_path):
    """POW on MicroPython (its math.pow returns where CPython's raises): numpy's float32 power."""
    from harness import bake_model
    from tflite_writer import ModelWriter
    from upyflow_tools.unixport import run_batch

    w = ModelWriter()
    a, b = w.tensor([3, 4], "float32"), w.tensor([4], "float32")
    y = w.tensor([3, 4], "float32")
    w.op("POW", [a, b], [y])
    _, name, _ = bake_model(w.build([a, b], [y]), tmp_path, name="powm")
    rng = rng_for("pow-mpy")
    sets = []
    for e in ([2.0, 3.0, -1.0, 0.5], [0.0, 1.25, -2.5, 40.0]):
        x = rng.uniform(-4, 4, (3, 4)).astype(np.float32)
        x[0] = 0.0
        sets.append([x, np.array(e, np.float32)])
    got, _ = run_batch(
        str(tmp_path),
        name,
        [[v.tobytes() for v in s] for s in sets],
        heapsize="2M",
        env={"UPYFLOW_TIER": mpy_tier.tier},
        extra_paths=list(mpy_tier.extra_paths),
    )
    for g, (x, e) in zip(got, sets):
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            want = np.power(x, e)
        np.testing.assert_allclose(np.frombuffer(g[0], np.float32).reshape(want.shape), want, rtol=RTOL, equal_nan=True)
