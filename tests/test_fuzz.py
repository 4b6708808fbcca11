"""Reliability (issue 13): what bake accepts runs within its buffers on every CPython tier,
and what it refuses gets one line.

A seeded mutation fuzz of TFLite and ONNX models (tests/fuzz.py; `make fuzz` runs thousands
with a fresh seed), then one regression test per bake finding: zero-sized outputs, pools over
2^31-wide tensors, softmax parameters, ops writing constants or graph inputs, NaN/inf
parameters, tensors beyond 32 bits, kernel parameter ranges, and the ONNX reader's checks.
"""
from __future__ import annotations

import os
import time

import numpy as np
import pytest

import fuzz
from tflite_writer import ModelWriter, add_quant_weights
from upyflow_tools import BakeError
from upyflow_tools.bake import compile_model
from upyflow_tools.emit import module_source
from upyflow_tools.ir import Op
from upyflow_tools.lower.core import Call
from upyflow_tools.runner import load_module

SEED = 20261202


# --- the fuzz --------------------------------------------------------------------------------------
def _summary(result: dict) -> str:
    lines = ["%s %s: %d" % (v, k, n) for (v, k), n in sorted(result["counts"].items())]
    lines += ["finding %s in %s #%d: %s" % (v, name, k, detail)
              for (v, _), (name, k, detail) in sorted(result["findings"].items())]
    return "\n".join(lines)


@pytest.mark.parametrize("kind,count", [("tflite", 500), ("onnx", 500)])
def test_fuzz(kind, count):
    """Every mutant: a one-line BakeError, or a model whose pure and native outputs agree and
    whose pure tier writes nothing past its arena. Nothing hangs, crashes or runs out of memory."""
    result = fuzz.fuzz(kind, count, SEED, timeout=30, quick=True)
    print(_summary(result))
    assert sum(result["counts"].values()) == count
    assert not result["findings"], _summary(result)
    # the mutants are not all trivially rejected: some get through to the tiers
    assert result["counts"][("ok", kind)] >= count // 20, _summary(result)


