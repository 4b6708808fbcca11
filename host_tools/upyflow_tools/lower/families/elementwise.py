"""ADD, SUB, MUL, DIV, MAXIMUM, MINIMUM, SQUARED_DIFFERENCE, POW, FLOOR_DIV, FLOOR_MOD with numpy-style
broadcasting; int32 tensors (the TFLM audio front end) in plain C integer arithmetic as TFLM runs them.

At the end of the file: GREATER, GREATER_EQUAL, LESS, LESS_EQUAL, EQUAL, NOT_EQUAL and
LOGICAL_AND/OR/NOT, with the same broadcast descriptors. Their bool outputs are uint8 bytes 0/1
on the board (TFLM's bool bytes; scale 1, zero point 0): the readers make computed bool
tensors uint8. int8 operands are rescaled to a common scale as TFLM does: each input
((x - zp) << 8) times its scale as a multiplier smaller than one, then compared.

Broadcasting is resolved at bake time into a small int32 descriptor (a constant
tensor): the output walked row-major over as few fused dimensions as possible,
with each input's element stride per dimension (0 where it broadcasts).
"""
from __future__ import annotations

import numpy as np

from ... import BakeError
from ...ir import Graph, Op, Tensor
from ...quant import activation_range, activation_range_float, f32, quantize_multiplier
from ..core import LOWERINGS, TYPES, Call, inp, lowering, types_error
from ..ort_rounding import uses_ort

MAX_RANK = 6          # TFLM's broadcast loops (the interpreter runs 6-D for every binary op)
ESIZE = {"i8": 1, "i16": 2}
F32_OP = {"ADD": 0, "SUB": 1, "MUL": 2, "MAXIMUM": 3, "MINIMUM": 4, "DIV": 5, "SQUARED_DIFFERENCE": 6, "POW": 7,
          "FLOOR_DIV": 10, "FLOOR_MOD": 11}


def contiguous_strides(shape) -> list[int]:
    strides, acc = [], 1
    for d in reversed(list(shape)):
        strides.append(acc)
        acc *= d
    return strides[::-1]


def fuse_dims(shape: list[int], strides: list[list[int]]) -> tuple[list[int], list[list[int]]]:
    """Drop size-1 dimensions and merge neighbours every operand walks contiguously.

    strides: one list per operand (element strides per dimension). At least one
    dimension is kept so kernels always have an innermost row."""
    dims = [i for i, n in enumerate(shape) if n != 1]
    out_shape: list[int] = []
    out_strides: list[list[int]] = [[] for _ in strides]
    for i in dims:
        if out_shape and all(s[-1] == st[i] * shape[i] for s, st in zip(out_strides, strides)):
            out_shape[-1] *= shape[i]
            for s, st in zip(out_strides, strides):
                s[-1] = st[i]
            continue
        out_shape.append(shape[i])
        for s, st in zip(out_strides, strides):
            s.append(st[i])
    if not out_shape:
        return [1], [[0] for _ in strides]
    return out_shape, out_strides


def broadcast_desc(op: Op, a: Tensor, b: Tensor, out: Tensor, max_rank: int = MAX_RANK) -> np.ndarray:
    """[nd, shape..., strides of a..., strides of b...] for out = f(a, b), out contiguous."""
    rank = max(len(a.shape), len(b.shape), len(out.shape))
    if rank > max_rank:
        raise BakeError("%s %r: %d-D tensors; TFLM's broadcast supports up to %d-D"
                        % (op.kind, out.name, rank, max_rank))
    sa = [1] * (rank - len(a.shape)) + list(a.shape)
    sb = [1] * (rank - len(b.shape)) + list(b.shape)
    so = [1] * (rank - len(out.shape)) + list(out.shape)
    for da, db, do in zip(sa, sb, so):
        if do != max(da, db) or da not in (1, do) or db not in (1, do):
            raise BakeError("%s %r: input shapes %s and %s do not broadcast to the output shape %s"
                            % (op.kind, out.name, list(a.shape), list(b.shape), list(out.shape)))
    strides = []
    for s in (sa, sb):
        st = contiguous_strides(s)
        strides.append([0 if s[i] == 1 else st[i] for i in range(rank)])
    shape, (st_a, st_b) = fuse_dims(so, strides)
    return np.array([len(shape)] + shape + st_a + st_b, np.int32)


def _desc_const(graph: Graph, op: Op, desc: np.ndarray) -> int:
    return graph.add_const(graph.tensors[op.outputs[0]].name + "/broadcast", desc, "i32")


