"""MEAN (int8, int16, float32; kept or dropped dimensions, any axes), byte-identical with TFLM
(float32 within rtol 1e-5) on every CPython kernel tier (`tier`).

Each case builds a .tflite with ModelWriter, parameters fixed by one seed and the case id;
inputs are random ones plus the extremes. Nothing hard-codes an output.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness import NP, TT, bake_model, check, check_isa, make_inputs, seeded_rng
from op_models import qparams, shape_id
from tflite_writer import ModelWriter

SEED = 0x5EED


def case_rng(case_id: str) -> np.random.Generator:
    return seeded_rng(SEED, case_id)


# --- MEAN ----------------------------------------------------------------------------------
MEAN_SHAPES = [  # (shape, axes, keep_dims)
    ([1, 4, 5, 3], [1, 2], True),
    ([1, 4, 5, 3], [2, 1], False),
    ([2, 3, 4], [-1], False),
    ([2, 3, 4], [0, 2], True),
    ([3, 5], [0], False),
    ([1, 6, 6, 8], [1, 2], True),
    ([2, 3, 4, 5], [3, 1], False),
    ([4], [0], False),
    ([2, 3, 4, 2, 2], [1, 3], True),
    ([1, 7, 7, 16], [1, 2], False),
    ([2, 3, 4], [1, 1], True),
    ([1, 30, 40, 2], [1, 2], True),
    ([2, 3, 4], [0, 1, 2], False),
]
MEAN_CASES = [(s, a, k, dt) for s, a, k in MEAN_SHAPES for dt in ("i8", "i16", "f32")]


def _mean_id(c):
    s, a, k, dt = c
    return "%s-%s-axes%s%s" % (dt, shape_id(s), ",".join(map(str, a)), "-keep" if k else "")


def mean_case(case):
    """(model bytes, input sets) of one case."""
    shape, axes, keep, dt = case
    rng = case_rng("mean" + _mean_id(case))
    rank = len(shape)
    red = {a % rank for a in axes}
    out_shape = (
        [1 if d in red else shape[d] for d in range(rank)] if keep else [shape[d] for d in range(rank) if d not in red]
    )
    w = ModelWriter()
    qx = qparams(rng, dt)
    # output scale a little below the input's: the mean of random values is narrower
    qy = (None, None) if dt == "f32" else (qx[0] * float(rng.uniform(0.1, 1.3)), qparams(rng, dt)[1])
    x = w.tensor(shape, TT[dt], *qx)
    ax = w.tensor([len(axes)], "int32", data=np.array(axes))
    y = w.tensor(out_shape, TT[dt], *qy)
    w.op("MEAN", [x, ax], [y], keep_dims=keep)
    return w.build([x], [y]), [[v] for v in make_inputs(rng, dt, shape, qx[1] or 0)]


@pytest.mark.parametrize("case", MEAN_CASES, ids=_mean_id)
def test_mean(case, tier, tmp_path):
    model, sets = mean_case(case)
    check(model, tmp_path, sets)


@pytest.mark.parametrize("case", MEAN_CASES[::4], ids=_mean_id)
def test_mean_isa(case, isa_arch):
    """Every 4th case on the boards' ISAs."""
    check_isa(*mean_case(case), isa_arch)


# --- SUM, REDUCE_MAX, REDUCE_MIN ---------------------------------------------------------------
REDUCE_SHAPES = MEAN_SHAPES[::2] + [([1, 4, 5, 3], [1, 2], True), ([2, 3, 4], [1, 1], True)]
REDUCE_CASES = [
    (k, s, a, kd, dt)
    for k in ("SUM", "REDUCE_MAX", "REDUCE_MIN")
    for s, a, kd in REDUCE_SHAPES
    for dt in ("i8", "i16", "f32")
    if k == "SUM" or dt != "i16"
]  # TFLM: MAX/MIN int8, float32


def _reduce_id(c):
    return c[0] + "-" + _mean_id(c[1:])


def reduce_case(case):
    """(model bytes, input sets) of one case; REDUCE_MAX/MIN keep the input's quantization
    (TFLM requires it)."""
    kind, shape, axes, keep, dt = case
    rng = case_rng(_reduce_id(case))
    rank = len(shape)
    red = {a % rank for a in axes}
    out_shape = (
        [1 if d in red else shape[d] for d in range(rank)] if keep else [shape[d] for d in range(rank) if d not in red]
    )
    count = int(np.prod([shape[d] for d in red]))
    w = ModelWriter()
    qx = qparams(rng, dt)
    if dt == "f32" or kind != "SUM":
        qy = qx
    else:  # a sum spans up to count times the input's range
        qy = (qx[0] * float(rng.uniform(0.3, 1.2)) * np.sqrt(count), qparams(rng, dt)[1])
    x = w.tensor(shape, TT[dt], *qx)
    ax = w.tensor([len(axes)], "int32", data=np.array(axes))
    y = w.tensor(out_shape, TT[dt], *qy)
    w.op(kind, [x, ax], [y], keep_dims=keep)
    return w.build([x], [y]), [[v] for v in make_inputs(rng, dt, shape, qx[1] or 0)]


