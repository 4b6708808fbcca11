// The checks of the kernel table (table.c, generated from upyflow_tools/kernel_spec.py)
// that ranges and sizes cannot say: element sizes found from a tensor's length,
// broadcasting and reduction descriptors, the FFT and filter bank tables; and
// run_checks, which runs table.c's per-kernel check programs (the spec names these
// helpers; a program calls them with the kernel's tensor indices). Included by
// table.c only.
#ifndef UPYFLOW_CHECKS_H
#define UPYFLOW_CHECKS_H

#include "kernels.h"
#include "load.h"

#define T(k) (c->t[k])
#define I(k) (c->i[k])
#define F(k) (c->f[k])

// A family natmod (UF_FAMILY: table.c) holds check programs and calls only: the
// helpers and the interpreter are the core's.
#ifndef UF_FAMILY

// Is tensor k at least count elements of esize bytes?
static int sized(const uf_call *c, int k, uint64_t count, int esize) {
    return (uint64_t)c->len[k] >= count * (uint64_t)esize ? UF_OK : UF_ESIZE;
}

// The same for an arena tensor, which the kernel reads directly: aligned if wider.
static int fits(const uf_call *c, int k, uint64_t count, int esize) {
    if (esize > 1 && ((uintptr_t)c->t[k] & 3u)) {
        return UF_EALIGN;
    }
    return sized(c, k, count, esize);
}

#define FITS(k, count, esize) do { int e_ = fits(c, k, count, esize); if (e_) return e_; } while (0)
// A tensor that may be a constant at any address (const void * in kernels.h).
#define CFITS(k, count, esize) do { int e_ = sized(c, k, count, esize); if (e_) return e_; } while (0)
#define CHECK(cond) do { if (!(cond)) return UF_EPARAM; } while (0)
#define RET(e) do { int e_ = (e); if (e_) return e_; } while (0)

// Element size of an int8/int16 tensor holding n values, from its byte length (0: neither).
static int elem_size(const uf_call *c, int k, int n) {
    if (n <= 0) {
        return 1;
    }
    if (c->len[k] == (size_t)n) {
        return 1;
    }
    if (c->len[k] == 2 * (size_t)n && !((uintptr_t)c->t[k] & 1u)) {
        return 2;
    }
    return 0;
}

// The same for an int8/int16/int32 tensor.
static int int_size(const uf_call *c, int k, int n) {
    int size = elem_size(c, k, n);
    if (n > 0 && !size && c->len[k] == 4 * (size_t)n && !((uintptr_t)c->t[k] & 3u)) {
        size = 4;
    }
    return size;
}

// Bytes per element of a tensor holding n elements of any width: its length / n
// (0 for n = 0; -1 if the length is no multiple of n).
static int byte_width(const uf_call *c, int k, int n) {
    if (n <= 0) {
        return 0;
    }
    return c->len[k] % (size_t)n == 0 ? (int)(c->len[k] / (size_t)n) : -1;
}

// Element size of a CAST type code (kernels_pure/quantize.py), 0 if unknown. (Every
// helper the spec calls takes the call first.)
static int cast_size(const uf_call *c, int code) {
    (void)c;
    return code == 0 || code == 1 ? 1 : (code == 2 ? 2 : (code == 3 || code == 5 ? 4 : 0));
}

// Are the int32 elements start, start + step, ... (< stop) of tensor k within [lo, hi]?
static int values_in(const uf_call *c, int k, int64_t start, int64_t stop, int64_t step,
                     int32_t lo, int32_t hi) {
    for (int64_t i = start; i < stop; i += step) {
        int32_t v = uf_ld_i32(c->t[k], (size_t)i);
        if (v < lo || v > hi) {
            return 0;
        }
    }
    return 1;
}

// --- broadcasting and reduction descriptors (elementwise, reduce, layout) ----------------
// Descriptors are checked so every offset they produce stays inside its tensor.

