"""Heap used on a board by each shared model: upyflow on the virtual board vs TFLM's arena and
MicroFlow's published RAM figures.

    python benchmarks/board_ram.py [--models a,b] [--heap SIZE] [--native FILE]

For each model (default: every model in ../shared/models), a fresh virtual board (MicroPython
unix port, 190 KB heap like an RP2040; dtln_noise_suppression, whose largest layer's weight
buffer alone is 201 KB, on 1 MB: HEAPS; --heap sets one heap for all) gets the runtime and
the model through `upyflow deploy` (person_detect and dtln baked with --weights file, the
others as .mpy with inline weights), is soft-reset, and then reports
through the raw REPL: free heap after boot, after `import upyflow`, after importing the
natmod (once per boot, shared by every model), after `upyflow.load()` (each after
gc.collect()), the largest free block after load and after 10 invokes, whether a 9 KB
f.read() then works, the bytes allocated during an invoke() (collection disabled), and the
time per invoke on every tier the board has. The model's own bytes are split into its baked
tables (the bytes objects the native tier keeps: TENSORS, OPS, OP_FORMATS, each with
its heap block rounding and object header) and the rest (Model, Program, buffers' objects).
--native FILE deploys that upyflow_native.mpy instead of the shipped one (a fresh build).
Prints Markdown.
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
# Every model of ../shared/models (its README's table, and the audio front end)
MODELS = (
    "hello_world_int8",
    "hello_world_float",
    "microflow_sine",
    "micro_speech_quantized",
    "person_detect",
    "keyword_scrambled",
    "keyword_scrambled_8bit",
    "trained_lstm_int8",
    "micro_speech_lstm",
    "dtln_noise_suppression",
    "audio_preprocessor_int8",
)
# --external adds ../shared/models/external's (other projects' models), named external/NAME
EXTERNAL = "external"
# weights that do not fit a 190 KB heap inline (person_detect's are 241 KB)
FILE_WEIGHTS = {"person_detect", "dtln_noise_suppression", "external/tm_vww96_q", "external/tm_mbnet128_0.25_q"}
# dtln's largest layer alone needs a 201 KB weight buffer, tm_mbnet128's arena 133 KB: they
# cannot load at 190 KB at all, so their objects and tables are measured on a larger heap
# (--heap overrides for every model)
HEAPS = {"dtln_noise_suppression": "1M", "external/tm_mbnet128_0.25_q": "1M"}


def module_name(name: str) -> str:
    """The baked module's name: the file's, made an identifier."""
    return os.path.basename(name).replace(".", "_").replace("-", "_")


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
MICROFLOW_SOURCE = (
    "github.com/matteocarnelos/microflow-rs@6703135 analysis/memory/"
    "{sine,speech,person_detect}.ipynb (data of the paper's RAM plots, arXiv 2409.19432)"
)
MICROFLOW_RAM_KB = {
    "microflow_sine": {
        "MicroFlow": {"ESP32": 10.688, "nRF52840": 5.296, "ATSAMV71": 6.584, "LM3S6965": 4.620, "ATmega328": 1.706},
        "TFLM": {"ESP32": 24.424, "nRF52840": 45.728},
    },
    "micro_speech_quantized": {
        "MicroFlow": {"ESP32": 25.488, "nRF52840": 19.552, "ATSAMV71": 21.168, "LM3S6965": 19.220},
        "TFLM": {"ESP32": 42.428, "nRF52840": 63.728},
    },
    "person_detect": {
        "MicroFlow": {"ESP32": 96.048, "nRF52840": 95.984, "ATSAMV71": 96.512},
        "TFLM": {"ESP32": 122.428, "nRF52840": 143.728},
    },
}

_PROBE = """
import gc, sys, time, micropython
f = open('nine.bin', 'wb')   # a 9 KB file for the read after loading, written 1 KB at a time
for _ in range(9):
    f.write(bytes(1024))
f.close()
f = None
gc.collect()
boot = gc.mem_free()
import upyflow
gc.collect()
imported = gc.mem_free()
upyflow.dispatch.available('native')
gc.collect()
natmod = gc.mem_free()
m = upyflow.load(%(name)r)
gc.collect()
loaded = gc.mem_free()


def peak(m):
    # locals only: a new global would grow the REPL's dict and count here
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    try:
        m.invoke()
        grew = gc.mem_alloc() - before
    except MemoryError:
        grew = -1
    gc.enable()
    return grew


def read9k():
    try:
        with open('nine.bin', 'rb') as f:
            return len(f.read())
    except MemoryError:
        return -1


print('BLOCK', 32 if sys.maxsize > 2 ** 32 else 16)
print('INFO load')
micropython.mem_info()
print('RAM', boot, imported, loaded, peak(m), m.arena_size, m.tier, gc.mem_free() + gc.mem_alloc(), natmod)
for _ in range(10):
    m.invoke()