@pytest.mark.parametrize("case", REDUCE_CASES, ids=_reduce_id)
def test_reduce(case, tier, tmp_path):
    model, sets = reduce_case(case)
    check(model, tmp_path, sets)


@pytest.mark.parametrize("case", REDUCE_CASES[::5], ids=_reduce_id)
def test_reduce_isa(case, isa_arch):
    """Every 5th case on the boards' ISAs."""
    check_isa(*reduce_case(case), isa_arch)


@pytest.mark.parametrize("kind", ["REDUCE_MAX", "REDUCE_MIN"])
def test_reduce_maxmin_rejects_int16_and_requantization(kind, tmp_path):
    """TFLM runs neither; bake says so in one line."""
    from upyflow_tools import BakeError

    for dt, qy in (("i16", (0.1, 0)), ("i8", (0.2, 3))):
        w = ModelWriter()
        x = w.tensor([2, 3], TT[dt], 0.1, 0)
        ax = w.tensor([1], "int32", data=np.array([1]))
        y = w.tensor([2], TT[dt], *qy)
        w.op(kind, [x, ax], [y])
        with pytest.raises(BakeError, match=kind) as err:
            bake_model(w.build([x], [y]), tmp_path)
        assert "\n" not in str(err.value)


# --- ARG_MAX, ARG_MIN ---------------------------------------------------------------------------
ARG_SHAPES = [([1, 4, 5, 3], -1), ([1, 4, 5, 3], 1), ([2, 3, 4], 0), ([7], 0), ([3, 5], 1), ([2, 3, 4, 2, 2], 2)]
ARG_CASES = [(k, s, a, dt) for k in ("ARG_MAX", "ARG_MIN") for s, a in ARG_SHAPES for dt in ("i8", "f32")]


def _arg_id(c):
    kind, s, a, dt = c
    return "%s-%s-%s-axis%d" % (kind, dt, shape_id(s), a)


def arg_case(case):
    """(model bytes, input sets); ties included (int8 values repeat; the first wins in TFLM)."""
    kind, shape, axis, dt = case
    rng = case_rng(_arg_id(case))
    out_shape = [d for i, d in enumerate(shape) if i != axis % len(shape)]
    w = ModelWriter()
    qx = qparams(rng, dt)
    x = w.tensor(shape, TT[dt], *qx)
    ax = w.tensor([1], "int32", data=np.array([axis]))
    y = w.tensor(out_shape, "int32")
    w.op(kind, [x, ax], [y], output_type=2)  # TensorType INT32
    sets = [[v] for v in make_inputs(rng, dt, shape, qx[1] or 0)]
    if dt != "f32":  # few distinct values: many ties
        sets.append([rng.integers(-2, 3, size=shape).astype(NP[dt])])
    return w.build([x], [y]), sets


@pytest.mark.parametrize("case", ARG_CASES, ids=_arg_id)
def test_arg_maxmin(case, tier, tmp_path):
    model, sets = arg_case(case)
    check(model, tmp_path, sets)


@pytest.mark.parametrize("case", ARG_CASES[::6], ids=_arg_id)
def test_arg_maxmin_isa(case, isa_arch):
    check_isa(*arg_case(case), isa_arch)


@pytest.mark.parametrize("dt,out_dt", [("i16", "int32"), ("i8", "int64")])
def test_arg_max_rejects(dt, out_dt, tmp_path):
    """int16 in (TFLM has none) and int64 out (not a run-time type): one line naming the op."""
    from upyflow_tools import BakeError

    w = ModelWriter()
    x = w.tensor([2, 3], TT[dt], 0.1, 0)
    ax = w.tensor([1], "int32", data=np.array([1]))
    y = w.tensor([2], out_dt)
    w.op("ARG_MAX", [x, ax], [y], output_type=2 if out_dt == "int32" else 4)
    with pytest.raises(BakeError, match="ARG_MAX") as err:
        bake_model(w.build([x], [y]), tmp_path)
    assert "\n" not in str(err.value)