def test_fuzz_seeds_run():
    """The unmutated seeds bake and agree on both tiers (else the fuzz tests nothing)."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        for name, data in fuzz.seeds("both", quick=True).items():
            assert fuzz.judge(name, data, 1, d) == ("ok", ""), name


def test_guard_detects_writes_past_the_arena(tmp_path):
    """The harness's guard works: told the arena ends 8 bytes early, it sees the last
    kernel write into its guard bytes (as MicroPython's unbounded views would). (A module
    whose ARENA_SIZE is cut short no longer gets that far: the runtime refuses it at load.)"""
    data = fuzz.seeds("tflite", quick=True)["w_cnn_s8.tflite"]
    result = compile_model("m.tflite", "cut", data=data)
    src = module_source(result.baked, "cut")
    short = result.arena_size - 8
    path = tmp_path / "cut.py"
    path.write_text(src)
    mod = fuzz._load(str(path), "cut")
    nbytes = result.baked.tensors[result.baked.inputs[0]][2]
    verdict = fuzz._run_tier(mod, "pure", [bytes(nbytes)], short)
    assert verdict[0] == "guard", verdict


# --- helpers --------------------------------------------------------------------------------------
def bake_error(data: bytes, path: str = "m.tflite") -> str:
    """The one-line BakeError bake gives for data (fails on acceptance or any other exception)."""
    t0 = time.time()
    with pytest.raises(BakeError) as e:
        compile_model(path, "m", data=data)
    assert time.time() - t0 < 30   # generous: what matters is no hang
    msg = str(e.value)
    assert msg and "\n" not in msg
    return msg


def run_both(data: bytes, tmp_path, inputs: list[bytes]) -> dict:
    """Outputs of the pure and native tiers for a model bake accepts."""
    import upyflow
    import upyflow.dispatch as dispatch
    result = compile_model("m.tflite", "m", data=data)
    path = tmp_path / "m.py"
    path.write_text(module_source(result.baked, "m"))
    mod = load_module(str(path))
    outs = {}
    for tier in ("pure", "native"):
        if tier == "native" and not dispatch.available("native"):
            continue
        m = upyflow.Model(mod, tier)
        for i, x in enumerate(inputs):
            m.set_input(i, x)
        m.invoke()
        outs[tier] = bytes(m.get_output(0))
    return outs


def conv_model(kind: str, out_shape: list[int], out_scale: float = 0.05, in_scale: float = 0.05) -> bytes:
    rng = np.random.default_rng(3)
    w = ModelWriter()
    x = w.tensor([1, 4, 4, 2], "int8", in_scale, 0)
    y = w.tensor(out_shape, "int8", out_scale, 0)
    if kind == "CONV_2D":
        wi, bi, *_ = add_quant_weights(w, rng, [3, 3, 3, 2], 0, in_scale)
    else:
        wi, bi, *_ = add_quant_weights(w, rng, [1, 3, 3, 2], 3, in_scale)
    w.op(kind, [x, wi, bi], [y])
    return w.build([x], [y])


# --- finding 1: a zero-sized output gets no arena bytes but the kernel writes it ------------------
@pytest.mark.parametrize("kind", ["CONV_2D", "DEPTHWISE_CONV_2D"])
def test_conv_output_batch_zero_rejected(kind):
    c = 3 if kind == "CONV_2D" else 2
    msg = bake_error(conv_model(kind, [0, 4, 4, c]))
    assert "shape [0, 4, 4, %d]" % c in msg


def test_shared_model_cut_after_depthwise_with_batch_zero():
    """micro_speech_quantized with its depthwise output's batch set to 0 and made the graph
    output (the issue's mutant): refused at bake, not 414 bytes written past the arena."""
    import tflite
    path = fuzz.SHARED / "micro_speech_quantized.tflite"
    if not path.exists():
        pytest.skip("../shared is not present")
    data = bytearray(path.read_bytes())
    model = tflite.Model.GetRootAs(bytes(data), 0)
    codes = [max(model.OperatorCodes(k).BuiltinCode(), model.OperatorCodes(k).DeprecatedBuiltinCode())
             for k in range(model.OperatorCodesLength())]
    sg = model.Subgraphs(0)
    dw = next(op for op in (sg.Operators(i) for i in range(sg.OperatorsLength()))
              if codes[op.OpcodeIndex()] == tflite.BuiltinOperator.DEPTHWISE_CONV_2D)
    out = dw.Outputs(0)
    start, _ = fuzz._vec(sg.Tensors(out)._tab, 4)          # its shape: batch first
    data[start:start + 4] = (0).to_bytes(4, "little")
    start, _ = fuzz._vec(sg._tab, 8)                         # graph output 0 -> that tensor
    data[start:start + 4] = out.to_bytes(4, "little")
    assert "has shape [0, " in bake_error(bytes(data))


# --- finding 3: loops of ~4.6e18 iterations; softmax diff_min > 0 -----------------------------------
@pytest.mark.parametrize("kind", ["MAX_POOL_2D", "AVERAGE_POOL_2D"])
def test_pool_on_huge_empty_tensor_rejected(kind):
    w = ModelWriter()
    big = (1 << 31) - 1
    x = w.tensor([1, big, big, 0], "int8", 0.1, 0)
    y = w.tensor([1, big, big, 0], "int8", 0.1, 0)
    w.op(kind, [x], [y])
    assert "at least one element" in bake_error(w.build([x], [y]))


def softmax_model(beta: float, in_scale: float = 0.1, dtype: str = "int8") -> bytes:
    w = ModelWriter()
    if dtype == "float32":
        x, y = w.tensor([1, 5], "float32"), w.tensor([1, 5], "float32")
    else:
        x = w.tensor([1, 5], "int8", in_scale, 0)
        y = w.tensor([1, 5], "int8", 1 / 256, -128)
    w.op("SOFTMAX", [x], [y], beta=beta)
    return w.build([x], [y])


@pytest.mark.parametrize("beta_scale", [1e-12, 2.0 ** -27, 1e-3, 1.0, 1e6, 1e12, 1e30])
def test_softmax_never_bakes_a_positive_diff_min(beta_scale):
    """Over every beta x scale, bake gives int8 softmax parameters the kernels accept
    (shift 0..31, diff_min <= 0) or a one-line refusal (TFLM needs beta x scale > 2^-26)."""
    data = softmax_model(beta_scale / 0.1)
    try:
        result = compile_model("m.tflite", "m", data=data)
    except BakeError as e:
        assert beta_scale <= 2.0 ** -26 and "\n" not in str(e)
        return
    (call,) = result.calls
    rows, depth, mult, shift, diff_min = call.params
    assert 0 <= shift <= 31 and diff_min <= 0


def test_positive_diff_min_is_refused():
    from upyflow_tools.lower.core import check_call
    op = Op("SOFTMAX", [0], [1])

    class G:
        tensors = [None, type("T", (), {"name": "y"})()]
    with pytest.raises(BakeError, match="diff_min 5 is outside"):
        check_call(G, op, Call("softmax_s8", [0, 1], [1, 5, 1 << 30, 3, 5]))


def test_conv_dilation_beyond_int32_rejected():
    """SAME padding lets any dilation through the shape check; the kernels' int32 window
    arithmetic cannot take (k - 1) x 2^31-1."""
    rng = np.random.default_rng(3)
    w = ModelWriter()
    x = w.tensor([1, 4, 4, 2], "int8", 0.05, 0)
    y = w.tensor([1, 4, 4, 3], "int8", 0.05, 0)
    wi, bi, *_ = add_quant_weights(w, rng, [3, 3, 3, 2], 0, 0.05)
    w.op("CONV_2D", [x, wi, bi], [y], dilation_h_factor=(1 << 31) - 1)
    assert "reach beyond 2^31" in bake_error(w.build([x], [y]))


# --- finding 4: an op writing a constant (the immutable weights) or a graph input -------------------
def test_op_writing_a_constant_rejected():
    w = ModelWriter()
    x = w.tensor([1, 4], "float32")
    c = w.tensor([1, 4], "float32", data=np.ones((1, 4)))
    y = w.tensor([1, 4], "float32")
    w.op("ADD", [x, x], [c])
    w.op("ADD", [c, x], [y])
    assert "writes tensor 't1', which is a constant" in bake_error(w.build([x], [y]))


def test_op_writing_a_graph_input_rejected():
    w = ModelWriter()
    x = w.tensor([1, 4], "float32")
    y = w.tensor([1, 4], "float32")
    w.op("ADD", [y, y], [x])
    assert "which is a graph input" in bake_error(w.build([x, y], [x]))


def test_constant_graph_output_rejected():
    w = ModelWriter()
    x = w.tensor([1, 4], "float32")
    y = w.tensor([1, 4], "float32")
    c = w.tensor([1, 4], "float32", data=np.ones((1, 4)))
    w.op("ADD", [x, c], [y])
    assert "graph output 't2' is a constant" in bake_error(w.build([x], [c]))


# --- finding 6: bake tracebacks ----------------------------------------------------------------------
@pytest.mark.parametrize("beta", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("dtype", ["int8", "float32"])
def test_non_finite_softmax_beta_rejected(beta, dtype):
    assert "beta" in bake_error(softmax_model(beta, dtype=dtype))


def test_nan_leaky_relu_alpha_rejected():
    w = ModelWriter()
    x = w.tensor([1, 4], "int8", 0.1, 0)
    y = w.tensor([1, 4], "int8", 0.1, 0)
    w.op("LEAKY_RELU", [x], [y], alpha=float("nan"))
    assert "nan" in bake_error(w.build([x], [y]))


def test_prelu_alpha_that_widens_the_output_rejected():
    w = ModelWriter()
    x = w.tensor([1, 3], "float32")
    y = w.tensor([1, 3], "float32")
    a = w.tensor([2, 1], "float32", data=np.ones((2, 1)))
    w.op("PRELU", [x, a], [y])
    assert "does not broadcast to" in bake_error(w.build([x], [y]))


def test_tensor_beyond_32_bits_rejected():
    w = ModelWriter()
    x = w.tensor([1, 1 << 28, 4], "float32")
    y = w.tensor([1, 1 << 28, 4], "float32")
    w.op("ADD", [x, x], [y])
    assert "fewer than 2^31 bytes" in bake_error(w.build([x], [y]))


def test_bool_tensor_rejected():
    w = ModelWriter()
    x = w.tensor([4], "bool")
    y = w.tensor([2, 2], "bool")
    w.op("RESHAPE", [x, w.tensor([2], "int32", data=np.array([2, 2]))], [y])
    assert "bool tensors" in bake_error(w.build([x], [y]))   # listed with the other unsupported types


def test_nan_float_weights_rejected():
    w = ModelWriter()
    x = w.tensor([1, 2], "float32")
    y = w.tensor([1, 2], "float32")
    wt = w.tensor([2, 2], "float32", data=np.array([[1, np.nan], [0, 1]]))
    w.op("FULLY_CONNECTED", [x, wt, -1], [y])
    assert "NaN or infinite" in bake_error(w.build([x], [y]))


# --- finding 7: parameters the kernels refuse at run time; tiers that disagree ------------------------
def test_conv_shift_beyond_kernel_range_rejected():
    """A huge input/output scale ratio: native refused it at run time ("a parameter is out of
    range"); bake now refuses it with the op's name."""
    msg = bake_error(conv_model("CONV_2D", [1, 4, 4, 3], out_scale=1e-30, in_scale=1e20))
    assert "requantization shift" in msg and "CONV_2D" in msg


def test_multiplier_above_one_wraps_alike(tmp_path):
    """An int8 FULLY_CONNECTED whose multiplier is > 1 (left shift): pure wraps the shifted
    sum to int32 as C and TFLM do, so the tiers agree."""
    rng = np.random.default_rng(5)
    w = ModelWriter()
    x = w.tensor([1, 8], "int8", 1e3, 0)
    y = w.tensor([1, 4], "int8", 1e-6, 0)      # multiplier ~2^24: the shifted sums overflow int32
    wi, bi, *_ = add_quant_weights(w, rng, [4, 8], 0, 1e3)
    w.op("FULLY_CONNECTED", [x, wi, bi], [y])
    data = w.build([x], [y])
    inp = rng.integers(-128, 128, 8, dtype=np.int8).tobytes()
    outs = run_both(data, tmp_path, [inp])
    if len(outs) == 2:
        assert outs["pure"] == outs["native"]


# --- the ONNX reader validates before it computes ----------------------------------------------------
def onnx_model(nodes, inputs: dict, inits: dict, outputs=("y",)) -> bytes:
    from onnx import TensorProto as TP
    from onnx import helper as oh
    from onnx import numpy_helper as nh
    graph = oh.make_graph(nodes, "g", [oh.make_tensor_value_info(n, TP.FLOAT, s) for n, s in inputs.items()],
                          [oh.make_tensor_value_info(n, TP.FLOAT, None) for n in outputs],
                          [nh.from_array(np.asarray(v), k) for k, v in inits.items()])
    return oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)], ir_version=8).SerializeToString()


