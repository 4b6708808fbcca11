"""The native C kernel tier (upyflow_native): byte-identical with the pure tier and TFLM.

CPython: the extension built by `pip install .` / `pip install -e .`. MicroPython: the x64
dynamic native module (shipped in the package, or built from
native_modules/micropython with MicroPython's natmod tooling when env MPY_DIR names a
MicroPython source tree), run under the unix port.
TFLM (or the pure tier) is the oracle; nothing here hard-codes an expected output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tracemalloc
from functools import partial
from pathlib import Path

import numpy as np
import pytest

import upyflow
from harness import bake_model, bmp_input, load_cpython, random_input, run_tflm, run_upyflow, shared
from upyflow_tools.runner import load_module
from upyflow_tools.unixport import DEVICE_LIB, micropython_exe, run_batch

ROOT = Path(__file__).resolve().parents[1]
NATMOD_SRC = ROOT / "native_modules" / "micropython"

try:
    import upyflow_native

    NO_NATIVE = None
except ImportError as e:
    upyflow_native = None
    NO_NATIVE = (
        "the upyflow_native C extension is not built (%s); "
        "`pip install -e .` builds it when a C compiler is available" % e
    )
needs_native = pytest.mark.skipif(NO_NATIVE is not None, reason=NO_NATIVE or "")


def seeded(dtype: str, shape, count: int, seed: int = 4321) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    if dtype == "f32":  # the sine models' domain
        return [random_input(rng, dtype, shape, 0.0, 2 * np.pi) for _ in range(count)]
    return [random_input(rng, dtype, shape) for _ in range(count)]


@pytest.fixture(scope="module")
def baked(tmp_path_factory):
    """Bake each shared model once: name -> (model bytes, module dir, module name)."""
    cache = {}

    def get(model: str):
        if model not in cache:
            path = shared("models/%s.tflite" % model)
            mdir, name, _ = bake_model(path, tmp_path_factory.mktemp(model), name=model, mpy=True)
            cache[model] = (path.read_bytes(), mdir, name)
        return cache[model]

    return get


def assert_same(got: np.ndarray, want: np.ndarray, what: str) -> None:
    assert got.dtype == want.dtype and got.shape == tuple(want.shape), what
    if want.dtype == np.float32:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


# --- CPython extension: shared models ------------------------------------------------------
@needs_native
@pytest.mark.parametrize(
    "model,count",
    [("hello_world_int8", 20), ("microflow_sine", 20), ("micro_speech_quantized", 20), ("hello_world_float", 20)],
)
def test_shared_models_native_pure_tflm(baked, model, count):
    data, mdir, name = baked(model)
    native, pure = load_cpython(mdir, name, "native"), load_cpython(mdir, name, "pure")
    assert native.tier == "native" and pure.tier == "pure"
    for k, x in enumerate(seeded(native.input_dtype[0], native.input_shape[0], count)):
        want = run_tflm(data, [x])[0]
        assert_same(run_upyflow(native, [x])[0], want, "%s input %d: native vs TFLM" % (model, k))
        assert_same(run_upyflow(pure, [x])[0], want, "%s input %d: pure vs TFLM" % (model, k))


@needs_native
def test_person_detect_native(baked):
    data, mdir, name = baked("person_detect")
    native = load_cpython(mdir, name, "native")
    person, no_person = bmp_input("person.bmp"), bmp_input("no_person.bmp")
    xs = [person, no_person] + seeded("i8", [1, 96, 96, 1], 2)
    outs = [run_upyflow(native, [x])[0] for x in xs]
    for k, (x, got) in enumerate(zip(xs, outs)):
        assert_same(got, run_tflm(data, [x])[0], "person_detect input %d: native vs TFLM" % k)
    # [no_person, person] scores
    assert outs[0].ravel().argmax() == 1 and outs[1].ravel().argmax() == 0
    # the pure tier takes about a second per image here: one image keeps the suite fast
    pure = load_cpython(mdir, name, "pure")
    assert_same(run_upyflow(pure, [person])[0], outs[0], "person_detect: pure vs native")


def _traced_growth(fn) -> tuple[int, int]:
    """(net, peak) bytes tracemalloc sees over 100 calls of fn, the measuring itself included."""
    calls = iter([fn] * 100)  # made before measuring: the loop itself allocates nothing
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        for call in calls:
            call()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return current - base, peak - base


def _module(mdir: str, name: str):
    mod = load_module(os.path.join(mdir, name + ".py"))
    return mod


@needs_native
def test_no_python_allocation_in_kernel_calls(baked):
    """Each native kernel call allocates nothing, not even transiently (peak), beyond what
    a no-op call does; nor does invoke(), one call of the C walker (net and peak)."""
    from upyflow import dispatch

    def noop(args):
        pass

    for model in ("micro_speech_quantized", "hello_world_float"):
        data, mdir, name = baked(model)
        mod = _module(mdir, name)
        m = upyflow.Model(mod, "native")
        assert m._steps is None  # every op native: one walker call per invoke
        m.set_input(0, seeded(m.input_dtype[0], m.input_shape[0], 1)[0].tobytes())
        m.invoke()
        kernels = dispatch.table("native")[1]
        calls = m._op_calls(mod.OPS, mod.OP_FORMATS, [kernels[n] for n in mod.OP_KERNELS])
        fast = [(fn, args) for fn, args, convention in calls if convention == dispatch.FAST]
        assert fast and all(type(fn).__name__ == "builtin_function_or_method" for fn, _ in fast)
        for fn, args in fast:
            control = _traced_growth(partial(noop, args))
            assert _traced_growth(partial(fn, args)) == control, (model, fn.__name__)

        def method():
            pass

        assert _traced_growth(m.invoke) == _traced_growth(method), model


# --- CPython extension: every kernel -------------------------------------------------------
@needs_native
def test_native_has_every_pure_kernel():
    from upyflow.kernels_pure import FAMILIES as PURE_FAMILIES
    from upyflow.kernels_pure import conv, fc, layout, pool, quantize, softmax, transpose_conv

    pure = set()
    for mod in (fc, conv, transpose_conv, pool, softmax, quantize, layout):
        pure.update(mod.KERNELS)
    pure.discard("avg_pool2d_s8_ort")  # onnxruntime's average pool has no C kernel
    # these families are all native; every native kernel has a pure twin
    assert pure <= set(upyflow_native.KERNELS) <= {n for names in PURE_FAMILIES.values() for n in names}
    for name in upyflow_native.KERNELS:
        assert callable(getattr(upyflow_native, name))


def _pure_fn(name):
    from upyflow import dispatch

    table = dispatch.table("pure")[1]
    return table[name][0]


@needs_native
@pytest.mark.parametrize("dtype,size", [("b", 1), ("h", 2), ("f", 4)])
def test_copy_bytes_matches_pure(dtype, size):
    # copy_bytes only runs for layout ops that cannot alias; call it directly
    rng = np.random.default_rng(7)
    src = rng.integers(0, 256, 12 * size, dtype=np.uint8).tobytes()
    out = bytearray(len(src))
    upyflow_native.copy_bytes((memoryview(src)[0 : len(src)], memoryview(out), 12))
    ref = bytearray(len(src))
    _pure_fn("copy_bytes")(memoryview(src).cast(dtype), memoryview(ref).cast(dtype), 12)
    assert out == ref == bytearray(src)


@needs_native
@pytest.mark.parametrize("in_size,out_size", [(1, 1), (1, 2), (2, 1), (2, 2)])
def test_requantize_int8_int16_matches_pure(in_size, out_size):
    """Element sizes come from byte length / n: int8 and int16 both ways, against pure."""
    codes = {1: "b", 2: "h"}
    ranges = {1: (-128, 127), 2: (-32768, 32767)}
    rng = np.random.default_rng(in_size * 10 + out_size)
    n = 64
    lo, hi = ranges[in_size]
    x = rng.integers(lo, hi + 1, n).astype({1: np.int8, 2: np.int16}[in_size]).tobytes()
    for mult, shift, in_zp, out_zp in [(1518500250, -3, 5, -7), (1073741824, 2, 0, 0), (2147483647, -31, -1, 3)]:
        qmin, qmax = ranges[out_size]
        params = (n, in_zp, mult, shift, out_zp, qmin, qmax)
        out = bytearray(n * out_size)
        upyflow_native.requantize((memoryview(x)[0 : len(x)], memoryview(out)) + params)
        ref = bytearray(n * out_size)
        _pure_fn("requantize")(memoryview(x).cast(codes[in_size]), memoryview(ref).cast(codes[out_size]), *params)
        assert out == ref, (mult, shift)


@needs_native
def test_bad_calls_raise():
    src, out = bytes(8), bytearray(8)
    with pytest.raises(TypeError):
        upyflow_native.copy_bytes((memoryview(src), memoryview(out)))  # too few
    with pytest.raises(ValueError, match="copy_bytes"):
        upyflow_native.copy_bytes((memoryview(src), memoryview(out), 3))  # 8 bytes / 3
    with pytest.raises(ValueError, match="shorter"):  # 2x2x2 > 4 bytes
        upyflow_native.max_pool2d_s8((memoryview(src)[:4], memoryview(out), 2, 2, 2, 1, 1, 2, 2, 1, 1, 0, 0, -128, 127))
    with pytest.raises(BufferError):
        upyflow_native.copy_bytes((memoryview(src), memoryview(src), 8))  # read-only output


# --- MicroPython natmod (x64) --------------------------------------------------------------
def _run_dir(mdir: str, name: str, tmp_path: Path) -> str:
    """A folder with only the compiled module (and weights file, if any) beside it."""
    for suffix in (".mpy", ".bin"):
        src = os.path.join(mdir, name + suffix)
        if os.path.exists(src):
            shutil.copy(src, tmp_path / (name + suffix))
    return str(tmp_path)


def _assert_native_matches_tflm(data, mdir, name, model, run, natmods, count, what):
    """The model in run on the native tier with the natmods folder natmods, under the unix port:
    person_detect's two images or count seeded inputs, each output TFLM's bytes."""
    if model == "person_detect":
        xs = [bmp_input("person.bmp"), bmp_input("no_person.bmp")]
    else:
        m = load_cpython(mdir, name, "pure")
        xs = seeded(m.input_dtype[0], m.input_shape[0], count)
    outs, _ = run_batch(
        run, name, [[x.tobytes()] for x in xs], heapsize="2M", env={"UPYFLOW_TIER": "native"}, extra_paths=[natmods]
    )
    assert len(outs) == len(xs)
    for k, (x, got) in enumerate(zip(xs, outs)):
        want = run_tflm(data, [x])[0]
        assert_same(
            np.frombuffer(got[0], want.dtype).reshape(want.shape), want, "%s input %d, %s: vs TFLM" % (model, k, what)
        )


@pytest.mark.parametrize("model", ["hello_world_int8", "micro_speech_quantized", "person_detect"])
def test_natmod_matches_tflm(natmod_dir, baked, model, tmp_path):
    data, mdir, name = baked(model)
    _assert_native_matches_tflm(data, mdir, name, model, _run_dir(mdir, name, tmp_path), natmod_dir, 10, "natmod")


# A model loaded on the native tier under the unix port (then each script's report lines).
_LOAD_NATIVE = """
import sys
sys.path.insert(0, %(lib)r)
sys.path.insert(0, %(natmod)r)
sys.path.insert(0, %(mod)r)
import upyflow
import upyflow_native as u
m = upyflow.load(%(name)r, 'native')
kernels = __import__(%(name)r).OP_KERNELS
"""
_FAMILIES_SCRIPT = (
    _LOAD_NATIVE
    + """print('NATIVE', ' '.join(k for k in kernels if u.kernel_index(k) >= 0))
