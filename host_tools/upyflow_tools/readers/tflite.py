"""Read a .tflite flatbuffer (TFLite schema via the `tflite` package) into an ir.Graph."""
from __future__ import annotations

import re

import numpy as np
import tflite

from .. import BakeError
from ..ir import NP_DTYPE, Graph, Op, Tensor

# TensorType enum value -> our dtype name; others are rejected by name.
_TYPES = {0: "f32", 1: "f16", 2: "i32", 3: "u8", 4: "i64", 6: "bool", 7: "i16", 9: "i8", 12: "u64",
          15: "u32"}
_TYPE_NAMES = {v: k for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}
_OPTION_CLASSES = {v: k for k, v in vars(tflite.BuiltinOptions).items() if not k.startswith("_")}
_ENUMS = {
    "fused_activation_function": {v: k for k, v in vars(tflite.ActivationFunctionType).items()
                                  if not k.startswith("_")},
    "padding": {v: k for k, v in vars(tflite.Padding).items() if not k.startswith("_")},
}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _camel(name: str) -> str:
    return "".join(p[:1] + p[1:].lower() for p in name.split("_"))


# The options table each builtin operator takes (schema.fbs): <CamelName>Options, or shared/irregular.
_OPTIONS_OF = {name: cls for name, cls in (
    [(n, _camel(n) + "Options") for n in tflite.utils.BUILTIN_OPCODE2NAME.values()]
    + [("CONV_2D", "Conv2DOptions"), ("DEPTHWISE_CONV_2D", "DepthwiseConv2DOptions"),
       ("AVERAGE_POOL_2D", "Pool2DOptions"), ("MAX_POOL_2D", "Pool2DOptions"), ("L2_POOL_2D", "Pool2DOptions"),
       ("L2_NORMALIZATION", "L2NormOptions"), ("LSH_PROJECTION", "LSHProjectionOptions"), ("LSTM", "LSTMOptions"),
       ("RNN", "RNNOptions"), ("SVDF", "SVDFOptions"), ("UNIDIRECTIONAL_SEQUENCE_RNN", "SequenceRNNOptions"),
       ("BIDIRECTIONAL_SEQUENCE_RNN", "BidirectionalSequenceRNNOptions"),
       ("UNIDIRECTIONAL_SEQUENCE_LSTM", "UnidirectionalSequenceLSTMOptions"),
       ("BIDIRECTIONAL_SEQUENCE_LSTM", "BidirectionalSequenceLSTMOptions"),
       ("BATCH_TO_SPACE_ND", "BatchToSpaceNDOptions"), ("SPACE_TO_BATCH_ND", "SpaceToBatchNDOptions"),
       ("TOPK_V2", "TopKV2Options"), ("MAXIMUM", "MaximumMinimumOptions"), ("MINIMUM", "MaximumMinimumOptions"),
       ("PADV2", "PadV2Options"), ("BATCH_MATMUL", "BatchMatMulOptions"), ("CONV_3D", "Conv3DOptions"),
       ("CONV_3D_TRANSPOSE", "Conv3DOptions"), ("ATAN2", "ATan2Options")]
    + [(n, "ReducerOptions") for n in ("MEAN", "SUM", "REDUCE_PROD", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_ANY",
                                       "REDUCE_ALL")])
    if hasattr(tflite.BuiltinOptions, cls)}
# Operators whose table TFLM cannot do without: when it is missing, TFLM runs them with all-zero
# parameters (stride, filter, dilation, depth multiplier, beta 0; no cell activation), where the
# lowerings would take the usual defaults: refused. (For the others zeros are the defaults.)
_OPTIONS_NEEDED = ("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "AVERAGE_POOL_2D", "MAX_POOL_2D",
                   "L2_POOL_2D", "SOFTMAX", "UNIDIRECTIONAL_SEQUENCE_LSTM")


