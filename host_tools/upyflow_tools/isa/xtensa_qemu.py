"""Run the C kernels as Xtensa (ESP32, LX6 windowed ABI) code under QEMU.

Build: Debian's LLVM 22 (clang -> IR, llc -mcpu=esp32 -> assembly, llvm-mc ->
objects; the same path as the xtensawin natmod) compiles native_modules/src, the
walker and the bare-metal harness in native_modules/baremetal/xtensa. ld.lld has
no Xtensa support ("unsupported e_machine value: 94"), so `link()` below places
the sections and applies the two relocation types LLVM emits (R_XTENSA_32 and
the l32r R_XTENSA_SLOT0_OP) itself, and writes a one-segment ELF.

Run: qemu-system-xtensa -M sim -cpu de233_fpu (windowed registers, MUL32 and
MUL32_HIGH, DIV32, single-precision FPU, MINMAX, SEXT, NSA: every option the
esp32 code generator uses), -semihosting for output and exit. The model's tables,
weights, arena and inputs are one blob put in guest RAM by `-device loader`
(the weights at a chosen alignment). The harness reads the descriptor at
BLOB_ADDR, runs uf_run once per input set and prints the outputs in hex and the
Xtensa ICOUNT debug register (instructions executed at interrupt level 0, so
the walker and kernels, not window spill handlers) around each invoke.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SRC = ROOT / "native_modules" / "src"
XT = ROOT / "native_modules" / "baremetal" / "xtensa"

LLVM_VER = os.environ.get("UPYFLOW_LLVM_VER", "-22")
TOOLS = {"clang": "clang" + LLVM_VER, "llc": "llc" + LLVM_VER, "mc": "llvm-mc" + LLVM_VER,
         "qemu": "qemu-system-xtensa"}
QEMU_CPU = "de233_fpu"
IMAGE_ADDR = 0x1000          # vectors, code, data, stack (de233_fpu: RAM at 0..128 MB)
BLOB_ADDR = 0x00400000       # descriptor + model blob (harness.c reads it here)
DESC_MAGIC = 0x31584655      # "UFX1"
MAX_IO = 8
MULDI3_EXTRA = 36   # see Result.esp32_estimate

CFLAGS = ["--target=xtensa", "-std=c99", "-Os", "-ffreestanding", "-nostdlibinc",
          "-fomit-frame-pointer", "-ffp-contract=off", "-fno-jump-tables",
          "-Wall", "-Werror", "-DNDEBUG"]
LLCFLAGS = ["-mtriple=xtensa", "-mcpu=esp32", "-O2"]
# -Oz as in the natmod Makefile's XT_OZ modules (table.c, fmath.c: -Os as in the hot ones)
XT_OZ_SOURCES = ("walker", "activations", "elementwise", "reduce", "softmax")
# QEMU's windowed FPU core (de233_fpu) lacks the ESP32's MUL32_HIGH option (muluh/mulsh
# raise IllegalInstruction): the harness build computes high words without
# them (__muldi3 in xtensa_rt.c); every other instruction is the natmod's.
QEMU_LLCFLAGS = ["-mattr=-mul32high"]


def missing_tools() -> list[str]:
    return [t for t in TOOLS.values() if shutil.which(t) is None]


class XtensaError(RuntimeError):
    pass


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode:
        raise XtensaError("%s failed:\n%s%s" % (" ".join(map(str, cmd)), p.stdout, p.stderr))
    return p


def compile_c(src: Path, out: Path, extra: Sequence[str] = ()) -> Path:
    """C -> object with the esp32 code generator (see the natmod Makefile)."""
    ll, asm = out.with_suffix(".ll"), out.with_suffix(".s")
    _run([TOOLS["clang"], *CFLAGS, "-I", str(SRC), "-I", str(XT), *extra,
          "-S", "-emit-llvm", "-o", str(ll), str(src)])
    _run([TOOLS["llc"], *LLCFLAGS, *QEMU_LLCFLAGS, "-o", str(asm), str(ll)])
    return assemble(asm, out)


def assemble(asm: Path, out: Path) -> Path:
    _run([TOOLS["mc"], "-triple=xtensa", "-mcpu=esp32", "-filetype=obj", "-o", str(out), str(asm)])
    return out


# ---------------------------------------------------------------------------
# A minimal static linker for LLVM's Xtensa objects.

R_XTENSA_NONE, R_XTENSA_32, R_XTENSA_ASM_EXPAND, R_XTENSA_SLOT0_OP = 0, 1, 11, 20
_IGNORED = {R_XTENSA_NONE, R_XTENSA_ASM_EXPAND, 17, 18, 19, 59, 60, 61, 62, 63, 64}  # relax/diff
_ORDER = (".vectors", ".literal", ".text", ".rodata", ".data", ".bss")


def link(objects: list[Path], out: Path, base: int = IMAGE_ADDR, stack: int = 0x10000) -> dict:
    """Link objects into an ELF with one loadable segment at `base`; returns the symbol map.

    Literal pools go before all code (l32r reaches backwards only, 256 KB).
    """
    from elftools.elf.elffile import ELFFile
    from elftools.elf.relocation import RelocationSection
    from elftools.elf.sections import SymbolTableSection

    objs = []
    for path in objects:
        f = open(path, "rb")
        objs.append((path, f, ELFFile(f)))
    placed = {}          # (obj index, section index) -> address
    image = bytearray()
    for kind in _ORDER:
        for oi, (_p, _f, elf) in enumerate(objs):
            for si, sec in enumerate(elf.iter_sections()):
                name = sec.name
                if not (name == kind or name.startswith(kind + ".")) or not sec["sh_flags"] & 2:
                    continue
                align = max(sec["sh_addralign"], 1)
                image.extend(b"\0" * (-(base + len(image)) % align))
                if kind == ".vectors":
                    image.extend(b"\0" * (-(base + len(image)) % 0x400))   # VECBASE alignment
                placed[(oi, si)] = base + len(image)
                image.extend(b"\0" * sec["sh_size"] if sec["sh_type"] == "SHT_NOBITS" else sec.data())
    image.extend(b"\0" * (-len(image) % 16 + stack))
    symbols = {"_stack_top": base + len(image)}
    functions = []       # (address, name): every function, static ones and the asm kernels' local ones
    local = []
    for oi, (_p, _f, elf) in enumerate(objs):
        table = {}
        symtab = elf.get_section_by_name(".symtab")
        if not isinstance(symtab, SymbolTableSection):
            raise XtensaError("%s has no symbol table (.symtab)" % objs[oi][0])
        for i, s in enumerate(symtab.iter_symbols()):
            shndx = s["st_shndx"]
            addr = None
            if isinstance(shndx, int) and (oi, shndx) in placed:
                addr = placed[(oi, shndx)] + s["st_value"]
            elif shndx == "SHN_ABS":
                addr = s["st_value"]
            table[i] = (s.name, addr, shndx)
            kind = s["st_info"]["type"]
            code = isinstance(shndx, int) and elf.get_section(shndx)["sh_flags"] & 4   # SHF_EXECINSTR
            if addr is not None and s.name and not s.name.startswith(".L") and (
                    kind == "STT_FUNC" or kind == "STT_NOTYPE" and code):
                functions.append((addr, s.name))
            if addr is not None and s["st_info"]["bind"] in ("STB_GLOBAL", "STB_WEAK") and s.name:
                if s.name in symbols and s["st_info"]["bind"] == "STB_GLOBAL":
                    raise XtensaError("duplicate symbol %s" % s.name)
                symbols[s.name] = addr
        local.append(table)
    undefined = set()
    for oi, (path, _f, elf) in enumerate(objs):
        for sec in elf.iter_sections():
            # (pyelftools reads every SHT_REL / SHT_RELA section as a RelocationSection)
            if not isinstance(sec, RelocationSection) or (oi, sec["sh_info"]) not in placed:
                continue
            target = placed[(oi, sec["sh_info"])]
            for r in sec.iter_relocations():
                rtype = r["r_info_type"]
                if rtype in _IGNORED:
                    continue
                name, s_addr, shndx = local[oi][r["r_info_sym"]]
                if s_addr is None:
                    s_addr = symbols.get(name)
                    if s_addr is None:
                        undefined.add(name)
                        continue
                value = s_addr + r.entry.get("r_addend", 0)
                p = target + r["r_offset"]
                off = p - base
                if rtype == R_XTENSA_32:
                    struct.pack_into("<I", image, off, value & 0xFFFFFFFF)
                elif rtype == R_XTENSA_SLOT0_OP:
                    insn = image[off] | image[off + 1] << 8 | image[off + 2] << 16
                    if insn & 0xF == 1:                              # l32r
                        delta = value - ((p + 3) & ~3)
                        if value & 3 or not -0x40000 <= delta < 0:
                            raise XtensaError("%s: l32r out of range at 0x%x" % (path, p))
                        insn = (insn & 0xFF) | (((delta >> 2) & 0xFFFF) << 8)
                    elif shndx == sec["sh_info"]:
                        continue                                     # branch resolved by llvm-mc
                    elif insn & 0xF == 5:                            # call0/4/8/12
                        delta = value - (p & ~3) - 4
                        if delta & 3 or not -0x80000 <= delta < 0x80000:
                            raise XtensaError("%s: call out of range at 0x%x" % (path, p))
                        insn = (insn & 0x3F) | (((delta >> 2) & 0x3FFFF) << 6)
                    else:
                        raise XtensaError("%s: unsupported SLOT0_OP instruction 0x%06x" % (path, insn))
                    image[off:off + 3] = bytes((insn & 0xFF, insn >> 8 & 0xFF, insn >> 16))
                else:
                    raise XtensaError("%s: unsupported relocation type %d" % (path, rtype))
    for _p, f, _e in objs:
        f.close()
    if undefined:
        raise XtensaError("undefined symbols: " + ", ".join(sorted(undefined)))
    if "_start" not in symbols:
        raise XtensaError("no _start")
    _write_elf(out, image, base, symbols["_start"])
    out.with_suffix(".fn").write_text("".join("%x %s\n" % f for f in sorted(set(functions))))
    return symbols


def _write_elf(out: Path, image: bytes | bytearray, base: int, entry: int) -> None:
    ehdr = struct.pack("<4sBBBBB7xHHIIIIIHHHHHH", b"\x7fELF", 1, 1, 1, 0, 0, 2, 94, 1, entry,
                       52, 0, 0x300, 52, 32, 1, 40, 0, 0)
    phdr = struct.pack("<IIIIIIII", 1, 0x1000, base, base, len(image), len(image), 7, 4)
    out.write_bytes(ehdr + phdr + b"\0" * (0x1000 - 84) + bytes(image))


# ---------------------------------------------------------------------------
# The harness ELF (built once per source hash).

def _sources() -> list[Path]:
    return sorted(SRC.glob("*.c")) + [XT / "harness.c", XT / "xtensa_rt.c"]


def build(build_dir: Path | None = None) -> Path:
    missing = missing_tools()
    if missing:
        raise XtensaError("missing tools: " + ", ".join(missing))
    srcs = _sources()
    h = hashlib.sha256()
    for p in srcs + sorted(SRC.glob("*.h")) + sorted(XT.glob("*.[chS]")) + [Path(__file__)]:
        h.update(p.name.encode() + p.read_bytes())
    build_dir = Path(build_dir or Path(tempfile.gettempdir()) / "upyflow_xtensa")
    build_dir.mkdir(parents=True, exist_ok=True)
    elf = build_dir / ("harness-%s.elf" % h.hexdigest()[:16])
    if elf.exists():
        return elf
    extra = ["-DUF_RT_MULDI3"]
    objs = [compile_c(s, build_dir / (s.stem + ".o"), extra + (["-Oz"] if s.stem in XT_OZ_SOURCES else []))
            for s in srcs]
    objs.insert(0, assemble(XT / "start.S", build_dir / "start.o"))
    tmp = elf.with_suffix(".tmp")
    symbols = link(objs, tmp)
    elf.with_suffix(".sym").write_text("".join("%s %x\n" % kv for kv in sorted(symbols.items())))
    tmp.replace(elf)
    return elf


def symbols(elf: Path) -> dict[str, int]:
    """The global symbols `build` linked into elf."""
    out = {}
    for line in elf.with_suffix(".sym").read_text().splitlines():
        name, addr = line.split()
        out[name] = int(addr, 16)
    return out


def functions(elf: Path) -> list[tuple[int, str]]:
    """(start, name) of every function `build` linked into elf, sorted by address."""
    return [(int(a, 16), n) for a, n in (ln.split() for ln in elf.with_suffix(".fn").read_text().splitlines())]


def function_of(functions: list[tuple[int, str]], pc: int) -> str:
    import bisect
    k = bisect.bisect_right(functions, (pc, "\uffff")) - 1
    return functions[k][1] if k >= 0 else "?"


# ---------------------------------------------------------------------------
# Running a baked model.

def pack_formats(op_formats) -> bytes:
    """OP_FORMATS as the walker reads them: the module holds that table."""
    return bytes(op_formats)


@dataclass
class Result:
    outputs: list[list[bytes]]   # per invoke, per model output
    icounts: list[int]           # instructions executed per invoke (uf_run)
    muldi3_calls: list[int]      # __muldi3 calls per invoke (inline mulsh/muluh on an ESP32)

    def esp32_estimate(self) -> list[int]:
        """Instructions per invoke with the ESP32's MUL32_HIGH (an estimate): each
        __muldi3 call (33 instructions with its counter, about 5 at the call site:
        sign extensions, l32r, callx8) would be 2 inline (mull, mulsh)."""
        return [n - MULDI3_EXTRA * m for n, m in zip(self.icounts, self.muldi3_calls)]


def _records(module):
    """(where, dtype, offset, nbytes) per tensor record."""
    from upyflow.model import TENSOR_RECORD_SIZE

    from ..emit import module_tensor
    return [module_tensor(module, i) for i in range(len(module.TENSORS) // TENSOR_RECORD_SIZE)]


def run(module, input_sets: list[list[bytes]], weights_misalign: int = 0,
        elf: Path | None = None, timeout: float = 300) -> Result:
    """Invoke a baked (inline-weights) module once per input set under QEMU."""
    elf = elf or build()
    blob, n_out = _blob(module, input_sets, weights_misalign)
    return _parse(_qemu(elf, blob, timeout), n_out)


def instruction_mix(module, inputs: list[bytes], elf: Path | None = None,
                    timeout: float = 600) -> dict[str, int]:
    """Executed instructions by mnemonic for one invoke (uf_run, with the window
    spill handlers it triggers), from QEMU's translation and execution log."""
    return trace(module, inputs, elf, timeout).mix()


