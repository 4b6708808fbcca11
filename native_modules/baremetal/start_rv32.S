/* RV32 startup: stack, trap vector, zero .bss, call main, stop at uf_halt
   (ebreak). A trap (e.g. a misaligned load) lands in uf_fault (ebreak too; the
   host tells them apart by the address). */
    .option arch, +zicsr    /* csrw mtvec; the C stays plain rv32imc */
    .section .text.start, "ax"
    .global _start
_start:
    .option push
    .option norelax
    la gp, __global_pointer$
    .option pop
    la sp, __stack_top
    la t0, uf_fault
    csrw mtvec, t0
    la t0, __bss_start
    la t1, __bss_end
1:  bgeu t0, t1, 2f
    sw zero, 0(t0)
    addi t0, t0, 4
    j 1b
2:  call main
    .global uf_halt
uf_halt:
    ebreak
    j uf_halt

    .balign 4
    .global uf_fault
uf_fault:
    ebreak
    j uf_fault
