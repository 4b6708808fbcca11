"""FULLY_CONNECTED (int8, float32, int16 activations with int8 weights): byte-identical with TFLM
(float32 within rtol 1e-5) on every kernel tier.

Generated single-op models run on the CPython tiers (`tier`) and on the TFLM interpreter, the
oracle; parameters derive from a fixed seed and the case id (one seed for the int8/float32
cases, one for the int16 ones); inputs are random ones plus the extremes (all minimum, all
maximum, all zero point). The int16 cases also run on MicroPython (`mpy_tier`: viper, pure).
Nothing here hard-codes an expected output.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from harness import ACTS, TT, bake_model, check, check_isa, make_inputs, run_micropython_cases, run_tflm, seeded_rng
from op_models import (
    INT32_BIAS,
    SHIFTS32,
    SHIFTS64,
    bake_batch,
    batch_rng,
    batch_scales,
    batch_weights,
    bias_tensor,
    fweights,
    in_scale_for,
    inputs_for,
    out_zp_for,
    qparams,
    qweights,
    scaled16_model,
    scales16,
    weights,
)
from tflite_writer import ModelWriter
from upyflow_tools.unixport import run_batch

SEED = 0x5EED  # the int8 and float32 cases
SEED16 = 0xC016  # the int16 cases


def case_rng(case_id: str) -> np.random.Generator:
    return seeded_rng(SEED, case_id)


def case_rng16(case_id: str) -> np.random.Generator:
    return seeded_rng(SEED16, case_id)


# --- int8 and float32 ------------------------------------------------------------------
FC_SHAPES = [  # (input shape, n_out, keep_num_dims)
    ([1, 8], 5, False),
    ([3, 8], 4, False),
    ([4, 6], 7, True),
    ([2, 3, 5], 3, True),
    ([2, 3, 5], 6, False),
    ([1, 1, 16], 8, True),
    ([5, 1], 3, False),
    ([1, 2, 2, 4], 2, False),
]
ZPS = [(0, 0), (-128, 127), (127, -128), (5, -7), (-40, 60), (-1, 1)]  # (input, output) zero points


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
    return "%s-%s-o%d%s-%s-%s-%s-zp%d,%d" % (
        dt,
        "x".join(map(str, shape)),
        n_out,
        "-keep" if keep else "",
        "pc" if pc else "pt",
        "bias" if b else "nobias",
        act,
        *zp,
    )


def fc_case(case):
    """(model bytes, input sets) of one case."""
    dt, shape, n_out, keep, pc, b, act, (in_zp, out_zp) = case
    rng = case_rng("fc" + _fc_id(case))
    model = fc_model(rng, dt, shape, n_out, keep, pc, b, act, in_zp, out_zp)
    return model, [[x] for x in make_inputs(rng, dt, shape, in_zp)]


@pytest.mark.parametrize("case", FC_CASES, ids=_fc_id)
def test_fully_connected(case, tier, tmp_path):
    model, sets = fc_case(case)
    check(model, tmp_path, sets)


@pytest.mark.parametrize("case", FC_CASES[::20], ids=_fc_id)
def test_fully_connected_isa(case, isa_arch):
    """Every 20th case on the boards' ISAs."""
    check_isa(*fc_case(case), isa_arch)


def test_fc_per_tensor_multiplier_uses_double_product(tier, tmp_path):
    """Per-tensor FULLY_CONNECTED whose multiplier differs between a float32 and a double
    product of input and filter scales: every int8 input must match TFLM."""
    w = ModelWriter()
    x = w.tensor([1, 1], "int8", 0.07971516251564026, 0)
    wt = w.tensor([1, 1], "int8", 0.018417963758111, 0, data=np.array([[65]], np.int8))
    y = w.tensor([1, 1], "int8", 0.06686840951442719, 0)
    w.op("FULLY_CONNECTED", [x, wt, -1], [y])
    check(w.build([x], [y]), tmp_path, [[np.array([[v]], np.int8)] for v in range(-128, 128)])


