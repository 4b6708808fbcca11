"""Generated tests of CAST and FILL on computed tensors, byte-identical with TFLM.

CAST: every pair of int8, int16, int32, uint32, float32 and bool in and out (TFLM's cast.cc in;
the interpreter also writes bool), float32 inputs at the conversion's edges (halves, the
types' limits, beyond them, infinities, NaN: the interpreter truncates toward zero and
saturates, NaN to 0), and bools computed inside the graph (uint8 bytes on the board) both
ways. FILL: int8, int32 and float32 values computed at run time (TFLM's types) into a
constant shape, alone and feeding an ADD. Each model is built with ModelWriter, baked, run
on every CPython tier (`tier`) and on MicroPython, and its output bytes compared with the
TFLite Micro interpreter's (the oracle).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from harness import bake_model, check_isa, load_cpython, run_sets_on_tier, run_tflm, run_upyflow, seeded_rng
from op_models import shape_id
from tflite_writer import ModelWriter

SEED = 0xCA57
TYPES = ("int8", "int16", "int32", "uint32", "float32", "bool")
NPT = {
    "int8": np.int8,
    "int16": np.int16,
    "int32": np.int32,
    "uint32": np.uint32,
    "float32": np.float32,
    "bool": np.bool_,
}
# float32 -> integer edges: halves, each type's limits and one past them, the float32 values
# next to 2^31 and 2^32, infinities, NaN, signed zeros, a subnormal
EDGES = np.array(
    [0.0, -0.0, 0.5, -0.5, 0.99, -0.99, 1.5, -1.5, 127.9, 128.0, -128.9, -129.0, 255.0, 256.0, 300.7, -300.7]
    + [32767.5, 32768.0, -32768.9, -32769.0, 65535.0, 65536.0, 2147483520.0, 2147483648.0, -2147483648.0]
    + [-2147483904.0, 4294967040.0, 4294967296.0, 1e10, -1e10, 3e38, -3e38, np.inf, -np.inf, np.nan, -np.nan]
    + [1e-45, -1e-45, 3e9, -3e9],
    np.float32,
)
SHAPE = [2, 3, 8]


def cast_inputs(rng, dt, shape):
    n = int(np.prod(shape))
    if dt == "bool":
        return [rng.random(shape) < 0.5, np.zeros(shape, bool), np.ones(shape, bool)]
    if dt == "float32":
        sets = [np.resize(EDGES, n), np.resize(EDGES[::-1], n)]
        for span in (2.0, 200.0, 40000.0, 5e9):
            sets.append(rng.uniform(-span, span, n))
        return [s.astype(np.float32).reshape(shape) for s in sets]
    info = np.iinfo(NPT[dt])
    edges = np.resize(np.array([info.min, info.max, 0, 1, info.max // 2 + 1, info.min + 1], np.int64), n)
    rand = [rng.integers(info.min, info.max, size=n, endpoint=True) for _ in range(2)]
    small = rng.integers(-3, 4, size=n) if info.min < 0 else rng.integers(0, 4, size=n)
    return [v.astype(NPT[dt]).reshape(shape) for v in [edges, small] + rand]


def cast_model(din, dout, shape=SHAPE):
    w = ModelWriter()
    x, y = w.tensor(shape, din), w.tensor(shape, dout)
    w.op("CAST", [x], [y])
    return w.build([x], [y])


def chain_model(kind):
    """Computed bools inside the graph (uint8 bytes on the board) into and out of CAST."""
    w = ModelWriter()
    if kind == "cmp-cast":  # GREATER -> bool -> CAST int32 and float32
        x = w.tensor(SHAPE, "float32")
        c = w.tensor([8], "float32", data=np.linspace(-1, 1, 8).astype(np.float32))
        g, yi, yf = w.tensor(SHAPE, "bool"), w.tensor(SHAPE, "int32"), w.tensor(SHAPE, "float32")
        w.op("GREATER", [x, c], [g])
        w.op("CAST", [g], [yi])
        w.op("CAST", [g], [yf])
        return w.build([x], [yi, yf]), "float32"
    src = "int32" if kind == "int-bool-int" else "float32"
    x = w.tensor(SHAPE, src)
    b, nb = w.tensor(SHAPE, "bool"), w.tensor(SHAPE, "bool")
    y = w.tensor(SHAPE, "int16")
    w.op("CAST", [x], [b])  # nonzero, not a uint8 conversion (256 is true)
    w.op("LOGICAL_NOT", [b], [nb])
    w.op("CAST", [nb], [y])
    return w.build([x], [y, nb]), src


CASES = [(a, b) for a in TYPES for b in TYPES]
CHAINS = ["cmp-cast", "int-bool-int", "float-bool-int"]


def _case(c):
    model = cast_model(*c)
    return model, [[x] for x in cast_inputs(seeded_rng(SEED, "%s-%s" % c), c[0], SHAPE)]


def _chain(kind):
    model, src = chain_model(kind)
    return model, [[x] for x in cast_inputs(seeded_rng(SEED, kind), src, SHAPE)]


def check_bytes(model, sets, tmp_path):
    """Bake, run on the forced tier, compare every output's bytes with TFLM's."""
    mdir, name, _ = bake_model(model, tmp_path)
    m = load_cpython(mdir, name)
    assert m.tier == os.environ.get("UPYFLOW_TIER", m.tier)
    for k, ins in enumerate(sets):
        want, got = run_tflm(model, ins), run_upyflow(m, ins)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.dtype == w.dtype and g.shape == w.shape, (k, g.dtype, w.dtype)
            if g.tobytes() != w.tobytes():
                bad = np.flatnonzero(g.view(np.uint8) != w.view(np.uint8))[:5]
                raise AssertionError(
                    "input set %d: bytes %s differ: in %s got %s want %s"
                    % (
                        k,
                        bad,
                        ins[0].reshape(-1).view(np.uint8)[bad],
                        g.reshape(-1).view(np.uint8)[bad],
                        w.reshape(-1).view(np.uint8)[bad],
                    )
                )


@pytest.mark.parametrize("case", CASES, ids=lambda c: "%s-%s" % c)
def test_cast(case, tier, tmp_path):
    check_bytes(*_case(case), tmp_path)


@pytest.mark.parametrize("kind", CHAINS)
def test_cast_computed_bools(kind, tier, tmp_path):
    check_bytes(*_chain(kind), tmp_path)


def test_cast_edges_independent(tier, tmp_path):
    """float32 -> integer edges against values written out by hand (not the oracle): truncation
    toward zero, saturation, NaN to 0."""
    x = np.array([1.5, -1.5, 127.9, 128.0, -129.0, np.nan, np.inf, -np.inf, 2147483648.0, 4294967040.0], np.float32)
    want = {
        "int8": [1, -1, 127, 127, -128, 0, 127, -128, 127, 127],
        "int16": [1, -1, 127, 128, -129, 0, 32767, -32768, 32767, 32767],
        "int32": [1, -1, 127, 128, -129, 0, 2**31 - 1, -(2**31), 2**31 - 1, 2**31 - 1],
        "uint32": [1, 0, 127, 128, 0, 0, 2**32 - 1, 0, 2**31, 4294967040],
    }
    for dt, w in want.items():
        model = cast_model("float32", dt, [10])
        mdir, name, _ = bake_model(model, tmp_path)
        got = run_upyflow(load_cpython(mdir, name), [x])[0]
        assert got.tolist() == w, dt
        assert run_tflm(model, [x])[0].tolist() == w, dt  # the oracle agrees with the hand values


def fill_model(dt, dims=(2, 3, 4), add=False):
    """value (a scalar input, or input + constant: computed) -> FILL [dims] (-> ADD y)."""
    w = ModelWriter()
    q = (0.05, -3) if dt == "int8" else (None, None)
    v = w.tensor([], dt, *q)
    ins, val = [v], v
    if add:
        c = w.tensor([], dt, *q, data=np.array(7 if dt != "float32" else 0.25, NPT[dt]))
        val = w.tensor([], dt, *q)
        w.op("ADD", [v, c], [val])
    f = w.tensor(list(dims), dt, *q)
    d = w.tensor([len(dims)], "int32", data=np.array(dims, np.int32))
    w.op("FILL", [d, val], [f])
    outs = [f]
    if add:
        y, s = w.tensor(list(dims), dt, *q), w.tensor(list(dims), dt, *q)
        w.op("ADD", [f, y], [s])
        ins, outs = [v, y], [s, f]
    return w.build(ins, outs)


def fill_sets(rng, dt, dims, add):
    if dt == "float32":
        vals = [np.float32(v) for v in (2.5, -0.0, np.inf, np.nan, rng.normal())]
    else:
        info = np.iinfo(NPT[dt])
        vals = [NPT[dt](v) for v in (info.min, info.max, 0, -5)]
    sets = []
    for v in vals:
        s = [np.array(v, NPT[dt])]
        if add:
            s.append(cast_inputs(rng, dt, dims)[-1] if dt != "float32" else rng.normal(size=dims).astype(np.float32))
        sets.append(s)
    return sets


FILL_CASES = [
    (dt, dims, add)
    for dt in ("int8", "int32", "float32")
    for dims in ((2, 3, 4), (5,), (1, 1))
    for add in (False, True)
]


def _fill_case(c):
    dt, dims, add = c
    sets = fill_sets(seeded_rng(SEED, "fill%s%s%s" % c), dt, dims, add)
    if dt == "int32" and add:
        sets = [[np.array(v[0] // 4, np.int32), v[1] // 4] for v in sets]  # int32 ADD: no overflow (UB)
    return fill_model(dt, dims, add), sets


def _fill_id(c):
    return "%s-%s%s" % (c[0], shape_id(c[1]), "-add" if c[2] else "")


@pytest.mark.parametrize("case", FILL_CASES, ids=_fill_id)
def test_fill(case, tier, tmp_path):
    check_bytes(*_fill_case(case), tmp_path)


@pytest.mark.parametrize("ddt", ["int8", "int16", "int64"])
def test_fill_dims_types_and_plain_int8(ddt, tier, tmp_path):
    """dims of any integer type TFLM compares with the output shape; an int8 value without
    quantization (FILL copies bytes)."""
    w = ModelWriter()
    v, f = w.tensor([], "int8"), w.tensor([3, 2], "int8")
    d = w.tensor([2], ddt, data=np.array([3, 2], NPT.get(ddt, np.int64)))
    w.op("FILL", [d, v], [f])
    check_bytes(w.build([v], [f]), [[np.array(x, np.int8)] for x in (-128, 127, 5)], tmp_path)


def test_refusals(tmp_path):
    from upyflow_tools import BakeError

    w = ModelWriter()
    x, y = w.tensor([3], "float32"), w.tensor([3], "uint8")
    w.op("CAST", [x], [y])
    with pytest.raises(BakeError, match="CAST with tensor types f32/u8 is not supported"):
        bake_model(w.build([x], [y]), tmp_path)
    for dt, q in (("int16", (0.01, 0)), ("bool", (None, None))):  # TFLM's FILL refuses them at run time
        w = ModelWriter()
        v, f = w.tensor([], dt, *q), w.tensor([2], dt, *q)
        d = w.tensor([1], "int32", data=np.array([2], np.int32))
        w.op("FILL", [d, v], [f])
        with pytest.raises(BakeError, match="FILL with tensor types"):
            bake_model(w.build([v], [f]), tmp_path)
    w = ModelWriter()
    v, f, d = w.tensor([1], "float32"), w.tensor([2], "float32"), w.tensor([1], "int32", data=np.array([2], np.int32))
    w.op("FILL", [d, v], [f])
    with pytest.raises(BakeError, match="TFLM takes a scalar"):
        bake_model(w.build([v], [f]), tmp_path)
    w = ModelWriter()
    v, f, d = w.tensor([], "float32"), w.tensor([2], "float32"), w.tensor([1], "int32")
    w.op("FILL", [d, v], [f])
    with pytest.raises(BakeError, match="needs a constant dims"):
        bake_model(w.build([d, v], [f]), tmp_path)
    w = ModelWriter()
    v, f, d = w.tensor([], "float32"), w.tensor([3], "float32"), w.tensor([1], "int32", data=np.array([2], np.int32))
    w.op("FILL", [d, v], [f])
    with pytest.raises(BakeError, match="shape"):
        bake_model(w.build([v], [f]), tmp_path)


ISA_CASES = [("float32", t) for t in ("int8", "int16", "int32", "uint32", "bool")] + [("bool", "float32")]


@pytest.mark.parametrize("case", ISA_CASES, ids=lambda c: "%s-%s" % c)
def test_cast_isa(case, isa_arch):
    """float32 -> integer conversions as each board ISA's C code computes them (soft float on M0+)."""
    check_isa(*_case(case), isa_arch)


