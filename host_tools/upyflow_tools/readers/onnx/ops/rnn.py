"""Recurrent layers, float32: LSTM and GRU (as torch.onnx exports nn.LSTM / nn.GRU).

LSTM runs on UNIDIRECTIONAL_SEQUENCE_LSTM (the float32 lstm_f32 kernel): ONNX's gate rows
(i, o, f, c) go to TFLite's operands (i, f, c, o), the bias is Wb + Rb. GRU, which TFLite lacks,
runs on upyflow's float32 gru_f32 kernel (ir op GRU, lower/families/lstm.py), ONNX's rows
(z, r, h) and biases as they are, linear_before_reset 0 or 1, clip on the gate inputs. The
kernels keep their state in variable tensors; an ONNX model starts every run from initial_h /
initial_c (zeros when absent), so an ASSIGN_VARIABLE copies them into the state before the
layer on every invoke, and Y_h / Y_c are READ_VARIABLE copies of the state after it. A reverse
direction runs on the time-reversed sequence (STRIDED_SLICE of stride -1) and reverses its Y back; a bidirectional
layer is the two passes joined by CONCATENATION (kernel_layer).

An LSTM with clip (ONNX clips the gate inputs, TFLite's cell_clip the cell state), input_forget
or peepholes is unrolled over its static sequence length at bake time (unroll(), at most
MAX_STEPS steps), as onnxruntime computes it: the input projections of all steps are one
FULLY_CONNECTED, split per step; each step a FULLY_CONNECTED of the hidden state, ADD, SPLIT,
LOGISTIC, TANH, MUL (about 14 ops). Terms of a constant initial state are computed at bake time.

Refused with one line: activations other than the defaults, sequence_lens other than the full
length.
"""
from __future__ import annotations

import numpy as np

from .... import BakeError
from ..checks import attrs
from ..layout import stored_as
from ..qdq import to_float
from ..registry import translator
from ..state import Reader
from ..values import Val, ident

_DEFAULT_ACTS = {"LSTM": ["sigmoid", "tanh", "tanh"], "GRU": ["sigmoid", "tanh"]}
_GATES = {"LSTM": 4, "GRU": 3}
MAX_STEPS = 256   # unrolled layers: ops grow with the sequence length
MAX_CONCAT = 10   # inputs of one CONCATENATION (TFLM's kMaxInputNum)


def _text(v) -> str:
    return v.decode(errors="replace") if isinstance(v, bytes) else str(v)


def floats(r: Reader, node, k: int, what: str):
    """Constant input k as float32 (None when absent); another element type is refused, as ONNX does."""
    v = r.cval(node, k, what)
    if v is not None and np.asarray(v).dtype != np.float32:
        raise BakeError("%s node %r: %s is %s; the layer takes float32" % (node.op_type, node.name, what,
                                                                           np.asarray(v).dtype))
    return v