# --- int16 activations (16x8) -----------------------------------------------------------
FC16_SHAPES = [
    ([1, 8], 5),
    ([3, 8], 4),
    ([2, 3, 5], 6),
    ([1, 16], 8),
    ([5, 1], 3),
    ([1, 2, 2, 4], 2),
    ([2, 300], 3),
    ([1, 40], 7),
]
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
for _k, ((_shape, _nout), _pc, _bt, _act) in enumerate(
    itertools.product(FC16_SHAPES, (False, True), ("int64", "int32", None), ACTS)
):
    if _k % 2:
        continue
    _opt = INT32_BIAS if _bt is None and _k % 4 == 0 else None
    FC16_CASES.append((_shape, _nout, _pc, _bt, _act, FC_ZPS[_k % len(FC_ZPS)], _opt, _k % 13 == 2 and _bt == "int64"))
# int32 accumulation overflowing (TFLM wraps): a long dot product of extreme values
FC16_CASES += [
    ([1, 1024], 2, _pc, _bt, "NONE", (0, 0), _opt, False)
    for _pc in (False, True)
    for _bt, _opt in (("int32", None), (None, INT32_BIAS), ("int64", None))
]


def _fc16_id(c):
    shape, n_out, pc, bt, act, zps, opt, big = c
    return "%s-o%d-%s-%s%s%s-%s-zp%d,%d" % (
        "x".join(map(str, shape)),
        n_out,
        "pc" if pc else "pt",
        bt or "nobias",
        "-qbt32" if opt else "",
        "-big" if big else "",
        act,
        *zps,
    )


def fc16_case(case):
    """(model bytes, input sets) of one case."""
    shape, n_out, pc, bt, act, zps, opt, big = case
    rng = case_rng16("fc16" + _fc16_id(case))
    model = fc16_model(rng, shape, n_out, pc, bt, act, zps, opt, big)
    xs = inputs_for(rng, "i16", shape, zps[0])
    if shape[-1] >= 1024:  # all-extreme products: sums far beyond int32
        wsign = np.full(shape, 32767, np.int16)
        xs += [wsign, -wsign]
    return model, [[x] for x in xs]


@pytest.mark.parametrize("case", FC16_CASES, ids=_fc16_id)
def test_fully_connected_int16(case, tier, tmp_path):
    model, sets = fc16_case(case)
    check(model, tmp_path, sets)


@pytest.mark.parametrize("case", FC16_CASES[::24], ids=_fc16_id)
def test_fully_connected_int16_isa(case, isa_arch):
    """Every 24th case on the boards' ISAs."""
    check_isa(*fc16_case(case), isa_arch)


# --- MicroPython: int16 on pure and viper ------------------------------------------------------
# --- MicroPython: an int8 batch on viper (x64; 32-bit with MICROPYTHON32) and the natmod ------
def batch_fc_model(case_id, batches, n_in, n_out, pc, bias, act, zps, big=False):
    rng = batch_rng(case_id)
    s_in, s_out = batch_scales(rng, n_in, big)
    w = ModelWriter()
    x = w.tensor([batches, n_in], "int8", s_in, zps[0])
    wi, bi = batch_weights(w, rng, [n_out, n_in], 0, s_in, pc, bias)
    y = w.tensor([batches, n_out], "int8", s_out, out_zp_for(act, zps[1]))
    w.op("FULLY_CONNECTED", [x, wi, bi], [y], fused_activation_function=act)
    return w.build([x], [y]), [batches, n_in], zps[0], rng


def batch_fc_cases():
    """id -> (model bytes, input shape, input zero point, rng): batches, widths, activations,
    per-tensor/per-channel weights, requantization multipliers above 1."""
    cases = {}
    k = 0
    for batches, n_in, n_out in [
        (1, 8, 5),
        (3, 8, 4),
        (4, 6, 7),
        (2, 15, 3),
        (1, 1, 3),
        (5, 1, 2),
        (2, 64, 10),
        (1, 250, 4),
    ]:
        for act in ACTS:
            k += 1
            pc, bias, big = k % 2 == 0, k % 3 != 1, k % 7 == 0
            cid = "fc-b%d-i%d-o%d-%s-%s-%s-zp%d,%d%s" % (
                batches,
                n_in,
                n_out,
                "pc" if pc else "pt",
                "bias" if bias else "nobias",
                act,
                *ZPS[k % len(ZPS)],
                "-bigmult" if big else "",
            )
            cases[cid] = batch_fc_model(cid, batches, n_in, n_out, pc, bias, act, ZPS[k % len(ZPS)], big)
    return cases


