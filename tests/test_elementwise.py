"""Generated tests of the element-wise and shape operators, byte-identical with TFLM.

ADD, SUB, MUL, MAXIMUM, MINIMUM (broadcasting, fused activations), CONCATENATION, MEAN,
PAD/PADV2, STRIDED_SLICE, TRANSPOSE, SQUEEZE, EXPAND_DIMS, RESHAPE, and small graphs with
branches, several inputs and outputs. Each case builds a .tflite with ModelWriter, bakes it,
runs it on every CPython kernel tier and on the TFLite Micro interpreter (the oracle) and
compares the outputs; parameters derive from one fixed seed. Nothing hard-codes an output.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import upyflow
from harness import NP, bake_model, load_cpython, run_tflm, run_upyflow, shared
from test_ops import ACTS, TT, case_rng, check, make_inputs
from tflite_writer import ModelWriter

CPYTHON_TIERS = [t for t in ("pure", "native") if upyflow.dispatch.available(t)]
HYPOTHESIS_EXAMPLES = int(os.environ.get("UPYFLOW_HYPOTHESIS_EXAMPLES", "10"))


@pytest.fixture(autouse=True, params=CPYTHON_TIERS)
def tier(request, monkeypatch):
    """Every case once per CPython kernel tier (models load with UPYFLOW_TIER)."""
    monkeypatch.setenv("UPYFLOW_TIER", request.param)
    return request.param


def shape_id(s) -> str:
    return "x".join(map(str, s)) or "scalar"


def qparams(rng, dt: str, zp: bool = True):
    """(scale, zero point) of an activation tensor; None for float32."""
    if dt == "f32":
        return None, None
    if dt == "i16":
        return float(rng.uniform(2e-5, 2e-4)), 0
    return float(rng.uniform(0.01, 0.08)), int(rng.integers(-100, 100)) if zp else 0


def graph_sets(rng, specs, n_random=3):
    """Input sets for several graph inputs: specs = [(dtype, shape, zp)]."""
    per = [make_inputs(rng, dt, shape, zp, n_random=n_random) for dt, shape, zp in specs]
    return [list(s) for s in zip(*per)]


# --- ADD / SUB / MUL / MAXIMUM / MINIMUM ---------------------------------------------------
BIN_SHAPES = [
    ([2, 3, 4], [2, 3, 4]), ([1, 4, 4, 3], [3]), ([1, 4, 4, 3], [1, 1, 1, 3]), ([2, 1, 5], [1, 3, 1]),
    ([4, 1], [4, 6]), ([5], [1]), ([1], [2, 3]), ([3, 1], []), ([1, 2, 3, 4, 5], [1, 2, 1, 4, 1]),
    ([1, 5, 1, 3], [2, 1, 4, 1]), ([7], [7]), ([2, 1, 3, 1, 2, 3], [1, 2, 1, 2, 1, 3]),
]
BIN_KINDS = ("ADD", "SUB", "MUL", "MAXIMUM", "MINIMUM")


def binary_model(rng, kind, dt, sa, sb, act, const_b=False, zp_mode=0):
    """One binary op; zp_mode 1 gives int16 non-zero zero points (ADD/SUB only), 2 a MUL
    output scale below the product's (a multiplier above 1: a positive shift)."""
    w = ModelWriter()
    so = list(np.broadcast_shapes(tuple(sa), tuple(sb)))
    qa, qb = qparams(rng, dt), qparams(rng, dt)
    if dt == "i16" and zp_mode == 1:
        qa, qb = (qa[0], int(rng.integers(-300, 300))), (qb[0], int(rng.integers(-300, 300)))
    if dt == "f32":
        qo = (None, None)
    elif kind == "MUL":
        top = np.iinfo(NP[dt]).max
        qo = (qa[0] * qb[0] * (float(rng.uniform(0.1, 0.6)) if zp_mode == 2 else top * float(rng.uniform(0.2, 1.2))),
              0 if dt == "i16" else int(rng.integers(-50, 50)))
    else:
        qo = ((qa[0] + qb[0]) * float(rng.uniform(0.6, 1.4)), qparams(rng, dt)[1])
    if act in ("RELU", "RELU6") and dt == "i8":
        qo = (qo[0], -abs(qo[1]))
    a = w.tensor(sa, TT[dt], *qa)
    if const_b:
        data = make_inputs(rng, dt, sb, qb[1] or 0, n_random=1)[0]
        b = w.tensor(sb, TT[dt], *qb, data=data)
    else:
        b = w.tensor(sb, TT[dt], *qb)
    y = w.tensor(so, TT[dt], *qo)
    opts = {} if kind in ("MAXIMUM", "MINIMUM") else dict(fused_activation_function=act)
    w.op(kind, [a, b], [y], **opts)
    ins = [a] if const_b else [a, b]
    specs = [(dt, sa, qa[1] or 0)] + ([] if const_b else [(dt, sb, qb[1] or 0)])
    return w.build(ins, [y]), specs


