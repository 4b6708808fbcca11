"""Multiply-accumulates per invoke, from a baked module's op table (for cycles/MAC)."""
from __future__ import annotations


def _conv(p):      # in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, ...
    return p[3] * p[4] * p[5] * p[6] * p[7] * p[2]


def _depthwise(p):  # in_h, in_w, in_c, out_h, out_w, depth_mult, k_h, k_w, ...
    return p[3] * p[4] * p[2] * p[5] * p[6] * p[7]


def _fc(p):        # batches, n_in, n_out, ...
    return p[0] * p[1] * p[2]


def _tconv(p):     # in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, ...
    return p[0] * p[1] * p[2] * p[5] * p[6] * p[7]


def _svdf(p):      # batch, n_in, n_filter, rank, mem: feature matmul + time weights
    return p[0] * p[2] * (p[1] + p[4])


def _lstm(p):      # batch, steps, n_in, n: four gates over input and hidden state
    return p[0] * p[1] * 4 * p[3] * (p[2] + p[3])


def _gru(p):       # batch, steps, n_in, n: three gates over input and hidden state
    return p[0] * p[1] * 3 * p[3] * (p[2] + p[3])


MACS = {"conv2d_s8": _conv, "conv2d_f32": _conv, "conv2d_s16": _conv, "conv2d_s8_ort": _conv,
        "depthwise_conv2d_s8": _depthwise, "depthwise_conv2d_f32": _depthwise,
        "depthwise_conv2d_s16": _depthwise, "depthwise_conv2d_s8_ort": _depthwise,
        "fully_connected_s8": _fc, "fully_connected_f32": _fc, "fully_connected_s16": _fc,
        "fully_connected_s8_ort": _fc,
        "transpose_conv_s8": _tconv, "transpose_conv_s16": _tconv, "transpose_conv_f32": _tconv,
        "svdf_s8_i16": _svdf, "svdf_s8_i8": _svdf, "svdf_f32": _svdf, "lstm_s8": _lstm,
        "lstm_f32": _lstm, "gru_f32": _gru}


def model_macs(module) -> int:
    """MACs of one invoke of a baked module (conv/FC/SVDF/LSTM layers; others count 0)."""
    from ..emit import module_calls
    total = 0
    for kernel, params in module_calls(module):
        if kernel in MACS:
            total += MACS[kernel](params)
    return total


def record_macs(ops) -> int:
    """MACs of one op record's layers (module_records: whole tensors, band or not)."""
    return sum(MACS[op.kernel](op.params) for op in ops if op.kernel in MACS)
