"""Per-operator time split of a model, slowest first: on the host (CPython), or on a board
(or the virtual board) through mpremote, beside the host's figures."""
from __future__ import annotations

import functools
import os
import tempfile
import time
from collections.abc import Callable

import numpy as np

from .bake import bake
from .runner import load_model


def profile(path: str, tier: str | None = None, reps: int = 3, seed: int = 0) -> tuple[str, list[tuple]]:
    """Bake in memory (a record per op: patches off), run random inputs; rows (call index,
    kernel, op, shape, best us)."""
    model, mod, result = load_model(path, "profiled", tier, patches="off")
    rng = np.random.default_rng(seed)
    for i in range(len(model.input_shape)):
        buf = model.input_buffer(i)
        buf[:] = rng.integers(0, 256, len(buf), dtype=np.uint8).tobytes()
    best = [float("inf")] * len(result.calls)
    for _ in range(reps):
        for k, run_op in enumerate(_op_calls(model, mod)):   # invoke(), one op at a time
            t = time.perf_counter()
            run_op()
            best[k] = min(best[k], time.perf_counter() - t)
    rows = []
    for k, call in enumerate(result.calls):
        out = result.graph.tensors[call.tensors[3] if len(call.tensors) > 3 else call.tensors[-1]]
        rows.append((k, call.kernel, result.graph.ops[call.op_index].kind,
                     "x".join(map(str, out.shape)), best[k] * 1e6))
    return model.tier, rows


def _op_calls(model, mod) -> list[Callable[[], object]]:
    """One callable per op: the C walker on one record (native tier), else the kernel call."""
    from upyflow import dispatch
    calls = getattr(model, "_calls", None)
    if calls is not None:   # pure and viper tiers (an int: the next record's weights to read)
        return [_kernel_call(fn, args, c == dispatch.FAST)
                for fn, args, c in (call for call in calls if not isinstance(call, int))]
    from .emit import module_records
    kernels = dispatch.table(model.tier)[1]
    out: list[Callable[[], object]] = []
    for pos, end, _ops in module_records(mod):   # one op per record: baked with patches off
        if mod.OP_KERNELS[mod.OPS[pos]] in kernels._fast[0]:
            out.append(functools.partial(dispatch.native_module(model.tier).run, model._prog, pos, 1))
        else:
            resolved = [kernels[n] for n in mod.OP_KERNELS]
            fn, args, c = model._op_calls(mod.OPS[pos:end], mod.OP_FORMATS, resolved)[0]
            out.append(_kernel_call(fn, args, c == dispatch.FAST))
    return out


def _kernel_call(fn, args, packed: bool) -> Callable[[], object]:
    """A kernel call as the runtime makes it: one packed argument tuple, or the arguments."""
    return (lambda: fn(args)) if packed else (lambda: fn(*args))


def profile_text(path: str, tier: str | None = None, reps: int = 3) -> str:
    used, rows = profile(path, tier, reps)
    total = sum(r[4] for r in rows) or 1.0
    lines = ["%s on the %s tier (CPython), best of %d: %.1f us per invoke" % (path, used, reps, total),
             "", "%4s %-22s %-18s %-14s %10s %6s" % ("op", "kernel", "operator", "output", "us", "share")]
    for k, kernel, kind, shape, us in sorted(rows, key=lambda r: -r[4]):
        lines.append("%4d %-22s %-18s %-14s %10.1f %5.1f%%" % (k, kernel, kind, shape, us, 100 * us / total))
    return "\n".join(lines)


