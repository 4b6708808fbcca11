"""Heap used on a board by each shared model: upyflow on the virtual board vs TFLM's arena and
MicroFlow's published RAM figures.

    python benchmarks/board_ram.py [--models a,b] [--heap 190K]

For each model, a fresh virtual board (MicroPython unix port, 190 KB heap like an RP2040)
gets the runtime and the model through `upyflow deploy` (person_detect baked with
--weights file, the others as .mpy with inline weights), is soft-reset, and then reports
through the raw REPL: free heap after boot, after `import upyflow`, after `upyflow.load()`
(each after gc.collect()), and the bytes allocated during the first invoke() (gc.mem_alloc()
before and after, collection disabled so nothing is freed meanwhile). Prints Markdown.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile

from upyflow_tools.bake import bake
from upyflow_tools.deploy import Board, deploy
from upyflow_tools.tflm import head_arena_bytes
from upyflow_tools.vboard import VirtualBoard

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.environ.get("UPYFLOW_SHARED") or os.path.join(os.path.dirname(ROOT), "shared"), "models")
MODELS = ("hello_world_int8", "microflow_sine", "micro_speech_quantized", "person_detect")
FILE_WEIGHTS = {"person_detect"}     # 241 KB of weights: inline they do not fit a 190 KB heap

# MicroFlow's RAM usage in kB per MCU (TFLM's beside it where they measured it), from the
# microflow-rs repository (github.com/matteocarnelos/microflow-rs, commit 6703135), files
# analysis/memory/sine.ipynb, speech.ipynb and person_detect.ipynb: the `ram` data frames that
# draw its plots/*-memory.pdf, the RAM plots of the MicroFlow paper (arXiv 2409.19432,
# "MicroFlow: An Efficient Rust-Based Inference Engine for TinyML"). The paper's own text
# and figures could not be read here, so the numbers are quoted from the repository's data,
# not checked against the PDF. They are RAM usage of each MCU's build as MicroFlow report it;
# the data files do not say what it includes (engine, buffers, application, stack), and it
# is not a heap measurement: compare orders of magnitude only. MicroFlow did not evaluate
# hello_world_int8 (its sine model is microflow_sine, a different training run).
MICROFLOW_SOURCE = ("github.com/matteocarnelos/microflow-rs@6703135 analysis/memory/"
                    "{sine,speech,person_detect}.ipynb (data of the paper's RAM plots, arXiv 2409.19432)")
MICROFLOW_RAM_KB = {
    "microflow_sine": {"MicroFlow": {"ESP32": 10.688, "nRF52840": 5.296, "ATSAMV71": 6.584,
                                     "LM3S6965": 4.620, "ATmega328": 1.706},
                       "TFLM": {"ESP32": 24.424, "nRF52840": 45.728}},
    "micro_speech_quantized": {"MicroFlow": {"ESP32": 25.488, "nRF52840": 19.552, "ATSAMV71": 21.168,
                                             "LM3S6965": 19.220},
                               "TFLM": {"ESP32": 42.428, "nRF52840": 63.728}},
    "person_detect": {"MicroFlow": {"ESP32": 96.048, "nRF52840": 95.984, "ATSAMV71": 96.512},
                      "TFLM": {"ESP32": 122.428, "nRF52840": 143.728}},
}

_PROBE = """
import gc
gc.collect()
boot = gc.mem_free()
import upyflow
gc.collect()
imported = gc.mem_free()
m = upyflow.load(%(name)r)
gc.collect()
loaded = gc.mem_free()
gc.disable()
before = gc.mem_alloc()
try:
    m.invoke()
    peak = gc.mem_alloc() - before
except MemoryError:
    peak = -1
gc.enable()
print('RAM', boot, imported, loaded, peak, m.arena_size, m.tier, gc.mem_free() + gc.mem_alloc())
"""


def tflm_arena(path: str) -> tuple[int | None, int | None]:
    """TFLM's (head, total) arena bytes; total = head + persistent tail, from print_allocations()."""
    code = ("import sys; from upyflow_tools.tflm import interpreter; "
            "interpreter(open(sys.argv[1], 'rb').read()).print_allocations()")
    proc = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True)
    total = re.search(r"Arena allocation total (\d+) bytes", proc.stdout + proc.stderr)
    return head_arena_bytes(path), int(total.group(1)) if total else None


