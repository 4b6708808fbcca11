"""Check that ModelWriter models load and run in TFLM and agree with numpy references."""

import zlib

import numpy as np
import pytest
import tflite

from tflite_writer import ModelWriter, add_quant_weights, dequantize, quantize, random_qparams, run_tflm

ACTS = {
    "NONE": lambda x: x,
    "RELU": lambda x: np.maximum(x, 0),
    "RELU6": lambda x: np.clip(x, 0, 6),
    "RELU_N1_TO_1": lambda x: np.clip(x, -1, 1),
}


def act_in(rng, w, shape, dtype):
    """Input tensor -> (index, data fed to TFLM, real values)."""
    if dtype == "float32":
        x = rng.normal(size=shape).astype(np.float32)
        return w.tensor(shape, "float32"), x, x.astype(np.float64)
    s, zp = random_qparams(rng, dtype)
    info = np.iinfo(dtype)
    q = rng.integers(info.min, info.max + 1, size=shape).astype(dtype)
    return w.tensor(shape, dtype, s, zp), q, dequantize(q, s, zp)


def act_out(w, real, dtype, qp=None):
    """Output tensor -> (index, expected TFLM output); qparams fitted to `real` unless given."""
    if dtype == "float32":
        return w.tensor(list(real.shape), "float32"), real.astype(np.float32)
    if qp is None:  # range must include 0 (exactly representable zero point)
        lo, hi = min(real.min(), 0.0), max(real.max(), 0.0)
        s = max((hi - lo) / 255, 1e-4)
        qp = (s, int(np.clip(round(-128 - lo / s), -128, 127)))
    return w.tensor(list(real.shape), dtype, *qp), quantize(real, *qp, dtype)


def weights(rng, w, shape, axis, dtype, in_scale):
    """Weights + bias -> (w_idx, b_idx, real weights, real bias)."""
    n = shape[axis]
    if dtype == "float32":
        wf, bf = rng.normal(size=shape).astype(np.float32), rng.normal(size=n).astype(np.float32)
        return w.tensor(shape, "float32", data=wf), w.tensor([n], "float32", data=bf), wf, bf
    wi, bi, wq, ws, bq = add_quant_weights(w, rng, shape, axis, in_scale)
    bshape = [1] * len(shape)
    bshape[axis] = -1
    return wi, bi, wq * ws.reshape(bshape), bq * in_scale * ws


