"""The viper kernel tier (device_lib/upyflow/kernels_viper/): its 32-bit arithmetic, its lazy
family imports and whole models, byte-identical with TFLM.

Models run under the MicroPython unix port with UPYFLOW_TIER=viper (conftest's `mpy_tier`). The
default `micropython` is the 64-bit x64 port, where viper ints are 64-bit; boards are 32-bit, so
the arithmetic is written to stay within 32 bits. That is checked two ways: CPython
transcriptions of it (the split int32 requantization, the two-word int64 accumulator, TFLM's
int64 requantization in 16-bit limbs, the wrapped int32 requantization, the sigmoid/tanh
interpolation) with a range assert on every intermediate, compared with the pure tier's
qmath/kernel functions; and, when MICROPYTHON32 names a 32-bit unix port (docs/viper.md says how
to build one), every model test again on that binary (the viper32 tier). The generated
single-operator cases run on viper in their family's test module (test_conv.py, test_svdf.py...).
The oracle everywhere is the TFLM interpreter (stateful models: one interpreter invoked in order).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from harness import (
    assert_matches,
    bake_model,
    bmp_input,
    load_cpython,
    needs_micropython,
    random_input,
    run_micropython,
    seeded_inputs,
    shared,
    sizes_of,
    tflm_outputs,
    tflm_sequence,
)
from upyflow.kernels_pure.lstm import _sigmoid16, _tanh16
from upyflow.qmath import mul_by_qm, mul_by_qm64, wrap32
from upyflow.qmath import requant16 as pure_requant16
from upyflow_tools.lower.families.activations import sigmoid_table_values
from upyflow_tools.lower.families.lstm import tanh_scaling
from upyflow_tools.tflm import interpreter
from upyflow_tools.unixport import DEVICE_LIB, run_batch

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
VIPER_TIERS = ["viper", "viper32"]
VIPER = {"UPYFLOW_TIER": "viper"}


# --- the split requantization, transcribed from kernels_viper/conv.py -------------------------
def i32(v: int) -> int:
    assert INT32_MIN <= v <= INT32_MAX, "int32 overflow: %d" % v
    return v


def u32(v: int) -> int:
    assert 0 <= v < 1 << 32, "uint32 overflow: %d" % v
    return v


def requant32(acc: int, m: int, sh: int) -> int:
    """kernels_viper's MultiplyByQuantizedMultiplier, one machine operation per line."""
    if sh > 0:
        acc = i32(acc << sh)
    ah = i32(acc >> 16)
    al = i32(acc & 0xFFFF)
    mh = i32(m >> 16)
    ml = i32(m & 0xFFFF)
    p1 = i32(ah * ml)
    p2 = i32(al * mh)
    lh = i32(u32(u32(al) * u32(ml)) >> 16) + 0x4000
    v = i32(i32(ah * mh) << 1)
    v = i32(v + i32(p1 >> 15))
    v = i32(v + i32(p2 >> 15))
    v = i32(v + (i32(i32(i32(p1 & 0x7FFF) + i32(p2 & 0x7FFF)) + lh) >> 15))
    if sh < 0:
        e = -sh
        half = i32(1 << (e - 1))
        rem = i32(v & i32(i32(half - 1) + half))
        thr = i32(half - 1)
        if v < 0:
            thr = i32(thr + 1)
        v = i32(v >> e)
        if rem > thr:
            v = i32(v + 1)
    return v


def int32_from_bytes(b: bytes) -> int:
    """kernels_viper's bias load: bytes, the top one sign-extended."""
    return i32(b[0] | (b[1] << 8) | (b[2] << 16) | i32(((b[3] ^ 0x80) - 0x80) << 24))


def _edge_accs():
    out = {0, 1, -1, INT32_MIN, INT32_MAX, INT32_MIN + 1, INT32_MAX - 1}
    for k in range(31):
        for d in (-1, 0, 1):
            out.update({(1 << k) + d, -(1 << k) + d, (3 << k >> 1) + d, -(3 << k >> 1) + d})
    return sorted(v for v in out if INT32_MIN <= v <= INT32_MAX)


