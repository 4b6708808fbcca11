"""Generated tests of the layout operators (data movement), byte-identical with TFLM.

CONCATENATION, PAD/PADV2, STRIDED_SLICE, TRANSPOSE, SQUEEZE, EXPAND_DIMS and RESHAPE (kept as a
copy, and aliased inside a chain). Each case builds a .tflite with ModelWriter, bakes it, runs
it on every CPython kernel tier (`tier`) and on the TFLite Micro interpreter (the oracle) and
compares the outputs; parameters derive from one fixed seed and the case id. The seanet int16
PAD/STRIDED_SLICE models run on their CSV inputs. Nothing hard-codes an output.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness import (
    TT,
    bake_model,
    check,
    check_isa,
    load_cpython,
    make_inputs,
    run_sets_on_tier,
    run_tflm,
    run_upyflow,
    seeded_rng,
    shared,
)
from op_models import graph_sets, qparams, seanet_elementwise_models, shape_id
from tflite_writer import ModelWriter

SEED = 0x5EED


def case_rng(case_id: str) -> np.random.Generator:
    return seeded_rng(SEED, case_id)


# --- CONCATENATION -------------------------------------------------------------------------
CONCAT_SHAPES = [  # (input shapes, axis)
    ([[2, 3], [2, 5]], 1),
    ([[1, 4, 4, 3], [1, 4, 4, 5], [1, 4, 4, 1]], 3),
    ([[1, 2, 4, 3], [1, 3, 4, 3]], 1),
    ([[2, 3, 4], [2, 3, 4]], 0),
    ([[2, 3, 4], [2, 3, 2]], -1),
    ([[3], [4], [5], [1]], 0),
    ([[1, 2, 2, 3, 2], [1, 2, 1, 3, 2]], 2),
    ([[1, 1, 6, 2], [1, 1, 6, 3]], -1),
]
CONCAT_CASES = [(shapes, axis, dt) for shapes, axis in CONCAT_SHAPES for dt in ("i8", "i16", "f32")]


def _concat_id(c):
    shapes, axis, dt = c
    return "%s-%s-axis%d" % (dt, "+".join(shape_id(s) for s in shapes), axis)


def concat_case(case):
    """(model bytes, input sets) of one case."""
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
    return w.build(ins, [y]), graph_sets(rng, [(dt, s, q[1] or 0) for s in shapes])


@pytest.mark.parametrize("case", CONCAT_CASES, ids=_concat_id)
def test_concatenation(case, tier, tmp_path):
    model, sets = concat_case(case)
    check(model, tmp_path, sets)


@pytest.mark.parametrize("case", CONCAT_CASES[::4], ids=_concat_id)
def test_concatenation_isa(case, isa_arch):
    """Every 4th case on the boards' ISAs."""
    check_isa(*concat_case(case), isa_arch)


# --- PAD / PADV2 ---------------------------------------------------------------------------
PAD_SHAPES = [
    ([1, 4, 4, 3], [[0, 0], [1, 1], [2, 0], [0, 0]]),
    ([2, 3], [[1, 2], [0, 3]]),
    ([5], [[2, 3]]),
    ([1, 2, 3, 4, 2], [[0, 1], [1, 0], [0, 0], [2, 2], [1, 0]]),
    ([1, 2, 16, 8], [[0, 0], [0, 0], [3, 3], [0, 0]]),
    ([2, 2, 2], [[0, 0], [0, 0], [0, 0]]),
    ([3, 1, 2], [[2, 0], [0, 4], [1, 1]]),
]
PAD_CASES = [(kind, s, p, dt) for kind in ("PAD", "PADV2") for s, p in PAD_SHAPES for dt in ("i8", "i16", "f32")]


def _pad_id(c):
    kind, s, p, dt = c
    return "%s-%s-%s-%s" % (kind, dt, shape_id(s), "_".join("%d,%d" % tuple(x) for x in p))


def pad_case(case):
    """(model bytes, input sets) of one case."""
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
    return w.build([x], [y]), [[v] for v in make_inputs(rng, dt, shape, q[1] or 0)]


@pytest.mark.parametrize("case", PAD_CASES, ids=_pad_id)
def test_pad(case, tier, tmp_path):
    model, sets = pad_case(case)
    check(model, tmp_path, sets)


@pytest.mark.parametrize("case", PAD_CASES[::6], ids=_pad_id)
def test_pad_isa(case, isa_arch):
    """Every 6th case on the boards' ISAs."""
    check_isa(*pad_case(case), isa_arch)


