// CONV_2D and DEPTHWISE_CONV_2D, NHWC, batch 1. The int8 bias arrives with
// in_off * sum(filter) folded in, so the valid taps reduce to a pure sum of
// x*w (contiguous over input channels) and padded taps, which TFLite treats as
// the input zero point, are corrected by subtracting in_off * their weights.
#include "kernels.h"
#include "qmath.h"
#include "mac8.h"
#include "dsp_m4.h"

// Output channels a depthwise pixel accumulates at once (stack, not heap):
// vector units take them a register at a time.
#define UF_DW_BLOCK 32

// Filter indices [*k0, *k1) whose input position start + k*d lies in [0, size).
// Padding only ever cuts the ends of the window, so the valid taps are a run.
static void valid_taps(int start, int k, int d, int size, int *k0, int *k1) {
    int a, b;
    if (d == 1) {   // (no division: the cores without a divide instruction call one)
        a = start < 0 ? -start : 0;
        b = size - start <= 0 ? 0 : size - start;
    } else {
        a = start < 0 ? (-start + d - 1) / d : 0;
        b = size - start <= 0 ? 0 : (size - start + d - 1) / d;
    }
    if (b > k) {
        b = k;
    }
    *k0 = a < b ? a : b;
    *k1 = b;
}

static int in_run(int k, int k0, int k1) {
    return k >= k0 && k < k1;
}

// Sum of the filter weights at padded taps of one output channel.
static int32_t padded_weight_sum(const int8_t *wo, int k_h, int k_w, int in_c,
                                 int ky0, int ky1, int kx0, int kx1) {
    int32_t s = 0;
    for (int ky = 0; ky < k_h; ky++) {
        for (int kx = 0; kx < k_w; kx++) {
            if (in_run(ky, ky0, ky1) && in_run(kx, kx0, kx1)) {
                continue;
            }
            const int8_t *wp = wo + (size_t)(ky * k_w + kx) * in_c;
            for (int c = 0; c < in_c; c++) {
                s += wp[c];
            }
        }
    }
    return s;
}

#if UF_MAC_M0
// Cortex-M0+: one block of channels (up to UF_M0_PW_BLOCK, or UF_DW_BLOCK for the
// depthwise and the tabled pointwise) over every pixel, so each block's requantization
// table is built once (and the more rows per block, the fewer packings and calls per
// MAC); channels past the last multiple of four one by one. Inputs of up to
// UF_M0_PACKED (even) channels go two pixels at a time, packed on the stack.
#define UF_M0_PACKED 256
// (Formerly uf_rq1_m0's floor threshold; its table now always wants lim.)
#define UF_M0_FLOOR_PIXELS 16
// depthwise_m0's cache of padded taps' shares: int32 slots (UF_DW_BLOCK divides it)
#define UF_M0_CORR 128
// Inputs of up to UF_M0_TABX channels (a multiple of four) take uf_mac2x2pt_m0: the
// block's rows sign-extended once into a table of UF_M0_TAB words on the stack (blocks
// of UF_M0_TAB / in_c rows, at most UF_DW_BLOCK), reused by every pixel pair.
#define UF_M0_TAB 512
#define UF_M0_TABX 32
// conv1x1_m0's stack: a pixel pair's two uf_rq_m0_t tables (of 5 words an entry) for
// blocks of up to UF_M0_PW_BLOCK rows and the UF_M0_PACKED words of packed inputs, or with
// the weight table (blocks of up to UF_DW_BLOCK rows) its words and the inputs'.
// In entries: the packed inputs and the table take whole entries after the tables'.
#define UF_M0_PW_BLOCK 64
#define UF_M0_PW_ENTRIES (2 * UF_M0_PW_BLOCK + (UF_M0_PACKED + 4) / 5)
#if 2 * UF_DW_BLOCK + (UF_M0_TAB + UF_M0_TABX + 4) / 5 > UF_M0_PW_ENTRIES
#error "conv1x1_m0's weight table does not fit its stack buffer"
#endif
// The fused kernels' table (uf_mac2x2pq8_m0 and the others, rows * (in_c + 4) words) and
// the packed inputs after it fit where t1 would be: at most 5 * 32 + 32 * 20 + 16 words.
#if 5 * UF_DW_BLOCK + UF_DW_BLOCK * 20 + 16 > 5 * UF_M0_PW_ENTRIES || UF_M0_TAB / 32 * 36 + 5 * 16 + 32 > 5 * UF_M0_PW_ENTRIES
#error "conv1x1_m0's fused weight table does not fit its stack buffer"
#endif
// uf_mac2x2pt_m0's table of n4 rows (row r at w + r * in_c; n4 even, in_c a multiple of 4)
// into W; with q, each row pair's words followed by its rows' uf_rq1_m0 entries without .acc
// (uf_mac2x2pq8_m0's table: bit 8 of the last row's 15 + r set).
UF_MAC_INLINE void conv1x1_tab_m0(const int8_t *w, int in_c, int n4, int32_t *W,
                                const uf_rq_m0_t *q) {
    uf_tab2_m0(w, in_c, n4, W, q);
}
// One pixel pair's sums over the block's n4 rows (packed inputs xx) into t and t + n4.
UF_MAC_INLINE void conv1x1_pair_m0(const int32_t *xx, const int32_t *tab, const int8_t *wo, int in_c,
                                   uf_rq_m0_t *t, int n4, int half) {
    if (tab) {
        int t1off = n4 * (int)sizeof(uf_rq_m0_t);
        if (in_c == 8) {
            uf_mac2x2pt8_m0(xx, tab, t, n4 >> 1, t1off);
        } else if (in_c == 16) {
            uf_mac2x2pt16_m0(xx, tab, t, n4 >> 1, t1off);
        } else if (in_c == 32) {
            uf_mac2x2pt32_m0(xx, tab, t, n4 >> 1, t1off);
        } else {
            uf_mac2x2pt_m0(xx, tab, in_c, t, n4 >> 1, t1off);
        }
    } else if (half) {
        uf_mac2x2ph_m0(xx, wo + in_c, in_c, t, in_c, n4 >> 1, t + n4);
    } else {
        uf_mac2x2p_m0(xx, wo + in_c, in_c, t, in_c, n4 >> 1, t + n4);
    }
}
// Layers of more than UF_M0_TABX inputs (a multiple of 8, at most UF_M0_PACKED) given
// kernel_spec's scratch (wtab_n words in the arena: lower/families/conv.py's weight table):
// blocks of up to UF_M0_WTAB_ROWS rows (a multiple of 4) sign-extended into it once with their
// uf_rq1_m0 entries (conv1x1_tab_m0's fused layout, rows * (in_c + 4) words, T marked), then one
// uf_mac2x2pqn_m0 over the block for every pixel pair (packing each pair itself): about 22.4 cycles
// per 8 MACs at 128 inputs requantized in the kernel (uf_mac2x2ph_m0: 26.5, then uf_rq1_m0's 25
// per output). The table costs 3.75 cycles a word
// (uf_tab2_m0; 4 at odd addresses) once per block: it pays from UF_M0_WTAB_PIXELS pixels (a 3x3
// layer's 9, its odd pixel by uf_mac1t_m0 over the table). The inputs are packed per block
// (uf_pack2_m0, ~8.1 cycles an input) unless the
// scratch holds them all (pixels / 2 * in_c words at its end) beside blocks of at least
// UF_M0_WTAB_ONCE rows where the table alone would take more than one block. The pixels one
// after another (stride 1, whole rows). Returns the channels done (a prefix): conv1x1_m0 does
// the rest (a tail of fewer than four, or all where a block's requantization does not suit
// uf_rq1_m0). mem: conv1x1_m0's stack buffer (the block's entries, then the packed inputs).
#define UF_M0_WTAB_ROWS 128
#define UF_M0_WTAB_PIXELS 9
#define UF_M0_WTAB_ONCE 8
#if UF_M0_WTAB_ROWS * 5 + UF_M0_PACKED > 5 * UF_M0_PW_ENTRIES
#error "conv1x1_wtab_m0's entries and packed inputs do not fit conv1x1_m0's stack buffer"
#endif
// The rows per block (a multiple of 4, at most UF_M0_WTAB_ROWS and out_c) whose table fits words.
static int conv1x1_wtab_rows(int words, int in_c, int out_c) {
    int rows = 0;   // (no division: the M0+ has none)
    while (rows < UF_M0_WTAB_ROWS && rows + 4 <= out_c && (rows + 4) * (in_c + 4) <= words) {
        rows += 4;
    }
    return rows;
}
UF_MAC_INLINE int conv1x1_wtab_m0(const int8_t *x, const int8_t *w, const void *bias, int8_t *out,
                                  const void *mult, const void *shift, int in_c, int npix, int out_c,
                                  const int32_t *lim, int32_t *wtab, int wtab_n, uf_rq_m0_t *mem) {
    if (in_c <= UF_M0_TABX || (in_c & 7) || in_c > UF_M0_PACKED || npix < UF_M0_WTAB_PIXELS
        || !uf_rq1_m0_lim(lim)) {
        return 0;
    }
    int packed = (npix >> 1) * in_c;   // the packed inputs' words
    int rows = conv1x1_wtab_rows(wtab_n, in_c, out_c), beside = conv1x1_wtab_rows(wtab_n - packed, in_c, out_c);
    int32_t *xall = 0;
    if (rows < (out_c & ~3) && beside >= UF_M0_WTAB_ONCE) {
        rows = beside, xall = wtab + wtab_n - packed;
        for (int k = 0; k < packed; k += in_c) {
            const int8_t *xp = x + 2 * k;
            uf_pack2_m0(xp + in_c, xp + 2 * in_c, xall + k, in_c);
        }
    }
    if (!rows) {
        return 0;
    }
    uf_rq_m0_t *t = mem;
    int32_t *xq = (int32_t *)(mem + rows);
    int c0 = 0, xs = 0;
    for (; c0 + 4 <= out_c; c0 += rows) {
        int n4 = (out_c - c0 < rows ? out_c - c0 : rows) & ~3;
        if (uf_rq_m0_prepare(t, n4, bias, mult, shift, c0, lim) != 2) {
            break;
        }
        const int8_t *wo = w + (size_t)c0 * in_c, *xp = x;
        conv1x1_tab_m0(wo, in_c, n4, wtab, t);
        int8_t *o = out + c0;
        int left = npix, npairs = npix >> 1;   // (one call for every pixel pair)
        if (npairs) {
            if (xall) {
                uf_mac2x2pqn_m0(xall, wtab, o, lim, out_c, 0, npairs, in_c);
            } else {
                uf_mac2x2pqn_m0(xq, wtab, o, lim, out_c, xp, npairs, in_c);
            }
            xp += (size_t)npairs * 2 * in_c, o += (size_t)npairs * 2 * out_c, left -= 2 * npairs;
        }
        if (left) {   // the odd last pixel over the table, its inputs sign-extended at xq
            if (!xs) {    // (once where the pairs were packed once, else per block: xq packed them)
                for (int k = 0; k < in_c; k++) {
                    xq[k] = xp[k];
                }
                xs = xall != 0;
            }
            uf_mac1t_m0(xq, wtab, in_c, t, n4 >> 1);
            uf_rq1_m0(t, o, n4, lim);
        }
        if (n4 < rows) {   // the last block, a tail after it
            return c0 + n4;
        }
    }
    return c0 < out_c ? c0 : out_c;
}
// (w_min: the smallest weight, bake time: the ADCS lane split's condition, w_min > -128)
static void conv1x1_m0(const int8_t *x, const int8_t *w, const void *bias, int8_t *out,
                       const void *mult, const void *shift, int in_w, int in_c, int out_h,
                       int out_w, int out_c, int s_h, int s_w, int out_off, int act_min,
                       int act_max, int32_t *wtab, int wtab_n, int w_min) {
    (void)w_min;
    // t1 (a pixel pair's second pixel) right after t's n4 entries: where the block is every
    // channel (out_c = n4), the pair's outputs are one run for one uf_rq1_m0 call.
    uf_rq_m0_t mem[UF_M0_PW_ENTRIES];
    const int32_t lim[3] = {out_off, act_min, act_max};
    int c_first = 0;
    if (wtab_n && s_h == 1 && s_w == 1 && in_w == out_w) {
        c_first = conv1x1_wtab_m0(x, w, bias, out, mult, shift, in_c, out_h * out_w, out_c, lim, wtab, wtab_n,
                                  mem);
    }
    // Weights at an even address (every row then: in_c is even where pixels pair) take
    // the halfword loads. (Direct calls: a natmod cannot take a local symbol's address.)
    int half = !((uintptr_t)w & 1);
    int tabbed = !(in_c & 3) && in_c <= UF_M0_TABX;
    int blk = !tabbed ? UF_M0_PW_BLOCK : UF_M0_TAB / in_c < UF_DW_BLOCK ? (UF_M0_TAB / in_c) & ~3 : UF_DW_BLOCK;
    uf_rq_m0_t *t = mem;
    int32_t *buf = (int32_t *)(mem + 2 * blk);   // packed inputs (and uf_mac2x2pt_m0's table)
    int32_t *xx = tabbed ? buf + UF_M0_TAB : buf, *tab = 0;
    for (int c0 = c_first; c0 < out_c; c0 += blk) {
        int nb = out_c - c0 < blk ? out_c - c0 : blk;
        int n4 = nb & ~3;
        uf_rq_m0_t *t1 = t + n4;
        // (uf_rq1_m0 wants sums below 2^30: in_c < 2^16 products of int8)
        int ok = uf_rq_m0_prepare(t, n4, bias, mult, shift, c0, in_c < 65536 ? lim : 0);
        int pairs = n4 && !(in_c & 1) && in_c <= UF_M0_PACKED;
        if (pairs) {
            uf_rq_m0_copy(t1, t, n4);
        }
        const int8_t *wo = w + (size_t)c0 * in_c;
        int8_t *o = out + c0;
        int left = out_h * out_w;
        int usual = pairs && ok == 2 && n4 == nb && s_h == 1 && s_w == 1 && in_w == out_w;
        if (usual && tabbed && (in_c == 8 || in_c == 16 || in_c == 32)) {
            // Requantized in the MAC kernel: the table (with the rows' entries) after t's
            // nb entries, the packed inputs after it (t1 unused).
            int32_t *wq = (int32_t *)(mem + nb), *xq = wq + (size_t)nb * (in_c + 4);
            conv1x1_tab_m0(wo, in_c, n4, wq, t);
            const int8_t *xp = x;
            int npairs = left >> 1;   // (one call for every pixel pair: the kernel packs them)
            if (npairs) {
                if (in_c == 8) {
                    uf_mac2x2pq8_m0(xq, wq, o, lim, out_c, xp, npairs);
                } else if (in_c == 16) {
                    uf_mac2x2pq16_m0(xq, wq, o, lim, out_c, xp, npairs);
                } else {
                    uf_mac2x2pq32_m0(xq, wq, o, lim, out_c, xp, npairs);
                }
                xp += (size_t)npairs * 2 * in_c, o += (size_t)npairs * 2 * out_c, left -= 2 * npairs;
            }
            if (left) {
                uf_mac4t_m0(xp + in_c, wo + in_c, in_c, &t[0].acc, in_c, n4 >> 2);
                uf_rq1_m0(t, o, n4, lim);
            }
            continue;
        }
        if (tabbed && pairs) {
            conv1x1_tab_m0(wo, in_c, n4, buf, 0);
            tab = buf;
        }
        if (usual) {
            // The usual layer: the pixels one after another in x, no channel tail (the
            // loop below without its index arithmetic); an odd last pixel goes below.
            const int8_t *xp = x;
            for (; left >= 2; left -= 2) {
                uf_pack2_m0(xp + in_c, xp + 2 * in_c, xx, in_c);
                conv1x1_pair_m0(xx, tab, wo, in_c, t, n4, half);
                if (out_c == n4) {
                    uf_rq1_m0(t, o, 2 * n4, lim);
                } else {
                    uf_rq1_m0(t, o, n4, lim);
                    uf_rq1_m0(t1, o + out_c, n4, lim);
                }
                xp += 2 * in_c, o += 2 * out_c;
            }
            if (left) {
                uf_mac4t_m0(xp + in_c, wo + in_c, in_c, &t[0].acc, in_c, n4 >> 2);
                uf_rq1_m0(t, o, n4, lim);
            }
            continue;
        }
        // The pixels in row-major order, two per pass (uf_mac2x2p_m0; a pair may span
        // two rows), the channel tail one by one.
        int oy = 0, ox = 0;
        for (; left > 0;) {
            const int8_t *x0 = x + ((size_t)oy * s_h * in_w + (size_t)ox * s_w) * in_c;
            if (++ox == out_w) {
                ox = 0, oy++;
            }
            if (pairs && left >= 2) {
                const int8_t *x1 = x + ((size_t)oy * s_h * in_w + (size_t)ox * s_w) * in_c;
                if (++ox == out_w) {
                    ox = 0, oy++;
                }
                uf_pack2_m0(x0 + in_c, x1 + in_c, xx, in_c);
                conv1x1_pair_m0(xx, tab, wo, in_c, t, n4, half);
                if (ok == 2) {
                    uf_rq1_m0(t, o, n4, lim);
                    uf_rq1_m0(t1, o + out_c, n4, lim);
                } else {
                    uf_rq_m0_out(t, n4, ok, lim, o, bias, mult, shift, c0);
                    uf_rq_m0_out(t1, n4, ok, lim, o + out_c, bias, mult, shift, c0);
                }
                for (int j = n4; j < nb; j++) {
                    const int8_t *wj = wo + (size_t)j * in_c;
                    int32_t b = uf_ld_i32(bias, c0 + j);
                    o[j] = (int8_t)uf_requant_mac(b + uf_dot1_s8(x0, wj, in_c), mult, shift, c0 + j,
                                                  out_off, act_min, act_max);
                    o[out_c + j] = (int8_t)uf_requant_mac(b + uf_dot1_s8(x1, wj, in_c), mult, shift,
                                                          c0 + j, out_off, act_min, act_max);
                }
                o += 2 * out_c, left -= 2;
            } else {
                const int8_t *xp = x0;
                if (n4) {
                    uf_mac4t_m0(xp + in_c, wo + in_c, in_c, &t[0].acc, in_c, n4 >> 2);
                    uf_rq_m0_out(t, n4, ok, lim, o, bias, mult, shift, c0);
                }
                for (int j = n4; j < nb; j++) {
                    int32_t a = uf_ld_i32(bias, c0 + j) + uf_dot1_s8(xp, wo + (size_t)j * in_c, in_c);
                    o[j] = (int8_t)uf_requant_mac(a, mult, shift, c0 + j, out_off, act_min, act_max);
                }
                o += out_c, left--;
            }
        }
    }
}
#endif