def _multipliers(rng: random.Random, n: int):
    return [0, 1 << 30, (1 << 30) + 1, INT32_MAX, INT32_MAX - 1, 3 << 29] + [
        rng.randrange(1 << 30, 1 << 31) for _ in range(n)
    ]


def test_split_requant_matches_qmath():
    rng = random.Random(20240601)
    edges = _edge_accs()
    count = 0
    for sh in range(-31, 8):
        for m in _multipliers(rng, 12):
            # TFLM computes acc << sh in int32: only accumulators for which it fits are defined
            lim = 1 << (31 - max(sh, 0))
            accs = [a for a in edges if -lim <= a < lim]
            accs += [rng.randrange(-lim, lim) for _ in range(40)]
            accs += [rng.randrange(-(1 << 16), 1 << 16) >> max(sh, 0) for _ in range(20)]
            for a in accs:
                assert requant32(a, m, sh) == mul_by_qm(a, m, sh), (a, m, sh)
                count += 1
    assert count > 50000


def test_split_requant_rounding_ties():
    """Products landing exactly on .5 before either rounding step."""
    for sh in range(-31, 1):
        for m in (1 << 30, 3 << 29, (1 << 30) + (1 << 15)):
            for base in range(-40, 41):
                for a in (base, base << max(-sh - 1, 0), (base << max(-sh, 0)) + (1 << max(-sh - 1, 0))):
                    if INT32_MIN <= a <= INT32_MAX:
                        assert requant32(a, m, sh) == mul_by_qm(a, m, sh), (a, m, sh)


def test_int32_bias_load():
    rng = random.Random(7)
    values = [0, 1, -1, INT32_MIN, INT32_MAX, 1 << 24, -(1 << 24), 0x7F000000, -0x7F000000]
    values += [rng.randrange(INT32_MIN, INT32_MAX + 1) for _ in range(5000)]
    for v in values:
        assert int32_from_bytes(v.to_bytes(4, "little", signed=True)) == v