class _Layer:
    """A recurrent node's operands and attributes, checked."""

    def __init__(self, r: Reader, node) -> None:
        op = node.op_type
        self.node, self.name = node, ([o for o in node.output if o] or [node.name or op])[0]
        a = attrs(node)
        self.direction = _text(a.get("direction", "forward"))
        if self.direction not in ("forward", "reverse", "bidirectional"):
            raise BakeError("%s node %r: direction %r (forward, reverse, bidirectional)"
                            % (op, node.name, self.direction))
        self.dirs = 2 if self.direction == "bidirectional" else 1
        self.layout = int(a.get("layout", 0))
        if self.layout not in (0, 1):
            raise BakeError("%s node %r: layout %d (0 or 1)" % (op, node.name, self.layout))
        acts = [_text(s).lower() for s in a.get("activations", [])]
        if acts and acts != _DEFAULT_ACTS[op] * self.dirs:
            raise BakeError("%s node %r: activations %s are not supported (only the defaults, %s)"
                            % (op, node.name, acts, ", ".join(_DEFAULT_ACTS[op])))
        self.clip = a.get("clip")
        if self.clip is not None and not float(self.clip) > 0:
            raise BakeError("%s node %r: clip %s; ONNX's clip is a positive threshold" % (op, node.name, self.clip))
        x = r.rt(node, 0)
        if len(x.shape) != 3:
            raise BakeError("%s node %r: X is %d-D, expected 3-D" % (op, node.name, len(x.shape)))
        self.x = stored_as(r, to_float(r, x), x.shape, ident(3))
        self.steps, self.batch = (x.shape[0], x.shape[1]) if self.layout == 0 else (x.shape[1], x.shape[0])
        self.n_in = x.shape[2]
        g = _GATES[op]
        w, rw = floats(r, node, 1, "weights W"), floats(r, node, 2, "recurrent weights R")
        if w is None or rw is None:
            raise BakeError("%s node %r needs weights W and R" % (op, node.name))
        self.w, self.r = np.asarray(w, np.float32), np.asarray(rw, np.float32)
        size = a.get("hidden_size")
        n = int(size) if size is not None else int(self.r.shape[-1]) if self.r.ndim == 3 else 0
        self.n = n
        if self.w.shape != (self.dirs, g * n, self.n_in) or self.r.shape != (self.dirs, g * n, n) or n < 1:
            raise BakeError("%s node %r: W %s and R %s do not fit X %s, hidden_size %d, %d direction%s"
                            % (op, node.name, list(self.w.shape), list(self.r.shape), list(x.shape), n,
                               self.dirs, "s" if self.dirs > 1 else ""))
        b = floats(r, node, 3, "bias B")
        self.b = np.zeros((self.dirs, 2 * g * n), np.float32) if b is None else np.asarray(b, np.float32)
        if self.b.shape != (self.dirs, 2 * g * n):
            raise BakeError("%s node %r: B %s, expected %s" % (op, node.name, list(self.b.shape),
                                                              [self.dirs, 2 * g * n]))
        seq = r.cval(node, 4, "sequence_lens")
        if seq is not None and (np.size(seq) != self.batch or np.any(np.asarray(seq) != self.steps)):
            raise BakeError("%s node %r: sequence_lens %s; upyflow runs every sequence to the full length %d"
                            % (op, node.name, np.asarray(seq).reshape(-1).tolist(), self.steps))
        self.state_shape = (self.dirs, self.batch, n) if self.layout == 0 else (self.batch, self.dirs, n)

    def initial(self, r: Reader, k: int, what: str) -> list:
        """Per direction, the initial state (input k) as a [batch, n] constant or tensor id."""
        v = r.get(self.node, k)
        if v is None:
            return [np.zeros((self.batch, self.n), np.float32)] * self.dirs
        if isinstance(v, Val):
            if tuple(v.shape) != self.state_shape:
                raise BakeError("%s node %r: %s %s, expected %s" % (self.node.op_type, self.node.name, what,
                                                                   list(v.shape), list(self.state_shape)))
            v = stored_as(r, to_float(r, v), v.shape, ident(3))
            if self.dirs == 1:
                return [reshape(r, v.t, (self.batch, self.n))]
            axis = 0 if self.layout == 0 else 1
            return [reshape(r, t, (self.batch, self.n)) for t in split(r, v.t, axis, 2)]
        c = np.asarray(floats(r, self.node, k, what), np.float32)
        if c.shape != self.state_shape:
            raise BakeError("%s node %r: %s %s, expected %s" % (self.node.op_type, self.node.name, what,
                                                               list(c.shape), list(self.state_shape)))
        return [np.ascontiguousarray(c[d] if self.layout == 0 else c[:, d]) for d in range(self.dirs)]

    def reversed_pass(self, d: int) -> bool:
        return self.direction == "reverse" or d == 1

    def bind(self, r: Reader, k: int, per_dir: list, per_step: bool) -> None:
        """Output k from per-direction tensors: Y ([steps, batch, n] or [batch, steps, n] each)
        when per_step, else the final states ([batch, n] each)."""
        if k >= len(self.node.output) or not self.node.output[k]:
            return
        name = self.node.output[k]
        t_ax = 0 if self.layout == 0 else 1
        if per_step:
            lead = (self.steps, self.batch) if self.layout == 0 else (self.batch, self.steps)
            axis = 1 if self.layout == 0 else 2
            shape = lead[:axis] + (1,) + lead[axis:] + (self.n,)
            full = lead[:axis] + (self.dirs,) + lead[axis:] + (self.n,)
        else:
            shape = (1, self.batch, self.n) if self.layout == 0 else (self.batch, 1, self.n)
            full, axis = self.state_shape, t_ax
        if self.dirs == 1:
            t = per_dir[0]
            r.tensors[t].name = name
            r.set(name, Val(t, full, r.tensors[t].shape, ident(len(r.tensors[t].shape))))
            return
        parts = [reshape(r, t, shape) for t in per_dir]
        out = r.tensor(name, full, "f32")
        r.op("CONCATENATION", parts, [out], axis=axis, fused_activation_function="NONE")
        r.set(name, Val(out, full, full, ident(len(full))))


