// upyflow native kernel tier: int8 and float32 operators with the semantics and
// argument order of device_lib/upyflow/kernels_pure (tensors first, then int and
// float parameters). Batch-1 NHWC. No allocation, no global mutable state, no
// Python or MicroPython headers: the bindings in ../cpython and ../micropython
// reach every kernel through the table declared at the end of this file (table.c,
// generated from host_tools/upyflow_tools/kernel_spec.py by `make kernels`; a test
// checks these prototypes against the spec).
//
// Alignment: a tensor typed `const void *` may be a constant of the weights
// blob, which can sit at any address (flash); kernels read it through load.h.
// Typed pointers are arena tensors (activations, state, outputs), which the
// runtime allocates aligned, read and written directly (table.c checks them).
#ifndef UPYFLOW_KERNELS_H
#define UPYFLOW_KERNELS_H

#include <stddef.h>
#include <stdint.h>

// fc.c. The int8 bias arrives with in_off * sum(filter) folded in (FULLY_CONNECTED).
// The int16 (16x8) kernels here and in conv.c and transpose_conv.c take int64 biases as
// little-endian (low, high) int32 word pairs; acc64 picks TFLM's int64 (1) or wrapping
// int32 (0) accumulator. The _ort kernels requantize as onnxruntime does (float32 scale,
// ties to even).
void uf_fully_connected_s8(const int8_t *x, const int8_t *w, const void *bias, int8_t *out,
                           const void *mult, const void *shift, int batches, int n_in,
                           int n_out, int out_off, int act_min, int act_max);
void uf_fully_connected_f32(const float *x, const void *w, const void *bias, float *out,
                            int batches, int n_in, int n_out, float act_min, float act_max);
void uf_fully_connected_s16(const int16_t *x, const int8_t *w, const void *bias, int16_t *out,
                            const void *mult, const void *shift, int batches, int n_in,
                            int n_out, int out_off, int acc64, int act_min, int act_max);
void uf_fully_connected_s8_ort(const int8_t *x, const int8_t *w, const void *bias, int8_t *out,
                               const void *scale, int batches, int n_in, int n_out, int out_off,
                               int act_min, int act_max);
void uf_batch_matmul_q(const void *lhs, const void *rhs, const void *d, void *out, int nb, int m,
                       int n, int k, int lsi, int lsk, int rsk, int rsj, int esize, int lhs_off,
                       int rhs_off, int mult, int shift, int out_off, int act_min, int act_max);
void uf_batch_matmul_f32(const void *lhs, const void *rhs, const void *d, float *out, int nb, int m,
                         int n, int k, int lsi, int lsk, int rsk, int rsj);

// conv.c. The int8 bias arrives with in_off * sum(filter) folded in. wtab: wtab_n int32
// words of scratch (kernel_spec's optional weight table; 0 words: none). w_min: the smallest
// weight (bake time; -128 where unknown).
void uf_conv2d_s8(const int8_t *x, const int8_t *w, const void *bias, int8_t *out,
                  const void *mult, const void *shift, int32_t *wtab, int in_h, int in_w, int in_c,
                  int out_h, int out_w, int out_c, int k_h, int k_w, int s_h, int s_w,
                  int d_h, int d_w, int pad_h, int pad_w, int in_off, int out_off,
                  int act_min, int act_max, int wtab_n, int w_min);
void uf_depthwise_conv2d_s8(const int8_t *x, const int8_t *w, const void *bias, int8_t *out,
                            const void *mult, const void *shift, int32_t *scratch, int in_h, int in_w,
                            int in_c, int out_h, int out_w, int depth_mult, int k_h, int k_w,
                            int s_h, int s_w, int d_h, int d_w, int pad_h, int pad_w,
                            int in_off, int out_off, int act_min, int act_max, int scratch_n, int w_min);
void uf_conv2d_f32(const float *x, const void *w, const void *bias, float *out, int in_h,
                   int in_w, int in_c, int out_h, int out_w, int out_c, int k_h, int k_w,
                   int s_h, int s_w, int d_h, int d_w, int pad_h, int pad_w,
                   float act_min, float act_max);
void uf_depthwise_conv2d_f32(const float *x, const void *w, const void *bias, float *out,
                             int in_h, int in_w, int in_c, int out_h, int out_w, int depth_mult,
                             int k_h, int k_w, int s_h, int s_w, int d_h, int d_w,
                             int pad_h, int pad_w, float act_min, float act_max);
