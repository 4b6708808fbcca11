// The kernel table the bindings dispatch through: per kernel, its argument
// signature and a checked call. The checks make a malformed call (tensor too
// short for its shape parameters, misaligned arena data, impossible geometry)
// an error instead of a stray memory access. Constants (weights, biases,
// requantization arrays, tables, descriptors) may sit at any address: the
// kernels read them through load.h, so only their size is checked.
#include "kernels.h"
#include "load.h"

#define T(k) (c->t[k])
#define I(k) (c->i[k])
#define F(k) (c->f[k])

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

static uint64_t mul3(int a, int b, int d) {
    return (uint64_t)a * (uint64_t)b * (uint64_t)d;
}

// Element size of an int8/int16 tensor holding n values, from its byte length.
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

static int nonneg(const uf_call *c, int from, int to) {
    for (int k = from; k < to; k++) {
        if (c->i[k] < 0) {
            return 0;
        }
    }
    return 1;
}

static int positive(const uf_call *c, int from, int to) {
    for (int k = from; k < to; k++) {
        if (c->i[k] < 1) {
            return 0;
        }
    }
    return 1;
}

static int shifts_ok(const uf_call *c, int k, int n, int acc64);

static int run_fc_s8(const uf_call *c) {
    CHECK(nonneg(c, 0, 3));
    FITS(0, (uint64_t)I(0) * I(1), 1);
    FITS(1, (uint64_t)I(2) * I(1), 1);
    CFITS(2, I(2), 4);
    FITS(3, (uint64_t)I(0) * I(2), 1);
    CFITS(4, I(2), 4);
    CFITS(5, I(2), 4);
    CHECK(shifts_ok(c, 5, I(2), 0));
    uf_fully_connected_s8(T(0), T(1), T(2), T(3), T(4), T(5), I(0), I(1), I(2), I(3), I(4), I(5));
    return UF_OK;
}

static int run_fc_f32(const uf_call *c) {
    CHECK(nonneg(c, 0, 3));
    FITS(0, (uint64_t)I(0) * I(1), 4);
    CFITS(1, (uint64_t)I(2) * I(1), 4);
    CFITS(2, I(2), 4);
    FITS(3, (uint64_t)I(0) * I(2), 4);
    uf_fully_connected_f32(T(0), T(1), T(2), T(3), I(0), I(1), I(2), F(0), F(1));
    return UF_OK;
}

// The input rows/columns a conv reaches, out * stride + kernel * dilation + pad, fit
// an int (the kernels index with int arithmetic: no signed overflow).
static int spans_ok(const uf_call *c) {
    for (int a = 0; a < 2; a++) {
        if ((uint64_t)I(3 + a) * I(8 + a) + (uint64_t)I(6 + a) * I(10 + a) + I(12 + a) > 0x7FFFFFFF) {
            return 0;
        }
    }
    return 1;
}

// Shared checks of the conv geometry (ints 0..13) for a kernel whose filter has
// wcount elements and output channels oc.
static int conv_common(const uf_call *c, uint64_t wcount, uint64_t oc, int esize) {
    CHECK(nonneg(c, 0, 6) && positive(c, 6, 12) && nonneg(c, 12, 14) && spans_ok(c));
    FITS(0, mul3(I(0), I(1), I(2)), esize);
    CFITS(1, wcount, esize);
    CFITS(2, oc, 4);
    FITS(3, mul3(I(3), I(4), 1) * oc, esize);
    return UF_OK;
}

static int run_conv_s8(const uf_call *c) {
    int e = conv_common(c, mul3(I(5), I(6), I(7)) * (uint64_t)I(2), I(5), 1);
    if (e) {
        return e;
    }
    CFITS(4, I(5), 4);
    CFITS(5, I(5), 4);
    CHECK(shifts_ok(c, 5, I(5), 0));
    uf_conv2d_s8(T(0), T(1), T(2), T(3), T(4), T(5), I(0), I(1), I(2), I(3), I(4), I(5), I(6),
                 I(7), I(8), I(9), I(10), I(11), I(12), I(13), I(14), I(15), I(16), I(17));
    return UF_OK;
}

static int run_dw_s8(const uf_call *c) {
    uint64_t oc = (uint64_t)I(2) * (uint64_t)I(5);
    int e = conv_common(c, mul3(I(6), I(7), 1) * oc, oc, 1);
    if (e) {
        return e;
    }
    CFITS(4, oc, 4);
    CFITS(5, oc, 4);
    CHECK(shifts_ok(c, 5, (int)oc, 0));
    uf_depthwise_conv2d_s8(T(0), T(1), T(2), T(3), T(4), T(5), I(0), I(1), I(2), I(3), I(4),
                           I(5), I(6), I(7), I(8), I(9), I(10), I(11), I(12), I(13), I(14),
                           I(15), I(16), I(17));
    return UF_OK;
}

static int run_conv_f32(const uf_call *c) {
    int e = conv_common(c, mul3(I(5), I(6), I(7)) * (uint64_t)I(2), I(5), 4);
    if (e) {
        return e;
    }
    uf_conv2d_f32(T(0), T(1), T(2), T(3), I(0), I(1), I(2), I(3), I(4), I(5), I(6), I(7), I(8),
                  I(9), I(10), I(11), I(12), I(13), F(0), F(1));
    return UF_OK;
}

static int run_dw_f32(const uf_call *c) {
    uint64_t oc = (uint64_t)I(2) * (uint64_t)I(5);
    int e = conv_common(c, mul3(I(6), I(7), 1) * oc, oc, 4);
    if (e) {
        return e;
    }
    uf_depthwise_conv2d_f32(T(0), T(1), T(2), T(3), I(0), I(1), I(2), I(3), I(4), I(5), I(6),
                            I(7), I(8), I(9), I(10), I(11), I(12), I(13), F(0), F(1));
    return UF_OK;
}

