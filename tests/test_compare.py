"""Generated tests of the comparison and logical operators, byte-identical with TFLM.

GREATER, GREATER_EQUAL, LESS, LESS_EQUAL, EQUAL, NOT_EQUAL (int8 with TFLM's rescaling of both
inputs, int32, float32; EQUAL/NOT_EQUAL also bool; TFLM has no int16 comparisons: refused) and LOGICAL_AND/OR/NOT, with
broadcasting and constant operands; bool graph outputs, and a computed condition feeding
SELECT_V2. Each model is built with ModelWriter, baked, run on every CPython tier (`tier`),
on the ISAs and on MicroPython, and compared with the TFLite Micro interpreter (the oracle).
"""

from __future__ import annotations

import numpy as np
import pytest

from harness import TT, bake_model, check, check_isa, make_inputs, run_sets_on_tier, run_tflm, seeded_rng
from op_models import graph_sets, qparams, shape_id
from tflite_writer import ModelWriter

SEED = 0xC0A1
CMP_KINDS = ("GREATER", "GREATER_EQUAL", "LESS", "LESS_EQUAL", "EQUAL", "NOT_EQUAL")
SHAPES = [
    ([2, 3, 4], [2, 3, 4]),
    ([1, 4, 4, 3], [3]),
    ([2, 1, 5], [1, 3, 1]),
    ([5], [1]),
    ([3, 1], []),
    ([2, 1, 3, 2, 2], [1, 2, 1, 1, 2]),
    ([2, 1, 3, 1, 2, 2], [1, 2, 1, 2, 1, 2]),
]
TT_ALL = dict(TT, bool="bool")


def _inputs(rng, dt, shape, q):
    if dt == "bool":
        return [rng.random(shape) < 0.5 for _ in range(3)] + [np.zeros(shape, bool), np.ones(shape, bool)]
    if dt == "i8" and q[0] is not None:
        # values near each other's so that rescaled ties and near-ties occur
        return make_inputs(rng, dt, shape, q[1] or 0) + [rng.integers(-3, 4, size=shape).astype(np.int8)]
    if dt == "f32":
        # exact ties through a coarse grid, plus NaN and infinities
        xs = [np.round(x * 2) / 2 for x in make_inputs(rng, dt, shape)]
        xs.append(np.resize(np.array([np.nan, np.inf, -np.inf, 0.0, -0.0], np.float32), shape).astype(np.float32))
        return xs
    return make_inputs(rng, dt, shape, q[1] or 0)


def compare_model(rng, kind, dt, sa, sb, const_b=False, same_q=False):
    w = ModelWriter()
    so = list(np.broadcast_shapes(tuple(sa), tuple(sb)))
    qa = (None, None) if dt == "bool" else qparams(rng, dt)
    qb = qa if same_q or dt == "bool" else qparams(rng, dt)
    if dt == "i32":
        qa = qb = (None, None)
    a = w.tensor(sa, TT_ALL[dt], *qa)
    sets_b = _inputs(rng, dt, sb, qb)
    b = w.tensor(sb, TT_ALL[dt], *qb, **({"data": sets_b[0]} if const_b else {}))
    y = w.tensor(so, "bool")
    w.op(kind, [a, b], [y])
    sets_a = _inputs(rng, dt, sa, qa)
    n = min(len(sets_a), len(sets_b))
    sets = [[sets_a[k]] + ([] if const_b else [sets_b[k]]) for k in range(n)]
    return w.build([a] if const_b else [a, b], [y]), sets


CASES = []
for _k, (_kind, _dt, (_sa, _sb)) in enumerate(
    (k, d, s) for k in CMP_KINDS for d in ("i8", "i32", "f32") for s in SHAPES
):
    CASES.append((_kind, _dt, _sa, _sb, _k % 4 == 1, _k % 3 == 2))
CASES += [(k, "bool", sa, sb, False, False) for k in ("EQUAL", "NOT_EQUAL") for sa, sb in SHAPES[:3]]


def _id(c):
    kind, dt, sa, sb, const_b, same_q = c
    return "%s-%s-%s-%s%s%s" % (
        kind,
        dt,
        shape_id(sa),
        shape_id(sb),
        "-const" if const_b else "",
        "-sameq" if same_q else "",
    )


def compare_case(case):
    kind, dt, sa, sb, const_b, same_q = case
    return compare_model(seeded_rng(SEED, _id(case)), kind, dt, sa, sb, const_b, same_q)


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_compare(case, tier, tmp_path):
    model, sets = compare_case(case)
    check(model, tmp_path, sets)


@pytest.mark.parametrize("case", CASES[::9], ids=_id)
def test_compare_isa(case, isa_arch):
    check_isa(*compare_case(case), isa_arch)


LOGICAL = ("LOGICAL_AND", "LOGICAL_OR")


def logical_model(rng, kind, sa, sb):
    w = ModelWriter()
    a = w.tensor(sa, "bool")
    if kind == "LOGICAL_NOT":
        y = w.tensor(sa, "bool")
        w.op(kind, [a], [y])
        return w.build([a], [y]), [[x] for x in _inputs(rng, "bool", sa, None)]
    b = w.tensor(sb, "bool")
    y = w.tensor(list(np.broadcast_shapes(tuple(sa), tuple(sb))), "bool")
    w.op(kind, [a, b], [y])
    return w.build([a, b], [y]), [list(p) for p in zip(_inputs(rng, "bool", sa, None), _inputs(rng, "bool", sb, None))]


