"""Standalone activations: RELU, RELU6, RELU_N1_TO_1, LEAKY_RELU, HARD_SWISH, LOGISTIC,
TANH and PRELU.

An int8 unary activation's output depends only on the input byte, so its TFLM
arithmetic runs here once per possible input value and the device looks the
result up in a 256-byte table (`lut_s8`). int16 ones keep a device kernel, with
every multiplier and table prepared here.
"""
from __future__ import annotations

import math

import numpy as np

from upyflow.qmath import INT32_MAX, exp_on_negative, inv_sqrt_qm, mul_by_qm, one_over_one_plus_x, rdbypot, sat_shl

from ... import BakeError
from ...ir import Graph, Op, Tensor
from ...kernel_spec import SHIFT
from ...quant import FLOAT_MAX, QRANGE, checked_log2, f32, quantize_multiplier, quantize_value, round_half_away
from ..core import Call, check_size, inp, lowering, need_const, types_error

INT8_VALUES = np.arange(-128, 128)
IDENTITY_QM = (1 << 30, 1)      # (multiplier, shift) that mul_by_qm maps to x exactly


# --- gemmlowp fixed point (int32 raw values) used by TFLM's int8 logistic and tanh ------
def fp_logistic(a: int) -> int:
    """gemmlowp::logistic of a Q4.27 raw value, Q0.31 result."""
    if a == 0:
        return 1 << 30
    pos = sat_shl(one_over_one_plus_x(exp_on_negative(-abs(a), 4)), 1)
    return pos if a > 0 else INT32_MAX - pos


def fp_tanh(a: int) -> int:
    """gemmlowp::tanh of a Q4.27 raw value, Q0.31 result (exp with one more integer bit)."""
    if a == 0:
        return 0
    t = sat_shl(one_over_one_plus_x(exp_on_negative(-abs(a), 5)) - (1 << 29), 2)
    return -t if a < 0 else t


# --- int16 gemmlowp helpers of TFLM's int8 HARD_SWISH --------------------------------------
def _wrap16(v: int) -> int:
    return ((v + 32768) & 0xFFFF) - 32768


def _srdhm16(a: int, b: int) -> int:
    if a == b == -32768:
        return 32767
    ab = a * b
    nudged = ab + (1 << 14 if ab >= 0 else 1 - (1 << 14))
    q = abs(nudged) >> 15   # C division truncates toward zero
    return _wrap16(q if nudged >= 0 else -q)


def _sdhm16(a: int, b: int) -> int:
    # SaturatingDoublingHighMul: truncating division, no rounding nudge
    if a == b == -32768:
        return 32767
    ab = a * b
    q = abs(ab) >> 15
    return _wrap16(q if ab >= 0 else -q)


def _sat_shl16(v: int, amount: int) -> int:
    return max(-32768, min(32767, v * (1 << amount)))


def _rdbypot16(x: int, exponent: int) -> int:
    # gemmlowp's RoundingDivideByPOT on int16: the mask is cut to 16 bits, so an
    # exponent of 16 or more gives +-1 (TFLM's result for very small multipliers)
    mask = _wrap16((1 << exponent) - 1)
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return _wrap16((x >> exponent) + (1 if (x & mask) > threshold else 0))


def _downscale16(m: int) -> int:
    return 32767 if m >= INT32_MAX - (1 << 15) else (m + (1 << 15)) >> 16


# --- helpers ------------------------------------------------------------------------------
def _unary(graph: Graph, op: Op) -> tuple[Tensor, Tensor]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    check_size(op, out, x.size, "output")
    return x, out


def _lut_call(graph: Graph, op: Op, table: list[int]) -> list[Call]:
    """The int8 table lookup; table[i] is the output for input value i - 128."""
    arr = np.clip(np.array(table, np.int64), -128, 127).astype(np.int8)
    t = graph.add_const(graph.tensors[op.outputs[0]].name + "/lut", arr, "i8")
    return [Call("lut_s8", x=op.inputs[0], table=t, out=op.outputs[0], n=inp(graph, op, 0).size)]