void uf_conv2d_s16(const int16_t *x, const int8_t *w, const void *bias, int16_t *out,
                   const void *mult, const void *shift, int in_h, int in_w, int in_c,
                   int out_h, int out_w, int out_c, int k_h, int k_w, int s_h, int s_w,
                   int d_h, int d_w, int pad_h, int pad_w, int acc64, int act_min, int act_max);
void uf_depthwise_conv2d_s16(const int16_t *x, const int8_t *w, const void *bias, int16_t *out,
                             const void *mult, const void *shift, int in_h, int in_w,
                             int in_c, int out_h, int out_w, int depth_mult, int k_h, int k_w,
                             int s_h, int s_w, int d_h, int d_w, int pad_h, int pad_w,
                             int act_min, int act_max);
void uf_conv2d_s8_ort(const int8_t *x, const int8_t *w, const void *bias, int8_t *out,
                      const void *scale, int in_h, int in_w, int in_c, int out_h, int out_w,
                      int out_c, int k_h, int k_w, int s_h, int s_w, int d_h, int d_w,
                      int pad_h, int pad_w, int in_off, int out_off, int act_min, int act_max);
void uf_depthwise_conv2d_s8_ort(const int8_t *x, const int8_t *w, const void *bias, int8_t *out,
                                const void *scale, int in_h, int in_w, int in_c, int out_h,
                                int out_w, int depth_mult, int k_h, int k_w, int s_h, int s_w,
                                int d_h, int d_w, int pad_h, int pad_w, int in_off, int out_off,
                                int act_min, int act_max);

// transpose_conv.c
void uf_transpose_conv_s8(const int8_t *x, const int8_t *w, const void *bias, int8_t *out,
                          const void *mult, const void *shift, int in_h, int in_w, int in_c,
                          int out_h, int out_w, int out_c, int k_h, int k_w, int s_h, int s_w,
                          int pad_h, int pad_w, int in_off, int out_off, int act_min, int act_max);
void uf_transpose_conv_s16(const int16_t *x, const int8_t *w, const void *bias, int16_t *out,
                           const void *mult, const void *shift, int in_h, int in_w, int in_c,
                           int out_h, int out_w, int out_c, int k_h, int k_w, int s_h, int s_w,
                           int pad_h, int pad_w, int act_min, int act_max);
void uf_transpose_conv_f32(const float *x, const void *w, const void *bias, float *out,
                           int in_h, int in_w, int in_c, int out_h, int out_w, int out_c,
                           int k_h, int k_w, int s_h, int s_w, int pad_h, int pad_w,
                           float act_min, float act_max);

// pool.c: average and max pooling take the same arguments (one function type per dtype)
typedef void uf_pool2d_s8_fn(const int8_t *x, int8_t *out, int in_h, int in_w, int c, int out_h,
                             int out_w, int k_h, int k_w, int s_h, int s_w, int pad_h, int pad_w,
                             int act_min, int act_max);
uf_pool2d_s8_fn uf_avg_pool2d_s8, uf_max_pool2d_s8;
typedef void uf_pool2d_f32_fn(const float *x, float *out, int in_h, int in_w, int c, int out_h,
                              int out_w, int k_h, int k_w, int s_h, int s_w, int pad_h, int pad_w,
                              float act_min, float act_max);
uf_pool2d_f32_fn uf_avg_pool2d_f32, uf_max_pool2d_f32, uf_l2_pool2d_f32;

// softmax.c
void uf_softmax_s8(const int8_t *x, int8_t *out, int rows, int depth, int32_t in_mult,
                   int in_shift, int32_t diff_min);
void uf_softmax_f32(const float *x, float *out, int rows, int depth, float beta);
void uf_softmax_s16(const int16_t *x, const void *exp_lut, const void *recip_lut,
                    int16_t *out, int rows, int depth, int32_t mult, int shift);
void uf_softmax_s8_s16(const int8_t *x, int16_t *out, int rows, int depth, int32_t in_mult,
                       int in_shift, int32_t diff_min);
void uf_log_softmax_f32(const float *x, float *out, int rows, int depth);
void uf_log_softmax_s8(const int8_t *x, int8_t *out, int rows, int depth, int32_t in_mult, int in_shift,
                       int32_t rev_mult, int rev_shift, int32_t diff_min);