// Descriptor tensor k (a constant, any address) holds at least `words` int32.
static int desc_fits(const uf_call *c, int k, uint64_t words) {
    return (uint64_t)c->len[k] >= words * 4;
}

// Word i of descriptor d.
#define D(d, i) uf_ld_i32(d, (size_t)(i))

// Widen [*lo, *hi] by the offsets one block (nd dims, shapes at descriptor word
// `shape`, strides at `stride`) reaches. Returns 0 for a bad shape; *empty is
// set for a zero-sized block.
static int block_span(const void *d, int shape, int stride, int nd, int64_t *lo,
                      int64_t *hi, uint64_t *count, int *empty) {
    if (nd < 1 || nd > UF_EW_MAX_DIMS) {
        return 0;
    }
    for (int k = 0; k < nd; k++) {
        int32_t n = D(d, shape + k);
        if (n < 0) {
            return 0;
        }
        if (n == 0) {
            *empty = 1;
            continue;
        }
        int64_t reach = (int64_t)(n - 1) * D(d, stride + k);
        *(reach < 0 ? lo : hi) += reach;
        *count *= (uint64_t)n;
    }
    return 1;
}

static int within(int64_t lo, int64_t hi, size_t len, int esize) {
    return lo >= 0 && (uint64_t)hi < (uint64_t)(len / (size_t)esize);
}

// Two operands walked over one shape (descriptor words from `shape`) with their strides
// at s0 and s1: widens [lo[i], hi[i]] (each starting at operand i's first offset) by the
// offsets it reaches and multiplies *n by the element count. Returns UF_EPARAM for a
// bad shape, -1 for an empty one (nothing is accessed), else UF_OK.
static int spans2(const void *d, int shape, int s0, int s1, int nd, int64_t *lo, int64_t *hi,
                  uint64_t *n) {
    uint64_t unused = 1;
    int empty = 0;
    if (!block_span(d, shape, s0, nd, &lo[0], &hi[0], n, &empty) ||
        !block_span(d, shape, s1, nd, &lo[1], &hi[1], &unused, &empty)) {
        return UF_EPARAM;
    }
    return empty ? -1 : UF_OK;
}

// Binary ops: inputs a, b (either may be a constant), output o, descriptor dk
// [nd][shape][a strides][b strides]; element size esize.
// The operands' elements are esize bytes, the output's oesize (a comparison's bool bytes: 1).
static int binary_check2(const uf_call *c, int a, int b, int o, int dk, int esize, int oesize) {
    CHECK(esize == 1 || esize == 2 || esize == 4);
    if ((uintptr_t)c->t[o] & (uintptr_t)(oesize - 1)) {
        return UF_EALIGN;
    }
    const void *d = T(dk);
    if (!desc_fits(c, dk, 1)) {
        return UF_EPARAM;
    }
    int nd = D(d, 0);
    CHECK(nd >= 1 && nd <= UF_EW_MAX_DIMS && desc_fits(c, dk, 1 + 3 * (uint64_t)nd));
    int64_t lo[2] = {0, 0}, hi[2] = {0, 0};
    uint64_t n = 1;
    int r = spans2(d, 1, 1 + nd, 1 + 2 * nd, nd, lo, hi, &n);
    if (r) {
        return r < 0 ? UF_OK : r;
    }
    if (!within(lo[0], hi[0], c->len[a], esize) || !within(lo[1], hi[1], c->len[b], esize) ||
        !within(0, (int64_t)n - 1, c->len[o], oesize)) {
        return UF_ESIZE;
    }
    return UF_OK;
}

static int binary_check(const uf_call *c, int a, int b, int o, int dk, int esize) {
    return binary_check2(c, a, b, o, dk, esize, esize);
}

// GREATER...NOT_EQUAL: operands of esize bytes, bool bytes out.
static int compare_check(const uf_call *c, int a, int b, int o, int dk, int esize) {
    return binary_check2(c, a, b, o, dk, esize, 1);
}

