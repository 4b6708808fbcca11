// The op-table walker: runs a baked model's packed op records straight from its
// bytes, so one native call does a whole invoke(). Each record is decoded and checked
// against the buffers (kernel, format, tensor ids and extents) before its kernel
// runs. The kernel's own checks in table.c run once per Program (uf_prepare: they
// depend only on the records, the buffers' addresses and lengths, and the values of
// constants that cannot change); a run repeats only the value checks of constants
// that may have changed (in the arena, the file-mode weight buffer, writable weights).
// Every multi-byte field is read byte-wise: the blobs may sit in flash at any
// address. The layout is the baked module format (device_lib/upyflow/model.py).
#include "kernels.h"
#include "load.h"

// TENSORS: kind (where | dtype << 2) | bytes >> 16 << 5, 24-bit offset, bytes' low 16 bits
#define RECORD_SIZE 6
#define WHERE_ARENA 0
#define WHERE_WEIGHTS 1
#define WHERE_WBUF 2
// A band loop: BAND, then "<BBH" (layers, band rows, output rows), "<8BII" per layer
// (positions of x, out; of in_h, out_h, k_h, s_h, d_h, pad_h; bytes per x and out row),
// then the layers' op records on whole tensors.
#define BAND 0xFF
#define BAND_HEADER 5
#define BAND_LAYER 16
#define NO_DILATION 0xFF
#define UF_WALK_NOINLINE __attribute__((noinline))
#define MAX_BAND_LAYERS 8
// uf_model.state
#define UNPREPARED 0   // uf_prepare not run yet
#define PREPARED 1     // every record passed its static checks: runs skip them
#define CHECKING 2     // not prepared (a bad record, tables that may change): every run checks all
// How a walk runs its records' kernels
#define RUN_CHECKED 0  // every check, then the kernel (not prepared)
#define RUN_PREPARED 1 // the kernel, after the value checks of constants that may have changed
#define CHECK_ONLY 2   // no kernel: the static checks and the value checks of fixed constants