#if UF_MAC_BLOCKED && !UF_MAC_M0
// The register-blocked cores: one block of up to UF_DW_BLOCK channels over every
// pixel (its requantization table built once), four channels per MAC call (two
// pixels per call where UF_MAC_PAIRS), the channel tail one by one.
#if defined(__XTENSA__)
#define UF_XT_WIDE 256   // the widest input uf_dot2x2_xt takes (xx: 1 KB of stack)
#endif
static UF_MAC_NOINLINE void conv1x1_blocked(const int8_t *x, const int8_t *w, const void *bias, int8_t *out,
                            const void *mult, const void *shift, int in_w, int in_c, int out_h,
                            int out_w, int out_c, int s_h, int s_w, int out_off, int act_min,
                            int act_max) {
    uf_rq_t t[UF_DW_BLOCK];
#if defined(__riscv)
    int32_t xx[2 * UF_RV_PACKED];   // two pixel pairs' inputs packed (uf_pack4_rv)
    int32_t acc4[4 * UF_RV_ACC];   // four pixels' sums (uf_dot3p2_s8, uf_dot2p2_s8)
    int32_t *acc = acc4;           // (two pixels' in its first half)
#else
    int32_t acc[2 * UF_DW_BLOCK];   // (the second half: a pixel pair's second pixel)
#endif
#if defined(__XTENSA__)
    int16_t xx[2 * UF_XT_WIDE];   // a pixel pair's inputs, widened and interleaved
#endif
#if defined(__riscv)
    int packed = in_c > 0 && !(in_c & 1) && in_c <= UF_RV_PACKED && out_c >= 4;
    if (s_h * in_w == s_w * out_w) {   // the pixels evenly spaced: one row (more in fours)
        out_w *= out_h, out_h = 1;
    }
#endif
    for (int c0 = 0; c0 < out_c; c0 += UF_DW_BLOCK) {
        int nb = out_c - c0 < UF_DW_BLOCK ? out_c - c0 : UF_DW_BLOCK;
        int n4 = nb & ~3;
        int ok = uf_rq_prepare_lim(t, nb, bias, mult, shift, c0, in_c, out_off, act_min, act_max);
#if defined(__riscv)
        int n3 = (nb & ~1) / 3 & ~1;   // rows in threes (an even number of them), then twos
        n3 *= 3;
#endif
        const int8_t *wb = w + (size_t)c0 * in_c;
        int8_t *o = out + c0;
#if defined(__XTENSA__)
        if (in_c <= UF_XT_WIDE) {
            // Xtensa: pixel pairs in raster order (a row's last pixel pairs with the next
            // row's first; a last odd pixel with itself), their inputs widened once per
            // pair and block for uf_dot2x2_xt over the block's row pairs.
            int n = out_h * out_w, oy = 0, ox = 0;
            for (int p = 0; p < n; p += 2, o += 2 * out_c) {
                const int8_t *x0 = x + ((size_t)oy * s_h * in_w + (size_t)ox * s_w) * in_c, *x1 = x0;
                if (++ox == out_w) {
                    ox = 0, oy++;
                }
                if (p + 1 < n) {
                    x1 = x + ((size_t)oy * s_h * in_w + (size_t)ox * s_w) * in_c;
                    if (++ox == out_w) {
                        ox = 0, oy++;
                    }
                }
                uf_widen2_xt(xx, x0, x1, in_c);
                int j = nb & ~1;
                if (j && !(((uintptr_t)wb | (uintptr_t)in_c) & 1)) {
                    uf_dot2x2h_xt(xx, wb, in_c, j >> 1, acc);
                } else if (j) {
                    uf_dot2x2_xt(xx, wb, in_c, j >> 1, acc);
                }
                if (j < nb) {
                    acc[j] = uf_dot1_s8(x0, wb + (size_t)j * in_c, in_c);
                    acc[UF_DW_BLOCK + j] = uf_dot1_s8(x1, wb + (size_t)j * in_c, in_c);
                }
                uf_rq_out(acc, t, nb, ok, o, bias, mult, shift, c0, out_off, act_min, act_max);
                if (p + 1 < n) {
                    uf_rq_out(acc + UF_DW_BLOCK, t, nb, ok, o + out_c, bias, mult, shift, c0,
                              out_off, act_min, act_max);
                }
            }
            continue;
        }
#endif
        for (int oy = 0; oy < out_h; oy++) {
            int ox = 0;
#if defined(__riscv)
            for (; packed && ox + 4 <= out_w; ox += 4, o += 4 * out_c) {
                const int8_t *x0 = x + ((size_t)oy * s_h * in_w + (size_t)ox * s_w) * in_c;
                size_t xstep = (size_t)s_w * in_c;
                int n2 = nb & ~1, j = 0;
                uf_pack4_rv(x0, x0 + xstep, x0 + 2 * xstep, x0 + 3 * xstep, xx, in_c);
                for (; j < n3; j += 3) {
                    uf_dot3p2_s8(xx, wb + (size_t)j * in_c, in_c, in_c, acc4 + j);
                }
                for (; j < n2; j += 2) {
                    uf_dot2p2_s8(xx, wb + (size_t)j * in_c, in_c, in_c, acc4 + j);
                }
                for (int i = 0; i < 4; i++) {
                    if (n2 < nb) {
                        acc4[i * UF_RV_ACC + n2] = uf_dot1_s8(x0 + i * xstep, wb + (size_t)n2 * in_c, in_c);
                    }
                    if (ok != 3) {
                        uf_rq_out(acc4 + i * UF_RV_ACC, t, nb, ok, o + i * out_c, bias, mult, shift, c0,
                                  out_off, act_min, act_max);
                    }
                }
                if (ok == 3) {
                    uf_rq_out4_rv(acc4, t, nb, o, out_c, act_min, act_max, 1);
                }
            }
#endif
#if UF_MAC_PAIRS
            for (; ox + 2 <= out_w; ox += 2, o += 2 * out_c) {
                const int8_t *x0 = x + ((size_t)oy * s_h * in_w + (size_t)ox * s_w) * in_c;
                const int8_t *x1 = x0 + (size_t)s_w * in_c;
                for (int j = 0; j < n4; j += 4) {
                    uf_dot4x2_s8(x0, x1, wb + (size_t)j * in_c, in_c, in_c, acc + j,
                                 acc + UF_DW_BLOCK + j);
                }
                for (int j = n4; j < nb; j++) {
                    acc[j] = uf_dot1_s8(x0, wb + (size_t)j * in_c, in_c);
                    acc[UF_DW_BLOCK + j] = uf_dot1_s8(x1, wb + (size_t)j * in_c, in_c);
                }
#if defined(__riscv)
                if (ok == 3) {
                    uf_rq_out4_rv(acc, t, nb, o, out_c, act_min, act_max, 0);
                } else
#endif
                {
                    uf_rq_out(acc, t, nb, ok, o, bias, mult, shift, c0, out_off, act_min, act_max);
                    uf_rq_out(acc + UF_DW_BLOCK, t, nb, ok, o + out_c, bias, mult, shift, c0, out_off,
                              act_min, act_max);
                }
            }
#endif
            for (; ox < out_w; ox++, o += out_c) {
                const int8_t *xp = x + ((size_t)oy * s_h * in_w + (size_t)ox * s_w) * in_c;
                for (int j = 0; j < n4; j += 4) {
                    uf_dot4_s8(xp, wb + (size_t)j * in_c, in_c, in_c, acc + j);
                }
                for (int j = n4; j < nb; j++) {
                    acc[j] = uf_dot1_s8(xp, wb + (size_t)j * in_c, in_c);
                }
                uf_rq_out(acc, t, nb, ok, o, bias, mult, shift, c0, out_off, act_min, act_max);
            }
        }
    }
}
#endif

#if UF_MAC_DSP
// Inputs (a multiple of four, up to UF_M4_WIDE) of two pixels widened on the stack for
// uf_mm2x2_m4: UF_M4_WIDE words.
#define UF_M4_WIDE 256
// Cortex-M4/M7/M33: one block of up to UF_DW_BLOCK channels over every pixel (its
// requantization table built once), two pixels at a time with their inputs widened
// once, uf_mm2x2_m4 over the block's row pairs; a last odd row by uf_dot1_s8, a last
// odd pixel through the same kernel paired with itself. Layers it does not take
// (inputs not a multiple of four or over UF_M4_WIDE, a requantization
// uf_rqf_check refuses) take conv1x1_blocked.
static UF_MAC_NOINLINE void conv1x1_dsp(const int8_t *x, const int8_t *w, const void *bias, int8_t *out,
                        const void *mult, const void *shift, int in_w, int in_c, int out_h,
                        int out_w, int out_c, int s_h, int s_w, int out_off, int act_min,
                        int act_max) {
    uf_rqf_t t[UF_DW_BLOCK];
    int32_t b[UF_DW_BLOCK], acc[2 * UF_DW_BLOCK], xx[UF_M4_WIDE], g[4];
    int n = out_h * out_w;
    int32_t lim[6];
    uf_rqf_limits(lim, act_min, act_max);
    for (int c0 = 0; c0 < out_c; c0 += UF_DW_BLOCK) {
        int nb = out_c - c0 < UF_DW_BLOCK ? out_c - c0 : UF_DW_BLOCK;
        int n2 = nb & ~1, n4 = nb & ~3;
        uf_rqf_prepare(t, b, nb, bias, mult, shift, c0, out_off);
        const int8_t *wb = w + (size_t)c0 * in_c;
        g[0] = n2 >> 1, g[1] = in_c >> 2, g[2] = in_c, g[3] = (int32_t)(uintptr_t)b;
        const int8_t *xr = x;   // the input row of pixel p's row, ox its column
        int ox = 0;
        for (int p = 0; p < n; p += 2) {
            int p1 = p + 1 < n ? p + 1 : p;
            const int8_t *x0 = xr + (size_t)ox * s_w * in_c, *x1 = x0;
            for (int k = p; k <= p1; k++) {   // step to pixel p + 2 (x1: pixel p1)
                if (++ox == out_w) {
                    ox = 0, xr += (size_t)s_h * in_w * in_c;
                }
                if (k < p1) {
                    x1 = xr + (size_t)ox * s_w * in_c;
                }
            }
            uf_widen2_m4(x0, x1, xx, in_c >> 2);
            if (n2) {
                uf_mm2x2_m4(xx, wb, acc, g);
            }
            if (nb > n2) {
                const int8_t *wj = wb + (size_t)n2 * in_c;
                acc[n2] = b[n2] + uf_dot1_s8(x0, wj, in_c);
                acc[UF_DW_BLOCK + n2] = b[n2] + uf_dot1_s8(x1, wj, in_c);
            }
            int8_t *o = out + (size_t)p * out_c + c0;
            if (nb == n4) {   // both pixels in one call
                lim[0] = nb >> 2, lim[3] = p1 != p ? 2 : 1, lim[4] = out_c, lim[5] = 4 * UF_DW_BLOCK;
                uf_rqf4_m4(acc, t, o, lim);
            } else {
                uf_rqf_out(acc, t, nb, o, act_min, act_max);
                if (p1 != p) {
                    uf_rqf_out(acc + UF_DW_BLOCK, t, nb, o + out_c, act_min, act_max);
                }
            }
        }
    }
}
#endif

// 1x1 filter, no padding: a matrix product, pixel rows by filter rows. Four
// output channels at a time reuse each input load; the tail goes one by one.
static void conv1x1_s8(const int8_t *x, const int8_t *w, const void *bias, int8_t *out,
                       const void *mult, const void *shift, int in_w, int in_c,
                       int out_h, int out_w, int out_c, int s_h, int s_w, int out_off,
                       int act_min, int act_max, int32_t *wtab, int wtab_n, int w_min) {
#if UF_MAC_M0
    if (in_c > 0) {
        conv1x1_m0(x, w, bias, out, mult, shift, in_w, in_c, out_h, out_w, out_c, s_h, s_w,
                   out_off, act_min, act_max, wtab, wtab_n, w_min);
        return;
    }
#else
    (void)wtab, (void)wtab_n, (void)w_min;   // (kernel_spec's optional scratch: only the M0+ uses it)
#endif
#if UF_MAC_BLOCKED && !UF_MAC_M0
#if UF_MAC_DSP
    if (in_c > 0 && !(in_c & 3) && in_c <= UF_M4_WIDE
        && uf_rqf_check(out_c, bias, mult, shift, in_c, out_off)) {
        conv1x1_dsp(x, w, bias, out, mult, shift, in_w, in_c, out_h, out_w, out_c, s_h, s_w,
                    out_off, act_min, act_max);
        return;
    }
#endif
    conv1x1_blocked(x, w, bias, out, mult, shift, in_w, in_c, out_h, out_w, out_c, s_h, s_w,
                    out_off, act_min, act_max);
    return;
#endif
    for (int oy = 0; oy < out_h; oy++) {
        for (int ox = 0; ox < out_w; ox++) {
            const int8_t *xp = x + ((size_t)oy * s_h * in_w + (size_t)ox * s_w) * in_c;
            const int8_t *wo = w;
            int oc = 0;
            for (; oc + 4 <= out_c; oc += 4, wo += 4 * in_c) {   // inline: -O3 vectorizes the rows
                const int8_t *w1 = wo + in_c, *w2 = w1 + in_c, *w3 = w2 + in_c;
                int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
                for (int k = 0; k < in_c; k++) {
                    int32_t v = xp[k];
                    a0 += v * wo[k];
                    a1 += v * w1[k];
                    a2 += v * w2[k];
                    a3 += v * w3[k];
                }
                out[oc] = (int8_t)uf_requant_ch(a0 + uf_ld_i32(bias, oc), mult, shift, oc, out_off, act_min, act_max);
                out[oc + 1] = (int8_t)uf_requant_ch(a1 + uf_ld_i32(bias, oc + 1), mult, shift, oc + 1, out_off, act_min, act_max);
                out[oc + 2] = (int8_t)uf_requant_ch(a2 + uf_ld_i32(bias, oc + 2), mult, shift, oc + 2, out_off, act_min, act_max);
                out[oc + 3] = (int8_t)uf_requant_ch(a3 + uf_ld_i32(bias, oc + 3), mult, shift, oc + 3, out_off, act_min, act_max);
            }
            for (; oc < out_c; oc++, wo += in_c) {
                int32_t a = uf_ld_i32(bias, oc) + uf_dot1_s8(xp, wo, in_c);
                out[oc] = (int8_t)uf_requant_mac(a, mult, shift, oc, out_off, act_min, act_max);
            }
            out += out_c;
        }
    }
}

