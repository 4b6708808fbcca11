"""Few-operator graphs: RESHAPE aliasing a tensor (FC -> RESHAPE -> SOFTMAX, CONV -> RESHAPE
-> FC, a graph input or output reshaped), float pipelines, several inputs and outputs,
byte-identical with TFLM (float32 within rtol 1e-5) on every CPython kernel tier (`tier`); and
the arena upyflow plans is never larger than TFLM's.

Each case builds a small .tflite model with ModelWriter, parameters fixed by one seed and the
case id; inputs are random ones plus the extremes. Nothing here hard-codes an expected output.
The single operators: test_<family>.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness import TT, bake_model, check, make_inputs, seeded_rng
from op_models import conv_model, fweights, in_scale_for, qweights
from tflite_writer import ModelWriter

SEED = 0x5EED


def case_rng(case_id: str) -> np.random.Generator:
    return seeded_rng(SEED, case_id)


# --- RESHAPE (alias path) and few-op chains ----------------------------------------------
def fc_reshape_softmax(rng, dt="i8"):
    """FC [1,8] -> [1,12] -> RESHAPE [3,4] -> SOFTMAX: the reshape aliases the FC output."""
    w = ModelWriter()
    if dt == "f32":
        x = w.tensor([1, 8], "float32")
        wi, bi = fweights(w, rng, [12, 8], 12, True)
        h, r, y = (w.tensor(s, "float32") for s in ([1, 12], [3, 4], [3, 4]))
    else:
        s_in = in_scale_for(rng, 8)
        x = w.tensor([1, 8], "int8", s_in, -3)
        wi, bi = qweights(w, rng, [12, 8], 0, s_in, True, True)
        h = w.tensor([1, 12], "int8", 0.06, 4)
        r = w.tensor([3, 4], "int8", 0.06, 4)
        y = w.tensor([3, 4], "int8", 1 / 256, -128)
    w.op("FULLY_CONNECTED", [x, wi, bi], [h])
    w.op("RESHAPE", [h], [r], new_shape=[3, 4])
    w.op("SOFTMAX", [r], [y], beta=1.0)
    return w.build([x], [y]), [(dt, [1, 8], -3 if dt == "i8" else 0)]


def conv_reshape_fc(rng, dt="i8"):
    """CONV [1,6,6,2] -> [1,3,3,4] -> RESHAPE [1,36] -> FC [1,5]."""
    w = ModelWriter()
    if dt == "f32":
        x = w.tensor([1, 6, 6, 2], "float32")
        cw, cb = fweights(w, rng, [4, 3, 3, 2], 4, True)
        c, r = w.tensor([1, 3, 3, 4], "float32"), w.tensor([1, 36], "float32")
        fw, fb = fweights(w, rng, [5, 36], 5, True)
        y = w.tensor([1, 5], "float32")
    else:
        s_in = in_scale_for(rng, 18)
        x = w.tensor([1, 6, 6, 2], "int8", s_in, 9)
        cw, cb = qweights(w, rng, [4, 3, 3, 2], 0, s_in, True, True)
        c = w.tensor([1, 3, 3, 4], "int8", 0.05, -6)
        r = w.tensor([1, 36], "int8", 0.05, -6)
        fw, fb = qweights(w, rng, [5, 36], 0, 0.05, False, True)
        y = w.tensor([1, 5], "int8", 0.3, 2)
    w.op("CONV_2D", [x, cw, cb], [c], padding="SAME", stride_h=2, stride_w=2, fused_activation_function="RELU")
    w.op("RESHAPE", [c], [r], new_shape=[1, 36])
    w.op("FULLY_CONNECTED", [r, fw, fb], [y])
    return w.build([x], [y]), [(dt, [1, 6, 6, 2], 9 if dt == "i8" else 0)]


def fc_reshape_tensor_fc(rng, dt="i8"):
    """FC -> RESHAPE with a constant shape tensor (as the converter writes it) -> FC."""
    w = ModelWriter()
    q = lambda s, z: (s, z) if dt == "i8" else (None, None)  # noqa: E731
    x = w.tensor([2, 6], TT[dt], *q(in_scale_for(rng, 6), 4))
    if dt == "f32":
        w1, b1 = fweights(w, rng, [4, 6], 4, True)
        w2, b2 = fweights(w, rng, [3, 8], 3, False)
    else:
        w1, b1 = qweights(w, rng, [4, 6], 0, w._tensors[x]["scale"][0], True, True)
        w2, b2 = qweights(w, rng, [3, 8], 0, 0.05, True, False)
    h = w.tensor([2, 4], TT[dt], *q(0.05, -1))
    r = w.tensor([1, 8], TT[dt], *q(0.05, -1))
    y = w.tensor([1, 3], TT[dt], *q(0.2, 0))
    shape = w.tensor([2], "int32", data=np.array([1, -1]))
    w.op("FULLY_CONNECTED", [x, w1, b1], [h], fused_activation_function="RELU")
    w.op("RESHAPE", [h, shape], [r], new_shape=[1, 8])
    w.op("FULLY_CONNECTED", [r, w2, b2], [y])
    return w.build([x], [y]), [(dt, [2, 6], 4 if dt == "i8" else 0)]


def conv_reshape_out(rng, dt="i8"):
    """CONV -> RESHAPE, the reshape's output being the graph output."""
    w = ModelWriter()
    if dt == "f32":
        x = w.tensor([1, 5, 5, 3], "float32")
        cw, cb = fweights(w, rng, [2, 3, 3, 3], 2, True)
        c, y = w.tensor([1, 5, 5, 2], "float32"), w.tensor([5, 10], "float32")
    else:
        s_in = in_scale_for(rng, 27)
        x = w.tensor([1, 5, 5, 3], "int8", s_in, 0)
        cw, cb = qweights(w, rng, [2, 3, 3, 3], 0, s_in, True, False)
        c, y = w.tensor([1, 5, 5, 2], "int8", 0.04, 1), w.tensor([5, 10], "int8", 0.04, 1)
    w.op("CONV_2D", [x, cw, cb], [c], padding="SAME", fused_activation_function="RELU6")
    w.op("RESHAPE", [c], [y], new_shape=[5, 10])
    return w.build([x], [y]), [(dt, [1, 5, 5, 3], 0)]


