// Bare-metal main: read the host's descriptor, resolve the kernel names, run the
// op table with the C walker, report, stop. No libc, no heap.
#include "../src/kernels.h"
#include "harness.h"

#define MAX_KERNELS 256

static uint8_t kernel_map[MAX_KERNELS];

void uf_halt(void);   // start_*.S: stops the core where the host waits for it

// Called between the model's load (uf_prepare) and its run: the host counts the
// instructions of a run from here (upyflow_tools.isa: per invoke, as a board repeats it).
__attribute__((noinline)) void uf_isa_mark(void) {
    __asm__ volatile("" ::: "memory");
}

int main(void) {
    volatile uf_isa_desc *d = (volatile uf_isa_desc *)UF_DESC_ADDR;
    d->done = 0;
    d->pos = 0;
    if (d->magic != UF_ISA_MAGIC || d->n_kernels > MAX_KERNELS) {
        d->status = UF_ISA_BAD_DESC;
        d->done = 1;
        return 0;
    }
    // OP_KERNELS names -> uf_kernels indices; an unknown one maps to 0xFF, which
    // the walker reports when an op uses it.
    const uint8_t *p = (const uint8_t *)d->names;
    const uint8_t *end = p + d->names_len;
    for (uint32_t k = 0; k < d->n_kernels; k++) {
        if (p >= end || p + 1 + p[0] > end) {
            d->status = UF_ISA_BAD_DESC;
            d->done = 1;
            return 0;
        }
        int idx = uf_kernel_index((const char *)p + 1, p[0]);
        kernel_map[k] = idx < 0 ? 0xFF : (uint8_t)idx;
        p += 1 + p[0];
    }
    uf_model m = {
        (const uint8_t *)d->tensors, d->tensors_len,
        (const uint8_t *)d->ops, d->ops_len,
        (const uint8_t *)d->formats, d->formats_len,
        kernel_map, d->n_kernels,
        (uint8_t *)d->arena, d->arena_len,
        (const uint8_t *)d->weights, d->weights_len,
        (uint8_t *)d->wbuf, d->wbuf_len,
    };
    // The tables and weights sit in flash, as a board's: the load checks them once.
    m.fixed = UF_FIXED_TABLES | UF_FIXED_WEIGHTS;
    uf_prepare(&m);
    uf_isa_mark();
    size_t pos = d->start;
    int status = uf_run(&m, &pos, d->n_ops == 0xFFFFFFFFu ? -1 : (int)d->n_ops);
    // A kernel the C tier lacks: the board's runtime would run that op in Python,
    // so tell the host apart from a real error (the host runs it, then resumes).
    const uint8_t *ops = (const uint8_t *)d->ops;
    if (status && pos < d->ops_len && ops[pos] < d->n_kernels && kernel_map[ops[pos]] == 0xFF) {
        status = UF_ISA_UNKNOWN_KERNEL;
    }
    d->status = status;
    d->pos = pos;
    d->done = 1;
    return 0;
}

// GCC may turn a struct copy or zeroing loop into these calls even with
// -fno-tree-loop-distribute-patterns; the natmods link them from libgcc-free
// code the same way, so byte loops are enough.
void *memcpy(void *dst, const void *src, size_t n) {
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--) {
        *d++ = *s++;
    }
    return dst;
}

void *memset(void *dst, int c, size_t n) {
    uint8_t *d = dst;
    while (n--) {
        *d++ = (uint8_t)c;
    }
    return dst;
}
