"""Weights at any address. A bytes constant frozen into firmware or mapped from a ROM
filesystem has no alignment guarantee, and Cortex-M0/M0+ fault on an unaligned halfword
or word load; x86 does not, so these tests make misaligned loads visible:

* C kernels (native tier): built with -fsanitize=alignment -fno-sanitize-recover (UBSan
  aborts on any misaligned int16/int32/float access), then the shared models and the
  operator tests run with the WEIGHTS blob at addresses 1, 2, 3 mod 4 (unaligned_weights.py)
  and are compared with TFLM by those tests themselves. Twice: as x86/Cortex-M3+ compile
  the loads (bytes merged into one load) and as a strict core does (UF_UNALIGNED_LOADS=0:
  an aligned test, then a direct load or bytes).
* pure and viper tiers under MicroPython: uctypes arrays load directly, so every typed
  view is checked (a wrapper around uctypes.struct) to sit at an address its element
  size divides; viper kernels may use ptr16/ptr32 only on arena tensors.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

import harness
from harness import bake_model, random_input, run_tflm, shared
from upyflow_tools.runner import load_module
from upyflow_tools.unixport import DEVICE_LIB, micropython_exe

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
SRC = ROOT / "native_modules" / "src"
SANITIZE = ["-fsanitize=alignment", "-fno-sanitize-recover=alignment"]

# Test modules rerun with the sanitized kernels and unaligned weights: every shared model
# (incl. SVDF, LSTM, int16), the audio front end on the four clips, and the generated
# operator cases of each kernel family (resize included).
SUBSET = [
    "tests/test_shared_models.py::test_bit_exact_cpython",
    "tests/test_shared_models.py::test_person_detect_images_and_random",
    "tests/test_sequence.py::test_shared_model_sequence",
    "tests/test_svdf.py::test_svdf_generated",
    "tests/test_lstm.py::test_lstm_generated",
    "tests/test_fc.py",
    "tests/test_conv.py",
    "tests/test_transpose_conv.py",
    "tests/test_pool.py",
    "tests/test_softmax.py",
    "tests/test_quantize_op.py",
    "tests/test_activations.py",
    "tests/test_elementwise.py",
    "tests/test_layout.py",
    "tests/test_reduce.py",
    "tests/test_onnx_rounding.py",
    "tests/test_resize.py::test_resize_matches_tflm",
    "tests/test_signal.py::test_clips_bit_exact",
]


def _compiler() -> str | None:
    from sanitize import compiler_for

    return compiler_for(SANITIZE)


def build_sanitized(outdir: Path, defines: list[str]) -> Path:
    """The CPython extension upyflow_native, alignment-sanitized, in outdir."""
    cc = _compiler()
    if cc is None:
        pytest.skip("no C compiler with -fsanitize=alignment (gcc/clang and libubsan)")
    sources = [str(ROOT / "native_modules" / "cpython" / "upyflow_native.c")] + sorted(map(str, SRC.glob("*.c")))
    out = outdir / ("upyflow_native" + sysconfig.get_config_var("EXT_SUFFIX"))
    cmd = [
        cc,
        "-shared",
        "-fPIC",
        "-O3",
        *SANITIZE,
        *defines,
        "-I",
        str(SRC),
        "-I",
        sysconfig.get_paths()["include"],
        *sources,
        "-o",
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return out


# (compiler defines, which quarter of the generated operator cases runs): the two builds
# together run half of them; every shared model runs in both.
@pytest.mark.parametrize(
    "defines,spread", [([], "0/4"), (["-DUF_UNALIGNED_LOADS=0"], "2/4")], ids=["merged-loads", "strict-core"]
)
def test_sanitized_kernels_with_unaligned_weights(defines, spread, tmp_path):
    build_sanitized(tmp_path, defines)
    env = {k: v for k, v in os.environ.items() if k not in ("UPYFLOW_TIER", "MPY_DIR", "PYTEST_ADDOPTS")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(tmp_path), str(TESTS)]),
        UPYFLOW_NATIVE_DIR=str(tmp_path),
        UPYFLOW_TEST_SHARED=str(harness.SHARED),
        UNALIGNED_SPREAD=spread,
        UBSAN_OPTIONS="print_stacktrace=1:log_path=" + str(tmp_path / "ubsan"),
    )
    # the native tier only: the pure tier reads CPython memoryviews, which have no alignment
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-x",
            "-p",
            "unaligned_weights",
            "-p",
            "no:cacheprovider",
            *SUBSET,
            "-k",
            "not pure and not micropython and not viper and not arena and not isa",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    # UBSan writes to ubsan.<pid>: pytest's capture would swallow an abort's message
    reports = "".join(p.read_text() for p in tmp_path.glob("ubsan*"))
    tail = (proc.stdout + proc.stderr)[-6000:]
    assert proc.returncode == 0 and not reports, reports[:4000] + tail
    assert " passed" in tail, tail


def test_sanitizer_sees_a_misaligned_load(tmp_path):
    """The check itself: a word load from a misaligned address aborts the sanitized build."""
    cc = _compiler()
    if cc is None:
        pytest.skip("no C compiler with -fsanitize=alignment")
    src = tmp_path / "t.c"
    src.write_text(
        "#include <stdint.h>\n#include <string.h>\n"
        "int main(int argc, char **argv) { static uint32_t b[4]; (void)argv; memset(b, argc, 16);\n"
        "  const int32_t *p = (const int32_t *)((const char *)b + argc);\n"
        "  return *p == 0; }\n"
    )
    subprocess.run([cc, *SANITIZE, str(src), "-o", str(tmp_path / "t")], check=True)
    proc = subprocess.run([str(tmp_path / "t")], capture_output=True, text=True)
    assert proc.returncode != 0 and "misaligned" in proc.stderr


def test_table_accepts_unaligned_constants_only():
    """Constants (weights, requantization arrays) may be unaligned; activations may not."""
    native = pytest.importorskip("upyflow_native")
    from unaligned_weights import misaligned

    x, out = bytearray(4), bytearray(2)
    w = misaligned(bytes(8), 1)
    i32 = misaligned(struct.pack("<2i", 0, 0), 3)
    mult = misaligned(struct.pack("<2i", 1 << 30, 1 << 30), 2)
    native.fully_connected_s8((memoryview(x), w, i32, memoryview(out), mult, i32, 1, 4, 2, 0, -128, 127))
    xf = misaligned(bytes(16), 1)
    with pytest.raises(ValueError, match="not aligned"):
        native.fully_connected_f32((xf, misaligned(bytes(16), 0), bytes(4), bytearray(4), 1, 4, 1, -1.0, 1.0))


def test_resize_and_signal_tables_at_any_address():
    """resize's tables, the front end's window and LUTs, int32 operands and descriptors are
    constants: accepted (and read right) at any address; arena tensors still must be aligned."""
    native = pytest.importorskip("upyflow_native")
    from unaligned_weights import misaligned

    # nearest: 2x2 int16 image -> 2x3, row map [0, 1], column map [0, 1, 1]
    x = bytearray(struct.pack("<4h", 1, 2, 3, 4))
    out = bytearray(12)
    native.resize_nearest(
        (
            memoryview(x),
            misaligned(struct.pack("<2i", 0, 1), 1),
            misaligned(struct.pack("<3i", 0, 1, 1), 3),
            memoryview(out),
            2,
            2,
            2,
            3,
            1,
            2,
        )
    )
    assert struct.unpack("<6h", out) == (1, 2, 2, 3, 4, 4)
    # window: 4 samples times a 2-value window, shift 1
    win = misaligned(struct.pack("<2h", 2, -4), 1)
    y = bytearray(8)
    native.signal_window_s16((bytearray(struct.pack("<4h", 3, 5, -7, 9)), win, y, 4, 2, 1))
    assert struct.unpack("<4h", y) == (3, -10, -7, -18)
    # int32 ADD of a constant operand and descriptor [nd 1, shape 3, strides 1, 0]
    a = misaligned(struct.pack("<3i", 1, 2, 3), 2)
    b = bytearray(struct.pack("<i", 10))
    d = misaligned(struct.pack("<4i", 1, 3, 1, 0), 3)
    z = bytearray(12)
    native.binary_i32((a, b, z, d, 0))
    assert struct.unpack("<3i", z) == (11, 12, 13)
    with pytest.raises(ValueError, match="not aligned"):  # the output is arena data
        native.signal_window_s16((bytearray(8), win, memoryview(bytearray(10))[1:9], 4, 2, 1))


# --- MicroPython: pure and viper tiers -------------------------------------------------------
_MP_SCRIPT = """
import sys
sys.path.insert(0, %(lib)r)
sys.path.insert(0, %(mod)r)
for p in %(extra)r:
    sys.path.insert(0, p)