def patches(x, kh, kw, sh, sw, dh, dw, padding):
    """NHWC -> [N, OH, OW, KH, KW, C] windows, zero padded like TFLite SAME/VALID."""
    n, h, wd, c = x.shape
    if padding == "SAME":
        oh, ow = -(-h // sh), -(-wd // sw)
        ph, pw = (
            max((o - 1) * s + (k - 1) * d + 1 - i, 0) for o, s, k, d, i in ((oh, sh, kh, dh, h), (ow, sw, kw, dw, wd))
        )
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    else:
        oh, ow = (h - (kh - 1) * dh - 1) // sh + 1, (wd - (kw - 1) * dw - 1) // sw + 1
    out = np.empty((n, oh, ow, kh, kw, c))
    for i in range(kh):
        for j in range(kw):
            out[:, :, :, i, j] = x[
                :, i * dh : i * dh + (oh - 1) * sh + 1 : sh, j * dw : j * dw + (ow - 1) * sw + 1 : sw
            ]
    return out


# Each case: (rng, dtype) -> (model, inputs, expected output, atol)
def fc(rng, dt):
    w = ModelWriter()
    shape, keep = ([2, 8], False) if dt == "int8" else ([1, 2, 8], True)
    x, xin, xr = act_in(rng, w, shape, dt)
    s_in = w._tensors[x]["scale"][0] if dt == "int8" else 1.0
    wi, bi, wr, br = weights(rng, w, [5, 8], 0, dt, s_in)
    y, exp = act_out(w, ACTS["RELU"](xr @ wr.T + br), dt)
    w.op("FULLY_CONNECTED", [x, wi, bi], [y], fused_activation_function="RELU", keep_num_dims=keep)
    return w.build([x], [y]), [xin], exp, 1 if dt == "int8" else 1e-5


def conv(rng, dt, depthwise=False):
    w = ModelWriter()
    x, xin, xr = act_in(rng, w, [1, 7, 6, 3], dt)
    s_in = w._tensors[x]["scale"][0] if dt == "int8" else 1.0
    opts = dict(
        padding="SAME",
        stride_w=2,
        stride_h=1,
        dilation_w_factor=1,
        dilation_h_factor=2,
        fused_activation_function="RELU6",
    )
    p = patches(xr, 3, 2, 1, 2, 2, 1, "SAME")
    if depthwise:  # filter [1, KH, KW, Cin*mult], channels quantized on dim 3
        wi, bi, wr, br = weights(rng, w, [1, 3, 2, 6], 3, dt, s_in)
        real = np.einsum("nhwijc,ijcm->nhwcm", p, wr[0].reshape(3, 2, 3, 2)).reshape(*p.shape[:3], 6)
        opts["depth_multiplier"] = 2
    else:  # filter [Cout, KH, KW, Cin], channels quantized on dim 0
        wi, bi, wr, br = weights(rng, w, [4, 3, 2, 3], 0, dt, s_in)
        real = np.einsum("nhwijc,oijc->nhwo", p, wr)
    y, exp = act_out(w, ACTS["RELU6"](real + br), dt)
    w.op("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", [x, wi, bi], [y], **opts)
    return w.build([x], [y]), [xin], exp, 1 if dt == "int8" else 1e-5


def pool(rng, dt, kind):
    w = ModelWriter()
    x, xin, xr = act_in(rng, w, [1, 6, 5, 3], dt)
    p = patches(xr, 2, 2, 2, 2, 1, 1, "VALID")
    real = p.max(axis=(3, 4)) if kind == "MAX" else p.mean(axis=(3, 4))
    qp = None if dt == "float32" else (w._tensors[x]["scale"][0], w._tensors[x]["zero_point"][0])
    y, exp = act_out(w, real, dt, qp)  # TFLM int8 pools need identical in/out quantization
    w.op(f"{kind}_POOL_2D", [x], [y], padding="VALID", stride_w=2, stride_h=2, filter_width=2, filter_height=2)
    return w.build([x], [y]), [xin], exp, 1 if dt == "int8" else 1e-5


def reshape(rng, dt, shape_tensor):
    w = ModelWriter()
    x, xin, _ = act_in(rng, w, [1, 2, 3, 4], dt)
    t = w._tensors[x]
    y = w.tensor([1, 24], dt, t["scale"], t["zero_point"])
    if shape_tensor:
        w.op("RESHAPE", [x, w.tensor([2], "int32", data=np.array([1, -1]))], [y])
    else:
        w.op("RESHAPE", [x], [y], new_shape=[1, 24])
    return w.build([x], [y]), [xin], xin.reshape(1, 24), 0


def softmax(rng, dt):
    w = ModelWriter()
    x, xin, xr = act_in(rng, w, [2, 10], dt)
    e = np.exp(xr - xr.max(axis=-1, keepdims=True))
    y, exp = act_out(w, e / e.sum(axis=-1, keepdims=True), dt, (1 / 256, -128))
    w.op("SOFTMAX", [x], [y], beta=1.0)
    return w.build([x], [y]), [xin], exp, 2 if dt == "int8" else 1e-5


def quantize_op(rng, dt):  # dt is the input type: float32 -> int8, or int8 -> int8 requantize
    w = ModelWriter()
    x, xin, xr = act_in(rng, w, [3, 5], dt)
    y, exp = act_out(w, xr, "int8", random_qparams(rng))
    w.op("QUANTIZE", [x], [y])
    return w.build([x], [y]), [xin], exp, 1


def dequantize_op(rng, dt):  # dt is the input type
    w = ModelWriter()
    x, xin, xr = act_in(rng, w, [3, 5], dt)
    y, exp = act_out(w, xr, "float32")
    w.op("DEQUANTIZE", [x], [y])
    return w.build([x], [y]), [xin], exp, 1e-6 * max(1.0, np.abs(xr).max())  # float32 rounding


def binary(rng, dt, opcode):
    w = ModelWriter()
    a, ain, ar = act_in(rng, w, [1, 4, 4, 3], dt)
    b, bin_, br = act_in(rng, w, [1, 4, 4, 3], dt)
    # int8 inputs span ~±10, so RELU_N1_TO_1 would saturate them; use it on floats only
    act = ("RELU_N1_TO_1" if dt == "float32" else "RELU") if opcode == "ADD" else "NONE"
    y, exp = act_out(w, ACTS[act](ar + br if opcode == "ADD" else ar * br), dt)
    w.op(opcode, [a, b], [y], fused_activation_function=act)
    return w.build([a, b], [y]), [ain, bin_], exp, 1 if dt == "int8" else 1e-5


CASES = {
    "FULLY_CONNECTED": fc,
    "CONV_2D": conv,
    "DEPTHWISE_CONV_2D": lambda r, d: conv(r, d, True),
    "AVERAGE_POOL_2D": lambda r, d: pool(r, d, "AVERAGE"),
    "MAX_POOL_2D": lambda r, d: pool(r, d, "MAX"),
    "RESHAPE_option": lambda r, d: reshape(r, d, False),
    "RESHAPE_tensor": lambda r, d: reshape(r, d, True),
    "SOFTMAX": softmax,
    "ADD": lambda r, d: binary(r, d, "ADD"),
    "MUL": lambda r, d: binary(r, d, "MUL"),
}
PARAMS = [(c, d) for c in CASES for d in ("int8", "float32")]
PARAMS += [("QUANTIZE", "float32"), ("QUANTIZE", "int8"), ("DEQUANTIZE", "int8"), ("DEQUANTIZE", "int16")]
CASES.update(QUANTIZE=quantize_op, DEQUANTIZE=dequantize_op)


@pytest.mark.parametrize("case,dtype", PARAMS)
def test_op_runs_in_tflm(case, dtype):
    rng = np.random.default_rng(zlib.crc32(f"{case}{dtype}".encode()))
    model, inputs, exp, atol = CASES[case](rng, dtype)
    (out,) = run_tflm(model, inputs)
    assert out.shape == exp.shape and out.dtype == exp.dtype
    np.testing.assert_allclose(out.astype(np.float64), exp.astype(np.float64), rtol=0, atol=atol)


def test_few_op_float_pipeline():
    """float -> QUANTIZE -> FC -> SOFTMAX -> DEQUANTIZE: intermediate tensors chain in TFLM."""
    rng, w = np.random.default_rng(0), ModelWriter()
    x = w.tensor([1, 8], "float32")
    xq = w.tensor([1, 8], "int8", 0.02, 3)
    wi, bi, *_ = add_quant_weights(w, rng, [10, 8], 0, 0.02)
    logits = w.tensor([1, 10], "int8", 0.1, -5)
    probs = w.tensor([1, 10], "int8", 1 / 256, -128)
    y = w.tensor([1, 10], "float32")
    w.op("QUANTIZE", [x], [xq])
    w.op("FULLY_CONNECTED", [xq, wi, bi], [logits])
    w.op("SOFTMAX", [logits], [probs], beta=1.0)
    w.op("DEQUANTIZE", [probs], [y])
    (out,) = run_tflm(w.build([x], [y]), [rng.normal(size=(1, 8)).astype(np.float32)])
    assert out.shape == (1, 10) and abs(out.sum() - 1) < 0.05


def test_roundtrip_parse():
    w = ModelWriter()
    x = w.tensor([1, 4, 4, 2], "int8", 0.05, -3, name="in")
    wi, bi, *_ = add_quant_weights(w, np.random.default_rng(1), [3, 3, 3, 2], 0, 0.05)
    c = w.tensor([1, 2, 2, 3], "int8", 0.1, 7)
    r = w.tensor([1, 12], "int8", 0.1, 7)
    g = w.tensor([1, 12], "int8", 0.1, 7)
    w.op("CONV_2D", [x, wi, bi], [c], padding="VALID", stride_w=2, stride_h=2, fused_activation_function="RELU")
    w.op("RESHAPE", [c], [r], new_shape=[1, 12])
    w.op("GELU", [r], [g], approximate=True)  # generic fallback; opcode 150 > 127
    m = tflite.Model.GetRootAs(w.build([x], [g]))

    assert m.Version() == 3 and m.Buffers(0).DataLength() == 0
    codes = [
        (m.OperatorCodes(i).BuiltinCode(), m.OperatorCodes(i).DeprecatedBuiltinCode(), m.OperatorCodes(i).Version())
        for i in range(m.OperatorCodesLength())
    ]
    B = tflite.BuiltinOperator
    assert codes == [(B.CONV_2D, B.CONV_2D, 1), (B.RESHAPE, B.RESHAPE, 1), (B.GELU, 127, 1)]
    sg = m.Subgraphs(0)
    assert sg.InputsAsNumpy().tolist() == [x] and sg.OutputsAsNumpy().tolist() == [g]
    assert sg.Tensors(x).Name() == b"in" and sg.Tensors(x).Quantization().ZeroPoint(0) == -3

    wt = sg.Tensors(wi)
    assert wt.Quantization().ScaleLength() == 3 and wt.Quantization().ZeroPointLength() == 3
    assert wt.Quantization().QuantizedDimension() == 0 and wt.Type() == tflite.TensorType.INT8
    buf = m.Buffers(wt.Buffer())
    assert buf.DataLength() == 54 and buf._tab.Vector(buf._tab.Offset(4)) % 16 == 0  # aligned data

    def opts(i, cls):
        tab, o = sg.Operators(i).BuiltinOptions(), cls()
        o.Init(tab.Bytes, tab.Pos)
        return o

    assert sg.Operators(0).BuiltinOptionsType() == tflite.BuiltinOptions.Conv2DOptions
    co = opts(0, tflite.Conv2DOptions)
    assert (co.Padding(), co.StrideW(), co.StrideH(), co.DilationWFactor(), co.FusedActivationFunction()) == (
        tflite.Padding.VALID,
        2,
        2,
        1,
        tflite.ActivationFunctionType.RELU,
    )
    assert opts(1, tflite.ReshapeOptions).NewShapeAsNumpy().tolist() == [1, 12]
    assert sg.Operators(2).BuiltinOptionsType() == tflite.BuiltinOptions.GeluOptions
    assert opts(2, tflite.GeluOptions).Approximate()