def reshape(r: Reader, t: int, shape) -> int:
    """t viewed as `shape` (a RESHAPE, aliased away)."""
    shape = tuple(int(d) for d in shape)
    if r.tensors[t].shape == shape:
        return t
    out = r.like(r.tensors[t].name + "/reshaped", t, shape)
    r.op("RESHAPE", [t, r.i32(r.tensors[out].name + "/shape", shape)], [out])
    return out


def split(r: Reader, t: int, axis: int, n: int) -> list[int]:
    """t split into n equal parts on `axis` (SPLIT)."""
    src = r.tensors[t]
    shape = list(src.shape)
    shape[axis] //= n
    outs = [r.like("%s/part%d" % (src.name, k), t, tuple(shape)) for k in range(n)]
    r.op("SPLIT", [r.i32(src.name + "/split_axis", [axis]), t], outs, num_splits=n)
    return outs


def concat(r: Reader, parts: list[int], axis: int, name: str) -> int:
    """CONCATENATION of parts on `axis`, in rounds of at most MAX_CONCAT inputs (TFLM's limit)."""
    while True:
        groups = [parts[k:k + MAX_CONCAT] for k in range(0, len(parts), MAX_CONCAT)]
        parts = []
        for k, group in enumerate(groups):
            shape = list(r.tensors[group[0]].shape)
            shape[axis] = sum(r.tensors[t].shape[axis] for t in group)
            out = r.tensor(name if len(groups) == 1 else "%s/part%d_%d" % (name, len(parts), k), shape, "f32")
            r.op("CONCATENATION", group, [out], axis=axis, fused_activation_function="NONE")
            parts.append(out)
        if len(parts) == 1:
            return parts[0]


def reverse(r: Reader, t: int, axis: int) -> int:
    """t with `axis` reversed: a STRIDED_SLICE of stride -1 there (one strided copy)."""
    src = r.tensors[t]
    rank = len(src.shape)
    out = r.like(src.name + "/reversed", t)
    begin = [src.shape[axis] - 1 if k == axis else 0 for k in range(rank)]
    steps = [-1 if k == axis else 1 for k in range(rank)]
    r.op("STRIDED_SLICE", [t, r.i32(src.name + "/reverse_begin", begin), r.i32(src.name + "/reverse_end", [0] * rank),
                           r.i32(src.name + "/reverse_strides", steps)], [out],
         begin_mask=((1 << rank) - 1) & ~(1 << axis), end_mask=(1 << rank) - 1, ellipsis_mask=0, new_axis_mask=0,
         shrink_axis_mask=0, offset=False)
    return out


# --- the kernels: UNIDIRECTIONAL_SEQUENCE_LSTM and GRU ----------------------------------------
def kernel_layer(r: Reader, L: _Layer, inits: list[list], operands, make) -> None:
    """One kernel op per direction, on the time-reversed sequence for a reverse pass. inits: per
    state (hidden first), the initial value per direction; operands(d, tag) -> the op's constant
    operands; make(x, consts, states, y): the op. The states are variable tensors set from their
    initial value at every invoke (ASSIGN_VARIABLE) and read out after the layer (READ_VARIABLE)."""
    t_ax = 0 if L.layout == 0 else 1
    ys: list[int] = []
    finals: list[list[int]] = [[] for _ in inits]
    for d in range(L.dirs):
        tag = "%s/%s" % (L.name, ("forward", "backward")[d] if L.dirs == 2 else L.direction)
        states = []
        for k, init in enumerate(inits):
            state = r.tensor("%s/state%d" % (tag, k), (L.batch, L.n), "f32")
            r.tensors[state].variable = True
            v = init[d]
            src = r.const("%s/initial%d" % (tag, k), v, "f32") if isinstance(v, np.ndarray) else v
            r.op("ASSIGN_VARIABLE", [src], [state])   # every invoke starts from the initial state
            states.append(state)
        y = r.tensor(tag + "/Y", L.x.shape[:2] + (L.n,), "f32")
        make(reverse(r, L.x.t, t_ax) if L.reversed_pass(d) else L.x.t, operands(d, tag), states, y)
        ys.append(reverse(r, y, t_ax) if L.reversed_pass(d) else y)
        for k, state in enumerate(states):
            if len(L.node.output) > k + 1 and L.node.output[k + 1]:
                out = r.tensor("%s/final%d" % (tag, k), (L.batch, L.n), "f32")
                r.op("READ_VARIABLE", [state], [out])
                finals[k].append(out)
    L.bind(r, 0, ys, True)
    for k, per_dir in enumerate(finals):
        L.bind(r, k + 1, per_dir, False)


