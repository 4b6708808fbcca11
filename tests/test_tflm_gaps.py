"""Generated single-operator tests of operators the TFLM audit listed as gaps (tflm_audit.py), each
against the TFLite Micro interpreter (the oracle) on the CPython tiers and on MicroPython: int8
bytes equal, float32 within 1e-5 relative (1e-6 absolute, the audit's tolerance).

ADD_N int8: 2 to 20 inputs (TFLM's int32 sum wrapping past 16 full-range ones), several scales
and zero points, saturating outputs.
FLOOR_DIV, FLOOR_MOD float32 on computed tensors: random operands, dividends at and one float
beside integer multiples of the divisor (where the float quotient rounds onto an integer the exact
one is below), signed zeros, subnormals, huge and tiny magnitudes, infinities, NaN (FLOOR_MOD also
by 0; TFLM fails FLOOR_DIV by 0), broadcasting up to 6-D; compared byte for byte.
CUMSUM int8 and float32: every axis (negative too) of 1-D to 4-D inputs, exclusive and reverse
each way, several scales, a 40-long axis of full-range int8 (TFLM's int32 sum wrapping).
L2_POOL_2D float32: windows 1x1 to 3x3, strides 1 to 3, SAME and VALID padding, each fused
activation; values small, large (squares past float32's range), tiny (squares below it), NaN.
SIN, COS float32: arguments in [-4, 4] and [-1000, 1000], at float32's multiples of pi/2 up to
1.6e5 (results near 0), magnitudes 1e-9 to 1e38, subnormals, signed zeros, infinities, NaN:
within 1e-6 relative of TFLM's everywhere, near the zeros of sin and cos too (no absolute slack:
the kernels reduce the argument exactly).
"""

from __future__ import annotations

import numpy as np
import pytest

from harness import bake_model, check, check_isa, load_cpython, run_sets_on_tier, run_tflm, run_upyflow, seeded_rng
from tflite_writer import ModelWriter

SEED = 0x6A95


def _int8_sets(rng, shape, count, n_random=3):
    """Per input set, `count` int8 arrays: random ones, then all at the extremes."""
    sets = [[rng.integers(-128, 128, size=shape).astype(np.int8) for _ in range(count)] for _ in range(n_random)]
    sets.append([np.full(shape, 127, np.int8) for _ in range(count)])
    sets.append([np.full(shape, -128, np.int8) for _ in range(count)])
    return sets


# --- ADD_N int8 ---------------------------------------------------------------------------------
# (inputs, shape, (in scale, in zp), (out scale, out zp))
ADD_N_CASES = [
    (2, [7], (0.05, 3), (0.07, -5)),
    (3, [2, 3, 4], (0.05, 3), (0.07, -5)),
    (3, [1, 4, 4, 8], (0.02, -128), (0.1, 100)),
    (4, [5, 6], (0.1, 127), (0.05, 0)),
    (5, [3, 1, 2, 5], (0.003, -20), (0.4, -128)),
    (2, [16], (1.0, 0), (0.004, 10)),
    (17, [9], (0.05, -128), (0.5, 0)),
    (20, [2, 5], (0.05, -128), (0.9, -100)),
]


def add_n_model(count, shape, qi, qo):
    w = ModelWriter()
    xs = [w.tensor(shape, "int8", *qi) for _ in range(count)]
    y = w.tensor(shape, "int8", *qo)
    w.op("ADD_N", xs, [y])
    return w.build(xs, [y])


def _add_n(case):
    count, shape = case[0], case[1]
    return add_n_model(*case), _int8_sets(seeded_rng(SEED, "add_n%s" % (case,)), shape, count)


@pytest.mark.parametrize("case", ADD_N_CASES, ids=lambda c: "n%d-%s-%g" % (c[0], "x".join(map(str, c[1])), c[3][0]))
def test_add_n_s8(case, tier, tmp_path):
    model, sets = _add_n(case)
    check(model, tmp_path, sets)