gc.collect()
print('INFO invoked')
micropython.mem_info()
print('READ', read9k())
"""


def tflm_arena(path: str) -> tuple[int | None, int | None]:
    """TFLM's (head, total) arena bytes; total = head + persistent tail, from print_allocations()."""
    code = (
        "import sys; from upyflow_tools.tflm import interpreter; "
        "interpreter(open(sys.argv[1], 'rb').read()).print_allocations()"
    )
    proc = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True)
    total = re.search(r"Arena allocation total (\d+) bytes", proc.stdout + proc.stderr)
    return head_arena_bytes(path), int(total.group(1)) if total else None


_TIMING = """
import gc, time
import upyflow


def per_invoke(m, n):
    m.invoke()
    while True:   # at least 20 ms of invokes, for the tiny models' resolution
        t = time.ticks_us()
        for _ in range(n):
            m.invoke()
        dt = time.ticks_diff(time.ticks_us(), t)
        if dt >= 20000 or n >= 100000:
            return dt / n
        n *= 10


if %(tier)r in upyflow.tiers():
    try:
        m = upyflow.load(%(name)r, %(tier)r)
        print('TIME', %(tier)r, per_invoke(m, %(reps)d))
    except MemoryError:
        print('TIME', %(tier)r, -1)
"""


def _largest_free(out: str, label: str, block: int) -> int:
    """Bytes of the largest free block in mem_info()'s report printed after 'INFO label'."""
    part = out.split("INFO " + label, 1)[1]
    return int(re.search(r"max free sz: (\d+)", part).group(1)) * block