def conv_onnx(**attrs) -> bytes:
    from onnx import helper as oh
    return onnx_model([oh.make_node("Conv", ["x", "w"], ["y"], **attrs)], {"x": [1, 2, 6, 6]},
                      {"w": np.ones((3, 2, 3, 3), np.float32)})


@pytest.mark.parametrize("attrs,needle", [
    (dict(strides=[0, 1]), "strides"),
    (dict(strides=[1]), "strides"),
    (dict(dilations=[1, -1]), "dilations"),
    (dict(pads=[1, 1, 1]), "pads"),
    (dict(pads=[-1, 0, 0, 0]), "pads"),
    (dict(group=0), "group"),
    (dict(kernel_shape=[5, 5]), "kernel_shape"),
    (dict(strides=[1 << 33, 1]), "strides"),
])
def test_onnx_conv_attributes_checked(attrs, needle):
    assert needle in bake_error(conv_onnx(**attrs), "m.onnx")


def test_onnx_pool_stride_zero_and_missing_kernel():
    from onnx import helper as oh
    for attrs in (dict(kernel_shape=[2, 2], strides=[0, 0]), dict(strides=[1, 1])):
        data = onnx_model([oh.make_node("MaxPool", ["x"], ["y"], **attrs)], {"x": [1, 2, 6, 6]}, {})
        bake_error(data, "m.onnx")