# --- FLOOR_DIV, FLOOR_MOD float32 -------------------------------------------------------------------
BIN_SHAPES = [([2, 3, 4], [2, 3, 4]), ([2, 3, 4], [3, 1]), ([5], []), ([2, 1, 2, 1, 3, 2], [1, 2, 1, 2, 1, 2])]
SPECIAL = [0.0, -0.0, 1e-45, -1e-45, 1e-40, 3e38, -3e38, 1e-30, -1e-30, 7.0, -7.0, 0.1, np.inf, -np.inf, np.nan]


def binary_f32_model(op, sa, sb):
    w = ModelWriter()
    a, b = w.tensor(sa, "float32"), w.tensor(sb, "float32")
    y = w.tensor(list(np.broadcast_shapes(tuple(sa), tuple(sb))), "float32")
    w.op(op, [a, b], [y])
    return w.build([a, b], [y])


def floor_sets(op, sa, sb):
    rng = seeded_rng(SEED, "%s%s%s" % (op, sa, sb))
    f = np.float32

    def divisor(shape, lo, hi):
        v = rng.uniform(lo, hi, size=shape) * rng.choice([-1, 1], size=shape)
        return v.astype(f)

    sets = [[rng.uniform(-50, 50, size=sa).astype(f), divisor(sb, 0.1, 10)] for _ in range(2)]
    sets.append([rng.uniform(-1e6, 1e6, size=sa).astype(f), divisor(sb, 1e-3, 1e3)])
    if sa == sb:  # dividends at and beside integer multiples of the divisor
        b = divisor(sb, 0.01, 100)
        k = rng.integers(-2000, 2000, size=sa)
        exact = (k * b.astype(np.float64)).astype(f)
        sets += [[exact, b], [np.nextafter(exact, f(np.inf)), b], [np.nextafter(exact, f(-np.inf)), b]]
        sp = np.array(SPECIAL, f)
        n = int(np.prod(sa))
        a, d = np.meshgrid(sp, sp)
        a, d = a.reshape(-1), d.reshape(-1)
        if op == "FLOOR_DIV":  # TFLM fails on a divisor 0
            keep = d != 0
            a, d = a[keep], d[keep]
        for k0 in range(0, len(a), n):
            sets.append([np.resize(a[k0 : k0 + n], n).reshape(sa), np.resize(d[k0 : k0 + n], n).reshape(sb)])
    return sets


FLOOR_CASES = [(op, sa, sb) for op in ("FLOOR_DIV", "FLOOR_MOD") for sa, sb in BIN_SHAPES]


@pytest.mark.parametrize("op", ["FLOOR_DIV", "FLOOR_MOD"])
def test_floor_div_mod_of_constants(op, tmp_path):
    """Constant operands fold at bake time: TFLM's values too (at integer multiples of the divisor)."""
    rng = seeded_rng(SEED, "const" + op)
    b = (rng.uniform(0.01, 100, 64) * rng.choice([-1, 1], 64)).astype(np.float32)
    a = (rng.integers(-2000, 2000, 64) * b.astype(np.float64)).astype(np.float32)
    a = np.concatenate([a, np.nextafter(a, np.float32(np.inf))])
    b = np.concatenate([b, b])
    w = ModelWriter()
    ca, cb = w.tensor([128], "float32", data=a), w.tensor([128], "float32", data=b)
    q, x, y = w.tensor([128], "float32"), w.tensor([128], "float32"), w.tensor([128], "float32")
    w.op(op, [ca, cb], [q])
    w.op("ADD", [q, x], [y], fused_activation_function="NONE")
    model = w.build([x], [y])
    check_bytes(model, [[np.zeros(128, np.float32)]], tmp_path)


def _floor(case):
    return binary_f32_model(*case), floor_sets(*case)


def check_bytes(model, sets, tmp_path):
    """Bake, run on the forced CPython tier: TFLM's bytes for every input set (any NaN for a NaN)."""
    mdir, name, _ = bake_model(model, tmp_path)
    m = load_cpython(mdir, name)
    for k, ins in enumerate(sets):
        for g, w in zip(run_upyflow(m, ins), run_tflm(model, ins)):
            g, w = g.reshape(-1), w.reshape(-1)
            bad = np.flatnonzero((g.view(np.uint32) != w.view(np.uint32)) & ~(np.isnan(g) & np.isnan(w)))
            assert not len(bad), "set %d: %s gives %s, TFLM %s" % (
                k,
                [x.reshape(-1)[bad[:4] % x.size] for x in ins],
                g[bad[:4]],
                w[bad[:4]],
            )


