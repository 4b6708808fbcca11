"""Pieces of the generated single-operator models that several family test modules build
(test_fc.py, test_conv.py, test_transpose_conv.py, test_activations.py, test_softmax.py,
test_graphs.py...): weights, biases, scales, inputs, the int8/float32 conv model, one-input
models, and the seanet int16 models of ../shared."""

from __future__ import annotations

import numpy as np

from harness import NP, SHARED, TT, bake_model, make_inputs, seeded_rng, tflm_outputs
from tflite_writer import ModelWriter

SEANET = SHARED / "tflm_integration" / "seanet"
INT32_BIAS = 2  # schema TensorType.INT32, for quantized_bias_type


# --- int8 and float32 models --------------------------------------------------------------
def qweights(w: ModelWriter, rng, shape, axis: int, in_scale: float, per_channel: bool, bias: bool):
    """Symmetric int8 weights (per-channel on `axis` or per-tensor) and optional int32 bias.

    Real weights are ~N(0, 1); returns (weight idx, bias idx or -1)."""
    wf = rng.normal(size=shape)
    n = shape[axis]
    red = tuple(i for i in range(len(shape)) if i != axis)
    if per_channel:
        scales = np.abs(wf).max(axis=red) / 127.0
        # vary channel scales by more than the data does
        scales = scales * rng.uniform(0.5, 2.0, size=n)
    else:
        scales = np.array([np.abs(wf).max() / 127.0])
    bshape = [1] * len(shape)
    bshape[axis] = -1
    wq = np.clip(np.round(wf / (scales.reshape(bshape) if per_channel else scales[0])), -127, 127)
    wi = w.tensor(shape, "int8", list(scales), 0, quantized_dimension=axis, data=wq.astype(np.int8))
    if not bias:
        return wi, -1
    # bias ~ a few output units: large enough to matter after requantization
    fan_in = int(np.prod(shape)) // n
    bq = rng.integers(-1, 2, size=n) * rng.integers(0, 64 * 127 * max(1, int(fan_in**0.5)), size=n)
    bi = w.tensor([n], "int32", list(in_scale * scales), 0, quantized_dimension=0, data=bq)
    return wi, bi


def fweights(w: ModelWriter, rng, shape, n_bias: int, bias: bool):
    wi = w.tensor(shape, "float32", data=rng.normal(size=shape).astype(np.float32))
    bi = w.tensor([n_bias], "float32", data=rng.normal(size=n_bias).astype(np.float32)) if bias else -1
    return wi, bi


def out_zp_for(act: str, zp: int) -> int:
    """RELU and RELU6 clamp at real 0, which a positive zero point puts near the top of the
    int8 range (at 127: every output is 127); such cases test nothing, so mirror it."""
    return -abs(zp) if act in ("RELU", "RELU6") else zp


def in_scale_for(rng, fan_in: int) -> float:
    """Input scale that puts real outputs (with ~N(0,1) weights) around +-4, so every
    activation clamp (0, 6, +-1) falls inside the output range."""
    return float(4.0 / (74.0 * max(1, fan_in) ** 0.5) * rng.uniform(0.5, 2.0))


