// The int8 multiply-accumulate cores of CONV_2D, DEPTHWISE_CONV_2D and
// FULLY_CONNECTED, one per core family:
// - Cortex-M4/M7/M33 (__ARM_FEATURE_DSP): SXTB16 splits four int8 into two
//   pairs of int16, SMLAD multiplies and adds a pair in one cycle (CMSIS-NN's way).
// - Cortex-M0/M0+ (ARMv6-M): hand-scheduled Thumb-1, the four accumulators in
//   high registers, so a MAC costs a byte load, a MULS and an ADD (GCC spills
//   them to the stack at -Os).
// - Everything else (x64 -O3 vectorizes it, RV32, Xtensa): plain C.
// Integer sums are exact and associative mod 2^32, so every path is bit-exact.
// Weights may sit at any address: read only bytes or through load.h.
#ifndef UPYFLOW_MAC8_H
#define UPYFLOW_MAC8_H

#include <stdint.h>
#include "load.h"
#include "qmath.h"

#if defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#define UF_MAC_DSP 1
#elif defined(__ARM_ARCH_6M__) && defined(__GNUC__)
#define UF_MAC_M0 1
#elif defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(__aarch64__)
// Hosts with vector units: inlined loops the compiler vectorizes (-O3).
#define UF_MAC_VECTOR 1
#endif
#if defined(__riscv) || defined(__XTENSA__)
// Two pixels by four output channels per pass (uf_dot4x2_s8): enough registers
// (the Cortex-M4's SMLAD path spilled them: one pixel there).
#define UF_MAC_PAIRS 1
#else
#define UF_MAC_PAIRS 0
#endif
// The register-blocked kernels pay off on the Arm cores and RV32; x64 -O3
// vectorizes the plain loops.
#if UF_MAC_DSP || UF_MAC_M0 || UF_MAC_PAIRS
#define UF_MAC_BLOCKED 1
#else
#define UF_MAC_BLOCKED 0
#endif

#if defined(__GNUC__)
#define UF_MAC_NOINLINE __attribute__((noinline))
#define UF_MAC_INLINE static inline __attribute__((always_inline))
#define UF_MAC_UNUSED __attribute__((unused))
#else
#define UF_MAC_NOINLINE
#define UF_MAC_INLINE static inline
#define UF_MAC_UNUSED
#endif

#if UF_MAC_DSP
// Bytes 1 and 3 of v into the two halves (bytes 0 and 2: __sxtb16(v)).
// (GCC does not fold the rotation into SXTB16 itself.)
static inline int32_t uf_sxtb16_odd(uint32_t v) {
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}
#endif

#if UF_MAC_M0
// The kernels only conv.c calls are left out of a file that defines UF_MAC8_NO_CONV
// before including this one (fc.c): each file has its own copy of these local
// symbols, and a natmod's code sits in the board's RAM.
#if defined(UF_MAC8_NO_CONV)
#define UF_M0_CONV_ASM 0
#else
#define UF_M0_CONV_ASM 1
#endif
// The frame of every Thumb-1 function below: its header and end, and r4-r11 saved
// and restored (r8-r11 by way of r4-r7: Thumb-1 pushes only low registers).
#define UF_M0_BEGIN(name)                                                         \
    "  .pushsection .text\n  .syntax unified\n  .thumb\n  .align 1\n"             \
    "  .type " name ", %function\n  .thumb_func\n" name ":\n"
#define UF_M0_END(name) "  .size " name ", .-" name "\n  .popsection\n"
#define UF_M0_SAVE                                                                \
    "  push {r4, r5, r6, r7, lr}\n"                                               \
    "  mov r4, r8\n  mov r5, r9\n  mov r6, r10\n  mov r7, r11\n  push {r4, r5, r6, r7}\n"
#define UF_M0_RESTORE                                                             \
    "  pop {r4, r5, r6, r7}\n  mov r8, r4\n  mov r9, r5\n  mov r10, r6\n  mov r11, r7\n" \
    "  pop {r4, r5, r6, r7, pc}\n"
// For each of `blocks` blocks b of four rows: acc[4b + j] = sum over k < n (n > 0)
// of x[k] * w[(4b + j)*stride + k]. The pointers become row ends so one negative
// index counts up to zero and sets the loop flag; four inputs per loop pass (n
// mod 4 enters at the step that leaves a multiple of four). One call covers many
// output channels.
// uf_mac4_m0 stores acc contiguously; uf_mac4t_m0 into the .acc of a uf_rq_m0_t
// table (20-byte entries), where uf_rq_m0 requantizes them.
// Local symbols (no .global): each file that includes this has its own copy.
void uf_mac4_m0(const int8_t *x_end, const int8_t *w_end, int n, int32_t *acc, int stride,
                int blocks);
void uf_mac4t_m0(const int8_t *x_end, const int8_t *w_end, int n, int32_t *acc, int stride,
                 int blocks);
#define UF_MAC4_M0_STEP(next)                                                     \
    "  ldrsb r6, [r0, r2]\n"                                                      \
    "  ldrsb r7, [r1, r2]\n  muls r7, r6\n  add r8, r7\n"                         \
    "  ldrsb r7, [r3, r2]\n  muls r7, r6\n  add r9, r7\n"                         \
    "  ldrsb r7, [r4, r2]\n  muls r7, r6\n  add r10, r7\n"                        \
    "  ldrsb r7, [r5, r2]\n  muls r7, r6\n  add r11, r7\n"                        \
    "  adds r2, r2, #1\n" next
// o1..o3: byte offsets of accumulators 1..3, o4: of the next block's first.
#define UF_MAC4_M0(name, o1, o2, o3, o4)                                          \
__asm__(                                                                          \
    UF_M0_BEGIN(name) UF_M0_SAVE \
    "  sub sp, #8\n" /* [sp]: -n, [sp+4]: 4*stride; stride, blocks at [sp+44], [sp+48] */ \
    "  mov lr, r3\n"               /* acc */                                      \
    "  ldr r7, [sp, #48]\n"                                                       \
    "  mov r12, r7\n"              /* blocks left */                              \
    "  rsbs r2, r2, #0\n"                                                         \
    "  str r2, [sp, #0]\n"                                                        \
    "  ldr r7, [sp, #44]\n"                                                       \
    "  lsls r6, r7, #2\n"                                                         \
    "  str r6, [sp, #4]\n"                                                        \
    "2:\n"                                                                        \
    "  ldr r7, [sp, #44]\n"                                                       \
    "  adds r3, r1, r7\n"          /* row 1 end */                                \
    "  adds r4, r3, r7\n"          /* row 2 end */                                \
    "  adds r5, r4, r7\n"          /* row 3 end */                                \
    "  movs r6, #0\n"                                                             \
    "  mov r8, r6\n  mov r9, r6\n  mov r10, r6\n  mov r11, r6\n"                   \
    "  ldr r2, [sp, #0]\n"         /* k = -n */                                   \
    "  lsls r6, r2, #31\n"  /* enter at step 1 + (-n mod 4): Z = !bit 0, C = bit 1 */ \
    "  bcc 7f\n"                                                                  \
    "  bne 4f\n"                                                                  \
    "  b 6f\n"                                                                    \
    "7:\n"                                                                        \
    "  bne 5f\n"                                                                  \
    "1:\n"                                                                        \
    UF_MAC4_M0_STEP("")                                                           \
    "5:\n"                                                                        \
    UF_MAC4_M0_STEP("")                                                           \
    "6:\n"                                                                        \
    UF_MAC4_M0_STEP("")                                                           \
    "4:\n"                                                                        \
    UF_MAC4_M0_STEP("  bne 1b\n")                                                 \
    "  mov r6, lr\n"                                                              \
    "  mov r7, r8\n  str r7, [r6, #0]\n"                                          \
    "  mov r7, r9\n  str r7, [r6, #" o1 "]\n"                                     \
    "  mov r7, r10\n  str r7, [r6, #" o2 "]\n"                                    \
    "  mov r7, r11\n  str r7, [r6, #" o3 "]\n"                                    \
    "  adds r6, #" o4 "\n"                                                        \
    "  mov lr, r6\n"                                                              \
    "  ldr r7, [sp, #4]\n"                                                        \
    "  adds r1, r1, r7\n"          /* the next block's row 0 end */               \
    "  mov r7, r12\n  subs r7, r7, #1\n  mov r12, r7\n"                           \
    "  bne 2b\n"                                                                  \
    "  add sp, #8\n"                                                              \
    UF_M0_RESTORE \
    UF_M0_END(name))
UF_MAC4_M0("uf_mac4_m0", "4", "8", "12", "16");
#if UF_M0_CONV_ASM
UF_MAC4_M0("uf_mac4t_m0", "20", "40", "60", "80");
#endif

// Two pixels by two rows per pass, the pixels packed in one word per input:
// X[k] = x0[k] - x1[k] * 2^16. One MULS by a weight then gives both pixels'
// products, and two inputs' worth sum to P = L + H * 2^16 with L (pixel 0's sum) in
// [-32512, 32768] and H (pixel 1's, negated) in [-32768, 32512] (|x*w| <= 16384,
// 16384 only for -128 * -128). (P + 32767) >> 16 is H exactly (L + 32767 is in
// [255, 65535]; the sum fits int32 even where P does not), so per row a pass adds H
// to one accumulator and the whole P to another, which ends as S0 - S1 * 2^16 (mod
// 2^32) with the H sum -S1: S0 = that + (S1 << 16), exact as S0 fits int32. For
// each of `pairs` row pairs b: t0[2b + i].acc and t1[2b + i].acc = sums over k < n (n
// even, > 0) of x0[k], x1[k] times w[(2b + i)*stride + k]; w_end = w + n. Per pass
// of 8 MACs: 27.5 cycles with a branch every four passes (mac4: 39;
// uf_mac2x2ph_m0: 26.5); a row pair's first pass sets the accumulators, the rest
// enter at the pass that leaves a multiple of four; about 40 cycles per row pair
// around them.
// The floor of this scheme on the M0+ (MULS 1, LDRSB 2 with no immediate offset, LDM
// 1 + N): per two MULS (4 MACs) one lane split (A += P, B += (P + c) >> 16: 4 ALU) and
// one combine, since a 16-bit lane holds only two int8 products' sum; each MULS needs
// a fresh weight (LDRSB 2 plus the shared index step, or half an LDRSH and one
// extraction op: 2; a word load and byte extraction costs the same) and the X words
// are shared by the rows held in registers (two rows: 4 accumulators and the constant
// fill r8-r12). That is 26.5-27.5 per 8 MACs, about 3.4 per MAC; unpacked it is MULS +
// ADD + a fresh operand (>= 3, with LDRSB weights >= 4).
// Weights sign-extended into RAM tables (LDM, 1.25 per word) would allow about 2.9,
// but a block's table is rows x in_c words: more than the board's stack holds.
void uf_mac2x2p_m0(const int32_t *X, const int8_t *w_end, int n, void *t0, int stride,
                   int pairs, void *t1);
// One pass: inputs k and k + 1 of the two rows; k += 2 sets the flags (op: add, or
// mov for a row pair's first pass, which sets the accumulators).
#define UF_MAC2X2P_M0_PASS(op)                                                        \
    "  ldm r0!, {r6, r7}\n"         /* X[k], X[k + 1] */                              \
    "  ldrsb r4, [r1, r2]\n  muls r4, r6\n"                                           \
    "  ldrsb r5, [r3, r2]\n  muls r5, r6\n"                                           \
    "  adds r2, #1\n"                                                                 \
    "  ldrsb r6, [r1, r2]\n  muls r6, r7\n  adds r4, r4, r6\n"                        \
    "  ldrsb r6, [r3, r2]\n  muls r6, r7\n  adds r5, r5, r6\n"                        \
    "  " op " r8, r4\n  add r4, r12\n  asrs r4, r4, #16\n  " op " r9, r4\n" /* row 0 */ \
    "  " op " r10, r5\n  add r5, r12\n  asrs r5, r5, #16\n  " op " r11, r5\n" /* row 1 */ \
    "  adds r2, #1\n"
// One row's sums from its accumulators (a: the P sum, h: the H sum) into t0 at r6 and
// t1 at r6 + r5.
#define UF_MAC2X2P_M0_OUT(a, h)                                                       \
    "  mov r4, " h "\n  negs r4, r4\n  lsls r7, r4, #16\n  add r7, " a "\n"                \
    "  str r7, [r6, #0]\n  str r4, [r6, r5]\n"
// The kernel around a pass (name: the symbol).
#define UF_MAC2X2P_M0(name, pass) \
__asm__( \
    UF_M0_BEGIN(name) UF_M0_SAVE                                                                     \
    "  sub sp, #12\n"  /* [sp]: -n, [sp+4]: X, [sp+8]: t0's end; stride, pairs, t1 at */             \
    /* [sp+48], [sp+52], [sp+56] (t1 becomes t1 - t0) */                                             \
    "  str r0, [sp, #4]\n"                                                                           \
    "  rsbs r2, r2, #0\n"                                                                            \
    "  str r2, [sp, #0]\n"                                                                           \
    "  mov lr, r3\n"  /* t0 */                                                                       \
    "  ldr r7, [sp, #52]\n  movs r6, #40\n  muls r7, r6\n  adds r7, r7, r3\n  str r7, [sp, #8]\n"    \
    "  ldr r7, [sp, #56]\n  subs r7, r7, r3\n  str r7, [sp, #56]\n"                                  \
    "  movs r7, #128\n  lsls r7, r7, #8\n  subs r7, #1\n  mov r12, r7\n"  /* 32767 */                \
    "  ldr r7, [sp, #48]\n"                                                                          \
    "2:\n"                                                                                           \
    "  adds r3, r1, r7\n"  /* row 1 end (r7: stride) */                                              \
    "  ldr r0, [sp, #4]\n"                                                                           \
    "  ldr r2, [sp, #0]\n"  /* k = -n */                                                             \
    pass("mov")                                                                                      \
    "  beq 3f\n"                                                                                     \
    "  lsls r6, r2, #30\n"  /* q = bits 1, 2 of -k (N, C): passes to skip of four */                 \
    "  bcs 7f\n"                                                                                     \
    "  bmi 4f\n"                                                                                     \
    "1:\n"                                                                                           \
    pass("add")                                                                                      \
    "4:\n"                                                                                           \
    pass("add")                                                                                      \
    "5:\n"                                                                                           \
    pass("add")                                                                                      \
    "6:\n"                                                                                           \
    pass("add")                                                                                      \
    "  bne 1b\n"                                                                                     \
    "3:\n"                                                                                           \
    "  mov r6, lr\n"                                                                                 \
    "  ldr r5, [sp, #56]\n"                                                                          \
    UF_MAC2X2P_M0_OUT("r8", "r9")                                                                    \
    "  adds r6, #20\n"                                                                               \
    UF_MAC2X2P_M0_OUT("r10", "r11")                                                                  \
    "  adds r6, #20\n  mov lr, r6\n"                                                                 \
    "  ldr r7, [sp, #48]\n  adds r1, r3, r7\n"  /* the next pair's row 0 end */                      \
    "  ldr r4, [sp, #8]\n  cmp r6, r4\n"                                                             \
    "  beq 8f\n  b 2b\n8:\n"  /* (2b: out of a conditional branch's reach) */                       \
    "  add sp, #12\n"                                                                                \
    UF_M0_RESTORE                                                                                    \
    "7:\n"                                                                                           \
    "  bmi 6b\n"  /* q = 3 */                                                                        \
    "  b 5b\n"  /* q = 2 */                                                                          \
    UF_M0_END(name))
// uf_mac2x2p_m0 with the weights in halfwords (w_end and stride even: LDRSH, which
// faults unaligned): one LDRSH brings both inputs' weights of a row (w[k] in the low
// byte), SXTB and ASRS split them, one index step per pass: 26.5 cycles per 8 MACs.
void uf_mac2x2ph_m0(const int32_t *X, const int8_t *w_end, int n, void *t0, int stride,
                    int pairs, void *t1);
#define UF_MAC2X2PH_M0_PASS(op)                                                       \
    "  ldm r0!, {r6, r7}\n"         /* X[k], X[k + 1] */                              \
    "  ldrsh r4, [r1, r2]\n  sxtb r5, r4\n  asrs r4, r4, #8\n"                        \
    "  muls r5, r6\n  muls r4, r7\n  adds r4, r4, r5\n"                               \
    "  " op " r8, r4\n  add r4, r12\n  asrs r4, r4, #16\n  " op " r9, r4\n" /* row 0 */ \
    "  ldrsh r5, [r3, r2]\n  sxtb r4, r5\n  asrs r5, r5, #8\n"                        \
    "  muls r4, r6\n  muls r5, r7\n  adds r5, r5, r4\n"                               \
    "  " op " r10, r5\n  add r5, r12\n  asrs r5, r5, #16\n  " op " r11, r5\n" /* row 1 */ \
    "  adds r2, #2\n"
#if UF_M0_CONV_ASM
UF_MAC2X2P_M0("uf_mac2x2p_m0", UF_MAC2X2P_M0_PASS);
UF_MAC2X2P_M0("uf_mac2x2ph_m0", UF_MAC2X2PH_M0_PASS);
#endif

// uf_mac2x2p_m0 with the weights sign-extended in a RAM table W (conv.c's conv1x1_tab_m0:
// per row pair, per input pair k, k + 1 the words w0[k], w0[k + 1], w1[k], w1[k + 1]), read by
// one LDM per pass with the two X words by another, both pointers walking: 22 cycles
// per 8 MACs (uf_mac2x2ph_m0: 26.5), two passes per loop test, the first pass setting
// the accumulators; n a multiple of 4 (> 0), t1 at t0 + t1off bytes; about 30 cycles
// per row pair around the passes.
void uf_mac2x2pt_m0(const int32_t *X, const int32_t *W, int n, void *t0, int pairs, int t1off);
// (op: add, or mov for a row pair's first pass, which sets the accumulators)
#define UF_MAC2X2PT_M0_PASS(op)                                                       \
    "  ldm r0!, {r2, r3}\n"         /* X[k], X[k + 1] */                              \
    "  ldm r1!, {r4, r5, r6, r7}\n" /* row 0's w[k], w[k + 1], row 1's */             \
    "  muls r4, r2\n  muls r5, r3\n  adds r4, r4, r5\n"                               \
    "  " op " r8, r4\n  add r4, r12\n  asrs r4, r4, #16\n  " op " r9, r4\n" /* row 0: P, H */ \
    "  muls r6, r2\n  muls r7, r3\n  adds r6, r6, r7\n"                               \
    "  " op " r10, r6\n  add r6, r12\n  asrs r6, r6, #16\n  " op " r11, r6\n" /* row 1 */
#if UF_M0_CONV_ASM
__asm__(
    UF_M0_BEGIN("uf_mac2x2pt_m0") UF_M0_SAVE
    "  sub sp, #12\n"  /* [sp]: X, [sp+4]: t0 (the row pair's), [sp+8]: t0's end; pairs, */
    /* t1off at [sp+48], [sp+52] */
    "  str r0, [sp, #0]\n"
    "  str r3, [sp, #4]\n"
    "  lsls r2, r2, #2\n  adds r2, r2, r0\n  mov lr, r2\n"  /* X's end */
    "  ldr r7, [sp, #48]\n  movs r6, #40\n  muls r7, r6\n  adds r7, r7, r3\n  str r7, [sp, #8]\n"
    "  movs r7, #128\n  lsls r7, r7, #8\n  subs r7, #1\n  mov r12, r7\n"  /* 32767 */
    "2:\n"
    UF_MAC2X2PT_M0_PASS("mov")
    UF_MAC2X2PT_M0_PASS("add")
    "  cmp r0, lr\n"
    "  beq 3f\n"
    "1:\n"
    UF_MAC2X2PT_M0_PASS("add")
    UF_MAC2X2PT_M0_PASS("add")
    "  cmp r0, lr\n"
    "  bne 1b\n"
    "3:\n"
    "  ldr r6, [sp, #4]\n"
    "  ldr r5, [sp, #52]\n"
    UF_MAC2X2P_M0_OUT("r8", "r9")
    "  adds r6, #20\n"
    UF_MAC2X2P_M0_OUT("r10", "r11")
    "  adds r6, #20\n  str r6, [sp, #4]\n"
    "  ldr r0, [sp, #0]\n"
    "  ldr r4, [sp, #8]\n  cmp r6, r4\n"
    "  bne 2b\n"
    "  add sp, #12\n"
    UF_M0_RESTORE
    UF_M0_END("uf_mac2x2pt_m0"));
#endif

// uf_mac2x2pt_m0 for n = 8, 16 and 32, the passes unrolled (no loop test), the row pair's
// t0 in lr and X rewound by an immediate: about 28 cycles per row pair around the passes
// (uf_mac2x2pt_m0: 35 at n = 8, 41 at 16, 53 at 32).
void uf_mac2x2pt8_m0(const int32_t *X, const int32_t *W, void *t0, int pairs, int t1off);
void uf_mac2x2pt16_m0(const int32_t *X, const int32_t *W, void *t0, int pairs, int t1off);
void uf_mac2x2pt32_m0(const int32_t *X, const int32_t *W, void *t0, int pairs, int t1off);
#define UF_MAC2X2PT_M0_4(op) \
    UF_MAC2X2PT_M0_PASS(op) UF_MAC2X2PT_M0_PASS("add") UF_MAC2X2PT_M0_PASS("add") UF_MAC2X2PT_M0_PASS("add")
// (name, the passes, X's bytes, the branch back to 2: for the loop over row pairs)
#define UF_MAC2X2PT_M0_FIXED(name, passes, xbytes, back)                                  \
__asm__(                                                                                  \
    UF_M0_BEGIN(name) UF_M0_SAVE                                                          \
    "  sub sp, #4\n"  /* [sp]: t0's end; t1off at [sp+40] */                              \
    "  mov lr, r2\n"                                                                      \
    "  movs r6, #40\n  muls r3, r6\n  adds r3, r3, r2\n  str r3, [sp, #0]\n"                \
    "  movs r7, #128\n  lsls r7, r7, #8\n  subs r7, #1\n  mov r12, r7\n"  /* 32767 */     \
    "2:\n"                                                                                \
    passes                                                                                \
    "  mov r6, lr\n"                                                                      \
    "  ldr r5, [sp, #40]\n"                                                               \
    UF_MAC2X2P_M0_OUT("r8", "r9")                                                         \
    "  adds r6, #20\n"                                                                    \
    UF_MAC2X2P_M0_OUT("r10", "r11")                                                       \
    "  adds r6, #20\n  mov lr, r6\n"                                                      \
    "  subs r0, #" xbytes "\n"                                                            \
    "  ldr r4, [sp, #0]\n  cmp r6, r4\n"                                                  \
    back                                                                                  \
    "  add sp, #4\n"                                                                      \
    UF_M0_RESTORE                                                                         \
    UF_M0_END(name))
#if UF_M0_CONV_ASM
UF_MAC2X2PT_M0_FIXED("uf_mac2x2pt8_m0", UF_MAC2X2PT_M0_4("mov"), "32", "  bne 2b\n");
UF_MAC2X2PT_M0_FIXED("uf_mac2x2pt16_m0", UF_MAC2X2PT_M0_4("mov") UF_MAC2X2PT_M0_4("add"), "64",
                     "  beq 8f\n  b 2b\n8:\n");
UF_MAC2X2PT_M0_FIXED("uf_mac2x2pt32_m0", UF_MAC2X2PT_M0_4("mov") UF_MAC2X2PT_M0_4("add")
                     UF_MAC2X2PT_M0_4("add") UF_MAC2X2PT_M0_4("add"), "128", "  beq 8f\n  b 2b\n8:\n");
#endif

