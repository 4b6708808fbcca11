"""TFLite Micro's Signal library (the audio front end) and the integer builtins it needs.

Custom ops SignalWindow, SignalFftAutoScale, SignalRfft (int16: kissfft's 16-bit
fixed point), SignalEnergy, SignalFilterBank, SignalFilterBankSquareRoot,
SignalFilterBankSpectralSubtraction, SignalPCAN and SignalFilterBankLog, following
TFLM's signal/src and signal/micro/kernels. (The integer builtins: CAST in quantize.py,
int32 ADD/SUB/MUL/MAXIMUM/MINIMUM and DIV in elementwise.py.)

Every input-independent number is computed here: kissfft's twiddles, its factor
plan and input permutation, the packed filter-bank tables, the log LUT. The
spectral subtraction's noise estimate is TFLM's per-op persistent state; here a
variable tensor, so Model.reset() zeroes it as TFLM's reset does.
"""
from __future__ import annotations

import math

import numpy as np

from ... import BakeError
from ...ir import Graph, Op, Tensor
from ..core import UNQUANTIZED, Call, check_size, inp, lowering, need_const

SAMP_MAX = 32767   # kissfft's int16 twiddle scale


def _out(graph: Graph, op: Op, k: int = 0) -> Tensor:
    if len(op.outputs) <= k or op.outputs[k] < 0:
        raise BakeError("operator %s needs %d outputs" % (op.kind, k + 1))
    return graph.tensors[op.outputs[k]]


def _need(graph: Graph, op: Op, tensors: list[Tensor], dtypes: list[str]) -> None:
    if [t.dtype for t in tensors] != dtypes:
        raise BakeError("operator %s with tensor types %s is not supported (TFLM runs %s)"
                        % (op.kind, "/".join(t.dtype for t in tensors), "/".join(dtypes)))


def _opt(op: Op, name: str) -> int:
    if name not in op.options:
        raise BakeError("operator %s lacks its %r option" % (op.kind, name))
    return int(op.options[name])


def _signal(kind: str, types: str, min_inputs: int = 1):
    UNQUANTIZED.add("CUSTOM(%s)" % kind)
    return lowering("CUSTOM(%s)" % kind, types, min_inputs)


@_signal("SignalWindow", "int16 input and window, int16 output", 2)
def _window(graph: Graph, op: Op) -> list[Call]:
    x, w, out = inp(graph, op, 0), need_const(graph, op, 1, "window"), _out(graph, op)
    _need(graph, op, [x, w, out], ["i16", "i16", "i16"])
    shift = _opt(op, "shift")
    if w.size < 1 or x.size % w.size or not 0 <= shift < 32:
        raise BakeError("SignalWindow %r: %d samples, a %d-value window and shift %d do not fit"
                        % (out.name, x.size, w.size, shift))
    check_size(op, out, x.size, "output")
    return [Call("signal_window_s16", x=op.inputs[0], w=op.inputs[1], out=op.outputs[0], n=x.size, wn=w.size,
                 shift=shift)]


@_signal("SignalFftAutoScale", "int16 input and output, int32 scale-bits output")
def _fft_auto_scale(graph: Graph, op: Op) -> list[Call]:
    x, out, scale = inp(graph, op, 0), _out(graph, op, 0), _out(graph, op, 1)
    _need(graph, op, [x, out, scale], ["i16", "i16", "i32"])
    check_size(op, out, x.size, "output")
    check_size(op, scale, 1, "scale bits")
    return [Call("signal_fft_auto_scale_s16", x=op.inputs[0], out=op.outputs[0], scale=op.outputs[1], n=x.size)]


def kiss_factors(n: int) -> list[tuple[int, int]]:
    """kissfft's kf_factor: (radix, remaining length) per stage, 4s first, then 2s."""
    out, p, floor_sqrt = [], 4, math.floor(math.sqrt(n))
    while True:
        while n % p:
            p = {4: 2, 2: 3}.get(p, p + 2)
            if p > floor_sqrt:
                p = n
        n //= p
        out.append((p, n))
        if n <= 1:
            return out


def kiss_permutation(n: int, factors: list[tuple[int, int]]) -> list[int]:
    """Which input element kf_work's leaves copy to each output position."""
    perm = [0] * n

    def work(out: int, src: int, fstride: int, stage: int) -> None:
        p, m = factors[stage]
        if m == 1:
            for j in range(p):
                perm[out + j] = src + j * fstride
            return
        for k in range(p):
            work(out + k * m, src + k * fstride, fstride * p, stage + 1)

    work(0, 0, 1, 0)
    return perm


