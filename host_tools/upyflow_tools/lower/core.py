"""The lowering table and what every operator family's lowering shares.

A lowering turns one ir op into device kernel calls with every input-independent
number precomputed. Family modules beside this one register with @lowering.
"""
from __future__ import annotations

import ast
import math
import numbers
import operator
from collections.abc import Callable

import numpy as np

from .. import BakeError, kernel_spec
from ..ir import DTYPE_SIZE, Graph, Op, Tensor
from ..quant import QRANGE, channel_multipliers, conv_out_size, conv_pad


class Call:
    """One device kernel call: graph tensor ids, then int/float parameters, each in the
    kernel's argument order as kernel_spec declares it.

    Lowerings name every argument, Call("conv2d_s8", x=..., w=..., in_h=..., ...); a
    missing, extra or misnamed one is an error here. Call(kernel, tensors, params) (a
    call rebuilt from another, as patches does) is checked for its counts. Parameters
    become Python ints / floats as the spec's kinds say (the op record's format)."""
    __slots__ = ("kernel", "tensors", "params", "op_index")

    # tensors and params positional-only: a **dict of kernel arguments never binds to them
    def __init__(self, kernel: str, tensors: list[int] | None = None, params: list | None = None, /,
                 op_index: int = -1, **named):
        spec = kernel_spec.get(kernel)
        if named:
            if tensors is not None or params is not None:
                raise TypeError("Call(%r): give the arguments by name or as lists, not both" % kernel)
            missing = [n for n in spec.arg_names if n not in named]
            extra = [n for n in named if n not in spec.arg_names]
            if missing or extra:
                raise TypeError("Call(%r): %s%s%s (kernel_spec: %s)" % (
                    kernel, "missing " + ", ".join(missing) if missing else "",
                    "; " if missing and extra else "", "unknown " + ", ".join(extra) if extra else "",
                    ", ".join(spec.arg_names)))
            tensors = [named[t.name] for t in spec.tensors]
            params = [named[p.name] for p in spec.params]
        tensors, params = list(tensors or []), list(params or [])
        if len(tensors) != len(spec.tensors) or len(params) != len(spec.params):
            raise TypeError("Call(%r): %d tensors and %d parameters, the kernel takes %d and %d (%s)"
                            % (kernel, len(tensors), len(params), len(spec.tensors), len(spec.params),
                               ", ".join(spec.arg_names)))
        self.kernel = kernel
        self.tensors = [operator.index(t) for t in tensors]
        self.params = [_typed(kernel, p, v) for p, v in zip(spec.params, params)]
        self.op_index = op_index

    def arg(self, name: str):
        """A tensor id or parameter value by its kernel_spec name."""
        spec = kernel_spec.get(self.kernel)
        names = [t.name for t in spec.tensors]
        if name in names:
            return self.tensors[names.index(name)]
        return self.params[spec.param_index(name)]

    def named(self) -> dict:
        """Every argument by name."""
        return dict(zip(kernel_spec.get(self.kernel).arg_names, self.tensors + self.params))

    def __eq__(self, other):
        return isinstance(other, Call) and (self.kernel, self.tensors, self.params, self.op_index) == \
            (other.kernel, other.tensors, other.params, other.op_index)

    def __repr__(self):
        return "Call(%r, %r, %r, op_index=%d)" % (self.kernel, self.tensors, self.params, self.op_index)


def _typed(kernel: str, p: kernel_spec.P, v):
    if p.kind == "f":
        if not isinstance(v, numbers.Real):
            raise TypeError("Call(%r): %s must be a number, not %r" % (kernel, p.name, v))
        return float(v)
    try:
        return operator.index(v)
    except TypeError:
        raise TypeError("Call(%r): %s must be an int, not %r" % (kernel, p.name, v)) from None


LOWERINGS: dict[str, Callable[[Graph, Op], list[Call]]] = {}
TYPES: dict[str, str] = {}          # op kind -> supported type combinations, for docs
MIN_INPUTS: dict[str, int] = {}     # op kind -> operands a lowering reads without checking


def lowering(kind: str, types: str, min_inputs: int = 1):
    """Register fn as the lowering of `kind`; `types` documents what it supports and
    `min_inputs` is how many leading operands it reads unchecked."""
    def register(fn):
        LOWERINGS[kind] = fn
        TYPES[kind] = types
        MIN_INPUTS[kind] = min_inputs
        return fn
    return register


def supported_ops() -> list[str]:
    return sorted(LOWERINGS)