LOGICAL_CASES = [(k, sa, sb) for k in LOGICAL for sa, sb in SHAPES[:4] + SHAPES[5:]] + [
    ("LOGICAL_NOT", [2, 3, 4], None)
]


@pytest.mark.parametrize("case", LOGICAL_CASES, ids=lambda c: "%s-%s" % (c[0], shape_id(c[1])))
def test_logical(case, tier, tmp_path):
    kind, sa, sb = case
    model, sets = logical_model(seeded_rng(SEED, "logical%s%s%s" % (kind, sa, sb)), kind, sa, sb)
    check(model, tmp_path, sets)


def chain_model(rng, dt):
    """GREATER(x, c) AND LESS(x, y) -> NOT -> SELECT_V2(., x, y): computed bools inside the graph
    (uint8 bytes) feeding a computed condition, and a bool second output."""
    w = ModelWriter()
    q = qparams(rng, dt)
    shape = [2, 3, 4]
    x = w.tensor(shape, TT[dt], *q)
    yv = w.tensor(shape, TT[dt], *q)
    c = w.tensor([4], TT[dt], *q, data=make_inputs(rng, dt, [4], q[1] or 0, n_random=1)[0])
    g, lt, both, nb = (w.tensor(shape, "bool") for _ in range(4))
    out = w.tensor(shape, TT[dt], *q)
    w.op("GREATER", [x, c], [g])
    w.op("LESS", [x, yv], [lt])
    w.op("LOGICAL_AND", [g, lt], [both])
    w.op("LOGICAL_NOT", [both], [nb])
    w.op("SELECT_V2", [nb, x, yv], [out])
    return w.build([x, yv], [out, both]), graph_sets(rng, [(dt, shape, q[1] or 0)] * 2)


@pytest.mark.parametrize("dt", ["i8", "f32"])
def test_compare_chain_select(dt, tier, tmp_path):
    model, sets = chain_model(seeded_rng(SEED, "chain" + dt), dt)
    check(model, tmp_path, sets)


def test_compare_refusals(tmp_path):
    from upyflow_tools import BakeError

    w = ModelWriter()
    a, b = w.tensor([3], "int8", 0.5, 0), w.tensor([3], "int16", 1e-4, 0)
    y = w.tensor([3], "bool")
    w.op("GREATER", [a, b], [y])
    with pytest.raises(BakeError, match="GREATER with tensor types i8/i16/bool is not supported"):
        bake_model(w.build([a, b], [y]), tmp_path)
    w = ModelWriter()
    a, b = w.tensor([3], "int16", 1e-4, 0), w.tensor([3], "int16", 1e-4, 0)
    y = w.tensor([3], "bool")
    w.op("EQUAL", [a, b], [y])
    with pytest.raises(BakeError, match="EQUAL with tensor types i16/i16/bool is not supported"):
        bake_model(w.build([a, b], [y]), tmp_path)
    w = ModelWriter()
    a, b = w.tensor([3], "int8", 2.0, 0), w.tensor([3], "int8", 0.5, 0)
    y = w.tensor([3], "bool")
    w.op("LESS", [a, b], [y])
    with pytest.raises(BakeError, match="outside"):
        bake_model(w.build([a, b], [y]), tmp_path)


@pytest.mark.parametrize("mpy_tier", ["pure", "viper", "natmod"], indirect=True)
def test_compare_micropython(mpy_tier, tmp_path):
    """A few cases on MicroPython, byte-identical with TFLM."""

    models = [compare_case(c) for c in CASES[::11]] + [
        chain_model(seeded_rng(SEED, "chain" + d), d) for d in ("i8", "f32")
    ]
    for k, (model, sets) in enumerate(models):
        got = run_sets_on_tier(model, sets, tmp_path, "cmp%d" % k, mpy_tier)
        for g, s in zip(got, sets):
            want = [np.ascontiguousarray(v).tobytes() for v in run_tflm(model, s)]
            assert list(g) == want, k


def test_bool_io_through_the_model_api(tier, tmp_path):
    """A bool graph input and output: input_dtype/output_dtype 'bool', quantize_input takes
    truth values, dequantize_output gives 0.0/1.0, get_output the bytes 0/1."""
    from harness import load_cpython

    w = ModelWriter()
    a, y = w.tensor([4], "bool"), w.tensor([4], "bool")
    w.op("LOGICAL_NOT", [a], [y])
    mdir, name, _ = bake_model(w.build([a], [y]), tmp_path)
    m = load_cpython(mdir, name)
    assert m.input_dtype[0] == m.output_dtype[0] == "bool"
    m.quantize_input([True, 0, 5, False])
    m.invoke()
    assert m.dequantize_output() == [0.0, 1.0, 0.0, 1.0]
    assert bytes(m.get_output(0)) == bytes([0, 1, 0, 1])