void uf_conv2d_s8(const int8_t *x, const int8_t *w, const void *bias, int8_t *out,
                  const void *mult, const void *shift, int32_t *wtab, int in_h, int in_w, int in_c,
                  int out_h, int out_w, int out_c, int k_h, int k_w, int s_h, int s_w,
                  int d_h, int d_w, int pad_h, int pad_w, int in_off, int out_off,
                  int act_min, int act_max, int wtab_n, int w_min) {
    if (k_h == 1 && k_w == 1 && pad_h == 0 && pad_w == 0
        && (out_h - 1) * s_h < in_h && (out_w - 1) * s_w < in_w) {
        conv1x1_s8(x, w, bias, out, mult, shift, in_w, in_c, out_h, out_w, out_c, s_h, s_w,
                   out_off, act_min, act_max, wtab, wtab_n, w_min);
        return;
    }
    const int fsize = k_h * k_w * in_c;
    int32_t acc[4], part[4];
    for (int oy = 0; oy < out_h; oy++) {
        int y0 = oy * s_h - pad_h, ky0, ky1;
        valid_taps(y0, k_h, d_h, in_h, &ky0, &ky1);
        for (int ox = 0; ox < out_w; ox++) {
            int x0 = ox * s_w - pad_w, kx0, kx1;
            valid_taps(x0, k_w, d_w, in_w, &kx0, &kx1);
            int full = ky0 == 0 && ky1 == k_h && kx0 == 0 && kx1 == k_w;
            // The valid part of a filter row is one run when d_w == 1.
            int run = d_w == 1 ? (kx1 - kx0) * in_c : in_c;
            int runs = d_w == 1 ? (kx1 > kx0) : kx1 - kx0;
            const int8_t *wo = w;
            int oc = 0;
            for (; oc < out_c; oc += 4, wo += 4 * (size_t)fsize) {
                int nb = out_c - oc < 4 ? out_c - oc : 4;
                acc[0] = acc[1] = acc[2] = acc[3] = 0;
                for (int ky = ky0; ky < ky1; ky++) {
                    const int8_t *xr = x + ((size_t)(y0 + ky * d_h) * in_w + (x0 + kx0 * d_w)) * in_c;
                    const int8_t *wr = wo + (size_t)(ky * k_w + kx0) * in_c;
                    for (int r = 0; r < runs; r++) {
                        if (UF_MAC_BLOCKED && nb == 4) {
                            uf_dot4_s8(xr, wr, run, fsize, part);
                            for (int j = 0; j < 4; j++) {
                                acc[j] += part[j];
                            }
                        } else {
                            for (int j = 0; j < nb; j++) {
                                acc[j] += uf_dot1_s8(xr, wr + (size_t)j * fsize, run);
                            }
                        }
                        xr += (size_t)d_w * in_c;
                        wr += in_c;
                    }
                }
                if (!full) {
                    for (int j = 0; j < nb; j++) {
                        acc[j] -= in_off * padded_weight_sum(wo + (size_t)j * fsize, k_h, k_w, in_c,
                                                             ky0, ky1, kx0, kx1);
                    }
                }
                uf_requant_block(acc, nb, bias, out + oc, mult, shift, oc, out_off, act_min, act_max);
            }
            out += out_c;
        }
    }
}

#if UF_MAC_BLOCKED
// Depthwise taps of nb <= 4 channels of one output pixel: acc[j] = sum of x[j*xs] * w[j]
// over rows x cols taps (x, w at the first valid tap; steps between rows and
// columns given). xs = 1: contiguous channels; xs = 0: one input value for all.
static UF_MAC_NOINLINE void dw_taps_s8(const int8_t *x, const int8_t *w, int nb, int xs,
                                       int rows, int cols, int x_row, int x_col, int w_row,
                                       int w_col, int32_t *acc) {
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    acc[0] = acc[1] = acc[2] = acc[3] = 0;
    for (int r = 0; r < rows; r++, x += x_row, w += w_row) {
        const int8_t *xp = x, *wp = w;
        if (nb < 4) {
            for (int c = 0; c < cols; c++, xp += x_col, wp += w_col) {
                for (int j = 0; j < nb; j++) {
                    acc[j] += (int32_t)xp[j * xs] * wp[j];
                }
            }
        } else if (xs) {
            for (int c = 0; c < cols; c++, xp += x_col, wp += w_col) {
#if UF_MAC_DSP
                // Four channels in one word each: halves (0, 2) and (1, 3).
                uint32_t xv = uf_bytes_u32((const uint8_t *)xp);
                uint32_t wv = uf_bytes_u32((const uint8_t *)wp);
                int32_t xe = __sxtb16((int32_t)xv), we = __sxtb16((int32_t)wv);
                int32_t xo = uf_sxtb16_odd(xv), wo = uf_sxtb16_odd(wv);
                a0 = __smlabb(xe, we, a0);
                a2 = __smlatt(xe, we, a2);
                a1 = __smlabb(xo, wo, a1);
                a3 = __smlatt(xo, wo, a3);
#else
                a0 += (int32_t)xp[0] * wp[0];
                a1 += (int32_t)xp[1] * wp[1];
                a2 += (int32_t)xp[2] * wp[2];
                a3 += (int32_t)xp[3] * wp[3];
#endif
            }
        } else {
            for (int c = 0; c < cols; c++, xp += x_col, wp += w_col) {
                int32_t v = xp[0];
                a0 += v * wp[0];
                a1 += v * wp[1];
                a2 += v * wp[2];
                a3 += v * wp[3];
            }
        }
    }
    if (nb == 4) {
        acc[0] += a0;
        acc[1] += a1;
        acc[2] += a2;
        acc[3] += a3;
    }
}


#if UF_MAC_PAIRS && !defined(__XTENSA__)   // (Xtensa: uf_dw2c_xt, uf_dw2s_xt)
// dw_taps_s8 for four channels of two output pixels with the same valid taps (x1: the
// second pixel's first valid tap): each weight loaded once serves both pixels. The
// column loop is unrolled by three (3x3 filters), constant offsets where xs is known.
static UF_MAC_NOINLINE void dw_taps2_s8(const int8_t *x0, const int8_t *x1, const int8_t *w,
                                        int xs, int rows, int cols, int x_row, int x_col,
                                        int w_row, int w_col, int32_t *acc0, int32_t *acc1) {
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
    x_row -= cols * x_col, w_row -= cols * w_col;
#define UF_DW2_TAP1 do {                                                      \
        int32_t u = *x0, v = *x1, c;                                          \
        c = w[0]; a0 += u * c; b0 += v * c;                                   \
        c = w[1]; a1 += u * c; b1 += v * c;                                   \
        c = w[2]; a2 += u * c; b2 += v * c;                                   \
        c = w[3]; a3 += u * c; b3 += v * c;                                   \
        x0 += x_col, x1 += x_col, w += w_col;                                 \
    } while (0)
#define UF_DW2_TAP4 do {                                                      \
        int32_t c;                                                            \
        c = w[0]; a0 += x0[0] * c; b0 += x1[0] * c;                           \
        c = w[1]; a1 += x0[1] * c; b1 += x1[1] * c;                           \
        c = w[2]; a2 += x0[2] * c; b2 += x1[2] * c;                           \
        c = w[3]; a3 += x0[3] * c; b3 += x1[3] * c;                           \
        x0 += x_col, x1 += x_col, w += w_col;                                 \
    } while (0)
    if (xs) {
        for (int r = rows; r > 0; r--, x0 += x_row, x1 += x_row, w += w_row) {
            int c = cols;
            for (; c >= 3; c -= 3) {
                UF_DW2_TAP4;
                UF_DW2_TAP4;
                UF_DW2_TAP4;
            }
            for (; c > 0; c--) {
                UF_DW2_TAP4;
            }
        }
    } else {
        for (int r = rows; r > 0; r--, x0 += x_row, x1 += x_row, w += w_row) {
            int c = cols;
            for (; c >= 2; c -= 2) {
                UF_DW2_TAP1;
                UF_DW2_TAP1;
            }
            if (c) {
                UF_DW2_TAP1;
            }
        }
    }
#undef UF_DW2_TAP1
#undef UF_DW2_TAP4
    acc0[0] = a0, acc0[1] = a1, acc0[2] = a2, acc0[3] = a3;
    acc1[0] = b0, acc1[1] = b1, acc1[2] = b2, acc1[3] = b3;
}
#endif

#if defined(__riscv)
#if UF_DW_BLOCK != UF_RV_ACC
#error "uf_rq_out4_rv and uf_dot2p2_s8 take a pixel's sums UF_DW_BLOCK apart"
#endif
// Depthwise, three taps per filter row at stride and dilation 1, four output pixels side
// by side with every tap valid, one input channel per output channel (channels
// contiguous): acc[i * 32 + j] = the sum over rows r < rows and taps c < 3 of
// x[r * x_row + (i + c) * x_col + j] * w[r * w_row + c * w_col + j] (i < 4, j < n). Per
// channel and row the six inputs and three weights are loaded once for 12 MACs
// (dw_taps2_s8: a weight per two MACs, an input per MAC).
static UF_MAC_NOINLINE void dw_row4_rv(const int8_t *x, const int8_t *w, int n, int rows, int x_row,
                                       int x_col, int w_row, int w_col, int32_t *acc) {
    for (const int32_t *end = acc + n; acc < end; x++, w++, acc++) {
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        const int8_t *xr = x, *wr = w;
        for (int r = rows; r > 0; r--, xr += x_row, wr += w_row) {
            const int8_t *p = xr, *q = wr;
            int32_t c0 = *q, c1, c2, v0, v1, v2, v3, v4, v5;
            q += w_col, c1 = *q, q += w_col, c2 = *q;
            v0 = *p, p += x_col, v1 = *p, p += x_col, v2 = *p, p += x_col;
            v3 = *p, p += x_col, v4 = *p, p += x_col, v5 = *p;
            a0 += v0 * c0 + v1 * c1 + v2 * c2;
            a1 += v1 * c0 + v2 * c1 + v3 * c2;
            a2 += v2 * c0 + v3 * c1 + v4 * c2;
            a3 += v3 * c0 + v4 * c1 + v5 * c2;
        }
        acc[0] = a0, acc[32] = a1, acc[64] = a2, acc[96] = a3;
    }
}

// dw_row4_rv at stride 2 (pixel i's taps at columns 2i + c): nine inputs per channel and row.
static UF_MAC_NOINLINE void dw_row4s2_rv(const int8_t *x, const int8_t *w, int n, int rows, int x_row,
                                         int x_col, int w_row, int w_col, int32_t *acc) {
    for (const int32_t *end = acc + n; acc < end; x++, w++, acc++) {
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        const int8_t *xr = x, *wr = w;
        for (int r = rows; r > 0; r--, xr += x_row, wr += w_row) {
            const int8_t *p = xr, *q = wr;
            int32_t c0 = *q, c1, c2, v0, v1, v2, v3, v4, v5, v6, v7, v8;
            q += w_col, c1 = *q, q += w_col, c2 = *q;
            v0 = *p, p += x_col, v1 = *p, p += x_col, v2 = *p, p += x_col;
            v3 = *p, p += x_col, v4 = *p, p += x_col, v5 = *p, p += x_col;
            v6 = *p, p += x_col, v7 = *p, p += x_col, v8 = *p;
            a0 += v0 * c0 + v1 * c1 + v2 * c2;
            a1 += v2 * c0 + v3 * c1 + v4 * c2;
            a2 += v4 * c0 + v5 * c1 + v6 * c2;
            a3 += v6 * c0 + v7 * c1 + v8 * c2;
        }
        acc[0] = a0, acc[32] = a1, acc[64] = a2, acc[96] = a3;
    }
}
#endif

// acc[j] -= in_off * w[tap][j] over the padded taps (outside rows [ky0, ky1) or
// columns [kx0, kx1)) of nb <= 4 channels, w at the first channel, taps out_c apart.
static UF_MAC_NOINLINE void dw_padded_s8(const int8_t *w, int nb, int k_h, int k_w, int out_c,
                                         int ky0, int ky1, int kx0, int kx1, int in_off,
                                         int32_t *acc) {
    int32_t s[4];
    s[0] = s[1] = s[2] = s[3] = 0;
    for (int ky = 0; ky < k_h; ky++) {
        int inside = ky >= ky0 && ky < ky1;
        for (int kx = 0; kx < k_w; kx++) {
            if (inside && kx == kx0 && kx1 > kx0) {
                kx = kx1 - 1;   // skip the valid run
                continue;
            }
            const int8_t *wp = w + (size_t)(ky * k_w + kx) * out_c;
            for (int j = 0; j < nb; j++) {
                s[j] += wp[j];
            }
        }
    }
    for (int j = 0; j < nb; j++) {
        acc[j] -= in_off * s[j];
    }
}

#if defined(__riscv)
// One input channel (xs = 0): its weights as channel pairs, per block of four channels g
// and tap t the words W[g][2t + q] = w[t][4g + 2q] - w[t][4g + 2q + 1] * 2^16 (q < 2), so
// one MUL by an input value gives two channels' products (lanes as uf_dot2p2_s8's, split
// every two taps of a row). UF_RV_WP words at most.
#define UF_RV_WP 320
static UF_MAC_NOINLINE void dw_x1tab_rv(const int8_t *w, int n4, int taps, int out_c, int32_t *W) {
    for (int g = 0; g < n4; g += 4) {
        const int8_t *wg = w + g;
        for (int t = 0; t < taps; t++, wg += out_c, W += 2) {
            W[0] = wg[0] - wg[1] * 65536;
            W[1] = wg[2] - wg[3] * 65536;
        }
    }
}

