"""Read an ONNX model (the `onnx` package) into the ir.Graph the TFLite reader produces.

The result uses TFLite builtin op names, TFLite-style options and NHWC tensors, so every
later stage (passes, lowering, planner, emitter, device kernels) runs it unchanged.

Layout. ONNX activations are NCHW, the runtime's are NHWC. Every value keeps its ONNX
(logical) shape plus how its bytes are ordered: storage = base.transpose(perm), where
`base` is a shape the logical shape is a reshape of. Conv outputs are stored NHWC;
Transpose, Flatten, Reshape, Squeeze, Unsqueeze only change that bookkeeping, and a
Gemm/MatMul reading a flattened NHWC tensor gets its weight columns permuted at bake time,
so a plain CNN runs no transpose on the device. A TRANSPOSE is emitted only where an
operator needs an order the bytes do not have. A rank-4 graph input is taken as NCHW and
the baked model reads it as NHWC (unless Transpose nodes are its only consumers: then it
keeps its ONNX layout); likewise a rank-4 output is NHWC unless a Transpose node makes it.
In a model with 1-D Conv/MaxPool/AveragePool nodes, rank-3 inputs and outputs follow the same
rule with [N, C, L] read and written as [N, L, C] (NLC); a 1-D operator runs as the 2-D one
on [N, C, 1, L], the reshapes between the two being aliased away.

Grouped Conv (1 < group < input channels) runs as one STRIDED_SLICE and CONV_2D per group
and a CONCATENATION on the channel axis (int8: every part carries the output quantization).

Quantized (QDQ) models. QuantizeLinear/DequantizeLinear pairs around an operator, as
onnxruntime.quantization.quantize_static(QuantFormat.QDQ, QInt8, QInt8) writes them,
become the int8 TFLite operator with the Q/DQ scales and zero points: DQ of an initializer
is the int8 weight (or int32 bias), DQ -> op [-> Relu/Clip] -> Q an int8 kernel, Q of a
float tensor QUANTIZE, a DQ feeding a float operator or a graph output DEQUANTIZE. An op
with no int8 form for its quantization runs in float between DEQUANTIZE and QUANTIZE.

Rounding: a QDQ model's graph says rounding = "onnxruntime": its int8 CONV_2D,
DEPTHWISE_CONV_2D and FULLY_CONNECTED then requantize as onnxruntime's QLinearConv/QGemm do
(float32 scale in*w/out, float32 product, ties to even; kernels *_s8_ort); int8 ADD/SUB/MUL
as its float32 DQ -> op -> Q, AVERAGE_POOL_2D and MEAN as its QLinearAveragePool and
QLinearGlobalAveragePool, int8 -> int8 QUANTIZE (QLinearConcat's inputs) as DQ -> Q. The other
int8 kernels round as TFLite Micro does (bake --rounding tflm: all of them), so outputs can
differ from onnxruntime's by one step where a value lands on a rounding tie.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import BakeError
from ..ir import NP_DTYPE, Graph, Op, Tensor

MIN_OPSET, MAX_OPSET = 9, 22
NHWC = (0, 2, 3, 1)
NLC = (0, 2, 1)
_ONNX_DTYPES = {1: "f32", 3: "i8", 6: "i32", 7: "i64", 9: "bool"}
_ONNX_TYPE_NAMES = {1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64",
                    9: "bool", 10: "float16", 11: "float64", 16: "bfloat16"}
# ops evaluated with numpy when every input is a constant (shape arithmetic of exporters)
_FOLDABLE = {"Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Cast", "Reshape", "Flatten",
             "Transpose", "Identity", "Add", "Sub", "Mul", "Div", "Slice", "Range", "ConstantOfShape",
             "Neg", "Sqrt", "Equal", "Where", "Expand", "DequantizeLinear", "QuantizeLinear"}
# Why an unsupported operator is usually there: printed beside it.
ONNX_HINTS = {
    "Erf": "torch GELU exports Erf; nn.ReLU or nn.Hardswish are supported",
    "If": "control flow: export with constant shapes so the exporter drops it",
    "Loop": "control flow is not supported",
}
SUPPORTED = sorted({"Conv", "Gemm", "MatMul", "Relu", "Clip", "Sigmoid", "Tanh", "HardSwish", "LeakyRelu",
                    "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Add", "Mul", "Sub", "Div",
                    "Concat", "Flatten", "Reshape", "Transpose", "Softmax", "BatchNormalization", "Pad",
                    "Identity", "Dropout", "Constant", "Squeeze", "Unsqueeze", "QuantizeLinear",
                    "DequantizeLinear", "Shape", "Gather", "Cast"})
FUSABLE = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "SUB", "MUL"}

# What the reader validates before it computes (a damaged file must give one line, not a
# traceback, a hang or gigabytes of RAM). No tensor, declared or computed, has more than
# MAX_ELEMENTS values (16 M: far beyond any board's RAM; the reader's index arithmetic then
# stays in megabytes).
MAX_ELEMENTS = 1 << 24
# Attribute name -> (ONNX attribute type, least value of each integer) for the attributes
# the reader uses; others are ignored. Integers also fit in int32.
_INTS, _INT, _FLOAT, _STRING, _TENSOR = 7, 2, 1, 3, 4
ATTRS = {"kernel_shape": (_INTS, 1), "strides": (_INTS, 1), "dilations": (_INTS, 1), "pads": (_INTS, None),
         "perm": (_INTS, 0), "axes": (_INTS, None), "shape": (_INTS, None), "group": (_INT, 1),
         "axis": (_INT, None), "transA": (_INT, 0), "transB": (_INT, 0), "ceil_mode": (_INT, 0),
         "count_include_pad": (_INT, 0), "allowzero": (_INT, 0), "to": (_INT, 0), "start": (_INT, None),
         "end": (_INT, None), "block_size": (_INT, 0), "value_int": (_INT, None), "value_ints": (_INTS, None),
         "alpha": (_FLOAT, None), "beta": (_FLOAT, None), "epsilon": (_FLOAT, None), "min": (_FLOAT, None),
         "max": (_FLOAT, None), "value_float": (_FLOAT, None), "value_floats": (6, None),
         "auto_pad": (_STRING, None), "mode": (_STRING, None), "value": (_TENSOR, None)}
_ATTR_TYPE_NAMES = {1: "a float", 2: "an int", 3: "a string", 4: "a tensor", 6: "floats", 7: "ints"}
# Operands each node needs (the rest are optional); opset-dependent ones by (opset, count) steps.
MIN_INPUTS = {"Conv": 2, "Gemm": 2, "MatMul": 2, "Add": 2, "Sub": 2, "Mul": 2, "Div": 2, "Equal": 2,
              "Where": 3, "Expand": 2, "Range": 3, "Gather": 2, "BatchNormalization": 5,
              "QuantizeLinear": 2, "DequantizeLinear": 2, "Constant": 0}
MIN_INPUTS_BY_OPSET = {"Reshape": (5, 2), "Slice": (10, 3), "Pad": (11, 2)}


@dataclass
class Val:
    """A computed tensor: ir tensor `t`, ONNX shape, storage order = base.transpose(perm)."""
    t: int
    shape: tuple
    base: tuple
    perm: tuple
    deq: bool = False      # a DequantizeLinear output: logically float, int8 bytes


@dataclass
class QConst:
    """A DequantizeLinear of an initializer: integer data, scale(s), zero point(s), axis."""
    q: np.ndarray
    scale: np.ndarray
    zp: np.ndarray
    axis: int

    def value(self) -> np.ndarray:
        shape = [1] * self.q.ndim
        if self.scale.size > 1:
            shape[self.axis] = -1
        return ((self.q.astype(np.float32) - self.zp.astype(np.float32).reshape(shape))
                * self.scale.astype(np.float32).reshape(shape)).astype(np.float32)


def _order(shape, perm) -> np.ndarray:
    """Storage position -> row-major index of the logical tensor."""
    n = int(np.prod(shape, dtype=np.int64))
    return np.arange(n).reshape(shape).transpose(perm).ravel()


def _count(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:200]


def _check_shape(name: str, shape) -> None:
    """Every dimension at least 1 and at most MAX_ELEMENTS values (see MAX_ELEMENTS)."""
    if any(int(d) < 1 for d in shape) or _count(shape) > MAX_ELEMENTS:
        raise BakeError("tensor %r would have shape %s; upyflow needs at least one and at most %d values"
                        % (name, [int(d) for d in shape], MAX_ELEMENTS))


def _perm(node, a: dict, rank: int) -> tuple:
    """A Transpose's perm (default: reversed), checked to be a permutation of the axes."""
    p = tuple(int(x) for x in a.get("perm", list(range(rank))[::-1]))
    if sorted(p) != list(range(rank)):
        raise BakeError("Transpose node %r: perm %s for rank %d" % (node.name, list(p), rank))
    return p


def _fold_shape(node, spec) -> list[int]:
    """A shape operand of a constant-folded node, checked before anything is allocated."""
    shape = [int(d) for d in np.asarray(spec).reshape(-1)]
    if any(d < 0 for d in shape):
        raise BakeError("%s node %r: negative dimension in shape %s" % (node.op_type, node.name, shape))
    _fold_size(node, shape)
    return shape


def _fold_size(node, shape) -> None:
    if _count(shape) > MAX_ELEMENTS:
        raise BakeError("%s node %r would make %d values; upyflow folds at most %d"
                        % (node.op_type, node.name, _count(shape), MAX_ELEMENTS))


def _ident(rank: int) -> tuple:
    return tuple(range(rank))


def _inv(perm) -> tuple:
    return tuple(int(i) for i in np.argsort(perm))


def read_onnx(data: bytes) -> Graph:
    """Parse .onnx bytes into an ir.Graph; BakeError with one line on anything unsupported."""
    try:
        import onnx
    except ImportError:
        raise BakeError("reading ONNX needs the onnx package: pip install onnx") from None
    try:
        model = onnx.ModelProto()
        model.ParseFromString(data)
    except Exception as e:
        raise BakeError("not a valid ONNX file (%s)" % (str(e).splitlines() or [type(e).__name__])[0]) from None
    if not model.HasField("graph") or not model.graph.node:
        raise BakeError("not a valid ONNX file (no graph)")
    for node in model.graph.node:   # damaged strings parse as bytes
        if not all(isinstance(v, str) for v in [node.op_type, node.domain, node.name, *node.input, *node.output]):
            raise BakeError("not a valid ONNX file (a node's operator or operand name is not text)")
    reader = _Reader(model)
    try:
        return reader.run()
    except BakeError:
        raise
    except (ArithmeticError, LookupError, TypeError, ValueError, AttributeError, RecursionError,
            MemoryError) as e:
        # Defence in depth: a malformed graph the checks above did not foresee is still
        # one line, naming the node being read (tests/fuzz.py counts these apart).
        node = reader.current
        raise BakeError("malformed ONNX model at %s node %r (%s: %s)"
                        % (node.op_type if node is not None else "graph", node.name if node is not None else "",
                           type(e).__name__, _first_line(e))) from None


