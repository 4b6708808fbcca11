// The Cortex-M4/M7/M33 (UF_MAC_DSP: ARMv7E-M/ARMv8-M DSP extension) kernels of
// CONV_2D 1x1 and DEPTHWISE_CONV_2D, in hand-scheduled Thumb-2 (GCC -Os spills the
// accumulators of the C versions to the stack):
// - uf_dw4_m4 / uf_dw4x1_m4: depthwise taps, four channels per register block, SXTB16
//   then SMLABB/SMLATT per tap (CMSIS-NN's way for depthwise).
// - uf_mm2x2_m4: 1x1 convolution, two output channels by two pixels per pass, the
//   pixels' inputs widened once to int16 pairs in SXTB16's lane order, so each weight
//   word costs one load and two SXTB16 for four SMLADs.
// - uf_rqf_*: requantization with SMMULR when every channel of a block shifts right.
// Integer sums are exact and associative mod 2^32: every result is bit-exact.
//
// Weights (constants: flash, any address) are read with LDR/LDRSB only: ARMv7E-M and
// ARMv8-M Mainline load unaligned words with LDR (CCR.UNALIGN_TRP clear, the reset
// value, as MicroPython leaves it). Never LDRD/LDM on them, which fault unaligned.
// LDM/STM touch only the stack buffers and accumulator arrays, which are aligned.
#ifndef UPYFLOW_DSP_M4_H
#define UPYFLOW_DSP_M4_H

#include "mac8.h"

#if UF_MAC_DSP

#define UF_M4_BEGIN(name)                                                         \
    "  .pushsection .text\n  .syntax unified\n  .thumb\n  .align 2\n"             \
    "  .type " name ", %function\n  .thumb_func\n" name ":\n"
#define UF_M4_END(name) "  .size " name ", .-" name "\n  .popsection\n"

// Depthwise taps of `groups` blocks of four channels (g[0]), rows x cols taps each
// (g[1], g[2] > 0): for block b, acc[4b + j] = init[4b + j] + sum over the taps of
// x[tap][j] * w[tap][j] (uf_dw4x1_m4: x[tap][0] for every j: one input value).
// x, w at block 0's first tap; between columns x += x_col (g[3]), w += w_col (g[4]);
// after a row's columns x += x_row (g[5]), w += w_row (g[6]); block b + 1 starts at
// x + x_grp (g[7]: 4 or 0), w + 4. init (g[8]) may be acc itself (adding to it).
// Local symbols (no .global): each file that includes this has its own copy.
void uf_dw4_m4(const int8_t *x, const int8_t *w, int32_t *acc, const int32_t *g);
void uf_dw4x1_m4(const int8_t *x, const int8_t *w, int32_t *acc, const int32_t *g);
// r0: x, r1: w, r2: x_col, r3: w_col, r4-r7: the block's four sums, r8: columns left,
// r9: rows left, r10-r12, lr: the tap's values.
#define UF_DW4_M4_TAP                                                             \
    "  ldr r10, [r0]\n"                                                           \
    "  ldr r11, [r1]\n"                                                           \
    "  add r0, r2\n"                                                              \
    "  add r1, r3\n"                                                              \
    "  sxtb16 r12, r10\n"                                                         \
    "  sxtb16 lr, r11\n"                                                          \
    "  sxtb16 r10, r10, ror #8\n"                                                 \
    "  sxtb16 r11, r11, ror #8\n"                                                 \
    "  smlabb r4, r12, lr, r4\n"                                                  \
    "  smlatt r6, r12, lr, r6\n"                                                  \
    "  smlabb r5, r10, r11, r5\n"                                                 \
    "  smlatt r7, r10, r11, r7\n"
#define UF_DW4X1_M4_TAP                                                           \
    "  ldrsb r10, [r0]\n"                                                         \
    "  ldr r11, [r1]\n"                                                           \
    "  add r0, r2\n"                                                              \
    "  add r1, r3\n"                                                              \
    "  sxtb16 lr, r11\n"                                                          \
    "  sxtb16 r11, r11, ror #8\n"                                                 \
    "  smlabb r4, r10, lr, r4\n"                                                  \
    "  smlabt r6, r10, lr, r6\n"                                                  \
    "  smlabb r5, r10, r11, r5\n"                                                 \
    "  smlabt r7, r10, r11, r7\n"
