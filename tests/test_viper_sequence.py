"""The viper tier's SVDF, UNIDIRECTIONAL_SEQUENCE_LSTM (kernels_viper/svdf.py, lstm.py) and int16
(16x8) CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED kernels (kernels_viper/conv.py, fc.py), each
family imported lazily by dispatch (VIPER_FAMILIES) for the models that use it: byte-identical with
TFLM.

Models run under the MicroPython unix port with UPYFLOW_TIER=viper, several in one process
(tests/test_viper.py's run_viper), on the x64 port and, when MICROPYTHON32 names one, on a
32-bit port whose viper ints are 32-bit like a board's. Their 32-bit arithmetic (the two-word
int64 accumulator, TFLM's int64 requantization in 16-bit limbs, the wrapped int32
requantization, the sigmoid/tanh interpolation) is also transcribed into CPython with a range
assert on every intermediate and compared with the pure tier's qmath/kernel functions.
The oracle everywhere is the TFLM interpreter (stateful models: one interpreter invoked in order).
"""
from __future__ import annotations

import os
import random
import subprocess
import zlib

import numpy as np
import pytest

from harness import bake_model, load_cpython, random_input, run_tflm, shared
from test_conv16 import (CONV16_CASES, DW16_CASES, FC16_CASES, SEANET, _conv16_id, _fc16_id,
                         conv16_model, fc16_model, inputs_for, seanet_inputs, seanet_models)
from test_conv16 import case_rng as conv16_rng
from test_sequence import LSTM_CASES, SVDF_CASES, _lstm_id, lstm_model, svdf_model
from test_sequence import case_rng as seq_rng
from tflite_writer import ModelWriter
from test_viper import INT32_MAX, INT32_MIN, _edge_accs, _multipliers, exes, i32, requant32, run_viper
from upyflow.kernels_pure.lstm import _SIGMOID, _sigmoid16, _tanh16
from upyflow.qmath import mul_by_qm, mul_by_qm64, requant16 as pure_requant16, wrap32
from upyflow_tools.lower.families.lstm import tanh_scaling
from upyflow_tools.tflm import interpreter
from upyflow_tools.unixport import DEVICE_LIB, micropython_exe, run_batch

VIPER = {"UPYFLOW_TIER": "viper"}


# --- CPython transcriptions of the 32-bit arithmetic ----------------------------------------------
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
        for p in products[pos:pos + 255]:
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
    return range(-31, 15)   # the lowering rejects shift > 14 (MAX_SHIFT64)


def test_requant64_matches_qmath():
    rng = random.Random(0x6464)
    lim = 1 << 47   # TFLM asserts |acc| < 2^47
    edges = [0, 1, -1, lim - 1, -lim, -lim + 1, lim - 2]
    for k in range(48):
        for d in (-1, 0, 1):
            edges += [(1 << k) + d, -(1 << k) + d, (3 << k >> 1) + d, -(3 << k >> 1) + d]
    edges = [a for a in edges if -lim <= a < lim]
    count = 0
    for sh in _shifts64():
        mults = _multipliers(rng, 8) + [0x7FFF0000, 0x7FFEFFFF, 0x7FFF7FFF, 0x7FFF8000, (1 << 30) + 0x7FFF,
                                        (1 << 30) + 0x8000, 0x40008000, 0x7FFE8000]
        for m in mults:
            accs = edges + [rng.randrange(-lim, lim) for _ in range(60)] + \
                [rng.randrange(-(1 << 36), 1 << 36) for _ in range(30)] + \
                [rng.randrange(-(1 << 24), 1 << 24) for _ in range(30)]
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
        bias = rng.choice([0, -1, 1, rng.randrange(-(1 << 31), 1 << 31), rng.randrange(-(1 << 40), 1 << 40),
                           (1 << 46) - (1 << 31), -(1 << 46)])
        n = rng.choice([0, 1, 254, 255, 256, 511, 1000, 3000])
        if trial % 3 == 0:
            prods = [rng.choice(ext[:1] if trial % 2 else ext[1:2])] * n   # all one sign, largest
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
            accs = _edge_accs()[::7] + [rng.randrange(-(1 << 40), 1 << 40) for _ in range(40)] + \
                [rng.randrange(-(1 << 20), 1 << 20) for _ in range(40)]
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
                    continue   # the pure tier does not wrap acc << shift (TFLM's C overflows)
                assert requant32_wrapped(a, m, sh) == mul_by_qm(w, m, sh), (a, m, sh)


