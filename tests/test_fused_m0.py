"""The Cortex-M0+ kernels that requantize in the MAC kernel (mac8.h UF_RQT_M0: the
depthwise runs uf_dw4q*_m0 / uf_dw4x1q*_m0 and the pointwise uf_mac2x2pq8/16/32_m0) as
ARMv6-M code under unicorn, against the TFLM interpreter: fused RELU and RELU6 (act_min
at the output zero point, the kernels' requirement) with output scales that give right
shifts of 1 to 6 (the bound T below 2^15: sums between T and 2^15 take the side path and
its clamp), narrow output ranges (RELU6 with a coarse output scale: R of a few steps)
and wide ones, extreme inputs (sums past 2^15: the 64-bit path)."""

from __future__ import annotations

import numpy as np
import pytest

from harness import check_isa
from tflite_writer import ModelWriter, add_quant_weights
from upyflow_tools.isa import unavailable

# (kind, input h x w, in_c, out_c or depth multiplier, stride)
LAYERS = [
    ("dw", (7, 9), 8, 1, 1),  # interior runs, borders (2x3, 3x2, 2x2), word inputs
    ("dw", (8, 7), 16, 1, 2),  # stride 2: padding after only
    ("dw", (5, 6), 36, 1, 1),  # two blocks: 32 channels, then 4
    ("dw", (6, 7), 32, 1, 1),  # 32 channels, interior rows in one call
    ("dw", (9, 8), 1, 8, 2),  # one input channel (uf_dw4x1q33_m0)
    ("dw", (5, 12), 1, 8, 1),  # one input channel, a filter eight wide (uf_dw4x1q8_m0)
    ("conv", (3, 5), 8, 12, 1),  # uf_mac2x2pq8_m0, an odd pixel
    ("conv", (4, 4), 16, 8, 1),  # uf_mac2x2pq16_m0
    ("conv", (2, 5), 32, 20, 1),  # uf_mac2x2pq32_m0
]
# (activation, output scale over the sums' scale: 2^-k gives right shifts near k)
OUTPUTS = [
    ("RELU", 2.0**-2),
    ("RELU", 2.0**-5),
    ("RELU6", 2.0**-4),
    ("RELU", 2.0**-9),
    ("RELU6", 2.0**-10),  # a coarse output scale: R of a few steps
    ("RELU6", 2.0**-13),
]


