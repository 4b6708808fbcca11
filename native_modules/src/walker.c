// The op-table walker: runs a baked model's packed op records straight from its
// bytes, so one native call does a whole invoke(). Each record is checked
// against the buffers (kernel, format, tensor ids and extents) before its
// kernel runs; the kernel's own checks in table.c then apply as for any call.
// Every multi-byte field is read byte-wise: the blobs may sit in flash at any
// address.
#include "kernels.h"

#define RECORD_SIZE 20   // TENSORS: "<BBxxIIif"
#define WHERE_ARENA 0
#define WHERE_WEIGHTS 1
#define WHERE_WBUF 2

static uint32_t rd16(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static float rdf32(const uint8_t *p) {
    union {
        uint32_t u;
        float f;
    } v;
    v.u = rd32(p);
    return v.f;
}

int uf_kernel_index(const char *name, size_t len) {
    for (int k = 0; k < UF_N_KERNELS; k++) {
        const char *s = uf_kernels[k].name;
        size_t i = 0;
        while (i < len && s[i] && s[i] == name[i]) {
            i++;
        }
        if (i == len && s[i] == 0) {
            return k;
        }
    }
    return -1;
}

const char *uf_op_kernel_name(const uf_model *m, size_t pos) {
    if (pos >= m->ops_len || m->ops[pos] >= m->kernel_map_len) {
        return NULL;
    }
    unsigned k = m->kernel_map[m->ops[pos]];
    return k < UF_N_KERNELS ? uf_kernels[k].name : NULL;
}

// Tensor id -> pointer and byte length; writable tensors may not be constants.
static int resolve(const uf_model *m, uint32_t id, int write, void **ptr, size_t *len) {
    if ((uint64_t)id * RECORD_SIZE + RECORD_SIZE > m->tensors_len) {
        return UF_ERECORD;
    }
    const uint8_t *r = m->tensors + (size_t)id * RECORD_SIZE;
    uint64_t offset = rd32(r + 4), nbytes = rd32(r + 8);
    const uint8_t *base;
    size_t size;
    switch (r[0]) {
        case WHERE_ARENA:
            base = m->arena, size = m->arena_len;
            break;
        case WHERE_WEIGHTS:
            if (write) {
                return UF_ETENSOR;
            }
            base = m->weights, size = m->weights_len;
            break;
        case WHERE_WBUF:
            base = m->wbuf, size = m->wbuf_len;
            break;
        default:
            return UF_ETENSOR;
    }
    if (offset + nbytes > size || (base == NULL && nbytes)) {
        return UF_ETENSOR;
    }
    *ptr = (void *)(base ? base + offset : base);   // cast: kernels see read tensors as const
    *len = (size_t)nbytes;
    return UF_OK;
}

// Decode the record at pos into c; *def gets the kernel, *size the record's bytes.
static int decode(const uf_model *m, size_t pos, uf_call *c, const uf_kernel_def **def,
                  size_t *size) {
    const uint8_t *op = m->ops + pos;
    if (m->ops_len - pos < 2) {
        return UF_ERECORD;
    }
    if (op[0] >= m->kernel_map_len || m->kernel_map[op[0]] >= UF_N_KERNELS) {
        return UF_EKERNEL;
    }
    const uf_kernel_def *k = &uf_kernels[m->kernel_map[op[0]]];
    // formats: [n_tensors][n_params][kinds...] per entry; find entry op[1]
    size_t f = 0;
    for (unsigned n = op[1]; n > 0; n--) {
        if (m->formats_len - f < 2) {
            return UF_ERECORD;
        }
        f += 2 + (size_t)m->formats[f + 1];
        if (f > m->formats_len) {
            return UF_ERECORD;
        }
    }
    if (m->formats_len - f < 2 || m->formats_len - f - 2 < m->formats[f + 1]) {
        return UF_ERECORD;
    }
    unsigned nt = m->formats[f], np = m->formats[f + 1];
    const uint8_t *kinds = m->formats + f + 2;
    size_t need = 2 + 2 * (size_t)nt + 4 * (size_t)np;
    if (m->ops_len - pos < need) {
        return UF_ERECORD;
    }
    // The format must match the kernel's signature: nt tensors, then np params.
    const char *sig = k->sig;
    unsigned a = 0, ni = 0, nf = 0;
    const uint8_t *field = op + 2;
    for (; sig[a] == 'r' || sig[a] == 'w'; a++) {
        if (a >= nt || a >= UF_MAX_TENSORS) {
            return UF_ERECORD;
        }
        int e = resolve(m, rd16(field), sig[a] == 'w', &c->t[a], &c->len[a]);
        if (e) {
            return e;
        }
        field += 2;
    }
    if (a != nt) {
        return UF_ERECORD;
    }
    for (unsigned p = 0; p < np; p++, field += 4) {
        char want = sig[nt + p], have = (char)kinds[p];
        if (want == 'i' && have == 'i' && ni < UF_MAX_INTS) {
            c->i[ni++] = (int32_t)rd32(field);
        } else if (want == 'f' && have == 'i' && nf < UF_MAX_FLOATS) {
            c->f[nf++] = (float)(int32_t)rd32(field);
        } else if (want == 'f' && have == 'f' && nf < UF_MAX_FLOATS) {
            c->f[nf++] = rdf32(field);
        } else {
            return UF_ERECORD;   // a float where an int is wanted, or too many params
        }
    }
    if (sig[nt + np] != 0) {
        return UF_ERECORD;   // fewer params than the signature has
    }
    *def = k;
    *size = need;
    return UF_OK;
}

static int walk(const uf_model *m, size_t *pos, int n_ops, int run) {
    while (n_ops != 0 && *pos < m->ops_len) {
        uf_call c;
        const uf_kernel_def *k;
        size_t size;
        int e = decode(m, *pos, &c, &k, &size);
        if (!e && run) {
            e = k->run(&c);
        }
        if (e) {
            return e;
        }
        *pos += size;
        if (n_ops > 0) {
            n_ops--;
        }
    }
    return UF_OK;
}

int uf_run(const uf_model *m, size_t *pos, int n_ops) {
    return walk(m, pos, n_ops, 1);
}

int uf_check(const uf_model *m, size_t *pos, int n_ops) {
    return walk(m, pos, n_ops, 0);
}
