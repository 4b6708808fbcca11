"""Recurrent layers, float32: LSTM, GRU and RNN (as torch.onnx exports nn.LSTM / nn.GRU / nn.RNN).

LSTM runs on UNIDIRECTIONAL_SEQUENCE_LSTM (the float32 lstm_f32 kernel): ONNX's gate rows
(i, o, f, c) go to TFLite's operands (i, f, c, o), the bias is Wb + Rb. GRU, which TFLite lacks,
runs on upyflow's float32 gru_f32 kernel (ir op GRU, lower/families/lstm.py), ONNX's rows
(z, r, h) and biases as they are, linear_before_reset 0 or 1, clip on the gate inputs. The
kernels keep their state in variable tensors; an ONNX model starts every run from initial_h /
initial_c (zeros when absent), so an ASSIGN_VARIABLE copies them into the state before the
layer on every invoke, and Y_h / Y_c are READ_VARIABLE copies of the state after it. A reverse
direction runs on the time-reversed sequence (STRIDED_SLICE of stride -1) and reverses its Y back; a bidirectional
layer is the two passes joined by CONCATENATION (kernel_layer).

The kernels compute sigmoid and tanh only. An LSTM with other activations, clip (ONNX clips the
gate inputs, TFLite's cell_clip the cell state), input_forget or peepholes, a GRU with other
activations, and every RNN (ONNX's simple RNN: no TFLite kernel) are unrolled over the static
sequence length at bake time (rnn_ops.unroll, at most MAX_STEPS steps), as onnxruntime computes
them: the input projections of all steps are one FULLY_CONNECTED, split per step; each step a
FULLY_CONNECTED of the hidden state, ADD, the activations as TFLite ops (rnn_ops: one op each for
the defaults, Relu, LeakyRelu and Elu, two to five for the others) and MUL/ADD (about 14 ops a step
for an LSTM, 15 for a GRU, 5 for an RNN, RESHAPEs included). Terms of a constant initial state are
computed at bake time.

A constant sequence_lens shorter than the sequence: each run of batch entries of one length is
its own pass over that many steps (X cropped by a STRIDED_SLICE), its Y padded with zeros to the
full length, Y_h / Y_c its last valid step; a length 0 gives zeros (onnxruntime's Y_h too).
Refused with one line: a computed sequence_lens, unknown activations.
"""
from __future__ import annotations

import copy

import numpy as np

from .... import BakeError
from ..checks import attrs
from ..layout import stored_as
from ..qdq import to_float
from ..registry import translator
from ..state import Reader
from ..values import Val, ident
from .rnn_ops import activations, concat, crop, reshape, reverse, split, unroll

_DEFAULT_ACTS = {"LSTM": ["sigmoid", "tanh", "tanh"], "GRU": ["sigmoid", "tanh"], "RNN": ["tanh"]}
_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


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
        names = [_text(s).lower() for s in a.get("activations", [])] or _DEFAULT_ACTS[op] * self.dirs
        self.acts = activations(op, node.name, names, a.get("activation_alpha", []), a.get("activation_beta", []),
                                len(_DEFAULT_ACTS[op]), self.dirs)
        self.default_acts = all([f for f, _, _ in acts] == _DEFAULT_ACTS[op] for acts in self.acts)
        self.clip = a.get("clip")
        if self.clip is not None and not float(self.clip) > 0:
            raise BakeError("%s node %r: clip %s; ONNX's clip is a positive threshold" % (op, node.name, self.clip))
        x = r.rt(node, 0)
        if len(x.shape) != 3:
            raise BakeError("%s node %r: X is %d-D, expected 3-D" % (op, node.name, len(x.shape)))
        self.xt = stored_as(r, to_float(r, x), x.shape, ident(3)).t
        self.consts: dict = {}   # weights, made once for all directions and passes
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
        self.lens = None   # per batch entry, when one is shorter than the sequence
        if seq is not None:
            s = np.asarray(seq)
            if s.dtype.kind not in "iu" or s.shape != (self.batch,) or np.any(s < 0) or np.any(s > self.steps):
                raise BakeError("%s node %r: sequence_lens %s; expected %d integers from 0 to %d"
                                % (op, node.name, s.reshape(-1).tolist(), self.batch, self.steps))
            if np.any(s != self.steps):
                self.lens = [int(v) for v in s]
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