def _options(op: tflite.Operator, kind: str = "", label: str = "") -> dict:
    """All scalar and vector fields of an operator's builtin options, by schema name.

    TFLM reads an operator's options only from a table of the type the operator takes
    (builtin_options_as_<Type>()); any other table it ignores and runs the operator with
    all-zero parameters (found by tests/fuzz.py: a DEPTHWISE_CONV_2D whose options were
    retyped Pool2DOptions ran with depth multiplier 0 and wrote no output at all). Such a
    model is damaged: refused, as is a missing table where zeros are no working default.
    """
    code = op.BuiltinOptionsType()
    cls_name = _OPTION_CLASSES.get(code)
    table = op.BuiltinOptions()
    expected = _OPTIONS_OF.get(kind)
    if expected is None:        # an operator without options: TFLM looks at none
        return {} if kind else _fields(cls_name, table)
    if code and cls_name != expected:
        raise BakeError("%s %s: its options are %s, not the %s it takes (a damaged model)"
                        % (kind, label, "a %s table" % cls_name if cls_name else "of unknown type %d" % code,
                           expected))
    if (not code or table is None) and kind in _OPTIONS_NEEDED:
        raise BakeError("%s %s has no %s (TFLite Micro would run it with all-zero parameters)"
                        % (kind, label, expected))
    return _fields(cls_name, table)


def _fields(cls_name: str | None, table) -> dict:
    if not cls_name or cls_name == "NONE" or table is None:
        return {}
    cls = getattr(tflite, cls_name)
    opts = cls()
    opts.Init(table.Bytes, table.Pos)
    out = {}
    for attr in dir(cls):
        if attr.startswith("_") or attr in ("Init", "GetRootAs") or attr.startswith("GetRootAs") \
                or attr.endswith(("IsNone", "Length", "BufferHasIdentifier")):
            continue
        key = _snake(attr)
        if attr.endswith("AsNumpy"):
            value = getattr(opts, attr)()
            out[_snake(attr[:-7])] = [int(v) for v in value] if not isinstance(value, int) else []
            continue
        if hasattr(cls, attr + "AsNumpy"):
            continue
        try:
            value = getattr(opts, attr)()
        except TypeError:
            continue
        out[key] = _ENUMS[key].get(value, value) if key in _ENUMS else value
    return out


def _custom_options(kind: str, raw: bytes) -> dict:
    """A custom operator's flexbuffer options as {name: value}; {} when they are not a
    flexbuffer map (the op is then reported unsupported, or its lowering names the option)."""
    from flatbuffers import flexbuffers
    try:
        value = flexbuffers.Loads(raw)
    except Exception:   # flexbuffers raises assorted errors on other formats
        return {}
    return value if isinstance(value, dict) else {}


def read_tflite(data: bytes) -> Graph:
    """Parse .tflite bytes; raise BakeError with one line on anything malformed."""
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise BakeError("not a TFLite file (no 'TFL3' identifier)" if len(data) >= 8
                        else "truncated model file (%d bytes)" % len(data))
    try:
        return _read(data)
    except BakeError:
        raise
    except Exception as e:  # flatbuffers raises assorted errors on damaged input
        raise BakeError("truncated or corrupted TFLite file (%s: %s)"
                        % (type(e).__name__, e)) from None