def _operands(graph: Graph, op: Op) -> tuple[Tensor, Tensor, Tensor]:
    a, b, out = inp(graph, op, 0), inp(graph, op, 1), graph.tensors[op.outputs[0]]
    if not a.dtype == b.dtype == out.dtype or out.dtype not in ("i8", "i16", "f32"):
        raise types_error(op, graph)
    for t in (a, b, out):
        if len(t.scale) > 1:
            raise BakeError("%s tensor %r is quantized per channel; %s needs per-tensor quantization"
                            % (op.kind, t.name, op.kind))
    return a, b, out


def smaller_than_one(op: Op, real: float, what: str) -> tuple[int, int]:
    """TFLite's QuantizeMultiplierSmallerThanOneExp: TFLM aborts outside (0, 1)."""
    m, s = quantize_multiplier(real)
    if not 0.0 < real < 1.0 or s > 0:
        raise BakeError("%s: the %s multiplier %g is outside (0, 1); TFLM cannot run these scales"
                        % (op.kind, what, real))
    return m, s


def _arith_operands(graph: Graph, op: Op) -> tuple[Tensor, Tensor, Tensor, str, dict[str, int], list[Call] | None]:
    """ADD/SUB/MUL: the operands, activation and kernel tensors, and the whole lowering
    when it does not depend on the op (float32, onnxruntime's int8), else None."""
    a, b, out = _operands(graph, op)
    act = op.options.get("fused_activation_function", "NONE")
    tensors = dict(x1=op.inputs[0], x2=op.inputs[1], out=op.outputs[0],
                   d=_desc_const(graph, op, broadcast_desc(op, a, b, out)))
    if out.dtype == "f32":
        lo, hi = activation_range_float(act)
        return a, b, out, act, tensors, [Call("binary_f32", **tensors, op=F32_OP[op.kind], lo=lo, hi=hi)]
    if uses_ort(graph) and out.dtype == "i8":
        return a, b, out, act, tensors, _binary_ort(graph, op, tensors, a, b, out, act)
    return a, b, out, act, tensors, None


def _addsub(graph: Graph, op: Op) -> list[Call]:
    a, b, out, act, tensors, calls = _arith_operands(graph, op)
    if calls is not None:
        return calls
    left_shift = 15 if out.dtype == "i16" else 20
    # Multipliers in double. (TFLM's current sub_common.cc sums in float32, but the
    # tflite-micro interpreter we match, the oracle, computes SUB like ADD.)
    twice_max = 2.0 * max(a.sc, b.sc)
    r1, r2 = a.sc / twice_max, b.sc / twice_max
    ro = twice_max / ((1 << left_shift) * out.sc)
    m1, s1 = smaller_than_one(op, r1, "input 1")
    m2, s2 = smaller_than_one(op, r2, "input 2")
    mo, so = smaller_than_one(op, ro, "output")
    lo, hi = activation_range(act, out.dtype, out.sc, out.zp)
    sign = 1 if op.kind == "ADD" else -1
    return [Call("addsub_q", **tensors, esize=ESIZE[out.dtype], sign=sign, off1=-a.zp, m1=m1, sh1=s1, off2=-b.zp,
                 m2=m2, sh2=s2, ls=left_shift, mo=mo, sho=so, ooff=out.zp, lo=lo, hi=hi)]


lowering("ADD", "int8; int16 (general scaling); float32; broadcasting up to 6-D", 2)(_addsub)
lowering("SUB", "int8; int16 (general scaling); float32; broadcasting up to 6-D", 2)(_addsub)


@lowering("MUL", "int8; int16 (zero points 0); float32; broadcasting up to 6-D", min_inputs=2)
def _mul(graph: Graph, op: Op) -> list[Call]:
    a, b, out, act, tensors, calls = _arith_operands(graph, op)
    if calls is not None:
        return calls
    if out.dtype == "i16" and (a.zp, b.zp, out.zp) != (0, 0, 0):
        raise BakeError("MUL %r: int16 tensors need zero points 0 (TFLM)" % out.name)
    m, s = quantize_multiplier(a.sc * b.sc / out.sc)
    if s > 30:
        raise BakeError("MUL %r: scales give a multiplier beyond TFLM's range" % out.name)
    lo, hi = activation_range(act, out.dtype, out.sc, out.zp)
    return [Call("mul_q", **tensors, esize=ESIZE[out.dtype], off1=-a.zp, off2=-b.zp, m=m, sh=s, ooff=out.zp,
                 lo=lo, hi=hi)]


