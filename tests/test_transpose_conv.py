"""TRANSPOSE_CONV (int8, int16 activations with int8 weights, float32): byte-identical with
TFLM (float32 within rtol 1e-5) on every kernel tier.

Generated single-op models (parameters fixed by one seed and the case id) run on the CPython
tiers (`tier`) and on the TFLM interpreter, the oracle; the output_shape operand is a constant
or a graph input (as seanet has it). The seanet single-op models run on their CSV inputs; the
int8 cases also run on viper (`mpy_tier`). Nothing here hard-codes an expected output.
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
    run_micropython_cases,
    run_tflm,
    seeded_rng,
    tflm_outputs,
)
from op_models import SEANET, bias_tensor, inputs_for, scales8, scales16, seanet_inputs, seanet_models, weights
from tflite_writer import ModelWriter
from upyflow_tools import BakeError
from upyflow_tools.unixport import run_batch

SEED = 0xC016
EXAMPLES = int(os.environ.get("UPYFLOW_HYPOTHESIS_EXAMPLES", "6"))


def case_rng(case_id: str) -> np.random.Generator:
    return seeded_rng(SEED, case_id)


# --- generated cases ----------------------------------------------------------------------
T_STRIDES = [(1, 1), (2, 2), (1, 2), (2, 1), (3, 2), (3, 3)]
T_KERNELS = [(1, 1), (2, 2), (3, 3), (3, 4), (4, 4), (5, 3)]
T_SIZES = [(1, 5), (3, 3), (4, 2), (2, 6), (5, 4)]


def tconv_model(
    rng, dtype, size, in_c, out_c, kernel, stride, padding, pc, btype, act, extra=(0, 0), shape_input=False, zps=(0, 0)
):
    """TRANSPOSE_CONV; output size as TF computes it plus `extra` rows/columns (< stride);
    the output_shape operand a constant or (shape_input) a graph input, as seanet has it."""
    w = ModelWriter()
    (in_h, in_w), (k_h, k_w), (s_h, s_w) = size, kernel, stride

    def osize(i, k, s, e):
        return (i * s if padding == "SAME" else (i - 1) * s + k) + e

    out_shape = [1, osize(in_h, k_h, s_h, extra[0]), osize(in_w, k_w, s_w, extra[1]), out_c]
    xshape = [1, in_h, in_w, in_c]
    fan_in = max(1, (k_h * k_w * in_c) // (s_h * s_w))
    if shape_input:
        shp = w.tensor([4], "int32")
    else:
        shp = w.tensor([4], "int32", data=np.array(out_shape, np.int32))
    if dtype == "f32":
        x = w.tensor(xshape, "float32")
        wi = w.tensor(
            [out_c, k_h, k_w, in_c], "float32", data=rng.normal(size=[out_c, k_h, k_w, in_c]).astype(np.float32)
        )
        bi = bias_tensor(w, rng, "float32" if btype else None, out_c)
        y = w.tensor(out_shape, "float32")
    else:
        tname = {"i8": "int8", "i16": "int16"}[dtype]
        s_in, s_out = (scales8 if dtype == "i8" else scales16)(rng, fan_in)
        x = w.tensor(xshape, tname, s_in, zps[0])
        wi, ws = weights(w, rng, [out_c, k_h, k_w, in_c], 0, pc)
        bi = bias_tensor(w, rng, btype, out_c, s_in, ws, s_out, 127 if dtype == "i8" else 32767)
        y = w.tensor(out_shape, tname, s_out, zps[1])
    ins = [shp, wi, x] + ([bi] if bi >= 0 else [])
    w.op("TRANSPOSE_CONV", ins, [y], padding=padding, stride_h=s_h, stride_w=s_w, fused_activation_function=act)
    graph_in = [shp, x] if shape_input else [x]
    return w.build(graph_in, [y]), xshape, out_shape


T_BIAS = {"i8": ("int32", None), "i16": ("int64", "int16", None), "f32": ("float32", None)}
T_ZPS = [(0, 0), (-128, 127), (5, -7), (-40, 60), (127, -128)]


def _tconv_cases():
    cases = []
    for k, (stride, kernel, padding) in enumerate(itertools.product(T_STRIDES, T_KERNELS, ("SAME", "VALID"))):
        size = T_SIZES[k % len(T_SIZES)]
        chans = (1 + k % 4, 1 + (k * 5) % 4)
        extra = (k % stride[0], (k // 2) % stride[1]) if k % 3 == 0 else (0, 0)
        act = ACTS[k % 4]
        for dt in ("i8", "i16", "f32") if k % 2 == 0 else ("i8", "i16"):
            bt = T_BIAS[dt][k % len(T_BIAS[dt])]
            zps = T_ZPS[k % len(T_ZPS)] if dt == "i8" else (0, 0)
            if dt == "i8" and act in ("RELU", "RELU6"):
                zps = (zps[0], -abs(zps[1]))  # an output zp near the top would clamp everything
            cases.append((dt, size, chans, kernel, stride, padding, (k // 2) % 2 == 0, bt, act, extra, k % 5 == 1, zps))
    return cases


def _tconv_id(c):
    dt, size, (ic, oc), kernel, stride, pad, pc, bt, act, extra, shape_in, zps = c
    return "%s-%dx%dx%d-o%d-k%dx%d-s%d,%d-%s-%s-%s-%s-e%d,%d%s-zp%d,%d" % (
        dt,
        *size,
        ic,
        oc,
        *kernel,
        *stride,
        pad,
        "pc" if pc else "pt",
        bt or "nobias",
        act,
        *extra,
        "-shapein" if shape_in else "",
        *zps,
    )


TCONV_CASES = _tconv_cases()


def tconv_inputs(rng, dt, xshape, out_shape, shape_input, zp):
    xs = inputs_for(rng, dt, xshape, zp)
    shape = np.array(out_shape, np.int32)
    return [[shape, x] if shape_input else [x] for x in xs]


def tconv_case(case):
    """(model bytes, input sets) of one case."""
    dt, size, (ic, oc), kernel, stride, pad, pc, bt, act, extra, shape_in, zps = case
    rng = case_rng("tconv" + _tconv_id(case))
    model, xshape, out_shape = tconv_model(
        rng, dt, size, ic, oc, kernel, stride, pad, pc, bt, act, extra, shape_in, zps
    )
    return model, tconv_inputs(rng, dt, xshape, out_shape, shape_in, zps[0])


@pytest.mark.parametrize("case", TCONV_CASES, ids=_tconv_id)
def test_transpose_conv(case, tier, tmp_path):
    model, sets = tconv_case(case)
    check(model, tmp_path, sets)


@pytest.mark.parametrize("case", TCONV_CASES[::36], ids=_tconv_id)
def test_transpose_conv_isa(case, isa_arch):
    """Every 36th case on the boards' ISAs."""
    check_isa(*tconv_case(case), isa_arch)