# --- STRIDED_SLICE -------------------------------------------------------------------------
SLICE_SPECS = [  # (shape, begin, end, strides, begin_mask, end_mask, shrink_axis_mask)
    ([1, 8, 16, 2], [0, -6, 0, 0], [0, 0, 0, 2], [1, 1, 1, 1], 13, 15, 0),
    ([1, 4, 12, 8], [0, 0, 1, 0], [0, 0, -1, 0], [1, 1, 1, 1], 9, 11, 0),
    ([10], [1], [9], [2], 0, 0, 0),
    ([10], [-1], [0], [-1], 0, 0, 0),
    ([10], [8], [1], [-3], 0, 0, 0),
    ([4, 6], [1, 5], [3, 0], [1, -2], 0, 0, 0),
    ([4, 6], [2, 0], [3, 6], [1, 1], 0, 0, 1),
    ([3, 4, 5], [0, 1, 0], [3, 3, 5], [2, 1, 2], 0, 0, 2),
    ([3, 4, 5], [-2, 0, -1], [2, 4, 0], [1, 2, 1], 1, 6, 4),
    ([2, 3, 4, 5], [1, 2, 0, 4], [2, 0, 4, 0], [1, -1, 3, -2], 0, 4, 1),
    ([5, 6], [-100, 2], [100, -100], [1, -1], 0, 0, 0),
    ([5, 6], [0, 0], [0, 0], [1, 1], 3, 3, 0),
    ([3, 4], [1, 3], [2, 4], [1, 1], 0, 0, 3),
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
    return "%s-%s-b%s-e%s-s%s-m%d,%d,%d" % (
        dt,
        shape_id(shape),
        ",".join(map(str, b)),
        ",".join(map(str, e)),
        ",".join(map(str, s)),
        bm,
        em,
        sm,
    )


def slice_case(case):
    """(model bytes, input sets) of one case."""
    (shape, begin, end, strides, bm, em, sm), dt = case
    rng = case_rng("slice" + _slice_id(case))
    w = ModelWriter()
    q = qparams(rng, dt)
    x = w.tensor(shape, TT[dt], *q)
    consts = [w.tensor([len(shape)], "int32", data=np.array(v)) for v in (begin, end, strides)]
    y = w.tensor(slice_shape(shape, begin, end, strides, bm, em, sm), TT[dt], *q)
    w.op("STRIDED_SLICE", [x] + consts, [y], begin_mask=bm, end_mask=em, shrink_axis_mask=sm)
    return w.build([x], [y]), [[v] for v in make_inputs(rng, dt, shape, q[1] or 0)]


@pytest.mark.parametrize("case", SLICE_CASES, ids=_slice_id)
def test_strided_slice(case, tier, tmp_path):
    model, sets = slice_case(case)
    check(model, tmp_path, sets)


@pytest.mark.parametrize("case", SLICE_CASES[::6], ids=_slice_id)
def test_strided_slice_isa(case, isa_arch):
    """Every 6th case on the boards' ISAs."""
    check_isa(*slice_case(case), isa_arch)


# --- TRANSPOSE -----------------------------------------------------------------------------
TRANSPOSE_SPECS = [
    ([3, 4], [1, 0]),
    ([2, 3, 4], [2, 0, 1]),
    ([2, 3, 4], [0, 2, 1]),
    ([1, 4, 5, 3], [0, 3, 1, 2]),
    ([2, 3, 4, 5], [3, 2, 1, 0]),
    ([2, 3, 2, 3, 2], [4, 1, 3, 0, 2]),
    ([5], [0]),
    ([2, 3, 4], [0, 1, 2]),
]
TRANSPOSE_CASES = [(s, p, dt) for s, p in TRANSPOSE_SPECS for dt in ("i8", "i16", "f32")]


def _transpose_id(c):
    return "%s-%s-perm%s" % (c[2], shape_id(c[0]), ",".join(map(str, c[1])))


def transpose_case(case):
    """(model bytes, input sets) of one case."""
    shape, perm, dt = case
    rng = case_rng("transpose%s%s%s" % case)
    w = ModelWriter()
    q = qparams(rng, dt)
    x = w.tensor(shape, TT[dt], *q)
    p = w.tensor([len(perm)], "int32", data=np.array(perm))
    y = w.tensor([shape[i] for i in perm], TT[dt], *q)
    w.op("TRANSPOSE", [x, p], [y])
    return w.build([x], [y]), [[v] for v in make_inputs(rng, dt, shape, q[1] or 0)]


@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=_transpose_id)
def test_transpose(case, tier, tmp_path):
    model, sets = transpose_case(case)
    check(model, tmp_path, sets)


