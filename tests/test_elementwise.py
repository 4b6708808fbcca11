"""Generated tests of the element-wise operators, byte-identical with TFLM.

ADD, SUB, MUL, DIV, MAXIMUM, MINIMUM, SQUARED_DIFFERENCE (broadcasting, fused activations, constant
operands; int8 DIV on every pair of values, int32 SQUARED_DIFFERENCE) and small
graphs with branches, several inputs and outputs (and their arena against TFLM's). Each case
builds a .tflite with ModelWriter, bakes it, runs it on every CPython kernel tier (`tier`) and
on the TFLite Micro interpreter (the oracle) and compares the outputs; parameters derive from
one fixed seed and the case id. The seanet int16 ADD/SUB models run on their CSV inputs; a
handful of models run on MicroPython (`mpy_tier`). Nothing hard-codes an output.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import (
    ACTS,
    NP,
    TT,
    bake_model,
    check,
    check_isa,
    load_cpython,
    make_inputs,
    run_tflm,
    run_upyflow,
    seeded_rng,
    shared,
)
from op_models import graph_sets, qparams, seanet_elementwise_models, shape_id
from tflite_writer import ModelWriter

SEED = 0x5EED
HYPOTHESIS_EXAMPLES = int(os.environ.get("UPYFLOW_HYPOTHESIS_EXAMPLES", "10"))


def case_rng(case_id: str) -> np.random.Generator:
    return seeded_rng(SEED, case_id)


# --- ADD / SUB / MUL / MAXIMUM / MINIMUM ---------------------------------------------------
BIN_SHAPES = [
    ([2, 3, 4], [2, 3, 4]),
    ([1, 4, 4, 3], [3]),
    ([1, 4, 4, 3], [1, 1, 1, 3]),
    ([2, 1, 5], [1, 3, 1]),
    ([4, 1], [4, 6]),
    ([5], [1]),
    ([1], [2, 3]),
    ([3, 1], []),
    ([1, 2, 3, 4, 5], [1, 2, 1, 4, 1]),
    ([1, 5, 1, 3], [2, 1, 4, 1]),
    ([7], [7]),
    ([2, 1, 3, 1, 2, 3], [1, 2, 1, 2, 1, 3]),
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
    elif kind == "SQUARED_DIFFERENCE":
        # the square's range: (max input range)^2 spread over the output's levels, times 0.05..1
        top = np.iinfo(NP[dt]).max
        qo = (
            (2 * max(qa[0], qb[0]) * top) ** 2 / top * float(rng.uniform(0.05, 1.0)),
            0 if dt == "i16" else int(rng.integers(-128, 0)),
        )
    elif kind == "DIV":
        # quotients of typical inputs spread over the output's levels; zp_mode 2: the multiplier
        # in1_scale / (in2_scale * out_scale) between 2 and 50, else between 1/8 and 2/3
        factor = float(rng.uniform(0.02, 0.5) if zp_mode == 2 else rng.uniform(1.5, 8.0))
        qo = (qa[0] / qb[0] * factor, int(rng.integers(-100, 100)))
    elif kind == "MUL":
        top = np.iinfo(NP[dt]).max
        qo = (
            qa[0] * qb[0] * (float(rng.uniform(0.1, 0.6)) if zp_mode == 2 else top * float(rng.uniform(0.2, 1.2))),
            0 if dt == "i16" else int(rng.integers(-50, 50)),
        )
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
    opts = {} if kind in ("MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE") else dict(fused_activation_function=act)
    w.op(kind, [a, b], [y], **opts)
    ins = [a] if const_b else [a, b]
    specs = [(dt, sa, qa[1] or 0)] + ([] if const_b else [(dt, sb, qb[1] or 0)])
    return w.build(ins, [y]), specs


BIN_CASES = []
for _k, (_kind, _dt, (_sa, _sb)) in enumerate(
    (k, d, s) for k in BIN_KINDS for d in ("i8", "i16", "f32") for s in BIN_SHAPES
):
    if _kind in ("MAXIMUM", "MINIMUM") and len(_sa) > 5:
        continue  # TFLM's maximum/minimum broadcast stops at 5-D
    BIN_CASES.append((_kind, _dt, _sa, _sb, ACTS[_k % 4], _k % 7 == 3, 1 if _k % 5 == 1 else 0))
# MUL with multipliers above 1 (the product needs fewer bits than the output scale gives)
BIN_CASES += [("MUL", d, sa, sb, "NONE", False, 2) for d in ("i8", "i16") for sa, sb in BIN_SHAPES[:4]]
# float32 DIV (fused activations) and SQUARED_DIFFERENCE (none)
BIN_CASES += [
    (k, "f32", sa, sb, ACTS[i % 4] if k == "DIV" else "NONE", i % 5 == 2, 0)
    for k in ("DIV", "SQUARED_DIFFERENCE")
    for i, (sa, sb) in enumerate(BIN_SHAPES)
    if len(sa) <= 5
]
# int8/int16 SQUARED_DIFFERENCE (different input scales; int16 zero points 0), broadcasting
BIN_CASES += [
    ("SQUARED_DIFFERENCE", d, sa, sb, "NONE", i % 5 == 2, 0)
    for d in ("i8", "i16")
    for i, (sa, sb) in enumerate(BIN_SHAPES)
    if len(sa) <= 5
]
# int8 DIV: fused activations, constant divisors, multipliers above and below 1; the inputs at
# the zero point divide by zero, which TFLM's arithmetic computes (no error)
BIN_CASES += [
    ("DIV", "i8", sa, sb, ACTS[i % 4], i % 5 == 2, 2 if i % 2 else 0)
    for i, (sa, sb) in enumerate(BIN_SHAPES)
    if len(sa) <= 5
]
# every activation on a fixed broadcast, each type
BIN_CASES += [
    (k, d, [2, 3, 4], [4], a, False, 0) for k in ("ADD", "SUB", "MUL") for d in ("i8", "i16", "f32") for a in ACTS
]


def _bin_id(c):
    kind, dt, sa, sb, act, const_b, zp_mode = c
    return "%s-%s-%s-%s-%s%s%s" % (
        kind,
        dt,
        shape_id(sa),
        shape_id(sb),
        act,
        "-const" if const_b else "",
        "-zp" if zp_mode == 1 and dt == "i16" and kind in ("ADD", "SUB") else "-bigmult" if zp_mode == 2 else "",
    )


def binary_case(case):
    """(model bytes, input sets) of one case."""
    kind, dt, sa, sb, act, const_b, zp_mode = case
    rng = case_rng("binary" + _bin_id(case))
    model, specs = binary_model(
        rng, kind, dt, sa, sb, act, const_b, zp_mode if kind in ("ADD", "SUB") or zp_mode == 2 else 0
    )
    return model, graph_sets(rng, specs)


@pytest.mark.parametrize("case", BIN_CASES, ids=_bin_id)
def test_binary(case, tier, tmp_path):
    model, sets = binary_case(case)
    check(model, tmp_path, sets)


@pytest.mark.parametrize(
    "case", BIN_CASES[::20] + [c for c in BIN_CASES if c[0] in ("DIV", "SQUARED_DIFFERENCE")][::3], ids=_bin_id
)
def test_binary_isa(case, isa_arch):
    """Every 20th case (and a third of DIV, SQUARED_DIFFERENCE) on the boards' ISAs."""
    check_isa(*binary_case(case), isa_arch)