# Why an operator or type is usually there, and what to do about it: printed beside it.
HINTS = {
    "SHAPE": "shape arithmetic on a dynamic dimension that bake could not fold; "
             "export with fixed shapes (e.g. tf.keras.Input(shape, batch_size=1))",
    "PACK": "packs tensors computed at run time; if it builds a shape, export with fixed shapes "
            "(e.g. tf.keras.Input(shape, batch_size=1))",
    "WHILE": "control flow is not supported", "IF": "control flow is not supported",
    "DENSIFY": "sparse weights: bake densifies a DENSIFY of a constant that feeds another operator; "
               "this one does not",
}
TYPE_HINTS = {
    "float16": "float16 weights are folded into float32 at bake time; float16 activations are not supported",
    "FLOAT64": "convert the model to float32",
}
# tensor types a baked module can hold (emit.DTYPE_CODES); i64 only as folded constants, bool (bytes
# 0/1) as graph inputs and outputs (the readers make other bool tensors uint8)
RUNTIME_TYPES = ("i8", "u8", "i16", "i32", "f32", "u32", "u64", "bool")


def _hinted(name: str, hints: dict) -> str:
    if name.startswith("CUSTOM(Flex"):
        return name + " (a TensorFlow Select op: TFLM cannot run it; convert with TFLITE_BUILTINS only)"
    return name + (" (%s)" % hints[name] if name in hints else "")


def lower(graph: Graph) -> list[Call]:
    """Every op of the graph as kernel calls; BakeError on anything unsupported.

    All problems are gathered first, so one error names every unsupported
    operator, type and variant at once."""
    problems: list[str] = []
    unsupported = sorted({op.kind for op in graph.ops if op.kind not in LOWERINGS})
    if unsupported:
        problems.append("unsupported operator%s %s" % ("s" if len(unsupported) > 1 else "",
                        ", ".join(_hinted(k, HINTS) for k in unsupported)))
    bad_types: dict[str, list[str]] = {}
    for ids in [graph.inputs + graph.outputs] + [op.inputs + op.outputs for op in graph.ops]:
        for t in ids:
            tensor = graph.tensors[t] if 0 <= t < len(graph.tensors) else None
            if tensor is not None and tensor.dtype not in RUNTIME_TYPES and not tensor.is_const:
                bad_types.setdefault(tensor.dtype, []).append(tensor.name)
    for dtype, names in sorted(bad_types.items()):
        names = sorted(set(names))
        name = _TYPE_NAME.get(dtype, dtype)
        problems.append("%s tensor%s %s%s%s" % (name, "s" if len(names) > 1 else "",
                                                ", ".join(repr(n) for n in names[:3]),
                                                " and %d more" % (len(names) - 3) if len(names) > 3 else "",
                                                " (%s)" % TYPE_HINTS[name] if name in TYPE_HINTS else ""))
    check_graph(graph, ops=False)
    calls = []
    for i, op in enumerate(graph.ops):
        if op.kind not in LOWERINGS:
            continue
        try:
            check_op(graph, op)
            for call in LOWERINGS[op.kind](graph, op):
                call.op_index = i
                check_call(graph, op, call)
                calls.append(call)
        except BakeError as e:
            if str(e) not in problems:
                problems.append(str(e))
        except Exception:
            if not problems:
                raise
            # a lowering tripped over what is already reported (an unsupported type, ...)
    if problems:
        if unsupported:
            problems.append("upyflow supports " + ", ".join(supported_ops()))
        raise BakeError("; ".join(problems))
    return calls


_TYPE_NAME = {"f16": "float16", "i64": "int64", "u8": "uint8", "u32": "uint32", "u64": "uint64"}


# --- kernel preconditions ------------------------------------------------------------------
# Every tier's kernel accepts a call only within kernel_spec's ranges and sizes (C: the
# generated native_modules/src/table.c refuses it at run time; pure and viper would shift
# by a negative or huge amount, or index outside a buffer, and disagree). lower() checks
# every call against the same spec, so bake refuses what a kernel cannot run.
SHIFT = kernel_spec.SHIFT
INT32 = (-(1 << 31), (1 << 31) - 1)