// Pools: ints 0..4 are sizes, 5..8 filter and stride, 9..10 padding.
static int pool_check(const uf_call *c, int esize) {
    CHECK(nonneg(c, 0, 5) && positive(c, 5, 9) && nonneg(c, 9, 11));
    FITS(0, mul3(I(0), I(1), I(2)), esize);
    FITS(1, mul3(I(3), I(4), I(2)), esize);
    return UF_OK;
}

#define POOL_ARGS I(0), I(1), I(2), I(3), I(4), I(5), I(6), I(7), I(8), I(9), I(10)

static int run_avg_s8(const uf_call *c) {
    int e = pool_check(c, 1);
    if (!e) {
        uf_avg_pool2d_s8(T(0), T(1), POOL_ARGS, I(11), I(12));
    }
    return e;
}

static int run_max_s8(const uf_call *c) {
    int e = pool_check(c, 1);
    if (!e) {
        uf_max_pool2d_s8(T(0), T(1), POOL_ARGS, I(11), I(12));
    }
    return e;
}

static int run_avg_f32(const uf_call *c) {
    int e = pool_check(c, 4);
    if (!e) {
        uf_avg_pool2d_f32(T(0), T(1), POOL_ARGS, F(0), F(1));
    }
    return e;
}

static int run_max_f32(const uf_call *c) {
    int e = pool_check(c, 4);
    if (!e) {
        uf_max_pool2d_f32(T(0), T(1), POOL_ARGS, F(0), F(1));
    }
    return e;
}

static int run_softmax_s8(const uf_call *c) {
    // diff_min <= 0 keeps each row's maximum in the sum (a zero sum has no reciprocal)
    CHECK(I(0) >= 0 && I(1) >= 1 && I(3) >= 0 && I(3) <= 31 && I(4) <= 0);
    FITS(0, (uint64_t)I(0) * I(1), 1);
    FITS(1, (uint64_t)I(0) * I(1), 1);
    uf_softmax_s8(T(0), T(1), I(0), I(1), I(2), I(3), I(4));
    return UF_OK;
}

static int run_softmax_f32(const uf_call *c) {
    CHECK(I(0) >= 0 && I(1) >= 1);
    FITS(0, (uint64_t)I(0) * I(1), 4);
    FITS(1, (uint64_t)I(0) * I(1), 4);
    uf_softmax_f32(T(0), T(1), I(0), I(1), F(0));
    return UF_OK;
}

static int run_quantize_f32(const uf_call *c) {
    int n = I(0), out_size = elem_size(c, 1, n);
    CHECK(n >= 0 && out_size);
    FITS(0, n, 4);
    uf_quantize_f32(T(0), T(1), n, F(0), I(1), I(2), I(3), out_size);
    return UF_OK;
}

static int run_requantize(const uf_call *c) {
    // int8/int16/int32 on either side (QUANTIZE int16 <-> int32)
    int n = I(0), in_size = elem_size(c, 0, n), out_size = elem_size(c, 1, n);
    if (n > 0 && !in_size && c->len[0] == 4 * (size_t)n && !((uintptr_t)c->t[0] & 3u)) {
        in_size = 4;
    }
    if (n > 0 && !out_size && c->len[1] == 4 * (size_t)n && !((uintptr_t)c->t[1] & 3u)) {
        out_size = 4;
    }
    CHECK(n >= 0 && in_size && out_size && I(3) >= -31 && I(3) <= 30);
    uf_requantize(T(0), T(1), n, I(1), I(2), I(3), I(4), I(5), I(6), in_size, out_size);
    return UF_OK;
}

static int run_dequantize_f32(const uf_call *c) {
    int n = I(0), in_size = elem_size(c, 0, n);
    CHECK(n >= 0 && in_size);
    FITS(1, n, 4);
    uf_dequantize_f32(T(0), T(1), n, F(0), I(1), in_size);
    return UF_OK;
}

static int run_copy_bytes(const uf_call *c) {
    // n counts elements of any width: copy the input's bytes, n * size of them
    int n = I(0);
    CHECK(n >= 0);
    if (n == 0) {
        return UF_OK;
    }
    CHECK(c->len[0] % (size_t)n == 0);
    int size = (int)(c->len[0] / (size_t)n);
    FITS(1, c->len[0], 1);
    uf_copy_bytes(T(0), T(1), n, size);
    return UF_OK;
}

// LSTM float32 ints: batch, steps, n_in, n, time_major; then the cell clip (0: none).
static int run_lstm_f32(const uf_call *c) {
    CHECK(nonneg(c, 0, 4) && (I(4) == 0 || I(4) == 1) && I(3) <= 0x3FFFFFF);
    uint64_t n4 = 4 * (uint64_t)I(3);
    FITS(0, mul3(I(0), I(1), I(2)), 4);
    FITS(1, n4 * I(2) + n4 * I(3), 4);
    FITS(2, n4, 4);
    FITS(3, (uint64_t)I(0) * I(3), 4);
    FITS(4, (uint64_t)I(0) * I(3), 4);
    FITS(5, mul3(I(0), I(1), I(3)), 4);
    uf_lstm_f32(T(0), T(1), T(2), T(3), T(4), T(5), I(0), I(1), I(2), I(3), I(4), F(0));
    return UF_OK;
}

// --- int16 activations (16x8) and TRANSPOSE_CONV -----------------------------------
// Are the n shifts of tensor k in range: [-31, 14] for the int64 requantization
// (it shifts right by 15 - shift), [-31, 30] for the int32 one?
static int shifts_ok(const uf_call *c, int k, int n, int acc64) {
    for (int i = 0; i < n; i++) {
        int32_t s = uf_ld_i32(c->t[k], (size_t)i);
        if (s < -31 || s > (acc64 ? 14 : 30)) {
            return 0;
        }
    }
    return 1;
}