BIN_CASES = []
for _k, (_kind, _dt, (_sa, _sb)) in enumerate(
        (k, d, s) for k in BIN_KINDS for d in ("i8", "i16", "f32") for s in BIN_SHAPES):
    if _kind in ("MAXIMUM", "MINIMUM") and len(_sa) > 5:
        continue   # TFLM's maximum/minimum broadcast stops at 5-D
    BIN_CASES.append((_kind, _dt, _sa, _sb, ACTS[_k % 4], _k % 7 == 3, 1 if _k % 5 == 1 else 0))
# MUL with multipliers above 1 (the product needs fewer bits than the output scale gives)
BIN_CASES += [("MUL", d, sa, sb, "NONE", False, 2) for d in ("i8", "i16") for sa, sb in BIN_SHAPES[:4]]
# every activation on a fixed broadcast, each type
BIN_CASES += [(k, d, [2, 3, 4], [4], a, False, 0) for k in ("ADD", "SUB", "MUL")
              for d in ("i8", "i16", "f32") for a in ACTS]


def _bin_id(c):
    kind, dt, sa, sb, act, const_b, zp_mode = c
    return "%s-%s-%s-%s-%s%s%s" % (kind, dt, shape_id(sa), shape_id(sb), act, "-const" if const_b else "",
                                   "-zp" if zp_mode == 1 and dt == "i16" and kind in ("ADD", "SUB") else
                                   "-bigmult" if zp_mode == 2 else "")


@pytest.mark.parametrize("case", BIN_CASES, ids=_bin_id)
def test_binary(case, tmp_path):
    kind, dt, sa, sb, act, const_b, zp_mode = case
    rng = case_rng("binary" + _bin_id(case))
    model, specs = binary_model(rng, kind, dt, sa, sb, act, const_b,
                                zp_mode if kind in ("ADD", "SUB") or zp_mode == 2 else 0)
    check(model, tmp_path, graph_sets(rng, specs))


# --- CONCATENATION -------------------------------------------------------------------------
CONCAT_SHAPES = [  # (input shapes, axis)
    ([[2, 3], [2, 5]], 1), ([[1, 4, 4, 3], [1, 4, 4, 5], [1, 4, 4, 1]], 3), ([[1, 2, 4, 3], [1, 3, 4, 3]], 1),
    ([[2, 3, 4], [2, 3, 4]], 0), ([[2, 3, 4], [2, 3, 2]], -1), ([[3], [4], [5], [1]], 0),
    ([[1, 2, 2, 3, 2], [1, 2, 1, 3, 2]], 2), ([[1, 1, 6, 2], [1, 1, 6, 3]], -1),
]
CONCAT_CASES = [(shapes, axis, dt) for shapes, axis in CONCAT_SHAPES for dt in ("i8", "i16", "f32")]


def _concat_id(c):
    shapes, axis, dt = c
    return "%s-%s-axis%d" % (dt, "+".join(shape_id(s) for s in shapes), axis)


@pytest.mark.parametrize("case", CONCAT_CASES, ids=_concat_id)
def test_concatenation(case, tmp_path):
    shapes, axis, dt = case
    rng = case_rng("concat" + _concat_id(case))
    w = ModelWriter()
    q = qparams(rng, dt)
    ins = []
    for s in shapes:
        # int8 inputs share the output's quantization (TFLM requires it); int16 scales may differ
        ins.append(w.tensor(s, TT[dt], *(qparams(rng, dt) if dt == "i16" else q)))
    out_shape = list(shapes[0])
    out_shape[axis] = sum(s[axis] for s in shapes)
    y = w.tensor(out_shape, TT[dt], *q)
    w.op("CONCATENATION", ins, [y], axis=axis)
    check(w.build(ins, [y]), tmp_path, graph_sets(rng, [(dt, s, q[1] or 0) for s in shapes]))


