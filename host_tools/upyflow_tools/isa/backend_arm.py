"""Cortex-M0+ (armv6m) and Cortex-M4F (armv7em + FPv4-SP) under unicorn, with cycle models.

Cycle models (estimates: zero-wait-state memory, no flash/XIP cache misses, no bus
contention), per instruction class, from Arm's Cortex-M0+ and Cortex-M4 TRMs'
instruction timing tables:

| class | Cortex-M0+ | Cortex-M4 |
|---|---|---|
| data processing, moves, compares, extends | 1 | 1 |
| MUL/MLA/SMULxy/SMLAD... (32-bit result) | 1 (single-cycle multiplier, as RP2040) | 1 |
| SMULL/UMULL/SMLAL/UMLAL (64-bit result) | - | 1 |
| SDIV/UDIV | - (libgcc, counted as its instructions) | 7 (TRM: 2-12) |
| LDR/LDRB/LDRH/LDRSx | 2 | 2, 1 right after another (below) |
| STR/STRB/STRH | 2 | 1 (write buffer) |
| LDRD/STRD | - | 3 |
| LDM/STM/PUSH/POP of N registers | 1+N (+2 when POP loads PC) | 1+N (+2 when it loads PC) |
| branch taken: B, Bcc, CBZ/CBNZ | 2 | 2 |
| branch not taken | 1 | 1 |
| BL | 3 | 2 |
| BX/BLX register, MOV/ADD to PC | 2 | 3 |
| VFP add/sub/mul/convert/move/compare | - | 1 |
| VMLA/VMLS/VFMA/VNMLA... | - | 3 |
| VDIV/VSQRT | - | 14 |
| VLDR/VSTR | - | 2 |
| VLDM/VSTM/VPUSH/VPOP of N | - | 1+N |

Cortex-M4 load pipelining (TRM 3.3.2: neighbouring load and store single instructions
pipeline their address and data phases): a single load right after a single load in
the same block costs 1 when its address does not need the earlier load's result
(class load_pipe; the Cortex-M0+ has no such pipelining and pays 2). A store is 1 already;
nothing pipelines after a store, after LDM/LDRD, or across a block boundary (not counted).
"""
from __future__ import annotations

from functools import cache

from .unicorn_run import available  # noqa: F401  (the backend interface; shared by both unicorn backends)


def execute(target, elf, loads, reads, count=False, check=(), regs=None):
    import unicorn
    from unicorn import arm_const as A

    from . import unicorn_run

    uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB | unicorn.UC_MODE_MCLASS)
    uc.ctl_set_cpu_model(A.UC_CPU_ARM_CORTEX_M0 if target.core == "cortex-m0plus" else A.UC_CPU_ARM_CORTEX_M4)

    def setup(uc):
        uc.reg_write(A.UC_ARM_REG_SP, elf.symbols["__stack_top"])
    # The Cortex-M4 startup enables the FPU in CPACR (0xE000ED88): map the SCS page.
    extra = [(0xE000E000, 0x1000)] if target.core != "cortex-m0plus" else []
    core = target.core
    return unicorn_run.run(uc, setup, target, elf, loads, reads, count,
                           lambda code, address: classify(code, address),
                           lambda cls, extra_, taken: cost(core, cls, extra_, taken), extra,
                           check, _m0_faults if core == "cortex-m0plus" else _m4_faults({}), regs,
                           clear_stale_it)


# xPSR's IT/ICI bits (ITSTATE): bits 26:25 and 15:10.
XPSR_IT = 0x0600FC00


def clear_stale_it(uc):
    """Undo a unicorn (2.1.4) fault a memory hook causes in a Thumb-2 IT block.

    To show the hook the CPU state at the load, unicorn restores it from the load's
    instruction (QEMU's restore_state_to_opc), ITSTATE included. Mid-block the translated
    code keeps ITSTATE to itself and never writes the CPU's copy back once the block ends,
    so the next translation block starts with the stale state: its first instructions
    run under the IT's conditions. Compiled `ite eq; ldrsbeq; ldrshne; bx lr` (uf_ld_q) of a
    constant int8 then made the caller skip a load: int8 MUL with a constant operand wrote
    its output to address 0 on the Cortex-M4F. The CPU's copy holds 0 inside a
    translation block (QEMU clears it when one starts, and writes it when one ends inside
    an IT block), so 0 is the value to put back. The M0+ has no IT (the bits stay 0)."""
    from unicorn import arm_const as A
    xpsr = uc.reg_read(A.UC_ARM_REG_XPSR)
    if xpsr & XPSR_IT:
        uc.reg_write(A.UC_ARM_REG_XPSR, xpsr & ~XPSR_IT)


def _m0_faults(uc, address, size):
    return True   # ARMv6-M: every unaligned halfword/word access HardFaults