class _Reader:
    def __init__(self, model) -> None:
        from onnx import numpy_helper
        self.np = numpy_helper
        self.model = model
        self.current = None          # the node being read, for error messages
        self.g = model.graph
        self.opset = self._opset()
        self.tensors: list[Tensor] = []
        self.ops: list[Op] = []
        self.vals: dict[str, object] = {}
        self.notes: list[str] = []
        self.done: set[int] = set()          # node indices absorbed by an earlier node
        self.deq_cache: dict[int, int] = {}
        self.consumers: dict[str, list[int]] = {}
        for i, node in enumerate(self.g.node):
            for name in node.input:
                if name:
                    self.consumers.setdefault(name, []).append(i)
        self.out_names = {o.name for o in self.g.output}
        dq_src = {n.output[0]: n.input[0] for n in self.g.node if n.op_type == "DequantizeLinear" and n.output and n.input}
        init_rank = {init.name: len(init.dims) for init in self.g.initializer}
        self.one_d = any(self._is_1d(node, dq_src, init_rank) for node in self.g.node)

    # --- model-level checks -------------------------------------------------------------
    @staticmethod
    def _is_1d(node, dq_src: dict, init_rank: dict) -> bool:
        """A Conv/MaxPool/AveragePool with one spatial axis (kernel_shape, else the weights' rank)."""
        if node.op_type not in ("Conv", "MaxPool", "AveragePool"):
            return False
        for a in node.attribute:
            if a.name == "kernel_shape":
                return len(a.ints) == 1
        if node.op_type != "Conv" or len(node.input) < 2:
            return False
        w = node.input[1]
        return init_rank.get(dq_src.get(w, w)) == 3

    def _opset(self) -> int:
        version = None
        for imp in self.model.opset_import:
            if imp.domain in ("", "ai.onnx"):
                version = imp.version
        if version is None:
            raise BakeError("ONNX model imports no ai.onnx opset")
        if not MIN_OPSET <= version <= MAX_OPSET:
            raise BakeError("ONNX opset %d is not supported (upyflow reads opsets %d to %d)"
                            % (version, MIN_OPSET, MAX_OPSET))
        for node in self.model.graph.node:
            if node.domain not in ("", "ai.onnx"):
                raise BakeError("ONNX operator %s of domain %r is not supported" % (node.op_type, node.domain))
        return version

    def run(self) -> Graph:
        for init in self.g.initializer:
            self.vals[init.name] = self._initializer(init)
        inputs = []
        for vi in self.g.input:
            if vi.name in self.vals:
                continue  # old exporters list initializers as inputs too
            inputs.append(self._graph_input(vi))
        # constant-only ops (shape arithmetic) are checked when reached: they need constant inputs
        unsupported = sorted({n.op_type for n in self.g.node if n.op_type not in SUPPORTED
                              and n.op_type not in _FOLDABLE})
        if unsupported:
            raise BakeError("unsupported ONNX operator%s %s; upyflow reads ONNX %s"
                            % ("s" if len(unsupported) > 1 else "",
                               ", ".join(k + (" (%s)" % ONNX_HINTS[k] if k in ONNX_HINTS else "")
                                         for k in unsupported),
                               ", ".join(sorted(set(SUPPORTED) | _FOLDABLE))))
        for node in self.g.node:   # every node's operands first: lookahead reads later nodes
            self.current = node
            self._check_arity(node)
        for i, node in enumerate(self.g.node):
            if i in self.done:
                continue
            self.current = node
            self._node(i, node)
        self.current = None
        outputs = [self._graph_output(o.name) for o in self.g.output]
        desc = "ONNX model (%s %s, opset %d)" % (self.model.producer_name or "?",
                                                 self.model.producer_version or "", self.opset)
        if self.notes:
            desc += "; " + "; ".join(self.notes)
        graph = Graph(self.tensors, self.ops, inputs, outputs, desc)
        if any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in self.g.node):
            graph.rounding = "onnxruntime"   # a QDQ model: its reference is onnxruntime
        return graph

    def _initializer(self, init) -> np.ndarray:
        """An initializer's data, after checking its dims against the cap and its data."""
        dims = [int(d) for d in init.dims]
        if any(d < 0 for d in dims) or _count(dims) > MAX_ELEMENTS:
            raise BakeError("initializer %r has dims %s; upyflow reads at most %d values per tensor"
                            % (init.name, dims, MAX_ELEMENTS))
        if init.data_location == 1 or init.external_data:
            raise BakeError("initializer %r keeps its data in an external file; save the model with "
                            "its data inside" % init.name)
        try:
            arr = self.np.to_array(init)
        except Exception as e:   # the onnx package's message: data and dims disagree
            raise BakeError("initializer %r: its data does not match dims %s and type %d (%s)"
                            % (init.name, dims, init.data_type, _first_line(e))) from None
        if list(arr.shape) != dims:
            raise BakeError("initializer %r: its data does not match dims %s" % (init.name, dims))
        return arr

    def _graph_input(self, vi) -> int:
        tt = vi.type.tensor_type
        if not vi.type.HasField("tensor_type"):
            raise BakeError("graph input %r is not a tensor" % vi.name)
        dtype = self._dtype(tt.elem_type, "graph input %r" % vi.name)
        shape = []
        for axis, d in enumerate(tt.shape.dim):
            if d.HasField("dim_value") and d.dim_value > 0:
                shape.append(d.dim_value)
            elif axis == 0:
                shape.append(1)
                self.notes.append("batch dimension %r of input %r set to 1"
                                  % (d.dim_param or "?", vi.name))
            else:
                raise BakeError("graph input %r has a dynamic dimension %r (axis %d); upyflow needs static "
                                "shapes (only a symbolic batch dimension, set to 1, is allowed)"
                                % (vi.name, d.dim_param or "?", axis))
        shape = tuple(shape)
        if _count(shape) > MAX_ELEMENTS:
            raise BakeError("graph input %r has shape %s; upyflow reads at most %d values per tensor"
                            % (vi.name, list(shape), MAX_ELEMENTS))
        users = [self.g.node[i].op_type for i in self.consumers.get(vi.name, [])]
        perm = _ident(len(shape))
        if not (users and all(u == "Transpose" for u in users)):
            if len(shape) == 4:
                perm = NHWC
            elif len(shape) == 3 and self.one_d:
                perm = NLC
        t = self._tensor(vi.name, tuple(shape[p] for p in perm), dtype)
        self.vals[vi.name] = Val(t, shape, shape, perm)
        return t

    def _graph_output(self, name: str) -> int:
        v = self.vals.get(name)
        if v is None:
            raise BakeError("graph output %r is not computed by any node" % name)
        if not isinstance(v, Val):
            raise BakeError("graph output %r is a constant; upyflow needs computed outputs" % name)
        if v.deq:
            v = self._float(v)
        rank = len(v.shape)
        made_by = [n.op_type for n in self.g.node if name in n.output]
        if rank == 4 and made_by != ["Transpose"]:
            v = self._as(v, v.shape, NHWC)
        elif rank == 3 and self.one_d and made_by != ["Transpose"]:
            v = self._as(v, v.shape, NLC)
        else:
            v = self._as(v, v.shape, _ident(rank))
        return v.t

    @staticmethod
    def _dtype(elem: int, what: str) -> str:
        if elem not in _ONNX_DTYPES or elem in (7, 9):
            raise BakeError("%s has type %s, which upyflow does not support (float32, or int8 via "
                            "QuantizeLinear/DequantizeLinear)" % (what, _ONNX_TYPE_NAMES.get(elem, elem)))
        return _ONNX_DTYPES[elem]

    # --- ir building ----------------------------------------------------------------------
    def _tensor(self, name: str, shape, dtype: str, scale=None, zp=None) -> int:
        _check_shape(name, shape)
        names = {t.name for t in self.tensors[-64:]}
        if name in names:
            name = "%s#%d" % (name, len(self.tensors))
        self.tensors.append(Tensor(name, tuple(int(d) for d in shape), dtype,
                                   [float(scale)] if scale is not None else [],
                                   [int(zp)] if zp is not None else []))
        return len(self.tensors) - 1

    def _like(self, name: str, t: int, shape=None, dtype=None, q=None) -> int:
        """A new activation tensor; quantization from `q` = (scale, zp), else from tensor t if int."""
        src = self.tensors[t]
        dtype = dtype or src.dtype
        if q is None and dtype != "f32" and src.dtype == dtype:
            q = (src.sc, src.zp)
        return self._tensor(name, src.shape if shape is None else shape, dtype,
                            *(q if q is not None and dtype != "f32" else (None, None)))

    def _const(self, name: str, data: np.ndarray, dtype: str, scale=None, zp=None, qdim: int = 0) -> int:
        _check_shape(name, data.shape)
        t = Tensor(name, tuple(int(d) for d in data.shape), dtype, data=np.ascontiguousarray(data, NP_DTYPE[dtype]))
        if scale is not None:
            t.scale = [float(s) for s in np.atleast_1d(scale)]
            t.zero_point = [int(z) for z in np.broadcast_to(np.atleast_1d(zp), (len(t.scale),))]
            t.quantized_dimension = qdim
        self.tensors.append(t)
        return len(self.tensors) - 1

    def _op(self, kind: str, inputs: list[int], outputs: list[int], **options) -> None:
        self.ops.append(Op(kind, inputs, outputs, options))

    def _i32(self, name: str, values) -> int:
        return self._const(name, np.array(values, np.int32), "i32")

    # --- values ----------------------------------------------------------------------------
    def _get(self, node, k: int):
        if k >= len(node.input) or not node.input[k]:
            return None
        name = node.input[k]
        if name not in self.vals:
            raise BakeError("%s node %r reads %r, which no node computed before it"
                            % (node.op_type, node.name, name))
        return self.vals[name]

    def _cval(self, node, k: int, what: str):
        """A constant input as a float/int ndarray (DQ'd constants dequantized)."""
        v = self._get(node, k)
        if v is None:
            return None
        if isinstance(v, QConst):
            return v.value()
        if isinstance(v, Val):
            raise BakeError("%s node %r needs a constant %s (%r is computed at run time)"
                            % (node.op_type, node.name, what, node.input[k]))
        return v

    def _rt(self, node, k: int) -> Val:
        v = self._get(node, k)
        if not isinstance(v, Val):
            raise BakeError("%s node %r: input %r is missing or constant; upyflow needs a computed tensor here"
                            % (node.op_type, node.name, node.input[k] if k < len(node.input) else "?"))
        return v

    def _float(self, v: Val) -> Val:
        """The float view of a value: a DEQUANTIZE for a DequantizeLinear output."""
        if not v.deq:
            if self.tensors[v.t].dtype != "f32":
                raise BakeError("tensor %r is %s where float32 is needed"
                                % (self.tensors[v.t].name, self.tensors[v.t].dtype))
            return v
        if v.t not in self.deq_cache:
            out = self._like(self.tensors[v.t].name + "/dequantized", v.t, dtype="f32")
            self._op("DEQUANTIZE", [v.t], [out])
            self.deq_cache[v.t] = out
        return Val(self.deq_cache[v.t], v.shape, v.base, v.perm)

    def _as(self, v: Val, shape, perm) -> Val:
        """v with storage shape.transpose(perm); free when the bytes are already in that order."""
        shape, perm = tuple(shape), tuple(perm)
        want_ir = tuple(shape[p] for p in perm)
        if np.array_equal(_order(v.base, v.perm), _order(shape, perm)):
            if self.tensors[v.t].shape == want_ir:
                return Val(v.t, shape, shape, perm, v.deq)
            out = self._like(self.tensors[v.t].name + "/reshaped", v.t, want_ir)
            self._op("RESHAPE", [v.t, self._i32(self.tensors[out].name + "/shape", want_ir)], [out])
            return Val(out, shape, shape, perm, v.deq)
        t = v.t
        if v.perm != _ident(len(v.perm)):   # storage back to base order
            base_t = self._like(self.tensors[t].name + "/transposed", t, v.base)
            self._op("TRANSPOSE", [t, self._i32(self.tensors[base_t].name + "/perm", _inv(v.perm))], [base_t])
            t = base_t
        cur = Val(t, v.base, v.base, _ident(len(v.base)), v.deq)
        if perm == _ident(len(perm)):
            return self._as(cur, shape, perm)
        flat = self._as(cur, shape, _ident(len(shape)))
        out = self._like(self.tensors[flat.t].name + "/transposed", flat.t, want_ir)
        self._op("TRANSPOSE", [flat.t, self._i32(self.tensors[out].name + "/perm", perm)], [out])
        return Val(out, shape, shape, perm, v.deq)

    def _plain(self, v: Val) -> Val:
        """v in its own logical shape, keeping its perm when it already is (no op)."""
        if v.shape == v.base:
            return v
        if len(v.shape) == 4 and np.array_equal(_order(v.base, v.perm), _order(v.shape, NHWC)):
            return self._as(v, v.shape, NHWC)
        return self._as(v, v.shape, _ident(len(v.shape)))

    def _set(self, name: str, v) -> None:
        self.vals[name] = v

    # --- quantization lookahead ------------------------------------------------------------
    def _sole_consumer(self, name: str):
        """(index, node) of the only node reading `name`, None if several, none, or a graph output."""
        users = self.consumers.get(name, [])
        if len(users) != 1 or name in self.out_names:
            return None
        return users[0], self.g.node[users[0]]

    def _q_after(self, name: str):
        """(scale, zp, node index, output name) of a QuantizeLinear alone reading `name`."""
        c = self._sole_consumer(name)
        if c is None or c[1].op_type != "QuantizeLinear":
            return None
        i, node = c
        scale, zp = self._qparams(node)
        if scale.size != 1:
            return None
        return float(scale.reshape(-1)[0]), int(zp.reshape(-1)[0]), i, node.output[0]

    def _qparams(self, node) -> tuple[np.ndarray, np.ndarray]:
        s = self._get(node, 1)
        z = self._get(node, 2)
        if not isinstance(s, np.ndarray) or (z is not None and not isinstance(z, np.ndarray)):
            raise BakeError("%s node %r needs constant scale and zero point" % (node.op_type, node.name))
        if z is None:
            z = np.zeros(s.shape, np.int8)
        if s.ndim > 1 or s.size < 1 or z.size != s.size or z.dtype.kind not in "iu" \
                or not np.all(np.isfinite(s)) or np.any(s.astype(np.float64) <= 0):
            raise BakeError("%s node %r: scale %s and zero point %s; it needs matching, positive, finite scales"
                            % (node.op_type, node.name, s.reshape(-1)[:4].tolist(), z.reshape(-1)[:4].tolist()))
        if z.dtype != np.int8 and node.op_type == "QuantizeLinear":
            raise BakeError("QuantizeLinear %r quantizes to %s; upyflow runs int8 (QuantType.QInt8)"
                            % (node.name, z.dtype))
        for a in node.attribute:
            if a.name == "block_size" and a.i:
                raise BakeError("%s %r: blocked quantization is not supported" % (node.op_type, node.name))
        return s.astype(np.float32), z

    def _attrs(self, node) -> dict:
        """The node's attributes by name, those the reader uses checked for type and range."""
        from onnx import helper
        out = {}
        for a in node.attribute:
            spec = ATTRS.get(a.name)
            if spec is not None:
                kind, least = spec
                if a.type != kind:
                    raise BakeError("%s node %r: attribute %s is %s, expected %s"
                                    % (node.op_type, node.name, a.name,
                                       _ATTR_TYPE_NAMES.get(a.type, "of type %d" % a.type), _ATTR_TYPE_NAMES[kind]))
                ints = list(a.ints) if kind == _INTS else [a.i] if kind == _INT else []
                lo = -2**31 if least is None else least
                if any(not lo <= v < 2**31 for v in ints):
                    raise BakeError("%s node %r: attribute %s = %s is out of range (%d to 2^31-1)"
                                    % (node.op_type, node.name, a.name, ints if kind == _INTS else ints[0], lo))
            out[a.name] = helper.get_attribute_value(a)
        return out

    def _absorb_act(self, name: str):
        """Relu/Clip reading only `name`, fusable as a TFLite activation: (act, index, its output)."""
        c = self._sole_consumer(name)
        if c is None:
            return None
        i, node = c
        if node.op_type == "Relu":
            return "RELU", i, node.output[0]
        if node.op_type == "Clip":
            act = self._clip_act(node)
            if act is not None:
                return act, i, node.output[0]
        return None

    def _clip_bounds(self, node) -> tuple[float | None, float | None]:
        if self.opset < 11:
            a = self._attrs(node)
            lo, hi = a.get("min"), a.get("max")
        else:
            lo_v, hi_v = self._cval(node, 1, "min"), self._cval(node, 2, "max")
            lo = None if lo_v is None else float(np.asarray(lo_v).reshape(-1)[0])
            hi = None if hi_v is None else float(np.asarray(hi_v).reshape(-1)[0])
        if lo is not None and lo <= -3.4e38:
            lo = None
        if hi is not None and hi >= 3.4e38:
            hi = None
        # NaN, min > max, or a bound making every output infinite: the TFLite operators' float
        # semantics (a max pool starts at -FLT_MAX, activations clamp at +-FLT_MAX) would then
        # differ from onnxruntime's
        if any(v is not None and not np.isfinite(v) for v in (lo, hi)) or \
                (lo is not None and hi is not None and lo > hi):
            raise BakeError("Clip node %r: min %s, max %s; upyflow needs finite bounds with min <= max"
                            % (node.name, lo, hi))
        return lo, hi

    def _clip_act(self, node) -> str | None:
        return {(0.0, None): "RELU", (0.0, 6.0): "RELU6", (-1.0, 1.0): "RELU_N1_TO_1"}.get(self._clip_bounds(node))

    def _chain(self, name: str, quant: bool, fuse: bool = True):
        """(activation, final ONNX name, Q) after an op whose output is `name`: a Relu/Clip fused,
        then (when quant) the QuantizeLinear that gives the int8 output. None: no such Q."""
        a = self._absorb_act(name) if fuse else None
        act, idx, end = ("NONE", None, name) if a is None else a
        q = self._q_after(end) if quant else None
        if quant and q is None:
            return None
        if idx is not None:
            self.done.add(idx)
        return act, end, q

    # --- nodes -----------------------------------------------------------------------------
    def _check_arity(self, node) -> None:
        op = node.op_type
        need = MIN_INPUTS.get(op, 1)
        if op in MIN_INPUTS_BY_OPSET and self.opset >= MIN_INPUTS_BY_OPSET[op][0]:
            need = MIN_INPUTS_BY_OPSET[op][1]
        if len(node.input) < need or not all(node.input[:need]) or not node.output or not node.output[0]:
            raise BakeError("%s node %r has inputs %s and outputs %s; it needs %d input%s and an output"
                            % (op, node.name, list(node.input), list(node.output), need, "" if need == 1 else "s"))

    def _node(self, i: int, node) -> None:
        op = node.op_type
        ins = [self.vals.get(n) if n else None for n in node.input]
        if any(n and n not in self.vals for n in node.input):
            missing = [n for n in node.input if n and n not in self.vals][0]
            raise BakeError("%s node %r reads %r, which no node computed before it" % (op, node.name, missing))
        if op == "Constant":
            self._set(node.output[0], self._constant(node))
            return
        if op in _FOLDABLE and all(not isinstance(v, Val) for v in ins if v is not None) and ins \
                and op not in ("QuantizeLinear", "DequantizeLinear"):
            try:
                folded = self._fold(node, [(v.value() if isinstance(v, QConst) else v) for v in ins])
            except (ValueError, TypeError, IndexError) as e:   # numpy refusing the operands
                raise BakeError("%s node %r: cannot evaluate its constant operands (%s)"
                                % (op, node.name, _first_line(e))) from None
            self._set(node.output[0], folded)
            return
        handler = getattr(self, "_op_" + op, None)
        if handler is None:
            raise BakeError("unsupported ONNX operator %s (node %r) on computed tensors" % (op, node.name))
        handler(i, node)

    def _constant(self, node) -> np.ndarray:
        a = self._attrs(node)
        if "value" in a:
            return self.np.to_array(a["value"])
        for k in ("value_float", "value_int"):
            if k in a:
                return np.array(a[k], np.float32 if k == "value_float" else np.int64)
        for k in ("value_floats", "value_ints"):
            if k in a:
                return np.array(a[k], np.float32 if k == "value_floats" else np.int64)
        raise BakeError("Constant node %r: unsupported value attribute %s" % (node.name, sorted(a)))

    def _fold(self, node, xs: list) -> np.ndarray:
        op, a = node.op_type, self._attrs(node)
        x = xs[0]
        if op == "Shape":
            return np.array(x.shape, np.int64)
        if op == "Gather":
            idx, ax = np.asarray(xs[1]), a.get("axis", 0)
            if not -max(x.ndim, 1) <= ax < max(x.ndim, 1) or idx.dtype.kind not in "iu" or \
                    np.any(idx < -x.shape[ax]) or np.any(idx >= x.shape[ax]):
                raise BakeError("Gather node %r: indices or axis %d out of range for shape %s"
                                % (node.name, ax, list(x.shape)))
            return np.take(x, idx, axis=ax)
        if op == "Unsqueeze":
            spec = xs[1] if len(xs) > 1 else None
            n_new = len(np.asarray(a.get("axes") if "axes" in a else spec if spec is not None else []).reshape(-1))
            for ax in sorted(self._axes(node, a, spec, x.ndim + n_new, need=True)):
                x = np.expand_dims(x, ax)
            return x
        if op == "Squeeze":
            axes = self._axes(node, a, xs[1] if len(xs) > 1 else None, x.ndim)
            if axes is not None and any(x.shape[k] != 1 for k in axes):
                raise BakeError("Squeeze node %r: axes %s of shape %s are not 1" % (node.name, axes, list(x.shape)))
            return np.squeeze(x, tuple(axes) if axes is not None else None)
        if op == "Concat":
            try:
                return np.concatenate([np.atleast_1d(v) for v in xs], axis=a.get("axis", 0))
            except (ValueError, TypeError) as e:   # numpy checks ranks, axis and dims first
                raise BakeError("Concat node %r: %s" % (node.name, _first_line(e))) from None
        if op == "Cast":
            from onnx import helper
            try:
                return x.astype(helper.tensor_dtype_to_np_dtype(a["to"]))
            except KeyError:
                raise BakeError("Cast node %r needs a known type 'to'" % node.name) from None
        if op == "Reshape":
            return x.reshape(self._reshape_shape(node, x.shape, xs[1]))
        if op == "Flatten":
            ax = a.get("axis", 1) % max(x.ndim, 1) if a.get("axis", 1) != x.ndim else x.ndim
            return x.reshape(int(np.prod(x.shape[:ax])), -1)
        if op == "Transpose":
            return x.transpose(_perm(node, a, x.ndim))
        if op == "Identity":
            return x
        if op in ("Add", "Sub", "Mul", "Div"):
            f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply,
                 "Div": np.floor_divide if x.dtype.kind in "iu" else np.divide}[op]
            try:
                _fold_size(node, np.broadcast_shapes(np.shape(x), np.shape(xs[1])))
            except ValueError:
                raise BakeError("%s node %r: shapes %s and %s do not broadcast"
                                % (op, node.name, list(np.shape(x)), list(np.shape(xs[1])))) from None
            return f(x, xs[1]).astype(np.result_type(x, xs[1]))
        if op == "Neg":
            return -x
        if op == "Sqrt":
            return np.sqrt(x)
        if op == "Equal":
            return np.equal(x, xs[1])
        if op == "Where":
            return np.where(x, xs[1], xs[2])
        if op == "Expand":
            shape = _fold_shape(node, xs[1])
            try:
                _fold_size(node, np.broadcast_shapes(np.shape(x), tuple(shape)))
            except ValueError:
                raise BakeError("Expand node %r: shape %s does not broadcast with %s"
                                % (node.name, shape, list(np.shape(x)))) from None
            return x * np.ones(shape, x.dtype)
        if op == "ConstantOfShape":
            v = self.np.to_array(a["value"]) if "value" in a else np.zeros(1, np.float32)
            if v.size < 1:
                raise BakeError("ConstantOfShape node %r has an empty value" % node.name)
            return np.full(_fold_shape(node, x), v.reshape(-1)[0], v.dtype)
        if op == "Range":
            start, limit, delta = (float(np.asarray(v).reshape(-1)[0]) if np.size(v) == 1 else None
                                   for v in (x, xs[1], xs[2]))
            if None in (start, limit, delta) or delta == 0 or not all(map(np.isfinite, (start, limit, delta))):
                raise BakeError("Range node %r needs finite scalar start, limit and a non-zero delta" % node.name)
            _fold_size(node, (max(0, int(np.ceil((limit - start) / delta))),))
            return np.arange(x, xs[1], xs[2])
        if op == "Slice":
            starts, ends = np.asarray(xs[1]).reshape(-1), np.asarray(xs[2]).reshape(-1)
            axes = np.asarray(xs[3]).reshape(-1) if len(xs) > 3 and xs[3] is not None else range(len(starts))
            steps = np.asarray(xs[4]).reshape(-1) if len(xs) > 4 and xs[4] is not None else [1] * len(starts)
            if not len(starts) == len(ends) == len(axes) == len(steps):
                raise BakeError("Slice node %r: starts, ends, axes and steps differ in length" % node.name)
            sl = [slice(None)] * x.ndim
            for s, e, ax, st in zip(starts, ends, axes, steps):
                if not -x.ndim <= int(ax) < x.ndim or int(st) == 0:
                    raise BakeError("Slice node %r: axis %d or step %d does not fit shape %s"
                                    % (node.name, int(ax), int(st), list(x.shape)))
                sl[int(ax)] = slice(int(s), int(e), int(st))
            return x[tuple(sl)]
        raise BakeError("cannot evaluate constant %s node %r" % (op, node.name))

    def _reshape_shape(self, node, in_shape, spec) -> tuple:
        if spec is None or np.asarray(spec).dtype.kind not in "iu":
            raise BakeError("Reshape node %r needs an integer shape" % node.name)
        spec = [int(v) for v in np.asarray(spec).reshape(-1)]
        allowzero = self._attrs(node).get("allowzero", 0)
        if any(d < -1 for d in spec) or spec.count(-1) > 1 or \
                any(d == 0 and k >= len(in_shape) and not allowzero for k, d in enumerate(spec)):
            raise BakeError("Reshape node %r: shape %s for an input of shape %s" % (node.name, spec, list(in_shape)))
        out = [in_shape[k] if (d == 0 and not allowzero) else d for k, d in enumerate(spec)]
        n = int(np.prod(in_shape, dtype=np.int64))
        if out.count(-1) == 1:
            rest = int(np.prod([d for d in out if d != -1], dtype=np.int64))
            out[out.index(-1)] = n // rest if rest else 0
        if int(np.prod(out, dtype=np.int64)) != n:
            raise BakeError("Reshape node %r: cannot reshape %s to %s" % (node.name, list(in_shape), spec))
        return tuple(out)

    # layout-only ---------------------------------------------------------------------------
    def _reshaped(self, node, v: Val, shape) -> None:
        shape = tuple(int(d) for d in shape)
        if _count(shape) != _count(v.shape) or any(d < 1 for d in shape):
            raise BakeError("%s node %r: cannot make %s of %s" % (node.op_type, node.name, list(shape), list(v.shape)))
        self._set(node.output[0], Val(v.t, shape, v.base, v.perm, v.deq))

    def _op_Identity(self, i, node) -> None:
        self._set(node.output[0], self._get(node, 0))

    _op_Dropout = _op_Identity

    def _op_Shape(self, i, node) -> None:
        """Shapes are static: a constant (its Gather/Concat/Reshape arithmetic folds too)."""
        shape = self._rt(node, 0).shape
        a = self._attrs(node)
        self._set(node.output[0], np.array(shape[a.get("start", 0):a.get("end", len(shape))], np.int64))

    def _op_Reshape(self, i, node) -> None:
        v = self._rt(node, 0)
        shape = self._cval(node, 1, "shape")
        if shape is None:
            shape = self._attrs(node).get("shape")
        self._reshaped(node, v, self._reshape_shape(node, v.shape, shape))

    def _op_Flatten(self, i, node) -> None:
        v = self._rt(node, 0)
        ax = self._attrs(node).get("axis", 1)
        ax = ax + len(v.shape) if ax < 0 else ax
        self._reshaped(node, v, (int(np.prod(v.shape[:ax], dtype=np.int64)),
                                 int(np.prod(v.shape[ax:], dtype=np.int64))))

    def _axes(self, node, a: dict, spec, rank: int, need: bool = False) -> list[int] | None:
        """Axes from the attribute or the operand `spec`, as non-negative ints below rank."""
        axes = a.get("axes") if "axes" in a else spec
        if axes is None:
            if need:
                raise BakeError("%s node %r needs axes" % (node.op_type, node.name))
            return None
        arr = np.asarray(axes)
        if arr.ndim > 1 or (arr.size and arr.dtype.kind not in "iu") or \
                any(not -rank <= int(x) < rank for x in arr.reshape(-1)):
            raise BakeError("%s node %r: axes %s do not fit rank %d" % (node.op_type, node.name,
                                                                         arr.reshape(-1).tolist(), rank))
        out = [int(x) % rank for x in arr.reshape(-1)]
        if len(set(out)) != len(out):
            raise BakeError("%s node %r: repeated axes %s" % (node.op_type, node.name, out))
        return out

    def _op_Squeeze(self, i, node) -> None:
        v = self._rt(node, 0)
        r = len(v.shape)
        axes = self._axes(node, self._attrs(node), self._cval(node, 1, "axes"), r)
        axes = [d for d in range(r) if v.shape[d] == 1] if axes is None else axes
        self._reshaped(node, v, [d for k, d in enumerate(v.shape) if k not in axes])

    def _op_Unsqueeze(self, i, node) -> None:
        v = self._rt(node, 0)
        a = self._attrs(node)
        spec = self._cval(node, 1, "axes")
        n_new = len(np.asarray(a.get("axes") if "axes" in a else spec if spec is not None else []).reshape(-1))
        shape = list(v.shape)
        r = len(shape) + n_new
        for ax in sorted(self._axes(node, a, spec, r, need=True)):
            shape.insert(ax, 1)
        self._reshaped(node, v, shape)

    def _op_Transpose(self, i, node) -> None:
        v = self._rt(node, 0)
        r = len(v.shape)
        p = _perm(node, self._attrs(node), r)
        if v.shape != v.base:
            v = self._as(v, v.shape, _ident(r))
        ip = _inv(p)
        shape = tuple(v.shape[k] for k in p)
        self._set(node.output[0], Val(v.t, shape, shape, tuple(ip[k] for k in v.perm), v.deq))

    # quantization nodes ------------------------------------------------------------------------
    def _op_DequantizeLinear(self, i, node) -> None:
        x = self._get(node, 0)
        scale, zp = self._qparams(node)
        axis = self._attrs(node).get("axis", 1)
        if isinstance(x, np.ndarray):
            rank = max(x.ndim, 1)   # the axis matters only for per-axis scales
            if scale.size > 1 and (not -rank <= axis < rank or scale.size != (np.shape(x)[axis] if x.ndim else 1)):
                raise BakeError("DequantizeLinear %r: %d scales for data of shape %s on axis %d"
                                % (node.name, scale.size, list(np.shape(x)), axis))
            if x.dtype not in (np.int8, np.int32):
                raise BakeError("DequantizeLinear %r of %s data: upyflow runs int8 weights and int32 biases"
                                % (node.name, x.dtype))
            self._set(node.output[0], QConst(x, scale.reshape(-1), zp.reshape(-1).astype(np.int64),
                                             axis % max(x.ndim, 1)))
            return
        if isinstance(x, QConst):
            raise BakeError("DequantizeLinear %r of an already dequantized constant" % node.name)
        t = self.tensors[x.t]
        if t.dtype != "i8" or x.deq:
            raise BakeError("DequantizeLinear %r reads %s data; upyflow runs int8" % (node.name, t.dtype))
        if scale.size != 1:
            raise BakeError("DequantizeLinear %r: per-channel activations are not supported" % node.name)
        s, z = float(scale.reshape(-1)[0]), int(zp.reshape(-1)[0])
        if not t.scale:   # an int8 graph input: its quantization comes from here
            t.scale, t.zero_point = [s], [z]
        elif (np.float32(t.sc), t.zp) != (np.float32(s), z):
            raise BakeError("DequantizeLinear %r: scale/zero point differ from the QuantizeLinear "
                            "that made %r" % (node.name, node.input[0]))
        self._set(node.output[0], Val(x.t, x.shape, x.base, x.perm, True))

    def _op_QuantizeLinear(self, i, node) -> None:
        x = self._get(node, 0)
        scale, zp = self._qparams(node)
        if isinstance(x, (np.ndarray, QConst)):
            xf = x.value() if isinstance(x, QConst) else x.astype(np.float32)
            axis = self._attrs(node).get("axis", 1) % max(xf.ndim, 1)
            shape = [1] * xf.ndim
            if scale.size > 1:
                shape[axis] = -1
            q = np.clip(np.rint(xf / scale.reshape(shape)) + zp.reshape(shape), -128, 127).astype(np.int8)
            self._set(node.output[0], QConst(q, scale.reshape(-1), zp.reshape(-1).astype(np.int64), axis))
            return
        if scale.size != 1:
            raise BakeError("QuantizeLinear %r: per-channel activations are not supported" % node.name)
        s, z = float(scale.reshape(-1)[0]), int(zp.reshape(-1)[0])
        t = self.tensors[x.t]
        if x.deq and (np.float32(t.sc), t.zp) == (np.float32(s), z):
            self._set(node.output[0], Val(x.t, x.shape, x.base, x.perm))
            return
        src = x.t if x.deq else self._float(x).t
        out = self._like(node.output[0], src, dtype="i8", q=(s, z))
        self._op("QUANTIZE", [src], [out])
        self._set(node.output[0], Val(out, x.shape, x.base, x.perm))

    # helpers for quantized operands --------------------------------------------------------------
    def _bind_out(self, out_name: str, q, val: Val) -> None:
        if q is None:
            self._set(out_name, val)
        else:
            self.done.add(q[2])
            self._set(q[3], val)

    def _is_q(self, v) -> bool:
        return isinstance(v, Val) and v.deq

    # convolution ---------------------------------------------------------------------------------
    def _spatial_in(self, node, v: Val) -> Val:
        """The NHWC input of a 2-D operator; a 1-D [N, C, L] input as [N, C, 1, L] (free when NLC)."""
        if len(v.shape) not in (3, 4):
            raise BakeError("%s node %r: %d-D input %s; upyflow runs 1-D (NCL) and 2-D (NCHW) spatial tensors"
                            % (node.op_type, node.name, len(v.shape), list(v.shape)))
        if v.shape[0] != 1:
            raise BakeError("%s node %r: batch %d; upyflow runs batch 1" % (node.op_type, node.name, v.shape[0]))
        if len(v.shape) == 3:
            return self._as(v, (1, v.shape[1], 1, v.shape[2]), NHWC)
        return self._as(v, v.shape, NHWC)

    def _out_1d(self, v: Val) -> Val:
        """A [1, C, 1, L] NHWC result as the [1, C, L] NLC value of a 1-D operator (an aliased RESHAPE)."""
        res = self._as(v, (v.shape[0], v.shape[1], v.shape[3]), NLC)
        if res.t != v.t:   # the ONNX name goes to the 1-D tensor
            t2, t1 = self.tensors[v.t], self.tensors[res.t]
            t2.name, t1.name = t2.name + "/2d", t2.name
        return res

    @staticmethod
    def _geometry(node, a: dict, kernel=None) -> None:
        """2-D Conv/pool attributes (after _attrs_2d): two kernel sizes (a pool's are required,
        a Conv's equal its weights'), two strides and dilations, four pads >= 0."""
        k = a.get("kernel_shape")
        if (k is None and kernel is None) or (k is not None and len(k) != 2) or \
                (k is not None and kernel is not None and tuple(k) != tuple(kernel)):
            raise BakeError("%s node %r: kernel_shape %s does not fit a %s"
                            % (node.op_type, node.name, None if k is None else list(k),
                               "filter of %s" % list(kernel) if kernel is not None else "2-D pool"))
        for name, n in (("strides", 2), ("dilations", 2), ("pads", 4)):
            if name in a and len(a[name]) != n:
                raise BakeError("%s node %r: %s %s, expected %d values" % (node.op_type, node.name, name,
                                                                          list(a[name]), n))
        if any(p < 0 for p in a.get("pads", [])):
            raise BakeError("%s node %r: negative pads %s" % (node.op_type, node.name, list(a["pads"])))

    @staticmethod
    def _attrs_2d(a: dict) -> dict:
        """1-D Conv/pool attributes as those of the height-1 2-D operator."""
        a = dict(a)
        for k in ("kernel_shape", "strides", "dilations"):
            if k in a:
                a[k] = [1] + list(a[k])
        if "pads" in a:   # [begin, end]; any other length stays invalid for _geometry
            p = list(a["pads"])
            a["pads"] = [0, p[0], 0, p[1]] if len(p) == 2 else p + [0] * 5
        return a

    def _pads(self, node, a: dict, in_hw, k_hw, s_hw, d_hw) -> tuple[list[int], list[int]]:
        """(begin pads, end pads) per spatial axis from pads/auto_pad."""
        auto = a.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else auto
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            begin, end = [], []
            for n, k, s, d in zip(in_hw, k_hw, s_hw, d_hw):
                out = -(-n // s)
                total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
                small = total // 2
                begin.append(small if auto == "SAME_UPPER" else total - small)
                end.append(total - begin[-1])
            return begin, end
        if auto == "VALID":
            return [0, 0], [0, 0]
        pads = list(a.get("pads", [0, 0, 0, 0]))
        return pads[:2], pads[2:]

    def _padding(self, node, in_hw, k_hw, s_hw, d_hw, begin, end, ceil_mode: bool = False):
        """'SAME'/'VALID' when TFLite's padding reproduces ONNX's, else None; and ONNX's output size."""
        outs = []
        for n, k, s, d, b, e in zip(in_hw, k_hw, s_hw, d_hw, begin, end):
            eff = (k - 1) * d + 1
            span = n + b + e - eff
            if span < 0:
                raise BakeError("%s node %r: kernel larger than the padded input" % (node.op_type, node.name))
            o = (-(-span // s) if ceil_mode else span // s) + 1
            if ceil_mode and (o - 1) * s >= n + b:   # ONNX drops a window starting in the end padding
                o -= 1
            outs.append(o)
        if all(b == 0 for b in begin) and all(
                (n - ((k - 1) * d + 1)) // s + 1 == o for n, k, s, d, o in zip(in_hw, k_hw, s_hw, d_hw, outs)):
            # VALID: begin pads zero and the end padding (if any) reaches no window
            return "VALID", outs
        same = True
        for n, k, s, d, b, o in zip(in_hw, k_hw, s_hw, d_hw, begin, outs):
            eff = (k - 1) * d + 1
            so = -(-n // s)
            total = max((so - 1) * s + eff - n, 0)
            if so != o or b != total // 2:
                same = False
        return ("SAME" if same else None), outs

    def _pad_op(self, x: Val, begin, end, value_f: float | None) -> Val:
        """Explicit zero (or value) padding of an NHWC value; int8 pads with the zero point."""
        t = self.tensors[x.t]
        n, h, w, c = t.shape
        shape = (n, h + begin[0] + end[0], w + begin[1] + end[1], c)
        out = self._like(t.name + "/padded", x.t, shape)
        pads = self._i32(t.name + "/paddings", [[0, 0], [begin[0], end[0]], [begin[1], end[1]], [0, 0]])
        if value_f is None or value_f == 0.0:
            self._op("PAD", [x.t, pads], [out])
        else:
            if t.dtype == "f32":
                cv = self._const(t.name + "/pad_value", np.array([value_f], np.float32), "f32")
            else:
                q = -128 if value_f < -1e30 else int(np.clip(np.rint(value_f / t.sc) + t.zp, -128, 127))
                cv = self._const(t.name + "/pad_value", np.array([q], np.int8), "i8", t.sc, t.zp)
            self._op("PADV2", [x.t, pads, cv], [out])
        logical = (n, c, shape[1], shape[2])
        return Val(out, logical, logical, NHWC, x.deq)

    def _op_Conv(self, i, node) -> None:
        a = self._attrs(node)
        v = self._rt(node, 0)
        w = self._get(node, 1)
        b = self._get(node, 2)
        if isinstance(w, Val) or w is None:
            raise BakeError("Conv node %r needs constant weights" % node.name)
        if isinstance(b, Val):
            raise BakeError("Conv node %r: a computed bias is not supported" % node.name)
        # int8 weights with a non-zero zero point run in float (the kernels' are symmetric)
        wq = w if isinstance(w, QConst) and not np.any(w.zp) else None
        wf = w.value() if isinstance(w, QConst) else w
        one_d = wf.ndim == 3
        if one_d:   # [O, C/g, K] on [N, C, L]: the 2-D conv of height 1
            if len(v.shape) != 3:
                raise BakeError("Conv node %r: 1-D weights on a %d-D input" % (node.name, len(v.shape)))
            a = self._attrs_2d(a)
            wf = wf[:, :, None, :]
            if wq is not None:
                wq = QConst(wq.q[:, :, None, :], wq.scale, wq.zp, wq.axis if wq.axis < 2 else wq.axis + 1)
        if wf.ndim != 4:
            raise BakeError("Conv node %r: %d-D weights; upyflow runs 1-D and 2-D convolutions"
                            % (node.name, wf.ndim))
        x = self._spatial_in(node, v)
        c_out, c_in_g, kh, kw = wf.shape
        self._geometry(node, a, (kh, kw))
        c_in = x.shape[1]
        group = a.get("group", 1)
        s_hw = list(a.get("strides", [1, 1]))
        d_hw = list(a.get("dilations", [1, 1]))
        begin, end = self._pads(node, a, x.shape[2:], (kh, kw), s_hw, d_hw)
        if c_in_g * group != c_in or c_out % group:
            raise BakeError("Conv node %r: weights %s for %d input channels in %d groups"
                            % (node.name, list(wf.shape), c_in, group))
        if group == 1:
            kind = "CONV_2D"
        elif group == c_in:
            kind = "DEPTHWISE_CONV_2D"
        else:
            kind = "GROUPED"   # a CONV_2D per group
        # quantized when input and weights are DQ'd int8 and one QuantizeLinear takes the output
        quant = self._is_q(v) and wq is not None and wq.q.dtype == np.int8 and \
            (b is None or isinstance(b, (QConst, np.ndarray)))
        chain = self._chain(node.output[0], True) if quant else None
        if chain is None:
            quant = False
            x = self._float(x)
            if b is not None and np.size(b.q if isinstance(b, QConst) else b) != c_out:
                raise BakeError("Conv node %r: bias for %d outputs" % (node.name, c_out))
            bias_f = np.zeros(c_out, np.float32) if b is None else \
                (b.value() if isinstance(b, QConst) else np.asarray(b, np.float32)).reshape(-1).astype(np.float32)
            wf, bias_f, name = self._fold_bn(node.output[0], wf.astype(np.float32), bias_f)
            chain = self._chain(name, False)
        act, name, q = chain
        padding, (oh, ow) = self._padding(node, x.shape[2:], (kh, kw), s_hw, d_hw, begin, end)
        if padding is None:
            x = self._pad_op(x, begin, end, 0.0)
            padding = "VALID"
        opts = dict(padding=padding, stride_h=s_hw[0], stride_w=s_hw[1], dilation_h_factor=d_hw[0],
                    dilation_w_factor=d_hw[1], fused_activation_function=act)
        wname = node.input[1]
        if kind == "DEPTHWISE_CONV_2D":
            opts["depth_multiplier"] = c_out // c_in
            wt = (wq.q if quant else wf).reshape(c_out, kh, kw).transpose(1, 2, 0).reshape(1, kh, kw, c_out)
            qdim = 3
        else:
            wt = (wq.q if quant else wf).transpose(0, 2, 3, 1)
            qdim = 0
        if quant:
            xt = self.tensors[x.t]
            w_scale = wq.scale
            bias, b_scale = self._qbias_values(node, b, xt.sc, w_scale, c_out)
        else:
            bias, w_scale, b_scale = bias_f, None, None
        out_name, dtype = (q[3], "i8") if q else (name, "f32")
        qout = q[:2] if q else (None, None)
        groups = group if kind == "GROUPED" else 1
        og, cg = c_out // groups, c_in // groups
        parts = []
        for j in range(groups):
            ws = slice(j * og, (j + 1) * og)
            xj, tag = x.t, ""
            if groups > 1:
                tag = "/group%d" % j
                xj = self._channels(x.t, j * cg, cg, out_name + tag + "/input")
            if quant:
                sc = w_scale[ws] if w_scale.size > 1 else w_scale
                w_t = self._const(wname + tag, wt[ws], "i8", sc, np.zeros_like(sc), qdim)
                bias_t = self._const(self._bias_name(node) + tag, bias[ws], "i32", b_scale[ws],
                                     np.zeros(og, np.int64))
            else:
                w_t = self._const(wname + tag, wt[ws], "f32")
                bias_t = self._const(wname + "/bias" + tag, bias[ws], "f32")
            part = self._tensor(out_name + tag, (1, oh, ow, og), dtype, *qout)
            self._op(kind if groups == 1 else "CONV_2D", [xj, w_t, bias_t], [part], **opts)
            parts.append(part)
        out = parts[0] if groups == 1 else self._concat_channels(parts, out_name, dtype, qout)
        logical = (1, c_out, oh, ow)
        res = Val(out, logical, logical, NHWC)
        self._bind_out(name, q, self._out_1d(res) if one_d else res)

    def _channels(self, t: int, start: int, n: int, name: str) -> int:
        """Channels [start, start + n) of an NHWC tensor: a STRIDED_SLICE."""
        b, h, w, _ = self.tensors[t].shape
        out = self._like(name, t, (b, h, w, n))
        self._op("STRIDED_SLICE", [t, self._i32(name + "/begin", [0, 0, 0, start]),
                                   self._i32(name + "/end", [b, h, w, start + n]),
                                   self._i32(name + "/strides", [1, 1, 1, 1])], [out],
                 begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=0)
        return out

    def _concat_channels(self, parts: list[int], name: str, dtype: str, qout) -> int:
        """CONCATENATION of NHWC tensors on the channel axis; TFLM takes at most 10 inputs: nested."""
        level = 0
        while True:
            chunks = [parts[k:k + 10] for k in range(0, len(parts), 10)]
            joined = []
            for k, chunk in enumerate(chunks):
                if len(chunk) == 1:
                    joined.append(chunk[0])
                    continue
                shape = self.tensors[chunk[0]].shape[:3] + (sum(self.tensors[t].shape[3] for t in chunk),)
                last = len(chunks) == 1
                out = self._tensor(name if last else "%s/concat%d_%d" % (name, level, k), shape, dtype, *qout)
                self._op("CONCATENATION", chunk, [out], axis=3, fused_activation_function="NONE")
                joined.append(out)
            if len(joined) == 1:
                return joined[0]
            parts, level = joined, level + 1

    def _fold_bn(self, name: str, w: np.ndarray, bias: np.ndarray):
        """Fold a BatchNormalization that alone reads a float conv output into its weights."""
        c = self._sole_consumer(name)
        if c is None or c[1].op_type != "BatchNormalization" or len(c[1].output) > 1 and any(c[1].output[1:]):
            return w, bias, name
        i, node = c
        try:
            gamma, beta, mean, var = (np.asarray(self._cval(node, k, "parameter"), np.float64).reshape(-1)
                                      for k in range(1, 5))
        except BakeError:
            return w, bias, name
        if any(np.size(p) != w.shape[0] for p in (gamma, beta, mean, var)):
            raise BakeError("BatchNormalization node %r: parameters for %d channels, the Conv makes %d"
                            % (node.name, np.size(gamma), w.shape[0]))
        eps = self._attrs(node).get("epsilon", 1e-5)
        k = gamma / np.sqrt(var + eps)
        self.done.add(i)
        w = (w.astype(np.float64) * k.reshape(-1, *([1] * (w.ndim - 1)))).astype(np.float32)
        bias = ((bias.astype(np.float64) - mean) * k + beta).astype(np.float32)
        return w, bias, node.output[0]

    def _qbias(self, node, b, in_scale: float, w_scale: np.ndarray, n: int) -> int:
        data, bscale = self._qbias_values(node, b, in_scale, w_scale, n)
        return self._const(self._bias_name(node), data, "i32", bscale, np.zeros(n, np.int64))

    @staticmethod
    def _bias_name(node) -> str:
        return node.input[2] if len(node.input) > 2 and node.input[2] else node.output[0] + "/bias"

    def _qbias_values(self, node, b, in_scale: float, w_scale: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """int32 bias and its scales: the DQ'd initializer's data, or a float bias quantized at in_scale*w_scale."""
        bscale = (np.float64(in_scale) * w_scale.astype(np.float64)) * np.ones(n)
        if b is not None and np.size(b.q if isinstance(b, QConst) else b) != n:
            raise BakeError("%s node %r: bias of %d values for %d outputs"
                            % (node.op_type, node.name, np.size(b.q if isinstance(b, QConst) else b), n))
        if b is None:
            data = np.zeros(n, np.int32)
        elif isinstance(b, QConst):
            if b.q.dtype != np.int32:
                raise BakeError("%s node %r: the bias is %s; upyflow needs int32" % (node.op_type, node.name, b.q.dtype))
            data = (b.q.astype(np.int64) - b.zp.astype(np.int64)).reshape(-1)
            if not np.allclose(b.scale * np.ones(n), bscale, rtol=1e-3):
                data = np.rint(b.value().reshape(-1) / bscale).astype(np.int64)
        else:
            data = np.rint(np.asarray(b, np.float64).reshape(-1) / bscale).astype(np.int64)
        data = np.clip(data, -2**31, 2**31 - 1).astype(np.int32)
        return data, bscale.astype(np.float32)

    # fully connected --------------------------------------------------------------------------------
    def _op_Gemm(self, i, node) -> None:
        a = self._attrs(node)
        if a.get("transA", 0):
            raise BakeError("Gemm node %r: transA=1 is not supported" % node.name)
        w = self._get(node, 1)
        if isinstance(w, Val) or w is None:
            raise BakeError("Gemm node %r needs constant weights (B)" % node.name)
        alpha, beta = float(a.get("alpha", 1.0)), float(a.get("beta", 1.0))
        trans_b = a.get("transB", 0)
        self._fc(i, node, w, trans_b, self._get(node, 2), alpha, beta)

    def _op_MatMul(self, i, node) -> None:
        w = self._get(node, 1)
        if isinstance(w, Val) or w is None:
            raise BakeError("MatMul node %r: both operands are computed; upyflow needs constant weights "
                            "as the second operand" % node.name)
        wd = w.q if isinstance(w, QConst) else w
        if wd.ndim != 2:
            raise BakeError("MatMul node %r: %d-D weights; upyflow needs 2-D" % (node.name, wd.ndim))
        self._fc(i, node, w, 0, None, 1.0, 1.0)

    def _fc(self, i, node, w, trans_b: int, b, alpha: float, beta: float) -> None:
        v = self._rt(node, 0)
        wq = w if isinstance(w, QConst) and not np.any(w.zp) else None   # as in _op_Conv
        wd = wq.q if wq is not None else (w.value() if isinstance(w, QConst) else np.asarray(w, np.float32))
        if wd.ndim != 2:
            raise BakeError("%s node %r: %d-D weights; upyflow needs 2-D" % (node.op_type, node.name, wd.ndim))
        wmat = wd.T if not trans_b else wd      # [N, K]
        n_out, k = wmat.shape
        if v.shape[-1] != k:
            raise BakeError("%s node %r: input %s does not match weights %s"
                            % (node.op_type, node.name, list(v.shape), list(wd.shape)))
        if isinstance(b, Val):
            raise BakeError("%s node %r: computed bias C is not supported" % (node.op_type, node.name))
        quant = self._is_q(v) and wq is not None and wq.q.dtype == np.int8 and alpha == 1.0 and beta == 1.0
        if quant and wq.scale.size > 1 and wq.axis != (0 if trans_b else 1):
            quant = False
        chain = self._chain(node.output[0], True) if quant else None
        if chain is None:
            quant = False
            name = node.output[0]
            bias_f = np.zeros(n_out, np.float32)
            if b is not None and np.size(b.q if isinstance(b, QConst) else b) not in (1, n_out):
                raise BakeError("%s node %r: bias of %d values for %d outputs"
                                % (node.op_type, node.name, np.size(b.q if isinstance(b, QConst) else b), n_out))
            if b is not None:
                bias_f = np.broadcast_to((b.value() if isinstance(b, QConst) else np.asarray(b, np.float32))
                                         .reshape(-1), (n_out,)).astype(np.float32) * np.float32(beta)
            if node.op_type == "MatMul":   # MatMul + Add(constant) -> one FULLY_CONNECTED with bias
                name, bias_f = self._matmul_bias(name, bias_f, n_out)
            chain = self._chain(name, False)
        act, name, q = chain
        # a flat NHWC tensor feeds the weights with permuted columns: no transpose on the device
        batches = int(np.prod(v.shape[:-1], dtype=np.int64))
        x, cols = v, _order(v.base, v.perm)
        if np.array_equal(cols, np.arange(cols.size)):
            cols = None
        elif batches != 1:
            x, cols = self._as(v, v.shape, _ident(len(v.shape))), None
        if cols is not None:
            wmat = wmat[:, cols]
        if not quant:
            x = self._float(x)
            wf = np.asarray(wq.value() if wq is not None else wd, np.float32)
            wf = wf if trans_b else wf.T
            if cols is not None:
                wf = wf[:, cols]
            wt = self._const(node.input[1], np.ascontiguousarray(wf * np.float32(alpha)), "f32")
            bt = self._const(node.input[1] + "/bias", bias_f, "f32")
        else:
            xt = self.tensors[x.t]
            wt = self._const(node.input[1], np.ascontiguousarray(wmat), "i8", wq.scale,
                             np.zeros_like(wq.scale), 0)
            bt = self._qbias(node, b, xt.sc, wq.scale, n_out)
        out_shape = tuple(v.shape[:-1]) + (n_out,)
        out = self._tensor(q[3] if q else name, out_shape, "i8" if q else "f32", *(q[:2] if q else (None, None)))
        self._op("FULLY_CONNECTED", [x.t, wt, bt], [out], fused_activation_function=act,
                 keep_num_dims=True, weights_format="DEFAULT")
        self._bind_out(name, q, Val(out, out_shape, out_shape, _ident(len(out_shape))))

    def _matmul_bias(self, name: str, bias: np.ndarray, n_out: int):
        c = self._sole_consumer(name)
        if c is None or c[1].op_type != "Add":
            return name, bias
        i, node = c
        other = node.input[1] if node.input[0] == name else node.input[0]
        v = self.vals.get(other)
        if isinstance(v, QConst):
            v = v.value()
        if not isinstance(v, np.ndarray) or v.size != n_out or v.shape[-1:] != (n_out,):
            return name, bias
        self.done.add(i)
        return node.output[0], bias + v.reshape(-1).astype(np.float32)

    # pools ------------------------------------------------------------------------------------------
    def _op_MaxPool(self, i, node) -> None:
        self._pool(i, node, "MAX_POOL_2D")

    def _op_AveragePool(self, i, node) -> None:
        self._pool(i, node, "AVERAGE_POOL_2D")

    def _pool(self, i, node, kind: str) -> None:
        a = self._attrs(node)
        if len(node.output) > 1 and node.output[1]:
            raise BakeError("MaxPool node %r: the Indices output is not supported" % node.name)
        v = self._rt(node, 0)
        one_d = len(v.shape) == 3
        if one_d:
            a = self._attrs_2d(a)
        x = self._spatial_in(node, v)
        self._geometry(node, a)
        k_hw = list(a["kernel_shape"])
        s_hw = list(a.get("strides", [1, 1]))
        if any(d != 1 for d in a.get("dilations", [1, 1])):
            raise BakeError("%s node %r: dilations are not supported" % (node.op_type, node.name))
        ceil = bool(a.get("ceil_mode", 0))
        begin, end = self._pads(node, a, x.shape[2:], k_hw, s_hw, [1, 1])
        padding, (oh, ow) = self._padding(node, x.shape[2:], k_hw, s_hw, [1, 1], begin, end, ceil)
        floor_hw = [(n + b + e - k) // s + 1 for n, b, e, k, s in zip(x.shape[2:], begin, end, k_hw, s_hw)]
        if kind == "AVERAGE_POOL_2D" and ceil and [oh, ow] != floor_hw:
            raise BakeError("AveragePool node %r: ceil_mode windows that run past the input are not supported"
                            % node.name)
        if ceil and padding is None or ceil and padding == "SAME":
            # the last window runs past the end: pad so that every window is inside
            need = [(o - 1) * s + k - n - b for o, s, k, n, b in zip((oh, ow), s_hw, k_hw, x.shape[2:], begin)]
            end = [max(e, nd) for e, nd in zip(end, need)]
            padding = None
        include = a.get("count_include_pad", 0)
        if kind == "AVERAGE_POOL_2D" and padding != "VALID" and include:
            padding = None   # count_include_pad=1: padded zeros count, so pad explicitly
        elif kind == "AVERAGE_POOL_2D" and padding is None:
            raise BakeError("AveragePool node %r: pads %s with count_include_pad=0 differ from TFLite's SAME "
                            "padding; not supported" % (node.name, list(begin) + list(end)))
        quant = self._is_q(v)
        q = self._q_after(node.output[0]) if quant else None
        if q is None:
            x = self._float(x)
        if padding is None:
            x = self._pad_op(x, begin, end, -np.inf if kind == "MAX_POOL_2D" else 0.0)
            padding = "VALID"
        c = x.shape[1]
        out_shape = (1, oh, ow, c)
        xt = self.tensors[x.t]
        if q is None:
            out = self._tensor(node.output[0], out_shape, "f32")
        else:   # TFLM pools keep the input quantization: requantize after when Q differs
            out = self._tensor(node.output[0], out_shape, "i8", xt.sc, xt.zp)
        self._op(kind, [x.t], [out], padding=padding, stride_h=s_hw[0], stride_w=s_hw[1],
                 filter_height=k_hw[0], filter_width=k_hw[1], fused_activation_function="NONE")
        logical = (1, c, oh, ow)
        res = Val(out, logical, logical, NHWC)
        if q is not None:
            res = self._requant(res, q)
        self._bind_out(node.output[0], q, self._out_1d(res) if one_d else res)

    def _requant(self, v: Val, q) -> Val:
        t = self.tensors[v.t]
        if (np.float32(t.sc), t.zp) == (np.float32(q[0]), q[1]):
            return v
        out = self._like(q[3], v.t, q=(q[0], q[1]))
        self._op("QUANTIZE", [v.t], [out])
        return Val(out, v.shape, v.base, v.perm)

    def _op_GlobalAveragePool(self, i, node) -> None:
        v = self._rt(node, 0)
        x = self._spatial_in(node, v)
        quant = self._is_q(v)
        q = self._q_after(node.output[0]) if quant else None
        if q is None:
            x = self._float(x)
        c = x.shape[1]
        out_shape = (1, 1, 1, c)
        out = self._tensor(q[3] if q else node.output[0], out_shape, "i8" if q else "f32",
                           *(q[:2] if q else (None, None)))
        self._op("MEAN", [x.t, self._i32(node.output[0] + "/axes", [1, 2])], [out], keep_dims=True)
        logical = (1, c, 1, 1)
        res = Val(out, logical, logical, NHWC)
        self._bind_out(node.output[0], q, self._out_1d(res) if len(v.shape) == 3 else res)

    def _op_GlobalMaxPool(self, i, node) -> None:
        v = self._rt(node, 0)
        x = self._spatial_in(node, v)
        quant = self._is_q(v)
        q = self._q_after(node.output[0]) if quant else None
        if q is None:
            x = self._float(x)
        xt = self.tensors[x.t]
        _, h, w, c = xt.shape
        out = self._tensor(node.output[0], (1, 1, 1, c), xt.dtype,
                           *((xt.sc, xt.zp) if q else (None, None)))
        self._op("MAX_POOL_2D", [x.t], [out], padding="VALID", stride_h=1, stride_w=1, filter_height=h,
                 filter_width=w, fused_activation_function="NONE")
        logical = (1, c, 1, 1)
        res = Val(out, logical, logical, NHWC)
        if q is not None:
            res = self._requant(res, q)
        self._bind_out(node.output[0], q, self._out_1d(res) if len(v.shape) == 3 else res)

    # element-wise -------------------------------------------------------------------------------------
    def _aligned(self, node, operands: list) -> tuple[list, tuple, tuple]:
        """Runtime operands in one storage layout, constants arranged to match: (items, shape, perm)."""
        shapes = [o.shape if isinstance(o, Val) else np.shape(o.value() if isinstance(o, QConst) else o)
                  for o in operands]
        try:
            shape = tuple(np.broadcast_shapes(*shapes))
        except ValueError:
            raise BakeError("%s node %r: shapes %s do not broadcast" % (node.op_type, node.name,
                                                                       [list(s) for s in shapes])) from None
        rank = len(shape)
        rts = [o for o in operands if isinstance(o, Val)]
        perm = _ident(rank)
        first = rts[0]
        if len(first.shape) == rank and first.shape == first.base and len(first.perm) == rank:
            perm = first.perm
        items = []
        for o, s in zip(operands, shapes):
            padded = (1,) * (rank - len(s)) + tuple(s)
            if isinstance(o, Val):
                items.append(self._as(o, padded, perm))
            else:
                items.append((o, padded))
        return items, shape, perm

    def _const_operand(self, name: str, o, padded, perm, dtype: str) -> int:
        if isinstance(o, QConst):
            if dtype == "i8":
                if o.scale.size != 1 or o.q.dtype != np.int8:
                    raise BakeError("constant %r: int8 element-wise operands need per-tensor int8" % name)
                return self._const(name, o.q.reshape(padded).transpose(perm), "i8",
                                   o.scale, o.zp)
            o = o.value()
        return self._const(name, np.asarray(o, np.float32).reshape(padded).transpose(perm), "f32")

    def _binary(self, i, node, kind: str) -> None:
        a, b = self._get(node, 0), self._get(node, 1)
        if not isinstance(a, Val) and not isinstance(b, Val):
            raise BakeError("%s node %r has no computed input" % (node.op_type, node.name))
        if kind == "DIV":
            if isinstance(b, Val):
                raise BakeError("Div node %r: division by a computed tensor is not supported" % node.name)
            b = 1.0 / np.asarray(b.value() if isinstance(b, QConst) else b, np.float32)
            kind = "MUL"
        ok_q = all((isinstance(o, Val) and o.deq) or (isinstance(o, QConst) and o.scale.size == 1
                                                      and o.q.dtype == np.int8) for o in (a, b))
        chain = self._chain(node.output[0], True) if ok_q else None
        if chain is None:
            chain = self._chain(node.output[0], False)
        act, name, q = chain
        items, shape, perm = self._aligned(node, [a, b])
        ts = []
        for k, it in enumerate(items):
            if isinstance(it, Val):
                ts.append(it.t if q else self._float(it).t)
            else:
                ts.append(self._const_operand("%s/operand%d" % (name, k), it[0], it[1], perm, "i8" if q else "f32"))
        ir_shape = tuple(shape[p] for p in perm)
        out = self._tensor(q[3] if q else name, ir_shape, "i8" if q else "f32", *(q[:2] if q else (None, None)))
        self._op(kind, ts, [out], fused_activation_function=act)
        self._bind_out(name, q, Val(out, shape, shape, perm))

    def _op_Add(self, i, node) -> None:
        self._binary(i, node, "ADD")

    def _op_Sub(self, i, node) -> None:
        self._binary(i, node, "SUB")

    def _op_Mul(self, i, node) -> None:
        self._binary(i, node, "MUL")

    def _op_Div(self, i, node) -> None:
        self._binary(i, node, "DIV")

    def _op_BatchNormalization(self, i, node) -> None:
        if len(node.output) > 1 and any(node.output[1:]):
            raise BakeError("BatchNormalization node %r: training mode is not supported" % node.name)
        v = self._rt(node, 0)
        gamma, beta, mean, var = (np.asarray(self._cval(node, k, "parameter"), np.float64).reshape(-1)
                                  for k in range(1, 5))
        if len(v.shape) < 2 or any(p.size != v.shape[1] for p in (gamma, beta, mean, var)):
            raise BakeError("BatchNormalization node %r: parameters %s for input %s"
                            % (node.name, [p.size for p in (gamma, beta, mean, var)], list(v.shape)))
        eps = self._attrs(node).get("epsilon", 1e-5)
        k = gamma / np.sqrt(var + eps)
        shape = [1] * len(v.shape)
        shape[1] = -1
        x = self._float(self._plain(v))
        perm = x.perm
        mul = self._const(node.output[0] + "/scale", k.astype(np.float32).reshape(shape).transpose(perm), "f32")
        add = self._const(node.output[0] + "/shift", (beta - mean * k).astype(np.float32).reshape(shape)
                          .transpose(perm), "f32")
        ir_shape = self.tensors[x.t].shape
        mid = self._tensor(node.output[0] + "/scaled", ir_shape, "f32")
        self._op("MUL", [x.t, mul], [mid], fused_activation_function="NONE")
        act, name, _ = self._chain(node.output[0], False)
        out = self._tensor(name, ir_shape, "f32")
        self._op("ADD", [mid, add], [out], fused_activation_function=act)
        self._set(name, Val(out, x.shape, x.base, x.perm))

    def _op_Concat(self, i, node) -> None:
        ax = self._attrs(node).get("axis")
        vals = [self._get(node, k) for k in range(len(node.input))]
        if any(v is None for v in vals) or ax is None:
            raise BakeError("Concat node %r needs an axis and no empty operand" % node.name)
        shapes = [tuple(v.shape) if isinstance(v, Val) else np.shape(v.value() if isinstance(v, QConst) else v)
                  for v in vals]
        rank = len(shapes[0])
        if not -rank <= ax < rank or any(len(sh) != rank or sh[:ax % rank] + sh[ax % rank + 1:] !=
                                         shapes[0][:ax % rank] + shapes[0][ax % rank + 1:] for sh in shapes):
            raise BakeError("Concat node %r: shapes %s do not join on axis %d"
                            % (node.name, [list(sh) for sh in shapes], ax))
        ax = ax + rank if ax < 0 else ax
        quant = all(isinstance(v, Val) and v.deq for v in vals)
        q = self._q_after(node.output[0]) if quant else None
        rts = [v for v in vals if isinstance(v, Val)]
        first = self._plain(rts[0])
        perm = first.perm if len(first.perm) == rank else _ident(rank)
        ts = []
        for k, v in enumerate(vals):
            if isinstance(v, Val):
                x = self._as(v, v.shape, perm)
                if q:
                    x = self._requant(x, (q[0], q[1], None, self.tensors[x.t].name + "/requantized"))
                else:
                    x = self._float(x)
                ts.append(x.t)
            else:
                c = v.value() if isinstance(v, QConst) else np.asarray(v, np.float32)
                ts.append(self._const("%s/part%d" % (node.output[0], k), c.astype(np.float32).transpose(perm), "f32"))
        shape = list(rts[0].shape)
        shape[ax] = sum((v.shape if isinstance(v, Val) else np.shape(v.value() if isinstance(v, QConst) else v))[ax]
                        for v in vals)
        shape = tuple(shape)
        ir_shape = tuple(shape[p] for p in perm)
        out = self._tensor(q[3] if q else node.output[0], ir_shape, "i8" if q else "f32",
                           *(q[:2] if q else (None, None)))
        self._op("CONCATENATION", ts, [out], axis=perm.index(ax), fused_activation_function="NONE")
        self._bind_out(node.output[0], q, Val(out, shape, shape, perm))

    def _op_Pad(self, i, node) -> None:
        a = self._attrs(node)
        mode = a.get("mode", b"constant")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        if mode != "constant":
            raise BakeError("Pad node %r: mode %r is not supported (only constant)" % (node.name, mode))
        v = self._plain(self._rt(node, 0))
        rank = len(v.shape)
        if self.opset < 11:
            pads, value = list(a["pads"]), float(a.get("value", 0.0))
        else:
            pads = [int(p) for p in np.asarray(self._cval(node, 1, "pads")).reshape(-1)]
            cv = self._cval(node, 2, "constant value")
            value = 0.0 if cv is None or np.size(cv) < 1 else float(np.asarray(cv).reshape(-1)[0])
            axes = self._axes(node, {}, self._cval(node, 3, "axes"), rank)
            if axes is not None:
                if len(pads) != 2 * len(axes):
                    raise BakeError("Pad node %r: %d pads for %d axes" % (node.name, len(pads), len(axes)))
                full = [0] * (2 * rank)
                for k, ax in enumerate(axes):
                    full[ax], full[ax + rank] = pads[k], pads[k + len(axes)]
                pads = full
        if len(pads) != 2 * rank or not np.isfinite(value):
            raise BakeError("Pad node %r: pads %s and value %g for a rank-%d input" % (node.name, pads, value, rank))
        if any(p > MAX_ELEMENTS for p in pads):
            raise BakeError("Pad node %r: pads %s beyond %d" % (node.name, pads, MAX_ELEMENTS))
        if min(pads) < 0:
            raise BakeError("Pad node %r: negative pads are not supported" % node.name)
        quant = v.deq
        q = self._q_after(node.output[0]) if quant else None
        x = v if q else self._float(v)
        xt = self.tensors[x.t]
        shape = tuple(d + pads[k] + pads[k + rank] for k, d in enumerate(v.shape))
        ir_pads = [[pads[p], pads[p + rank]] for p in v.perm]
        pt = self._i32(node.output[0] + "/paddings", ir_pads)
        out = self._tensor(node.output[0], tuple(shape[p] for p in v.perm), xt.dtype,
                           *((xt.sc, xt.zp) if q else (None, None)))
        if value == 0.0:
            self._op("PAD", [x.t, pt], [out])
        elif q:
            cq = int(np.clip(np.rint(value / xt.sc) + xt.zp, -128, 127))
            self._op("PADV2", [x.t, pt, self._const(node.output[0] + "/value", np.array([cq], np.int8), "i8",
                                                     xt.sc, xt.zp)], [out])
        else:
            self._op("PADV2", [x.t, pt, self._const(node.output[0] + "/value", np.array([value], np.float32),
                                                     "f32")], [out])
        res = Val(out, shape, shape, v.perm)
        if q:
            res = self._requant(res, q)
        self._bind_out(node.output[0], q, res)

    # activations --------------------------------------------------------------------------------------
    def _unary(self, node, kind: str, q_ok, **options) -> None:
        """One TFLite activation; int8 when the input is DQ'd, a QuantizeLinear follows and q_ok(in, out)."""
        v = self._rt(node, 0)
        q = self._q_after(node.output[0]) if v.deq else None
        if q is not None and not q_ok(self.tensors[v.t], q):
            q = None
        x = v if q else self._float(v)
        ir_shape = self.tensors[x.t].shape
        out = self._tensor(q[3] if q else node.output[0], ir_shape, "i8" if q else "f32",
                           *(q[:2] if q else (None, None)))
        self._op(kind, [x.t], [out], **options)
        self._bind_out(node.output[0], q, Val(out, v.shape, v.base, v.perm))

    def _op_Relu(self, i, node) -> None:
        self._unary(node, "RELU", lambda t, q: True)

    def _op_Clip(self, i, node) -> None:
        act = self._clip_act(node)
        if act is not None:
            same = (lambda t, q: (np.float32(t.sc), t.zp) == (np.float32(q[0]), q[1])) if act == "RELU6" \
                else (lambda t, q: True)
            self._unary(node, act, same)
            return
        lo, hi = self._clip_bounds(node)
        v = self._float(self._rt(node, 0))
        cur = v
        ir_shape = self.tensors[v.t].shape
        for kind, bound in (("MAXIMUM", lo), ("MINIMUM", hi)):
            if bound is None:
                continue
            last = (kind == "MINIMUM" or hi is None)
            out = self._tensor(node.output[0] if last else node.output[0] + "/lower", ir_shape, "f32")
            c = self._const(node.output[0] + "/" + kind.lower(), np.array([bound], np.float32), "f32")
            self._op(kind, [cur.t, c], [out])
            cur = Val(out, v.shape, v.base, v.perm)
        self._set(node.output[0], cur)

    def _op_Sigmoid(self, i, node) -> None:
        self._unary(node, "LOGISTIC", lambda t, q: (np.float32(q[0]), q[1]) == (np.float32(1 / 256), -128))

    def _op_Tanh(self, i, node) -> None:
        self._unary(node, "TANH", lambda t, q: (np.float32(q[0]), q[1]) == (np.float32(1 / 128), 0))

    def _op_HardSwish(self, i, node) -> None:
        self._unary(node, "HARD_SWISH", lambda t, q: t.sc / 128.0 < q[0])

    def _op_LeakyRelu(self, i, node) -> None:
        self._unary(node, "LEAKY_RELU", lambda t, q: True, alpha=float(self._attrs(node).get("alpha", 0.01)))

    def _op_Softmax(self, i, node) -> None:
        v = self._rt(node, 0)
        rank = len(v.shape)
        ax = self._attrs(node).get("axis", -1 if self.opset >= 13 else 1)
        ax = ax + rank if ax < 0 else ax
        if self.opset < 13:   # softmax over the flattened dims from `axis` on
            flat = (int(np.prod(v.shape[:ax], dtype=np.int64)), int(np.prod(v.shape[ax:], dtype=np.int64)))
            x = self._as(v, flat, (0, 1))
        else:
            rest = tuple(d for d in range(rank) if d != ax)
            x = self._as(v, v.shape, rest + (ax,))
        q = self._q_after(node.output[0]) if v.deq else None
        if q is not None and (np.float32(q[0]), q[1]) != (np.float32(1 / 256), -128):
            q = None
        if q is None:
            x = self._float(x)
        ir_shape = self.tensors[x.t].shape
        out = self._tensor(q[3] if q else node.output[0], ir_shape, "i8" if q else "f32",
                           *(q[:2] if q else (None, None)))
        self._op("SOFTMAX", [x.t], [out], beta=1.0)
        self._bind_out(node.output[0], q, Val(out, v.shape, x.base if x.shape == v.shape else v.shape,
                                              x.perm if x.shape == v.shape else _ident(rank)))
