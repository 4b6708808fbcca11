// STAND-IN, NOT THE REAL WALKER. A minimal uf_kernel_index/uf_run (API of
// /work/notes/walker_api.md) so the bare-metal harness can run whole models before
// native_modules/src/walker.c lands; the runner compiles this file only when
// walker.c is absent. It checks what it must to stay inside the buffers, no more.
#include "../src/kernels.h"
#include "walker_standin.h"

#ifndef UF_EWALK
#define UF_EWALK 10   // stand-in's own code: a malformed record or unknown kernel
#endif

int uf_kernel_index(const char *name, size_t len) {
    for (int k = 0; k < UF_N_KERNELS; k++) {
        const char *s = uf_kernels[k].name;
        size_t i = 0;
        while (i < len && s[i] && s[i] == name[i]) {
            i++;
        }
        if (i == len && !s[i]) {
            return k;
        }
    }
    return -1;
}

static uint32_t rd16(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

// Start of format fmt in m->formats, or NULL.
static const uint8_t *format_at(const uf_model *m, unsigned fmt) {
    size_t at = 0;
    for (unsigned k = 0; k <= fmt; k++) {
        if (at + 2 > m->formats_len || at + 2 + m->formats[at + 1] > m->formats_len) {
            return 0;
        }
        if (k == fmt) {
            return m->formats + at;
        }
        at += 2 + m->formats[at + 1];
    }
    return 0;
}

static int tensor(const uf_model *m, unsigned id, void **ptr, size_t *len) {
    if ((size_t)(id + 1) * 20 > m->tensors_len) {
        return UF_EWALK;
    }
    const uint8_t *r = m->tensors + id * 20;
    uint32_t off = rd32(r + 4), n = rd32(r + 8);
    const uint8_t *base;
    size_t size;
    switch (r[0]) {
        case 0: base = m->arena; size = m->arena_len; break;
        case 1: base = m->weights; size = m->weights_len; break;
        case 2: base = m->wbuf; size = m->wbuf_len; break;
        default: return UF_EWALK;
    }
    if (!base || off > size || n > size - off) {
        return UF_EWALK;
    }
    *ptr = (void *)(base + off);
    *len = n;
    return UF_OK;
}

int uf_run(const uf_model *m, size_t *pos, int n_ops) {
    while (*pos < m->ops_len && n_ops != 0) {
        const uint8_t *op = m->ops + *pos;
        if (*pos + 2 > m->ops_len || op[0] >= m->kernel_map_len || m->kernel_map[op[0]] >= UF_N_KERNELS) {
            return UF_EWALK;
        }
        const uf_kernel_def *k = &uf_kernels[m->kernel_map[op[0]]];
        const uint8_t *fmt = format_at(m, op[1]);
        if (!fmt) {
            return UF_EWALK;
        }
        unsigned nt = fmt[0], np = fmt[1];
        size_t size = 2 + 2 * nt + 4 * np;
        if (size > m->ops_len - *pos) {
            return UF_EWALK;
        }
        uf_call c;
        unsigned ti = 0, pi = 0, ni = 0, nf = 0;
        for (const char *s = k->sig; *s; s++) {
            if (*s == 'r' || *s == 'w') {
                if (ti >= nt || ti >= UF_MAX_TENSORS ||
                    tensor(m, rd16(op + 2 + 2 * ti), &c.t[ti], &c.len[ti])) {
                    return UF_EWALK;
                }
                ti++;
                continue;
            }
            if (pi >= np) {
                return UF_EWALK;
            }
            uint32_t v = rd32(op + 2 + 2 * nt + 4 * pi);
            char kind = (char)fmt[2 + pi];
            pi++;
            if (*s == 'i') {
                if (kind != 'i' || ni >= UF_MAX_INTS) {
                    return UF_EWALK;
                }
                c.i[ni++] = (int32_t)v;
            } else {
                if (nf >= UF_MAX_FLOATS) {
                    return UF_EWALK;
                }
                union { uint32_t u; float f; } bits = {v};
                c.f[nf++] = kind == 'f' ? bits.f : (float)(int32_t)v;
            }
        }
        if (ti != nt || pi != np) {
            return UF_EWALK;
        }
        int err = k->run(&c);
        if (err) {
            return err;
        }
        *pos += size;
        if (n_ops > 0) {
            n_ops--;
        }
    }
    return UF_OK;
}
