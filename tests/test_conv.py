"""CONV_2D and DEPTHWISE_CONV_2D (int8, float32, int16 activations with int8 weights):
byte-identical with TFLM (float32 within rtol 1e-5) on every kernel tier.

Generated single-op models run on the CPython tiers (`tier`) and on the TFLM interpreter, the
oracle; parameters derive from a fixed seed and the case id (one seed for the int8/float32
cases, one for the int16 ones), so every test id always builds the same model; inputs are
random ones plus the extremes (all minimum, all maximum, all zero point). The seanet int16
models run on their CSV inputs; the int16 cases also run on MicroPython (`mpy_tier`: viper,
natmod, pure). Nothing here hard-codes an expected output.
"""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import upyflow
from harness import (
    ACTS,
    CPYTHON_TIERS,
    assert_bit_exact,
    bake_model,
    check,
    check_isa,
    load_cpython,
    make_inputs,
    run_micropython_cases,
    run_tflm,
    seeded_rng,
)
from op_models import (
    INT32_BIAS,
    SEANET,
    SHIFTS32,
    SHIFTS64,
    bake_batch,
    batch_rng,
    batch_scales,
    batch_weights,
    bias_tensor,
    conv_model,
    inputs_for,
    out_size,
    out_zp_for,
    scaled16_model,
    scales16,
    seanet_inputs,
    seanet_models,
    weights,
)
from tflite_writer import ModelWriter
from upyflow_tools import BakeError
from upyflow_tools.unixport import run_batch

SEED = 0x5EED  # the int8 and float32 cases
SEED16 = 0xC016  # the int16 cases
HYPOTHESIS_EXAMPLES = int(os.environ.get("UPYFLOW_HYPOTHESIS_EXAMPLES", "10"))
EXAMPLES16 = int(os.environ.get("UPYFLOW_HYPOTHESIS_EXAMPLES", "6"))
ZPS = [(0, 0), (-128, 127), (127, -128), (5, -7), (-40, 60), (-1, 1)]  # (input, output) zero points


def case_rng(case_id: str) -> np.random.Generator:
    return seeded_rng(SEED, case_id)


def case_rng16(case_id: str) -> np.random.Generator:
    return seeded_rng(SEED16, case_id)


def single(model: bytes, tmp_path, xs: list[np.ndarray]) -> None:
    check(model, tmp_path, [[x] for x in xs])


# --- CONV_2D / DEPTHWISE_CONV_2D, int8 and float32 ---------------------------------------
STRIDES = [(1, 1), (2, 2), (1, 2), (2, 1), (3, 2), (2, 3), (3, 3)]
KERNELS = [(1, 1), (3, 3), (5, 3)]
DILATIONS = [(1, 1), (2, 2), (1, 2), (2, 1)]
SIZES = [(7, 7), (8, 8), (9, 6), (6, 11), (12, 9), (10, 10), (11, 12)]