// MEAN: input x, output o, descriptor dk [outer block][inner block].
static int mean_check(const uf_call *c, int x, int o, int dk, int esize) {
    if (esize > 1 && (((uintptr_t)T(x) | (uintptr_t)T(o)) & (uintptr_t)(esize - 1))) {
        return UF_EALIGN;
    }
    const void *d = T(dk);
    CHECK(desc_fits(c, dk, 1));
    int no = D(d, 0);
    CHECK(no >= 1 && no <= UF_EW_MAX_DIMS && desc_fits(c, dk, 2 + 2 * (uint64_t)no));
    int inner = 1 + 2 * no;
    int ni = D(d, inner);
    CHECK(ni >= 1 && ni <= UF_EW_MAX_DIMS &&
          desc_fits(c, dk, 2 + 2 * (uint64_t)no + 2 * (uint64_t)ni));
    int64_t lo = 0, hi = 0;
    uint64_t n = 1, m = 1;
    int empty = 0;
    CHECK(block_span(d, 1, 1 + no, no, &lo, &hi, &n, &empty));
    CHECK(block_span(d, inner + 1, inner + 1 + ni, ni, &lo, &hi, &m, &empty));
    if (empty) {
        return UF_OK;
    }
    if (!within(lo, hi, c->len[x], esize) || !within(0, (int64_t)n - 1, c->len[o], esize)) {
        return UF_ESIZE;
    }
    return UF_OK;
}

// Strided copy: input x (may be a constant: only the output is aligned), output o,
// descriptor dk [nd][x start][out start][shape][x strides][out strides].
static int strided_check(const uf_call *c, int x, int o, int dk, int esize) {
    if ((uintptr_t)T(o) & (uintptr_t)(esize - 1)) {
        return UF_EALIGN;
    }
    const void *d = T(dk);
    CHECK(desc_fits(c, dk, 1));
    int nd = D(d, 0);
    CHECK(nd >= 1 && nd <= UF_EW_MAX_DIMS && desc_fits(c, dk, 3 + 3 * (uint64_t)nd));
    int64_t lo[2] = {D(d, 1), D(d, 2)}, hi[2] = {lo[0], lo[1]};
    uint64_t n = 1;
    int r = spans2(d, 3, 3 + nd, 3 + 2 * nd, nd, lo, hi, &n);
    if (r) {
        return r < 0 ? UF_OK : r;
    }
    if (!within(lo[0], hi[0], c->len[x], esize) || !within(lo[1], hi[1], c->len[o], esize)) {
        return UF_ESIZE;
    }
    return UF_OK;
}

// BATCH_MATMUL: operands a, b (either may be a constant), descriptor dk of nb (a, b) offset
// pairs; every matrix an offset pair starts, walked by its strides, stays inside its operand
// (the output's nb*m*n elements are checked by the table's sizes).
static int matmul_check(const uf_call *c, int a, int b, int dk, int nb, int m, int n, int k,
                        int lsi, int lsk, int rsk, int rsj, int esize) {
    CHECK(desc_fits(c, dk, 2 * (uint64_t)nb));
    int64_t a_reach = (int64_t)(m - 1) * lsi + (int64_t)(k - 1) * lsk;
    int64_t b_reach = (int64_t)(k - 1) * rsk + (int64_t)(n - 1) * rsj;
    for (int i = 0; i < nb; i++) {
        int64_t ao = D(T(dk), 2 * i), bo = D(T(dk), 2 * i + 1);
        if (!within(ao, ao + a_reach, c->len[a], esize) || !within(bo, bo + b_reach, c->len[b], esize)) {
            return UF_ESIZE;
        }
    }
    return UF_OK;
}