def run(r: Reader, L: _Layer, inits: list[list], body) -> None:
    """The layer's outputs from body(L, inits) -> (Y per direction, per direction its final
    states): inits per state (hidden first), the initial value per direction ([batch, n]
    constant or tensor). With sequence_lens, a pass per run of batch entries of one length."""
    ys, finals = by_length(r, L, inits, body) if L.lens is not None else body(L, inits)
    L.bind(r, 0, ys, True)
    for k in range(len(inits)):
        L.bind(r, k + 1, [f[k] for f in finals], False)


def _used(L: _Layer, k: int) -> bool:
    return k < len(L.node.output) and bool(L.node.output[k])


def by_length(r: Reader, L: _Layer, inits: list[list], body) -> tuple[list, list]:
    """body on each run of batch entries of one sequence length: X cropped to it, Y padded with
    zeros to the full length; the runs joined on the batch axis (a length 0: zeros)."""
    t_ax, b_ax = (0, 1) if L.layout == 0 else (1, 0)
    groups: list[list[int]] = []   # [first, end, length]
    for b, length in enumerate(L.lens or []):
        if groups and groups[-1][2] == length:
            groups[-1][1] = b + 1
        else:
            groups.append([b, b + 1, length])
    if all(g[2] == 0 for g in groups):
        raise BakeError("%s node %r: every sequence_lens is 0; the layer computes nothing"
                        % (L.node.op_type, L.node.name))
    y_parts: list[list[int]] = [[] for _ in range(L.dirs)]
    f_parts: list[list[list[int]]] = [[[] for _ in inits] for _ in range(L.dirs)]
    n_in = r.tensors[L.xt].shape[2]
    for b0, b1, length in groups:
        nb = b1 - b0
        lead = [L.steps, nb] if L.layout == 0 else [nb, L.steps]
        tag = "%s/batch%d" % (L.name, b0)
        if length == 0:
            for d in range(L.dirs):
                if _used(L, 0):
                    y_parts[d].append(r.const(tag + "/Y", np.zeros(lead + [L.n], np.float32), "f32"))
                for k in range(len(inits)):
                    if _used(L, k + 1):
                        f_parts[d][k].append(r.const(tag + "/final%d" % k, np.zeros((nb, L.n), np.float32), "f32"))
            continue
        V = copy.copy(L)
        V.steps, V.batch, V.name = length, nb, tag
        begin, end = ([0, b0, 0], [length, b1, n_in]) if L.layout == 0 else ([b0, 0, 0], [b1, length, n_in])
        V.xt = crop(r, L.xt, begin, end)
        vin = [[v[b0:b1] if isinstance(v, np.ndarray) else crop(r, v, [b0, 0], [b1, L.n]) for v in init]
               for init in inits]
        ys, finals = body(V, vin)
        for d in range(L.dirs):
            if _used(L, 0):
                y = ys[d]
                if length < L.steps:
                    pad = lead.copy()
                    pad[t_ax] = L.steps - length
                    y = concat(r, [y, r.const(tag + "/Y_pad", np.zeros(pad + [L.n], np.float32), "f32")], t_ax,
                               "%s/Y%d_padded" % (tag, d))
                y_parts[d].append(y)
            for k in range(len(inits)):
                f_parts[d][k].append(finals[d][k])
    ys = [concat(r, p, b_ax, "%s/Y%d_joined" % (L.name, d)) if len(p) > 1 else p[0]
          for d, p in enumerate(y_parts)] if _used(L, 0) else []
    finals = [[-1 if not _used(L, k + 1) else concat(r, p, 0, "%s/final%d_%d" % (L.name, d, k)) if len(p) > 1
               else p[0] for k, p in enumerate(f_parts[d])] for d in range(L.dirs)]
    return ys, finals