def test_onnx_initializer_dims_must_match_data():
    import onnx
    m = onnx.ModelProto()
    m.ParseFromString(conv_onnx())
    m.graph.initializer[0].dims[0] = 4
    assert "does not match dims" in bake_error(m.SerializeToString(), "m.onnx")


def test_onnx_missing_input_and_arity():
    from onnx import helper as oh
    data = onnx_model([oh.make_node("Conv", ["x"], ["y"])], {"x": [1, 2, 6, 6]}, {})
    assert "needs 2 inputs" in bake_error(data, "m.onnx")
    data = onnx_model([oh.make_node("Add", ["x", "nowhere"], ["y"])], {"x": [1, 4]}, {})
    assert "which no node computed" in bake_error(data, "m.onnx")


def test_onnx_huge_range_is_refused_before_allocating():
    from onnx import helper as oh
    nodes = [oh.make_node("Range", ["s", "l", "d"], ["r"]),
             oh.make_node("Add", ["x", "r"], ["y"])]
    inits = {"s": np.array(0, np.int64), "l": np.array(1 << 32, np.int64), "d": np.array(1, np.int64)}
    assert "would make" in bake_error(onnx_model(nodes, {"x": [1]}, inits), "m.onnx")


def test_onnx_declared_input_dimension_capped():
    from onnx import helper as oh
    data = onnx_model([oh.make_node("Relu", ["x"], ["y"])], {"x": [1, 1 << 20, 1 << 12]}, {})
    assert "at most" in bake_error(data, "m.onnx")


def test_make_fuzz_target_exists():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "Makefile")) as f:
        assert "\nfuzz:" in f.read()