// [sp]: block's x, [sp+4]: its w, [sp+8]: acc, [sp+12]: g, [sp+16]: blocks left,
// [sp+20]: init.
#define UF_DW4_M4(name, tap)                                                      \
    __asm__(                                                                      \
        UF_M4_BEGIN(name)                                                         \
        "  push {r4-r11, lr}\n"                                                   \
        "  sub sp, #24\n"                                                         \
        "  strd r0, r1, [sp, #0]\n"                                               \
        "  strd r2, r3, [sp, #8]\n"                                               \
        "  ldr r4, [r3, #0]\n"                                                    \
        "  ldr r5, [r3, #32]\n"                                                   \
        "  strd r4, r5, [sp, #16]\n"                                              \
        "2:\n"                                                                    \
        "  ldr r12, [sp, #20]\n"                                                  \
        "  ldm r12!, {r4-r7}\n"                                                   \
        "  str r12, [sp, #20]\n"                                                  \
        "  ldr r12, [sp, #12]\n"                                                  \
        "  ldr r9, [r12, #4]\n"                                                   \
        "  ldr r2, [r12, #12]\n"                                                  \
        "  ldr r3, [r12, #16]\n"                                                  \
        "  ldrd r0, r1, [sp, #0]\n"                                               \
        "3:\n"                                                                    \
        "  ldr r12, [sp, #12]\n"                                                  \
        "  ldr r8, [r12, #8]\n"                                                   \
        "  lsrs r8, r8, #1\n"    /* column pairs; C: an odd column first */       \
        "  bcc 4f\n"                                                              \
        tap                                                                       \
        "  cmp r8, #0\n"                                                          \
        "  beq 5f\n"                                                              \
        "4:\n"                                                                    \
        tap tap                                                                   \
        "  subs r8, r8, #1\n"                                                     \
        "  bne 4b\n"                                                              \
        "5:\n"                                                                    \
        "  ldr r12, [sp, #12]\n"                                                  \
        "  ldr r10, [r12, #20]\n"                                                 \
        "  ldr r11, [r12, #24]\n"                                                 \
        "  add r0, r10\n"                                                         \
        "  add r1, r11\n"                                                         \
        "  subs r9, r9, #1\n"                                                     \
        "  bne 3b\n"                                                              \
        "  ldr r12, [sp, #8]\n"                                                   \
        "  stm r12!, {r4-r7}\n"                                                   \
        "  str r12, [sp, #8]\n"                                                   \
        "  ldr r12, [sp, #12]\n"                                                  \
        "  ldr r10, [r12, #28]\n"                                                 \
        "  ldrd r0, r1, [sp, #0]\n"                                               \
        "  add r0, r10\n"                                                         \
        "  adds r1, #4\n"                                                         \
        "  strd r0, r1, [sp, #0]\n"                                               \
        "  ldr r8, [sp, #16]\n"                                                   \
        "  subs r8, r8, #1\n"                                                     \
        "  str r8, [sp, #16]\n"                                                   \
        "  bne 2b\n"                                                              \
        "  add sp, #24\n"                                                         \
        "  pop {r4-r11, pc}\n"                                                    \
        UF_M4_END(name))
UF_DW4_M4("uf_dw4_m4", UF_DW4_M4_TAP);
UF_DW4_M4("uf_dw4x1_m4", UF_DW4X1_M4_TAP);

// The same for full 3x3 windows (UF_DW4_M4_TAP3 mirrors UF_DW4_M4_TAP with immediate
// column offsets in place of the pointer steps), unrolled, over a run of g[6] pixels: g[0] blocks,
// x_col g[1], w_col g[2], x_row g[3] (a whole input row: from one filter row's first
// tap to the next's), x_grp g[4], init g[5] (every pixel's blocks start from it), x_pix
// g[7] (from one pixel's window to the next's). acc: the pixels' 4 * g[0] sums one after
// the other. 11 cycles per tap and four channels.
void uf_dw4_3x3_m4(const int8_t *x, const int8_t *w, int32_t *acc, const int32_t *g);
void uf_dw4x1_3x3_m4(const int8_t *x, const int8_t *w, int32_t *acc, const int32_t *g);
// r0: x at the filter row, r1: w at the tap, r2/r8: x_col and 2 x_col, r3/r9: w_col and
// 2 w_col; (xo, wo): the tap's column offsets.
#define UF_DW4_M4_TAP3(xo, wo)                                                    \
    "  ldr r10, [r0" xo "]\n"                                                     \
    "  ldr r11, [r1" wo "]\n"                                                     \
    "  sxtb16 r12, r10\n"                                                         \
    "  sxtb16 lr, r11\n"                                                          \
    "  sxtb16 r10, r10, ror #8\n"                                                 \
    "  sxtb16 r11, r11, ror #8\n"                                                 \
    "  smlabb r4, r12, lr, r4\n"                                                  \
    "  smlatt r6, r12, lr, r6\n"                                                  \
    "  smlabb r5, r10, r11, r5\n"                                                 \
    "  smlatt r7, r10, r11, r7\n"
