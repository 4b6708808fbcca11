"""SOFTMAX and LOG_SOFTMAX."""
from __future__ import annotations

import math

import numpy as np

from ... import BakeError
from ...ir import Graph, Op
from ...quant import quantize_multiplier, softmax_params
from ..core import Call, check_size, inp, lowering, types_error


@lowering("SOFTMAX", "int8 -> int8 (output scale 1/256, zero point -128); int8 -> int16 (1/65536, -32768); "
                     "int16 -> int16 (1/32768, 0); float32")
def _softmax(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    if not x.shape or x.shape[-1] < 1:
        raise BakeError("SOFTMAX input %r has shape %s" % (x.name, list(x.shape)))
    check_size(op, out, x.size, "output")
    depth = x.shape[-1]
    rows = x.size // depth
    beta = float(op.options.get("beta", 1.0))
    if not math.isfinite(beta):
        raise BakeError("SOFTMAX %r has beta %g; it needs a finite beta" % (out.name, beta))
    if x.dtype == out.dtype == "f32":
        return [Call("softmax_f32", x=op.inputs[0], out=op.outputs[0], rows=rows, depth=depth, beta=beta)]
    if x.dtype in ("i8", "i16") and out.dtype == "i16":
        return _softmax16(graph, op, x, out, rows, depth, beta)
    if not x.dtype == out.dtype == "i8":
        raise types_error(op, graph)
    if out.zp != -128 or out.sc != float(np.float32(1 / 256)):
        raise BakeError("SOFTMAX %r: int8 output must have scale 1/256 and zero point -128" % out.name)
    in_mult, in_shift, diff_min = _s8_params(out, beta, x.sc)
    return [Call("softmax_s8", x=op.inputs[0], out=op.outputs[0], rows=rows, depth=depth, in_mult=in_mult,
                 in_shift=in_shift, diff_min=diff_min)]


def _s8_params(out, beta: float, in_scale: float) -> tuple[int, int, int]:
    # TFLM's int8 softmax needs beta * input scale * 2^26 > 1 (QuantizeMultiplierGreaterThanOne)
    if not beta * in_scale * (1 << 26) > 1.0:
        raise BakeError("SOFTMAX %r: beta %g times input scale %g is below 2^-26, which TFLM's int8 "
                        "softmax cannot scale" % (out.name, beta, in_scale))
    return softmax_params(beta, in_scale)


def _softmax16(graph: Graph, op: Op, x, out, rows: int, depth: int, beta: float) -> list[Call]:
    """int16 output (TFLM: int16 input uses exp and 1/(1+x) tables, int8 input the int8 maths)."""
    from .activations import softmax16_tables
    if x.dtype == "i8":
        if out.zp != -32768 or abs(out.sc - 1 / 65536) > 0.001 / 65536:
            raise BakeError("SOFTMAX %r: int16 output of int8 input must have scale 1/65536 and zero point -32768"
                            % out.name)
        in_mult, in_shift, diff_min = _s8_params(out, beta, x.sc)
        return [Call("softmax_s8_s16", x=op.inputs[0], out=op.outputs[0], rows=rows, depth=depth, in_mult=in_mult,
                     in_shift=in_shift, diff_min=diff_min)]
    if x.zp or out.zp or abs(out.sc - 1 / 32768) > 0.001 / 32768:
        raise BakeError("SOFTMAX %r: int16 needs zero points 0 and output scale 1/32768" % out.name)
    mult, shift = quantize_multiplier(x.sc * beta / (10.0 / 65535.0))
    exp_lut, recip_lut = softmax16_tables(graph)
    return [Call("softmax_s16", x=op.inputs[0], exp_lut=exp_lut, recip_lut=recip_lut, out=op.outputs[0], rows=rows,
                 depth=depth, in_mult=mult, in_shift=shift)]


@lowering("LOG_SOFTMAX", "int8 (output scale 16/256, zero point 127); float32; over the last axis")
def _log_softmax(graph: Graph, op: Op) -> list[Call]:
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    if not x.shape or x.shape[-1] < 1:
        raise BakeError("LOG_SOFTMAX input %r has shape %s" % (x.name, list(x.shape)))
    check_size(op, out, x.size, "output")
    rows, depth = x.size // x.shape[-1], x.shape[-1]
    if x.dtype == out.dtype == "i8":
        if out.zp != 127 or float(np.float32(out.sc)) != 16.0 / 256:
            raise BakeError("LOG_SOFTMAX %r: int8 output must have scale 16/256 and zero point 127 (TFLM)" % out.name)
        # TFLM's PreprocessLogSoftmaxScalingExp (beta 1, 5 integer bits) and CalculateInputRadius
        in_mult, in_shift, diff_min = _s8_params(out, 1.0, x.sc)
        rev_mult, rev_shift = quantize_multiplier((1 << (31 - in_shift)) / float(in_mult))
        return [Call("log_softmax_s8", x=op.inputs[0], out=op.outputs[0], rows=rows, depth=depth, in_mult=in_mult,
                     in_shift=in_shift, rev_mult=rev_mult, rev_shift=rev_shift, diff_min=diff_min)]
    if not x.dtype == out.dtype == "f32":
        raise types_error(op, graph)
    return [Call("log_softmax_f32", x=op.inputs[0], out=op.outputs[0], rows=rows, depth=depth)]
