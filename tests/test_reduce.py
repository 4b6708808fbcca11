"""MEAN (int8, int16, float32; kept or dropped dimensions, any axes), byte-identical with TFLM
(float32 within rtol 1e-5) on every CPython kernel tier (`tier`).

Each case builds a .tflite with ModelWriter, parameters fixed by one seed and the case id;
inputs are random ones plus the extremes. Nothing hard-codes an output.
"""
from __future__ import annotations

import numpy as np
import pytest

from harness import TT, check, check_isa, make_inputs, seeded_rng
from op_models import qparams, shape_id
from tflite_writer import ModelWriter

SEED = 0x5EED


def case_rng(case_id: str) -> np.random.Generator:
    return seeded_rng(SEED, case_id)


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


def mean_case(case):
    """(model bytes, input sets) of one case."""
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
    return w.build([x], [y]), [[v] for v in make_inputs(rng, dt, shape, qx[1] or 0)]


@pytest.mark.parametrize("case", MEAN_CASES, ids=_mean_id)
def test_mean(case, tier, tmp_path):
    model, sets = mean_case(case)
    check(model, tmp_path, sets)


@pytest.mark.parametrize("case", MEAN_CASES[::4], ids=_mean_id)
def test_mean_isa(case, isa_arch):
    """Every 4th case on the boards' ISAs."""
    check_isa(*mean_case(case), isa_arch)