#define UF_DW4X1_M4_TAP3(xo, wo)                                                  \
    "  ldrsb r10, [r0" xo "]\n"                                                   \
    "  ldr r11, [r1" wo "]\n"                                                     \
    "  sxtb16 lr, r11\n"                                                          \
    "  sxtb16 r11, r11, ror #8\n"                                                 \
    "  smlabb r4, r10, lr, r4\n"                                                  \
    "  smlabt r6, r10, lr, r6\n"                                                  \
    "  smlabb r5, r10, r11, r5\n"                                                 \
    "  smlabt r7, r10, r11, r7\n"
#define UF_DW4_M4_ROW3(tap) tap("", "") tap(", r2", ", r3") tap(", r8", ", r9")
#define UF_DW4_M4_NEXTROW "  ldr r10, [sp, #20]\n  add r0, r10\n  add r1, r9\n  add r1, r3\n"
// [sp]: the pixel's x, [sp+4]: w, [sp+8]: acc, [sp+12]: init, [sp+16]: blocks left,
// [sp+20]: x_row, [sp+24]: x_grp - 2 x_row, [sp+28]: 4 - 6 w_col (from a block's last
// filter row to the next block), [sp+32]: g, [sp+36]: pixels left
#define UF_DW4_3X3_M4(name, tap)                                                  \
    __asm__(                                                                      \
        UF_M4_BEGIN(name)                                                         \
        "  push {r4-r11, lr}\n"                                                   \
        "  sub sp, #40\n"                                                         \
        "  strd r0, r1, [sp, #0]\n"                                               \
        "  str r2, [sp, #8]\n"                                                    \
        "  str r3, [sp, #32]\n"                                                   \
        "  ldm r3, {r4-r11}\n"   /* blocks, x_col, w_col, x_row, x_grp, init, */  \
        "  str r10, [sp, #36]\n" /* pixels, x_pix */                              \
        "  str r7, [sp, #20]\n"                                                   \
        "  sub r8, r8, r7, lsl #1\n"                                              \
        "  str r8, [sp, #24]\n"                                                   \
        "  mov r2, r5\n"                                                          \
        "  mov r3, r6\n"                                                          \
        "  movs r8, #4\n"                                                         \
        "  sub r8, r8, r3, lsl #2\n"                                              \
        "  sub r8, r8, r3, lsl #1\n"                                              \
        "  str r8, [sp, #28]\n"                                                   \
        "  lsls r8, r2, #1\n"                                                     \
        "  lsls r9, r3, #1\n"                                                     \
        "4:\n"                                                                    \
        "  ldr r12, [sp, #32]\n"                                                  \
        "  ldr r10, [r12, #0]\n"                                                  \
        "  ldr r11, [r12, #20]\n"                                                 \
        "  str r10, [sp, #16]\n"                                                  \
        "  str r11, [sp, #12]\n"                                                  \
        "  ldrd r0, r1, [sp, #0]\n"                                               \
        "2:\n"                                                                    \
        "  ldr r12, [sp, #12]\n"                                                  \
        "  ldm r12!, {r4-r7}\n"                                                   \
        "  str r12, [sp, #12]\n"                                                  \
        UF_DW4_M4_ROW3(tap) UF_DW4_M4_NEXTROW                                     \
        UF_DW4_M4_ROW3(tap) UF_DW4_M4_NEXTROW                                     \
        UF_DW4_M4_ROW3(tap)                                                       \
        "  ldr r12, [sp, #8]\n"                                                   \
        "  stm r12!, {r4-r7}\n"                                                   \
        "  str r12, [sp, #8]\n"                                                   \
        "  ldrd r10, r11, [sp, #24]\n"                                            \
        "  add r0, r10\n"                                                         \
        "  add r1, r11\n"                                                         \
        "  ldr r12, [sp, #16]\n"                                                  \
        "  subs r12, r12, #1\n"                                                   \
        "  str r12, [sp, #16]\n"                                                  \
        "  bne 2b\n"                                                              \
        "  ldr r12, [sp, #32]\n"                                                  \
        "  ldr r10, [r12, #28]\n"                                                 \
        "  ldr r0, [sp, #0]\n"                                                    \
        "  add r0, r10\n"                                                         \
        "  str r0, [sp, #0]\n"                                                    \
        "  ldr r12, [sp, #36]\n"                                                  \
        "  subs r12, r12, #1\n"                                                   \
        "  str r12, [sp, #36]\n"                                                  \
        "  bne 4b\n"                                                              \
        "  add sp, #40\n"                                                         \
        "  pop {r4-r11, pc}\n"                                                    \
        UF_M4_END(name))