// quantize.c
// quantize_f32, requantize and dequantize_f32 take int8 or int16 tensors: the trailing
// size arguments give the element size in bytes (1 or 2), which the pure tier gets
// from its typed views. cast_int's and cast_f32's codes are emit.DTYPE_CODES.
void uf_quantize_f32(const float *x, void *out, int n, float scale, int zp, int qmin, int qmax,
                     int out_size);
void uf_requantize(const void *x, void *out, int n, int in_zp, int32_t mult, int shift,
                   int out_zp, int qmin, int qmax, int in_size, int out_size);
void uf_dequantize_f32(const void *x, float *out, int n, float scale, int zp, int in_size);
void uf_cast_int(const void *x, void *out, int n, int in_code, int out_code);
void uf_cast_f32(const float *x, void *out, int n, int out_code);

// elementwise.c
// desc: int32 descriptors baked by upyflow_tools (broadcast strides, reduction blocks,
// strided-copy geometry; layouts in kernels_pure/elementwise.py, reduce.py and
// layout.py), read by elementwise.c, reduce.c and layout.c (desc.h).
// esize: bytes per int8/int16 element (1 or 2).
#define UF_EW_MAX_DIMS 8
void uf_addsub_q(const void *x1, const void *x2, void *out, const void *desc, int esize,
                 int sign, int off1, int32_t m1, int sh1, int off2, int32_t m2, int sh2, int ls,
                 int32_t mo, int sho, int ooff, int lo, int hi);
void uf_mul_q(const void *x1, const void *x2, void *out, const void *desc, int esize, int off1,
              int off2, int32_t m, int sh, int ooff, int lo, int hi);
void uf_div_q(const void *x1, const void *x2, int8_t *out, const void *desc, int off1, int off2,
              int32_t m, int sh, int ooff, int lo, int hi);
void uf_binary_f32(const void *x1, const void *x2, float *out, const void *desc, int op,
                   float lo, float hi);
void uf_compare_q(const void *x1, const void *x2, uint8_t *out, const void *desc, int esize, int op,
                  int kind, int off1, int32_t m1, int sh1, int off2, int32_t m2, int sh2);
void uf_maxmin_q(const void *x1, const void *x2, void *out, const void *desc, int esize,
                 int is_max);
void uf_binary_i32(const void *a, const void *b, int32_t *out, const void *d, int op);
void uf_add_n_s8(const void *x, int32_t *acc, int8_t *out, int n, int stage, int off, int32_t mo,
                 int sho, int ooff, int lo, int hi);

// reduce.c
void uf_mean_q(const void *x, void *out, const void *desc, int esize, int in_zp, int32_t m,
               int sh, int out_zp, int count, int lo, int hi);
void uf_mean_f32(const float *x, float *out, const void *desc, int count);
void uf_reduce_maxmin_q(const void *x, void *out, const void *desc, int esize, int is_max);
void uf_reduce_maxmin_f32(const float *x, float *out, const void *desc, int is_max);
void uf_arg_maxmin(const void *x, int32_t *out, const void *desc, int esize, int is_max);
void uf_cumsum_s8(const void *x, int8_t *out, int pre, int depth, int post, int exclusive, int reverse,
                  int off, int32_t mo, int sho, int ooff, int lo, int hi);
void uf_cumsum_f32(const void *x, float *out, int pre, int depth, int post, int exclusive, int reverse);

// layout.c
void uf_strided_copy(const void *x, void *out, const void *desc, int esize);
void uf_fill_int(void *out, int n, int value, int esize);
void uf_fill_f32(float *out, int n, float value);
void uf_copy_bytes(const void *x, void *out, int n, int size);
void uf_select_elems(const void *c, const void *x, void *out, int n, int esize);

// svdf.c. The state tensor is read and updated in place; q: int32 folded zero-point
// terms and biases, layout in kernels_pure/svdf.py.
void uf_svdf_s8_i16(const int8_t *x, const int8_t *wf, const void *wt, const void *q,
                    int16_t *state, int8_t *out, int batch, int n_in, int n_filter, int rank,
                    int mem, int state_zp, int out_zp, int32_t m1, int s1, int32_t m2, int s2);
void uf_svdf_s8_i8(const int8_t *x, const int8_t *wf, const int8_t *wt, const void *q,
                   int8_t *state, int8_t *out, int batch, int n_in, int n_filter, int rank,
                   int mem, int state_zp, int out_zp, int32_t m1, int s1, int32_t m2, int s2);