// One pixel over conv1x1_tab_m0's fused table (uf_mac2x2pqn_m0's: per row pair its 2 n weight
// words, then its two rows' 8 entry words, which this skips): for each of `pairs` (even, > 0)
// row pairs b, t[2b].acc and t[2b + 1].acc (20-byte entries) = the sums over k < n (a multiple
// of 8, > 0) of X[k] (the pixel's inputs sign-extended, one a word) times the rows' weights.
// Two row pairs at once (a pointer each): per input pair one LDM of X, then per row an LDM of
// its two weight words, two MULS and two adds: 31 cycles per 8 MACs (uf_mac4t_m0 on the
// weights in place: 38), four input pairs per loop test, the first pass setting the sums;
// about 30 cycles per four rows around them.
void uf_mac1t_m0(const int32_t *X, const int32_t *W, int n, void *t, int pairs);
// (one row: its weight words at p, its sum in acc; op: add, or mov for the first pass)
#define UF_MAC1T_M0_ROW(p, op, acc)                                                   \
    "  ldm " p "!, {r5, r6}\n  muls r5, r3\n  muls r6, r4\n  adds r5, r5, r6\n  " op " " acc ", r5\n"
#define UF_MAC1T_M0_PASS(op)                                                          \
    "  ldm r0!, {r3, r4}\n"         /* X[k], X[k + 1] */                              \
    UF_MAC1T_M0_ROW("r1", op, "r8") UF_MAC1T_M0_ROW("r1", op, "r9")                   \
    UF_MAC1T_M0_ROW("r2", op, "r10") UF_MAC1T_M0_ROW("r2", op, "r11")
#if UF_M0_CONV_ASM
__asm__(
    UF_M0_BEGIN("uf_mac1t_m0") UF_M0_SAVE
    "  sub sp, #12\n"  /* [sp]: X, [sp+4]: t's end, [sp+8]: a row pair's bytes; pairs at [sp+48] */
    "  str r0, [sp, #0]\n"
    "  lsls r2, r2, #2\n  adds r4, r2, r0\n  mov lr, r4\n"  /* X's end */
    "  lsls r2, r2, #1\n  adds r2, #32\n  str r2, [sp, #8]\n"  /* 8 n + 32 */
    "  ldr r7, [sp, #48]\n  movs r6, #40\n  muls r7, r6\n  adds r7, r7, r3\n  str r7, [sp, #4]\n"
    "  mov r12, r3\n"
    "2:\n"
    "  ldr r2, [sp, #8]\n  adds r2, r2, r1\n"  /* the second row pair's words */
    UF_MAC1T_M0_PASS("mov") UF_MAC1T_M0_PASS("add") UF_MAC1T_M0_PASS("add") UF_MAC1T_M0_PASS("add")
    "  cmp r0, lr\n"
    "  beq 3f\n"
    "1:\n"
    UF_MAC1T_M0_PASS("add") UF_MAC1T_M0_PASS("add") UF_MAC1T_M0_PASS("add") UF_MAC1T_M0_PASS("add")
    "  cmp r0, lr\n"
    "  bne 1b\n"
    "3:\n"
    "  mov r3, r12\n"
    "  mov r4, r8\n  str r4, [r3, #0]\n  mov r4, r9\n  str r4, [r3, #20]\n"
    "  mov r4, r10\n  str r4, [r3, #40]\n  mov r4, r11\n  str r4, [r3, #60]\n"
    "  adds r3, #80\n  mov r12, r3\n"
    "  movs r1, r2\n  adds r1, #32\n"  /* past the second row pair's entries */
    "  ldr r0, [sp, #0]\n"
    "  ldr r4, [sp, #4]\n  cmp r3, r4\n"
    "  beq 8f\n  b 2b\n8:\n"
    "  add sp, #12\n"
    UF_M0_RESTORE
    UF_M0_END("uf_mac1t_m0"));
#endif

// uf_mac2x2pt_m0's table of n4 rows (n4 even, > 0; row r at w + r n, any alignment; n a
// multiple of 4, > 0) from W on: per row pair, per input pair k < n the words w0[k], w0[k + 1],
// w1[k], w1[k + 1]; with q (not NULL), each row pair's words followed by its rows' uf_rq_m0_t
// entries without .acc (4 words each, uf_mac2x2pq8_m0's table) and bit 8 of the last word set
// (the table's end). Rows at even addresses: one LDRSH per row and input pair (w[k] in its low
// byte; SXTB and ASRS split it), 3.625 cycles per word; else byte loads, 4; about 35 cycles
// per row pair around them.
void uf_tab2_m0(const int8_t *w, int n, int n4, int32_t *W, const void *q);
#define UF_TAB2_M0_PAIR                                                               \
    "  ldrsb r4, [r0, r2]\n  ldrsb r6, [r1, r2]\n  adds r2, #1\n"                      \
    "  ldrsb r5, [r0, r2]\n  ldrsb r7, [r1, r2]\n  adds r2, #1\n"                      \
    "  stm r3!, {r4, r5, r6, r7}\n"
#define UF_TAB2_M0_PAIRH                                                              \
    "  ldrsh r5, [r0, r2]\n  ldrsh r7, [r1, r2]\n"                                     \
    "  sxtb r4, r5\n  asrs r5, r5, #8\n  sxtb r6, r7\n  asrs r7, r7, #8\n"              \
    "  adds r2, #2\n  stm r3!, {r4, r5, r6, r7}\n"
#if UF_M0_CONV_ASM
__asm__(
    UF_M0_BEGIN("uf_tab2_m0") UF_M0_SAVE  /* q at [sp+36] */
    "  mov r8, r1\n"                       /* n */
    "  lsrs r2, r2, #1\n  mov r9, r2\n"    /* row pairs left */
    "  ldr r4, [sp, #36]\n  mov r10, r4\n" /* q */
    "  adds r0, r0, r1\n  adds r1, r1, r0\n"  /* the row pair's row ends */
    "1:\n"
    "  mov r2, r8\n  rsbs r2, r2, #0\n"
    "  lsls r4, r0, #31\n  bne 5f\n"      /* rows at odd addresses (n is even) */
    "  lsls r4, r2, #29\n  bmi 3f\n"      /* n = 4 mod 8: enter at the second half */
    "2:\n"
    UF_TAB2_M0_PAIRH UF_TAB2_M0_PAIRH
    "3:\n"
    UF_TAB2_M0_PAIRH UF_TAB2_M0_PAIRH   /* (STM keeps the flags of the last ADDS) */
    "  bne 2b\n"
    "  b 6f\n"
    "5:\n"
    UF_TAB2_M0_PAIR UF_TAB2_M0_PAIR
    "  bne 5b\n"
    "6:\n"
    "  mov r2, r10\n  cmp r2, #0\n  beq 7f\n"
    "  adds r2, #4\n  ldm r2!, {r4, r5, r6, r7}\n  stm r3!, {r4, r5, r6, r7}\n"  /* past .acc */
    "  adds r2, #4\n  ldm r2!, {r4, r5, r6, r7}\n  stm r3!, {r4, r5, r6, r7}\n"
    "  mov r10, r2\n"
    "7:\n"
    "  mov r2, r8\n  adds r0, r1, r2\n  adds r1, r0, r2\n"  /* the next row pair's */
    "  mov r4, r9\n  subs r4, #1\n  mov r9, r4\n"
    "  bne 1b\n"
    "  mov r2, r10\n  cmp r2, #0\n  beq 8f\n"
    "  subs r3, #4\n  ldr r4, [r3]\n  movs r5, #1\n  lsls r5, r5, #8\n  orrs r4, r5\n  str r4, [r3]\n"
    "8:\n"
    UF_M0_RESTORE
    UF_M0_END("uf_tab2_m0"));
#endif

// X[k] = x0[k] - x1[k] * 2^16 for k < n (n even, > 0): uf_mac2x2p_m0's inputs. Where
// both ends and n are multiples of four, one word load per pixel and four inputs (8.1
// cycles a word, eight inputs per loop test; the byte loads' 9.5): X[k] from byte k of each, bytes 1 and 2 as bytes 0
// and 3 after REV16; x1[k] * 2^16 as (byte << 24) >> 8 or (byte 3 >> 24) << 16.
void uf_pack2_m0(const int8_t *x0_end, const int8_t *x1_end, int32_t *X, int n);
#define UF_PACK2_M0_LO(o) /* from bytes 0 */                                             \
    "  sxtb r6, r4\n  lsls r7, r5, #24\n  asrs r7, r7, #8\n  subs r6, r6, r7\n  str r6, [r2, #" o "]\n"
#define UF_PACK2_M0_HI(o) /* from bytes 3 */                                             \
    "  asrs r6, r4, #24\n  asrs r7, r5, #24\n  lsls r7, r7, #16\n  subs r6, r6, r7\n  str r6, [r2, #" o "]\n"
#if UF_M0_CONV_ASM
__asm__(
    UF_M0_BEGIN("uf_pack2_m0")
    "  push {r4, r5, r6, r7, lr}\n"
    "  rsbs r3, r3, #0\n"
    "  movs r4, r0\n  orrs r4, r1\n  orrs r4, r3\n  lsls r4, r4, #30\n"
    "  bne 1f\n"
    "  lsls r4, r3, #29\n  bpl 2f\n"  /* n = 4 mod 8: enter at the second half */
    "  subs r2, #16\n  b 3f\n"
    "2:\n"
    "  ldr r4, [r0, r3]\n  ldr r5, [r1, r3]\n"
    UF_PACK2_M0_LO("0") UF_PACK2_M0_HI("12")
    "  rev16 r4, r4\n  rev16 r5, r5\n"
    UF_PACK2_M0_LO("4") UF_PACK2_M0_HI("8")
    "  adds r3, #4\n"
    "3:\n"
    "  ldr r4, [r0, r3]\n  ldr r5, [r1, r3]\n"
    UF_PACK2_M0_LO("16") UF_PACK2_M0_HI("28")
    "  rev16 r4, r4\n  rev16 r5, r5\n"
    UF_PACK2_M0_LO("20") UF_PACK2_M0_HI("24")
    "  adds r2, #32\n"
    "  adds r3, #4\n"
    "  bne 2b\n"
    "  pop {r4, r5, r6, r7, pc}\n"
    "1:\n"
    "  ldrsb r4, [r0, r3]\n  ldrsb r5, [r1, r3]\n  lsls r5, r5, #16\n  subs r4, r4, r5\n"
    "  adds r3, #1\n"
    "  ldrsb r5, [r0, r3]\n  ldrsb r6, [r1, r3]\n  lsls r6, r6, #16\n  subs r5, r5, r6\n"
    "  stm r2!, {r4, r5}\n"
    "  adds r3, #1\n"
    "  bne 1b\n"
    "  pop {r4, r5, r6, r7, pc}\n"
    UF_M0_END("uf_pack2_m0"));
#endif

#endif   // (UF_MAC_M0, resumed below; the table type and uf_rq1_m0_entry also serve RV32)

#if UF_MAC_M0 || defined(__riscv)
// Requantization of one output channel for uf_rq_m0, with its accumulator (which
// the MAC kernels store here): mult2 = twice TFLM's multiplier (which is >= 0:
// TFLM's scales are positive), half = the rounding constant 2^(right - 1) (0 when
// right is 0), shifts = right | left << 8 | (right == 0) << 16 for TFLM's shift
// (left = shift > 0 ? shift : 0, right = -shift otherwise). uf_rq_m0 reads the
// fields in this order (20 bytes each). uf_rq1_m0's table (uf_rq_m0_prepare's ok == 2:
// every channel with a right shift r in 1..13, a multiplier m >= 2^30 and act_min >=
// out_off) differs: bias = F, the sum below which the output is act_min (the window's
// origin xs minus the bias), mult2 = m, half = C, shifts = 15 + r (uf_rq1_m0_entry).
typedef struct {
    int32_t acc, bias;
    uint32_t mult2;
    int32_t half, shifts;
} uf_rq_m0_t;
#endif

#if UF_MAC_M0

// out[j] = requantized t[j].acc + t[j].bias, clamped, for j < n (n > 0);
// lim = {out_off, act_min, act_max}. Per channel: uf_requant_v with the
// rounding divide written as (q - (q < 0) + half) >> right (TFLM's ties away
// from zero; if the sum passes INT32_MAX the unsigned sum shifts right), the
// doubling high multiply from the 64-bit x * 2m (exact for every x and 0 <= m <
// 2^31; uf_rq_m0_prepare refuses a negative multiplier): 49 cycles per output.
//
// uf_rq1_m0 (its own table, above): TFLM's two roundings fold into one floor,
// v = floor((x m + K - [x < 0] 2^31) / D) with K = 2^30 + 2^(30+r), D = 2^(31+r) (as
// uf_rq_out's comment derives), and with lo = act_min - out_off the output is act_min +
// min(u, act_max - act_min) for u = floor((x m + K - lo D) / D) when that is >= 0, else
// act_min. xs is the smallest x with x m + K - lo D >= 0, so for y = x - xs = acc - F
// the numerator is y m + C with C in [0, m): y < 0 gives act_min with no multiply, and
// for 0 <= y < 2^15 two MULS give it exactly, split at bit 16 (m = mh 2^16 + ml):
// u = (y mh + ((y ml + C) >> 16)) >> (15 + r), the sum below 2^32 (y ml < 2^31, C <
// 2^31). Sums past 2^15 take four MULS (the 64-bit y m + C; u = its high word >> (r -
// 1)). x < 0 inside the window (xs < 0) would need the -2^31: with lo >= 0 the formula
// gives u <= 0 there anyway (x m + K - lo D <= K - m < D at x = -1). 25 cycles per
// output, 13 below xs (uf_rq_m0: 49), four outputs per loop pass.
void uf_rq_m0(const uf_rq_m0_t *t, int8_t *out, int n, const int32_t *lim);
void uf_rq1_m0(const uf_rq_m0_t *t, int8_t *out, int n, const int32_t *lim);
// x << left (a register shift reads bits 0..7)
#define UF_RQ_M0_LEFT "  ldr r3, [r1, #4]\n  lsrs r3, r3, #8\n  lsls r2, r3\n"
// q - (q < 0), or q where right == 0 (a register shift by 32 gives 0); q > INT32_MIN
#define UF_RQ_M0_NEG "  lsrs r5, r3, #16\n  lsrs r6, r4, #31\n  lsrs r6, r5\n  subs r4, r4, r6\n"
#define UF_RQ_M0(name, left, neg)                                                       \
__asm__(                                                                                \
    UF_M0_BEGIN(name) UF_M0_SAVE                                                        \
    "  ldr r4, [r3, #0]\n  mov r9, r4\n"    /* out_off */                               \
    "  ldr r4, [r3, #4]\n  mov r10, r4\n"   /* act_min */                               \
    "  ldr r4, [r3, #8]\n  mov r11, r4\n"   /* act_max */                               \
    "  adds r2, r1, r2\n  mov r12, r2\n"    /* out end */                               \
    "  movs r4, r0\n  movs r0, r1\n  movs r1, r4\n"   /* r0: out, r1: table */          \
    "1:\n"                                                                              \
    "  ldm r1!, {r2, r3, r4}\n"             /* acc, bias, 2m */                         \
    "  adds r2, r2, r3\n" left                                                          \
    /* x * 2m as H:L = r4:r6 from 16x16 partial products: x = ah:al (ah signed), */    \
    /* 2m = mh:ml (both unsigned); |ah*mh| < 2^31, al*ml and al*mh fit unsigned, */    \
    /* |ah*ml| < 2^31. Then q = floor((x*2m + 2^31) / 2^32) = H + bit 31 of L. */      \
    "  uxth r3, r2\n  asrs r2, r2, #16\n"                                               \
    "  uxth r5, r4\n  lsrs r4, r4, #16\n"                                               \
    "  movs r6, r3\n  muls r6, r5\n"        /* al*ml */                                 \
    "  muls r5, r2\n"                       /* ah*ml (signed) */                        \
    "  muls r3, r4\n"                       /* al*mh (unsigned) */                      \
    "  muls r4, r2\n"                       /* ah*mh (signed) */                        \
    "  lsls r7, r5, #16\n  asrs r5, r5, #16\n  adds r6, r6, r7\n  adcs r4, r5\n"         \
    "  lsls r7, r3, #16\n  lsrs r3, r3, #16\n  adds r6, r6, r7\n  adcs r4, r3\n"         \
    "  lsrs r6, r6, #31\n  adds r4, r4, r6\n"   /* q */                                 \
    "  ldm r1!, {r2, r3}\n"                 /* half, shifts */                          \
    neg                                                                                 \
    "  adds r4, r4, r2\n"                                                               \
    "  bvs 3f\n"                                                                        \
    "  asrs r4, r3\n"                                                                   \
    "2:\n"                                                                              \
    "  add r4, r9\n"                                                                    \
    "  cmp r4, r10\n"                                                                   \
    "  blt 4f\n"                                                                        \
    "  cmp r4, r11\n"                                                                   \
    "  bgt 5f\n"                                                                        \
    "6:\n"                                                                              \
    "  strb r4, [r0]\n"                                                                 \
    "  adds r0, #1\n"                                                                   \
    "  cmp r0, r12\n"                                                                   \
    "  bne 1b\n"                                                                        \
    UF_M0_RESTORE                                                                       \
    "3:\n"                                                                              \
    "  lsrs r4, r3\n"                                                                   \
    "  b 2b\n"                                                                          \
    "4:\n"                                                                              \
    "  mov r4, r10\n"                                                                   \
    "  b 6b\n"                                                                          \
    "5:\n"                                                                              \
    "  mov r4, r11\n"                                                                   \
    "  b 6b\n"                                                                          \
    UF_M0_END(name))
#if UF_M0_CONV_ASM
UF_RQ_M0("uf_rq_m0", UF_RQ_M0_LEFT, UF_RQ_M0_NEG);
// uf_rq1_m0, four outputs per loop pass (out[k] at labels with prefix k + 1; r0 steps
// by 4, n mod 4 enters at the output that leaves a multiple of four with r0 that many
// bytes back), r12 = the outputs' end, r9 = act_min, r10 = act_max - act_min (unsigned
// compare: u is >= 0), r11 = act_max.
// One output: sum and origin, below it act_min (x7: then on at next), past 2^15 the
// 64-bit path (x9), else two MULS; clamp (x5: act_max), store at r0 + pos.
#define UF_RQ1_M0_ONE(l, pos)                                                           \
    "  ldm r1!, {r2, r3}\n"                 /* acc, F */                                \
    "  subs r2, r2, r3\n"                   /* y (unsigned from here: acc >= F) */      \
    "  blt " l "7f\n"                                                                   \
    "  ldm r1!, {r4, r5, r6}\n"             /* m, C, 15 + r */                          \
    "  lsrs r3, r2, #15\n"                                                              \
    "  bne " l "9f\n"                                                                   \
    "  uxth r3, r4\n  lsrs r4, r4, #16\n"   /* ml, mh */                                \
    "  muls r3, r2\n  muls r4, r2\n"                                                    \
    "  adds r3, r3, r5\n  lsrs r3, r3, #16\n  adds r4, r4, r3\n"                        \
    "  lsrs r4, r6\n"                       /* u */                                     \
    l "2:\n"                                                                            \
    "  cmp r4, r10\n"                                                                   \
    "  bhi " l "5f\n"                                                                   \
    "  add r4, r9\n"                                                                    \
    l "6:\n"                                                                            \
    "  strb r4, [r0, #" pos "]\n"
// Its side paths: below the origin (act_min, then on at next), act_max, and y >= 2^15:
// the 64-bit y m + C from 16x16 partial products (y = yh:yl, m = mh:ml, all unsigned;
// yh mh < 2^31, the others < 2^32), u = its high word >> (r - 1).
#define UF_RQ1_M0_SIDE(l, pos, next)                                                    \
    l "7:\n"                                                                            \
    "  adds r1, #12\n"                                                                  \
    "  mov r4, r9\n"                                                                    \
    "  strb r4, [r0, #" pos "]\n"                                                       \
    "  b " next "\n"                                                                    \
    l "5:\n"                                                                            \
    "  mov r4, r11\n"                                                                   \
    "  b " l "6b\n"                                                                     \
    l "9:\n"                                                                            \
    "  mov r8, r6\n"                                                                    \
    "  uxth r3, r2\n  lsrs r2, r2, #16\n"                                               \
    "  uxth r7, r4\n  lsrs r4, r4, #16\n"                                               \
    "  movs r6, r3\n  muls r6, r7\n"        /* yl ml */                                 \
    "  muls r7, r2\n"                       /* yh ml */                                 \
    "  muls r3, r4\n"                       /* yl mh */                                 \
    "  muls r4, r2\n"                       /* yh mh */                                 \
    "  adds r6, r6, r5\n  movs r5, #0\n  adcs r4, r5\n"   /* (MOVS keeps C) */          \
    "  lsls r5, r7, #16\n  lsrs r7, r7, #16\n  adds r6, r6, r5\n  adcs r4, r7\n"         \
    "  lsls r5, r3, #16\n  lsrs r3, r3, #16\n  adds r6, r6, r5\n  adcs r4, r3\n"         \
    "  mov r6, r8\n  subs r6, #16\n  lsrs r4, r6\n"                                      \
    "  b " l "2b\n"
__asm__(
    UF_M0_BEGIN("uf_rq1_m0") UF_M0_SAVE
    "  ldr r4, [r3, #4]\n  mov r9, r4\n"    // act_min
    "  ldr r5, [r3, #8]\n  mov r11, r5\n"   // act_max
    "  subs r5, r5, r4\n  mov r10, r5\n"    // act_max - act_min
    "  adds r3, r1, r2\n  mov r12, r3\n"    // the outputs' end
    "  movs r3, r0\n  movs r0, r1\n  movs r1, r3\n"   // r0: out, r1: table
    "  lsls r3, r2, #31\n"                  // Z = !bit 0 of n, C = bit 1
    "  bcc 60f\n"
    "  bne 61f\n"                           // n mod 4 = 3: from out[1]
    "  subs r0, #2\n"                       // 2: from out[2]
    "  b 52f\n"
    "60:\n"
    "  beq 50f\n"                           // 0
    "  subs r0, #3\n"                       // 1: from out[3]
    "  b 53f\n"
    "61:\n"
    "  subs r0, #1\n"
    "  b 51f\n"
    "50:\n"
    UF_RQ1_M0_ONE("1", "0")
    "51:\n"
    UF_RQ1_M0_ONE("2", "1")
    "52:\n"
    UF_RQ1_M0_ONE("3", "2")
    "53:\n"
    UF_RQ1_M0_ONE("4", "3")
    "54:\n"
    "  adds r0, #4\n"
    "  cmp r0, r12\n"
    "  bne 50b\n"
    UF_M0_RESTORE
    UF_RQ1_M0_SIDE("1", "0", "51b")
    UF_RQ1_M0_SIDE("2", "1", "52b")
    UF_RQ1_M0_SIDE("3", "2", "53b")
    UF_RQ1_M0_SIDE("4", "3", "54b")
    UF_M0_END("uf_rq1_m0"));

#endif

// Depthwise, blocks of four contiguous channels over a window of taps:
// g = {blocks, rows, cols, x_col, w_col, x_row, w_row, init} (steps in bytes; x_row and
// w_row from a row's first tap to the next row's; init: an int32_t * as int32, read by
// every kernel, used by the _INIT ones below). For block b and j < 4,
// the .acc of uf_rq_m0_t entry 4b + j (acc: entry 0's) = init[4b + j] + the sum over
// the taps of x[4b + j] * w[4b + j] (uf_dw4_m0), or of x[0] * w[4b + j] (uf_dw4x1_m0:
// one input channel, x not advancing per block); uf_dw4x1a_m0 / aw add to the .acc.
// One call per pixel: the call's register saving is paid once for every
// channel and tap.
void uf_dw4_m0(const int8_t *x, const int8_t *w, int32_t *acc, const int32_t *g);
void uf_dw4x1_m0(const int8_t *x, const int8_t *w, int32_t *acc, const int32_t *g);
void uf_dw4x1a_m0(const int8_t *x, const int8_t *w, int32_t *acc, const int32_t *g);
void uf_dw4w_m0(const int8_t *x, const int8_t *w, int32_t *acc, const int32_t *g);
void uf_dw4x1w_m0(const int8_t *x, const int8_t *w, int32_t *acc, const int32_t *g);
void uf_dw4x1aw_m0(const int8_t *x, const int8_t *w, int32_t *acc, const int32_t *g);
// A block's accumulators start (_LOAD) at the table's values (r2: acc), or (_INIT) at
// the next four of init's (a padded window's: its padded taps' share of the sum).
#define UF_DW4_M0_INIT                                                                        \
    "  ldr r2, [sp, #20]\n  ldm r2!, {r4, r5, r6, r7}\n  str r2, [sp, #20]\n"                \
    "  mov r8, r4\n  mov r9, r5\n  mov r10, r6\n  mov r11, r7\n"