# --- what the lowering rejects ---------------------------------------------------------------
def test_transpose_conv_shape_operand_mismatch_rejected(tmp_path):
    w = ModelWriter()
    shp = w.tensor([4], "int32", data=np.array([1, 5, 5, 2], np.int32))
    x = w.tensor([1, 2, 2, 3], "float32")
    wi = w.tensor([2, 3, 3, 3], "float32", data=np.ones([2, 3, 3, 3], np.float32))
    y = w.tensor([1, 4, 4, 2], "float32")
    w.op("TRANSPOSE_CONV", [shp, wi, x], [y], stride_h=2, stride_w=2)
    with pytest.raises(BakeError, match="output_shape"):
        bake_model(w.build([x], [y]), tmp_path)


# --- property test: random geometry and quantization ------------------------------------------
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    kind=st.sampled_from(["tconv8", "tconv16", "tconvf"]),
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
def test_property(tmp_path_factory, kind, h, wd, ic, oc, kh, kw, sh, sw, padding, pc, act, seed):
    rng = np.random.default_rng(seed)
    tmp = tmp_path_factory.mktemp("hyp")
    dt = {"tconv8": "i8", "tconv16": "i16", "tconvf": "f32"}[kind]
    bt = T_BIAS[dt][seed % len(T_BIAS[dt])]
    model, xshape, out_shape = tconv_model(
        rng, dt, (h, wd), ic, oc, (kh, kw), (sh, sw), padding, pc, bt, act, (seed % sh, (seed // 3) % sw)
    )
    sets = tconv_inputs(rng, dt, xshape, out_shape, False, 0)
    mdir, name, _ = bake_model(model, tmp)
    for tier in CPYTHON_TIERS:
        if not upyflow.dispatch.available(tier):
            continue
        module = load_cpython(mdir, name, tier)
        for ins in sets:
            assert_bit_exact(model, module, ins)


# --- seanet single-op models (int16) on their CSV inputs ------------------------------------
@pytest.mark.parametrize("rel", [r for r in seanet_models() if r.startswith("transpose_conv/")] or ["missing"])
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
@pytest.mark.parametrize("mpy_tier", ["pure"], indirect=True)
@pytest.mark.parametrize("rel", ["transpose_conv/transpose_conv0"])
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
def test_micropython_pure(mpy_tier, tmp_path):
    """One model per kernel: int8, int16 and float32 TRANSPOSE_CONV."""
    rng = case_rng("micropython")
    models = [
        (tconv_model(rng, "i8", (3, 4), 2, 3, (3, 3), (2, 2), "SAME", True, "int32", "NONE", zps=(-5, 9)), "i8", -5),
        (tconv_model(rng, "i16", (2, 5), 3, 2, (3, 4), (1, 2), "VALID", True, "int64", "NONE"), "i16", 0),
        (tconv_model(rng, "f32", (3, 3), 2, 2, (2, 2), (2, 2), "VALID", False, "float32", "RELU"), "f32", 0),
    ]
    for k, ((model, xshape, _), dt, zp) in enumerate(models):
        xs = inputs_for(rng, dt, xshape, zp, n_random=1)
        mdir, name, _ = bake_model(model, tmp_path / str(k), mpy=True)
        outs, _ = run_batch(mdir, name, [[x.tobytes()] for x in xs], heapsize="2M", env={"UPYFLOW_TIER": "pure"})
        for x, out in zip(xs, outs):
            want = run_tflm(model, [x])[0].reshape(-1)
            got = np.frombuffer(out[0], want.dtype)
            if dt == "f32":
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
            else:
                np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("mpy_tier", ["viper", "viper32"], indirect=True)
def test_int8_micropython(mpy_tier, tmp_path):
    """Every int8 TRANSPOSE_CONV case on the viper tier."""
    baked = {}
    for k, case in enumerate(c for c in TCONV_CASES if c[0] == "i8"):
        dt, size, (ic, oc), kernel, stride, pad, pc, bt, act, extra, shape_in, zps = case
        rng = case_rng("tconv" + _tconv_id(case))
        model, xshape, out_shape = tconv_model(
            rng, dt, size, ic, oc, kernel, stride, pad, pc, bt, act, extra, shape_in, zps
        )
        sets = tconv_inputs(rng, dt, xshape, out_shape, shape_in, zps[0])
        name = "tv%d" % k
        bake_model(model, tmp_path, name=name)
        baked[name] = (_tconv_id(case), sets, tflm_outputs(model, sets))
    run_micropython_cases(mpy_tier, str(tmp_path), baked)


@pytest.mark.parametrize("mpy_tier", ["natmod"], indirect=True)
def test_seanet_natmod(mpy_tier, tmp_path):
    """The seanet transpose conv models on the x64 natmod (native tier) under MicroPython."""
    if not SEANET.exists():
        pytest.skip("../shared/tflm_integration/seanet is not present")
    baked = {}
    for k, rel in enumerate(r for r in seanet_models() if r.startswith("transpose_conv/")):
        data, ins, _ = seanet_inputs(rel)
        name = "sn%d" % k
        bake_model(SEANET / (rel + ".tflite"), tmp_path, name=name)
        baked[name] = (rel, [ins], [run_tflm(data, ins)])
    run_micropython_cases(mpy_tier, str(tmp_path), baked, heapsize="4M")