// Tensors 2, 4, 5 (bias, multiplier, shift) for n channels; bias as int64 word pairs or int32.
static int requant_fits(const uf_call *c, int n, int bias_words, int acc64) {
    CFITS(2, (uint64_t)n * bias_words, 4);
    CFITS(4, n, 4);
    CFITS(5, n, 4);
    CHECK(shifts_ok(c, 5, n, acc64));
    return UF_OK;
}

// Conv geometry (ints 0..13) with an int16 input/output, an int8 filter of wcount.
static int conv16_common(const uf_call *c, uint64_t wcount, int oc, int acc64) {
    CHECK(nonneg(c, 0, 6) && positive(c, 6, 12) && nonneg(c, 12, 14) && spans_ok(c));
    FITS(0, mul3(I(0), I(1), I(2)), 2);
    FITS(1, wcount, 1);
    FITS(3, mul3(I(3), I(4), oc), 2);
    return requant_fits(c, oc, 2, acc64);
}

static int run_conv_s16(const uf_call *c) {
    CHECK(I(14) == 0 || I(14) == 1);
    int e = conv16_common(c, mul3(I(5), I(6), I(7)) * (uint64_t)I(2), I(5), I(14));
    if (e) {
        return e;
    }
    uf_conv2d_s16(T(0), T(1), T(2), T(3), T(4), T(5), I(0), I(1), I(2), I(3), I(4), I(5), I(6),
                  I(7), I(8), I(9), I(10), I(11), I(12), I(13), I(14), I(15), I(16));
    return UF_OK;
}

static int run_dw_s16(const uf_call *c) {
    uint64_t oc = (uint64_t)I(2) * (uint64_t)I(5);
    CHECK(oc <= 0x7FFFFFFF);
    int e = conv16_common(c, mul3(I(6), I(7), 1) * oc, (int)oc, 1);
    if (e) {
        return e;
    }
    uf_depthwise_conv2d_s16(T(0), T(1), T(2), T(3), T(4), T(5), I(0), I(1), I(2), I(3), I(4),
                            I(5), I(6), I(7), I(8), I(9), I(10), I(11), I(12), I(13), I(14),
                            I(15));
    return UF_OK;
}

static int run_fc_s16(const uf_call *c) {
    CHECK(nonneg(c, 0, 3) && (I(4) == 0 || I(4) == 1));
    FITS(0, (uint64_t)I(0) * I(1), 2);
    FITS(1, (uint64_t)I(2) * I(1), 1);
    FITS(3, (uint64_t)I(0) * I(2), 2);
    int e = requant_fits(c, I(2), 2, I(4));
    if (e) {
        return e;
    }
    uf_fully_connected_s16(T(0), T(1), T(2), T(3), T(4), T(5), I(0), I(1), I(2), I(3), I(4),
                           I(5), I(6));
    return UF_OK;
}

// Transpose conv geometry, ints 0..11: sizes, then filter and stride, then padding.
static int tconv_check(const uf_call *c, int esize, int wsize) {
    CHECK(nonneg(c, 0, 6) && positive(c, 6, 10) && nonneg(c, 10, 12));
    FITS(0, mul3(I(0), I(1), I(2)), esize);
    CFITS(1, mul3(I(5), I(6), I(7)) * (uint64_t)I(2), wsize);
    FITS(3, mul3(I(3), I(4), I(5)), esize);
    return UF_OK;
}

static int run_tconv_s8(const uf_call *c) {
    int e = tconv_check(c, 1, 1);
    if (!e) {
        e = requant_fits(c, I(5), 1, 0);
    }
    if (!e) {
        uf_transpose_conv_s8(T(0), T(1), T(2), T(3), T(4), T(5), I(0), I(1), I(2), I(3), I(4),
                             I(5), I(6), I(7), I(8), I(9), I(10), I(11), I(12), I(13), I(14),
                             I(15));
    }
    return e;
}

static int run_tconv_s16(const uf_call *c) {
    int e = tconv_check(c, 2, 1);
    if (!e) {
        e = requant_fits(c, I(5), 2, 1);
    }
    if (!e) {
        uf_transpose_conv_s16(T(0), T(1), T(2), T(3), T(4), T(5), I(0), I(1), I(2), I(3), I(4),
                              I(5), I(6), I(7), I(8), I(9), I(10), I(11), I(12), I(13));
    }
    return e;
}

static int run_tconv_f32(const uf_call *c) {
    int e = tconv_check(c, 4, 4);
    if (e) {
        return e;
    }
    CFITS(2, I(5), 4);
    uf_transpose_conv_f32(T(0), T(1), T(2), T(3), I(0), I(1), I(2), I(3), I(4), I(5), I(6), I(7),
                          I(8), I(9), I(10), I(11), F(0), F(1));
    return UF_OK;
}
// --- end int16 / TRANSPOSE_CONV ---

// --- element-wise, MEAN and data movement (elementwise.c, reduce.c, layout.c) ---
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