def kiss_cexp(phase: float) -> tuple[int, int]:
    # KISS_FFT_COS / KISS_FFT_SIN in fixed point: floor(.5 + SAMP_MAX * cos), in double
    return math.floor(.5 + SAMP_MAX * math.cos(phase)), math.floor(.5 + SAMP_MAX * math.sin(phase))


def rfft_tables(fft_length: int) -> np.ndarray:
    """int16 [stages, (radix, m) per stage, permutation, twiddles (re, im), super twiddles]
    for kissfft's real FFT of fft_length points: a complex FFT of fft_length/2 points."""
    n = fft_length // 2
    factors = kiss_factors(n)
    pi = 3.141592653589793238462643383279502884197169399375105820974944
    tw = [kiss_cexp(-2 * pi * i / n) for i in range(n)]
    sup = [kiss_cexp(-3.14159265358979323846264338327 * ((i + 1) / n + .5)) for i in range(n // 2)]
    table = [len(factors)] + [v for pm in factors for v in pm] + kiss_permutation(n, factors)
    table += [v for c in tw + sup for v in c]
    return np.array(table, np.int16)


@_signal("SignalRfft", "int16 (kissfft 16-bit fixed point), fft_length a power of two from 4 to 4096")
def _rfft(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), _out(graph, op)
    n_fft = _opt(op, "fft_length")
    if x.dtype != "i16" or out.dtype != "i16" or op.options.get("T", 7) != 7:
        raise BakeError("SignalRfft %r: only the int16 FFT is supported (tensor types %s/%s)"
                        % (out.name, x.dtype, out.dtype))
    if n_fft < 4 or n_fft > 4096 or n_fft & (n_fft - 1):
        raise BakeError("SignalRfft %r: fft_length %d; upyflow runs powers of two from 4 to 4096"
                        % (out.name, n_fft))
    n_in = x.shape[-1] if x.shape else 1
    frames = x.size // n_in if n_in else 0
    if n_in > n_fft or not x.shape or frames * n_in != x.size:
        raise BakeError("SignalRfft %r: frames of %d samples for a %d-point FFT" % (out.name, n_in, n_fft))
    check_size(op, out, frames * (n_fft + 2), "output")
    tables = graph.add_const(out.name + "/kissfft", rfft_tables(n_fft), "i16")
    return [Call("signal_rfft_s16", x=op.inputs[0], t=tables, out=op.outputs[0], frames=frames, n_in=n_in,
                 n=n_fft // 2)]


@_signal("SignalEnergy", "int16 complex spectrum -> uint32 energies")
def _energy(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), _out(graph, op)
    _need(graph, op, [x, out], ["i16", "u32"])
    start, end = _opt(op, "start_index"), _opt(op, "end_index")
    if not 0 <= start <= end <= out.size or 2 * out.size > x.size:
        raise BakeError("SignalEnergy %r: bins %d..%d of a %d-bin spectrum" % (out.name, start, end, out.size))
    return [Call("signal_energy", x=op.inputs[0], out=op.outputs[0], start=start, end=end)]


@_signal("SignalFilterBank", "uint32 energies, int16 tables -> uint64 channels", 6)
def _filter_bank(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), _out(graph, op)
    tabs = [need_const(graph, op, k, w) for k, w in
            ((1, "weights"), (2, "unweights"), (3, "channel frequency starts"),
             (4, "channel weight starts"), (5, "channel widths"))]
    _need(graph, op, [x] + tabs + [out], ["u32"] + ["i16"] * 5 + ["u64"])
    nch = _opt(op, "num_channels")
    w, uw, fstart, wstart, width = (t.const_data.reshape(-1).astype(np.int64) for t in tabs)
    if out.size != nch or len(w) != len(uw) or any(len(a) < nch + 1 for a in (fstart, wstart, width)):
        raise BakeError("SignalFilterBank %r: %d channels do not fit its tables" % (out.name, nch))
    for i in range(nch + 1):   # every index the kernel reads must be inside its tensor
        if width[i] < 0 or fstart[i] < 0 or wstart[i] < 0 or fstart[i] + width[i] > x.size \
                or wstart[i] + width[i] > len(w):
            raise BakeError("SignalFilterBank %r: channel %d reaches outside its input or weights"
                            % (out.name, i))
    packed = np.concatenate([w, uw, fstart[:nch + 1], wstart[:nch + 1], width[:nch + 1]]).astype(np.int16)
    t = graph.add_const(out.name + "/filter_bank", packed, "i16")
    return [Call("signal_filter_bank", x=op.inputs[0], t=t, out=op.outputs[0], nch=nch, nw=len(w))]


@_signal("SignalFilterBankSquareRoot", "uint64 channels, int32 scale bits -> uint32", 2)
def _fb_sqrt(graph: Graph, op: Op) -> list[Call]:
    x, bits, out = inp(graph, op, 0), inp(graph, op, 1), _out(graph, op)
    _need(graph, op, [x, bits, out], ["u64", "i32", "u32"])
    check_size(op, out, x.size, "output")
    check_size(op, bits, 1, "scale bits")
    return [Call("signal_filter_bank_sqrt", x=op.inputs[0], bits=op.inputs[1], out=op.outputs[0], n=x.size)]


@_signal("SignalFilterBankSpectralSubtraction", "uint32 (noise estimate kept as state)")
def _spectral_subtraction(graph: Graph, op: Op) -> list[Call]:
    x, out, noise = inp(graph, op, 0), _out(graph, op, 0), _out(graph, op, 1)
    _need(graph, op, [x, out, noise], ["u32", "u32", "u32"])
    n = _opt(op, "num_channels")
    if x.size != n or out.size != n or noise.size != n:
        raise BakeError("SignalFilterBankSpectralSubtraction %r: %d channels, tensors of %d/%d/%d"
                        % (out.name, n, x.size, out.size, noise.size))
    names = ("smoothing", "one_minus_smoothing", "alternate_smoothing", "alternate_one_minus_smoothing",
             "min_signal_remaining", "smoothing_bits", "spectral_subtraction_bits")
    params = [_opt(op, k) for k in names]
    if not all(0 <= v < 1 << 31 for v in params) or params[5] > 31 or params[6] > 63:
        raise BakeError("SignalFilterBankSpectralSubtraction %r: options out of range" % out.name)
    graph.tensors.append(Tensor(out.name + "/noise_estimate", (n,), "u32", variable=True))
    state = len(graph.tensors) - 1
    sm, oms, alt_sm, alt_oms, min_rem, sm_bits, ss_bits = params
    return [Call("signal_spectral_subtraction", x=op.inputs[0], out=op.outputs[0], noise=op.outputs[1], state=state,
                 n=n, sm=sm, oms=oms, alt_sm=alt_sm, alt_oms=alt_oms, min_rem=min_rem, sm_bits=sm_bits,
                 ss_bits=ss_bits, clamping=int(bool(op.options.get("clamping", False))))]


@_signal("SignalPCAN", "uint32 channels and noise estimate, int16 gain LUT -> uint32", 3)
def _pcan(graph: Graph, op: Op) -> list[Call]:
    x, noise, lut, out = inp(graph, op, 0), inp(graph, op, 1), need_const(graph, op, 2, "gain LUT"), _out(graph, op)
    _need(graph, op, [x, noise, lut, out], ["u32", "u32", "i16", "u32"])
    check_size(op, noise, x.size, "noise estimate")
    check_size(op, out, x.size, "output")
    # WideDynamicFunction reads lut[4 * msb(x) - 6 + 2] for msb(x) up to 32
    if lut.size < 4 * 32 - 6 + 3:
        raise BakeError("SignalPCAN %r: gain LUT of %d values, it needs %d" % (out.name, lut.size, 4 * 32 - 3))
    shift = _opt(op, "snr_shift")
    if not 0 <= shift < 64:
        raise BakeError("SignalPCAN %r: snr_shift %d" % (out.name, shift))
    return [Call("signal_pcan", x=op.inputs[0], noise=op.inputs[1], lut=op.inputs[2], out=op.outputs[0], n=x.size,
                 snr_shift=shift)]


def log_lut() -> np.ndarray:
    """TFLM's kLogLut: the correction of log2(1 + f) over the chord f, 128 segments in Q16."""
    v = [round(65536 * (math.log2(1 + i / 128) - i / 128)) for i in range(129)]
    return np.array(v + [0], np.int16)


@_signal("SignalFilterBankLog", "uint32 -> int16")
def _fb_log(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), _out(graph, op)
    _need(graph, op, [x, out], ["u32", "i16"])
    check_size(op, out, x.size, "output")
    scale, bits = _opt(op, "output_scale"), _opt(op, "input_correction_bits")
    if not 0 <= bits < 32 or not 0 <= scale < 1 << 31:
        raise BakeError("SignalFilterBankLog %r: input_correction_bits %d, output_scale %d"
                        % (out.name, bits, scale))
    t = graph.add_const(out.name + "/log_lut", log_lut(), "i16")
    return [Call("signal_filter_bank_log", x=op.inputs[0], lut=t, out=op.outputs[0], n=x.size, out_scale=scale,
                 bits=bits)]
