// Loads of int16/int32/float values that may sit at any address: the constants of
// the weights blob. A bytes object frozen into firmware or mapped from a ROM
// filesystem has no alignment guarantee, and Cortex-M0/M0+ (like strict RISC-V
// and Xtensa cores) fault on an unaligned halfword or word. Arena tensors
// (activations, state) are allocated aligned: kernels read those directly.
//
// The values are little-endian, composed from bytes. Where the core loads
// unaligned words itself (x86, Cortex-M3/M4/M7/M33, AArch64) GCC and Clang
// merge the bytes into one load, so this costs nothing there. Elsewhere an
// aligned address (the usual case, and always the case in RAM) takes one direct
// load after a test of its low bits; only an unaligned one goes byte by byte,
// out of line to keep the code small (a natmod's code is copied to RAM).
// Boards and hosts are little-endian, as the baked blobs are.
#ifndef UPYFLOW_LOAD_H
#define UPYFLOW_LOAD_H

#include <stddef.h>
#include <stdint.h>

#ifndef UF_UNALIGNED_LOADS
#if defined(__ARM_FEATURE_UNALIGNED) || defined(__x86_64__) || defined(__i386__) || \
    defined(_M_X64) || defined(_M_IX86) || defined(__aarch64__)
#define UF_UNALIGNED_LOADS 1
#else
#define UF_UNALIGNED_LOADS 0
#endif
#endif

#if defined(__GNUC__)
#define UF_LOAD_INLINE static inline __attribute__((always_inline))
#define UF_LOAD_SLOW static __attribute__((noinline, unused))
#else
#define UF_LOAD_INLINE static inline
#define UF_LOAD_SLOW static
#endif

UF_LOAD_INLINE uint32_t uf_bytes_u32(const uint8_t *b) {
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}

UF_LOAD_INLINE int32_t uf_bytes_i16(const uint8_t *b) {
    return (int16_t)(uint16_t)((uint32_t)b[0] | ((uint32_t)b[1] << 8));
}

#if !UF_UNALIGNED_LOADS
// The byte-by-byte paths, out of line: each load site stays a test and a load.
UF_LOAD_SLOW uint32_t uf_bytes_u32_slow(const uint8_t *b) {
    return uf_bytes_u32(b);
}

UF_LOAD_SLOW int32_t uf_bytes_i16_slow(const uint8_t *b) {
    return uf_bytes_i16(b);
}
#endif

// The int16 (width 2) or int32 (width 4; a constant, so inlining folds the choice) at
// b: one direct load where b is aligned or the core loads unaligned words itself.
UF_LOAD_INLINE int32_t uf_ld_word(const uint8_t *b, unsigned width) {
#if !UF_UNALIGNED_LOADS
    if (((uintptr_t)b & (width - 1u)) == 0) {
        return width == 4 ? *(const int32_t *)(const void *)b : *(const int16_t *)(const void *)b;
    }
    return width == 4 ? (int32_t)uf_bytes_u32_slow(b) : uf_bytes_i16_slow(b);
#else
    return width == 4 ? (int32_t)uf_bytes_u32(b) : uf_bytes_i16(b);
#endif
}

// Element i of an int32 array at p.
UF_LOAD_INLINE int32_t uf_ld_i32(const void *p, size_t i) {
    return uf_ld_word((const uint8_t *)p + 4 * i, 4);
}

// Element i of an int16 array at p.
UF_LOAD_INLINE int32_t uf_ld_i16(const void *p, size_t i) {
    return uf_ld_word((const uint8_t *)p + 2 * i, 2);
}

// A float32's bits and back (a union cast: no aliasing UB, no libm), for every C file.
UF_LOAD_INLINE float uf_bits_f32(uint32_t u) {
    union { uint32_t u; float f; } c = {u};
    return c.f;
}

UF_LOAD_INLINE uint32_t uf_f32_bits(float f) {
    union { float f; uint32_t u; } c = {f};
    return c.u;
}

// Element i of a float32 array at p (its bits through the int32 load).
UF_LOAD_INLINE float uf_ld_f32(const void *p, size_t i) {
    return uf_bits_f32((uint32_t)uf_ld_i32(p, i));
}

// Element k of an int64 array stored as little-endian (low, high) int32 word pairs.
UF_LOAD_INLINE int64_t uf_ld_i64w(const void *p, size_t k) {
    return (int64_t)(((uint64_t)(uint32_t)uf_ld_i32(p, 2 * k + 1) << 32) |
                     (uint32_t)uf_ld_i32(p, 2 * k));
}

#endif