def _binary_ort(graph: Graph, op: Op, tensors: dict[str, int], a: Tensor, b: Tensor, out: Tensor,
                act: str) -> list[Call]:
    # onnxruntime runs QDQ Add/Sub/Mul in float32 between DequantizeLinear and QuantizeLinear
    lo, hi = activation_range(act, out.dtype, out.sc, out.zp)
    return [Call("binary_s8_ort", **tensors, op=F32_OP[op.kind], zp1=a.zp, s1=f32(a.sc), zp2=b.zp, s2=f32(b.sc),
                 out_s=f32(out.sc), out_zp=out.zp, lo=lo, hi=hi)]


def _maxmin(graph: Graph, op: Op) -> list[Call]:
    # TFLM compares the raw values: no requantization whatever the scales.
    a, b, out = _operands(graph, op)
    desc = broadcast_desc(op, a, b, out)
    tensors = dict(x1=op.inputs[0], x2=op.inputs[1], out=op.outputs[0], d=_desc_const(graph, op, desc))
    if out.dtype == "f32":
        # onnxruntime's Max/Min (and Clip through them) give NaN for a NaN operand: ops 8, 9
        code = F32_OP[op.kind] + (5 if graph.nan_maxmin else 0)
        return [Call("binary_f32", **tensors, op=code, lo=-3.4028234663852886e38,
                     hi=3.4028234663852886e38)]
    return [Call("maxmin_q", **tensors, esize=ESIZE[out.dtype], is_max=1 if op.kind == "MAXIMUM" else 0)]


lowering("MAXIMUM", "int8; int16; float32 (raw values compared); broadcasting up to 6-D", min_inputs=2)(_maxmin)
lowering("MINIMUM", "int8; int16; float32 (raw values compared); broadcasting up to 6-D", min_inputs=2)(_maxmin)




def _div_sqdiff(graph: Graph, op: Op) -> list[Call]:
    a, b, out = _operands(graph, op)
    if out.dtype != "f32":
        raise BakeError("%s %r: %s is not supported (%s)"
                        % (op.kind, out.name, {"i8": "int8", "i16": "int16"}[out.dtype],
                           "float32 is" if op.kind == "POW" else "int8, float32 and int32 are"))
    desc = broadcast_desc(op, a, b, out)
    tensors = dict(x1=op.inputs[0], x2=op.inputs[1], out=op.outputs[0], d=_desc_const(graph, op, desc))
    lo, hi = activation_range_float(op.options.get("fused_activation_function", "NONE"))
    return [Call("binary_f32", **tensors, op=F32_OP[op.kind], lo=lo, hi=hi)]


@lowering("DIV", "int8; float32; broadcasting up to 6-D", min_inputs=2)
def _div(graph: Graph, op: Op) -> list[Call]:
    # int8: TFLM's reference (div_q); its multiplier in1_scale / (in2_scale * out_scale), the
    # float32 scales multiplied and divided in double as the interpreter does. A divisor equal to
    # its zero point gives what TFLM's arithmetic gives (gemmlowp's reciprocal of 0), no error.
    a, b, out = _operands(graph, op)
    if out.dtype != "i8":
        return _div_sqdiff(graph, op)
    m, s = quantize_multiplier(f32(a.sc) / (f32(b.sc) * f32(out.sc)))
    if s > 22:
        raise BakeError("DIV %r: the scales give a multiplier of %g (>= 2^22); TFLM's shifts overflow"
                        % (out.name, f32(a.sc) / (f32(b.sc) * f32(out.sc))))
    lo, hi = activation_range(op.options.get("fused_activation_function", "NONE"), "i8", out.sc, out.zp)
    desc = broadcast_desc(op, a, b, out)
    return [Call("div_q", x1=op.inputs[0], x2=op.inputs[1], out=op.outputs[0], d=_desc_const(graph, op, desc),
                 off1=-a.zp, off2=-b.zp, m=m, sh=s, ooff=out.zp, lo=lo, hi=hi)]