def check_call(graph: Graph, op: Op, call: Call) -> None:
    spec = kernel_spec.get(call.kernel)
    where = "%s %r" % (op.kind, graph.tensors[op.outputs[0]].name)
    ints = {p.name: v for p, v in zip(spec.params, call.params) if p.kind == "i"}
    for p in spec.ints:
        lo = INT32[0] if p.lo is None else p.lo
        hi = INT32[1] if p.hi is None else p.hi
        if not lo <= ints[p.name] <= hi:
            raise BakeError("%s: %s %d is outside [%d, %d]%s; upyflow's kernels cannot run it"
                            % (where, p.what or p.name, ints[p.name], lo, hi,
                               " (extreme quantization scales?)" if p.what else ""))
    derived = {d for d, _ in spec.derived}
    for rule in spec.requires:
        if not derived & _names(rule) and not _eval(rule, ints):
            raise BakeError("%s: kernel %s needs %s (%s); upyflow's kernels cannot run it"
                            % (where, call.kernel, rule, ", ".join("%s=%d" % (n, ints[n])
                                                                   for n in sorted(_names(rule)))))
    for t, tid in zip(spec.tensors, call.tensors):
        tensor = graph.tensors[tid]
        # the elements the kernel reaches, unless they depend on the buffers (derived values)
        esize = kernel_spec.ESIZE.get(t.dtype) or (int(t.esize) if t.esize and t.esize.isdigit()
                                                   else ints.get(t.esize or ""))
        if t.size is not None and esize and not derived & _names(t.size):
            count = _eval(t.size, ints)
            if tensor.nbytes < count * esize:
                raise BakeError("%s: kernel %s needs %d elements of %d bytes in %s, tensor %r has %d bytes"
                                % (where, call.kernel, count, esize, t.name, tensor.name, tensor.nbytes))
        v = t.values
        if v is None:
            continue
        data = tensor.data.reshape(-1) if tensor.data is not None else np.zeros(0)
        if v.at:
            picked = data[slice(*(_eval(x, ints) for x in v.at.split(":")))]
        else:
            picked = data
        top = _eval(v.hi, ints) if isinstance(v.hi, str) else v.hi
        bad = picked[(picked < v.lo) | (picked > top)]
        if bad.size:
            raise BakeError("%s: %s %d is outside [%d, %d] (extreme quantization scales?); "
                            "upyflow's kernels cannot run it" % (where, v.what, int(bad[0]), v.lo, top))


def _names(expr: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(expr, mode="eval")) if isinstance(n, ast.Name)}


def _eval(expr: str, ints: dict) -> int:
    """A kernel_spec expression over the int parameters (Python syntax, integer maths)."""
    return eval(compile(expr, "kernel_spec", "eval"), {"__builtins__": {}}, ints)


ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")
# Ops whose "fused activation" option is part of their own maths (the LSTM's cell
# gate: TANH); their lowering validates it instead of check_graph.
OWN_ACTIVATION = {"UNIDIRECTIONAL_SEQUENCE_LSTM"}
# Ops whose int8/int16 tensors are plain integers, not quantized values (CAST, the
# TFLM Signal ops): no scale needed. Families add their kinds.
UNQUANTIZED: set = set()


# Ops for which an infinite float constant is a bound, not arithmetic (a max pool's -inf padding).
INF_OK = {"PADV2", "MAXIMUM", "MINIMUM"}
# Boards are 32-bit: a tensor's bytes, and every count a kernel loops over, fit in 2^31 - 1.
MAX_BYTES = (1 << 31) - 1


def check_graph(graph: Graph, ops: bool = True) -> None:
    """Reject, with a BakeError, what would otherwise crash a lowering or the planner, or
    make a kernel write outside its buffers.

    A damaged or unusual file gets here with missing operands, graph inputs/outputs
    that name no tensor, fused activations we have no clamp for (TANH, SIGN_BIT), or
    int tensors without a usable scale (0, NaN, absent): without these checks they
    surfaced as IndexError / ZeroDivisionError / ValueError tracebacks. Every kernel
    also assumes what these checks guarantee: each tensor it touches has at least one
    element and fewer than 2^31 bytes (a zero-sized output gets no arena bytes, yet
    the loops run over its other dimensions), float constants are not NaN and, but for
    bounds (INF_OK), finite (tiers would disagree on NaN/inf arithmetic), and it writes
    only arena tensors (never a constant in the immutable weights, nor a graph input in
    place). Kernel parameter ranges are checked per call (check_call)."""
    n = len(graph.tensors)
    for what, ids in (("input", graph.inputs), ("output", graph.outputs)):
        for t in ids:
            if not 0 <= t < n:
                raise BakeError("graph %s refers to tensor %d of %d" % (what, t, n))
            check_extent(graph.tensors[t], "graph %s" % what)
            if graph.tensors[t].is_const:   # its bytes are weights, but the runtime reads the arena
                raise BakeError("graph %s %r is a constant; upyflow needs computed tensors"
                                % (what, graph.tensors[t].name))
    for op in graph.ops if ops else []:
        check_op(graph, op)