# Runs on the board: load the baked module, fill the input, time each op (best of reps).
_BOARD_SCRIPT = """
import struct, time, upyflow
mod = __import__(%(name)r)
m = upyflow.Model(mod, %(tier)r)
seed = 12345
for i in range(len(m.input_shape)):
    buf = m.input_buffer(i)
    for j in range(len(buf)):
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        buf[j] = seed >> 16 & 0xFF
m.invoke()
calls = getattr(m, '_calls', None)
sizes = []   # per record: the bytes of its segment of the weights file (upyflow.calls.segment_bytes)
if calls is not None:   # an int: the next record's weights to read (one call per record here)
    sizes = [c for c in calls if isinstance(c, int)]
    calls = [c for c in calls if not isinstance(c, int)]
runs = []
if calls is None:
    from upyflow.calls import struct_formats, segment_bytes
    formats = struct_formats(mod.OP_FORMATS)
    ops, pos, k = mod.OPS, 0, 0
    while pos < len(ops):   # one op per record (baked with patches off)
        runs.append((pos, k))
        fmt, nt = formats[ops[pos + 1]]
        sizes.append(segment_bytes(m, [struct.unpack_from(fmt, ops, pos + 2)[:nt]]))
        pos += 2 + struct.calcsize(fmt)
        k += 1
segments, at = [], 0
for n in sizes:   # each from where the previous one ends, rounded up to 8
    segments.append((at, n))
    at = (at + n + 7) & ~7
best = [1 << 30] * (len(calls) if calls is not None else len(runs))


def load_segment(segments, k):
    # weights kept in a file: read call k's segment into the buffer first, outside the timing
    if m._wfile is not None:
        off, n = segments[k]
        if n:
            m._wfile.seek(off)
            m._wfile.readinto(m._wbuf, n)


for rep in range(%(reps)d):
    for k in range(len(best)):
        if calls is not None:
            fn, args, c = calls[k]
            load_segment(segments, k)
            t = time.ticks_us()
            if c:
                fn(args)
            else:
                fn(*args)
        else:
            pos = runs[k][0]
            load_segment(segments, k)
            t = time.ticks_us()
            try:
                upyflow.dispatch.native_module(m.tier).run(m._prog, pos, 1)
            except ValueError:   # a kernel the native table lacks runs in Python: not timed alone
                best[k] = -1
                continue
        dt = time.ticks_diff(time.ticks_us(), t)
        if dt < best[k]:
            best[k] = dt
print('TIER', m.tier)
for k in range(len(best)):
    print('PROF', k, best[k])
"""


def profile_board(path: str, port: str, tool: str = "mpremote", tier: str | None = None,
                  reps: int = 3, weights: str = "inline", log=print) -> tuple[str, list[tuple]]:
    """Bake, deploy and time each op on the board; rows as profile()'s, us measured there.

    Ops the native walker runs are timed one record at a time through it; a model whose ops
    need a Python kernel on the native tier is timed as the board's runtime calls them."""
    from .deploy import Board, decode_mpy, deploy
    board = Board(port, tool)
    arch = decode_mpy(board.sys_mpy())[0]
    with tempfile.TemporaryDirectory() as tmp:
        result, _ = bake(path, tmp, name="profiled", mpy=True, march=arch, weights=weights,
                         patches="off")   # a record per op
        os.unlink(os.path.join(tmp, "profiled.py"))
        deploy(tmp, port, tool, log=lambda *_: None)
    log("timing %d ops on the board (%s), best of %d..." % (len(result.calls), arch or "no native arch", reps))
    out = board.exec(_BOARD_SCRIPT % {"name": "profiled", "tier": tier, "reps": reps})
    used = next(ln.split()[1] for ln in out.splitlines() if ln.startswith("TIER"))
    us = {int(ln.split()[1]): float(ln.split()[2]) for ln in out.splitlines() if ln.startswith("PROF")}
    us = {k: (v if v >= 0 else float("nan")) for k, v in us.items()}
    rows = []
    for k, call in enumerate(result.calls):
        outt = result.graph.tensors[call.tensors[3] if len(call.tensors) > 3 else call.tensors[-1]]
        rows.append((k, call.kernel, result.graph.ops[call.op_index].kind, "x".join(map(str, outt.shape)),
                     us.get(k, float("nan"))))
    return used, rows


def board_profile_text(path: str, port: str, tool: str = "mpremote", tier: str | None = None,
                       reps: int = 3, weights: str = "inline") -> str:
    used, rows = profile_board(path, port, tool, tier, reps, weights)
    host_tier, host = profile(path, None, reps)
    host_us = {r[0]: r[4] for r in host}
    total = sum(r[4] for r in rows if r[4] == r[4]) or 1.0
    lines = ["%s on the board (%s tier), best of %d: %.0f us per invoke; host (CPython %s): %.1f us"
             % (path, used, reps, total, host_tier, sum(host_us.values())),
             "", "%4s %-22s %-18s %-14s %10s %6s %10s" % ("op", "kernel", "operator", "output",
                                                          "board us", "share", "host us")]
    for k, kernel, kind, shape, us in sorted(rows, key=lambda r: -(r[4] if r[4] == r[4] else -1)):
        lines.append("%4d %-22s %-18s %-14s %10.0f %5.1f%% %10.1f"
                     % (k, kernel, kind, shape, us, 100 * us / total, host_us.get(k, float("nan"))))
    return "\n".join(lines)
