"""Reliability (issue 13): what bake accepts runs within its buffers on every tier and gives
the oracle's outputs (TFLM for TFLite, onnxruntime for ONNX), and what it refuses gets one line.

A seeded mutation fuzz of TFLite and ONNX models (tests/fuzz.py; `make fuzz` runs thousands
with a fresh seed), then one regression test per finding: zero-sized outputs, pools over
2^31-wide tensors, softmax parameters, ops writing constants or graph inputs, NaN/inf
parameters, tensors beyond 32 bits, kernel parameter ranges, the ONNX reader's checks, tensors
read before they are written, bias types and depth multipliers TFLM reads differently, viper
left shifts on 64-bit ports, the pure tier's float32 arithmetic, conv geometry beyond TFLM's
int16 fields, the QDQ one-step comparison, bakes that allocated before refusing, and operator
options tables of another type than the operator's (TFLM runs those with all-zero parameters).
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
    lines += [
        "finding %s in %s #%d: %s" % (v, name, k, detail)
        for (v, _), (name, k, detail) in sorted(result["findings"].items())
    ]
    return "\n".join(lines)


@pytest.mark.parametrize("kind,count", [("tflite", 300), ("onnx", 300)])
def test_fuzz(kind, count, monkeypatch):
    """Every mutant: a one-line BakeError, or a model whose outputs on the CPython native and
    pure tiers and (when installed) the MicroPython natmod, viper and pure tiers equal the
    oracle's (TFLM, onnxruntime; where the oracle refuses the model, the tiers agree with
    each other), and no tier writes past its arena. Nothing hangs, crashes or runs out of
    memory."""
    from upyflow_tools.unixport import micropython_exe

    if micropython_exe() is not None:
        monkeypatch.setenv("FUZZ_MICROPYTHON", "1")
    result = fuzz.fuzz(kind, count, SEED, timeout=30, quick=True)
    print(_summary(result))
    assert sum(result["counts"].values()) == count
    assert not result["findings"], _summary(result)
    # the mutants are not all trivially rejected: some get through to the oracle and the tiers
    assert result["counts"][("ok", kind)] >= count // 20, _summary(result)


def test_fuzz_seeds_run():
    """The unmutated seeds bake and give the oracle's outputs (else the fuzz tests nothing)."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        for name, data in fuzz.seeds("both", quick=True).items():
            assert fuzz.judge(name, data, 1, d) == ("ok", ""), name


def test_fuzz_runs_every_micropython_tier(tmp_path):
    """The MicroPython run covers the natmod (when current), viper and pure tiers, and the
    oracle answers for a seed of each kind."""
    from upyflow_tools.unixport import micropython_exe

    if micropython_exe() is None:
        pytest.skip("MicroPython unix port not installed")
    for name, data in fuzz.seeds("both", quick=True).items():
        if name not in ("w_cnn_s8.tflite", "o_cnn_f32.onnx"):
            continue
        result = compile_model(name, "fzm", data=data)
        path = tmp_path / "fzm.py"
        path.write_text(module_source(result.baked, "fzm"))
        inputs = [bytes(result.baked.tensors[t][2]) for t in result.baked.inputs]
        got, bad = fuzz.micropython_tiers(str(path), inputs, result.arena_size, str(tmp_path))
        assert bad is None
        want = {"mpy-viper", "mpy-pure"} | ({"mpy-natmod"} if fuzz.natmod_dir() else set())
        assert set(got) == want and all(len(v) == len(result.baked.outputs) for v in got.values())
        status, ref = fuzz.reference(name.rsplit(".", 1)[1], data, result, inputs)
        assert status == "ok" and len(ref) == len(result.baked.outputs)


def test_oracle_survives_a_crash():
    """A dead oracle process is reported as a crash, and the next model gets a fresh one."""
    data = fuzz.seeds("tflite", quick=True)["w_cnn_s8.tflite"]
    result = compile_model("m.tflite", "m", data=data)
    inputs = [bytes(result.baked.tensors[t][2]) for t in result.baked.inputs]
    oracle = fuzz.Oracle()
    try:
        assert oracle.run("tflite", data, inputs)[0] == "ok"
        oracle.proc.kill()
        oracle.proc.wait()
        assert oracle.run("tflite", data, inputs)[0] == "crash"
        status, outs = oracle.run("tflite", data, inputs)
        assert status == "ok" and len(outs) == 1
    finally:
        oracle.close()


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
    assert time.time() - t0 < 30  # generous: what matters is no hang
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
    codes = [
        max(model.OperatorCodes(k).BuiltinCode(), model.OperatorCodes(k).DeprecatedBuiltinCode())
        for k in range(model.OperatorCodesLength())
    ]
    sg = model.Subgraphs(0)
    dw = next(
        op
        for op in (sg.Operators(i) for i in range(sg.OperatorsLength()))
        if codes[op.OpcodeIndex()] == tflite.BuiltinOperator.DEPTHWISE_CONV_2D
    )
    out = dw.Outputs(0)
    start, _ = fuzz._vec(sg.Tensors(out)._tab, 4)  # its shape: batch first
    data[start : start + 4] = (0).to_bytes(4, "little")
    start, _ = fuzz._vec(sg._tab, 8)  # graph output 0 -> that tensor
    data[start : start + 4] = out.to_bytes(4, "little")
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


@pytest.mark.parametrize("beta_scale", [1e-12, 2.0**-27, 1e-3, 1.0, 1e6, 1e12, 1e30])
def test_softmax_never_bakes_a_positive_diff_min(beta_scale):
    """Over every beta x scale, bake gives int8 softmax parameters the kernels accept
    (shift 0..31, diff_min <= 0) or a one-line refusal (TFLM needs beta x scale > 2^-26)."""
    data = softmax_model(beta_scale / 0.1)
    try:
        result = compile_model("m.tflite", "m", data=data)
    except BakeError as e:
        assert beta_scale <= 2.0**-26 and "\n" not in str(e)
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


def test_bool_tensor_is_bytes(tmp_path):
    """Bool tensors were refused; since the comparisons they are bytes 0/1 (TFLM's bool), a bool
    graph input and output included: a RESHAPE of them is TFLM's."""
    from harness import check

    w = ModelWriter()
    x = w.tensor([4], "bool")
    y = w.tensor([2, 2], "bool")
    w.op("RESHAPE", [x, w.tensor([2], "int32", data=np.array([2, 2]))], [y])
    check(w.build([x], [y]), tmp_path, [[np.array([True, False, False, True])]])


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
    y = w.tensor([1, 4], "int8", 1e-6, 0)  # multiplier ~2^24: the shifted sums overflow int32
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

    graph = oh.make_graph(
        nodes,
        "g",
        [oh.make_tensor_value_info(n, TP.FLOAT, s) for n, s in inputs.items()],
        [oh.make_tensor_value_info(n, TP.FLOAT, None) for n in outputs],
        [nh.from_array(np.asarray(v), k) for k, v in inits.items()],
    )
    return oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)], ir_version=8).SerializeToString()