# --- MEAN ----------------------------------------------------------------------------------
MEAN_SHAPES = [  # (shape, axes, keep_dims)
    ([1, 4, 5, 3], [1, 2], True), ([1, 4, 5, 3], [2, 1], False), ([2, 3, 4], [-1], False),
    ([2, 3, 4], [0, 2], True), ([3, 5], [0], False), ([1, 6, 6, 8], [1, 2], True), ([2, 3, 4, 5], [3, 1], False),
    ([4], [0], False), ([2, 3, 4, 2, 2], [1, 3], True), ([1, 7, 7, 16], [1, 2], False), ([2, 3, 4], [1, 1], True),
    ([1, 30, 40, 2], [1, 2], True), ([2, 3, 4], [0, 1, 2], False),
]
MEAN_CASES = [(s, a, k, dt) for s, a, k in MEAN_SHAPES for dt in ("i8", "i16", "f32")]


def _mean_id(c):
    s, a, k, dt = c
    return "%s-%s-axes%s%s" % (dt, shape_id(s), ",".join(map(str, a)), "-keep" if k else "")


@pytest.mark.parametrize("case", MEAN_CASES, ids=_mean_id)
def test_mean(case, tmp_path):
    shape, axes, keep, dt = case
    rng = case_rng("mean" + _mean_id(case))
    rank = len(shape)
    red = {a % rank for a in axes}
    out_shape = [1 if d in red else shape[d] for d in range(rank)] if keep else \
        [shape[d] for d in range(rank) if d not in red]
    w = ModelWriter()
    qx = qparams(rng, dt)
    # output scale a little below the input's: the mean of random values is narrower
    qy = (None, None) if dt == "f32" else (qx[0] * float(rng.uniform(0.1, 1.3)), qparams(rng, dt)[1])
    x = w.tensor(shape, TT[dt], *qx)
    ax = w.tensor([len(axes)], "int32", data=np.array(axes))
    y = w.tensor(out_shape, TT[dt], *qy)
    w.op("MEAN", [x, ax], [y], keep_dims=keep)
    check(w.build([x], [y]), tmp_path, [[v] for v in make_inputs(rng, dt, shape, qx[1] or 0)])


# --- PAD / PADV2 ---------------------------------------------------------------------------
PAD_SHAPES = [
    ([1, 4, 4, 3], [[0, 0], [1, 1], [2, 0], [0, 0]]), ([2, 3], [[1, 2], [0, 3]]), ([5], [[2, 3]]),
    ([1, 2, 3, 4, 2], [[0, 1], [1, 0], [0, 0], [2, 2], [1, 0]]), ([1, 2, 16, 8], [[0, 0], [0, 0], [3, 3], [0, 0]]),
    ([2, 2, 2], [[0, 0], [0, 0], [0, 0]]), ([3, 1, 2], [[2, 0], [0, 4], [1, 1]]),
]
PAD_CASES = [(kind, s, p, dt) for kind in ("PAD", "PADV2") for s, p in PAD_SHAPES for dt in ("i8", "i16", "f32")]


def _pad_id(c):
    kind, s, p, dt = c
    return "%s-%s-%s-%s" % (kind, dt, shape_id(s), "_".join("%d,%d" % tuple(x) for x in p))


@pytest.mark.parametrize("case", PAD_CASES, ids=_pad_id)
def test_pad(case, tmp_path):
    kind, shape, pads, dt = case
    rng = case_rng("pad" + _pad_id(case))
    w = ModelWriter()
    q = qparams(rng, dt)
    x = w.tensor(shape, TT[dt], *q)
    p = w.tensor([len(shape), 2], "int32", data=np.array(pads))
    y = w.tensor([s + a + b for s, (a, b) in zip(shape, pads)], TT[dt], *q)
    ins = [x, p]
    if kind == "PADV2":
        value = make_inputs(rng, dt, [1], q[1] or 0, n_random=1)[0]
        ins.append(w.tensor([1], TT[dt], *q, data=value))
    w.op(kind, ins, [y])
    check(w.build([x], [y]), tmp_path, [[v] for v in make_inputs(rng, dt, shape, q[1] or 0)])