// Four channels (W: their block's words at the first valid tap) of two output pixels (x0,
// x1 at their first valid tap) over rows x cols taps: acc0[j], acc1[j] (j < 4). x_row,
// x_col: the input's steps, w_row: the words' from a row's first tap to the next's. Per
// two taps: four input LB, four LW and 28 ALU/MUL operations for 16 MACs (dw_taps2_s8:
// two LB, eight LB of weights, 16 MUL and 16 ADD for 8 MACs... per tap).
static UF_MAC_NOINLINE void dw_x1p_rv(const int8_t *x0, const int8_t *x1, const int32_t *W, int rows,
                                      int cols, int x_row, int x_col, int w_row, int32_t *acc0,
                                      int32_t *acc1) {
    const int32_t c = 32767;
    int32_t a0 = 0, h0 = 0, a1 = 0, h1 = 0, b0 = 0, g0 = 0, b1 = 0, g1 = 0;
    for (int r = rows; r > 0; r--, x0 += x_row, x1 += x_row, W += w_row) {
        const int8_t *p0 = x0, *p1 = x1;
        const int32_t *q = W;
        int k = cols;
        for (; k >= 2; k -= 2, q += 4) {
            int32_t u0 = *p0, u1 = *p1, v0, v1, e, f, p;
            p0 += x_col, p1 += x_col;
            v0 = *p0, v1 = *p1;
            p0 += x_col, p1 += x_col;
            e = q[0], f = q[2];
            p = e * u0 + f * v0; a0 += p; h0 += (p + c) >> 16;
            p = e * u1 + f * v1; b0 += p; g0 += (p + c) >> 16;
            e = q[1], f = q[3];
            p = e * u0 + f * v0; a1 += p; h1 += (p + c) >> 16;
            p = e * u1 + f * v1; b1 += p; g1 += (p + c) >> 16;
        }
        if (k) {
            int32_t u0 = *p0, u1 = *p1, p;
            p = q[0] * u0; a0 += p; h0 += (p + c) >> 16;
            p = q[0] * u1; b0 += p; g0 += (p + c) >> 16;
            p = q[1] * u0; a1 += p; h1 += (p + c) >> 16;
            p = q[1] * u1; b1 += p; g1 += (p + c) >> 16;
        }
    }
    acc0[0] = (int32_t)((uint32_t)a0 - ((uint32_t)h0 << 16)), acc0[1] = -h0;
    acc0[2] = (int32_t)((uint32_t)a1 - ((uint32_t)h1 << 16)), acc0[3] = -h1;
    acc1[0] = (int32_t)((uint32_t)b0 - ((uint32_t)g0 << 16)), acc1[1] = -g0;
    acc1[2] = (int32_t)((uint32_t)b1 - ((uint32_t)g1 << 16)), acc1[3] = -g1;
}

// dw_x1p_rv for one pixel: acc[j] (j < 4).
static UF_MAC_NOINLINE void dw_x1p1_rv(const int8_t *x, const int32_t *W, int rows, int cols, int x_row,
                                       int x_col, int w_row, int32_t *acc) {
    const int32_t c = 32767;
    int32_t a0 = 0, h0 = 0, a1 = 0, h1 = 0;
    for (int r = rows; r > 0; r--, x += x_row, W += w_row) {
        const int8_t *p0 = x;
        const int32_t *q = W;
        int k = cols;
        for (; k >= 2; k -= 2, q += 4) {
            int32_t u = *p0, v, p;
            p0 += x_col;
            v = *p0;
            p0 += x_col;
            p = q[0] * u + q[2] * v; a0 += p; h0 += (p + c) >> 16;
            p = q[1] * u + q[3] * v; a1 += p; h1 += (p + c) >> 16;
        }
        if (k) {
            int32_t u = *p0, p;
            p = q[0] * u; a0 += p; h0 += (p + c) >> 16;
            p = q[1] * u; a1 += p; h1 += (p + c) >> 16;
        }
    }
    acc[0] = (int32_t)((uint32_t)a0 - ((uint32_t)h0 << 16)), acc[1] = -h0;
    acc[2] = (int32_t)((uint32_t)a1 - ((uint32_t)h1 << 16)), acc[3] = -h1;
}
#endif

#if defined(__riscv)
// The padded taps' share -in_off * sum(w) of channels j < nb for the last four valid-tap
// patterns (ky0, ky1, kx0, kx1) of a block: a row's edge pixels and padded rows repeat
// theirs (dw_padded_s8 once per pattern, not per pixel).
typedef struct {
    int key[4][4], next;
    int32_t pad[4][UF_DW_BLOCK];
} dw_padc_rv_t;

static UF_MAC_NOINLINE const int32_t *dw_pad_rv(dw_padc_rv_t *pc, const int8_t *w, int nb, int k_h,
                                                int k_w, int out_c, int ky0, int ky1, int kx0,
                                                int kx1, int in_off) {
    for (int i = 0; i < 4; i++) {
        const int *k = pc->key[i];
        if (k[0] == ky0 && k[1] == ky1 && k[2] == kx0 && k[3] == kx1) {
            return pc->pad[i];
        }
    }
    int i = pc->next;
    int32_t *pad = pc->pad[i];
    pc->next = (i + 1) & 3;
    for (int j = 0; j < nb; j += 4) {
        pad[j] = pad[j + 1] = pad[j + 2] = pad[j + 3] = 0;
        if (nb - j < 4) {
            dw_padded_s8(w + j, nb - j, k_h, k_w, out_c, ky0, ky1, kx0, kx1, in_off, pad + j);
            break;
        }
        // four channels in registers, only the padded taps visited
        int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        const int8_t *wr = w + j;
        for (int ky = 0; ky < k_h; ky++, wr += (size_t)k_w * out_c) {
            int inside = ky >= ky0 && ky < ky1 && kx1 > kx0;
            const int8_t *wp = wr;
            for (int kx = 0; kx < k_w; kx++, wp += out_c) {
                if (inside && kx == kx0) {   // skip the valid run
                    kx = kx1 - 1, wp += (size_t)(kx1 - 1 - kx0) * out_c;
                    continue;
                }
                s0 += wp[0], s1 += wp[1], s2 += wp[2], s3 += wp[3];
            }
        }
        pad[j] = -in_off * s0, pad[j + 1] = -in_off * s1, pad[j + 2] = -in_off * s2, pad[j + 3] = -in_off * s3;
    }
    pc->key[i][0] = ky0, pc->key[i][1] = ky1, pc->key[i][2] = kx0, pc->key[i][3] = kx1;
    return pad;
}

// One output pixel's valid taps, one input channel, channel blocks of four (x, w at the
// first valid tap, w at channel 0; W: dw_x1tab_rv's words there, wstep words per block):
// acc[j], j < nb.
static UF_MAC_NOINLINE void dw_one_rv(const int8_t *x, const int8_t *w, const int32_t *W, int wstep,
                                      int nb, int xs, int rows, int cols, int x_row, int x_col,
                                      int w_row, int w_col, int k_w, int32_t *acc) {
    for (int j = 0; j < nb; j += 4, acc += 4) {
        int m = nb - j < 4 ? nb - j : 4;
        if (cols >= 4 && rows > 0 && m == 4) {   // (fewer columns: dw_taps_s8 is faster)
            dw_x1p1_rv(x, W + (j >> 2) * wstep, rows, cols, x_row, x_col, 2 * k_w, acc);
        } else if (rows > 0 && cols > 0) {
            dw_taps_s8(x + (size_t)j * xs, w + j, m, xs, rows, cols, x_row, x_col, w_row, w_col, acc);
        } else {
            acc[0] = acc[1] = acc[2] = acc[3] = 0;
        }
    }
}
#endif
#endif

#if UF_MAC_M0
// The padded taps of rows [ky, ky + rows) x columns [kx, kx + cols) of the n4 channels
// (a multiple of four) at w: t[j].acc += *zp * w[tap][j].
static void dw_pad_rect_m0(const int8_t *zp, const int8_t *w, uf_rq_m0_t *t, int n4, int k_w,
                           int out_c, int ky, int kx, int rows, int cols) {
    int32_t g[8] = {n4 >> 2, rows, cols, 0, out_c, 0, (k_w - cols) * out_c, 0};
    const int8_t *wb = w + (size_t)(ky * k_w + kx) * out_c;
    if (!(((uintptr_t)wb | (uint32_t)(g[4] | g[6])) & 3u)) {
        uf_dw4x1aw_m0(zp, wb, &t[0].acc, g);
    } else {
        uf_dw4x1a_m0(zp, wb, &t[0].acc, g);
    }
}

// The padded taps' share of a window's sum for the n4 channels at w (zp * their weights,
// taps out_c apart): valid rows [ky0, ky1) and columns [kx0, kx1) of k_h x k_w, into
// cor (by way of t's accumulators). The four border rectangles are dw_any_m4's (an ISA
// mirror: one of the two is compiled per target, each with its own tap kernel).
static UF_MAC_NOINLINE void dw_corr_m0(int32_t *cor, const int8_t *zp, const int8_t *w, uf_rq_m0_t *t,
                                       int n4, int k_h, int k_w, int out_c, int ky0, int ky1, int kx0,
                                       int kx1) {
    int rows = ky1 - ky0, cols = kx1 > kx0 ? kx1 - kx0 : 0;
    for (int j = 0; j < n4; j++) {
        t[j].acc = 0;
    }
    if (rows <= 0 || cols <= 0) {
        dw_pad_rect_m0(zp, w, t, n4, k_w, out_c, 0, 0, k_h, k_w);
    } else {
        if (ky0 > 0) {
            dw_pad_rect_m0(zp, w, t, n4, k_w, out_c, 0, 0, ky0, k_w);
        }
        if (ky1 < k_h) {
            dw_pad_rect_m0(zp, w, t, n4, k_w, out_c, ky1, 0, k_h - ky1, k_w);
        }
        if (kx0 > 0) {
            dw_pad_rect_m0(zp, w, t, n4, k_w, out_c, ky0, 0, rows, kx0);
        }
        if (kx1 < k_w) {
            dw_pad_rect_m0(zp, w, t, n4, k_w, out_c, ky0, kx1, rows, k_w - kx1);
        }
    }
    for (int j = 0; j < n4; j++) {
        cor[j] = t[j].acc;
    }
}

// The words per block of four channels of uf_dw4q33_m0's table (the 3x3 weights, then
// the four channels' requantization: uf_dw4t*_m0 and uf_dwcor33_m0 skip those).
#define UF_DW_TAB33 52
// The tallest filter eight wide whose windows cut by the padding dw_pixel_m0 copies
#define UF_DW_P8_ROWS 16
// uf_dw4q33_m0's table of n4 channels' 3x3 weights at w (a tap's channels out_c apart),
// with t's uf_rq1_m0 entries (ok == 2; else those words are left alone): uf_dwtab33_m0.
static UF_MAC_NOINLINE void dw_table33_m0(const int8_t *w, int out_c, int n4, int32_t *wtab, const uf_rq_m0_t *t,
                                          int ok) {
    uf_dwtab33_m0(w, out_c, n4 >> 2, wtab, ok == 2 ? t : 0);
    if (ok == 2) {
        wtab[(n4 >> 2) * UF_DW_TAB33 - 1] |= 256;   // the last block's mark (a register shift reads bits 0..7)
    }
}

// uf_dw4x1p8_m0's table of n4 channels (a multiple of four) at w over taps taps (a tap's
// channels out_c apart): per block of four, each tap's pairs w[c] - w[c+1] * 2^16, then the
// block's four t entries' words after .acc (the last block's marked: bit 8).
static UF_MAC_NOINLINE void dw_tab8_m0(const int8_t *w, int taps, int out_c, int n4, const uf_rq_m0_t *t,
                                       int32_t *p) {
    for (const uf_rq_m0_t *te = t + n4; t < te; t += 4, w += 4) {
        for (const int8_t *wp = w, *we = w + (size_t)taps * out_c; wp < we; wp += out_c, p += 2) {
            p[0] = wp[0] - wp[1] * 65536, p[1] = wp[2] - wp[3] * 65536;
        }
        for (int j = 0; j < 4; j++, p += 4) {
            p[0] = t[j].bias, p[1] = (int32_t)t[j].mult2, p[2] = t[j].half, p[3] = t[j].shifts;
        }
    }
    p[-1] |= 256;
}

// One layer and block of channels for depthwise_m0 and dw_pixel_m0.
typedef struct {
    const int8_t *x, *w;
    const void *bias, *mult, *shift;
    const int32_t *lim;
    uf_rq_m0_t *t;
    int32_t *wtab;   // uf_dw4q33_m0's table (table33)
    int32_t *ptab;   // uf_dw4x1q33p_m0's (one input channel, 3x3: after wtab's), or NULL
    int32_t *cbuf, *ckey;
    int in_h, in_w, in_c, out_c, k_h, k_w, d_h, d_w, in_off;
    int xs, zp_fits, keyed, table33, pair8, shapes, shape_ok;
    int c0, nb, n4, ok, nslots, cnext, s_w, s_h, out_w;
    int8_t zp;
} uf_dw_m0_t;

// The padded taps' share of the block's channels in fours for the window of valid
// rows [ky0, ky1) and columns [kx0, kx1): from the cache, or computed into its next slot.
static UF_MAC_NOINLINE const int32_t *dw_share_m0(uf_dw_m0_t *d, int ky0, int ky1, int kx0, int kx1) {
    if (d->shapes) {   // uf_dwsh33_m0's eight: rows and columns [0, 3) 0, [1, 3) 1, [0, 2) 2
        int s = (ky0 ? 3 : ky1 < 3 ? 6 : 0) + (kx0 ? 1 : kx1 < 3 ? 2 : 0);
        return d->cbuf + 4 * (s - 1);
    }
    int32_t key = ky0 | ky1 << 8 | kx0 << 16 | kx1 << 24;
    int n4 = d->n4, sl = 1;
    while (sl < d->nslots && d->ckey[sl] != key) {
        sl++;
    }
    if (sl == d->nslots) {
        sl = d->cnext;
        d->cnext = sl + 1 < d->nslots ? sl + 1 : 1;
        int32_t *cor = d->cbuf + sl * n4;
        if (d->table33) {
            int row = kx1 > kx0 ? (1 << kx1) - (1 << kx0) : 0, pad = 0x1ff;   // (no division)
            for (int ky = ky0; ky < ky1; ky++) {
                pad &= ~(row << (3 * ky));
            }
            uf_dwcor33_m0(cor, d->wtab, n4 >> 2, pad | (int32_t)d->zp << 16);
        } else {
            dw_corr_m0(cor, &d->zp, d->w + d->c0, d->t, n4, d->k_h, d->k_w, d->out_c, ky0, ky1, kx0, kx1);
        }
        d->ckey[sl] = d->keyed ? key : -1;
    }
    return d->cbuf + sl * n4;
}

// One output pixel of a filter eight wide over one input channel whose window the padding
// cuts at a side (valid rows [ky0, ky1)), into o: a copy of the window with the zero
// point outside the input, all its taps through uf_dw4x1p8_m0 (no padded taps' share).
static UF_MAC_NOINLINE void dw_pixel8_m0(uf_dw_m0_t *d, int y0, int ky0, int ky1, int x0, int8_t *o) {
    int32_t win[UF_DW_P8_ROWS * 2];
    uint32_t zp4 = (uint8_t)d->zp * 0x01010101u;
    int k_h = d->k_h, lo = x0 < 0 ? -x0 : 0, hi = d->in_w - x0 < 8 ? d->in_w - x0 : 8;   // the columns inside
    for (int32_t *p = win, *e = win + 2 * k_h; p < e; p += 2) {
        p[0] = p[1] = (int32_t)zp4;
    }
    const int8_t *xr = d->x + (size_t)(y0 + ky0 * d->d_h) * d->in_w + x0 + hi;
    int8_t *q = (int8_t *)win + 8 * ky0 + hi;
    for (int ky = ky0; ky < ky1; ky++, xr += d->d_h * d->in_w, q += 8) {
        for (int k = lo - hi; k < 0; k++) {   // (one index up to zero)
            q[k] = xr[k];
        }
    }
    int32_t gp[6] = {d->n4 >> 2, k_h, 8, 0, (int32_t)(uintptr_t)d->cbuf, k_h * 64 + 64};
    uf_dw4x1p8_m0((const int8_t *)win, d->wtab, &d->t[0].acc, gp);
    uf_rq_m0_out(d->t, d->nb, d->ok, d->lim, o, d->bias, d->mult, d->shift, d->c0);
}

