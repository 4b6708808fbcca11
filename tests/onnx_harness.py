"""Helpers of the ONNX front-end tests (test_onnx.py, test_onnx_rounding.py): models built with
onnx.helper, onnxruntime (the oracle) runs, QDQ quantization with onnxruntime.quantization, the
NCHW <-> NHWC layouts, and the generated conv/pool cases. Case parameters come from one fixed
seed and the case id."""

from __future__ import annotations

import itertools

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto as TP
from onnx import helper as oh
from onnx import numpy_helper

from harness import run_micropython, seeded_rng
from upyflow_tools.bake import bake

SEED = 0x0EE1
ACT_NODES = ["none", "relu", "relu6", "relu_n1", "clip"]
_count = itertools.count()


def case_rng(case_id: str) -> np.random.Generator:
    return seeded_rng(SEED, case_id)


def make(nodes, inputs: dict, outputs: list[str], inits: dict | None = None, opset: int = 17) -> bytes:
    """An ONNX model: float32 inputs {name: shape}, outputs by name (shapes left to the runtime)."""
    graph = oh.make_graph(
        nodes,
        "g",
        [oh.make_tensor_value_info(n, TP.FLOAT, s) for n, s in inputs.items()],
        [oh.make_tensor_value_info(n, TP.FLOAT, None) for n in outputs],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()],
    )
    return oh.make_model(graph, opset_imports=[oh.make_opsetid("", opset)], ir_version=8).SerializeToString()


def ort_run(data: bytes, feeds: dict) -> list[np.ndarray]:
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"]).run(None, feeds)


def bake_onnx(data: bytes, tmp_path, layout: str = "nhwc"):
    """Baked with --input-layout nhwc unless told (the layout device_layout and onnx_layout
    convert to and from); layout "nchw" is bake's default."""
    name = "onnx%d" % next(_count)
    result, _ = bake("model.onnx", str(tmp_path), name=name, data=data, input_layout=layout)
    return str(tmp_path), name, result


def device_layout(x: np.ndarray, nlc: bool = False) -> np.ndarray:
    """NCHW inputs are NHWC on the device; NCL inputs NLC in models with 1-D convolutions (nlc)."""
    if x.ndim == 4:
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    return np.ascontiguousarray(x.transpose(0, 2, 1)) if x.ndim == 3 and nlc else x


def onnx_layout(y: np.ndarray, want_shape, nlc: bool = False) -> np.ndarray:
    """Rank-4 outputs are NHWC on the device (none of these models ends in a Transpose); rank-3
    outputs NLC when nlc."""
    if len(want_shape) == 4:
        return y.transpose(0, 3, 1, 2)
    return y.transpose(0, 2, 1) if len(want_shape) == 3 and nlc else y.reshape(want_shape)


def assert_micropython_like_ort(mpy_tier, tmp_path, cases, rtol: float, atol: float) -> None:
    """Each (model bytes, feed dicts) baked and run under MicroPython on mpy_tier: every float32
    output within rtol/atol of onnxruntime's (rank-4 values NHWC on the device)."""
    jobs, sizes, want = [], {}, {}
    for data, sets in cases:
        _, name, _ = bake_onnx(data, tmp_path)
        want[name] = [ort_run(data, f) for f in sets]
        jobs.append((name, [[device_layout(v) for v in f.values()] for f in sets]))
        sizes[name] = [w.nbytes for w in want[name][0]]
    got, _ = run_micropython(mpy_tier, str(tmp_path), jobs, sizes)
    for name, runs in want.items():
        for w_outs, g_outs in zip(runs, got[name]):
            for w, g in zip(w_outs, g_outs):
                w = device_layout(w)
                np.testing.assert_allclose(np.frombuffer(g, np.float32).reshape(w.shape), w, rtol=rtol, atol=atol)


def feeds_for(rng, inputs: dict, n: int = 2, lo: float = -2.0, hi: float = 2.0) -> list[dict]:
    return [{k: rng.uniform(lo, hi, size=s).astype(np.float32) for k, s in inputs.items()} for _ in range(n)]


def f32(rng, *shape, sd: float = 0.5) -> np.ndarray:
    return rng.normal(0, sd, size=shape).astype(np.float32)


def act_node(act: str, src: str, dst: str, inits: dict) -> list:
    if act == "relu":
        return [oh.make_node("Relu", [src], [dst])]
    bounds = {"relu6": (0.0, 6.0), "relu_n1": (-1.0, 1.0), "clip": (-0.3, 0.7)}[act]
    inits[dst + "_lo"] = np.array(bounds[0], np.float32)
    inits[dst + "_hi"] = np.array(bounds[1], np.float32)
    return [oh.make_node("Clip", [src, dst + "_lo", dst + "_hi"], [dst])]