@lowering("SQUARED_DIFFERENCE", "int8; int16 (zero points 0); float32; broadcasting up to 6-D", min_inputs=2)
def _sqdiff(graph: Graph, op: Op) -> list[Call]:
    # int8/int16: addsub_q with sign 0, TFLM's arithmetic: both inputs ((x - zp) << ls) scaled
    # by s_i / (2 max s), the difference squared in int32, scaled by (2 max s)^2 / (2^(2 ls) s_out).
    a, b, out = _operands(graph, op)
    if out.dtype == "f32":
        return _div_sqdiff(graph, op)
    if out.dtype == "i16" and (a.zp, b.zp, out.zp) != (0, 0, 0):
        raise BakeError("SQUARED_DIFFERENCE %r: int16 tensors need zero points 0 (TFLM)" % out.name)
    tensors = dict(x1=op.inputs[0], x2=op.inputs[1], out=op.outputs[0],
                   d=_desc_const(graph, op, broadcast_desc(op, a, b, out)))
    left_shift = 0 if out.dtype == "i16" else 7
    twice_max = 2.0 * max(a.sc, b.sc)
    m1, s1 = smaller_than_one(op, a.sc / twice_max, "input 1")
    m2, s2 = smaller_than_one(op, b.sc / twice_max, "input 2")
    mo, so = quantize_multiplier(twice_max * twice_max / ((1 << 2 * left_shift) * out.sc))
    if so > 0:
        raise BakeError("SQUARED_DIFFERENCE %r: the output scale is too small for the inputs' (output "
                        "multiplier %g >= 1)" % (out.name, mo * 2.0 ** (so - 31)))
    lo, hi = activation_range("NONE", out.dtype, out.sc, out.zp)
    return [Call("addsub_q", **tensors, esize=ESIZE[out.dtype], sign=0, off1=-a.zp, m1=m1, sh1=s1, off2=-b.zp,
                 m2=m2, sh2=s2, ls=left_shift, mo=mo, sho=so, ooff=out.zp, lo=lo, hi=hi)]


# TFLM has no POW kernel: TFLite's (std::pow) values, float32 within the float tolerance
lowering("POW", "float32; broadcasting up to 6-D", min_inputs=2)(_div_sqdiff)


@lowering("FLOOR_DIV", "float32 (floor of the double quotient, as TFLM); broadcasting up to 6-D", min_inputs=2)
def _floor_div_mod(graph: Graph, op: Op) -> list[Call]:
    # TFLM runs float32 only (constants fold at bake time whatever their type); FLOOR_DIV fails on a
    # divisor 0 (a computed one gives floor(x / 0): an infinity or NaN)
    a, b, out = inp(graph, op, 0), inp(graph, op, 1), graph.tensors[op.outputs[0]]
    if not a.dtype == b.dtype == out.dtype == "f32":
        raise types_error(op, graph)
    if op.kind == "FLOOR_DIV" and b.is_const and not b.const_data.all():
        raise BakeError("FLOOR_DIV %r divides by a constant 0 (TFLM fails: Division by 0)" % out.name)
    desc = broadcast_desc(op, a, b, out)
    return [Call("binary_f32", x1=op.inputs[0], x2=op.inputs[1], out=op.outputs[0], d=_desc_const(graph, op, desc),
                 op=F32_OP[op.kind], lo=-3.4028234663852886e38, hi=3.4028234663852886e38)]


lowering("FLOOR_MOD", "float32 (fmod moved to the divisor's sign, as TFLM); broadcasting up to 6-D",
         min_inputs=2)(_floor_div_mod)


# --- int32 arithmetic -------------------------------------------------------------------
I32_OP = {"ADD": 0, "SUB": 1, "MUL": 2, "MAXIMUM": 3, "MINIMUM": 4, "DIV": 5, "SQUARED_DIFFERENCE": 6}


def _binary_i32(graph: Graph, op: Op) -> list[Call]:
    a, b, out = inp(graph, op, 0), inp(graph, op, 1), graph.tensors[op.outputs[0]]
    if op.options.get("fused_activation_function", "NONE") != "NONE":
        raise BakeError("%s %r: int32 with a fused activation is not supported" % (op.kind, out.name))
    if op.kind == "DIV" and b.is_const and not b.const_data.all():
        raise BakeError("DIV %r divides by a constant 0" % out.name)
    desc = broadcast_desc(op, a, b, out)
    d = graph.add_const(out.name + "/broadcast", desc, "i32")
    return [Call("binary_i32", x1=op.inputs[0], x2=op.inputs[1], out=op.outputs[0], d=d, op=I32_OP[op.kind])]


def _with_int32(kind: str):
    # int32 tensors go to binary_i32; everything else to the family that had the op.
    other, doc = LOWERINGS.get(kind), TYPES.get(kind)

    def lower_op(graph: Graph, op: Op) -> list[Call]:
        ts = [graph.tensors[t] for t in op.inputs[:2] + op.outputs[:1] if t >= 0]
        if len(ts) == 3 and all(t.dtype == "i32" for t in ts):
            return _binary_i32(graph, op)
        if other is None:
            raise types_error(op, graph)
        return other(graph, op)
    lowering(kind, (doc + "; " if doc else "") + "int32 (C integer arithmetic)", 2)(lower_op)