// One output pixel of the block (window at input row y0, column x0; valid rows
// [ky0, ky1)) into o: the kernels by window shape and alignment, the padded taps'
// share as the accumulators' start (channels in fours, zp fits) or summed here.
static UF_MAC_NOINLINE void dw_pixel_m0(uf_dw_m0_t *d, int y0, int ky0, int ky1, int x0, int8_t *o) {
    int k_h = d->k_h, k_w = d->k_w, in_c = d->in_c, out_c = d->out_c, d_w = d->d_w;
    int nb = d->nb, n4 = d->n4, xs = d->xs, c0 = d->c0, kx0, kx1;
    uf_rq_m0_t *t = d->t;
    valid_taps(x0, k_w, d_w, d->in_w, &kx0, &kx1);
    int rows = ky1 - ky0, cols = kx1 > kx0 ? kx1 - kx0 : 0;
    int padded = rows < k_h || cols < k_w;
    const int32_t *cor = d->cbuf;   // (slot 0: zeros)
    if (padded && cols < 8 && d->pair8 && d->zp_fits && nb == n4) {
        dw_pixel8_m0(d, y0, ky0, ky1, x0, o);
        return;
    }
    if (n4 && padded && d->zp_fits) {
        cor = dw_share_m0(d, ky0, ky1, kx0, kx1);
    }
    if (rows > 0 && cols > 0) {
        size_t xoff = ((size_t)(y0 + ky0 * d->d_h) * d->in_w + (x0 + kx0 * d_w)) * in_c;
        const int8_t *x = d->x, *wt = d->w + (size_t)(ky0 * k_w + kx0) * out_c;
        int x_row = d->d_h * d->in_w * in_c;
        if (n4) {
            int32_t g[8] = {n4 >> 2, rows, cols, d_w * in_c, out_c, x_row - cols * d_w * in_c,
                            k_w * out_c - cols * out_c, (int32_t)(uintptr_t)cor};
            // (direct calls: a natmod cannot take these local symbols' address)
            const int8_t *xb = x + xoff + c0, *wb = wt + c0;
            if (xs && !(((uintptr_t)xb | (uintptr_t)wb | (uint32_t)(g[3] | g[4] | g[5] | g[6])) & 3u)) {
                // word loads; border windows of two or three rows and columns unrolled
                int rc = (rows == 2 || rows == 3) && (cols == 2 || cols == 3) ? rows * 4 + cols : 0;
                if (rc == 11) {
                    uf_dw4w23_m0(xb, wb, &t[0].acc, g);
                } else if (rc == 14) {
                    uf_dw4w32_m0(xb, wb, &t[0].acc, g);
                } else if (rc == 10) {
                    uf_dw4w22_m0(xb, wb, &t[0].acc, g);
                } else {
                    uf_dw4w_m0(xb, wb, &t[0].acc, g);
                }
            } else if (xs) {
                uf_dw4_m0(xb, wb, &t[0].acc, g);
            } else if (!(((uintptr_t)wb | (uint32_t)(g[4] | g[6])) & 3u)) {
                if (rows == 3 && cols == 3 && !padded) {
                    uf_dw4x1w33_m0(x + xoff, wb, &t[0].acc, g);
                } else if (cols == 8 && d->pair8) {
                    int32_t gp[6] = {n4 >> 2, rows, x_row, 0, (int32_t)(uintptr_t)cor, k_h * 64 + 64};
                    uf_dw4x1p8_m0(x + xoff, d->wtab + ky0 * 16, &t[0].acc, gp);
                } else if (cols == 8) {
                    uf_dw4x1w8_m0(x + xoff, wb, &t[0].acc, g);
                } else {
                    uf_dw4x1w_m0(x + xoff, wb, &t[0].acc, g);
                }
            } else {
                uf_dw4x1_m0(x + xoff, wb, &t[0].acc, g);
            }
        }
        if (nb > n4) {
            int32_t a[4];
            dw_taps_s8(x + xoff + (size_t)(c0 + n4) * xs, wt + c0 + n4, nb - n4, xs, rows, cols, x_row,
                       d_w * in_c, k_w * out_c, out_c, a);
            for (int j = n4; j < nb; j++) {
                t[j].acc = a[j - n4];
            }
        }
    } else {
        for (int j = 0; j < nb; j++) {
            t[j].acc = j < n4 ? cor[j] : 0;
        }
    }
    // padded taps read the zero point: in cor for the channels in fours where it fits
    // int8, here otherwise
    for (int j = n4 && d->zp_fits ? n4 : 0; padded && j < nb; j += 4) {
        int32_t a[4];
        int m = nb - j < 4 ? nb - j : 4;
        a[0] = a[1] = a[2] = a[3] = 0;
        dw_padded_s8(d->w + c0 + j, m, k_h, k_w, out_c, ky0, ky1, kx0, kx1, d->in_off, a);
        for (int i = 0; i < m; i++) {
            t[j + i].acc += a[i];
        }
    }
    uf_rq_m0_out(t, nb, d->ok, d->lim, o, d->bias, d->mult, d->shift, c0);
}

// A run of n pixels (from the window at input row y0, column x0; along the row, or down
// the column: vert) whose windows have the valid rows [ky0, ky1) and columns [kx0, kx1)
// of a 3x3 filter, two or three of each, into o: uf_dw4q*_m0 from the block's table
// (the requantization in the kernel), the padded taps' share as the start; along the row,
// nrows such runs one output row apart (the same columns of the rows below: one call).
static UF_MAC_NOINLINE void dw_run_m0(uf_dw_m0_t *d, int y0, int ky0, int ky1, int x0, int kx0, int kx1,
                                      int n, int8_t *o, int vert, int nrows) {
    int rows = ky1 - ky0, cols = kx1 - kx0, in_c = d->in_c, xs = d->xs, nb = d->nb;
    int rc = rows * 4 + cols, first = ky0 * 3 + kx0, end = (ky1 - 1) * 3 + kx1;
    const int8_t *xb = d->x + ((size_t)(y0 + ky0 * d->d_h) * d->in_w + (x0 + kx0 * d->d_w)) * in_c + d->c0 * xs;
    const int32_t *wt = d->wtab + first * 4;
    const int32_t *cor = rc == 15 ? 0 : dw_share_m0(d, ky0, ky1, kx0, kx1);
    int32_t row = d->d_h * d->in_w * in_c, x_col = d->d_w * in_c;
    // (pre: from the window's last tap to the block's requantization words; post: from
    // after them to the next block's first tap, in bytes)
    int32_t g[15] = {d->n4 >> 2, n, (vert ? d->out_w * d->out_c : d->out_c) - nb, x_col,
                     vert ? d->s_h * d->in_w * in_c : d->s_w * in_c, row - (cols - 1) * x_col, 0,
                     d->lim[1], d->lim[2] - d->lim[1],
                     (int32_t)(uintptr_t)cor, 16 * (9 - end), 16 * first,
                     nrows, d->s_h * d->in_w * in_c, d->out_w * d->out_c};
    // (direct calls: a natmod cannot take these local symbols' address)
    if (xs) {
        if (rc == 15) {
            uf_dw4q33_m0(xb, wt, o, g);
        } else if (rc == 11) {
            uf_dw4q23_m0(xb, wt, o, g);
        } else if (rc == 14) {
            uf_dw4q32_m0(xb, wt, o, g);
        } else {
            uf_dw4q22_m0(xb, wt, o, g);
        }
    } else {
        if (rc == 15 && d->ptab) {
            g[3] = 32767, g[5] = row;   // (the lanes' constant; a row's first tap to the next's)
            uf_dw4x1q33p_m0(xb, d->ptab, o, g);
        } else if (rc == 15) {
            uf_dw4x1q33_m0(xb, wt, o, g);
        } else if (rc == 11) {
            uf_dw4x1q23_m0(xb, wt, o, g);
        } else if (rc == 14) {
            uf_dw4x1q32_m0(xb, wt, o, g);
        } else {
            uf_dw4x1q22_m0(xb, wt, o, g);
        }
    }
}

// A run of n pixels (from the window at input row y0, column x0) of a filter eight wide
// over one input channel, every column inside and the valid rows [ky0, ky1), into o:
// uf_dw4x1q8_m0 from the block's pair table (the requantization in the kernel), the
// padded rows' share as the start.
static UF_MAC_NOINLINE void dw_run8_m0(uf_dw_m0_t *d, int y0, int ky0, int ky1, int x0, int n, int8_t *o) {
    const int32_t *cor = ky1 - ky0 < d->k_h ? dw_share_m0(d, ky0, ky1, 0, 8) : d->cbuf;
    int32_t g[15] = {d->n4 >> 2, n, d->out_c - d->nb, 32767, d->s_w, d->d_h * d->in_w, ky1 - ky0,
                     d->lim[1], d->lim[2] - d->lim[1], (int32_t)(uintptr_t)cor, 64 * (d->k_h - ky1),
                     64 * ky0, 1, 0, 0};
    uf_dw4x1q8_m0(d->x + (size_t)(y0 + ky0 * d->d_h) * d->in_w + x0, d->wtab + ky0 * 16, o, g);
}

// A row of outputs (windows at input row y0, valid rows [ky0, ky1)) of a filter eight wide
// over one input channel: the columns [oxa, oxb) with every window column inside as one
// run, the others one by one.
static UF_MAC_NOINLINE void dw_row8_m0(uf_dw_m0_t *d, int y0, int ky0, int ky1, int oxa, int oxb, int out_w,
                                       int s_w, int pad_w, int8_t *o) {
    for (int a = 0; a < out_w; a++) {
        if (a == oxa && oxb > oxa) {
            dw_run8_m0(d, y0, ky0, ky1, a * s_w - pad_w, oxb - oxa, o + a * d->out_c);
            a = oxb - 1;
        } else {
            dw_pixel_m0(d, y0, ky0, ky1, a * s_w - pad_w, o + a * d->out_c);
        }
    }
}

// Along one axis, every window of three taps (dilation 1) has two or three inside: at
// most one padded tap, at one end.
static UF_MAC_NOINLINE int dw_two_taps(int in, int out, int s, int pad) {
    return (unsigned)pad <= 1 && in >= 2 && (out - 1) * s - pad + 2 <= in;
}

// Cortex-M0+, one input channel per output channel (or one input channel): a
// block of up to UF_DW_BLOCK channels over every pixel (its requantization table
// built once), four channels per register block in one call per pixel.
static UF_MAC_NOINLINE void depthwise_m0(const int8_t *x, const int8_t *w, const void *bias,
                                         int8_t *out, const void *mult, const void *shift,
                                         int in_h, int in_w, int in_c, int out_h, int out_w,
                                         int out_c, int k_h, int k_w, int s_h, int s_w, int d_h,
                                         int d_w, int pad_h, int pad_w, int in_off, int out_off,
                                         int act_min, int act_max, int32_t *wtab) {
    // The padded taps' shares of the window shapes met (dw_share_m0), UF_M0_CORR / n4
    // slots of n4 (slot 0: zeros; the others' shapes in ckey, replaced in turn), or
    // (shapes) uf_dwsh33_m0's eight of every block, on into t once the block's table holds
    // its entries
    union {
        struct {
            int32_t cbuf[UF_M0_CORR];
            uf_rq_m0_t t[UF_DW_BLOCK];
        } s;
        int32_t sh[UF_M0_CORR + UF_DW_BLOCK * 5];
    } m;
    // (8 UF_DW_BLOCK words: within sh)
    uf_rq_m0_t *t = m.s.t;
    int32_t *cbuf = m.s.cbuf, ckey[UF_M0_CORR / 4];
    const int32_t lim[3] = {out_off, act_min, act_max};
    uf_dw_m0_t d;
    d.x = x, d.w = w, d.bias = bias, d.mult = mult, d.shift = shift, d.lim = lim, d.t = t;
    d.wtab = wtab, d.cbuf = cbuf, d.ckey = ckey;
    d.in_h = in_h, d.in_w = in_w, d.in_c = in_c, d.out_c = out_c, d.k_h = k_h, d.k_w = k_w;
    d.d_h = d_h, d.d_w = d_w, d.in_off = in_off;
    d.xs = in_c > 1;   // the input's step per channel (0: one input channel for all)
    // A padded tap adds zp * w (the bias holds in_off * w for every tap): zp = -in_off.
    d.zp = (int8_t)-in_off;
    d.zp_fits = in_off >= -127 && in_off <= 128;
    d.keyed = k_h < 128 && k_w < 128;   // (else every shape's share is computed again)
    d.s_w = s_w, d.s_h = s_h, d.out_w = out_w;
    int xs = d.xs;
    // Every window of a 3x3 filter has two or three valid rows and columns (at most one
    // padded row and column, none both sides): its padded taps' share is one of eight.
    d.shape_ok = k_h == 3 && k_w == 3 && d_h == 1 && d_w == 1 && d.zp_fits && dw_two_taps(in_h, out_h, s_h, pad_h) &&
                 dw_two_taps(in_w, out_w, s_w, pad_w);
    // The layer's geometry (once, not per block): the columns whose windows have every
    // column inside, [oxa, oxb); the rows whose windows have every row inside, [oya, oyb):
    // their border columns' pixels as one run down each column where every such column can
    // be one (vgeo; with the block's fast33: vert).
    int oxa = 0, oxb, oya = 0, oyb, vgeo = k_h == 3 && k_w == 3;   // (fast33 needs a 3x3 filter)
    while (oxa < out_w && oxa * s_w - pad_w < 0) {
        oxa++;
    }
    for (oxb = oxa; oxb < out_w && oxb * s_w - pad_w + (k_w - 1) * d_w < in_w; oxb++) {
    }
    while (oya < out_h && oya * s_h - pad_h < 0) {
        oya++;
    }
    for (oyb = oya; oyb < out_h && oyb * s_h - pad_h + 2 * d_h < in_h; oyb++) {
    }
    for (int a = oxa ? 0 : oxb; vgeo && a < out_w; a = a + 1 == oxa ? oxb : a + 1) {
        int kx0, kx1;
        valid_taps(a * s_w - pad_w, k_w, d_w, in_w, &kx0, &kx1);
        vgeo = oyb > oya && (kx1 - kx0 == 3 || (kx1 - kx0 == 2 && d.shape_ok));
    }
    for (int c0 = 0; c0 < out_c; c0 += UF_DW_BLOCK) {
        int nb = out_c - c0 < UF_DW_BLOCK ? out_c - c0 : UF_DW_BLOCK;
        int n4 = nb & ~3;
        int ok = uf_rq_m0_prepare(t, nb, bias, mult, shift, c0, lim);   // (ok == 2: T marked)
        int8_t *o = out + c0;
        d.c0 = c0, d.nb = nb, d.n4 = n4, d.ok = ok;
        // The usual interior pixels (a full 3x3 window, channels in fours, word-aligned
        // inputs or one input channel, uf_rq1_m0's table): the columns [oxa, oxb) of each
        // row with every window row inside, one call for them, the block's weights
        // sign-extended once into wtab with the requantization entries (uf_dw4q33_m0's
        // order; uf_dwcor33_m0's and uf_dwsh33_m0's too).
        d.table33 = k_h == 3 && k_w == 3 && n4;
        int fast33 = d.table33 && n4 == nb && ok == 2 &&
                     (!xs || !(((uintptr_t)x | (uint32_t)in_c) & 3u));
        d.shapes = d.shape_ok && fast33;   // (then no shares' cache)
        int n0 = d.shapes ? 0 : n4;
        d.nslots = n0 ? UF_M0_CORR / n0 : 0, d.cnext = 1;
        for (int j = 0; j < n0; j++) {
            cbuf[j] = 0;
        }
        for (int j = 1; j < d.nslots; j++) {
            ckey[j] = -1;
        }
        if (d.table33) {
            dw_table33_m0(w + c0, out_c, n4, wtab, t, ok);
        }
        // one input channel, a 3x3 filter, columns one byte apart: uf_dw4x1q33p_m0's channel
        // pairs for the full windows, after the 3x3 table (where both fit)
        d.ptab = 0;
        if (fast33 && !xs && d_w == 1 && n4 * (UF_DW_TAB33 + 34) <= UF_DW_BLOCK * UF_DW_TAB33) {
            int32_t *p = wtab + n4 / 4 * UF_DW_TAB33;
            d.ptab = p;
            for (int b = 0; b < n4; b += 4) {
                for (int tap = 0; tap < 9; tap++, p += 2) {
                    const int8_t *wp = w + (size_t)tap * out_c + c0 + b;
                    p[0] = wp[0] - wp[1] * 65536, p[1] = wp[2] - wp[3] * 65536;
                }
                for (int j = b; j < b + 4; j++, p += 4) {
                    p[0] = t[j].bias, p[1] = (int32_t)t[j].mult2, p[2] = t[j].half, p[3] = t[j].shifts;
                }
            }
            p[-1] |= 256;   // the last block's mark
        }
        // one input channel and a filter eight wide (micro_speech's 10x8): the pairs' table
        // (uf_dw4x1p8_m0's), each block's requantization words after its weights
        d.pair8 = !xs && k_w == 8 && d_w == 1 && n4 && k_h <= UF_DW_P8_ROWS &&
                  n4 * (k_h * 4 + 4) <= UF_DW_BLOCK / 4 * UF_DW_TAB33;
        if (d.pair8) {
            dw_tab8_m0(w + c0, k_h * 8, out_c, n4, t, wtab);
        }
        int fast8 = d.pair8 && n4 == nb && ok == 2, vert = fast33 && vgeo;
        // (after the tables: t's entries are in them, the shares go on into t)
        if (d.shapes) {
            uf_dwsh33_m0(cbuf, wtab, n4 >> 2, d.zp);
        }
        for (int a = oxa ? 0 : oxb; vert && a < out_w; a = a + 1 == oxa ? oxb : a + 1) {
            int kx0, kx1, x0 = a * s_w - pad_w;
            valid_taps(x0, k_w, d_w, in_w, &kx0, &kx1);
            dw_run_m0(&d, oya * s_h - pad_h, 0, 3, x0, kx0, kx1, oyb - oya, o + ((size_t)oya * out_w + a) * out_c, 1,
                      1);
        }
        for (int oy = 0; oy < out_h; oy++, o += out_w * out_c) {
            int y0 = oy * s_h - pad_h, ky0, ky1;
            if (vert && oy == oya && oyb > oya) {   // the border columns are done: the rows' interiors in one call
                if (oxb > oxa) {
                    dw_run_m0(&d, y0, 0, 3, oxa * s_w - pad_w, 0, 3, oxb - oxa, o + oxa * out_c, 0, oyb - oya);
                }
                o += (oyb - oya - 1) * out_w * out_c, oy = oyb - 1;   // (the loop's step: oyb)
                continue;
            }
            valid_taps(y0, k_h, d_h, in_h, &ky0, &ky1);
            int rows = ky1 - ky0;
            // windows of two or three valid rows and columns from the table (padded
            // ones with uf_dwsh33_m0's shares), the rest one by one
            int runs = fast33 && (rows == 3 || (rows == 2 && d.shapes));
            if (fast8 && rows > 0 && (rows == k_h || d.zp_fits)) {
                dw_row8_m0(&d, y0, ky0, ky1, oxa, oxb, out_w, s_w, pad_w, o);
                continue;
            }
            for (int a = 0; a < out_w;) {
                int x0 = a * s_w - pad_w, kx0 = 0, kx1 = 3, n = 1;
                if (runs && a >= oxa && a < oxb) {
                    n = oxb - a;
                } else if (runs) {
                    valid_taps(x0, k_w, d_w, in_w, &kx0, &kx1);
                }
                int cols = kx1 - kx0;
                if (runs && (cols == 3 || (cols == 2 && d.shapes))) {
                    dw_run_m0(&d, y0, ky0, ky1, x0, kx0, kx1, n, o + a * out_c, 0, 1);
                } else {
                    dw_pixel_m0(&d, y0, ky0, ky1, x0, o + a * out_c);
                }
                a += n;
            }
        }
    }
}
#endif