def input_reshape_fc(rng, dt="i8"):
    """RESHAPE of the graph input (aliases the input buffer) -> FC."""
    w = ModelWriter()
    if dt == "f32":
        x, r = w.tensor([1, 2, 2, 3], "float32"), w.tensor([1, 12], "float32")
        fw, fb = fweights(w, rng, [4, 12], 4, False)
        y = w.tensor([1, 4], "float32")
    else:
        x, r = w.tensor([1, 2, 2, 3], "int8", 0.1, -2), w.tensor([1, 12], "int8", 0.1, -2)
        fw, fb = qweights(w, rng, [4, 12], 0, 0.1, True, False)
        y = w.tensor([1, 4], "int8", 0.5, 0)
    w.op("RESHAPE", [x], [r], new_shape=[1, 12])
    w.op("FULLY_CONNECTED", [r, fw, fb], [y], fused_activation_function="RELU_N1_TO_1")
    return w.build([x], [y]), [(dt, [1, 2, 2, 3], -2 if dt == "i8" else 0)]


def input_reshape_out(rng, dt="i8"):
    """Graph input -> RESHAPE -> graph output (cannot alias: a copy)."""
    w = ModelWriter()
    q = (0.1, 3) if dt == "i8" else (None, None)
    x, y = w.tensor([2, 3, 4], TT[dt], *q), w.tensor([4, 6], TT[dt], *q)
    w.op("RESHAPE", [x], [y], new_shape=[4, 6])
    return w.build([x], [y]), [(dt, [2, 3, 4], 3 if dt == "i8" else 0)]


def float_pipeline(rng, dt="f32", pool_pad="VALID"):
    """float -> QUANTIZE -> CONV -> DEPTHWISE -> AVG_POOL -> RESHAPE -> FC -> SOFTMAX -> DEQUANTIZE."""
    w = ModelWriter()
    x = w.tensor([1, 9, 8, 2], "float32")
    xq = w.tensor([1, 9, 8, 2], "int8", 0.02, -5)
    cw, cb = qweights(w, rng, [4, 3, 3, 2], 0, 0.02, True, True)
    c = w.tensor([1, 5, 4, 4], "int8", 0.05, -20)
    dw, db = qweights(w, rng, [1, 3, 3, 8], 3, 0.05, True, True)
    d = w.tensor([1, 5, 4, 8], "int8", 0.08, 3)
    p_hw = [3, 2] if pool_pad == "SAME" else [2, 2]
    p = w.tensor([1, *p_hw, 8], "int8", 0.08, 3)
    n = p_hw[0] * p_hw[1] * 8
    r = w.tensor([1, n], "int8", 0.08, 3)
    fw, fb = qweights(w, rng, [10, n], 0, 0.08, False, True)
    logits = w.tensor([1, 10], "int8", 0.15, -4)
    probs = w.tensor([1, 10], "int8", 1 / 256, -128)
    y = w.tensor([1, 10], "float32")
    w.op("QUANTIZE", [x], [xq])
    w.op("CONV_2D", [xq, cw, cb], [c], padding="SAME", stride_h=2, stride_w=2, fused_activation_function="RELU")
    w.op("DEPTHWISE_CONV_2D", [c, dw, db], [d], padding="SAME", depth_multiplier=2, fused_activation_function="RELU6")
    w.op("AVERAGE_POOL_2D", [d], [p], padding=pool_pad, stride_h=2, stride_w=2, filter_height=2, filter_width=2)
    w.op("RESHAPE", [p], [r], new_shape=[1, n])
    w.op("FULLY_CONNECTED", [r, fw, fb], [logits])
    w.op("SOFTMAX", [logits], [probs], beta=1.0)
    w.op("DEQUANTIZE", [probs], [y])
    return w.build([x], [y]), [("f32", [1, 9, 8, 2], 0)]