@pytest.mark.parametrize("case", FLOOR_CASES, ids=lambda c: "%s-%s-%s" % (c[0], c[1], c[2]))
def test_floor_div_mod_f32(case, tier, tmp_path):
    check_bytes(*_floor(case), tmp_path)


# --- CUMSUM ---------------------------------------------------------------------------------------
CUMSUM_SHAPES = [([8], 0), ([2, 3, 4], 0), ([2, 3, 4], 1), ([2, 3, 4], -1), ([1, 4, 4, 8], 3), ([40, 3], 0)]
CUMSUM_Q = [((0.05, 3), (0.07, -5)), ((0.02, -128), (0.5, 10)), ((0.1, 100), (0.01, 0))]
CUMSUM_CASES = [
    (dt, shape, axis, ex, rev, CUMSUM_Q[k % 3] if dt == "int8" else None)
    for dt in ("int8", "float32")
    for k, (shape, axis) in enumerate(CUMSUM_SHAPES)
    for ex in (0, 1)
    for rev in (0, 1)
]


def cumsum_model(dt, shape, axis, ex, rev, q):
    w = ModelWriter()
    qi, qo = q or ((None, None), (None, None))
    x, y = w.tensor(shape, dt, *qi), w.tensor(shape, dt, *qo)
    ax = w.tensor([], "int32", data=np.array(axis, np.int32).reshape(()))
    w.op("CUMSUM", [x, ax], [y], exclusive=bool(ex), reverse=bool(rev))
    return w.build([x], [y])


def _cumsum(case):
    dt, shape = case[0], case[1]
    rng = seeded_rng(SEED, "cumsum%s" % (case,))
    if dt == "int8":
        return cumsum_model(*case), _int8_sets(rng, shape, 1)
    sets = [
        [rng.uniform(-4, 4, size=shape).astype(np.float32)],
        [rng.uniform(-1e4, 1e4, size=shape).astype(np.float32)],
    ]
    edge = np.resize(np.array([-0.0, 1e-45, 3e38, 3e38, -1e30, 0.1, -0.0, 7.5], np.float32), int(np.prod(shape)))
    return cumsum_model(*case), sets + [[edge.reshape(shape)]]


@pytest.mark.parametrize(
    "case", CUMSUM_CASES, ids=lambda c: "%s-%s-ax%d-ex%d-rev%d" % (c[0], "x".join(map(str, c[1])), c[2], c[3], c[4])
)
def test_cumsum(case, tier, tmp_path):
    model, sets = _cumsum(case)
    if case[0] == "float32":
        check_bytes(model, sets, tmp_path)  # float32 sums in TFLM's order: the same bytes
    else:
        check(model, tmp_path, sets)


# --- L2_POOL_2D -------------------------------------------------------------------------------------
# (input shape, (k_h, k_w), (s_h, s_w), padding, activation)
L2_CASES = [
    ([1, 4, 4, 2], (2, 2), (2, 2), "VALID", "NONE"),
    ([1, 5, 7, 3], (3, 3), (1, 1), "SAME", "NONE"),
    ([1, 5, 7, 3], (3, 2), (2, 3), "SAME", "RELU6"),
    ([1, 6, 5, 1], (2, 3), (1, 2), "VALID", "RELU_N1_TO_1"),
    ([1, 3, 3, 4], (1, 1), (1, 1), "SAME", "RELU"),
    ([1, 8, 8, 5], (3, 3), (2, 2), "SAME", "NONE"),
]