# --- STRIDED_SLICE -------------------------------------------------------------------------
SLICE_SPECS = [  # (shape, begin, end, strides, begin_mask, end_mask, shrink_axis_mask)
    ([1, 8, 16, 2], [0, -6, 0, 0], [0, 0, 0, 2], [1, 1, 1, 1], 13, 15, 0),
    ([1, 4, 12, 8], [0, 0, 1, 0], [0, 0, -1, 0], [1, 1, 1, 1], 9, 11, 0),
    ([10], [1], [9], [2], 0, 0, 0), ([10], [-1], [0], [-1], 0, 0, 0), ([10], [8], [1], [-3], 0, 0, 0),
    ([4, 6], [1, 5], [3, 0], [1, -2], 0, 0, 0), ([4, 6], [2, 0], [3, 6], [1, 1], 0, 0, 1),
    ([3, 4, 5], [0, 1, 0], [3, 3, 5], [2, 1, 2], 0, 0, 2), ([3, 4, 5], [-2, 0, -1], [2, 4, 0], [1, 2, 1], 1, 6, 4),
    ([2, 3, 4, 5], [1, 2, 0, 4], [2, 0, 4, 0], [1, -1, 3, -2], 0, 4, 1),
    ([5, 6], [-100, 2], [100, -100], [1, -1], 0, 0, 0),
    ([5, 6], [0, 0], [0, 0], [1, 1], 3, 3, 0), ([3, 4], [1, 3], [2, 4], [1, 1], 0, 0, 3),
    ([2, 3, 4, 5], [0, 1, 0, 1], [2, 3, 4, 5], [1, 1, 2, 2], 0, 0, 0),
]
SLICE_CASES = [(spec, dt) for spec in SLICE_SPECS for dt in ("i8", "i16", "f32")]


def slice_shape(shape, begin, end, strides, bm, em, sm):
    """The output shape, from Python's own slicing of an index array (an independent derivation)."""
    idx = []
    for d, _n in enumerate(shape):
        if sm & (1 << d):
            idx.append(begin[d])
        else:
            idx.append(slice(None if bm & (1 << d) else begin[d], None if em & (1 << d) else end[d], strides[d]))
    return list(np.zeros(shape)[tuple(idx)].shape)


def _slice_id(c):
    (shape, b, e, s, bm, em, sm), dt = c
    return "%s-%s-b%s-e%s-s%s-m%d,%d,%d" % (dt, shape_id(shape), ",".join(map(str, b)), ",".join(map(str, e)),
                                            ",".join(map(str, s)), bm, em, sm)


@pytest.mark.parametrize("case", SLICE_CASES, ids=_slice_id)
def test_strided_slice(case, tmp_path):
    (shape, begin, end, strides, bm, em, sm), dt = case
    rng = case_rng("slice" + _slice_id(case))
    w = ModelWriter()
    q = qparams(rng, dt)
    x = w.tensor(shape, TT[dt], *q)
    consts = [w.tensor([len(shape)], "int32", data=np.array(v)) for v in (begin, end, strides)]
    y = w.tensor(slice_shape(shape, begin, end, strides, bm, em, sm), TT[dt], *q)
    w.op("STRIDED_SLICE", [x] + consts, [y], begin_mask=bm, end_mask=em, shrink_axis_mask=sm)
    check(w.build([x], [y]), tmp_path, [[v] for v in make_inputs(rng, dt, shape, q[1] or 0)])


# --- TRANSPOSE -----------------------------------------------------------------------------
TRANSPOSE_SPECS = [([3, 4], [1, 0]), ([2, 3, 4], [2, 0, 1]), ([2, 3, 4], [0, 2, 1]), ([1, 4, 5, 3], [0, 3, 1, 2]),
                   ([2, 3, 4, 5], [3, 2, 1, 0]), ([2, 3, 2, 3, 2], [4, 1, 3, 0, 2]), ([5], [0]), ([2, 3, 4], [0, 1, 2])]
TRANSPOSE_CASES = [(s, p, dt) for s, p in TRANSPOSE_SPECS for dt in ("i8", "i16", "f32")]


@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=lambda c: "%s-%s-perm%s" % (c[2], shape_id(c[0]),
                                                                                  ",".join(map(str, c[1]))))
def test_transpose(case, tmp_path):
    shape, perm, dt = case
    rng = case_rng("transpose%s%s%s" % case)
    w = ModelWriter()
    q = qparams(rng, dt)
    x = w.tensor(shape, TT[dt], *q)
    p = w.tensor([len(perm)], "int32", data=np.array(perm))
    y = w.tensor([shape[i] for i in perm], TT[dt], *q)
    w.op("TRANSPOSE", [x, p], [y])
    check(w.build([x], [y]), tmp_path, [[v] for v in make_inputs(rng, dt, shape, q[1] or 0)])