#if UF_MAC_BLOCKED && !UF_MAC_M0
// The other register-blocked cores, one input channel per output channel (or one
// input channel): a block of up to UF_DW_BLOCK channels over every pixel (its
// requantization table built once), four channels in registers tap by tap.
static UF_MAC_NOINLINE void depthwise_blocked(const int8_t *x, const int8_t *w, const void *bias, int8_t *out,
                              const void *mult, const void *shift, int in_h, int in_w, int in_c,
                              int out_h, int out_w, int out_c, int k_h, int k_w, int s_h,
                              int s_w, int d_h, int d_w, int pad_h, int pad_w, int in_off,
                              int out_off, int act_min, int act_max) {
    int xs = in_c > 1;   // the input's step per channel (0: one input channel for all)
    uf_rq_t t[UF_DW_BLOCK];
#if UF_MAC_PAIRS
    int32_t acc[2 * UF_DW_BLOCK];   // (the second half: a pixel pair's second pixel)
    int32_t pad[UF_DW_BLOCK];         // the padded taps' sums (valid taps pk)
#else
    int32_t acc[UF_DW_BLOCK];
#endif
#if defined(__riscv)
    // four pixels' sums (dw_row4_rv, channels per input) or, one input channel,
    // dw_x1tab_rv's words
    int32_t scratch[UF_RV_WP > 4 * UF_RV_ACC ? UF_RV_WP : 4 * UF_RV_ACC];
    int32_t *acc4 = scratch, *wx1 = scratch;
    dw_padc_rv_t padc;
    int row4 = xs && k_w == 3 && (s_w == 1 || s_w == 2) && d_w == 1;   // (dw_row4_rv, dw_row4s2_rv)
#endif
    for (int c0 = 0; c0 < out_c; c0 += UF_DW_BLOCK) {
        int nb = out_c - c0 < UF_DW_BLOCK ? out_c - c0 : UF_DW_BLOCK;
        int ok = uf_rq_prepare_lim(t, nb, bias, mult, shift, c0, k_h * k_w, out_off, act_min,
                                   act_max);
#if UF_MAC_PAIRS
        int pk[4] = {-1, -1, -1, -1};   // the valid taps pad is for
#endif
#if defined(__XTENSA__)
        // Single pixels' padded-tap sums: four cached (a row's edges alternate), replaced
        // in turn.
        int32_t pad1[4][UF_DW_BLOCK];
        int pk1[4][4], pn = 0;
        for (int i = 0; i < 4; i++) {
            pk1[i][0] = -1;
        }
#endif
#if defined(__riscv)
        // one input channel: the channel-pair words (dw_x1p_rv) of the block's fours
        const int32_t *wtab = 0;
        if (!xs && (size_t)(nb & ~3) * k_h * k_w / 2 <= UF_RV_WP) {
            dw_x1tab_rv(w + c0, nb & ~3, k_h * k_w, out_c, wx1);
            wtab = wx1;
        }
        padc.next = 0;
        for (int i = 0; i < 4; i++) {
            padc.key[i][0] = -1;   // (no pattern has ky0 < 0)
        }
#endif
        int8_t *o = out + c0;
        for (int oy = 0; oy < out_h; oy++) {
            int y0 = oy * s_h - pad_h, ky0, ky1;
            valid_taps(y0, k_h, d_h, in_h, &ky0, &ky1);
            for (int ox = 0; ox < out_w; ox++, o += out_c) {
                int x0 = ox * s_w - pad_w, kx0, kx1;
                valid_taps(x0, k_w, d_w, in_w, &kx0, &kx1);
                int rows = ky1 - ky0, cols = kx1 > kx0 ? kx1 - kx0 : 0;
                size_t xoff = rows > 0 && cols > 0
                    ? ((size_t)(y0 + ky0 * d_h) * in_w + (x0 + kx0 * d_w)) * in_c : 0;
                const int8_t *wt = w + (size_t)(ky0 * k_w + kx0) * out_c;
#if defined(__riscv)
                if (row4 && rows > 0 && cols == 3 && ox + 3 < out_w && x0 + 3 * s_w + 3 <= in_w) {
                    // four pixels with every tap of their valid rows valid (x0 >= 0: cols == 3)
                    if (s_w == 1) {
                        dw_row4_rv(x + xoff + c0, wt + c0, nb, rows, d_h * in_w * in_c, in_c, 3 * out_c, out_c,
                                   acc4);
                    } else {
                        dw_row4s2_rv(x + xoff + c0, wt + c0, nb, rows, d_h * in_w * in_c, in_c, 3 * out_c, out_c,
                                     acc4);
                    }
                    if (rows < k_h) {   // the padded rows' share
                        const int32_t *pp = dw_pad_rv(&padc, w + c0, nb, k_h, k_w, out_c, ky0, ky1, 0, 3,
                                                      in_off);
                        for (int j = 0; j < nb; j++) {
                            int32_t v = pp[j];
                            acc4[j] += v, acc4[UF_RV_ACC + j] += v, acc4[2 * UF_RV_ACC + j] += v;
                            acc4[3 * UF_RV_ACC + j] += v;
                        }
                    }
                    if (ok == 3) {
                        uf_rq_out4_rv(acc4, t, nb, o, out_c, act_min, act_max, 1);
                    } else {
                        for (int i = 0; i < 4; i++) {
                            uf_rq_out(acc4 + i * UF_RV_ACC, t, nb, ok, o + i * out_c, bias, mult, shift, c0,
                                      out_off, act_min, act_max);
                        }
                    }
                    ox += 3, o += 3 * out_c;
                    continue;
                }
#endif
#if UF_MAC_PAIRS
                if (ox + 1 < out_w && rows > 0 && cols > 0) {
                    // Two pixels whose windows have the same valid taps: weights loaded once.
                    int kx0b, kx1b;
                    valid_taps(x0 + s_w, k_w, d_w, in_w, &kx0b, &kx1b);
                    if (kx0b == kx0 && kx1b == kx1) {
                        int32_t *acc1 = acc + UF_DW_BLOCK;
                        size_t xoff1 = xoff + (size_t)s_w * in_c;
#if defined(__XTENSA__)
                        int32_t g[7] = {s_w * in_c, rows, cols * out_c, d_w * in_c, out_c,
                                        (d_h * in_w - cols * d_w) * in_c, (k_w - cols) * out_c};
#endif
                        for (int j = 0; j < nb; j += 4) {
                            int m = nb - j < 4 ? nb - j : 4;
                            const int8_t *xj = x + (size_t)(c0 + j) * xs;
#if defined(__riscv)
                            if (m == 4 && wtab) {
                                dw_x1p_rv(xj + xoff, xj + xoff1, wtab + j * k_h * k_w / 2 + 2 * (ky0 * k_w + kx0),
                                          rows, cols, d_h * in_w * in_c, d_w * in_c, 2 * k_w, acc + j, acc1 + j);
                            } else
#endif
                            if (m == 4) {
#if defined(__XTENSA__)
                                if (xs) {
                                    uf_dw2c_xt(xj + xoff, wt + c0 + j, g, acc + j);
                                } else {
                                    uf_dw2s_xt(xj + xoff, wt + c0 + j, g, acc + j);
                                }
#else
                                dw_taps2_s8(xj + xoff, xj + xoff1, wt + c0 + j, xs, rows, cols,
                                            d_h * in_w * in_c, d_w * in_c, k_w * out_c, out_c,
                                            acc + j, acc1 + j);
#endif
                            } else {
                                dw_taps_s8(xj + xoff, wt + c0 + j, m, xs, rows, cols,
                                           d_h * in_w * in_c, d_w * in_c, k_w * out_c, out_c, acc + j);
                                dw_taps_s8(xj + xoff1, wt + c0 + j, m, xs, rows, cols,
                                           d_h * in_w * in_c, d_w * in_c, k_w * out_c, out_c,
                                           acc1 + j);
                            }
                        }
                        if (rows < k_h || cols < k_w) {   // the same padded taps in both
                            if (pk[0] != ky0 || pk[1] != ky1 || pk[2] != kx0 || pk[3] != kx1) {
                                // (the same for a run of pixels)
                                for (int j = 0; j < nb; j += 4) {
                                    int m = nb - j < 4 ? nb - j : 4;
                                    pad[j] = pad[j + 1] = pad[j + 2] = pad[j + 3] = 0;
                                    dw_padded_s8(w + c0 + j, m, k_h, k_w, out_c, ky0, ky1, kx0,
                                                 kx1, in_off, pad + j);
                                }
                                pk[0] = ky0, pk[1] = ky1, pk[2] = kx0, pk[3] = kx1;
                            }
                            for (int j = 0; j < nb; j++) {
                                acc[j] += pad[j];
                                acc1[j] += pad[j];
                            }
                        }
#if defined(__riscv)
                        if (ok == 3) {
                            uf_rq_out4_rv(acc, t, nb, o, out_c, act_min, act_max, 0);
                        } else
#endif
                        {
                            uf_rq_out(acc, t, nb, ok, o, bias, mult, shift, c0, out_off, act_min, act_max);
                            uf_rq_out(acc1, t, nb, ok, o + out_c, bias, mult, shift, c0, out_off, act_min,
                                      act_max);
                        }
                        ox++, o += out_c;
                        continue;
                    }
                }
#endif
#if defined(__XTENSA__)
                // A single pixel through the pairs' kernels (its own second pixel: twice the
                // multiplies, still fewer cycles than dw_taps_s8's C)
                int32_t g1[7] = {0, rows, cols * out_c, d_w * in_c, out_c,
                                 (d_h * in_w - cols * d_w) * in_c, (k_w - cols) * out_c};
#endif
#if defined(__riscv)
                if (wtab) {
                    dw_one_rv(x + xoff, wt + c0, wtab + 2 * (ky0 * k_w + kx0), 2 * k_h * k_w, nb, xs, rows,
                              cols, d_h * in_w * in_c, d_w * in_c, k_w * out_c, out_c, k_w, acc);
                } else
#endif
                for (int j = 0; j < nb; j += 4) {
                    int m = nb - j < 4 ? nb - j : 4;
#if defined(__XTENSA__)
                    if (rows > 0 && cols > 0 && m == 4) {
                        const int8_t *xj = x + xoff + (size_t)(c0 + j) * xs;
                        if (xs) {
                            uf_dw2c_xt(xj, wt + c0 + j, g1, acc + j);
                        } else {
                            uf_dw2s_xt(xj, wt + c0 + j, g1, acc + j);
                        }
                    } else
#endif
                    if (rows > 0 && cols > 0) {
                        dw_taps_s8(x + xoff + (size_t)(c0 + j) * xs, wt + c0 + j, m, xs, rows, cols,
                                   d_h * in_w * in_c, d_w * in_c, k_w * out_c, out_c, acc + j);
                    } else {
                        acc[j] = acc[j + 1] = acc[j + 2] = acc[j + 3] = 0;
                    }
#if !defined(__XTENSA__) && !defined(__riscv)
                    if (rows < k_h || cols < k_w) {   // padded taps read the zero point
                        dw_padded_s8(w + c0 + j, m, k_h, k_w, out_c, ky0, ky1, kx0, kx1, in_off,
                                     acc + j);
                    }
#endif
                }
#if defined(__XTENSA__)
                if (rows < k_h || cols < k_w) {   // padded taps read the zero point
                    int s = 0;
                    while (s < 4 && (pk1[s][0] != ky0 || pk1[s][1] != ky1 || pk1[s][2] != kx0
                                     || pk1[s][3] != kx1)) {
                        s++;
                    }
                    if (s == 4) {
                        s = pn++ & 3;
                        for (int j = 0; j < nb; j += 4) {
                            int m = nb - j < 4 ? nb - j : 4;
                            pad1[s][j] = pad1[s][j + 1] = pad1[s][j + 2] = pad1[s][j + 3] = 0;
                            dw_padded_s8(w + c0 + j, m, k_h, k_w, out_c, ky0, ky1, kx0, kx1,
                                         in_off, pad1[s] + j);
                        }
                        pk1[s][0] = ky0, pk1[s][1] = ky1, pk1[s][2] = kx0, pk1[s][3] = kx1;
                    }
                    for (int j = 0; j < nb; j++) {
                        acc[j] += pad1[s][j];
                    }
                }
#endif
#if defined(__riscv)
                if (rows < k_h || cols < k_w) {   // padded taps read the zero point
                    const int32_t *pp = dw_pad_rv(&padc, w + c0, nb, k_h, k_w, out_c, ky0, ky1, kx0, kx1,
                                                  in_off);
                    for (int j = 0; j < nb; j++) {
                        acc[j] += pp[j];
                    }
                }
#endif
                uf_rq_out(acc, t, nb, ok, o, bias, mult, shift, c0, out_off, act_min, act_max);
            }
        }
    }
}
#endif

