"""Instructions and estimated cycles per invoke, with the C kernels as board machine code.

    python benchmarks/bench_isa.py [--models a,b] [--arches armv6m,armv7emsp,rv32imc,xtensawin] [--shared DIR]
                                   [--functions N] [--ops]

Each model from ../shared/models is baked in memory and run once (fixed input: person.bmp
for person_detect, seeded random otherwise; state models from reset) by the bare-metal
harness under unicorn (upyflow_tools.isa). Instructions are counted per executed
translated block from the harness's uf_isa_mark on (after the model's load-time checks,
uf_prepare, which a board runs once), classified once with capstone; cycles are the
backend's stated per-class model (backend_arm.py, backend_rv32.py), time at the board clock. xtensawin:
the Xtensa harness under qemu-system-xtensa (xtensa_qemu.py), blocks from QEMU's
execution log, cycles from the LX6 model stated there (Trace.cycles), the ESP32's
MUL32_HIGH accounted for (esp32_cycles). Ops whose kernel the C tier lacks run on the
host (pure) and are not counted: they are listed.
--functions N: under the table, the N C functions with the most estimated cycles per
model and ISA (each translated block's cycles go to the function it starts in: where to
optimise; xtensawin: each QEMU block's, a __muldi3 call's adjustment to its caller).
--ops: under the table, per op record (layer, or band of layers) and unicorn ISA, its
kernels, MACs, estimated cycles and cycles/MAC (one harness run per record, so each counts
the harness's start too). Deterministic: the same build and input give the same counts.
Prints Markdown.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from upyflow_tools.bake import compile_model
from upyflow_tools.emit import DTYPE_CODES, module_records, module_tensor
from upyflow_tools.isa import TARGETS, IsaModel, module_from_baked, unavailable, xtensa_qemu
from upyflow_tools.isa.macs import model_macs, record_macs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("UPYFLOW_SHARED") or os.path.join(os.path.dirname(ROOT), "shared")
DEFAULT = (
    "hello_world_int8,hello_world_float,microflow_sine,micro_speech_quantized,person_detect,"
    "keyword_scrambled,keyword_scrambled_8bit,trained_lstm_int8,micro_speech_lstm,"
    "dtln_noise_suppression,audio_preprocessor_int8"
)
XTENSA = "xtensawin"  # ESP32 (LX6) under QEMU: not a unicorn target
XTENSA_BOARD = ("ESP32", 240e6)
DTYPES = {0: np.int8, 1: np.uint8, 2: np.int16, 3: np.int32, 4: np.float32, 5: np.uint32}


def model_inputs(mod, shared: str) -> list[bytes]:
    if mod.NAME == "person_detect":
        raw = open(os.path.join(shared, "testdata", "person.bmp"), "rb").read()
        return [np.frombuffer(raw[1078 : 1078 + 96 * 96], np.uint8).reshape(96, 96)[::-1].tobytes()]
    rng = np.random.default_rng(0)
    out = []
    for tid, shape in zip(mod.INPUTS, mod.INPUT_SHAPES):
        dtype = DTYPES[DTYPE_CODES[module_tensor(mod, tid)[1]]]
        n = int(np.prod(shape))
        if dtype == np.float32:
            out.append(rng.uniform(0, 1, n).astype(np.float32).tobytes())
        else:
            info = np.iinfo(dtype)
            out.append(rng.integers(info.min, info.max + 1, n, dtype=dtype).tobytes())
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=DEFAULT)
    ap.add_argument("--arches", default=",".join(list(TARGETS) + [XTENSA]))
    ap.add_argument("--shared", default=SHARED)
    ap.add_argument("--functions", type=int, default=0, metavar="N")
    ap.add_argument("--ops", action="store_true", help="cycles per op record (unicorn ISAs)")
    args = ap.parse_args(argv)
    arches = []
    for arch in args.arches.split(","):
        missing = xtensa_qemu.missing_tools() if arch == XTENSA else []
        why = "needs " + ", ".join(missing) if missing else (None if arch == XTENSA else unavailable(arch))
        if why:
            print("skipping %s: %s" % (arch, why), file=sys.stderr)
        else:
            arches.append(arch)
    if not arches:
        print("error: no ISA target can run here", file=sys.stderr)
        return 2
    print("| model | MACs | ISA (cycle model) | instructions | est. cycles | cycles/MAC | board @ clock | ms |")
    print("|---|---:|---|---:|---:|---:|---|---:|")
    notes, profiles, op_tables, stacks = [], [], [], []
    for model in args.models.split(","):
        path = os.path.join(args.shared, "models", model + ".tflite")
        if not os.path.exists(path):
            print("skipping %s: %s not found" % (model, path), file=sys.stderr)
            continue
        mod = module_from_baked(compile_model(path, model), model)
        macs = model_macs(mod)
        inputs = model_inputs(mod, args.shared)
        for arch in arches:
            start = time.perf_counter()
            if arch == XTENSA:
                insns, cycles, by_function = xtensa_qemu.esp32_profile(mod, inputs)
                core, (board, hz), host_ops = "lx6", XTENSA_BOARD, ()
                if args.functions:
                    profiles.append(_profile(model, arch, by_function, macs, args.functions))
            else:
                t = TARGETS[arch]
                m = IsaModel(mod, arch, check=False)  # tests/test_isa.py checks alignment
                m.invoke(inputs, count=True, per_op=args.ops)
                insns, cycles = m.result.instructions, m.result.cycles
                core, (board, hz), host_ops = t.core, t.boards[0], m.host_ops
                if m.result.stack_peak is not None:
                    stacks.append("%s %s: %s B" % (model, arch, format(m.result.stack_peak, ",")))
                if args.functions:
                    profiles.append(_profile(model, arch, m.result.by_function, macs, args.functions))
                if args.ops:
                    op_tables.append(_op_table(mod, model, arch, m.result.by_op))
            per_mac = "%.1f" % (cycles / macs) if macs else "-"
            print(
                "| %s | %s | %s (%s) | %s | %s | %s | %s @ %d MHz | %s |"
                % (
                    model,
                    format(macs, ","),
                    arch,
                    core,
                    format(insns, ","),
                    format(cycles, ","),
                    per_mac,
                    board,
                    hz / 1e6,
                    _ms(cycles / hz * 1e3),
                ),
                flush=True,
            )
            if host_ops:
                notes.append("%s: %s ran on the host (no C kernel), not counted" % (model, ", ".join(sorted(host_ops))))
            print("  %s %s: %.1f s to emulate" % (model, arch, time.perf_counter() - start), file=sys.stderr)
    for note in sorted(set(notes)):
        print("\n" + note)
    if stacks:
        print("\nPeak C stack of an invoke (the harness's frames, the walker and the kernels):\n")
        for line in stacks:
            print("- " + line)
    if profiles:
        print("\nEstimated cycles per MAC (per invoke without MACs) by function:\n")
        for line in profiles:
            print("- " + line)
    for table in op_tables:
        print("\n" + table)
    return 0


def _profile(model: str, arch: str, by_function, macs: int, n: int) -> str:
    top = ", ".join("%s %.2f" % (name, c / macs if macs else c) for name, c in by_function.most_common(n))
    return "%s %s: %s" % (model, arch, top)


def _op_table(mod, model: str, arch: str, by_op) -> str:
    records = {start: ops for start, _end, ops in module_records(mod)}
    total = sum(c for _s, _n, _i, c in by_op) or 1
    lines = [
        "%s %s, per op record:\n" % (model, arch),
        "| byte | kernels | MACs | instructions | est. cycles | cycles/MAC | share |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for start, names, insns, cycles in by_op:
        macs = record_macs(records[start])
        lines.append(
            "| %d | %s | %s | %s | %s | %s | %.1f%% |"
            % (
                start,
                names,
                format(macs, ","),
                format(insns, ","),
                format(cycles, ","),
                "%.2f" % (cycles / macs) if macs else "-",
                100.0 * cycles / total,
            )
        )
    return "\n".join(lines)


def _ms(ms: float) -> str:
    return "%.3g" % ms if ms < 100 else "%.0f" % ms


if __name__ == "__main__":
    sys.exit(main())