# --- SQUEEZE / EXPAND_DIMS / RESHAPE (kept as a copy, and aliased inside a chain) ----------
def layout_model(rng, kind, dt, chain):
    """kind applied to the graph input (a copy when it is the graph output), or, with `chain`,
    between two ADDs so that passes.alias_layout_ops removes it."""
    w = ModelWriter()
    q = qparams(rng, dt)
    shape = [1, 3, 1, 4]
    if kind == "SQUEEZE":
        out_shape, opts, extra = [3, 4], dict(squeeze_dims=[0, 2]), []
    elif kind == "SQUEEZE_ALL":
        out_shape, opts, extra = [3, 4], {}, []
    elif kind == "EXPAND_DIMS":
        out_shape, opts, extra = [1, 3, 1, 4, 1], {}, [w.tensor([1], "int32", data=np.array([-1]))]
    elif kind == "RESHAPE_TENSOR":
        out_shape, opts, extra = [4, 3], {}, [w.tensor([2], "int32", data=np.array([-1, 3]))]
    else:  # RESHAPE with the new_shape option only
        out_shape, opts, extra = [2, 6], dict(new_shape=[2, -1]), []
    op = "RESHAPE" if kind.startswith("RESHAPE") else ("SQUEEZE" if kind.startswith("SQUEEZE") else kind)
    x = w.tensor(shape, TT[dt], *q)
    if not chain:
        y = w.tensor(out_shape, TT[dt], *q)
        w.op(op, [x] + extra, [y], **opts)
        return w.build([x], [y]), shape, q
    h = w.tensor(shape, TT[dt], *q)
    r = w.tensor(out_shape, TT[dt], *q)
    y = w.tensor(out_shape, TT[dt], *q)
    w.op("ADD", [x, x], [h])
    w.op(op, [h] + extra, [r], **opts)
    w.op("ADD", [r, r], [y])
    return w.build([x], [y]), shape, q


LAYOUT_CASES = [(k, dt, chain) for k in ("SQUEEZE", "SQUEEZE_ALL", "EXPAND_DIMS", "RESHAPE_TENSOR", "RESHAPE_OPTION")
                for dt in ("i8", "i16", "f32") for chain in (False, True)]


@pytest.mark.parametrize("case", LAYOUT_CASES, ids=lambda c: "%s-%s%s" % (c[0], c[1], "-chain" if c[2] else ""))
def test_layout(case, tmp_path):
    kind, dt, chain = case
    rng = case_rng("layout%s%s%s" % case)
    model, shape, q = layout_model(rng, kind, dt, chain)
    check(model, tmp_path, [[v] for v in make_inputs(rng, dt, shape, q[1] or 0)])


def test_layout_ops_lower_to_a_copy():
    """SQUEEZE and EXPAND_DIMS kept in the graph (not aliased) lower to copy_bytes."""
    from upyflow_tools.lower import lower
    from upyflow_tools.readers.tflite import read_tflite

    for kind in ("SQUEEZE", "EXPAND_DIMS"):
        model, _, _ = layout_model(case_rng("lower" + kind), kind, "i8", False)
        calls = lower(read_tflite(model))
        assert [c.kernel for c in calls] == ["copy_bytes"]


# --- graphs: branches, several inputs and outputs, arena size -------------------------------
def residual_graph(rng, dt):
    """x -> PAD -> STRIDED_SLICE -> ADD(x, .) -> SUB(., x) (the seanet pattern, x lives across)."""
    w = ModelWriter()
    q = qparams(rng, dt)
    shape = [1, 4, 10, 8]
    x = w.tensor(shape, TT[dt], *q)
    pads = w.tensor([4, 2], "int32", data=np.array([[0, 0], [0, 0], [2, 2], [0, 0]]))
    p = w.tensor([1, 4, 14, 8], TT[dt], *q)
    cs = [w.tensor([4], "int32", data=np.array(v)) for v in ([0, 0, 1, 0], [1, 4, 11, 8], [1, 1, 1, 1])]
    s = w.tensor(shape, TT[dt], *q)
    qa = (None, None) if dt == "f32" else (q[0] * 2, q[1])
    a = w.tensor(shape, TT[dt], *qa)
    y = w.tensor(shape, TT[dt], *qa)
    w.op("PAD", [x, pads], [p])
    w.op("STRIDED_SLICE", [p] + cs, [s])
    w.op("ADD", [x, s], [a], fused_activation_function="RELU")
    w.op("SUB", [a, x], [y])
    return w.build([x], [y]), [(dt, shape, q[1] or 0)]