@translator("LSTM")
def lstm(r: Reader, node) -> None:
    a = attrs(node)
    L = _Layer(r, node)
    if a.get("clip") is not None or int(a.get("input_forget", 0)) or r.get(node, 7) is not None:
        lstm_unrolled(r, L)   # TFLite's cell_clip clips the cell state, ONNX's clip the gate inputs
        return
    n = L.n
    rows = {"i": 0, "o": 1, "f": 2, "c": 3}   # ONNX's rows; TFLite's operands: i, f, c (cell, "g"), o

    def operands(d: int, tag: str) -> list:
        w, rw, b = L.w[d], L.r[d], L.b[d, :4 * n] + L.b[d, 4 * n:]
        out = []
        for src, what in ((w, "W"), (rw, "R"), (b, "B")):
            for g in "ifco":
                rows_g = np.ascontiguousarray(src[rows[g] * n:(rows[g] + 1) * n])
                out.append(r.const("%s/%s_%s" % (tag, what, g), rows_g, "f32"))
        return out

    def make(x: int, c: list, states: list, y: int) -> None:
        ins = [x] + c[:8] + [-1] * 3 + c[8:] + [-1, -1] + states + [-1] * 4
        r.op("UNIDIRECTIONAL_SEQUENCE_LSTM", ins, [y], fused_activation_function="TANH", cell_clip=0.0,
             proj_clip=0.0, time_major=L.layout == 0, asymmetric_quantize_inputs=False)

    kernel_layer(r, L, [L.initial(r, 5, "initial_h"), L.initial(r, 6, "initial_c")], operands, make)


@translator("GRU")
def gru(r: Reader, node) -> None:
    """GRU: upyflow's float32 gru_f32 kernel (ir op GRU; ONNX's rows z, r, h as they are)."""
    L = _Layer(r, node)
    lbr = int(attrs(node).get("linear_before_reset", 0))
    clip = 0.0 if L.clip is None else float(L.clip)
    if lbr not in (0, 1):
        raise BakeError("GRU node %r: linear_before_reset %d (0 or 1)" % (node.name, lbr))

    def operands(d: int, tag: str) -> list:
        w = np.concatenate([L.w[d].reshape(-1), L.r[d].reshape(-1)])
        return [r.const(tag + "/weights", w, "f32"), r.const(tag + "/bias", np.ascontiguousarray(L.b[d]), "f32")]

    def make(x: int, c: list, states: list, y: int) -> None:
        r.op("GRU", [x] + c + states, [y], time_major=L.layout == 0, linear_before_reset=lbr, clip=clip)

    kernel_layer(r, L, [L.initial(r, 5, "initial_h")], operands, make)


# --- unrolled layers: LSTM with clip, input_forget or peepholes --------------------------
class _Ops:
    """Float32 ops on tensor ids or constants (ndarrays); all-constant ones are computed here."""

    def __init__(self, r: Reader, tag: str) -> None:
        self.r, self.tag, self.k = r, tag, 0
        self.consts: dict[tuple, int] = {}   # every step's weights: one tensor

    def _name(self, what: str) -> str:
        self.k += 1
        return "%s/%s%d" % (self.tag, what, self.k)

    def _t(self, v) -> int:
        if isinstance(v, int):
            return v
        v = np.ascontiguousarray(v, np.float32)
        key = (v.shape, v.tobytes())
        if key not in self.consts:
            self.consts[key] = self.r.const(self._name("const"), v, "f32")
        return self.consts[key]

    def _shape(self, v) -> tuple:
        return tuple(np.shape(v)) if isinstance(v, np.ndarray) else self.r.tensors[v].shape

    def binary(self, kind: str, a, b):
        if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
            f = {"ADD": np.add, "SUB": np.subtract, "MUL": np.multiply, "MAXIMUM": np.maximum,
                 "MINIMUM": np.minimum}[kind]
            return f(a, b).astype(np.float32)
        shape = np.broadcast_shapes(self._shape(a), self._shape(b))
        out = self.r.tensor(self._name(kind.lower()), shape, "f32")
        opts = {"fused_activation_function": "NONE"} if kind in ("ADD", "SUB", "MUL") else {}
        self.r.op(kind, [self._t(a), self._t(b)], [out], **opts)
        return out

    def clip(self, a, c):
        """a bounded to [-c, c] (no bound: c None)."""
        if c is None:
            return a
        c = float(c)
        return self.binary("MINIMUM", self.binary("MAXIMUM", a, np.array([-c], np.float32)), np.array([c], np.float32))

    def unary(self, kind: str, a):
        if isinstance(a, np.ndarray):
            return (1 / (1 + np.exp(-a)) if kind == "LOGISTIC" else np.tanh(a)).astype(np.float32)
        out = self.r.tensor(self._name(kind.lower()), self._shape(a), "f32")
        self.r.op(kind, [a], [out])
        return out

    def fc(self, x, w: np.ndarray, b: np.ndarray):
        """x @ w.T + b over x's last axis."""
        if isinstance(x, np.ndarray):
            return (x @ w.T + b).astype(np.float32)
        shape = self._shape(x)[:-1] + (w.shape[0],)
        out = self.r.tensor(self._name("fc"), shape, "f32")
        self.r.op("FULLY_CONNECTED", [x, self._t(np.ascontiguousarray(w)), self._t(b)], [out],
                  fused_activation_function="NONE", keep_num_dims=True, weights_format="DEFAULT")
        return out