// Binary ops: tensors x1, x2 (either may be a constant), out, desc; element size esize.
static int binary_check(const uf_call *c, int esize) {
    CHECK(esize == 1 || esize == 2 || esize == 4);
    if ((uintptr_t)c->t[2] & (uintptr_t)(esize - 1)) {
        return UF_EALIGN;
    }
    const void *d = T(3);
    if (!desc_fits(c, 3, 1)) {
        return UF_EPARAM;
    }
    int nd = D(d, 0);
    CHECK(nd >= 1 && nd <= UF_EW_MAX_DIMS && desc_fits(c, 3, 1 + 3 * (uint64_t)nd));
    int64_t alo = 0, ahi = 0, blo = 0, bhi = 0, olo = 0, ohi = 0;
    uint64_t n = 1, unused = 1;
    int empty = 0;
    CHECK(block_span(d, 1, 1 + nd, nd, &alo, &ahi, &n, &empty));
    CHECK(block_span(d, 1, 1 + 2 * nd, nd, &blo, &bhi, &unused, &empty));
    if (empty) {
        return UF_OK;
    }
    ohi = (int64_t)n - 1;
    if (!within(alo, ahi, c->len[0], esize) || !within(blo, bhi, c->len[1], esize) ||
        !within(olo, ohi, c->len[2], esize)) {
        return UF_ESIZE;
    }
    return UF_OK;
}

static int run_addsub_q(const uf_call *c) {
    CHECK(I(0) == 1 || I(0) == 2);
    CHECK(I(8) >= 0 && I(8) <= 20 && I(4) <= 0 && I(4) >= -31 && I(7) <= 0 && I(7) >= -31 &&
          I(10) <= 0 && I(10) >= -31);
    int e = binary_check(c, I(0));
    if (!e) {
        uf_addsub_q(T(0), T(1), T(2), T(3), I(0), I(1), I(2), I(3), I(4), I(5), I(6), I(7), I(8),
                    I(9), I(10), I(11), I(12), I(13));
    }
    return e;
}

static int run_mul_q(const uf_call *c) {
    CHECK((I(0) == 1 || I(0) == 2) && I(4) >= -31 && I(4) <= 30);
    int e = binary_check(c, I(0));
    if (!e) {
        uf_mul_q(T(0), T(1), T(2), T(3), I(0), I(1), I(2), I(3), I(4), I(5), I(6), I(7));
    }
    return e;
}

static int run_binary_f32(const uf_call *c) {
    int e = binary_check(c, 4);
    if (!e) {
        uf_binary_f32(T(0), T(1), T(2), T(3), I(0), F(0), F(1));
    }
    return e;
}

static int run_maxmin_q(const uf_call *c) {
    CHECK(I(0) == 1 || I(0) == 2);
    int e = binary_check(c, I(0));
    if (!e) {
        uf_maxmin_q(T(0), T(1), T(2), T(3), I(0), I(1));
    }
    return e;
}

// MEAN: tensors x, out, desc [outer block][inner block].
static int mean_check(const uf_call *c, int esize) {
    if (esize > 1 && (((uintptr_t)T(0) | (uintptr_t)T(1)) & (uintptr_t)(esize - 1))) {
        return UF_EALIGN;
    }
    const void *d = T(2);
    CHECK(desc_fits(c, 2, 1));
    int no = D(d, 0);
    CHECK(no >= 1 && no <= UF_EW_MAX_DIMS && desc_fits(c, 2, 2 + 2 * (uint64_t)no));
    int inner = 1 + 2 * no;
    int ni = D(d, inner);
    CHECK(ni >= 1 && ni <= UF_EW_MAX_DIMS && desc_fits(c, 2, 2 + 2 * (uint64_t)no + 2 * (uint64_t)ni));
    int64_t lo = 0, hi = 0;
    uint64_t n = 1, m = 1;
    int empty = 0;
    CHECK(block_span(d, 1, 1 + no, no, &lo, &hi, &n, &empty));
    CHECK(block_span(d, inner + 1, inner + 1 + ni, ni, &lo, &hi, &m, &empty));
    if (empty) {
        return UF_OK;
    }
    if (!within(lo, hi, c->len[0], esize) || !within(0, (int64_t)n - 1, c->len[1], esize)) {
        return UF_ESIZE;
    }
    return UF_OK;
}

static int run_mean_q(const uf_call *c) {
    CHECK((I(0) == 1 || I(0) == 2) && I(3) >= -31 && I(3) <= 30 && I(5) >= 1);
    int e = mean_check(c, I(0));
    if (!e) {
        uf_mean_q(T(0), T(1), T(2), I(0), I(1), I(2), I(3), I(4), I(5), I(6), I(7));
    }
    return e;
}

static int run_mean_f32(const uf_call *c) {
    CHECK(I(0) >= 1);
    int e = mean_check(c, 4);
    if (!e) {
        uf_mean_f32(T(0), T(1), T(2), I(0));
    }
    return e;
}

static int run_strided_copy(const uf_call *c) {
    int esize = I(0);
    CHECK(esize == 1 || esize == 2 || esize == 4);
    // the input may be a constant (a CONCATENATION operand): only the output is aligned
    if ((uintptr_t)T(1) & (uintptr_t)(esize - 1)) {
        return UF_EALIGN;
    }
    const void *d = T(2);
    CHECK(desc_fits(c, 2, 1));
    int nd = D(d, 0);
    CHECK(nd >= 1 && nd <= UF_EW_MAX_DIMS && desc_fits(c, 2, 3 + 3 * (uint64_t)nd));
    int64_t xlo = D(d, 1), xhi = xlo, olo = D(d, 2), ohi = olo;
    uint64_t n = 1, unused = 1;
    int empty = 0;
    CHECK(block_span(d, 3, 3 + nd, nd, &xlo, &xhi, &n, &empty));
    CHECK(block_span(d, 3, 3 + 2 * nd, nd, &olo, &ohi, &unused, &empty));
    if (empty) {
        return UF_OK;
    }
    if (!within(xlo, xhi, c->len[0], esize) || !within(olo, ohi, c->len[1], esize)) {
        return UF_ESIZE;
    }
    uf_strided_copy(T(0), T(1), T(2), esize);
    return UF_OK;
}

