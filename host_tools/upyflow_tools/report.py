"""Human-readable reports of a bake: the inspect text and the supported-ops table."""
from __future__ import annotations

from .bake import BakeResult
from .lower import TYPES, supported_ops


def supported_table() -> str:
    rows = ["| operator | types |", "|---|---|"]
    rows += ["| %s | %s |" % (op, TYPES[op]) for op in supported_ops()]
    return "\n".join(rows)


def inspect_text(result: BakeResult, path: str, tflm: bool = True) -> str:
    g, b = result.graph, result.baked
    lines = ["model %s: %d ops -> %d kernel calls" % (path, len(g.ops), len(b.calls)), "", "ops:"]
    for i, call in enumerate(result.calls):
        outs = [g.tensors[t] for t in call.tensors if not g.tensors[t].is_const][-1:]
        shape = "x".join(map(str, outs[0].shape)) if outs else "?"
        lines.append("  %2d %-22s %-26s -> %s" % (i, call.kernel, g.ops[call.op_index].kind, shape))
    lines += ["", "arena plan (offset, bytes, live calls, tensor):"]
    for buf in sorted(result.buffers, key=lambda x: (x.offset, x.first)):
        t = g.tensors[buf.tensor]
        lines.append("  %7d %7d  %3d..%-3d %s %s %s" % (buf.offset, buf.size, buf.first, buf.last,
                                                       t.dtype, list(t.shape), t.name[:50]))
    lines += ["", "weights: %d bytes" % len(b.weights), "arena:   %d bytes (upyflow)" % b.arena_size]
    if tflm:
        from .tflm import head_arena_bytes
        head = head_arena_bytes(path)
        lines.append("         %s bytes (TFLite Micro head arena)" % ("?" if head is None else head))
    return "\n".join(lines)
