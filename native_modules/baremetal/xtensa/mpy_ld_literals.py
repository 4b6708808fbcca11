"""Make an LLVM-assembled Xtensa object linkable by MicroPython's mpy_ld (xtensawin).

1. Literal pools:

llvm-mc writes a literal holding a local address (a static function, a string)
as R_XTENSA_32 against the section symbol with the offset in r_addend and 0 in
the literal word. mpy_ld (written for GNU as) wants the offset in the word and
r_addend == 0 for section-symbol literals. This moves the addend into the word
for those relocations only, in place: same value once relocated.

2. l32r immediates: llvm-mc leaves some relocated l32r instructions with
imm16 = 0xFFFF instead of 0 (the relocation alone defines them under RELA).
mpy_ld adds its offset to the existing field, so those would load from the
wrong word: the field is cleared for every l32r with an R_XTENSA_SLOT0_OP.

3. Constant data holding addresses (the kernel table: names, functions): LLVM's
Xtensa backend has only the static relocation model, so it goes to .rodata,
where mpy_ld would apply its relocations as PC-relative code relocations.
GCC's -fpic puts it in .data.rel.ro, which mpy_ld relocates as data: such
sections are renamed so (llvm-objcopy), nothing else changes.

Usage: python3 mpy_ld_literals.py [--objcopy llvm-objcopy-22] file.o ...
"""
import struct
import subprocess
import sys

R_XTENSA_32 = 1
R_XTENSA_SLOT0_OP = 20
STT_SECTION = 3
SHT_SYMTAB = 2
SHT_RELA = 4


def fix(path):
    with open(path, "rb") as f:
        elf = bytearray(f.read())
    if elf[:4] != b"\x7fELF" or elf[4] != 1 or elf[5] != 1:
        sys.exit(f"{path}: not a little-endian ELF32 object")
    if struct.unpack_from("<H", elf, 18)[0] != 94:  # EM_XTENSA
        sys.exit(f"{path}: not an Xtensa object")
    shoff, = struct.unpack_from("<I", elf, 32)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 46)
    secs = [struct.unpack_from("<IIIIIIIIII", elf, shoff + i * shentsize) for i in range(shnum)]
    strtab_off = secs[shstrndx][4]

    def name(sec):
        end = elf.index(b"\0", strtab_off + sec[0])
        return elf[strtab_off + sec[0]:end].decode()

    moved = 0
    rename = set()
    for sec in secs:
        if sec[1] == SHT_RELA and name(secs[sec[7]]).startswith(".text"):
            text_off = secs[sec[7]][4]
            for off in range(sec[4], sec[4] + sec[5], 12):
                r_offset, r_info = struct.unpack_from("<II", elf, off)
                p = text_off + r_offset
                if r_info & 0xFF == R_XTENSA_SLOT0_OP and elf[p] & 0xF == 1:  # l32r
                    if elf[p + 1] or elf[p + 2]:
                        elf[p + 1] = elf[p + 2] = 0
                        moved += 1
        if sec[1] == SHT_RELA and sec[5] and name(secs[sec[7]]).startswith(".rodata"):
            rename.add(name(secs[sec[7]]))
        if sec[1] != SHT_RELA or not name(secs[sec[7]]).startswith(".literal"):
            continue
        symtab = secs[sec[6]]
        target_off = secs[sec[7]][4]
        for off in range(sec[4], sec[4] + sec[5], 12):
            r_offset, r_info, r_addend = struct.unpack_from("<IIi", elf, off)
            if r_info & 0xFF != R_XTENSA_32 or r_addend == 0:
                continue
            st_info = elf[symtab[4] + (r_info >> 8) * 16 + 12]
            if st_info & 0xF != STT_SECTION:
                continue
            word, = struct.unpack_from("<I", elf, target_off + r_offset)
            struct.pack_into("<I", elf, target_off + r_offset, (word + r_addend) & 0xFFFFFFFF)
            struct.pack_into("<i", elf, off + 8, 0)
            moved += 1
    if moved:
        with open(path, "wb") as f:
            f.write(elf)
    return sorted(rename)


if __name__ == "__main__":
    args = sys.argv[1:]
    objcopy = "llvm-objcopy-22"
    if args[:1] == ["--objcopy"]:
        objcopy, args = args[1], args[2:]
    for p in args:
        ro = fix(p)
        if ro:
            opts = [f"--rename-section={n}=.data.rel.ro{n[len('.rodata'):]}" for n in ro]
            subprocess.run([objcopy, *opts, p], check=True)