def l2_pool_model(shape, k, s, padding, act):
    w = ModelWriter()
    if padding == "VALID":
        oh, ow = (shape[1] - k[0]) // s[0] + 1, (shape[2] - k[1]) // s[1] + 1
    else:
        oh, ow = -(-shape[1] // s[0]), -(-shape[2] // s[1])
    x, y = w.tensor(shape, "float32"), w.tensor([1, oh, ow, shape[3]], "float32")
    w.op(
        "L2_POOL_2D",
        [x],
        [y],
        padding=padding,
        stride_h=s[0],
        stride_w=s[1],
        filter_height=k[0],
        filter_width=k[1],
        fused_activation_function=act,
    )
    return w.build([x], [y])


def _l2(case):
    shape = case[0]
    rng = seeded_rng(SEED, "l2%s" % (case,))
    n = int(np.prod(shape))
    sets = [
        [rng.uniform(-4, 4, size=shape).astype(np.float32)],
        [rng.uniform(-0.3, 0.3, size=shape).astype(np.float32)],
    ]
    edge = np.resize(np.array([1e20, -3e19, 1e-25, -1e-30, 0.0, -0.0, 2.5, np.nan, 1e-3], np.float32), n)
    return l2_pool_model(*case), sets + [[edge.reshape(shape)], [edge[::-1].copy().reshape(shape)]]


@pytest.mark.parametrize("case", L2_CASES, ids=lambda c: "%s-k%s-s%s-%s-%s" % ("x".join(map(str, c[0])), *c[1:]))
def test_l2_pool_f32(case, tier, tmp_path):
    model, sets = _l2(case)
    check(model, tmp_path, sets)


# --- SIN, COS --------------------------------------------------------------------------------------
def trig_model(op, shape):
    w = ModelWriter()
    x, y = w.tensor(shape, "float32"), w.tensor(shape, "float32")
    w.op(op, [x], [y])
    return w.build([x], [y])


def trig_sets(op, n):
    rng = seeded_rng(SEED, "trig%s%d" % (op, n))
    vals = [rng.uniform(-4, 4, n), rng.uniform(-1000, 1000, n), rng.integers(-100000, 100000, n) * (np.pi / 2)]
    vals.append(np.exp(rng.uniform(-20, 88, n)) * rng.choice([-1, 1], n))
    special = [0.0, -0.0, 1e-45, -1e-40, 0.7853981, 0.7853982, -2.3561945, 3e38, -3e38, 16777216.0]
    vals.append(np.resize(np.array(special + [np.inf, -np.inf, np.nan]), n))
    return [[v.astype(np.float32)] for v in vals]


TRIG_CASES = [(op, shape) for op in ("SIN", "COS") for shape in ([512], [2, 3, 4])]


def _trig(case):
    op, shape = case
    n = int(np.prod(shape))
    return trig_model(op, shape), [[s[0].reshape(shape)] for s in trig_sets(op, n)]


def assert_close(got, want, what, rtol=1e-6):
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape, what
        np.testing.assert_allclose(g, w, rtol=rtol, atol=0, equal_nan=True, err_msg=what)


@pytest.mark.parametrize("case", TRIG_CASES, ids=lambda c: "%s-%s" % (c[0], "x".join(map(str, c[1]))))
def test_sin_cos_f32(case, tier, tmp_path):
    model, sets = _trig(case)
    mdir, name, _ = bake_model(model, tmp_path)
    m = load_cpython(mdir, name)
    for k, ins in enumerate(sets):
        assert_close(run_upyflow(m, ins), run_tflm(model, ins), "input set %d" % k)


def _mpy_models():
    return (
        [_add_n(c) for c in ADD_N_CASES]
        + [_floor(c) for c in FLOOR_CASES]
        + [_cumsum(c) for c in CUMSUM_CASES]
        + [_l2(c) for c in L2_CASES]
        + [_trig(c) for c in TRIG_CASES]
    )


ISA_MODELS = (
    [("add_n", _add_n, ADD_N_CASES[6]), ("floor_div", _floor, FLOOR_CASES[0]), ("floor_mod", _floor, FLOOR_CASES[4])]
    + [("cumsum_s8", _cumsum, CUMSUM_CASES[23]), ("cumsum_f32", _cumsum, CUMSUM_CASES[-3])]
    + [("l2_pool", _l2, L2_CASES[2]), ("sin", _trig, TRIG_CASES[0]), ("cos", _trig, TRIG_CASES[2])]
)


@pytest.mark.parametrize("what,make,case", ISA_MODELS, ids=[m[0] for m in ISA_MODELS])
def test_gaps_isa(what, make, case, isa_arch):
    """The C kernels compiled for the board ISAs (Cortex-M0+ and M4F, RV32IMC) under unicorn."""
    check_isa(*make(case), isa_arch)


def test_gaps_xtensa(tmp_path):
    """The same models' C kernels as ESP32 (Xtensa) code under QEMU (at most 8 inputs: ADD_N of 5)."""
    import os

    pytest.importorskip("elftools")
    from upyflow_tools.isa import xtensa_qemu as xq
    from upyflow_tools.runner import load_module

    if xq.missing_tools():
        pytest.skip("needs " + ", ".join(xq.missing_tools()))
    elf = xq.build(tmp_path / "build")
    for what, make, case in [("add_n5", _add_n, ADD_N_CASES[4])] + ISA_MODELS[1:]:
        model, sets = make(case)
        mdir, name, _ = bake_model(model, tmp_path, name=what)
        res = xq.run(load_module(os.path.join(mdir, name + ".py")), [[x.tobytes() for x in s] for s in sets], elf=elf)
        for k, (s, outs) in enumerate(zip(sets, res.outputs)):
            for g, w in zip(outs, run_tflm(model, s)):
                g = np.frombuffer(g, w.dtype).reshape(w.shape)
                if w.dtype == np.float32:
                    np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6, err_msg="%s set %d" % (what, k))
                else:
                    np.testing.assert_array_equal(g, w, err_msg="%s set %d" % (what, k))


