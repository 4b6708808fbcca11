"""Same-run A/B of the MicroPython natmod tier's invoke() across checkouts of this repository.

    python benchmarks/ab_natmod.py --checkout new=. --checkout old=/path/to/worktree
        [--checkout new-flat=.,patches=off]
        [--models microflow_sine,micro_speech_quantized,person_detect] [--rounds 15]
        [--callgrind]

Each checkout bakes the same ../shared models with its own host tools (`.mpy`, inline
weights, that commit's defaults unless OPTION=VALUE say otherwise) and runs them with its
own device_lib and its own x64 natmod (native_modules/micropython/build/x64, built from that
checkout's sources: `make -C native_modules/micropython ARCH=x64 MPY_DIR=...`). The rounds
interleave the checkouts (A B C, then C B A, ...) and TFLM's interpreter, each MicroPython
process timing --loops loops of the same number of invokes (>= 2 ms per loop on the first
checkout). Reported: medians (and minima) over every loop of every round, and paired
ratios to the last checkout (the median over rounds of each round's ratio of loop
medians). --callgrind adds instruction counts per invoke from valgrind's callgrind on the
micropython binary (the same script with --invokes invokes minus with none: deterministic,
unlike the wall clock on a shared machine). Prints Markdown.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.environ.get("UPYFLOW_SHARED") or os.path.join(os.path.dirname(ROOT), "shared"), "models")
MODELS = "microflow_sine,micro_speech_quantized,person_detect"

_BAKE = """
import os, sys
from upyflow_tools.bake import bake
path, outdir, name = sys.argv[1:4]
bake(path, outdir, name=name, mpy=True, **dict(kv.split('=') for kv in sys.argv[4:]))
os.remove(os.path.join(outdir, name + '.py'))   # MicroPython would prefer it to the .mpy
"""

_LOOPS = """
import sys, time
for p in %(paths)r:
    sys.path.insert(0, p)
import upyflow
m = upyflow.load(%(name)r, 'native')
assert m.tier == 'native', m.tier
inv = m.invoke
inv()
n = %(n)d
if n == 0:   # calibrate: invokes per loop lasting at least 2 ms
    n = 1
    while True:   # the least of 3 tries: a preempted try would stop the doubling early
        best = None
        for _ in range(3):
            t = time.ticks_us()
            for _ in range(n):
                inv()
            dt = time.ticks_diff(time.ticks_us(), t)
            best = dt if best is None or dt < best else best
        if best >= 2000:
            break
        n *= 2
    print('N', n)
for _ in range(%(loops)d):
    t = time.ticks_us()
    for _ in range(n):
        inv()
    print('LOOP', time.ticks_diff(time.ticks_us(), t) / n)
"""

_COUNT = """
import sys
for p in %(paths)r:
    sys.path.insert(0, p)
import upyflow
m = upyflow.load(%(name)r, 'native')
inv = m.invoke
inv()
for _ in range(%(n)d):
    inv()