def conv_onnx(**attrs) -> bytes:
    from onnx import helper as oh

    return onnx_model(
        [oh.make_node("Conv", ["x", "w"], ["y"], **attrs)],
        {"x": [1, 2, 6, 6]},
        {"w": np.ones((3, 2, 3, 3), np.float32)},
    )


@pytest.mark.parametrize(
    "attrs,needle",
    [
        (dict(strides=[0, 1]), "strides"),
        (dict(strides=[1]), "strides"),
        (dict(dilations=[1, -1]), "dilations"),
        (dict(pads=[1, 1, 1]), "pads"),
        (dict(pads=[-1, 0, 0, 0]), "pads"),
        (dict(group=0), "group"),
        (dict(kernel_shape=[5, 5]), "kernel_shape"),
        (dict(strides=[1 << 33, 1]), "strides"),
    ],
)
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

    nodes = [oh.make_node("Range", ["s", "l", "d"], ["r"]), oh.make_node("Add", ["x", "r"], ["y"])]
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


# --- findings of the TFLM comparison (this fuzz with the oracle) -------------------------------------
def _fc_chain(*edges: tuple[int, int]) -> bytes:
    """Float FULLY_CONNECTED ops on tensors t0..t3, one per (read, written) pair; t0 in, t3 out."""
    rng = np.random.default_rng(7)
    w = ModelWriter()
    ts = [w.tensor([1, 4], "float32") for _ in range(4)]
    for r, o in edges:
        wt = w.tensor([4, 4], "float32", data=rng.normal(size=[4, 4]))
        w.op("FULLY_CONNECTED", [ts[r], wt, -1], [ts[o]])
    return w.build([ts[0]], [ts[3]])


def test_tensor_read_before_any_write_rejected():
    """(TFLM and the tiers read whatever the arena holds there: outputs differed.)"""
    assert "reads tensor 't2' before any operator writes it" in bake_error(_fc_chain((0, 1), (2, 3), (1, 2)))


def test_op_writing_its_own_input_rejected():
    assert "writes tensor 't1', which it also reads" in bake_error(_fc_chain((0, 1), (1, 1), (1, 3)))


def test_tensor_written_twice_rejected():
    assert "'t1' is written by two operators" in bake_error(_fc_chain((0, 1), (0, 1), (1, 3)))


def test_graph_output_never_written_rejected():
    rng = np.random.default_rng(7)
    w = ModelWriter()
    x, y, z = (w.tensor([1, 4], "float32") for _ in range(3))
    w.op("FULLY_CONNECTED", [x, w.tensor([4, 4], "float32", data=rng.normal(size=[4, 4])), -1], [y])
    assert "graph output 't2' is not computed" in bake_error(w.build([x], [z]))


def test_int8_fc_with_float_bias_rejected():
    """TFLM reads an int8 FULLY_CONNECTED's bias bytes as int32 whatever the tensor type says;
    bake used the float values: 10 steps apart."""
    rng = np.random.default_rng(5)
    w = ModelWriter()
    x = w.tensor([1, 4], "int8", 0.05, 0)
    y = w.tensor([1, 3], "int8", 0.1, 0)
    wi, _, *_ = add_quant_weights(w, rng, [3, 4], 0, 0.05)
    b = w.tensor([3], "float32", data=np.ones(3))
    w.op("FULLY_CONNECTED", [x, wi, b], [y])
    assert "i8/i8/f32/i8 is not supported" in bake_error(w.build([x], [y]))


@pytest.mark.parametrize("mult", [0, 2, 32768])
def test_depth_multiplier_that_disagrees_with_the_channels_rejected(mult):
    """TFLM's depthwise loops follow the option (0: no output written), bake followed the shapes."""
    rng = np.random.default_rng(3)
    w = ModelWriter()
    x = w.tensor([1, 4, 4, 2], "int8", 0.05, 0)
    y = w.tensor([1, 4, 4, 2], "int8", 0.05, 0)
    wi, bi, *_ = add_quant_weights(w, rng, [1, 3, 3, 2], 3, 0.05)
    w.op("DEPTHWISE_CONV_2D", [x, wi, bi], [y], depth_multiplier=mult)
    assert "depth_multiplier %d, but 2 input and 2 output channels" % mult in bake_error(w.build([x], [y]))


@pytest.mark.parametrize("alpha", [float("inf"), float("-inf")])
def test_infinite_float_leaky_relu_alpha_rejected(alpha):
    w = ModelWriter()
    x, y = w.tensor([1, 4], "float32"), w.tensor([1, 4], "float32")
    w.op("LEAKY_RELU", [x], [y], alpha=alpha)
    assert "is not finite" in bake_error(w.build([x], [y]))


def test_viper_left_shift_wraps_on_64_bit_ports(tmp_path):
    """An int8 FULLY_CONNECTED whose multiplier is > 1: viper's acc << shift is a 64-bit word on
    the x64 unix port; wrapped to int32 as on a board, it gives TFLM's bytes (was 120 steps off)."""
    from upyflow_tools.unixport import micropython_exe

    if micropython_exe() is None:
        pytest.skip("MicroPython unix port not installed")
    rng = np.random.default_rng(5)
    w = ModelWriter()
    x = w.tensor([1, 8], "int8", 1e3, 0)
    y = w.tensor([1, 4], "int8", 1e-6, 0)  # multiplier ~2^24: the shifted sums overflow int32
    wi, bi, *_ = add_quant_weights(w, rng, [4, 8], 0, 1e3)
    w.op("FULLY_CONNECTED", [x, wi, bi], [y])
    data = w.build([x], [y])
    result = compile_model("m.tflite", "fzv", data=data)
    path = tmp_path / "fzv.py"
    path.write_text(module_source(result.baked, "fzv"))
    inp = rng.integers(-128, 128, 8, dtype=np.int8).tobytes()
    got, bad = fuzz.micropython_tiers(str(path), [inp], result.arena_size, str(tmp_path))
    assert bad is None
    status, want = fuzz.reference("tflite", data, result, [inp])
    assert status == "ok"
    assert got["mpy-viper"] == want and got["mpy-pure"] == want


def _float_chain(rng, depth: int = 12, width: int = 32) -> bytes:
    w = ModelWriter()
    cur = x = w.tensor([1, width], "float32")
    for _ in range(depth):
        y = w.tensor([1, width], "float32")
        w.op(
            "FULLY_CONNECTED",
            [
                cur,
                w.tensor([width, width], "float32", data=rng.normal(0, width**-0.5, [width, width])),
                w.tensor([width], "float32", data=rng.normal(0, 0.1, width)),
            ],
            [y],
        )
        cur = y
    return w.build([x], [cur])