def _qm_float(real_f32: float) -> tuple[int, int]:
    """QuantizeMultiplier of a ratio TFLM computes in float32, then widens to double."""
    return quantize_multiplier(f32(real_f32))


def _clamped_requant(graph: Graph, op: Op, x: Tensor, out: Tensor, lo_real: float | None,
                     hi_real: float | None) -> list[Call]:
    """RELU / RELU_N1_TO_1: requantize to the output scale, clamp at real lo/hi."""
    qmin, qmax = QRANGE[out.dtype]
    m, s = quantize_multiplier(x.sc / out.sc)     # the TFLM interpreter divides in double
    # TFLM: zero point + (int) roundf(bound / output scale)
    amin = qmin if lo_real is None else max(qmin, out.zp + quantize_value(lo_real, out.sc, 0))
    amax = qmax if hi_real is None else min(qmax, out.zp + quantize_value(hi_real, out.sc, 0))
    if x.dtype == "i8":
        vals = INT8_VALUES
        return _lut_call(graph, op, [min(amax, max(amin, out.zp + mul_by_qm(int(v) - x.zp, m, s)))
                                     for v in vals])
    return [Call("requantize", x=op.inputs[0], out=op.outputs[0], n=x.size, in_zp=x.zp, mult=m, shift=s,
                 out_zp=out.zp, qmin=amin, qmax=amax)]


def _types(op: Op, graph: Graph, x: Tensor, out: Tensor, allowed: tuple[str, ...]) -> None:
    if x.dtype != out.dtype or x.dtype not in allowed:
        raise types_error(op, graph)


# --- RELU family --------------------------------------------------------------------------
@lowering("RELU", "int8, int16 (zero points 0), float32")
def _relu(graph: Graph, op: Op) -> list[Call]:
    x, out = _unary(graph, op)
    _types(op, graph, x, out, ("i8", "i16", "f32"))
    if x.dtype == "f32":
        return [Call("clamp_f32", x=op.inputs[0], out=op.outputs[0], n=x.size, lo=0.0, hi=FLOAT_MAX)]
    if x.dtype == "i16" and (x.zp or out.zp):
        raise BakeError("RELU %r: int16 tensors need zero point 0" % out.name)
    return _clamped_requant(graph, op, x, out, 0.0, None)


@lowering("RELU_N1_TO_1", "int8, int16 (zero points 0), float32 (TFLite semantics: TFLM has no kernel)")
def _relu_n1_to_1(graph: Graph, op: Op) -> list[Call]:
    x, out = _unary(graph, op)
    _types(op, graph, x, out, ("i8", "i16", "f32"))
    if x.dtype == "f32":
        return [Call("clamp_f32", x=op.inputs[0], out=op.outputs[0], n=x.size, lo=-1.0, hi=1.0)]
    if x.dtype == "i16" and (x.zp or out.zp):
        raise BakeError("RELU_N1_TO_1 %r: int16 tensors need zero point 0" % out.name)
    return _clamped_requant(graph, op, x, out, -1.0, 1.0)


@lowering("RELU6", "int8, int16, float32 (as TFLM: clamps the input values, no requantization)")
def _relu6(graph: Graph, op: Op) -> list[Call]:
    x, out = _unary(graph, op)
    _types(op, graph, x, out, ("i8", "i16", "f32"))
    if x.dtype == "f32":
        return [Call("clamp_f32", x=op.inputs[0], out=op.outputs[0], n=x.size, lo=0.0, hi=6.0)]
    qmin, qmax = QRANGE[x.dtype]
    # TFLM ignores the output quantization: it clamps the raw input at its 0 and 6
    zero, six = x.zp, max(qmin, min(qmax, quantize_value(6.0, x.sc, x.zp)))
    if x.dtype == "i8":
        return _lut_call(graph, op, [min(six, max(zero, int(v))) for v in INT8_VALUES])
    m, s = IDENTITY_QM
    return [Call("requantize", x=op.inputs[0], out=op.outputs[0], n=x.size, in_zp=0, mult=m, shift=s, out_zp=0,
                 qmin=zero, qmax=six)]