def pad_attrs(rng, k, s, d):
    mode = rng.choice(["none", "sym", "asym", "SAME_UPPER", "SAME_LOWER", "VALID"])
    if mode == "none":
        return {}
    if mode == "sym":
        p = [int(((kk - 1) * dd) // 2) for kk, dd in zip(k, d)]
        return {"pads": p + p}
    if mode == "asym":
        return {"pads": [int(v) for v in rng.integers(0, 3, size=2 * len(k))]}
    return {"auto_pad": str(mode)}


def conv_case(case: str, depthwise: bool):
    rng = case_rng(case)
    cin = int(rng.integers(2 if depthwise else 1, 5))
    cout = cin * int(rng.integers(1, 3)) if depthwise else int(rng.integers(1, 7))
    k = [int(rng.integers(1, 4)), int(rng.integers(1, 4))]
    s = [int(rng.integers(1, 3)), int(rng.integers(1, 3))]
    d = [int(rng.integers(1, 3)), int(rng.integers(1, 3))]
    pads = pad_attrs(rng, k, s, d)
    if str(pads.get("auto_pad", "")).startswith("SAME"):
        d = [1, 1]  # onnxruntime has no dilated SAME convolution
    hw = [int(rng.integers((kk - 1) * dd + 1, 10)) for kk, dd in zip(k, d)]
    attrs = dict(kernel_shape=k, strides=s, dilations=d, **pads)
    if depthwise:
        attrs["group"] = cin
    inits = {"w": f32(rng, cout, 1 if depthwise else cin, *k)}
    ins = ["x", "w"]
    if rng.random() < 0.7:
        inits["b"] = f32(rng, cout)
        ins.append("b")
    act = str(rng.choice(ACT_NODES))
    nodes = [oh.make_node("Conv", ins, ["c" if act != "none" else "y"], **attrs)]
    if act != "none":
        nodes += act_node(act, "c", "y", inits)
    shape = [1, cin] + hw
    return make(nodes, {"x": shape}, ["y"], inits), {"x": shape}, rng


def pool_case(case: str, op: str):
    rng = case_rng(case)
    c = int(rng.integers(1, 5))
    k = [int(rng.integers(1, 4)), int(rng.integers(1, 4))]
    s = [int(rng.integers(1, 3)), int(rng.integers(1, 3))]
    hw = [int(rng.integers(kk, 9)) for kk in k]
    attrs = dict(kernel_shape=k, strides=s)
    mode = rng.choice(["none", "same", "pads", "ceil"])
    if mode == "same":
        attrs["auto_pad"] = str(rng.choice(["SAME_UPPER", "SAME_LOWER"]))
        attrs["strides"] = [min(ss, kk) for ss, kk in zip(s, k)]  # onnxruntime: kernel >= stride
    elif mode == "pads":
        attrs["pads"] = [int(rng.integers(0, kk)) for kk in k] * 2
    elif mode == "ceil":
        attrs["ceil_mode"] = 1
    if op == "AveragePool":
        include = int(rng.integers(0, 2))
        if mode == "pads" and not include and sum(attrs["pads"]):
            include = 1  # count_include_pad=0 with pads TFLite's SAME cannot make is rejected (tested below)
        if mode == "ceil":  # windows running past the end are rejected (tested below)
            attrs["kernel_shape"] = attrs["strides"] = k
            attrs["count_include_pad"] = include
            shape = [1, c] + [kk * int(rng.integers(1, 4)) for kk in k]
            return make([oh.make_node(op, ["x"], ["y"], **attrs)], {"x": shape}, ["y"]), {"x": shape}, rng
        attrs["count_include_pad"] = include
    shape = [1, c] + hw
    return make([oh.make_node(op, ["x"], ["y"], **attrs)], {"x": shape}, ["y"]), {"x": shape}, rng


def bn_inits(rng, c: int, p: str) -> dict:
    return {
        p + "g": rng.uniform(0.5, 1.5, c).astype(np.float32),
        p + "b": f32(rng, c),
        p + "m": f32(rng, c),
        p + "v": rng.uniform(0.5, 1.5, c).astype(np.float32),
    }


def cnn1d_model(rng) -> tuple[bytes, dict]:
    """Conv1d -> BN -> Relu -> MaxPool1d -> grouped Conv1d -> Relu6 -> depthwise Conv1d -> GlobalAveragePool
    -> Flatten -> Gemm, and the depthwise output as a second (rank-3) output."""
    inits = {
        "w1": f32(rng, 8, 3, 3),
        "b1": f32(rng, 8, sd=0.1),
        **bn_inits(rng, 8, "bn"),
        "w2": f32(rng, 8, 4, 3),
        "b2": f32(rng, 8, sd=0.1),
        "wd": f32(rng, 16, 1, 3),
        "bd": f32(rng, 16, sd=0.1),
        "wf": f32(rng, 4, 16, sd=0.3),
        "bf": f32(rng, 4, sd=0.1),
        "lo": np.array(0, np.float32),
        "hi": np.array(6, np.float32),
    }
    nodes = [
        oh.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1]),
        oh.make_node("BatchNormalization", ["c1", "bng", "bnb", "bnm", "bnv"], ["n1"]),
        oh.make_node("Relu", ["n1"], ["r1"]),
        oh.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2], strides=[2]),
        oh.make_node("Conv", ["p1", "w2", "b2"], ["c2"], group=2, pads=[1, 1], dilations=[1]),
        oh.make_node("Clip", ["c2", "lo", "hi"], ["r2"]),
        oh.make_node("Conv", ["r2", "wd", "bd"], ["seq"], group=8, strides=[2], pads=[1, 1]),
        oh.make_node("GlobalAveragePool", ["seq"], ["gp"]),
        oh.make_node("Flatten", ["gp"], ["f"]),
        oh.make_node("Gemm", ["f", "wf", "bf"], ["y"], transB=1),
    ]
    return make(nodes, {"x": ["N", 3, 24]}, ["y", "seq"], inits), {"x": [1, 3, 24]}