# The Xtensa LX6 (ESP32) cycle model of `Trace.cycles`: an estimate for the 5-stage
# in-order pipeline with zero-wait-state memory (code and data in internal SRAM, no
# flash-cache misses). Cadence publishes no per-instruction table for the ESP32's
# configuration; these are the usual LX6 figures:
#   ALU, moves, shifts, SEXT/EXTUI/MIN/MAX, ENTRY, MEMW, FPU add/mul  1
#   loads (L8UI/L16SI/L32I/L32R...)   1, +1 when the next instruction uses the result
#   stores                            1
#   MULL, MULSH, MULUH                2 (result a cycle later, counted as a stall)
#   QUOS/QUOU/REMS/REMU               12 (iterative divider)
#   taken branch, J/JX, CALLn/CALLXn, RET/RETW   3 (two-bubble redirect)
#   branch not taken                  1
#   window overflow/underflow exception   the handler's instructions + 4 (entry, RFWO/RFWU)
XT_MUL2 = {"mull", "mulsh", "muluh"}
XT_DIV = {"quos", "quou", "rems", "remu"}
XT_JUMP = {"j", "jx", "call0", "call4", "call8", "call12", "callx0", "callx4", "callx8",
           "callx12", "ret", "retw", "ret.n", "retw.n"}
