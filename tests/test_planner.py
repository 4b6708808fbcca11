"""The arena planner's optional scratch tensors (planner.place_scratch): a conv2d_s8 weight
table placed only in arena bytes free during its call, the arena never larger than without
it, and the M0+ kernel that uses it byte-identical to TFLM."""

from __future__ import annotations

import numpy as np
import pytest

from harness import assert_bit_exact, load_cpython, needs_micropython, random_input, run_tflm, shared
from op_models import out_zp_for, qweights
from tflite_writer import ModelWriter
from upyflow_tools.bake import bake, compile_model
from upyflow_tools.lower.families import conv as conv_lowering
from upyflow_tools.patches import Stage
from upyflow_tools.tflm import interpreter
from upyflow_tools.unixport import run_batch


def _chain(shape=(8, 8, 16), stride=2, depths=(64, 40, 4), act="RELU") -> bytes:
    """1 x shape -> CONV 3x3 `stride` SAME (depths[0]) -> then 1x1 CONV per further depth (act)."""
    rng = np.random.default_rng(5)
    w = ModelWriter()
    x = w.tensor([1, *shape], "int8", 0.05, 3)
    prev, s_in, cin = x, 0.05, shape[2]
    h, wd = -(-shape[0] // stride), -(-shape[1] // stride)
    for i, cout in enumerate(depths):
        k, s, a = (3, stride, "NONE") if i == 0 else (1, 1, act)
        wi, bi = qweights(w, rng, [cout, k, k, cin], 0, s_in, True, True)
        y = w.tensor([1, h, wd, cout], "int8", 0.04, out_zp_for(a, 5))
        w.op(
            "CONV_2D",
            [prev, wi, bi],
            [y],
            padding="SAME",
            stride_h=s,
            stride_w=s,
            dilation_h_factor=1,
            dilation_w_factor=1,
            fused_activation_function=a,
        )
        prev, s_in, cin = y, 0.04, cout
    return w.build([x], [prev])


def _scratch(result) -> list[tuple[int, int]]:
    """(bytes, offset) of each conv2d_s8 call's scratch, in call order."""
    out = []
    for c in result.calls:
        if c.kernel == "conv2d_s8":
            t = result.graph.tensors[c.arg("wtab")]
            assert t.nbytes == 4 * c.arg("wtab_n")
            out.append((t.nbytes, result.scratch[c.arg("wtab")]))
    return out


def test_scratch_only_where_the_arena_is_free():
    # Tensors by hand: the input 1024 B (live at call 0), the 4x4x64 conv output 1024 B (calls
    # 0-1), the 4x4x40 one 640 B (1-2), the 4x4x4 output 64 B (2-3): the arena is call 0's
    # 2048 B. Call 1 (64 -> 40, 16 pixels) wants 40 rows of 68 words and is worth at least 8
    # rows' beside the 8 x 64 words of packed inputs (4224 B): 2048 - 1664 B are free, so
    # none. Call 2 (40 -> 4) wants 4 rows of 44 words
    # (704 B) and 2048 - 704 B are free beside the two tensors it touches (one gap, as they are
    # placed next to each other: the larger first, at 0 or 1024): all of it.
    result = compile_model("chain.tflite", data=_chain(), patches="off")
    assert result.arena_size == 2048
    assert _scratch(result)[:2] == [(0, 0), (0, 0)]
    size, offset = _scratch(result)[2]
    assert size == 704
    live = sorted((b.offset, b.offset + b.size) for b in result.buffers if b.first <= 2 <= b.last)
    assert [b - a for a, b in live] == [640, 64] or [b - a for a, b in live] == [64, 640]
    assert all(offset >= end or offset + size <= start for start, end in live)
    assert offset + size <= 2048


MODELS = [
    "person_detect",
    "micro_speech_quantized",
    "micro_speech_lstm",
    "keyword_scrambled",
    "keyword_scrambled_8bit",
    "dtln_noise_suppression",
    "audio_preprocessor_int8",
    "trained_lstm_int8",
    "hello_world_int8",
]


@pytest.mark.parametrize("model", MODELS)
def test_scratch_leaves_the_arena_unchanged(model, monkeypatch):
    path = str(shared("models/%s.tflite" % model))
    result = compile_model(path)
    with monkeypatch.context() as m:
        m.setattr(conv_lowering, "_weight_table", lambda graph, out, geom: conv_lowering.no_scratch(graph))
        plain = compile_model(path)
    assert result.arena_size == plain.arena_size
    assert not any(s for s, _ in _scratch(plain))
    # each scratch inside the arena, on no byte of a tensor live during its calls
    for k, c in enumerate(result.calls):
        if c.kernel == "conv2d_s8" and c.arg("wtab_n"):
            offset = result.scratch[c.arg("wtab")]
            size = 4 * c.arg("wtab_n")
            assert 0 <= offset and offset + size <= result.arena_size
            for b in result.buffers:
                if b.first <= k <= b.last:
                    assert offset >= b.offset + b.size or offset + size <= b.offset
    if model == "person_detect":  # its deep pointwise layers get tables
        assert sum(1 for s, _ in _scratch(result) if s) >= 7


# (the chain, band stages, the last layer's scratch words, whether conv1x1_wtab_m0 runs)
M0_CASES = [
    ((), "off", 4 * 44, True),
    # its last two layers in bands of one row: each band call given the scratch (the walker
    # checks its size) but of too few pixels to pay for the table
    ((), [Stage(1, 3, 1)], 4 * 44, False),
    # 72 -> 10 on 5x5 pixels (an odd one, a tail of 2), RELU6
    (((20, 20, 16), 4, (72, 10), "RELU6"), "off", 8 * 76, True),
    # 64 -> 13 on 5x3 pixels (an odd one, a tail of 1)
    (((15, 9, 48), 3, (64, 13), "RELU"), "off", 12 * 68, True),
    # no activation, the output zero point above -128: not uf_rq1_m0's (act_min < out_off)
    (((16, 16, 16), 4, (40, 6), "NONE"), "off", 4 * 44, False),
]


@pytest.mark.parametrize("case", M0_CASES)
def test_the_weight_table_on_the_m0_is_bit_exact(case):
    """Chains whose last 1x1 layer (more than 32 inputs) is given a scratch, as ARMv6-M code
    (conv1x1_wtab_m0 where it pays and suits), against TFLM."""
    from upyflow_tools.isa import IsaModel, module_from_baked, unavailable

    why = unavailable("armv6m")
    if why:
        pytest.skip(why)
    chain, stages, words, used = case
    data = _chain(*chain)
    result = compile_model("chain.tflite", data=data, patches=stages)
    assert result.calls[-1].arg("wtab_n") == words
    mod = module_from_baked(result, "chain")
    shape = tuple(result.graph.tensors[result.graph.inputs[0]].shape)
    tflm = interpreter(data)
    rng = np.random.default_rng(9)
    for misalign in (0, 1):
        m = IsaModel(mod, "armv6m", misalign)
        for _ in range(2):
            x = random_input(rng, "i8", shape)
            got = m.invoke([x.tobytes()], count=True)[0]
            assert (m.result.by_function["uf_mac2x2pqn_m0"] > 0) == used  # the table's kernel
            tflm.set_input(x, 0)
            tflm.invoke()
            want = np.array(tflm.get_output(0))
            np.testing.assert_array_equal(np.frombuffer(got, np.int8).reshape(want.shape), want)
        assert not m.host_ops


@pytest.mark.parametrize("tier", ["pure", "native"])
@pytest.mark.parametrize("banded", [False, True])
def test_the_scratch_on_the_host_tiers(tier, banded, tmp_path):
    """The tiers that ignore the scratch (pure Python, the host's C) take it and stay exact."""
    data = _chain()
    bake("chain.tflite", str(tmp_path), name="chain", data=data, patches=[Stage(1, 3, 1)] if banded else "off")
    m = load_cpython(str(tmp_path), "chain", tier)
    rng = np.random.default_rng(4)
    assert_bit_exact(data, m, [random_input(rng, "i8", (1, 8, 8, 16)) for _ in range(1)])


@needs_micropython
def test_the_scratch_under_micropython(tmp_path):
    """The viper and pure tiers under MicroPython take the scratch (ptr32 of its bytes)."""
    data = _chain()
    bake("chain.tflite", str(tmp_path), name="mp_chain", data=data, patches="off")
    x = random_input(np.random.default_rng(6), "i8", (1, 8, 8, 16))
    want = run_tflm(data, [x])[0].tobytes()
    for tier in ("viper", "pure"):
        outs, _ = run_batch(str(tmp_path), "mp_chain", [[x.tobytes()]], env={"UPYFLOW_TIER": tier})
        assert outs[0][0] == want, tier


def test_conv_calls_carry_their_smallest_weight():
    """conv2d_s8 and depthwise_conv2d_s8 take w_min, their weights' smallest value, from the
    bake (the M0+ fused pointwise kernels' lane split wants none at -128): person_detect's
    layers (TFLite's symmetric weights: none at -128; some layers in bands of calls)."""
    result = compile_model(str(shared("models/person_detect.tflite")))
    mins = []
    for c in result.calls:
        if c.kernel in ("conv2d_s8", "depthwise_conv2d_s8"):
            w = result.graph.tensors[c.arg("w")].const_data
            assert c.arg("w_min") == int(w.min())
            mins.append(c.arg("w_min"))
    assert len(mins) >= 28 and set(mins) == {-127}