#define UF_DW4_M0_LOAD                                                                        \
    "  ldr r2, [sp, #8]\n"                                                                    \
    "  ldr r4, [r2, #0]\n  mov r8, r4\n  ldr r4, [r2, #20]\n  mov r9, r4\n"                   \
    "  ldr r4, [r2, #40]\n  mov r10, r4\n  ldr r4, [r2, #60]\n  mov r11, r4\n"
#define UF_DW4_M0(name, tap, x_step, init)                                                     \
    UF_DW4_M0_COLS(name, "1:\n" tap "  add r0, r12\n  adds r1, r1, r4\n  subs r2, r2, #1\n  bne 1b\n", \
                   x_step, init, "  bne 3b\n", "  bne 2b\n")
// The frame: blocks of four channels, rows of the window; cols: a row's taps.
#define UF_DW4_M0_COLS(name, cols, x_step, init, next_row, next_block)                          \
    __asm__(                                                                                  \
        UF_M0_BEGIN(name) UF_M0_SAVE \
        "  sub sp, #24\n" /* [sp]: block's x, [sp+4]: its w, [sp+8]: acc, [sp+12]: rows, */  \
                          /* [sp+16]: blocks left, [sp+20]: g[7] (_INIT) */                   \
        "  mov lr, r3\n"  /* g */                                                             \
        "  str r2, [sp, #8]\n"                                                                \
        "  ldr r4, [r3, #0]\n"                                                                \
        "  str r4, [sp, #16]\n"                                                               \
        "  ldr r4, [r3, #28]\n"                                                               \
        "  str r4, [sp, #20]\n"                                                               \
        "2:\n"                                                                                \
        "  str r0, [sp, #0]\n"                                                                \
        "  str r1, [sp, #4]\n" init                                                           \
        "  mov r3, lr\n"                                                                      \
        "  ldr r4, [r3, #4]\n"                                                                \
        "  str r4, [sp, #12]\n"                                                               \
        "3:\n"                                                                                \
        "  mov r3, lr\n"                                                                      \
        "  ldr r2, [r3, #8]\n"  /* cols */                                                    \
        "  ldr r4, [r3, #16]\n" /* w_col */                                                   \
        "  ldr r3, [r3, #12]\n" /* x_col */                                                   \
        "  mov r12, r3\n"                                                                     \
        cols                                                                                  \
        "  mov r3, lr\n"                                                                      \
        "  ldr r4, [r3, #20]\n  adds r0, r0, r4\n"                                            \
        "  ldr r4, [r3, #24]\n  adds r1, r1, r4\n"                                            \
        "  ldr r4, [sp, #12]\n  subs r4, r4, #1\n  str r4, [sp, #12]\n"                       \
        next_row                                                                              \
        "  ldr r2, [sp, #8]\n"                                                                \
        "  mov r4, r8\n  str r4, [r2, #0]\n"                                                  \
        "  mov r4, r9\n  str r4, [r2, #20]\n"                                                 \
        "  mov r4, r10\n  str r4, [r2, #40]\n"                                                \
        "  mov r4, r11\n  str r4, [r2, #60]\n"                                                \
        "  adds r2, #80\n"                                                                    \
        "  str r2, [sp, #8]\n"                                                                \
        "  ldr r0, [sp, #0]\n  adds r0, #" x_step "\n"                                        \
        "  ldr r1, [sp, #4]\n  adds r1, #4\n"                                                 \
        "  ldr r4, [sp, #16]\n  subs r4, r4, #1\n  str r4, [sp, #16]\n"                       \
        next_block                                                                            \
        "  add sp, #24\n"                                                                     \
        UF_M0_RESTORE \
        UF_M0_END(name))
// A tap's four channels, channel k into accumulator r8 + k: lane(k, acc, x), where
// x(k) brings channel k's input value (UF_DW4_M0_X1: one value serves the four).
#define UF_DW4_M0_LANES(lane, x) lane(0, "r8", x) lane(1, "r9", x) lane(2, "r10", x) lane(3, "r11", x)
#define UF_DW4_M0_X1(k)
// Byte loads (LDRSB): weight k at r1 + r5 (r5 = k) times the input value in r6.
#define UF_DW4_M0_BYTE(k, acc, x) UF_DW4_M0_NEXT##k x(k) "  ldrsb r7, [r1, r5]\n  muls r7, r6\n  add " acc ", r7\n"
#define UF_DW4_M0_NEXT0
#define UF_DW4_M0_NEXT1 "  adds r5, #1\n"
#define UF_DW4_M0_NEXT2 UF_DW4_M0_NEXT1
#define UF_DW4_M0_NEXT3 UF_DW4_M0_NEXT1
#define UF_DW4_M0_XBYTE(k) "  ldrsb r6, [r0, r5]\n"
// Word loads (one LDR for four bytes): weight k is byte k of r7, sign-extended by
// shifts (ARMv6-M's SXTB takes only byte 0), times the input value in r5.
#define UF_DW4_M0_WORD(k, acc, x) x(k) UF_M0_SXB##k("r3", "r7") "  muls r3, r5\n  add " acc ", r3\n"
#define UF_DW4_M0_XWORD(k) UF_M0_SXB##k("r5", "r6")
// The word lanes in the order 0, 3, 1, 2: bytes 1 and 2 as bytes 0 and 3 after REV16 of
// the weights (and of the inputs: rev), one instruction for the two.
#define UF_DW4_M0_WLANES(x, rev)                                                              \
    UF_DW4_M0_WORD(0, "r8", x) UF_DW4_M0_WORD(3, "r11", x) rev "  rev16 r7, r7\n"             \
    UF_DW4_M0_WORD(0, "r9", x) UF_DW4_M0_WORD(3, "r10", x)
#define UF_M0_SXB0(d, s) "  sxtb " d ", " s "\n"
#define UF_M0_SXB1(d, s) "  lsls " d ", " s ", #16\n  asrs " d ", " d ", #24\n"
#define UF_M0_SXB2(d, s) "  lsls " d ", " s ", #8\n  asrs " d ", " d ", #24\n"
#define UF_M0_SXB3(d, s) "  asrs " d ", " s ", #24\n"
// x and w bytes at index r5 = 0..3.
#if UF_M0_CONV_ASM
UF_DW4_M0("uf_dw4_m0", "  movs r5, #0\n" UF_DW4_M0_LANES(UF_DW4_M0_BYTE, UF_DW4_M0_XBYTE), "4", UF_DW4_M0_INIT);
// The same with x and w word-aligned (every address and step a multiple of four):
// one LDR each for the four channels (27 cycles per tap and four channels, LDRSB: 34).
UF_DW4_M0("uf_dw4w_m0", "  ldr r6, [r0]\n  ldr r7, [r1]\n" UF_DW4_M0_WLANES(UF_DW4_M0_XWORD, "  rev16 r6, r6\n"),
          "4", UF_DW4_M0_INIT);
// One input value for the four channels (a one-channel input); _a: adding to the
// accumulators already there (the padded taps: x at one byte holding the input's
// zero point, x_col = x_row = 0); _w: the weights word-aligned (w and its steps).
#define UF_DW4X1_M0_TAP "  movs r5, #0\n  ldrsb r6, [r0, r5]\n" UF_DW4_M0_LANES(UF_DW4_M0_BYTE, UF_DW4_M0_X1)
#define UF_DW4X1W_M0_TAP "  movs r5, #0\n  ldrsb r5, [r0, r5]\n  ldr r7, [r1]\n" \
    UF_DW4_M0_WLANES(UF_DW4_M0_X1, "")
UF_DW4_M0("uf_dw4x1_m0", UF_DW4X1_M0_TAP, "0", UF_DW4_M0_INIT);
UF_DW4_M0("uf_dw4x1a_m0", UF_DW4X1_M0_TAP, "0", UF_DW4_M0_LOAD);
UF_DW4_M0("uf_dw4x1w_m0", UF_DW4X1W_M0_TAP, "0", UF_DW4_M0_INIT);
UF_DW4_M0("uf_dw4x1aw_m0", UF_DW4X1W_M0_TAP, "0", UF_DW4_M0_LOAD);
// uf_dw4x1w_m0 for windows of eight columns (micro_speech's 10x8 filter), the row
// unrolled, the input byte's index in r6 (= 0): 19 cycles per tap, the loop's 23.
void uf_dw4x1w8_m0(const int8_t *x, const int8_t *w, int32_t *acc, const int32_t *g);
#define UF_DW4X1W8_M0_TAP                                                                     \
    "  ldrsb r5, [r0, r6]\n  ldr r7, [r1]\n" UF_DW4_M0_WLANES(UF_DW4_M0_X1, "")      \
    "  add r0, r12\n  adds r1, r1, r4\n"
#define UF_DW4X1W8_M0_TAP2 UF_DW4X1W8_M0_TAP UF_DW4X1W8_M0_TAP
UF_DW4_M0_COLS("uf_dw4x1w8_m0", UF_DW4X1W8_M0_TAP2 UF_DW4X1W8_M0_TAP2 UF_DW4X1W8_M0_TAP2 UF_DW4X1W8_M0_TAP2,
               "0", UF_DW4_M0_INIT "  movs r6, #0\n",
               "  beq 4f\n  b 3b\n4:\n", "  beq 5f\n  b 2b\n5:\n");
// The same windows (all eight columns of a filter eight wide, one input channel, x_col 1)
// from a table of channel pairs: W[block][tap][pair] = w[c] - w[c + 1] * 2^16 for the
// block's pairs (c = 4b, 4b + 2), so one MULS by an input value gives both channels'
// products, and two taps' sum P = L + G 2^16 has L (channel c's) in [-32512, 32768] and
// G (channel c + 1's, negated) in [-32768, 32512] (|x w| <= 16384): G = (P + 32767) >> 16
// exactly (uf_mac2x2p_m0's lanes), summed apart, and P summed whole, which ends as
// S = A - (sum of G) 2^16 mod 2^32 for channel c's sum A (fits int32: exact); the start
// is cor's four as S = a - b 2^16, G = -b. 25 cycles per two taps and four channels
// (uf_dw4x1w8_m0: 38). g = {blocks, rows, x_row (a row's first tap to the next's), -,
// cor, the table's bytes per block}; W at block 0's first valid row.
void uf_dw4x1p8_m0(const int8_t *x, const int32_t *W, int32_t *acc, const int32_t *g);
#define UF_DW4X1P8_M0_PAIR(k0, k1)                                                            \
    "  ldrb r6, [r0, #" k0 "]\n  ldrb r7, [r0, #" k1 "]\n  sxtb r6, r6\n  sxtb r7, r7\n"      \
    "  ldm r1!, {r2, r3, r4, r5}\n"                                                           \
    "  muls r2, r6\n  muls r4, r7\n  adds r2, r2, r4\n"   /* pair 0's P */                    \
    "  muls r3, r6\n  muls r5, r7\n  adds r3, r3, r5\n"   /* pair 1's */                      \
    "  add r8, r2\n  add r2, r12\n  asrs r2, r2, #16\n  add r10, r2\n"                        \
    "  add r9, r3\n  add r3, r12\n  asrs r3, r3, #16\n  add r11, r3\n"
// S - G 2^16 and -G: the pair's two sums into acc at r2 + o0 and r2 + o1.
#define UF_DW4X1P8_M0_OUT(s, gg, o0, o1)                                                      \
    "  mov r3, " gg "\n  lsls r4, r3, #16\n  mov r5, " s "\n  subs r5, r5, r4\n"              \
    "  str r5, [r2, #" o0 "]\n  negs r3, r3\n  str r3, [r2, #" o1 "]\n"
#if UF_M0_CONV_ASM
__asm__(
    UF_M0_BEGIN("uf_dw4x1p8_m0") UF_M0_SAVE
    "  sub sp, #28\n"   // [sp]: x, [sp+4]: the block's W, [sp+8]: acc, [sp+12]: blocks left,
                        // [sp+16]: rows left, [sp+20]: cor, [sp+24]: g
    "  str r0, [sp, #0]\n  str r1, [sp, #4]\n  str r2, [sp, #8]\n  str r3, [sp, #24]\n"
    "  ldr r4, [r3, #0]\n  str r4, [sp, #12]\n"
    "  ldr r4, [r3, #16]\n  str r4, [sp, #20]\n"
    "  ldr r4, [r3, #8]\n  mov lr, r4\n"            // x_row
    "  movs r4, #128\n  lsls r4, r4, #8\n  subs r4, #1\n  mov r12, r4\n"   // 32767
    "2:\n"                                          // a block: S, G from cor
    "  ldr r2, [sp, #20]\n  ldm r2!, {r4, r5, r6, r7}\n  str r2, [sp, #20]\n"
    "  lsls r3, r5, #16\n  subs r4, r4, r3\n  mov r8, r4\n  negs r5, r5\n  mov r10, r5\n"
    "  lsls r3, r7, #16\n  subs r6, r6, r3\n  mov r9, r6\n  negs r7, r7\n  mov r11, r7\n"
    "  ldr r3, [sp, #24]\n  ldr r4, [r3, #4]\n  str r4, [sp, #16]\n"
    "  ldr r0, [sp, #0]\n  ldr r1, [sp, #4]\n"
    "3:\n"                                          // a row of eight taps
    UF_DW4X1P8_M0_PAIR("0", "1") UF_DW4X1P8_M0_PAIR("2", "3")
    UF_DW4X1P8_M0_PAIR("4", "5") UF_DW4X1P8_M0_PAIR("6", "7")
    "  add r0, lr\n"
    "  ldr r4, [sp, #16]\n  subs r4, r4, #1\n  str r4, [sp, #16]\n"
    "  bne 3b\n"
    "  ldr r2, [sp, #8]\n"
    UF_DW4X1P8_M0_OUT("r8", "r10", "0", "20") UF_DW4X1P8_M0_OUT("r9", "r11", "40", "60")
    "  adds r2, #80\n  str r2, [sp, #8]\n"
    "  ldr r3, [sp, #24]\n  ldr r4, [r3, #20]\n  ldr r1, [sp, #4]\n  adds r1, r1, r4\n  str r1, [sp, #4]\n"
    "  ldr r4, [sp, #12]\n  subs r4, r4, #1\n  str r4, [sp, #12]\n"
    "  beq 9f\n  b 2b\n9:\n"
    "  add sp, #28\n"
    UF_M0_RESTORE
    UF_M0_END("uf_dw4x1p8_m0"));
#endif

// Windows of 2x3, 3x2 and 2x2 taps (rows x cols: the 3x3 filters' border pixels) and
// 3x3 with one input channel, unrolled: no loop counters and the steps held in registers
// (x_col in r12, w_col in r4, x_row in r2, w_row in lr), 24 cycles per tap of word
// loads and four channels against the loop's 27 plus its row overheads. Same
// arguments as uf_dw4w_m0 / uf_dw4x1w_m0 (g's rows and cols as the name says);
// accumulators start at init (uf_dw4x1w33_m0: at zero, a window without padding).
void uf_dw4w23_m0(const int8_t *x, const int8_t *w, int32_t *acc, const int32_t *g);
void uf_dw4w32_m0(const int8_t *x, const int8_t *w, int32_t *acc, const int32_t *g);
void uf_dw4w22_m0(const int8_t *x, const int8_t *w, int32_t *acc, const int32_t *g);
void uf_dw4x1w33_m0(const int8_t *x, const int8_t *w, int32_t *acc, const int32_t *g);
#define UF_DWU_M0_NEXT_COL "  add r0, r12\n  adds r1, r1, r4\n"
#define UF_DWU_M0_NEXT_ROW "  add r0, r12\n  adds r0, r0, r2\n  adds r1, r1, r4\n  add r1, lr\n"
#define UF_DWU_M0_ROW3(tap, next) tap UF_DWU_M0_NEXT_COL tap UF_DWU_M0_NEXT_COL tap next
#define UF_DWU_M0_ROW2(tap, next) tap UF_DWU_M0_NEXT_COL tap next
#define UF_DWU_M0_33(tap)                                                                      \
    UF_DWU_M0_ROW3(tap, UF_DWU_M0_NEXT_ROW) UF_DWU_M0_ROW3(tap, UF_DWU_M0_NEXT_ROW) UF_DWU_M0_ROW3(tap, "")
#define UF_DWU_M0_23(tap) UF_DWU_M0_ROW3(tap, UF_DWU_M0_NEXT_ROW) UF_DWU_M0_ROW3(tap, "")
#define UF_DWU_M0_32(tap)                                                                      \
    UF_DWU_M0_ROW2(tap, UF_DWU_M0_NEXT_ROW) UF_DWU_M0_ROW2(tap, UF_DWU_M0_NEXT_ROW) UF_DWU_M0_ROW2(tap, "")
#define UF_DWU_M0_22(tap) UF_DWU_M0_ROW2(tap, UF_DWU_M0_NEXT_ROW) UF_DWU_M0_ROW2(tap, "")
#define UF_DWU_M0(name, body, x_step, init)                                                    \
    __asm__(                                                                                  \
        UF_M0_BEGIN(name) UF_M0_SAVE \
        "  sub sp, #24\n" /* [sp]: block's x, [sp+4]: its w, [sp+8]: acc, [sp+12]: blocks, */ \
                          /* [sp+16]: g[7] (_INIT) */                                          \
        "  str r2, [sp, #8]\n"                                                                \
        "  ldr r4, [r3, #0]\n  str r4, [sp, #12]\n"                                           \
        "  ldr r4, [r3, #28]\n  str r4, [sp, #16]\n"                                          \
        "  ldr r4, [r3, #12]\n  mov r12, r4\n" /* x_col */                                    \
        "  ldr r4, [r3, #24]\n  mov lr, r4\n"  /* w_row */                                    \
        "  ldr r2, [r3, #20]\n"                /* x_row */                                    \
        "  ldr r4, [r3, #16]\n"                /* w_col */                                    \
        "2:\n"                                                                                \
        "  str r0, [sp, #0]\n"                                                                \
        "  str r1, [sp, #4]\n" init                                                           \
        body                                                                                  \
        "  ldr r3, [sp, #8]\n"                                                                \
        "  mov r5, r8\n  str r5, [r3, #0]\n"                                                  \
        "  mov r5, r9\n  str r5, [r3, #20]\n"                                                 \
        "  mov r5, r10\n  str r5, [r3, #40]\n"                                                \
        "  mov r5, r11\n  str r5, [r3, #60]\n"                                                \
        "  adds r3, #80\n"                                                                    \
        "  str r3, [sp, #8]\n"                                                                \
        "  ldr r0, [sp, #0]\n  adds r0, #" x_step "\n"                                        \
        "  ldr r1, [sp, #4]\n  adds r1, #4\n"                                                 \
        "  ldr r3, [sp, #12]\n  subs r3, r3, #1\n  str r3, [sp, #12]\n"                       \
        "  beq 3f\n  b 2b\n3:\n" /* (the loop is past a conditional branch's reach) */        \
        "  add sp, #24\n"                                                                     \
        UF_M0_RESTORE \
        UF_M0_END(name))
#define UF_DW4W_M0_TAP "  ldr r6, [r0]\n  ldr r7, [r1]\n" UF_DW4_M0_WLANES(UF_DW4_M0_XWORD, "  rev16 r6, r6\n")
// Accumulators from zero (free: r3, r5-r7) or g[7] (UF_DW4_M0_INIT's).
#define UF_DWU_M0_ZERO "  movs r3, #0\n  mov r8, r3\n  mov r9, r3\n  mov r10, r3\n  mov r11, r3\n"
#define UF_DWU_M0_INIT                                                                        \
    "  ldr r3, [sp, #16]\n  ldm r3!, {r5, r6, r7}\n  mov r8, r5\n  mov r9, r6\n  mov r10, r7\n" \
    "  ldm r3!, {r5}\n  str r3, [sp, #16]\n  mov r11, r5\n"
UF_DWU_M0("uf_dw4w23_m0", UF_DWU_M0_23(UF_DW4W_M0_TAP), "4", UF_DWU_M0_INIT);
UF_DWU_M0("uf_dw4w32_m0", UF_DWU_M0_32(UF_DW4W_M0_TAP), "4", UF_DWU_M0_INIT);
UF_DWU_M0("uf_dw4w22_m0", UF_DWU_M0_22(UF_DW4W_M0_TAP), "4", UF_DWU_M0_INIT);
// Runs of pixels whose windows have the same valid taps of a 3x3 filter (3x3, 2x3, 3x2 or
// 2x2), requantized in the kernel: uf_dw4q33_m0 and the others below. The weights come
// from a table the caller fills once per layer and block of channels, sign-extended:
// per 4-channel block its 9 taps' four weights (int32, so one LDM brings a tap's four),
// then its four channels' uf_rq1_m0 entries without .acc, {F, m, C, 15 + r | T << 16} (bit
// 8 of the last block's last word set: the pixel's end; T: UF_RQT_M0), 52 words a block. 20 cycles per
// tap of four channels plus the input step (one input channel: 15, uf_dw4x1q*), the
// accumulators starting at the first tap's products (or, in a border window, at cor's
// four: the padded taps' share), then each block's four outputs requantized from the
// accumulators (UF_RQT_M0: 21 cycles an output, 12 below the origin, no store and reload
// of the sums), about 16 more per block and 20 per pixel. For each of g[1]
// pixels (x advancing g[4] bytes per pixel; out g[2] bytes more than the pixel's 4 g[0]
// outputs), the g[0] blocks' outputs at out. g = {blocks, pixels, out skip, x_col,
// x_pixel, x_row, -, act_min, act_max - act_min, cor, pre, post, rows, x_rows, out_rows}
// (rows > 0 such runs, the next x_rows bytes on in x and out_rows in out): x_col the step between
// a row's taps, x_row from a row's last tap to the next row's first (x word-aligned
// where the input has channels); in a border window wt at its first valid tap, pre and
// post the table's steps (bytes) from the window's last tap to the block's
// requantization words and from after them to the next block's first valid tap.
void uf_dw4q33_m0(const int8_t *x, const int32_t *wt, int8_t *out, const int32_t *g);
void uf_dw4x1q33_m0(const int8_t *x, const int32_t *wt, int8_t *out, const int32_t *g);
// tap(op): op "mov" for the first tap (the accumulators' start), "add" after.
// (bytes 1 and 2 of x as bytes 0 and 3 after REV16: one instruction for the two)
#define UF_DW4T_M0_TAP(op)                                                                    \
    "  ldr r6, [r0]\n  ldm r1!, {r2, r3, r4, r5}\n"                                           \
    "  sxtb r7, r6\n  muls r7, r2\n  " op " r8, r7\n"                                         \
    "  asrs r7, r6, #24\n  muls r7, r5\n  " op " r11, r7\n"                                   \
    "  rev16 r6, r6\n"                                                                         \
    "  sxtb r7, r6\n  muls r7, r3\n  " op " r9, r7\n"                                         \
    "  asrs r7, r6, #24\n  muls r7, r4\n  " op " r10, r7\n"
// A one-channel input: one input byte for the four channels (no alignment needed).
#define UF_DW4X1T_M0_TAP(op)                                                                  \
    "  ldrsb r6, [r0, r7]\n  ldm r1!, {r2, r3, r4, r5}\n" /* (r7 = 0) */                       \
    "  muls r2, r6\n  " op " r8, r2\n  muls r3, r6\n  " op " r9, r3\n"                        \
    "  muls r4, r6\n  " op " r10, r4\n  muls r5, r6\n  " op " r11, r5\n"