def _conv_chain(rng) -> bytes:
    """CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV, AVERAGE_POOL_2D, MEAN, FULLY_CONNECTED in float."""
    w = ModelWriter()

    def f(*shape, gain=1.0):
        return w.tensor(list(shape), "float32", data=rng.normal(0, gain / np.sqrt(np.prod(shape[1:])), shape))

    def b(n):
        return w.tensor([n], "float32", data=rng.normal(0, 0.1, n))

    x = w.tensor([1, 8, 8, 4], "float32")
    c1, d1, c2 = (w.tensor([1, 8, 8, 8], "float32") for _ in range(3))
    w.op("CONV_2D", [x, f(8, 3, 3, 4), b(8)], [c1])
    w.op("DEPTHWISE_CONV_2D", [c1, f(1, 3, 3, 8, gain=np.sqrt(8)), b(8)], [d1])
    w.op("CONV_2D", [d1, f(8, 3, 3, 8), b(8)], [c2])
    t1 = w.tensor([1, 16, 16, 4], "float32")
    w.op(
        "TRANSPOSE_CONV",
        [w.tensor([4], "int32", data=np.array([1, 16, 16, 4])), f(4, 3, 3, 8), c2, b(4)],
        [t1],
        stride_h=2,
        stride_w=2,
    )
    p1 = w.tensor([1, 8, 8, 4], "float32")
    w.op("AVERAGE_POOL_2D", [t1], [p1], filter_height=2, filter_width=2, stride_h=2, stride_w=2)
    m = w.tensor([1, 4], "float32")
    w.op("MEAN", [p1, w.tensor([2], "int32", data=np.array([1, 2]))], [m])
    y = w.tensor([1, 10], "float32")
    w.op("FULLY_CONNECTED", [m, f(10, 4), b(10)], [y])
    return w.build([x], [y, c2])


@pytest.mark.parametrize("chain", ["fc", "conv"])
def test_pure_float_kernels_round_as_tflm(chain, tmp_path):
    """Deep float chains: the pure tier rounds each product and sum to float32 as TFLM does,
    so its outputs are TFLM's bit for bit (accumulating in double they were up to 5e-5
    (FC x12) and 2e-3 (conv chain, near-zero values) relative off, 45 of 768 values equal)."""
    from harness import bake_model, load_cpython, run_tflm, run_upyflow

    rng = np.random.default_rng(11)
    data = _float_chain(rng) if chain == "fc" else _conv_chain(rng)
    mdir, name, _ = bake_model(data, tmp_path)
    model = load_cpython(mdir, name, "pure")
    for k in range(3):
        shape = [1, 32] if chain == "fc" else [1, 8, 8, 4]
        xs = [np.random.default_rng(k).uniform(-2, 2, shape).astype(np.float32)]
        for got, want in zip(run_upyflow(model, xs), run_tflm(data, xs)):
            assert got.tobytes() == np.ascontiguousarray(want).tobytes()


def test_onnx_int8_weights_with_a_zero_point_run_in_float(tmp_path):
    """A QDQ Conv whose weights have a non-zero (per-channel) zero point: bake dropped it (the
    kernels' weights are symmetric), 2 to 6 output steps off onnxruntime on that channel; the
    conv now runs in float between DEQUANTIZE and QUANTIZE, as onnxruntime runs it."""
    import onnx
    from onnx import numpy_helper as nh

    m = onnx.ModelProto()
    m.ParseFromString(fuzz.seeds("onnx", quick=True)["o_qdq_conv.onnx"])
    init = next(i for i in m.graph.initializer if i.name == "wz")
    init.CopyFrom(nh.from_array(np.array([0, 0, 100], np.int8), "wz"))
    data = m.SerializeToString()
    for seed in range(3):
        assert fuzz.judge("m.onnx", data, seed, str(tmp_path)) == ("ok", "")
    assert "conv2d_s8_ort" not in [c[0] for c in compile_model("m.onnx", "m", data=data).baked.calls]


@pytest.mark.parametrize("lo,hi", [(0.0, float("-inf")), (float("nan"), 1.0)])
def test_onnx_clip_bounds_checked(lo, hi):
    """(A Clip to max -inf made every value -inf: the TFLite max pool, starting at -FLT_MAX, and
    the activation clamp gave +-FLT_MAX where onnxruntime gave NaN.)"""
    from onnx import helper as oh

    data = onnx_model(
        [oh.make_node("Clip", ["x", "lo", "hi"], ["y"])],
        {"x": [1, 4]},
        {"lo": np.array(lo, np.float32), "hi": np.array(hi, np.float32)},
    )
    assert "needs finite bounds" in bake_error(data, "m.onnx")


def test_onnx_clip_min_above_max_gives_max(tmp_path):
    """ONNX: with min > max every output is max; the tiers agree with onnxruntime on it."""
    from onnx import helper as oh

    data = onnx_model(
        [oh.make_node("Clip", ["x", "lo", "hi"], ["y"])],
        {"x": [1, 4]},
        {"lo": np.array(1.0, np.float32), "hi": np.array(0.0, np.float32)},
    )
    for seed in range(3):
        assert fuzz.judge("m.onnx", data, seed, str(tmp_path)) == ("ok", "")


@pytest.mark.parametrize("chain", ["fc", "conv"])
def test_pure_float_kernels_on_a_single_precision_port(chain, tmp_path):
    """Where Python floats are float32 (MICROPY_FLOAT_IMPL_FLOAT, as on most boards) qmath's
    dot_f32 is a plain loop; the pure tier still gives TFLM's bytes. MICROPYTHON_F32 names
    such a unix port: make -C ports/unix BUILD=/tmp/mpyf32 \\
    CFLAGS_EXTRA=-DMICROPY_FLOAT_IMPL=MICROPY_FLOAT_IMPL_FLOAT (plus the options of docs/viper.md)."""
    exe = os.environ.get("MICROPYTHON_F32")
    if not exe:
        pytest.skip("MICROPYTHON_F32 unset: a single-precision MicroPython unix port")
    rng = np.random.default_rng(11)
    data = _float_chain(rng) if chain == "fc" else _conv_chain(rng)
    result = compile_model("m.tflite", "fzf", data=data)
    path = tmp_path / "fzf.py"
    path.write_text(module_source(result.baked, "fzf"))
    shape = [1, 32] if chain == "fc" else [1, 8, 8, 4]
    x = np.random.default_rng(1).uniform(-2, 2, shape).astype(np.float32)
    got, bad = fuzz.micropython_tiers(
        str(path), [x.tobytes()], result.arena_size, str(tmp_path), exe=exe, tiers=["pure"]
    )
    assert bad is None
    status, want = fuzz.reference("tflite", data, result, [x.tobytes()])
    assert status == "ok" and got["mpy-pure"] == want


def test_onnx_dequantize_without_inputs_is_one_line():
    """(A DequantizeLinear with no operands was an IndexError in the reader's set-up, before its
    catch-all: a traceback.)"""
    from onnx import helper as oh

    data = onnx_model(
        [oh.make_node("DequantizeLinear", [], ["d"]), oh.make_node("Relu", ["x"], ["y"])], {"x": [1, 4]}, {}
    )
    bake_error(data, "m.onnx")