def cnn_model(rng, flatten: str = "Flatten") -> tuple[bytes, dict]:
    inits = {
        "w1": f32(rng, 6, 2, 3, 3),
        "b1": f32(rng, 6, sd=0.1),
        **bn_inits(rng, 6, "bn"),
        "wd": f32(rng, 6, 1, 3, 3),
        "bd": f32(rng, 6, sd=0.1),
        "w2": f32(rng, 8, 6, 1, 1),
        "b2": f32(rng, 8, sd=0.1),
        "wf": f32(rng, 5, 8 * 2 * 2, sd=0.2),
        "bf": f32(rng, 5, sd=0.1),
        "shape": np.array([1, -1], np.int64),
    }
    nodes = [
        oh.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        oh.make_node("BatchNormalization", ["c1", "bng", "bnb", "bnm", "bnv"], ["n1"]),
        oh.make_node("Relu", ["n1"], ["r1"]),
        oh.make_node("Conv", ["r1", "wd", "bd"], ["c2"], pads=[1, 1, 1, 1], group=6, strides=[2, 2]),
        oh.make_node("Clip", ["c2", "lo", "hi"], ["r2"]),
        oh.make_node("Conv", ["r2", "w2", "b2"], ["c3"]),
        oh.make_node("MaxPool", ["c3"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        oh.make_node(flatten, ["p", "shape"] if flatten == "Reshape" else ["p"], ["f"]),
        oh.make_node("Gemm", ["f", "wf", "bf"], ["g"], transB=1),
        oh.make_node("Softmax", ["g"], ["y"]),
    ]
    inits["lo"], inits["hi"] = np.array(0, np.float32), np.array(6, np.float32)
    return make(nodes, {"x": ["N", 2, 8, 8]}, ["y"], inits), {"x": [1, 2, 8, 8]}


def quantize(data: bytes, inputs: dict, tmp_path, per_channel: bool, seed: str, preprocess: bool = False) -> bytes:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    rng = case_rng("calib" + seed)
    src, dst = tmp_path / "f.onnx", tmp_path / "q.onnx"
    src.write_bytes(data)
    if preprocess:  # folds BatchNormalization into Conv, as the quantization docs advise
        from onnxruntime.quantization.shape_inference import quant_pre_process

        pre = tmp_path / "pre.onnx"
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        src = pre

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(
                [{k: rng.uniform(-2, 2, size=s).astype(np.float32) for k, s in inputs.items()} for _ in range(16)]
            )

        def get_next(self):
            return next(self.it, None)

    quantize_static(
        str(src),
        str(dst),
        Reader(),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
        per_channel=per_channel,
    )
    return dst.read_bytes()


def out_steps(qdata: bytes) -> list[float]:
    """The scale of the DequantizeLinear that makes each graph output: one int8 step."""
    m = onnx.load_from_string(qdata)
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    steps = []
    for o in m.graph.output:
        node = [n for n in m.graph.node if o.name in n.output][0]
        assert node.op_type == "DequantizeLinear"
        steps.append(float(inits[node.input[1]]))
    return steps