#define UF_DW4T_M0_ROW(tap0, tap, next) tap0 "  add r0, r12\n" tap "  add r0, r12\n" tap next
#define UF_DW4T_M0_ROW2(tap, next) tap "  add r0, r12\n" tap next
#define UF_DW4T_M0_NEXT "  add r0, lr\n"
#define UF_DW4T_M0_33(tap)                                                                    \
    UF_DW4T_M0_ROW(tap("mov"), tap("add"), UF_DW4T_M0_NEXT)                                   \
    UF_DW4T_M0_ROW(tap("add"), tap("add"), UF_DW4T_M0_NEXT) UF_DW4T_M0_ROW(tap("add"), tap("add"), "")
// The border windows (valid rows x columns of the 3x3; the table's other taps skipped).
#define UF_DW4T_M0_23(tap)                                                                    \
    UF_DW4T_M0_ROW(tap("add"), tap("add"), UF_DW4T_M0_NEXT) UF_DW4T_M0_ROW(tap("add"), tap("add"), "")
#define UF_DW4T_M0_32(tap)                                                                    \
    UF_DW4T_M0_ROW2(tap("add"), UF_DW4T_M0_NEXT "  adds r1, #16\n")                           \
    UF_DW4T_M0_ROW2(tap("add"), UF_DW4T_M0_NEXT "  adds r1, #16\n") UF_DW4T_M0_ROW2(tap("add"), "")
#define UF_DW4T_M0_22(tap)                                                                    \
    UF_DW4T_M0_ROW2(tap("add"), UF_DW4T_M0_NEXT "  adds r1, #16\n") UF_DW4T_M0_ROW2(tap("add"), "")
// uf_rq1_m0's 64-bit path for the fused kernels (one copy for all): u = the high word of
// y m + C >> (r - 1) into r4 from y (r2), m (r4), C (r5), 15 + r (r6, left 16 less);
// r2, r3, r5 clobbered.
// (uf_rqt_u_m0 first, falling into it past 2^16; below, the two MULS: y ml < 2^32 and y mh
// < 2^31, the carry of y ml + C (C < 2^31) added back at bit 16 of the high part)
#if UF_M0_CONV_ASM
__asm__(
    UF_M0_BEGIN("uf_rqt_u_m0")
    "  lsrs r3, r2, #16\n"
    "  bne 1f\n"
    "  uxth r3, r4\n  lsrs r4, r4, #16\n"
    "  muls r3, r2\n  muls r4, r2\n"
    "  adds r3, r3, r5\n"
    "  movs r5, #0\n  adcs r5, r5\n  lsls r5, r5, #16\n"   /* (MOVS keeps C) */
    "  lsrs r3, r3, #16\n  adds r4, r4, r3\n  adds r4, r4, r5\n"
    "  lsrs r4, r6\n"
    "  bx lr\n"
    "  .size uf_rqt_u_m0, .-uf_rqt_u_m0\n"
    "  .type uf_dwq_big_m0, %function\n  .thumb_func\nuf_dwq_big_m0:\n1:\n"
    "  push {r6, r7}\n"
    "  uxth r3, r2\n  lsrs r2, r2, #16\n"
    "  uxth r7, r4\n  lsrs r4, r4, #16\n"
    "  movs r6, r3\n  muls r6, r7\n"
    "  muls r7, r2\n  muls r3, r4\n  muls r4, r2\n"
    "  adds r6, r6, r5\n  movs r5, #0\n  adcs r4, r5\n"
    "  lsls r5, r7, #16\n  lsrs r7, r7, #16\n  adds r6, r6, r5\n  adcs r4, r7\n"
    "  lsls r5, r3, #16\n  lsrs r3, r3, #16\n  adds r6, r6, r5\n  adcs r4, r3\n"
    "  pop {r6, r7}\n"
    "  subs r6, #16\n  lsrs r4, r6\n"
    "  bx lr\n"
    UF_M0_END("uf_dwq_big_m0"));
#endif
// The fused requantization the kernels below use (uf_rq1_m0's entries with a bound T in
// the high half of the last word: {F, m, C, 15 + r | T << 16}, uf_rqt_m0_mark): for 0 <= y
// < T (T = 2^k, k = min(15, r + floor(log2(R + 1))), R = act_max - act_min) the two-MULS u
// is exact and at most R (y m + C < 2^k m < 2^(k + 31), so u < 2^(k - r) <= R + 1), so one
// compare replaces the 2^15 test and the clamp: 21 cycles an output (22 with both tests),
// 12 below the origin. y >= T takes the side path (uf_rqt_u_m0: u exact, then the clamp with
// R read from the stack). Registers: r2 = the sum (y after), r0 = out (the output at r0 +
// j), r7 = act_min, r1 = the entry (stepped past it); r3-r6 clobbered, r6 = the last word
// (bit 8: the table's end, test it with lsls #24: T sits above it); r8-r12, lr kept.
#define UF_RQT_M0(l, j)                                                                       \
    "  ldm r1!, {r3, r4, r5, r6}\n"        /* F, m, C, 15 + r | T << 16 */                    \
    "  subs r2, r2, r3\n"                                                                     \
    "  blt " l "7f\n"                                                                         \
    "  lsrs r3, r6, #16\n"                                                                    \
    "  cmp r2, r3\n"                                                                          \
    "  bhs " l "9f\n"                                                                         \
    "  uxth r3, r4\n  lsrs r4, r4, #16\n"                                                     \
    "  muls r3, r2\n  muls r4, r2\n"                                                          \
    "  adds r3, r3, r5\n  lsrs r3, r3, #16\n  adds r4, r4, r3\n"                              \
    "  lsrs r4, r6\n"                                                                         \
    l "6:\n"                                                                                  \
    "  adds r4, r4, r7\n"                                                                     \
    "  strb r4, [r0, #" j "]\n"                                                               \
    l "8:\n"
// Its side paths: below the origin (act_min) and y >= T (u from uf_rqt_u_m0, which clobbers
// lr: call the kernel's lr keeping (call: "bl uf_rqt_u_m0" where lr is free), then clamped
// to R (range: the instruction that loads R into r3).
#define UF_RQT_M0_SIDE(l, j, call, range)                                                     \
    l "7:\n"                                                                                  \
    "  strb r7, [r0, #" j "]\n"                                                               \
    "  b " l "8b\n"                                                                           \
    l "9:\n"                                                                                  \
    call range                                                                                \
    "  cmp r4, r3\n"                                                                          \
    "  bls " l "6b\n"                                                                         \
    "  movs r4, r3\n"                                                                         \
    "  b " l "6b\n"
// u (r4) for y >= T from y (r2), m (r4), C (r5), 15 + r (r6, its low byte left 16 less where
// y >= 2^16): the two MULS below 2^16, else uf_dwq_big_m0's 64-bit path; r2, r3, r5 clobbered.
void uf_rqt_u_m0(void);
// The depthwise kernels' side paths (uf_rqt_u_m0, then lr back to x_row, [sp+20]; R at [sp+36])
#define UF_DW4Q_M0_SIDES(l, j)                                                                \
    UF_RQT_M0_SIDE(l, j, "  bl uf_rqt_u_m0\n  ldr r3, [sp, #20]\n  mov lr, r3\n", "  ldr r3, [sp, #36]\n")
// The kernel: init at each block; pre: r1 from the block's last tap to its
// requantization words, post: from after them to the next block's first tap; pix: at
// each pixel's end (r3 = g); xstep: the next block's x (its input channels' step); sums(k):
// channel k's sum into r2 (r8..r11 kept until the last: UF_DW4Q_M0_SUM).
#define UF_DW4Q_M0_SUM(k) UF_DW4Q_M0_SUM_##k
#define UF_DW4Q_M0_SUM_0 "  mov r2, r8\n"
#define UF_DW4Q_M0_SUM_1 "  mov r2, r9\n"
#define UF_DW4Q_M0_SUM_2 "  mov r2, r10\n"
#define UF_DW4Q_M0_SUM_3 "  mov r2, r11\n"
#define UF_DW4Q_M0(name, body, init, pre, post, pix, xstep)                                   \
    UF_DW4Q_M0S(name, body, init, pre, post, pix, xstep, UF_DW4Q_M0_SUM)
#define UF_DW4Q_M0S(name, body, init, pre, post, pix, xstep, sums)                            \
__asm__(                                                                                      \
    UF_M0_BEGIN(name) UF_M0_SAVE                                                              \
    "  sub sp, #76\n"   /* [sp]: out, [sp+4]: the pixel's x, [sp+8]: cor's start, [sp+12]: */ \
                        /* g, [sp+16]: wt, [sp+20]: x_row, [sp+24]: the block's x, [sp+32]: */ \
                        /* act_min, [sp+36]: the range, [sp+40]: cor, [sp+44]: pre, [sp+48]: */ \
                        /* post, [sp+52]: out skip, [sp+56]: x_pixel, [sp+60]: the row's end */ \
                        /* x, [sp+64]: the row's x, [sp+68]: the row's out, [sp+72]: rows left */ \
    "  str r2, [sp, #0]\n  str r0, [sp, #4]\n  str r0, [sp, #24]\n"                           \
    "  str r0, [sp, #64]\n  str r2, [sp, #68]\n  ldr r4, [r3, #48]\n  str r4, [sp, #72]\n"     \
    "  str r3, [sp, #12]\n  str r1, [sp, #16]\n"                                              \
    "  ldr r4, [r3, #28]\n  str r4, [sp, #32]\n"                                              \
    "  ldr r4, [r3, #32]\n  str r4, [sp, #36]\n"                                              \
    "  ldr r4, [r3, #36]\n  str r4, [sp, #40]\n  str r4, [sp, #8]\n"                          \
    "  ldr r4, [r3, #40]\n  str r4, [sp, #44]\n"                                              \
    "  ldr r4, [r3, #44]\n  str r4, [sp, #48]\n"                                              \
    "  ldr r4, [r3, #8]\n  str r4, [sp, #52]\n"                                               \
    "  ldr r4, [r3, #16]\n  str r4, [sp, #56]\n"                                              \
    "  ldr r5, [r3, #4]\n  muls r5, r4\n  adds r5, r5, r0\n  str r5, [sp, #60]\n"             \
    "  ldr r4, [r3, #12]\n  mov r12, r4\n"   /* x_col */                                      \
    "  ldr r4, [r3, #20]\n  mov lr, r4\n  str r4, [sp, #20]\n"   /* x_row */                  \
    "2:\n" init                              /* a block of four channels, r0 at its x */     \
    body pre                                                                                  \
    "  ldr r0, [sp, #0]\n  ldr r7, [sp, #32]\n"                                               \
    sums(0) UF_RQT_M0("1", "0") sums(1) UF_RQT_M0("2", "1")                                   \
    sums(2) UF_RQT_M0("3", "2") sums(3) UF_RQT_M0("4", "3")                                   \
    post                                                                                      \
    "  adds r0, #4\n"                                                                         \
    "  lsls r3, r6, #24\n"  /* bit 8 of the last block's last 15 + r: the pixel's end */      \
    "  bcs 3f\n"                                                                              \
    "  str r0, [sp, #0]\n  ldr r0, [sp, #24]\n" xstep                                          \
    "  b 2b\n"    /* (the loop is past a conditional branch's reach) */                       \
    UF_DW4Q_M0_SIDES("1", "0") UF_DW4Q_M0_SIDES("2", "1")                                     \
    UF_DW4Q_M0_SIDES("3", "2") UF_DW4Q_M0_SIDES("4", "3")                                     \
    "3:\n"                                   /* the pixel's end (r0: after its outputs) */   \
    "  ldr r4, [sp, #52]\n  adds r0, r0, r4\n  str r0, [sp, #0]\n"                             \
    "  ldr r1, [sp, #16]\n" pix                                                                \
    "  ldr r0, [sp, #4]\n  ldr r4, [sp, #56]\n  adds r0, r0, r4\n  str r0, [sp, #4]\n"        \
    "  str r0, [sp, #24]\n"                                                                   \
    "  ldr r4, [sp, #60]\n  cmp r0, r4\n"                                                      \
    "  beq 5f\n  b 2b\n5:\n"                                                                  \
    "  ldr r4, [sp, #72]\n  subs r4, r4, #1\n  str r4, [sp, #72]\n  beq 7f\n"                   \
    "  ldr r3, [sp, #12]\n"   /* the next row: x, its end, out */                             \
    "  ldr r0, [sp, #64]\n  ldr r4, [r3, #52]\n  adds r0, r0, r4\n  str r0, [sp, #64]\n"       \
    "  str r0, [sp, #4]\n  str r0, [sp, #24]\n"                                               \
    "  ldr r5, [sp, #60]\n  adds r5, r5, r4\n  str r5, [sp, #60]\n"                            \
    "  ldr r0, [sp, #68]\n  ldr r4, [r3, #56]\n  adds r0, r0, r4\n  str r0, [sp, #68]\n"       \
    "  str r0, [sp, #0]\n  ldr r0, [sp, #24]\n  b 2b\n"                                       \
    "7:\n"                                                                                    \
    "  add sp, #76\n"                                                                         \
    UF_M0_RESTORE                                                                             \
    UF_M0_END(name))
#define UF_DW4Q_M0_XS "  adds r0, #4\n  str r0, [sp, #24]\n"
// The border windows' hooks: the accumulators start at cor's four (the padded taps'
// share; uf_dwsh33_m0's layout: a block's four 32 words after the previous block's),
// which restarts at each pixel; r1 steps by [sp+44] and [sp+48].
#define UF_DW4Q_M0_COR                                                                        \
    "  ldr r2, [sp, #40]\n  ldm r2!, {r4, r5, r6, r7}\n  adds r2, #112\n  str r2, [sp, #40]\n"  \
    "  mov r8, r4\n  mov r9, r5\n  mov r10, r6\n  mov r11, r7\n"
#define UF_DW4Q_M0_PRE "  ldr r3, [sp, #44]\n  adds r1, r1, r3\n"
#define UF_DW4Q_M0_POST "  ldr r3, [sp, #48]\n  adds r1, r1, r3\n"
#define UF_DW4Q_M0_PIX "  ldr r4, [sp, #8]\n  str r4, [sp, #40]\n"
UF_DW4Q_M0("uf_dw4q33_m0", UF_DW4T_M0_33(UF_DW4T_M0_TAP), "", "", "", "", UF_DW4Q_M0_XS);
// (Variants with the taps' inputs at immediate offsets for rows of 8 and 32 channels saved
// 20 of 21 cycles a tap, 54 k cycles on person_detect, for 1.4 KB of code: on an RP2040 natmod
// code lives in the GC heap, so they are not kept.)
UF_DW4Q_M0("uf_dw4x1q33_m0", UF_DW4T_M0_33(UF_DW4X1T_M0_TAP), "  movs r7, #0\n", "", "", "", "");
// The border windows of 2x3, 3x2 and 2x2 taps (g[9..11] = cor, pre, post).
void uf_dw4q23_m0(const int8_t *x, const int32_t *wt, int8_t *out, const int32_t *g);
void uf_dw4q32_m0(const int8_t *x, const int32_t *wt, int8_t *out, const int32_t *g);
void uf_dw4q22_m0(const int8_t *x, const int32_t *wt, int8_t *out, const int32_t *g);
void uf_dw4x1q23_m0(const int8_t *x, const int32_t *wt, int8_t *out, const int32_t *g);
void uf_dw4x1q32_m0(const int8_t *x, const int32_t *wt, int8_t *out, const int32_t *g);
void uf_dw4x1q22_m0(const int8_t *x, const int32_t *wt, int8_t *out, const int32_t *g);
#define UF_DW4Q_M0_B(name, body, init, xstep) \
    UF_DW4Q_M0(name, body, UF_DW4Q_M0_COR init, UF_DW4Q_M0_PRE, UF_DW4Q_M0_POST, UF_DW4Q_M0_PIX, xstep)
UF_DW4Q_M0_B("uf_dw4q23_m0", UF_DW4T_M0_23(UF_DW4T_M0_TAP), "", UF_DW4Q_M0_XS);
UF_DW4Q_M0_B("uf_dw4q32_m0", UF_DW4T_M0_32(UF_DW4T_M0_TAP), "", UF_DW4Q_M0_XS);
UF_DW4Q_M0_B("uf_dw4q22_m0", UF_DW4T_M0_22(UF_DW4T_M0_TAP), "", UF_DW4Q_M0_XS);
UF_DW4Q_M0_B("uf_dw4x1q23_m0", UF_DW4T_M0_23(UF_DW4X1T_M0_TAP), "  movs r7, #0\n", "");
UF_DW4Q_M0_B("uf_dw4x1q32_m0", UF_DW4T_M0_32(UF_DW4X1T_M0_TAP), "  movs r7, #0\n", "");
UF_DW4Q_M0_B("uf_dw4x1q22_m0", UF_DW4T_M0_22(UF_DW4X1T_M0_TAP), "  movs r7, #0\n", "");
// uf_dw4x1p8_m0's windows (eight columns of a filter eight wide, one input channel) in
// runs of pixels requantized in the kernel: its pair table with each block's
// requantization words after its k_h * 16 weight words; g[3] = 32767 (the lanes'
// constant, in r12), g[5] = x_row (a row's first tap to the next's), g[6] = rows, the
// rest as uf_dw4q23_m0's (cor: the padded rows' share, pre, post).
void uf_dw4x1q8_m0(const int8_t *x, const int32_t *wt, int8_t *out, const int32_t *g);
#define UF_DW4X1Q8_M0_INIT                                                                    \
    "  ldr r2, [sp, #40]\n  ldm r2!, {r4, r5, r6, r7}\n  str r2, [sp, #40]\n"                 \
    "  lsls r3, r5, #16\n  subs r4, r4, r3\n  mov r8, r4\n  negs r5, r5\n  mov r10, r5\n"       \
    "  lsls r3, r7, #16\n  subs r6, r6, r3\n  mov r9, r6\n  negs r7, r7\n  mov r11, r7\n"       \
    "  ldr r3, [sp, #12]\n  ldr r4, [r3, #24]\n  str r4, [sp, #28]\n"
#define UF_DW4X1Q8_M0_BODY                                                                    \
    "5:\n"                                                                                    \
    UF_DW4X1P8_M0_PAIR("0", "1") UF_DW4X1P8_M0_PAIR("2", "3")                                 \
    UF_DW4X1P8_M0_PAIR("4", "5") UF_DW4X1P8_M0_PAIR("6", "7")                                 \
    "  add r0, lr\n"                                                                          \
    "  ldr r4, [sp, #28]\n  subs r4, r4, #1\n  str r4, [sp, #28]\n"                           \
    "  bne 5b\n"
// The lanes' four sums, each as its requantization takes it: channels 4b and 4b + 2 from
// a pair's P sum S and H sum G (r8, r10; r9, r11) as S - G 2^16, channels 4b + 1 and 4b + 3
// as -G.
#define UF_DW4Q_M0_LSUM(k) UF_DW4Q_M0_LSUM_##k
#define UF_DW4Q_M0_LSUM_0 "  mov r2, r8\n  mov r3, r10\n  lsls r3, r3, #16\n  subs r2, r2, r3\n"
#define UF_DW4Q_M0_LSUM_1 "  mov r2, r10\n  negs r2, r2\n"
#define UF_DW4Q_M0_LSUM_2 "  mov r2, r9\n  mov r3, r11\n  lsls r3, r3, #16\n  subs r2, r2, r3\n"
#define UF_DW4Q_M0_LSUM_3 "  mov r2, r11\n  negs r2, r2\n"
UF_DW4Q_M0S("uf_dw4x1q8_m0", UF_DW4X1Q8_M0_BODY, UF_DW4X1Q8_M0_INIT, UF_DW4Q_M0_PRE, UF_DW4Q_M0_POST,
            UF_DW4Q_M0_PIX, "", UF_DW4Q_M0_LSUM);
// uf_dw4x1q33_m0's windows (a full 3x3, one input channel, columns 1 byte apart) from a table
// of channel pairs as uf_dw4x1p8_m0's: per block its nine taps' two words W = w[c] - w[c + 1]
// * 2^16 (c = 4b, 4b + 2), then its four uf_rq1_m0 entries (T and the end mark as
// uf_dw4q33_m0's), 34 words a block; two taps' products per lane, summed apart as there
// (the first pair setting the accumulators). 4 pairs and a single tap: 118 cycles a block
// (uf_dw4x1q33_m0's taps: 143), the sums split as the requantization takes them
// (UF_DW4Q_M0_LSUM: 8 cycles more than the plain ones). g as uf_dw4q33_m0's, but g[3] =
// 32767 (the lanes' constant, in r12) and g[5] = from a row's first tap to the next's.
void uf_dw4x1q33p_m0(const int8_t *x, const int32_t *wt, int8_t *out, const int32_t *g);
#define UF_DW4X1P33_M0_LANES(op)                                                              \
    "  " op " r8, r2\n  add r2, r12\n  asrs r2, r2, #16\n  " op " r10, r2\n"                   \
    "  " op " r9, r3\n  add r3, r12\n  asrs r3, r3, #16\n  " op " r11, r3\n"
// two taps at r0 + a and (after step) r0 + b
#define UF_DW4X1P33_M0_PAIR(op, a, step, b)                                                   \
    "  ldrb r6, [r0, #" a "]\n" step "  ldrb r7, [r0, #" b "]\n  sxtb r6, r6\n  sxtb r7, r7\n"  \
    "  ldm r1!, {r2, r3, r4, r5}\n"                                                           \
    "  muls r2, r6\n  muls r4, r7\n  adds r2, r2, r4\n"                                        \
    "  muls r3, r6\n  muls r5, r7\n  adds r3, r3, r5\n" UF_DW4X1P33_M0_LANES(op)
#define UF_DW4X1P33_M0_BODY                                                                   \
    UF_DW4X1P33_M0_PAIR("mov", "0", "", "1") UF_DW4X1P33_M0_PAIR("add", "2", "  add r0, lr\n", "0") \
    UF_DW4X1P33_M0_PAIR("add", "1", "", "2") "  add r0, lr\n" UF_DW4X1P33_M0_PAIR("add", "0", "", "1") \
    "  ldrb r6, [r0, #2]\n  sxtb r6, r6\n  ldm r1!, {r2, r3}\n  muls r2, r6\n  muls r3, r6\n"   \
    UF_DW4X1P33_M0_LANES("add")
UF_DW4Q_M0S("uf_dw4x1q33p_m0", UF_DW4X1P33_M0_BODY, "", "", "", "", "", UF_DW4Q_M0_LSUM);
// uf_dw4q33_m0's table (conv.c dw_table33_m0): for each of `blocks` (> 0) blocks of four
// channels (w at block 0's channels, a tap's channels out_c bytes apart), the nine taps' four
// weights sign-extended (any alignment: byte loads), then, with t (not NULL), the block's
// four uf_rq1_m0 entries' words after .acc; 52 words a block (t NULL: the entries' 16 words
// left alone). 18 cycles a tap (13 with word loads where w and out_c are word-aligned), 11
// an entry (GCC's loop: 27 and 21).
void uf_dwtab33_m0(const int8_t *w, int out_c, int blocks, int32_t *wtab, const uf_rq_m0_t *t);
#define UF_DWTAB33_M0_TAP                                                                     \
    "  ldrb r2, [r0, #0]\n  sxtb r2, r2\n  ldrb r3, [r0, #1]\n  sxtb r3, r3\n"                \
    "  ldrb r4, [r0, #2]\n  sxtb r4, r4\n  ldrb r5, [r0, #3]\n  sxtb r5, r5\n"                \
    "  stm r7!, {r2, r3, r4, r5}\n  adds r0, r0, r1\n"
#define UF_DWTAB33_M0_TAP3 UF_DWTAB33_M0_TAP UF_DWTAB33_M0_TAP UF_DWTAB33_M0_TAP
// (w and out_c word-aligned: one word load a tap, bytes 1 and 2 as bytes 0 and 3 after REV16)
#define UF_DWTAB33_M0_TAPW                                                                    \
    "  ldr r5, [r0, #0]\n  sxtb r2, r5\n  rev16 r4, r5\n  sxtb r3, r4\n  asrs r4, r4, #24\n"  \
    "  asrs r5, r5, #24\n  stm r7!, {r2, r3, r4, r5}\n  adds r0, r0, r1\n"
