"""What the reader validates: the file, the opset, attribute types and ranges, operand
counts, initializers and tensor sizes (a damaged file must give one line, not a traceback,
a hang or gigabytes of RAM)."""
from __future__ import annotations

import numpy as np

from ... import BakeError
from .values import count

MIN_OPSET, MAX_OPSET = 9, 28
_ONNX_DTYPES = {1: "f32", 2: "u8", 3: "i8", 6: "i32", 7: "i64", 9: "bool"}
_ONNX_TYPE_NAMES = {1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64",
                    9: "bool", 10: "float16", 11: "float64", 16: "bfloat16"}
# Why an unsupported operator is usually there: printed beside it.
ONNX_HINTS = {
    "Erf": "Erf is read only inside torch's exact GELU, x * 0.5 * (1 + erf(x / sqrt(2))), which runs as GELU",
    "Loop": "control flow is not supported",
}
SUPPORTED = sorted({"Conv", "Gemm", "MatMul", "Relu", "Clip", "Sigmoid", "Tanh", "HardSwish", "LeakyRelu", "Elu",
                    "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Add", "Mul", "Sub", "Div",
                    "Concat", "Flatten", "Reshape", "Transpose", "Softmax", "BatchNormalization", "Pad",
                    "Identity", "Dropout", "Constant", "Squeeze", "Unsqueeze", "QuantizeLinear",
                    "DequantizeLinear", "Shape", "Gather", "Cast", "Resize", "Upsample", "ConvTranspose",
                    "Max", "Min", "Sum", "Mean", "Pow", "Neg", "Abs", "Expand", "HardSigmoid", "Swish", "PRelu",
                    "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ArgMax", "ArgMin", "Split", "DepthToSpace",
                    "Size", "CastLike", "If", "Sqrt", "Exp", "Log", "Reciprocal", "Gelu", "LogSoftmax",
                    "LayerNormalization", "RMSNormalization", "LSTM", "GRU", "RNN",
                    "Slice", "Where", "Greater", "GreaterOrEqual", "Less", "LessOrEqual", "Equal", "And", "Or",
                    "Xor", "Not", "Floor", "Ceil", "Round"})


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
         "auto_pad": (_STRING, None), "mode": (_STRING, None), "value": (_TENSOR, None),
         "round_mode": (_STRING, None), "precision": (_INT, 0), "output_dtype": (_INT, 0),
         "stash_type": (_INT, None), "split": (_INTS, 0), "num_outputs": (_INT, 1), "blocksize": (_INT, 1),
         "keepdims": (_INT, 0), "noop_with_empty_axes": (_INT, 0), "output_padding": (_INTS, 0),
         "output_shape": (_INTS, 1), "antialias": (_INT, 0), "select_last_index": (_INT, 0),
         "approximate": (_STRING, None)}
# Attributes opsets 19..28 added to operators the reader runs, with the values it runs: any
# other value is refused (Range's stash_type only matters for float16/bfloat16, refused anyway;
# QuantizeLinear's output_dtype is read with its zero point, qdq.qparams).
DEFAULT_ONLY: dict[tuple[str, str], tuple[set, str]] = {("Cast", "round_mode"): ({"up"}, "rounding to float8e8m0"),
                ("Cast", "saturate"): ({1}, "float8 saturation"),
                ("QuantizeLinear", "precision"): ({0, 1}, "division in a precision other than float32"),
                ("QuantizeLinear", "saturate"): ({1}, "float8 saturation"),
                ("DequantizeLinear", "output_dtype"): ({0, 1}, "an output type other than float32")}
_ATTR_TYPE_NAMES = {1: "a float", 2: "an int", 3: "a string", 4: "a tensor", 6: "floats", 7: "ints"}
# Operands each node needs (the rest are optional); opset-dependent ones by (opset, count) steps.
MIN_INPUTS = {"Conv": 2, "Gemm": 2, "MatMul": 2, "Add": 2, "Sub": 2, "Mul": 2, "Div": 2, "Equal": 2,
              "Where": 3, "Expand": 2, "Range": 3, "Gather": 2, "BatchNormalization": 5,
              "QuantizeLinear": 2, "DequantizeLinear": 2, "Constant": 0}
OPTIONAL_OUTPUTS = {"LSTM", "GRU", "RNN"}   # any of their outputs may be left out, Y too
MIN_INPUTS_BY_OPSET = {"Reshape": (5, 2), "Slice": (10, 3), "Pad": (11, 2)}


def first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:200]


