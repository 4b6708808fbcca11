"""The device runtime does not trust what it loads (issue 13, findings 2, 5, 8, 9).

* A truncated or empty NAME.bin (--weights file) fails at load with one line naming the
  file; a short read at invoke (the file changed after load) raises, naming the file, the
  offset and the bytes expected vs read; a missing NAME.bin is named on MicroPython too.
* A damaged baked module (a tensor record past its buffer, ARENA_SIZE too small, WEIGHTS
  cut short, an op naming a tensor that does not exist) raises ValueError at load on every
  tier: pure and viper used to crash MicroPython (uctypes/viper pointers are unchecked).
* load(verify=True) checks the weights' CRC-32.
* C: a NaN reaching the float softmax stays NaN (no NaN-to-int conversion, as TFLM's
  std::exp), and the int8 conv/FC bindings reject out-of-range shifts as the int16 ones do.
These run under the MicroPython unix port when it is installed, and the native cases
under ASan/UBSan in tests/sanitize.py.
"""

from __future__ import annotations

import os
import struct
import subprocess

import numpy as np
import pytest

import upyflow
from harness import mlp_int8, needs_micropython
from upyflow.model import TENSOR_RECORD_SIZE
from upyflow_tools.runner import load_module
from upyflow_tools.unixport import DEVICE_LIB, micropython_exe

try:
    import upyflow_native
except ImportError:
    upyflow_native = None
needs_native = pytest.mark.skipif(upyflow_native is None, reason="the C extension is not built")


def _bake(tmp_path, name, weights):
    path = tmp_path / (name + ".tflite")
    path.write_bytes(mlp_int8())
    from upyflow_tools.bake import bake

    out = tmp_path / ("out_" + name)
    bake(str(path), str(out), name=name, weights=weights)
    return out


def _load(mdir, name, tier, verify=False):
    mod = load_module(os.path.join(mdir, name + ".py"))
    return upyflow.Model(mod, tier, verify=True) if verify else upyflow.Model(mod, tier)


_MPY = """
import sys
sys.path.insert(0, %(lib)r)
sys.path.insert(0, %(mod)r)
for p in %(extra)r:
    sys.path.insert(0, p)
import upyflow
for name, cut in %(cases)r:
    try:
        m = upyflow.load(name, %(tier)r)
        if cut is not None:   # truncate NAME.bin after load: the next invoke reads short
            f = open(%(mod)r + '/' + name + '.bin', 'rb')
            data = f.read()
            f.close()
            f = open(%(mod)r + '/' + name + '.bin', 'wb')
            f.write(data[:cut])
            f.close()
        m.invoke()
        print('NOERROR', name)
    except Exception as e:
        print('ERR', name, type(e).__name__, e)
print('DONE')
"""


def _mpy_run(mdir, tier, cases, extra=()):
    """(name -> 'Type message' or 'NOERROR') for each case under the unix port; the process must
    finish (a crash fails here)."""
    script = os.path.join(mdir, "run_%s.py" % tier)
    with open(script, "w") as f:
        f.write(_MPY % {"lib": DEVICE_LIB, "mod": str(mdir), "tier": tier, "cases": cases, "extra": list(extra)})
    env = dict(os.environ, UPYFLOW_TIER=tier)
    proc = subprocess.run(
        [micropython_exe(), "-X", "heapsize=2M", script], capture_output=True, text=True, timeout=120, env=env
    )
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0 and lines and lines[-1] == "DONE", "MicroPython %s tier exited %d:\n%s%s" % (
        tier,
        proc.returncode,
        proc.stdout[-3000:],
        proc.stderr[-3000:],
    )
    got = {}
    for line in lines[:-1]:
        parts = line.split(" ", 2)
        got[parts[1]] = "NOERROR" if parts[0] == "NOERROR" else parts[2]
    return got


# --- findings 2 and 9: NAME.bin ------------------------------------------------------------