def measure(name: str, heap: str, workdir: str) -> dict:
    path = os.path.join(SHARED, name + ".tflite")
    outdir = os.path.join(workdir, name)
    weights = "file" if name in FILE_WEIGHTS else "inline"
    result, _ = bake(path, outdir, name=name, mpy=True, weights=weights)
    b = result.baked
    with VirtualBoard(heapsize=heap) as vb:
        deploy(outdir, vb.port, log=lambda *a: None)    # ends with a soft reset: a clean heap
        out = Board(vb.port).exec(_PROBE % {"name": name})
    line = [l for l in out.splitlines() if l.startswith("RAM ")]
    if not line:
        raise RuntimeError("%s: no measurement from the board:\n%s" % (name, out))
    boot, imported, loaded, peak, arena, tier, total = line[-1].split()[1:]
    boot, imported, loaded, peak, arena = int(boot), int(imported), int(loaded), int(peak), int(arena)
    wbuf = b.weight_buffer if weights == "file" else 0
    inline = len(b.weights) if weights == "inline" else 0
    held = boot - loaded                                 # all upyflow keeps after load
    head, tflm_total = tflm_arena(path)
    return {"model": name, "weights": weights, "tier": tier, "heap": int(total), "boot": boot,
            "import": boot - imported, "load": imported - loaded, "peak": peak, "arena": arena,
            "wbuf": wbuf, "inline": inline, "overhead": held - arena - wbuf - inline,
            "used": held + max(peak, 0), "tflm_head": head, "tflm_total": tflm_total}


def _kb(model: str, engine: str) -> str:
    figs = MICROFLOW_RAM_KB.get(model, {}).get(engine)
    if not figs:
        return "not evaluated"
    return " / ".join("%.1f" % figs[m] for m in ("ESP32", "nRF52840"))


def table(rows: list[dict]) -> str:
    head = ("| model | weights | tier | free after boot | `import upyflow` | load | invoke peak | "
            "arena | weight buffer | inline weights | runtime overhead | total heap used | "
            "TFLM head arena | TFLM total arena | MicroFlow RAM kB (ESP32 / nRF52840) | "
            "TFLM RAM kB as MicroFlow measured it (ESP32 / nRF52840) |")
    lines = [head, "|" + "---|" * 2 + "---|" + "---:|" * 11 + "---:|" * 2]
    for r in rows:
        peak = "MemoryError" if r["peak"] < 0 else str(r["peak"])
        lines.append("| %s | %s | %s | %d | %d | %d | %s | %d | %d | %d | %d | %d | %s | %s | %s | %s |" % (
            r["model"], "file (.bin)" if r["weights"] == "file" else "inline .mpy", r["tier"], r["boot"],
            r["import"], r["load"], peak, r["arena"], r["wbuf"], r["inline"], r["overhead"], r["used"],
            r["tflm_head"], r["tflm_total"], _kb(r["model"], "MicroFlow"), _kb(r["model"], "TFLM")))
    return "\n".join(lines)


NOTES = """
Bytes unless marked kB. Heap: %(heap)s (MicroPython unix port v1.29, 64-bit: objects and
pointers are twice a 32-bit board's, so the code, tables and views cost less on a board;
the arena and weight buffers are the same). `import upyflow` and load are the drops in free
heap after gc.collect(); invoke peak is gc.mem_alloc() growth during the first invoke()
with collection disabled (transient: freed by the next collection). Runtime overhead =
(free after boot - free after load) - arena - weight buffer - inline weights: runtime code,
baked tables, views and kernel call records; load includes importing the kernel tier, but
the unix port keeps machine code (native module, viper) outside the GC heap, while the
RP2040 port allocates it from the heap: add that code's size there. Total heap used =
free after boot - free after load + invoke peak. TFLM total arena = head (activations) +
tail (persistent: tensor structs, op data); TFLM keeps its code and the model in flash.
MicroFlow figures: RAM usage of each MCU's build as MicroFlow report it (what it includes is
not stated; not a heap measurement), in kB; the paper's own tables/figures were not
checked, the numbers are the data behind its plots in the repository: %(src)s."""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated names in ../shared/models")
    ap.add_argument("--heap", default="190K", help="virtual board heap, like -X heapsize (default 190K)")
    args = ap.parse_args(argv)
    names = [n for n in args.models.split(",") if n]
    missing = [n for n in names if not os.path.exists(os.path.join(SHARED, n + ".tflite"))]
    if missing:
        print("missing in %s: %s (../shared lives beside the repo)" % (SHARED, ", ".join(missing)),
              file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for n in names:
            print("measuring %s on a virtual board..." % n, file=sys.stderr)
            rows.append(measure(n, args.heap, work))
    print(table(rows))
    print(NOTES % {"heap": args.heap, "src": MICROFLOW_SOURCE})
    return 0


if __name__ == "__main__":
    sys.exit(main())