UF_DW4_3X3_M4("uf_dw4_3x3_m4", UF_DW4_M4_TAP3);
UF_DW4_3X3_M4("uf_dw4x1_3x3_m4", UF_DW4X1_M4_TAP3);

// One input channel (a depth multiplier: every output channel reads the same input
// value at a tap), the filter's rows split in quads of taps: SMLAD pairs taps t, t + 2
// of a quad (SXTB16 of the four input bytes) against weights packed once per layer
// (uf_dwp_pack_m4). For each of g[0] blocks b of four channels: acc[4b + j] =
// init[4b + j] + sum over g[1] rows of g[2] quads. x at the window's first tap, each
// row's quads one after the other, x += g[3] after a row's quads; init = g[4]; W: the
// packed weights, block after block. 22 cycles per 16 MACs.
void uf_dwp_m4(const int8_t *x, const int32_t *W, int32_t *acc, const int32_t *g);
// [sp]: x, [sp+4]: acc, [sp+8]: g, [sp+12]: blocks left, [sp+16]: init
__asm__(
    UF_M4_BEGIN("uf_dwp_m4")
    "  push {r4-r11, lr}\n"
    "  sub sp, #20\n"
    "  str r0, [sp, #0]\n"
    "  strd r2, r3, [sp, #4]\n"
    "  ldr r4, [r3, #0]\n"
    "  ldr r5, [r3, #16]\n"
    "  strd r4, r5, [sp, #12]\n"
    "2:\n"
    "  ldr r12, [sp, #16]\n"
    "  ldm r12!, {r4-r7}\n"
    "  str r12, [sp, #16]\n"
    "  ldr r0, [sp, #0]\n"
    "  ldr r12, [sp, #8]\n"
    "  ldr r2, [r12, #4]\n"
    "3:\n"
    "  ldr r12, [sp, #8]\n"
    "  ldr r3, [r12, #8]\n"
    "1:\n"
    "  ldr r12, [r0], #4\n"
    "  sxtb16 lr, r12\n"
    "  sxtb16 r12, r12, ror #8\n"
    "  ldm r1!, {r8-r11}\n"
    "  smlad r4, lr, r8, r4\n"
    "  smlad r5, lr, r9, r5\n"
    "  smlad r6, lr, r10, r6\n"
    "  smlad r7, lr, r11, r7\n"
    "  ldm r1!, {r8-r11}\n"
    "  smlad r4, r12, r8, r4\n"
    "  smlad r5, r12, r9, r5\n"
    "  smlad r6, r12, r10, r6\n"
    "  smlad r7, r12, r11, r7\n"
    "  subs r3, r3, #1\n"
    "  bne 1b\n"
    "  ldr r12, [sp, #8]\n"
    "  ldr r3, [r12, #12]\n"
    "  add r0, r3\n"
    "  subs r2, r2, #1\n"
    "  bne 3b\n"
    "  ldr r12, [sp, #4]\n"
    "  stm r12!, {r4-r7}\n"
    "  str r12, [sp, #4]\n"
    "  ldr r12, [sp, #12]\n"
    "  subs r12, r12, #1\n"
    "  str r12, [sp, #12]\n"
    "  bne 2b\n"
    "  add sp, #20\n"
    "  pop {r4-r11, pc}\n"
    UF_M4_END("uf_dwp_m4"));