// --- signal tables -------------------------------------------------------------------------
// The kissfft tables of tensor tk for a complex FFT of size n: factor plan,
// permutation and twiddle indices.
static int rfft_tables(const uf_call *c, int tk, int n) {
    CFITS(tk, 1, 2);
    const void *t = T(tk);
    int ns = uf_ld_i16(t, 0);
    CHECK(ns >= 1 && ns <= 16);
    CFITS(tk, 1 + 2 * (uint64_t)ns + (uint64_t)n + 3 * (uint64_t)n, 2);
    int size = 1;
    for (int s = ns - 1; s >= 0; s--) {   // each stage (p, m): m is the size below it
        int p = uf_ld_i16(t, 1 + 2 * (size_t)s), m = uf_ld_i16(t, 2 + 2 * (size_t)s);
        CHECK((p == 2 || p == 4) && m == size);
        size *= p;
    }
    CHECK(size == n);
    for (int k = 0; k < n; k++) {
        int32_t j = uf_ld_i16(t, 1 + 2 * (size_t)ns + k);
        CHECK(j >= 0 && j < n);
    }
    return UF_OK;
}

// The filter bank's packed tables tk (weights, then per channel first bin, weight
// start, width): every channel's bins inside input x and its weights inside the table.
static int filter_bank_tables(const uf_call *c, int x, int tk, int nch, int nw) {
    const void *t = T(tk);
    size_t fs = 2 * (size_t)nw, ws = fs + (size_t)nch + 1, wd = ws + (size_t)nch + 1;
    for (int i = 0; i <= nch; i++) {
        int32_t f = uf_ld_i16(t, fs + i), w = uf_ld_i16(t, ws + i), d = uf_ld_i16(t, wd + i);
        CHECK(f >= 0 && w >= 0 && d >= 0 && w + d <= nw);
        FITS(x, (uint64_t)f + d, 4);
    }
    return UF_OK;
}

#endif

// --- the check programs of table.c -------------------------------------------------------
// Each kernel's checks are data: a postfix program gen_kernels.py translates from the
// spec's ranges, sizes and expressions. Words (bytes): an operation, then its inline
// operands (parameter, tensor and derived-value indices, small constants). A program
// computes the derived values, then has two sections a run may skip (OP_UNLESS): the
// static checks (UF_STATIC) and the value checks (UF_VALUES, which read constants).
// Values are 64-bit; + - * wrap (sizes count in uint64, as a byte length compares),
// comparisons are signed, / and % take int32 operands (a divisor of 0 gives 0).
enum {
    OP_END,
    OP_PARAM,      // i: push int parameter i
    OP_CONST,      // v: push v, 0..255 (also a tensor's index, for a helper)
    OP_CONST32,    // b0 b1 b2 b3: push the int32 of these little-endian bytes
    OP_DERIVED,    // d: push derived value d
    OP_SET,        // d: pop derived value d (the kernel may take it too)
    OP_MIN,        // i, lo: int parameter i >= lo (0..255), else UF_EPARAM
    OP_MAX,        // i, hi: int parameter i <= hi (0..255), else UF_EPARAM
    OP_CHECK,      // pop; zero is UF_EPARAM
    OP_FITS,       // k, e: pop count: arena tensor k holds count elements of e bytes (aligned
                   // if wider); e = 0: pop the element size first
    OP_CFITS,      // k, e: the same for a tensor that may be a constant (any address)
    OP_PRODUCT,    // n, i1..in: push the product of int parameters i1..in
    OP_VALUES,     // k: pop start, stop, step, lo, hi: values_in(k, ...) or UF_EPARAM
    OP_RET,        // pop an error code: nonzero is returned
    OP_NEG,
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_BAND,
    OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_LAND, OP_LOR,
    OP_SELECT,     // pop test, a, b: test ? a : b
    OP_UNLESS,     // w, n0, n1: unless the run asks for w (UF_STATIC, UF_VALUES), skip n0 + 256 n1 bytes
    // the helpers above, their arguments pushed in order (tensors as indices)
    H_ELEM_SIZE, H_INT_SIZE, H_CAST_SIZE, H_BYTE_WIDTH, H_BINARY_CHECK, H_MEAN_CHECK,
    H_STRIDED_CHECK, H_RFFT_TABLES, H_FILTER_BANK_TABLES, H_COMPARE_CHECK, H_MATMUL_CHECK
};