def _conv_cases(depthwise: bool):
    """Geometry product (stride x kernel x padding x [depth multiplier]) with the other
    parameters (dilation, input size, activation, bias, per-channel, zero points) cycled so
    each value appears many times; int8 for all, float32 for every other geometry."""
    mults = (1, 2, 3) if depthwise else (None,)
    cases = []
    for k, (stride, kernel, padding, mult) in enumerate(itertools.product(STRIDES, KERNELS, ("SAME", "VALID"), mults)):
        dilation = DILATIONS[k % len(DILATIONS)] if kernel != (1, 1) else (1, 1)
        size = SIZES[(k // 2) % len(SIZES)]
        eff = [(kk - 1) * d + 1 for kk, d in zip(kernel, dilation)]
        if padding == "VALID" and (size[0] < eff[0] or size[1] < eff[1]):
            size = (max(size[0], eff[0] + 1), max(size[1], eff[1]))
        act = ACTS[k % 4]
        pc, bias = (k // 4) % 2 == 0, (k // 8) % 2 == 0 or k % 3 == 0
        zps = ZPS[k % len(ZPS)]
        chans = (1 + k % 4, mult) if depthwise else (1 + k % 3, 1 + (k * 7) % 5)
        dts = ("i8", "f32") if k % 2 == 0 else ("i8",)
        for dt in dts:
            cases.append((dt, size, chans, kernel, stride, dilation, padding, pc, bias, act, zps))
    return cases


def _conv_id(c):
    dt, size, (ic, oc), kernel, stride, dil, pad, pc, b, act, zp = c
    return "%s-%dx%dx%d-x%d-k%dx%d-s%d,%d-d%d,%d-%s-%s-%s-%s-zp%d,%d" % (
        dt,
        *size,
        ic,
        oc,
        *kernel,
        *stride,
        *dil,
        pad,
        "pc" if pc else "pt",
        "bias" if b else "nobias",
        act,
        *zp,
    )


CONV_CASES = _conv_cases(False)
# every activation x per-channel x bias on one fixed geometry, too
CONV_CASES += [
    ("i8", (6, 5), (3, 4), (3, 3), (2, 1), (1, 1), "SAME", pc, b, act, (-3, 9))
    for act in ACTS
    for pc in (False, True)
    for b in (False, True)
]
DW_CASES = _conv_cases(True)
DW_CASES += [
    ("i8", (7, 6), (3, 2), (3, 3), (1, 2), (2, 1), "SAME", pc, b, act, (11, -20))
    for act in ACTS
    for pc in (False, True)
    for b in (False, True)
]


def conv_case(case, depthwise: bool):
    """(model bytes, input sets) of one case."""
    dt, size, (ic, oc), kernel, stride, dil, pad, pc, b, act, (in_zp, out_zp) = case
    rng = case_rng(("dw" if depthwise else "conv") + _conv_id(case))
    model, xshape = conv_model(rng, dt, depthwise, size, ic, oc, kernel, stride, dil, pad, pc, b, act, in_zp, out_zp)
    return model, [[x] for x in make_inputs(rng, dt, xshape, in_zp, n_random=2)]


@pytest.mark.parametrize("case", CONV_CASES, ids=_conv_id)
def test_conv2d(case, tier, tmp_path):
    model, sets = conv_case(case, False)
    check(model, tmp_path, sets)


@pytest.mark.parametrize("case", DW_CASES, ids=_conv_id)
def test_depthwise_conv2d(case, tier, tmp_path):
    model, sets = conv_case(case, True)
    check(model, tmp_path, sets)


@pytest.mark.parametrize("case", CONV_CASES[::16], ids=_conv_id)
def test_conv2d_isa(case, isa_arch):
    """Every 16th case on the boards' ISAs."""
    check_isa(*conv_case(case, False), isa_arch)


@pytest.mark.parametrize("case", DW_CASES[::40], ids=_conv_id)
def test_depthwise_conv2d_isa(case, isa_arch):
    """Every 40th case on the boards' ISAs."""
    check_isa(*conv_case(case, True), isa_arch)


# --- CONV_2D / DEPTHWISE_CONV_2D, int16 -----------------------------------------------------
STRIDES16 = [(1, 1), (2, 2), (1, 2), (2, 1), (3, 2)]
KERNELS16 = [(1, 1), (3, 3), (3, 4), (5, 3)]
DILATIONS16 = [(1, 1), (2, 1), (1, 2), (2, 2)]
SIZES16 = [(7, 7), (5, 9), (8, 6), (6, 11), (4, 12)]


def conv16_model(
    rng,
    depthwise,
    size,
    in_c,
    oc_or_mult,
    kernel,
    stride,
    dil,
    padding,
    pc,
    btype,
    act,
    big_bias=False,
    bias_type_opt=None,
):
    w = ModelWriter()
    (in_h, in_w), (k_h, k_w), (s_h, s_w), (d_h, d_w) = size, kernel, stride, dil
    out_h, out_w = out_size(padding, in_h, k_h, s_h, d_h), out_size(padding, in_w, k_w, s_w, d_w)
    if depthwise:
        out_c = in_c * oc_or_mult
        wshape, axis, fan_in = [1, k_h, k_w, out_c], 3, k_h * k_w
    else:
        out_c = oc_or_mult
        wshape, axis, fan_in = [out_c, k_h, k_w, in_c], 0, k_h * k_w * in_c
    s_in, s_out = scales16(rng, fan_in)
    xshape = [1, in_h, in_w, in_c]
    x = w.tensor(xshape, "int16", s_in, 0)
    wi, ws = weights(w, rng, wshape, axis, pc)
    bi = bias_tensor(w, rng, btype, out_c, s_in, ws, s_out, big=big_bias)
    y = w.tensor([1, out_h, out_w, out_c], "int16", s_out, 0)
    opts = dict(
        padding=padding,
        stride_h=s_h,
        stride_w=s_w,
        dilation_h_factor=d_h,
        dilation_w_factor=d_w,
        fused_activation_function=act,
    )
    if bias_type_opt is not None:
        opts["quantized_bias_type"] = bias_type_opt
    if depthwise:
        opts["depth_multiplier"] = oc_or_mult
    # no bias: DEPTHWISE_CONV_2D gets two inputs (TFLM's interpreter crashes on its -1 marker)
    ins = [x, wi] + ([bi] if bi >= 0 or not depthwise else [])
    w.op("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", ins, [y], **opts)
    return w.build([x], [y]), xshape


def _conv16_cases(depthwise: bool):
    cases = []
    btypes = ("int64", None) if depthwise else ("int64", "int32", None, "int64")
    mults = (1, 2, 3) if depthwise else (None,)
    for k, (stride, kernel, padding, mult) in enumerate(
        itertools.product(STRIDES16, KERNELS16, ("SAME", "VALID"), mults)
    ):
        if depthwise and k % 2:  # a half of the depthwise product is plenty
            continue
        dil = DILATIONS16[k % len(DILATIONS16)] if kernel != (1, 1) else (1, 1)
        size = SIZES16[k % len(SIZES16)]
        eff = [(kk - 1) * d + 1 for kk, d in zip(kernel, dil)]
        size = (max(size[0], eff[0]), max(size[1], eff[1]))
        chans = (1 + k % 4, mult) if depthwise else (1 + k % 5, 1 + (k * 3) % 5)
        btype = btypes[k % len(btypes)]
        opt = INT32_BIAS if (btype is None and not depthwise and k % 3 == 0) else None
        cases.append(
            (
                size,
                chans,
                kernel,
                stride,
                dil,
                padding,
                (k // 2) % 2 == 0,
                btype,
                ACTS[k % 4],
                k % 11 == 5 and btype == "int64",
                opt,
            )
        )
    return cases


def _conv16_id(c):
    size, (ic, oc), kernel, stride, dil, pad, pc, btype, act, big, opt = c
    return "%dx%dx%d-x%d-k%dx%d-s%d,%d-d%d,%d-%s-%s-%s%s%s-%s" % (
        *size,
        ic,
        oc,
        *kernel,
        *stride,
        *dil,
        pad,
        "pc" if pc else "pt",
        btype or "nobias",
        "-big" if big else "",
        "-qbt32" if opt else "",
        act,
    )


CONV16_CASES = _conv16_cases(False)
DW16_CASES = _conv16_cases(True)


def conv16_case(case):
    """(model bytes, input sets) of one case."""
    size, (ic, oc), kernel, stride, dil, pad, pc, btype, act, big, opt = case
    rng = case_rng16("conv16" + _conv16_id(case))
    model, xshape = conv16_model(rng, False, size, ic, oc, kernel, stride, dil, pad, pc, btype, act, big, opt)
    return model, [[x] for x in inputs_for(rng, "i16", xshape)]


@pytest.mark.parametrize("case", CONV16_CASES, ids=_conv16_id)
def test_conv2d_int16(case, tier, tmp_path):
    model, sets = conv16_case(case)
    check(model, tmp_path, sets)


@pytest.mark.parametrize("case", CONV16_CASES[::16], ids=_conv16_id)
def test_conv2d_int16_isa(case, isa_arch):
    """Every 16th case on the boards' ISAs."""
    check_isa(*conv16_case(case), isa_arch)


def dw16_case(case):
    """(model bytes, input sets) of one case."""
    size, (ic, mult), kernel, stride, dil, pad, pc, btype, act, big, opt = case
    rng = case_rng16("dw16" + _conv16_id(case))
    model, xshape = conv16_model(rng, True, size, ic, mult, kernel, stride, dil, pad, pc, btype, act, big, opt)
    return model, [[x] for x in inputs_for(rng, "i16", xshape)]


@pytest.mark.parametrize("case", DW16_CASES, ids=_conv16_id)
def test_depthwise_conv2d_int16(case, tier, tmp_path):
    model, sets = dw16_case(case)
    check(model, tmp_path, sets)


@pytest.mark.parametrize("case", DW16_CASES[::24], ids=_conv16_id)
def test_depthwise_conv2d_int16_isa(case, isa_arch):
    """Every 24th case on the boards' ISAs."""
    check_isa(*dw16_case(case), isa_arch)


# --- what the lowerings reject ------------------------------------------------------------
def _bake_error(model: bytes, tmp_path) -> str:
    with pytest.raises(BakeError) as e:
        bake_model(model, tmp_path)
    return str(e.value)


def test_int16_conv_nonzero_zero_point_rejected(tmp_path):
    w = ModelWriter()
    x = w.tensor([1, 4, 4, 2], "int16", 1e-4, 3)
    wi, _ = weights(w, np.random.default_rng(0), [2, 3, 3, 2], 0, True)
    y = w.tensor([1, 4, 4, 2], "int16", 1e-3, 0)
    w.op("CONV_2D", [x, wi, -1], [y])
    assert "zero point" in _bake_error(w.build([x], [y]), tmp_path)


def test_int16_depthwise_int32_bias_rejected(tmp_path):
    """TFLM reads any 16x8 depthwise bias as int64: an int32 one would be misread."""
    w = ModelWriter()
    x = w.tensor([1, 4, 4, 2], "int16", 1e-4, 0)
    wi, ws = weights(w, np.random.default_rng(0), [1, 3, 3, 2], 3, True)
    b = w.tensor([2], "int32", list(1e-4 * ws), 0, data=np.array([5, -5]))
    y = w.tensor([1, 4, 4, 2], "int16", 1e-3, 0)
    w.op("DEPTHWISE_CONV_2D", [x, wi, b], [y])
    assert "int32 bias" in _bake_error(w.build([x], [y]), tmp_path)


# --- property tests: random geometry and quantization ------------------------------------
@st.composite
def conv_geometries(draw):
    depthwise = draw(st.booleans())
    k_h, k_w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    d_h = draw(st.integers(1, 3)) if k_h > 1 else 1
    d_w = draw(st.integers(1, 3)) if k_w > 1 else 1
    padding = draw(st.sampled_from(["SAME", "VALID"]))
    lo_h = (k_h - 1) * d_h + 1 if padding == "VALID" else 1
    lo_w = (k_w - 1) * d_w + 1 if padding == "VALID" else 1
    in_h, in_w = draw(st.integers(lo_h, max(lo_h, 10))), draw(st.integers(lo_w, max(lo_w, 10)))
    stride = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    in_c = draw(st.integers(1, 4))
    out = draw(st.integers(1, 3)) if depthwise else draw(st.integers(1, 5))
    return dict(
        depthwise=depthwise,
        in_hw=(in_h, in_w),
        in_c=in_c,
        out_c_or_mult=out,
        kernel=(k_h, k_w),
        stride=stride,
        dilation=(d_h, d_w),
        padding=padding,
        per_channel=draw(st.booleans()),
        bias=draw(st.booleans()),
        act=draw(st.sampled_from(ACTS)),
        in_zp=draw(st.integers(-128, 127)),
        out_zp=draw(st.integers(-128, 127)),
    )


@pytest.mark.usefixtures("tier")
@settings(max_examples=HYPOTHESIS_EXAMPLES, deadline=None)
@given(geom=conv_geometries(), seed=st.integers(0, 2**32 - 1))
def test_conv_property(geom, seed, tmp_path_factory):
    rng = np.random.default_rng(seed)
    model, xshape = conv_model(rng, "i8", **geom)
    single(model, tmp_path_factory.mktemp("prop"), make_inputs(rng, "i8", xshape, geom["in_zp"], n_random=2))


@settings(max_examples=EXAMPLES16, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    kind=st.sampled_from(["conv", "dw"]),
    h=st.integers(1, 6),
    wd=st.integers(1, 6),
    ic=st.integers(1, 4),
    oc=st.integers(1, 4),
    kh=st.integers(1, 4),
    kw=st.integers(1, 4),
    sh=st.integers(1, 3),
    sw=st.integers(1, 3),
    padding=st.sampled_from(["SAME", "VALID"]),
    pc=st.booleans(),
    act=st.sampled_from(ACTS),
    seed=st.integers(0, 2**32 - 1),
)
def test_int16_property(tmp_path_factory, kind, h, wd, ic, oc, kh, kw, sh, sw, padding, pc, act, seed):
    rng = np.random.default_rng(seed)
    tmp = tmp_path_factory.mktemp("hyp")
    h, wd = max(h, kh), max(wd, kw)  # VALID needs the filter to fit
    model, xshape = conv16_model(
        rng,
        kind == "dw",
        (h, wd),
        ic,
        oc if kind == "conv" else 1 + oc % 3,
        (kh, kw),
        (sh, sw),
        (1, 1),
        padding,
        pc,
        "int64" if seed % 2 else None,
        act,
    )
    sets = [[x] for x in inputs_for(rng, "i16", xshape)]
    mdir, name, _ = bake_model(model, tmp)
    for tier in CPYTHON_TIERS:
        if not upyflow.dispatch.available(tier):
            continue
        module = load_cpython(mdir, name, tier)
        for ins in sets:
            assert_bit_exact(model, module, ins)


# --- seanet single-op models (int16) on their CSV inputs ------------------------------------
@pytest.mark.parametrize("rel", [r for r in seanet_models() if r.startswith("conv/")] or ["missing"])
def test_seanet(rel, tier, tmp_path):
    if rel == "missing":
        pytest.skip("../shared/tflm_integration/seanet is not present")
    data, ins, golden = seanet_inputs(rel)
    want = run_tflm(data, ins)[0]
    mdir, name, _ = bake_model(SEANET / (rel + ".tflite"), tmp_path)
    module = load_cpython(mdir, name, tier)
    assert_bit_exact(data, module, ins)
    # the TFLM interpreter agrees with the goldens on these models
    np.testing.assert_array_equal(want.reshape(-1), golden.reshape(-1))


# --- MicroPython: pure, viper, natmod ------------------------------------------------------
# --- MicroPython: an int8 batch on viper (x64; 32-bit with MICROPYTHON32) and the natmod ------
BATCH_SIZES = [(7, 7), (8, 8), (9, 6), (6, 11), (5, 9), (10, 10)]
BATCH_STRIDES = [(1, 1), (2, 2), (1, 2), (2, 1), (3, 2), (2, 3)]
BATCH_KSIZES = [(1, 1), (3, 3), (5, 3), (2, 4)]
BATCH_DILATIONS = [(1, 1), (2, 2), (1, 2), (2, 1), (3, 1)]


def batch_conv_model(case_id, depthwise, hw, in_c, oc, k, s, d, pad, pc, bias, act, zps, big=False):
    rng = batch_rng(case_id)
    (in_h, in_w), (k_h, k_w), (s_h, s_w), (d_h, d_w) = hw, k, s, d

    def size(i, kk, ss, dd):
        return -(-i // ss) if pad == "SAME" else (i - (kk - 1) * dd - 1) // ss + 1

    out_h, out_w = size(in_h, k_h, s_h, d_h), size(in_w, k_w, s_w, d_w)
    out_c = in_c * oc if depthwise else oc
    wshape, axis = ([1, k_h, k_w, out_c], 3) if depthwise else ([out_c, k_h, k_w, in_c], 0)
    fan_in = k_h * k_w * (1 if depthwise else in_c)
    s_in, s_out = batch_scales(rng, fan_in, big)
    w = ModelWriter()
    x = w.tensor([1, in_h, in_w, in_c], "int8", s_in, zps[0])
    wi, bi = batch_weights(w, rng, wshape, axis, s_in, pc, bias)
    y = w.tensor([1, out_h, out_w, out_c], "int8", s_out, out_zp_for(act, zps[1]))
    opts = dict(
        padding=pad,
        stride_h=s_h,
        stride_w=s_w,
        dilation_h_factor=d_h,
        dilation_w_factor=d_w,
        fused_activation_function=act,
    )
    if depthwise:
        opts["depth_multiplier"] = oc
    # TFLM crashes on a -1 depthwise bias: give depthwise without bias two inputs
    ins = [x, wi] + ([bi] if bi >= 0 or not depthwise else [])
    w.op("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", ins, [y], **opts)
    return w.build([x], [y]), [1, in_h, in_w, in_c], zps[0], rng


def batch_conv_cases():
    """id -> (model bytes, input shape, input zero point, rng): every geometry parameter cycled
    against the others so each value meets strides, padding and borders several times."""
    cases = {}
    k = 0
    for depthwise in (False, True):
        for stride in BATCH_STRIDES:
            for kernel in BATCH_KSIZES:
                for pad in ("SAME", "VALID"):
                    k += 1
                    dil = BATCH_DILATIONS[k % len(BATCH_DILATIONS)] if kernel != (1, 1) else (1, 1)
                    hw = BATCH_SIZES[k % len(BATCH_SIZES)]
                    eff = [(kk - 1) * d + 1 for kk, d in zip(kernel, dil)]
                    hw = (max(hw[0], eff[0]), max(hw[1], eff[1]))
                    in_c = 1 + k % 4 if depthwise else 1 + k % 5
                    oc = 1 + k % 3 if depthwise else 1 + (k * 7) % 6  # depth multiplier 1..3
                    pc, bias, act = k % 2 == 0, k % 3 != 1, ACTS[k % 4]
                    big = k % 11 == 0
                    cid = "%s-%dx%dx%d-%s%d-k%dx%d-s%d,%d-d%d,%d-%s-%s-%s-%s-zp%d,%d%s" % (
                        "dw" if depthwise else "conv",
                        *hw,
                        in_c,
                        "m" if depthwise else "o",
                        oc,
                        *kernel,
                        *stride,
                        *dil,
                        pad,
                        "pc" if pc else "pt",
                        "bias" if bias else "nobias",
                        act,
                        *ZPS[k % len(ZPS)],
                        "-bigmult" if big else "",
                    )
                    cases[cid] = batch_conv_model(
                        cid, depthwise, hw, in_c, oc, kernel, stride, dil, pad, pc, bias, act, ZPS[k % len(ZPS)], big
                    )
    return cases


@pytest.fixture(scope="module")
def int8_batch(tmp_path_factory):
    return bake_batch(batch_conv_cases(), tmp_path_factory.mktemp("conv_int8_batch"), "vk")


@pytest.mark.parametrize("mpy_tier", ["viper", "viper32", "natmod"], indirect=True)
def test_int8_micropython(int8_batch, mpy_tier):
    """CONV_2D and DEPTHWISE_CONV_2D int8 models over strides, SAME/VALID padding, dilations,
    depth multipliers 1..3, per-tensor/per-channel weights, activations and requantization
    multipliers above 1: byte-identical with TFLM."""
    run_micropython_cases(mpy_tier, *int8_batch)


@pytest.mark.parametrize("mpy_tier", ["pure"], indirect=True)
@pytest.mark.parametrize("rel", ["conv/conv15", "conv/conv11"])
def test_seanet_micropython_pure(rel, mpy_tier, tmp_path):
    if not SEANET.exists():
        pytest.skip("../shared/tflm_integration/seanet is not present")
    data, ins, _ = seanet_inputs(rel)
    want = run_tflm(data, ins)[0]
    mdir, name, _ = bake_model(SEANET / (rel + ".tflite"), tmp_path, mpy=True)
    outs, _ = run_batch(
        mdir, name, [[np.ascontiguousarray(x).tobytes() for x in ins]], heapsize="2M", env={"UPYFLOW_TIER": "pure"}
    )
    got = np.frombuffer(outs[0][0], np.int16)
    np.testing.assert_array_equal(got, want.reshape(-1))


@pytest.mark.parametrize("mpy_tier", ["pure"], indirect=True)
def test_int16_micropython_pure(mpy_tier, tmp_path):
    """One model per int16 kernel: conv (int64 and int32 bias), depthwise."""
    rng = case_rng16("micropython")
    models = [
        (conv16_model(rng, False, (5, 6), 3, 4, (3, 3), (2, 1), (1, 1), "SAME", True, "int64", "RELU")[0], "i16"),
        (conv16_model(rng, False, (5, 6), 2, 3, (3, 2), (1, 1), (1, 1), "SAME", False, "int32", "NONE")[0], "i16"),
        (conv16_model(rng, True, (6, 5), 2, 2, (3, 3), (1, 2), (2, 1), "SAME", True, "int64", "NONE")[0], "i16"),
    ]
    from upyflow_tools.readers.tflite import read_tflite

    for k, (model, dt) in enumerate(models):
        graph = read_tflite(model)
        xt = graph.tensors[graph.inputs[0]]
        xs = inputs_for(rng, dt, list(xt.shape), xt.zp, n_random=1)
        mdir, name, _ = bake_model(model, tmp_path / str(k), mpy=True)
        outs, _ = run_batch(mdir, name, [[x.tobytes()] for x in xs], heapsize="2M", env={"UPYFLOW_TIER": "pure"})
        for x, out in zip(xs, outs):
            want = run_tflm(model, [x])[0].reshape(-1)
            got = np.frombuffer(out[0], want.dtype)
            if dt == "f32":
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
            else:
                np.testing.assert_array_equal(got, want)


@pytest.fixture(scope="module")
def conv16_baked(tmp_path_factory):
    """The generated int16 CONV_2D/DEPTHWISE_CONV_2D cases above, the same with multipliers of
    about 2^shift, and the seanet conv models on their CSV inputs."""
    outdir = tmp_path_factory.mktemp("viper_conv16")
    cases = {}
    k = 0
    for depthwise, table_ in ((False, CONV16_CASES), (True, DW16_CASES)):
        for case in table_:
            size, (ic, oc), kernel, stride, dil, pad, pc, btype, act, big, opt = case
            cid = ("dw16" if depthwise else "conv16") + _conv16_id(case)
            rng = case_rng16(cid)
            model, xshape = conv16_model(
                rng, depthwise, size, ic, oc, kernel, stride, dil, pad, pc, btype, act, big, opt
            )
            sets = [[x] for x in inputs_for(rng, "i16", xshape)]
            cases["vc%d" % k] = (cid, model, sets)
            k += 1
    for kind in ("conv", "dw"):
        for btype, shifts in (("int64", SHIFTS64), ("int32", SHIFTS32)):
            if kind == "dw" and btype == "int32":
                continue  # the lowering rejects it (TFLM reads a 16x8 depthwise bias as int64)
            for shift in shifts:
                cid = "%s16-%s-shift%d" % (kind, btype, shift)
                model, sets = scaled16_model(case_rng16(cid), kind, shift, btype)
                cases["vc%d" % k] = (cid, model, sets)
                k += 1
    if SEANET.exists():
        for rel in seanet_models():
            if rel.startswith("conv/"):
                data, ins, golden = seanet_inputs(rel)
                cases["vc%d" % k] = ("seanet/" + rel, data, [ins])
                k += 1
    baked = {}
    for name, (cid, model, sets) in cases.items():
        bake_model(model, outdir, name=name)
        baked[name] = (cid, sets, [run_tflm(model, s) for s in sets])
    return str(outdir), baked


@pytest.mark.parametrize("mpy_tier", ["viper", "viper32"], indirect=True)
def test_int16_micropython(conv16_baked, mpy_tier):
    """Every generated 16x8 conv/depthwise case (int64 and int32 accumulators, biases beyond
    int32) and the seanet conv models on the viper tier vs TFLM."""
    run_micropython_cases(mpy_tier, *conv16_baked, heapsize="4M", show=3)


def test_seanet_conv_present():
    """The seanet conv models are part of test_int16_micropython above when ../shared has them."""
    if not SEANET.exists():
        pytest.skip("../shared/tflm_integration/seanet is not present")
    assert any(r.startswith("conv/") for r in seanet_models())


@pytest.mark.parametrize("mpy_tier", ["natmod"], indirect=True)
def test_seanet_natmod(mpy_tier, tmp_path):
    """The seanet conv models on the x64 natmod (native tier) under MicroPython."""
    if not SEANET.exists():
        pytest.skip("../shared/tflm_integration/seanet is not present")
    baked = {}
    for k, rel in enumerate(r for r in seanet_models() if r.startswith("conv/")):
        data, ins, _ = seanet_inputs(rel)
        name = "sn%d" % k
        bake_model(SEANET / (rel + ".tflite"), tmp_path, name=name)
        baked[name] = (rel, [ins], [run_tflm(data, ins)])
    run_micropython_cases(mpy_tier, str(tmp_path), baked, heapsize="4M")