#if UF_MAC_DSP
// Sums a depthwise run of pixels keeps (a multiple of UF_DW_BLOCK): 512 bytes of stack.
#define UF_M4_RUN 128
// The padded taps of rows [ky, ky + rows) x columns [kx, kx + cols) of g[0] blocks of
// four channels at w: acc += zp * w[tap] (x at one byte holding zp, steps 0).
static void dw_pad_rect_m4(const int8_t *zp, const int8_t *w, int32_t *acc, int32_t *g, int k_w,
                           int out_c, int ky, int kx, int rows, int cols) {
    g[1] = rows, g[2] = cols, g[3] = 0, g[5] = 0, g[6] = (k_w - cols) * out_c, g[7] = 0;
    g[8] = (int32_t)(uintptr_t)acc;
    uf_dw4x1_m4(zp, w + (size_t)(ky * k_w + kx) * out_c, acc, g);
}

// The first n4 channels (from c0) of a pixel whose window starts at input (y0, x0),
// any filter size: the valid taps (rows [ky0, ky1) x columns [kx0, kx1)) by
// uf_dw4_m4 from the bias, the padded ones as rectangles of taps reading zp.
static void dw_any_m4(const int8_t *x, const int8_t *w, int32_t *acc, int32_t *g, int xs,
                      const int8_t *zp, int in_w, int in_c, int out_c, int c0, int n4, int k_h,
                      int k_w, int y0, int x0, int d_h, int d_w, int ky0, int ky1, int kx0,
                      int kx1, const int32_t *b) {
    int rows = ky1 - ky0, cols = kx1 > kx0 ? kx1 - kx0 : 0;
    g[0] = n4 >> 2, g[4] = out_c;
    if (rows > 0 && cols > 0) {
        size_t xoff = ((size_t)(y0 + ky0 * d_h) * in_w + (x0 + kx0 * d_w)) * in_c;
        const int8_t *wt = w + (size_t)(ky0 * k_w + kx0) * out_c;
        g[1] = rows, g[2] = cols, g[3] = d_w * in_c;
        g[5] = d_h * in_w * in_c - cols * d_w * in_c;
        g[6] = (k_w - cols) * out_c, g[7] = xs ? 4 : 0;
        g[8] = (int32_t)(uintptr_t)b;
        if (xs) {
            uf_dw4_m4(x + xoff + c0, wt, acc, g);
        } else {
            uf_dw4x1_m4(x + xoff, wt, acc, g);
        }
    } else {
        for (int j = 0; j < n4; j++) {
            acc[j] = b[j];
        }
    }
    if (rows <= 0 || cols <= 0) {
        dw_pad_rect_m4(zp, w, acc, g, k_w, out_c, 0, 0, k_h, k_w);
        return;
    }
    if (ky0 > 0) {
        dw_pad_rect_m4(zp, w, acc, g, k_w, out_c, 0, 0, ky0, k_w);
    }
    if (ky1 < k_h) {
        dw_pad_rect_m4(zp, w, acc, g, k_w, out_c, ky1, 0, k_h - ky1, k_w);
    }
    if (kx0 > 0) {
        dw_pad_rect_m4(zp, w, acc, g, k_w, out_c, ky0, 0, rows, kx0);
    }
    if (kx1 < k_w) {
        dw_pad_rect_m4(zp, w, acc, g, k_w, out_c, ky0, kx1, rows, k_w - kx1);
    }
}

// The same for a 3x3 filter: uf_dw4_3x3_m4 over the input where the whole window is
// inside it, else over a copy of the window in win (zp at the padded taps).
static void dw_3x3_m4(const int8_t *x, const int8_t *w, int32_t *acc, int32_t *g, uint32_t *win,
                      int xs, int8_t zp, int in_h, int in_w, int in_c, int out_c, int c0, int n4,
                      int y0, int x0, int d_h, int d_w, const int32_t *b) {
    const int8_t *xw;
    if (y0 >= 0 && x0 >= 0 && y0 + 2 * d_h < in_h && x0 + 2 * d_w < in_w) {
        xw = x + ((size_t)y0 * in_w + x0) * in_c + (xs ? c0 : 0);
        g[1] = d_w * in_c, g[3] = d_h * in_w * in_c;
    } else if (xs) {
        uint32_t zw = (uint8_t)zp * 0x01010101u, *p = win;
        for (int ky = 0; ky < 3; ky++) {
            int iy = y0 + ky * d_h;
            for (int kx = 0; kx < 3; kx++) {
                int ix = x0 + kx * d_w;
                if (iy >= 0 && iy < in_h && ix >= 0 && ix < in_w) {
                    const uint8_t *s = (const uint8_t *)x + ((size_t)iy * in_w + ix) * in_c + c0;
                    for (int j = 0; j < n4; j += 4) {
                        *p++ = uf_bytes_u32(s + j);
                    }
                } else {
                    for (int j = 0; j < n4; j += 4) {
                        *p++ = zw;
                    }
                }
            }
        }
        xw = (const int8_t *)win;
        g[1] = n4, g[3] = 3 * n4;
    } else {
        int8_t *p = (int8_t *)win;
        for (int ky = 0; ky < 3; ky++) {
            int iy = y0 + ky * d_h;
            for (int kx = 0; kx < 3; kx++) {
                int ix = x0 + kx * d_w;
                *p++ = iy >= 0 && iy < in_h && ix >= 0 && ix < in_w ? x[(size_t)iy * in_w + ix] : zp;
            }
        }
        xw = (const int8_t *)win;
        g[1] = 1, g[3] = 3;
    }
    g[0] = n4 >> 2, g[2] = out_c, g[4] = xs ? 4 : 0, g[5] = (int32_t)(uintptr_t)b;
    g[6] = 1, g[7] = 0;
    if (xs) {
        uf_dw4_3x3_m4(xw, w, acc, g);
    } else {
        uf_dw4x1_3x3_m4(xw, w, acc, g);
    }
}

// Cortex-M4/M7/M33, one input channel per output channel (or one input channel): a
// block of up to UF_DW_BLOCK channels over every pixel, its requantization table
// built once; one uf_dw4_m4 call per pixel runs the block's valid taps four channels
// at a time, the padded taps (the input zero point: the bias holds in_off * w for
// every tap, so a padded tap adds -in_off * w) go through the same kernel with x at
// zp = -in_off. Channels past the last multiple of four: dw_taps_s8. Layers whose
// requantization uf_rqf_check refuses take depthwise_blocked.
static UF_MAC_NOINLINE void depthwise_dsp(const int8_t *x, const int8_t *w, const void *bias, int8_t *out,
                          const void *mult, const void *shift, int in_h, int in_w, int in_c,
                          int out_h, int out_w, int out_c, int k_h, int k_w, int s_h,
                          int s_w, int d_h, int d_w, int pad_h, int pad_w, int in_off,
                          int out_off, int act_min, int act_max) {
    uf_rqf_t t[UF_DW_BLOCK];
    int32_t b[UF_DW_BLOCK], acc[UF_M4_RUN], g[9];
    int xs = in_c > 1;   // the input's step per channel (0: one input channel for all)
    const int8_t zp = (int8_t)-in_off;
    int k3 = k_h == 3 && k_w == 3;
    uint32_t win[9 * UF_DW_BLOCK / 4];   // a 3x3 window with padding, a block's channels
    // 3x3: the columns [ox_lo, ox_end) whose windows lie inside the input's width
    int ox_lo = (pad_w + s_w - 1) / s_w;
    int ox_end = in_w - 1 - 2 * d_w + pad_w < 0 ? 0 : (in_w - 1 - 2 * d_w + pad_w) / s_w + 1;
    ox_end = ox_end > out_w ? out_w : ox_end;
    int32_t p[6];
    uf_rqf_limits(p, act_min, act_max);
    for (int c0 = 0; c0 < out_c; c0 += UF_DW_BLOCK) {
        int nb = out_c - c0 < UF_DW_BLOCK ? out_c - c0 : UF_DW_BLOCK;
        int n4 = nb & ~3;
        int run_max = n4 ? UF_M4_RUN / n4 : 0;
        uf_rqf_prepare(t, b, nb, bias, mult, shift, c0, out_off);
        int8_t *o = out + c0;
        for (int oy = 0; oy < out_h; oy++) {
            int y0 = oy * s_h - pad_h, ky0, ky1;
            valid_taps(y0, k_h, d_h, in_h, &ky0, &ky1);
            // runs of whole 3x3 windows: one kernel call and one requantization call each
            int runs = k3 && nb == n4 && n4 && y0 >= 0 && y0 + 2 * d_h < in_h;
            for (int ox = 0; ox < out_w;) {
                if (runs && ox >= ox_lo && ox < ox_end) {
                    int r = ox_end - ox < run_max ? ox_end - ox : run_max, x0 = ox * s_w - pad_w;
                    g[0] = n4 >> 2, g[1] = d_w * in_c, g[2] = out_c, g[3] = d_h * in_w * in_c;
                    g[4] = xs ? 4 : 0, g[5] = (int32_t)(uintptr_t)b, g[6] = r, g[7] = s_w * in_c;
                    const int8_t *xw = x + ((size_t)y0 * in_w + x0) * in_c + (xs ? c0 : 0);
                    if (xs) {
                        uf_dw4_3x3_m4(xw, w + c0, acc, g);
                    } else {
                        uf_dw4x1_3x3_m4(xw, w + c0, acc, g);
                    }
                    p[0] = n4 >> 2, p[3] = r, p[4] = out_c, p[5] = 4 * n4;
                    uf_rqf4_m4(acc, t, o, p);
                    ox += r, o += (size_t)r * out_c;
                    continue;
                }
                int x0 = ox * s_w - pad_w, kx0, kx1;
                valid_taps(x0, k_w, d_w, in_w, &kx0, &kx1);
                int rows = ky1 - ky0, cols = kx1 > kx0 ? kx1 - kx0 : 0;
                if (n4 && k3) {
                    dw_3x3_m4(x, w + c0, acc, g, win, xs, zp, in_h, in_w, in_c, out_c, c0, n4,
                              y0, x0, d_h, d_w, b);
                } else if (n4) {
                    dw_any_m4(x, w + c0, acc, g, xs, &zp, in_w, in_c, out_c, c0, n4, k_h, k_w,
                              y0, x0, d_h, d_w, ky0, ky1, kx0, kx1, b);
                }
                if (nb > n4) {   // the last channels, one by one
                    int32_t a[4] = {0, 0, 0, 0};
                    if (rows > 0 && cols > 0) {
                        size_t xoff = ((size_t)(y0 + ky0 * d_h) * in_w + (x0 + kx0 * d_w)) * in_c;
                        dw_taps_s8(x + xoff + (size_t)(c0 + n4) * xs,
                                   w + (size_t)(ky0 * k_w + kx0) * out_c + c0 + n4, nb - n4, xs,
                                   rows, cols, d_h * in_w * in_c, d_w * in_c, k_w * out_c, out_c, a);
                    }
                    for (int j = n4; j < nb; j++) {
                        acc[j] = b[j] + a[j - n4];
                    }
                    if (rows < k_h || cols < k_w) {   // padded taps read the zero point
                        dw_padded_s8(w + c0 + n4, nb - n4, k_h, k_w, out_c, ky0, ky1, kx0, kx1,
                                     in_off, acc + n4);
                    }
                }
                uf_rqf_out(acc, t, nb, o, act_min, act_max);
                ox++, o += out_c;
            }
        }
    }
}
#endif

#if UF_MAC_DSP
// uf_dwp_m4's packed weights (words) and padded window (bytes) on the stack.
#define UF_M4_DWP_W 320
#define UF_M4_DWP_WIN 128
#define UF_M4_DWP_RUN 64   // sums of a run of pixels (a multiple of UF_DW_BLOCK)
// Cortex-M4/M7/M33, one input channel and undilated rows (out_c a multiple of four):
// the weights of a block of up to UF_DW_BLOCK channels packed once in tap pairs
// (uf_dwp_pack_m4), one uf_dwp_m4 call per pixel over the input where the window
// (rows padded to whole quads of taps) lies inside it, else over a copy of the window
// with the input zero point (-in_off) at the padded taps; the sums of a row of pixels
// requantized in one call. 0 (nothing done) when the filter is too big for its buffers.
static UF_MAC_NOINLINE int depthwise_x1_dsp(const int8_t *x, const int8_t *w, int8_t *out,
                                            const void *bias, const void *mult,
                                            const void *shift, int in_h, int in_w, int out_h,
                                            int out_w, int out_c, int k_h, int k_w, int s_h,
                                            int s_w, int d_h, int pad_h, int pad_w, int in_off,
                                            int out_off, int act_min, int act_max) {
    int nq = (k_w + 3) >> 2;
    int nb0 = out_c < UF_DW_BLOCK ? out_c : UF_DW_BLOCK;
    if (k_h * nq * 8 * nb0 / 4 > UF_M4_DWP_W || k_h * 4 * nq > UF_M4_DWP_WIN) {
        return 0;
    }
    int32_t W[UF_M4_DWP_W], b[UF_DW_BLOCK], acc[UF_M4_DWP_RUN], g[5], p[6];
    uf_rqf_t t[UF_DW_BLOCK];
    uint32_t win[UF_M4_DWP_WIN / 4];
    int8_t zp = (int8_t)-in_off;
    uf_rqf_limits(p, act_min, act_max);
    for (int c0 = 0; c0 < out_c; c0 += UF_DW_BLOCK) {
        int nb = out_c - c0 < UF_DW_BLOCK ? out_c - c0 : UF_DW_BLOCK;
        int run_max = UF_M4_DWP_RUN / nb;
        uf_rqf_prepare(t, b, nb, bias, mult, shift, c0, out_off);
        uf_dwp_pack_m4(W, w + c0, nb, k_h, k_w, nq, out_c);
        g[0] = nb >> 2, g[1] = k_h, g[2] = nq, g[4] = (int32_t)(uintptr_t)b;
        p[0] = nb >> 2, p[4] = out_c, p[5] = 4 * nb;
        int8_t *o = out + c0;
        for (int oy = 0; oy < out_h; oy++) {
            int y0 = oy * s_h - pad_h;
            int rows_in = y0 >= 0 && y0 + (k_h - 1) * d_h < in_h;
            for (int ox = 0; ox < out_w;) {
                int r = out_w - ox < run_max ? out_w - ox : run_max;
                for (int i = 0; i < r; i++) {
                    int x0 = (ox + i) * s_w - pad_w;
                    const int8_t *xw;
                    if (rows_in && x0 >= 0 && x0 + 4 * nq <= in_w) {
                        xw = x + (size_t)y0 * in_w + x0;
                        g[3] = d_h * in_w - 4 * nq;
                    } else {
                        // the row's taps inside the input: [lo, hi)
                        int lo = x0 < 0 ? -x0 : 0, hi = in_w - x0 < k_w ? in_w - x0 : k_w;
                        int8_t *q = (int8_t *)win;
                        for (int ky = 0; ky < k_h; ky++, q += 4 * nq) {
                            int iy = y0 + ky * d_h, kx = 0;
                            if (iy >= 0 && iy < in_h) {
                                const int8_t *xr = x + (size_t)iy * in_w + x0;
                                for (; kx < lo; kx++) {
                                    q[kx] = zp;
                                }
                                for (; kx < hi; kx++) {
                                    q[kx] = xr[kx];
                                }
                            }
                            for (; kx < 4 * nq; kx++) {
                                q[kx] = zp;
                            }
                        }
                        xw = (const int8_t *)win;
                        g[3] = 0;
                    }
                    uf_dwp_m4(xw, W, acc + i * nb, g);
                }
                p[3] = r;
                uf_rqf4_m4(acc, t, o, p);
                ox += r, o += (size_t)r * out_c;
            }
        }
    }
    return 1;
}
#endif