print('PYTHON', ' '.join(k for k in kernels if u.kernel_index(k) < 0))
print('LOADED', ' '.join(sorted(k[15:] for k in sys.modules if k.startswith('upyflow_native_'))))
"""
)


def _natmods_without(natmod_dir: str, family: str, tmp_path: Path) -> str:
    """A folder with the core natmod and every family module but family's."""
    d = tmp_path / "natmods"
    d.mkdir()
    for f in os.listdir(natmod_dir):
        if f.startswith("upyflow_native") and f.endswith(".mpy") and f != "upyflow_native_%s.mpy" % family:
            shutil.copy(os.path.join(natmod_dir, f), d / f)
    return str(d)


@pytest.mark.parametrize(
    "model, missing", [("micro_speech_quantized", "conv"), ("hello_world_int8", "fc"), ("person_detect", "pool")]
)
def test_natmod_without_a_family_module_falls_back_and_matches_tflm(natmod_dir, baked, model, missing, tmp_path):
    """A board without one kernel family's module: its kernels run in Python (viper/pure), the
    rest in C; the outputs are still TFLM's bytes."""
    from upyflow_tools import kernel_spec

    data, mdir, name = baked(model)
    natmods = _natmods_without(natmod_dir, missing, tmp_path)
    run = _run_dir(mdir, name, tmp_path)
    kernels = load_module(os.path.join(mdir, name + ".py")).OP_KERNELS
    fams = {kernel_spec.KERNELS[k].family for k in kernels}
    assert missing in fams
    script = tmp_path / "families.py"
    script.write_text(_FAMILIES_SCRIPT % {"lib": DEVICE_LIB, "natmod": natmods, "name": name, "mod": run})
    proc = subprocess.run(
        [micropython_exe(), "-X", "heapsize=2M", str(script)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = {ln.split()[0]: ln.split()[1:] for ln in proc.stdout.splitlines() if ln.split()}
    assert sorted(lines["PYTHON"]) == sorted(k for k in kernels if kernel_spec.KERNELS[k].family == missing)
    assert sorted(lines["NATIVE"]) == sorted(k for k in kernels if kernel_spec.KERNELS[k].family != missing)
    assert lines["LOADED"] == sorted(fams - {missing})  # only the families the model uses
    _assert_native_matches_tflm(data, mdir, name, model, run, natmods, 6, "without upyflow_native_%s" % missing)


_UNLOADABLE_SCRIPT = (
    _LOAD_NATIVE
    + """print('TIER', m.tier)
print('PYTHON', ' '.join(k for k in kernels if u.kernel_index(k) < 0))
print('VIPER', ' '.join(sorted(k[22:] for k in sys.modules if k.startswith('upyflow.kernels_viper.'))))
print('PURE', ' '.join(sorted(k[21:] for k in sys.modules if k.startswith('upyflow.kernels_pure.'))))
m2 = upyflow.load(%(name)r, 'native')   # a second model: the family is not tried again
"""
)
# Why a family's natmod does not load on a board, as the unix port can stage it: a module whose
# import raises MemoryError as esp32's esp_native_code_commit does when no executable RAM block
# is big enough (ports/esp32/main.c: m_malloc_fail, "memory allocation failed, allocating N
# bytes"), an .mpy of another arch (xtensawin: "incompatible .mpy arch"), or none at all.
_OOM = "memory allocation failed, allocating 19752 bytes"


@pytest.mark.parametrize(
    "model, family, how, why, fallback",
    [
        ("person_detect", "conv", "memory", "MemoryError: " + _OOM, "viper"),
        ("micro_speech_quantized", "conv", "other arch", "ValueError: incompatible .mpy arch", "viper"),
        ("micro_speech_quantized", "softmax", "memory", "MemoryError: " + _OOM, "pure"),
        ("hello_world_int8", "fc", "absent", "ImportError: ", "viper"),
    ],
)
def test_natmod_family_that_does_not_load_falls_back_with_one_line(
    natmod_dir, baked, model, family, how, why, fallback, tmp_path
):
    """A kernel family natmod that fails to import (no room for its code, an incompatible .mpy,
    absent): the model still loads on the native tier, that family's kernels run on viper
    (pure where viper has none), one printed line names the family and the reason, and the
    outputs are TFLM's bytes."""
    from upyflow_tools import kernel_spec

    data, mdir, name = baked(model)
    natmods = _natmods_without(natmod_dir, family, tmp_path)
    if how == "memory":
        (Path(natmods) / ("upyflow_native_%s.py" % family)).write_text("raise MemoryError(%r)\n" % _OOM)
    elif how == "other arch":
        other = ROOT / "host_tools" / "upyflow_tools" / "natmods" / "xtensawin" / ("upyflow_native_%s.mpy" % family)
        shutil.copy(other, Path(natmods) / other.name)
    run = _run_dir(mdir, name, tmp_path)
    kernels = load_module(os.path.join(mdir, name + ".py")).OP_KERNELS
    script = tmp_path / "unloadable.py"
    script.write_text(_UNLOADABLE_SCRIPT % {"lib": DEVICE_LIB, "natmod": natmods, "name": name, "mod": run})
    proc = subprocess.run(
        [micropython_exe(), "-X", "heapsize=2M", str(script)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    said = [ln for ln in proc.stdout.splitlines() if ln.startswith("upyflow:")]
    assert len(said) == 1, proc.stdout
    head = "upyflow: native %s not loaded (%s" % (family, why)
    assert said[0].startswith(head) and said[0].endswith("); using %s" % fallback), said[0]
    lines = {ln.split()[0]: ln.split()[1:] for ln in proc.stdout.splitlines() if ln.split()}
    assert lines["TIER"] == ["native"]
    mine = sorted(k for k in kernels if kernel_spec.KERNELS[k].family == family)
    assert sorted(lines["PYTHON"]) == mine
    assert (family in lines["VIPER"]) == (fallback == "viper")
    assert (family in lines["PURE"]) == (fallback == "pure")
    what = "upyflow_native_%s not loaded (%s), %s" % (family, how, fallback)
    _assert_native_matches_tflm(data, mdir, name, model, run, natmods, 4, what)


@pytest.mark.parametrize("model", ["hello_world_int8", "person_detect"])
def test_native_tier_with_every_family_imports_no_viper(natmod_dir, baked, model, tmp_path):
    """Every family natmod loads: the native tier says nothing and imports no viper or pure
    kernel module (viper stands in only for a family that did not load; its package costs heap)."""
    data, mdir, name = baked(model)
    natmods = _natmods_without(natmod_dir, "-", tmp_path)
    script = tmp_path / "every.py"
    script.write_text(
        _UNLOADABLE_SCRIPT % {"lib": DEVICE_LIB, "natmod": natmods, "name": name, "mod": _run_dir(mdir, name, tmp_path)}
        + "print('MODULES', ' '.join(sorted(k for k in sys.modules if k.startswith('upyflow.kernels'))))\n"
    )
    proc = subprocess.run(
        [micropython_exe(), "-X", "heapsize=2M", str(script)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not [ln for ln in proc.stdout.splitlines() if ln.startswith("upyflow:")], proc.stdout
    lines = {ln.split()[0]: ln.split()[1:] for ln in proc.stdout.splitlines() if ln.split()}
    assert lines["TIER"] == ["native"] and lines["PYTHON"] == [] and lines["MODULES"] == [], proc.stdout


def test_natmod_core_that_does_not_load_leaves_viper_with_one_line(natmod_dir, baked, tmp_path):
    """The core natmod itself without room for its code: the default tier is viper, said once."""
    data, mdir, name = baked("hello_world_int8")
    natmods = tmp_path / "natmods"
    natmods.mkdir()
    (natmods / "upyflow_native.py").write_text("raise MemoryError(%r)\n" % _OOM)
    script = tmp_path / "core.py"
    script.write_text(
        "import sys\nsys.path.insert(0, %r)\nsys.path.insert(0, %r)\nsys.path.insert(0, %r)\n"
        "import upyflow\nprint('TIERS', *upyflow.tiers())\nm = upyflow.load(%r)\nprint('TIER', m.tier)\n"
        % (DEVICE_LIB, str(natmods), _run_dir(mdir, name, tmp_path), name)
    )
    proc = subprocess.run([micropython_exe(), str(script)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout.splitlines()
    assert out == [
        "upyflow: native core (upyflow_native) not loaded (MemoryError: %s); using viper" % _OOM,
        "TIERS viper pure",
        "TIER viper",
    ]


_VIPER_OOM_SCRIPT = """
import sys, builtins
sys.path.insert(0, %(lib)r)
sys.path.insert(0, %(natmod)r)
sys.path.insert(0, %(mod)r)
_imp = builtins.__import__


def imp(name, *args):
    # esp32: viper's machine code goes to executable RAM too; no room for it either
    if name == 'upyflow.kernels_viper.conv':
        raise MemoryError(%(oom)r)
    return _imp(name, *args)


builtins.__import__ = imp
import upyflow
m = upyflow.load(%(name)r, 'native')
print('TIER', m.tier)
print('PURE', ' '.join(sorted(k[21:] for k in sys.modules if k.startswith('upyflow.kernels_pure.'))))
"""


def test_natmod_and_viper_family_that_do_not_load_leave_pure(natmod_dir, baked, tmp_path):
    data, mdir, name = baked("micro_speech_quantized")
    natmods = _natmods_without(natmod_dir, "conv", tmp_path)
    (Path(natmods) / "upyflow_native_conv.py").write_text("raise MemoryError(%r)\n" % _OOM)
    script = tmp_path / "viper_oom.py"
    script.write_text(
        _VIPER_OOM_SCRIPT
        % {"lib": DEVICE_LIB, "natmod": natmods, "name": name, "mod": _run_dir(mdir, name, tmp_path), "oom": _OOM}
    )
    proc = subprocess.run([micropython_exe(), str(script)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout.splitlines()
    assert out[:2] == [
        "upyflow: native conv not loaded (MemoryError: %s); using viper" % _OOM,
        "upyflow: viper conv not loaded (MemoryError: %s); using pure" % _OOM,
    ]
    assert out[2] == "TIER native" and "conv" in out[3].split()[1:]


_REGISTER_SCRIPT = """
import sys
sys.path.insert(0, %(natmod)r)
import upyflow_native as u
import upyflow_native_fc as fc
print('FAMILY', u.kernel_family('fully_connected_s8'), u.kernel_family('softmax_s8'), u.kernel_family('nope'))
print('BEFORE', u.kernel_index('fully_connected_s8'))
ref = fc.table()
for bad in (b'', bytes(len(ref)), ref[:4] + bytes([ref[4] ^ 1]) + ref[5:]):
    try:
        u.register(bad)
        print('ACCEPTED')
    except ValueError as e:
        print('REFUSED', e)
try:
    u.call(u.kernel_index('fully_connected_s8'), [])
except ValueError as e:
    print('CALL', e)
u.register(ref)
print('AFTER', u.kernel_index('fully_connected_s8'), u.kernel_index('softmax_s8'))
"""


def test_natmod_registers_only_family_tables_of_its_build(natmod_dir, tmp_path):
    script = tmp_path / "register.py"
    script.write_text(_REGISTER_SCRIPT % {"natmod": natmod_dir})
    proc = subprocess.run([micropython_exe(), str(script)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout.splitlines()
    assert out[0] == "FAMILY fc softmax None"
    assert out[1] == "BEFORE -1"  # fc's kernels are not native until its module registers
    assert out[2:4] == ["REFUSED register: not a kernel family's table()"] * 2
    assert out[4].startswith("REFUSED a kernel family module (upyflow_native_*.mpy) from another build")
    assert out[5] == "CALL no such kernel index"
    from upyflow_tools import kernel_spec

    want = [k.name for k in kernel_spec.NATIVE].index("fully_connected_s8")
    assert out[6] == "AFTER %d -1" % want


_ALLOC_SCRIPT = """
import sys, gc
sys.path.insert(0, %(lib)r)
sys.path.insert(0, %(natmod)r)
sys.path.insert(0, %(mod)r)
import upyflow


def measure(m, n):
    # locals only: a new global would grow the module's dict
    before = gc.mem_alloc()
    i = 0
    while i < n:
        m.invoke()
        i += 1
    return before, gc.mem_alloc()


m = upyflow.load(%(name)r, 'native')
measure(m, 1)
gc.collect()
gc.disable()
r = measure(m, 100)
print('ALLOC', m.tier, r[0], r[1])
"""


@pytest.mark.parametrize("model", ["hello_world_int8", "micro_speech_quantized"])
def test_natmod_invoke_allocates_nothing(natmod_dir, baked, model, tmp_path):
    data, mdir, name = baked(model)
    script = tmp_path / "alloc.py"
    script.write_text(
        _ALLOC_SCRIPT % {"lib": DEVICE_LIB, "natmod": natmod_dir, "name": name, "mod": _run_dir(mdir, name, tmp_path)}
    )
    proc = subprocess.run(
        [micropython_exe(), "-X", "heapsize=2M", str(script)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("ALLOC ")][-1].split()
    assert line[1] == "native"
    assert line[2] == line[3], "gc.mem_alloc() grew over 100 invokes: %s -> %s" % (line[2], line[3])


ROUNDING_CHECK = r"""
#include <stdint.h>
#include <stdio.h>
#include <string.h>
/* softmax.c's uf_expf rounds kf half away from zero; the source's form (no float select,
   which LLVM 22's Xtensa backend cannot compile) against the plain one, over every
   float32 with |kf| <= 160 (uf_expf's whole range: |x| <= 104) in steps of STEP bit patterns. */
static int plain(float kf) { return (int)(kf < 0.0f ? kf - 0.5f : kf + 0.5f); }
static int source_form(float kf) {
    union { float f; uint32_t u; } half = {kf};
    half.u = (half.u & 0x80000000u) | 0x3F000000u;
    return (int)(kf + half.f);
}
int main(void) {
    long bad = 0, n = 0;
    /* -0.0, +-0.5, +-(0.5 - 2^-25) (whose sum with 0.5 rounds up to 1), +-1.5, +-160 */
    static const uint32_t edges[] = {0x80000000u, 0x3F000000u, 0xBF000000u, 0x3EFFFFFFu,
                                     0xBEFFFFFFu, 0x3FC00000u, 0xBFC00000u, 0x43200000u, 0xC3200000u};
    for (unsigned i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        float kf;
        memcpy(&kf, &edges[i], 4);
        bad += plain(kf) != source_form(kf);
    }
    for (uint64_t b = 0; b <= 0xFFFFFFFFu; b += STEP) {
        uint32_t u = (uint32_t)b;
        float kf;
        memcpy(&kf, &u, 4);
        if (!(kf >= -160.0f && kf <= 160.0f)) continue;
        n++;
        bad += plain(kf) != source_form(kf);
    }
    printf("%ld %ld\n", n, bad);
    return bad != 0;
}
"""


def test_softmax_rounding_form_is_the_plain_one(tmp_path):
    """The union form in fmath.c (uf_expf, softmax's exp) gives the same integer as `kf < 0 ? kf - 0.5f : kf + 0.5f`
    (checked on every float32 of the range once by hand; here every 7th bit pattern and the
    edge cases)."""
    src = (ROOT / "native_modules" / "src" / "fmath.c").read_text()
    assert "half.u = (half.u & 0x80000000u) | 0x3F000000u;" in src and "int k = (int)(kf + half.f);" in src
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no host C compiler")
    (tmp_path / "r.c").write_text(ROUNDING_CHECK)
    subprocess.run(
        [cc, "-O2", "-ffp-contract=off", "-DSTEP=7", "-o", str(tmp_path / "r"), str(tmp_path / "r.c")], check=True
    )
    p = subprocess.run([str(tmp_path / "r")], capture_output=True, text=True)
    n, bad = map(int, p.stdout.split())
    assert n > 300_000_000 and bad == 0 and p.returncode == 0