@pytest.mark.parametrize("case", TRANSPOSE_CASES[::4], ids=_transpose_id)
def test_transpose_isa(case, isa_arch):
    """Every 4th case on the boards' ISAs."""
    check_isa(*transpose_case(case), isa_arch)


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


LAYOUT_CASES = [
    (k, dt, chain)
    for k in ("SQUEEZE", "SQUEEZE_ALL", "EXPAND_DIMS", "RESHAPE_TENSOR", "RESHAPE_OPTION")
    for dt in ("i8", "i16", "f32")
    for chain in (False, True)
]


def _layout_id(c):
    return "%s-%s%s" % (c[0], c[1], "-chain" if c[2] else "")


def layout_case(case):
    """(model bytes, input sets) of one case."""
    kind, dt, chain = case
    rng = case_rng("layout%s%s%s" % case)
    model, shape, q = layout_model(rng, kind, dt, chain)
    return model, [[v] for v in make_inputs(rng, dt, shape, q[1] or 0)]


@pytest.mark.parametrize("case", LAYOUT_CASES, ids=_layout_id)
def test_layout(case, tier, tmp_path):
    model, sets = layout_case(case)
    check(model, tmp_path, sets)


@pytest.mark.parametrize("case", LAYOUT_CASES[::5], ids=_layout_id)
def test_layout_isa(case, isa_arch):
    """Every 5th case on the boards' ISAs."""
    check_isa(*layout_case(case), isa_arch)


def test_layout_ops_lower_to_a_copy():
    """SQUEEZE and EXPAND_DIMS kept in the graph (not aliased) lower to copy_bytes."""
    from upyflow_tools.lower import lower
    from upyflow_tools.readers.tflite import read_tflite

    for kind in ("SQUEEZE", "EXPAND_DIMS"):
        model, _, _ = layout_model(case_rng("lower" + kind), kind, "i8", False)
        calls = lower(read_tflite(model))
        assert [c.kernel for c in calls] == ["copy_bytes"]


# --- seanet models (int16 PAD, STRIDED_SLICE) ------------------------------------------------------------
SEANET_CASES = [(op, m) for op in ("pad", "strided_slice") for m in seanet_elementwise_models(op)]


@pytest.mark.parametrize("op,name", SEANET_CASES, ids=["%s/%s" % c for c in SEANET_CASES])
def test_seanet(op, name, tier, tmp_path):
    path = shared("tflm_integration/seanet/%s/%s.tflite" % (op, name))
    mdir, mod, _ = bake_model(path, tmp_path)
    model = load_cpython(mdir, mod, tier)
    inputs = [
        np.loadtxt(p, delimiter=",", dtype=np.int64).astype(np.int16).reshape(model.input_shape[i])
        for i, p in enumerate(sorted(path.parent.glob(name + "_input*_int16.csv")))
    ]
    got = run_upyflow(model, inputs)[0]
    want = run_tflm(path.read_bytes(), inputs)[0]
    np.testing.assert_array_equal(got, want)


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

    return {
        f.__name__: (f, op)
        for f, op in ((slice5d, "STRIDED_SLICE"), (ellipsis, "STRIDED_SLICE"), (concat_requant, "CONCATENATION"))
    }


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


# --- GATHER (constant indices) ------------------------------------------------------------------
GATHER_SHAPES = [  # (shape, axis, indices)
    ([5, 3], 0, [4, 0, 1, 2]),
    ([2, 6, 3], 1, [[1, 2], [5, 5]]),
    ([1, 4, 5, 3], -1, [2, 0]),
    ([7], 0, [6]),
    ([3, 4, 2], 2, [1, 0, 1]),
    ([10, 4], 0, [[3, 4, 5], [0, 9, 8]]),
    ([2, 3, 4], 1, [0, 1, 2]),
]
GATHER_CASES = [(s, a, i, dt) for s, a, i in GATHER_SHAPES for dt in ("i8", "f32")]


def _gather_id(c):
    s, a, i, dt = c
    return "%s-%s-axis%d-idx%s" % (dt, shape_id(s), a, shape_id(np.array(i).reshape(-1)))