# --- the kernels: UNIDIRECTIONAL_SEQUENCE_LSTM and GRU ----------------------------------------
def kernel_layer(r: Reader, L: _Layer, inits: list[list], operands, make) -> tuple[list, list]:
    """One kernel op per direction, on the time-reversed sequence for a reverse pass. inits: per
    state (hidden first), the initial value per direction; operands(d, tag) -> the op's constant
    operands (made once per direction); make(x, consts, states, y): the op. The states are
    variable tensors set from their initial value at every invoke (ASSIGN_VARIABLE) and read out
    after the layer (READ_VARIABLE). Returns Y per direction and per direction the final states."""
    t_ax = 0 if L.layout == 0 else 1
    ys: list[int] = []
    finals: list[list[int]] = []
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
        y = r.tensor(tag + "/Y", r.tensors[L.xt].shape[:2] + (L.n,), "f32")
        if ("kernel", d) not in L.consts:
            L.consts[("kernel", d)] = operands(d, tag)
        make(reverse(r, L.xt, t_ax) if L.reversed_pass(d) else L.xt, L.consts[("kernel", d)], states, y)
        ys.append(reverse(r, y, t_ax) if L.reversed_pass(d) else y)
        finals.append([])
        for k, state in enumerate(states):
            out = -1
            if _used(L, k + 1):
                out = r.tensor("%s/final%d" % (tag, k), (L.batch, L.n), "f32")
                r.op("READ_VARIABLE", [state], [out])
            finals[d].append(out)
    return ys, finals


@translator("LSTM")
def lstm(r: Reader, node) -> None:
    a = attrs(node)
    L = _Layer(r, node)
    inits = [L.initial(r, 5, "initial_h"), L.initial(r, 6, "initial_c")]
    if a.get("clip") is not None or int(a.get("input_forget", 0)) or r.get(node, 7) is not None \
            or not L.default_acts:
        run(r, L, inits, lambda V, vin: lstm_unrolled(r, V, vin))
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

    run(r, L, inits, lambda V, vin: kernel_layer(r, V, vin, operands, make))


@translator("GRU")
def gru(r: Reader, node) -> None:
    """GRU: upyflow's float32 gru_f32 kernel (ir op GRU; ONNX's rows z, r, h as they are)."""
    L = _Layer(r, node)
    lbr = int(attrs(node).get("linear_before_reset", 0))
    clip = 0.0 if L.clip is None else float(L.clip)
    if lbr not in (0, 1):
        raise BakeError("GRU node %r: linear_before_reset %d (0 or 1)" % (node.name, lbr))
    inits = [L.initial(r, 5, "initial_h")]
    if not L.default_acts:
        run(r, L, inits, lambda V, vin: gru_unrolled(r, V, vin, lbr))
        return

    def operands(d: int, tag: str) -> list:
        w = np.concatenate([L.w[d].reshape(-1), L.r[d].reshape(-1)])
        return [r.const(tag + "/weights", w, "f32"), r.const(tag + "/bias", np.ascontiguousarray(L.b[d]), "f32")]

    def make(x: int, c: list, states: list, y: int) -> None:
        r.op("GRU", [x] + c + states, [y], time_major=L.layout == 0, linear_before_reset=lbr, clip=clip)

    run(r, L, inits, lambda V, vin: kernel_layer(r, V, vin, operands, make))


@translator("RNN")
def rnn(r: Reader, node) -> None:
    """ONNX's simple RNN, H = f(X W^T + H R^T + Wb + Rb), unrolled (no TFLite kernel)."""
    L = _Layer(r, node)
    run(r, L, [L.initial(r, 5, "initial_h")], lambda V, vin: rnn_unrolled(r, V, vin))