XT_STORE = ("s8i", "s16i", "s32i", "s32i.n", "s32e", "ssi", "ssx", "ssip", "ssxp", "s32c1i")


def _is_branch(op: str) -> bool:
    return op[0] == "b" and op not in ("break", "break.n")


def _is_load(op: str) -> bool:
    return op.startswith(("l8", "l16", "l32")) or op in ("lsi", "lsx", "lsip", "lsxp")


@dataclass
class Trace:
    blocks: dict        # first pc -> [(mnemonic, operands)]
    execs: dict         # first pc -> executions (within the invoke)
    taken: dict         # first pc -> executions that left the straight line
    exceptions: int     # window overflow/underflow exceptions (RFWO/RFWU executed)
    muldi3_from: dict = field(default_factory=dict)   # block pc -> times __muldi3 ran next

    def mix(self) -> dict[str, int]:
        import collections
        mix: collections.Counter[str] = collections.Counter()
        for pc, n in self.execs.items():
            for op, _ in self.blocks.get(pc, ()):
                mix[op] += n
        return dict(mix.most_common())

    def cycles(self, skip: tuple[int, int] | None = None) -> int:
        """Estimated LX6 cycles (the model above). skip: a [start, end) code range whose
        blocks are left out (the QEMU build's software __muldi3)."""
        return sum(self._block(pc, n) for pc, n in self.execs.items()
                   if not (skip and skip[0] <= pc < skip[1])) + 4 * self.exceptions

    def by_function(self, functions: list[tuple[int, str]], skip: tuple[int, int] | None = None):
        """`cycles(skip)` split by the function (sorted (start, name)) each block starts in;
        a window exception's 4 cycles go to its handler's RFWO/RFWU block."""
        import collections
        out: collections.Counter[str] = collections.Counter()
        for pc, n in self.execs.items():
            if not (skip and skip[0] <= pc < skip[1]):
                rfw = sum(op in ("rfwo", "rfwu") for op, _ in self.blocks.get(pc, ()))
                out[function_of(functions, pc)] += self._block(pc, n) + 4 * n * rfw
        return out

    def _block(self, pc: int, n: int) -> int:
        insns = self.blocks.get(pc, ())
        c = 0
        for k, (op, args) in enumerate(insns):
            if _is_load(op):
                c += 1
                dest = args.split(",")[0].strip()
                if k + 1 < len(insns) and dest in re.split(r"[,\s]+", insns[k + 1][1]):
                    c += 1
            elif op in XT_MUL2:
                c += 2
            elif op in XT_DIV:
                c += 12
            elif k == len(insns) - 1 and (op in XT_JUMP or _is_branch(op)):
                continue   # below, with the block's exits
            else:
                c += 1
        total = n * c
        if insns:
            op = insns[-1][0]
            t = self.taken.get(pc, 0)
            if op in XT_JUMP:
                total += 3 * n
            elif _is_branch(op):
                total += 3 * t + (n - t)
        return total