# --- findings of the fresh-seed run (make fuzz, seed 1887283067) -------------------------------------
def _dilated_conv(kind: str, d_h: int, d_w: int = 1) -> bytes:
    rng = np.random.default_rng(3)
    w = ModelWriter()
    x = w.tensor([1, 4, 4, 2], "int8", 0.05, 0)
    y = w.tensor([1, 4, 4, 3 if kind == "CONV_2D" else 2], "int8", 0.05, 0)
    shape, q = ([3, 3, 3, 2], 0) if kind == "CONV_2D" else ([1, 3, 3, 2], 3)
    wi, bi, *_ = add_quant_weights(w, rng, shape, q, 0.05)
    w.op(kind, [x, wi, bi], [y], padding="SAME", dilation_h_factor=d_h, dilation_w_factor=d_w)
    return w.build([x], [y])


@pytest.mark.parametrize(
    "kind,d_h,d_w", [("CONV_2D", 1 << 24, 1), ("CONV_2D", 32768, 1), ("DEPTHWISE_CONV_2D", 1, 1 << 24)]
)
def test_conv_geometry_beyond_int16_rejected(kind, d_h, d_w):
    """TFLM keeps strides, dilations and paddings in int16 (ConvParams): a float CNN mutant
    with dilation 2^24 (SAME padding 2^24) ran in TFLM as dilation 0, padding 0 (its outputs
    matched a numpy conv with those, not with 2^24), so the tiers differed from TFLM."""
    msg = bake_error(_dilated_conv(kind, d_h, d_w))
    assert "beyond 32767" in msg and str(max(d_h, d_w)) in msg


def test_conv_geometry_at_int16_limit_matches_tflm(tmp_path):
    """The positive counterpart: dilation and padding 32767 bake and give TFLM's bytes."""
    data = _dilated_conv("CONV_2D", 32767)
    result = compile_model("m.tflite", "m", data=data)
    x = np.random.default_rng(5).integers(-128, 128, 32, dtype=np.int8).tobytes()
    status, want = fuzz.reference("tflite", data, result, [x])
    assert status == "ok"
    outs = run_both(data, tmp_path, [x])
    assert outs and all(o == want[0] for o in outs.values())


def test_onnx_expand_beyond_32_dimensions_is_one_line():
    """(A 36-element shape operand: numpy's broadcast raised RuntimeError, a traceback.)"""
    from onnx import helper as oh

    data = onnx_model([oh.make_node("Expand", ["x", "s"], ["y"])], {"x": [1, 4]}, {"s": np.ones(36, np.int64)})
    assert "36 dimensions" in bake_error(data, "m.onnx")


def test_onnx_gemm_with_scalar_b_is_one_line():
    """(B a scalar: an IndexError caught by the reader's catch-all, a backstop.)"""
    from onnx import helper as oh

    data = onnx_model([oh.make_node("Gemm", ["x", "b"], ["y"])], {"x": [1, 6]}, {"b": np.float32(0.5)})
    msg = bake_error(data, "m.onnx")
    assert "B is 0-D" in msg and not msg.startswith("malformed ONNX model at")


def test_onnx_pad_with_float_pads_is_one_line():
    """(Float pads holding NaN: int(NaN) ValueError, a backstop.)"""
    from onnx import helper as oh

    data = onnx_model(
        [oh.make_node("Pad", ["x", "p"], ["y"])], {"x": [1, 4]}, {"p": np.array([0, np.nan, 0, 1], np.float32)}
    )
    msg = bake_error(data, "m.onnx")
    assert "int64 pads" in msg and not msg.startswith("malformed ONNX model at")


def test_fuzz_allows_one_step_on_qdq_outputs_only():
    """The project's "QDQ within 1 LSB of onnxruntime": one step on a QDQ-quantized output
    (qdq-lsb), never on a float output that is not one, nor two steps."""
    i8 = [np.array([3, -7], np.int8).tobytes()]
    f32 = [np.array([0.5, 1.0], np.float32).tobytes()]
    one = [np.array([4, -7], np.int8).tobytes()]
    two = [np.array([5, -7], np.int8).tobytes()]
    assert fuzz.compare(i8, one, ["i8"], False, "t", steps=[1.0])[0] == "qdq-lsb"
    assert fuzz.compare(i8, two, ["i8"], False, "t", steps=[1.0])[0] == "mismatch"
    assert fuzz.compare(i8, one, ["i8"], False, "t", steps=[0.0])[0] == "mismatch"
    near = [np.array([0.54, 1.0], np.float32).tobytes()]
    assert fuzz.compare(f32, near, ["f32"], False, "t", steps=[0.05])[0] == "qdq-lsb"
    assert fuzz.compare(f32, near, ["f32"], False, "t", steps=[0.0])[0] == "mismatch"
    assert fuzz.compare(f32, near, ["f32"], False, "t", steps=[0.02])[0] == "mismatch"


def test_qdq_steps_name_the_dequantized_outputs():
    """qdq_steps from the graph: a DequantizeLinear output gets its int8 input's scale."""
    pool = fuzz.seeds("onnx", True)
    steps = {name: fuzz.qdq_steps(compile_model(name, "m", data=data).graph) for name, data in pool.items()}
    assert steps["o_qdq_gemm.onnx"] == [pytest.approx(0.04)] and steps["o_qdq_conv.onnx"] == [pytest.approx(0.05)]
    assert steps["o_cnn_f32.onnx"] == [0.0]


def test_qdq_steps_follow_value_preserving_ops():
    """A float output that is a MaxPool (and, in the default layout, a TRANSPOSE) of
    dequantized values keeps their step: a one-step rounding difference there is qdq-lsb."""
    from onnx import TensorProto as TP
    from onnx import helper as oh
    from onnx import numpy_helper

    inits = [numpy_helper.from_array(np.array(0.05, np.float32), "s"), numpy_helper.from_array(np.int8(2), "z")]
    graph = oh.make_graph(
        [
            oh.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
            oh.make_node("DequantizeLinear", ["q", "s", "z"], ["d"]),
            oh.make_node("MaxPool", ["d"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        ],
        "g",
        [oh.make_tensor_value_info("x", TP.FLOAT, [1, 3, 4, 4])],
        [oh.make_tensor_value_info("p", TP.FLOAT, None)],
        inits,
    )
    data = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 13)], ir_version=8).SerializeToString()
    for layout in ("nchw", "nhwc"):
        g = compile_model("m.onnx", "m", data=data, input_layout=layout).graph
        assert fuzz.qdq_steps(g) == [pytest.approx(0.05)], [op.kind for op in g.ops]


