# Reference tier: plain Python kernels that run on any Python. Every faster
# tier must give byte-identical results to these.

# Pure kernel -> its module here, imported only when a model uses it (each
# family costs heap on a board). A test checks this against KERNELS.
FAMILIES = {
    "fully_connected_s8": "fc", "fully_connected_f32": "fc",
    "conv2d_s8": "conv", "depthwise_conv2d_s8": "conv",
    "conv2d_f32": "conv", "depthwise_conv2d_f32": "conv",
    "avg_pool2d_s8": "pool", "max_pool2d_s8": "pool",
    "avg_pool2d_f32": "pool", "max_pool2d_f32": "pool",
    "softmax_s8": "softmax", "softmax_f32": "softmax",
    "quantize_f32": "quantize", "requantize": "quantize",
    "dequantize_f32": "quantize", "copy_bytes": "quantize",
    # element-wise (broadcasting), MEAN, and data movement (concat, pad, slice, transpose)
    "addsub_q": "elementwise", "mul_q": "elementwise", "binary_f32": "elementwise",
    "maxmin_q": "elementwise", "mean_q": "elementwise", "mean_f32": "elementwise",
    "strided_copy": "layout", "fill_int": "layout", "fill_f32": "layout",
    # stateful sequence layers (SVDF, UNIDIRECTIONAL_SEQUENCE_LSTM)
    "svdf_s8_i16": "sequence", "svdf_s8_i8": "sequence", "svdf_f32": "sequence",
    "lstm_s8": "sequence", "lstm_f32": "sequence",
    # int16 activations (16x8) and TRANSPOSE_CONV
    "conv2d_s16": "conv16", "depthwise_conv2d_s16": "conv16", "fully_connected_s16": "conv16",
    "transpose_conv_s8": "transpose_conv", "transpose_conv_s16": "transpose_conv",
    "transpose_conv_f32": "transpose_conv",
    # standalone activations (int8: table lookups) and int16-output SOFTMAX
    "lut_s8": "activations", "clamp_f32": "activations", "leaky_relu_q": "activations",
    "leaky_relu_f32": "activations", "hard_swish_f32": "activations", "logistic_s16": "activations",
    "tanh_s16": "activations", "logistic_f32": "activations", "tanh_f32": "activations",
    "prelu_q": "activations", "prelu_f32": "activations",
    "softmax_s16": "softmax16", "softmax_s8_s16": "softmax16",
    # int8 conv/FC requantized as onnxruntime does (QDQ ONNX models, rounding "onnxruntime")
    "conv2d_s8_ort": "ort", "depthwise_conv2d_s8_ort": "ort", "fully_connected_s8_ort": "ort",
    "binary_s8_ort": "ort", "avg_pool2d_s8_ort": "ort", "mean_s8_ort": "ort",
    # RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR
    "resize_nearest": "resize", "resize_bilinear_s8": "resize", "resize_bilinear_f32": "resize",
    # TFLM Signal ops (audio front end), CAST and int32 arithmetic
    "signal_window_s16": "signal", "signal_fft_auto_scale_s16": "signal", "signal_rfft_s16": "signal",
    "signal_energy": "signal", "signal_filter_bank": "signal", "signal_filter_bank_sqrt": "signal",
    "signal_spectral_subtraction": "signal", "signal_pcan": "signal", "signal_filter_bank_log": "signal",
    "cast_int": "signal", "binary_i32": "signal",
    # camera frame -> model input (called by upyflow.image, not by a model op)
    "image_to_input": "image",
}
