"""Per-operator time split of a model on the host (CPython), slowest first."""
from __future__ import annotations

import importlib.util
import os
import tempfile
import time

import numpy as np

from .bake import bake


def profile(path: str, tier: str | None = None, reps: int = 3, seed: int = 0) -> tuple[str, list[tuple]]:
    """Bake to a temporary folder, run random inputs; rows (call index, kernel, op, shape, best us)."""
    import upyflow
    with tempfile.TemporaryDirectory() as tmp:
        result, _ = bake(path, tmp, name="profiled")
        spec = importlib.util.spec_from_file_location("profiled", os.path.join(tmp, "profiled.py"))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    model = upyflow.Model(mod, tier)
    rng = np.random.default_rng(seed)
    for i, shape in enumerate(model.input_shape):
        buf = model.input_buffer(i)
        buf[:] = rng.integers(0, 256, len(buf), dtype=np.uint8).tobytes()
    best = [float("inf")] * len(result.calls)
    for _ in range(reps):
        for k, call in enumerate(_op_calls(model, mod)):   # invoke(), one op at a time
            t = time.perf_counter()
            call()
            best[k] = min(best[k], time.perf_counter() - t)
    rows = []
    for k, call in enumerate(result.calls):
        out = result.graph.tensors[call.tensors[3] if len(call.tensors) > 3 else call.tensors[-1]]
        rows.append((k, call.kernel, result.graph.ops[call.op_index].kind,
                     "x".join(map(str, out.shape)), best[k] * 1e6))
    return model.tier, rows


def _op_calls(model, mod) -> list:
    """One callable per op: the C walker on one record (native tier), else the kernel call."""
    import struct
    from upyflow import dispatch
    calls = getattr(model, "_calls", None)
    if calls is not None:   # pure and viper tiers
        return [(lambda fn=fn, args=args, c=c: fn(args) if c else fn(*args)) for fn, args, c in calls]
    kernels = dispatch.table(model.tier)[1]
    out, pos = [], 0
    while pos < len(mod.OPS):
        fmt = mod.OP_FORMATS[mod.OPS[pos + 1]]
        size = 2 + struct.calcsize(fmt)
        if mod.OP_KERNELS[mod.OPS[pos]] in kernels._fast[0]:
            out.append(lambda p=pos: model._run(model._prog, p, 1))
        else:
            resolved = [kernels[n] for n in mod.OP_KERNELS]
            fn, args, c = model._op_calls(mod.OPS[pos:pos + size], mod.OP_FORMATS, resolved)[0]
            out.append(lambda fn=fn, args=args, c=c: fn(args) if c else fn(*args))
        pos += size
    return out


def profile_text(path: str, tier: str | None = None, reps: int = 3) -> str:
    used, rows = profile(path, tier, reps)
    total = sum(r[4] for r in rows) or 1.0
    lines = ["%s on the %s tier (CPython), best of %d: %.1f us per invoke" % (path, used, reps, total),
             "", "%4s %-22s %-18s %-14s %10s %6s" % ("op", "kernel", "operator", "output", "us", "share")]
    for k, kernel, kind, shape, us in sorted(rows, key=lambda r: -r[4]):
        lines.append("%4d %-22s %-18s %-14s %10.1f %5.1f%%" % (k, kernel, kind, shape, us, 100 * us / total))
    return "\n".join(lines)
