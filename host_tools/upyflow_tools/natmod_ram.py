"""What a natmod's code costs a board at import, and whether an esp32 board has the room.

On a board MicroPython copies a natmod's machine code to RAM at import (py/persistentcode.c):
on rp2 and most ports into the GC heap; on the esp32 port into executable RAM, one
heap_caps_malloc(MALLOC_CAP_EXEC) block per module (ports/esp32/main.c esp_native_code_commit),
which raises MemoryError ("memory allocation failed, allocating N bytes") when no block is big
enough. The classic ESP32 has little of it (README, "ESP32 boards"): `upyflow deploy` reads
the board's free executable RAM (esp32.idf_heap_info(esp32.HEAP_EXEC)) after its soft reset
and warns when the models' modules will not all fit.
"""
from __future__ import annotations

import ast
import os

# Asked on the board: (total, free, largest free block, minimum free) per executable region,
# or '-' where the port has no esp32 module (not an esp32 board).
EXEC_QUERY = ("try:\n import esp32\n print('EXEC', esp32.idf_heap_info(esp32.HEAP_EXEC))\n"
              "except Exception:\n print('EXEC -')\n")


def _uint(data: bytes, pos: int) -> tuple[int, int]:
    n = 0
    while True:
        b = data[pos]
        pos += 1
        n = n << 7 | (b & 0x7F)
        if not b & 0x80:
            return n, pos


def import_bytes(path: str) -> tuple[int, int]:
    """(native text, rodata + bss) of a natmod .mpy: what MicroPython allocates for its code
    at import (py/persistentcode.c: MP_PLAT_ALLOC_EXEC / MP_PLAT_COMMIT_EXEC for the text, the
    GC heap's m_new0 for rodata and BSS), read from the file's layout (32-bit: BSS rounded up
    to 4 bytes)."""
    with open(path, "rb") as f:
        data = f.read()
    pos = 4
    if data[2] & 0x40:  # arch flags (RV32 extensions)
        _, pos = _uint(data, pos)
    n_qstr, pos = _uint(data, pos)
    n_obj, pos = _uint(data, pos)
    for _ in range(n_qstr):
        n, pos = _uint(data, pos)
        if not n & 1:
            pos += (n >> 1) + 1
    for _ in range(n_obj):
        if data[pos] != 0:
            raise ValueError("%s: not a natmod (constants other than mp_fun_table)" % path)
        pos += 1
    kind_len, pos = _uint(data, pos)
    if kind_len & 3 != 2:  # MP_CODE_NATIVE_VIPER
        raise ValueError("%s: not a natmod (no viper-kind native code)" % path)
    text = kind_len >> 3
    flags, pos = _uint(data, pos + text)
    rodata = bss = 0
    if flags & 0x20:
        rodata, pos = _uint(data, pos)
    if flags & 0x40:
        bss, pos = _uint(data, pos)
    return text, rodata + (bss + 3) // 4 * 4


def exec_block(path: str) -> int:
    """Bytes of executable RAM esp32's esp_native_code_commit asks for this module's text: the
    text rounded up to 4 bytes plus its 4-byte list node."""
    return (import_bytes(path)[0] + 3) // 4 * 4 + 4


def parse_exec_heap(out: str) -> list[tuple[int, int, int, int]] | None:
    """The regions EXEC_QUERY printed, None when the board is no esp32 (or said nothing)."""
    for line in out.splitlines():
        if line.startswith("EXEC "):
            rest = line[5:].strip()
            if rest == "-":
                return None
            try:
                regions = ast.literal_eval(rest)
            except (ValueError, SyntaxError):
                return None
            return [tuple(int(v) for v in r[:4]) for r in regions if len(r) >= 4]  # type: ignore[misc]
    return None


def _fits(blocks: list[int], free: list[int]) -> list[int]:
    """The blocks (largest first, each into the region with the largest free block) that find
    no room: a model-free estimate of first-fit over the regions' largest free blocks."""
    room = sorted(free, reverse=True)
    left = []
    for b in sorted(blocks, reverse=True):
        room.sort(reverse=True)
        if room and room[0] >= b:
            room[0] -= b
        else:
            left.append(b)
    return left


def exec_report(natmods: list[str], regions: list[tuple[int, int, int, int]]) -> tuple[str, bool]:
    """(one line on the executable RAM the natmods need beside what the board has free,
    whether some module will not fit): natmods are the .mpy paths deploy copies, regions
    EXEC_QUERY's answer after a soft reset (the most the board has before a program runs)."""
    need = {os.path.basename(p)[:-4]: exec_block(p) for p in natmods}
    total = sum(need.values())
    big = max(need, key=lambda m: need[m])
    free = sum(r[1] for r in regions)
    largest = max((r[2] for r in regions), default=0)
    short = _fits(list(need.values()), [r[2] for r in regions])
    line = ("executable RAM: the native modules need %d bytes (largest %s %d), the board has %d free "
            "after a soft reset, largest block %d (esp32.idf_heap_info(esp32.HEAP_EXEC))"
            % (total, big, need[big], free, largest))
    if short:
        line = ("warning: %s: %d of the %d modules may not fit; upyflow then runs their kernels on "
                "viper and prints which at load (README, ESP32 boards)" % (line, len(short), len(need)))
    return line, bool(short)