#ifndef UF_FAMILY
#define UF_CHECK_STACK 16   // gen_kernels.STACK: it refuses a deeper expression

// A binary operation on a (under) and b (top).
static uint64_t check_op(int32_t op, uint64_t a, uint64_t b) {
    int64_t sa = (int64_t)a, sb = (int64_t)b;
    switch (op) {
        case OP_ADD: return a + b;
        case OP_SUB: return a - b;
        case OP_MUL: return a * b;
        case OP_DIV:
        case OP_MOD: {
            // int32 operands (gen_kernels divides only parameters and constants): 32-bit
            // division, as the boards have no 64-bit divide (the Xtensa runtime none at all)
            int32_t x = (int32_t)sa, y = (int32_t)sb;
            if (y == 0 || y == -1) {
                return op == OP_DIV && y ? 0 - a : 0;
            }
            return (uint64_t)(int64_t)(op == OP_DIV ? x / y : x % y);
        }
        case OP_BAND: return a & b;
        case OP_EQ: return sa == sb;
        case OP_NE: return sa != sb;
        case OP_LT: return sa < sb;
        case OP_LE: return sa <= sb;
        case OP_GT: return sa > sb;
        case OP_GE: return sa >= sb;
        case OP_LAND: return a && b;
        default: return a || b;   // OP_LOR
    }
}

// The helper op on its n arguments a[0..n).
static int64_t check_helper(const uf_call *c, int32_t op, const uint64_t *a) {
    int i0 = (int)a[0], i1 = (int)a[1], i2 = (int)a[2], i3 = (int)a[3], i4 = (int)a[4];
    switch (op) {
        case H_ELEM_SIZE: return elem_size(c, i0, i1);
        case H_INT_SIZE: return int_size(c, i0, i1);
        case H_CAST_SIZE: return cast_size(c, i0);
        case H_BYTE_WIDTH: return byte_width(c, i0, i1);
        case H_BINARY_CHECK: return binary_check(c, i0, i1, i2, i3, i4);
        case H_MEAN_CHECK: return mean_check(c, i0, i1, i2, i3);
        case H_STRIDED_CHECK: return strided_check(c, i0, i1, i2, i3);
        case H_RFFT_TABLES: return rfft_tables(c, i0, i1);
        case H_FILTER_BANK_TABLES: return filter_bank_tables(c, i0, i1, i2, i3);
        case H_COMPARE_CHECK: return compare_check(c, i0, i1, i2, i3, i4);
        default:   // H_MATMUL_CHECK: its 12 arguments are all on the stack
            return matmul_check(c, i0, i1, i2, i3, i4, (int)a[5], (int)a[6], (int)a[7], (int)a[8],
                                (int)a[9], (int)a[10], (int)a[11]);
    }
}

static int helper_args(int32_t op) {
    static const uint8_t n[] = {2, 2, 1, 2, 5, 4, 4, 2, 4, 5, 12};
    return n[op - H_ELEM_SIZE];
}

