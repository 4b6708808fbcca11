// The kernel table the bindings dispatch through: per kernel, its argument
// signature and a checked call. The checks make a malformed call (tensor too
// short for its shape parameters, misaligned int32/float data, impossible
// geometry) an error instead of a stray memory access.
#include "kernels.h"

#define T(k) (c->t[k])
#define I(k) (c->i[k])
#define F(k) (c->f[k])

// Is tensor k at least count elements of esize bytes (and aligned if wider)?
static int fits(const uf_call *c, int k, uint64_t count, int esize) {
    if (esize > 1 && ((uintptr_t)c->t[k] & 3u)) {
        return UF_EALIGN;
    }
    return (uint64_t)c->len[k] >= count * (uint64_t)esize ? UF_OK : UF_ESIZE;
}

#define FITS(k, count, esize) do { int e_ = fits(c, k, count, esize); if (e_) return e_; } while (0)
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

static int run_fc_s8(const uf_call *c) {
    CHECK(nonneg(c, 0, 3));
    FITS(0, (uint64_t)I(0) * I(1), 1);
    FITS(1, (uint64_t)I(2) * I(1), 1);
    FITS(2, I(2), 4);
    FITS(3, (uint64_t)I(0) * I(2), 1);
    FITS(4, I(2), 4);
    FITS(5, I(2), 4);
    uf_fully_connected_s8(T(0), T(1), T(2), T(3), T(4), T(5), I(0), I(1), I(2), I(3), I(4), I(5));
    return UF_OK;
}

static int run_fc_f32(const uf_call *c) {
    CHECK(nonneg(c, 0, 3));
    FITS(0, (uint64_t)I(0) * I(1), 4);
    FITS(1, (uint64_t)I(2) * I(1), 4);
    FITS(2, I(2), 4);
    FITS(3, (uint64_t)I(0) * I(2), 4);
    uf_fully_connected_f32(T(0), T(1), T(2), T(3), I(0), I(1), I(2), F(0), F(1));
    return UF_OK;
}

// Shared checks of the conv geometry (ints 0..13) for a kernel whose filter has
// wcount elements and output channels oc.
static int conv_common(const uf_call *c, uint64_t wcount, uint64_t oc, int esize) {
    CHECK(nonneg(c, 0, 6) && positive(c, 6, 12) && nonneg(c, 12, 14));
    FITS(0, mul3(I(0), I(1), I(2)), esize);
    FITS(1, wcount, esize);
    FITS(2, oc, 4);
    FITS(3, mul3(I(3), I(4), 1) * oc, esize);
    return UF_OK;
}

static int run_conv_s8(const uf_call *c) {
    int e = conv_common(c, mul3(I(5), I(6), I(7)) * (uint64_t)I(2), I(5), 1);
    if (e) {
        return e;
    }
    FITS(4, I(5), 4);
    FITS(5, I(5), 4);
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
    FITS(4, oc, 4);
    FITS(5, oc, 4);
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
    CHECK(I(0) >= 0 && I(1) >= 1 && I(3) >= 0 && I(3) <= 31);
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
    int n = I(0), in_size = elem_size(c, 0, n), out_size = elem_size(c, 1, n);
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
};

const char *uf_error_text(int err) {
    switch (err) {
        case UF_ESIZE:
            return "a tensor is shorter than its shape parameters need";
        case UF_EALIGN:
            return "int16/int32/float tensor data is not aligned";
        case UF_EPARAM:
            return "a parameter is out of range";
        default:
            return "ok";
    }
}