def gather_case(case):
    shape, axis, idx, dt = case
    rng = case_rng("gather" + _gather_id(case))
    idx = np.array(idx, np.int32)
    a = axis % len(shape)
    out_shape = list(shape[:a]) + list(idx.shape) + list(shape[a + 1 :])
    w = ModelWriter()
    qx = qparams(rng, dt)
    x = w.tensor(shape, TT[dt], *qx)
    ix = w.tensor(list(idx.shape), "int32", data=idx)
    y = w.tensor(out_shape, TT[dt], *qx)
    w.op("GATHER", [x, ix], [y], axis=axis)
    sets = [[v] for v in make_inputs(rng, dt, shape, qx[1] or 0)]
    return w.build([x], [y]), sets


@pytest.mark.parametrize("case", GATHER_CASES, ids=_gather_id)
def test_gather(case, tier, tmp_path):
    model, sets = gather_case(case)
    check(model, tmp_path, sets)


def test_gather_rejects_computed_indices(tmp_path):
    from upyflow_tools import BakeError

    w = ModelWriter()
    x = w.tensor([4, 3], "float32")
    ix = w.tensor([2], "int32")
    y = w.tensor([2, 3], "float32")
    w.op("GATHER", [x, ix], [y], axis=0)
    with pytest.raises(BakeError, match="GATHER") as err:
        bake_model(w.build([x, ix], [y]), tmp_path)
    assert "\n" not in str(err.value)


# --- SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND (dilated convolutions), SELECT_V2, UNPACK, TILE --------
S2B_CASES = [  # (input shape, block, paddings or crops, dtype)
    ([1, 4, 6, 2], [2, 2], [[0, 0], [0, 0]]),
    ([1, 5, 5, 3], [2, 3], [[1, 0], [2, 2]]),
    ([2, 3, 4, 1], [3, 2], [[0, 3], [1, 1]]),
    ([1, 7, 2], [2], [[2, 1]]),
    ([2, 6, 3], [3], [[0, 0]]),
]
S2B_ALL = [(s, b, p, dt) for s, b, p in S2B_CASES for dt in ("i8", "f32")]


def _s2b_id(c):
    s, b, p, dt = c
    return "%s-%s-b%s-p%s" % (dt, shape_id(s), "x".join(map(str, b)), "".join(str(v) for r in p for v in r))