// W for uf_dwp_m4: n4 channels (from w, taps out_c apart) of a k_h x k_w filter, rows
// padded to nq quads with zero weights. Per block, row and quad: taps (t, t + 2) of
// channels 0..3 as int16 pairs, then taps (t + 1, t + 3).
static UF_MAC_NOINLINE UF_MAC_UNUSED void uf_dwp_pack_m4(int32_t *W, const int8_t *w, int n4,
                                                         int k_h, int k_w, int nq, int out_c) {
    for (int b = 0; b < n4; b += 4) {
        for (int ky = 0; ky < k_h; ky++) {
            for (int q = 0; q < 4 * nq; q += 4) {
                for (int h = 0; h < 2; h++) {
                    for (int c = 0; c < 4; c++) {
                        int t0 = q + h, t1 = q + h + 2;
                        int32_t lo = t0 < k_w ? w[(size_t)(ky * k_w + t0) * out_c + b + c] : 0;
                        int32_t hi = t1 < k_w ? w[(size_t)(ky * k_w + t1) * out_c + b + c] : 0;
                        *W++ = (int32_t)(((uint32_t)lo & 0xffffu) | ((uint32_t)hi << 16));
                    }
                }
            }
        }
    }
}

// Requantization of a block of channels whose shifts are all right shifts (TFLM's
// shift <= -1, the usual case): right = -shift. With |acc| < 2^29 (uf_rqf_prepare
// checks a bound), SRDHM(acc, mult) = floor((acc*mult + 2^30) / 2^31) is
// SMMULR(2*acc, mult) = floor((2*acc*mult + 2^31) / 2^32) exactly, and TFLM's rounding
// divide (ties away from zero) plus the output offset is (q + hoff - (q < 0)) >> right
// with hoff = 2^(right - 1) + out_off * 2^right (right <= 22, so nothing overflows:
// |q| < 2^29 + 1, |out_off * 2^right| <= 2^29, 2^(right - 1) <= 2^21).
typedef struct {
    int32_t mult, hoff, right;
} uf_rqf_t;

// 1 when SMMULR requantization is exact for every channel j < n (uf_rqf_prepare may
// then fill their tables): no multiplier is INT32_MIN, every shift is in -22..-1,
// |out_off| <= 128, and taps input values times int8 weights plus the bias stay below
// 2^29 (|x * w| <= 128 * 128 per tap, a padded tap's -in_off * w included).
static UF_MAC_NOINLINE UF_MAC_UNUSED int uf_rqf_check(int n, const void *bias, const void *mult,
                                                      const void *shift, int taps, int out_off) {
    if (taps < 0 || taps > (1 << 14) || out_off < -128 || out_off > 128) {
        return 0;
    }
    for (int j = 0; j < n; j++) {
        int32_t m = uf_ld_i32(mult, j), s = uf_ld_i32(shift, j), b = uf_ld_i32(bias, j);
        uint32_t mag = b < 0 ? 0u - (uint32_t)b : (uint32_t)b;
        if (m == UF_INT32_MIN || s > -1 || s < -22
            || mag >= ((uint32_t)1 << 29) - ((uint32_t)taps << 14)) {
            return 0;
        }
    }
    return 1;
}

// t[j] and bias_out[j] for channel ch + j, j < n (uf_rqf_check passed).
static UF_MAC_NOINLINE UF_MAC_UNUSED void uf_rqf_prepare(uf_rqf_t *t, int32_t *bias_out, int n,
                                                         const void *bias, const void *mult,
                                                         const void *shift, int ch, int out_off) {
    for (int j = 0; j < n; j++) {
        int right = -uf_ld_i32(shift, ch + j);
        t[j].mult = uf_ld_i32(mult, ch + j);
        t[j].right = right;
        t[j].hoff = (int32_t)((uint32_t)1 << (right - 1)) + (int32_t)((uint32_t)out_off << right);
        bias_out[j] = uf_ld_i32(bias, ch + j);
    }
}

// For each of p[3] pixels i: requantize acc[j] (the bias in it already) with t[j] to
// out[j], j < 4 * p[0] (p[0] > 0), clamped to [act_min, act_max] (p[1], p[2]: in each
// byte); then acc += p[5] bytes, out += p[4] bytes. Four channels per pass: SSAT to
// int8, BFI packs the four bytes, SSUB8/SEL clamp them, one STR (ARMv7E-M stores
// unaligned words to RAM).
void uf_rqf4_m4(const int32_t *acc, const uf_rqf_t *t, int8_t *out, const int32_t *p);
#define UF_RQF4_M4_ONE(v)                                                         \
    "  ldm r1!, {r8-r10}\n"                                                       \
    "  lsls " v ", " v ", #1\n"                                                   \
    "  smmulr r11, " v ", r8\n"                                                   \
    "  add " v ", r11, r9\n"                                                      \
    "  sub " v ", " v ", r11, lsr #31\n"                                          \
    "  asrs " v ", " v ", r10\n"                                                  \
    "  ssat " v ", #8, " v "\n"