# --- LEAKY_RELU ---------------------------------------------------------------------------
def leaky_params(x: Tensor, out: Tensor, alpha: float) -> list[int]:
    """[in_zp, identity multiplier, shift, |alpha multiplier|, shift, alpha < 0, out_zp]."""
    # the TFLM interpreter divides in double here (older TFLM, and the seanet goldens, in float)
    m_id, s_id = quantize_multiplier(x.sc / out.sc)
    m_al, s_al = quantize_multiplier(x.sc * float(np.float32(alpha)) / out.sc)
    return [x.zp, m_id, s_id, abs(m_al), s_al, int(m_al < 0), out.zp]


@lowering("LEAKY_RELU", "int8, int16, float32")
def _leaky_relu(graph: Graph, op: Op) -> list[Call]:
    x, out = _unary(graph, op)
    _types(op, graph, x, out, ("i8", "i16", "f32"))
    alpha = float(op.options.get("alpha", 0.0))
    if not np.isfinite(alpha):   # as float constants: the tiers would disagree on NaN/inf arithmetic
        raise BakeError("LEAKY_RELU %r: alpha %s is not finite" % (out.name, alpha))
    if x.dtype == "f32":
        return [Call("leaky_relu_f32", x=op.inputs[0], out=op.outputs[0], n=x.size, alpha=alpha)]
    p = leaky_params(x, out, alpha)
    qmin, qmax = QRANGE[x.dtype]
    if x.dtype == "i8":
        in_zp, m_id, s_id, m_al, s_al, neg, out_zp = p
        # the shift range leaky_relu_q's spec gives the int16 kernel: TFLM shifts an int32 by it
        for what, sh in (("identity", s_id), ("alpha", s_al)):
            if not SHIFT[0] <= sh <= SHIFT[1]:
                raise BakeError("LEAKY_RELU %r: %s shift %d is outside [%d, %d] (extreme alpha or scales?); "
                                "upyflow's kernels cannot run it" % (out.name, what, sh, SHIFT[0], SHIFT[1]))
        table = []
        for v in INT8_VALUES:
            d = int(v) - in_zp
            if d >= 0:
                r = mul_by_qm(d, m_id, s_id)
            else:
                r = mul_by_qm(d, m_al, s_al)
                r = -r if neg else r
            table.append(out_zp + r)
        return _lut_call(graph, op, table)
    in_zp, m_id, s_id, m_al, s_al, neg, out_zp = p
    return [Call("leaky_relu_q", x=op.inputs[0], out=op.outputs[0], n=x.size, in_zp=in_zp, m_id=m_id, s_id=s_id,
                 m_al=m_al, s_al=s_al, neg=neg, out_zp=out_zp, qmin=qmin, qmax=qmax)]


# --- HARD_SWISH ---------------------------------------------------------------------------
@lowering("HARD_SWISH", "int8, float32")
def _hard_swish(graph: Graph, op: Op) -> list[Call]:
    x, out = _unary(graph, op)
    _types(op, graph, x, out, ("i8", "f32"))
    if x.dtype == "f32":
        return [Call("hard_swish_f32", x=op.inputs[0], out=op.outputs[0], n=x.size)]
    hires = np.float32(np.float32(1.0 / 128.0) * np.float32(x.sc))
    m32, out_exp = _qm_float(hires / np.float32(out.sc))
    r32, r_exp = _qm_float(hires / np.float32(3.0 / 32768.0))
    if out_exp > 0:
        raise BakeError("HARD_SWISH %r: output scale below input scale / 64 is not supported (as TFLM)"
                        % out.name)
    m16, r16 = _downscale16(m32), _downscale16(r32)
    table = []
    for v in INT8_VALUES:
        hi = (int(v) - x.zp) * 128
        pre_out = _srdhm16(hi, m16)
        rel = hi
        if r_exp > 0:
            rel = _sat_shl16(rel, r_exp - 1)
        rel = _srdhm16(rel, r16)
        if r_exp > 0:
            rel = _sat_shl16(rel, 1)
        elif r_exp < 0:
            rel = _rdbypot16(rel, -r_exp)
        rel = (rel + 32768) >> 1
        o = _rdbypot16(_sdhm16(rel, pre_out), -out_exp)
        table.append(_wrap16(o + out.zp))
    return _lut_call(graph, op, table)


