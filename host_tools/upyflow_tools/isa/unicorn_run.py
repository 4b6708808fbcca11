"""The run loop of the unicorn backends (ARM Cortex-M, RV32): map, load, run to uf_halt."""
from __future__ import annotations

from .emu import PAGE, BlockCounter, Result, spans

# The free stack (from .bss's end to the top) is painted with this word before a run;
# the lowest word that changed is the deepest the stack went.
STACK_PAINT = 0xA5A5A5A5

# Runaway guard: more than any shared model needs (person_detect: ~1e8 instructions).
MAX_INSNS = 2_000_000_000
TIMEOUT_US = 600_000_000


def available() -> str | None:
    try:
        import capstone  # noqa: F401
        import unicorn  # noqa: F401
    except ImportError:
        return "unicorn and capstone not installed (pip install unicorn capstone)"
    return None


def run(uc, setup, target, elf, loads, reads, count, classify, cost, extra_maps=(),
        check=(), faults_unaligned=None, regs=None, after_hooked_read=None):
    """Map every region, write the image, `setup(uc)` the registers, run from the
    entry to uf_halt. A stop anywhere else (fault handler, emulator error) is a fault.

    unicorn does not fault on an unaligned access on any of these cores (tested:
    Cortex-M0 LDR/LDRH, Cortex-M4 LDRD/LDM, RV32 LW all just load), so a read hook
    on the `check` regions [(address, size)] does what the board would:
    faults_unaligned(uc, address, size) says whether that access at the current
    PC would fault; the first one stops the run as a fault. after_hooked_read(uc):
    the backend's repair of what the hook itself disturbs (Arm: unicorn_clear_it).
    regs: {name: value} set after `setup` (tests start hand-made programs with them)."""
    import unicorn

    ram = (target.desc_addr - 0x10000, 0x11000)   # harness .data/.bss/stack + descriptor
    regions = [(a, len(d)) for a, d in elf.segments] + [(a, len(d)) for a, d in loads] + [ram]
    regions += list(reads) + list(extra_maps)
    for address, size in spans(regions):
        uc.mem_map(address, size, unicorn.UC_PROT_ALL)
    for address, data in list(elf.segments) + list(loads):
        uc.mem_write(address, bytes(data))
    # The code and its constants are flash on the board: a store there (e.g. through a
    # null pointer, 0 on Arm) faults here rather than passing silently.
    writable = spans([(a, len(d)) for a, d in loads] + [ram] + list(reads) + list(extra_maps))
    for address, size in spans(getattr(elf, "readonly", [])):
        for page in range(address, address + size, PAGE):
            if not any(a <= page < a + n for a, n in writable):
                uc.mem_protect(page, PAGE, unicorn.UC_PROT_READ | unicorn.UC_PROT_EXEC)
    stack = elf.symbols.get("__bss_end"), elf.symbols.get("__stack_top")
    if None not in stack:
        uc.mem_write(stack[0], STACK_PAINT.to_bytes(4, "little") * ((stack[1] - stack[0]) // 4))
    setup(uc)
    for name, value in (regs or {}).items():
        uc.reg_write(reg_id(target, name), value)
    counter = BlockCounter() if count else None
    if counter:
        uc.hook_add(unicorn.UC_HOOK_BLOCK, counter.hook)
        mark = elf.symbols.get("uf_isa_mark")
        if mark is not None:   # the harness's load is done: count its run from here
            mark &= ~1
            uc.hook_add(unicorn.UC_HOOK_CODE, lambda uc, _a, _s, _d: counter.restart(), begin=mark, end=mark)
    stops, misaligned = [], []
    if check and faults_unaligned:
        def on_read(uc, _access, address, size, _value, _data):
            if size > 1 and address & (size - 1) and faults_unaligned(uc, address, size):
                misaligned.append((uc_pc(uc, target), address, size))
                uc.emu_stop()
            if after_hooked_read:
                after_hooked_read(uc)
        for address, size in check:
            uc.hook_add(unicorn.UC_HOOK_MEM_READ, on_read, begin=address, end=address + size - 1)
    uc.hook_add(unicorn.UC_HOOK_INTR, lambda uc, intno, _d: (stops.append(intno), uc.emu_stop()))
    # Thumb symbols carry bit 0; the PC does not.
    halt, fault = elf.symbols["uf_halt"] & ~1, None
    fault_handler = elf.symbols["uf_fault"] & ~1
    try:
        uc.emu_start(elf.entry, halt, timeout=TIMEOUT_US, count=MAX_INSNS)
    except unicorn.UcError as e:
        fault = "%s at pc=0x%x" % (e, uc_pc(uc, target))
    pc = uc_pc(uc, target)
    if misaligned:
        fault = "unaligned %d-byte read of 0x%x at pc=0x%x (the board faults here)" % (
            misaligned[0][2], misaligned[0][1], misaligned[0][0])
    if fault is None and pc != halt:
        where = "the fault handler" if pc == fault_handler else "0x%x" % pc
        fault = "stopped at %s (exception %s)" % (where, stops or "none")
    result = Result([bytes(uc.mem_read(a, n)) for a, n in reads], fault)
    if None not in stack:
        result.stack_peak = stack_used(bytes(uc.mem_read(stack[0], stack[1] - stack[0])))
    if counter:
        result.instructions, result.classes, result.cycles = counter.tally(
            uc, classify, cost, getattr(elf, "functions", ()))
        result.by_function = counter.by_function
    return result


def stack_used(free: bytes) -> int:
    """Bytes of the painted region `free` (ending at the stack's top) that the run wrote."""
    paint = STACK_PAINT.to_bytes(4, "little")
    for k in range(0, len(free) - len(free) % 4, 4):
        if free[k:k + 4] != paint:
            return len(free) - k
    return 0


def reg_id(target, name):
    import unicorn
    if target.backend == "arm":
        return getattr(unicorn.arm_const, "UC_ARM_REG_" + name.upper())
    return getattr(unicorn.riscv_const, "UC_RISCV_REG_" + name.upper())


def uc_pc(uc, target):
    import unicorn
    if target.backend == "arm":
        return uc.reg_read(unicorn.arm_const.UC_ARM_REG_PC)
    return uc.reg_read(unicorn.riscv_const.UC_RISCV_REG_PC)