@pytest.mark.parametrize("case", FILL_CASES[1::4], ids=_fill_id)
def test_fill_isa(case, isa_arch):
    check_isa(*_fill_case(case), isa_arch)


def folded_model():
    """CASTs of constants, folded at bake time: float32 edges -> int32 (saturated as the
    interpreter) into ADD, and int32 -> a bool inside the graph (nonzero: 256 is true) into
    LOGICAL_AND."""
    w = ModelWriter()
    n = len(EDGES)
    x, b = w.tensor([n], "int32"), w.tensor([n], "bool")
    cf = w.tensor([n], "float32", data=EDGES)
    ci = w.tensor([n], "int32", data=np.resize(np.array([0, 256, -1, 1, 65536], np.int32), n))
    fi, cb, s, a = w.tensor([n], "int32"), w.tensor([n], "bool"), w.tensor([n], "int32"), w.tensor([n], "bool")
    w.op("CAST", [cf], [fi])
    w.op("ADD", [x, fi], [s])
    w.op("CAST", [ci], [cb])
    w.op("LOGICAL_AND", [b, cb], [a])
    rng = seeded_rng(SEED, "folded")
    sets = [[rng.integers(-1000, 1000, n).astype(np.int32), rng.random(n) < 0.5] for _ in range(2)]
    sets.append([np.zeros(n, np.int32), np.ones(n, bool)])
    return w.build([x, b], [s, a]), sets


def test_cast_of_constants(tier, tmp_path):
    check_bytes(*folded_model(), tmp_path)


@pytest.mark.parametrize("mpy_tier", ["pure", "viper", "natmod"], indirect=True)
def test_cast_fill_micropython(mpy_tier, tmp_path):
    """A share of the cases on MicroPython (its float32 views, small and big ints), byte-identical
    with TFLM."""

    models = (
        [_case(c) for c in CASES[::5]]
        + [_case(("float32", t)) for t in ("int8", "int16", "int32", "uint32", "float32", "bool")]
        + [_chain(k) for k in CHAINS]
        + [_fill_case(c) for c in FILL_CASES[::3]]
        + [folded_model()]
    )
    for k, (model, sets) in enumerate(models):
        got = run_sets_on_tier(model, sets, tmp_path, "cf%d" % k, mpy_tier)
        for g, s in zip(got, sets):
            want = [np.ascontiguousarray(v).tobytes() for v in run_tflm(model, s)]
            assert list(g) == want, (k, s)