static int run_fill_int(const uf_call *c) {
    int n = I(0), esize = elem_size(c, 0, n);
    CHECK(n >= 0 && esize);
    uf_fill_int(T(0), n, I(1), esize);
    return UF_OK;
}

static int run_fill_f32(const uf_call *c) {
    CHECK(I(0) >= 0);
    FITS(0, I(0), 4);
    uf_fill_f32(T(0), I(0), F(0));
    return UF_OK;
}
// --- end element-wise ---

// --- stateful sequence layers (SVDF, UNIDIRECTIONAL_SEQUENCE_LSTM) ------------------
static int shift_ok(int32_t s) {
    return s >= -31 && s <= 30;
}

// SVDF ints: batch, n_in, n_filter, rank, mem, state_zp, out_zp, m1, s1, m2, s2;
// esize: bytes per time weight / state element.
static int svdf_check(const uf_call *c, int esize, int quantized) {
    CHECK(nonneg(c, 0, 3) && positive(c, 3, 5) && I(2) % I(3) == 0);
    uint64_t state = mul3(I(0), I(2), I(4));
    FITS(0, (uint64_t)I(0) * I(1), esize == 4 ? 4 : 1);
    CFITS(1, (uint64_t)I(2) * I(1), esize == 4 ? 4 : 1);
    CFITS(2, (uint64_t)I(2) * I(4), esize);
    CFITS(3, quantized ? 2 * (uint64_t)I(2) + I(2) / I(3) : (uint64_t)(I(2) / I(3)), 4);
    FITS(4, state, esize);
    FITS(5, (uint64_t)I(0) * (I(2) / I(3)), esize == 4 ? 4 : 1);
    if (quantized) {
        CHECK(shift_ok(I(8)) && shift_ok(I(10)));
    }
    return UF_OK;
}

#define SVDF_INT_ARGS I(0), I(1), I(2), I(3), I(4), I(5), I(6), I(7), I(8), I(9), I(10)

static int run_svdf_s8_i16(const uf_call *c) {
    int e = svdf_check(c, 2, 1);
    if (!e) {
        uf_svdf_s8_i16(T(0), T(1), T(2), T(3), T(4), T(5), SVDF_INT_ARGS);
    }
    return e;
}

static int run_svdf_s8_i8(const uf_call *c) {
    int e = svdf_check(c, 1, 1);
    if (!e) {
        uf_svdf_s8_i8(T(0), T(1), T(2), T(3), T(4), T(5), SVDF_INT_ARGS);
    }
    return e;
}

static int run_svdf_f32(const uf_call *c) {
    int e = svdf_check(c, 4, 0);
    if (!e) {
        uf_svdf_f32(T(0), T(1), T(2), T(3), T(4), T(5), I(0), I(1), I(2), I(3), I(4), F(0), F(1));
    }
    return e;
}

// LSTM ints: batch, steps, n_in, n, time_major, h_zp, m_fc, s_fc, m_ig, s_ig,
// m_out, s_out, qclip, tanh_mult, tanh_shift.
static int run_lstm_s8(const uf_call *c) {
    CHECK(nonneg(c, 0, 4) && (I(4) == 0 || I(4) == 1) && I(3) <= 0x3FFFFFF);
    CHECK(shift_ok(I(7)) && shift_ok(I(9)) && shift_ok(I(11)) && I(14) >= 0 && I(14) <= 30);
    uint64_t n4 = 4 * (uint64_t)I(3);
    FITS(0, mul3(I(0), I(1), I(2)), 1);
    FITS(1, n4 * I(2) + n4 * I(3), 1);
    CFITS(2, 2 * n4 + 16, 4);
    FITS(3, (uint64_t)I(0) * I(3), 1);
    FITS(4, (uint64_t)I(0) * I(3), 2);
    FITS(5, mul3(I(0), I(1), I(3)), 1);
    for (int k = 1; k < 16; k += 2) {   // the gate shifts, after the biases
        CHECK(shift_ok(uf_ld_i32(T(2), (size_t)(2 * n4 + k))));
    }
    uf_lstm_s8(T(0), T(1), T(2), T(3), T(4), T(5), I(0), I(1), I(2), I(3), I(4), I(5), I(6),
               I(7), I(8), I(9), I(10), I(11), I(12), I(13), I(14));
    return UF_OK;
}
// --- end sequence ---

// --- standalone activations (activations.c) and int16 SOFTMAX (softmax.c) ---
static int run_lut_s8(const uf_call *c) {
    CHECK(I(0) >= 0);
    FITS(0, I(0), 1);
    FITS(1, 256, 1);
    FITS(2, I(0), 1);
    uf_lut_s8(T(0), T(1), T(2), I(0));
    return UF_OK;
}

// x and out: n float32 values
static int f32_pair(const uf_call *c) {
    CHECK(I(0) >= 0);
    FITS(0, I(0), 4);
    FITS(1, I(0), 4);
    return UF_OK;
}

static int run_clamp_f32(const uf_call *c) {
    int e = f32_pair(c);
    if (!e) {
        uf_clamp_f32(T(0), T(1), I(0), F(0), F(1));
    }
    return e;
}

static int run_leaky_relu_f32(const uf_call *c) {
    int e = f32_pair(c);
    if (!e) {
        uf_leaky_relu_f32(T(0), T(1), I(0), F(0));
    }
    return e;
}

static int run_hard_swish_f32(const uf_call *c) {
    int e = f32_pair(c);
    if (!e) {
        uf_hard_swish_f32(T(0), T(1), I(0));
    }
    return e;
}

// ints: n, in_zp, m_id, s_id, m_al, s_al, neg, out_zp, qmin, qmax
static int run_leaky_relu_q(const uf_call *c) {
    int n = I(0), esize = elem_size(c, 0, n);
    CHECK(n >= 0 && esize && I(3) >= -31 && I(3) <= 30 && I(5) >= -31 && I(5) <= 30);
    FITS(1, n, esize);
    uf_leaky_relu_q(T(0), T(1), n, I(1), I(2), I(3), I(4), I(5), I(6), I(7), I(8), I(9), esize);
    return UF_OK;
}