import uctypes
from upyflow import views, Model
import upyflow.model

class CheckedUctypes:
    # uctypes with struct() refusing a view its element size does not divide
    checked = 0
    def __getattr__(self, name):
        return getattr(uctypes, name)
    def struct(self, addr, layout, endian):
        size = {uctypes.INT8: 1, uctypes.UINT8: 1, uctypes.INT16: 2, uctypes.INT32: 4,
                uctypes.FLOAT32: 4}[layout["v"][1] & ~0xFFFFF]
        if addr %% size:
            raise AssertionError("typed view of %%d-byte elements at address %%d" %% (size, addr))
        CheckedUctypes.checked += 1
        return uctypes.struct(addr, layout, endian)

views.uctypes = CheckedUctypes()
mod = __import__(%(name)r)
w = mod.WEIGHTS
buf = bytearray(len(w) + 16)
start = (-uctypes.addressof(buf)) %% 8 + %(offset)d
buf[start:start + len(w)] = w
mod.WEIGHTS = memoryview(buf)[start:start + len(w)]
assert uctypes.addressof(mod.WEIGHTS) %% 4 == %(offset)d
m = Model(mod, %(tier)r)
f = open(%(inp)r, 'rb')
o = open(%(out)r, 'wb')
count = 0
while True:
    ok = True
    for i in range(len(m.input_shape)):
        b = m.input_buffer(i)
        if f.readinto(b) != len(b):
            ok = False
    if not ok:
        break
    m.reset()
    m.invoke()
    count += 1
    for i in range(len(m.output_shape)):
        o.write(m.get_output(i))