def _model(layer, act, ratio, seed, spread=False):
    kind, (h, w_), in_c, n, s = layer
    rng = np.random.default_rng(seed)
    mw = ModelWriter()
    s_in, zp_in = float(rng.uniform(0.01, 0.05)), int(rng.integers(-60, 60))
    kh, kw = (3, 8) if kind == "dw" and w_ == 12 else (3, 3) if kind == "dw" else (1, 1)
    pad = "SAME" if kind == "dw" else "VALID"
    oh, ow = (-(-h // s), -(-w_ // s)) if pad == "SAME" else (h, w_)
    out_c = in_c * n if kind == "dw" else n
    wshape, axis = ([1, kh, kw, out_c], 3) if kind == "dw" else ([out_c, kh, kw, in_c], 0)
    x = mw.tensor([1, h, w_, in_c], "int8", s_in, zp_in)
    if spread:
        # channel 5's scale 2^-7 of the others': its right shift past uf_rq1_m0's 13 when
        # theirs is near 7 (uf_rq1_m0_prep stops there, the C loop builds uf_rq_m0's table)
        wq = rng.integers(-127, 128, wshape).astype(np.int8)
        w_scale = np.full(out_c, 0.02) * np.where(np.arange(out_c) == 5, 2.0**-7, 1.0)
        wi = mw.tensor(wshape, "int8", list(w_scale), 0, quantized_dimension=axis, data=wq)
        b_q = rng.integers(-1000, 1000, size=out_c).astype(np.int32)
        bi = mw.tensor([out_c], "int32", list(s_in * w_scale), 0, data=b_q)
    else:
        wi, bi, _wq, w_scale, _b = add_quant_weights(mw, rng, wshape, axis, s_in)
    # the multipliers s_in * w_scale[c] / s_out near ratio (channels spread around it)
    s_out = s_in * float(np.median(w_scale)) / ratio
    zp_out = int(rng.integers(-128, -100))
    y = mw.tensor([1, oh, ow, out_c], "int8", s_out, zp_out)
    opts = dict(padding=pad, stride_h=s, stride_w=s, fused_activation_function=act)
    if kind == "dw":
        opts.update(depth_multiplier=n, dilation_h_factor=1, dilation_w_factor=1)
    mw.op("DEPTHWISE_CONV_2D" if kind == "dw" else "CONV_2D", [x, wi, bi], [y], **opts)
    return mw.build([x], [y]), [1, h, w_, in_c]


@pytest.mark.parametrize("layer", LAYERS, ids=lambda c: "%s-%dx%dx%d-%d-s%d" % (c[0], *c[1], c[2], c[3], c[4]))
def test_fused_requantization_m0(layer):
    why = unavailable("armv6m")
    if why:
        pytest.skip(why)
    for k, (act, ratio) in enumerate(OUTPUTS):
        data, xshape = _model(layer, act, ratio, [LAYERS.index(layer), k])
        rng = np.random.default_rng(k)
        xs = [
            rng.integers(-128, 128, size=xshape, dtype=np.int8),
            rng.integers(-128, 128, size=xshape, dtype=np.int8),
            np.full(xshape, -128, np.int8),
            np.full(xshape, 127, np.int8),
        ]
        check_isa(data, [[x] for x in xs], "armv6m", misalign=0)


@pytest.mark.parametrize("layer", [LAYERS[0], LAYERS[2], LAYERS[6]], ids=lambda c: "%s-%d" % (c[0], c[2]))
def test_a_channel_past_the_usual_table_m0(layer):
    """One channel of a block whose right shift uf_rq1_m0's table cannot take (uf_rq1_m0_prep
    stops at it, the block takes uf_rq_m0's table), against TFLM."""
    why = unavailable("armv6m")
    if why:
        pytest.skip(why)
    data, xshape = _model(layer, "RELU", 2.0**-7, [99, LAYERS.index(layer)], spread=True)
    xs = [np.random.default_rng(5).integers(-128, 128, size=xshape, dtype=np.int8), np.full(xshape, 127, np.int8)]
    check_isa(data, [[x] for x in xs], "armv6m", misalign=0)


# (input h x w, channels, stride, padding, dilation, input zero point): M0+ 3x3 depthwise
# layers where depthwise_m0 takes a block's eight padded-window shares at once
# (uf_dwsh33_m0: at most one padded row and column per window) and where it does not
BORDERS = [
    ((2, 2), 8, 1, "SAME", 1, -128),  # two input rows: windows padded above or below
    ((3, 2), 12, 1, "SAME", 1, 127),  # two columns; the zero point's extremes
    ((2, 5), 4, 1, "SAME", 1, 5),
    ((7, 7), 8, 2, "SAME", 1, -128),  # stride 2, odd input: padding on both sides
    ((6, 3), 38, 1, "SAME", 1, 127),  # 32 channels, then 6 (not in fours: the old shares)
    ((5, 4), 64, 1, "SAME", 1, -77),  # two blocks of 32: every shape in each
    ((7, 5), 36, 2, "SAME", 1, 90),  # stride 2, 32 channels then 4
    ((5, 6), 4, 1, "VALID", 1, -20),  # no padded window
    ((3, 1), 4, 1, "SAME", 1, -128),  # one column: windows of one valid column
    ((1, 4), 8, 1, "SAME", 1, 127),  # one row
    ((6, 7), 8, 1, "SAME", 2, -128),  # dilation 2: windows past one padded row or column
    ((4, 9), 1, 2, "SAME", 1, -128),  # one input channel (8 outputs), stride 2
]


def _dw_model(case, seed):
    (h, w_), c, s, pad, dil, zp_in = case
    rng = np.random.default_rng(seed)
    mw = ModelWriter()
    n = 8 if c == 1 else 1
    s_in = float(rng.uniform(0.01, 0.05))
    x = mw.tensor([1, h, w_, c], "int8", s_in, zp_in)
    wi, bi, _wq, w_scale, _b = add_quant_weights(mw, rng, [1, 3, 3, c * n], 3, s_in)
    if pad == "SAME":
        oh, ow = -(-h // s), -(-w_ // s)
    else:
        oh, ow = (h - 2 * dil - 1) // s + 1, (w_ - 2 * dil - 1) // s + 1
    y = mw.tensor([1, oh, ow, c * n], "int8", s_in * float(np.median(w_scale)) * 2.0**8, -128)
    opts = dict(padding=pad, stride_h=s, stride_w=s, fused_activation_function="RELU")
    opts.update(depth_multiplier=n, dilation_h_factor=dil, dilation_w_factor=dil)
    mw.op("DEPTHWISE_CONV_2D", [x, wi, bi], [y], **opts)
    return mw.build([x], [y]), [1, h, w_, c]


@pytest.mark.parametrize("case", BORDERS, ids=lambda c: "%dx%dx%d-s%d-%s-d%d-zp%d" % (*c[0], *c[1:]))
def test_depthwise_border_shares_m0(case):
    """The padded windows' shares of the zero point (uf_dwsh33_m0's eight a block, or the
    shapes one by one) against TFLM: random, lowest and highest inputs."""
    why = unavailable("armv6m")
    if why:
        pytest.skip(why)
    data, xshape = _dw_model(case, BORDERS.index(case))
    rng = np.random.default_rng(7)
    xs = [rng.integers(-128, 128, size=xshape, dtype=np.int8), np.full(xshape, -128, np.int8)]
    xs.append(np.full(xshape, 127, np.int8))
    check_isa(data, [[x] for x in xs], "armv6m", misalign=0)


# (input h x w, channels, filter, stride, padding): the M0+ average pool (pool.c's
# __ARM_ARCH_6M__ walk: four channels per word in 16-bit lanes where the input and the
# channels are word-aligned and the window has fewer than 256 taps, else one channel at a
# time; the rounding division from a reciprocal below 360 taps, libgcc's at and past it)
POOLS = [
    ((3, 3), 256, (3, 3), (1, 1), "VALID"),
    ((7, 6), 70, (3, 3), (2, 2), "SAME"),
    ((7, 6), 72, (3, 3), (2, 2), "SAME"),
    ((5, 5), 3, (2, 4), (1, 3), "SAME"),
    ((20, 19), 2, (19, 19), (1, 1), "VALID"),
    ((15, 17), 4, (15, 17), (1, 1), "VALID"),  # 255 taps: the lanes' largest sum, 255 * 255
    ((16, 16), 8, (16, 16), (1, 1), "VALID"),  # 256 taps: one channel at a time
]


@pytest.mark.parametrize("case", POOLS, ids=lambda c: "%dx%dx%d-%dx%d" % (*c[0], c[1], *c[2]))
def test_average_pool_m0(case):
    why = unavailable("armv6m")
    if why:
        pytest.skip(why)
    (h, w_), c, (kh, kw), (sh, sw), pad = case
    mw = ModelWriter()
    x = mw.tensor([1, h, w_, c], "int8", 0.05, -3)
    oh, ow = (-(-h // sh), -(-w_ // sw)) if pad == "SAME" else ((h - kh) // sh + 1, (w_ - kw) // sw + 1)
    y = mw.tensor([1, oh, ow, c], "int8", 0.05, -3)
    mw.op("AVERAGE_POOL_2D", [x], [y], padding=pad, stride_h=sh, stride_w=sw, filter_height=kh, filter_width=kw)
    data = mw.build([x], [y])
    rng = np.random.default_rng(c)
    shape = [1, h, w_, c]
    xs = [rng.integers(-128, 128, size=shape, dtype=np.int8), np.full(shape, -128, np.int8)]
    xs.append(np.full(shape, 127, np.int8))
    xs.append(rng.integers(-3, 3, size=shape, dtype=np.int8))  # sums near zero: ties both ways
    check_isa(data, [[x] for x in xs], "armv6m", misalign=0)


def _pointwise_128(in_c, out_c, hw, minus128):
    """A 1x1 CONV_2D whose weights are symmetric int8, or (minus128) have rows of -128 pairs:
    the model and its input shape."""
    rng = np.random.default_rng(in_c)
    mw = ModelWriter()
    s_in = 0.02
    x = mw.tensor([1, *hw, in_c], "int8", s_in, -128)
    wq = rng.integers(-127, 128, (out_c, 1, 1, in_c)).astype(np.int8)
    if minus128:
        wq[::3, 0, 0, :] = -128  # every pass of these rows: two products of 16384 at x = -128
    w_scale = np.full(out_c, 0.01)
    wi = mw.tensor([out_c, 1, 1, in_c], "int8", list(w_scale), 0, quantized_dimension=0, data=wq)
    bias = rng.integers(0, 200 * in_c, out_c).astype(np.int32)
    bi = mw.tensor([out_c], "int32", list(s_in * w_scale), 0, data=bias)
    # RELU at the output zero point (the fused kernels' case); outputs mostly inside the range
    y = mw.tensor([1, *hw, out_c], "int8", s_in * 0.01 * in_c * 2, -128)
    mw.op("CONV_2D", [x, wi, bi], [y], padding="VALID", stride_h=1, stride_w=1, fused_activation_function="RELU")
    return mw.build([x], [y]), [1, *hw, in_c], int(wq.min())


# (in_c, out_c, h x w): the fused kernels' sizes (8/16/32 inputs: the stack table; 64: the arena's)
POINTWISE_128 = [(8, 12, (3, 4)), (16, 8, (2, 3)), (32, 20, (3, 3)), (64, 24, (4, 4))]


@pytest.mark.parametrize("case", POINTWISE_128, ids=lambda c: "%d-%d" % c[:2])
def test_weights_at_minus_128_m0(case):
    """A weight at -128 (outside TFLite's int8 weight range) makes the fused pointwise kernels'
    lane (two products of 16384) reach 32768, which their ADCS split cannot take: the bake
    passes the smallest weight (w_min) and the M0+ code takes the unfused kernels there,
    byte-identical to TFLM."""
    from upyflow_tools.bake import compile_model

    in_c, out_c, hw = case
    for minus128 in (False, True):
        data, xshape, w_min = _pointwise_128(in_c, out_c, hw, minus128)
        assert (w_min == -128) == minus128
        calls = [c for c in compile_model("pw.tflite", data=data).calls if c.kernel == "conv2d_s8"]
        assert [c.arg("w_min") for c in calls] == [w_min]
        why = unavailable("armv6m")
        if why:
            pytest.skip(why)
        rng = np.random.default_rng(7)
        xs = [np.full(xshape, -128, np.int8), rng.integers(-128, 128, size=xshape, dtype=np.int8)]
        xs.append(np.where(rng.random(xshape) < 0.7, -128, 127).astype(np.int8))
        check_isa(data, [[x] for x in xs], "armv6m", misalign=0)