// Runs the sections `what` asks for of check program p on call c, derived values into d;
// UF_OK or the first error.
// Not inlined: its value stack is off the C stack again before the kernel runs, which
// on an RP2040 (8 KB of stack for all of MicroPython) matters.
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int run_checks(const uf_call *c, const uint8_t *p, int32_t *d, unsigned what) {
    uint64_t s[UF_CHECK_STACK + 5];   // + room for a helper's unused argument reads
    int sp = 0;
    for (;;) {
        int32_t op = *p++;
        switch (op) {
            case OP_CONST32:
                s[sp++] = (uint64_t)(int64_t)(int32_t)((uint32_t)p[0] | ((uint32_t)p[1] << 8) |
                                                       ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24));
                p += 4;
                break;
            case OP_END:
                return UF_OK;
            case OP_PARAM:
                s[sp++] = (uint64_t)(int64_t)I(*p++);
                break;
            case OP_CONST:
                s[sp++] = *p++;
                break;
            case OP_DERIVED:
                s[sp++] = (uint64_t)(int64_t)d[*p++];
                break;
            case OP_SET:
                d[*p++] = (int32_t)s[--sp];
                break;
            case OP_MIN:
                CHECK(I(p[0]) >= p[1]);
                p += 2;
                break;
            case OP_MAX:
                CHECK(I(p[0]) <= p[1]);
                p += 2;
                break;
            case OP_CHECK:
                CHECK(s[--sp]);
                break;
            case OP_FITS:
            case OP_CFITS: {
                int k = p[0], esize = p[1] ? p[1] : (int)s[--sp];
                uint64_t count = s[--sp];
                p += 2;
                RET(op == OP_FITS ? fits(c, k, count, esize) : sized(c, k, count, esize));
                break;
            }
            case OP_PRODUCT: {
                uint64_t v = 1;
                for (int n = *p++; n > 0; n--) {
                    v *= (uint64_t)(int64_t)I(*p++);
                }
                s[sp++] = v;
                break;
            }
            case OP_VALUES:
                sp -= 5;
                CHECK(values_in(c, *p++, (int64_t)s[sp], (int64_t)s[sp + 1], (int64_t)s[sp + 2],
                                (int32_t)s[sp + 3], (int32_t)s[sp + 4]));
                break;
            case OP_RET:
                RET((int)s[--sp]);
                break;
            case OP_NEG:
                s[sp - 1] = 0 - s[sp - 1];
                break;
            case OP_SELECT:
                sp -= 2;
                s[sp - 1] = s[sp - 1] ? s[sp] : s[sp + 1];
                break;
            case OP_UNLESS:
                p += 3 + (what & p[0] ? 0 : p[1] | (size_t)p[2] << 8);
                break;
            default:
                if (op >= H_ELEM_SIZE && op <= H_MATMUL_CHECK) {
                    sp -= helper_args(op);
                    s[sp] = (uint64_t)check_helper(c, op, &s[sp]);
                    sp++;
                } else if (op >= OP_ADD && op <= OP_LOR) {
                    sp--;
                    s[sp - 1] = check_op(op, s[sp - 1], s[sp]);
                } else {
                    return UF_EPARAM;   // not a program gen_kernels.py wrote
                }
        }
    }
}

#ifndef UF_MAX_DERIVED
#error "table.c defines UF_MAX_DERIVED before it includes checks.h"
#endif

// Does a tensor whose values the checks read overlap one the kernel writes (a malformed
// record can name an output as a shift table)? The checks read it before the kernel
// runs, so the kernel's own writes would change it under them.
static int written_over(const uf_kernel_def *k, const uf_call *c) {
    for (unsigned v = 0; v < UF_MAX_TENSORS; v++) {
        uintptr_t a = (uintptr_t)c->t[v], an = c->len[v];
        for (unsigned w = 0; (k->values >> v & 1) && an && (k->sig[w] == 'r' || k->sig[w] == 'w'); w++) {
            uintptr_t b = (uintptr_t)c->t[w], bn = c->len[w];
            if (k->sig[w] == 'w' && bn && a < b + bn && b < a + an) {
                return 1;
            }
        }
    }
    return 0;
}

int uf_table_run(const uf_kernel_def *k, const uf_call *c, unsigned what) {
    int32_t d[UF_MAX_DERIVED];
    const uint8_t *p = k->checks;
    if ((what & UF_STATIC) && k->values && written_over(k, c)) {
        return UF_ETENSOR;
    }
    // A program without derived values starts with a section: nothing to run unless a
    // section is asked for. A hand-written entry (no program) checks when it is called.
    if (p != NULL && ((what & (UF_STATIC | UF_VALUES)) || p[0] != OP_UNLESS)) {
        RET(run_checks(c, p, d, what));
    }
    return what & UF_CALL ? k->call(c, d) : UF_OK;
}

#endif   // UF_FAMILY

#endif
