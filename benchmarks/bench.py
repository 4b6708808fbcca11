"""Time per invoke() and arena bytes: upyflow (CPython, MicroPython unix port) vs TFLite Micro.

All figures come from this one run on this machine. Usage:
    python benchmarks/bench.py [--models a,b] [--reps N] [--mp-reps N]
Models are read from ../shared/models. Prints a Markdown table for the README.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time

import numpy as np

import upyflow
from upyflow_tools.bake import bake
from upyflow_tools.tflm import head_arena_bytes, interpreter
from upyflow_tools.unixport import micropython_exe, run_batch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "models")
DEFAULT = "hello_world_int8,hello_world_float,microflow_sine,micro_speech_quantized,person_detect"


def timed(fn, reps: int) -> float:
    """Best of `reps` single calls, in microseconds (the least disturbed run)."""
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1e6


def bench_model(name: str, reps: int, mp_reps: int, outdir: str, mp_heap: str) -> dict:
    path = os.path.join(SHARED, name + ".tflite")
    data = open(path, "rb").read()
    result, _ = bake(path, outdir, name=name, mpy=True)
    spec = importlib.util.spec_from_file_location(name, os.path.join(outdir, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    model = upyflow.Model(mod)
    rng = np.random.default_rng(0)
    dtype = {"i8": np.int8, "f32": np.float32}[model.input_dtype[0]]
    shape = model.input_shape[0]
    x = (rng.uniform(0, 6, shape) if dtype == np.float32 else rng.integers(-128, 128, shape)).astype(dtype)
    interp = interpreter(data)
    interp.set_input(x, 0)
    row = {"model": name, "tflm_us": timed(interp.invoke, reps),
           "arena": result.arena_size, "tflm_arena": head_arena_bytes(path)}
    model.set_input(0, x.tobytes())
    row["cpy_us"] = timed(model.invoke, max(1, reps // 10) if row["tflm_us"] < 1e4 else 3)
    if micropython_exe():
        os.remove(os.path.join(outdir, name + ".py"))  # MicroPython would prefer the .py
        outs, us = run_batch(outdir, name, [[x.tobytes()]] * mp_reps, heapsize=mp_heap)
        row["mp_us"] = us
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=DEFAULT, help="comma-separated names in ../shared/models")
    ap.add_argument("--reps", type=int, default=50, help="TFLM repetitions (best of)")
    ap.add_argument("--mp-reps", type=int, default=3, help="MicroPython invokes per model (mean)")
    ap.add_argument("--mp-heap", default="2M", help="MicroPython heap (person_detect's inline "
                    "weights need more than an RP2040's 190K; see the board workflow)")
    args = ap.parse_args()
    if not os.path.isdir(SHARED):
        print("benchmarks need ../shared/models beside the checkout", file=sys.stderr)
        return 1
    rows = []
    with tempfile.TemporaryDirectory() as outdir:
        for name in args.models.split(","):
            print("benchmarking %s ..." % name, file=sys.stderr, flush=True)
            rows.append(bench_model(name, args.reps, args.mp_reps, outdir, args.mp_heap))
    print("tier: %s; machine: %s; MicroPython heap %s, .mpy modules" % (upyflow.backend(), os.uname().machine, args.mp_heap))
    print()
    print("| model | TFLM invoke | upyflow CPython | ratio | upyflow MicroPython | ratio | arena upyflow | arena TFLM |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        mp = r.get("mp_us")
        print("| %s | %.1f us | %.1f us | %.0fx | %s | %s | %d | %s |" % (
            r["model"], r["tflm_us"], r["cpy_us"], r["cpy_us"] / r["tflm_us"],
            "%.1f us" % mp if mp else "-", "%.0fx" % (mp / r["tflm_us"]) if mp else "-",
            r["arena"], r["tflm_arena"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