# --- LOGISTIC and TANH --------------------------------------------------------------------
def _int8_fixedpoint_params(scale: float) -> tuple[int, int, int]:
    """(multiplier, left shift, input radius) putting int8 differences into Q4.27."""
    q, shift = math.frexp(scale * float(1 << 27))
    mult = round_half_away(q * (1 << 31))
    radius = math.floor(15.0 * (1 << 27) / 2.0 ** shift)
    return mult, shift, radius


def _int8_fixedpoint_lut(x: Tensor, fn, out_shift: int, out_zp: int) -> list[int]:
    mult, shift, radius = _int8_fixedpoint_params(x.sc)
    table = []
    for v in INT8_VALUES:
        d = int(v) - x.zp
        if d <= -radius:
            table.append(-128)
        elif d >= radius:
            table.append(127)
        else:
            table.append(rdbypot(fn(mul_by_qm(d, mult, shift)), out_shift) + out_zp)
    return table


def int16_sigmoid_params(op: Op, x: Tensor, out: Tensor, pot_shifts: tuple[int, ...]) -> list[int]:
    """(multiplier, right shift) of TFLM's int16 LOGISTIC/TANH input rescaling (x3/4 folded in)."""
    if x.zp or out.zp:
        raise BakeError("%s %r: int16 tensors need zero point 0" % (op.kind, out.name))
    ok, lg = checked_log2(out.sc)
    if not ok or lg != -15:
        raise BakeError("%s %r: int16 output scale must be 2^-15 (is %g)" % (op.kind, out.name, out.sc))
    pot, lg_in = checked_log2(x.sc)
    shift = 12 + lg_in
    if pot and shift in pot_shifts:
        return [3 << shift, 0]
    m, shift = x.sc * 4096.0 * 3.0, 0
    while m <= 32767.0 / 2.0 and shift <= 30:
        shift += 1
        m *= 2.0
    return [int(m), shift]


def sigmoid_table_values() -> np.ndarray:
    """TFLM's int16 sigmoid table: sigmoid(i/24) for i in 0..254 in Q0.16, raised by half
    the linear interpolation's error at the middle of each step; the top entry is the
    saturated 65535. Stored minus 32768 to fit int16."""
    def s(i):
        return 65536.0 / (1.0 + math.exp(-i / 24.0))
    vals = [int(math.floor(s(i) + (s(i + 0.5) - (s(i) + s(i + 1)) / 2) / 2 + 0.5)) for i in range(255)]
    return np.array(vals + [65535], np.int64) - 32768


def sigmoid_table(graph: Graph) -> int:
    """The sigmoid table (sigmoid_table_values) as a constant, shared per graph by the int16
    LOGISTIC and TANH kernels and lstm_s8."""
    return _shared_const(graph, "upyflow/sigmoid_table", sigmoid_table_values)


