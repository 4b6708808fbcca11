"""Post-training int8 quantization (PTQ) of a float ir.Graph, the way TFLite's converter does it.

Weights: int8 symmetric per output channel. Biases: int32, scale input scale x
weight scale. Activations: int8 asymmetric per tensor, from the min/max each tensor
reached on calibration data. The float graph input gets a QUANTIZE and each output
a DEQUANTIZE, so the baked model still takes and returns float32 (unless int8_io).

Calibration runs the float graph on upyflow itself (baked in memory by runner.py with every
intermediate tensor made a graph output, run on the fastest CPython tier): the
ranges then come from exactly the float kernels the device would run, for every
operator upyflow supports, with no second implementation of their semantics.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from . import BakeError
from .ir import Graph, Op, Tensor
from .quant import activation_range_float, f32, round_half_away_np
from .runner import run_graph

QMIN, QMAX = -128, 127

# How each operator's output is quantized.
# Output shares the (first) input's quantization: TFLM's int8 kernels copy or compare
# raw values (pools need identical in/out quantization; RELU6 clamps raw input values).
SAME_AS_INPUT = {"AVERAGE_POOL_2D", "MAX_POOL_2D", "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "PAD",
                 "PADV2", "TRANSPOSE", "STRIDED_SLICE", "RELU6", "MAXIMUM", "MINIMUM"}
# Fixed by the int8 kernels: (scale, zero point).
FIXED_OUTPUT = {"SOFTMAX": (1.0 / 256, -128), "LOGISTIC": (1.0 / 256, -128), "TANH": (1.0 / 128, 0)}
# Their own calibrated output range.
OWN_RANGE = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "ADD", "SUB", "MUL",
             "MEAN", "RELU", "RELU_N1_TO_1", "LEAKY_RELU", "HARD_SWISH", "PRELU", "CONCATENATION"}
# Every variable input must carry the output's quantization (else a requantize is inserted).
INPUTS_AS_OUTPUT = {"CONCATENATION", "MAXIMUM", "MINIMUM"}
# kind -> (activation input, weights input, bias input, weights' output-channel axis)
WEIGHTED = {"CONV_2D": (0, 1, 2, 0), "DEPTHWISE_CONV_2D": (0, 1, 2, 3),
            "FULLY_CONNECTED": (0, 1, 2, 0), "TRANSPOSE_CONV": (2, 1, 3, 0)}
SUPPORTED = SAME_AS_INPUT | set(FIXED_OUTPUT) | OWN_RANGE


def asymmetric_params(lo: float, hi: float) -> tuple[float, int]:
    """int8 (scale, zero point) for the real range [lo, hi], as TFLite's converter picks them.

    The range is widened to hold 0 (so 0.0 is exact, padding and ReLU are lossless);
    the zero point comes from whichever end gives the smaller rounding error, nudged
    onto an integer inside [-128, 127].
    """
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi - lo < 1e-30:     # a tensor that is always 0: any scale represents it
        return 1.0, 0
    scale = (hi - lo) / (QMAX - QMIN)
    from_min, from_max = QMIN - lo / scale, QMAX - hi / scale
    err_min, err_max = abs(QMIN) + abs(lo / scale), abs(QMAX) + abs(hi / scale)
    zp = from_min if err_min < err_max else from_max
    return f32(scale), int(min(QMAX, max(QMIN, round_half_away_np(zp))))


def scales_to_int8(w: np.ndarray, axis: int, scales: list[float]) -> np.ndarray:
    """Symmetric int8 weights in [-127, 127], one scale per slice along `axis`."""
    shape = [1] * w.ndim
    shape[axis] = len(scales)
    s = np.array(scales, np.float64).reshape(shape)
    return np.clip(round_half_away_np(w.astype(np.float64) / s), -127, 127).astype(np.int8)


def quantize_array(data: np.ndarray, scale: float, zp: int, dtype=np.int8) -> np.ndarray:
    info = np.iinfo(dtype)
    q = round_half_away_np(data.astype(np.float64) / scale) + zp
    return np.clip(q, info.min, info.max).astype(dtype)


def calibrate(graph: Graph, samples: list[np.ndarray], tier: str | None = None) -> dict[int, tuple[float, float]]:
    """(min, max) of every float activation tensor over the calibration samples."""
    produced = []
    for op in graph.ops:
        for t in op.outputs:
            if t >= 0 and graph.tensors[t].dtype == "f32" and not graph.tensors[t].is_const \
                    and t not in produced:
                produced.append(t)
    ranges = {t: (float(x.min()), float(x.max())) for t, x in zip(graph.inputs, samples)}
    if produced:
        for t, v in zip(produced, run_graph(graph, samples, produced, tier)):
            ranges[t] = (float(v.min()), float(v.max()))
    return ranges


# --- the rewrite ---------------------------------------------------------------------------
class _Quantizer:
    def __init__(self, graph: Graph, ranges: dict[int, tuple[float, float]], fc_per_channel: bool):
        self.g = copy.deepcopy(graph)
        self.ranges = ranges
        self.fc_per_channel = fc_per_channel
        self.ops: list[Op] = []
        self.sub: dict[int, int] = {}           # float tensor -> its int8 stand-in
        self.requant: dict[tuple, int] = {}     # (tensor, scale, zp) -> requantized copy

    def new_tensor(self, like: Tensor, name: str, dtype: str, scale=None, zp=None) -> int:
        self.g.tensors.append(Tensor(name, tuple(like.shape), dtype,
                                     [scale] if scale is not None else [],
                                     [zp] if zp is not None else []))
        return len(self.g.tensors) - 1

    def set_q(self, t: int, scale: float, zp: int) -> None:
        tensor = self.g.tensors[t]
        tensor.dtype, tensor.scale, tensor.zero_point, tensor.quantized_dimension = "i8", [f32(scale)], [zp], 0

    def range_q(self, t: int, act: str = "NONE") -> tuple[float, int]:
        if t not in self.ranges:
            raise BakeError("--quantize int8: no calibration range for tensor %r" % self.g.tensors[t].name)
        lo, hi = self.ranges[t]
        a_lo, a_hi = activation_range_float(act)   # fold the fused activation into the range
        return asymmetric_params(max(lo, a_lo), min(hi, a_hi))

    def q_of(self, t: int) -> tuple[float, int]:
        tensor = self.g.tensors[t]
        return tensor.sc, tensor.zp

    def _const_q(self, like: Tensor, data: np.ndarray, scale, zp, dim: int = 0, dtype: str = "i8") -> int:
        scales = scale if isinstance(scale, list) else [f32(scale)]
        zps = zp if isinstance(zp, list) else [zp]
        self.g.tensors.append(Tensor(like.name + ("/int8" if dtype == "i8" else "/int32"), tuple(like.shape),
                                     dtype, scales, zps, dim, data=np.ascontiguousarray(data)))
        return len(self.g.tensors) - 1

    def as_quantized(self, t: int, scale: float, zp: int) -> int:
        """Tensor t (int8 variable or float constant) carrying exactly (scale, zp)."""
        tensor = self.g.tensors[t]
        if tensor.data is not None:   # a constant
            return self._const_q(tensor, quantize_array(tensor.data, scale, zp), scale, zp)
        if self.q_of(t) == (f32(scale), zp):
            return t
        key = (t, f32(scale), zp)
        if key not in self.requant:
            r = self.new_tensor(tensor, tensor.name + "/requantized", "i8", f32(scale), zp)
            self.ops.append(Op("QUANTIZE", [t], [r]))
            self.requant[key] = r
        return self.requant[key]

    def weights(self, op: Op, ins: list[int]) -> None:
        xi, wi, bi, axis = WEIGHTED[op.kind]
        w = self.g.tensors[ins[wi]]
        if w.data is None or w.dtype != "f32":
            raise BakeError("--quantize int8: %s %r needs constant float32 weights"
                            % (op.kind, self.g.tensors[op.outputs[0]].name))
        channels = w.shape[axis]
        amax = np.abs(np.moveaxis(w.data.astype(np.float64), axis, 0).reshape(channels, -1)).max(axis=1)
        if op.kind == "FULLY_CONNECTED" and not self.fc_per_channel:
            amax = np.full(channels, amax.max())
        scales = amax / 127.0
        in_scale = self.g.tensors[ins[xi]].sc
        b = self.g.tensors[ins[bi]] if len(ins) > bi and ins[bi] >= 0 else None
        if b is not None:
            if b.data is None or b.size != channels:
                raise BakeError("--quantize int8: %s needs a constant bias of %d values" % (op.kind, channels))
            bias = b.data.astype(np.float64).reshape(-1)
            # a bias beyond int32 at in_scale*w_scale widens that weight scale (as TFLite does)
            scales = np.maximum(scales, np.abs(bias) / ((2 ** 31 - 1) * in_scale) * 1.001)
            if op.kind == "FULLY_CONNECTED" and not self.fc_per_channel:
                scales = np.full(channels, scales.max())
        scales = [f32(s) if s > 0 else 1.0 for s in scales]
        qw = scales_to_int8(w.data, axis, scales)
        if op.kind == "FULLY_CONNECTED" and not self.fc_per_channel:
            scales, axis = scales[:1], 0
        if b is not None:
            bscales = [in_scale * s for s in (scales if len(scales) > 1 else scales * channels)]
            qb = np.clip(round_half_away_np(bias / np.array(bscales)), -2 ** 31, 2 ** 31 - 1).astype(np.int32)
            bs = [f32(s) for s in bscales[:len(scales)]]
            ins[bi] = self._const_q(b, qb, bs, [0] * len(bs), 0, "i32")
        ins[wi] = self._const_q(w, qw, scales, [0] * len(scales), axis)

    def op(self, op: Op) -> None:
        if op.kind not in SUPPORTED:
            raise BakeError("--quantize int8: operator %s is not supported by the quantizer (supported: %s)"
                            % (op.kind, ", ".join(sorted(SUPPORTED))))
        ins = [self.sub.get(t, t) if t >= 0 else t for t in op.inputs]
        out_t = op.outputs[0]
        act = op.options.get("fused_activation_function", "NONE")
        variable = [k for k, t in enumerate(ins) if t >= 0 and not self.g.tensors[t].is_const
                    and self.g.tensors[t].dtype == "i8"]
        if op.kind in WEIGHTED:
            data_inputs = [WEIGHTED[op.kind][0]]
        elif op.kind in ("MEAN", "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "PAD", "TRANSPOSE", "STRIDED_SLICE"):
            data_inputs = [0]      # the rest are int32 shape/axis operands
        elif op.kind == "PADV2":
            data_inputs = [0, 2]
        else:
            data_inputs = list(range(len(ins)))
        if not variable or variable[0] not in data_inputs:
            raise BakeError("--quantize int8: %s %r has no float input computed at run time"
                            % (op.kind, self.g.tensors[out_t].name))
        first = ins[variable[0]]
        if op.kind in SAME_AS_INPUT:
            scale, zp = self.q_of(first)
        elif op.kind in FIXED_OUTPUT:
            scale, zp = FIXED_OUTPUT[op.kind]
        else:
            scale, zp = self.range_q(out_t, act)
        if op.kind in WEIGHTED:
            self.weights(op, ins)
        elif op.kind in INPUTS_AS_OUTPUT or op.kind in SAME_AS_INPUT:
            for k in data_inputs:      # a no-op for inputs already quantized so
                if ins[k] >= 0:
                    ins[k] = self.as_quantized(ins[k], scale, zp)
        else:
            for k in data_inputs:      # other float constants (ADD/MUL operands, PRELU alpha)
                t = ins[k]
                data = self.g.tensors[t].data if t >= 0 else None
                if data is not None and self.g.tensors[t].dtype == "f32":
                    lo, hi = float(data.min()), float(data.max())
                    ins[k] = self.as_quantized(t, *asymmetric_params(lo, hi))
        for k in data_inputs:
            t = ins[k]
            if t >= 0 and self.g.tensors[t].dtype == "f32":
                raise BakeError("--quantize int8: %s input %r is still float" % (op.kind, self.g.tensors[t].name))
        self.set_q(out_t, scale, zp)
        self.ops.append(Op(op.kind, ins, list(op.outputs), dict(op.options)))

    def run(self, int8_io: bool) -> Graph:
        g = self.g
        for tensor in g.tensors:
            if tensor.dtype in ("i8", "u8", "i16") and not tensor.is_const:
                raise BakeError("--quantize int8 needs a float32 model; tensor %r is already %s"
                                % (tensor.name, tensor.dtype))
        inputs = []
        for t in g.inputs:
            if g.tensors[t].dtype != "f32":
                inputs.append(t)
                continue
            scale, zp = self.range_q(t)
            if int8_io:
                self.set_q(t, scale, zp)
                inputs.append(t)
            else:
                q = self.new_tensor(g.tensors[t], g.tensors[t].name + "/int8", "i8", f32(scale), zp)
                self.ops.append(Op("QUANTIZE", [t], [q]))
                self.sub[t] = q
                inputs.append(t)
        for op in g.ops:
            self.op(op)
        outputs = []
        for t in g.outputs:
            t = self.sub.get(t, t)
            if int8_io or g.tensors[t].dtype != "i8":
                outputs.append(t)
                continue
            f = self.new_tensor(g.tensors[t], g.tensors[t].name + "/float", "f32")
            self.ops.append(Op("DEQUANTIZE", [t], [f]))
            outputs.append(f)
        g.ops, g.inputs, g.outputs = self.ops, inputs, outputs
        return g


def quantize_graph(graph: Graph, ranges: dict[int, tuple[float, float]], int8_io: bool = False,
                   fc_per_channel: bool = True) -> Graph:
    """The int8 graph (a new Graph; `graph` is left as it was)."""
    return _Quantizer(graph, ranges, fc_per_channel).run(int8_io)


# --- calibration data and the whole step ---------------------------------------------------
def calibration_samples(graph: Graph, data: np.ndarray) -> np.ndarray:
    """Calibration data as the graph's input: (samples, *input shape) in the graph's layout.

    `data` holds samples on a leading axis, each shaped like the model file's input
    (NCHW for ONNX); an input with batch 1 may drop that axis. A reader that changed
    the layout records it in graph.input_layout (per input: graph axis k is file axis
    perm[k]), applied here to each sample. Without that record, a rank-4 sample shaped
    NCHW where the graph input is NHWC is taken as NCHW (the ONNX reader's rule).
    """
    if len(graph.inputs) != 1:
        raise BakeError("--calibration takes one array; the model has %d inputs" % len(graph.inputs))
    shape = tuple(graph.tensors[graph.inputs[0]].shape)
    data = np.asarray(data)
    if len(data) == 0:
        raise BakeError("calibration data holds no samples")
    layout = getattr(graph, "input_layout", None)
    if layout:
        perms = [tuple(layout[0])]
    else:
        perms = [tuple(range(len(shape)))] + ([(0, 2, 3, 1)] if len(shape) == 4 else [])
    for perm in perms:
        file_shape = tuple(shape[perm.index(k)] for k in range(len(shape)))
        x = data
        if x.ndim == len(shape) and file_shape[0] == 1:
            x = x.reshape((x.shape[0], 1) + x.shape[1:])
        if x.ndim == len(shape) + 1 and tuple(x.shape[1:]) == file_shape:
            return np.ascontiguousarray(x.transpose([0] + [p + 1 for p in perm]), np.float32)
    file_shape = tuple(shape[perms[0].index(k)] for k in range(len(shape)))
    raise BakeError("calibration data has shape %s; the model input is %s, so give (samples, %s)"
                    % (list(data.shape), list(file_shape), ", ".join(map(str, file_shape))))


@dataclass
class Quantization:
    """What `upyflow bake --quantize int8` asks for: calibration inputs and I/O type."""
    calibration: np.ndarray
    int8_io: bool = False
    fc_per_channel: bool = True

    def apply(self, graph: Graph) -> tuple[Graph, str]:
        """(int8 graph, a report of how it agrees with the float graph on the calibration data)."""
        samples = calibration_samples(graph, self.calibration)
        ranges = calibrate(graph, [samples])
        qgraph = quantize_graph(graph, ranges, self.int8_io, self.fc_per_channel)
        return qgraph, agreement_text(graph, qgraph, samples)


def agreement(graph: Graph, qgraph: Graph, samples: np.ndarray) -> list[dict]:
    """Per output: top-1 agreement (class outputs), mean and max |int8 - float|, output range."""
    want = run_graph(graph, [samples])
    qin = qgraph.tensors[qgraph.inputs[0]]
    x = samples if qin.dtype == "f32" else quantize_array(samples, qin.sc, qin.zp)
    got = run_graph(qgraph, [x])
    rows = []
    for k, (w, q) in enumerate(zip(want, got)):
        t = qgraph.tensors[qgraph.outputs[k]]
        if t.dtype != "f32":
            q = (q.astype(np.float64) - t.zp) * t.sc
        err = np.abs(q.astype(np.float64) - w.astype(np.float64))
        row = {"mean_abs": float(err.mean()), "max_abs": float(err.max()),
               "range": float(w.max() - w.min())}
        if w.shape[-1] > 1:
            row["top1"] = float(np.mean(w.reshape(len(w), -1).argmax(1) == q.reshape(len(q), -1).argmax(1)))
        rows.append(row)
    return rows


def agreement_text(graph: Graph, qgraph: Graph, samples: np.ndarray) -> str:
    lines = ["int8 vs float on %d calibration samples:" % len(samples)]
    for k, r in enumerate(agreement(graph, qgraph, samples)):
        top = (", top-1 agreement %.1f%%" % (100 * r["top1"])) if "top1" in r else ""
        lines.append("  output %d: mean |error| %.4g, max %.4g (float output range %.4g)%s"
                     % (k, r["mean_abs"], r["max_abs"], r["range"], top))
    return "\n".join(lines)