def check_dataflow(graph: Graph) -> None:
    """In file order (TFLM's run order) every operator reads graph inputs, constants, state
    (variable) tensors or tensors an earlier operator wrote; it does not write what it reads,
    no two operators write one tensor, and every graph output is computed. Else TFLM and the
    tiers read undefined arena bytes (the planner shares them between tensors)."""
    n = len(graph.tensors)
    ready = set(graph.inputs)
    writer: dict[int, str] = {}
    for op in graph.ops:
        for t in op.inputs:
            if 0 <= t < n and t not in ready and not graph.tensors[t].is_const \
                    and not graph.tensors[t].variable:
                raise BakeError("operator %s reads tensor %r before any operator writes it (and it is not "
                                "a graph input, a constant or a variable tensor)"
                                % (op.kind, graph.tensors[t].name))
        for t in op.outputs:
            if not 0 <= t < n or graph.tensors[t].variable:
                continue
            if t in op.inputs:
                raise BakeError("operator %s writes tensor %r, which it also reads"
                                % (op.kind, graph.tensors[t].name))
            if t in writer:
                raise BakeError("tensor %r is written by two operators (%s, then %s)"
                                % (graph.tensors[t].name, writer[t], op.kind))
            writer[t] = op.kind
            ready.add(t)
    for t in graph.outputs:
        if 0 <= t < n and t not in ready and not graph.tensors[t].is_const and not graph.tensors[t].variable:
            raise BakeError("graph output %r is not computed by any operator" % graph.tensors[t].name)


def check_op(graph: Graph, op: Op) -> None:
    """One op's part of check_graph."""
    need = MIN_INPUTS.get(op.kind, 1)
    if len(op.inputs) < need or any(t < 0 for t in op.inputs[:need]) \
            or not op.outputs or op.outputs[0] < 0:
        raise BakeError("operator %s has inputs %s and outputs %s; it needs %d input%s and an output"
                        % (op.kind, op.inputs, op.outputs, need, "s" if need > 1 else ""))
    # sparse constants arrive densified (readers/sparsity.py); TFLite reads them only through
    # DENSIFY and as FULLY_CONNECTED weights (its sparse kernels: the dense result)
    sparse = sorted({graph.tensors[t].name for k, t in enumerate(op.inputs) if t >= 0 and graph.tensors[t].sparse
                     and not (op.kind == "DENSIFY" or (op.kind == "FULLY_CONNECTED" and k == 1))})
    if sparse:
        raise BakeError("%s %r reads %s stored sparse: TFLite takes sparse weights only through DENSIFY and as "
                        "FULLY_CONNECTED weights (TFLite Micro would read the stored values as dense ones, a wrong "
                        "result); convert without sparsity"
                        % (op.kind, graph.tensors[op.outputs[0]].name, ", ".join(repr(n) for n in sparse)))
    for t in op.inputs + op.outputs:
        if t >= 0:
            check_extent(graph.tensors[t], op.kind)
            c = graph.tensors[t]
            if c.is_const and c.dtype == "f32" and not np.all(
                    np.isfinite(c.const_data) | (np.isinf(c.const_data) & (op.kind in INF_OK))):
                raise BakeError("%s constant %r holds NaN or infinite values" % (op.kind, c.name))
    for t in op.outputs:
        if t < 0:
            continue
        out = graph.tensors[t]
        if out.is_const:
            raise BakeError("operator %s writes tensor %r, which is a constant" % (op.kind, out.name))
        if t in graph.inputs:
            raise BakeError("operator %s writes tensor %r, which is a graph input" % (op.kind, out.name))
    act = op.options.get("fused_activation_function", "NONE")
    if act not in ACTIVATIONS and op.kind not in OWN_ACTIVATION:
        raise BakeError("operator %s has fused activation %s; upyflow supports %s"
                        % (op.kind, act, ", ".join(ACTIVATIONS)))
    if op.kind == "RESHAPE" or op.kind in UNQUANTIZED:
        return  # no arithmetic: quantization does not matter
    for t in op.inputs + op.outputs:
        tensor = graph.tensors[t] if t >= 0 else None
        if tensor is None or tensor.dtype not in ("i8", "u8", "i16"):
            continue
        if not (tensor.scale and all(s > 0 and math.isfinite(s) for s in tensor.scale)):
            shown = ", ".join("%g" % s for s in tensor.scale[:4]) + (", ..." if len(tensor.scale) > 4 else "")
            raise BakeError("%s tensor %r has quantization scale %s; it needs positive, finite scales"
                            % (op.kind, tensor.name, "[%s]" % shown if tensor.scale else "(none)"))
        lo, hi = QRANGE[tensor.dtype]
        if any(not lo <= z <= hi for z in tensor.zero_point):
            raise BakeError("%s tensor %r has a zero point outside the %s range"
                            % (op.kind, tensor.name, tensor.dtype))


