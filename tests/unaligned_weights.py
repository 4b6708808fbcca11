"""pytest plugin (`-p unaligned_weights`): every model the tests load through
harness.load_cpython gets its WEIGHTS blob at an address 1, 2 or 3 mod 4 (in turn),
as a bytes constant frozen into firmware or mapped from a ROM filesystem may sit.

tests/test_unaligned.py runs test modules under it with the C kernels built with
-fsanitize=alignment: a misaligned int16/int32/float load aborts the process.
The tests' own oracle comparisons (TFLM) still decide the outputs.
"""

from __future__ import annotations

import ctypes
import itertools
import os
from pathlib import Path

import harness
import upyflow
from upyflow_tools.runner import load_module

_OFFSETS = itertools.cycle((1, 2, 3))


def misaligned(data: bytes, k: int) -> memoryview:
    """A read-only copy of data at an address k mod 8 (k mod 4 too, for k < 4)."""
    buf = bytearray(len(data) + 16)
    probe = ctypes.c_char.from_buffer(buf)
    start = (-ctypes.addressof(probe)) % 8 + k
    del probe  # release the export before slicing
    buf[start : start + len(data)] = data
    return memoryview(buf)[start : start + len(data)].toreadonly()  # keeps buf alive


def _addr(view: memoryview) -> int:
    import numpy as np

    return np.frombuffer(view, np.uint8).ctypes.data


def load_cpython(module_dir: str, name: str, tier: str | None = None) -> upyflow.Model:
    mod = load_module(os.path.join(module_dir, name + ".py"))
    if mod.WEIGHTS:
        k = next(_OFFSETS)
        mod.WEIGHTS = misaligned(mod.WEIGHTS, k)
        assert _addr(mod.WEIGHTS) % 4 == k
    return upyflow.Model(mod, tier)


harness.load_cpython = load_cpython
if os.environ.get("UPYFLOW_TEST_SHARED"):
    harness.SHARED = Path(os.environ["UPYFLOW_TEST_SHARED"])


import pytest  # noqa: E402


@pytest.hookimpl(trylast=True)  # after -k: spread over the cases that run
def pytest_collection_modifyitems(config, items):
    # UNALIGNED_SPREAD="k/n": keep every n-th generated case (from the k-th), all shared-model
    # ones and the audio front end's clips
    spread = os.environ.get("UNALIGNED_SPREAD")
    if not spread:
        return
    k, n = (int(v) for v in spread.split("/"))
    whole = ("shared_model", "test_shared_models.py", "test_signal.py")
    keep = [item for i, item in enumerate(items) if i % n == k or any(w in item.nodeid for w in whole)]
    config.hook.pytest_deselected(items=[item for item in items if item not in keep])
    items[:] = keep


def pytest_configure(config):
    # the sanitized build must be the one the tests import
    want = os.environ.get("UPYFLOW_NATIVE_DIR")
    if want:
        import upyflow_native

        got = os.path.dirname(os.path.abspath(upyflow_native.__file__))
        assert got == os.path.abspath(want), "upyflow_native came from %s, not %s" % (got, want)