def branch_concat_graph(rng, dt):
    """x -> {MUL(x, c), MAXIMUM(x, x'), TRANSPOSE(TRANSPOSE(x))} -> CONCATENATION -> MEAN; the
    concatenation is a second output."""
    w = ModelWriter()
    q = qparams(rng, dt, zp=False) if dt == "i16" else qparams(rng, dt)
    shape = [1, 3, 4, 2]
    x = w.tensor(shape, TT[dt], *q)
    c = w.tensor([2], TT[dt], *q, data=make_inputs(rng, dt, [2], q[1] or 0, n_random=1)[0])
    m = w.tensor(shape, TT[dt], *q)
    x2 = w.tensor(shape, TT[dt], *q)
    mx = w.tensor(shape, TT[dt], *q)
    perm1 = w.tensor([4], "int32", data=np.array([0, 3, 1, 2]))
    perm2 = w.tensor([4], "int32", data=np.array([0, 2, 3, 1]))
    t1 = w.tensor([1, 2, 3, 4], TT[dt], *q)
    t2 = w.tensor(shape, TT[dt], *q)
    cat = w.tensor([1, 3, 4, 6], TT[dt], *q)
    axes = w.tensor([2], "int32", data=np.array([1, 2]))
    y = w.tensor([1, 1, 1, 6], TT[dt], *q)
    if dt == "f32":
        w.op("MUL", [x, c], [m])
    else:  # requantize MUL's product back onto the shared quantization
        mq = w.tensor(shape, TT[dt], q[0] * q[0] * 100, q[1])
        w.op("MUL", [x, c], [mq])
        w.op("QUANTIZE", [mq], [m])
    w.op("MAXIMUM", [x, x2], [mx])
    w.op("TRANSPOSE", [x, perm1], [t1])
    w.op("TRANSPOSE", [t1, perm2], [t2])
    w.op("CONCATENATION", [m, mx, t2], [cat], axis=3)
    w.op("MEAN", [cat, axes], [y], keep_dims=True)
    return w.build([x, x2], [y, cat]), [(dt, shape, q[1] or 0)] * 2


def two_in_two_out_graph(rng, dt):
    """a, b -> ADD -> out1 and MINIMUM(a, b) -> CONCATENATION(., b) -> out2, a graph input also
    feeding the last op."""
    w = ModelWriter()
    q = qparams(rng, dt, zp=False) if dt == "i16" else qparams(rng, dt)
    a = w.tensor([2, 5], TT[dt], *q)
    b = w.tensor([2, 5], TT[dt], *q)
    s = w.tensor([2, 5], TT[dt], *((None, None) if dt == "f32" else (q[0] * 2, q[1])))
    mn = w.tensor([2, 5], TT[dt], *q)
    cat = w.tensor([2, 10], TT[dt], *q)
    w.op("ADD", [a, b], [s])
    w.op("MINIMUM", [a, b], [mn])
    w.op("CONCATENATION", [mn, b], [cat], axis=1)
    return w.build([a, b], [s, cat]), [(dt, [2, 5], q[1] or 0)] * 2


GRAPHS = {"residual": residual_graph, "branch_concat": branch_concat_graph, "two_in_two_out": two_in_two_out_graph}
GRAPH_CASES = [(g, dt) for g in GRAPHS for dt in ("i8", "i16", "f32")]


@pytest.mark.parametrize("name,dt", GRAPH_CASES, ids=["%s-%s" % c for c in GRAPH_CASES])
def test_graph(name, dt, tmp_path):
    rng = case_rng("graph" + name + dt)
    model, specs = GRAPHS[name](rng, dt)
    check(model, tmp_path, graph_sets(rng, specs))


@pytest.mark.parametrize("name,dt", GRAPH_CASES, ids=["%s-%s" % c for c in GRAPH_CASES])
def test_arena_not_larger_than_tflm(name, dt, tmp_path, tier):
    if tier != CPYTHON_TIERS[0]:
        pytest.skip("the arena does not depend on the tier")
    from upyflow_tools.tflm import head_arena_bytes

    model, _ = GRAPHS[name](case_rng("graph" + name + dt), dt)
    path = tmp_path / "g.tflite"
    path.write_bytes(model)
    _, _, result = bake_model(path, tmp_path)
    tflm = head_arena_bytes(str(path))
    assert tflm is not None, "could not read TFLM's arena figure"
    assert result.arena_size <= tflm, (result.arena_size, tflm)