#define UF_DWTAB33_M0_ENTRY "  adds r6, #4\n  ldm r6!, {r2, r3, r4, r5}\n  stm r7!, {r2, r3, r4, r5}\n"
#if UF_M0_CONV_ASM
__asm__(
    UF_M0_BEGIN("uf_dwtab33_m0") UF_M0_SAVE
    "  mov r8, r0\n  mov r9, r2\n  ldr r6, [sp, #36]\n  mov r10, r6\n"   // w, blocks, t
    "  movs r7, r3\n"
    "  movs r4, r0\n  orrs r4, r1\n  lsls r4, r4, #30\n  mov r11, r4\n"  // 0: word loads
    "1:\n"
    "  mov r0, r8\n"
    "  mov r4, r11\n  cmp r4, #0\n  bne 4f\n"
    "  movs r6, #3\n"
    "5:\n" UF_DWTAB33_M0_TAPW UF_DWTAB33_M0_TAPW UF_DWTAB33_M0_TAPW
    "  subs r6, #1\n  bne 5b\n"
    "  b 6f\n"
    "4:\n"
    UF_DWTAB33_M0_TAP3 UF_DWTAB33_M0_TAP3 UF_DWTAB33_M0_TAP3
    "6:\n"
    "  mov r6, r10\n  cmp r6, #0\n  beq 2f\n"
    UF_DWTAB33_M0_ENTRY UF_DWTAB33_M0_ENTRY UF_DWTAB33_M0_ENTRY UF_DWTAB33_M0_ENTRY
    "  mov r10, r6\n  b 3f\n"
    "2:\n  adds r7, #64\n"
    "3:\n"
    "  mov r0, r8\n  adds r0, #4\n  mov r8, r0\n"
    "  mov r0, r9\n  subs r0, #1\n  mov r9, r0\n"
    "  beq 7f\n  b 1b\n7:\n"   /* (past a conditional branch's reach) */
    UF_M0_RESTORE
    UF_M0_END("uf_dwtab33_m0"));
#endif
// cor[4b + k] = zp * the sum of wt[b][tap][k] over the taps whose bit is set in pad
// (bits 0..8: a 3x3 window's padded taps) for b < blocks (> 0), wt as for
// uf_dw4q33_m0; a = pad | zp << 16: 15 cycles per padded tap and four channels.
void uf_dwcor33_m0(int32_t *cor, const int32_t *wt, int blocks, int32_t a);
#define UF_DWCOR33_M0_TAP                                                                     \
    "  lsrs r3, r3, #1\n  bcc 1f\n"                                                            \
    "  ldr r2, [r1, #0]\n  adds r4, r4, r2\n  ldr r2, [r1, #4]\n  adds r5, r5, r2\n"          \
    "  ldr r2, [r1, #8]\n  adds r6, r6, r2\n  ldr r2, [r1, #12]\n  adds r7, r7, r2\n"         \
    "1:\n  adds r1, #16\n"
#define UF_DWCOR33_M0_TAP3 UF_DWCOR33_M0_TAP UF_DWCOR33_M0_TAP UF_DWCOR33_M0_TAP
__asm__(
    UF_M0_BEGIN("uf_dwcor33_m0") UF_M0_SAVE
    "  mov r8, r3\n"               // pad | zp << 16 (zp's bits never shift down to bit 0)
    "  mov r9, r2\n"               // blocks left
    "2:\n"
    "  movs r4, #0\n  movs r5, #0\n  movs r6, #0\n  movs r7, #0\n"
    "  mov r3, r8\n"
    UF_DWCOR33_M0_TAP3 UF_DWCOR33_M0_TAP3 UF_DWCOR33_M0_TAP3
    "  adds r1, #64\n"            // (the block's requantization words)
    "  mov r2, r8\n  asrs r2, r2, #16\n"
    "  muls r4, r2\n  muls r5, r2\n  muls r6, r2\n  muls r7, r2\n"
    "  stm r0!, {r4, r5, r6, r7}\n"
    "  mov r2, r9\n  subs r2, r2, #1\n  mov r9, r2\n"
    "  beq 3f\n  b 2b\n3:\n"
    UF_M0_RESTORE
    UF_M0_END("uf_dwcor33_m0"));

// The padded taps' shares of a 3x3 window's eight border shapes at once, for each of
// `blocks` (> 0) blocks of four channels of uf_dw4q33_m0's table wt: cor[32b + 4s + k] =
// zp * the sum of wt[b][tap][k] over shape s's padded taps, s = 0..7: the column 0, the
// column 2, the row 0, row 0 and column 0, row 0 and column 2, the row 2, row 2 and column
// 0, row 2 and column 2 (uf_dw4q23_m0 and the others read a block's four, then step 32
// words). From the eight zp * w and the sums they share: about 62 cycles a channel
// (uf_dwcor33_m0's eight shapes: about 210).
void uf_dwsh33_m0(int32_t *cor, const int32_t *wt, int blocks, int32_t zp);
#if UF_M0_CONV_ASM
__asm__(
    UF_M0_BEGIN("uf_dwsh33_m0") UF_M0_SAVE
    "  lsls r2, r2, #2\n  mov r8, r2\n"  // channels left
    "  movs r2, r3\n"                    // zp
    "  movs r7, r1\n  movs r1, r0\n  movs r0, r7\n"   // r0: the channel's tap 0, r1: its cor
    "1:\n"
    "  ldr r3, [r0, #48]\n  muls r3, r2\n"              // Z3
    "  ldr r4, [r0, #96]\n  muls r4, r2\n"              // Z6
    "  adds r4, r4, r3\n"                               // a = Z3 + Z6
    "  ldr r5, [r0, #0]\n  muls r5, r2\n"               // Z0
    "  adds r6, r5, r4\n  str r6, [r1, #0]\n"           // column 0: Z0 + a
    "  adds r3, r3, r5\n"                               // c = Z0 + Z3
    "  ldr r6, [r0, #16]\n  muls r6, r2\n  adds r6, r6, r5\n"
    "  ldr r5, [r0, #32]\n  muls r5, r2\n  adds r6, r6, r5\n"  // T = Z0 + Z1 + Z2 (r5: Z2)
    "  str r6, [r1, #32]\n"                             // row 0
    "  adds r4, r4, r6\n  str r4, [r1, #48]\n"          // row 0 and column 0: T + a
    "  ldr r4, [r0, #80]\n  muls r4, r2\n"              // Z5
    "  adds r5, r5, r4\n"                               // d = Z2 + Z5
    "  adds r0, #64\n"
    "  ldr r7, [r0, #64]\n  muls r7, r2\n"              // Z8
    "  adds r4, r4, r7\n"                               // Z5 + Z8
    "  adds r6, r6, r4\n  str r6, [r1, #64]\n"          // row 0 and column 2
    "  adds r6, r5, r7\n  str r6, [r1, #16]\n"          // column 2: d + Z8
    "  ldr r4, [r0, #32]\n  muls r4, r2\n"              // Z6
    "  ldr r6, [r0, #48]\n  muls r6, r2\n"              // Z7
    "  adds r6, r6, r4\n  adds r6, r6, r7\n  str r6, [r1, #80]\n"  // row 2: B
    "  adds r3, r3, r6\n  str r3, [r1, #96]\n"          // row 2 and column 0: B + c
    "  adds r5, r5, r6\n  str r5, [r1, #112]\n"         // row 2 and column 2: B + d
    "  subs r0, #60\n  adds r1, #4\n"                   // the next channel
    "  mov r3, r8\n  subs r3, r3, #1\n  mov r8, r3\n"
    "  beq 3f\n"
    "  lsls r3, r3, #30\n"
    "  bne 1b\n"
    "  adds r0, #192\n  adds r1, #112\n"                // the next block (52 and 32 words)
    "  b 1b\n"
    "3:\n"
    UF_M0_RESTORE
    UF_M0_END("uf_dwsh33_m0"));
#endif

// (r6 = 0: the input byte's index)
UF_DWU_M0("uf_dw4x1w33_m0",
          UF_DWU_M0_33("  ldrsb r5, [r0, r6]\n  ldr r7, [r1]\n" UF_DW4_M0_WLANES(UF_DW4_M0_X1, "")),
          "0", UF_DWU_M0_ZERO "  movs r6, #0\n");
// uf_mac2x2pt8/16/32_m0 requantized in the kernel (the usual pointwise layer, uf_rq1_m0's
// tables): per row pair its weight words (as uf_mac2x2pt_m0's table) then its two rows'
// uf_rq1_m0 entries without .acc, {F, m, C, 15 + r} (conv.c's conv1x1_tab_m0), so W walks
// on into them; each row pair's four sums are requantized from registers as uf_dw4q33_m0
// does (each row's entry read once for both pixels: UF_PQ2_M0_ROW; no store and reload
// of the sums, no uf_rq1_m0 call; the passes UF_MAC2X2PA_M0_PASS's, weights in [-127, 127]).
// For each of `pairs` (> 0) pixel pairs (the pair's inputs at x, in_c = 8, 16 or 32 bytes
// apart, packed into X by uf_pack2_m0, then x += 2 in_c): pixel 0's outputs of rows 2b,
// 2b + 1 at out[2b], out[2b + 1], pixel 1's out_c bytes on, then out += 2 out_c (one call
// per run of pixels: the call, its register saving and the packing's call once);
// lim = {out_off, act_min, act_max} (act_min >= out_off: uf_rq_m0_prepare's ok == 2); bit 8
// of the last row's 15 + r set (the table's end: a register shift reads bits 0..7), T in
// the word's high half (uf_rqt_m0_mark: UF_RQT_M0).
void uf_mac2x2pq8_m0(int32_t *X, const int32_t *W, int8_t *out, const int32_t *lim, int out_c, const int8_t *x,
                     int pairs);
void uf_mac2x2pq16_m0(int32_t *X, const int32_t *W, int8_t *out, const int32_t *lim, int out_c, const int8_t *x,
                      int pairs);
void uf_mac2x2pq32_m0(int32_t *X, const int32_t *W, int8_t *out, const int32_t *lim, int out_c, const int8_t *x,
                      int pairs);
// Their passes (8 MACs, 21 cycles; uf_mac2x2pt_m0's: 22) want weights in [-127, 127]
// (the bake's w_min > -128): then |x*w| <= 16256 and a row's two products
// sum to P = L + H * 2^16 with L, H in [-32512, 32512] (P fits int32), so ASRS #16 leaves
// bit 15 of P in C and (P >> 16) + C is H exactly: per row ADD P to accA (a high register:
// no flags), ASRS, ADCS into accB (a low register), where uf_mac2x2pt_m0 adds 32767 first.
// Rows 0 and 1: accA in r8, r10, accB in r6, r7; the weights two LDMs of two (r4, r5), X in
// r2, r3. The first pass sets the accumulators, H there as (P + 32768) >> 16 (r12 = 32768).
// The sums as uf_mac2x2pt_m0's: pixel 1's -accB, pixel 0's accA + (-accB << 16).
#define UF_MAC2X2PA_M0_MOV(a, b) "  mov " a ", r4\n  add r4, r12\n  asrs " b ", r4, #16\n"
#define UF_MAC2X2PA_M0_ADD(a, b) "  add " a ", r4\n  asrs r4, r4, #16\n  adcs " b ", r4\n"
#define UF_MAC2X2PA_M0_PASS(op)                                                               \
    "  ldm r0!, {r2, r3}\n"                                                                    \
    "  ldm r1!, {r4, r5}\n  muls r4, r2\n  muls r5, r3\n  adds r4, r4, r5\n" op("r8", "r6")    \
    "  ldm r1!, {r4, r5}\n  muls r4, r2\n  muls r5, r3\n  adds r4, r4, r5\n" op("r10", "r7")
#define UF_MAC2X2PA_M0_4(op)                                                                  \
    UF_MAC2X2PA_M0_PASS(op) UF_MAC2X2PA_M0_PASS(UF_MAC2X2PA_M0_ADD)                             \
    UF_MAC2X2PA_M0_PASS(UF_MAC2X2PA_M0_ADD) UF_MAC2X2PA_M0_PASS(UF_MAC2X2PA_M0_ADD)
#define UF_MAC2X2PA_M0_32768 "  movs r7, #128\n  lsls r7, r7, #8\n  mov r12, r7\n"
// The epilogue's rows: one row's two outputs requantized with its entry read once (F, m
// split and T shared by the pixels: 19.5 cycles an output, UF_RQT_M0's 22 with the sum's
// move; both below the origin 10). In: r2, r7 = pixel 0's and 1's sums, r1 = the row's
// entry, r0 = pixel 0's output (pixel 1's out_c, [sp+12], on), r9 = act_min. Out: r1 past
// the entry, r6 its last word; r2-r5, r7, r8 clobbered; lr, r9-r12 kept (lr around
// uf_rqt_u_m0's call on the stack). Side paths (labels l0..l9): below the origin
// (UF_PQ2_M0_ROW_NEG), a sum at T or more (UF_PQ2_M0_ROW_T: uf_rqt_u_m0, the clamp to R).
#define UF_PQ2_M0_ROW(l, g2, g)  /* (g2, g: the ways to l2, l3, direct or by trampolines) */ \
    "  ldm r1!, {r3, r4, r5, r6}\n"         /* F, m, C, 15 + r | T << 16 */                   \
    "  subs r2, r2, r3\n  blt " l "1f\n"                                                      \
    "  subs r7, r7, r3\n  blt " g2 "\n"                                                       \
    "  lsrs r3, r6, #16\n"                                                                    \
    "  cmp r2, r3\n  bhs " g "\n"                                                             \
    "  cmp r7, r3\n  bhs " g "\n"                                                             \
    "  uxth r3, r4\n  lsrs r4, r4, #16\n  mov r8, r1\n"                                       \
    "  movs r1, r4\n  muls r1, r2\n  muls r2, r3\n  adds r2, r2, r5\n  lsrs r2, r2, #16\n"      \
    "  adds r2, r2, r1\n  lsrs r2, r6\n  add r2, r9\n  strb r2, [r0, #0]\n"                    \
    "  muls r4, r7\n  muls r7, r3\n  adds r7, r7, r5\n  lsrs r7, r7, #16\n  adds r7, r7, r4\n"  \
    "  lsrs r7, r6\n  add r7, r9\n  ldr r3, [sp, #12]\n  strb r7, [r0, r3]\n  mov r1, r8\n"      \
    l "6:\n"
// (a row's frequent side paths, below the origin; g as UF_PQ2_M0_ROW's, from here)
#define UF_PQ2_M0_ROW_NEG(l, g9, g8)  /* (g9, g8: the ways to l9, l8) */                   \
    l "1:\n"                                /* y0 < 0: act_min; pixel 1 alone (r3 = F) */     \
    "  subs r2, r7, r3\n  mov r3, r9\n  strb r3, [r0, #0]\n  blt " l "7f\n"                    \
    "  lsrs r3, r6, #16\n  cmp r2, r3\n  bhs " g9 "\n"                                        \
    "  uxth r3, r4\n  lsrs r4, r4, #16\n  muls r3, r2\n  muls r4, r2\n"                        \
    "  adds r3, r3, r5\n  lsrs r3, r3, #16\n  adds r4, r4, r3\n  lsrs r4, r6\n"                 \
    "  add r4, r9\n  ldr r3, [sp, #12]\n  strb r4, [r0, r3]\n  b " l "6b\n"                    \
    l "7:\n"                                /* y1 < 0 (r3 = act_min) */                       \
    "  ldr r7, [sp, #12]\n  strb r3, [r0, r7]\n  b " l "6b\n"                                  \
    l "2:\n"                                /* y1 < 0 <= y0: pixel 0 alone */                 \
    "  lsrs r3, r6, #16\n  cmp r2, r3\n  bhs " g8 "\n"                                        \
    "  uxth r3, r4\n  lsrs r4, r4, #16\n  muls r3, r2\n  muls r4, r2\n"                        \
    "  adds r3, r3, r5\n  lsrs r3, r3, #16\n  adds r4, r4, r3\n  lsrs r4, r6\n"                 \
    "  add r4, r9\n  strb r4, [r0, #0]\n  mov r3, r9\n  b " l "7b\n"
// (a sum at T or more: u from uf_rqt_u_m0, clamped to R; the other pixel as above. l3: y0, y1
// >= 0 in r2, r7 (r3 = T); l8: y0 >= T, y1 in r7 (any sign); l9: y1 >= T in r2 (pixel 0
// done); r1 past the entry, m, C and the last word in r4, r5, r6.)
#define UF_PQ2_M0_ROW_T(l)                                                                    \
    l "3:\n"                                                                                  \
    "  cmp r2, r3\n  bhs " l "8f\n"                                                           \
    "  push {r7}\n"                                                                           \
    "  uxth r3, r4\n  lsrs r7, r4, #16\n  muls r3, r2\n  muls r7, r2\n"                        \
    "  adds r3, r3, r5\n  lsrs r3, r3, #16\n  adds r7, r7, r3\n  lsrs r7, r6\n"                 \
    "  add r7, r9\n  strb r7, [r0, #0]\n  pop {r2}\n  b " l "9f\n"                             \
    l "8:\n"                                                                                  \
    "  push {r7}\n"                                                                           \
    "  push {lr}\n  bl uf_rqt_u_m0\n  pop {r3}\n  mov lr, r3\n"                                \
    "  ldr r3, [sp, #12]\n  cmp r4, r3\n  bls " l "0f\n  movs r4, r3\n"     /* R */            \
    l "0:\n"                                                                                  \
    "  add r4, r9\n  strb r4, [r0, #0]\n"                                                     \
    "  subs r1, #12\n  ldm r1!, {r4, r5, r6}\n  pop {r2}\n"                                    \
    "  cmp r2, #0\n  blt " l "4f\n"                                                           \
    "  lsrs r3, r6, #16\n  cmp r2, r3\n  bhs " l "9f\n"                                        \
    "  uxth r3, r4\n  lsrs r4, r4, #16\n  muls r3, r2\n  muls r4, r2\n"                        \
    "  adds r3, r3, r5\n  lsrs r3, r3, #16\n  adds r4, r4, r3\n  lsrs r4, r6\n  b " l "5f\n"   \
    l "4:\n"                                                                                  \
    "  mov r3, r9\n  ldr r7, [sp, #12]\n  strb r3, [r0, r7]\n  b " l "6b\n"                    \
    l "9:\n"                                                                                  \
    "  push {lr}\n  bl uf_rqt_u_m0\n  pop {r3}\n  mov lr, r3\n"                                \
    "  ldr r3, [sp, #8]\n  cmp r4, r3\n  bls " l "5f\n  movs r4, r3\n"                         \
    l "5:\n"                                                                                  \
    "  add r4, r9\n  ldr r3, [sp, #12]\n  strb r4, [r0, r3]\n  b " l "6b\n"
// The row pair's four sums requantized (out: r0 at pixel 0's output of the pair's row 0;
// after, r0 at the next pair's): rows 1 and 2 (in r8, r6 and r10, r7 as the passes leave them),
// the side paths below the origin after the row pair loop's branch (UF_PQ2_M0_TRAMP, with
// trampolines to l3), the rest after the kernel's return (UF_PQ2_M0_SIDES)
#define UF_PQ2_M0_EPILOGUE                                                                    \
    "  mov r11, r7\n  negs r7, r6\n  lsls r2, r7, #16\n  add r2, r8\n"                        \
    UF_PQ2_M0_ROW("1", "75f", "73f")                                                          \
    "  mov r7, r11\n  negs r7, r7\n  lsls r2, r7, #16\n  add r2, r10\n  adds r0, #1\n"         \
    UF_PQ2_M0_ROW("2", "22f", "74f")                                                          \
    "  adds r0, #1\n"
#define UF_PQ2_M0_TRAMP                                                                       \
    "73:\n  b 13f\n74:\n  b 23f\n75:\n  b 12f\n76:\n  b 19f\n77:\n  b 18f\n78:\n  b 29f\n79:\n  b 28f\n" \
    UF_PQ2_M0_ROW_NEG("2", "78b", "79b") UF_PQ2_M0_ROW_NEG("1", "76b", "77b")
#define UF_PQ2_M0_SIDES UF_PQ2_M0_ROW_T("2") UF_PQ2_M0_ROW_T("1")
// uf_pack2_m0's word steps (X[k] from byte k of r4, r5 at r2 + o), for the kernels' own
// packing of a pixel pair at a word address (no call: ~21 cycles a pair fewer)
#define UF_PQ_M0_PACK_LO(o) /* from bytes 0 */                                              \
    "  sxtb r6, r4\n  lsls r7, r5, #24\n  asrs r7, r7, #8\n  subs r6, r6, r7\n  str r6, [r2, #" o "]\n"
#define UF_PQ_M0_PACK_HI(o) /* from bytes 3 */                                              \
    "  asrs r6, r4, #24\n  asrs r7, r5, #24\n  lsls r7, r7, #16\n  subs r6, r6, r7\n  str r6, [r2, #" o "]\n"
// (name, the passes)
#define UF_MAC2X2PQ_M0(name, passes, in_c)                                                    \
__asm__(                                                                                      \
    UF_M0_BEGIN(name) UF_M0_SAVE                                                              \
    "  sub sp, #32\n"  /* lr: out, [sp]: the pair's out, [sp+4]: act_min, [sp+8]: the range, */ \
                       /* [sp+12]: out_c, [sp+16]: X, [sp+20]: W, [sp+24]: x, [sp+28]: pairs */ \
                       /* left; out_c, x, pairs at [sp+68], [sp+72], [sp+76] */              \
    "  str r2, [sp, #0]\n  str r0, [sp, #16]\n  str r1, [sp, #20]\n"                         \
    "  ldr r4, [r3, #4]\n  str r4, [sp, #4]\n  mov r9, r4\n"                                  \
    "  ldr r5, [r3, #8]\n  subs r5, r5, r4\n  str r5, [sp, #8]\n"                             \
    "  ldr r4, [sp, #68]\n  str r4, [sp, #12]\n"                                              \
    "  ldr r4, [sp, #72]\n  str r4, [sp, #24]\n"                                              \
    "  ldr r4, [sp, #76]\n  str r4, [sp, #28]\n"                                              \
    UF_MAC2X2PA_M0_32768                                                                      \
    "1:\n"                    /* a pixel pair: its inputs packed into X */                    \
    "  ldr r0, [sp, #24]\n  ldr r2, [sp, #16]\n  movs r3, #" in_c "\n  adds r3, r3, r0\n"     \
    "  lsls r1, r0, #30\n  bne 3f\n"   /* x at a word: packed here, else by uf_pack2_m0 */     \
    "  movs r1, r3\n"                                                                         \
    "4:\n"                                                                                    \
    "  ldm r0!, {r4}\n  ldm r1!, {r5}\n"                                                      \
    UF_PQ_M0_PACK_LO("0") UF_PQ_M0_PACK_HI("12") "  rev16 r4, r4\n  rev16 r5, r5\n"           \
    UF_PQ_M0_PACK_LO("4") UF_PQ_M0_PACK_HI("8")                                               \
    "  adds r2, #16\n  cmp r0, r3\n  bne 4b\n"                                                 \
    "  str r1, [sp, #24]\n  b 5f\n"                                                           \
    "3:\n"                                                                                    \
    "  movs r0, r3\n  movs r1, #" in_c "\n  adds r1, r1, r0\n"                                 \
    "  str r1, [sp, #24]\n  movs r3, #" in_c "\n"                                             \
    "  bl uf_pack2_m0\n"                                                                     \
    "5:\n"                                                                                    \
    "  ldr r0, [sp, #0]\n  mov lr, r0\n  ldr r1, [sp, #20]\n  ldr r0, [sp, #16]\n"             \
    "2:\n"                                                                                    \
    passes                                                                                    \
    "  mov r0, lr\n"                                                                          \
    UF_PQ2_M0_EPILOGUE                                                                        \
    "  mov lr, r0\n"                                                                          \
    "  ldr r0, [sp, #16]\n"                                                                   \
    "  lsls r3, r6, #24\n"  /* bit 8 of the last row's 15 + r: the table's end */              \
    "  bcs 8f\n  b 2b\n" UF_PQ2_M0_TRAMP "8:\n"                                               \
    "  ldr r0, [sp, #0]\n  ldr r3, [sp, #12]\n  lsls r3, r3, #1\n  adds r0, r0, r3\n"       \
    "  str r0, [sp, #0]\n"    /* the next pair's out */                                       \
    "  ldr r4, [sp, #28]\n  subs r4, r4, #1\n  str r4, [sp, #28]\n"                           \
    "  beq 9f\n  b 1b\n9:\n"                                                                  \
    "  add sp, #32\n"                                                                         \
    UF_M0_RESTORE                                                                             \
    UF_PQ2_M0_SIDES                                                                           \
    UF_M0_END(name))
