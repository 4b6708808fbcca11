"""Time per invoke() and arena bytes: upyflow on every kernel tier vs TFLite Micro, in one run.

    python benchmarks/bench.py [--models a,b] [--reps N] [--mp-reps N] [--natmod DIR]

Models are read from ../shared/models. Columns: TFLM (its Python package's compiled
interpreter), upyflow on CPython (native C extension, pure Python), upyflow under the
MicroPython unix port (natmod x64, local build or shipped; viper, pure), each with its ratio to TFLM
measured in this same run; then upyflow's arena beside TFLM's head arena. Prints Markdown.
MicroPython viper and pure figures are the mean over a batch of inputs; the natmod's is the
mean over the best of --reps loops of invokes lasting >= 2 ms each (ticks_us cannot time a
sub-microsecond invoke; a slow model's loop is one invoke), as TFLM's is its best call.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

import upyflow
from upyflow_tools.bake import bake
from upyflow_tools.runner import load_module, model_of
from upyflow_tools.tflm import head_arena_bytes, interpreter
from upyflow_tools.unixport import micropython_exe, run_batch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.environ.get("UPYFLOW_SHARED") or os.path.join(os.path.dirname(ROOT), "shared"), "models")
# x64 natmods: a local build of the core and every family (python native_modules/build_natmods.py
# --build-only --arch x64 --mpy-dir ...) if any, else the shipped ones
NATMOD = os.path.join(ROOT, "native_modules", "micropython", "build", "x64")
if not os.path.exists(os.path.join(NATMOD, "upyflow_native_conv.mpy")):
    NATMOD = os.path.join(ROOT, "host_tools", "upyflow_tools", "natmods", "x64")
DEFAULT = (
    "hello_world_int8,hello_world_float,microflow_sine,micro_speech_quantized,person_detect,"
    "keyword_scrambled,trained_lstm_int8,micro_speech_lstm,dtln_noise_suppression,audio_preprocessor_int8"
)


def timed(fn, reps: int) -> float:
    """Best of `reps` calls, in microseconds (the least disturbed run)."""
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1e6


_LOOP = """
import sys, time
for p in %(paths)r:
    sys.path.insert(0, p)
import upyflow
m = upyflow.load(%(name)r)
m.invoke()
n = 1
while True:   # invokes per loop: at least 2 ms of them (ticks_us cannot time one)
    t = time.ticks_us()
    for _ in range(n):
        m.invoke()
    if time.ticks_diff(time.ticks_us(), t) >= 2000:
        break
    n *= 2
best = None
for _ in range(%(reps)d):   # the least disturbed loop, as TFLM's least disturbed call
    t = time.ticks_us()
    for _ in range(n):
        m.invoke()
    dt = time.ticks_diff(time.ticks_us(), t) / n
    if best is None or dt < best:
        best = dt