void uf_svdf_f32(const float *x, const void *wf, const void *wt, const void *bias,
                 float *state, float *out, int batch, int n_in, int n_filter, int rank, int mem,
                 float act_min, float act_max);

// lstm.c. hidden and cell are read and updated in place; q: int32 biases and gate
// multipliers, layout in kernels_pure/lstm.py.
void uf_lstm_s8(const int8_t *x, const int8_t *w, const void *q, const void *table, int8_t *hidden,
                int16_t *cell, int8_t *out, int batch, int steps, int n_in, int n,
                int time_major, int h_zp, int32_t m_fc, int s_fc, int32_t m_ig, int s_ig,
                int32_t m_out, int s_out, int qclip, int32_t tanh_mult, int tanh_shift);
void uf_lstm_f32(const float *x, const float *w, const float *bias, float *hidden, float *cell,
                 float *out, int batch, int steps, int n_in, int n, int time_major, float clip);
void uf_gru_f32(const float *x, const float *w, const float *bias, float *hidden, float *scratch,
                float *out, int batch, int steps, int n_in, int n, int time_major, int lbr, float clip);

// activations.c
// int8 activations are 256-entry lookups (table[x + 128]) baked by upyflow_tools;
// the sigmoid table of the int16 LOGISTIC/TANH is stored minus 32768; PRELU's
// alpha holds (alpha - alpha zero point) repeating every `period` values.
// esize: bytes per int8/int16 element.
void uf_lut_s8(const int8_t *x, const int8_t *table, int8_t *out, int n);
void uf_clamp_f32(const float *x, float *out, int n, float lo, float hi);
void uf_unary_f32(const float *x, float *out, int n, int op);
void uf_l2norm_s8(const int8_t *x, int8_t *out, int rows, int depth, int in_zp);
void uf_l2norm_f32(const float *x, float *out, int rows, int depth);
void uf_rsqrt_s16(const int16_t *x, int16_t *out, int n, int32_t mult, int shift);
void uf_leaky_relu_q(const void *x, void *out, int n, int in_zp, int32_t m_id, int s_id,
                     int32_t m_al, int s_al, int neg, int out_zp, int qmin, int qmax, int esize);
void uf_leaky_relu_f32(const float *x, float *out, int n, float alpha);
void uf_hard_swish_f32(const float *x, float *out, int n);
void uf_logistic_s16(const int16_t *x, const void *table, int16_t *out, int n, int32_t mult,
                     int shift);
void uf_tanh_s16(const int16_t *x, const void *table, int16_t *out, int n, int32_t mult,
                 int shift);
void uf_prelu_q(const void *x, const void *alpha, void *out, int n, int period, int in_zp,
                int32_t m1, int s1, int32_t m2, int s2, int out_zp, int qmin, int qmax,
                int esize);
void uf_prelu_f32(const float *x, const void *alpha, float *out, int n, int period);

// resize.c
void uf_resize_nearest(const void *x, const void *ymap, const void *xmap, void *out,
                       int in_w, int out_h, int out_w, int depth, int esize);
void uf_resize_bilinear_s8(const int8_t *x, const void *ytab, const void *xtab, int8_t *out,
                           int in_w, int out_h, int out_w, int depth);
void uf_resize_bilinear_f32(const float *x, const void *ytab, const void *yw,
                            const void *xtab, const void *xw, float *out, int in_w,
                            int out_h, int out_w, int depth);

// signal.c
void uf_signal_window_s16(const int16_t *x, const void *w, int16_t *out, int n, int wn,
                          int shift);
void uf_signal_fft_auto_scale_s16(const int16_t *x, int16_t *out, int32_t *scale, int n);
void uf_signal_rfft_s16(const int16_t *x, const void *t, int16_t *out, int frames, int n_in,
                        int n);
void uf_signal_energy(const int16_t *x, uint32_t *out, int start, int end);
void uf_signal_filter_bank(const uint32_t *x, const void *t, void *out, int nch, int nw);
void uf_signal_filter_bank_sqrt(const void *x, const void *bits, uint32_t *out, int n);
void uf_signal_spectral_subtraction(const uint32_t *x, uint32_t *out, uint32_t *noise,
                                    uint32_t *state, int n, int sm, int oms, int alt_sm,
                                    int alt_oms, int min_rem, int sm_bits, int ss_bits,
                                    int clamping);