def lstm_unrolled(r: Reader, L: _Layer) -> None:
    """An LSTM with clip, input_forget or peepholes, as onnxruntime computes it: per gate
    pre-activation (+ peephole), clipped, activated; f = 1 - i with input_forget."""
    n, node = L.n, L.node
    input_forget = int(attrs(node).get("input_forget", 0))
    p = floats(r, node, 7, "peephole weights P")
    if p is not None and np.shape(p) != (L.dirs, 3 * n):
        raise BakeError("LSTM node %r: P %s, expected %s" % (node.name, list(np.shape(p)), [L.dirs, 3 * n]))
    peep = None if p is None else np.asarray(p, np.float32)

    def project(o: _Ops, d: int) -> list:
        return [o.fc(L.x.t, L.w[d], L.b[d, :4 * n] + L.b[d, 4 * n:])]   # ONNX rows: i, o, f, c

    def step(o: _Ops, d: int, xs: list, state: tuple) -> tuple:
        h, c_prev = state
        pre = o.binary("ADD", xs[0], o.fc(h, L.r[d], np.zeros(4 * n, np.float32)))
        gi, go, gf, gc = split(r, pre, 1, 4)

        def gate(g, k: int, cell):   # + P[k] * cell, clipped, sigmoid
            if peep is not None:
                g = o.binary("ADD", g, o.binary("MUL", peep[d, k * n:(k + 1) * n], cell))
            return o.unary("LOGISTIC", o.clip(g, L.clip))

        i = gate(gi, 0, c_prev)
        f = o.binary("SUB", np.array([1.0], np.float32), i) if input_forget else gate(gf, 2, c_prev)
        c = o.binary("ADD", o.binary("MUL", f, c_prev), o.binary("MUL", i, o.unary("TANH", o.clip(gc, L.clip))))
        return (o.binary("MUL", gate(go, 1, c), o.unary("TANH", c)), c)

    init = list(zip(L.initial(r, 5, "initial_h"), L.initial(r, 6, "initial_c")))
    ys, finals = unroll(r, L, init, project, step)
    L.bind(r, 0, ys, True)
    L.bind(r, 1, [f[0] for f in finals], False)
    L.bind(r, 2, [f[1] for f in finals], False)


def unroll(r: Reader, L: _Layer, init: list, project, step) -> tuple[list, list]:
    """`step` over every time step of every direction (at bake time). project(ops, d): the input
    projections of all steps, each [steps, batch, k] (layout 0) or [batch, steps, k]; step(ops, d,
    this step's projections as [batch, k], state) -> the new state (a tuple, hidden state first).
    Returns Y per direction (none when Y is not used) and the final states."""
    if L.steps > MAX_STEPS:
        raise BakeError("%s node %r: %d time steps; upyflow unrolls this layer over at most %d"
                        % (L.node.op_type, L.node.name, L.steps, MAX_STEPS))
    t_ax = 0 if L.layout == 0 else 1
    ys, finals = [], []
    for d in range(L.dirs):
        tag = "%s/%s" % (L.name, ("forward", "backward")[d] if L.dirs == 2 else L.direction)
        o = _Ops(r, tag)
        parts = [split(r, t, t_ax, L.steps) for t in project(o, d)]
        state = init[d]
        outs = [0] * L.steps
        for t in (range(L.steps - 1, -1, -1) if L.reversed_pass(d) else range(L.steps)):
            state = step(o, d, [reshape(r, p[t], (L.batch, r.tensors[p[t]].shape[-1])) for p in parts], state)
            outs[t] = state[0]
        finals.append(state)
        if L.node.output[0]:
            lead = (1, L.batch, L.n) if L.layout == 0 else (L.batch, 1, L.n)
            ys.append(concat(r, [reshape(r, s, lead) for s in outs], t_ax, tag + "/Y"))
    return ys, finals
