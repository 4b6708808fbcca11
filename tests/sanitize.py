"""The native tier under AddressSanitizer and UndefinedBehaviorSanitizer.

Builds the CPython extension upyflow_native from native_modules/src with
-fsanitize=address,undefined -fno-sanitize-recover=all into a temp dir, then runs
native-tier tests against it in a subprocess (libasan preloaded: CPython itself is
not instrumented). Any report aborts the run and is printed.

    python tests/sanitize.py            # the full set (make sanitize)
    python tests/sanitize.py --quick    # the subset make test runs (tests/test_sanitize.py)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
SRC = ROOT / "native_modules" / "src"
# float-cast-overflow: GCC's "undefined" leaves out NaN/out-of-range float -> int conversions
FLAGS = [
    "-fsanitize=address,undefined,float-cast-overflow",
    "-fno-sanitize-recover=all",
    "-fno-omit-frame-pointer",
    "-g",
    "-O1",
]

# Test selections run against the sanitized build: the kernels one by one, the walker's
# malformed-record cases, and the shared models end to end.
FULL = [
    "tests/test_native.py",
    "tests/test_walker.py",
    "tests/test_walker_once.py",
    "tests/test_device_safety.py",
    "tests/test_shared_models.py",
    "tests/test_onnx_rounding.py",
    "tests/test_resize.py",
    "tests/test_signal.py",
    "tests/test_ptq.py",
    "tests/test_fc.py",
    "tests/test_conv.py",
    "tests/test_transpose_conv.py",
    "tests/test_pool.py",
    "tests/test_softmax.py",
    "tests/test_quantize_op.py",
    "tests/test_graphs.py",
    "tests/test_sequence.py",
    "tests/test_svdf.py",
    "tests/test_lstm.py",
    "tests/test_activations.py",
    "tests/test_elementwise.py",
    "tests/test_layout.py",
    "tests/test_reduce.py",
    "tests/test_tflm_gaps.py",
    "tests/test_errors.py",
    "tests/test_cast_fill.py",
]
QUICK = [
    "tests/test_native.py",
    "tests/test_walker.py",
    "tests/test_walker_once.py",
    "tests/test_device_safety.py",
    "tests/test_shared_models.py::test_bit_exact_cpython",
]
# the native tier only: the MicroPython runs and pure tier add nothing here
DESELECT = "not pure and not micropython and not viper and not natmod and not board and not isa"


def compiler_for(flags: list[str]) -> str | None:
    """A C compiler that builds and links a shared object with these (sanitizer) flags, or None."""
    cc = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "t.c")
        with open(src, "w") as f:
            f.write("int f(const int *p) { return *p; }\n")
        ok = (
            subprocess.run(
                [cc, "-shared", "-fPIC", *flags, src, "-o", os.path.join(tmp, "t.so")], capture_output=True
            ).returncode
            == 0
        )
    return cc if ok else None


def compiler() -> str | None:
    """A C compiler that can build and link an ASan+UBSan shared object, or None."""
    cc = compiler_for(FLAGS)
    return cc if cc and runtime(cc) else None


def runtime(cc: str) -> str | None:
    """LD_PRELOAD for the run: libasan (the interpreter is not instrumented), then libstdc++,
    so ASan's __cxa_throw interceptor finds the real one (TFLM's pybind module throws)."""
    libs = []
    for name in ("libasan.so", "libstdc++.so.6"):
        out = subprocess.run([cc, "-print-file-name=" + name], capture_output=True, text=True).stdout.strip()
        if not (out and os.path.isabs(out) and os.path.exists(out)):
            return None
        libs.append(out)
    return " ".join(libs)


def build(cc: str, outdir: Path) -> Path:
    sources = [str(ROOT / "native_modules" / "cpython" / "upyflow_native.c")] + sorted(map(str, SRC.glob("*.c")))
    out = outdir / ("upyflow_native" + sysconfig.get_config_var("EXT_SUFFIX"))
    cmd = [
        cc,
        "-shared",
        "-fPIC",
        *FLAGS,
        "-I",
        str(SRC),
        "-I",
        sysconfig.get_paths()["include"],
        *sources,
        "-o",
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if proc.returncode:
        raise RuntimeError("sanitized build failed:\n" + proc.stderr[-4000:])
    return out


def run(selection: list[str], outdir: Path, cc: str, extra: list[str] = ()) -> tuple[int, str, str]:
    """Run the pytest selection against the build in outdir: (return code, reports, output tail)."""
    env = {k: v for k, v in os.environ.items() if k not in ("UPYFLOW_TIER", "MPY_DIR", "PYTEST_ADDOPTS")}
    log = outdir / "san"
    env.update(
        PYTHONPATH=os.pathsep.join([str(outdir), str(TESTS)]),
        UPYFLOW_NATIVE_DIR=str(outdir),
        LD_PRELOAD=runtime(cc),
        # CPython's own allocations are not leaks worth reporting; abort on the first error
        ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:log_path=%s" % log,
        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=%s" % log,
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-x",
            "-p",
            "sanitized_native",
            "-p",
            "no:cacheprovider",
            *selection,
            "-k",
            DESELECT,
            *extra,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    reports = "".join(p.read_text(errors="replace") for p in outdir.glob("san*"))
    return proc.returncode, reports, (proc.stdout + proc.stderr)[-6000:]


def main() -> int:
    cc = compiler()
    if cc is None:
        print("no C compiler with -fsanitize=address,undefined and libasan")
        return 2
    quick = "--quick" in sys.argv
    with tempfile.TemporaryDirectory() as tmp:
        build(cc, Path(tmp))
        rc, reports, tail = run(QUICK if quick else FULL, Path(tmp), cc)
    print(tail)
    if reports:
        print(reports[:8000])
    return 1 if rc or reports else 0


if __name__ == "__main__":
    sys.exit(main())