#define UF_MAC2X2PA_M0_4A UF_MAC2X2PA_M0_4(UF_MAC2X2PA_M0_ADD)
UF_MAC2X2PQ_M0("uf_mac2x2pq8_m0", UF_MAC2X2PA_M0_4(UF_MAC2X2PA_M0_MOV), "8");
UF_MAC2X2PQ_M0("uf_mac2x2pq16_m0", UF_MAC2X2PA_M0_4(UF_MAC2X2PA_M0_MOV) UF_MAC2X2PA_M0_4A, "16");
UF_MAC2X2PQ_M0("uf_mac2x2pq32_m0", UF_MAC2X2PA_M0_4(UF_MAC2X2PA_M0_MOV) UF_MAC2X2PA_M0_4A
               UF_MAC2X2PA_M0_4A UF_MAC2X2PA_M0_4A, "32");
// uf_mac2x2pq8_m0 for n inputs, a multiple of 8 (> 0): after a row pair's first four passes
// 32 per loop test, entered at the pass (n - 8) / 8 mod 8 groups of four before its end (a
// jump by ADD PC, its offset computed once: ~21.2 cycles per 8 MACs at n = 128, sixteen
// passes per test: 21.3; the loop's 966 bytes of code save ~60 k cycles on person_detect),
// lr at X's end and out on the stack (conv.c's conv1x1_wtab_m0: the
// layers of more than 32 inputs, their table in kernel_spec's scratch). For each of `pairs`
// (> 0) pixel pairs: with x, the pair's inputs at x (n bytes apart) packed into X by
// uf_pack2_m0, then x += 2 n; without (x NULL), the pair's inputs already packed at X, then
// X += n words (the inputs packed once). Outputs and the table as uf_mac2x2pq8_m0's (T
// marked: UF_RQT_M0).
void uf_mac2x2pqn_m0(int32_t *X, const int32_t *W, int8_t *out, const int32_t *lim, int out_c, const int8_t *x,
                     int pairs, int n);
__asm__(
    UF_M0_BEGIN("uf_mac2x2pqn_m0") UF_M0_SAVE
    "  sub sp, #44\n"  /* [sp]: the row pair's out, [sp+4]: act_min, [sp+8]: the range, [sp+12]: */
                       /* out_c, [sp+16]: X, [sp+20]: W, [sp+24]: x, [sp+28]: pairs left, */
                       /* [sp+32]: the pixel pair's out, [sp+36]: 4 n, [sp+40]: the entry's */
                       /* offset; out_c, x, pairs, n at [sp+80], [sp+84], [sp+88], [sp+92] */
    "  str r2, [sp, #32]\n  str r0, [sp, #16]\n  str r1, [sp, #20]\n"
    "  ldr r4, [r3, #4]\n  str r4, [sp, #4]\n  mov r9, r4\n"
    "  ldr r5, [r3, #8]\n  subs r5, r5, r4\n  str r5, [sp, #8]\n"
    "  ldr r4, [sp, #80]\n  str r4, [sp, #12]\n"
    "  ldr r4, [sp, #84]\n  str r4, [sp, #24]\n"
    "  ldr r4, [sp, #88]\n  str r4, [sp, #28]\n"
    "  ldr r4, [sp, #92]\n  lsls r5, r4, #2\n  str r5, [sp, #36]\n"
    /* the entry: (-(n / 8 - 1) mod 8) groups into the loop (120 bytes each) less 2 (ADD PC */
    /* reads its own address + 4, the loop starts 2 after it); n = 8: past the loop */
    "  lsrs r4, r4, #3\n  subs r4, #1\n  beq 7f\n"
    "  rsbs r4, r4, #0\n  lsls r4, r4, #29\n  lsrs r4, r4, #29\n  movs r5, #120\n  muls r4, r5\n"
    "  subs r4, #2\n  b 4f\n"
    "7:\n  movs r4, #241\n  lsls r4, r4, #2\n"  /* 964: past the loop's 966 bytes */
    "4:\n  str r4, [sp, #40]\n"
    UF_MAC2X2PA_M0_32768
    "1:\n"                    /* a pixel pair */
    "  ldr r0, [sp, #24]\n  cmp r0, #0\n  beq 4f\n"
    "  ldr r3, [sp, #92]\n  adds r0, r0, r3\n  adds r1, r0, r3\n"  /* its inputs' ends */
    "  str r1, [sp, #24]\n  ldr r2, [sp, #16]\n"
    "  bl uf_pack2_m0\n"
    "4:\n"
    "  ldr r0, [sp, #32]\n  str r0, [sp, #0]\n"
    "  ldr r1, [sp, #20]\n  ldr r0, [sp, #16]\n  ldr r4, [sp, #36]\n  adds r4, r4, r0\n  mov lr, r4\n"
    "2:\n"
    UF_MAC2X2PA_M0_4(UF_MAC2X2PA_M0_MOV)
    "  ldr r2, [sp, #40]\n  add pc, r2\n"
    ".Luf_pqn_loop:\n"
    UF_MAC2X2PA_M0_4A UF_MAC2X2PA_M0_4A UF_MAC2X2PA_M0_4A UF_MAC2X2PA_M0_4A
    UF_MAC2X2PA_M0_4A UF_MAC2X2PA_M0_4A UF_MAC2X2PA_M0_4A UF_MAC2X2PA_M0_4A
    "  cmp r0, lr\n  beq .Luf_pqn_end\n  b .Luf_pqn_loop\n"
    ".Luf_pqn_end:\n"
    ".if .Luf_pqn_end - .Luf_pqn_loop != 966\n  .error \"uf_mac2x2pqn_m0's loop is not 8 x 120 bytes\"\n.endif\n"
    "  ldr r0, [sp, #0]\n"
    UF_PQ2_M0_EPILOGUE
    "  str r0, [sp, #0]\n"
    "  ldr r0, [sp, #16]\n"
    "  lsls r3, r6, #24\n"  /* bit 8 of the last row's 15 + r: the table's end */
    "  bcs 8f\n  b 2b\n" UF_PQ2_M0_TRAMP "8:\n"
    "  ldr r0, [sp, #32]\n  ldr r3, [sp, #12]\n  lsls r3, r3, #1\n  adds r0, r0, r3\n"
    "  str r0, [sp, #32]\n"   /* the next pair's out */
    "  ldr r0, [sp, #24]\n  cmp r0, #0\n  bne 6f\n"
    "  ldr r0, [sp, #16]\n  ldr r3, [sp, #36]\n  adds r0, r0, r3\n  str r0, [sp, #16]\n"  /* X += n */
    "6:\n"
    "  ldr r4, [sp, #28]\n  subs r4, r4, #1\n  str r4, [sp, #28]\n"
    "  beq 9f\n  b 1b\n9:\n"
    "  add sp, #44\n"
    UF_M0_RESTORE
    UF_PQ2_M0_SIDES
    UF_M0_END("uf_mac2x2pqn_m0"));
#endif
#endif

#if UF_MAC_M0 || defined(UF_MAC_TEST_MUL16)
// SaturatingRoundingDoublingHighMul for ARMv6-M: its only multiply is the 32-bit
// MULS, and GCC's 64-bit product is a libgcc call of ~80 cycles. Four 16x16
// partial products build the same exact 64-bit product inline.
static UF_MAC_NOINLINE int32_t uf_srdhm_mul16(int32_t a, int32_t b) {
    if (a == UF_INT32_MIN && b == UF_INT32_MIN) {
        return UF_INT32_MAX;
    }
    uint32_t al = (uint32_t)a & 0xffffu, bl = (uint32_t)b & 0xffffu;
    int32_t ah = a >> 16, bh = b >> 16;
    int64_t mid = (int64_t)((int32_t)al * bh) + (int32_t)bl * ah;   // each fits int32
    uint64_t p = ((uint64_t)(int64_t)(ah * bh) << 32) + ((uint64_t)mid << 16) + al * bl;
    // gemmlowp's nudge (1 << 30, or 1 - (1 << 30) below zero) and division
    // toward zero equal, for every product, a floor of (ab + 2^30) / 2^31.
    // Bits 31..62 of the sum, whatever its sign.
    return (int32_t)(uint32_t)((p + ((uint64_t)1 << 30)) >> 31);
}

#if UF_MAC_M0
// The same product in 23 single-cycle Thumb-1 instructions, inline: the four
// 16x16 partial products summed as a 64-bit H:L with ADDS/ADCS, then bits
// 31..62 plus bit 30 (the +2^30 nudge carries into bit 31 exactly when bit
// 30 is set). Exact for every pair but a = b = INT32_MIN (the caller checks).
static inline __attribute__((always_inline)) int32_t uf_srdhm_m0(int32_t a, int32_t b) {
    int32_t al, bl, lo, t;
    __asm__(
        ".syntax unified\n"   // (GCC switches inline asm to divided syntax)
        "uxth %[al], %[a]\n"
        "asrs %[a], %[a], #16\n"       // a: high half
        "uxth %[bl], %[b]\n"
        "asrs %[b], %[b], #16\n"       // b: high half
        "movs %[lo], %[al]\n"
        "muls %[lo], %[bl]\n"          // lo = al*bl (unsigned, exact)
        "muls %[bl], %[a]\n"           // ah*bl
        "muls %[al], %[b]\n"           // al*bh
        "muls %[b], %[a]\n"            // H = ah*bh
        "lsls %[t], %[bl], #16\n"
        "asrs %[bl], %[bl], #16\n"
        "adds %[lo], %[lo], %[t]\n"
        "adcs %[b], %[bl]\n"           // H:L += ah*bl << 16
        "lsls %[t], %[al], #16\n"
        "asrs %[al], %[al], #16\n"
        "adds %[lo], %[lo], %[t]\n"
        "adcs %[b], %[al]\n"           // H:L += al*bh << 16
        "lsrs %[t], %[lo], #31\n"
        "lsls %[b], %[b], #1\n"
        "orrs %[b], %[t]\n"            // bits 31..62 (ORRS keeps the carry flag)
        "lsls %[t], %[lo], #2\n"       // carry = bit 30
        "movs %[t], #0\n"
        "adcs %[b], %[t]\n"
        : [a] "+l"(a), [b] "+l"(b), [al] "=&l"(al), [bl] "=&l"(bl), [lo] "=&l"(lo), [t] "=&l"(t)
        :
        : "cc");
    return b;
}

UF_MAC_INLINE int32_t uf_srdhm_m0_any(int32_t a, int32_t b) {
    return b == UF_INT32_MIN ? uf_srdhm_mul16(a, b) : uf_srdhm_m0(a, b);
}
#endif

#endif

#if UF_MAC_BLOCKED || defined(UF_MAC_TEST_MUL16)
#if UF_MAC_M0
#define UF_SRDHM uf_srdhm_m0_any
#elif defined(UF_MAC_TEST_MUL16)
#define UF_SRDHM uf_srdhm_mul16
#else
// uf_srdhm, inline (GCC -Os calls it otherwise): one 32x32->64 multiply on these cores.
UF_MAC_INLINE int32_t uf_srdhm_inl(int32_t a, int32_t b) {
    if (a == UF_INT32_MIN && b == UF_INT32_MIN) {
        return UF_INT32_MAX;
    }
    // gemmlowp's nudge (1 << 30, or 1 - (1 << 30) below zero) and division toward
    // zero equal, for every product, a floor of (ab + 2^30) / 2^31.
    return (int32_t)(((int64_t)a * b + ((int64_t)1 << 30)) >> 31);
}
#define UF_SRDHM uf_srdhm_inl
#endif

// uf_requant with the multiply above, all inline (GCC -Os leaves uf_requant_ch a call).
UF_MAC_INLINE int32_t uf_requant_v(int32_t acc, int32_t m, int32_t s, int32_t out_off,
                                   int32_t act_min, int32_t act_max) {
    int32_t v;
    if (s > 0) {
        v = UF_SRDHM((int32_t)((uint32_t)acc << s), m);
    } else {   // uf_rdbypot
        int32_t x = UF_SRDHM(acc, m), mask = (int32_t)(((uint32_t)1 << -s) - 1);
        v = (x >> -s) + ((x & mask) > (mask >> 1) + (x < 0) ? 1 : 0);
    }
    v += out_off;
    return v < act_min ? act_min : (v > act_max ? act_max : v);
}
#endif

// uf_requant_ch with the multiply above where the core needs it.
UF_MAC_INLINE int32_t uf_requant_mac(int32_t acc, const void *mult, const void *shift, size_t ch,
                                     int32_t out_off, int32_t act_min, int32_t act_max) {
#if UF_MAC_BLOCKED || defined(UF_MAC_TEST_MUL16)
    return uf_requant_v(acc, uf_ld_i32(mult, ch), uf_ld_i32(shift, ch), out_off, act_min, act_max);
#else
    return uf_requant_ch(acc, mult, shift, ch, out_off, act_min, act_max);
#endif
}

// out[j] = requantized acc[j] + bias[ch + j] for j < n, channel ch + j's scale:
// one call per block of outputs, the per-channel math inlined once here.
static UF_MAC_NOINLINE void uf_requant_block(const int32_t *acc, int n, const void *bias,
                                             int8_t *out, const void *mult, const void *shift,
                                             int ch, int out_off, int act_min, int act_max) {
#if UF_MAC_BLOCKED && !UF_UNALIGNED_LOADS
    // Word-aligned constants (the usual case): direct loads, no test per element.
    const int32_t *b = (const int32_t *)(const void *)((const uint8_t *)bias + 4 * ch);
    const int32_t *m = (const int32_t *)(const void *)((const uint8_t *)mult + 4 * ch);
    const int32_t *s = (const int32_t *)(const void *)((const uint8_t *)shift + 4 * ch);
    if ((((uintptr_t)b | (uintptr_t)m | (uintptr_t)s) & 3u) == 0) {
        for (int j = 0; j < n; j++) {
            out[j] = (int8_t)uf_requant_v(acc[j] + b[j], m[j], s[j], out_off, act_min, act_max);
        }
        return;
    }
#endif
    for (int j = 0; j < n; j++) {
        out[j] = (int8_t)uf_requant_mac(acc[j] + uf_ld_i32(bias, ch + j), mult, shift, ch + j,
                                        out_off, act_min, act_max);
    }
}

#if UF_MAC_M0 || defined(__riscv)
#if UF_MAC_M0
// (inline in uf_rq_m0_prepare's loop on the M0+: no call per channel)
#define UF_RQ1_ENTRY_LINKAGE UF_MAC_INLINE
#else
#define UF_RQ1_ENTRY_LINKAGE static UF_MAC_NOINLINE UF_MAC_UNUSED
#endif
// uf_rq1_m0's entry for one channel (bias b, multiplier m, right shift r = -TFLM's shift,
// lo = act_min - out_off, the caller's lim checked: uf_rq1_m0_lim); 0 where the channel
// does not qualify (see uf_rq1_m0).
// The caller's sums are below 2^30 in magnitude (with |b|, |F| <= 2^30: acc + b and
// acc - F never wrap, as TFLM's int32 sum would not).
// xs = ceil((lo D - K) / m) = ceil(a 2^30 / m) with a = lo 2^(r+1) - 2^r - 1 (|a| <
// 2^14 here): an estimate from about 2^46 / m (within 3), then f = xs m - a 2^30 in 32-bit
// pieces, f = h 2^16 + l (0 <= l < 2^16; |xs mh|, |xs ml| < 2^31 for m = mh 2^16 + ml),
// stepped into [0, m): C = f. No 64-bit arithmetic (libgcc's is slow on ARMv6-M).
UF_RQ1_ENTRY_LINKAGE int uf_rq1_m0_entry(uf_rq_m0_t *e, int32_t b, int32_t m,
                                                         int right, int32_t lo) {
    if (m < (1 << 30) || right < 1 || right > 13 || b < -(1 << 30) || b > (1 << 30) ||
        lo >= (1 << 14) >> (right + 1)) {
        return 0;
    }
    int32_t a = lo * ((int32_t)1 << (right + 1)) - ((int32_t)1 << right) - 1;   // |a| < 2^14
    // inv = about 2^31 / mm = 2^46 / m (mm = m >> 15 in [2^15, 2^16)) without a divide
    // (ARMv6-M has none): the linear seed 2^16 (24/17 - 16/17 mm / 2^16) (within 1/17),
    // then two Newton steps inv += inv (2^31 - mm inv) / 2^31 (within about 2^-14).
    uint32_t mm = (uint32_t)m >> 15;
    int32_t inv = 92521 - (int32_t)((mm * 30841u) >> 15);
    for (int i = 0; i < 2; i++) {
        int32_t err = (int32_t)(0x80000000u - mm * (uint32_t)inv);
        inv += (inv * (err >> 15)) >> 16;
    }
    int32_t x = ((a * inv) >> 16) + 1;
    int32_t mh = m >> 16, ml = m & 0xFFFF;
    int32_t l = x * ml, h = x * mh - a * (1 << 14) + (l >> 16);
    l &= 0xFFFF;
    for (int i = 0; i < 8 && h < 0; i++) {
        x++, h += mh, l += ml;
        if (l >= 0x10000) {
            l -= 0x10000, h++;
        }
    }
    for (int i = 0; i < 8 && (h > mh || (h == mh && l >= ml)); i++) {
        x--, h -= mh, l -= ml;
        if (l < 0) {
            l += 0x10000, h--;
        }
    }
    if (h < 0 || h > mh || (h == mh && l >= ml)) {
        return 0;
    }
    e->bias = x - b;   // |x| < 2^15
    e->mult2 = (uint32_t)m;
    e->half = h * 0x10000 + l;   // C < m
    e->shifts = 15 + right;
    return 1;
}

#if UF_MAC_M0 && UF_M0_CONV_ASM
// uf_rq1_m0_entry for t[j], j < n (n >= 0), from word-aligned bw, mw, sw (the channels'
// bias, multiplier, shift) and lo, with UF_RQT_M0's bound T in the last word's high half
// (uf_rqt_m0_mark's; tb = 2^(16 + floor(log2(R + 1))), its value at r = 0), in Thumb-1
// (GCC's loop spills: about 150 cycles a channel plus the mark's 21; this one about 76):
// 1 when every channel qualifies, else 0 (at the first that does not, or at once where lo
// >= 2^12, which no right shift takes; uf_rq_m0_prepare's C loop then decides every
// entry). The C's arithmetic but for the reciprocal, inv2 = about 2^32 / mm (a 128-entry
// table at the middle of mm's steps of 2^8, then one Newton step, inv2 += inv2 (2^32 - mm
// inv2) / 2^32 with the product taken mod 2^32), the estimate x = (a inv2 >> 17) + 1 and
// its check: |inv2 / 2^17 - 2^30 / m| < 3.1e-5 for every m in [2^30, 2^31) (computed over
// every mm, the extremes at its m's ends), so with |a| < 16378 the estimate a inv2 / 2^17
// is within 1/2 of a 2^30 / m and x within 1 of xs; then f = x m - a 2^30 taken mod 2^32
// is in [0, m) (unsigned) exactly where x = xs (x = xs - 1: f in [-m, 0), above 2^31 - 1 as
// unsigned; x = xs + 1: f in [m, 2m), below 2^32): C = f. Else (rare) the C's h, l give f
// as a 64-bit fh:fl, stepped into [0, m) by adding or subtracting m (x counted along).
// T = min(tb << r, 2^31) (0 where the shift passes bit 31). Register use: r7 = 4j - 4n, r8-r10
// = the ends of bw, mw, sw, r11 = t[j], r12 = lo, lr = tb.
int uf_rq1_m0_prep(uf_rq_m0_t *t, int n, const int32_t *bw, const int32_t *mw, const int32_t *sw, int32_t lo,
                   uint32_t tb);
__asm__(
    UF_M0_BEGIN("uf_rq1_m0_prep") UF_M0_SAVE
    "  sub sp, #16\n"                      // [sp+4]: r (the rare path)
    "  mov r11, r0\n"
    "  lsls r7, r1, #2\n"                 // 4n: the arrays' ends, r7 = -4n .. -4
    "  adds r2, r2, r7\n  mov r8, r2\n  adds r3, r3, r7\n  mov r9, r3\n"
    "  ldr r4, [sp, #52]\n  adds r4, r4, r7\n  mov r10, r4\n"
    "  ldr r4, [sp, #60]\n  mov lr, r4\n"
    "  ldr r4, [sp, #56]\n  mov r12, r4\n"
    "  lsrs r4, r4, #12\n  bne 9f\n"       // lo >= 2^12: no channel qualifies
    "  negs r7, r7\n"
    "  beq 8f\n"
    "1:\n"
    "  mov r1, r10\n  ldr r4, [r1, r7]\n  negs r4, r4\n"   // r = -s (r4 until the store)
    "  subs r5, r4, #1\n  cmp r5, #12\n  bhi 9f\n"         // r in 1..13
    "  mov r1, r9\n  ldr r3, [r1, r7]\n"   // m
    "  lsrs r5, r3, #30\n  cmp r5, #1\n  bne 9f\n"          // 2^30 <= m < 2^31
    "  mov r1, r8\n  ldr r2, [r1, r7]\n"   // b (r2 until the store)
    "  asrs r5, r2, #30\n  adds r5, #1\n  cmp r5, #1\n  bhi 9f\n"   // -2^30 <= b < 2^30
    "  mov r6, r12\n  adds r0, r4, #1\n  lsls r6, r0\n"    // lo 2^(r + 1) (below 2^26)
    "  asrs r5, r6, #14\n  bne 9f\n"                       // below 2^14
    "  movs r5, #1\n  lsls r5, r4\n  subs r6, r6, r5\n  subs r6, #1\n"   // a, -8193 <= a < 16378
    "  lsrs r5, r3, #15\n"                 // mm
    "  lsrs r1, r3, #23\n  subs r1, #128\n  lsls r1, r1, #2\n  adr r0, 5f\n  ldr r0, [r0, r1]\n"   // seed
    "  movs r1, r5\n  muls r1, r0\n  negs r1, r1\n  asrs r1, r1, #15\n  muls r1, r0\n"
    "  asrs r1, r1, #17\n  adds r0, r0, r1\n"   // inv2
    "  muls r0, r6\n  asrs r0, r0, #17\n  adds r0, #1\n"   // x
    "  lsls r1, r6, #30\n  movs r6, r3\n  muls r6, r0\n  subs r6, r6, r1\n"   // f mod 2^32
    "  cmp r6, r3\n  bhs 6f\n"             // x = xs: C = f
    "3:\n"                                 // r0 = x, r2 = b, r3 = m, r4 = r, r6 = C
    "  subs r1, r0, r2\n"                  // F = x - b
    "  mov r5, lr\n  lsls r5, r4\n  bne 2f\n"              // T << 16
    "  movs r5, #1\n  lsls r5, r5, #31\n"
    "2:\n"
    "  adds r5, r5, r4\n  adds r5, #15\n"  // 15 + r | T << 16
    "  movs r2, r3\n  movs r3, r6\n"
    "  mov r0, r11\n  adds r0, #4\n  stm r0!, {r1, r2, r3, r5}\n  mov r11, r0\n"
    "  adds r7, #4\n  bne 1b\n"
    "8:\n"
    "  movs r0, #1\n"
    "7:\n"
    "  add sp, #16\n"
    UF_M0_RESTORE
    "9:\n"
    "  movs r0, #0\n  b 7b\n"
    "6:\n"                                 // x = xs +- 1: the 64-bit f from h, l
    "  str r4, [sp, #4]\n"                 // (r)
    "  mov r6, r12\n  adds r1, r4, #1\n  lsls r6, r1\n"
    "  movs r5, #1\n  lsls r5, r4\n  subs r6, r6, r5\n  subs r6, #1\n"   // a again
    "  lsrs r5, r3, #16\n  uxth r1, r3\n"  // mh, ml
    "  movs r2, r1\n  muls r2, r0\n"       // x ml
    "  movs r4, r5\n  muls r4, r0\n"       // x mh
    "  lsls r6, r6, #14\n  subs r4, r4, r6\n"
    "  asrs r6, r2, #16\n  adds r4, r4, r6\n"   // h
    "  uxth r2, r2\n"                      // l
    "  lsls r6, r4, #16\n  adds r6, r6, r2\n  asrs r4, r4, #16\n"   // f = r4:r6
    "  movs r5, #0\n"
    "61:\n"                                // f < 0: x++, f += m
    "  cmp r4, #0\n  bge 62f\n"
    "  adds r6, r6, r3\n  adcs r4, r5\n  adds r0, #1\n  b 61b\n"
    "62:\n"                                // f >= m: x--, f -= m
    "  subs r6, r6, r3\n  sbcs r4, r5\n  bmi 63f\n"
    "  subs r0, #1\n  b 62b\n"
    "63:\n"
    "  adds r6, r6, r3\n"                  // C (f's high word back at 0)
    "  ldr r4, [sp, #4]\n  mov r2, r8\n  ldr r2, [r2, r7]\n  b 3b\n"   // r, b back
    "  .align 2\n5:\n"   // 2^32 / mm at the middle of mm's 128 steps of 2^8 (2^47 / m's seed)
    "  .word 130562, 129554, 128561, 127583, 126620, 125672, 124738, 123817\n"
    "  .word 122910, 122016, 121135, 120267, 119411, 118567, 117735, 116914\n"
    "  .word 116105, 115307, 114520, 113744, 112978, 112222, 111477, 110741\n"
    "  .word 110015, 109298, 108590, 107892, 107203, 106522, 105850, 105186\n"
    "  .word 104531, 103884, 103244, 102613, 101989, 101373, 100764, 100162\n"
    "  .word 99568, 98981, 98400, 97826, 97259, 96699, 96145, 95597\n"
    "  .word 95055, 94520, 93990, 93466, 92949, 92436, 91930, 91429\n"
    "  .word 90933, 90443, 89958, 89478, 89004, 88534, 88069, 87609\n"
    "  .word 87154, 86704, 86258, 85817, 85380, 84948, 84520, 84096\n"
    "  .word 83677, 83262, 82850, 82443, 82040, 81641, 81246, 80854\n"
    "  .word 80466, 80082, 79702, 79325, 78952, 78582, 78215, 77853\n"
    "  .word 77493, 77137, 76784, 76434, 76087, 75744, 75403, 75066\n"
    "  .word 74731, 74400, 74072, 73746, 73423, 73103, 72786, 72472\n"
    "  .word 72160, 71851, 71545, 71241, 70940, 70641, 70345, 70051\n"
    "  .word 69760, 69471, 69184, 68900, 68618, 68339, 68062, 67787\n"
    "  .word 67514, 67243, 66975, 66709, 66444, 66182, 65922, 65664\n"
    UF_M0_END("uf_rq1_m0_prep"));