def _file_cases(tmp_path):
    """A --weights file bake copied as: truncated, empty, missing, intact (cut after load)."""
    out = _bake(tmp_path, "wf", "file")
    run = tmp_path / "run"
    run.mkdir()
    full = (out / "wf.bin").read_bytes()
    for name, data in (("half", full[: len(full) // 2]), ("empty", b""), ("missing", None), ("later", full)):
        src = (out / "wf.py").read_text().replace("'wf.bin'", repr(name + ".bin"))
        (run / (name + ".py")).write_text(src)
        if data is not None:
            (run / (name + ".bin")).write_bytes(data)
    return run, len(full)


def _check_file_errors(got, size):
    for name in ("half", "empty"):
        assert got[name].startswith("ValueError") and name + ".bin" in got[name], got
        assert "%d bytes" % (size // 2 if name == "half" else 0) in got[name] and str(size) in got[name], got
    assert got["missing"].startswith("OSError") and "missing.bin" in got["missing"], got
    # truncated to 10 bytes after load: the first layer's read comes up short
    assert got["later"].startswith("OSError") and "later.bin" in got["later"], got
    assert "offset 0" in got["later"] and "10 of" in got["later"], got


def test_weights_file_damage_cpython(tier, tmp_path):
    run, size = _file_cases(tmp_path)
    got = {}
    for name in ("half", "empty", "missing", "later"):
        try:
            m = _load(str(run), name, tier)
            if name == "later":
                with open(run / "later.bin", "r+b") as f:
                    f.truncate(10)
            m.invoke()
            got[name] = "NOERROR"
        except (OSError, ValueError) as e:
            got[name] = "%s %s" % (type(e).__name__, e)
    _check_file_errors(got, size)


@needs_micropython
@pytest.mark.parametrize("tier", ["pure", "viper"])
def test_weights_file_damage_micropython(tier, tmp_path):
    run, size = _file_cases(tmp_path)
    got = _mpy_run(run, tier, [("half", None), ("empty", None), ("missing", None), ("later", 10)])
    _check_file_errors(got, size)


def test_weights_file_damage_natmod(natmod_dir, tmp_path):
    """The natmod tier: Python reads each layer between walker runs (steps)."""
    run, size = _file_cases(tmp_path)
    got = _mpy_run(run, "native", [("half", None), ("empty", None), ("missing", None), ("later", 10)], [natmod_dir])
    _check_file_errors(got, size)


# --- finding 5: damaged modules ------------------------------------------------------------


def _damaged(tmp_path):
    """The inline bake, damaged in the ways finding 5 lists, one module per case."""
    out = _bake(tmp_path, "good", "inline")
    src = (out / "good.py").read_text()
    mod = load_module(str(out / "good.py"))
    size = TENSOR_RECORD_SIZE  # kind (where | dtype << 2) and nbytes >> 16, 24-bit offset, nbytes' low 16
    arena_rec = next(k for k in range(len(mod.TENSORS) // size) if mod.TENSORS[size * k] & 3 == 0)
    poke = "\nimport struct as _s\n_t = bytearray(%s)\n_s.pack_into('<%s', _t, %d, %d)\n%s = bytes(_t)\n"
    cases = {
        # the offset's top two bytes: at least 16 MB - 256 into a small arena
        "far": poke % ("TENSORS", "H", size * arena_rec + 2, 0xFFFF, "TENSORS"),
        "small": "\nARENA_SIZE = 16\n",
        "half": "\nWEIGHTS = WEIGHTS[:len(WEIGHTS) // 2]\n",
        "empty": "\nWEIGHTS = b''\n",
        # a bake from before WEIGHTS_SIZE: only the records catch it
        "oldhalf": "\nWEIGHTS = WEIGHTS[:len(WEIGHTS) // 2]\ndel WEIGHTS_SIZE\n",
        "badid": poke % ("OPS", "H", 2, 0xFFFF, "OPS"),
        # the FC's op record (6 tensor ids, then int8 batches, n_in, ...): parameters that
        # make the kernel reach past its tensors (batches 127), or out of range (n_in -1);
        # pure and viper checked only the records until their load checks (load_checks.py)
        "oversize": poke % ("OPS", "b", 2 + 6, 127, "OPS"),
        "negative": poke % ("OPS", "b", 2 + 7, -1, "OPS"),
    }
    assert mod.OP_KERNELS[mod.OPS[0]] == "fully_connected_s8" and mod.OPS[2 + 6] == 1 and mod.OPS[2 + 7] == 8
    run = tmp_path / "damaged"
    run.mkdir()
    for name, tail in list(cases.items()) + [("intact", "")]:
        (run / (name + ".py")).write_text(src.replace("NAME = 'good'", "NAME = %r" % name) + tail)
    return run, list(cases)


def test_damaged_module_cpython(tier, tmp_path):
    run, names = _damaged(tmp_path)
    _load(str(run), "intact", tier).invoke()
    for name in names:
        with pytest.raises(ValueError) as e:
            # every tier checks the records and the kernel parameters once, at load (the C
            # tier: the walker's check of every record, its kernels' static checks included)
            _load(str(run), name, tier)
        assert "\n" not in str(e.value), name
        if name in ("oversize", "negative"):
            assert ("shorter than its" if name == "oversize" else "out of range") in str(e.value)


@needs_micropython
@pytest.mark.parametrize("tier", ["pure", "viper"])
def test_damaged_module_micropython(tier, tmp_path):
    run, names = _damaged(tmp_path)
    got = _mpy_run(run, tier, [(n, None) for n in names + ["intact"]])
    assert got["intact"] == "NOERROR", got
    for name in names:
        assert got[name].startswith("ValueError") and name in got[name], got


def test_damaged_module_natmod(natmod_dir, tmp_path):
    run, names = _damaged(tmp_path)
    got = _mpy_run(run, "native", [(n, None) for n in names + ["intact"]], [natmod_dir])
    assert got["intact"] == "NOERROR", got
    for name in names:
        assert got[name].startswith("ValueError"), got


@pytest.mark.parametrize(
    "model",
    [
        "models/hello_world_int8.tflite",
        "models/micro_speech_quantized.tflite",
        "models/keyword_scrambled_8bit.tflite",
        "models/trained_lstm_int8.tflite",
    ],
)
def test_load_checks_match_the_spec_sizes(model, tmp_path):
    """Every op of a shared model against calls.check_op (the generated load check): its
    tensors at exactly what the spec's size expression needs (evaluated here from the spec
    text) pass, one byte less fails, a parameter below its spec bound fails."""
    from harness import bake_model, shared
    from upyflow import calls
    from upyflow_tools import kernel_spec
    from upyflow_tools.emit import module_records, module_tensor
    from upyflow_tools.kernel_spec import ESIZE

    mdir, name, _ = bake_model(shared(model), tmp_path)
    mod = load_module(os.path.join(mdir, name + ".py"))
    m = upyflow.Model(mod, "pure")
    progs = calls._checks(mod.OP_KERNELS)
    checked = 0
    for pos, _end, layers in module_records(mod):
        for op in layers:
            k = kernel_spec.get(op.kernel)
            prog, args = progs[mod.OP_KERNELS.index(op.kernel)], list(op.tensors) + list(op.params)
            nt = len(op.tensors)
            lens = [module_tensor(mod, t)[3] for t in op.tensors]
            env = dict(zip([p.name for p in k.params], op.params))
            calls.check_op(m, prog, args, nt, pos, lens)
            for j, t in enumerate(k.tensors):
                try:
                    need = eval(t.size, {}, env) * (eval(t.esize, {}, env) if t.esize else ESIZE[t.dtype])
                except (NameError, TypeError):
                    continue  # a size over derived values (checks.h helpers): the C tests cover it
                if need <= 0:
                    continue
                short = list(lens)
                short[j] = need
                calls.check_op(m, prog, args, nt, pos, short)
                short[j] = need - 1
                with pytest.raises(ValueError, match="shorter than its parameters need"):
                    calls.check_op(m, prog, args, nt, pos, short)
                checked += 1
            low = next(((i, p.lo) for i, p in enumerate(k.params) if p.lo is not None), None)
            if low is not None:
                bad = list(args)
                bad[nt + low[0]] = low[1] - 1
                with pytest.raises(ValueError, match="out of range"):
                    calls.check_op(m, prog, bad, nt, pos, lens)
    assert checked >= 3


@pytest.mark.parametrize("mode", ["inline", "file"])
def test_verify_checks_the_crc_at_load(mode, tmp_path):
    out = _bake(tmp_path, "crc", mode)
    _load(str(out), "crc", "pure", verify=True)  # intact: loads
    if mode == "file":
        data = bytearray((out / "crc.bin").read_bytes())
        data[len(data) // 2] ^= 1
        (out / "crc.bin").write_bytes(bytes(data))
    else:
        src = (out / "crc.py").read_text()
        (out / "crc.py").write_text(src + "\nWEIGHTS = bytes([WEIGHTS[0] ^ 1]) + WEIGHTS[1:]\n")
    _load(str(out), "crc", "pure")  # sizes still match: without verify it loads
    with pytest.raises(ValueError, match="checksum"):
        _load(str(out), "crc", "pure", verify=True)


# --- finding 8: the C kernels and bindings -------------------------------------------------


@needs_native
def test_softmax_f32_nan_stays_nan():
    """NaN/inf inputs: TFLM's float softmax computes std::exp of NaN differences, so the
    row becomes NaN; ours must too, without converting NaN to int (UBSan under sanitize.py)."""
    x = np.array([[0.5, np.nan, 1.0], [np.inf, 0.0, 1.0], [-np.inf, 0.0, 1.0]], np.float32)
    out = np.zeros_like(x)
    upyflow_native.softmax_f32((memoryview(x.tobytes()), memoryview(out).cast("B"), 3, 3, 1.0))
    assert np.isnan(out[0]).all() and np.isnan(out[1]).all()
    e = np.exp(np.array([0.0, 1.0], np.float64))
    np.testing.assert_allclose(out[2], [0.0, *(e / e.sum())], rtol=1e-5)


@needs_native
@pytest.mark.parametrize("kernel", ["fully_connected_s8", "conv2d_s8", "depthwise_conv2d_s8"])
@pytest.mark.parametrize("shift", [31, 40, -32, -100])
def test_int8_bindings_reject_out_of_range_shifts(kernel, shift):
    """As the int16 kernels: a per-channel shift outside [-31, 30] is refused, not shifted by."""
    x = memoryview(bytearray(4))
    w = memoryview(bytearray(4))
    out = memoryview(bytearray(4))
    bias = memoryview(struct.pack("<i", 0))
    mult = memoryview(struct.pack("<i", 1 << 30))
    for s, ok in ((0, True), (shift, False)):
        sh = memoryview(struct.pack("<i", s))
        if kernel == "fully_connected_s8":  # 1 batch, 4 in, 1 out; out_off, act_min, act_max
            args = (x, w, bias, out, mult, sh, 1, 4, 1, 0, -128, 127)
        else:  # 1x1 input of 4 (conv) / 1 (dw) channels, 1x1 filter, stride/dilation 1
            c_in = 4 if kernel == "conv2d_s8" else 1  # out channels (conv) / depth multiplier: 1
            args = (
                x[:c_in],
                w[:c_in],
                bias,
                out[:1],
                mult,
                sh,
                memoryview(bytearray(0)),  # wtab: no scratch
                1,
                1,
                c_in,
                1,
                1,
                1,
                1,
                1,
                1,
                1,
                1,
                1,
                0,
                0,
                0,
                0,
                -128,
                127,
                0,
                -128,  # w_min
            )
        fn = getattr(upyflow_native, kernel)
        if ok:
            fn(args)
        else:
            with pytest.raises(ValueError):
                fn(args)


@needs_native
def test_ort_requantization_of_nan_and_huge_scales():
    """Finding 8's onnxruntime-rounding kernels: acc x scale (float) converted to int was UB
    for a NaN or out-of-range product (a damaged scale); it clamps to the activation range
    first, NaN to the minimum (UBSan's float-cast-overflow checks it under sanitize.py)."""
    x = memoryview(bytes([100, 100, 100, 100]))
    w = memoryview(bytes([100, 100, 100, 100]))  # acc 40000 per output
    bias = memoryview(struct.pack("<2i", 0, 0))
    for scale, want in ((float("nan"), -128), (1e30, 127), (-1e30, -128), (float("inf"), 127)):
        out = bytearray(2)
        sc = memoryview(struct.pack("<2f", scale, 0.001))
        upyflow_native.fully_connected_s8_ort((x[:2], w, bias, memoryview(out), sc, 1, 2, 2, 0, -128, 127))
        assert struct.unpack("<2b", out) == (want, round(20000 * 0.001)), scale


@needs_native
@pytest.mark.parametrize("kernel", ["conv2d_s8", "depthwise_conv2d_s8"])
def test_conv_bindings_reject_geometry_overflowing_int(kernel):
    """Dilation 2^31-1 (finding 8): the input row out*stride + k*dilation overflowed int32 in
    the kernel; the binding now refuses geometry whose reach does not fit an int."""
    x, w, out = memoryview(bytearray(1)), memoryview(bytearray(2)), memoryview(bytearray(2))
    bias, mult, sh = (memoryview(struct.pack("<i", v)) for v in (0, 1 << 30, 0))
    fn = getattr(upyflow_native, kernel)
    # in 1x1x1, out 2x1x1, filter 2x1, strides 1, dilation (d, 1), no padding
    for d, ok in ((1, True), (0x7FFFFFFF, False)):
        args = (
            x,
            w,
            bias,
            out,
            mult,
            sh,
            memoryview(bytearray(0)),
            1,
            1,
            1,
            2,
            1,
            1,
            2,
            1,
            1,
            1,
            d,
            1,
            0,
            0,
            0,
            0,
            -128,
            127,
            0,
            -128,  # w_min
        )
        if ok:
            fn(args)
        else:
            with pytest.raises(ValueError):
                fn(args)


# --- the fuzzer's MicroPython leg (tests/fuzz.py, FUZZ_MICROPYTHON=1) --------------------------


@needs_micropython
def test_fuzz_micropython_guard_and_compare(tmp_path):
    """The MicroPython runner sees equal outputs, a changed output, and a write into the guard
    (here: a guard that starts 16 bytes inside the real arena)."""
    import fuzz
    from upyflow_tools.bake import compile_model
    from upyflow_tools.emit import module_source

    r = compile_model("w", "fzc", data=fuzz.seeds("tflite", quick=True)["w_cnn_s8.tflite"])
    path = tmp_path / "fzc.py"
    path.write_text(module_source(r.baked, "fzc"))
    inputs = [bytes(r.baked.tensors[t][2]) for t in r.baked.inputs]
    want, dtypes = fuzz._run_tier(fuzz._load(str(path), "fzc"), "pure", inputs, r.arena_size)
    d = str(tmp_path)
    got, bad = fuzz.micropython_tiers(str(path), inputs, r.arena_size, d)
    assert bad is None and set(got) >= {"mpy-viper", "mpy-pure"}
    assert all(fuzz.compare(want, outs, dtypes, False, t) is None for t, outs in got.items())
    changed = [bytes([want[0][0] ^ 1]) + want[0][1:]] + want[1:]
    assert fuzz.compare(changed, got["mpy-pure"], dtypes, False, "mpy-pure")[0] == "mismatch"
    assert fuzz.micropython_tiers(str(path), inputs, r.arena_size - 16, d)[1][0] == "guard"


@needs_micropython
def test_fuzz_accepted_mutants_on_micropython(monkeypatch):
    """A few dozen seeded TFLite mutants; each accepted one also runs on MicroPython pure and
    viper with a guard after the arena (make fuzz: FUZZ_MICROPYTHON=1 for thousands)."""
    import fuzz

    monkeypatch.setenv("FUZZ_MICROPYTHON", "1")
    result = fuzz.fuzz("tflite", 60, 1313, timeout=60, quick=True)
    bad = {k: v for k, v in result["findings"].items() if k[0] not in fuzz.GOOD}
    assert not bad, bad
    assert sum(n for (verdict, _), n in result["counts"].items() if verdict == "ok") > 0


@needs_native
@pytest.mark.parametrize("kernel", ["conv2d_s8", "depthwise_conv2d_s8"])
def test_conv_bindings_check_the_scratch_size(kernel):
    """kernel_spec's optional scratch (wtab): wtab_n words must fit the tensor given."""
    x, w, out = memoryview(bytearray(64)), memoryview(bytearray(64)), memoryview(bytearray(64))
    bias, mult, sh = (memoryview(struct.pack("<i", v)) for v in (0, 1 << 30, -1))
    fn = getattr(upyflow_native, kernel)
    for words, n, ok in ((0, 0, True), (16, 16, True), (16, 17, False), (0, 1, False)):
        wtab = memoryview(bytearray(4 * words))
        args = (
            x[:1],
            w[:1],
            bias,
            out[:1],
            mult,
            sh,
            wtab,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            0,
            0,
            0,
            0,
            -128,
            127,
            n,
            -128,  # w_min
        )
        if ok:
            fn(args)
        else:
            with pytest.raises(ValueError):
                fn(args)
