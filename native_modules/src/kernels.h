// upyflow native kernel tier: int8 and float32 operators with the semantics and
// argument order of device_lib/upyflow/kernels_pure (tensors first, then int and
// float parameters). Batch-1 NHWC. No allocation, no global mutable state, no
// Python or MicroPython headers: the bindings in ../cpython and ../micropython
// reach every kernel through the table at the end of this file.
#ifndef UPYFLOW_KERNELS_H
#define UPYFLOW_KERNELS_H

#include <stddef.h>
#include <stdint.h>

// fc.c
void uf_fully_connected_s8(const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *out,
                           const int32_t *mult, const int32_t *shift, int batches, int n_in,
                           int n_out, int out_off, int act_min, int act_max);
void uf_fully_connected_f32(const float *x, const float *w, const float *bias, float *out,
                            int batches, int n_in, int n_out, float act_min, float act_max);

// conv.c. The int8 bias arrives with in_off * sum(filter) folded in.
void uf_conv2d_s8(const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *out,
                  const int32_t *mult, const int32_t *shift, int in_h, int in_w, int in_c,
                  int out_h, int out_w, int out_c, int k_h, int k_w, int s_h, int s_w,
                  int d_h, int d_w, int pad_h, int pad_w, int in_off, int out_off,
                  int act_min, int act_max);
void uf_depthwise_conv2d_s8(const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *out,
                            const int32_t *mult, const int32_t *shift, int in_h, int in_w,
                            int in_c, int out_h, int out_w, int depth_mult, int k_h, int k_w,
                            int s_h, int s_w, int d_h, int d_w, int pad_h, int pad_w,
                            int in_off, int out_off, int act_min, int act_max);
void uf_conv2d_f32(const float *x, const float *w, const float *bias, float *out, int in_h,
                   int in_w, int in_c, int out_h, int out_w, int out_c, int k_h, int k_w,
                   int s_h, int s_w, int d_h, int d_w, int pad_h, int pad_w,
                   float act_min, float act_max);
void uf_depthwise_conv2d_f32(const float *x, const float *w, const float *bias, float *out,
                             int in_h, int in_w, int in_c, int out_h, int out_w, int depth_mult,
                             int k_h, int k_w, int s_h, int s_w, int d_h, int d_w,
                             int pad_h, int pad_w, float act_min, float act_max);

// pool.c
void uf_avg_pool2d_s8(const int8_t *x, int8_t *out, int in_h, int in_w, int c, int out_h,
                      int out_w, int k_h, int k_w, int s_h, int s_w, int pad_h, int pad_w,
                      int act_min, int act_max);
void uf_max_pool2d_s8(const int8_t *x, int8_t *out, int in_h, int in_w, int c, int out_h,
                      int out_w, int k_h, int k_w, int s_h, int s_w, int pad_h, int pad_w,
                      int act_min, int act_max);
void uf_avg_pool2d_f32(const float *x, float *out, int in_h, int in_w, int c, int out_h,
                       int out_w, int k_h, int k_w, int s_h, int s_w, int pad_h, int pad_w,
                       float act_min, float act_max);
void uf_max_pool2d_f32(const float *x, float *out, int in_h, int in_w, int c, int out_h,
                       int out_w, int k_h, int k_w, int s_h, int s_w, int pad_h, int pad_w,
                       float act_min, float act_max);

// softmax.c
void uf_softmax_s8(const int8_t *x, int8_t *out, int rows, int depth, int32_t in_mult,
                   int in_shift, int32_t diff_min);
void uf_softmax_f32(const float *x, float *out, int rows, int depth, float beta);

// quantize.c. These take int8 or int16 tensors: the trailing size arguments
// give the element size in bytes (1 or 2), which the pure tier gets from its
// typed views.
void uf_quantize_f32(const float *x, void *out, int n, float scale, int zp, int qmin, int qmax,
                     int out_size);
void uf_requantize(const void *x, void *out, int n, int in_zp, int32_t mult, int shift,
                   int out_zp, int qmin, int qmax, int in_size, int out_size);
void uf_dequantize_f32(const void *x, float *out, int n, float scale, int zp, int in_size);
void uf_copy_bytes(const void *x, void *out, int n, int size);

// Generic calls for the bindings: tensors (byte buffers) and parameters in the
// pure kernel's order, split by kind.
#define UF_MAX_TENSORS 6
#define UF_MAX_INTS 20
#define UF_MAX_FLOATS 4

typedef struct {
    void *t[UF_MAX_TENSORS];     // tensor bytes, in argument order
    size_t len[UF_MAX_TENSORS];  // their lengths in bytes
    int32_t i[UF_MAX_INTS];      // integer parameters, in argument order
    float f[UF_MAX_FLOATS];      // float parameters, in argument order
} uf_call;

// Errors a call can report (0: success).
#define UF_OK 0
#define UF_ESIZE 1     // a tensor is shorter than the parameters need
#define UF_EALIGN 2    // a wider-than-byte tensor is not 4-byte aligned
#define UF_EPARAM 3    // a parameter is out of range

typedef struct {
    const char *name;        // the dispatch name, as in the pure tier's KERNELS
    // One letter per argument: r = tensor read, w = tensor written,
    // i = integer, f = float. Its length is the number of arguments.
    const char *sig;
    int (*run)(const uf_call *c);   // checks the sizes, then calls the kernel
} uf_kernel_def;

#define UF_N_KERNELS 16
extern const uf_kernel_def uf_kernels[UF_N_KERNELS];

const char *uf_error_text(int err);

#endif
