"""Generated operator tests: every supported operator and its parameters, byte-identical with TFLM.

Each case builds a small .tflite model with ModelWriter, bakes it, runs it on every kernel tier
CPython has (pure Python, and the native C extension when it is built) and on the TFLite Micro
interpreter (the oracle), and compares the outputs for several
inputs: random ones plus the extremes (all minimum, all maximum, all zero point). Nothing here
hard-codes an expected output. Case parameters are derived from one fixed seed, so every test id
always builds the same model.
"""
from __future__ import annotations

import itertools
import os
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import upyflow
from harness import NP, assert_bit_exact, bake_model, load_cpython
from tflite_writer import ModelWriter

SEED = 0x5EED
ACTS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")
TT = {"i8": "int8", "i16": "int16", "f32": "float32"}   # harness dtype -> ModelWriter dtype


CPYTHON_TIERS = [t for t in ("pure", "native") if upyflow.dispatch.available(t)]


@pytest.fixture(autouse=True, params=CPYTHON_TIERS)
def tier(request, monkeypatch):
    """Every case once per CPython kernel tier (models load with UPYFLOW_TIER)."""
    monkeypatch.setenv("UPYFLOW_TIER", request.param)
    return request.param


def case_rng(case_id: str) -> np.random.Generator:
    """A generator fixed by SEED and the case id (independent of test order and selection)."""
    return np.random.default_rng([SEED, zlib.crc32(case_id.encode())])


# --- inputs ------------------------------------------------------------------------------
def make_inputs(rng, dtype: str, shape, zp: int = 0, n_random: int = 3, f_range: float = 2.0,
                saturating: bool = False):
    """Several inputs for one tensor: random, then extremes.

    Float inputs stay within +-f_range for arithmetic ops: the runtime accumulates float32
    products in double while TFLM accumulates in float32, so large inputs whose sums cancel
    differ by more than the float tolerance without either being wrong. `saturating` adds an
    input far beyond +-f_range (for QUANTIZE, where saturation is the point)."""
    if dtype == "f32":
        xs = [rng.uniform(-f_range, f_range, size=shape).astype(np.float32) for _ in range(n_random)]
        if saturating:
            xs.append(rng.uniform(-50 * f_range, 50 * f_range, size=shape).astype(np.float32))
        xs.append(np.zeros(shape, np.float32))
        return xs
    info = np.iinfo(NP[dtype])
    xs = [rng.integers(info.min, info.max + 1, size=shape, dtype=NP[dtype]) for _ in range(n_random)]
    for v in (info.min, info.max, zp):
        xs.append(np.full(shape, v, NP[dtype]))
    return xs


def check(model: bytes, tmp_path, inputs: list[list[np.ndarray]]) -> None:
    """Bake once, then compare against TFLM for every input set."""
    mdir, name, _ = bake_model(model, tmp_path)
    module = load_cpython(mdir, name)
    for k, ins in enumerate(inputs):
        try:
            assert_bit_exact(model, module, ins)
        except AssertionError as e:
            raise AssertionError("input set %d differs from TFLM:\n%s" % (k, e)) from None


def single(model: bytes, tmp_path, xs: list[np.ndarray]) -> None:
    check(model, tmp_path, [[x] for x in xs])


# --- weights -----------------------------------------------------------------------------
def qweights(w: ModelWriter, rng, shape, axis: int, in_scale: float, per_channel: bool, bias: bool):
    """Symmetric int8 weights (per-channel on `axis` or per-tensor) and optional int32 bias.

    Real weights are ~N(0, 1); returns (weight idx, bias idx or -1)."""
    wf = rng.normal(size=shape)
    n = shape[axis]
    red = tuple(i for i in range(len(shape)) if i != axis)
    if per_channel:
        scales = np.abs(wf).max(axis=red) / 127.0
        # vary channel scales by more than the data does
        scales = scales * rng.uniform(0.5, 2.0, size=n)
    else:
        scales = np.array([np.abs(wf).max() / 127.0])
    bshape = [1] * len(shape)
    bshape[axis] = -1
    wq = np.clip(np.round(wf / (scales.reshape(bshape) if per_channel else scales[0])), -127, 127)
    wi = w.tensor(shape, "int8", list(scales), 0, quantized_dimension=axis, data=wq.astype(np.int8))
    if not bias:
        return wi, -1
    # bias ~ a few output units: large enough to matter after requantization
    fan_in = int(np.prod(shape)) // n
    bq = rng.integers(-1, 2, size=n) * rng.integers(0, 64 * 127 * max(1, int(fan_in ** 0.5)), size=n)
    bi = w.tensor([n], "int32", list(in_scale * scales), 0, quantized_dimension=0, data=bq)
    return wi, bi


