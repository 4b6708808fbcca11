"""upyflow demo: bake the project's sine model and run it under the MicroPython unix port.

Prints, for a sweep of x in [0, 2*pi]: the int8 input, upyflow's int8 output on
MicroPython, TFLite Micro's output for the same input, and the dequantized value
beside sin(x); then arena bytes (upyflow vs TFLM) and time per inference.
"""
from __future__ import annotations

import math
import os
import sys

import numpy as np

from upyflow_tools.bake import bake
from upyflow_tools.tflm import head_arena_bytes, run
from upyflow_tools.unixport import run_batch

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "sine_int8.tflite")


def main(outdir: str = os.path.join(HERE, "..", "..", "out", "hello_world")) -> int:
    print("baking %s -> %s" % (os.path.relpath(MODEL), os.path.relpath(outdir)))
    result, files = bake(MODEL, outdir, name="sine", mpy=True)
    for f in files:
        print("  wrote %s (%d bytes)" % (os.path.relpath(f), os.path.getsize(f)))
    x_in = result.graph.tensors[result.graph.inputs[0]]
    y_out = result.graph.tensors[result.graph.outputs[0]]
    xs = [2 * math.pi * k / 12 for k in range(13)]
    qs = [int(np.clip(round(x / x_in.sc) + x_in.zp, -128, 127)) for x in xs]
    inputs = [[np.array([[q]], np.int8).tobytes()] for q in qs]
    print("running %d inferences under MicroPython (heap 190K, like an RP2040)..." % len(qs))
    outs, us = run_batch(outdir, "sine", inputs, env={"UPYFLOW_TIER": "viper"})
    model = open(MODEL, "rb").read()
    print()
    print("%7s %6s %9s %6s %9s %9s" % ("x", "in q", "upyflow", "TFLM", "y", "sin(x)"))
    same = 0
    for x, q, out in zip(xs, qs, outs):
        got = np.frombuffer(out[0], np.int8)[0]
        want = run(model, [np.array([[q]], np.int8)]).get_output(0).ravel()[0]
        same += int(got == want)
        y = (int(got) - y_out.zp) * y_out.sc
        print("%7.3f %6d %9d %6d %9.4f %9.4f" % (x, q, got, want, y, math.sin(x)))
    print()
    print("outputs identical to TFLite Micro: %d of %d" % (same, len(xs)))
    print("arena: upyflow %d bytes, TFLite Micro %s bytes" % (result.arena_size, head_arena_bytes(MODEL)))
    print("time per inference (MicroPython unix port, viper kernels): %.0f us" % us)
    return 0 if same == len(xs) else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
