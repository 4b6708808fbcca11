"""The TFLite Micro interpreter (pip package tflite-micro) as an oracle and arena reference."""
from __future__ import annotations

import re
import subprocess
import sys

import numpy as np

ARENA = 8 << 20   # generous: TFLM's default (10x model size) is too small for some models


def interpreter(model: bytes):
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError as e:
        raise RuntimeError("the TFLM oracle needs: pip install tflite-micro") from e
    return runtime.Interpreter.from_bytes(model, arena_size=ARENA)


def run(model: bytes, inputs: list[np.ndarray]):
    interp = interpreter(model)
    for i, x in enumerate(inputs):
        interp.set_input(x, i)
    interp.invoke()
    return interp


def head_arena_bytes(path: str) -> int | None:
    """TFLM's non-persistent ("head") arena for a model file, from print_allocations().

    TFLM prints the figures from C++; a child process is the reliable way to catch them.
    """
    code = ("import sys; from upyflow_tools.tflm import interpreter; "
            "interpreter(open(sys.argv[1], 'rb').read()).print_allocations()")
    proc = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True)
    m = re.search(r"Arena allocation head (\d+) bytes", proc.stdout + proc.stderr)
    return int(m.group(1)) if m else None