def fweights(w: ModelWriter, rng, shape, n_bias: int, bias: bool):
    wi = w.tensor(shape, "float32", data=rng.normal(size=shape).astype(np.float32))
    bi = w.tensor([n_bias], "float32", data=rng.normal(size=n_bias).astype(np.float32)) if bias else -1
    return wi, bi


def out_zp_for(act: str, zp: int) -> int:
    """RELU and RELU6 clamp at real 0, which a positive zero point puts near the top of the
    int8 range (at 127: every output is 127); such cases test nothing, so mirror it."""
    return -abs(zp) if act in ("RELU", "RELU6") else zp


def in_scale_for(rng, fan_in: int) -> float:
    """Input scale that puts real outputs (with ~N(0,1) weights) around +-4, so every
    activation clamp (0, 6, +-1) falls inside the output range."""
    return float(4.0 / (74.0 * max(1, fan_in) ** 0.5) * rng.uniform(0.5, 2.0))


# --- FULLY_CONNECTED ---------------------------------------------------------------------
FC_SHAPES = [  # (input shape, n_out, keep_num_dims)
    ([1, 8], 5, False), ([3, 8], 4, False), ([4, 6], 7, True), ([2, 3, 5], 3, True),
    ([2, 3, 5], 6, False), ([1, 1, 16], 8, True), ([5, 1], 3, False), ([1, 2, 2, 4], 2, False),
]
ZPS = [(0, 0), (-128, 127), (127, -128), (5, -7), (-40, 60), (-1, 1)]


def fc_model(rng, dtype, in_shape, n_out, keep, per_channel, bias, act, in_zp=0, out_zp=0):
    w = ModelWriter()
    n_in = in_shape[-1]
    batches = int(np.prod(in_shape)) // n_in
    out_shape = list(in_shape[:-1]) + [n_out] if keep else [batches, n_out]
    if dtype == "f32":
        x = w.tensor(in_shape, "float32")
        wi, bi = fweights(w, rng, [n_out, n_in], n_out, bias)
        y = w.tensor(out_shape, "float32")
    else:
        s_in = in_scale_for(rng, n_in)
        x = w.tensor(in_shape, "int8", s_in, in_zp)
        wi, bi = qweights(w, rng, [n_out, n_in], 0, s_in, per_channel, bias)
        y = w.tensor(out_shape, "int8", float(rng.uniform(0.02, 0.08)), out_zp_for(act, out_zp))
    w.op("FULLY_CONNECTED", [x, wi, bi], [y], fused_activation_function=act, keep_num_dims=keep)
    return w.build([x], [y])


FC_CASES = []
for _i, (_shape, _nout, _keep) in enumerate(FC_SHAPES):
    for _act in ACTS:
        FC_CASES.append(("f32", _shape, _nout, _keep, False, _i % 2 == 0, _act, (0, 0)))
        for _pc, _b in itertools.product((False, True), (False, True)):
            _k = len(FC_CASES)
            FC_CASES.append(("i8", _shape, _nout, _keep, _pc, _b, _act, ZPS[_k % len(ZPS)]))


def _fc_id(c):
    dt, shape, n_out, keep, pc, b, act, zp = c
    return "%s-%s-o%d%s-%s-%s-%s-zp%d,%d" % (dt, "x".join(map(str, shape)), n_out, "-keep" if keep else "",
                                             "pc" if pc else "pt", "bias" if b else "nobias", act, *zp)


@pytest.mark.parametrize("case", FC_CASES, ids=_fc_id)
def test_fully_connected(case, tmp_path):
    dt, shape, n_out, keep, pc, b, act, (in_zp, out_zp) = case
    rng = case_rng("fc" + _fc_id(case))
    model = fc_model(rng, dt, shape, n_out, keep, pc, b, act, in_zp, out_zp)
    single(model, tmp_path, make_inputs(rng, dt, shape, in_zp))