def _read(data: bytes) -> Graph:
    model = tflite.Model.GetRootAs(data, 0)
    if model.SubgraphsLength() < 1:
        raise BakeError("TFLite file has no subgraph")
    # Further subgraphs belong to control-flow ops: CALL_ONCE's (resource variable
    # initialization) is run at bake time by variables.py; others (IF, WHILE) are
    # named by the operator check.
    sg = model.Subgraphs(0)
    opnames = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        name = tflite.utils.BUILTIN_OPCODE2NAME.get(code, "BUILTIN_%d" % code)
        if name == "CUSTOM":
            name = "CUSTOM(%s)" % (oc.CustomCode() or b"").decode(errors="replace")
        opnames.append(name)
    tensors, ops, dynamic = _read_subgraph(model, data, sg, opnames)
    inputs = [int(v) for v in sg.InputsAsNumpy()] if sg.InputsLength() else []
    outputs = [int(v) for v in sg.OutputsAsNumpy()] if sg.OutputsLength() else []
    desc = (model.Description() or b"").decode(errors="replace")
    graph = Graph(tensors, ops, inputs, outputs, desc)
    _conditions_as_bytes(graph)
    if any(op.kind in ("CALL_ONCE", "VAR_HANDLE") for op in ops):
        from ..variables import resolve_variables

        def subgraph(k: int) -> Graph:
            if not 0 < k < model.SubgraphsLength():
                raise BakeError("CALL_ONCE refers to subgraph %d of %d" % (k, model.SubgraphsLength()))
            t, o, _ = _read_subgraph(model, data, model.Subgraphs(k), opnames)
            return Graph(t, o, [], [])
        resolve_variables(graph, subgraph)
    sparse_fc = [tensors[op.outputs[0]].name for op in ops if op.kind == "FULLY_CONNECTED"
                 and len(op.inputs) > 1 and op.outputs and op.outputs[0] >= 0 and op.inputs[1] >= 0
                 and tensors[op.inputs[1]].sparse]
    if sparse_fc:
        # TFLite's sparse kernels compute the dense result; TFLite Micro has none and misreads them
        graph.notes.append("sparse FULLY_CONNECTED weights densified at bake time (%s)"
                           % ", ".join(repr(n) for n in sparse_fc))
    dyn_io = [tensors[i].name for i, _ in dynamic if i in inputs]
    if dynamic:
        graph.notes.append("dynamic batch dimension set to 1%s"
                           % (": input " + ", ".join(repr(n) for n in dyn_io) if dyn_io else ""))
    inner = [tensors[i].name for i, sig in dynamic if any(d < 0 for d in sig[1:])]
    if inner:
        # not only the batch: the file's static sizes are used as they are
        graph.notes.append("%d tensor%s with dynamic dimensions besides the batch (e.g. %r) taken "
                           "at the file's static shape" % (len(inner), "s" if len(inner) > 1 else "",
                                                           inner[0]))
    return graph