def test_avg_pool_division():
    """The avg pool's binary-search quotient against C's rounded, truncating division."""
    for n in list(range(1, 26)) + [36, 49, 64, 100, 576]:
        for s in list(range(-128 * n, 128 * n)) if n <= 25 else range(-128 * n, 128 * n, 7):
            want = (s + n // 2) // n if s > 0 else -((n // 2 - s) // n)
            neg, mag = s <= 0, abs(s)
            num, q, bit = mag + (n >> 1), 0, 128
            while bit:
                if (q + bit) * n <= num:
                    q += bit
                bit >>= 1
            assert (-q if neg else q) == want, (s, n)


# --- the int64 accumulator and requantization (int16 convs), the SVDF/LSTM arithmetic --------
def wrap(v: int) -> int:
    """(v << _HS) >> _HS: what a 32-bit machine word keeps of v."""
    return ((v + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def sx8(b: int) -> int:
    return (b ^ 0x80) - 0x80


def acc_from_bias(b: bytes) -> tuple[int, int]:
    """kernels_viper's 16x8 (ah, al) from an int64 bias's 8 little-endian bytes."""
    al = i32(b[0] | (b[1] << 8))
    ah = i32(b[2] | (b[3] << 8) | (b[4] << 16) | i32(sx8(b[5]) << 24))
    return ah, al


def accumulate(ah: int, al: int, products: list[int]) -> tuple[int, int]:
    """The kernels' partial sums of at most 255 products, folded into (ah, al)."""
    pos = 0
    while pos < len(products):
        s = 0
        for p in products[pos : pos + 255]:
            s = i32(s + i32(p))
        pos += 255
        al = i32(al + s)
        ah = i32(ah + i32(al >> 16))
        al = i32(al & 0xFFFF)
    return ah, al


def requant64_32(ah: int, al: int, m: int, sh: int) -> int:
    """kernels_viper's 16x8 int64 MultiplyByQuantizedMultiplier, one machine operation per line."""
    mh = i32(m >> 16)
    if mh < 0x7FFF and (m & 0x8000):
        mh = i32(mh + 1)
    tt = i32(15 - sh)
    c0 = i32(al * mh)
    c1 = i32(i32(ah & 0xFFFF) * mh)
    c2 = i32(i32(ah >> 16) * mh)
    e = i32(tt - 1)
    if e < 16:
        c0 = i32(c0 + (1 << e))
    elif e < 32:
        c1 = i32(c1 + (1 << (e - 16)))
    else:
        c2 = i32(c2 + (1 << (e - 32)))
    d0 = i32(c0 & 0xFFFF)
    d1 = i32(i32(c1 & 0xFFFF) + i32(c0 >> 16))
    d2 = i32(i32(c2 + i32(c1 >> 16)) + i32(d1 >> 16))
    d1 = i32(d1 & 0xFFFF)
    if tt >= 32:
        return i32(d2 >> (tt - 32))
    if tt >= 16:
        e = tt - 16
        lo = i32(i32(d1 >> e) | i32(i32(d2 & i32((1 << e) - 1)) << (16 - e)))
        hi = i32(d2 >> e)
    else:
        e = tt
        lo = i32(i32(d0 >> e) | i32(i32(d1 & i32((1 << e) - 1)) << (16 - e)))
        hi = i32(i32(d1 >> e) | i32(i32(d2 & i32((1 << e) - 1)) << (16 - e)))
    return i32(i32(i32(i32(hi & 0xFFFF) ^ 0x8000) - 0x8000) << 16) | lo


def requant32_wrapped(acc: int, m: int, sh: int) -> int:
    """The sequence kernels' and the int32-accumulator path's requantization: the input and
    the left shift wrap to int32 as in C (wrap() on a 64-bit port; by itself on a 32-bit one)."""
    a = wrap(acc)
    if sh > 0:
        a = wrap(a << sh)
        return requant32(a, m, 0)
    return requant32(a, m, sh)


def low32(ah: int, al: int) -> int:
    """The int32 accumulator: the low 32 bits of (ah, al)."""
    return i32(i32(i32(i32(ah & 0xFFFF) ^ 0x8000) - 0x8000) << 16) | al


def _shifts64():
    return range(-31, 15)  # the lowering rejects shift > 14 (MAX_SHIFT64)


def test_requant64_matches_qmath():
    rng = random.Random(0x6464)
    lim = 1 << 47  # TFLM asserts |acc| < 2^47
    edges = [0, 1, -1, lim - 1, -lim, -lim + 1, lim - 2]
    for k in range(48):
        for d in (-1, 0, 1):
            edges += [(1 << k) + d, -(1 << k) + d, (3 << k >> 1) + d, -(3 << k >> 1) + d]
    edges = [a for a in edges if -lim <= a < lim]
    count = 0
    for sh in _shifts64():
        mults = _multipliers(rng, 8) + [
            0x7FFF0000,
            0x7FFEFFFF,
            0x7FFF7FFF,
            0x7FFF8000,
            (1 << 30) + 0x7FFF,
            (1 << 30) + 0x8000,
            0x40008000,
            0x7FFE8000,
        ]
        for m in mults:
            accs = (
                edges
                + [rng.randrange(-lim, lim) for _ in range(60)]
                + [rng.randrange(-(1 << 36), 1 << 36) for _ in range(30)]
                + [rng.randrange(-(1 << 24), 1 << 24) for _ in range(30)]
            )
            for a in accs:
                ah, al = i32(a >> 16), a & 0xFFFF
                assert requant64_32(ah, al, m, sh) == mul_by_qm64(a, m, sh), (a, m, sh)
                count += 1
    assert count > 100000


def test_requant64_rounding_ties():
    """Products landing exactly on .5 before the rounding shift, both signs."""
    for sh in _shifts64():
        tt = 15 - sh
        for m in (1 << 30, 3 << 29, 0x7FFF0000, (1 << 30) + (1 << 15)):
            m16 = min((m + 32768) >> 16, 0x7FFF)
            for q in range(-20, 21):
                # acc * m16 = q * 2^tt + 2^(tt-1) exactly, when m16 divides it
                num = (q << tt) + (1 << (tt - 1))
                for a in (num // m16, num // m16 + 1, -(num // m16)):
                    if -(1 << 47) <= a < 1 << 47:
                        assert requant64_32(a >> 16, a & 0xFFFF, m, sh) == mul_by_qm64(a, m, sh), (a, m, sh)


def test_accumulator_and_bias_load():
    """Bias bytes -> (ah, al), then sums of int16 x int8 products (extremes included) in partial
    sums of 255, against the exact int64 sum."""
    rng = random.Random(0xACC)
    ext = [-32768 * -128, -32768 * 127, 32767 * -128, 32767 * 127]
    for trial in range(400):
        bias = rng.choice(
            [
                0,
                -1,
                1,
                rng.randrange(-(1 << 31), 1 << 31),
                rng.randrange(-(1 << 40), 1 << 40),
                (1 << 46) - (1 << 31),
                -(1 << 46),
            ]
        )
        n = rng.choice([0, 1, 254, 255, 256, 511, 1000, 3000])
        if trial % 3 == 0:
            prods = [rng.choice(ext[:1] if trial % 2 else ext[1:2])] * n  # all one sign, largest
        else:
            prods = [rng.randrange(-32768, 32768) * rng.randrange(-128, 128) for _ in range(n)]
        ah, al = acc_from_bias(bias.to_bytes(8, "little", signed=True))
        assert ah * 65536 + al == bias
        ah, al = accumulate(ah, al, prods)
        assert ah * 65536 + al == bias + sum(prods) and 0 <= al < 65536
        assert low32(ah, al) == wrap32(bias + sum(prods))


def test_int32_accumulator_requant_matches_pure():
    """The int32-accumulator path (int32 bias) against qmath.requant16, with the
    accumulator beyond int32 (TFLM wraps it) and left shifts that wrap."""
    rng = random.Random(0x3232)
    for sh in range(-31, 8):
        for m in _multipliers(rng, 6):
            accs = (
                _edge_accs()[::7]
                + [rng.randrange(-(1 << 40), 1 << 40) for _ in range(40)]
                + [rng.randrange(-(1 << 20), 1 << 20) for _ in range(40)]
            )
            for a in accs:
                ah, al = a >> 16, a & 0xFFFF
                if not INT32_MIN <= ah <= INT32_MAX:
                    continue
                want = pure_requant16(a, m, sh, 0, INT32_MIN, INT32_MAX)
                assert requant32_wrapped(low32(ah, al), m, sh) == want, (a, m, sh)


def test_wrapped_requant_matches_qmath():
    """SVDF/LSTM: mul_by_qm of the int32-wrapped sum (qmath's wrap32)."""
    rng = random.Random(0x5E9)
    for sh in range(-31, 8):
        for m in _multipliers(rng, 6):
            lim = 1 << (31 - max(sh, 0))
            accs = [rng.randrange(-(1 << 36), 1 << 36) for _ in range(30)]
            accs += [a for a in _edge_accs()[::5] if -lim <= a < lim]
            for a in accs:
                w = wrap32(a)
                if not -lim <= w < lim:
                    continue  # the pure tier does not wrap acc << shift (TFLM's C overflows)
                assert requant32_wrapped(a, m, sh) == mul_by_qm(w, m, sh), (a, m, sh)


_TABLE = [int(v) for v in sigmoid_table_values()]  # minus 32768, as baked


def table(k: int) -> int:
    return _TABLE[k] + 32768


def sigmoid_32(v: int) -> int:
    """lstm_s8's sigmoid of a Q3.12 gate."""
    x = i32(v * 3)
    ax = -x if x < 0 else x
    uh = ax >> 9
    if uh >= 255:
        r = 0x7FFF << 10
    else:
        ua = table(uh)
        r = i32(i32(ua << 9) + i32(i32(ax & 0x1FF) * i32(table(uh + 1) - ua)))
    r = i32(r + 512) if x >= 0 else i32(i32(33554432 - r) + 511)
    return r >> 10


def tanh_32(v: int, mult: int, shift: int) -> int:
    """lstm_s8's tanh (gate: mult 3, shift 0; cell: tanh_scaling of its power of two)."""
    x = i32(v * mult)
    if shift:
        x = i32(i32(x + (1 << (shift - 1))) >> shift)
    ax = -x if x < 0 else x
    uh = ax >> 8
    if uh >= 255:
        r = 0xFFFF << 8
    else:
        ua = table(uh)
        r = i32(i32(ua << 8) + i32(i32(ax & 0xFF) * i32(table(uh + 1) - ua)))
    r = i32(r - 8388480) if x >= 0 else i32(8388735 - r)
    return r >> 8


def test_sigmoid_tanh_match_pure():
    scalings = [(3, 0)] + [tanh_scaling(p) for p in range(-18, -2)]
    for v in range(-32768, 32768):
        assert sigmoid_32(v) == _sigmoid16(v, _TABLE), v
        for mult, shift in scalings:
            assert tanh_32(v, mult, shift) == _tanh16(v, mult, shift, _TABLE), (v, mult, shift)


def test_cpython_falls_back():
    """Under CPython the viper module fails to import cleanly, so dispatch keeps pure."""
    import upyflow
    from upyflow import dispatch

    with pytest.raises(ImportError):
        import upyflow.kernels_viper  # noqa: F401
    assert not dispatch.available("viper") and "viper" not in upyflow.tiers()


# --- the shared TFLM example models --------------------------------------------------------------
SHARED_MODELS = ("hello_world_int8", "microflow_sine", "micro_speech_quantized")


@pytest.fixture(scope="module")
def shared_baked(tmp_path_factory):
    """Bake the shared models once: (module dir, {name: (model bytes, input sets, TFLM outputs)})."""
    outdir = tmp_path_factory.mktemp("viper_shared")
    cases = {}
    for name in SHARED_MODELS + ("person_detect",):
        path = shared("models/%s.tflite" % name)
        mdir, _, _ = bake_model(path, outdir, name=name)
        m = load_cpython(mdir, name)
        if name == "person_detect":
            sets = [[bmp_input("person.bmp")], [bmp_input("no_person.bmp")]]
        else:
            sets = seeded_inputs(m, 20)
        model = path.read_bytes()
        cases[name] = (model, sets, tflm_outputs(model, sets))
    return str(outdir), cases


@pytest.mark.parametrize("mpy_tier", VIPER_TIERS, indirect=True)
def test_shared_models(shared_baked, mpy_tier):
    """hello_world_int8, microflow_sine, micro_speech_quantized (20 seeded inputs each) and
    person_detect (person.bmp, no_person.bmp) on the viper tier, byte-identical with TFLM."""
    mdir, cases = shared_baked
    got, _ = run_micropython(
        mpy_tier, mdir, [(n, c[1]) for n, c in cases.items()], {n: sizes_of(c[2]) for n, c in cases.items()}
    )
    for name, (_, _, want) in cases.items():
        assert_matches(want, got[name], name)
    # the labels: [no_person, person] scores
    scores = [np.frombuffer(g[0], np.int8) for g in got["person_detect"]]
    assert scores[0].argmax() == 1 and scores[1].argmax() == 0


@needs_micropython
def test_person_detect_repeated_invokes(shared_baked):
    """person_detect on the viper tier, three rounds of both images, byte-identical each
    time; prints the time per invoke beside TFLM's (benchmarks/bench.py reports it; tests
    assert no timings)."""
    from upyflow_tools.tflm import interpreter

    mdir, cases = shared_baked
    model, sets, want = cases["person_detect"]
    interp = interpreter(model)
    interp.set_input(sets[0][0], 0)
    tflm = []
    for _ in range(10):
        t = time.perf_counter()
        interp.invoke()
        tflm.append(time.perf_counter() - t)
    tflm_us = min(tflm) * 1e6
    outs, viper_us = run_batch(
        mdir, "person_detect", [[x.tobytes() for x in g] for g in sets] * 3, heapsize="2M", env=VIPER
    )
    assert_matches(want * 3, outs, "person_detect")
    print("person_detect: viper %.0f us, TFLM %.0f us per invoke (%.1fx)" % (viper_us, tflm_us, viper_us / tflm_us))


# --- the shared models: state across consecutive invokes ---------------------------------------
SEQ_MODELS = ("keyword_scrambled", "keyword_scrambled_8bit", "trained_lstm_int8", "micro_speech_lstm")
INVOKES = 10


@pytest.fixture(scope="module")
def sequence_models_baked(tmp_path_factory):
    outdir = tmp_path_factory.mktemp("viper_seq_shared")
    cases = {}
    for name in SEQ_MODELS:
        path = shared("models/%s.tflite" % name)
        bake_model(path, outdir, name=name)
        m = load_cpython(str(outdir), name, "pure")
        rng = np.random.default_rng(zlib.crc32(name.encode()))
        sets = [[random_input(rng, m.input_dtype[0], m.input_shape[0])] for _ in range(INVOKES)]
        model = path.read_bytes()
        cases[name] = (model, sets, tflm_sequence(model, sets))
    return str(outdir), cases


@pytest.mark.parametrize("mpy_tier", VIPER_TIERS, indirect=True)
def test_shared_sequence_models(sequence_models_baked, mpy_tier):
    """keyword_scrambled (SVDF, int16 state), keyword_scrambled_8bit (int8 state),
    trained_lstm_int8 and micro_speech_lstm: 10 consecutive invokes after load on the viper
    tier, each output byte-identical with TFLM's."""
    mdir, cases = sequence_models_baked
    got, _ = run_micropython(
        mpy_tier,
        mdir,
        [(n, c[1]) for n, c in cases.items()],
        {n: sizes_of(c[2]) for n, c in cases.items()},
        heapsize="4M",
    )
    for name, (_, _, want) in cases.items():
        assert_matches(want, got[name], name, "invoke")


# --- the kernels load --------------------------------------------------------------------------
NEW_KERNELS = ("svdf_s8_i16", "svdf_s8_i8", "lstm_s8", "conv2d_s16", "depthwise_conv2d_s16", "fully_connected_s16")


@pytest.mark.parametrize("mpy_tier", VIPER_TIERS, indirect=True)
def test_kernels_load_beside_a_model(sequence_models_baked, mpy_tier, tmp_path):
    """As `upyflow deploy` puts them on a board (the runtime and the model as .mpy for the
    port's arch), with keyword_scrambled loaded on a 190K heap (an RP2040's), its SVDF runs on
    viper, and every lazily imported viper family loads: the tests below would otherwise pass
    on the pure fallback. (From source, compiling conv.py beside a 100 KB model source is
    at the edge of that heap: whether it fits changes with the paths' lengths.)"""
    from upyflow_tools import deploy
    from upyflow_tools.bake import compile_mpy

    mdir, _ = sequence_models_baked
    arch = "x86" if mpy_tier.name == "viper32" else "x64"
    for local, remote in deploy.runtime_files(str(tmp_path / "staging"), arch):
        dst = tmp_path / remote
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(local, dst)
    shutil.copyfile(Path(mdir) / "keyword_scrambled.py", tmp_path / "keyword_scrambled.py")
    compile_mpy(str(tmp_path / "keyword_scrambled.py"), arch)
    (tmp_path / "keyword_scrambled.py").unlink()
    script = (
        "import sys\nsys.path.insert(0, %r)\nsys.path.insert(0, %r)\nimport upyflow\n"
        "m = upyflow.load('keyword_scrambled')\nfrom upyflow import dispatch\n"
        "t = dispatch.table('viper')[1]\n"
        "print(m.tier, ' '.join(n for n in %r if t[n][1] != dispatch.PURE))\n"
        "print('SVDF', [c[2] for c in m._calls if c[0] is t['svdf_s8_i16'][0]])\n"
        % (str(tmp_path / "lib"), str(tmp_path), NEW_KERNELS)
    )
    proc = subprocess.run(
        [mpy_tier.exe, "-X", "heapsize=190K", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, UPYFLOW_TIER="viper"),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    first, second = proc.stdout.splitlines()[:2]
    tier, *names = first.split()
    assert tier == "viper" and set(NEW_KERNELS) <= set(names), proc.stdout
    assert second.startswith("SVDF [1"), proc.stdout  # the model's SVDF call is the viper one


@pytest.mark.parametrize("mpy_tier", VIPER_TIERS, indirect=True)
def test_positional_viper_calls_leave_nothing_behind(sequence_models_baked, mpy_tier):
    """micro_speech_lstm's LSTM is a positional viper kernel (fn(*args): dispatch.VIPER): 20 calls
    leave gc.mem_alloc() where it was (the call's argument array is freed on return, and no
    int is boxed on the heap: the state addresses and values stay native), as do its tuple calls."""
    mdir, _ = sequence_models_baked
    script = (
        "import sys, gc\nsys.path.insert(0, %r)\nsys.path.insert(0, %r)\nimport upyflow\n"
        "m = upyflow.load('micro_speech_lstm', tier='viper')\nm.invoke()\n"
        "def run(fn, args, c, n):\n"  # a while loop: a for loop's iterator would be counted
        "    gc.collect()\n"
        "    a = gc.mem_alloc()\n"
        "    i = 0\n"
        "    while i < n:\n"
        "        if c == 2:\n"
        "            fn(*args)\n"
        "        else:\n"
        "            fn(args)\n"
        "        i += 1\n"
        "    return gc.mem_alloc() - a\n"
        "for fn, args, c in m._calls:\n"
        "    if c:\n"
        "        run(fn, args, c, 1)\n"
        "        print('CALL', c, run(fn, args, c, 20))\n" % (DEVICE_LIB, mdir)
    )
    proc = subprocess.run(
        [mpy_tier.exe, "-X", "heapsize=4M", "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    calls = [line.split()[1:] for line in proc.stdout.splitlines() if line.startswith("CALL")]
    assert ["2", "0"] in calls, proc.stdout  # the LSTM, positional
    assert all(delta == "0" for _, delta in calls), proc.stdout


# --- speed (printed, never asserted) --------------------------------------------------------------
@needs_micropython
@pytest.mark.parametrize("name", ["keyword_scrambled", "micro_speech_lstm"])
def test_report_speed(sequence_models_baked, name):
    """us per invoke: pure and viper tiers under the x64 unix port, and the TFLM interpreter."""
    mdir, cases = sequence_models_baked
    model, sets, want = cases[name]
    interp = interpreter(model)
    interp.set_input(sets[0][0], 0)
    t0 = time.perf_counter()
    for _ in range(INVOKES):
        interp.invoke()
    tflm_us = (time.perf_counter() - t0) / INVOKES * 1e6
    ins = [[x.tobytes() for x in g] for g in sets]
    outs, viper_us = run_batch(mdir, name, ins, heapsize="2M", env=VIPER)
    assert_matches(want, outs, name, "invoke")
    pure_sets = ins if name == "keyword_scrambled" else ins[:2]
    outs, pure_us = run_batch(mdir, name, pure_sets, heapsize="2M", env={"UPYFLOW_TIER": "pure"})
    assert_matches(want[: len(pure_sets)], outs, name, "invoke")
    print("\n%s: pure %.0f us, viper %.0f us, TFLM %.0f us per invoke" % (name, pure_us, viper_us, tflm_us))
