"""int16 activations (16x8) for CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED, and
TRANSPOSE_CONV (int8, 16x8, float32): byte-identical with TFLM (float32 within rtol 1e-5).

Generated single-op models (parameters fixed by one seed and the case id) run on every CPython
kernel tier and on the TFLM interpreter, the oracle; the seanet single-op models run on their CSV
inputs; a few models also run under the MicroPython unix port (pure tier). Nothing here hard-codes
an expected output.
"""
from __future__ import annotations

import itertools
import os
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import upyflow
from harness import NP, SHARED, assert_bit_exact, bake_model, load_cpython, run_tflm
from tflite_writer import ModelWriter
from upyflow_tools import BakeError
from upyflow_tools.unixport import micropython_exe, run_batch

SEED = 0xC016
ACTS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")
CPYTHON_TIERS = [t for t in ("pure", "native") if upyflow.dispatch.available(t)]
SEANET = SHARED / "tflm_integration" / "seanet"
INT32_BIAS = 2   # schema TensorType.INT32, for quantized_bias_type


@pytest.fixture(params=CPYTHON_TIERS)
def tier(request, monkeypatch):
    """A case once per CPython kernel tier (models load with UPYFLOW_TIER)."""
    monkeypatch.setenv("UPYFLOW_TIER", request.param)
    return request.param


def case_rng(case_id: str) -> np.random.Generator:
    return np.random.default_rng([SEED, zlib.crc32(case_id.encode())])


# --- model pieces ------------------------------------------------------------------------
def inputs_for(rng, dtype: str, shape, zp: int = 0, n_random: int = 2) -> list[np.ndarray]:
    """Random inputs, then the extremes (all minimum, all maximum, all zero point)."""
    if dtype == "f32":
        return [rng.uniform(-2, 2, size=shape).astype(np.float32) for _ in range(n_random)] + \
               [np.zeros(shape, np.float32)]
    info = np.iinfo(NP[dtype])
    xs = [rng.integers(info.min, info.max + 1, size=shape, dtype=NP[dtype]) for _ in range(n_random)]
    return xs + [np.full(shape, v, NP[dtype]) for v in (info.min, info.max, zp)]


def weights(w: ModelWriter, rng, shape, axis: int, per_channel: bool):
    """Symmetric int8 weights, per-channel on `axis` or per-tensor; (index, scales per channel)."""
    wf = rng.normal(size=shape)
    n = shape[axis]
    red = tuple(i for i in range(len(shape)) if i != axis)
    if per_channel:
        scales = np.abs(wf).max(axis=red) / 127.0 * rng.uniform(0.5, 2.0, size=n)
    else:
        scales = np.full(n, np.abs(wf).max() / 127.0)
    bshape = [1] * len(shape)
    bshape[axis] = -1
    wq = np.clip(np.round(wf / scales.reshape(bshape)), -127, 127).astype(np.int8)
    listed = list(scales) if per_channel else [float(scales[0])]
    return w.tensor(shape, "int8", listed, 0, quantized_dimension=axis, data=wq), scales


def bias_tensor(w: ModelWriter, rng, btype: str | None, n: int, s_in: float = 0.0, w_scales=None,
                out_scale: float = 0.0, qmax: int = 32767, big: bool = False) -> int:
    """A bias of about +-1/4 of the output range (btype int16/int32/int64/float32), or -1."""
    if btype is None:
        return -1
    if btype == "float32":
        return w.tensor([n], "float32", data=rng.normal(size=n).astype(np.float32))
    real = rng.uniform(-0.25, 0.25, size=n) * qmax * out_scale
    bq = np.round(real / (s_in * w_scales))
    if big:   # beyond int32: the int64 word pairs' high words matter
        bq = bq + rng.choice([-1, 1], size=n) * rng.integers(1 << 33, 1 << 40, size=n)
    lim = {"int16": 32767, "int32": 2**31 - 1, "int64": 2**62}[btype]
    bq = np.clip(bq, -lim, lim)
    return w.tensor([n], btype, list(s_in * w_scales), 0, data=bq.astype(np.int64))


