"""Human-readable reports of a bake: the supported-ops table and the RAM fit (inspect: inspect_model.py)."""
from __future__ import annotations

from .bake import BakeResult
from .lower import TYPES


def supported_table() -> str:
    """Runtime operators, and those bake can only fold (constant inputs: shape arithmetic)."""
    from .fold import FOLD_DOCS, FOLDERS, SHAPE_ONLY
    kinds = dict(TYPES)
    for op in FOLDERS:
        if op not in kinds:
            kinds[op] = FOLD_DOCS.get(op) or ("folded at bake time (reads only the input's static shape)"
                                              if op in SHAPE_ONLY else "constant inputs only: folded at bake time")
    rows = ["| operator | types |", "|---|---|"]
    rows += ["| %s | %s |" % (op, kinds[op]) for op in sorted(kinds)]
    return "\n".join(rows)


def onnx_supported_table() -> str:
    """ONNX operators the reader takes: translated onto TFLite operators (the translator's
    module in readers/onnx/ops/ says how), and/or folded at bake time on constants."""
    from .readers.onnx.fold import FOLDABLE
    from .readers.onnx.registry import TRANSLATORS
    rows = ["| ONNX operator | computed inputs (readers/onnx/ops/) | constant inputs |", "|---|---|---|"]
    for op in sorted(set(TRANSLATORS) | FOLDABLE | {"Constant"}):
        fn = TRANSLATORS.get(op)
        where = "%s.py" % fn.__module__.rsplit(".", 1)[-1] if fn is not None else "-"
        rows.append("| %s | %s | %s |" % (op, where, "folded at bake time" if op in FOLDABLE | {"Constant"}
                                         else "-"))
    return "\n".join(rows)


# Free heap of typical boards with stock firmware (bytes), for the fit table.
BOARDS = (("RP2040", 190_000), ("ESP32", 110_000), ("ESP32-C3", 150_000), ("ESP32-S3+PSRAM", 2_000_000))


def runtime_overhead(n_tensors: int, n_ops: int) -> int:
    """Runtime code, baked tables and views, as measured on the 64-bit unix port
    (person_detect: 22 KB runtime, 7 KB tables, 18 KB views and calls); a 32-bit
    board needs less, so this errs on the safe side."""
    return 22_000 + 100 * n_tensors + 300 * n_ops


def ram_report(result: BakeResult) -> str:
    """RAM a board needs for this model in each weights placement, and what it fits."""
    b = result.baked
    # every kernel call (a band loop's too: the Python tiers expand it), the safe side
    over = runtime_overhead(len(b.tensors), len(result.calls))
    inline_w = len(b.weights)   # file mode: NAME.bin, every constant once (records may be shared)
    weight_buffer = b.weight_buffer if b.weights_mode == "file" else _file_buffer(result)
    rows = [("inline, .mpy on the filesystem", b.arena_size + inline_w + over),
            ("inline, frozen into firmware", b.arena_size + over),
            ("--weights file (NAME.bin)", b.arena_size + weight_buffer + over)]
    lines = ["RAM on the board (arena %d B, weights %d B, largest layer %d B, runtime+tables ~%d B):"
             % (b.arena_size, inline_w, weight_buffer, over),
             "  %-32s %9s  %s" % ("placement", "bytes", "  ".join("%-14s" % n for n, _ in BOARDS))]
    for name, need in rows:
        fits = "  ".join("%-14s" % ("fits" if need <= free else "too big") for _, free in BOARDS)
        lines.append("  %-32s %9d  %s" % (name, need, fits))
    return "\n".join(lines)


def _file_buffer(result: BakeResult) -> int:
    """The weight buffer the file placement would need: the largest call's constants,
    layers over WEIGHT_CHUNK being sliced by output channel (an estimate: the slices'
    exact sizes depend on the channel count)."""
    from .bake import WEIGHT_CHUNK
    from .emit import WEIGHT_ALIGN
    g, best = result.graph, 0
    for call in result.calls:
        n, biggest = 0, 0
        for t in call.tensors:
            if g.tensors[t].is_const:
                n += -n % WEIGHT_ALIGN + g.tensors[t].nbytes
                biggest = max(biggest, g.tensors[t].nbytes)
        if biggest > WEIGHT_CHUNK and call.kernel.startswith(("conv2d", "fully_connected")):
            n = n * WEIGHT_CHUNK // biggest
        best = max(best, n)
    return best