// [sp]: t, [sp+4]: the pixel's acc, [sp+8]: its out, [sp+12]: pixels left, [sp+16]: p
__asm__(
    UF_M4_BEGIN("uf_rqf4_m4")
    "  push {r4-r11, lr}\n"
    "  sub sp, #20\n"
    "  str r1, [sp, #0]\n"
    "  strd r0, r2, [sp, #4]\n"
    "  str r3, [sp, #16]\n"
    "  ldr r12, [r3, #4]\n"
    "  ldr lr, [r3, #8]\n"
    "  ldr r4, [r3, #12]\n"
    "  str r4, [sp, #12]\n"
    "2:\n"
    "  ldr r3, [sp, #16]\n"
    "  ldr r3, [r3, #0]\n"
    "  ldr r1, [sp, #0]\n"
    "  ldrd r0, r2, [sp, #4]\n"
    "1:\n"
    "  ldm r0!, {r4-r7}\n"
    UF_RQF4_M4_ONE("r4") UF_RQF4_M4_ONE("r5") UF_RQF4_M4_ONE("r6") UF_RQF4_M4_ONE("r7")
    "  bfi r4, r5, #8, #8\n"
    "  bfi r4, r6, #16, #8\n"
    "  bfi r4, r7, #24, #8\n"
    "  ssub8 r5, r4, r12\n"
    "  sel r4, r4, r12\n"      // max(v, act_min) per byte
    "  ssub8 r5, lr, r4\n"
    "  sel r4, r4, lr\n"       // min(v, act_max)
    "  str r4, [r2], #4\n"
    "  subs r3, r3, #1\n"
    "  bne 1b\n"
    "  ldr r3, [sp, #16]\n"
    "  ldrd r4, r5, [r3, #16]\n"
    "  ldrd r0, r2, [sp, #4]\n"
    "  add r0, r5\n"
    "  add r2, r4\n"
    "  strd r0, r2, [sp, #4]\n"
    "  ldr r4, [sp, #12]\n"
    "  subs r4, r4, #1\n"
    "  str r4, [sp, #12]\n"
    "  bne 2b\n"
    "  add sp, #20\n"
    "  pop {r4-r11, pc}\n"
    UF_M4_END("uf_rqf4_m4"));

// p[1], p[2] for uf_rqf4_m4.
UF_MAC_INLINE void uf_rqf_limits(int32_t *p, int act_min, int act_max) {
    p[1] = (int32_t)((uint8_t)act_min * 0x01010101u);
    p[2] = (int32_t)((uint8_t)act_max * 0x01010101u);
}

// out[j] = acc[j] requantized with t[j], j < n (acc holds the bias already).
static UF_MAC_NOINLINE UF_MAC_UNUSED void uf_rqf_out(const int32_t *acc, const uf_rqf_t *t,
                                                     int n, int8_t *out, int act_min,
                                                     int act_max) {
    int n4 = n >> 2;
    if (n4) {
        int32_t p[6] = {n4, 0, 0, 1, 0, 0};
        uf_rqf_limits(p, act_min, act_max);
        uf_rqf4_m4(acc, t, out, p);
    }
    for (int j = 4 * n4; j < n; j++) {
        int32_t x = acc[j];
        int32_t q;
        __asm__("smmulr %0, %1, %2" : "=r"(q) : "r"(x + x), "r"(t[j].mult));
        int32_t v = (q + t[j].hoff - (int32_t)((uint32_t)q >> 31)) >> t[j].right;
        out[j] = (int8_t)(v < act_min ? act_min : (v > act_max ? act_max : v));
    }
}

