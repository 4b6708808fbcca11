"""Run a baked model's C kernels as a board's machine code, under an emulator.

Design (one backend module per emulator; helper D adds ``xtensa`` the same way):

- ``targets.py``: one ``Target`` per board ISA: the cross compiler and flags that build
  the bare-metal harness (native_modules/baremetal) with native_modules/src, its
  linker script and startup file, the fixed address of the host descriptor, where the
  host puts the model's tables/arena and weights, the board clocks the timings use, and
  the name of its backend module (``backend``) and cycle model (``core``).
- ``build.py``: compiles the harness per target into native_modules/baremetal/build
  (git-ignored), cached by a hash of the sources and flags: one gcc-style driver call
  (``Target.cc`` + ``cflags``), or the backend's ``compile_harness(target, cmd, out)``
  when its toolchain needs more steps (clang -> llc -> ld for Xtensa).
- ``backend_*.py`` (``backend_arm``, ``backend_rv32``; ``backend_xtensa`` next): each
  exposes ``available() -> str | None`` (None = usable, else why not) and
  ``execute(target, elf, loads, reads, count=False, check=(), regs=None) -> emu.Result``:
  start the core at the ELF's entry with the memory image ``loads`` [(address, bytes)],
  stop at ``uf_halt`` (a stop at ``uf_fault`` or an emulator error is ``Result.fault``),
  return the bytes of ``reads`` [(address, n)] and, with ``count``, instructions per
  class and estimated cycles from the backend's stated per-class cycle model (in its
  docstring). ``check`` [(address, n)]: regions whose reads must obey the core's
  alignment rules (fault where the board would, even if the emulator does not);
  ``regs``: registers to set before the start (tests). A run is stateless: the runner
  carries state (the arena of an LSTM/SVDF) from one invoke to the next by reading it
  back, so a batch emulator (QEMU with a memory image) fits the same interface.
- ``runner.py``: lays a baked module (the same module object the runtime loads:
  an emitted NAME.py or ``module_from_baked``) out in emulated memory, weights at a
  chosen misalignment, runs invokes, returns outputs and counts.
- ``macs.py``: multiply-accumulates per model from the baked op table (cycles/MAC).
"""
from .runner import IsaModel, module_from_baked  # noqa: F401
from .targets import TARGETS, unavailable  # noqa: F401