@pytest.mark.parametrize("mpy_tier", ["pure", "viper", "natmod"], indirect=True)
def test_gaps_micropython(mpy_tier, tmp_path):
    """Every model above on MicroPython: TFLM's int8 bytes, float32 within the tolerance."""
    for k, (model, sets) in enumerate(_mpy_models()):
        got = run_sets_on_tier(model, sets, tmp_path, "gp%d" % k, mpy_tier)
        for g_outs, s in zip(got, sets):
            for g, w in zip(g_outs, run_tflm(model, s)):
                g = np.frombuffer(g, w.dtype).reshape(w.shape)
                if w.dtype == np.float32:
                    np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6, err_msg="model %d" % k)
                else:
                    np.testing.assert_array_equal(g, w, err_msg="model %d" % k)


def _refusal(build):
    from upyflow_tools import BakeError
    from upyflow_tools.bake import compile_model

    with pytest.raises(BakeError) as e:
        compile_model("x.tflite", data=build())
    assert "\n" not in str(e.value)
    return str(e.value)


def test_refusals():
    """What TFLM cannot run either is refused at bake time with one line."""

    def add_n_mixed():
        w = ModelWriter()
        a, b = w.tensor([4], "int8", 0.05, 3), w.tensor([4], "int8", 0.05, 4)
        y = w.tensor([4], "int8", 0.05, 3)
        w.op("ADD_N", [a, b], [y])
        return w.build([a, b], [y])

    def floor_div_by_zero():
        w = ModelWriter()
        a, b = w.tensor([4], "float32"), w.tensor([4], "float32", data=np.array([1, 2, 0, 3], np.float32))
        y = w.tensor([4], "float32")
        w.op("FLOOR_DIV", [a, b], [y])
        return w.build([a], [y])

    def cumsum_axis(axis_data, dt="float32", qo=(None, None)):
        w = ModelWriter()
        x = w.tensor([2, 3], dt, *((0.5, 0) if dt == "int8" else (None, None)))
        ax = w.tensor([], "int32", data=np.array(axis_data, np.int32).reshape(())) if axis_data is not None else None
        ax = ax if ax is not None else w.tensor([], "int32")
        y = w.tensor([2, 3], dt, *qo)
        w.op("CUMSUM", [x, ax], [y], exclusive=False, reverse=False)
        return w.build([x] if axis_data is not None else [x, ax], [y])

    assert "quantized differently" in _refusal(add_n_mixed)
    assert "divides by a constant 0" in _refusal(floor_div_by_zero)
    assert "axis" in _refusal(lambda: cumsum_axis(2))
    assert "axis" in _refusal(lambda: cumsum_axis(None))
    assert "outside (0, 1)" in _refusal(lambda: cumsum_axis(1, "int8", (1e-7, 0)))