print('LOOP', m.tier, best)
"""


def mp_loop_us(outdir: str, name: str, tier: str, args) -> float:
    """Microseconds per invoke under MicroPython: the best of --reps loops of >= 2 ms."""
    import subprocess

    from upyflow_tools.unixport import DEVICE_LIB

    script = os.path.join(outdir, "_loop.py")
    with open(script, "w") as f:
        f.write(_LOOP % {"paths": [DEVICE_LIB, outdir, args.natmod], "name": name, "reps": args.reps})
    proc = subprocess.run(
        [micropython_exe(), "-X", "heapsize=" + args.mp_heap, script],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, UPYFLOW_TIER=tier),
    )
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("LOOP ")]
    if proc.returncode or not line or line[-1].split()[1] != tier:
        raise RuntimeError("MicroPython loop timing failed: %s" % (proc.stdout + proc.stderr))
    return float(line[-1].split()[2])


def bench_model(name: str, args, outdir: str) -> dict:
    path = os.path.join(SHARED, name + ".tflite")
    data = open(path, "rb").read()
    result, _ = bake(path, outdir, name=name, mpy=True)
    mod = load_module(os.path.join(outdir, name + ".py"))
    rng = np.random.default_rng(0)
    probe = model_of(mod, "pure")
    xs = []
    for dt, shape in zip(probe.input_dtype, probe.input_shape):
        dtype = {"i8": np.int8, "i16": np.int16, "f32": np.float32}[dt]
        xs.append(
            (
                rng.uniform(0, 6, shape)
                if dtype == np.float32
                else rng.integers(np.iinfo(dtype).min, np.iinfo(dtype).max + 1, shape)
            ).astype(dtype)
        )
    interp = interpreter(data)
    for i, x in enumerate(xs):
        interp.set_input(x, i)
    row = {
        "model": name,
        "TFLM": timed(interp.invoke, args.reps),
        "arena": result.arena_size,
        "state": result.state_bytes,
        "tflm_arena": head_arena_bytes(path),
    }
    for tier in ("native", "pure"):
        if upyflow.dispatch.available(tier):
            m = model_of(mod, tier)
            for i, x in enumerate(xs):
                m.set_input(i, x.tobytes())
            slow = tier == "pure" and row["TFLM"] > 100
            row["CPython " + tier] = timed(m.invoke, 3 if slow else args.reps)
    if micropython_exe():
        os.remove(os.path.join(outdir, name + ".py"))  # MicroPython would prefer the .py to the .mpy
        tiers = ["native"] if os.path.exists(os.path.join(args.natmod, "upyflow_native.mpy")) else []
        for tier in tiers + ["viper", "pure"]:
            reps = 2 if tier == "pure" and row["TFLM"] > 100 else args.mp_reps
            if tier == "native":  # loops: the batch times each invoke to 1 us
                us = mp_loop_us(outdir, name, tier, args)
            else:
                _, us = run_batch(
                    outdir,
                    name,
                    [[x.tobytes() for x in xs]] * reps,
                    heapsize=args.mp_heap,
                    env={"UPYFLOW_TIER": tier},
                    extra_paths=[args.natmod],
                )
            row["MicroPython " + ("natmod" if tier == "native" else tier)] = us
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=DEFAULT, help="comma-separated names in ../shared/models")
    ap.add_argument("--reps", type=int, default=50, help="repetitions on CPython (best of)")
    ap.add_argument("--mp-reps", type=int, default=20, help="MicroPython invokes per model (mean)")
    ap.add_argument(
        "--mp-heap",
        default="2M",
        help="MicroPython heap (default 2M: person_detect's "
        "inline weights need more than an RP2040's 190K; see --weights file)",
    )
    ap.add_argument(
        "--natmod",
        default=NATMOD,
        help="folder of the x64 upyflow_native.mpy "
        "(default: native_modules/micropython/build/x64 if built, else the shipped one)",
    )
    args = ap.parse_args()
    if not os.path.isdir(SHARED):
        print("benchmarks need ../shared/models beside the checkout", file=sys.stderr)
        return 1
    rows = []
    with tempfile.TemporaryDirectory() as outdir:
        for name in args.models.split(","):
            print("benchmarking %s ..." % name, file=sys.stderr, flush=True)
            rows.append(bench_model(name, args, outdir))
    cols = [
        c
        for c in ("CPython native", "CPython pure", "MicroPython natmod", "MicroPython viper", "MicroPython pure")
        if any(c in r for r in rows)
    ]
    print(
        "us per invoke (ratio to TFLM in this run); %s, %d cores; MicroPython heap %s, .mpy modules"
        % (os.uname().machine, os.cpu_count(), args.mp_heap)
    )
    print()
    print("| model | TFLM | " + " | ".join(cols) + " | arena upyflow | TFLM head arena |")
    print("|---|" + "---:|" * (len(cols) + 3))
    for r in rows:
        cells = [
            ("%.2f (%.2fx)" if r[c] < 10 else "%.0f (%.2fx)") % (r[c], r[c] / r["TFLM"]) if c in r else "-"
            for c in cols
        ]
        arena = "%d" % r["arena"] if not r["state"] else "%d + %d state" % (r["arena"] - r["state"], r["state"])
        print("| %s | %.1f | %s | %s | %s |" % (r["model"], r["TFLM"], " | ".join(cells), arena, r["tflm_arena"]))
    print()
    print("State tensors (SVDF/LSTM) persist across invokes; TFLM keeps them in its persistent tail,")
    print("outside the head arena, so the comparison is activations vs head.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