def scales16(rng, fan_in: int) -> tuple[float, float]:
    """(input, output) scales for int16: inputs in +-1, outputs ~ +-2.5 sigma of the sum."""
    s_in = float(rng.uniform(0.5, 2.0) / 32768)
    s_out = float(2.5 * 0.58 * max(1, fan_in) ** 0.5 / 32767 * rng.uniform(0.3, 2.0))
    return s_in, s_out


def scales8(rng, fan_in: int) -> tuple[float, float]:
    s_in = float(4.0 / (74.0 * max(1, fan_in) ** 0.5) * rng.uniform(0.5, 2.0))
    return s_in, float(rng.uniform(0.02, 0.08))


def check(model: bytes, tmp_path, input_sets: list[list[np.ndarray]], tier: str) -> None:
    mdir, name, _ = bake_model(model, tmp_path)
    module = load_cpython(mdir, name)
    assert module.tier == tier
    for k, ins in enumerate(input_sets):
        try:
            assert_bit_exact(model, module, ins)
        except AssertionError as e:
            raise AssertionError("input set %d differs from TFLM:\n%s" % (k, e)) from None


def out_size(padding: str, i: int, k: int, s: int, d: int = 1) -> int:
    return -(-i // s) if padding == "SAME" else (i - (k - 1) * d - 1) // s + 1


# --- CONV_2D / DEPTHWISE_CONV_2D, int16 -----------------------------------------------------
STRIDES = [(1, 1), (2, 2), (1, 2), (2, 1), (3, 2)]
KERNELS = [(1, 1), (3, 3), (3, 4), (5, 3)]
DILATIONS = [(1, 1), (2, 1), (1, 2), (2, 2)]
SIZES = [(7, 7), (5, 9), (8, 6), (6, 11), (4, 12)]


def conv16_model(rng, depthwise, size, in_c, oc_or_mult, kernel, stride, dil, padding, pc, btype, act,
                 big_bias=False, bias_type_opt=None):
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
    opts = dict(padding=padding, stride_h=s_h, stride_w=s_w, dilation_h_factor=d_h, dilation_w_factor=d_w,
                fused_activation_function=act)
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
            itertools.product(STRIDES, KERNELS, ("SAME", "VALID"), mults)):
        if depthwise and k % 2:   # a half of the depthwise product is plenty
            continue
        dil = DILATIONS[k % len(DILATIONS)] if kernel != (1, 1) else (1, 1)
        size = SIZES[k % len(SIZES)]
        eff = [(kk - 1) * d + 1 for kk, d in zip(kernel, dil)]
        size = (max(size[0], eff[0]), max(size[1], eff[1]))
        chans = (1 + k % 4, mult) if depthwise else (1 + k % 5, 1 + (k * 3) % 5)
        btype = btypes[k % len(btypes)]
        opt = INT32_BIAS if (btype is None and not depthwise and k % 3 == 0) else None
        cases.append((size, chans, kernel, stride, dil, padding, (k // 2) % 2 == 0, btype, ACTS[k % 4],
                      k % 11 == 5 and btype == "int64", opt))
    return cases


def _conv16_id(c):
    size, (ic, oc), kernel, stride, dil, pad, pc, btype, act, big, opt = c
    return "%dx%dx%d-x%d-k%dx%d-s%d,%d-d%d,%d-%s-%s-%s%s%s-%s" % (
        *size, ic, oc, *kernel, *stride, *dil, pad, "pc" if pc else "pt", btype or "nobias",
        "-big" if big else "", "-qbt32" if opt else "", act)


CONV16_CASES = _conv16_cases(False)
DW16_CASES = _conv16_cases(True)


@pytest.mark.parametrize("case", CONV16_CASES, ids=_conv16_id)
def test_conv2d_int16(case, tmp_path, tier):
    size, (ic, oc), kernel, stride, dil, pad, pc, btype, act, big, opt = case
    rng = case_rng("conv16" + _conv16_id(case))
    model, xshape = conv16_model(rng, False, size, ic, oc, kernel, stride, dil, pad, pc, btype, act, big, opt)
    check(model, tmp_path, [[x] for x in inputs_for(rng, "i16", xshape)], tier)


@pytest.mark.parametrize("case", DW16_CASES, ids=_conv16_id)
def test_depthwise_conv2d_int16(case, tmp_path, tier):
    size, (ic, mult), kernel, stride, dil, pad, pc, btype, act, big, opt = case
    rng = case_rng("dw16" + _conv16_id(case))
    model, xshape = conv16_model(rng, True, size, ic, mult, kernel, stride, dil, pad, pc, btype, act, big, opt)
    check(model, tmp_path, [[x] for x in inputs_for(rng, "i16", xshape)], tier)


# --- FULLY_CONNECTED, int16 ----------------------------------------------------------------
FC_SHAPES = [([1, 8], 5), ([3, 8], 4), ([2, 3, 5], 6), ([1, 16], 8), ([5, 1], 3), ([1, 2, 2, 4], 2),
             ([2, 300], 3), ([1, 40], 7)]
FC_ZPS = [(0, 0), (0, 0), (0, 0), (100, -50), (-7, 3)]


def fc16_model(rng, in_shape, n_out, pc, btype, act, zps, opt=None, big=False):
    w = ModelWriter()
    n_in = in_shape[-1]
    batches = int(np.prod(in_shape)) // n_in
    s_in, s_out = scales16(rng, n_in)
    x = w.tensor(in_shape, "int16", s_in, zps[0])
    wi, ws = weights(w, rng, [n_out, n_in], 0, pc)
    bi = bias_tensor(w, rng, btype, n_out, s_in, ws, s_out, big=big)
    y = w.tensor([batches, n_out], "int16", s_out, zps[1])
    opts = dict(fused_activation_function=act)
    if opt is not None:
        opts["quantized_bias_type"] = opt
    w.op("FULLY_CONNECTED", [x, wi, bi], [y], **opts)
    return w.build([x], [y])


FC16_CASES = []
for _k, ((_shape, _nout), _pc, _bt, _act) in enumerate(itertools.product(
        FC_SHAPES, (False, True), ("int64", "int32", None), ACTS)):
    if _k % 2:
        continue
    _opt = INT32_BIAS if _bt is None and _k % 4 == 0 else None
    FC16_CASES.append((_shape, _nout, _pc, _bt, _act, FC_ZPS[_k % len(FC_ZPS)], _opt, _k % 13 == 2 and _bt == "int64"))
# int32 accumulation overflowing (TFLM wraps): a long dot product of extreme values
FC16_CASES += [([1, 1024], 2, _pc, _bt, "NONE", (0, 0), _opt, False)
               for _pc in (False, True) for _bt, _opt in (("int32", None), (None, INT32_BIAS), ("int64", None))]


def _fc16_id(c):
    shape, n_out, pc, bt, act, zps, opt, big = c
    return "%s-o%d-%s-%s%s%s-%s-zp%d,%d" % ("x".join(map(str, shape)), n_out, "pc" if pc else "pt",
                                           bt or "nobias", "-qbt32" if opt else "", "-big" if big else "",
                                           act, *zps)


@pytest.mark.parametrize("case", FC16_CASES, ids=_fc16_id)
def test_fully_connected_int16(case, tmp_path, tier):
    shape, n_out, pc, bt, act, zps, opt, big = case
    rng = case_rng("fc16" + _fc16_id(case))
    model = fc16_model(rng, shape, n_out, pc, bt, act, zps, opt, big)
    xs = inputs_for(rng, "i16", shape, zps[0])
    if shape[-1] >= 1024:   # all-extreme products: sums far beyond int32
        wsign = np.full(shape, 32767, np.int16)
        xs += [wsign, -wsign]
    check(model, tmp_path, [[x] for x in xs], tier)


# --- TRANSPOSE_CONV -----------------------------------------------------------------------
T_STRIDES = [(1, 1), (2, 2), (1, 2), (2, 1), (3, 2), (3, 3)]
T_KERNELS = [(1, 1), (2, 2), (3, 3), (3, 4), (4, 4), (5, 3)]
T_SIZES = [(1, 5), (3, 3), (4, 2), (2, 6), (5, 4)]


def tconv_model(rng, dtype, size, in_c, out_c, kernel, stride, padding, pc, btype, act, extra=(0, 0),
                shape_input=False, zps=(0, 0)):
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
        wi = w.tensor([out_c, k_h, k_w, in_c], "float32",
                      data=rng.normal(size=[out_c, k_h, k_w, in_c]).astype(np.float32))
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
                zps = (zps[0], -abs(zps[1]))   # an output zp near the top would clamp everything
            cases.append((dt, size, chans, kernel, stride, padding, (k // 2) % 2 == 0, bt, act, extra,
                          k % 5 == 1, zps))
    return cases


def _tconv_id(c):
    dt, size, (ic, oc), kernel, stride, pad, pc, bt, act, extra, shape_in, zps = c
    return "%s-%dx%dx%d-o%d-k%dx%d-s%d,%d-%s-%s-%s-%s-e%d,%d%s-zp%d,%d" % (
        dt, *size, ic, oc, *kernel, *stride, pad, "pc" if pc else "pt", bt or "nobias", act, *extra,
        "-shapein" if shape_in else "", *zps)


TCONV_CASES = _tconv_cases()


def tconv_inputs(rng, dt, xshape, out_shape, shape_input, zp):
    xs = inputs_for(rng, dt, xshape, zp)
    shape = np.array(out_shape, np.int32)
    return [[shape, x] if shape_input else [x] for x in xs]


@pytest.mark.parametrize("case", TCONV_CASES, ids=_tconv_id)
def test_transpose_conv(case, tmp_path, tier):
    dt, size, (ic, oc), kernel, stride, pad, pc, bt, act, extra, shape_in, zps = case
    rng = case_rng("tconv" + _tconv_id(case))
    model, xshape, out_shape = tconv_model(rng, dt, size, ic, oc, kernel, stride, pad, pc, bt, act, extra,
                                           shape_in, zps)
    check(model, tmp_path, tconv_inputs(rng, dt, xshape, out_shape, shape_in, zps[0]), tier)


# --- what the lowerings reject ---------------------------------------------------------------
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


def test_transpose_conv_shape_operand_mismatch_rejected(tmp_path):
    w = ModelWriter()
    shp = w.tensor([4], "int32", data=np.array([1, 5, 5, 2], np.int32))
    x = w.tensor([1, 2, 2, 3], "float32")
    wi = w.tensor([2, 3, 3, 3], "float32", data=np.ones([2, 3, 3, 3], np.float32))
    y = w.tensor([1, 4, 4, 2], "float32")
    w.op("TRANSPOSE_CONV", [shp, wi, x], [y], stride_h=2, stride_w=2)
    assert "output_shape" in _bake_error(w.build([x], [y]), tmp_path)


# --- hypothesis: random geometry and quantization ----------------------------------------------
EXAMPLES = int(os.environ.get("UPYFLOW_HYPOTHESIS_EXAMPLES", "6"))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(kind=st.sampled_from(["conv", "dw", "tconv8", "tconv16", "tconvf"]),
       h=st.integers(1, 6), wd=st.integers(1, 6), ic=st.integers(1, 4), oc=st.integers(1, 4),
       kh=st.integers(1, 4), kw=st.integers(1, 4), sh=st.integers(1, 3), sw=st.integers(1, 3),
       padding=st.sampled_from(["SAME", "VALID"]), pc=st.booleans(), act=st.sampled_from(ACTS),
       seed=st.integers(0, 2**32 - 1))
def test_hypothesis_conv_family(tmp_path_factory, kind, h, wd, ic, oc, kh, kw, sh, sw, padding, pc, act, seed):
    rng = np.random.default_rng(seed)
    tmp = tmp_path_factory.mktemp("hyp")
    if kind in ("conv", "dw"):
        h, wd = max(h, kh), max(wd, kw)   # VALID needs the filter to fit
        model, xshape = conv16_model(rng, kind == "dw", (h, wd), ic, oc if kind == "conv" else 1 + oc % 3,
                                     (kh, kw), (sh, sw), (1, 1), padding, pc,
                                     "int64" if seed % 2 else None, act)
        sets = [[x] for x in inputs_for(rng, "i16", xshape)]
    else:
        dt = {"tconv8": "i8", "tconv16": "i16", "tconvf": "f32"}[kind]
        bt = T_BIAS[dt][seed % len(T_BIAS[dt])]
        model, xshape, out_shape = tconv_model(rng, dt, (h, wd), ic, oc, (kh, kw), (sh, sw), padding, pc, bt,
                                               act, (seed % sh, (seed // 3) % sw))
        sets = tconv_inputs(rng, dt, xshape, out_shape, False, 0)
    mdir, name, _ = bake_model(model, tmp)
    for tier in CPYTHON_TIERS:
        module = load_cpython(mdir, name, tier)
        for ins in sets:
            assert_bit_exact(model, module, ins)


# --- seanet single-op models (int16) on their CSV inputs ---------------------------------------
def seanet_models() -> list[str]:
    return sorted("%s/%s" % (p.parent.name, p.stem) for op in ("conv", "transpose_conv")
                  for p in (SEANET / op).glob("*.tflite")) if SEANET.exists() else []


def seanet_inputs(rel: str) -> tuple[bytes, list[np.ndarray], np.ndarray]:
    """(model bytes, inputs shaped for the graph, golden output) of a seanet model."""
    from upyflow_tools.readers.tflite import read_tflite
    path = SEANET / (rel + ".tflite")
    data = path.read_bytes()
    graph = read_tflite(data)
    ins = []
    for k, t in enumerate(graph.inputs):
        csv = sorted(path.parent.glob("%s_input%d_*.csv" % (path.stem, k)))[0]
        ins.append(np.loadtxt(csv, delimiter=",", dtype=np.int64).astype(NP[graph.tensors[t].dtype])
                   .reshape(graph.tensors[t].shape))
    golden = np.loadtxt(path.parent / (path.stem + "_golden_int16.csv"), delimiter=",", dtype=np.int64)
    return data, ins, golden


@pytest.mark.parametrize("rel", seanet_models() or ["missing"])
def test_seanet(rel, tmp_path, tier):
    if rel == "missing":
        pytest.skip("../shared/tflm_integration/seanet is not present")
    data, ins, golden = seanet_inputs(rel)
    want = run_tflm(data, ins)[0]
    mdir, name, _ = bake_model(SEANET / (rel + ".tflite"), tmp_path)
    module = load_cpython(mdir, name)
    assert module.tier == tier
    assert_bit_exact(data, module, ins)
    # the TFLM interpreter agrees with the goldens on these models
    np.testing.assert_array_equal(want.reshape(-1), golden.reshape(-1))


# --- MicroPython unix port, pure tier ------------------------------------------------------------
needs_micropython = pytest.mark.skipif(micropython_exe() is None, reason="MicroPython unix port not installed")


@needs_micropython
@pytest.mark.parametrize("rel", ["conv/conv15", "conv/conv11", "transpose_conv/transpose_conv0"])
def test_seanet_micropython_pure(rel, tmp_path):
    if not SEANET.exists():
        pytest.skip("../shared/tflm_integration/seanet is not present")
    data, ins, _ = seanet_inputs(rel)
    want = run_tflm(data, ins)[0]
    mdir, name, _ = bake_model(SEANET / (rel + ".tflite"), tmp_path, mpy=True)
    outs, _ = run_batch(mdir, name, [[np.ascontiguousarray(x).tobytes() for x in ins]], heapsize="2M",
                        env={"UPYFLOW_TIER": "pure"})
    got = np.frombuffer(outs[0][0], np.int16)
    np.testing.assert_array_equal(got, want.reshape(-1))


@needs_micropython
def test_generated_micropython_pure(tmp_path):
    """One model per kernel (int16 conv, depthwise, FC; int8/int16/float32 transpose conv)."""
    rng = case_rng("micropython")
    models = [
        (conv16_model(rng, False, (5, 6), 3, 4, (3, 3), (2, 1), (1, 1), "SAME", True, "int64", "RELU")[0], "i16"),
        (conv16_model(rng, False, (5, 6), 2, 3, (3, 2), (1, 1), (1, 1), "SAME", False, "int32", "NONE")[0], "i16"),
        (conv16_model(rng, True, (6, 5), 2, 2, (3, 3), (1, 2), (2, 1), "SAME", True, "int64", "NONE")[0], "i16"),
        (fc16_model(rng, [2, 9], 5, True, "int64", "NONE", (0, 0)), "i16"),
        (fc16_model(rng, [1, 12], 4, False, "int32", "RELU_N1_TO_1", (3, -2)), "i16"),
        (tconv_model(rng, "i8", (3, 4), 2, 3, (3, 3), (2, 2), "SAME", True, "int32", "NONE", zps=(-5, 9))[0], "i8"),
        (tconv_model(rng, "i16", (2, 5), 3, 2, (3, 4), (1, 2), "VALID", True, "int64", "NONE")[0], "i16"),
        (tconv_model(rng, "f32", (3, 3), 2, 2, (2, 2), (2, 2), "VALID", False, "float32", "RELU")[0], "f32"),
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


# --- viper tier: TRANSPOSE_CONV int8 under MicroPython ------------------------------------------
@needs_micropython
def test_transpose_conv_int8_viper(tmp_path):
    """Every int8 TRANSPOSE_CONV case on the viper tier (x64 unix port; MICROPYTHON32 too if set)."""
    from test_viper import assert_matches, run_viper, sizes_of, tflm_outputs
    jobs, want = [], {}
    for k, case in enumerate(c for c in TCONV_CASES if c[0] == "i8"):
        dt, size, (ic, oc), kernel, stride, pad, pc, bt, act, extra, shape_in, zps = case
        rng = case_rng("tconv" + _tconv_id(case))
        model, xshape, out_shape = tconv_model(rng, dt, size, ic, oc, kernel, stride, pad, pc, bt, act, extra,
                                               shape_in, zps)
        sets = tconv_inputs(rng, dt, xshape, out_shape, shape_in, zps[0])
        name = "tv%d" % k
        bake_model(model, tmp_path, name=name)
        jobs.append((name, sets))
        want[name] = (_tconv_id(case), tflm_outputs(model, sets))
    for exe in filter(None, (micropython_exe(), os.environ.get("MICROPYTHON32"))):
        got, _ = run_viper(exe, str(tmp_path), jobs, {n: sizes_of(w) for n, (_, w) in want.items()})
        for name, (cid, w) in want.items():
            assert_matches(w, got[name], cid)


def test_seanet_natmod(natmod_dir, tmp_path):
    """The seanet models on the x64 natmod (native tier) under MicroPython."""
    from test_viper import assert_matches, run_viper, sizes_of
    if not SEANET.exists():
        pytest.skip("../shared/tflm_integration/seanet is not present")
    jobs, want = [], {}
    for k, rel in enumerate(seanet_models()):
        data, ins, _ = seanet_inputs(rel)
        name = "sn%d" % k
        bake_model(SEANET / (rel + ".tflite"), tmp_path, name=name)
        jobs.append((name, [ins]))
        want[name] = (rel, [run_tflm(data, ins)])
    got, _ = run_viper(micropython_exe(), str(tmp_path), jobs, {n: sizes_of(w) for n, (_, w) in want.items()},
                       heapsize="4M", tier="native", extra_paths=(natmod_dir,))
    for name, (rel, w) in want.items():
        assert_matches(w, got[name], rel)