@pytest.fixture(scope="module")
def int8_batch(tmp_path_factory):
    return bake_batch(batch_fc_cases(), tmp_path_factory.mktemp("fc_int8_batch"), "vf")


@pytest.mark.parametrize("mpy_tier", ["viper", "viper32", "natmod"], indirect=True)
def test_int8_micropython(int8_batch, mpy_tier):
    """FULLY_CONNECTED int8 models on viper and the natmod: byte-identical with TFLM."""
    run_micropython_cases(mpy_tier, *int8_batch)


@pytest.mark.parametrize("mpy_tier", ["pure"], indirect=True)
def test_int16_micropython_pure(mpy_tier, tmp_path):
    """int16 FULLY_CONNECTED with an int64 and an int32 bias on the pure tier."""
    rng = case_rng16("micropython-fc")
    models = [
        fc16_model(rng, [2, 9], 5, True, "int64", "NONE", (0, 0)),
        fc16_model(rng, [1, 12], 4, False, "int32", "RELU_N1_TO_1", (3, -2)),
    ]
    for k, model in enumerate(models):
        xshape = [2, 9] if k == 0 else [1, 12]
        xs = inputs_for(rng, "i16", xshape, (0, 3)[k], n_random=1)
        mdir, name, _ = bake_model(model, tmp_path / str(k), mpy=True)
        outs, _ = run_batch(mdir, name, [[x.tobytes()] for x in xs], heapsize="2M", env={"UPYFLOW_TIER": "pure"})
        for x, out in zip(xs, outs):
            want = run_tflm(model, [x])[0].reshape(-1)
            np.testing.assert_array_equal(np.frombuffer(out[0], want.dtype), want)


@pytest.fixture(scope="module")
def fc16_baked(tmp_path_factory):
    """The generated int16 FULLY_CONNECTED cases above, and the same with multipliers of about
    2^shift."""
    outdir = tmp_path_factory.mktemp("viper_fc16")
    cases = {}
    k = 0
    for case in FC16_CASES:
        shape, n_out, pc, bt, act, zps, opt, big = case
        cid = "fc16" + _fc16_id(case)
        rng = case_rng16(cid)
        model = fc16_model(rng, shape, n_out, pc, bt, act, zps, opt, big)
        xs = inputs_for(rng, "i16", shape, zps[0])
        if shape[-1] >= 1024:  # all-extreme products: sums far beyond int32
            xs += [np.full(shape, 32767, np.int16), np.full(shape, -32767, np.int16)]
        cases["vf%d" % k] = (cid, model, [[x] for x in xs])
        k += 1
    for btype, shifts in (("int64", SHIFTS64), ("int32", SHIFTS32)):
        for shift in shifts:
            cid = "fc16-%s-shift%d" % (btype, shift)
            model, sets = scaled16_model(case_rng16(cid), "fc", shift, btype)
            cases["vf%d" % k] = (cid, model, sets)
            k += 1
    baked = {}
    for name, (cid, model, sets) in cases.items():
        bake_model(model, outdir, name=name)
        baked[name] = (cid, sets, [run_tflm(model, s) for s in sets])
    return str(outdir), baked


@pytest.mark.parametrize("mpy_tier", ["viper", "viper32"], indirect=True)
def test_int16_micropython(fc16_baked, mpy_tier):
    """Every generated 16x8 FC case (int64 and int32 accumulators, biases and sums beyond int32)
    on the viper tier vs TFLM."""
    run_micropython_cases(mpy_tier, *fc16_baked, heapsize="4M", show=3)


