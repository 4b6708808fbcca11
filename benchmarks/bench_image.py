"""Time per camera frame for upyflow.image on every tier: a 160x120 RGB565 frame to a
96x96 int8 gray input (person_detect's), nearest and bilinear, the full frame stretched.

    python benchmarks/bench_image.py [--natmod DIR] [--frames N]

CPython: pure and the native extension. MicroPython unix port: pure, viper and the x64
natmod (a local build in native_modules/micropython/build/x64 if any, else --natmod).
Each figure is the mean over N frames (after one warm-up call). Prints Markdown.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import upyflow
from upyflow import image
from upyflow_tools.unixport import DEVICE_LIB, micropython_exe

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCAL_NATMOD = os.path.join(ROOT, "native_modules", "micropython", "build", "x64")
W, H, SIDE = 160, 120, 96

_MP = r"""
import sys, time
sys.path.insert(0, %(lib)r)
for p in %(extra)r:
    sys.path.insert(0, p)
from upyflow import image

class M:
    input_shape, input_dtype = [[1, 96, 96, 1]], ["i8"]
    input_scale, input_zero_point = [0.00784313725490196], [-1]
    buf = bytearray(96 * 96)
    def input_buffer(self, i=0):
        return memoryview(self.buf)

frame = bytearray(%(w)d * %(h)d * 2)
for i in range(len(frame)):
    frame[i] = (i * 37) & 255
m = M()
for resize in ("nearest", "bilinear"):
    p = image.Preprocessor(m, %(w)d, %(h)d, "rgb565", resize=resize, normalise="symmetric", tier=%(tier)r)
    p(frame)
    t = time.ticks_us()
    for _ in range(%(n)d):
        p(frame)
    print("T", p.tier, resize, time.ticks_diff(time.ticks_us(), t) / %(n)d)
"""


class FakeModel:
    input_shape, input_dtype = [[1, SIDE, SIDE, 1]], ["i8"]
    input_scale, input_zero_point = [0.00784313725490196], [-1]

    def __init__(self):
        self.buf = bytearray(SIDE * SIDE)

    def input_buffer(self, i=0):
        return memoryview(self.buf)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--natmod", help="folder of an x64 upyflow_native.mpy with the image kernel")
    ap.add_argument("--frames", type=int, default=20)
    args = ap.parse_args()
    frame = (np.arange(W * H * 2) * 37 % 256).astype(np.uint8).tobytes()
    rows = []
    for tier in ("native", "pure"):
        if not upyflow.dispatch.available(tier):
            continue
        for resize in ("nearest", "bilinear"):
            p = image.Preprocessor(FakeModel(), W, H, "rgb565", resize=resize, normalise="symmetric", tier=tier)
            p(frame)
            t = time.perf_counter()
            for _ in range(args.frames):
                p(frame)
            rows.append(("CPython", tier, resize, (time.perf_counter() - t) / args.frames * 1e6))
    exe = micropython_exe()
    natmod = args.natmod or (
        LOCAL_NATMOD if os.path.exists(os.path.join(LOCAL_NATMOD, "upyflow_native_image.mpy")) else None
    )
    for tier in ("native", "viper", "pure"):
        if exe is None or (tier == "native" and natmod is None):
            continue
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
            f.write(
                _MP
                % {
                    "lib": DEVICE_LIB,
                    "extra": [natmod] if tier == "native" else [],
                    "w": W,
                    "h": H,
                    "tier": tier,
                    "n": args.frames,
                }
            )
        try:
            out = subprocess.run([exe, "-X", "heapsize=1M", f.name], capture_output=True, text=True, timeout=600)
        finally:
            os.unlink(f.name)
        for line in out.stdout.splitlines():
            if line.startswith("T "):
                _, got, resize, us = line.split()
                if got == tier:  # a tier that fell back is not this tier's figure
                    rows.append(("MicroPython unix", tier, resize, float(us)))
        if out.returncode:
            print(out.stdout + out.stderr, file=sys.stderr)
    print("| Python | tier | resize | us per frame (160x120 RGB565 -> 96x96 int8 gray) |")
    print("|---|---|---|---|")
    for py, tier, resize, us in rows:
        print("| %s | %s | %s | %.0f |" % (py, tier, resize, us))
    return 0


if __name__ == "__main__":
    sys.exit(main())