void uf_signal_pcan(const uint32_t *x, const uint32_t *noise, const void *lut, uint32_t *out,
                    int n, int snr_shift);
void uf_signal_filter_bank_log(const uint32_t *x, const void *lut, int16_t *out, int n,
                               int out_scale, int bits);

// image.c (camera frame -> model input; called directly, not by a model op)
void uf_image_to_input(const uint8_t *frame, const int32_t *ytab, const int32_t *xtab,
                       const uint8_t *lut, void *out, int fmt, int in_w, int out_h, int out_w,
                       int out_c, int bilinear, int esize);

// Generic calls for the bindings: tensors (byte buffers) and parameters in the
// pure kernel's order, split by kind.
#define UF_MAX_TENSORS 7
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
#define UF_EALIGN 2    // a wider-than-byte arena tensor is not aligned
#define UF_EPARAM 3    // a parameter is out of range

// What a table run does (its `what`, any of them): the static checks (parameter
// ranges, tensor lengths and alignment: everything but a constant's values), the value
// checks (the values of the constants the entry's value mask names: requantization
// shifts, descriptors, FFT and filter bank tables), the kernel call. A direct call
// asks for all three; the walker runs the static checks once per Program (walker.c).
#define UF_STATIC 1
#define UF_VALUES 2
#define UF_CALL 4
#define UF_ALL 7

typedef struct {
    const char *name;        // the dispatch name, as in the pure tier's KERNELS
    // One letter per argument: r = tensor read, w = tensor written,
    // i = integer, f = float. Its length is the number of arguments.
    const char *sig;
    // the kernel on c, unchecked (d: the derived values of the check program); an entry
    // without a check program checks everything itself
    int (*call)(const uf_call *c, const int32_t *d);
    const uint8_t *checks;   // the check program (checks.h), or NULL
    uint8_t values;          // bit k: the value checks read tensor k's values
} uf_kernel_def;

// Table kernel k on c: the checks what asks for, then the call if it asks for it (UF_OK
// or the first error). A direct call asks for UF_ALL.
int uf_table_run(const uf_kernel_def *k, const uf_call *c, unsigned what);

// spec: count {
#define UF_N_KERNELS 85   // generated by python -m upyflow_tools.gen_kernels from upyflow_tools/kernel_spec.py: do not edit
// }
extern const uf_kernel_def uf_kernels[UF_N_KERNELS];

// The split natmods (UF_SPLIT: native_modules/micropython/Makefile): a core module (the
// walker, the check interpreter, the binding) and one module per kernel family, each
// holding its kernels and its entries of the table. A family module hands the core its
// uf_family (table.c) at import; the core keeps a pointer per kernel index, NULL until
// the kernel's family registers: the walker takes a NULL entry for a kernel that is not
// native. Every other build (the CPython extension, the bare-metal harnesses) links the
// whole table, uf_kernels.
typedef struct {
    uint32_t magic;                  // UF_FAMILY_MAGIC
    uint32_t build;                  // UF_BUILD: the core takes the tables of its own build only
    uint32_t n;                      // entries
    const uint8_t *index;            // entry k's kernel index
    const uf_kernel_def *kernels;    // the entries
} uf_family;
#define UF_FAMILY_MAGIC 0x31544655u   // "UFT1"
#ifndef UF_BUILD
#define UF_BUILD 0u
#endif
#ifdef UF_SPLIT
extern const uf_kernel_def *uf_slots[UF_N_KERNELS];
#define UF_KERNEL(i) (uf_slots[i])
// The core's kernel names (table.c): packed "name\0name\0...", in index order; each
// kernel's family, an index into uf_family_names (packed the same way).
extern const char uf_kernel_names[];
extern const uint8_t uf_kernel_families[UF_N_KERNELS];
extern const char uf_family_names[];
// The k-th string of packed, k >= 0 (the strings must run that far).
const char *uf_packed_at(const char *packed, int k);
#else
#define UF_KERNEL(i) (&uf_kernels[i])
#endif

// fmath.c: float maths without libm, called by the activations, elementwise (FLOOR_DIV),
// lstm, pool (L2_POOL_2D) and softmax kernels; each of those families' natmods links it
float uf_expf(float x);   // about 1 ulp
float uf_logf(float x);   // a few ulp
float uf_floorf(float v);   // IEEE floor
float uf_sqrtf(float x);   // below 1 ulp

