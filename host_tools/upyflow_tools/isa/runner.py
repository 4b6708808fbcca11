"""Lay a baked model out in an emulated board's memory and run it with the harness."""
from __future__ import annotations

import struct
import types

from .build import build
from .targets import TARGETS, backend, unavailable

MAGIC = 0x53494655
DESC = struct.Struct("<21I")
START = 16   # index of uf_isa_desc.start
UNKNOWN_KERNEL = -100   # uf_isa_desc (native_modules/baremetal/harness.h)
ERRORS = {1: "a tensor is shorter than its shape parameters need",
          2: "int16/int32/float tensor data is not aligned",
          3: "a parameter is out of range",
          4: "an op's kernel index is not a native kernel",
          5: "an op record, format or tensor id is malformed",
          6: "a tensor record lies outside its buffer, or an output overlaps a constant",
          10: "malformed op record (walker stand-in)",
          -100: "the model uses a kernel this build lacks",
          -101: "the harness rejected the descriptor"}


class IsaError(RuntimeError):
    pass


def module_from_baked(baked, name: str = "model") -> types.ModuleType:
    """The module object the runtime would import, from an in-memory bake
    (upyflow_tools.emit.Baked or bake.BakeResult): runner.module_of."""
    from ..runner import module_of
    return module_of(baked, name)


def format_table(formats) -> bytes:
    """OP_FORMATS as the walker reads them: the module holds that table."""
    return bytes(formats)


def _up(n: int, a: int = 8) -> int:
    return (n + a - 1) & ~(a - 1)