def _sigmoid_shaped(graph: Graph, op: Op, kind: str, fp, bits: int, lut_zp: int, zps: tuple,
                    out_zp_i8: int | None = None) -> list[Call]:
    # LOGISTIC and TANH: float32 kernel, int8 table, int16 interpolated sigmoid table.
    x, out = _unary(graph, op)
    _types(op, graph, x, out, ("i8", "i16", "f32"))
    if x.dtype == "f32":
        return [Call(kind + "_f32", x=op.inputs[0], out=op.outputs[0], n=x.size)]
    if x.dtype == "i8":
        if out_zp_i8 is not None and out.zp != out_zp_i8:
            raise BakeError("%s %r: int8 output zero point must be %d" % (op.kind, out.name, out_zp_i8))
        return _lut_call(graph, op, _int8_fixedpoint_lut(x, fp, bits, lut_zp))
    mult, shift = int16_sigmoid_params(op, x, out, zps)
    return [Call(kind + "_s16", x=op.inputs[0], table=sigmoid_table(graph), out=op.outputs[0], n=x.size,
                 mult=mult, shift=shift)]


@lowering("LOGISTIC", "int8 (output zero point -128), int16 (zero points 0, output scale 2^-15), float32")
def _logistic(graph: Graph, op: Op) -> list[Call]:
    return _sigmoid_shaped(graph, op, "logistic", fp_logistic, 23, -128, (0,), out_zp_i8=-128)


@lowering("TANH", "int8, int16 (zero points 0, output scale 2^-15), float32")
def _tanh(graph: Graph, op: Op) -> list[Call]:
    # int8: TFLM writes Q0.7 whatever the output quantization says
    return _sigmoid_shaped(graph, op, "tanh", fp_tanh, 24, 0, (0, 1))


