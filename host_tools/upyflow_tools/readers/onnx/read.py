"""read_onnx: an ONNX file through the checks, then node by node through constant folding or
the operator translators (ops/), to an ir.Graph."""
from __future__ import annotations

import numpy as np

from ... import BakeError
from ...ir import Graph
from . import ops  # noqa: F401  (fills TRANSLATORS)
from .checks import MAX_ELEMENTS, ONNX_HINTS, SUPPORTED, check_arity, check_shape, first_line, initializer, onnx_dtype
from .fold import FOLDABLE, constant, fold
from .layout import stored_as
from .patterns import fuse_gelu
from .qdq import quantizes_to_uint8, to_float
from .registry import TRANSLATORS, translator
from .state import Reader
from .values import NHWC, NLC, QConst, Val, count, ident


def read_onnx(data: bytes, constants: dict | None = None, input_shapes: dict | None = None,
              input_layout: str = "nchw") -> Graph:
    """Parse .onnx bytes into an ir.Graph; BakeError with one line on anything unsupported.

    constants {graph input name: array}: those inputs are read as initializers of these values.
    input_shapes {graph input name: shape}: the shape of an input with symbolic dimensions.
    input_layout: "nchw" (rank-4 inputs and outputs as in the file, as onnxruntime takes and gives
    them; a transpose runs on the board where the bytes need one) or "nhwc" (the kernels' order:
    no transpose before the first Conv; rank 3 NLC in a 1-D model)."""
    if input_layout not in ("nhwc", "nchw"):
        raise BakeError("--input-layout must be nchw or nhwc, not %r" % input_layout)
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
    fuse_gelu(model.graph)   # before the reader indexes the nodes
    reader = Reader(model, constants)
    reader.input_shapes = {k: tuple(int(d) for d in v) for k, v in (input_shapes or {}).items()}
    reader.layout = input_layout
    try:
        return _read(reader, constants or {})
    except BakeError:
        raise
    except (ArithmeticError, LookupError, TypeError, ValueError, AttributeError, RecursionError,
            MemoryError) as e:
        # Defence in depth: a malformed graph the checks above did not foresee is still
        # one line, naming the node being read (tests/fuzz.py counts these apart).
        node = reader.current
        raise BakeError("malformed ONNX model at %s node %r (%s: %s)"
                        % (node.op_type if node is not None else "graph", node.name if node is not None else "",
                           type(e).__name__, first_line(e))) from None


def _read(r: Reader, constants: dict) -> Graph:
    """Every node in order, then the graph outputs in the runtime's layout."""
    for init in r.g.initializer:
        r.vals[init.name] = initializer(init)
    names = [vi.name for vi in r.g.input if vi.name not in r.vals]
    for flag, given in (("--const", constants), ("--input-shape", r.input_shapes)):
        for name in given:
            if name not in names:
                raise BakeError("%s %s: the model has no graph input named %r (inputs: %s)"
                                % (flag, name, name, ", ".join(names)))
    inputs, in_layouts = [], []
    for vi in r.g.input:
        if vi.name in r.vals:
            continue  # old exporters list initializers as inputs too
        if vi.name in constants:
            r.vals[vi.name] = _input_constant(vi, constants[vi.name])
            continue
        inputs.append(_graph_input(r, vi))
        val = r.vals[vi.name]
        assert isinstance(val, Val)
        in_layouts.append(_layout_name(r, val.perm))
    # constant-only ops (shape arithmetic) are checked when reached: they need constant inputs
    unsupported = sorted({n.op_type for n in r.g.node if n.op_type not in SUPPORTED
                          and n.op_type not in FOLDABLE})
    if unsupported:
        raise BakeError("unsupported ONNX operator%s %s; upyflow reads ONNX %s"
                        % ("s" if len(unsupported) > 1 else "",
                           ", ".join(k + (" (%s)" % ONNX_HINTS[k] if k in ONNX_HINTS else "")
                                     for k in unsupported),
                           ", ".join(sorted(set(SUPPORTED) | FOLDABLE))))
    for node in r.g.node:   # every node's operands first: lookahead reads later nodes
        r.current = node
        check_arity(node, r.opset)
    for i, node in enumerate(r.g.node):
        if i in r.done:
            continue
        r.current = node
        _node(r, node)
    r.current = None
    outputs = [_graph_output(r, o.name) for o in r.g.output]
    desc = "ONNX model (%s %s, opset %d)" % (r.model.producer_name or "?",
                                             r.model.producer_version or "", r.opset)
    if r.notes:
        desc += "; " + "; ".join(r.notes)
    graph = Graph(r.tensors, r.ops, inputs, outputs, desc)
    graph.input_layouts = in_layouts
    graph.output_layouts = r.out_layouts
    graph.nan_maxmin = True   # onnxruntime's float Max/Min/Clip: a NaN operand gives NaN
    _layout_note(r, graph)
    if any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in r.g.node):
        graph.rounding = "onnxruntime"   # a QDQ model: its reference is onnxruntime
    return graph