def heap_bytes(n: int, block: int) -> int:
    """What a bytes object of n bytes takes on the port's heap: its object (4 words, one
    block) and its data (n + 1 bytes, in whole blocks)."""
    return block + -(-(n + 1) // block) * block


def table_bytes(b, block: int) -> int:
    """The baked tables a loaded model keeps on the native tier, as heap bytes."""
    from upyflow_tools.emit import format_table, pack_calls, pack_records

    _kernels, formats, ops = pack_calls(b.calls)
    sizes = [len(pack_records(b.tensors)), len(ops), len(format_table(formats))]
    return sum(heap_bytes(n, block) for n in sizes)


def measure(name: str, heap: str, workdir: str, reps: int = 20, native: str | None = None) -> dict:
    path = os.path.join(SHARED, name + ".tflite")
    outdir = os.path.join(workdir, name)
    weights = "file" if name in FILE_WEIGHTS else "inline"
    module = module_name(name)
    result, _ = bake(path, outdir, name=module, mpy=True, weights=weights)
    b = result.baked
    with VirtualBoard(heapsize=heap) as vb:
        deploy(outdir, vb.port, native=native, log=lambda *a: None)  # ends with a soft reset: a clean heap
        board = Board(vb.port)
        out = board.exec(_PROBE % {"name": module})
        for tier in ("native", "viper", "pure"):  # each tier on a fresh heap
            board.soft_reset()
            out += board.exec(_TIMING % {"name": module, "tier": tier, "reps": 2 if tier == "pure" else reps})
    line = [ln for ln in out.splitlines() if ln.startswith("RAM ")]
    if not line:
        raise RuntimeError("%s: no measurement from the board:\n%s" % (name, out))
    boot, imported, loaded, peak, arena, tier, total, natmod = line[-1].split()[1:]
    boot, imported, loaded, peak, arena = int(boot), int(imported), int(loaded), int(peak), int(arena)
    natmod = imported - int(natmod)
    block = int(re.search(r"^BLOCK (\d+)", out, re.M).group(1))
    times = {ln.split()[1]: float(ln.split()[2]) for ln in out.splitlines() if ln.startswith("TIME ")}
    wbuf = b.weight_buffer if weights == "file" else 0
    inline = len(b.weights) if weights == "inline" else 0
    tables = table_bytes(b, block)
    load = imported - loaded - natmod
    head, tflm_total = tflm_arena(path)
    return {
        "model": name,
        "heap_arg": heap,
        "weights": weights,
        "tier": tier,
        "heap": int(total),
        "boot": boot,
        "import": boot - imported,
        "natmod": natmod,
        "before": imported,
        "after": loaded,
        "load": load,
        "peak": peak,
        "arena": arena,
        "wbuf": wbuf,
        "inline": inline,
        "else": load - arena - wbuf - inline,
        "tables": tables,
        "free_load": _largest_free(out, "load", block),
        "free_invoked": _largest_free(out, "invoked", block),
        "read9k": int(re.search(r"^READ (-?\d+)", out, re.M).group(1)),
        "times": times,
        "tflm_head": head,
        "tflm_total": tflm_total,
    }


def _kb(model: str, engine: str) -> str:
    figs = MICROFLOW_RAM_KB.get(model, {}).get(engine)
    if not figs:
        return "not evaluated"
    return " / ".join("%.1f" % figs[m] for m in ("ESP32", "nRF52840"))


def table(rows: list[dict]) -> str:
    tiers = [t for t in ("native", "viper", "pure") if any(t in r["times"] for r in rows)]
    head = (
        "| model | weights | heap | `import upyflow` | natmod import (once) | free before load | free after load | "
        "arena | weight buffer / inline weights | the model's own: objects + baked tables = total | "
        "everything else (own + natmod) | largest free block after load / after 10 invokes | "
        "9 KB `f.read()` | invoke allocates | "
        + " | ".join("us per invoke, %s" % t for t in tiers)
        + " | TFLM head / total arena | MicroFlow RAM kB (ESP32 / nRF52840) | "
        "TFLM RAM kB as MicroFlow measured it (ESP32 / nRF52840) |"
    )
    lines = [head, "|---|---|" + "---:|" * (15 + len(tiers))]
    for r in rows:
        times = [
            "MemoryError" if r["times"].get(t, -1) < 0 else ("%.2f" if r["times"][t] < 10 else "%.0f") % r["times"][t]
            for t in tiers
        ]
        own = r["else"]
        row = (
            "| %s | %s | %s | %d | %d | %d | %d | %d | %d | %d + %d = %d | %d | %d / %d | %s | %s | %s "
            "| %s / %s | %s | %s |"
        )
        lines.append(
            row
            % (
                r["model"],
                "file (.bin)" if r["weights"] == "file" else "inline .mpy",
                r["heap_arg"],
                r["import"],
                r["natmod"],
                r["before"],
                r["after"],
                r["arena"],
                r["wbuf"] or r["inline"],
                own - r["tables"],
                r["tables"],
                own,
                own + r["natmod"],
                r["free_load"],
                r["free_invoked"],
                "ok" if r["read9k"] > 0 else "MemoryError",
                "MemoryError" if r["peak"] < 0 else "%d B" % r["peak"],
                " | ".join(times),
                r["tflm_head"],
                r["tflm_total"],
                _kb(r["model"], "MicroFlow"),
                _kb(r["model"], "TFLM"),
            )
        )
    return "\n".join(lines)


NOTES = """
Bytes unless marked kB. Heap: %(heap)s (MicroPython unix port v1.29, 64-bit: objects and
pointers are twice a 32-bit board's, so the code, tables and objects cost less on a board;
the arena and weight buffers are the same). Free heap is measured after gc.collect(): before
load = after `import upyflow`; load takes (before - after). The natmod import (its module
and globals; the unix port keeps its code outside the heap) happens once per boot, with the
first model. The model's own = load - natmod - arena - weight buffer - inline weights: its
baked tables (TENSORS, OPS and OP_FORMATS: bytes objects
with their headers and heap blocks) and its objects (Model, its walker Program, the
buffers' views, the weights file and its reader, the inputs/outputs record). Largest free block: from
micropython.mem_info() (max free sz x block size) after load and after 10 more invokes; the
9 KB read is `f.read()` of a 9216-byte file after those. Invoke allocates: gc.mem_alloc()
growth during one invoke() with collection disabled. Times: ticks_us over at least %(reps)d invokes
and 20 ms (2 invokes on the pure tier) on this host, the model loaded alone on that tier. The unix port keeps
machine code (native module, viper) outside the GC heap; a board with the natmod in RAM adds
its code size (see native_modules/README.md). TFLM total arena = head (activations) + tail
(persistent: tensor structs, op data); TFLM keeps its code and the model in flash.
MicroFlow figures: RAM usage of each MCU's build as MicroFlow report it (what it includes is
not stated; not a heap measurement), in kB; the paper's own tables/figures were not
checked, the numbers are the data behind its plots in the repository: %(src)s."""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated names in ../shared/models")
    ap.add_argument(
        "--heap",
        help="virtual board heap for every model, like -X heapsize (default 190K, "
        "and %s)" % ", ".join("%s for %s" % (h, m) for m, h in HEAPS.items()),
    )
    ap.add_argument("--external", action="store_true", help="also every model in ../shared/models/external")
    ap.add_argument("--reps", type=int, default=20, help="invokes timed per tier (2 on pure)")
    ap.add_argument("--native", help="deploy this upyflow_native.mpy instead of the shipped one")
    args = ap.parse_args(argv)
    names = [n for n in args.models.split(",") if n]
    if args.external:
        names += sorted(
            EXTERNAL + "/" + f[: -len(".tflite")]
            for f in os.listdir(os.path.join(SHARED, EXTERNAL))
            if f.endswith(".tflite")
        )
    missing = [n for n in names if not os.path.exists(os.path.join(SHARED, n + ".tflite"))]
    if missing:
        print("missing in %s: %s (../shared lives beside the repo)" % (SHARED, ", ".join(missing)), file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for n in names:
            print("measuring %s on a virtual board..." % n, file=sys.stderr)
            rows.append(measure(n, args.heap or HEAPS.get(n, "190K"), work, args.reps, args.native))
    print(table(rows))
    heaps = list(dict.fromkeys(r["heap_arg"] for r in rows))
    print(
        NOTES
        % {
            "heap": " / ".join(heaps) + ("" if len(heaps) == 1 else " (column heap)"),
            "src": MICROFLOW_SOURCE,
            "reps": args.reps,
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
