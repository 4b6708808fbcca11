// MicroPython dynamic native module (natmod) binding of the native kernel
// tier: module upyflow_native with KERNELS and one callable per kernel,
// fn(args) with args = (tensor byte memoryviews..., int and float params) in
// the pure kernel's order. Every callable is an instance of one small type
// whose call slot dispatches through the kernel table in ../src.
#include "py/dynruntime.h"

#include "kernels.h"

typedef struct {
    mp_obj_base_t base;
    const uf_kernel_def *def;
} kernel_obj_t;

// Natmods cannot have initialised data: both are set up in mpy_init.
mp_obj_full_type_t kernel_type;
kernel_obj_t kernel_objs[UF_N_KERNELS];

static size_t str_len(const char *s) {
    size_t n = 0;
    while (s[n]) {
        n++;
    }
    return n;
}

// Raise ValueError("<kernel>: <reason>") without printf (not available here).
static MP_NORETURN void raise_kernel_error(const char *name, const char *reason) {
    char msg[128];
    size_t n = 0;
    for (const char *parts[3] = {name, ": ", reason}, **p = parts; p < parts + 3; p++) {
        for (const char *s = *p; *s && n < sizeof(msg); s++) {
            msg[n++] = *s;
        }
    }
    mp_raise_type_arg(&mp_type_ValueError, mp_obj_new_str(msg, n));
    for (;;) {
    }
}

static mp_obj_t kernel_call(mp_obj_t self_in, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    const uf_kernel_def *k = ((kernel_obj_t *)MP_OBJ_TO_PTR(self_in))->def;
    if (n_args != 1 || n_kw != 0) {
        raise_kernel_error(k->name, "takes one tuple of arguments");
    }
    size_t n;
    mp_obj_t *items;
    mp_obj_get_array(args[0], &n, &items);
    if (n != str_len(k->sig)) {
        raise_kernel_error(k->name, "wrong number of arguments in the tuple");
    }
    uf_call c;
    int nt = 0, ni = 0, nf = 0;
    for (size_t a = 0; a < n; a++) {
        char kind = k->sig[a];
        if (kind == 'r' || kind == 'w') {
            mp_buffer_info_t bi;
            mp_get_buffer_raise(items[a], &bi, kind == 'w' ? MP_BUFFER_WRITE : MP_BUFFER_READ);
            c.t[nt] = bi.buf;
            c.len[nt++] = bi.len;
        } else if (kind == 'i') {
            c.i[ni++] = (int32_t)mp_obj_get_int(items[a]);
        } else {
            c.f[nf++] = mp_obj_get_float_to_f(items[a]);
        }
    }
    int err = k->run(&c);
    if (err) {
        raise_kernel_error(k->name, uf_error_text(err));
    }
    return mp_const_none;
}

static int same_name(mp_obj_t qstr_obj, const char *name) {
    size_t len;
    const char *s = mp_obj_str_get_data(qstr_obj, &len);
    size_t i = 0;
    while (i < len && name[i] == s[i]) {
        i++;
    }
    return i == len && name[i] == 0;
}

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    MP_DYNRUNTIME_INIT_ENTRY

    kernel_type.base.type = (void *)&mp_type_type;
    kernel_type.flags = MP_TYPE_FLAG_NONE;
    kernel_type.name = MP_QSTR_kernel;
    MP_OBJ_TYPE_SET_SLOT(&kernel_type, call, kernel_call, 0);

    // Names as literal qstrs (mpy_ld collects them from this source); each is
    // matched to its table entry by name, so the order here does not matter.
    qstr qs[UF_N_KERNELS] = {
        MP_QSTR_fully_connected_s8, MP_QSTR_fully_connected_f32,
        MP_QSTR_conv2d_s8, MP_QSTR_depthwise_conv2d_s8,
        MP_QSTR_conv2d_f32, MP_QSTR_depthwise_conv2d_f32,
        MP_QSTR_avg_pool2d_s8, MP_QSTR_max_pool2d_s8,
        MP_QSTR_avg_pool2d_f32, MP_QSTR_max_pool2d_f32,
        MP_QSTR_softmax_s8, MP_QSTR_softmax_f32,
        MP_QSTR_quantize_f32, MP_QSTR_requantize,
        MP_QSTR_dequantize_f32, MP_QSTR_copy_bytes,
        // int16 activations (16x8) and TRANSPOSE_CONV
        MP_QSTR_conv2d_s16, MP_QSTR_depthwise_conv2d_s16, MP_QSTR_fully_connected_s16,
        MP_QSTR_transpose_conv_s8, MP_QSTR_transpose_conv_s16, MP_QSTR_transpose_conv_f32,
        // element-wise, MEAN and data movement
        MP_QSTR_addsub_q, MP_QSTR_mul_q, MP_QSTR_binary_f32, MP_QSTR_maxmin_q,
        MP_QSTR_mean_q, MP_QSTR_mean_f32, MP_QSTR_strided_copy, MP_QSTR_fill_int, MP_QSTR_fill_f32,
        // stateful sequence layers
        MP_QSTR_svdf_s8_i16, MP_QSTR_svdf_s8_i8, MP_QSTR_svdf_f32, MP_QSTR_lstm_s8,
        // standalone activations and int16 SOFTMAX
        MP_QSTR_lut_s8, MP_QSTR_clamp_f32, MP_QSTR_leaky_relu_q, MP_QSTR_leaky_relu_f32,
        MP_QSTR_hard_swish_f32, MP_QSTR_logistic_s16, MP_QSTR_tanh_s16, MP_QSTR_prelu_q,
        MP_QSTR_prelu_f32, MP_QSTR_softmax_s16,
        // int8 conv/FC requantized as onnxruntime does
        MP_QSTR_conv2d_s8_ort, MP_QSTR_depthwise_conv2d_s8_ort, MP_QSTR_fully_connected_s8_ort,
        // RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR
        MP_QSTR_resize_nearest, MP_QSTR_resize_bilinear_s8, MP_QSTR_resize_bilinear_f32,
        // TFLM Signal ops (audio front end), CAST and int32 arithmetic
        MP_QSTR_signal_window_s16, MP_QSTR_signal_fft_auto_scale_s16, MP_QSTR_signal_rfft_s16,
        MP_QSTR_signal_energy, MP_QSTR_signal_filter_bank, MP_QSTR_signal_filter_bank_sqrt,
        MP_QSTR_signal_spectral_subtraction, MP_QSTR_signal_pcan, MP_QSTR_signal_filter_bank_log,
        MP_QSTR_cast_int, MP_QSTR_binary_i32,
    };
    mp_obj_t names[UF_N_KERNELS];
    for (int i = 0; i < UF_N_KERNELS; i++) {
        names[i] = MP_OBJ_NEW_QSTR(qs[i]);
        int j = 0;
        while (j < UF_N_KERNELS && !same_name(names[i], uf_kernels[j].name)) {
            j++;
        }
        if (j == UF_N_KERNELS) {
            mp_raise_ValueError("upyflow_native: kernel table mismatch");
        }
        kernel_objs[i].base.type = (const mp_obj_type_t *)&kernel_type;
        kernel_objs[i].def = &uf_kernels[j];
        mp_store_global(qs[i], MP_OBJ_FROM_PTR(&kernel_objs[i]));
    }
    mp_store_global(MP_QSTR_KERNELS, mp_obj_new_tuple(UF_N_KERNELS, names));

    MP_DYNRUNTIME_INIT_EXIT
}