// 1x1 convolution, two rows (output channels) by two pixels per pass. xx: the two
// pixels' inputs widened, per four inputs k..k+3 the words sxtb16(x0), sxtb16(x0 ror
// 8), sxtb16(x1), sxtb16(x1 ror 8) (uf_widen2_m4); w: row 0's weights, rows g[2] bytes
// apart, read a word (four weights) at a time. For each of g[0] row pairs i:
// acc[2i + r] (pixel 0) and acc[32 + 2i + r] (pixel 1) = bias[2i + r] + the sum over
// 4 * g[1] inputs (g[1] > 0); bias = g[3] (aligned). 22.5 cycles per 16 MACs.
void uf_mm2x2_m4(const int32_t *xx, const int8_t *w, int32_t *acc, const int32_t *g);
#define UF_MM2X2_M4_QUAD                                                          \
    "  ldm r0!, {r8-r11}\n"                                                       \
    "  ldr lr, [r1, r2]\n"                                                        \
    "  sxtb16 r12, lr\n"                                                          \
    "  sxtb16 lr, lr, ror #8\n"                                                   \
    "  smlad r6, r8, r12, r6\n"                                                   \
    "  smlad r6, r9, lr, r6\n"                                                    \
    "  smlad r7, r10, r12, r7\n"                                                  \
    "  smlad r7, r11, lr, r7\n"                                                   \
    "  ldr lr, [r1], #4\n"                                                        \
    "  sxtb16 r12, lr\n"                                                          \
    "  sxtb16 lr, lr, ror #8\n"                                                   \
    "  smlad r4, r8, r12, r4\n"                                                   \
    "  smlad r4, r9, lr, r4\n"                                                    \
    "  smlad r5, r10, r12, r5\n"                                                  \
    "  smlad r5, r11, lr, r5\n"
// [sp]: xx, [sp+4]: the row pair's w, [sp+8]: acc, [sp+12]: bias, [sp+16]: pairs left
__asm__(
    UF_M4_BEGIN("uf_mm2x2_m4")
    "  push {r4-r11, lr}\n"
    "  sub sp, #20\n"
    "  ldm r3, {r4-r7}\n"          // pairs, quads, stride, bias (g: aligned)
    "  strd r0, r1, [sp, #0]\n"
    "  str r2, [sp, #8]\n"
    "  str r7, [sp, #12]\n"
    "  str r4, [sp, #16]\n"
    "  add r3, r0, r5, lsl #4\n"   // xx end
    "  mov r2, r6\n"
    "2:\n"
    "  ldr r12, [sp, #12]\n"
    "  ldm r12!, {r4, r6}\n"
    "  str r12, [sp, #12]\n"
    "  mov r5, r4\n"
    "  mov r7, r6\n"
    "  ldrd r0, r1, [sp, #0]\n"
    "  sub r12, r3, r0\n"
    "  tst r12, #16\n"            // an odd number of quads: one first
    "  beq 1f\n"
    UF_MM2X2_M4_QUAD
    "  cmp r0, r3\n"
    "  beq 5f\n"
    "1:\n"
    UF_MM2X2_M4_QUAD UF_MM2X2_M4_QUAD
    "  cmp r0, r3\n"
    "  bne 1b\n"
    "5:\n"
    "  ldr r12, [sp, #8]\n"
    "  str r5, [r12, #128]\n"
    "  str r7, [r12, #132]\n"
    "  strd r4, r6, [r12], #8\n"
    "  str r12, [sp, #8]\n"
    "  ldr r1, [sp, #4]\n"
    "  add r1, r1, r2, lsl #1\n"
    "  str r1, [sp, #4]\n"
    "  ldr r12, [sp, #16]\n"
    "  subs r12, r12, #1\n"
    "  str r12, [sp, #16]\n"
    "  bne 2b\n"
    "  add sp, #20\n"
    "  pop {r4-r11, pc}\n"
    UF_M4_END("uf_mm2x2_m4"));

// xx for uf_mm2x2_m4 from pixels x0, x1 (n4 groups of four inputs).
UF_MAC_INLINE void uf_widen2_m4(const int8_t *x0, const int8_t *x1, int32_t *xx, int n4) {
    for (int k = 0; k < n4; k++, x0 += 4, x1 += 4, xx += 4) {
        uint32_t a = uf_bytes_u32((const uint8_t *)x0), b = uf_bytes_u32((const uint8_t *)x1);
        xx[0] = __sxtb16((int32_t)a);
        xx[1] = uf_sxtb16_odd(a);
        xx[2] = __sxtb16((int32_t)b);
        xx[3] = uf_sxtb16_odd(b);
    }
}

#endif
#endif