static uint32_t rd16(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

static uint32_t rd24(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
}

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

#ifdef UF_SPLIT
const uf_kernel_def *uf_slots[UF_N_KERNELS];   // zeroed at load (bss)

const char *uf_packed_at(const char *packed, int k) {
    while (k-- > 0) {
        while (*packed++) {
        }
    }
    return packed;
}
#endif

// Split natmods: the kernels of the registered families only.
int uf_kernel_index(const char *name, size_t len) {
    for (int k = 0; k < UF_N_KERNELS; k++) {
        const uf_kernel_def *def = UF_KERNEL(k);
        if (def == NULL) {
            continue;
        }
        const char *s = def->name;
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
    if (pos < m->ops_len && m->ops[pos] == BAND) {
        return "band loop";
    }
    if (pos >= m->ops_len || m->ops[pos] >= m->kernel_map_len) {
        return NULL;
    }
    unsigned k = m->kernel_map[m->ops[pos]];
#ifdef UF_SPLIT
    return k < UF_N_KERNELS ? uf_packed_at(uf_kernel_names, (int)k) : NULL;
#else
    return k < UF_N_KERNELS ? uf_kernels[k].name : NULL;
#endif
}

// Tensor id -> pointer and byte length; writable tensors may not be constants. In
// size_t arithmetic (no 64-bit multiply on a 32-bit core): an id is below 65536, an
// offset below 2^24 and a length below 2^19, so nothing here wraps.
static int resolve(const uf_model *m, uint32_t id, int write, void **ptr, size_t *len) {
    if ((size_t)id * RECORD_SIZE + RECORD_SIZE > m->tensors_len) {
        return UF_ERECORD;
    }
    const uint8_t *r = m->tensors + (size_t)id * RECORD_SIZE;
    size_t offset = rd24(r + 1), nbytes = rd16(r + 4) | ((uint32_t)(r[0] >> 5) << 16);
    const uint8_t *base;
    size_t size;
    unsigned where = r[0] & 3;
    if (where == WHERE_ARENA) {
        base = m->arena, size = m->arena_len;
    } else if (where == WHERE_WEIGHTS && !write) {
        base = m->weights, size = m->weights_len;
    } else if (where == WHERE_WBUF) {
        base = m->wbuf, size = m->wbuf_len;
    } else {
        return UF_ETENSOR;   // no such buffer, or an output in the constants
    }
    if (nbytes > size || offset > size - nbytes || (base == NULL && nbytes)) {
        return UF_ETENSOR;
    }
    *ptr = (void *)(base ? base + offset : base);   // cast: kernels see read tensors as const
    *len = nbytes;
    return UF_OK;
}

// formats: [n_tensors][bytes per tensor id][n_params][kind per param] per entry; *f
// gets the offset of entry index, whole and with ids of 1 or 2 bytes.
static int find_format(const uf_model *m, unsigned index, size_t *f) {
    size_t at = 0;
    for (unsigned n = index; n > 0; n--) {
        if (m->formats_len - at < 3) {
            return UF_ERECORD;
        }
        at += 3 + (size_t)m->formats[at + 2];
        if (at > m->formats_len) {
            return UF_ERECORD;
        }
    }
    if (m->formats_len - at < 3 || m->formats_len - at - 3 < m->formats[at + 2] ||
        (m->formats[at + 1] != 1 && m->formats[at + 1] != 2)) {
        return UF_ERECORD;
    }
    *f = at;
    return UF_OK;
}

// Decode the record at pos into c; *def gets the kernel, *size the record's bytes,
// *n_tensors and *n_params its counts.
static int decode(const uf_model *m, size_t pos, uf_call *c, const uf_kernel_def **def,
                  size_t *size, unsigned *n_tensors, unsigned *n_params) {
    const uint8_t *op = m->ops + pos;
    if (m->ops_len - pos < 2) {
        return UF_ERECORD;
    }
    if (op[0] >= m->kernel_map_len || m->kernel_map[op[0]] >= UF_N_KERNELS
        || UF_KERNEL(m->kernel_map[op[0]]) == NULL) {
        return UF_EKERNEL;
    }
    const uf_kernel_def *k = UF_KERNEL(m->kernel_map[op[0]]);
    size_t f;
    if (find_format(m, op[1], &f)) {
        return UF_ERECORD;
    }
    unsigned nt = m->formats[f], id_size = m->formats[f + 1], np = m->formats[f + 2];
    const uint8_t *kinds = m->formats + f + 3;
    // One pass over the fields, each checked against the record's end before it is read.
    const uint8_t *field = op + 2, *end = m->ops + m->ops_len;
    if ((size_t)(end - field) < id_size * (size_t)nt) {
        return UF_ERECORD;
    }
    // The format must match the kernel's signature: nt tensors, then np params.
    const char *sig = k->sig;
    unsigned a = 0, ni = 0, nf = 0;
    for (; sig[a] == 'r' || sig[a] == 'w'; a++) {
        if (a >= nt || a >= UF_MAX_TENSORS) {
            return UF_ERECORD;
        }
        uint32_t id = id_size == 1 ? field[0] : rd16(field);
        int e = resolve(m, id, sig[a] == 'w', &c->t[a], &c->len[a]);
        if (e) {
            return e;
        }
        field += id_size;
    }
    if (a != nt) {
        return UF_ERECORD;
    }
    for (unsigned p = 0; p < np; p++) {
        char want = sig[nt + p], have = (char)kinds[p];
        int32_t v;   // an integer param, sign-extended from its width
        if (have == 'b' && field < end) {
            v = (int8_t)field[0], field += 1;
        } else if (have == 'h' && end - field >= 2) {
            v = (int16_t)rd16(field), field += 2;
        } else if ((have == 'i' || have == 'f') && end - field >= 4) {
            v = (int32_t)rd32(field), field += 4;
        } else {
            return UF_ERECORD;   // an unknown kind, or the record cut short
        }
        if (want == 'i' && have != 'f' && ni < UF_MAX_INTS) {
            c->i[ni++] = v;
        } else if (want == 'f' && nf < UF_MAX_FLOATS) {
            c->f[nf++] = have == 'f' ? uf_bits_f32((uint32_t)v) : (float)v;
        } else {
            return UF_ERECORD;   // a float where an int is wanted, or too many params
        }
    }
    if (sig[nt + np] != 0) {
        return UF_ERECORD;   // fewer params than the signature has
    }
    *def = k;
    *size = (size_t)(field - op);
    *n_tensors = nt;
    *n_params = np;
    return UF_OK;
}

// UF_VALUES if the value checks of decoded call c read a constant that may change
// between runs: one outside the weights, or in weights that are not fixed.
static unsigned changing(const uf_model *m, const uf_kernel_def *k, const uf_call *c) {
    unsigned mask = k->values;
    if (mask == 0) {
        return 0;
    }
    if (!(m->fixed & UF_FIXED_WEIGHTS) || m->weights == NULL) {
        return UF_VALUES;
    }
    for (unsigned t = 0; mask; t++, mask >>= 1) {
        if (mask & 1) {
            uintptr_t at = (uintptr_t)c->t[t] - (uintptr_t)m->weights;   // huge if below them
            if (at > m->weights_len || c->len[t] > m->weights_len - at) {
                return UF_VALUES;
            }
        }
    }
    return 0;
}

// What a walk in mode asks of the table run of decoded call c (kernels.h UF_*).
static unsigned kernel_what(const uf_model *m, int mode, const uf_kernel_def *k, const uf_call *c) {
    if (mode == RUN_CHECKED) {
        return UF_ALL;
    }
    unsigned values = changing(m, k, c);
    return mode == RUN_PREPARED ? UF_CALL | values : UF_STATIC | (values ^ UF_VALUES);
}

// decode_prepared's params: np of the kinds at kind from field into c, as the kernel's
// signature wants them (want: its letters after the tensors'); where the fields end. (Its
// own function with pointers, not indices: few live values, so a register-poor core such as
// the Cortex-M0+ does not spill them.)
static UF_WALK_NOINLINE float param_float(int have, int32_t v) {
    return have == 'f' ? uf_bits_f32((uint32_t)v) : (float)v;
}
static UF_WALK_NOINLINE const uint8_t *decode_params(const uint8_t *field, const uint8_t *kind, unsigned np,
                                                     const char *want, uf_call *c) {
    int32_t *ip = c->i;
    const uint8_t *kend = kind + np;
    // (The field read repeats in the two loops: as a shared helper it cost 1-5% of a tiny
    // model's invoke, hello_world_int8, on the board ISAs.)
    for (; kind < kend && *want == 'i'; kind++, want++) {   // the ints before any float
        int have = *kind;
        int32_t v;
        if (have == 'b') {
            v = (int8_t)*field++;
        } else if (have == 'h') {
            v = (int16_t)rd16(field), field += 2;
        } else {
            v = (int32_t)rd32(field), field += 4;
        }
        *ip++ = v;
    }
    float *fp = c->f;
    for (; kind < kend; kind++, want++) {
        int have = *kind;
        int32_t v;
        if (have == 'b') {
            v = (int8_t)*field++;
        } else if (have == 'h') {
            v = (int16_t)rd16(field), field += 2;
        } else {
            v = (int32_t)rd32(field), field += 4;
        }
        if (*want == 'i') {
            *ip++ = v;
        } else {
            *fp++ = param_float(have, v);
        }
    }
    return field;
}

// decode for a walk of a prepared Program (RUN_PREPARED): its records were decoded and
// checked by uf_prepare from the same fixed tables against the same buffers, so this
// decodes them again without the checks. The kernel byte is checked still: prepare
// steps over a record whose kernel is not native.
static int decode_prepared(const uf_model *m, size_t pos, uf_call *c, const uf_kernel_def **def, size_t *size) {
    const uint8_t *op = m->ops + pos;
    if (op[0] >= m->kernel_map_len || m->kernel_map[op[0]] >= UF_N_KERNELS
        || UF_KERNEL(m->kernel_map[op[0]]) == NULL) {
        return UF_EKERNEL;
    }
    const uf_kernel_def *k = UF_KERNEL(m->kernel_map[op[0]]);
    const uint8_t *f = m->formats;
    for (unsigned n = op[1]; n > 0; n--) {
        f += 3 + f[2];
    }
    unsigned nt = f[0], wide = f[1] == 2, np = f[2];
    const uint8_t *field = op + 2;
    for (unsigned a = 0; a < nt; a++, field += 1 + wide) {
        const uint8_t *r = m->tensors + (size_t)(wide ? rd16(field) : field[0]) * RECORD_SIZE;
        unsigned where = r[0] & 3;
        const uint8_t *base = where == WHERE_ARENA ? m->arena : where == WHERE_WEIGHTS ? m->weights : m->wbuf;
        c->t[a] = (void *)(base ? base + rd24(r + 1) : base);   // cast: as in resolve
        c->len[a] = rd16(r + 4) | ((size_t)(r[0] >> 5) << 16);
    }
    field = decode_params(field, f + 3, np, k->sig + nt, c);
    *def = k;
    *size = (size_t)(field - op);
    return UF_OK;
}

// Index in c->i of integer param p of a kernel with nt tensors, or -1 if it is no int.
static int int_slot(const uf_kernel_def *k, unsigned nt, unsigned p) {
    if (k->sig[nt + p] != 'i') {
        return -1;
    }
    int slot = 0;
    for (unsigned q = 0; q < p; q++) {
        slot += k->sig[nt + q] == 'i';
    }
    return slot;
}

// A band loop layer's row geometry: its in_h, k_h, s_h, d_h, pad_h values and the
// slots of in_h, out_h, pad_h in c->i.
typedef struct {
    int64_t in_h, k_h, s_h, d_h, pad_h;
    int in_slot, out_slot, pad_slot;
} band_geometry;

// Input rows [*a, *b) that output rows [lo, hi) read (upyflow/calls.py rows_needed).
static void rows_needed(const band_geometry *g, int64_t lo, int64_t hi, int64_t *a, int64_t *b) {
    int64_t first = lo * g->s_h - g->pad_h;
    int64_t last = (hi - 1) * g->s_h - g->pad_h + (g->k_h - 1) * g->d_h;
    *a = first > 0 ? first : 0;
    *b = last + 1 < g->in_h ? last + 1 : g->in_h;
}

// The band loop at pos: every band, each layer on the rows the next one reads, its
// x and out cut to those rows (within the tensors the record names) and its
// in_h, out_h, pad_h to match, as the bake's band calls (patches.py apply); each
// call run or checked as mode says.
static int band(const uf_model *m, size_t pos, int mode, size_t *size) {
    const uint8_t *h = m->ops + pos;
    if (m->ops_len - pos < BAND_HEADER) {
        return UF_ERECORD;
    }
    unsigned nl = h[1], rows = h[2];
    int64_t height = rd16(h + 3);
    size_t at = pos + BAND_HEADER + (size_t)nl * BAND_LAYER;
    if (nl == 0 || nl > MAX_BAND_LAYERS || rows == 0 || at > m->ops_len) {
        return UF_ERECORD;
    }
    size_t rec[MAX_BAND_LAYERS];
    band_geometry geo[MAX_BAND_LAYERS];
    for (unsigned k = 0; k < nl; k++) {   // each layer's record and geometry, checked once
        const uint8_t *gl = h + BAND_HEADER + k * BAND_LAYER;
        uf_call c;
        const uf_kernel_def *def;
        size_t n;
        unsigned nt, np;
        int e = decode(m, at, &c, &def, &n, &nt, &np);
        if (e) {
            return e;
        }
        for (int f = 2; f < 8; f++) {
            if ((f != 6 || gl[f] != NO_DILATION) && (gl[f] >= np || int_slot(def, nt, gl[f]) < 0)) {
                return UF_ERECORD;
            }
        }
        if (gl[0] >= nt || gl[1] >= nt || gl[0] == gl[1] || def->sig[gl[1]] != 'w' || rd32(gl + 8) == 0 ||
            rd32(gl + 12) == 0) {
            return UF_ERECORD;
        }
        band_geometry *g = &geo[k];
        g->in_h = c.i[int_slot(def, nt, gl[2])];
        g->k_h = c.i[int_slot(def, nt, gl[4])];
        g->s_h = c.i[int_slot(def, nt, gl[5])];
        g->d_h = gl[6] == NO_DILATION ? 1 : c.i[int_slot(def, nt, gl[6])];
        g->pad_h = c.i[int_slot(def, nt, gl[7])];
        g->in_slot = int_slot(def, nt, gl[2]);
        g->out_slot = int_slot(def, nt, gl[3]);
        g->pad_slot = int_slot(def, nt, gl[7]);
        rec[k] = at;
        at += n;
    }
    for (int64_t r0 = 0; r0 < height; r0 += rows) {
        int64_t lo[MAX_BAND_LAYERS], hi[MAX_BAND_LAYERS];
        lo[nl - 1] = r0;
        hi[nl - 1] = r0 + rows < height ? r0 + rows : height;
        for (unsigned k = nl - 1; k > 0; k--) {
            rows_needed(&geo[k], lo[k], hi[k], &lo[k - 1], &hi[k - 1]);
        }
        for (unsigned k = 0; k < nl; k++) {
            const uint8_t *gl = h + BAND_HEADER + k * BAND_LAYER;
            uf_call c;
            const uf_kernel_def *def;
            size_t n;
            unsigned nt, np;
            int e = mode == RUN_PREPARED ? decode_prepared(m, rec[k], &c, &def, &n)
                                         : decode(m, rec[k], &c, &def, &n, &nt, &np);
            int64_t a, b;
            rows_needed(&geo[k], lo[k], hi[k], &a, &b);
            int64_t pad = a - (lo[k] * geo[k].s_h - geo[k].pad_h);
            if (e || a >= b || lo[k] >= hi[k] || pad < INT32_MIN || pad > INT32_MAX) {
                return e ? e : UF_ERECORD;
            }
            unsigned x = gl[0], out = gl[1];
            uint64_t xs = k == 0 ? (uint64_t)a * rd32(gl + 8) : 0, xn = (uint64_t)(b - a) * rd32(gl + 8);
            uint64_t os = k == nl - 1 ? (uint64_t)lo[k] * rd32(gl + 12) : 0;
            uint64_t on = (uint64_t)(hi[k] - lo[k]) * rd32(gl + 12);
            if (xs + xn > c.len[x] || os + on > c.len[out]) {
                return UF_ERECORD;   // rows beyond the tensors the record names
            }
            c.t[x] = (uint8_t *)c.t[x] + xs;
            c.len[x] = (size_t)xn;
            c.t[out] = (uint8_t *)c.t[out] + os;
            c.len[out] = (size_t)on;
            c.i[geo[k].in_slot] = (int32_t)(b - a);
            c.i[geo[k].out_slot] = (int32_t)(hi[k] - lo[k]);
            c.i[geo[k].pad_slot] = (int32_t)pad;
            e = uf_table_run(def, &c, kernel_what(m, mode, def, &c));
            if (e) {
                return e;
            }
        }
    }
    *size = at - pos;
    return UF_OK;
}

static int walk(const uf_model *m, size_t *pos, int n_ops, int mode) {
    while (n_ops != 0 && *pos < m->ops_len) {
        size_t size;
        int e;
        if (m->ops[*pos] == BAND) {
            e = band(m, *pos, mode, &size);
        } else {
            uf_call c;
            const uf_kernel_def *k;
            unsigned nt, np;
            e = mode == RUN_PREPARED ? decode_prepared(m, *pos, &c, &k, &size)
                                     : decode(m, *pos, &c, &k, &size, &nt, &np);
            if (!e) {
                e = uf_table_run(k, &c, kernel_what(m, mode, k, &c));
            }
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

// The bytes of the op record at pos, from its format alone (any kernel byte): for a
// walk past records whose kernel is not native.
static int record_size(const uf_model *m, size_t pos, size_t *size) {
    size_t at = pos, n_records = 1;
    if (m->ops[pos] == BAND) {
        if (m->ops_len - pos < BAND_HEADER) {
            return UF_ERECORD;
        }
        n_records = m->ops[pos + 1];
        at = pos + BAND_HEADER + n_records * BAND_LAYER;
        if (n_records == 0 || n_records > MAX_BAND_LAYERS || at > m->ops_len) {
            return UF_ERECORD;
        }
    }
    for (; n_records > 0; n_records--) {
        size_t f;
        if (m->ops_len - at < 2 || find_format(m, m->ops[at + 1], &f)) {
            return UF_ERECORD;
        }
        at += 2 + (size_t)m->formats[f] * m->formats[f + 1];
        for (unsigned p = 0; p < m->formats[f + 2]; p++) {
            char kind = (char)m->formats[f + 3 + p];
            if (kind != 'b' && kind != 'h' && kind != 'i' && kind != 'f') {
                return UF_ERECORD;
            }
            at += kind == 'b' ? 1 : kind == 'h' ? 2 : 4;
        }
        if (at > m->ops_len) {
            return UF_ERECORD;
        }
    }
    *size = at - pos;
    return UF_OK;
}

// Is pos where a record starts (walking the records from the first)?
static int record_start(const uf_model *m, size_t pos) {
    size_t at = 0, size;
    while (at < pos && at < m->ops_len && record_size(m, at, &size) == UF_OK) {
        at += size;
    }
    return at == pos;
}

// Every record checked (CHECK_ONLY) once; a record whose kernel is not native (its ops
// run in Python between walker runs) is stepped over: running it fails anyway.
static int prepare(const uf_model *m) {
    if ((m->fixed & UF_FIXED_TABLES) != UF_FIXED_TABLES) {
        return UF_ERECORD;   // tables that may change are checked at each run
    }
    size_t pos = 0;
    while (pos < m->ops_len) {
        size_t size;
        int e = walk(m, &pos, 1, CHECK_ONLY);   // pos stays on a record that fails
        if (e == UF_EKERNEL) {
            e = record_size(m, pos, &size);
            pos += size;
        }
        if (e) {
            return e;
        }
    }
    return UF_OK;
}

void uf_prepare(uf_model *m) {
    if (m->state == UNPREPARED) {
        m->state = prepare(m) ? CHECKING : PREPARED;
    }
}

int uf_run(uf_model *m, size_t *pos, int n_ops) {
    uf_prepare(m);
    int prepared = m->state == PREPARED && record_start(m, *pos);
    return walk(m, pos, n_ops, prepared ? RUN_PREPARED : RUN_CHECKED);
}

// File mode: how far into the weight buffer a decoded op's tensors reach, at least n.
static uint32_t wbuf_reach(const uf_model *m, const uf_call *c, unsigned nt, uint32_t n) {
    uintptr_t wbuf = (uintptr_t)m->wbuf;
    for (unsigned t = 0; t < nt; t++) {   // resolve() put each within its buffer
        uintptr_t p = (uintptr_t)c->t[t];
        if (wbuf && p >= wbuf && p - wbuf + c->len[t] <= m->wbuf_len && p - wbuf + c->len[t] > n) {
            n = (uint32_t)(p - wbuf + c->len[t]);
        }
    }
    return n;
}

// File mode: the bytes of the weight buffer the band loop at pos reads (its layers' reach).
// It reads and checks the band header and decodes each layer as band() does (a mirror).
static int band_segment(const uf_model *m, size_t pos, uint32_t *n) {
    if (m->ops_len - pos < BAND_HEADER) {
        return UF_ERECORD;
    }
    unsigned count = m->ops[pos + 1];
    size_t at = pos + BAND_HEADER + (size_t)count * BAND_LAYER;
    if (count == 0 || count > MAX_BAND_LAYERS || at > m->ops_len) {
        return UF_ERECORD;
    }
    *n = 0;
    for (unsigned k = 0; k < count; k++) {
        uf_call c;
        const uf_kernel_def *def;
        size_t size;
        unsigned nt, np;
        int e = decode(m, at, &c, &def, &size, &nt, &np);
        if (e) {
            return e;
        }
        *n = wbuf_reach(m, &c, nt, *n);
        at += size;
    }
    return UF_OK;
}

int uf_invoke(uf_model *m, size_t *pos) {
    *pos = 0;
    uf_prepare(m);
    int mode = m->state == PREPARED ? RUN_PREPARED : RUN_CHECKED;
    if (m->read == NULL) {
        return walk(m, pos, -1, mode);
    }
    // Each record's segment of the weights file: as many bytes as its weight-buffer
    // tensors reach, from where the previous record's ends rounded up to 8 (the bake
    // lays them out so: upyflow_tools/emit.py), read just before the record runs.
    uint64_t offset = 0;
    while (*pos < m->ops_len) {
        uf_call c;
        const uf_kernel_def *def = NULL;
        size_t size;
        unsigned nt, np;
        uint32_t n;
        int e;
        if (m->ops[*pos] == BAND) {
            e = band_segment(m, *pos, &n);
        } else {   // a plain op: decoded once, for its segment and its run
            e = decode(m, *pos, &c, &def, &size, &nt, &np);
            n = e ? 0 : wbuf_reach(m, &c, nt, 0);
        }
        if (e) {
            return e;
        }
        if (offset + n > UINT32_MAX) {
            return UF_ERECORD;
        }
        if (n && m->read(m->read_ctx, (uint32_t)offset, n)) {
            return UF_EREAD;
        }
        if (def) {   // the value checks of its constants in wbuf run after the read
            e = uf_table_run(def, &c, kernel_what(m, mode, def, &c));
            if (!e) {
                *pos += size;
            }
        } else {
            e = walk(m, pos, 1, mode);
        }
        if (e) {
            return e;
        }
        offset = (offset + n + 7) & ~(uint64_t)7;
    }
    return UF_OK;
}

int uf_check(uf_model *m, size_t *pos, int n_ops) {
    int whole = *pos == 0 && n_ops < 0;
    int e = walk(m, pos, n_ops, CHECK_ONLY);
    if (whole && e != UF_EKERNEL && m->state == UNPREPARED && (m->fixed & UF_FIXED_TABLES) == UF_FIXED_TABLES) {
        m->state = e ? CHECKING : PREPARED;   // what uf_prepare would find
    }
    return e;
}

// The text of an error code of a table call (kernels.h) or of the walker.
const char *uf_error_text(int err) {
    switch (err) {
        case UF_ESIZE:
            return "a tensor is shorter than its shape parameters need";
        case UF_EALIGN:
            return "an int16/int32/float activation or output tensor is not aligned";
        case UF_EPARAM:
            return "a parameter is out of range";
        case UF_EKERNEL:
            return "the op's kernel is not in the native table";
        case UF_ERECORD:
            return "malformed op record (format, tensor id or length)";
        case UF_ETENSOR:
            return "a tensor record lies outside its buffer, or an output overlaps a constant";
        default:
            return "ok";
    }
}

void uf_model_set(uf_model *m, const uint8_t *const *bufs, const size_t *len, unsigned fixed) {
    m->tensors = bufs[0], m->tensors_len = len[0];
    m->ops = bufs[1], m->ops_len = len[1];
    m->formats = bufs[2], m->formats_len = len[2];
    m->kernel_map = bufs[3], m->kernel_map_len = len[3];
    m->arena = (uint8_t *)bufs[4], m->arena_len = len[4];
    m->weights = bufs[5], m->weights_len = len[5];
    m->wbuf = (uint8_t *)bufs[6], m->wbuf_len = len[6];
    m->read = NULL;
    m->read_ctx = NULL;
    m->fixed = (uint8_t)fixed;
    m->state = UNPREPARED;
}