def float_pipeline_same(rng, dt="f32"):
    return float_pipeline(rng, dt, "SAME")


def two_inputs_outputs(rng, dt="i8"):
    """Two inputs (each through its own FC) and two outputs, one a DEQUANTIZE of the other."""
    w = ModelWriter()
    a = w.tensor([1, 6], "int8", 0.05, 1)
    b = w.tensor([1, 4], "float32")
    bq = w.tensor([1, 4], "int8", 0.03, -2)
    aw, ab = qweights(w, rng, [3, 6], 0, 0.05, True, True)
    bw, bb = qweights(w, rng, [3, 4], 0, 0.03, False, True)
    ya = w.tensor([1, 3], "int8", 0.1, 0)
    yb = w.tensor([1, 3], "int8", 0.1, 5)
    yf = w.tensor([1, 3], "float32")
    w.op("FULLY_CONNECTED", [a, aw, ab], [ya])
    w.op("QUANTIZE", [b], [bq])
    w.op("FULLY_CONNECTED", [bq, bw, bb], [yb], fused_activation_function="RELU")
    w.op("DEQUANTIZE", [yb], [yf])
    return w.build([a, b], [ya, yf]), [("i8", [1, 6], 1), ("f32", [1, 4], 0)]


GRAPHS = {
    "fc_reshape_softmax": (fc_reshape_softmax, ("i8", "f32")),
    "conv_reshape_fc": (conv_reshape_fc, ("i8", "f32")),
    "conv_reshape_out": (conv_reshape_out, ("i8", "f32")),
    "fc_reshape_tensor_fc": (fc_reshape_tensor_fc, ("i8", "f32")),
    "input_reshape_fc": (input_reshape_fc, ("i8", "f32")),
    "input_reshape_out": (input_reshape_out, ("i8", "f32")),
    "float_pipeline": (float_pipeline, ("f32",)),
    "float_pipeline_same": (float_pipeline_same, ("f32",)),
    "two_inputs_outputs": (two_inputs_outputs, ("i8",)),
}
GRAPH_CASES = [(name, dt) for name, (_, dts) in GRAPHS.items() for dt in dts]


def graph_inputs(rng, specs):
    per_input = [make_inputs(rng, dt, shape, zp) for dt, shape, zp in specs]
    return [list(ins) for ins in zip(*per_input)]


@pytest.mark.parametrize("name,dt", GRAPH_CASES, ids=["%s-%s" % c for c in GRAPH_CASES])
def test_graph(name, dt, tier, tmp_path):
    rng = case_rng("graph" + name + dt)
    model, specs = GRAPHS[name][0](rng, dt)
    check(model, tmp_path, graph_inputs(rng, specs))


# --- arena size vs TFLM -----------------------------------------------------------------
ARENA_MODELS = {
    "float_pipeline": lambda rng: float_pipeline(rng)[0],
    "conv_reshape_fc": lambda rng: conv_reshape_fc(rng)[0],
    "fc_reshape_softmax": lambda rng: fc_reshape_softmax(rng)[0],
    "conv": lambda rng: conv_model(
        rng, "i8", False, (12, 12), 4, 8, (3, 3), (1, 1), (1, 1), "SAME", True, True, "RELU"
    )[0],
    "depthwise": lambda rng: conv_model(
        rng, "i8", True, (10, 9), 3, 2, (5, 3), (2, 1), (1, 1), "VALID", True, True, "NONE"
    )[0],
}


@pytest.mark.parametrize("name", sorted(ARENA_MODELS))
def test_arena_not_larger_than_tflm(name, tmp_path):
    from upyflow_tools.tflm import head_arena_bytes

    model = ARENA_MODELS[name](case_rng("arena" + name))
    path = tmp_path / (name + ".tflite")
    path.write_bytes(model)
    _, _, result = bake_model(path, tmp_path)
    tflm = head_arena_bytes(str(path))
    assert tflm is not None, "could not read TFLM's arena figure"
    assert result.arena_size <= tflm, (result.arena_size, tflm)