def check_extent(t: Tensor, what: str) -> None:
    """At least one element, fewer than 2^31 bytes (see check_graph)."""
    if t.dtype not in DTYPE_SIZE:
        return   # a type upyflow cannot hold: lower() reports it with the others
    if any(d < 1 for d in t.shape) or t.nbytes > MAX_BYTES:
        raise BakeError("%s tensor %r has shape %s (%d bytes); upyflow needs at least one element and "
                        "fewer than 2^31 bytes" % (what, t.name, list(t.shape), t.nbytes))


def inp(graph: Graph, op: Op, k: int) -> Tensor:
    return graph.tensors[op.inputs[k]]


def check_size(op: Op, t: Tensor, size: int, what: str) -> None:
    if t.size != size:
        raise BakeError("%s %s %r has shape %s (%d values), expected %d values"
                        % (op.kind, what, t.name, list(t.shape), t.size, size))


def types_error(op: Op, graph: Graph) -> BakeError:
    types = "/".join(graph.tensors[i].dtype for i in op.inputs + op.outputs if i >= 0)
    return BakeError("operator %s with tensor types %s is not supported (supported: %s)"
                     % (op.kind, types, TYPES[op.kind]))


def need_const(graph: Graph, op: Op, k: int, what: str) -> Tensor:
    t = inp(graph, op, k)
    if not t.is_const:
        raise BakeError("operator %s needs a constant %s (tensor %r is computed at run time)"
                        % (op.kind, what, t.name))
    return t


def check_filter_quant(op: Op, w: Tensor, channels: int) -> None:
    """Symmetric int8 weights with one scale per channel or one for all, as TFLM needs."""
    if len(w.scale) not in (1, channels):
        raise BakeError("operator %s has filter %r with %d scales for %d channels"
                        % (op.kind, w.name, len(w.scale), channels))
    if any(z != 0 for z in w.zero_point):
        raise BakeError("operator %s has filter %r with a non-zero zero point; "
                        "upyflow needs symmetric int8 weights" % (op.kind, w.name))


def check_accumulator(op: Op, w: Tensor, bias: np.ndarray, channels: int, name: str) -> None:
    """Kernel precondition of the int8 conv/FC kernels: the int32 sum (folded bias plus
    fan-in products of at most 255 x 128) cannot overflow, where C would wrap and Python not."""
    fan_in = w.size // max(channels, 1)
    if bias.size and int(np.abs(bias.astype(np.int64)).max()) + fan_in * 255 * 128 > 2**31 - 1:
        raise BakeError("%s %r: bias %d with %d products per output can overflow the int32 accumulator"
                        % (op.kind, name, int(np.abs(bias.astype(np.int64)).max()), fan_in))


def quant_extras(graph: Graph, op: Op, x: Tensor, w: Tensor, bias: np.ndarray,
                  out: Tensor, channels: int) -> list[int]:
    """Folded-bias, multiplier and shift constants of an int8 conv/FC; their tensor ids."""
    check_filter_quant(op, w, channels)
    check_accumulator(op, w, bias, channels, graph.tensors[op.outputs[0]].name)
    mult, shift = channel_multipliers(x.sc, w.scale, out.sc, channels)
    name = graph.tensors[op.outputs[0]].name
    return [graph.add_const(name + "/bias_folded", bias.astype(np.int32), "i32"),
            graph.add_const(name + "/multiplier", mult, "i32"),
            graph.add_const(name + "/shift", shift, "i32")]


def bias_array(graph: Graph, op: Op, channels: int, dtype) -> np.ndarray:
    """The optional bias (operand 2) as dtype: float32 for the float kernels, int32 in the
    file for the int8 ones (TFLM reads the bytes as that type, whatever the tensor says)."""
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        b = need_const(graph, op, 2, "bias")
        if b.dtype != ("f32" if dtype == np.float32 else "i32"):
            raise types_error(op, graph)
        check_size(op, b, channels, "bias")
        return b.const_data.reshape(-1).astype(dtype)
    return np.zeros(channels, dtype)