// tensors x, table (256 int16), out; ints n, mult, shift
static int sigmoid_check(const uf_call *c) {
    CHECK(I(0) >= 0 && I(2) >= 0 && I(2) <= 31 && I(1) >= 0 && I(1) <= 32767 * 2);
    FITS(0, I(0), 2);
    CFITS(1, 256, 2);
    FITS(2, I(0), 2);
    return UF_OK;
}

static int run_logistic_s16(const uf_call *c) {
    int e = sigmoid_check(c);
    if (!e) {
        uf_logistic_s16(T(0), T(1), T(2), I(0), I(1), I(2));
    }
    return e;
}

static int run_tanh_s16(const uf_call *c) {
    int e = sigmoid_check(c);
    if (!e) {
        uf_tanh_s16(T(0), T(1), T(2), I(0), I(1), I(2));
    }
    return e;
}

// ints: n, period, in_zp, m1, s1, m2, s2, out_zp, qmin, qmax
static int run_prelu_q(const uf_call *c) {
    int n = I(0), esize = elem_size(c, 0, n);
    CHECK(n >= 0 && esize && I(1) >= 1 && I(4) >= -31 && I(4) <= 30 && I(6) >= -31 && I(6) <= 30);
    CFITS(1, I(1), 2);
    FITS(2, n, esize);
    uf_prelu_q(T(0), T(1), T(2), n, I(1), I(2), I(3), I(4), I(5), I(6), I(7), I(8), I(9), esize);
    return UF_OK;
}

static int run_prelu_f32(const uf_call *c) {
    CHECK(I(0) >= 0 && I(1) >= 1);
    FITS(0, I(0), 4);
    CFITS(1, I(1), 4);
    FITS(2, I(0), 4);
    uf_prelu_f32(T(0), T(1), T(2), I(0), I(1));
    return UF_OK;
}

// tensors x, exp table, 1/(1+x) table (513 int16 each), out; ints rows, depth, mult, shift
static int run_softmax_s16(const uf_call *c) {
    CHECK(I(0) >= 0 && I(1) >= 1 && I(1) <= 65536 && I(3) >= -31 && I(3) <= 30);
    FITS(0, (uint64_t)I(0) * I(1), 2);
    CFITS(1, 513, 2);
    CFITS(2, 513, 2);
    FITS(3, (uint64_t)I(0) * I(1), 2);
    uf_softmax_s16(T(0), T(1), T(2), T(3), I(0), I(1), I(2), I(3));
    return UF_OK;
}
// --- end activations ---

// --- int8 conv/FC requantized as onnxruntime does (conv.c, fc.c): tensor 4 = float32 scales ---
static int run_conv_s8_ort(const uf_call *c) {
    int e = conv_common(c, mul3(I(5), I(6), I(7)) * (uint64_t)I(2), I(5), 1);
    if (e) {
        return e;
    }
    CFITS(4, I(5), 4);
    uf_conv2d_s8_ort(T(0), T(1), T(2), T(3), T(4), I(0), I(1), I(2), I(3), I(4), I(5), I(6),
                     I(7), I(8), I(9), I(10), I(11), I(12), I(13), I(14), I(15), I(16), I(17));
    return UF_OK;
}

static int run_dw_s8_ort(const uf_call *c) {
    uint64_t oc = (uint64_t)I(2) * (uint64_t)I(5);
    int e = conv_common(c, mul3(I(6), I(7), 1) * oc, oc, 1);
    if (e) {
        return e;
    }
    CFITS(4, oc, 4);
    uf_depthwise_conv2d_s8_ort(T(0), T(1), T(2), T(3), T(4), I(0), I(1), I(2), I(3), I(4),
                               I(5), I(6), I(7), I(8), I(9), I(10), I(11), I(12), I(13), I(14),
                               I(15), I(16), I(17));
    return UF_OK;
}

static int run_fc_s8_ort(const uf_call *c) {
    CHECK(nonneg(c, 0, 3));
    FITS(0, (uint64_t)I(0) * I(1), 1);
    FITS(1, (uint64_t)I(2) * I(1), 1);
    CFITS(2, I(2), 4);
    FITS(3, (uint64_t)I(0) * I(2), 1);
    CFITS(4, I(2), 4);
    uf_fully_connected_s8_ort(T(0), T(1), T(2), T(3), T(4), I(0), I(1), I(2), I(3), I(4), I(5));
    return UF_OK;
}
// --- end onnxruntime rounding ---

// --- TFLM Signal ops (signal.c), CAST (quantize.c) and int32 arithmetic (elementwise.c) ---
// tensors x, window, out; ints n, window length, shift
static int run_signal_window(const uf_call *c) {
    CHECK(I(0) >= 0 && I(1) >= 1 && I(0) % I(1) == 0 && I(2) >= 0 && I(2) < 32);
    FITS(0, I(0), 2);
    CFITS(1, I(1), 2);
    FITS(2, I(0), 2);
    uf_signal_window_s16(T(0), T(1), T(2), I(0), I(1), I(2));
    return UF_OK;
}

static int run_signal_fft_auto_scale(const uf_call *c) {
    CHECK(I(0) >= 0);
    FITS(0, I(0), 2);
    FITS(1, I(0), 2);
    FITS(2, 1, 4);
    uf_signal_fft_auto_scale_s16(T(0), T(1), T(2), I(0));
    return UF_OK;
}