def conv_model(
    rng,
    dtype,
    depthwise,
    in_hw,
    in_c,
    out_c_or_mult,
    kernel,
    stride,
    dilation,
    padding,
    per_channel,
    bias,
    act,
    in_zp=0,
    out_zp=0,
):
    w = ModelWriter()
    (in_h, in_w), (k_h, k_w), (s_h, s_w), (d_h, d_w) = in_hw, kernel, stride, dilation

    def out_size(i, k, s, d):
        return -(-i // s) if padding == "SAME" else (i - (k - 1) * d - 1) // s + 1

    out_h, out_w = out_size(in_h, k_h, s_h, d_h), out_size(in_w, k_w, s_w, d_w)
    assert out_h > 0 and out_w > 0
    if depthwise:
        out_c = in_c * out_c_or_mult
        wshape, axis, fan_in = [1, k_h, k_w, out_c], 3, k_h * k_w
    else:
        out_c = out_c_or_mult
        wshape, axis, fan_in = [out_c, k_h, k_w, in_c], 0, k_h * k_w * in_c
    xshape, yshape = [1, in_h, in_w, in_c], [1, out_h, out_w, out_c]
    if dtype == "f32":
        x = w.tensor(xshape, "float32")
        wi, bi = fweights(w, rng, wshape, out_c, bias)
        y = w.tensor(yshape, "float32")
    else:
        s_in = in_scale_for(rng, fan_in)
        x = w.tensor(xshape, "int8", s_in, in_zp)
        wi, bi = qweights(w, rng, wshape, axis, s_in, per_channel, bias)
        y = w.tensor(yshape, "int8", float(rng.uniform(0.02, 0.08)), out_zp_for(act, out_zp))
    opts = dict(
        padding=padding,
        stride_h=s_h,
        stride_w=s_w,
        dilation_h_factor=d_h,
        dilation_w_factor=d_w,
        fused_activation_function=act,
    )
    if depthwise:
        opts["depth_multiplier"] = out_c_or_mult
    # No bias: CONV_2D gets the optional-input marker -1; DEPTHWISE_CONV_2D gets two inputs,
    # because the TFLM interpreter crashes (segfault) on a -1 depthwise bias.
    ins = [x, wi] + ([bi] if bi >= 0 or not depthwise else [])
    w.op("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", ins, [y], **opts)
    return w.build([x], [y]), xshape


# --- one-operator models with one input (activations, SOFTMAX, QUANTIZE) and their inputs -------
def unary_model(kind: str, dt: str, shape, q_in=None, q_out=None, out_dt: str | None = None, **options) -> bytes:
    w = ModelWriter()
    x = w.tensor(shape, TT[dt], *(q_in or (None, None)))
    y = w.tensor(shape, TT[out_dt or dt], *(q_out or (None, None)))
    w.op(kind, [x], [y], **options)
    return w.build([x], [y])


def all_int8(rng, shape) -> np.ndarray:
    """Every int8 value once (shuffled), shape holding 256 values."""
    return rng.permutation(np.arange(-128, 128)).astype(np.int8).reshape(shape)


def int16_inputs(rng, shape, sweep: bool = False) -> list[np.ndarray]:
    n = int(np.prod(shape))
    xs = [
        rng.integers(-32768, 32768, size=shape).astype(np.int16),
        (rng.normal(size=shape) * 3000).clip(-32768, 32767).astype(np.int16),
        np.full(shape, -32768, np.int16),
        np.full(shape, 32767, np.int16),
        np.zeros(shape, np.int16),
    ]
    if sweep:  # every value, in chunks of the tensor size
        allv = np.arange(-32768, 32768).astype(np.int16)
        xs += [np.resize(allv[i : i + n], n).reshape(shape) for i in range(0, 65536, n)]
    return xs


def float_inputs(rng, shape, span: float = 8.0) -> list[np.ndarray]:
    return [
        rng.uniform(-span, span, size=shape).astype(np.float32),
        rng.normal(size=shape).astype(np.float32),
        np.linspace(-2 * span, 2 * span, int(np.prod(shape))).astype(np.float32).reshape(shape),
    ]


# --- element-wise and layout models: activation quantization, input sets ---------------------
def shape_id(s) -> str:
    return "x".join(map(str, s)) or "scalar"


def qparams(rng, dt: str, zp: bool = True):
    """(scale, zero point) of an activation tensor; None for float32."""
    if dt == "f32":
        return None, None
    if dt == "i16":
        return float(rng.uniform(2e-5, 2e-4)), 0
    return float(rng.uniform(0.01, 0.08)), int(rng.integers(-100, 100)) if zp else 0


def graph_sets(rng, specs, n_random=3):
    """Input sets for several graph inputs: specs = [(dtype, shape, zp)]."""
    per = [make_inputs(rng, dt, shape, zp, n_random=n_random) for dt, shape, zp in specs]
    return [list(s) for s in zip(*per)]


def seanet_elementwise_models(op: str) -> list[str]:
    """The seanet models of one operator folder (add, sub, pad, strided_slice) with int16 CSV inputs."""
    d = SEANET / op
    return (
        sorted(p.stem for p in d.glob("*.tflite") if list(d.glob(p.stem + "_input*_int16.csv"))) if d.exists() else []
    )


# --- the int8 MicroPython batches (test_conv/fc/pool.py's test_int8_micropython) ---------------
BATCH_SEED = 0x71BE


def batch_rng(case_id: str) -> np.random.Generator:
    return seeded_rng(BATCH_SEED, case_id)


def batch_weights(w: ModelWriter, rng, shape, axis: int, in_scale: float, per_channel: bool, bias: bool):
    """Symmetric int8 weights (per-channel on `axis` or per-tensor) and an int32 bias (or -1)."""
    wf = rng.normal(size=shape)
    n = shape[axis]
    red = tuple(i for i in range(len(shape)) if i != axis)
    scales = (
        np.abs(wf).max(axis=red) / 127.0 * rng.uniform(0.5, 2.0, size=n)
        if per_channel
        else np.array([np.abs(wf).max() / 127.0])
    )
    bshape = [1] * len(shape)
    bshape[axis] = -1
    wq = np.clip(np.round(wf / (scales.reshape(bshape) if per_channel else scales[0])), -127, 127)
    wi = w.tensor(shape, "int8", list(scales), 0, quantized_dimension=axis, data=wq.astype(np.int8))
    if not bias:
        return wi, -1
    fan_in = int(np.prod(shape)) // n
    bq = rng.integers(-64, 65, size=n) * int(127 * max(1, fan_in) ** 0.5)
    return wi, w.tensor([n], "int32", list(in_scale * scales), 0, data=bq)


def batch_scales(rng, fan_in: int, big_multiplier: bool):
    """(input scale, output scale): real outputs around +-3 so every activation clamp falls inside
    the int8 range; big_multiplier makes the requantization multiplier > 1 (a left shift)."""
    s_in = float(3.0 / (74.0 * max(1, fan_in) ** 0.5) * rng.uniform(0.5, 2.0))
    s_out = float(rng.uniform(0.03, 0.1))
    if big_multiplier:
        s_out = s_in / 127.0 / 6.0
    return s_in, s_out


def batch_inputs(shape, zp, rng):
    """Random inputs, the extremes, the zero point, and a short repeating pattern whose window sums
    land on the avg pool's rounding ties."""
    xs = [rng.integers(-128, 128, size=shape, dtype=np.int8) for _ in range(3)]
    xs += [np.full(shape, v, np.int8) for v in (-128, 127, zp)]
    n = int(np.prod(shape))
    xs.append(np.resize(np.array([1, 2, -1, -2, 3, -3], np.int8), n).reshape(shape))
    return [[x] for x in xs]


def bake_batch(cases: dict, outdir, prefix: str) -> tuple[str, dict]:
    """Bake {case id: (model, input shape, input zero point, rng)} into outdir for one MicroPython
    run (harness.run_micropython_cases): (module dir, {name: (case id, input sets, TFLM outputs)})."""
    baked = {}
    for k, (cid, (model, shape, zp, rng)) in enumerate(sorted(cases.items())):
        _, name, _ = bake_model(model, outdir, name="%s%d" % (prefix, k))
        sets = batch_inputs(shape, zp, rng)
        baked[name] = (cid, sets, tflm_outputs(model, sets))
    return str(outdir), baked


# --- int16 (16x8) models ------------------------------------------------------------------
def inputs_for(rng, dtype: str, shape, zp: int = 0, n_random: int = 2) -> list[np.ndarray]:
    """Random inputs, then the extremes (all minimum, all maximum, all zero point)."""
    if dtype == "f32":
        return [rng.uniform(-2, 2, size=shape).astype(np.float32) for _ in range(n_random)] + [
            np.zeros(shape, np.float32)
        ]
    info = np.iinfo(NP[dtype])
    xs = [rng.integers(info.min, info.max + 1, size=shape, dtype=NP[dtype]) for _ in range(n_random)]
    return xs + [np.full(shape, v, NP[dtype]) for v in (info.min, info.max, zp)]


def weights(w: ModelWriter, rng, shape, axis: int, per_channel: bool):
    """Symmetric int8 weights, per-channel on `axis` or per-tensor; (index, scales per channel)."""
    wf = rng.normal(size=shape)
    n = shape[axis]
    red = tuple(i for i in range(len(shape)) if i != axis)
    if per_channel:
        scales = np.abs(wf).max(axis=red) / 127.0 * rng.uniform(0.5, 2.0, size=n)
    else:
        scales = np.full(n, np.abs(wf).max() / 127.0)
    bshape = [1] * len(shape)
    bshape[axis] = -1
    wq = np.clip(np.round(wf / scales.reshape(bshape)), -127, 127).astype(np.int8)
    listed = list(scales) if per_channel else [float(scales[0])]
    return w.tensor(shape, "int8", listed, 0, quantized_dimension=axis, data=wq), scales


def bias_tensor(
    w: ModelWriter,
    rng,
    btype: str | None,
    n: int,
    s_in: float = 0.0,
    w_scales=None,
    out_scale: float = 0.0,
    qmax: int = 32767,
    big: bool = False,
) -> int:
    """A bias of about +-1/4 of the output range (btype int16/int32/int64/float32), or -1."""
    if btype is None:
        return -1
    if btype == "float32":
        return w.tensor([n], "float32", data=rng.normal(size=n).astype(np.float32))
    real = rng.uniform(-0.25, 0.25, size=n) * qmax * out_scale
    bq = np.round(real / (s_in * w_scales))
    if big:  # beyond int32: the int64 word pairs' high words matter
        bq = bq + rng.choice([-1, 1], size=n) * rng.integers(1 << 33, 1 << 40, size=n)
    lim = {"int16": 32767, "int32": 2**31 - 1, "int64": 2**62}[btype]
    bq = np.clip(bq, -lim, lim)
    return w.tensor([n], btype, list(s_in * w_scales), 0, data=bq.astype(np.int64))


def scales16(rng, fan_in: int) -> tuple[float, float]:
    """(input, output) scales for int16: inputs in +-1, outputs ~ +-2.5 sigma of the sum."""
    s_in = float(rng.uniform(0.5, 2.0) / 32768)
    s_out = float(2.5 * 0.58 * max(1, fan_in) ** 0.5 / 32767 * rng.uniform(0.3, 2.0))
    return s_in, s_out


def scales8(rng, fan_in: int) -> tuple[float, float]:
    s_in = float(4.0 / (74.0 * max(1, fan_in) ** 0.5) * rng.uniform(0.5, 2.0))
    return s_in, float(rng.uniform(0.02, 0.08))


def out_size(padding: str, i: int, k: int, s: int, d: int = 1) -> int:
    return -(-i // s) if padding == "SAME" else (i - (k - 1) * d - 1) // s + 1


# --- the seanet single-op models (int16) and their CSV inputs ------------------------------
def seanet_models() -> list[str]:
    return (
        sorted(
            "%s/%s" % (p.parent.name, p.stem)
            for op in ("conv", "transpose_conv")
            for p in (SEANET / op).glob("*.tflite")
        )
        if SEANET.exists()
        else []
    )


def seanet_inputs(rel: str) -> tuple[bytes, list[np.ndarray], np.ndarray]:
    """(model bytes, inputs shaped for the graph, golden output) of a seanet model."""
    from upyflow_tools.readers.tflite import read_tflite

    path = SEANET / (rel + ".tflite")
    data = path.read_bytes()
    graph = read_tflite(data)
    ins = []
    for k, t in enumerate(graph.inputs):
        csv = sorted(path.parent.glob("%s_input%d_*.csv" % (path.stem, k)))[0]
        ins.append(
            np.loadtxt(csv, delimiter=",", dtype=np.int64)
            .astype(NP[graph.tensors[t].dtype])
            .reshape(graph.tensors[t].shape)
        )
    golden = np.loadtxt(path.parent / (path.stem + "_golden_int16.csv"), delimiter=",", dtype=np.int64)
    return data, ins, golden


# --- 16x8 models with a requantization multiplier of about 2^shift (the viper int64 paths) -----
# Requantization shifts over the whole accepted range (the generated int16 cases' scales give about -10):
# T = 15 - shift below 16, 16..31 and from 32 on take different limbs in the int64 path; a left
# shift takes the int32 path's wrap. Inputs and bias are sized so outputs mostly stay unclamped.
SHIFTS64 = (-31, -26, -20, -18, -17, -16, -15, -12, -3, -1, 0, 1, 4, 9, 14)
SHIFTS32 = (-20, -3, 0, 1, 3, 6)


def scaled16_model(rng, kind: str, shift: int, btype: str):
    """A 16x8 CONV_2D/DEPTHWISE_CONV_2D/FULLY_CONNECTED whose requantization multiplier is
    about 2^shift; (model, input sets)."""
    w = ModelWriter()
    real = 2.0**shift * float(rng.uniform(0.55, 0.95))
    s_in, s_w = 1.0 / 32768, 1.0 / 128
    s_out = s_in * s_w / real
    if kind == "fc":
        fan, xshape, wshape, yshape, n = 300, [2, 300], [5, 300], [2, 5], 5
    elif kind == "conv":
        fan, xshape, wshape, yshape, n = 27, [1, 5, 6, 3], [4, 3, 3, 3], [1, 5, 6, 4], 4
    else:
        fan, xshape, wshape, yshape, n = 9, [1, 6, 5, 2], [1, 3, 3, 4], [1, 6, 5, 4], 4
    target = 8192.0 / real  # accumulators of a quarter of the int16 output range
    xl = int(min(32767, max(1, target / (64 * fan**0.5))))
    blim = min(target, 2.0**46 if btype == "int64" else 2.0**30)
    x = w.tensor(xshape, "int16", s_in, 0)
    wi = w.tensor(
        wshape, "int8", s_w, 0, quantized_dimension=3 if kind == "dw" else 0, data=rng.integers(-127, 128, size=wshape)
    )
    bi = w.tensor([n], btype, s_in * s_w, 0, data=rng.integers(-int(blim), int(blim) + 1, size=n))
    y = w.tensor(yshape, "int16", s_out, 0)
    if kind == "fc":
        w.op("FULLY_CONNECTED", [x, wi, bi], [y])
    else:
        opts = dict(padding="SAME", stride_h=1, stride_w=1, dilation_h_factor=1, dilation_w_factor=1)
        if kind == "dw":
            opts["depth_multiplier"] = 2
        w.op("DEPTHWISE_CONV_2D" if kind == "dw" else "CONV_2D", [x, wi, bi], [y], **opts)
    sets = [[rng.integers(-xl, xl + 1, size=xshape).astype(np.int16)] for _ in range(3)]
    sets += [[np.full(xshape, v, np.int16)] for v in (-xl, xl)]
    return w.build([x], [y]), sets


# --- layers through the boards' blocked kernels (test_isa.py, test_isa_xtensa.py) ---------
# Single int8 layers through each ISA's blocked kernels, against TFLM: the edges of the
# register blocking (a pixel without a pair, channel tails of 1-3, more channels than a
# depthwise block, one input channel, a depth multiplier, stride, dilation, padding) and
# of the requantization (per-channel scales spread so some multipliers exceed 1: left
# shifts; the extreme inputs saturate).
# (kind, input h x w, in_c, out_c or depth multiplier, kernel, stride, dilation, padding)
OP_CASES = [
    ("conv", (5, 7), 8, 6, (1, 1), (1, 1), (1, 1), "VALID"),
    ("conv", (6, 5), 12, 9, (1, 1), (2, 1), (1, 1), "VALID"),
    ("conv", (3, 3), 19, 5, (1, 1), (1, 1), (1, 1), "SAME"),
    ("conv", (7, 6), 3, 5, (3, 3), (2, 2), (1, 1), "SAME"),
    ("dw", (7, 8), 8, 1, (3, 3), (1, 1), (1, 1), "SAME"),
    ("dw", (9, 6), 36, 1, (3, 3), (2, 2), (1, 1), "SAME"),
    ("dw", (6, 7), 7, 1, (3, 3), (1, 2), (2, 1), "SAME"),
    ("dw", (8, 8), 1, 8, (3, 3), (2, 2), (1, 1), "SAME"),
    ("dw", (5, 5), 1, 6, (3, 3), (1, 1), (1, 1), "VALID"),
    ("dw", (5, 6), 3, 2, (3, 3), (1, 1), (1, 1), "SAME"),
    ("dw", (6, 7), 40, 1, (3, 3), (1, 1), (1, 1), "SAME"),
    ("dw", (11, 12), 1, 8, (4, 8), (2, 2), (1, 1), "SAME"),
    ("fc", (1, 1), 21, 7, None, None, None, None),
    ("fc", (3, 1), 16, 8, None, None, None, None),
]


def blocked_layer_model(case, hot, relu=False):
    """A single int8 conv/depthwise/fc layer of OP_CASES (hot: an output scale so small that
    some multipliers exceed 1; relu: a fused RELU, so act_min is the output zero point, as
    the M0+'s one-floor requantization wants), as .tflite bytes, with its input shape."""
    from tflite_writer import add_quant_weights

    kind, (h, w_), in_c, n, kernel, stride, dil, pad = case
    rng = np.random.default_rng([7, OP_CASES.index(case), hot] + ([1] if relu else []))
    mw = ModelWriter()
    s_in, zp_in = float(rng.uniform(0.01, 0.05)), int(rng.integers(-60, 60))
    if kind == "fc":
        xshape, wshape, axis, out_c = [h, in_c], [n, in_c], 0, n
    else:
        (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dil

        def size(i, k, s, d):
            return -(-i // s) if pad == "SAME" else (i - (k - 1) * d - 1) // s + 1

        oh, ow = size(h, kh, sh, dh), size(w_, kw, sw, dw)
        xshape = [1, h, w_, in_c]
        if kind == "dw":
            out_c = in_c * n
            wshape, axis = [1, kh, kw, out_c], 3
        else:
            out_c = n
            wshape, axis = [out_c, kh, kw, in_c], 0
    x = mw.tensor(xshape, "int8", s_in, zp_in)
    wi, bi, _wq, w_scale, _b = add_quant_weights(mw, rng, wshape, axis, s_in)
    # spread the channel scales; "hot": output scale so small some multipliers exceed 1
    fan_in = int(np.prod(wshape)) // out_c
    s_out = s_in * float(np.median(w_scale)) * (0.7 if hot else 40.0 * fan_in**0.5)
    yshape = [h, out_c] if kind == "fc" else [1, oh, ow, out_c]
    y = mw.tensor(yshape, "int8", s_out, int(rng.integers(-20, 20)))
    act = dict(fused_activation_function="RELU") if relu else {}
    if kind == "fc":
        mw.op("FULLY_CONNECTED", [x, wi, bi], [y], **act)
    else:
        opts = dict(padding=pad, stride_h=sh, stride_w=sw, dilation_h_factor=dh, dilation_w_factor=dw, **act)
        if kind == "dw":
            opts["depth_multiplier"] = n
        mw.op("DEPTHWISE_CONV_2D" if kind == "dw" else "CONV_2D", [x, wi, bi], [y], **opts)
    return mw.build([x], [y]), xshape


# The Cortex-M4 DSP kernels' edges (native_modules/src/dsp_m4.h): filters other than 3x3
# (padded taps as rectangles), two channel blocks with a run of whole windows, an odd pixel
# count with odd channel tails in a 1x1, strides, more than 256 inputs (the C fallback).
OP_CASES += [
    ("dw", (7, 9), 12, 1, (5, 5), (1, 1), (1, 1), "SAME"),
    ("dw", (6, 8), 1, 4, (3, 5), (2, 1), (1, 1), "SAME"),
    ("dw", (6, 7), 40, 1, (3, 3), (1, 1), (1, 1), "SAME"),
    ("conv", (3, 5), 16, 7, (1, 1), (1, 1), (1, 1), "VALID"),
    ("conv", (5, 4), 36, 40, (1, 1), (2, 2), (1, 1), "VALID"),
    ("conv", (2, 3), 260, 4, (1, 1), (1, 1), (1, 1), "VALID"),
]
# The M0+ depthwise runs (conv.c depthwise_m0): one block of every channel, so a
# requantization per two pixels, with a pixel left over; border windows of 2x3, 3x2 and
# 2x2 taps from the table, padded on both sides (stride 1) or only after (stride 2).
OP_CASES += [
    ("dw", (6, 9), 16, 1, (3, 3), (1, 1), (1, 1), "SAME"),
    ("dw", (8, 10), 16, 1, (3, 3), (2, 2), (1, 1), "SAME"),
]
# The M0+ pointwise from a sign-extended weight table (conv.c conv1x1_m0, in_c a multiple
# of four up to 32): blocks of 32 rows and a block of four, blocks of 16 rows (in_c 32)
# with an odd pixel, blocks of 24 rows and a last block of two rows only; past 32 inputs
# blocks of 64 rows and a block of six; 2 and 6 inputs (uf_mac2x2ph_m0's first pass alone,
# then one more).
OP_CASES += [
    ("conv", (3, 3), 8, 36, (1, 1), (1, 1), (1, 1), "VALID"),
    ("conv", (5, 7), 32, 40, (1, 1), (1, 1), (1, 1), "VALID"),
    ("conv", (4, 5), 20, 26, (1, 1), (1, 1), (1, 1), "VALID"),
    ("conv", (3, 5), 40, 70, (1, 1), (1, 1), (1, 1), "VALID"),
    ("conv", (3, 4), 2, 8, (1, 1), (1, 1), (1, 1), "VALID"),
    ("conv", (3, 3), 6, 12, (1, 1), (1, 1), (1, 1), "VALID"),
]
# The M0+ pointwise requantized in the MAC kernel (uf_mac2x2pq16_m0: in_c 16, a block of
# every channel with no tail, RELU), with an odd pixel.
OP_CASES += [
    ("conv", (3, 5), 16, 20, (1, 1), (1, 1), (1, 1), "VALID"),
]
# One input channel and a filter eight wide (micro_speech's): channel pairs per MULS, rows
# of whole windows requantized in the kernel, windows cut at the sides on a zero-point copy;
# 40 channels: a first block of 32 too wide for the pairs' table, then a block of 8 whose
# outputs skip the others'.
OP_CASES += [
    ("dw", (6, 11), 1, 40, (3, 8), (1, 1), (1, 1), "SAME"),
]
# A 1x1 with seven inputs (the Xtensa pointwise kernel's passes of four, then three single
# steps) and 35 outputs (two channel blocks, the second with an odd row).
OP_CASES += [
    ("conv", (3, 5), 7, 35, (1, 1), (1, 1), (1, 1), "VALID"),
]