def s2b_case(case, kind):
    """SPACE_TO_BATCH_ND of the input, or BATCH_TO_SPACE_ND back from its space-to-batch shape
    with the paddings as crops (the dilated-convolution pair)."""
    shape, block, pads, dt = case
    rng = case_rng(kind + _s2b_id(case))
    w = ModelWriter()
    q = qparams(rng, dt)
    spatial = [shape[1 + k] + pads[k][0] + pads[k][1] for k in range(len(block))]
    s2b_shape = [shape[0] * int(np.prod(block))] + [d // b for d, b in zip(spatial, block)] + [shape[-1]]
    in_shape, out_shape = (
        (shape, s2b_shape)
        if kind == "SPACE_TO_BATCH_ND"
        else (s2b_shape, [shape[0]] + [d - p[0] - p[1] for d, p in zip(spatial, pads)] + [shape[-1]])
    )
    x = w.tensor(in_shape, TT[dt], *q)
    bt = w.tensor([len(block)], "int32", data=np.array(block, np.int32))
    pt = w.tensor([len(block), 2], "int32", data=np.array(pads, np.int32))
    y = w.tensor(out_shape, TT[dt], *q)
    w.op(kind, [x, bt, pt], [y])
    return w.build([x], [y]), [[v] for v in make_inputs(rng, dt, in_shape, q[1] or 0)]


def _s2b_numpy(x: np.ndarray, block, pads, value) -> np.ndarray:
    """TFLite's SPACE_TO_BATCH_ND semantics: pad with `value`, then move each block offset to the batch."""
    if x.ndim == 3:
        x, block, pads = x[:, :, None, :], list(block) + [1], list(pads) + [[0, 0]]
    x = np.pad(x, [[0, 0], pads[0], pads[1], [0, 0]], constant_values=value)
    b, h, w, c = x.shape
    bh, bw = block
    y = x.reshape(b, h // bh, bh, w // bw, bw, c).transpose(2, 4, 0, 1, 3, 5).reshape(bh * bw * b, h // bh, w // bw, c)
    return y


@pytest.mark.parametrize("kind", ["SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND"])
@pytest.mark.parametrize("case", S2B_ALL, ids=_s2b_id)
def test_space_batch(case, kind, tier, tmp_path):
    """Against TFLM, except SPACE_TO_BATCH_ND with padding: TFLM's kernel pads with a value it
    never initializes (its SpaceToBatchParams), so numpy with TFLite's rule (the output zero
    point, 0.0 for float32) is the reference there."""
    model, sets = s2b_case(case, kind)
    shape, block, pads, dt = case
    if kind == "BATCH_TO_SPACE_ND" or not any(v for r in pads for v in r):
        check(model, tmp_path, sets)
        return
    mdir, name, result = bake_model(model, tmp_path)
    module = load_cpython(mdir, name)
    zp = result.graph.tensors[result.graph.outputs[0]].zp if dt != "f32" else 0
    for (x,) in sets:
        got = run_upyflow(module, [x])[0]
        np.testing.assert_array_equal(got.reshape(-1), _s2b_numpy(x, block, pads, zp).reshape(-1))


@pytest.mark.parametrize("case", S2B_ALL[::3], ids=_s2b_id)
def test_space_batch_isa(case, isa_arch):
    if not any(v for r in case[2] for v in r):  # TFLM's padding value is undefined (test_space_batch)
        check_isa(*s2b_case(case, "SPACE_TO_BATCH_ND"), isa_arch)
    check_isa(*s2b_case(case, "BATCH_TO_SPACE_ND"), isa_arch)


@pytest.mark.parametrize("dt", ["i8", "i16", "f32"])
@pytest.mark.parametrize("cond_shape", [[2, 3, 4], [4], [3, 1]])
def test_select_v2_constant_condition(dt, cond_shape, tier, tmp_path):
    rng = case_rng("select%s%s" % (dt, cond_shape))
    w = ModelWriter()
    q = qparams(rng, dt)
    c = w.tensor(cond_shape, "bool", data=rng.random(cond_shape) < 0.5)
    a, b = w.tensor([2, 3, 4], TT[dt], *q), w.tensor([2, 3, 4], TT[dt], *q)
    y = w.tensor([2, 3, 4], TT[dt], *q)
    w.op("SELECT_V2", [c, a, b], [y])
    check(w.build([a, b], [y]), tmp_path, graph_sets(rng, [(dt, [2, 3, 4], q[1] or 0)] * 2))


SELECT_COMPUTED = [  # (kind, condition shape, x shape, y shape); the output has the broadcast shape
    ("SELECT_V2", [2, 3, 4], [2, 3, 4], [2, 3, 4]),
    ("SELECT_V2", [3, 1], [2, 3, 4], [4]),
    ("SELECT_V2", [2, 1, 4], [1, 3, 1], [2, 3, 4]),
    ("SELECT_V2", [1, 2, 2, 3, 2], [2, 1, 3, 1], [1, 1, 1, 2]),
    ("SELECT", [2, 3, 4], [2, 3, 4], [2, 3, 4]),
    ("SELECT", [2], [2, 3, 4], [2, 3, 4]),  # a rank-1 condition picks rows
]


def _select_id(c):
    return "%s-c%s-x%s-y%s" % (c[0], shape_id(c[1]), shape_id(c[2]), shape_id(c[3]))


def select_case(case, dt):
    """SELECT/SELECT_V2 whose bool condition is a model input (computed at run time)."""
    kind, cs, xs, ys = case
    rng = case_rng("selectrt%s%s" % (dt, _select_id(case)))
    w = ModelWriter()
    q = qparams(rng, dt) if dt != "i32" else (None, None)
    out_shape = list(np.broadcast_shapes(tuple(cs), tuple(xs), tuple(ys))) if kind == "SELECT_V2" else xs
    c = w.tensor(cs, "bool")
    a, b = w.tensor(xs, TT[dt], *q), w.tensor(ys, TT[dt], *q)
    y = w.tensor(out_shape, TT[dt], *q)
    w.op(kind, [c, a, b], [y])
    sets = graph_sets(rng, [(dt, xs, q[1] or 0), (dt, ys, q[1] or 0)])
    conds = [rng.random(cs) < 0.5 for _ in sets[:-2]] + [np.zeros(cs, bool), np.ones(cs, bool)]
    conds += [rng.random(cs) < 0.5 for _ in range(len(sets) - len(conds))]
    return w.build([c, a, b], [y]), [[k] + s for k, s in zip(conds, sets)]


@pytest.mark.parametrize("dt", ["i8", "i16", "f32", "i32"])
@pytest.mark.parametrize("case", SELECT_COMPUTED, ids=_select_id)
def test_select_computed_condition(case, dt, tier, tmp_path):
    """Against TFLM for SELECT_V2 of int8/int16/float32; TFLM has no SELECT (v1) kernel and no
    int32 select, so numpy's where (a byte copy: exact) is the reference there."""
    model, sets = select_case(case, dt)
    if case[0] == "SELECT_V2" and dt != "i32":
        check(model, tmp_path, sets)
        return
    mdir, name, _ = bake_model(model, tmp_path)
    module = load_cpython(mdir, name)
    for c, a, b in sets:
        rows = case[0] == "SELECT" and c.ndim == 1  # SELECT's rank-1 condition picks rows of axis 0
        want = np.where(c.reshape(list(c.shape) + [1] * (a.ndim - 1)) if rows else c, a, b)
        np.testing.assert_array_equal(run_upyflow(module, [c, a, b])[0].reshape(want.shape), want)


@pytest.mark.parametrize("case", SELECT_COMPUTED[:4:2] + SELECT_COMPUTED[3:4], ids=_select_id)
def test_select_computed_condition_isa(case, isa_arch):
    check_isa(*select_case(case, "f32"), isa_arch)


@pytest.mark.parametrize("mpy_tier", ["pure", "viper", "natmod"], indirect=True)
def test_select_computed_condition_micropython(mpy_tier, tmp_path):
    """The SELECT_V2 cases on MicroPython, byte-identical with TFLM (int8 and float32)."""

    for k, (case, dt) in enumerate((c, dt) for c in SELECT_COMPUTED[:4] for dt in ("i8", "f32")):
        model, sets = select_case(case, dt)
        got = run_sets_on_tier(model, sets, tmp_path, "sel%d" % k, mpy_tier)
        for g, s in zip(got, sets):
            assert g[0] == np.ascontiguousarray(run_tflm(model, s)[0]).tobytes(), (_select_id(case), dt)


def test_select_v2_constant_condition_broadcast_operands(tier, tmp_path):
    """A constant condition with broadcast operands: the picks of a baked byte mask."""
    rng = case_rng("selectconstb")
    w = ModelWriter()
    c = w.tensor([3, 1], "bool", data=np.array([[True], [False], [True]]))
    a, b = w.tensor([1, 4], "float32"), w.tensor([2, 3, 4], "float32")
    y = w.tensor([2, 3, 4], "float32")
    w.op("SELECT_V2", [c, a, b], [y])
    check(w.build([a, b], [y]), tmp_path, graph_sets(rng, [("f32", [1, 4], 0), ("f32", [2, 3, 4], 0)]))


@pytest.mark.parametrize("dt", ["i8", "f32"])
@pytest.mark.parametrize("shape,axis", [([3, 4], 0), ([2, 3, 4], 1), ([2, 3, 4], -1), ([4], 0)])
def test_unpack(dt, shape, axis, tier, tmp_path):
    rng = case_rng("unpack%s%s%d" % (dt, shape, axis))
    w = ModelWriter()
    q = qparams(rng, dt)
    x = w.tensor(shape, TT[dt], *q)
    rest = [d for k, d in enumerate(shape) if k != axis % len(shape)]
    ys = [w.tensor(rest, TT[dt], *q) for _ in range(shape[axis])]
    w.op("UNPACK", [x], ys, num=shape[axis], axis=axis)
    check(w.build([x], ys), tmp_path, [[v] for v in make_inputs(rng, dt, shape, q[1] or 0)])


@pytest.mark.parametrize("dt", ["i8", "i16", "f32"])
@pytest.mark.parametrize(
    "shape,mult", [([2, 3], [2, 1]), ([1, 2, 2, 3], [1, 2, 2, 1]), ([3], [4]), ([2, 1, 3], [1, 3, 2])]
)
def test_tile_against_numpy(dt, shape, mult, tier, tmp_path):
    """TFLM has no TILE kernel: numpy's tile is the reference (a copy: exact for every type)."""
    rng = case_rng("tile%s%s%s" % (dt, shape, mult))
    w = ModelWriter()
    q = qparams(rng, dt)
    x = w.tensor(shape, TT[dt], *q)
    m = w.tensor([len(mult)], "int32", data=np.array(mult, np.int32))
    y = w.tensor([d * k for d, k in zip(shape, mult)], TT[dt], *q)
    w.op("TILE", [x, m], [y])
    mdir, name, _ = bake_model(w.build([x], [y]), tmp_path)
    module = load_cpython(mdir, name)
    for v in make_inputs(rng, dt, shape, q[1] or 0):
        want = np.tile(v, mult)
        np.testing.assert_array_equal(run_upyflow(module, [v])[0].reshape(want.shape), want)
