"""RV32IMC under unicorn, with the cycle model of a simple in-order core like the ESP32-C3.

Cycle model (an estimate: zero-wait-state memory, no cache misses; the ESP32-C3 TRM
gives no per-instruction timing, so these are the usual figures of a short in-order
RV32IMC pipeline without branch prediction):

| class | cycles |
|---|---|
| ALU, immediates, LUI/AUIPC, compares | 1 |
| MUL/MULH/MULHSU/MULHU | 1 |
| DIV/DIVU/REM/REMU | 33 (one quotient bit per cycle) |
| loads | 2 (one load-use stall, as a rule) |
| stores | 1 |
| branch taken, JAL, JALR | 3 |
| branch not taken | 1 |
"""
from __future__ import annotations

from functools import cache

from .unicorn_run import available  # noqa: F401  (the backend interface; shared by both unicorn backends)


def execute(target, elf, loads, reads, count=False, check=(), regs=None):
    import unicorn

    from . import unicorn_run

    uc = unicorn.Uc(unicorn.UC_ARCH_RISCV, unicorn.UC_MODE_RISCV32)
    return unicorn_run.run(uc, lambda uc: None, target, elf, loads, reads, count, classify,
                           lambda cls, extra, taken: cost(cls, taken), (), check,
                           lambda uc, address, size: True,   # no misaligned access on ESP32-C3
                           regs)


@cache
def _cs():
    import capstone
    return capstone.Cs(capstone.CS_ARCH_RISCV, capstone.CS_MODE_RISCV32 | capstone.CS_MODE_RISCVC)


_LOADS = {"lb", "lh", "lw", "lbu", "lhu", "c.lw", "c.lwsp"}
_STORES = {"sb", "sh", "sw", "c.sw", "c.swsp"}
_BRANCH = {"beq", "bne", "blt", "bge", "bltu", "bgeu", "c.beqz", "c.bnez",
           "beqz", "bnez", "blez", "bgez", "bltz", "bgtz", "bgt", "ble", "bgtu", "bleu"}
_JUMP = {"jal", "jalr", "c.j", "c.jal", "c.jr", "c.jalr", "j", "jr", "ret", "call", "tail"}
_MUL = {"mul", "mulh", "mulhsu", "mulhu"}
_DIV = {"div", "divu", "rem", "remu"}
_CLASS = {m: cls for cls, names in (("load", _LOADS), ("store", _STORES), ("branch_cond", _BRANCH),
                                    ("branch", _JUMP), ("mul", _MUL), ("div", _DIV)) for m in names}


def classify(code: bytes, address: int) -> list[tuple[str, int]]:
    out, decoded = [], 0
    for insn in _cs().disasm(code, address):
        decoded += insn.size
        out.append((_CLASS.get(insn.mnemonic, "alu"), 0))
    if decoded != len(code):
        raise RuntimeError("cannot disassemble the block at 0x%x" % (address + decoded))
    return out


_COST = {"alu": 1, "mul": 1, "div": 33, "load": 2, "store": 1, "branch": 3}


def cost(cls: str, taken: bool) -> int:
    if cls == "branch_cond":
        return _COST["branch"] if taken else 1
    return _COST[cls]