def table(k: int) -> int:
    return _SIGMOID[k]


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
        assert sigmoid_32(v) == _sigmoid16(v), v
        for mult, shift in scalings:
            assert tanh_32(v, mult, shift) == _tanh16(v, mult, shift), (v, mult, shift)


# --- the kernels load --------------------------------------------------------------------------
NEW_KERNELS = ("svdf_s8_i16", "svdf_s8_i8", "lstm_s8", "conv2d_s16", "depthwise_conv2d_s16",
               "fully_connected_s16")


@pytest.mark.parametrize("exe", exes())
def test_kernels_load_beside_a_model(shared_baked, exe):
    """With keyword_scrambled loaded from source on a 190K heap (an RP2040's), its SVDF runs
    on viper, and every lazily imported viper family loads: the tests below would otherwise
    pass on the pure fallback."""
    mdir, _ = shared_baked
    script = ("import sys\nsys.path.insert(0, %r)\nsys.path.insert(0, %r)\nimport upyflow\n"
              "m = upyflow.load('keyword_scrambled')\nfrom upyflow import dispatch\n"
              "t = dispatch.table('viper')[1]\n"
              "print(m.tier, ' '.join(n for n in %r if t[n][1] == dispatch.FAST))\n"
              "print('SVDF', [c[2] for c in m._calls if c[0] is t['svdf_s8_i16'][0]])\n"
              % (DEVICE_LIB, mdir, NEW_KERNELS))
    proc = subprocess.run([exe, "-X", "heapsize=190K", "-c", script], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, UPYFLOW_TIER="viper"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    first, second = proc.stdout.splitlines()[:2]
    tier, *names = first.split()
    assert tier == "viper" and set(NEW_KERNELS) <= set(names), proc.stdout
    assert second.startswith("SVDF [1"), proc.stdout    # the model's SVDF call is the viper one


# --- the shared models: state across consecutive invokes ---------------------------------------
SEQ_MODELS = ("keyword_scrambled", "keyword_scrambled_8bit", "trained_lstm_int8", "micro_speech_lstm")
INVOKES = 10


def tflm_sequence(model: bytes, sets: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    """One interpreter invoked on each set in order (its state carried over)."""
    interp = interpreter(model)
    outs = []
    for group in sets:
        for i, x in enumerate(group):
            interp.set_input(x, i)
        interp.invoke()
        outs.append([np.array(interp.get_output(0))])
    return outs


def sizes_of(want: list[list[np.ndarray]]) -> list[int]:
    return [w.nbytes for w in want[0]]


def compare(want: list[list[np.ndarray]], got: list[list[bytes]], what: str) -> None:
    assert len(got) == len(want), what
    for k, (w_outs, g_outs) in enumerate(zip(want, got)):
        for g, w in zip(g_outs, w_outs):
            g = np.frombuffer(g, w.dtype).reshape(w.shape)
            assert np.array_equal(g, w), "%s, invoke %d differs from TFLM:\n%s\n%s" % (what, k, g, w)


@pytest.fixture(scope="module")
def shared_baked(tmp_path_factory):
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


@pytest.mark.parametrize("exe", exes())
def test_shared_sequence_models(shared_baked, exe):
    """keyword_scrambled (SVDF, int16 state), keyword_scrambled_8bit (int8 state),
    trained_lstm_int8 and micro_speech_lstm: 10 consecutive invokes after load on the viper
    tier, each output byte-identical with TFLM's."""
    mdir, cases = shared_baked
    got, _ = run_viper(exe, mdir, [(n, c[1]) for n, c in cases.items()],
                       {n: sizes_of(c[2]) for n, c in cases.items()}, heapsize="4M")
    for name, (_, _, want) in cases.items():
        compare(want, got[name], name)


# --- generated SVDF / LSTM -------------------------------------------------------------------
@pytest.fixture(scope="module")
def sequence_baked(tmp_path_factory):
    outdir = tmp_path_factory.mktemp("viper_seq_gen")
    cases = {}
    for k, case in enumerate(c for c in SVDF_CASES if c[0] != "f32"):
        cid = "svdf-%s-b%d-i%d-u%d-r%d-m%d-%s-%s" % case
        rng = seq_rng(cid)
        kind, batch, n_in, n_unit, rank, mem, act, bias = case
        model = svdf_model(rng, kind, batch, n_in, n_unit, rank, mem, act, bias)
        sets = [[random_input(rng, "i8", (batch, n_in))] for _ in range(mem + 4)]
        name = "vs%d" % k
        bake_model(model, outdir, name=name)
        cases[name] = (cid, sets, tflm_sequence(model, sets))
    for k, case in enumerate(LSTM_CASES):
        cid = "lstm-" + _lstm_id(case)
        rng = seq_rng(cid)
        batch, steps, n_in, n, time_major = case[:5]
        model = lstm_model(rng, *case)
        shape = (steps, batch, n_in) if time_major else (batch, steps, n_in)
        sets = [[random_input(rng, "i8", shape)] for _ in range(6)]
        name = "vl%d" % k
        bake_model(model, outdir, name=name)
        cases[name] = (cid, sets, tflm_sequence(model, sets))
    return str(outdir), cases


@pytest.mark.parametrize("exe", exes())
def test_generated_sequence(sequence_baked, exe):
    """test_sequence.py's int8 SVDF (int16 and int8 state) and LSTM cases: a sequence of
    invokes each, on the viper tier, byte-identical with TFLM after every invoke."""
    mdir, cases = sequence_baked
    got, _ = run_viper(exe, mdir, [(n, c[1]) for n, c in cases.items()],
                       {n: sizes_of(c[2]) for n, c in cases.items()})
    failures = []
    for name, (cid, _, want) in cases.items():
        try:
            compare(want, got[name], cid)
        except AssertionError as e:
            failures.append(str(e))
    assert not failures, "%d of %d cases differ:\n%s" % (len(failures), len(cases), "\n".join(failures[:3]))


# --- int16 (16x8) convolutions ------------------------------------------------------------------
# Requantization shifts over the whole accepted range (test_conv16's scales give about -10):
# T = 15 - shift below 16, 16..31 and from 32 on take different limbs in the int64 path; a left
# shift takes the int32 path's wrap. Inputs and bias are sized so outputs mostly stay unclamped.
SHIFTS64 = (-31, -26, -20, -18, -17, -16, -15, -12, -3, -1, 0, 1, 4, 9, 14)
SHIFTS32 = (-20, -3, 0, 1, 3, 6)


def scaled16_model(rng, kind: str, shift: int, btype: str):
    """A 16x8 CONV_2D/DEPTHWISE_CONV_2D/FULLY_CONNECTED whose requantization multiplier is
    about 2^shift; (model, input sets)."""
    w = ModelWriter()
    real = 2.0 ** shift * float(rng.uniform(0.55, 0.95))
    s_in, s_w = 1.0 / 32768, 1.0 / 128
    s_out = s_in * s_w / real
    if kind == "fc":
        fan, xshape, wshape, yshape, n = 300, [2, 300], [5, 300], [2, 5], 5
    elif kind == "conv":
        fan, xshape, wshape, yshape, n = 27, [1, 5, 6, 3], [4, 3, 3, 3], [1, 5, 6, 4], 4
    else:
        fan, xshape, wshape, yshape, n = 9, [1, 6, 5, 2], [1, 3, 3, 4], [1, 6, 5, 4], 4
    target = 8192.0 / real   # accumulators of a quarter of the int16 output range
    xl = int(min(32767, max(1, target / (64 * fan ** 0.5))))
    blim = min(target, 2.0 ** 46 if btype == "int64" else 2.0 ** 30)
    x = w.tensor(xshape, "int16", s_in, 0)
    wi = w.tensor(wshape, "int8", s_w, 0, quantized_dimension=3 if kind == "dw" else 0,
                  data=rng.integers(-127, 128, size=wshape))
    bi = w.tensor([n], btype, s_in * s_w, 0, data=rng.integers(-int(blim), int(blim) + 1, size=n))
    y = w.tensor(yshape, "int16", s_out, 0)
    if kind == "fc":
        w.op("FULLY_CONNECTED", [x, wi, bi], [y])
    else:
        opts = dict(padding="SAME", stride_h=1, stride_w=1, dilation_h_factor=1, dilation_w_factor=1)
        if kind == "dw":
            opts["depth_multiplier"] = 2
        w.op("DEPTHWISE_CONV_2D" if kind == "dw" else "CONV_2D", [x, wi, bi], [y], **opts)
    sets = [[rng.integers(-xl, xl + 1, size=xshape).astype(np.int16)] for _ in range(3)]
    sets += [[np.full(xshape, v, np.int16)] for v in (-xl, xl)]
    return w.build([x], [y]), sets


@pytest.fixture(scope="module")
def conv16_baked(tmp_path_factory):
    """test_conv16.py's generated CONV_2D/DEPTHWISE_CONV_2D/FULLY_CONNECTED int16 cases and the
    seanet conv models on their CSV inputs."""
    outdir = tmp_path_factory.mktemp("viper_conv16")
    cases = {}
    k = 0
    for depthwise, table_ in ((False, CONV16_CASES), (True, DW16_CASES)):
        for case in table_:
            size, (ic, oc), kernel, stride, dil, pad, pc, btype, act, big, opt = case
            cid = ("dw16" if depthwise else "conv16") + _conv16_id(case)
            rng = conv16_rng(cid)
            model, xshape = conv16_model(rng, depthwise, size, ic, oc, kernel, stride, dil, pad, pc, btype,
                                         act, big, opt)
            sets = [[x] for x in inputs_for(rng, "i16", xshape)]
            cases["vc%d" % k] = (cid, model, sets)
            k += 1
    for case in FC16_CASES:
        shape, n_out, pc, bt, act, zps, opt, big = case
        cid = "fc16" + _fc16_id(case)
        rng = conv16_rng(cid)
        model = fc16_model(rng, shape, n_out, pc, bt, act, zps, opt, big)
        xs = inputs_for(rng, "i16", shape, zps[0])
        if shape[-1] >= 1024:   # all-extreme products: sums far beyond int32
            xs += [np.full(shape, 32767, np.int16), np.full(shape, -32767, np.int16)]
        cases["vc%d" % k] = (cid, model, [[x] for x in xs])
        k += 1
    for kind in ("conv", "dw", "fc"):
        for btype, shifts in (("int64", SHIFTS64), ("int32", SHIFTS32)):
            if kind == "dw" and btype == "int32":
                continue   # the lowering rejects it (TFLM reads a 16x8 depthwise bias as int64)
            for shift in shifts:
                cid = "%s16-%s-shift%d" % (kind, btype, shift)
                model, sets = scaled16_model(conv16_rng(cid), kind, shift, btype)
                cases["vc%d" % k] = (cid, model, sets)
                k += 1
    if SEANET.exists():
        for rel in seanet_models():
            if rel.startswith("conv/"):
                data, ins, golden = seanet_inputs(rel)
                cases["vc%d" % k] = ("seanet/" + rel, data, [ins])
                k += 1
    baked = {}
    for name, (cid, model, sets) in cases.items():
        bake_model(model, outdir, name=name)
        baked[name] = (cid, sets, [run_tflm(model, s) for s in sets])
    return str(outdir), baked


@pytest.mark.parametrize("exe", exes())
def test_conv16(conv16_baked, exe):
    """Every generated 16x8 conv/depthwise/FC case (int64 and int32 accumulators, biases beyond
    int32, sums beyond int32) and the seanet conv models on the viper tier vs TFLM."""
    mdir, baked = conv16_baked
    got, _ = run_viper(exe, mdir, [(n, c[1]) for n, c in baked.items()],
                       {n: sizes_of(c[2]) for n, c in baked.items()}, heapsize="4M")
    failures = []
    for name, (cid, _, want) in baked.items():
        try:
            compare(want, got[name], cid)
        except AssertionError as e:
            failures.append(str(e))
    assert not failures, "%d of %d cases differ:\n%s" % (len(failures), len(baked), "\n".join(failures[:3]))


def test_seanet_conv_present():
    """The seanet conv models are part of test_conv16 above when ../shared has them."""
    if not SEANET.exists():
        pytest.skip("../shared/tflm_integration/seanet is not present")
    assert any(r.startswith("conv/") for r in seanet_models())


# --- speed (printed, never asserted) --------------------------------------------------------------
@pytest.mark.skipif(micropython_exe() is None, reason="MicroPython unix port not installed")
@pytest.mark.parametrize("name", ["keyword_scrambled", "micro_speech_lstm"])
def test_report_speed(shared_baked, name):
    """us per invoke: pure and viper tiers under the x64 unix port, and the TFLM interpreter."""
    import time
    mdir, cases = shared_baked
    model, sets, want = cases[name]
    interp = interpreter(model)
    interp.set_input(sets[0][0], 0)
    t0 = time.perf_counter()
    for _ in range(INVOKES):
        interp.invoke()
    tflm_us = (time.perf_counter() - t0) / INVOKES * 1e6
    ins = [[x.tobytes() for x in g] for g in sets]
    outs, viper_us = run_batch(mdir, name, ins, heapsize="2M", env=VIPER)
    compare(want, outs, name)
    pure_sets = ins if name == "keyword_scrambled" else ins[:2]
    outs, pure_us = run_batch(mdir, name, pure_sets, heapsize="2M", env={"UPYFLOW_TIER": "pure"})
    compare(want[:len(pure_sets)], outs, name)
    print("\n%s: pure %.0f us, viper %.0f us, TFLM %.0f us per invoke" % (name, pure_us, viper_us, tflm_us))