def _layout_name(r: Reader, perm) -> str:
    """"NCHW"/"NHWC" for a rank-4 value stored with perm, "NCL"/"NLC" for rank 3 in a 1-D model."""
    names: dict[tuple, str] = {(0, 1, 2, 3): "NCHW", NHWC: "NHWC"}
    if r.one_d:
        names.update({(0, 1, 2): "NCL", NLC: "NLC"})
    return names.get(tuple(perm), "")


def _layout_note(r: Reader, graph: Graph) -> None:
    """One note naming the byte order of the rank-4 (1-D model: rank-3) inputs and outputs on
    the board, and whether transposes run there for it."""
    named = [x for x in graph.input_layouts + graph.output_layouts if x]
    if not named:
        return
    io = set(graph.inputs) | set(graph.outputs)
    moved = any(op.kind == "TRANSPOSE" and (op.inputs[0] in graph.inputs or op.outputs[0] in io)
                for op in graph.ops)
    if r.layout == "nchw":
        graph.notes.append("the board reads and writes image tensors as the file does (%s), as onnxruntime "
                           "takes them%s" % ("/".join(sorted(set(named))),
                                            "; a transpose to the kernels' channels-last order runs on the board"
                                            if moved else ""))
    else:
        graph.notes.append("the board reads and writes image tensors %s (--input-layout nhwc: give the file's "
                           "channels-first data transposed)" % "/".join(sorted(set(named))))


def _graph_input(r: Reader, vi) -> int:
    """A graph input's tensor, in the file's order; with --input-layout nhwc a rank-4 input is
    read as NHWC (rank 3 as NLC in a 1-D model) unless Transpose nodes are its only consumers."""
    tt = vi.type.tensor_type
    if not vi.type.HasField("tensor_type"):
        raise BakeError("graph input %r is not a tensor" % vi.name)
    users_at = [(r.g.node[i].op_type, list(r.g.node[i].input).index(vi.name)) for i in r.consumers.get(vi.name, [])]
    condition = tt.elem_type == 9 and users_at and all(u == ("Where", 0) for u in users_at)
    # a bool input read only as Where's condition: its bytes (0/1) as uint8, scale 1
    # any other bool input: bool bytes (0/1) for comparisons and logic
    dtype = "u8" if condition else "bool" if tt.elem_type == 9 else onnx_dtype(tt.elem_type, "graph input %r" % vi.name)
    dims: list[int] = []
    given = r.input_shapes.get(vi.name)
    if given is not None:
        declared = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in tt.shape.dim]
        if len(given) != len(declared) or any(d is not None and d != g for d, g in zip(declared, given)) \
                or min(given, default=1) < 1:
            raise BakeError("--input-shape %s=%s does not fit the input's shape %s"
                            % (vi.name, ",".join(map(str, given)), [d if d is not None else "?" for d in declared]))
    for axis, d in enumerate(tt.shape.dim):
        if given is not None:
            dims.append(given[axis])
        elif d.HasField("dim_value") and d.dim_value > 0:
            dims.append(d.dim_value)
        elif axis == 0:
            dims.append(1)
            r.notes.append("batch dimension %r of input %r set to 1"
                              % (d.dim_param or "?", vi.name))
        else:
            raise BakeError("graph input %r has a dynamic dimension %r (axis %d); upyflow needs static "
                            "shapes: give them with --input-shape %s=%s"
                            % (vi.name, d.dim_param or "?", axis, vi.name,
                               ",".join(str(x.dim_value) if x.HasField("dim_value") and x.dim_value > 0
                                        else "1" if k == 0 else "N" for k, x in enumerate(tt.shape.dim))))
    shape = tuple(dims)
    if count(shape) > MAX_ELEMENTS:
        raise BakeError("graph input %r has shape %s; upyflow reads at most %d values per tensor"
                        % (vi.name, list(shape), MAX_ELEMENTS))
    users = [r.g.node[i].op_type for i in r.consumers.get(vi.name, [])]
    perm = ident(len(shape))
    if not (users and all(u == "Transpose" for u in users)) and r.layout == "nhwc":
        if len(shape) == 4:
            perm = NHWC
        elif len(shape) == 3 and r.one_d:
            perm = NLC
    t = r.tensor(vi.name, tuple(shape[p] for p in perm), dtype, *((1.0, 0) if condition else (None, None)))
    r.vals[vi.name] = Val(t, shape, shape, perm)
    return t