# --- int8 DIV on every pair of int8 values ---------------------------------------------------------
# (in1 scale, zp, in2 scale, zp, out scale, zp, activation): the second input at its zero point
# divides by 0 (TFLM's reciprocal of 0: no error, its bytes); tiny multipliers give the shift
# exponents of 32 and 64 and more whose results are the TFLM interpreter's x86-64 shifts.
DIV_EVERY_PAIR = [
    (0.05, 3, 0.02, -7, 0.3, 10, "RELU6"),  # quotients on exact ties: the multiplier in double
    (0.01, 0, 0.5, 0, 0.5, 0, "NONE"),  # multiplier 0.04: exponents 32 to 45
    (1e-6, 5, 0.9, 0, 0.9, 0, "RELU"),  # multiplier 2^-20: exponents up to 58
    (1e-9, 5, 0.9, -128, 0.9, 0, "NONE"),  # multiplier 2^-30: exponents 64 and more
    (0.5, 20, 1e-3, -50, 1e-2, -20, "RELU_N1_TO_1"),  # multiplier 5e4 (shift 16)
    (0.5, -128, 1e-3, 127, 1.2e-4, 127, "NONE"),  # multiplier 4.2e6 (shift 22, the largest accepted)
    (0.0754, 47, 0.2124, 101, 0.00474, -114, "NONE"),
    (0.4175, -52, 0.00104, -1, 0.2462, 82, "NONE"),
]