# --- seanet models (int16 ADD, SUB, PAD, STRIDED_SLICE) -------------------------------------
SEANET = "tflm_integration/seanet"


def seanet_models(op: str) -> list[str]:
    from harness import SHARED
    d = SHARED / SEANET / op
    return sorted(p.stem for p in d.glob("*.tflite") if list(d.glob(p.stem + "_input*_int16.csv"))) \
        if d.exists() else []


SEANET_CASES = [(op, m) for op in ("add", "sub", "pad", "strided_slice") for m in seanet_models(op)]


def load_csv(path, shape) -> np.ndarray:
    return np.loadtxt(path, delimiter=",", dtype=np.int64).astype(np.int16).reshape(shape)


@pytest.mark.parametrize("op,name", SEANET_CASES, ids=["%s/%s" % c for c in SEANET_CASES])
def test_seanet(op, name, tmp_path):
    path = shared("%s/%s/%s.tflite" % (SEANET, op, name))
    mdir, mod, _ = bake_model(path, tmp_path)
    model = load_cpython(mdir, mod)
    inputs = [load_csv(p, model.input_shape[i])
              for i, p in enumerate(sorted(path.parent.glob(name + "_input*_int16.csv")))]
    got = run_upyflow(model, inputs)[0]
    want = run_tflm(path.read_bytes(), inputs)[0]
    np.testing.assert_array_equal(got, want)


# --- property test -------------------------------------------------------------------------
@st.composite
def broadcast_pairs(draw):
    rank = draw(st.integers(1, 5))
    out = [draw(st.integers(1, 4)) for _ in range(rank)]
    sa = [d if draw(st.booleans()) else 1 for d in out]
    sb = [d if draw(st.booleans()) else 1 for d in out]
    sa = sa[draw(st.integers(0, rank - 1)):] if draw(st.booleans()) else sa
    return sa, sb


@settings(max_examples=HYPOTHESIS_EXAMPLES, deadline=None)
@given(shapes=broadcast_pairs(), kind=st.sampled_from(BIN_KINDS), dt=st.sampled_from(("i8", "i16", "f32")),
       act=st.sampled_from(ACTS), seed=st.integers(0, 2 ** 32 - 1))
def test_binary_property(shapes, kind, dt, act, seed, tmp_path_factory):
    rng = np.random.default_rng(seed)
    model, specs = binary_model(rng, kind, dt, shapes[0], shapes[1], act)
    check(model, tmp_path_factory.mktemp("prop"), graph_sets(rng, specs, n_random=2))


# --- unsupported variants: a one-line BakeError naming the operator --------------------------
def _rejects():
    def slice5d(w):
        x = w.tensor([1, 2, 3, 4, 5], "int8", 0.1, 0)
        c = [w.tensor([5], "int32", data=np.array(v)) for v in ([0] * 5, [1, 2, 3, 4, 5], [1] * 5)]
        y = w.tensor([1, 2, 3, 4, 5], "int8", 0.1, 0)
        w.op("STRIDED_SLICE", [x] + c, [y])
        return [x], [y]

    def ellipsis(w):
        x = w.tensor([2, 3], "int8", 0.1, 0)
        c = [w.tensor([2], "int32", data=np.array(v)) for v in ([0, 0], [2, 3], [1, 1])]
        y = w.tensor([2, 3], "int8", 0.1, 0)
        w.op("STRIDED_SLICE", [x] + c, [y], ellipsis_mask=1)
        return [x], [y]

    def concat_requant(w):
        a, b = w.tensor([2, 3], "int8", 0.1, 0), w.tensor([2, 3], "int8", 0.2, 0)
        y = w.tensor([2, 6], "int8", 0.1, 0)
        w.op("CONCATENATION", [a, b], [y], axis=1)
        return [a, b], [y]

    def mul16_zp(w):
        a, b = w.tensor([4], "int16", 0.001, 3), w.tensor([4], "int16", 0.001, 0)
        y = w.tensor([4], "int16", 0.001, 0)
        w.op("MUL", [a, b], [y])
        return [a, b], [y]

    def mixed_types(w):
        a, b = w.tensor([4], "int8", 0.1, 0), w.tensor([4], "int16", 0.001, 0)
        y = w.tensor([4], "int8", 0.1, 0)
        w.op("ADD", [a, b], [y])
        return [a, b], [y]

    def no_broadcast(w):
        a, b = w.tensor([2, 3], "float32"), w.tensor([2, 4], "float32")
        y = w.tensor([2, 4], "float32")
        w.op("SUB", [a, b], [y])
        return [a, b], [y]

    def tiny_out_scale(w):
        a, b = w.tensor([4], "int8", 0.5, 0), w.tensor([4], "int8", 0.5, 0)
        y = w.tensor([4], "int8", 1e-9, 0)
        w.op("ADD", [a, b], [y])
        return [a, b], [y]
    return {f.__name__: (f, op) for f, op in ((slice5d, "STRIDED_SLICE"), (ellipsis, "STRIDED_SLICE"),
                                              (concat_requant, "CONCATENATION"), (mul16_zp, "MUL"),
                                              (mixed_types, "ADD"), (no_broadcast, "SUB"),
                                              (tiny_out_scale, "ADD"))}