def test_softmax_kernels_with_positive_diff_min_end(tmp_path):
    """Finding 3's direct kernel calls: diff_min > 0 leaves the row maximum out of the sum,
    and 1/0 looped forever in reciprocal_q12 (C and pure). The C table refuses the call; the
    pure kernel (whose model path load_checks.py now refuses too) returns."""
    import array

    import upyflow.kernels_pure.softmax as pure
    from upyflow import qmath

    assert qmath.reciprocal_q12(0)[1] == 12 - 32  # bounded: 32 doublings, then gives up
    x, out = array.array("b", [3, 1, -2, 0]), array.array("b", bytes(4))
    t0 = time.time()
    pure.softmax_s8(x, out, 1, 4, 1 << 30, 3, 5)
    assert time.time() - t0 < 10
    native = pytest.importorskip("upyflow_native")
    with pytest.raises(ValueError, match="out of range"):
        native.softmax_s8((bytes(x), bytearray(4), 1, 4, 1 << 30, 3, 5))


def test_onnx_layout_check_builds_no_index_arrays():
    """(seed 1029664011 #385: a Conv on a declared [1, 2, 5, 2^20] input: the layout check
    built 10 M-entry index arrays several times, 10-20 s and 400 MB before the one-line
    refusal, a hang to the fuzz.) values.same_order decides it from the shapes, as order()
    would (checked here over random layouts and reshapes)."""
    from onnx import helper as oh

    from upyflow_tools.readers.onnx.values import order, same_order

    nodes = [
        oh.make_node("Conv", ["x", "w"], ["c"]),
        oh.make_node("Sigmoid", ["c"], ["s"]),
        oh.make_node("Concat", ["s", "c"], ["y"], axis=1),
    ]
    data = onnx_model(nodes, {"x": [1, 2, 5, 1 << 20]}, {"w": np.ones((3, 2, 1, 1), np.float32)})
    assert "at most" in bake_error(data, "m.onnx")
    rng = np.random.default_rng(0)
    agree = 0
    for _ in range(3000):
        a = tuple(int(d) for d in rng.integers(1, 4, int(rng.integers(1, 5))))
        b = tuple(rng.permutation(a)) if rng.random() < 0.7 else (int(np.prod(a)),)
        pa, pb = tuple(rng.permutation(len(a))), tuple(rng.permutation(len(b)))
        want = bool(np.array_equal(order(a, pa), order(b, pb)))
        assert same_order(a, pa, b, pb) == want, (a, pa, b, pb)
        agree += want
    assert 300 < agree < 2700  # both answers exercised


def test_qdq_tie_amplified_by_add_is_explained(tmp_path, monkeypatch):
    """(seed 3031033730 #2128: o_qdq_gemm with batch 100. Row 95's Gemm value is a .5 tie:
    onnxruntime's unfused float Gemm rounds it one way, the QGemm-style kernel the other, and
    Add(gd, gd) doubles that to two output steps.) onnxruntime with its QuantizeLinear scales
    nudged by 2^-20 gives the tiers' bytes: a tie, qdq-lsb; a real two-step error stays one."""
    import onnx

    monkeypatch.delenv("FUZZ_MICROPYTHON", raising=False)
    m = onnx.ModelProto()
    m.ParseFromString(fuzz.seeds("onnx", True)["o_qdq_gemm.onnx"])
    m.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 100
    data = m.SerializeToString()
    verdict, detail = fuzz.judge("o_qdq_gemm.onnx", data, 1026908443, str(tmp_path))
    assert verdict == "qdq-lsb" and "differs (-0.63" in detail and "rounding tie" in detail, detail
    # the same outputs two steps off where there is no tie: still a mismatch
    result = compile_model("m.onnx", "m", data=data)
    x = np.random.default_rng(1026908443).uniform(-2, 2, 600).astype(np.float32).tobytes()
    status, ref = fuzz.reference("onnx", data, result, [x])
    assert status == "ok"
    off = np.frombuffer(ref[0], np.float32).copy()
    off[0] += 0.08
    r = fuzz.compare(ref, [off.tobytes()], ["f32"], False, "t", steps=[0.04], onnx=True)
    assert r[0] == "mismatch"
    opts = dict(rtol=1e-4, atol=1e-5, steps=[0.04], onnx=True)
    assert fuzz.qdq_tie(data, result, [x], [off.tobytes()], ["f32"], r, opts) == r


def test_onnx_damaged_scalar_constant_in_the_gelu_prepass_is_one_line():
    """(fuzz seed 606303100 #23: a scalar initializer with no data made the GELU pattern
    pre-pass's numpy_helper.to_array raise ValueError, a traceback.)"""
    import onnx
    from onnx import helper as oh

    data = onnx_model([oh.make_node("Mul", ["x", "c"], ["y"])], {"x": [1, 4]}, {"c": np.float32(2.0)})
    m = onnx.ModelProto()
    m.ParseFromString(data)
    init = m.graph.initializer[0]
    init.ClearField("raw_data")
    init.ClearField("float_data")
    msg = bake_error(m.SerializeToString(), "m.onnx")
    assert "does not match dims" in msg


def test_tensor_beyond_a_record_is_refused_before_the_band_search(monkeypatch):
    """(fuzz seed 606303100 #1380: a 40 MB conv input kept the band search of --patches auto
    busy for minutes before assemble refused the tensor; now refused first, in one line.)"""
    from onnx import helper as oh

    from upyflow_tools import patches

    def no_search(*args, **kwargs):
        raise AssertionError("the band search ran on a tensor no record can address")

    monkeypatch.setattr(patches, "schedule", no_search)
    nodes = [oh.make_node("Conv", ["x", "w"], ["h"]), oh.make_node("Conv", ["h", "w"], ["y"])]
    data = onnx_model(nodes, {"x": [1, 2, 2560, 2048]}, {"w": np.ones((2, 2, 1, 1), np.float32)})
    assert "beyond the 512 KB a tensor record sizes" in bake_error(data, "m.onnx")


def test_overflow_propagated_past_the_clamp_is_ort_overflow():
    """(fuzz seed 615682937 #1679: a conv with 3.4e38 weights overflowed to inf in onnxruntime;
    the tiers clamp at FLT_MAX and a later MatMul by 0.65 gave 1.34e38: the documented
    float semantics, not a mismatch. A finite disagreement or a sign flip still is one.)"""
    ref = [np.array([np.inf, -np.inf, 1.0], np.float32).tobytes()]
    ok = [np.array([1.34e38, -3.4e38, 1.0], np.float32).tobytes()]
    flipped = [np.array([-1.34e38, -3.4e38, 1.0], np.float32).tobytes()]
    other = [np.array([1.34e38, -3.4e38, 2.0], np.float32).tobytes()]
    assert fuzz.compare(ref, ok, ["f32"], False, "t", onnx=True)[0] == "ort-overflow"
    assert fuzz.compare(ref, flipped, ["f32"], False, "t", onnx=True)[0] == "mismatch"
    assert fuzz.compare(ref, other, ["f32"], False, "t", onnx=True)[0] == "mismatch"
    assert fuzz.compare(ref, ok, ["f32"], False, "t", onnx=False)[0] == "mismatch"