#endif

#if UF_MAC_M0 && UF_M0_CONV_ASM
// d[j]'s four words after .acc = s[j]'s (the entry, opaque), j < n (n > 0): 15 cycles an
// entry (LDM/STM; GCC's word copy takes 24; natmods have no memcpy).
void uf_rq_m0_copy(uf_rq_m0_t *d, const uf_rq_m0_t *s, int n);
__asm__(
    UF_M0_BEGIN("uf_rq_m0_copy")
    "  push {r4, r5, r6, lr}\n"
    "1:\n"
    "  adds r0, #4\n  adds r1, #4\n"
    "  ldm r1!, {r3, r4, r5, r6}\n  stm r0!, {r3, r4, r5, r6}\n"
    "  subs r2, #1\n  bne 1b\n"
    "  pop {r4, r5, r6, pc}\n"
    UF_M0_END("uf_rq_m0_copy"));
#endif

// Whether lim = {out_off, act_min, act_max} suits uf_rq1_m0 (act_min >= out_off).
UF_MAC_INLINE int uf_rq1_m0_lim(const int32_t *lim) {
    return lim && lim[1] >= lim[0] && lim[0] >= -(1 << 20) && lim[1] <= (1 << 20) && lim[2] >= lim[1];
}
#endif

#if UF_MAC_M0

// floor(log2(R + 1)), at most 15, for lim's R = act_max - act_min (UF_RQT_M0's bound)
UF_MAC_INLINE int uf_rqt_m0_lg(const int32_t *lim) {
    uint32_t v = (uint32_t)(lim[2] - lim[1]) + 1;   // (>= 1; a binary search: no CLZ on ARMv6-M)
    int lg = 0;
    if (v >> 16) {
        return 15;
    }
    if (v >> 8) {
        v >>= 8, lg += 8;
    }
    if (v >> 4) {
        v >>= 4, lg += 4;
    }
    if (v >> 2) {
        v >>= 2, lg += 2;
    }
    return lg + (int)(v >> 1);
}

// UF_RQT_M0's bound T (see there) into the high half of t[j].shifts (j < n) for a table of
// uf_rq1_m0's entries and its lim (uf_rq1_m0 reads only bits 0..7 of the word):
// uf_rq_m0_prepare's C path (its asm sets T itself).
static UF_MAC_NOINLINE UF_MAC_UNUSED void uf_rqt_m0_mark(uf_rq_m0_t *t, int n, const int32_t *lim) {
    int lg = uf_rqt_m0_lg(lim);
    for (int j = 0; j < n; j++) {
        int k = (t[j].shifts & 255) - 15 + lg;
        k = k < 15 ? k : 15;
        t[j].shifts = (int32_t)(((uint32_t)t[j].shifts & 0xFFFFu) | (uint32_t)1 << (k + 16));
    }
}

// Fill t[j] (j < n) for channel ch + j; 0 (uf_rq_m0_out then requantizes in C) if
// a channel's multiplier is negative or its shift is outside -31..31, else 2 if
// every channel qualifies for uf_rq1_m0 (lim = {out_off, act_min, act_max} not NULL,
// only where every accumulator is below 2^30 in magnitude), 1 otherwise (uf_rq_m0's
// table, exact for any int32 sum, acc + bias wrapping). ok == 2's entries carry UF_RQT_M0's
// bound T (uf_rqt_m0_mark's). About 80 cycles per channel for uf_rq1_m0's where all three
// arrays are word-aligned (uf_rq1_m0_prep), 170 otherwise.
static UF_MAC_NOINLINE UF_MAC_UNUSED int uf_rq_m0_prepare_c(uf_rq_m0_t *t, int n,
                                                            const void *bias, const void *mult,
                                                            const void *shift, int ch,
                                                            const int32_t *lim) {
    int ok = uf_rq1_m0_lim(lim) ? 2 : 1;
    int32_t lo = ok == 2 ? lim[1] - lim[0] : 0;
    const int32_t *bw = (const int32_t *)(const void *)((const uint8_t *)bias + 4 * ch);
    const int32_t *mw = (const int32_t *)(const void *)((const uint8_t *)mult + 4 * ch);
    const int32_t *sw = (const int32_t *)(const void *)((const uint8_t *)shift + 4 * ch);
    int aligned = !(((uintptr_t)bw | (uintptr_t)mw | (uintptr_t)sw) & 3u);
    for (int j = 0; j < n; j++) {
        int32_t m, s, b;
        if (aligned) {
            m = mw[j], s = sw[j], b = bw[j];
        } else {
            m = uf_ld_i32(mult, ch + j), s = uf_ld_i32(shift, ch + j), b = uf_ld_i32(bias, ch + j);
        }
        if (m < 0 || s < -31 || s > 31) {
            return 0;
        }
        if (ok == 2) {
            if (uf_rq1_m0_entry(&t[j], b, m, (int)-s, lo)) {
                continue;
            }
            ok = 1, j = -1;   // uf_rq_m0's table from the start
            continue;
        }
        int right = s > 0 ? 0 : (int)-s;
        t[j].bias = b;
        t[j].shifts = right | (s > 0 ? s : 0) << 8 | (right == 0) << 16;
        t[j].mult2 = (uint32_t)m << 1;
        t[j].half = right ? (int32_t)1 << (right - 1) : 0;
    }
    if (ok == 2) {
        uf_rqt_m0_mark(t, n, lim);
    }
    return ok;
}
static UF_MAC_NOINLINE UF_MAC_UNUSED int uf_rq_m0_prepare(uf_rq_m0_t *t, int n,
                                                          const void *bias, const void *mult,
                                                          const void *shift, int ch,
                                                          const int32_t *lim) {
#if UF_M0_CONV_ASM
    // the usual table (uf_rq1_m0_prep), else the C path (its own function: few live values here)
    uintptr_t b = (uintptr_t)bias + 4 * (uintptr_t)ch, m = (uintptr_t)mult + 4 * (uintptr_t)ch;
    uintptr_t s = (uintptr_t)shift + 4 * (uintptr_t)ch;
    if (uf_rq1_m0_lim(lim) && !((b | m | s) & 3u)
        && uf_rq1_m0_prep(t, n, (const int32_t *)b, (const int32_t *)m, (const int32_t *)s, lim[1] - lim[0],
                          (uint32_t)1 << (16 + uf_rqt_m0_lg(lim)))) {
        return 2;
    }
#endif
    return uf_rq_m0_prepare_c(t, n, bias, mult, shift, ch, lim);
}


// out[j] = t[j].acc requantized for channel ch + j, j < n: uf_rq_m0 when the table
// is ready (ok), else the C path.
static UF_MAC_NOINLINE UF_MAC_UNUSED void uf_rq_m0_out(const uf_rq_m0_t *t, int n, int ok,
                                                        const int32_t *lim, int8_t *out,
                                                        const void *bias, const void *mult,
                                                        const void *shift, int ch) {
    if (ok) {
        if (n > 0) {
            if (ok == 2) {
                uf_rq1_m0(t, out, n, lim);
            } else {
                uf_rq_m0(t, out, n, lim);
            }
        }
        return;
    }
    for (int j = 0; j < n; j++) {
        out[j] = (int8_t)uf_requant_mac(t[j].acc + uf_ld_i32(bias, ch + j), mult, shift, ch + j,
                                        lim[0], lim[1], lim[2]);
    }
}
#endif

#if UF_MAC_BLOCKED && !UF_MAC_M0
// Requantization constants of one output channel, built once per layer and block
// of channels: left/right = TFLM's shift split, mask = 2^right - 1, thr = mask >> 1
// (uf_rdbypot's), so the per-output work is one 32x32->64 multiply and a few ALU
// operations, no branch on the shift's sign.
typedef struct {
    int32_t bias, mult, left, right, mask, thr;
#if UF_MAC_PAIRS
    uint32_t clo;   // (uf_rq_out's one-rounding path, ok == 2) 2^30 + 2^(30 + right),
    int32_t chi;    // its low and high words; right - 1 in left
#endif
} uf_rq_t;

// Fill t[j] (j < n) for channel ch + j; 0 (uf_rq_out then takes uf_requant_block)
// if a multiplier is INT32_MIN (the SRDHM's saturating case) or a shift is outside
// -31..31.
static UF_MAC_NOINLINE UF_MAC_UNUSED int uf_rq_prepare(uf_rq_t *t, int n, const void *bias,
                                                       const void *mult, const void *shift,
                                                       int ch) {
    for (int j = 0; j < n; j++) {
        int32_t m = uf_ld_i32(mult, ch + j), s = uf_ld_i32(shift, ch + j);
        if (m == UF_INT32_MIN || s < -31 || s > 31) {
            return 0;
        }
        t[j].bias = uf_ld_i32(bias, ch + j);
        t[j].mult = m;
        t[j].left = s > 0 ? s : 0;
        t[j].right = s > 0 ? 0 : -s;
        t[j].mask = (int32_t)(((uint32_t)1 << t[j].right) - 1);
        t[j].thr = t[j].mask >> 1;
    }
#if UF_MAC_PAIRS
    // Every shift a right shift (TFLM's usual case): uf_rq_out's one-rounding path.
    for (int j = 0; j < n; j++) {
        if (t[j].right == 0) {
            return 1;
        }
    }
    for (int j = 0; j < n; j++) {
        uint64_t c = ((uint64_t)1 << 30) + ((uint64_t)1 << (30 + t[j].right));
        t[j].clo = (uint32_t)c;
        t[j].chi = (int32_t)(c >> 32);
        t[j].left = t[j].right - 1;
    }
    return 2;
#else
    return 1;
#endif
}

#if defined(__riscv)
// RV32: uf_rq_prepare, or 3 (uf_rq_out's origin path) where every channel qualifies for
// uf_rq1_m0's one-floor scheme (uf_rq1_m0_entry, act_min >= out_off; taps < 2^15: every
// sum, with the padded taps' correction, below 2^30 in magnitude): bias = F, mult = m,
// clo = C, left = r - 1. An output is then act_min below F, else act_min + min(u,
// act_max - act_min) with u = the high word of the 64-bit (acc - F) m + C (MUL, MULHU,
// one carry) >> (r - 1).
static UF_MAC_NOINLINE UF_MAC_UNUSED int uf_rq_prepare_lim(uf_rq_t *t, int n, const void *bias,
                                                           const void *mult, const void *shift,
                                                           int ch, int taps, int out_off,
                                                           int act_min, int act_max) {
    const int32_t lim[3] = {out_off, act_min, act_max};
    if (taps >= 0 && taps < 32768 && uf_rq1_m0_lim(lim)) {
        int j = 0;
        for (; j < n; j++) {
            uf_rq_m0_t e;
            int32_t m = uf_ld_i32(mult, ch + j), s = uf_ld_i32(shift, ch + j);
            if (s < -31 || s > -1 || !uf_rq1_m0_entry(&e, uf_ld_i32(bias, ch + j), m, (int)-s,
                                                      act_min - out_off)) {
                break;
            }
            t[j].bias = e.bias, t[j].mult = m, t[j].clo = (uint32_t)e.half, t[j].left = -s - 1;
        }
        if (j == n) {
            return 3;
        }
    }
    return uf_rq_prepare(t, n, bias, mult, shift, ch);
}
#else
#define uf_rq_prepare_lim(t, n, bias, mult, shift, ch, taps, out_off, act_min, act_max) \
    uf_rq_prepare(t, n, bias, mult, shift, ch)
#endif

#if defined(__riscv)
// uf_rq_out's origin path (ok == 3) for four pixels i < 4 (two if not four) of channels
// j < n (n > 0): acc[i * 32 + j] into out[i * out_c + j], each channel's constants loaded
// once.
static UF_MAC_NOINLINE UF_MAC_UNUSED void uf_rq_out4_rv(const int32_t *acc, const uf_rq_t *t, int n,
                                                        int8_t *out, int out_c, int act_min,
                                                        int act_max, int four) {
    uint32_t range = (uint32_t)(act_max - act_min);
    int8_t *o1 = out + out_c, *o2 = o1 + out_c, *o3 = o2 + out_c;
    const int32_t *end = acc + n;
#define UF_RQ1_RV(i, o) do {                                                           \
        int32_t y = acc[32 * (i)] - f, v = act_min;                                    \
        if (y >= 0) {                                                                  \
            uint64_t p = (uint64_t)(uint32_t)y * m + c;                                \
            uint32_t u = (uint32_t)(p >> 32) >> sh;                                    \
            v = u > range ? act_max : act_min + (int32_t)u;                            \
        }                                                                              \
        *o++ = (int8_t)v;                                                              \
    } while (0)
    do {
        int32_t f = t->bias;
        uint32_t m = (uint32_t)t->mult, c = t->clo;
        int sh = t->left;
        UF_RQ1_RV(0, out);
        UF_RQ1_RV(1, o1);
        if (four) {
            UF_RQ1_RV(2, o2);
            UF_RQ1_RV(3, o3);
        }
        t++;
    } while (++acc < end);
#undef UF_RQ1_RV
}
#endif

// out[j] = requantized acc[j] + bias of channel ch + j, j < n: uf_requant_v's
// arithmetic with t's constants when ok, else uf_requant_block.
static UF_MAC_NOINLINE UF_MAC_UNUSED void uf_rq_out(const int32_t *acc, const uf_rq_t *t, int n,
                                                    int ok, int8_t *out, const void *bias,
                                                    const void *mult, const void *shift, int ch,
                                                    int out_off, int act_min, int act_max) {
    if (!ok) {
        uf_requant_block(acc, n, bias, out, mult, shift, ch, out_off, act_min, act_max);
        return;
    }
#if defined(__riscv)
    if (ok == 3) {   // uf_rq_prepare_lim's origin path
        const int32_t *end = acc + n;
        uint32_t range = (uint32_t)(act_max - act_min);
        if (n <= 0) {
            return;
        }
        do {
            int32_t y = *acc - t->bias, v = act_min;
            if (y >= 0) {
                uint64_t p = (uint64_t)(uint32_t)y * (uint32_t)t->mult + t->clo;
                uint32_t u = (uint32_t)(p >> 32) >> t->left;
                v = u > range ? act_max : act_min + (int32_t)u;
            }
            *out++ = (int8_t)v;
            t++;
        } while (++acc < end);
        return;
    }
#endif
#if UF_MAC_PAIRS
    if (ok == 2) {
        // TFLM rounds twice: q = (P + 2^30) >> 31 (P = x * mult, 64 bits), then q / 2^r
        // to nearest, ties away from zero: floor((q + 2^(r-1) - [q < 0]) / 2^r). Nested
        // floors of integers fold: floor((P + 2^30 + (2^(r-1) - [q < 0]) 2^31) / 2^(31+r)),
        // and (r >= 1) [q < 0] may be read as [P < 0]: for -2^30 <= P < 0 both give 0.
        // A shift of 31 + r >= 32 leaves the high word shifted by r - 1. |P| < 2^62, the
        // constant below 2^62: no overflow.
        const int32_t *end = acc + n;
#if !defined(__XTENSA__)
        uint32_t range = (uint32_t)(act_max - act_min);
#endif
        if (n <= 0) {
            return;
        }
        do {
#if defined(__XTENSA__)
            // Xtensa has no set-less-than: the carries below would cost branches. Without
            // them: TFLM's q = floor((P + 2^30) / 2^31) = 2 hi + ((lo >> 30) + 1) >> 1 (the
            // low word's top two bits b: (b 2^30 + rest + 2^30) / 2^31), an int32
            // (|mult| < 2^31); then the rounding above, (s + 2^(r-1)) >> r with s = q - [q < 0]
            // (no overflow: q > INT32_MIN), as (s >> r) + bit r - 1 of s.
            int64_t p = (int64_t)(*acc + t->bias) * t->mult;
            uint32_t q = ((uint32_t)(p >> 32) << 1) + ((((uint32_t)p >> 30) + 1) >> 1);
            int32_t h = (int32_t)(q - (q >> 31)) >> t->left;
            int32_t v = (h >> 1) + (h & 1) + out_off;
            // the clamp by MAX and MIN (the MINMAX option: ESP32, ESP32-S2 and -S3), no
            // branch (a ReLU clamps about two outputs in five)
            v = v < act_min ? act_min : v;
            v = v > act_max ? act_max : v;
#else
            int64_t p = (int64_t)(*acc + t->bias) * t->mult;
            uint32_t lo = (uint32_t)p, sub = (uint32_t)(p >> 32) & 0x80000000u;
            int32_t hi = (int32_t)(p >> 32) - (lo < sub);
            lo -= sub;
            uint32_t l2 = lo + t->clo;
            hi += t->chi + (l2 < lo);
            int32_t v = (hi >> t->left) + out_off;
            if (__builtin_expect((uint32_t)(v - act_min) > range, 0)) {   // one test in range
                v = v < act_min ? act_min : act_max;
            }
#endif
            *out++ = (int8_t)v;
            t++;
        } while (++acc < end);
        return;
    }
#endif
    for (int j = 0; j < n; j++, t++) {
        int32_t x = (int32_t)((uint32_t)(acc[j] + t->bias) << t->left);
        // uf_srdhm_inl: exact, the multiplier is not INT32_MIN
        int32_t q = (int32_t)(((int64_t)x * t->mult + ((int64_t)1 << 30)) >> 31);
        int32_t v = (q >> t->right) + ((q & t->mask) > t->thr + (q < 0) ? 1 : 0) + out_off;
        out[j] = (int8_t)(v < act_min ? act_min : (v > act_max ? act_max : v));
    }
}
#endif

// acc[j] = sum over k < n of x[k] * w[j*stride + k], for the four rows j = 0..3
// (four output channels of one pixel: each input value is loaded once).
#if UF_MAC_VECTOR
static inline
#else
static UF_MAC_NOINLINE
#endif
void uf_dot4_s8(const int8_t *x, const int8_t *w, int n, int stride,
                int32_t *acc) {
    acc[0] = acc[1] = acc[2] = acc[3] = 0;
#if UF_MAC_M0
    if (n > 0) {
        uf_mac4_m0(x + n, w + n, n, acc, stride, 1);
    }
#else
    const int8_t *w1 = w + stride, *w2 = w1 + stride, *w3 = w2 + stride;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    int k = 0;
#if UF_MAC_DSP
    // Four inputs per pass: rows 0..3 at w, w1, w + 2*stride, w1 + 2*stride, the last
    // two through LDR's shifted register offset, so nothing spills (GCC kept two row
    // pointers on the stack). ARMv7E-M loads unaligned words.
    if (n >= 4) {
        const int8_t *xe_end = x + (n & ~3);
        const int8_t *xp = x, *wp = w, *w1p = w1;
        int32_t xe, xo, v, t;
        __asm__(
            "1:\n"
            "  ldr %[v], [%[x]], #4\n"
            "  sxtb16 %[xe], %[v]\n"
            "  sxtb16 %[xo], %[v], ror #8\n"
            "  ldr %[v], [%[w], %[s], lsl #1]\n"
            "  sxtb16 %[t], %[v]\n  sxtb16 %[v], %[v], ror #8\n"
            "  smlad %[a2], %[xo], %[v], %[a2]\n  smlad %[a2], %[xe], %[t], %[a2]\n"
            "  ldr %[v], [%[w1], %[s], lsl #1]\n"
            "  sxtb16 %[t], %[v]\n  sxtb16 %[v], %[v], ror #8\n"
            "  smlad %[a3], %[xo], %[v], %[a3]\n  smlad %[a3], %[xe], %[t], %[a3]\n"
            "  ldr %[v], [%[w1]], #4\n"
            "  sxtb16 %[t], %[v]\n  sxtb16 %[v], %[v], ror #8\n"
            "  smlad %[a1], %[xo], %[v], %[a1]\n  smlad %[a1], %[xe], %[t], %[a1]\n"
            "  ldr %[v], [%[w]], #4\n"
            "  sxtb16 %[t], %[v]\n  sxtb16 %[v], %[v], ror #8\n"
            "  smlad %[a0], %[xo], %[v], %[a0]\n  smlad %[a0], %[xe], %[t], %[a0]\n"
            "  cmp %[x], %[end]\n"
            "  bne 1b\n"
            : [x] "+r"(xp), [w] "+r"(wp), [w1] "+r"(w1p), [a0] "+r"(a0), [a1] "+r"(a1),
              [a2] "+r"(a2), [a3] "+r"(a3), [xe] "=&r"(xe), [xo] "=&r"(xo), [v] "=&r"(v),
              [t] "=&r"(t)
            : [s] "r"(stride), [end] "r"(xe_end)
            : "cc", "memory");
        k = n & ~3;
    }
#endif
    for (; k < n; k++) {
        int32_t v = x[k];
        a0 += v * w[k];
        a1 += v * w1[k];
        a2 += v * w2[k];
        a3 += v * w3[k];
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
#endif
}

#if UF_MAC_PAIRS
// acc0[j], acc1[j] = sum over k < n of x0[k], x1[k] times w[j*stride + k]: two pixels
// by four rows j, each loaded weight serving two pixels, each input four rows.
// Unrolled by four with constant offsets (RV32 loads take one), pointers advance.
static UF_MAC_NOINLINE UF_MAC_UNUSED void uf_dot4x2_s8(const int8_t *x0, const int8_t *x1,
                                                       const int8_t *w, int n, int stride,
                                                       int32_t *acc0, int32_t *acc1) {
    const int8_t *w1 = w + stride, *w2 = w1 + stride, *w3 = w2 + stride;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
#define UF_MAC_STEP(i) do {                                                   \
        int32_t u = x0[i], v = x1[i], c;                                      \
        c = w[i]; a0 += u * c; b0 += v * c;                                   \
        c = w1[i]; a1 += u * c; b1 += v * c;                                  \
        c = w2[i]; a2 += u * c; b2 += v * c;                                  \
        c = w3[i]; a3 += u * c; b3 += v * c;                                  \
    } while (0)
    int k = n >> 2;
    for (; k > 0; k--) {
        UF_MAC_STEP(0);
        UF_MAC_STEP(1);
        UF_MAC_STEP(2);
        UF_MAC_STEP(3);
        x0 += 4, x1 += 4, w += 4, w1 += 4, w2 += 4, w3 += 4;
    }
    for (k = n & 3; k > 0; k--) {
        UF_MAC_STEP(0);
        x0++, x1++, w++, w1++, w2++, w3++;
    }
#undef UF_MAC_STEP
    acc0[0] = a0, acc0[1] = a1, acc0[2] = a2, acc0[3] = a3;
    acc1[0] = b0, acc1[1] = b1, acc1[2] = b2, acc1[3] = b3;
}
#endif