def trace(module, inputs: list[bytes], elf: Path | None = None, timeout: float = 600) -> Trace:
    """Executed blocks of one invoke (between the harness's two ICOUNT reads), with how
    often each left its straight line, from QEMU's in_asm/exec log streamed through a
    FIFO (about 70 bytes of log per block executed: never written to disk)."""
    import collections
    import threading
    elf = elf or build()
    blob, _n = _blob(module, [inputs], 0)
    blocks: dict[int, list[tuple[str, str]]] = {}
    ends: dict[int, int] = {}                        # first pc -> pc after its last instruction
    execs: collections.Counter[int] = collections.Counter()
    taken: collections.Counter[int] = collections.Counter()
    muldi3_from: collections.Counter[int] = collections.Counter()
    muldi3 = symbols(elf).get("__muldi3")
    insn = re.compile(r"0x([0-9a-f]+):\s+(\S+)\s*(.*)")
    trace_re = re.compile(r"Trace \d+: \S+ \[[0-9a-f]+/([0-9a-f]+)/")
    with tempfile.TemporaryDirectory() as tmp:
        fifo = str(Path(tmp) / "exec.log")
        os.mkfifo(fifo)
        errors = []

        def reader():
            try:
                cur, start, prev, active, reads = None, None, None, False, 0
                with open(fifo) as f:
                    for line in f:
                        if line.startswith("Trace"):
                            cur = None
                            m = trace_re.match(line)
                            if not m:
                                continue
                            pc = int(m.group(1), 16)
                            if active:
                                if prev is not None and pc != ends[prev]:
                                    taken[prev] += 1
                                execs[pc] += 1
                                if pc == muldi3:
                                    muldi3_from[prev] += 1
                            if pc in icount_blocks:
                                reads += 1
                                active = reads == 1
                                if active:   # the first read's block is counted from here on
                                    execs[pc] += 1
                            prev = pc if active else None
                            continue
                        if line.startswith("IN:"):
                            cur, start = [], None
                            continue
                        m = insn.match(line)
                        if m and cur is not None:
                            addr = int(m.group(1), 16)
                            op = m.group(2)
                            if start is None:
                                start = addr
                                blocks[start] = cur
                            cur.append((op, m.group(3)))
                            ends[start] = addr + (2 if op.endswith(".n") else 3)
                            if op == "rsr.icount":
                                icount_blocks.add(start)
                            continue
                        cur = None
            except Exception as e:   # reported by the caller
                errors.append(e)
        icount_blocks: set[int] = set()
        t = threading.Thread(target=reader)
        t.start()
        try:
            p = _qemu(elf, blob, timeout, ["in_asm", "exec", "nochain"], fifo)
        finally:
            # QEMU closed its end (EOF for the reader); had it never opened
            # the log, this open releases the reader's.
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:   # no reader waiting: it has the log already
                pass
            t.join()
        if errors:
            raise errors[0]
        if p.returncode:
            raise XtensaError("qemu exit %d\n%s" % (p.returncode, p.stdout[-2000:]))
    exc = sum(n for pc, n in execs.items() for op, _ in blocks.get(pc, ()) if op in ("rfwo", "rfwu"))
    return Trace(blocks, dict(execs), dict(taken), exc, dict(muldi3_from))