# --- PRELU --------------------------------------------------------------------------------
def _alpha_period(alpha: np.ndarray, out_shape: tuple[int, ...]) -> np.ndarray:
    """alpha broadcast to the output, cut to its shortest repeating tail (the kernel reads
    alpha[i % period]); the whole broadcast array when it does not repeat."""
    full = np.broadcast_to(alpha, out_shape).reshape(-1)
    n = full.size
    period = 1
    for d in reversed(out_shape):
        if np.array_equal(full, np.tile(full[:period], n // max(period, 1))):
            break
        period *= d
    return full[:period]


@lowering("PRELU", "int8 and int16 input (int8 constant alpha, broadcast); float32", min_inputs=2)
def _prelu(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    a = need_const(graph, op, 1, "alpha")
    check_size(op, out, x.size, "output")
    try:   # alpha must broadcast *to* the output, not widen it
        if np.broadcast_shapes(tuple(a.shape), tuple(out.shape)) != tuple(out.shape):
            raise ValueError
    except ValueError:
        raise BakeError("PRELU %r: alpha shape %s does not broadcast to %s"
                        % (out.name, list(a.shape), list(out.shape))) from None
    if x.dtype == out.dtype == a.dtype == "f32":
        al = graph.add_const(out.name + "/alpha", _alpha_period(a.const_data, out.shape).astype(np.float32), "f32")
        period = graph.tensors[al].size
        return [Call("prelu_f32", x=op.inputs[0], alpha=al, out=op.outputs[0], n=x.size, period=period)]
    if not (x.dtype == out.dtype and x.dtype in ("i8", "i16") and a.dtype == "i8"):
        raise types_error(op, graph)
    if x.dtype == "i16" and (x.zp or out.zp):
        raise BakeError("PRELU %r: int16 tensors need zero point 0" % out.name)
    # TFLM: both ratios in double
    m1, s1 = quantize_multiplier(x.sc / out.sc)
    m2, s2 = quantize_multiplier(x.sc * a.sc / out.sc)
    alpha = _alpha_period(a.const_data.astype(np.int64) - a.zp, out.shape)
    al = graph.add_const(out.name + "/alpha_offset", alpha, "i16")
    qmin, qmax = QRANGE[x.dtype]
    return [Call("prelu_q", x=op.inputs[0], alpha=al, out=op.outputs[0], n=x.size, period=alpha.size,
                 in_zp=x.zp, m1=m1, s1=s1, m2=m2, s2=s2, out_zp=out.zp, qmin=qmin, qmax=qmax)]


# --- int16 SOFTMAX tables -----------------------------------------------------------------
def int16_lut(fn, in_scale: float, in_zp: int, out_scale: float) -> np.ndarray:
    """TFLM's 513-entry interpolated int16 table of fn (LUTPopulate<int16_t>), in float32
    exactly as TFLM computes it; output zero point 0."""
    F = np.float32
    in_scale, out_scale = F(in_scale), F(out_scale)
    in_min, in_max = in_scale * F(-32768 - in_zp), in_scale * F(32767 - in_zp)
    out_min, out_max = out_scale * F(-32768), out_scale * F(32767)
    step = (in_max - in_min) / F(512)
    half = step / F(2)
    inv = F(65536) / (out_max - out_min)

    def rnd(v):
        return F(round_half_away(float(v)))

    lut = []
    for i in range(512):
        lo = in_min + F(i) * step
        val, mid, nxt = fn(lo), fn(lo + half), fn(in_min + F(i + 1) * step)
        sample = rnd(val * inv)
        interp = rnd((nxt * inv + rnd(val * inv)) / F(2))
        bias = rnd((interp - rnd(mid * inv)) / F(2))
        lut.append(min(max(sample - bias, F(-32768)), F(32767)))
    lut.append(min(max(rnd(fn(in_max) * inv), F(-32768)), F(32767)))
    return np.array(lut, np.float64).astype(np.int16)


def _expf(v: np.float32) -> np.float32:
    return np.float32(math.exp(float(v)))


def _one_over_one_plus(v: np.float32) -> np.float32:
    return np.float32(1.0) / (np.float32(1.0) + v)


def _shared_const(graph: Graph, name: str, make) -> int:
    # one copy per graph of a table that depends on nothing but its name
    for i, t in enumerate(graph.tensors):
        if t.name == name and t.is_const:
            return i
    return graph.add_const(name, make(), "i16")


def softmax16_tables(graph: Graph) -> tuple[int, int]:
    """Constant tensors of TFLM's int16 softmax exp and 1/(1+x) tables."""
    rng = 65535
    return (_shared_const(graph, "upyflow/softmax16_exp", lambda: int16_lut(_expf, 10.0 / rng, 32767, 2.0 / rng)),
            _shared_const(graph, "upyflow/softmax16_recip",
                          lambda: int16_lut(_one_over_one_plus, 1.0 / rng, -32768, 2.0 / rng)))


# --- float32 maths: ABS, NEG, SQRT, RSQRT, EXP, LOG (and int8/int16 ABS, int8 RSQRT) -----------
UNARY_F32_OP = {"ABS": 0, "NEG": 1, "SQRT": 2, "RSQRT": 3, "EXP": 4, "LOG": 5, "FLOOR": 8, "CEIL": 9, "ROUND": 10,
                "SIN": 12, "COS": 13}


def _unary_f32(graph: Graph, op: Op) -> list[Call]:
    x, out = _unary(graph, op)
    if op.kind == "ABS" and x.dtype == out.dtype == "i8":
        return _abs_s8(graph, op, x, out)
    if op.kind == "ABS" and x.dtype == out.dtype == "i16":
        return _abs_s16(op, x, out)
    if op.kind == "RSQRT" and x.dtype == out.dtype == "i8":
        return _rsqrt_s8(graph, op, x, out)
    if op.kind == "RSQRT" and x.dtype == out.dtype == "i16":
        return _rsqrt_s16(op, x, out)
    _types(op, graph, x, out, ("f32",))
    return [Call("unary_f32", x=op.inputs[0], out=op.outputs[0], n=x.size, op=UNARY_F32_OP[op.kind])]


def _abs_multiplier(x: Tensor, out: Tensor) -> tuple[int, int]:
    # The float32 scales divided in double: the interpreter's multiplier (a float32 quotient, as
    # elementwise.cc reads, differs in the last bit for some scale pairs: tests show TFLM's bytes)
    return quantize_multiplier(f32(x.sc) / f32(out.sc))


def _abs_s8(graph: Graph, op: Op, x: Tensor, out: Tensor) -> list[Call]:
    # TFLM's elementwise.cc: |x - in_zp|, rescaled by in_scale / out_scale when the scales differ,
    # plus out_zp; a table of the 256 inputs
    if f32(x.sc) == f32(out.sc):
        vals = [abs(int(v) - x.zp) + out.zp for v in INT8_VALUES]
    else:
        m, s = _abs_multiplier(x, out)
        vals = [mul_by_qm(abs(int(v) - x.zp), m, s) + out.zp for v in INT8_VALUES]
    return _lut_call(graph, op, vals)


def _abs_s16(op: Op, x: Tensor, out: Tensor) -> list[Call]:
    # TFLM's elementwise.cc: zero points 0, |x| as an int32 times in_scale / out_scale when the
    # scales differ (MultiplyByQuantizedMultiplier), clamped to int16. leaky_relu_q with the negative
    # side's result negated computes it: the rounding is symmetric, so -(m * x) == m * |x| unless
    # TFLM's int32 shift wraps |x| << shift to INT32_MIN (shift >= 16), refused.
    if not x.scale or not out.scale:
        raise BakeError("ABS %r: int16 without quantization parameters is not supported (int8, quantized int16 "
                        "and float32 are)" % out.name)
    if x.zp or out.zp:
        raise BakeError("ABS %r: int16 tensors need zero points 0 (TFLM)" % out.name)
    m, s = IDENTITY_QM
    if f32(x.sc) != f32(out.sc):
        m, s = _abs_multiplier(x, out)
    if s >= 16:
        raise BakeError("ABS %r: the input scale is %g times the output's (>= 2^15); TFLM's int32 product "
                        "overflows" % (out.name, x.sc / out.sc))
    return [Call("leaky_relu_q", x=op.inputs[0], out=op.outputs[0], n=x.size, in_zp=0, m_id=m, s_id=s, m_al=m,
                 s_al=s, neg=1, out_zp=0, qmin=-32768, qmax=32767)]


def _rsqrt_multiplier(x: Tensor, out: Tensor) -> tuple[int, int]:
    # 1 / (sqrt(in_scale) * out_scale) of the float32 scales in double: the interpreter's bytes
    # (int16 exhaustive tests) show double maths where elementwise.cc reads a float32 sqrt and product
    return quantize_multiplier(1.0 / (math.sqrt(f32(x.sc)) * f32(out.sc)))


def _rsqrt_s8(graph: Graph, op: Op, x: Tensor, out: Tensor) -> list[Call]:
    # TFLM's elementwise.cc RsqrtEvalQuantized: 1/sqrt(x - in_zp) as a multiplier/shift pair,
    # times 1 << 20, rescaled by 1 / (sqrt(in_scale) * out_scale); 0 gives the largest value.
    # Below the zero point TFLM fails: the table gives the largest value there too.
    m, s = _rsqrt_multiplier(x, out)
    vals = []
    for v in INT8_VALUES:
        d = int(v) - x.zp
        if d <= 0:
            vals.append(127)
            continue
        im, ish = inv_sqrt_qm(d)
        vals.append(mul_by_qm(mul_by_qm(1, im, ish + 20), m, s - 20) + out.zp)
    return _lut_call(graph, op, vals)


def _rsqrt_s16(op: Op, x: Tensor, out: Tensor) -> list[Call]:
    # The same per element on the device (rsqrt_s16), zero points 0; TFLM's second multiply shifts
    # by shift - 20, refused outside the int32 requantization's [-31, 30] (TFLM's shift is undefined C)
    if x.zp or out.zp:
        raise BakeError("RSQRT %r: int16 tensors need zero points 0 (TFLM)" % out.name)
    m, s = _rsqrt_multiplier(x, out)
    if not SHIFT[0] <= s - 20 <= SHIFT[1]:
        raise BakeError("RSQRT %r: scales %g (input) and %g (output) put TFLM's output shift at %d, outside "
                        "[-31, 30]" % (out.name, x.sc, out.sc, s - 20))
    return [Call("rsqrt_s16", x=op.inputs[0], out=op.outputs[0], n=x.size, mult=m, shift=s - 20)]


for _kind in UNARY_F32_OP:
    lowering(_kind, {"ABS": "int8, int16 (zero points 0), float32",
                     "RSQRT": "int8, int16 (zero points 0), float32"}.get(_kind, "float32"))(
        _unary_f32)


# --- GELU: float32 on the device; int8 as TFLite's table of the float function -----------------
def gelu_value(v: float, approximate: bool) -> float:
    """TFLite's GeluTransform / GeluTransformApproximate of one float32 value (double maths,
    rounded to float32 as the C++ returns it)."""
    v = f32(v)
    if approximate:
        return f32(0.5 * v * (1.0 + math.tanh(0.7978845608028654 * f32(v + f32(f32(f32(0.044715 * v) * v) * v)))))
    return f32(f32(0.5 * v) * (1.0 + math.erf(v * 0.7071067811865476)))


@lowering("GELU", "int8 (TFLite's 256-entry table); float32; approximate (tanh) or exact (erf)")
def _gelu(graph: Graph, op: Op) -> list[Call]:
    x, out = _unary(graph, op)
    approximate = bool(op.options.get("approximate", False))
    if x.dtype == out.dtype == "i8":
        # TFLite's LUTPopulate: dequantize in float32, transform, round(y / out_scale) + zp, clamped
        inv = f32(1.0 / f32(out.sc))
        table = [round_half_away(f32(gelu_value(f32(f32(x.sc) * float(v - x.zp)), approximate) * inv)) + out.zp
                 for v in INT8_VALUES]
        return _lut_call(graph, op, table)
    _types(op, graph, x, out, ("f32",))
    return [Call("unary_f32", x=op.inputs[0], out=op.outputs[0], n=x.size, op=7 if approximate else 6)]


@lowering("L2_NORMALIZATION", "int8 (output scale 1/128, zero point 0, as TFLM); float32; over the last axis")
def _l2_normalization(graph: Graph, op: Op) -> list[Call]:
    x, out = _unary(graph, op)
    if op.options.get("fused_activation_function", "NONE") != "NONE":
        raise BakeError("L2_NORMALIZATION %r: a fused activation is not supported" % out.name)
    depth = x.shape[-1] if x.shape else 1
    rows = x.size // max(depth, 1)
    if x.dtype == out.dtype == "i8":
        if f32(out.sc) != f32(1.0 / 128) or out.zp != 0:   # TFLM's Prepare requires them
            raise BakeError("L2_NORMALIZATION %r: int8 output needs scale 1/128 and zero point 0 (TFLM)"
                            % out.name)
        return [Call("l2norm_s8", x=op.inputs[0], out=op.outputs[0], rows=rows, depth=depth, in_zp=x.zp)]
    _types(op, graph, x, out, ("f32",))
    return [Call("l2norm_f32", x=op.inputs[0], out=op.outputs[0], rows=rows, depth=depth)]


# --- ELU: int8 as TFLM's 256-entry table (float32 exp(x) - 1 below 0); float32 expm1 -----------
@lowering("ELU", "int8 (TFLM's 256-entry table); float32")
def _elu(graph: Graph, op: Op) -> list[Call]:
    x, out = _unary(graph, op)
    if x.dtype == out.dtype == "f32":
        return [Call("unary_f32", x=op.inputs[0], out=op.outputs[0], n=x.size, op=11)]
    _types(op, graph, x, out, ("i8",))
    # TFLM's PopulateLookupTable: every step in float32, std::round, the zero point added, clamped
    inv = f32(1.0 / f32(out.sc))
    table = []
    for q in range(-128, 128):
        v = f32(f32(x.sc) * (q - x.zp))
        if v < 0.0:
            v = f32(f32(math.exp(v)) - 1.0)
        table.append(int(round_half_away(f32(v * inv))) + out.zp)
    return _lut_call(graph, op, table)
