"""The board ISAs the harness is built for, and where things sit in their memory."""
from __future__ import annotations

import importlib
import shutil
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Target:
    name: str               # arch name, as the natmods call it
    backend: str            # module upyflow_tools.isa.backend_<backend>
    core: str               # the backend's cycle model
    cc: str                 # cross compiler
    cflags: tuple[str, ...]
    ldscript: str           # in native_modules/baremetal
    start: str              # startup file in native_modules/baremetal
    desc_addr: int          # UF_DESC_ADDR (the linker script's RAM end)
    data_addr: int          # model tables and arena (RAM)
    weights_addr: int       # 8-aligned base of the weights (flash on a board)
    boards: tuple[tuple[str, float], ...] = field(default=())   # (board, clock Hz)


_ARM: dict[str, Any] = dict(backend="arm", cc="arm-none-eabi-gcc", ldscript="link_arm.ld", start="start_arm.S",
            desc_addr=0x20010000, data_addr=0x20100000, weights_addr=0x10000000)
_RV: dict[str, Any] = dict(backend="rv32", cc="riscv64-unknown-elf-gcc", ldscript="link_rv32.ld",
           start="start_rv32.S", desc_addr=0x80110000, data_addr=0x80200000,
           weights_addr=0x90000000)

TARGETS = {
    "armv6m": Target("armv6m", core="cortex-m0plus", cflags=("-mcpu=cortex-m0plus", "-mthumb"),
                     boards=(("RP2040", 133e6),), **_ARM),
    "armv7emsp": Target("armv7emsp", core="cortex-m4",
                        cflags=("-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16",
                                "-mfloat-abi=hard"),
                        boards=(("RP2350 (M33)", 150e6),), **_ARM),
    "rv32imc": Target("rv32imc", core="esp32c3", cflags=("-march=rv32imc", "-mabi=ilp32"),
                      boards=(("ESP32-C3", 160e6),), **_RV),
}


def backend(target: Target):
    return importlib.import_module("upyflow_tools.isa.backend_" + target.backend)


def unavailable(name: str) -> str | None:
    """None when target `name` can be built and run here, else the reason it cannot."""
    target = TARGETS.get(name)
    if target is None:
        return "unknown ISA target %r (known: %s)" % (name, ", ".join(TARGETS))
    if shutil.which(target.cc) is None:
        return "%s not installed (apt-get install %s)" % (
            target.cc, {"arm-none-eabi-gcc": "gcc-arm-none-eabi",
                        "riscv64-unknown-elf-gcc": "gcc-riscv64-unknown-elf"}.get(target.cc, target.cc))
    try:
        import elftools  # noqa: F401
    except ImportError:
        return "pyelftools not installed (pip install pyelftools)"
    try:
        return backend(target).available()
    except ImportError as e:
        return str(e)
