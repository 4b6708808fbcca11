// Bare-metal Xtensa harness: run a baked model's op table with the C walker
// and print the outputs. The host (host_tools/upyflow_tools/isa/xtensa_qemu.py)
// puts a descriptor and the model's tables, weights, arena and inputs at
// UF_DESC_ADDR; output goes through QEMU semihosting (simcall) to stdout:
//   "O <hex>" per model output, then "M <__muldi3 calls>" and
//   "N <instructions>" per invoke,
//   "E <text>" on an error. Exit code 0 = all invokes ran.
#include <stddef.h>
#include <stdint.h>

#include "kernels.h"

#define UF_DESC_ADDR 0x00400000u
#define UF_DESC_MAGIC 0x31584655u   // "UFX1"
#define MAX_IO 8
#define MAX_KERNELS 256

typedef struct {
    uint32_t magic, blob_len, status, reserved;
    uint32_t tensors, tensors_len, ops, ops_len, formats, formats_len;
    uint32_t names, names_len;        // OP_KERNELS, NUL-separated
    uint32_t arena, arena_len, weights, weights_len, wbuf, wbuf_len;
    uint32_t vars, n_vars;            // (arena offset, bytes, fill) u32 triples: state reset
    uint32_t inputs, n_invokes;       // n_invokes sets of the inputs' bytes, back to back
    uint32_t n_in, n_out;
    uint32_t in[MAX_IO][2], out[MAX_IO][2];   // (arena offset, bytes)
} desc_t;

int uf_simcall(int nr, int a, int b, int c);   // start.S
extern volatile uint32_t uf_rt_muldi3_calls;    // xtensa_rt.c (QEMU build)

static void put(const char *s, size_t n) {
    uf_simcall(4, 1, (int)(uintptr_t)s, (int)n);   // write(1, s, n)
}

static void put_str(const char *s) {
    size_t n = 0;
    while (s[n]) {
        n++;
    }
    put(s, n);
}

static void put_line_u32(char tag, uint32_t v) {
    char b[16];
    int k = 15;
    b[k] = '\n';
    do {
        b[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    b[--k] = ' ';
    b[--k] = tag;
    put(b + k, 16 - k);
}

static void put_hex_line(const uint8_t *p, size_t n) {
    static const char hx[] = "0123456789abcdef";
    char b[66];
    put("O ", 2);
    while (n) {
        size_t k = 0;
        for (; n && k < 64; n--, p++) {
            b[k++] = hx[*p >> 4];
            b[k++] = hx[*p & 15];
        }
        put(b, k);
    }
    put("\n", 1);
}

static uint32_t icount(void) {
    uint32_t v;
    __asm__ volatile("rsr %0, icount" : "=r"(v));
    return v;
}

int main(void) {
    desc_t *d = (desc_t *)UF_DESC_ADDR;
    if (d->magic != UF_DESC_MAGIC || d->n_in > MAX_IO || d->n_out > MAX_IO) {
        put_str("E bad descriptor\n");
        return 2;
    }
    // Kernel names -> uf_kernels indices.
    static uint8_t kmap[MAX_KERNELS];
    size_t nk = 0;
    const char *names = (const char *)d->names;
    for (size_t p = 0, start = 0; p < d->names_len; p++) {
        if (names[p] == 0) {
            if (nk == MAX_KERNELS) {
                put_str("E too many kernels\n");
                return 2;
            }
            int k = uf_kernel_index(names + start, p - start);
            kmap[nk++] = k < 0 ? 0xFF : (uint8_t)k;
            start = p + 1;
        }
    }
    uf_model m = {
        (const uint8_t *)d->tensors, d->tensors_len, (const uint8_t *)d->ops, d->ops_len,
        (const uint8_t *)d->formats, d->formats_len, kmap, nk,
        (uint8_t *)d->arena, d->arena_len, (const uint8_t *)d->weights, d->weights_len,
        (uint8_t *)d->wbuf, d->wbuf_len,
    };
    // The tables and weights are constants, as in a board's flash: checked once, here
    // (the load), outside the counted runs.
    m.fixed = UF_FIXED_TABLES | UF_FIXED_WEIGHTS;
    uf_prepare(&m);
    const uint8_t *in = (const uint8_t *)d->inputs;
    // Count instructions at interrupt level 0 (ICOUNTLEVEL 1): the walker and
    // kernels, not the window spill handlers (they run with EXCM set).
    __asm__ volatile("movi a8, 0\n wsr a8, icount\n movi a8, 1\n wsr a8, icountlevel\n isync" ::: "a8");
    for (uint32_t n = 0; n < d->n_invokes; n++) {
        const uint32_t *v = (const uint32_t *)d->vars;
        for (uint32_t k = 0; k < d->n_vars; k++, v += 3) {
            for (uint32_t i = 0; i < v[1]; i++) {
                m.arena[v[0] + i] = (uint8_t)v[2];
            }
        }
        for (uint32_t i = 0; i < d->n_in; i++) {
            for (uint32_t b = 0; b < d->in[i][1]; b++) {
                m.arena[d->in[i][0] + b] = *in++;
            }
        }
        size_t pos = 0;
        uint32_t m0 = uf_rt_muldi3_calls;
        uint32_t t0 = icount();
        int err = uf_run(&m, &pos, -1);
        uint32_t t1 = icount();
        if (err) {
            put_str("E uf_run error ");
            put_line_u32('c', (uint32_t)err);
            put_line_u32('p', (uint32_t)pos);
            d->status = (uint32_t)err;
            return 3;
        }
        for (uint32_t o = 0; o < d->n_out; o++) {
            put_hex_line(m.arena + d->out[o][0], d->out[o][1]);
        }
        put_line_u32('M', uf_rt_muldi3_calls - m0);
        put_line_u32('N', t1 - t0);
    }
    return 0;
}

// LLVM turns byte loops into memset/memcpy calls; there is no libc here.
void *memset(void *s, int c, size_t n) {
    uint8_t *p = s;
    while (n--) {
        *p++ = (uint8_t)c;
    }
    return s;
}

void *memcpy(void *dst, const void *src, size_t n) {
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--) {
        *d++ = *s++;
    }
    return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
    uint8_t *d = dst;
    const uint8_t *s = src;
    if (d < s) {
        while (n--) {
            *d++ = *s++;
        }
    } else {
        while (n--) {
            d[n] = s[n];
        }
    }
    return dst;
}