# --- findings of the fresh-seed run (fuzz seed 90210733) -------------------------------------------
def _retype_options(data: bytes, op_index: int, code: int) -> bytes:
    """data with operator op_index's builtin_options_type set to code (its table stays)."""
    import tflite

    op = tflite.Model.GetRootAs(data, 0).Subgraphs(0).Operators(op_index)
    b = bytearray(data)
    b[op._tab.Pos + op._tab.Offset(10)] = code
    return bytes(b)


def test_retyped_options_table_rejected(tmp_path):
    """(fuzz seed 90210733 #973: two raw bytes of w_cnn_s8 retyped the DEPTHWISE_CONV_2D's
    options table as a Pool2DOptions. TFLM reads options only from a table of the operator's
    own type, else runs it with all-zero parameters: depth multiplier, stride and dilation 0,
    so its depthwise loop wrote no output and the later ops read what the arena held before
    (text of an earlier allocation). upyflow read the table's fields by position (stride 2,
    SAME) and computed the original layer: 6 steps from TFLM. A damaged model: refused.)"""
    import tflite

    seed = fuzz.seeds("tflite", True)["w_cnn_s8.tflite"]
    data = fuzz.mutate_tflite(seed, np.random.default_rng([90210733, 973]))
    op = tflite.Model.GetRootAs(data, 0).Subgraphs(0).Operators(1)
    assert op.BuiltinOptionsType() == tflite.BuiltinOptions.Pool2DOptions  # still the fuzz case
    verdict, msg = fuzz.judge("w_cnn_s8.tflite", data, 340047715, str(tmp_path))
    assert verdict == "rejected", (verdict, msg)
    assert "DEPTHWISE_CONV_2D 't4'" in msg and "Pool2DOptions" in msg and "DepthwiseConv2DOptions" in msg


def _float_softmax() -> bytes:
    w = ModelWriter()
    x, y = w.tensor([1, 4], "float32"), w.tensor([1, 4], "float32")
    w.op("SOFTMAX", [x], [y], beta=1.0)
    return w.build([x], [y])


@pytest.mark.parametrize(
    "model,code,needle",
    [
        ("depthwise", 5, "its options are a Pool2DOptions table, not the DepthwiseConv2DOptions"),
        ("depthwise", 1, "its options are a Conv2DOptions table"),
        ("depthwise", 200, "its options are of unknown type 200"),
        ("depthwise", 0, "has no DepthwiseConv2DOptions"),
        ("conv", 0, "has no Conv2DOptions"),
        ("softmax", 0, "has no SoftmaxOptions"),  # TFLM: beta 0 (a uniform output), upyflow took 1
    ],
)
def test_options_of_another_type_or_missing_rejected(model, code, needle):
    """TFLM runs an operator whose options table is of another type, or missing, with all-zero
    parameters: stride, dilation, depth multiplier, beta 0. Another type is a damaged model;
    a missing table is refused where zeros are no working default."""
    data = (
        _float_softmax()
        if model == "softmax"
        else _dilated_conv("CONV_2D" if model == "conv" else "DEPTHWISE_CONV_2D", 1)
    )
    assert needle in bake_error(_retype_options(data, 0, code))


def test_missing_options_where_zeros_are_the_defaults_match_tflm(tmp_path):
    """The counterpart: converters leave out the table of ops whose zeros are the defaults
    (RESHAPE, MAXIMUM in the shared models); a FULLY_CONNECTED without one still bakes and
    gives TFLM's bytes."""
    seed = fuzz.seeds("tflite", True)["w_cnn_s8.tflite"]
    assert fuzz.judge("m.tflite", _retype_options(seed, 4, 0), 1, str(tmp_path)) == ("ok", "")


# --- findings of seed 777001 (ONNX): onnxruntime overflows inside a float graph -------------------
def _saturated_case(index: int) -> bytes:
    return fuzz.mutate_onnx(fuzz.seeds("onnx", False)["o_cnn_f32.onnx"], np.random.default_rng([777001, index]))


def test_overflow_to_nan_downstream_is_ort_overflow(tmp_path):
    """(fuzz seed 777001 #1961: a Gemm weight mutated to 3.4e38; onnxruntime's Gemm gives +inf
    and its Softmax of inf NaN everywhere; the tiers' FULLY_CONNECTED saturates at FLT_MAX (the
    TFLite "NONE" activation) and the softmax gives [1, 0, 0]. onnxruntime with every float
    result saturated at +-FLT_MAX gives the tiers' outputs: ort-overflow, not a mismatch.)"""
    data = _saturated_case(1961)
    verdict, msg = fuzz.judge("o_cnn_f32.onnx", data, 21601948, str(tmp_path))
    assert verdict == "ort-overflow", (verdict, msg)
    assert "past FLT_MAX" in msg


def _gemm_softmax(weight: float) -> bytes:
    from onnx import helper as oh

    w = np.full((3, 4), 0.5, np.float32)
    w[0, :2] = weight  # x[0] + x[1] of them overflows float32
    return onnx_model(
        [oh.make_node("Gemm", ["x", "w"], ["g"], transB=1), oh.make_node("Softmax", ["g"], ["y"])],
        {"x": [1, 4]},
        {"w": w},
    )


def test_ort_saturated_only_where_saturated_onnxruntime_agrees(tmp_path):
    """The minimal case (a Gemm row of two 3.4e38 weights, then Softmax) through the tiers, and
    ort_saturated's limits: a disagreement that saturating does not explain stays a
    mismatch, and so does one where onnxruntime's output is finite."""
    data = _gemm_softmax(3.4e38)
    x = np.array([[1.0, 1.0, 0.0, 0.0]], np.float32)
    m = _ort(data)
    assert np.isnan(m.run(None, {"x": x})[0]).all()  # onnxruntime: inf, then NaN
    sat = _ort(fuzz.saturate_floats(data)).run(None, {"x": x})[0]
    np.testing.assert_array_equal(sat, [[1, 0, 0]])  # saturated at FLT_MAX: the tiers' semantics
    result = compile_model("m.onnx", "m", data=data)
    inputs = [x.tobytes()]
    ref = [m.run(None, {"x": x})[0].tobytes()]
    r = ("mismatch", "t")
    opts = dict(rtol=1e-4, atol=1e-5, steps=[0.0], onnx=True)
    good = [np.array([1, 0, 0], np.float32).tobytes()]
    bad = [np.array([0, 1, 0], np.float32).tobytes()]
    assert fuzz.ort_saturated(data, result, inputs, ref, good, ["f32"], r, opts)[0] == "ort-overflow"
    assert fuzz.ort_saturated(data, result, inputs, ref, bad, ["f32"], r, opts) == r
    finite = [np.array([0.5, 0.25, 0.25], np.float32).tobytes()]
    assert fuzz.ort_saturated(data, result, inputs, finite, good, ["f32"], r, opts) == r
    verdict, msg = fuzz.judge("m.onnx", data, 5, str(tmp_path))
    assert verdict == "ort-overflow", (verdict, msg)