def _read_subgraph(model, data: bytes, sg, opnames: list) -> tuple[list, list, list]:
    """One subgraph's tensors and ops, and its dynamic tensors [(index, signature)]."""
    tensors, dynamic = [], []
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        ttype = t.Type()
        name = (t.Name() or b"").decode(errors="replace")
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        if ttype not in _TYPES:
            # kept by name: the operator check lists every such tensor at once
            tensors.append(Tensor(name, shape, str(_TYPE_NAMES.get(ttype, ttype))))
            continue
        dtype = _TYPES[ttype]
        sig = [int(d) for d in t.ShapeSignatureAsNumpy()] if t.ShapeSignatureLength() else []
        if len(sig) == len(shape) and any(d < 0 for d in sig):
            # a dynamic dimension (Keras' batch None): the converter's `shape` holds 1 there
            dynamic.append((i, sig))
            shape = tuple(1 if d < 0 and s < 0 else d for d, s in zip(shape, sig))
        if any(d < 0 for d in shape):
            raise BakeError("tensor %r has a dynamic shape %s" % (name, list(shape)))
        q = t.Quantization()
        scale, zp, qdim = [], [], 0
        if q is not None and q.ScaleLength():
            scale = [float(s) for s in q.ScaleAsNumpy()]
            zp = [int(z) for z in q.ZeroPointAsNumpy()] if q.ZeroPointLength() else [0] * len(scale)
            qdim = q.QuantizedDimension()
        tensor = Tensor(name, shape, dtype, scale, zp, qdim, variable=bool(t.IsVariable()))
        buf_index = t.Buffer()
        if buf_index >= model.BuffersLength():
            raise BakeError("tensor %r refers to buffer %d of %d" % (name, buf_index, model.BuffersLength()))
        buf = model.Buffers(buf_index)
        raw = None
        if buf.DataLength():
            raw = buf.DataAsNumpy().tobytes()
        elif buf.Offset() > 1:  # large models keep buffers after the flatbuffer
            raw = data[buf.Offset():buf.Offset() + buf.Size()]
            if len(raw) != buf.Size():
                raise BakeError("truncated model file: buffer of tensor %r is cut off" % name)
        if raw is not None and tensor.variable:
            raw = None  # TFLM ignores a variable's buffer: it starts from its zero point
        if raw is not None and t.Sparsity() is not None:
            # sparse weights (what DENSIFY or a sparse FULLY_CONNECTED reads): densified here
            from .sparsity import densify, read_sparsity
            tensor.data = densify(np.frombuffer(raw, dtype=NP_DTYPE[dtype]), shape, read_sparsity(t.Sparsity()),
                                  name)
            tensor.sparse = True
        elif raw is not None:
            arr: np.ndarray = np.frombuffer(raw, dtype=NP_DTYPE[dtype])
            if arr.size != tensor.size:
                raise BakeError("tensor %r holds %d values for shape %s" % (name, arr.size, list(shape)))
            tensor.data = arr.reshape(shape)
        tensors.append(tensor)
    ops = []
    for i in range(sg.OperatorsLength()):
        o = sg.Operators(i)
        if o.OpcodeIndex() >= len(opnames):
            raise BakeError("operator %d refers to opcode %d of %d" % (i, o.OpcodeIndex(), len(opnames)))
        ins = [int(v) for v in o.InputsAsNumpy()] if o.InputsLength() else []
        outs = [int(v) for v in o.OutputsAsNumpy()] if o.OutputsLength() else []
        for v in ins + outs:
            if v >= len(tensors):
                raise BakeError("operator %d refers to tensor %d of %d" % (i, v, len(tensors)))
        label = repr(tensors[outs[0]].name) if outs and outs[0] >= 0 else "operator %d" % i
        options = _options(o, opnames[o.OpcodeIndex()], label)
        if o.CustomOptionsLength():   # custom ops (TFLM Signal) keep theirs in a flexbuffer map
            options = _custom_options(opnames[o.OpcodeIndex()], o.CustomOptionsAsNumpy().tobytes())
        ops.append(Op(opnames[o.OpcodeIndex()], ins, outs, options))
    return tensors, ops, dynamic


BOOL_OPS = {"SELECT", "SELECT_V2", "EQUAL", "NOT_EQUAL", "LOGICAL_AND", "LOGICAL_OR", "LOGICAL_NOT"}


def _conditions_as_bytes(graph: Graph) -> None:
    """Computed bool tensors (conditions, comparison results) are uint8 on the board (TFLM's bool
    is one byte, 0 or 1: the same bytes; scale 1, zero point 0), and so are constant bools read by
    SELECT, EQUAL/NOT_EQUAL or the logical operators; graph inputs and outputs stay bool (the same
    bytes, a bool array for the caller)."""
    users: dict[int, set[str]] = {}
    for op in graph.ops:
        for t in op.inputs:
            users.setdefault(t, set()).add(op.kind)
        if op.kind == "CAST" and graph.tensors[op.outputs[0]].dtype == "bool":
            op.options["bool_output"] = True   # x != 0, not a uint8 conversion
        if op.kind.startswith("LOGICAL_") and any(graph.tensors[t].dtype != "bool" for t in op.inputs if t >= 0):
            # TFLM reads such bytes as C++ bools (undefined beyond 0 and 1): refused, not guessed
            op.options["non_bool_operands"] = True
    for t, tensor in enumerate(graph.tensors):
        if tensor.dtype != "bool" or (tensor.is_const and not users.get(t, set()) & BOOL_OPS) or \
                t in graph.inputs or t in graph.outputs:
            continue
        tensor.dtype, tensor.scale, tensor.zero_point = "u8", [1.0], [0]   # values 0 and 1
        if tensor.data is not None:
            tensor.data = np.asarray(tensor.data).astype(np.uint8)