# --- CONV_2D / DEPTHWISE_CONV_2D ---------------------------------------------------------
STRIDES = [(1, 1), (2, 2), (1, 2), (2, 1), (3, 2), (2, 3), (3, 3)]
KERNELS = [(1, 1), (3, 3), (5, 3)]
DILATIONS = [(1, 1), (2, 2), (1, 2), (2, 1)]
SIZES = [(7, 7), (8, 8), (9, 6), (6, 11), (12, 9), (10, 10), (11, 12)]


def conv_model(rng, dtype, depthwise, in_hw, in_c, out_c_or_mult, kernel, stride, dilation, padding,
               per_channel, bias, act, in_zp=0, out_zp=0):
    w = ModelWriter()
    (in_h, in_w), (k_h, k_w), (s_h, s_w), (d_h, d_w) = in_hw, kernel, stride, dilation

    def out_size(i, k, s, d):
        return -(-i // s) if padding == "SAME" else (i - (k - 1) * d - 1) // s + 1
    out_h, out_w = out_size(in_h, k_h, s_h, d_h), out_size(in_w, k_w, s_w, d_w)
    assert out_h > 0 and out_w > 0
    if depthwise:
        out_c = in_c * out_c_or_mult
        wshape, axis, fan_in = [1, k_h, k_w, out_c], 3, k_h * k_w
    else:
        out_c = out_c_or_mult
        wshape, axis, fan_in = [out_c, k_h, k_w, in_c], 0, k_h * k_w * in_c
    xshape, yshape = [1, in_h, in_w, in_c], [1, out_h, out_w, out_c]
    if dtype == "f32":
        x = w.tensor(xshape, "float32")
        wi, bi = fweights(w, rng, wshape, out_c, bias)
        y = w.tensor(yshape, "float32")
    else:
        s_in = in_scale_for(rng, fan_in)
        x = w.tensor(xshape, "int8", s_in, in_zp)
        wi, bi = qweights(w, rng, wshape, axis, s_in, per_channel, bias)
        y = w.tensor(yshape, "int8", float(rng.uniform(0.02, 0.08)), out_zp_for(act, out_zp))
    opts = dict(padding=padding, stride_h=s_h, stride_w=s_w, dilation_h_factor=d_h, dilation_w_factor=d_w,
                fused_activation_function=act)
    if depthwise:
        opts["depth_multiplier"] = out_c_or_mult
    # No bias: CONV_2D gets the optional-input marker -1; DEPTHWISE_CONV_2D gets two inputs,
    # because the TFLM interpreter crashes (segfault) on a -1 depthwise bias.
    ins = [x, wi] + ([bi] if bi >= 0 or not depthwise else [])
    w.op("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", ins, [y], **opts)
    return w.build([x], [y]), xshape


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
        dt, *size, ic, oc, *kernel, *stride, *dil, pad, "pc" if pc else "pt",
        "bias" if b else "nobias", act, *zp)


CONV_CASES = _conv_cases(False)
# every activation x per-channel x bias on one fixed geometry, too
CONV_CASES += [("i8", (6, 5), (3, 4), (3, 3), (2, 1), (1, 1), "SAME", pc, b, act, (-3, 9))
               for act in ACTS for pc in (False, True) for b in (False, True)]
DW_CASES = _conv_cases(True)
DW_CASES += [("i8", (7, 6), (3, 2), (3, 3), (1, 2), (2, 1), "SAME", pc, b, act, (11, -20))
             for act in ACTS for pc in (False, True) for b in (False, True)]


def _run_conv(case, depthwise, tmp_path):
    dt, size, (ic, oc), kernel, stride, dil, pad, pc, b, act, (in_zp, out_zp) = case
    rng = case_rng(("dw" if depthwise else "conv") + _conv_id(case))
    model, xshape = conv_model(rng, dt, depthwise, size, ic, oc, kernel, stride, dil, pad, pc, b, act,
                               in_zp, out_zp)
    single(model, tmp_path, make_inputs(rng, dt, xshape, in_zp, n_random=2))


@pytest.mark.parametrize("case", CONV_CASES, ids=_conv_id)
def test_conv2d(case, tmp_path):
    _run_conv(case, False, tmp_path)