// resize.c's checked table entries
int uf_run_resize_nearest(const uf_call *c);
int uf_run_resize_bilinear_s8(const uf_call *c);
int uf_run_resize_bilinear_f32(const uf_call *c);
// image.c's checked table entry
int uf_run_image_to_input(const uf_call *c);

const char *uf_error_text(int err);

// --- the op-table walker: walker.c (contract: one native call runs a baked model) ---
// The blobs are the baked module's bytes (format: device_lib/upyflow/model.py), read
// byte-wise (any alignment): TENSORS (6-byte records: kind and bytes >> 16, 24-bit offset, bytes' low 16 bits), OPS ([kernel byte]
// [format byte] + tensor ids (1 or 2 bytes) then int8/int16/int32/float32 params per
// op, or a band loop), formats ([n_tensors][bytes per id][n_params][kind 'b'/'h'/'i'/'f'
// per param] per OP_FORMATS entry) and kernel_map (per OP_KERNELS entry: index into
// uf_kernels, 0xFF = not native).
typedef struct {
    const uint8_t *tensors;    size_t tensors_len;
    const uint8_t *ops;        size_t ops_len;
    const uint8_t *formats;    size_t formats_len;
    const uint8_t *kernel_map; size_t kernel_map_len;
    uint8_t *arena;            size_t arena_len;
    const uint8_t *weights;    size_t weights_len;    // inline WEIGHTS; NULL/0 in file mode
    uint8_t *wbuf;             size_t wbuf_len;       // file-mode weight buffer; NULL/0 otherwise
    // file mode, for uf_invoke: read(ctx, offset, bytes), which fills wbuf from the
    // weights file (0: done); each record's segment is derived (walker.c uf_invoke)
    int (*read)(void *ctx, uint32_t offset, uint32_t n);
    void *read_ctx;
    // bit k: buffer k (uf_model_set's order) cannot change while the model holds it (a
    // bytes object, flash): only then may the walker check once what depends on it
    uint8_t fixed;
    uint8_t state;   // the walker's: 0 until uf_prepare (walker.c)
} uf_model;

#define UF_FIXED_TABLES 0x0F    // tensors, ops, formats and kernel_map (all four)
#define UF_FIXED_WEIGHTS 0x20

// Points m at the bindings' buffers, in Program's argument order: tensors, ops, formats,
// kernel_map, arena, weights, wbuf (arena and wbuf writable), fixed as in uf_model; read
// unset. The one place that order lives in C (both bindings call it). Binding other
// buffers means calling it again: that undoes uf_prepare.
void uf_model_set(uf_model *m, const uint8_t *const *bufs, const size_t *len, unsigned fixed);

#define UF_EKERNEL 4   // an op's kernel index is not a native kernel
#define UF_ERECORD 5   // an op record, format or tensor id is malformed
#define UF_ETENSOR 6   // a tensor record lies outside its buffer (or writes the constants; also
                       // a table run's: an output overlaps a constant its value checks read)
#define UF_EREAD 7     // read() failed (the binding reports why)

// Index of the kernel called name[0..len) in uf_kernels, or -1.
int uf_kernel_index(const char *name, size_t len);
// Checks every op record once against the bound buffers (the records, every kernel's
// static checks, the value checks of constants that cannot change): after that, runs
// decode each record and check only what may have changed since (the values of
// constants in the arena, the weight buffer or writable weights). Needs the four tables
// fixed; a failure leaves every run checking everything (and reporting it). uf_run,
// uf_invoke and uf_check over the whole table do it when not done yet.
void uf_prepare(uf_model *m);
// Run at most n_ops op records (a band loop is one; n_ops < 0: to the end) from byte
// offset *pos of m->ops; *pos advances past each that ran and stays on a failing one.
int uf_run(uf_model *m, size_t *pos, int n_ops);
// One invoke: every op record from the start, each record's weights read first
// (file mode: m->read set) into wbuf; *pos as for uf_run.
int uf_invoke(uf_model *m, size_t *pos);
// Check ops as uf_run would, without running any kernel (a model's load-time check):
// the static checks, and the value checks of constants that cannot change before a run.
int uf_check(uf_model *m, size_t *pos, int n_ops);
// The kernel name of the op record at pos, or NULL if its kernel byte is invalid.
const char *uf_op_kernel_name(const uf_model *m, size_t pos);
// --- end walker ---

#endif