// tensors x, kissfft tables, out; ints frames, samples per frame, complex FFT size n.
// The tables' factor plan, permutation and twiddle indices are checked here.
static int run_signal_rfft(const uf_call *c) {
    int n = I(2);
    CHECK(I(0) >= 0 && I(1) >= 0 && I(1) <= 2 * n && n >= 2 && n <= 2048 && !(n & (n - 1)));
    FITS(0, (uint64_t)I(0) * I(1), 2);
    FITS(2, (uint64_t)I(0) * (2 * (uint64_t)n + 2), 2);
    CFITS(1, 1, 2);
    const void *t = T(1);
    int ns = uf_ld_i16(t, 0);
    CHECK(ns >= 1 && ns <= 16);
    CFITS(1, 1 + 2 * (uint64_t)ns + (uint64_t)n + 3 * (uint64_t)n, 2);
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
    uf_signal_rfft_s16(T(0), T(1), T(2), I(0), I(1), n);
    return UF_OK;
}

static int run_signal_energy(const uf_call *c) {
    CHECK(I(0) >= 0 && I(0) <= I(1));
    FITS(0, 2 * (uint64_t)I(1), 2);
    FITS(1, I(1), 4);
    uf_signal_energy(T(0), T(1), I(0), I(1));
    return UF_OK;
}

// tensors x, packed tables, out; ints channels, weights
static int run_signal_filter_bank(const uf_call *c) {
    int nch = I(0), nw = I(1);
    CHECK(nch >= 0 && nw >= 0);
    CFITS(1, 2 * (uint64_t)nw + 3 * ((uint64_t)nch + 1), 2);
    FITS(2, nch, 8);
    FITS(0, 0, 4);
    const void *t = T(1);
    size_t fs = 2 * (size_t)nw, ws = fs + (size_t)nch + 1, wd = ws + (size_t)nch + 1;
    for (int i = 0; i <= nch; i++) {
        int32_t f = uf_ld_i16(t, fs + i), w = uf_ld_i16(t, ws + i), d = uf_ld_i16(t, wd + i);
        CHECK(f >= 0 && w >= 0 && d >= 0 && w + d <= nw);
        FITS(0, (uint64_t)f + d, 4);
    }
    uf_signal_filter_bank(T(0), T(1), T(2), nch, nw);
    return UF_OK;
}

static int run_signal_filter_bank_sqrt(const uf_call *c) {
    CHECK(I(0) >= 0);
    FITS(0, I(0), 8);
    CFITS(1, 1, 4);
    FITS(2, I(0), 4);
    uf_signal_filter_bank_sqrt(T(0), T(1), T(2), I(0));
    return UF_OK;
}

// tensors x, out, noise estimate out, state; ints n, smoothing..., bits, clamping
static int run_signal_spectral_subtraction(const uf_call *c) {
    CHECK(I(0) >= 0 && nonneg(c, 1, 8) && I(6) < 32 && I(7) < 64);
    for (int k = 0; k < 4; k++) {
        FITS(k, I(0), 4);
    }
    uf_signal_spectral_subtraction(T(0), T(1), T(2), T(3), I(0), I(1), I(2), I(3), I(4), I(5),
                                   I(6), I(7), I(8));
    return UF_OK;
}

static int run_signal_pcan(const uf_call *c) {
    CHECK(I(0) >= 0 && I(1) >= 0 && I(1) < 64);
    FITS(0, I(0), 4);
    FITS(1, I(0), 4);
    CFITS(2, 4 * 32 - 3, 2);
    FITS(3, I(0), 4);
    uf_signal_pcan(T(0), T(1), T(2), T(3), I(0), I(1));
    return UF_OK;
}

static int run_signal_filter_bank_log(const uf_call *c) {
    CHECK(I(0) >= 0 && I(1) >= 0 && I(2) >= 0 && I(2) < 32);
    FITS(0, I(0), 4);
    CFITS(1, 130, 2);
    FITS(2, I(0), 2);
    uf_signal_filter_bank_log(T(0), T(1), T(2), I(0), I(1), I(2));
    return UF_OK;
}

static int cast_size(int code) {
    return code == 0 || code == 1 ? 1 : (code == 2 ? 2 : (code == 3 || code == 5 ? 4 : 0));
}

static int run_cast_int(const uf_call *c) {
    int si = cast_size(I(1)), so = I(2) == 4 ? 4 : cast_size(I(2));
    CHECK(I(0) >= 0 && si && so);
    FITS(0, I(0), si);
    FITS(1, I(0), so);
    uf_cast_int(T(0), T(1), I(0), I(1), I(2));
    return UF_OK;
}

static int run_binary_i32(const uf_call *c) {
    CHECK(I(0) >= 0 && I(0) <= 5);
    int e = binary_check(c, 4);
    if (!e) {
        uf_binary_i32(T(0), T(1), T(2), T(3), I(0));
    }
    return e;
}
// --- end signal ---

// --- SOFTMAX int8 -> int16 (softmax.c) ---
static int run_softmax_s8_s16(const uf_call *c) {
    CHECK(I(0) >= 0 && I(1) >= 1 && I(3) >= 0 && I(3) <= 31 && I(4) <= 0);
    FITS(0, (uint64_t)I(0) * I(1), 1);
    FITS(1, (uint64_t)I(0) * I(1), 2);
    uf_softmax_s8_s16(T(0), T(1), I(0), I(1), I(2), I(3), I(4));
    return UF_OK;
}
// --- end softmax16 ---