@pytest.mark.parametrize("case", DW_CASES, ids=_conv_id)
def test_depthwise_conv2d(case, tmp_path):
    _run_conv(case, True, tmp_path)


# --- AVERAGE_POOL_2D / MAX_POOL_2D -------------------------------------------------------
POOL_FILTERS = [(1, 1), (2, 2), (3, 3), (2, 3), (3, 1), (4, 4)]
POOL_STRIDES = [(1, 1), (2, 2), (1, 2), (3, 2)]


def pool_model(rng, dtype, kind, in_hw, c, filt, stride, padding, act, zp):
    w = ModelWriter()
    (in_h, in_w), (f_h, f_w), (s_h, s_w) = in_hw, filt, stride

    def out_size(i, k, s):
        return -(-i // s) if padding == "SAME" else (i - k) // s + 1
    xshape = [1, in_h, in_w, c]
    yshape = [1, out_size(in_h, f_h, s_h), out_size(in_w, f_w, s_w), c]
    if dtype == "f32":
        x, y = w.tensor(xshape, "float32"), w.tensor(yshape, "float32")
    else:
        # TFLM's int8 pools need identical input and output quantization; scale so that
        # 6.0 and +-1.0 fall inside the int8 range for the fused activations
        s = float(rng.uniform(0.01, 0.05))
        x, y = w.tensor(xshape, "int8", s, zp), w.tensor(yshape, "int8", s, zp)
    w.op(kind + "_POOL_2D", [x], [y], padding=padding, stride_h=s_h, stride_w=s_w, filter_height=f_h,
         filter_width=f_w, fused_activation_function=act)
    return w.build([x], [y]), xshape


POOL_CASES = []
for _k, (_kind, _f, _s, _pad) in enumerate(itertools.product(("AVERAGE", "MAX"), POOL_FILTERS, POOL_STRIDES,
                                                             ("SAME", "VALID"))):
    _size = SIZES[_k % len(SIZES)]
    _act = ACTS[(_k // 2) % 4]
    _zp = (-128, -20, 0, 35, 127)[_k % 5]
    POOL_CASES.append(("i8", _kind, _size, 1 + _k % 4, _f, _s, _pad, _act, _zp))
    if _k % 3 == 0:
        POOL_CASES.append(("f32", _kind, _size, 1 + _k % 4, _f, _s, _pad, ACTS[_k % 4], 0))


def _pool_id(c):
    dt, kind, size, ch, f, s, pad, act, zp = c
    return "%s-%s-%dx%dx%d-f%dx%d-s%d,%d-%s-%s-zp%d" % (dt, kind, *size, ch, *f, *s, pad, act, zp)


@pytest.mark.parametrize("case", POOL_CASES, ids=_pool_id)
def test_pool2d(case, tmp_path):
    dt, kind, size, ch, f, s, pad, act, zp = case
    rng = case_rng("pool" + _pool_id(case))
    model, xshape = pool_model(rng, dt, kind, size, ch, f, s, pad, act, zp)
    xs = make_inputs(rng, dt, xshape, zp)
    if dt == "i8":  # sums landing exactly on .5 after division exercise the rounding
        xs.append(np.tile(np.array([1, 2, -1, -2, 3, -3], np.int8), int(np.prod(xshape)) // 6 + 1)
                  [:int(np.prod(xshape))].reshape(xshape))
    single(model, tmp_path, xs)


# --- SOFTMAX -----------------------------------------------------------------------------
def softmax_model(dtype, shape, beta, in_scale=0.1, in_zp=0):
    w = ModelWriter()
    if dtype == "f32":
        x, y = w.tensor(shape, "float32"), w.tensor(shape, "float32")
    else:
        x = w.tensor(shape, "int8", in_scale, in_zp)
        y = w.tensor(shape, "int8", 1 / 256, -128)
    w.op("SOFTMAX", [x], [y], beta=beta)
    return w.build([x], [y])


SOFTMAX_CASES = [("i8", shape, beta, sc, zp)
                 for shape in ([1, 10], [3, 10])
                 for beta in (1.0, 0.5, 2.0)
                 for sc, zp in ((0.01, 0), (0.03, -10), (0.0625, 5), (0.1, -128), (0.25, 127), (0.5, 3))]
SOFTMAX_CASES += [("i8", [2, d], 1.0, sc, -7) for d, sc in zip((1, 2, 3, 5, 7, 16, 31, 50),
                                                                (0.02, 0.5, 0.1, 0.3, 0.05, 0.15, 0.08, 0.2))]
SOFTMAX_CASES += [("i8", [1, 2, 2, 6], 1.0, 0.125, 0)]
SOFTMAX_CASES += [("f32", shape, beta, 0, 0) for shape in ([1, 10], [3, 10], [2, 1], [1, 50], [2, 2, 7])
                  for beta in (1.0, 0.5, 2.0)]


def _softmax_id(c):
    dt, shape, beta, sc, zp = c
    return "%s-%s-beta%g-s%g-zp%d" % (dt, "x".join(map(str, shape)), beta, sc, zp)


@pytest.mark.parametrize("case", SOFTMAX_CASES, ids=_softmax_id)
def test_softmax(case, tmp_path):
    dt, shape, beta, sc, zp = case
    rng = case_rng("softmax" + _softmax_id(case))
    xs = make_inputs(rng, dt, shape, zp, n_random=4, f_range=5.0)
    if dt == "i8":  # one large logit, the rest far below (exercises diff_min)
        x = np.full(shape, -128, np.int8)
        x[..., 0] = 127
        xs.append(x)
    single(softmax_model(dt, shape, beta, sc, zp), tmp_path, xs)


# --- QUANTIZE / DEQUANTIZE ---------------------------------------------------------------
QUANT_CASES = [  # (in dtype, in (scale, zp), out dtype, out (scale, zp))
    ("f32", None, "i8", (0.05, 0)), ("f32", None, "i8", (0.0078125, -128)), ("f32", None, "i8", (0.1, 17)),
    ("f32", None, "i8", (0.013, -99)), ("f32", None, "i8", (1.0, 127)),
    ("f32", None, "i16", (0.001, 0)), ("f32", None, "i16", (1 / 32768, 0)), ("f32", None, "i16", (0.01, 0)),
    ("i8", (0.05, 0), "i8", (0.05, 10)), ("i8", (0.05, 3), "i8", (0.1, -4)), ("i8", (0.1, -128), "i8", (0.03, 0)),
    ("i8", (0.02, 127), "i8", (0.5, -128)), ("i8", (0.037, -5), "i8", (0.011, 21)),
    ("i8", (0.1, 5), "i8", (0.1, 5)), ("i8", (0.004, 0), "i8", (0.3, 0)),
    ("i8", (0.05, -3), "i16", (0.001, 0)), ("i16", (0.001, 0), "i8", (0.05, 7)),
    ("i16", (0.0005, 0), "i16", (0.002, 0)),
]
DEQUANT_CASES = [("i8", (0.05, 0)), ("i8", (0.0078125, -128)), ("i8", (0.37, 127)), ("i8", (0.013, -9)),
                 ("i16", (0.001, 0)), ("i16", (1 / 32768, 0)), ("i16", (0.25, 0))]


def _q_id(c):
    ind, iq, outd, oq = c
    return "%s%s-to-%s-s%g-zp%d" % (ind, "" if iq is None else "-s%g-zp%d" % iq, outd, *oq)


@pytest.mark.parametrize("case", QUANT_CASES, ids=_q_id)
def test_quantize(case, tmp_path):
    ind, iq, outd, oq = case
    rng = case_rng("quantize" + _q_id(case))
    shape = [2, 3, 5]
    w = ModelWriter()
    x = w.tensor(shape, TT[ind], *(iq or (None, None)))
    y = w.tensor(shape, TT[outd], *oq)
    w.op("QUANTIZE", [x], [y])
    if ind == "f32":
        # real range a bit beyond the representable one, plus exact half-way points
        span = oq[0] * np.iinfo(NP[outd]).max * 1.2
        xs = make_inputs(rng, "f32", shape, f_range=span, saturating=True)
        halves = (rng.integers(-130, 130, size=shape) + 0.5) * oq[0]
        xs.append(halves.astype(np.float32))
    else:
        xs = make_inputs(rng, ind, shape, iq[1])
    single(w.build([x], [y]), tmp_path, xs)


@pytest.mark.parametrize("case", DEQUANT_CASES, ids=lambda c: "%s-s%g-zp%d" % (c[0], *c[1]))
def test_dequantize(case, tmp_path):
    ind, q = case
    rng = case_rng("dequantize%s%s" % case)
    shape = [3, 7]
    w = ModelWriter()
    x = w.tensor(shape, TT[ind], *q)
    y = w.tensor(shape, "float32")
    w.op("DEQUANTIZE", [x], [y])
    single(w.build([x], [y]), tmp_path, make_inputs(rng, ind, shape, q[1]))


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
    w.op("DEPTHWISE_CONV_2D", [c, dw, db], [d], padding="SAME", depth_multiplier=2,
         fused_activation_function="RELU6")
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
def test_graph(name, dt, tmp_path):
    rng = case_rng("graph" + name + dt)
    model, specs = GRAPHS[name][0](rng, dt)
    check(model, tmp_path, graph_inputs(rng, specs))


# --- arena size vs TFLM -----------------------------------------------------------------
ARENA_MODELS = {
    "float_pipeline": lambda rng: float_pipeline(rng)[0],
    "conv_reshape_fc": lambda rng: conv_reshape_fc(rng)[0],
    "fc_reshape_softmax": lambda rng: fc_reshape_softmax(rng)[0],
    "conv": lambda rng: conv_model(rng, "i8", False, (12, 12), 4, 8, (3, 3), (1, 1), (1, 1), "SAME",
                                   True, True, "RELU")[0],
    "depthwise": lambda rng: conv_model(rng, "i8", True, (10, 9), 3, 2, (5, 3), (2, 1), (1, 1), "VALID",
                                        True, True, "NONE")[0],
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


# --- property test -----------------------------------------------------------------------
HYPOTHESIS_EXAMPLES = int(os.environ.get("UPYFLOW_HYPOTHESIS_EXAMPLES", "10"))


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
    return dict(depthwise=depthwise, in_hw=(in_h, in_w), in_c=in_c, out_c_or_mult=out, kernel=(k_h, k_w),
                stride=stride, dilation=(d_h, d_w), padding=padding,
                per_channel=draw(st.booleans()), bias=draw(st.booleans()), act=draw(st.sampled_from(ACTS)),
                in_zp=draw(st.integers(-128, 127)), out_zp=draw(st.integers(-128, 127)))


@settings(max_examples=HYPOTHESIS_EXAMPLES, deadline=None)
@given(geom=conv_geometries(), seed=st.integers(0, 2 ** 32 - 1))
def test_conv_property(geom, seed, tmp_path_factory):
    rng = np.random.default_rng(seed)
    model, xshape = conv_model(rng, "i8", **geom)
    single(model, tmp_path_factory.mktemp("prop"), make_inputs(rng, "i8", xshape, geom["in_zp"], n_random=2))


@settings(max_examples=HYPOTHESIS_EXAMPLES, deadline=None)
@given(depth=st.integers(1, 40), rows=st.integers(1, 3), beta=st.floats(0.1, 4.0),
       in_scale=st.floats(0.002, 1.0), in_zp=st.integers(-128, 127), seed=st.integers(0, 2 ** 32 - 1))
def test_softmax_property(depth, rows, beta, in_scale, in_zp, seed, tmp_path_factory):
    rng = np.random.default_rng(seed)
    model = softmax_model("i8", [rows, depth], float(np.float32(beta)), in_scale, in_zp)
    single(model, tmp_path_factory.mktemp("prop"), make_inputs(rng, "i8", [rows, depth], in_zp, n_random=3))


def test_fc_per_tensor_multiplier_uses_double_product(tmp_path):
    """Per-tensor FULLY_CONNECTED whose multiplier differs between a float32 and a double
    product of input and filter scales: every int8 input must match TFLM."""
    w = ModelWriter()
    x = w.tensor([1, 1], "int8", 0.07971516251564026, 0)
    wt = w.tensor([1, 1], "int8", 0.018417963758111, 0, data=np.array([[65]], np.int8))
    y = w.tensor([1, 1], "int8", 0.06686840951442719, 0)
    w.op("FULLY_CONNECTED", [x, wt, -1], [y])
    check(w.build([x], [y]), tmp_path, [[np.array([[v]], np.int8)] for v in range(-128, 128)])