class IsaModel:
    """A baked module run by the C kernels compiled for `target` (a TARGETS key).

    misalign: 0..3, bytes added to an 8-aligned address for the weights and the
    op/tensor tables (as a const bytes object in flash may sit); the arena stays
    aligned (a bytearray's heap block is). check: fault, as the board would, on a read
    of the constants the board cannot do unaligned (costs a host callback per read of
    them; the counts do not depend on it)."""

    def __init__(self, module, target: str, misalign: int = 0, check: bool = True):
        why = unavailable(target)
        if why:
            raise IsaError(why)
        if getattr(module, "WEIGHTS", None) is None:
            raise IsaError("the ISA runner takes inline weights (bake with --weights inline)")
        self.target = TARGETS[target]
        self.backend = backend(self.target)
        self.elf = build(self.target)
        self.module = module
        t = self.target
        blobs = [module.TENSORS, module.OPS, format_table(module.OP_FORMATS),
                 b"".join(bytes([len(k)]) + k.encode() for k in module.OP_KERNELS)]
        self.loads, addrs, at = [], [], t.data_addr
        for blob in blobs:
            addrs.append((at + misalign, len(blob)))
            self.loads.append((at + misalign, blob))
            at = _up(at + misalign + len(blob) + 1)
        self.arena_addr, self.arena_len = at, module.ARENA_SIZE
        self.weights_addr = t.weights_addr + misalign
        self.loads.append((self.weights_addr, module.WEIGHTS))
        # The regions whose reads must meet the board's alignment rules: the
        # constants (weights and tables), as they sit in flash.
        self.check = [(a, len(d)) for a, d in self.loads if len(d)] if check else []
        fields = [MAGIC, *addrs[0], *addrs[1], *addrs[2], *addrs[3], len(module.OP_KERNELS),
                  self.arena_addr, self.arena_len, self.weights_addr, len(module.WEIGHTS),
                  0, 0, 0, 0xFFFFFFFF, 0, 0, 0]
        self.fields = fields
        # Byte offset of each op record in OPS -> where it ends (for the host-run ops).
        from upyflow.model import TENSOR_RECORD_SIZE

        from ..emit import module_records, module_tensor
        self._records = {start: ops for start, _end, ops in module_records(module)}
        self.op_end = {start: end for start, end, _ops in module_records(module)}
        self.host_ops: set[str] = set()   # kernels the C lacks, run on the host (pure)
        self._pure = None
        self._meta = [module_tensor(module, i) for i in range(len(module.TENSORS) // TENSOR_RECORD_SIZE)]
        self.inputs, self.outputs = list(module.INPUTS), list(module.OUTPUTS)
        self.result = None
        self.reset()

    def reset(self):
        """State tensors back to their start value (as Model.reset)."""
        self.arena = bytearray(self.arena_len)
        v = getattr(self.module, "VARIABLES", b"")
        for k in range(0, len(v), 3):
            tid, fill = v[k] | (v[k + 1] << 8), v[k + 2]
            _, _, offset, nbytes = self._meta[tid][:4]
            self.arena[offset:offset + nbytes] = bytes([fill]) * nbytes

    def _span(self, tid):
        where, _, offset, nbytes = self._meta[tid][:4]
        if where != 0:
            raise IsaError("tensor %d is not in the arena" % tid)
        return offset, nbytes

    def invoke(self, inputs: list[bytes], count: bool = False, per_op: bool = False) -> list[bytes]:
        """Run the whole op table once; the outputs' bytes. With count, self.result
        holds instructions, classes and estimated cycles of the C part; with per_op
        too, one harness run per op record and self.result.by_op = [(byte offset,
        kernel names, instructions, cycles)] per record run in C (each run counts
        the harness's start too: a few hundred instructions).

        An op whose kernel the C tier lacks (as the native tier overlays pure, the
        board runs it in Python) runs here with the pure kernels, then the harness
        resumes after it; self.host_ops names those kernels."""
        for tid, data in zip(self.inputs, inputs):
            offset, nbytes = self._span(tid)
            if len(data) != nbytes:
                raise IsaError("input needs %d bytes, got %d" % (nbytes, len(data)))
            self.arena[offset:offset + nbytes] = data
        total, start, ops, by_op = None, 0, self.module.OPS, []
        while start < len(ops):
            status, pos, r = self._run_from(start, count, 1 if per_op else 0xFFFFFFFF)
            if total is None:
                total = r
            elif count:
                total.instructions += r.instructions
                total.cycles += r.cycles
                total.classes.update(r.classes)
                total.by_function.update(r.by_function)
            if total is not r and r.stack_peak is not None:
                total.stack_peak = max(total.stack_peak or 0, r.stack_peak)
            if status == UNKNOWN_KERNEL:
                self._run_on_host(pos)
                start = self.op_end[pos]
                continue
            if status:
                kernels = self.module.OP_KERNELS
                name = kernels[ops[pos]] if pos < len(ops) and ops[pos] < len(kernels) else "?"
                raise IsaError("%s: op at byte %d (%s): %s" % (self.target.name, pos, name,
                                                              ERRORS.get(status, "error %d" % status)))
            if per_op:
                if count:
                    names = "+".join(op.kernel for op in self._records[start])
                    by_op.append((start, names, r.instructions, r.cycles))
                start = pos
                continue
            break
        if total is not None and count:
            total.by_op = by_op
        self.result = total
        return [bytes(self.arena[o:o + n]) for o, n in map(self._span, self.outputs)]

    def _run_from(self, start, count, n_ops=0xFFFFFFFF):
        fields = list(self.fields)
        fields[START], fields[START + 1] = start, n_ops
        loads = self.loads + [(self.arena_addr, bytes(self.arena)),
                              (self.target.desc_addr, DESC.pack(*fields))]
        r = self.backend.execute(self.target, self.elf, loads,
                                 [(self.arena_addr, self.arena_len), (self.target.desc_addr, DESC.size)],
                                 count, self.check)
        if r.fault:
            raise IsaError("%s: the harness faulted: %s" % (self.target.name, r.fault))
        self.arena[:] = r.reads[0]
        status, pos, done = DESC.unpack(r.reads[1])[-3:]
        if not done:
            raise IsaError("%s: the harness stopped before finishing" % self.target.name)
        return status - (1 << 32) if status >= 1 << 31 else status, pos, r

    def _run_on_host(self, pos):
        import upyflow
        name = self.module.OP_KERNELS[self.module.OPS[pos]]
        if self._pure is None:
            try:
                self._pure = upyflow.Model(self.module, "pure")
            except ValueError as e:
                raise IsaError("%s: %s" % (self.target.name, e)) from None
        self.host_ops.add(name)
        py = self._pure
        py._arena[:self.arena_len] = self.arena
        from upyflow import dispatch
        kernels = dispatch.table("pure")[1]
        ops = self.module.OPS[pos:self.op_end[pos]]
        for fn, args, convention in py._op_calls(ops, self.module.OP_FORMATS,
                                                 [kernels[n] for n in self.module.OP_KERNELS]):
            fn(args) if convention == dispatch.FAST else fn(*args)
        self.arena[:] = py._arena[:self.arena_len]