def _m4_faults(cache):
    # ARMv7-M (CCR.UNALIGN_TRP clear, the reset value): LDR/LDRH/STR/STRH may be
    # unaligned; LDRD/STRD, LDM/STM/PUSH/POP, VLDR/VSTR/VLDM/VSTM and exclusives fault.
    # cache: PC -> verdict, for one run (one program).
    from unicorn import arm_const as A

    def faults(uc, address, size):
        pc = uc.reg_read(A.UC_ARM_REG_PC)
        kind = cache.get(pc)
        if kind is None:
            insn = next(_cs().disasm(bytes(uc.mem_read(pc, 4)), pc), None)
            m = insn.mnemonic.split(".")[0] if insn else ""
            kind = cache[pc] = not (m.startswith(("ldr", "str")) and m not in ("ldrd", "strd")
                                    and not m.startswith(("ldrex", "strex")))
        return kind
    return faults


@cache
def _cs():
    import capstone
    md = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
    md.detail = True
    return md


_MUL = {"mul", "muls", "mla", "mls"}
_MULL = {"smull", "umull", "smlal", "umlal", "umaal"}


def classify(code: bytes, address: int) -> list[tuple[str, int]]:
    """[(class, register count or 0)] per instruction; branches last (as a block ends)."""
    from capstone import arm_const as C
    out, decoded = [], 0
    loaded = None   # registers the previous instruction loaded, if it was a single load
    for insn in _cs().disasm(code, address):
        decoded += insn.size
        m = insn.mnemonic.split(".")[0]
        ops = insn.operands
        writes_pc = any(o.type == C.ARM_OP_REG and o.reg == C.ARM_REG_PC for o in ops[:1])
        if m.startswith("v"):
            if m in ("vdiv", "vsqrt"):
                out.append(("fp_div", 0))
            elif m in ("vmla", "vmls", "vnmla", "vnmls", "vfma", "vfms", "vfnma", "vfnms"):
                out.append(("fp_mac", 0))
            elif m in ("vldr", "vstr"):
                out.append(("fp_mem", 0))
            elif m in ("vldmia", "vldmdb", "vstmia", "vstmdb", "vpush", "vpop", "vldm", "vstm"):
                out.append(("fp_multi", sum(o.type == C.ARM_OP_REG for o in ops) - (m[1] in "ls")))
            else:
                out.append(("fp", 0))
        elif m in ("push", "pop") or m.startswith(("ldm", "stm")):
            regs = [o for o in ops if o.type == C.ARM_OP_REG]
            n = len(regs) - (0 if m in ("push", "pop") else 1)
            pc = any(o.reg == C.ARM_REG_PC for o in regs)
            out.append(("branch_pop" if pc else "multi", n))
        elif m in ("ldrd", "strd"):
            out.append(("dual", 0))
        elif m.startswith("ldr") or m.startswith("ldrex"):
            if writes_pc:
                out.append(("branch_reg", 0))
            else:
                reads, writes = insn.regs_access()
                pipe = loaded is not None and not loaded & set(reads) and not m.startswith("ldrex")
                out.append(("load_pipe" if pipe else "load", 0))
                loaded = {o.reg for o in ops[:1]}
                continue
        elif m.startswith("str"):
            out.append(("store", 0))
        elif m in _MULL:
            out.append(("mull", 0))
        elif m in _MUL or m.startswith(("smul", "smla", "smus", "smua", "smmul", "smmla", "smmls", "smls")):
            out.append(("mul", 0))
        elif m in ("sdiv", "udiv"):
            out.append(("div", 0))
        elif m in ("bl",):
            out.append(("branch_call", 0))
        elif m in ("bx", "blx"):
            out.append(("branch_reg", 0))
        elif m in ("cbz", "cbnz"):
            out.append(("branch_cond", 0))
        elif m == "b" or (len(m) == 3 and m[0] == "b" and m[1:] in _CONDS):
            out.append(("branch_cond" if insn.cc not in (C.ARM_CC_AL, C.ARM_CC_INVALID) else "branch", 0))
        elif writes_pc and not m.startswith(("cmp", "cmn", "tst", "teq")):
            out.append(("branch_reg", 0))
        else:
            out.append(("alu", 0))
        loaded = None
    if decoded != len(code):   # capstone stops at bytes it cannot decode
        raise RuntimeError("cannot disassemble the block at 0x%x" % (address + decoded))
    return out


_CONDS = {"eq", "ne", "cs", "cc", "hs", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le"}


_COST = {
    "cortex-m0plus": {"alu": 1, "mul": 1, "load": 2, "store": 2, "branch": 2, "branch_call": 3,
                      "branch_reg": 2},
    "cortex-m4": {"alu": 1, "mul": 1, "mull": 1, "div": 7, "load": 2, "store": 1, "dual": 3,
                  "branch": 2, "branch_call": 2, "branch_reg": 3, "fp": 1, "fp_mac": 3,
                  "fp_div": 14, "fp_mem": 2},
}


def cost(core: str, cls: str, extra: int, taken: bool) -> int:
    table = _COST[core]
    if cls == "multi" or cls == "fp_multi":
        return 1 + extra
    if cls == "branch_pop":
        return 3 + extra   # 1+N, plus the pipeline refill (always taken)
    if cls == "branch_cond":
        return table["branch"] if taken else 1
    if cls == "load_pipe":
        return 1 if core == "cortex-m4" else table["load"]
    if cls not in table:
        raise KeyError("%s has no %s instructions in its cycle model" % (core, cls))
    return table[cls]