def div_every_pair_case(case, broadcast):
    """(model bytes, input sets): the second input's 256 values against the first's."""
    s1, z1, s2, z2, so, zo, act = case
    w = ModelWriter()
    a = w.tensor([256, 1] if broadcast else [256, 256], "int8", s1, z1)
    b = w.tensor([1, 256] if broadcast else [256, 256], "int8", s2, z2)
    y = w.tensor([256, 256], "int8", so, zo)
    w.op("DIV", [a, b], [y], fused_activation_function=act)
    v = np.arange(-128, 128, dtype=np.int8)
    if broadcast:
        ins = [v.reshape(256, 1), v.reshape(1, 256)]
    else:
        ins = [np.repeat(v[:, None], 256, 1), np.repeat(v[None, :], 256, 0)]
    return w.build([a, b], [y]), [ins]


@pytest.mark.parametrize("broadcast", [False, True], ids=["elementwise", "broadcast"])
@pytest.mark.parametrize("case", DIV_EVERY_PAIR, ids=[str(i) for i in range(len(DIV_EVERY_PAIR))])
def test_div_int8_every_pair(case, broadcast, tier, tmp_path):
    model, sets = div_every_pair_case(case, broadcast)
    check(model, tmp_path, sets)


@pytest.mark.parametrize("case", [0, 2, 3, 5])
def test_div_int8_every_pair_isa(case, isa_arch):
    """The C kernel's exponents of 32 and 64 and more, division by 0 and the largest multiplier on
    the boards' ISAs."""
    check_isa(*div_every_pair_case(DIV_EVERY_PAIR[case], False), isa_arch)


# --- int32 SQUARED_DIFFERENCE (the difference and its square wrap as C int32) ----------------------
@pytest.mark.parametrize("shapes", BIN_SHAPES[:10], ids=[shape_id(a) + "-" + shape_id(b) for a, b in BIN_SHAPES[:10]])
def test_squared_difference_int32(shapes, tier, tmp_path):
    sa, sb = shapes
    rng = case_rng("sqdiff-i32" + shape_id(sa) + shape_id(sb))
    w = ModelWriter()
    a, b = w.tensor(sa, "int32"), w.tensor(sb, "int32")
    y = w.tensor(list(np.broadcast_shapes(tuple(sa), tuple(sb))), "int32")
    w.op("SQUARED_DIFFERENCE", [a, b], [y])
    i32 = np.iinfo(np.int32)

    def sets(shape):
        return [
            rng.integers(-3000, 3000, size=shape, dtype=np.int32),  # squares that fit
            rng.integers(-60000, 60000, size=shape, dtype=np.int32),  # squares that wrap
            rng.integers(i32.min, i32.max, size=shape, dtype=np.int32, endpoint=True),  # differences that wrap
            np.full(shape, i32.min, np.int32),
            np.full(shape, i32.max, np.int32),
        ]

    sets_a, sets_b = sets(sa), sets(sb)
    check(w.build([a, b], [y]), tmp_path, [[x, z] for x in sets_a for z in sets_b[::2]])


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
def test_graph(name, dt, tier, tmp_path):
    rng = case_rng("graph" + name + dt)
    model, specs = GRAPHS[name](rng, dt)
    check(model, tmp_path, graph_sets(rng, specs))


@pytest.mark.parametrize("name,dt", GRAPH_CASES, ids=["%s-%s" % c for c in GRAPH_CASES])
def test_arena_not_larger_than_tflm(name, dt, tmp_path):
    from upyflow_tools.tflm import head_arena_bytes

    model, _ = GRAPHS[name](case_rng("graph" + name + dt), dt)
    path = tmp_path / "g.tflite"
    path.write_bytes(model)
    _, _, result = bake_model(path, tmp_path)
    tflm = head_arena_bytes(str(path))
    assert tflm is not None, "could not read TFLM's arena figure"
    assert result.arena_size <= tflm, (result.arena_size, tflm)


# --- seanet models (int16 ADD, SUB) ------------------------------------------------------------
SEANET_CASES = [(op, m) for op in ("add", "sub") for m in seanet_elementwise_models(op)]


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


# --- property test -------------------------------------------------------------------------
@st.composite
def broadcast_pairs(draw):
    rank = draw(st.integers(1, 5))
    out = [draw(st.integers(1, 4)) for _ in range(rank)]
    sa = [d if draw(st.booleans()) else 1 for d in out]
    sb = [d if draw(st.booleans()) else 1 for d in out]
    sa = sa[draw(st.integers(0, rank - 1)) :] if draw(st.booleans()) else sa
    return sa, sb