"""


def micropython() -> str:
    exe = os.path.join(os.path.dirname(sys.executable), "micropython")
    return exe if os.path.exists(exe) else "micropython"


def bake_with(checkout: str, model: str, outdir: str, options: list[str]) -> None:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([os.path.join(checkout, "host_tools"), os.path.join(checkout, "device_lib")]),
    )
    subprocess.run(
        [sys.executable, "-c", _BAKE, os.path.join(SHARED, model + ".tflite"), outdir, model] + options,
        env=env,
        check=True,
        capture_output=True,
        cwd=outdir,
    )


def paths(checkout: str, outdir: str) -> list[str]:
    natmod = os.path.join(checkout, "native_modules", "micropython", "build", "x64")
    if not os.path.exists(os.path.join(natmod, "upyflow_native.mpy")):
        raise SystemExit(
            "%s: no x64 natmod built from its sources (python native_modules/build_natmods.py "
            "--build-only --arch x64 --mpy-dir ...; before the split natmods: make -C "
            "native_modules/micropython ARCH=x64 MPY_DIR=...)" % checkout
        )
    return [os.path.join(checkout, "device_lib"), outdir, natmod]


def mp_loops(checkout: str, outdir: str, model: str, n: int, loops: int, heap: str) -> tuple[int, list[float]]:
    script = os.path.join(outdir, "_loops.py")
    with open(script, "w") as f:
        f.write(_LOOPS % {"paths": paths(checkout, outdir), "name": model, "n": n, "loops": loops})
    proc = subprocess.run(
        [micropython(), "-X", "heapsize=" + heap, script], capture_output=True, text=True, timeout=600
    )
    if proc.returncode:
        raise RuntimeError("%s %s: %s" % (checkout, model, proc.stdout + proc.stderr))
    found = re.search(r"^N (\d+)", proc.stdout, re.M)
    return (
        int(found.group(1)) if found else n,
        [float(ln.split()[1]) for ln in proc.stdout.splitlines() if ln.startswith("LOOP ")],
    )


def tflm_loops(interp, n: int, loops: int) -> list[float]:
    out = []
    for _ in range(loops):
        t = time.perf_counter()
        for _ in range(n):
            interp.invoke()
        out.append((time.perf_counter() - t) / n * 1e6)
    return out


def callgrind_ir(checkout: str, outdir: str, model: str, n: int, heap: str) -> int:
    """Instructions (Ir) callgrind counts for the script with n invokes after the first."""
    script = os.path.join(outdir, "_count%d.py" % n)
    with open(script, "w") as f:
        f.write(_COUNT % {"paths": paths(checkout, outdir), "name": model, "n": n})
    out = os.path.join(outdir, "callgrind.%d.out" % n)
    proc = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--smc-check=all-non-file",
            "--callgrind-out-file=" + out,
            micropython(),
            "-X",
            "heapsize=" + heap,
            script,
        ],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if proc.returncode:
        raise RuntimeError("callgrind %s %s: %s" % (checkout, model, proc.stderr[-2000:]))
    return int(re.search(r"Collected : (\d+)", proc.stderr).group(1))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--checkout",
        action="append",
        required=True,
        help="LABEL=PATH[,OPTION=VALUE...] (bake() keyword options), first = reference",
    )
    ap.add_argument("--models", default=MODELS)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--loops", type=int, default=5, help="timed loops per process")
    ap.add_argument("--heap", default="2M")
    ap.add_argument("--callgrind", action="store_true")
    ap.add_argument(
        "--invokes",
        default="microflow_sine=20000,micro_speech_quantized=200,person_detect=10",
        help="MODEL=N invokes counted by callgrind",
    )
    args = ap.parse_args(argv)
    from upyflow_tools.tflm import interpreter

    checkouts = [c.split("=", 1) for c in args.checkout]
    options = {label: path.split(",")[1:] for label, path in checkouts}
    checkouts = [(label, path.split(",")[0]) for label, path in checkouts]
    models = args.models.split(",")
    counts = dict((kv.split("=")[0], int(kv.split("=")[1])) for kv in args.invokes.split(","))
    with tempfile.TemporaryDirectory() as work:
        dirs = {}
        for label, path in checkouts:
            for m in models:
                d = dirs[label, m] = os.path.join(work, label, m)
                os.makedirs(d)
                print("baking %s with %s" % (m, label), file=sys.stderr, flush=True)
                bake_with(os.path.abspath(path), m, d, options[label])
        times: dict = {}
        rounds: dict = {}  # per round, the median of its loops: paired ratios between checkouts
        ir: dict = {}
        for m in models:
            interp = interpreter(open(os.path.join(SHARED, m + ".tflite"), "rb").read())
            n, _ = mp_loops(checkouts[0][1], dirs[checkouts[0][0], m], m, 0, 1, args.heap)
            print("timing %s: %d invokes per loop, %d rounds" % (m, n, args.rounds), file=sys.stderr, flush=True)
            for r in range(args.rounds):
                order = checkouts if r % 2 == 0 else checkouts[::-1]
                times.setdefault(("TFLM", m), []).extend(tflm_loops(interp, n, args.loops))
                for label, path in order:
                    loops = mp_loops(os.path.abspath(path), dirs[label, m], m, n, args.loops, args.heap)[1]
                    times.setdefault((label, m), []).extend(loops)
                    rounds.setdefault((label, m), []).append(statistics.median(loops))
            if args.callgrind:
                for label, path in checkouts:
                    print("callgrind %s with %s" % (m, label), file=sys.stderr, flush=True)
                    k = counts.get(m, 10)
                    full = callgrind_ir(os.path.abspath(path), dirs[label, m], m, k, args.heap)
                    base = callgrind_ir(os.path.abspath(path), dirs[label, m], m, 0, args.heap)
                    ir[label, m] = (full - base) / k
    labels = [c[0] for c in checkouts]
    print(
        "us per invoke, MicroPython natmod tier (x64, heap %s), median (min) of %d loops x %d rounds, "
        "interleaved; ratio to TFLM's interpreter timed the same way in the same rounds; %s, %d cores, "
        "load average %.1f at the end"
        % (args.heap, args.loops, args.rounds, os.uname().machine, os.cpu_count(), os.getloadavg()[0])
    )
    print()
    ref = labels[-1]
    print(
        "| model | TFLM | "
        + " | ".join(labels)
        + " | paired ratio to %s: %s |" % (ref, " / ".join(labels[:-1]))
        + (" callgrind Ir per invoke: " + " / ".join(labels) + " |" if ir else "")
    )
    print("|---|" + "---:|" * (len(labels) + 2 + (1 if ir else 0)))
    for m in models:
        tf = statistics.median(times["TFLM", m])
        cells = [
            "%.3g (%.3g) [%.2fx]"
            % (statistics.median(times[lb, m]), min(times[lb, m]), statistics.median(times[lb, m]) / tf)
            for lb in labels
        ]
        # the median over rounds of each round's ratio: drifts in the machine's load cancel
        paired = [statistics.median([a / b for a, b in zip(rounds[lb, m], rounds[ref, m])]) for lb in labels[:-1]]
        row = "| %s | %.3g (%.3g) | %s | %s |" % (
            m,
            tf,
            min(times["TFLM", m]),
            " | ".join(cells),
            " / ".join("%.3f" % r for r in paired),
        )
        if ir:
            row += " %s |" % " / ".join("%.0f" % ir[lb, m] for lb in labels)
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