for _kind in I32_OP:
    _with_int32(_kind)


# Comparisons and logic ops (kernel compare_q; LOGICAL_AND/OR through maxmin_q)
CMP_OP = {"GREATER": 0, "GREATER_EQUAL": 1, "LESS": 2, "LESS_EQUAL": 3, "EQUAL": 4, "NOT_EQUAL": 5}
CMP_ESIZE = {"i8": 1, "u8": 1, "bool": 1, "i16": 2, "i32": 4, "f32": 4}
BOOL = ("u8", "bool")   # bool bytes: uint8 inside the graph, bool as a graph input or output


def _compare(graph: Graph, op: Op) -> list[Call]:
    a, b, out = inp(graph, op, 0), inp(graph, op, 1), graph.tensors[op.outputs[0]]
    # TFLM has no int16 comparisons
    ok = ("i8", "i32", "f32") + (BOOL if op.kind in ("EQUAL", "NOT_EQUAL") else ())
    same = a.dtype == b.dtype or (a.dtype in BOOL and b.dtype in BOOL)
    if not same or a.dtype not in ok or out.dtype not in BOOL:
        raise types_error(op, graph)
    desc = broadcast_desc(op, a, b, out)   # up to 6-D (the tflite-micro runtime broadcasts 6-D too)
    tensors = dict(x1=op.inputs[0], x2=op.inputs[1], out=op.outputs[0], d=_desc_const(graph, op, desc))
    q = dict(off1=0, m1=0, sh1=0, off2=0, m2=0, sh2=0)
    kind = 1 if a.dtype == "f32" else 0
    if a.dtype == "i8":
        for t in (a, b):
            if len(t.scale) > 1:
                raise BakeError("%s tensor %r is quantized per channel; %s needs per-tensor quantization"
                                % (op.kind, t.name, op.kind))
        kind = 2
        q["m1"], q["sh1"] = smaller_than_one(op, a.sc, "input 1 scale")
        q["m2"], q["sh2"] = smaller_than_one(op, b.sc, "input 2 scale")
        q["off1"], q["off2"] = -a.zp, -b.zp
    return [Call("compare_q", **tensors, esize=CMP_ESIZE[a.dtype], op=CMP_OP[op.kind], kind=kind, **q)]


for _kind in CMP_OP:
    _bools = ", bool" if _kind in ("EQUAL", "NOT_EQUAL") else ""
    lowering(_kind, "int8 (rescaled as TFLM), int32, float32%s; bool output; broadcasting up to 6-D"
             % _bools, min_inputs=2)(_compare)


def _bool_operands(graph: Graph, op: Op, n: int) -> None:
    ts = [inp(graph, op, k) for k in range(n)] + [graph.tensors[op.outputs[0]]]
    if any(t.dtype not in BOOL for t in ts) or op.options.get("non_bool_operands"):
        raise types_error(op, graph)


def _logical(graph: Graph, op: Op) -> list[Call]:
    # bool bytes are 0 or 1: AND is their minimum, OR their maximum
    _bool_operands(graph, op, 2)
    a, b, out = inp(graph, op, 0), inp(graph, op, 1), graph.tensors[op.outputs[0]]
    desc = broadcast_desc(op, a, b, out)
    return [Call("maxmin_q", x1=op.inputs[0], x2=op.inputs[1], out=op.outputs[0], d=_desc_const(graph, op, desc),
                 esize=1, is_max=1 if op.kind == "LOGICAL_OR" else 0)]


lowering("LOGICAL_AND", "bool; broadcasting up to 6-D", min_inputs=2)(_logical)
lowering("LOGICAL_OR", "bool; broadcasting up to 6-D", min_inputs=2)(_logical)


@lowering("LOGICAL_NOT", "bool")
def _logical_not(graph: Graph, op: Op) -> list[Call]:
    # EQUAL(x, 0) on the bool bytes
    _bool_operands(graph, op, 1)
    x, out = inp(graph, op, 0), graph.tensors[op.outputs[0]]
    zero = graph.add_const(out.name + "/false", np.zeros(1, np.uint8), "u8")
    desc = broadcast_desc(op, x, graph.tensors[zero], out)
    return [Call("compare_q", x1=op.inputs[0], x2=zero, out=op.outputs[0], d=_desc_const(graph, op, desc), esize=1,
                 op=4, kind=0, off1=0, m1=0, sh1=0, off2=0, m2=0, sh2=0)]
