/* Cortex-M startup: vector table (initial SP, reset, NMI, HardFault), zero .bss,
   call main, stop at uf_halt (bkpt). A fault stops at uf_fault (bkpt #1) so the
   host can tell a crash from a finished run. */
    .syntax unified
    .thumb
    .section .vectors, "a"
    .word __stack_top
    .word reset + 1
    .word uf_fault + 1      /* NMI */
    .word uf_fault + 1      /* HardFault */
    .word uf_fault + 1      /* MemManage (v7-M) */
    .word uf_fault + 1      /* BusFault */
    .word uf_fault + 1      /* UsageFault (unaligned LDRD/LDM on v7-M) */

    .text
    .thumb_func
    .global reset
reset:
    ldr r0, =__bss_start
    ldr r1, =__bss_end
    movs r2, #0
1:  cmp r0, r1
    bhs 2f
    str r2, [r0]
    adds r0, #4
    b 1b
2:
#if defined(__ARM_FP)
    /* CPACR: full access to CP10/CP11, the FPU (off after reset). */
    ldr r0, =0xE000ED88
    ldr r1, [r0]
    ldr r2, =0x00F00000
    orrs r1, r2
    str r1, [r0]
    dsb
    isb
#endif
    bl main
    .thumb_func
    .global uf_halt
uf_halt:
    bkpt #0
    b uf_halt

    .thumb_func
    .global uf_fault
uf_fault:
    bkpt #1
    b uf_fault