MULDI3_SITE_CYCLES = 7   # l32r of __muldi3's address, argument moves, callx8


def esp32_cycles(module, inputs: list[bytes], elf: Path | None = None,
                 timeout: float = 600) -> tuple[int, int]:
    """(instructions, estimated ESP32 cycles) of one invoke. The QEMU core lacks
    MUL32_HIGH, so the harness calls a software __muldi3 where an ESP32 runs MULL +
    MULSH: its blocks are left out and each call site costs 4 cycles, not
    MULDI3_SITE_CYCLES (instructions: Result.esp32_estimate's adjustment)."""
    insns, cycles, _ = esp32_profile(module, inputs, elf, timeout)
    return insns, cycles


def esp32_profile(module, inputs: list[bytes], elf: Path | None = None, timeout: float = 600):
    """esp32_cycles' (instructions, cycles) and those cycles as a Counter by function:
    each block's go to the function it starts in, a __muldi3 call's adjustment to its caller."""
    elf = elf or build()
    tr = trace(module, inputs, elf, timeout)
    syms, fns = symbols(elf), functions(elf)
    start = syms["__muldi3"]
    end = min((a for a in syms.values() if a > start), default=start + 0x100)
    calls = tr.execs.get(start, 0)
    cycles = tr.cycles(skip=(start, end)) + calls * (4 - MULDI3_SITE_CYCLES)
    by_function = tr.by_function(fns, (start, end))
    for pc, n in tr.muldi3_from.items():
        by_function[function_of(fns, pc)] += n * (4 - MULDI3_SITE_CYCLES)
    if sum(by_function.values()) != cycles:   # e.g. __muldi3 entered other than by a call
        raise XtensaError("cycles by function do not add up to the invoke's")
    insns = sum(n * len(tr.blocks.get(pc, ())) for pc, n in tr.execs.items())
    return insns - MULDI3_EXTRA * calls, cycles, by_function