# --- unrolled layers ----------------------------------------------------------------------
def lstm_unrolled(r: Reader, L: _Layer, inits: list[list]) -> tuple[list, list]:
    """An LSTM as onnxruntime computes it: per gate pre-activation (+ peephole), clipped,
    activated (f, g, h: ONNX's three activations); f = 1 - i with input_forget."""
    n, node = L.n, L.node
    input_forget = int(attrs(node).get("input_forget", 0))
    p = floats(r, node, 7, "peephole weights P")
    if p is not None and np.shape(p) != (L.dirs, 3 * n):
        raise BakeError("LSTM node %r: P %s, expected %s" % (node.name, list(np.shape(p)), [L.dirs, 3 * n]))
    peep = None if p is None else np.asarray(p, np.float32)

    def project(o, d: int) -> list:
        return [o.fc(L.xt, L.w[d], L.b[d, :4 * n] + L.b[d, 4 * n:])]   # ONNX rows: i, o, f, c

    def step(o, d: int, xs: list, state: tuple) -> tuple:
        h, c_prev = state
        fa, ga, ha = L.acts[d]
        pre = o.binary("ADD", xs[0], o.fc(h, L.r[d], np.zeros(4 * n, np.float32)))
        gi, go, gf, gc = split(r, pre, 1, 4)

        def gate(g, k: int, cell):   # + P[k] * cell, clipped, f
            if peep is not None:
                g = o.binary("ADD", g, o.binary("MUL", peep[d, k * n:(k + 1) * n], cell))
            return o.act(fa, o.clip(g, L.clip))

        i = gate(gi, 0, c_prev)
        f = o.binary("SUB", np.array([1.0], np.float32), i) if input_forget else gate(gf, 2, c_prev)
        c = o.binary("ADD", o.binary("MUL", f, c_prev), o.binary("MUL", i, o.act(ga, o.clip(gc, L.clip))))
        return (o.binary("MUL", gate(go, 1, c), o.act(ha, c)), c)

    return unroll(r, L, list(zip(*inits)), project, step)


def gru_unrolled(r: Reader, L: _Layer, inits: list[list], lbr: int) -> tuple[list, list]:
    """A GRU as onnxruntime computes it: z, r = f(pre-activation, clipped), the candidate
    g(...) with the reset gate before (lbr 0) or after (lbr 1) its recurrent product,
    H = hh + z (H_prev - hh)."""
    n = L.n
    zero = np.zeros(n, np.float32)

    def project(o, d: int) -> list:
        wb, rb = L.b[d, :3 * n], L.b[d, 3 * n:]
        return [o.fc(L.xt, L.w[d, :2 * n], wb[:2 * n] + rb[:2 * n]),
                o.fc(L.xt, L.w[d, 2 * n:], wb[2 * n:] + (zero if lbr else rb[2 * n:]))]

    def step(o, d: int, xs: list, state: tuple) -> tuple:
        (h,) = state
        fa, ga = L.acts[d]
        rw, rb = L.r[d], L.b[d, 3 * n:]
        pre = o.binary("ADD", xs[0], o.fc(h, rw[:2 * n], np.zeros(2 * n, np.float32)))
        z, rg = (o.act(fa, o.clip(g, L.clip)) for g in split(r, pre, 1, 2))
        if lbr:
            rec = o.binary("MUL", rg, o.fc(h, rw[2 * n:], rb[2 * n:]))
        else:
            rec = o.fc(o.binary("MUL", rg, h), rw[2 * n:], zero)
        hh = o.act(ga, o.clip(o.binary("ADD", xs[1], rec), L.clip))
        return (o.binary("ADD", hh, o.binary("MUL", z, o.binary("SUB", h, hh))),)

    return unroll(r, L, list(zip(*inits)), project, step)


def rnn_unrolled(r: Reader, L: _Layer, inits: list[list]) -> tuple[list, list]:
    n = L.n

    def project(o, d: int) -> list:
        return [o.fc(L.xt, L.w[d], L.b[d, :n] + L.b[d, n:])]

    def step(o, d: int, xs: list, state: tuple) -> tuple:
        pre = o.binary("ADD", xs[0], o.fc(state[0], L.r[d], np.zeros(n, np.float32)))
        return (o.act(L.acts[d][0], o.clip(pre, L.clip)),)

    return unroll(r, L, list(zip(*inits)), project, step)
