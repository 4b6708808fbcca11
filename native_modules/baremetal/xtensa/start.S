// Bare-metal start for the Xtensa harness (windowed ABI, as the ESP32 runs
// it): window overflow/underflow handlers at VECBASE, every other vector exits
// QEMU through semihosting with code 100 + EXCCAUSE, and _start calls main
// with call8 and exits with its result. Assembled by llvm-mc -mcpu=esp32.
// `simcall` (QEMU's semihosting trap) is not in LLVM's assembler: its encoding
// is emitted as bytes.
    .macro simcall
    .byte 0x00, 0x51, 0x00
    .endm

    .section .vectors, "ax"
    .global _vectors
_vectors:
// Window overflow/underflow: spill or reload the 4/8/12 registers of the
// frame the window rotation needs, in the base save area (16 bytes below the
// frame's stack pointer) and the extra save area of its caller's frame.
    .org 0x0
    s32e a0, a5, -16
    s32e a1, a5, -12
    s32e a2, a5, -8
    s32e a3, a5, -4
    rfwo
    .org 0x40
    l32e a0, a5, -16
    l32e a1, a5, -12
    l32e a2, a5, -8
    l32e a3, a5, -4
    rfwu
    .org 0x80
    s32e a0, a9, -16
    l32e a0, a1, -12
    s32e a1, a9, -12
    s32e a2, a9, -8
    s32e a3, a9, -4
    s32e a4, a0, -32
    s32e a5, a0, -28
    s32e a6, a0, -24
    s32e a7, a0, -20
    rfwo
    .org 0xc0
    l32e a1, a9, -12
    l32e a0, a9, -16
    l32e a7, a1, -12
    l32e a2, a9, -8
    l32e a4, a7, -32
    l32e a3, a9, -4
    l32e a5, a7, -28
    l32e a6, a7, -24
    l32e a7, a7, -20
    rfwu
    .org 0x100
    s32e a0, a13, -16
    l32e a0, a1, -12
    s32e a1, a13, -12
    s32e a2, a13, -8
    s32e a3, a13, -4
    s32e a4, a0, -48
    s32e a5, a0, -44
    s32e a6, a0, -40
    s32e a7, a0, -36
    s32e a8, a0, -32
    s32e a9, a0, -28
    s32e a10, a0, -24
    s32e a11, a0, -20
    rfwo
    .org 0x140
    l32e a1, a13, -12
    l32e a0, a13, -16
    l32e a11, a1, -12
    l32e a2, a13, -8
    l32e a4, a11, -48
    l32e a8, a11, -32
    l32e a3, a13, -4
    l32e a5, a11, -44
    l32e a6, a11, -40
    l32e a7, a11, -36
    l32e a9, a11, -28
    l32e a10, a11, -24
    l32e a11, a11, -20
    rfwu
// Interrupt and exception vectors (their offsets depend on the core
// configuration; every 64-byte slot from 0x180 on is covered): stop.
    .macro fail at
    .org \at
    rsr a3, exccause
    addi a3, a3, 100
    movi a2, 1
    simcall
    .endm
    fail 0x180
    fail 0x1c0
    fail 0x200
    fail 0x240
    fail 0x280
    fail 0x2c0
    fail 0x300
    fail 0x340
    fail 0x380
    fail 0x3c0

    .text
    .literal_position
    .literal .Lvectors, _vectors
    .literal .Lstack, _stack_top - 32
    .literal .Lmain, main
    .global _start
    .p2align 2
_start:
    movi a0, 0
    wsr a0, windowbase
    rsync
    movi a0, 1
    wsr a0, windowstart
    rsync
    l32r a0, .Lvectors
    wsr a0, vecbase
    l32r a1, .Lstack
    movi a0, 1                  // CPENABLE: coprocessor 0, the FPU
    wsr a0, cpenable
    rsync
    movi a0, 0x40020            // PS: WOE (window exceptions on), UM, INTLEVEL 0
    wsr a0, ps
    rsync
    movi a0, 0
    l32r a8, .Lmain
    callx8 a8
    mov a3, a10                 // exit(main())
    movi a2, 1
    simcall
1:  j 1b

// Semihosting call for C: uf_simcall(nr, a, b, c) -> a2 (a3: errno).
    .global uf_simcall
    .p2align 2
uf_simcall:
    entry a1, 32
    simcall
    retw