# --- BATCH_MATMUL ------------------------------------------------------------------------
BMM_SHAPES = [  # (lhs shape, rhs shape, adj_x, adj_y, rhs constant)
    ([2, 3], [3, 4], False, False, False),
    ([1, 4, 5], [1, 5, 3], False, False, False),
    ([2, 3, 4], [2, 3, 5], True, False, False),
    ([3, 4], [5, 4], False, True, False),
    ([2, 1, 3, 4], [1, 3, 4, 2], False, False, False),
    ([2, 2, 3], [3, 6], False, False, True),
    ([1, 2, 5, 3], [2, 1, 4, 5], True, True, False),
    ([4, 8], [8, 1], False, False, True),
]
BMM_CASES = [(*s, dt) for s in BMM_SHAPES for dt in ("i8", "i16", "f32")]


def _bmm_id(c):
    ls, rs, ax, ay, const, dt = c
    return "%s-%sx%s%s%s%s" % (
        dt,
        "x".join(map(str, ls)),
        "x".join(map(str, rs)),
        "-adjx" if ax else "",
        "-adjy" if ay else "",
        "-const" if const else "",
    )


def bmm_case(case):
    """(model bytes, input sets): lhs @ rhs with TFLite's broadcasting; scales that keep the
    output mostly unsaturated."""
    ls, rs, ax, ay, const, dt = case
    rng = case_rng("bmm" + _bmm_id(case))
    k = ls[-2] if ax else ls[-1]
    w = ModelWriter()
    ql, qr = qparams(rng, dt), qparams(rng, dt)
    spread = {"i8": 400.0, "i16": 4e4}.get(dt, 1.0) * np.sqrt(k)
    qo = (None, None) if dt == "f32" else (ql[0] * qr[0] * spread * float(rng.uniform(0.5, 1.5)), qparams(rng, dt)[1])
    lhs = w.tensor(ls, TT[dt], *ql)
    rank = max(len(ls), len(rs))
    lb, rb = [1] * (rank - len(ls)) + ls[:-2], [1] * (rank - len(rs)) + rs[:-2]
    out_shape = [max(a, b) for a, b in zip(lb, rb)] + [ls[-1] if ax else ls[-2], rs[-2] if ay else rs[-1]]
    if const:
        data = make_inputs(rng, dt, rs, qr[1] or 0, n_random=1)[0]
        rhs = w.tensor(rs, TT[dt], *qr, data=data)
    else:
        rhs = w.tensor(rs, TT[dt], *qr)
    y = w.tensor(out_shape, TT[dt], *qo)
    w.op("BATCH_MATMUL", [lhs, rhs], [y], adj_x=ax, adj_y=ay)
    ins = [lhs] if const else [lhs, rhs]
    per = [make_inputs(rng, dt, ls, ql[1] or 0)] + ([] if const else [make_inputs(rng, dt, rs, qr[1] or 0)])
    return w.build(ins, [y]), [list(s) for s in zip(*per)]


@pytest.mark.parametrize("case", BMM_CASES, ids=_bmm_id)
def test_batch_matmul(case, tier, tmp_path):
    model, sets = bmm_case(case)
    check(model, tmp_path, sets)


@pytest.mark.parametrize("case", BMM_CASES[::3], ids=_bmm_id)
def test_batch_matmul_isa(case, isa_arch):
    check_isa(*bmm_case(case), isa_arch)


@pytest.mark.parametrize("mpy_tier", ["pure", "natmod"], indirect=True)
def test_batch_matmul_micropython(mpy_tier, tmp_path):
    """The int8/int16 BATCH_MATMUL cases under MicroPython (pure kernels and the natmod), byte-exact."""
    baked = {}
    for k, case in enumerate(c for c in BMM_CASES if c[-1] != "f32"):
        model, sets = bmm_case(case)
        name = "bmm%d" % k
        bake_model(model, tmp_path, name=name, mpy=True)
        baked[name] = (_bmm_id(case), sets[:2], [run_tflm(model, s) for s in sets[:2]])
    run_micropython_cases(mpy_tier, str(tmp_path), baked)