@pytest.mark.usefixtures("tier")
@settings(max_examples=HYPOTHESIS_EXAMPLES, deadline=None)
@given(
    shapes=broadcast_pairs(),
    kind=st.sampled_from(BIN_KINDS),
    dt=st.sampled_from(("i8", "i16", "f32")),
    act=st.sampled_from(ACTS),
    seed=st.integers(0, 2**32 - 1),
)
def test_binary_property(shapes, kind, dt, act, seed, tmp_path_factory):
    rng = np.random.default_rng(seed)
    model, specs = binary_model(rng, kind, dt, shapes[0], shapes[1], act)
    check(model, tmp_path_factory.mktemp("prop"), graph_sets(rng, specs, n_random=2))


# --- unsupported variants: a one-line BakeError naming the operator --------------------------
def _rejects():
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

    def sqdiff16_zp(w):
        a, b = w.tensor([4], "int16", 0.001, 0), w.tensor([4], "int16", 0.001, 5)
        y = w.tensor([4], "int16", 0.001, 0)
        w.op("SQUARED_DIFFERENCE", [a, b], [y])
        return [a, b], [y]

    def sqdiff_big_out_multiplier(w):
        a, b = w.tensor([4], "int8", 0.5, 0), w.tensor([4], "int8", 0.5, 0)
        y = w.tensor([4], "int8", 1e-9, 0)
        w.op("SQUARED_DIFFERENCE", [a, b], [y])
        return [a, b], [y]

    def div16(w):
        a, b = w.tensor([4], "int16", 0.001, 0), w.tensor([4], "int16", 0.001, 0)
        y = w.tensor([4], "int16", 0.001, 0)
        w.op("DIV", [a, b], [y])
        return [a, b], [y]

    def div_huge_multiplier(w):
        a, b = w.tensor([4], "int8", 1.0, 0), w.tensor([4], "int8", 1e-4, 0)
        y = w.tensor([4], "int8", 1e-3, 0)
        w.op("DIV", [a, b], [y])
        return [a, b], [y]

    return {
        f.__name__: (f, op)
        for f, op in (
            (div16, "DIV"),
            (div_huge_multiplier, "DIV"),
            (mul16_zp, "MUL"),
            (mixed_types, "ADD"),
            (no_broadcast, "SUB"),
            (tiny_out_scale, "ADD"),
            (sqdiff16_zp, "SQUARED_DIFFERENCE"),
            (sqdiff_big_out_multiplier, "SQUARED_DIFFERENCE"),
        )
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


# --- MicroPython (unix port): the pure tier, viper and the natmod ---------------------------
def mpy_models():
    """A handful of the models above: (id, model bytes, input sets)."""
    out = []
    for kind, dt, sa, sb, act in (
        ("ADD", "i8", [1, 4, 4, 3], [3], "RELU"),
        ("SUB", "i16", [2, 3, 4], [4], "NONE"),
        ("MUL", "f32", [2, 1, 5], [1, 3, 1], "RELU6"),
        ("MINIMUM", "i8", [4, 1], [4, 6], "NONE"),
        ("SQUARED_DIFFERENCE", "i8", [1, 4, 4, 3], [3], "NONE"),
        ("SQUARED_DIFFERENCE", "i16", [2, 3, 4], [4], "NONE"),
        ("DIV", "i8", [1, 4, 4, 3], [3], "RELU"),
        ("DIV", "i8", [2, 1, 5], [1, 3, 1], "NONE"),
    ):
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
    outdir = tmp_path_factory.mktemp("ew_mpy")
    baked = []
    for k, (cid, model, sets) in enumerate(mpy_models()):
        _, name, _ = bake_model(model, outdir, name="ew%d" % k)
        baked.append((cid, name, sets, [run_tflm(model, s) for s in sets]))
    return str(outdir), baked


def _run_mpy(mdir, baked, env, extra=None):
    from upyflow_tools.unixport import run_batch

    for cid, name, sets, want in baked:
        got, _ = run_batch(
            mdir,
            name,
            [[np.ascontiguousarray(x).tobytes() for x in s] for s in sets],
            heapsize="2M",
            env=env,
            extra_paths=extra,
        )
        for k, (g, w) in enumerate(zip(got, want)):
            for gb, wa in zip(g, w):
                assert gb == np.ascontiguousarray(wa).tobytes(), "%s input set %d differs from TFLM" % (cid, k)


@pytest.mark.parametrize("mpy_tier", ["pure", "viper", "natmod"], indirect=True)
def test_micropython(mpy_baked, mpy_tier):
    _run_mpy(*mpy_baked, env={"UPYFLOW_TIER": mpy_tier.tier}, extra=list(mpy_tier.extra_paths))
