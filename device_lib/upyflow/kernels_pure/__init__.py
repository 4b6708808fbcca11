# Reference tier: plain Python kernels that run on any Python. Every faster
# tier must give byte-identical results to these.

# Pure kernel -> its module here, imported only when a model uses it (each
# family costs heap on a board). A test checks this against KERNELS.
FAMILIES = {
    "fully_connected_s8": "fc", "fully_connected_f32": "fc", "fully_connected_s16": "fc",
    "fully_connected_s8_ort": "fc",
    "conv2d_s8": "conv", "depthwise_conv2d_s8": "conv", "conv2d_f32": "conv",
    "depthwise_conv2d_f32": "conv", "conv2d_s16": "conv", "depthwise_conv2d_s16": "conv",
    "conv2d_s8_ort": "conv", "depthwise_conv2d_s8_ort": "conv",
    "transpose_conv_s8": "transpose_conv", "transpose_conv_s16": "transpose_conv",
    "transpose_conv_f32": "transpose_conv",
    "avg_pool2d_s8": "pool", "max_pool2d_s8": "pool", "avg_pool2d_f32": "pool",
    "max_pool2d_f32": "pool", "avg_pool2d_s8_ort": "pool",
    "softmax_s8": "softmax", "softmax_f32": "softmax", "softmax_s16": "softmax",
    "softmax_s8_s16": "softmax",
    # type conversions: QUANTIZE, DEQUANTIZE, CAST
    "quantize_f32": "quantize", "requantize": "quantize", "dequantize_f32": "quantize",
    "cast_int": "quantize",
    # element-wise binary ops (broadcasting)
    "addsub_q": "elementwise", "mul_q": "elementwise", "binary_f32": "elementwise",
    "maxmin_q": "elementwise", "binary_s8_ort": "elementwise", "binary_i32": "elementwise",
    "mean_q": "reduce", "mean_f32": "reduce", "mean_s8_ort": "reduce",
    # data movement (concat, pad, slice, transpose, copies)
    "strided_copy": "layout", "fill_int": "layout", "fill_f32": "layout", "copy_bytes": "layout",
    # stateful sequence layers
    "svdf_s8_i16": "svdf", "svdf_s8_i8": "svdf", "svdf_f32": "svdf",
    "lstm_s8": "lstm", "lstm_f32": "lstm",
    # standalone activations (int8: table lookups)
    "lut_s8": "activations", "clamp_f32": "activations", "leaky_relu_q": "activations",
    "leaky_relu_f32": "activations", "hard_swish_f32": "activations", "logistic_s16": "activations",
    "tanh_s16": "activations", "logistic_f32": "activations", "tanh_f32": "activations",
    "prelu_q": "activations", "prelu_f32": "activations",
    # RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR
    "resize_nearest": "resize", "resize_bilinear_s8": "resize", "resize_bilinear_f32": "resize",
    # TFLM Signal ops (audio front end)
    "signal_window_s16": "signal", "signal_fft_auto_scale_s16": "signal", "signal_rfft_s16": "signal",
    "signal_energy": "signal", "signal_filter_bank": "signal", "signal_filter_bank_sqrt": "signal",
    "signal_spectral_subtraction": "signal", "signal_pcan": "signal", "signal_filter_bank_log": "signal",
    # camera frame -> model input (called by upyflow.image, not by a model op)
    "image_to_input": "image",
}