def _blob(module, input_sets: list[list[bytes]], weights_misalign: int) -> tuple[bytes, int]:
    """The descriptor and everything it points to, as harness.c reads it at BLOB_ADDR."""
    if module.WEIGHTS is None:
        raise XtensaError("file-mode weights are not supported by the Xtensa harness")
    recs = _records(module)
    ins = [(recs[t][2], recs[t][3]) for t in module.INPUTS]
    outs = [(recs[t][2], recs[t][3]) for t in module.OUTPUTS]
    if len(ins) > MAX_IO or len(outs) > MAX_IO:
        raise XtensaError("more than %d inputs/outputs" % MAX_IO)
    names = b"".join(k.encode() + b"\0" for k in module.OP_KERNELS)
    variables = getattr(module, "VARIABLES", b"") or b""
    var_regions = b"".join(struct.pack("<III", recs[v[0] | v[1] << 8][2], recs[v[0] | v[1] << 8][3], v[2])
                           for v in (variables[k:k + 3] for k in range(0, len(variables), 3)))
    in_data = bytearray()
    for inputs in input_sets:
        for (_off, n), data in zip(ins, inputs, strict=True):
            if len(data) != n:
                raise XtensaError("input needs %d bytes, got %d" % (n, len(data)))
            in_data += data
    header_words = 4 + 18 + 2 + 4 * MAX_IO    # struct desc in harness.c
    blob = bytearray(4 * header_words)
    fields = []

    def put(data: bytes, align: int = 8, misalign: int = 0) -> int:
        blob.extend(b"\0" * (-len(blob) % align + misalign))
        addr = BLOB_ADDR + len(blob)
        blob.extend(data)
        return addr

    fields += [put(module.TENSORS), len(module.TENSORS)]
    fields += [put(module.OPS), len(module.OPS)]
    formats = pack_formats(module.OP_FORMATS)
    fields += [put(formats), len(formats)]
    fields += [put(names), len(names)]
    fields += [put(bytes(module.ARENA_SIZE), 16), module.ARENA_SIZE]
    fields += [put(module.WEIGHTS, 16, weights_misalign), len(module.WEIGHTS)]
    fields += [0, 0]                                      # wbuf (file mode)
    fields += [put(var_regions, 4), len(var_regions) // 12]
    fields += [put(bytes(in_data), 4), len(input_sets)]
    io = [len(ins), len(outs)]
    for lst in (ins, outs):
        for k in range(MAX_IO):
            io += list(lst[k]) if k < len(lst) else [0, 0]
    words = [DESC_MAGIC, len(blob), 0, 0] + fields + io
    assert len(words) == header_words
    struct.pack_into("<%dI" % header_words, blob, 0, *words)
    return bytes(blob), len(outs)


def _qemu(elf: Path, blob: bytes, timeout: float, debug: list[str] | None = None,
          log: str | None = None) -> subprocess.CompletedProcess:
    # `-kernel elf` leaves the sim machine at its reset vector with this core
    # (QEMU 7.2), so the image and the entry point go in with -device loader.
    raw = elf.read_bytes()
    entry, = struct.unpack_from("<I", raw, 24)
    base, = struct.unpack_from("<I", raw, 52 + 8)
    with tempfile.TemporaryDirectory() as tmp:
        ipath, bpath = Path(tmp) / "image.bin", Path(tmp) / "blob.bin"
        ipath.write_bytes(raw[0x1000:])
        bpath.write_bytes(blob)
        cmd = [TOOLS["qemu"], "-M", "sim", "-cpu", QEMU_CPU, "-m", "128M", "-nographic",
               "-monitor", "none", "-serial", "none", "-semihosting", "-icount", "shift=0",
               "-device", "loader,file=%s,addr=0x%x,force-raw=on" % (ipath, base),
               "-device", "loader,file=%s,addr=0x%x,force-raw=on" % (bpath, BLOB_ADDR),
               "-device", "loader,addr=0x%x,cpu-num=0" % entry]
        if os.environ.get("UPYFLOW_QEMU_LOG") and not debug:   # debugging: exceptions, bad opcodes
            debug, log = ["int", "guest_errors"], os.environ["UPYFLOW_QEMU_LOG"]
        if debug:
            cmd += ["-d", ",".join(debug)] + (["-D", log] if log else [])
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise XtensaError("qemu-system-xtensa timed out after %g s" % timeout) from None


def _parse(p: subprocess.CompletedProcess, n_out: int) -> Result:
    outputs, icounts, calls, cur = [], [], [], []
    for line in p.stdout.splitlines():
        if line.startswith("O "):
            cur.append(bytes.fromhex(line[2:].strip()))
        elif line.startswith("M "):
            calls.append(int(line[2:]))
        elif line.startswith("N "):
            icounts.append(int(line[2:]))
            outputs.append(cur)
            cur = []
        elif line.startswith("E "):
            raise XtensaError("harness: " + line[2:])
    if p.returncode != 0:
        raise XtensaError("qemu exit %d (100+: Xtensa exception cause %d)\n%s%s"
                          % (p.returncode, p.returncode - 100, p.stdout[-2000:], p.stderr[-2000:]))
    if any(len(o) != n_out for o in outputs):
        raise XtensaError("malformed harness output:\n" + p.stdout[-2000:])
    return Result(outputs, icounts, calls)