void uf_depthwise_conv2d_s8(const int8_t *x, const int8_t *w, const void *bias, int8_t *out,
                            const void *mult, const void *shift, int32_t *scratch, int in_h, int in_w,
                            int in_c, int out_h, int out_w, int depth_mult, int k_h, int k_w,
                            int s_h, int s_w, int d_h, int d_w, int pad_h, int pad_w,
                            int in_off, int out_off, int act_min, int act_max, int scratch_n, int w_min) {
    (void)scratch, (void)scratch_n;   // (kernel_spec's optional scratch: no depthwise kernel uses it)
    (void)w_min;
    const int out_c = in_c * depth_mult;
#if UF_MAC_M0
    if (depth_mult == 1 || in_c == 1) {
        // (the 3x3 weight table in this frame: Thumb-1 SP offsets reach 1020 bytes, and
        // depthwise_m0's locals stay within them)
        int32_t wtab[UF_DW_BLOCK / 4 * UF_DW_TAB33];
        depthwise_m0(x, w, bias, out, mult, shift, in_h, in_w, in_c, out_h, out_w, out_c, k_h,
                     k_w, s_h, s_w, d_h, d_w, pad_h, pad_w, in_off, out_off, act_min, act_max, wtab);
        return;
    }
#elif UF_MAC_BLOCKED
#if UF_MAC_DSP
    if (in_c == 1 && d_w == 1 && !(out_c & 3) && !(k_h == 3 && k_w == 3) && in_off >= -127
        && in_off <= 128
        && uf_rqf_check(out_c, bias, mult, shift, k_h * k_w, out_off)
        && depthwise_x1_dsp(x, w, out, bias, mult, shift, in_h, in_w, out_h, out_w, out_c, k_h,
                            k_w, s_h, s_w, d_h, pad_h, pad_w, in_off, out_off, act_min, act_max)) {
        return;
    }
    if ((depth_mult == 1 || in_c == 1) && in_off >= -127 && in_off <= 128
        && uf_rqf_check(out_c, bias, mult, shift, k_h * k_w, out_off)) {
        depthwise_dsp(x, w, bias, out, mult, shift, in_h, in_w, in_c, out_h, out_w, out_c, k_h,
                      k_w, s_h, s_w, d_h, d_w, pad_h, pad_w, in_off, out_off, act_min, act_max);
        return;
    }
#endif
    if (depth_mult == 1 || in_c == 1) {
        depthwise_blocked(x, w, bias, out, mult, shift, in_h, in_w, in_c, out_h, out_w, out_c,
                          k_h, k_w, s_h, s_w, d_h, d_w, pad_h, pad_w, in_off, out_off, act_min,
                          act_max);
        return;
    }
#endif
    for (int oy = 0; oy < out_h; oy++) {
        int y0 = oy * s_h - pad_h, ky0, ky1;
        valid_taps(y0, k_h, d_h, in_h, &ky0, &ky1);
        for (int ox = 0; ox < out_w; ox++) {
            int x0 = ox * s_w - pad_w, kx0, kx1;
            valid_taps(x0, k_w, d_w, in_w, &kx0, &kx1);
            if (depth_mult == 1 || in_c == 1) {
                // A block of channels accumulates tap by tap: the inner loop runs
                // over contiguous channels of the filter and of the input (or,
                // for one input channel, over its one value).
                for (int c0 = 0; c0 < out_c; c0 += UF_DW_BLOCK) {
                    int nb = out_c - c0 < UF_DW_BLOCK ? out_c - c0 : UF_DW_BLOCK;
                    int32_t acc[UF_DW_BLOCK];
                    for (int c = 0; c < nb; c++) {
                        acc[c] = uf_ld_i32(bias, c0 + c);
                    }
                    if (ky0 == 0 && ky1 == k_h && kx0 == 0 && kx1 == k_w) {
                        // Every tap valid (most pixels): walk the window by pointer steps.
                        const int8_t *xr = x + ((size_t)y0 * in_w + x0) * in_c + (in_c > 1 ? c0 : 0);
                        const int8_t *wp = w + c0;
                        for (int ky = 0; ky < k_h; ky++, xr += (size_t)d_h * in_w * in_c) {
                            const int8_t *xp = xr;
                            for (int kx = 0; kx < k_w; kx++, xp += (size_t)d_w * in_c, wp += out_c) {
                                if (in_c == 1) {
                                    int32_t xv = xp[0];
                                    for (int c = 0; c < nb; c++) {
                                        acc[c] += xv * wp[c];
                                    }
                                } else {
                                    for (int c = 0; c < nb; c++) {
                                        acc[c] += (int32_t)xp[c] * wp[c];
                                    }
                                }
                            }
                        }
                    } else
                    for (int ky = 0; ky < k_h; ky++) {
                        int yin = in_run(ky, ky0, ky1);
                        for (int kx = 0; kx < k_w; kx++) {
                            const int8_t *wp = w + (size_t)(ky * k_w + kx) * out_c + c0;
                            if (yin && in_run(kx, kx0, kx1)) {
                                const int8_t *xp = x + ((size_t)(y0 + ky * d_h) * in_w
                                                        + (x0 + kx * d_w)) * in_c;
                                if (in_c == 1) {
                                    int32_t xv = xp[0];
                                    for (int c = 0; c < nb; c++) {
                                        acc[c] += xv * wp[c];
                                    }
                                } else {
                                    xp += c0;
                                    for (int c = 0; c < nb; c++) {
                                        acc[c] += (int32_t)xp[c] * wp[c];
                                    }
                                }
                            } else {
                                for (int c = 0; c < nb; c++) {
                                    acc[c] -= in_off * wp[c];
                                }
                            }
                        }
                    }
                    for (int c = 0; c < nb; c++) {
                        int oc = c0 + c;
                        out[oc] = (int8_t)uf_requant_mac(acc[c], mult, shift, oc, out_off,
                                                     act_min, act_max);
                    }
                }
            } else {
                for (int oc = 0; oc < out_c; oc++) {
                    int ic = oc / depth_mult;
                    int32_t acc = uf_ld_i32(bias, oc);
                    for (int ky = 0; ky < k_h; ky++) {
                        int yin = in_run(ky, ky0, ky1);
                        for (int kx = 0; kx < k_w; kx++) {
                            int32_t wv = w[(size_t)(ky * k_w + kx) * out_c + oc];
                            if (yin && in_run(kx, kx0, kx1)) {
                                acc += wv * x[((size_t)(y0 + ky * d_h) * in_w + (x0 + kx * d_w)) * in_c + ic];
                            } else {
                                acc -= in_off * wv;
                            }
                        }
                    }
                    out[oc] = (int8_t)uf_requant_mac(acc, mult, shift, oc, out_off, act_min, act_max);
                }
            }
            out += out_c;
        }
    }
}

// float32: sums over the valid taps in TFLM's order (filter row, column,
// channel), then the bias, so results match its reference kernels. The float32 and
// 16x8 walks below mirror each other per dtype on purpose, as TFLM's reference
// kernels do: each keeps its own accumulator type, order and rounding in plain C.
void uf_conv2d_f32(const float *x, const void *w, const void *bias, float *out, int in_h,
                   int in_w, int in_c, int out_h, int out_w, int out_c, int k_h, int k_w,
                   int s_h, int s_w, int d_h, int d_w, int pad_h, int pad_w,
                   float act_min, float act_max) {
    const size_t fsize = (size_t)k_h * k_w * in_c;
    for (int oy = 0; oy < out_h; oy++) {
        int y0 = oy * s_h - pad_h, ky0, ky1;
        valid_taps(y0, k_h, d_h, in_h, &ky0, &ky1);
        for (int ox = 0; ox < out_w; ox++) {
            int x0 = ox * s_w - pad_w, kx0, kx1;
            valid_taps(x0, k_w, d_w, in_w, &kx0, &kx1);
            size_t wo = 0;
            for (int oc = 0; oc < out_c; oc++, wo += fsize) {
                float acc = 0.0f;
                for (int ky = ky0; ky < ky1; ky++) {
                    for (int kx = kx0; kx < kx1; kx++) {
                        const float *xp = x + ((size_t)(y0 + ky * d_h) * in_w + (x0 + kx * d_w)) * in_c;
                        size_t wp = wo + (size_t)(ky * k_w + kx) * in_c;
                        for (int c = 0; c < in_c; c++) {
                            acc += xp[c] * uf_ld_f32(w, wp + c);
                        }
                    }
                }
                acc += uf_ld_f32(bias, oc);
                acc = acc < act_min ? act_min : acc;
                *out++ = acc > act_max ? act_max : acc;
            }
        }
    }
}

void uf_depthwise_conv2d_f32(const float *x, const void *w, const void *bias, float *out,
                             int in_h, int in_w, int in_c, int out_h, int out_w, int depth_mult,
                             int k_h, int k_w, int s_h, int s_w, int d_h, int d_w,
                             int pad_h, int pad_w, float act_min, float act_max) {
    const int out_c = in_c * depth_mult;
    for (int oy = 0; oy < out_h; oy++) {
        int y0 = oy * s_h - pad_h, ky0, ky1;
        valid_taps(y0, k_h, d_h, in_h, &ky0, &ky1);
        for (int ox = 0; ox < out_w; ox++) {
            int x0 = ox * s_w - pad_w, kx0, kx1;
            valid_taps(x0, k_w, d_w, in_w, &kx0, &kx1);
            for (int oc = 0; oc < out_c; oc++) {
                int ic = oc / depth_mult;
                float acc = 0.0f;
                for (int ky = ky0; ky < ky1; ky++) {
                    for (int kx = kx0; kx < kx1; kx++) {
                        acc += x[((size_t)(y0 + ky * d_h) * in_w + (x0 + kx * d_w)) * in_c + ic]
                               * uf_ld_f32(w, (size_t)(ky * k_w + kx) * out_c + oc);
                    }
                }
                acc += uf_ld_f32(bias, oc);
                acc = acc < act_min ? act_min : acc;
                *out++ = acc > act_max ? act_max : acc;
            }
        }
    }
}

// --- int16 activations with int8 weights (TFLite's 16x8 quantization) -----------------
// Biases are int64 (little-endian word pairs); zero points are 0, so padded taps add
// nothing.
void uf_conv2d_s16(const int16_t *x, const int8_t *w, const void *bias, int16_t *out,
                   const void *mult, const void *shift, int in_h, int in_w, int in_c,
                   int out_h, int out_w, int out_c, int k_h, int k_w, int s_h, int s_w,
                   int d_h, int d_w, int pad_h, int pad_w, int acc64, int act_min, int act_max) {
    const size_t fsize = (size_t)k_h * k_w * in_c;
    for (int oy = 0; oy < out_h; oy++) {
        int y0 = oy * s_h - pad_h, ky0, ky1;
        valid_taps(y0, k_h, d_h, in_h, &ky0, &ky1);
        for (int ox = 0; ox < out_w; ox++) {
            int x0 = ox * s_w - pad_w, kx0, kx1;
            valid_taps(x0, k_w, d_w, in_w, &kx0, &kx1);
            const int8_t *wo = w;
            for (int oc = 0; oc < out_c; oc++, wo += fsize) {
                int64_t acc = uf_ld_i64w(bias, oc);
                for (int ky = ky0; ky < ky1 && kx1 > kx0; ky++) {
                    const int16_t *xr = x + ((size_t)(y0 + ky * d_h) * in_w + (x0 + kx0 * d_w)) * in_c;
                    const int8_t *wr = wo + (size_t)(ky * k_w + kx0) * in_c;
                    if (d_w == 1) {   // the valid part of a filter row is one run
                        acc += uf_dot_s16s8(xr, wr, (kx1 - kx0) * in_c);
                    } else {
                        for (int kx = kx0; kx < kx1; kx++) {
                            acc += uf_dot_s16s8(xr, wr, in_c);
                            xr += (size_t)d_w * in_c;
                            wr += in_c;
                        }
                    }
                }
                *out++ = (int16_t)uf_requant16(acc, mult, shift, oc, acc64, act_min, act_max);
            }
        }
    }
}

void uf_depthwise_conv2d_s16(const int16_t *x, const int8_t *w, const void *bias, int16_t *out,
                             const void *mult, const void *shift, int in_h, int in_w,
                             int in_c, int out_h, int out_w, int depth_mult, int k_h, int k_w,
                             int s_h, int s_w, int d_h, int d_w, int pad_h, int pad_w,
                             int act_min, int act_max) {
    const int out_c = in_c * depth_mult;
    for (int oy = 0; oy < out_h; oy++) {
        int y0 = oy * s_h - pad_h, ky0, ky1;
        valid_taps(y0, k_h, d_h, in_h, &ky0, &ky1);
        for (int ox = 0; ox < out_w; ox++) {
            int x0 = ox * s_w - pad_w, kx0, kx1;
            valid_taps(x0, k_w, d_w, in_w, &kx0, &kx1);
            for (int oc = 0; oc < out_c; oc++) {
                int ic = oc / depth_mult;
                int64_t acc = uf_ld_i64w(bias, oc);
                for (int ky = ky0; ky < ky1; ky++) {
                    for (int kx = kx0; kx < kx1; kx++) {
                        acc += (int32_t)x[((size_t)(y0 + ky * d_h) * in_w + (x0 + kx * d_w)) * in_c + ic]
                               * w[(size_t)(ky * k_w + kx) * out_c + oc];
                    }
                }
                out[oc] = (int16_t)uf_requant16(acc, mult, shift, oc, 1, act_min, act_max);
            }
            out += out_c;
        }
    }
}

// --- int8 requantized as onnxruntime does (float32 scale, ties to even: qmath.h) --------
void uf_conv2d_s8_ort(const int8_t *x, const int8_t *w, const void *bias, int8_t *out,
                      const void *scale, int in_h, int in_w, int in_c, int out_h, int out_w,
                      int out_c, int k_h, int k_w, int s_h, int s_w, int d_h, int d_w,
                      int pad_h, int pad_w, int in_off, int out_off, int act_min, int act_max) {
    const size_t fsize = (size_t)k_h * k_w * in_c;
    for (int oy = 0; oy < out_h; oy++) {
        for (int ox = 0; ox < out_w; ox++) {
            const int8_t *wo = w;
            for (int oc = 0; oc < out_c; oc++, wo += fsize) {
                int32_t acc = uf_ld_i32(bias, oc);
                for (int ky = 0; ky < k_h; ky++) {
                    int iy = oy * s_h - pad_h + ky * d_h;
                    for (int kx = 0; kx < k_w; kx++) {
                        int ix = ox * s_w - pad_w + kx * d_w;
                        const int8_t *wp = wo + (size_t)(ky * k_w + kx) * in_c;
                        if (iy >= 0 && iy < in_h && ix >= 0 && ix < in_w) {
                            acc += uf_dot_s8(x + ((size_t)iy * in_w + ix) * in_c, wp, in_c);
                        } else {   // a padded tap reads the input zero point: undo its folded share
                            int32_t s = 0;
                            for (int k = 0; k < in_c; k++) {
                                s += wp[k];
                            }
                            acc -= in_off * s;
                        }
                    }
                }
                *out++ = uf_requant_ort(acc, uf_ld_f32(scale, oc), out_off, act_min, act_max);
            }
        }
    }
}

void uf_depthwise_conv2d_s8_ort(const int8_t *x, const int8_t *w, const void *bias, int8_t *out,
                                const void *scale, int in_h, int in_w, int in_c, int out_h,
                                int out_w, int depth_mult, int k_h, int k_w, int s_h, int s_w,
                                int d_h, int d_w, int pad_h, int pad_w, int in_off, int out_off,
                                int act_min, int act_max) {
    const int out_c = in_c * depth_mult;
    for (int oy = 0; oy < out_h; oy++) {
        for (int ox = 0; ox < out_w; ox++) {
            for (int oc = 0; oc < out_c; oc++) {
                int32_t acc = uf_ld_i32(bias, oc);
                int ic = oc / depth_mult;
                for (int ky = 0; ky < k_h; ky++) {
                    int iy = oy * s_h - pad_h + ky * d_h;
                    for (int kx = 0; kx < k_w; kx++) {
                        int ix = ox * s_w - pad_w + kx * d_w;
                        int32_t wv = w[(size_t)(ky * k_w + kx) * out_c + oc];
                        if (iy >= 0 && iy < in_h && ix >= 0 && ix < in_w) {
                            acc += x[((size_t)iy * in_w + ix) * in_c + ic] * wv;
                        } else {
                            acc -= in_off * wv;
                        }
                    }
                }
                *out++ = uf_requant_ort(acc, uf_ld_f32(scale, oc), out_off, act_min, act_max);
            }
        }
    }
}