o.close()
print('UNALIGNED', count, m.tier, CheckedUctypes.checked)
"""


def run_unaligned_micropython(
    exe: str,
    mdir: str,
    name: str,
    tier: str,
    offset: int,
    inputs: list[np.ndarray],
    tmp_path: Path,
    extra: tuple[str, ...] = (),
) -> tuple[list[bytes], int]:
    inp, out, script = tmp_path / "in.bin", tmp_path / "out.bin", tmp_path / "run.py"
    inp.write_bytes(b"".join(x.tobytes() for x in inputs))
    script.write_text(
        _MP_SCRIPT
        % {
            "lib": DEVICE_LIB,
            "mod": mdir,
            "name": name,
            "offset": offset,
            "tier": tier,
            "inp": str(inp),
            "out": str(out),
            "extra": list(extra),
        }
    )
    proc = subprocess.run([exe, "-X", "heapsize=4M", str(script)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("UNALIGNED ")][-1].split()
    assert int(line[1]) == len(inputs) and line[2] == tier
    blob = out.read_bytes()
    n = len(blob) // len(inputs)
    return [blob[k * n : (k + 1) * n] for k in range(len(inputs))], int(line[3])


@pytest.fixture(scope="module")
def baked(tmp_path_factory):
    cache = {}

    def get(model: str):
        if model not in cache:
            path = shared("models/%s.tflite" % model)
            mdir, name, _ = bake_model(path, tmp_path_factory.mktemp(model), name=model)
            cache[model] = (path.read_bytes(), mdir, name)
        return cache[model]

    return get


# single-input, single-output models whose constants include int16/int32/float tensors
MP_CASES = [
    ("hello_world_float", "pure", 1),
    ("hello_world_int8", "pure", 2),
    ("micro_speech_quantized", "pure", 3),
    ("micro_speech_quantized", "viper", 1),
    ("keyword_scrambled", "pure", 2),
    ("keyword_scrambled", "viper", 3),
]


def _exes():
    """The x64 unix port, and MICROPYTHON32 (a 32-bit port, docs/viper.md) if set."""
    return [
        pytest.param(
            micropython_exe(),
            id="x64",
            marks=pytest.mark.skipif(micropython_exe() is None, reason="MicroPython unix port not installed"),
        ),
        pytest.param(
            os.environ.get("MICROPYTHON32"),
            id="32bit",
            marks=pytest.mark.skipif(not os.environ.get("MICROPYTHON32"), reason="MICROPYTHON32 unset"),
        ),
    ]


@pytest.mark.parametrize("exe", _exes())
@pytest.mark.parametrize("model,tier,offset", MP_CASES)
def test_micropython_unaligned_weights(baked, model, tier, offset, exe, tmp_path):
    check_unaligned_micropython(baked, model, tier, offset, exe, tmp_path)


@pytest.mark.parametrize("model,offset", [("micro_speech_quantized", 3), ("keyword_scrambled", 1)])
def test_natmod_unaligned_weights(baked, model, offset, natmod_dir, tmp_path):
    """The x64 natmod's binding hands unaligned constants to the kernels too."""
    check_unaligned_micropython(baked, model, "native", offset, micropython_exe(), tmp_path, (natmod_dir,))


