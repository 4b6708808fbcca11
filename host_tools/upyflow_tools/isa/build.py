"""Build the bare-metal harness (native_modules/baremetal + native_modules/src) per target."""
from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .targets import Target, backend

ROOT = Path(__file__).resolve().parents[3]
SRC = ROOT / "native_modules" / "src"
HARNESS = ROOT / "native_modules" / "baremetal"
BUILD = HARNESS / "build"
# As the natmods are built (-Os, no loops turned into libc calls), plus bare metal.
COMMON = ("-Os", "-g0", "-std=c99", "-ffreestanding", "-fno-tree-loop-distribute-patterns",
          "-ffunction-sections", "-fdata-sections", "-Wall")


@dataclass
class Elf:
    path: Path
    entry: int
    symbols: dict[str, int]
    segments: list[tuple[int, bytes]]   # (load address, bytes) of each PT_LOAD segment
    readonly: list[tuple[int, int]] = field(default_factory=list)   # (address, size): flash
    functions: list[tuple[int, str]] = field(default_factory=list)   # (start, name), sorted


def sources() -> list[Path]:
    """The C the harness compiles: every kernel, the walker, the harness."""
    return sorted(SRC.glob("*.c")) + [HARNESS / "harness.c"]


def build(target: Target) -> Elf:
    """The harness ELF for `target`, rebuilt when a source or flag changed."""
    if not SRC.is_dir() or not HARNESS.is_dir():
        raise RuntimeError("the ISA harness needs the upyflow source tree (%s)" % HARNESS)
    files = sources() + [HARNESS / target.start]
    cmd = [target.cc, *target.cflags, *COMMON, "-DUF_DESC_ADDR=0x%x" % target.desc_addr,
           "-I", str(SRC)]
    cmd += [str(f) for f in files]
    cmd += ["-nostdlib", "-nostartfiles", "-T", str(HARNESS / target.ldscript),
            "-Wl,--gc-sections", "-lgcc"]
    key = hashlib.sha256(repr(cmd).encode())
    for f in sorted(set(files) | set(SRC.glob("*.h")) | set(HARNESS.glob("*.h"))
                    | {HARNESS / target.ldscript}):
        key.update(f.name.encode() + f.read_bytes())
    out = BUILD / target.name
    elf, stamp = out / "harness.elf", out / "harness.key"
    if not (elf.exists() and stamp.exists() and stamp.read_text() == key.hexdigest()):
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / ("harness.%d.elf" % os.getpid())
        # A backend whose toolchain is not one gcc-style driver call (e.g. clang -> llc
        # -> ld for Xtensa) provides compile_harness(target, cmd, tmp) instead.
        custom = getattr(backend(target), "compile_harness", None)
        if custom is not None:
            custom(target, cmd, tmp)
        else:
            proc = subprocess.run(cmd + ["-o", str(tmp)], capture_output=True, text=True)
            if proc.returncode:
                raise RuntimeError("building the %s harness failed:\n%s" % (target.name, proc.stderr))
        os.replace(tmp, elf)
        stamp.write_text(key.hexdigest())
    return read_elf(elf)


def read_elf(path: Path) -> Elf:
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection
    with open(path, "rb") as f:
        e = ELFFile(f)
        loads = [s for s in e.iter_segments() if s["p_type"] == "PT_LOAD"]
        segments = [(s["p_vaddr"], s.data()) for s in loads if s["p_filesz"]]
        readonly = [(s["p_vaddr"], s["p_memsz"]) for s in loads if not s["p_flags"] & 2]   # no PF_W
        symtab = e.get_section_by_name(".symtab")
        if not isinstance(symtab, SymbolTableSection):
            raise RuntimeError("%s has no symbol table (.symtab)" % path)
        symbols = {s.name: s["st_value"] for s in symtab.iter_symbols() if s.name}
        # Thumb function symbols carry bit 0; block addresses do not
        functions = sorted((s["st_value"] & ~1, s.name) for s in symtab.iter_symbols()
                           if s.name and s["st_info"]["type"] == "STT_FUNC")
        return Elf(path, e["e_entry"], symbols, segments, readonly, functions)