def test_branch_case_average_pool_overflow_is_ort_overflow(tmp_path):
    """(fuzz seed 777001 #1365: a BatchNormalization scale mutated to 3.4e38; the AveragePool
    that follows sums values near FLT_MAX, onnxruntime column by column, the tiers row by row
    as TFLM: NaN or -inf on one side, finite or +-FLT_MAX on the other. ort-overflow.)"""
    data = fuzz.mutate_onnx(fuzz.seeds("onnx", False)["o_branch_f32.onnx"], np.random.default_rng([777001, 1365]))
    verdict, msg = fuzz.judge("o_branch_f32.onnx", data, 379817283, str(tmp_path))
    assert verdict == "ort-overflow", (verdict, msg)


def test_average_pool_past_flt_max_depends_on_the_order(tmp_path):
    """Why such outputs are classified, not compared: onnxruntime's AveragePool adds a 2x2
    window column by column, the tiers (and TFLM) row by row. Window A overflows in
    onnxruntime only (2.6e38 + 1.8e38 = inf, then inf - inf = NaN; row order gives the exact
    1.25e37), window B in the tiers only (-2.4e38 - 2.6e38 = -inf, saturated at -FLT_MAX;
    onnxruntime's -3.25e37 is exact). ort_saturated accepts exactly these two values, not
    others, and only when the tier gives the native tier's outputs."""
    from onnx import helper as oh

    import upyflow

    data = onnx_model(
        [oh.make_node("AveragePool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2])], {"x": [1, 1, 2, 4]}, {}
    )
    x = np.array([[[[2.6e38, -1.5e38, -2.4e38, -2.6e38], [1.8e38, -2.4e38, 1.3e38, 2.4e38]]]], np.float32)
    ort_y = _ort(data).run(None, {"x": x})[0].ravel()
    assert np.isnan(ort_y[0]) and np.isclose(ort_y[1], -3.25e37, rtol=1e-6)
    result = compile_model("m.onnx", "m", data=data)
    (tmp_path / "m.py").write_text(module_source(result.baked, "m"))
    mod = load_module(str(tmp_path / "m.py"))
    tiers = ["pure"] + (["native"] if upyflow.dispatch.available("native") else [])
    for tier in tiers:
        m = upyflow.Model(mod, tier)
        m.set_input(0, x.tobytes())
        m.invoke()
        y = np.frombuffer(bytes(m.get_output(0)), np.float32)
        assert np.isclose(y[0], 1.25e37, rtol=1e-6) and y[1] == -fuzz.FLT_MAX, (tier, y)
    got = [np.array([1.25e37, -fuzz.FLT_MAX], np.float32).tobytes()]
    ref, inputs, r = [ort_y.astype(np.float32).tobytes()], [x.tobytes()], ("mismatch", "t")
    opts = dict(rtol=1e-4, atol=1e-5, steps=[0.0], onnx=True)
    assert fuzz.ort_saturated(data, result, inputs, ref, got, ["f32"], r, opts, got)[0] == "ort-overflow"
    for wrong in ([2e37, -fuzz.FLT_MAX], [1.25e37, -1e30]):
        bad = [np.array(wrong, np.float32).tobytes()]
        assert fuzz.ort_saturated(data, result, inputs, ref, bad, ["f32"], r, opts, bad) == r
    assert fuzz.ort_saturated(data, result, inputs, ref, got, ["f32"], r, opts, bad) == r  # tiers disagree


def test_saturate_floats_changes_nothing_finite():
    """Saturating every float result leaves a model without overflow as it was (finite
    values and NaN pass a Clip at +-FLT_MAX unchanged)."""
    data = fuzz.seeds("onnx", False)["o_cnn_f32.onnx"]
    x = np.random.default_rng(1).uniform(-2, 2, [1, 2, 8, 8]).astype(np.float32)
    a = _ort(data).run(None, {"x": x})[0]
    b = _ort(fuzz.saturate_floats(data)).run(None, {"x": x})[0]
    np.testing.assert_array_equal(a, b)


def _ort(data: bytes):
    import onnxruntime as ort

    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


# --- int8 kernel offsets: zero points within int8 (UBSan: in_off * weight overflowed in conv.c) --------
@pytest.mark.parametrize("param,value", [(14, 129), (14, -128), (14, 1 << 24), (15, 128), (15, -129)])
def test_conv_record_with_offset_out_of_range_refused_native(param, value, tmp_path):
    """A conv2d_s8 op record whose input offset (minus the input zero point) or output zero
    point is outside what int8 zero points allow: the native tier refuses it at load with
    one line (it overflowed int in conv.c's `acc -= in_off * w` under UBSan)."""
    import upyflow

    if not upyflow.dispatch.available("native"):
        pytest.skip("no native tier")
    result = compile_model("m.tflite", "m", data=conv_model("CONV_2D", [1, 4, 4, 3]))
    rec = result.baked.calls[0]
    assert rec.kernel == "conv2d_s8" and rec.params[14:16] == (0, 0)  # in_off, out_off
    params = list(rec.params)
    params[param] = value
    result.baked.calls[0] = rec._replace(params=tuple(params))
    (tmp_path / "m.py").write_text(module_source(result.baked, "m"))
    mod = load_module(str(tmp_path / "m.py"))
    with pytest.raises(ValueError, match="out of range") as e:
        upyflow.Model(mod, "native")
    assert "\n" not in str(e.value)


# --- NaN through MAX_POOL_2D: the tiers as TFLM ------------------------------------------------------
def test_float_max_pool_nan_taps_as_tflm(tmp_path):
    """TFLM's float MAX_POOL_2D starts each window at the lowest float and takes a tap only when
    it is greater: a NaN tap never wins, an all-NaN window gives -FLT_MAX. The C tier did; the
    pure tier started at the first tap and kept a leading NaN (seed 777001's NaN windows)."""
    nan = np.nan
    x = np.array([nan, 1, -1, nan, 2, nan, nan, -3, nan, nan, 5, 0, nan, nan, nan, nan], np.float32)
    w = ModelWriter()
    a, y = w.tensor([1, 4, 4, 1], "float32"), w.tensor([1, 2, 2, 1], "float32")
    w.op("MAX_POOL_2D", [a], [y], filter_height=2, filter_width=2, stride_h=2, stride_w=2)
    data = w.build([a], [y])
    ref = fuzz._oracle_tflm(data, [x.tobytes()])[0].ravel()
    np.testing.assert_array_equal(ref, [2, -1, -fuzz.FLT_MAX, 5])  # TFLM, as the docstring says
    for tier, out in run_both(data, tmp_path, [x.tobytes()]).items():
        np.testing.assert_array_equal(np.frombuffer(out, np.float32), ref, err_msg=tier)


def _max_pool_onnx(shape, k: int, s: int) -> bytes:
    from onnx import helper as oh

    return onnx_model([oh.make_node("MaxPool", ["x"], ["y"], kernel_shape=[k, k], strides=[s, s])], {"x": shape}, {})


def _sequential_max(x: np.ndarray, k: int, s: int, column_first: bool, nan_wins: bool) -> np.ndarray:
    """A max pool over one channel taking the taps in one order by one rule: nan_wins, the
    SSE maxps(m, x) rule (x unless m > x); else std::max's (m unless x > m)."""
    h, w = (x.shape[0] - k) // s + 1, (x.shape[1] - k) // s + 1
    y = np.zeros((h, w), np.float32)
    for i in range(h):
        for j in range(w):
            win = x[i * s : i * s + k, j * s : j * s + k]
            m = None
            for v in win.T.ravel() if column_first else win.ravel():
                m = v if m is None else (m if m > v else v) if nan_wins else (v if v > m else m)
            y[i, j] = m
    return y


def test_onnx_max_pool_nan_rule_is_its_implementations(tmp_path):
    """onnxruntime's MaxPool on NaN taps: no order of a window's taps by either max rule gives
    its outputs (its MLAS kernel takes windows down different paths), so the fuzz compares
    the tiers (TFLM's rule: a NaN tap never wins, as TFLite models need) with onnxruntime
    whose MaxPool NaN inputs are replaced by -FLT_MAX: ort-nan; other values stay mismatches."""
    import upyflow

    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 16)).astype(np.float32)
    x[rng.random(x.shape) < 0.3] = np.nan
    ort_y = _ort(_max_pool_onnx([1, 1, 8, 16], 2, 2)).run(None, {"x": x[None, None]})[0][0, 0]
    for column_first in (False, True):
        for nan_wins in (False, True):
            assert not np.array_equal(_sequential_max(x, 2, 2, column_first, nan_wins), ort_y, equal_nan=True)

    nan = np.nan
    x = np.array([[[[nan, 1, -1, nan], [2, nan, nan, -3], [nan, nan, 5, 0], [nan, nan, nan, nan]]]], np.float32)
    data = _max_pool_onnx([1, 1, 4, 4], 2, 2)
    ort_y = _ort(data).run(None, {"x": x})[0].ravel()
    tflm_rule = [2, -1, -fuzz.FLT_MAX, 5]
    assert not np.array_equal(ort_y, tflm_rule)
    result = compile_model("m.onnx", "m", data=data)
    (tmp_path / "m.py").write_text(module_source(result.baked, "m"))
    mod = load_module(str(tmp_path / "m.py"))
    for tier in ["pure"] + (["native"] if upyflow.dispatch.available("native") else []):
        m = upyflow.Model(mod, tier)
        m.set_input(0, x.tobytes())
        m.invoke()
        np.testing.assert_array_equal(np.frombuffer(bytes(m.get_output(0)), np.float32), tflm_rule, err_msg=tier)
    got = [np.array(tflm_rule, np.float32).tobytes()]
    ref, inputs, r = [ort_y.astype(np.float32).tobytes()], [x.tobytes()], ("mismatch", "t")
    opts = dict(rtol=1e-4, atol=1e-5, steps=[0.0], onnx=True)
    assert fuzz.ort_saturated(data, result, inputs, ref, got, ["f32"], r, opts, got)[0] == "ort-nan"
    bad = [np.array([2, -1, -fuzz.FLT_MAX, 4], np.float32).tobytes()]
    assert fuzz.ort_saturated(data, result, inputs, ref, bad, ["f32"], r, opts, bad) == r