def _input_constant(vi, value) -> np.ndarray:
    """A graph input's given value, checked against the input's declared type and shape."""
    from onnx import helper
    tt = vi.type.tensor_type
    arr = np.asarray(value)
    try:
        want = np.dtype(helper.tensor_dtype_to_np_dtype(tt.elem_type))
    except Exception:   # an element type numpy has no name for
        want = None
    dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
    if want is None or arr.dtype != want or arr.ndim != len(dims) or \
            any(d is not None and d != n for d, n in zip(dims, arr.shape)):
        raise BakeError("--const %s: %s %s given, the input is %s %s"
                        % (vi.name, arr.dtype, list(arr.shape), want, [d if d is not None else "?" for d in dims]))
    check_shape(vi.name, arr.shape if arr.ndim else (1,))
    return arr


def _elem_type(r: Reader, name: str) -> int:
    return next((o.type.tensor_type.elem_type for o in r.g.output if o.name == name), 0)


def _graph_output(r: Reader, name: str) -> int:
    """A graph output's tensor: float, in the file's order; with --input-layout nhwc rank 4 as
    NHWC (rank 3 as NLC in a 1-D model) unless a Transpose node makes it."""
    v = r.vals.get(name)
    if v is None:
        raise BakeError("graph output %r is not computed by any node" % name)
    if not isinstance(v, Val):
        raise BakeError("graph output %r is a constant; upyflow needs computed outputs" % name)
    rank = len(v.shape)
    makers = [n for n in r.g.node if name in n.output]
    made_by = [n.op_type for n in makers]
    if rank == 4 and made_by != ["Transpose"] and r.layout == "nhwc":
        v = stored_as(r, v, v.shape, NHWC)
    elif rank == 3 and r.one_d and made_by != ["Transpose"] and r.layout == "nhwc":
        v = stored_as(r, v, v.shape, NLC)
    else:
        v = stored_as(r, v, v.shape, ident(rank))
    if v.deq:   # after the transpose, if any: it moves int8 bytes
        v = to_float(r, v)
    r.out_layouts.append(_layout_name(r, v.perm))
    t = r.tensors[v.t]
    if t.dtype == "u8" and t.scale in ([], [1.0]) and t.zero_point in ([], [0]) and _elem_type(r, name) == 9:
        t.dtype = "bool"   # a comparison's or logical op's bytes 0/1, a bool output for the caller
    if made_by == ["QuantizeLinear"] and t.dtype == "i8" and quantizes_to_uint8(makers[0], r):
        out = r.tensor(name + "/uint8", t.shape, "u8", t.sc, t.zp + 128)   # the bytes plus 128
        r.op("QUANTIZE", [v.t], [out])
        return out
    return v.t


@translator("If")
def if_constant(r: Reader, node) -> None:
    """An If on a constant condition: the taken branch's nodes, read in place."""
    from onnx import helper
    cond = r.cval(node, 0, "condition")
    if cond is None or np.size(cond) != 1:
        raise BakeError("If node %r needs a constant single-value condition" % node.name)
    branches = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    branch = branches.get("then_branch" if bool(np.asarray(cond).reshape(-1)[0]) else "else_branch")
    if branch is None or len(branch.output) != len(node.output):
        raise BakeError("If node %r: its branch is missing or makes %d outputs for %d"
                        % (node.name, 0 if branch is None else len(branch.output), len(node.output)))
    for init in branch.initializer:
        r.vals[init.name] = initializer(init)
    for inner in branch.node:
        r.current = inner
        check_arity(inner, r.opset)
        _node(r, inner)
    r.current = node
    for name, out in zip(node.output, branch.output):
        if out.name not in r.vals:
            raise BakeError("If node %r: branch output %r is not computed" % (node.name, out.name))
        r.vals[name] = r.vals[out.name]


def _node(r: Reader, node) -> None:
    """One node: a constant, folded when its operands are constants, else its translator."""
    op = node.op_type
    ins = [r.vals.get(n) if n else None for n in node.input]
    if any(n and n not in r.vals for n in node.input):
        missing = [n for n in node.input if n and n not in r.vals][0]
        raise BakeError("%s node %r reads %r, which no node computed before it" % (op, node.name, missing))
    if op == "Constant":
        r.set(node.output[0], constant(node))
        return
    if op in FOLDABLE and all(not isinstance(v, Val) for v in ins if v is not None) and ins \
            and op not in ("QuantizeLinear", "DequantizeLinear"):
        try:
            folded = fold(node, [(v.value() if isinstance(v, QConst) else v) for v in ins])
        except (ValueError, TypeError, IndexError) as e:   # numpy refusing the operands
            raise BakeError("%s node %r: cannot evaluate its constant operands (%s)"
                            % (op, node.name, first_line(e))) from None
        r.set(node.output[0], folded)
        return
    translate = TRANSLATORS.get(op)
    if translate is None:
        raise BakeError("unsupported ONNX operator %s (node %r) on computed tensors" % (op, node.name))
    translate(r, node)