const uf_kernel_def uf_kernels[UF_N_KERNELS] = {
    {"fully_connected_s8", "rrrwrriiiiii", run_fc_s8},
    {"fully_connected_f32", "rrrwiiiff", run_fc_f32},
    {"conv2d_s8", "rrrwrriiiiiiiiiiiiiiiiii", run_conv_s8},
    {"depthwise_conv2d_s8", "rrrwrriiiiiiiiiiiiiiiiii", run_dw_s8},
    {"conv2d_f32", "rrrwiiiiiiiiiiiiiiff", run_conv_f32},
    {"depthwise_conv2d_f32", "rrrwiiiiiiiiiiiiiiff", run_dw_f32},
    {"avg_pool2d_s8", "rwiiiiiiiiiiiii", run_avg_s8},
    {"max_pool2d_s8", "rwiiiiiiiiiiiii", run_max_s8},
    {"avg_pool2d_f32", "rwiiiiiiiiiiiff", run_avg_f32},
    {"max_pool2d_f32", "rwiiiiiiiiiiiff", run_max_f32},
    {"softmax_s8", "rwiiiii", run_softmax_s8},
    {"softmax_f32", "rwiif", run_softmax_f32},
    {"quantize_f32", "rwifiii", run_quantize_f32},
    {"requantize", "rwiiiiiii", run_requantize},
    {"dequantize_f32", "rwifi", run_dequantize_f32},
    {"copy_bytes", "rwi", run_copy_bytes},
    // int16 activations (16x8) and TRANSPOSE_CONV
    {"conv2d_s16", "rrrwrriiiiiiiiiiiiiiiii", run_conv_s16},
    {"depthwise_conv2d_s16", "rrrwrriiiiiiiiiiiiiiii", run_dw_s16},
    {"fully_connected_s16", "rrrwrriiiiiii", run_fc_s16},
    {"transpose_conv_s8", "rrrwrriiiiiiiiiiiiiiii", run_tconv_s8},
    {"transpose_conv_s16", "rrrwrriiiiiiiiiiiiii", run_tconv_s16},
    {"transpose_conv_f32", "rrrwiiiiiiiiiiiiff", run_tconv_f32},
    // element-wise, MEAN and data movement
    {"addsub_q", "rrwriiiiiiiiiiiiii", run_addsub_q},
    {"mul_q", "rrwriiiiiiii", run_mul_q},
    {"binary_f32", "rrwriff", run_binary_f32},
    {"maxmin_q", "rrwrii", run_maxmin_q},
    {"mean_q", "rwriiiiiiii", run_mean_q},
    {"mean_f32", "rwri", run_mean_f32},
    {"strided_copy", "rwri", run_strided_copy},
    {"fill_int", "wii", run_fill_int},
    {"fill_f32", "wif", run_fill_f32},
    // stateful sequence layers
    {"svdf_s8_i16", "rrrrwwiiiiiiiiiii", run_svdf_s8_i16},
    {"svdf_s8_i8", "rrrrwwiiiiiiiiiii", run_svdf_s8_i8},
    {"svdf_f32", "rrrrwwiiiiiff", run_svdf_f32},
    {"lstm_s8", "rrrwwwiiiiiiiiiiiiiii", run_lstm_s8},
    {"lstm_f32", "rrrwwwiiiiif", run_lstm_f32},
    // standalone activations and int16 SOFTMAX
    {"lut_s8", "rrwi", run_lut_s8},
    {"clamp_f32", "rwiff", run_clamp_f32},
    {"leaky_relu_q", "rwiiiiiiiiii", run_leaky_relu_q},
    {"leaky_relu_f32", "rwif", run_leaky_relu_f32},
    {"hard_swish_f32", "rwi", run_hard_swish_f32},
    {"logistic_s16", "rrwiii", run_logistic_s16},
    {"tanh_s16", "rrwiii", run_tanh_s16},
    {"prelu_q", "rrwiiiiiiiiii", run_prelu_q},
    {"prelu_f32", "rrwii", run_prelu_f32},
    {"softmax_s16", "rrrwiiii", run_softmax_s16},
    // int8 conv/FC requantized as onnxruntime does
    {"conv2d_s8_ort", "rrrwriiiiiiiiiiiiiiiiii", run_conv_s8_ort},
    {"depthwise_conv2d_s8_ort", "rrrwriiiiiiiiiiiiiiiiii", run_dw_s8_ort},
    {"fully_connected_s8_ort", "rrrwriiiiii", run_fc_s8_ort},
    // RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR (resize.c)
    {"resize_nearest", "rrrwiiiiii", uf_run_resize_nearest},
    {"resize_bilinear_s8", "rrrwiiiii", uf_run_resize_bilinear_s8},
    {"resize_bilinear_f32", "rrrrrwiiiii", uf_run_resize_bilinear_f32},
    // TFLM Signal ops (audio front end), CAST and int32 arithmetic
    {"signal_window_s16", "rrwiii", run_signal_window},
    {"signal_fft_auto_scale_s16", "rwwi", run_signal_fft_auto_scale},
    {"signal_rfft_s16", "rrwiii", run_signal_rfft},
    {"signal_energy", "rwii", run_signal_energy},
    {"signal_filter_bank", "rrwii", run_signal_filter_bank},
    {"signal_filter_bank_sqrt", "rrwi", run_signal_filter_bank_sqrt},
    {"signal_spectral_subtraction", "rwwwiiiiiiiii", run_signal_spectral_subtraction},
    {"signal_pcan", "rrrwii", run_signal_pcan},
    {"signal_filter_bank_log", "rrwiii", run_signal_filter_bank_log},
    {"cast_int", "rwiii", run_cast_int},
    {"binary_i32", "rrwri", run_binary_i32},
    // camera frame -> model input (image.c; device_lib/upyflow/image.py)
    {"image_to_input", "rrrrwiiiiiiii", uf_run_image_to_input},
    // SOFTMAX int8 -> int16
    {"softmax_s8_s16", "rwiiiii", run_softmax_s8_s16},
};

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
            return "a tensor record lies outside its buffer";
        default:
            return "ok";
    }
}