@pytest.mark.parametrize(
    "op,bounds",
    [("Max", None), ("Min", None), ("Clip", (0.1, 5.0)), ("Clip", (None, 5.0)), ("Clip", (-1.0, None))],
)
def test_onnx_max_min_clip_give_nan_for_nan(op, bounds, tmp_path):
    """onnxruntime's float Max, Min and Clip give NaN for a NaN operand (whichever side); the
    tiers ran them as TFLM's MAXIMUM/MINIMUM (`u > w ? u : w`: the bound for a NaN u)."""
    from onnx import helper as oh

    import upyflow

    nan = np.nan
    x = np.array([[nan, 1, -1, nan], [2, nan, 7, -3]], np.float32)
    c = np.array([[0.5, nan, 0.5, nan], [0.5, 0.5, 0.5, 0.5]], np.float32)
    if op == "Clip":
        inits = {k: np.array(v, np.float32) for k, v in zip(("lo", "hi"), bounds) if v is not None}
        node = oh.make_node("Clip", ["x", "lo" if "lo" in inits else "", "hi" if "hi" in inits else ""], ["y"])
        feeds = {"x": x}
    else:  # both operands computed (bake refuses NaN constants)
        inits, feeds = {}, {"x": x, "c": c}
        node = oh.make_node(op, ["x", "c"], ["y"])
    data = onnx_model([node], {k: [2, 4] for k in feeds}, inits)
    ref = _ort(data).run(None, feeds)[0].ravel()
    assert np.isnan(ref[0]) and np.isnan(ref[3])
    result = compile_model("m.onnx", "m", data=data)
    (tmp_path / "m.py").write_text(module_source(result.baked, "m"))
    mod = load_module(str(tmp_path / "m.py"))
    for tier in ["pure"] + (["native"] if upyflow.dispatch.available("native") else []):
        m = upyflow.Model(mod, tier)
        for k, v in enumerate(feeds.values()):
            m.set_input(k, v.tobytes())
        m.invoke()
        np.testing.assert_array_equal(np.frombuffer(bytes(m.get_output(0)), np.float32), ref, err_msg=tier)


def test_quantize_of_a_folded_scalar_is_one_line():
    """(fuzz seed 4242 #1668: a DequantizeLinear mutated to read the zero-point initializer,
    then Add(x, x) of it folded to a numpy scalar, which QuantizeLinear took for a computed
    tensor: AttributeError behind the reader's backstop. Folded 0-d values are arrays now.)"""
    data = fuzz.mutate_onnx(fuzz.seeds("onnx", False)["o_qdq_gemm.onnx"], np.random.default_rng([4242, 1668]))
    msg = bake_error(data, "m.onnx")
    assert not msg.startswith("malformed ONNX model at"), msg


def test_onnx_softmax_axis_out_of_range_is_one_line():
    """(fuzz seed 20261203 #2511: a Softmax axis mutated to 100: IndexError behind the
    reader's backstop.)"""
    data = fuzz.mutate_onnx(fuzz.seeds("onnx", False)["o_cnn_f32.onnx"], np.random.default_rng([20261203, 2511]))
    assert "Softmax node '': axis 100 for a 2-D input" in bake_error(data, "m.onnx")


def test_int8_leaky_relu_alpha_beyond_the_shift_range_rejected():
    """(fuzz seed 20261203 #2735: an int8 LEAKY_RELU alpha mutated to 1e38: its multiplier's
    shift 127, which TFLM shifts an int32 by (undefined: TFLM gave -2.66, the tiers' table 0).
    The int16 kernel's spec range applies to the int8 table too.)"""
    data = fuzz.mutate_tflite(
        fuzz.seeds("tflite", True)["w_eltwise_s8.tflite"], np.random.default_rng([20261203, 2735])
    )
    assert "LEAKY_RELU 't4': alpha shift 127 is outside [-31, 30]" in bake_error(data)