def check_shape(name: str, shape) -> None:
    """Every dimension at least 1 and at most MAX_ELEMENTS values (see MAX_ELEMENTS)."""
    if any(int(d) < 1 for d in shape) or count(shape) > MAX_ELEMENTS:
        raise BakeError("tensor %r would have shape %s; upyflow needs at least one and at most %d values"
                        % (name, [int(d) for d in shape], MAX_ELEMENTS))


def transpose_perm(node, a: dict, rank: int) -> tuple:
    """A Transpose's perm (default: reversed), checked to be a permutation of the axes."""
    p = tuple(int(x) for x in a.get("perm", list(range(rank))[::-1]))
    if sorted(p) != list(range(rank)):
        raise BakeError("Transpose node %r: perm %s for rank %d" % (node.name, list(p), rank))
    return p


def attrs(node) -> dict:
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


def check_arity(node, opset: int) -> None:
    """Enough operands, and no attribute value the reader does not run (DEFAULT_ONLY)."""
    op = node.op_type
    for a in node.attribute:
        allowed = DEFAULT_ONLY.get((op, a.name))
        if allowed is not None:
            from onnx import helper
            v = helper.get_attribute_value(a)
            v = v.decode() if isinstance(v, bytes) else v
            if v not in allowed[0]:
                raise BakeError("%s node %r: %s = %r (%s) is not supported"
                                % (op, node.name, a.name, v, allowed[1]))
    need = MIN_INPUTS.get(op, 1)
    if op in MIN_INPUTS_BY_OPSET and opset >= MIN_INPUTS_BY_OPSET[op][0]:
        need = MIN_INPUTS_BY_OPSET[op][1]
    first = any(node.output) if op in OPTIONAL_OUTPUTS else node.output and node.output[0]
    if len(node.input) < need or not all(node.input[:need]) or not first:
        raise BakeError("%s node %r has inputs %s and outputs %s; it needs %d input%s and an output"
                        % (op, node.name, list(node.input), list(node.output), need, "" if need == 1 else "s"))


def _same_as_min_opset(model, version: int) -> bool:
    """An older opset reads as MIN_OPSET when every node's operator is defined the same at both
    (e.g. And/Or/Xor of opset 7, Not of opset 1: their schema's since_version is the same)."""
    from onnx import defs

    try:
        return bool(model.graph.node) and all(
            node.domain in ("", "ai.onnx") and defs.get_schema(node.op_type, version).since_version
            == defs.get_schema(node.op_type, MIN_OPSET).since_version for node in model.graph.node)
    except Exception:   # an operator unknown at either opset (onnx.defs.SchemaError)
        return False


def opset(model) -> int:
    """The model's ai.onnx opset, checked to be one upyflow reads (and no other domain used)."""
    version = None
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            version = imp.version
    if version is None:
        raise BakeError("ONNX model imports no ai.onnx opset")
    if version < MIN_OPSET and _same_as_min_opset(model, version):
        version = MIN_OPSET
    if not MIN_OPSET <= version <= MAX_OPSET:
        raise BakeError("ONNX opset %d is not supported (upyflow reads opsets %d to %d)"
                        % (version, MIN_OPSET, MAX_OPSET))
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx"):
            raise BakeError("ONNX operator %s of domain %r is not supported" % (node.op_type, node.domain))
    return version


def initializer(init) -> np.ndarray:
    """An initializer's data, after checking its dims against the cap and its data."""
    from onnx import numpy_helper
    dims = [int(d) for d in init.dims]
    if any(d < 0 for d in dims) or count(dims) > MAX_ELEMENTS:
        raise BakeError("initializer %r has dims %s; upyflow reads at most %d values per tensor"
                        % (init.name, dims, MAX_ELEMENTS))
    if init.data_location == 1 or init.external_data:
        raise BakeError("initializer %r keeps its data in an external file; save the model with "
                        "its data inside" % init.name)
    try:
        arr = numpy_helper.to_array(init)
    except Exception as e:   # the onnx package's message: data and dims disagree
        raise BakeError("initializer %r: its data does not match dims %s and type %d (%s)"
                        % (init.name, dims, init.data_type, first_line(e))) from None
    if list(arr.shape) != dims:
        raise BakeError("initializer %r: its data does not match dims %s" % (init.name, dims))
    return arr


def onnx_dtype(elem: int, what: str) -> str:
    """The ir dtype of an ONNX element type the reader runs."""
    if elem not in _ONNX_DTYPES or elem in (7, 9):
        raise BakeError("%s has type %s, which upyflow does not support (float32, or int8/uint8 "
                        "via QuantizeLinear/DequantizeLinear)" % (what, _ONNX_TYPE_NAMES.get(elem, elem)))
    return _ONNX_DTYPES[elem]
