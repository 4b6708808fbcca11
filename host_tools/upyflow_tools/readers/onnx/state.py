"""The reader's state: the ONNX graph, the ir tensors and ops built so far, and the value
of every ONNX name read (a Val, a QConst or a constant ndarray)."""
from __future__ import annotations

import numpy as np

from ... import BakeError
from ...ir import NP_DTYPE, Op, Tensor
from .checks import check_shape, opset
from .values import QConst, Val


def is_1d(node, dq_src: dict, init_rank: dict) -> bool:
    """A Conv/MaxPool/AveragePool with one spatial axis (kernel_shape, else the weights' rank)."""
    if node.op_type not in ("Conv", "ConvTranspose", "MaxPool", "AveragePool"):
        return False
    for a in node.attribute:
        if a.name == "kernel_shape":
            return len(a.ints) == 1
    if node.op_type not in ("Conv", "ConvTranspose") or len(node.input) < 2:
        return False
    w = node.input[1]
    return init_rank.get(dq_src.get(w, w)) == 3


class Reader:
    def __init__(self, model, constants: dict | None = None) -> None:
        self.model = model
        self.current = None          # the node being read, for error messages
        self.input_shapes: dict[str, tuple] = {}   # read_onnx's input_shapes
        self.layout = "nchw"                        # read_onnx's input_layout
        self.g = model.graph
        self.opset = opset(model)
        self.tensors: list[Tensor] = []
        self.ops: list[Op] = []
        self.vals: dict[str, object] = {}
        self.notes: list[str] = []
        self.out_layouts: list[str] = []     # per graph output: its byte order on the board
        self.done: set[int] = set()          # node indices absorbed by an earlier node
        self.deq_cache: dict[int, int] = {}
        self.consumers: dict[str, list[int]] = {}
        for i, node in enumerate(self.g.node):
            for name in node.input:
                if name:
                    self.consumers.setdefault(name, []).append(i)
        self.out_names = {o.name for o in self.g.output}
        dq_src = {n.output[0]: n.input[0] for n in self.g.node if n.op_type == "DequantizeLinear"
                  and n.output and n.input}
        init_rank = {init.name: len(init.dims) for init in self.g.initializer}
        init_rank.update({name: np.ndim(v) for name, v in (constants or {}).items()})
        self.one_d = any(is_1d(node, dq_src, init_rank) for node in self.g.node)

    def tensor(self, name: str, shape, dtype: str, scale=None, zp=None) -> int:
        check_shape(name, shape)
        names = {t.name for t in self.tensors[-64:]}
        if name in names:
            name = "%s#%d" % (name, len(self.tensors))
        self.tensors.append(Tensor(name, tuple(int(d) for d in shape), dtype,
                                   [float(scale)] if scale is not None else [],
                                   [int(zp)] if zp is not None else []))
        return len(self.tensors) - 1

    def like(self, name: str, t: int, shape=None, dtype=None, q=None) -> int:
        """A new activation tensor; quantization from `q` = (scale, zp), else from tensor t if int."""
        src = self.tensors[t]
        dtype = dtype or src.dtype
        if q is None and dtype != "f32" and src.dtype == dtype:
            q = (src.sc, src.zp)
        return self.tensor(name, src.shape if shape is None else shape, dtype,
                            *(q if q is not None and dtype != "f32" else (None, None)))

    def const(self, name: str, data: np.ndarray, dtype: str, scale=None, zp=None, qdim: int = 0) -> int:
        check_shape(name, data.shape)
        t = Tensor(name, tuple(int(d) for d in data.shape), dtype, data=np.ascontiguousarray(data, NP_DTYPE[dtype]))
        if scale is not None:
            t.scale = [float(s) for s in np.atleast_1d(scale)]
            t.zero_point = [int(z) for z in np.broadcast_to(np.atleast_1d(zp), (len(t.scale),))]
            t.quantized_dimension = qdim
        self.tensors.append(t)
        return len(self.tensors) - 1

    def op(self, kind: str, inputs: list[int], outputs: list[int], **options) -> None:
        self.ops.append(Op(kind, inputs, outputs, options))

    def i32(self, name: str, values) -> int:
        return self.const(name, np.array(values, np.int32), "i32")

    def get(self, node, k: int):
        if k >= len(node.input) or not node.input[k]:
            return None
        name = node.input[k]
        if name not in self.vals:
            raise BakeError("%s node %r reads %r, which no node computed before it"
                            % (node.op_type, node.name, name))
        return self.vals[name]

    def cval(self, node, k: int, what: str):
        """A constant input as a float/int ndarray (DQ'd constants dequantized)."""
        v = self.get(node, k)
        if v is None:
            return None
        if isinstance(v, QConst):
            return v.value()
        if isinstance(v, Val):
            raise BakeError("%s node %r needs a constant %s (%r is computed at run time)"
                            % (node.op_type, node.name, what, node.input[k]))
        return v

    def rt(self, node, k: int) -> Val:
        v = self.get(node, k)
        if not isinstance(v, Val):
            raise BakeError("%s node %r: input %r is missing or constant; upyflow needs a computed tensor here"
                            % (node.op_type, node.name, node.input[k] if k < len(node.input) else "?"))
        return v

    def set(self, name: str, v) -> None:
        # a folded 0-d result is a numpy scalar: the translators test for np.ndarray constants
        self.vals[name] = np.asarray(v) if isinstance(v, np.generic) else v

    def sole_consumer(self, name: str):
        """(index, node) of the only node reading `name`, None if several, none, or a graph output."""
        users = self.consumers.get(name, [])
        if len(users) != 1 or name in self.out_names:
            return None
        return users[0], self.g.node[users[0]]
