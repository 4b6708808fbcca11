// int16-activation (16x8) helpers shared by conv.c, fc.c and transpose_conv.c;
// mirrors device_lib/upyflow/qmath.py (mul_by_qm64, wrap32, requant16).
#ifndef UPYFLOW_QMATH64_H
#define UPYFLOW_QMATH64_H

#include <stdint.h>
#include "qmath.h"

// MultiplyByQuantizedMultiplier of an int64 accumulator (TFLM's double-rounding
// build): the multiplier rounded to 16 bits, one rounding shift by 15 - shift
// (shift <= 14, checked by the table), the result truncated to int32.
static inline int32_t uf_mul_by_qm64(int64_t x, int32_t multiplier, int shift) {
    int64_t m = multiplier < 0x7FFF0000 ? ((int64_t)multiplier + (1 << 15)) >> 16 : 0x7FFF;
    int total = 15 - shift;
    int64_t r = (int64_t)((uint64_t)x * (uint64_t)m + ((uint64_t)1 << (total - 1)));
    return (int32_t)(uint32_t)(uint64_t)(r >> total);
}

// Requantize and clamp, with TFLM's int64 or int32 (wrapping) accumulator and
// channel ch's multiplier and shift, read from constant arrays.
static inline int32_t uf_requant16(int64_t acc, const void *mult, const void *shift, size_t ch,
                                   int acc64, int32_t act_min, int32_t act_max) {
    int32_t m = uf_ld_i32(mult, ch);
    int sh = (int)uf_ld_i32(shift, ch);
    int32_t v = acc64 ? uf_mul_by_qm64(acc, m, sh)
                      : uf_mul_by_qm((int32_t)(uint32_t)(uint64_t)acc, m, sh);
    return v < act_min ? act_min : (v > act_max ? act_max : v);
}

// int16 x int8 dot product. Runs of 256 fit an int32 (|product| <= 2^22), so
// the inner loop vectorizes; the runs add up in int64.
static inline int64_t uf_dot_s16s8(const int16_t *a, const int8_t *b, int n) {
    int64_t s = 0;
    while (n > 0) {
        int m = n < 256 ? n : 256;
        int32_t p = 0;
        for (int k = 0; k < m; k++) {
            p += (int32_t)a[k] * b[k];
        }
        s += p;
        a += m;
        b += m;
        n -= m;
    }
    return s;
}

#endif