REJECTS = _rejects()


@pytest.mark.parametrize("name", sorted(REJECTS))
def test_rejected(name, tmp_path):
    from upyflow_tools import BakeError

    build, op = REJECTS[name]
    w = ModelWriter()
    ins, outs = build(w)
    with pytest.raises(BakeError, match=op) as err:
        bake_model(w.build(ins, outs), tmp_path)
    assert "\n" not in str(err.value)


# --- MicroPython (unix port): the pure tier, viper (falls back to pure) and the natmod ------
def mpy_models():
    """A handful of the models above: (id, model bytes, input sets)."""
    out = []
    for kind, dt, sa, sb, act in (("ADD", "i8", [1, 4, 4, 3], [3], "RELU"), ("SUB", "i16", [2, 3, 4], [4], "NONE"),
                                  ("MUL", "f32", [2, 1, 5], [1, 3, 1], "RELU6"),
                                  ("MINIMUM", "i8", [4, 1], [4, 6], "NONE")):
        rng = case_rng("mpy" + kind)
        model, specs = binary_model(rng, kind, dt, sa, sb, act)
        out.append((kind + "-" + dt, model, graph_sets(rng, specs, n_random=2)))
    for name in GRAPHS:
        for dt in ("i8", "i16"):
            rng = case_rng("mpy" + name + dt)
            model, specs = GRAPHS[name](rng, dt)
            out.append((name + "-" + dt, model, graph_sets(rng, specs, n_random=2)))
    return out


@pytest.fixture(scope="module")
def mpy_baked(tmp_path_factory):
    from upyflow_tools.unixport import micropython_exe
    if micropython_exe() is None:
        pytest.skip("MicroPython unix port not installed")
    outdir = tmp_path_factory.mktemp("ew_mpy")
    baked = []
    for k, (cid, model, sets) in enumerate(mpy_models()):
        _, name, _ = bake_model(model, outdir, name="ew%d" % k)
        baked.append((cid, name, sets, [run_tflm(model, s) for s in sets]))
    return str(outdir), baked


def _run_mpy(mdir, baked, env, extra=None):
    from upyflow_tools.unixport import run_batch
    for cid, name, sets, want in baked:
        got, _ = run_batch(mdir, name, [[np.ascontiguousarray(x).tobytes() for x in s] for s in sets],
                           heapsize="2M", env=env, extra_paths=extra)
        for k, (g, w) in enumerate(zip(got, want)):
            for gb, wa in zip(g, w):
                assert gb == np.ascontiguousarray(wa).tobytes(), "%s input set %d differs from TFLM" % (cid, k)


@pytest.mark.parametrize("mpy_tier", ["pure", "viper"])
def test_micropython(mpy_baked, mpy_tier, tier):
    if tier != CPYTHON_TIERS[0]:
        pytest.skip("runs under MicroPython: once is enough")
    _run_mpy(*mpy_baked, env={"UPYFLOW_TIER": mpy_tier})


def test_micropython_natmod(mpy_baked, natmod_dir, tier):
    if tier != CPYTHON_TIERS[0]:
        pytest.skip("runs under MicroPython: once is enough")
    _run_mpy(*mpy_baked, env={"UPYFLOW_TIER": "native"}, extra=[natmod_dir])
