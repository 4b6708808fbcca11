// STAND-IN walker for the Xtensa harness until helper A's native_modules/src/
// walker.c is merged (then the build uses that one and not this file). Same
// contract (notes/walker_api.md), kept minimal: records are read byte-wise and
// bounds-checked, kernels run through uf_kernels[].run as the bindings do.
#include "kernels.h"
#include "walker_standin.h"

#define UF_EFORMAT 100   // stand-in: malformed record / unknown kernel

static uint32_t rd32(const uint8_t *p) {
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

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

// Format f's record: [n tensors][n params][kinds]; returns its start or NULL.
static const uint8_t *format_at(const uf_model *m, unsigned f) {
    size_t p = 0;
    for (;;) {
        if (p + 2 > m->formats_len || p + 2 + m->formats[p + 1] > m->formats_len) {
            return NULL;
        }
        if (f-- == 0) {
            return m->formats + p;
        }
        p += 2 + m->formats[p + 1];
    }
}

static int tensor_ptr(const uf_model *m, unsigned id, void **ptr, size_t *len) {
    if ((size_t)id * 20 + 20 > m->tensors_len) {
        return UF_EFORMAT;
    }
    const uint8_t *r = m->tensors + id * 20;
    uint32_t off = rd32(r + 4), n = rd32(r + 8);
    uint8_t *base;
    size_t size;
    if (r[0] == 0) {
        base = m->arena, size = m->arena_len;
    } else if (r[0] == 1) {
        base = (uint8_t *)m->weights, size = m->weights_len;
    } else if (r[0] == 2) {
        base = m->wbuf, size = m->wbuf_len;
    } else {
        return UF_EFORMAT;
    }
    if (off > size || n > size - off) {
        return UF_EFORMAT;
    }
    *ptr = base + off;
    *len = n;
    return UF_OK;
}

int uf_run(const uf_model *m, size_t *pos, int n_ops) {
    while (n_ops != 0 && *pos < m->ops_len) {
        const uint8_t *op = m->ops + *pos;
        size_t left = m->ops_len - *pos;
        if (left < 2 || op[0] >= m->kernel_map_len || m->kernel_map[op[0]] >= UF_N_KERNELS) {
            return UF_EFORMAT;
        }
        const uf_kernel_def *k = &uf_kernels[m->kernel_map[op[0]]];
        const uint8_t *f = format_at(m, op[1]);
        if (!f) {
            return UF_EFORMAT;
        }
        size_t nt = f[0], np = f[1], size = 2 + 2 * nt + 4 * np;
        if (size > left) {
            return UF_EFORMAT;
        }
        uf_call c;
        size_t ti = 0, pi = 0, ni = 0, nf = 0;
        const uint8_t *a = op + 2, *params = op + 2 + 2 * nt;
        for (const char *s = k->sig; *s; s++) {
            if (*s == 'r' || *s == 'w') {
                if (ti >= nt || ti >= UF_MAX_TENSORS ||
                    tensor_ptr(m, a[2 * ti] | a[2 * ti + 1] << 8, &c.t[ti], &c.len[ti])) {
                    return UF_EFORMAT;
                }
                ti++;
            } else {
                if (pi >= np) {
                    return UF_EFORMAT;
                }
                uint32_t v = rd32(params + 4 * pi);
                char kind = f[2 + pi++];
                if (*s == 'i' && kind == 'i' && ni < UF_MAX_INTS) {
                    c.i[ni++] = (int32_t)v;
                } else if (*s == 'f' && nf < UF_MAX_FLOATS) {
                    union { uint32_t u; float x; } b = {v};
                    c.f[nf++] = kind == 'f' ? b.x : (float)(int32_t)v;
                } else {
                    return UF_EFORMAT;
                }
            }
        }
        if (ti != nt || pi != np) {
            return UF_EFORMAT;
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