#if defined(__XTENSA__) && !defined(UF_MAC8_NO_CONV)
// Xtensa (ESP32 LX6, ESP32-S2/S3 LX7: windowed ABI; the base ISA, SEXT and MUL16's
// MUL16S, 16x16 signed, which the three cores' configurations (core-isa.h) all have:
// XCHAL_HAVE_MUL16 1; not MAC16 nor zero-overhead loops: the ESP32-S2 has neither;
// QEMU's de233_fpu runs MUL16S): two rows by two pixels, the
// pixels' inputs widened once per pixel pair into xx (xx[2k] = x0[k], xx[2k + 1] =
// x1[k], int16), so one L16SI loads a signed input and every value stays in a
// register (LLVM spills the four-row kernel's sums: its sixteen-register window).
// For n > 0 inputs and pairs > 0 row pairs (rows n bytes apart): acc[2j], acc[2j + 1]
// = rows 2j, 2j + 1 of pixel 0, acc[32 + 2j], acc[33 + 2j] those of pixel 1
// (UF_DW_BLOCK apart). Eight inputs per pass, then one at a time; the counters and
// bases on the stack (slots 16..39: clear of the window spill areas).
// Local symbol: conv.c's own copy.
void uf_dot2x2_xt(const int16_t *xx, const int8_t *w, int n, int pairs, int32_t *acc);
#define UF_XT_STEP(i, xo, vo)                                                     \
    "  l8ui a14, a3, " i "\n  l8ui a5, a7, " i "\n  l16si a12, a2, " xo "\n"      \
    "  sext a14, a14, 7\n  l16si a13, a2, " vo "\n  sext a5, a5, 7\n"            \
    "  mul16s a15, a14, a12\n  add a8, a8, a15\n  mul16s a15, a14, a13\n"        \
    "  add a10, a10, a15\n  mul16s a15, a5, a12\n  add a9, a9, a15\n"            \
    "  mul16s a15, a5, a13\n  add a11, a11, a15\n"
// uf_dot2x2h_xt: the same where the rows start at even addresses (w and n even): one
// L16SI loads two inputs' weights of a row, SEXT and SRAI split them (26 instructions
// per two inputs, not 28).
void uf_dot2x2h_xt(const int16_t *xx, const int8_t *w, int n, int pairs, int32_t *acc);
#define UF_XT_STEP2(i, xo, vo, xo1, vo1)                                          \
    "  l16si a14, a3, " i "\n  l16si a12, a2, " xo "\n  l16si a13, a2, " vo "\n"  \
    "  l16si a5, a7, " i "\n  sext a6, a14, 7\n"                                 \
    "  mul16s a15, a6, a12\n  add a8, a8, a15\n  mul16s a15, a6, a13\n"          \
    "  add a10, a10, a15\n  sext a6, a5, 7\n  mul16s a15, a6, a12\n"             \
    "  add a9, a9, a15\n  mul16s a15, a6, a13\n  add a11, a11, a15\n"            \
    "  l16si a12, a2, " xo1 "\n  l16si a13, a2, " vo1 "\n"                       \
    "  srai a14, a14, 8\n  srai a5, a5, 8\n"                                     \
    "  mul16s a15, a14, a12\n  add a8, a8, a15\n  mul16s a15, a14, a13\n"        \
    "  add a10, a10, a15\n  mul16s a15, a5, a12\n  add a9, a9, a15\n"            \
    "  mul16s a15, a5, a13\n  add a11, a11, a15\n"
#define UF_DOT2X2_XT(name, pass)                                                  \
    "  .pushsection .text\n  .align 4\n  .type " name ", @function\n" name ":\n"  \
    "  entry a1, 96\n"                                                            \
    "  s32i a6, a1, 16\n  s32i a2, a1, 24\n  s32i a5, a1, 32\n  s32i a4, a1, 36\n" \
    "  extui a6, a4, 0, 3\n  s32i a6, a1, 20\n"   /* n mod 8 */                   \
    "  srai a6, a4, 3\n  s32i a6, a1, 28\n"       /* passes of eight */           \
    "  add a7, a3, a4\n"                          /* a3, a7: the pair's rows */   \
    "5:\n"                                                                        \
    "  movi a8, 0\n  movi a9, 0\n  movi a10, 0\n  movi a11, 0\n"                  \
    "  l32i a4, a1, 28\n"                                                         \
    "  beqz a4, 2f\n"                                                             \
    "1:\n" pass                                                                   \
    "  addi a2, a2, 32\n  addi a3, a3, 8\n  addi a7, a7, 8\n  addi a4, a4, -1\n"  \
    "  bnez a4, 1b\n"                                                             \
    "2:\n"                                                                        \
    "  l32i a4, a1, 20\n"                                                         \
    "  beqz a4, 4f\n"                                                             \
    "3:\n" UF_XT_STEP("0", "0", "2")                                              \
    "  addi a2, a2, 4\n  addi a3, a3, 1\n  addi a7, a7, 1\n  addi a4, a4, -1\n"   \
    "  bnez a4, 3b\n"                                                             \
    "4:\n"                                                                        \
    "  l32i a6, a1, 16\n"                                                         \
    "  s32i a8, a6, 0\n  s32i a9, a6, 4\n  s32i a10, a6, 128\n  s32i a11, a6, 132\n" \
    "  addi a6, a6, 8\n  s32i a6, a1, 16\n"                                       \
    "  l32i a2, a1, 24\n"                         /* the inputs again */          \
    "  l32i a4, a1, 36\n  or a3, a7, a7\n  add a7, a7, a4\n"  /* the next rows */ \
    "  l32i a4, a1, 32\n  addi a4, a4, -1\n  s32i a4, a1, 32\n"                   \
    "  bnez a4, 5b\n"                                                             \
    "  retw\n"                                                                    \
    "  .size " name ", .-" name "\n  .popsection\n"
__asm__(UF_DOT2X2_XT("uf_dot2x2_xt",
                     UF_XT_STEP("0", "0", "2") UF_XT_STEP("1", "4", "6")
                     UF_XT_STEP("2", "8", "10") UF_XT_STEP("3", "12", "14")
                     UF_XT_STEP("4", "16", "18") UF_XT_STEP("5", "20", "22")
                     UF_XT_STEP("6", "24", "26") UF_XT_STEP("7", "28", "30")));
__asm__(UF_DOT2X2_XT("uf_dot2x2h_xt",
                     UF_XT_STEP2("0", "0", "2", "4", "6") UF_XT_STEP2("2", "8", "10", "12", "14")
                     UF_XT_STEP2("4", "16", "18", "20", "22")
                     UF_XT_STEP2("6", "24", "26", "28", "30")));
#undef UF_XT_STEP2
#undef UF_DOT2X2_XT
#undef UF_XT_STEP

// xx[2k] = x0[k], xx[2k + 1] = x1[k] for k < n (n > 0): uf_dot2x2_xt's inputs, four
// per pass (LLVM's loop took about twice the cycles: a load-use stall per byte).
void uf_widen2_xt(int16_t *xx, const int8_t *x0, const int8_t *x1, int n);
#define UF_W2_XT(i, o)                                                            \
    "  l8ui a7, a3, " i "\n  l8ui a8, a4, " i "\n  sext a7, a7, 7\n"              \
    "  sext a8, a8, 7\n  s16i a7, a2, " o "\n  s16i a8, a2, " o " + 2\n"
__asm__(
    "  .pushsection .text\n  .align 4\n  .type uf_widen2_xt, @function\n"
    "uf_widen2_xt:\n"
    "  entry a1, 32\n"
    "  srai a6, a5, 2\n"
    "  beqz a6, 2f\n"
    "1:\n"
    UF_W2_XT("0", "0") UF_W2_XT("1", "4") UF_W2_XT("2", "8") UF_W2_XT("3", "12")
    "  addi a3, a3, 4\n  addi a4, a4, 4\n  addi a2, a2, 16\n  addi a6, a6, -1\n"
    "  bnez a6, 1b\n"
    "2:\n"
    "  extui a6, a5, 0, 2\n"
    "  beqz a6, 4f\n"
    "3:\n"
    UF_W2_XT("0", "0")
    "  addi a3, a3, 1\n  addi a4, a4, 1\n  addi a2, a2, 4\n  addi a6, a6, -1\n"
    "  bnez a6, 3b\n"
    "4:\n"
    "  retw\n"
    "  .size uf_widen2_xt, .-uf_widen2_xt\n  .popsection\n");
#undef UF_W2_XT

// Depthwise taps of four channels of two output pixels (conv.c's dw_taps2_s8 on
// Xtensa), every value in a register: x0 at pixel 0's first valid tap, w at the
// taps' weights, acc as above (acc[0..3] pixel 0, acc[32..35] pixel 1). g: {x1 - x0,
// rows, cols * w_col, x_col, w_col, x_row - cols * x_col, w_row - cols * w_col};
// rows, cols > 0. uf_dw2c_xt: four input channels per tap (xs = 1; a0 the second
// pixel's input); uf_dw2s_xt: one input value for the four channels (xs = 0). The
// column steps and the counters on the stack (slots 16..48: clear of the spill areas).
void uf_dw2c_xt(const int8_t *x0, const int8_t *w, const int32_t *g, int32_t *acc);
void uf_dw2s_xt(const int8_t *x0, const int8_t *w, const int32_t *g, int32_t *acc);
#define UF_DW2_XT_BEGIN(name)                                                     \
    "  .pushsection .text\n  .align 4\n  .type " name ", @function\n" name ":\n"  \
    "  entry a1, 96\n  s32i a0, a1, 16\n  s32i a5, a1, 20\n"                       \
    "  l32i a6, a4, 4\n  s32i a6, a1, 24\n  l32i a6, a4, 8\n  s32i a6, a1, 28\n"   \
    "  add a6, a3, a6\n  s32i a6, a1, 32\n"                                       \
    "  l32i a6, a4, 12\n  s32i a6, a1, 36\n  l32i a5, a4, 16\n  s32i a5, a1, 40\n" \
    "  l32i a6, a4, 20\n  s32i a6, a1, 44\n  l32i a6, a4, 24\n  s32i a6, a1, 48\n" \
    "  l32i a6, a4, 0\n  add a4, a2, a6\n"                                         \
    "  movi a6, 0\n  movi a7, 0\n  movi a8, 0\n  movi a9, 0\n"                    \
    "  movi a10, 0\n  movi a11, 0\n  movi a12, 0\n  movi a13, 0\n"
#define UF_DW2_XT_END(name, t)                                                    \
    "  l32i " t ", a1, 44\n  add a2, a2, " t "\n  add a4, a4, " t "\n"             \
    "  l32i " t ", a1, 48\n  add a3, a3, " t "\n"                                  \
    "  l32i " t ", a1, 28\n  add " t ", a3, " t "\n  s32i " t ", a1, 32\n"         \
    "  l32i " t ", a1, 24\n  addi " t ", " t ", -1\n  s32i " t ", a1, 24\n"        \
    "  bnez " t ", 1b\n"                                                          \
    "  l32i a0, a1, 16\n  l32i a14, a1, 20\n"                                     \
    "  s32i a6, a14, 0\n  s32i a7, a14, 4\n  s32i a8, a14, 8\n  s32i a9, a14, 12\n" \
    "  s32i a10, a14, 128\n  s32i a11, a14, 132\n  s32i a12, a14, 136\n"          \
    "  s32i a13, a14, 140\n  retw\n"                                              \
    "  .size " name ", .-" name "\n  .popsection\n"
// xs = 1: channel j's weight a14, inputs a15 (pixel 0) and a0 (pixel 1).
#define UF_DW2C_XT_CH(j, a, b)                                                    \
    "  l8ui a14, a3, " j "\n  l8ui a15, a2, " j "\n  l8ui a0, a4, " j "\n"        \
    "  sext a14, a14, 7\n  sext a15, a15, 7\n  sext a0, a0, 7\n"                  \
    "  mul16s a15, a15, a14\n  mul16s a0, a0, a14\n"                                  \
    "  add " a ", " a ", a15\n  add " b ", " b ", a0\n"
__asm__(
    UF_DW2_XT_BEGIN("uf_dw2c_xt")
    "1:\n"
    UF_DW2C_XT_CH("0", "a6", "a10") UF_DW2C_XT_CH("1", "a7", "a11")
    UF_DW2C_XT_CH("2", "a8", "a12") UF_DW2C_XT_CH("3", "a9", "a13")
    "  l32i a14, a1, 36\n  add a3, a3, a5\n  add a2, a2, a14\n  add a4, a4, a14\n"
    "  l32i a14, a1, 32\n  sub a14, a3, a14\n  bnez a14, 1b\n"
    UF_DW2_XT_END("uf_dw2c_xt", "a14"));
// xs = 0: inputs a14, a15 (sign-extended once per tap), channel j's weight a0,
// products a5 (the column steps read from the stack).
#define UF_DW2S_XT_CH(j, a, b, next)                                              \
    "  mul16s a5, a0, a14\n  add " a ", " a ", a5\n  mul16s a5, a0, a15\n" next        \
    "  add " b ", " b ", a5\n"
#define UF_DW2S_XT_LD(j) "  l8ui a0, a3, " j "\n"
#define UF_DW2S_XT_SX "  sext a0, a0, 7\n"
__asm__(
    UF_DW2_XT_BEGIN("uf_dw2s_xt")
    "1:\n"
    "  l8ui a14, a2, 0\n  l8ui a15, a4, 0\n  l8ui a0, a3, 0\n"
    "  sext a14, a14, 7\n  sext a15, a15, 7\n  sext a0, a0, 7\n"
    UF_DW2S_XT_CH("0", "a6", "a10", UF_DW2S_XT_LD("1")) UF_DW2S_XT_SX
    UF_DW2S_XT_CH("1", "a7", "a11", UF_DW2S_XT_LD("2")) UF_DW2S_XT_SX
    UF_DW2S_XT_CH("2", "a8", "a12", UF_DW2S_XT_LD("3")) UF_DW2S_XT_SX
    UF_DW2S_XT_CH("3", "a9", "a13", "")
    "  l32i a0, a1, 36\n  l32i a5, a1, 40\n  add a2, a2, a0\n  add a4, a4, a0\n"
    "  add a3, a3, a5\n  l32i a0, a1, 32\n  sub a0, a3, a0\n  bnez a0, 1b\n"
    UF_DW2_XT_END("uf_dw2s_xt", "a0"));
#undef UF_DW2C_XT_CH
#undef UF_DW2S_XT_CH
#undef UF_DW2S_XT_LD
#undef UF_DW2S_XT_SX
#undef UF_DW2_XT_BEGIN
#undef UF_DW2_XT_END
#endif

#if defined(__riscv)
// RV32: four pixels packed in pairs, one word per pixel pair and input: X[k] = x0[k] -
// x1[k] * 2^16 (as uf_mac2x2p_m0's), built once per pixel quad for every row.
#define UF_RV_PACKED 256
// Four pixels (two pairs A = x0, x1 and B = x2, x3): per input pair k, k + 1 (n even)
// the four words A[k], A[k + 1], B[k], B[k + 1] in a row.
static UF_MAC_NOINLINE UF_MAC_UNUSED void uf_pack4_rv(const int8_t *x0, const int8_t *x1,
                                                      const int8_t *x2, const int8_t *x3,
                                                      int32_t *X, int n) {
    for (int k = 0; k < n; k += 2, X += 4) {
        X[0] = x0[k] - x1[k] * 65536;
        X[1] = x0[k + 1] - x1[k + 1] * 65536;
        X[2] = x2[k] - x3[k] * 65536;
        X[3] = x2[k + 1] - x3[k + 1] * 65536;
    }
}

// Two rows (w, w + stride) by four pixels on uf_pack4_rv's words (n even, > 0, < 2^16):
// one MUL by a weight gives a pixel pair's two products (uf_mac2x2p_m0's comment derives
// the lanes). Per row, pixel pair and input pair, P = w[k] X[k] + w[k + 1] X[k + 1] = L +
// H 2^16 with L pixel 0's pair sum and H minus pixel 1's; the row's a sums P, its h sums
// (P + 32767) >> 16 = H exactly, so S1 = -h and S0 = a + S1 2^16 (mod 2^32). Each
// weight's LB serves four pixels. acc[i * UF_RV_ACC + j] = pixel i's sum of row j (i < 4,
// j < 2). Per input pair: four LW, four LB, eight MUL and 20 ALU operations for 16 MACs.
#define UF_RV_ACC 32
static UF_MAC_NOINLINE UF_MAC_UNUSED void uf_dot2p2_s8(const int32_t *X, const int8_t *w, int n,
                                                       int stride, int32_t *acc) {
    const int8_t *w1 = w + stride;
    const int32_t *end = X + 2 * n;
    const int32_t c = 32767;
    int32_t a0 = 0, a1 = 0, h0 = 0, h1 = 0, b0 = 0, b1 = 0, g0 = 0, g1 = 0;
#define UF_RV_PAIR2(i) do {                                                            \
        int32_t u = X[2 * (i)], v = X[2 * (i) + 1], y = X[2 * (i) + 2], z = X[2 * (i) + 3]; \
        int32_t e = w[i], f = w[(i) + 1], p;                                            \
        p = e * u + f * v; a0 += p; h0 += (p + c) >> 16;                               \
        p = e * y + f * z; b0 += p; g0 += (p + c) >> 16;                               \
        e = w1[i], f = w1[(i) + 1];                                                     \
        p = e * u + f * v; a1 += p; h1 += (p + c) >> 16;                               \
        p = e * y + f * z; b1 += p; g1 += (p + c) >> 16;                               \
    } while (0)
    if (n & 2) {
        UF_RV_PAIR2(0);
        X += 4, w += 2, w1 += 2;
    }
    while (X < end) {
        UF_RV_PAIR2(0);
        UF_RV_PAIR2(2);
        X += 8, w += 4, w1 += 4;
    }
#undef UF_RV_PAIR2
    acc[0] = (int32_t)((uint32_t)a0 - ((uint32_t)h0 << 16));
    acc[1] = (int32_t)((uint32_t)a1 - ((uint32_t)h1 << 16));
    acc[UF_RV_ACC] = -h0, acc[UF_RV_ACC + 1] = -h1;
    acc[2 * UF_RV_ACC] = (int32_t)((uint32_t)b0 - ((uint32_t)g0 << 16));
    acc[2 * UF_RV_ACC + 1] = (int32_t)((uint32_t)b1 - ((uint32_t)g1 << 16));
    acc[3 * UF_RV_ACC] = -g0, acc[3 * UF_RV_ACC + 1] = -g1;
}

// uf_dot2p2_s8 with three rows (w, w + stride, w + 2 stride): 12 accumulators, each
// packed word serving three rows. Per input pair: four LW, six LB, 12 MUL and 30 ALU
// operations for 24 MACs.
static UF_MAC_NOINLINE UF_MAC_UNUSED void uf_dot3p2_s8(const int32_t *X, const int8_t *w, int n,
                                                       int stride, int32_t *acc) {
    const int8_t *w1 = w + stride, *w2 = w1 + stride;
    const int32_t *end = X + 2 * n;
    const int32_t c = 32767;
    int32_t a0 = 0, a1 = 0, a2 = 0, h0 = 0, h1 = 0, h2 = 0;
    int32_t b0 = 0, b1 = 0, b2 = 0, g0 = 0, g1 = 0, g2 = 0;
#define UF_RV_ROW3(i, wr, a, h, b, g) do {                                                \
        int32_t e = wr[i], f = wr[(i) + 1], p;                                          \
        p = e * u + f * v; a += p; h += (p + c) >> 16;                                 \
        p = e * y + f * z; b += p; g += (p + c) >> 16;                                 \
    } while (0)
#define UF_RV_PAIR3(i) do {                                                            \
        int32_t u = X[2 * (i)], v = X[2 * (i) + 1], y = X[2 * (i) + 2], z = X[2 * (i) + 3]; \
        UF_RV_ROW3(i, w, a0, h0, b0, g0);                                                  \
        UF_RV_ROW3(i, w1, a1, h1, b1, g1);                                                 \
        UF_RV_ROW3(i, w2, a2, h2, b2, g2);                                                 \
    } while (0)
    if (n & 2) {
        UF_RV_PAIR3(0);
        X += 4, w += 2, w1 += 2, w2 += 2;
    }
    while (X < end) {
        UF_RV_PAIR3(0);
        UF_RV_PAIR3(2);
        X += 8, w += 4, w1 += 4, w2 += 4;
    }
#undef UF_RV_PAIR3
#undef UF_RV_ROW3
    acc[0] = (int32_t)((uint32_t)a0 - ((uint32_t)h0 << 16));
    acc[1] = (int32_t)((uint32_t)a1 - ((uint32_t)h1 << 16));
    acc[2] = (int32_t)((uint32_t)a2 - ((uint32_t)h2 << 16));
    acc[UF_RV_ACC] = -h0, acc[UF_RV_ACC + 1] = -h1, acc[UF_RV_ACC + 2] = -h2;
    acc[2 * UF_RV_ACC] = (int32_t)((uint32_t)b0 - ((uint32_t)g0 << 16));
    acc[2 * UF_RV_ACC + 1] = (int32_t)((uint32_t)b1 - ((uint32_t)g1 << 16));
    acc[2 * UF_RV_ACC + 2] = (int32_t)((uint32_t)b2 - ((uint32_t)g2 << 16));
    acc[3 * UF_RV_ACC] = -g0, acc[3 * UF_RV_ACC + 1] = -g1, acc[3 * UF_RV_ACC + 2] = -g2;
}

#endif

// One row: sum over k < n of x[k] * w[k].
static inline int32_t uf_dot1_s8(const int8_t *x, const int8_t *w, int n) {
    int32_t s = 0;
    int k = 0;
#if UF_MAC_DSP
    for (; k + 4 <= n; k += 4) {
        uint32_t xv = uf_bytes_u32((const uint8_t *)x + k);
        uint32_t v = uf_bytes_u32((const uint8_t *)w + k);
        s = __smlad(__sxtb16((int32_t)xv), __sxtb16((int32_t)v),
                    __smlad(uf_sxtb16_odd(xv), uf_sxtb16_odd(v), s));
    }
#endif
    for (; k < n; k++) {
        s += (int32_t)x[k] * w[k];
    }
    return s;
}

#endif