def check_unaligned_micropython(baked, model, tier, offset, exe, tmp_path, extra=()):
    data, mdir, name = baked(model)
    ref = harness.load_cpython(mdir, name, "pure")
    rng = np.random.default_rng(offset)
    lo, hi = (0.0, 2 * np.pi) if ref.input_dtype[0] == "f32" else (-1.0, 1.0)
    inputs = [random_input(rng, ref.input_dtype[0], ref.input_shape[0], lo, hi) for _ in range(3)]
    outs, checked = run_unaligned_micropython(exe, mdir, name, tier, offset, inputs, tmp_path, extra)
    assert checked > 0 or tier != "pure"
    for x, got in zip(inputs, outs):
        want = run_tflm(data, [x])[0]
        got = np.frombuffer(got, want.dtype).reshape(want.shape)
        if want.dtype == np.float32:
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(got, want)


def _viper_wide_pointer_args() -> dict[str, set[int]]:
    """Viper function -> the args indices it reads through ptr16/ptr32."""
    found: dict[str, set[int]] = {}
    for path in (ROOT / "device_lib" / "upyflow" / "kernels_viper").glob("*.py"):
        fn = None
        for line in path.read_text().splitlines():
            m = re.match(r"def (\w+)\(", line)
            if m:
                fn = m.group(1)
            for k in re.findall(r"ptr(?:16|32)\(args\[(\d+)\]\)", line):
                found.setdefault(fn, set()).add(int(k))
    return found


def test_viper_wide_pointers_only_on_arena_tensors(tmp_path):
    """ptr16/ptr32 load directly: in every viper kernel they may point only at tensor
    arguments the bake never fills with a constant (checked on models using those kernels)."""
    wide = _viper_wide_pointer_args()
    assert wide, "no ptr16/ptr32 use found: update this test's pattern"
    # kernels whose module sets `_svdf` etc. are reached through thin wrappers
    alias = {"_svdf": ("svdf_s8_i16", "svdf_s8_i8")}
    kernels = {}
    for fn, args in wide.items():
        for k in alias.get(fn, (fn,)):
            kernels[k] = args
    seen = set()
    paths = [
        harness.SHARED / "models" / (m + ".tflite")
        for m in ("keyword_scrambled", "keyword_scrambled_8bit", "trained_lstm_int8", "micro_speech_lstm")
    ]
    paths += sorted((harness.SHARED / "tflm_integration" / "seanet" / "conv").glob("conv*.tflite"))[:4]
    for path in paths:
        if not path.exists():
            continue
        model = path.stem
        mdir, name, _ = bake_model(path, tmp_path / model, name=model)
        mod = _import(mdir, name)
        for kernel, ids in _calls(mod):
            if kernel in kernels:
                seen.add(kernel)
                for k in kernels[kernel]:
                    assert _where(mod, ids[k]) != 1, (model, kernel, k)
    if not seen:
        pytest.skip("no shared model uses a viper kernel with ptr16/ptr32")


def _import(mdir: str, name: str):
    mod = load_module(os.path.join(mdir, name + ".py"))
    return mod


def _calls(mod):
    from upyflow_tools.emit import module_records

    for _start, _end, ops in module_records(mod):
        for op in ops:
            yield op.kernel, op.tensors


def _where(mod, tid: int) -> int:
    from upyflow_tools.emit import module_tensor

    return module_tensor(mod, tid)[0]