def conv_geometry(op: Op, x: Tensor, k_h: int, k_w: int, out: Tensor) -> dict[str, int]:
    for t in (x, out):
        if len(t.shape) != 4 or t.shape[0] != 1:
            raise BakeError("%s tensor %r has shape %s; upyflow runs batch-1 NHWC tensors"
                            % (op.kind, t.name, list(t.shape)))
    o = op.options
    s_h, s_w = o.get("stride_h", 1), o.get("stride_w", 1)
    d_h, d_w = o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1)
    padding = o.get("padding", "VALID")
    if padding not in ("SAME", "VALID") or min(s_h, s_w, d_h, d_w, k_h, k_w) < 1:
        raise BakeError("%s %r: unsupported geometry (padding %s, stride %dx%d, dilation %dx%d, filter %dx%d)"
                        % (op.kind, out.name, padding, s_h, s_w, d_h, d_w, k_h, k_w))
    _, in_h, in_w, _ = x.shape
    out_h = conv_out_size(padding, in_h, k_h, s_h, d_h)
    out_w = conv_out_size(padding, in_w, k_w, s_w, d_w)
    if tuple(out.shape[1:3]) != (out_h, out_w):
        raise BakeError("%s output %r has shape %s, but stride, padding and filter give %dx%d"
                        % (op.kind, out.name, list(out.shape), out_h, out_w))
    # Kernel precondition: the input row/column a window reaches, (out - 1) * stride +
    # (k - 1) * dilation, fits int32 (the C kernels compute it so; dilation 2^31-1 did not).
    for n, s, k, d in ((out_h, s_h, k_h, d_h), (out_w, s_w, k_w, d_w)):
        if (n - 1) * s + (k - 1) * d + 1 > MAX_BYTES:
            raise BakeError("%s %r: stride %d, filter %d and dilation %d reach beyond 2^31"
                            % (op.kind, out.name, s, k, d))
    pad_h = 0 if padding == "VALID" else conv_pad(in_h, k_h, s_h, d_h, out_h)
    pad_w = 0 if padding == "VALID" else conv_pad(in_w, k_w, s_w, d_w, out_w)
    geom = dict(k_h=k_h, k_w=k_w, s_h=s_h, s_w=s_w, d_h=d_h, d_w=d_w, pad_h=pad_h, pad_w=pad_w)
    check_int16_geometry(op, out, geom)
    return geom


def check_int16_geometry(op: Op, out: Tensor, geom: dict[str, int]) -> None:
    """TFLM keeps a conv's strides, dilations and paddings (a pool's paddings) in int16
    (ConvParams, DepthwiseParams, TransposeConvParams, PaddingValues): beyond 32767 it
    computes with the truncated values, a different layer (found by tests/fuzz.py)."""
    names = ("pad_h", "pad_w") if op.kind.endswith("POOL_2D") else ("s_h", "s_w", "d_h", "d_w", "pad_h", "pad_w")
    big = [(n, geom[n]) for n in names if n in geom and geom[n] > 0x7FFF]
    if big:
        raise BakeError("%s %r: %s beyond 32767, TFLite Micro's int16 limit for conv geometry"
                        % (op.kind, out.name, ", ".join("%s %d" % nv for nv in big)))


def check_rank4(op: Op, x: Tensor, w: Tensor, out: Tensor) -> None:
    """Input, filter and output must be 4-D, the output depth the filter's channel count."""
    for what, t in (("input", x), ("filter", w), ("output", out)):
        if len(t.shape) != 4:
            raise BakeError("%s %s %r has shape %s, expected 4-D" % (op.kind, what, t.name, list(t.shape)))
    oc = w.shape[0] if op.kind == "CONV_2D" else w.shape[3]
    if out.shape[3] != oc:
        raise BakeError("%s output %r has %d channels, the filter %d" % (op.kind, out.name, out.shape[3], oc))


def need_state(graph: Graph, op: Op, k: int, what: str) -> Tensor:
    """Input k, the layer's state: a variable tensor (ir.Tensor.variable), not a constant."""
    t = inp(graph, op, k)
    if not t.variable or t.is_const:
        raise BakeError("%s %s %r must be a variable tensor (the layer's state)"
                        % (op.kind, what, t.name))
    return t
