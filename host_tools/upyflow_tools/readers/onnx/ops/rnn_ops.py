"""Graph pieces of the recurrent layers (rnn.py): reshape, split, crop, concatenate and reverse
tensors, float32 ops on tensors or bake-time constants (_Ops), ONNX's recurrent activations as
TFLite ops, and unroll(): a layer's steps as plain ops over its static sequence length.

ONNX's activations (activation_alpha/beta consumed in order by the functions that take them;
onnxruntime's defaults where absent: LeakyRelu 0.01, HardSigmoid 0.2 and 0.5, Elu 1, the others'
0) as ops per evaluation: Sigmoid LOGISTIC, Tanh TANH, Relu RELU, LeakyRelu LEAKY_RELU, Affine
MUL+ADD, ScaledTanh MUL+TANH+MUL, HardSigmoid MUL+ADD+MAXIMUM+MINIMUM, ThresholdedRelu
GREATER+SELECT_V2, Elu ELU (alpha 1; else 4 more: the negative part scaled), Softsign
ABS+ADD+DIV, Softplus EXP+ADD+LOG (as onnxruntime: log(1 + e^x), no overflow guard).
"""
from __future__ import annotations

import numpy as np

from .... import BakeError
from ..state import Reader

MAX_STEPS = 256   # unrolled layers: ops grow with the sequence length
MAX_CONCAT = 10   # inputs of one CONCATENATION (TFLM's kMaxInputNum)

# name: (takes alpha, takes beta, default alpha, default beta), onnxruntime's table
ACTIVATIONS = {"relu": (0, 0, 0.0, 0.0), "tanh": (0, 0, 0.0, 0.0), "sigmoid": (0, 0, 0.0, 0.0),
               "affine": (1, 1, 0.0, 0.0), "leakyrelu": (1, 0, 0.01, 0.0), "thresholdedrelu": (1, 0, 0.0, 0.0),
               "scaledtanh": (1, 1, 0.0, 0.0), "hardsigmoid": (1, 1, 0.2, 0.5), "elu": (1, 0, 1.0, 0.0),
               "softsign": (0, 0, 0.0, 0.0), "softplus": (0, 0, 0.0, 0.0)}


def activations(op: str, name: str, names: list[str], alphas: list, betas: list, per_dir: int,
                dirs: int) -> list[list[tuple]]:
    """Per direction, its activation functions as (name, alpha, beta) (a bidirectional layer
    lists the forward functions, then the backward ones)."""
    if len(names) != per_dir * dirs:
        raise BakeError("%s node %r: %d activations, expected %d" % (op, name, len(names), per_dir * dirs))
    alphas, betas, out = list(alphas), list(betas), []
    for f in names:
        if f not in ACTIVATIONS:
            raise BakeError("%s node %r: activation %r is not one of ONNX's (%s)"
                            % (op, name, f, ", ".join(sorted(ACTIVATIONS))))
        ta, tb, da, db = ACTIVATIONS[f]
        a = float(alphas.pop(0)) if ta and alphas else da
        b = float(betas.pop(0)) if tb and betas else db
        out.append((f, a, b))
    return [out[d * per_dir:(d + 1) * per_dir] for d in range(dirs)]


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


def crop(r: Reader, t: int, begin, end) -> int:
    """t[begin:end] per axis (a STRIDED_SLICE; t itself when that is all of it)."""
    src = r.tensors[t]
    if list(begin) == [0] * len(begin) and tuple(end) == src.shape:
        return t
    out = r.like(src.name + "/crop", t, tuple(e - b for b, e in zip(begin, end)))
    r.op("STRIDED_SLICE", [t, r.i32(src.name + "/crop_begin", begin), r.i32(src.name + "/crop_end", end),
                           r.i32(src.name + "/crop_strides", [1] * len(begin))], [out],
         begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=0, offset=False)
    return out


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


def _np_act(f: str, a: float, b: float, x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    y = {"relu": lambda: np.maximum(x, 0), "tanh": lambda: np.tanh(x), "sigmoid": lambda: 1 / (1 + np.exp(-x)),
         "affine": lambda: a * x + b, "leakyrelu": lambda: np.where(x >= 0, x, a * x),
         "thresholdedrelu": lambda: np.where(x > a, x, 0), "scaledtanh": lambda: a * np.tanh(b * x),
         "hardsigmoid": lambda: np.clip(a * x + b, 0, 1), "elu": lambda: np.where(x >= 0, x, a * np.expm1(x)),
         "softsign": lambda: x / (1 + np.abs(x)), "softplus": lambda: np.log1p(np.exp(x))}[f]()
    return np.asarray(y, np.float32)


class Ops:
    """Float32 ops on tensor ids or constants (ndarrays); all-constant ones are computed here.
    `consts` (shared by a layer's directions and passes) holds every weight once."""

    def __init__(self, r: Reader, tag: str, consts: dict) -> None:
        self.r, self.tag, self.k = r, tag, 0
        self.consts = consts

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
                 "MINIMUM": np.minimum, "DIV": np.divide}[kind]
            return f(a, b).astype(np.float32)
        shape = np.broadcast_shapes(self._shape(a), self._shape(b))
        out = self.r.tensor(self._name(kind.lower()), shape, "f32")
        opts = {"fused_activation_function": "NONE"} if kind in ("ADD", "SUB", "MUL", "DIV") else {}
        self.r.op(kind, [self._t(a), self._t(b)], [out], **opts)
        return out

    def scalar(self, kind: str, a, c: float):
        return self.binary(kind, a, np.array([c], np.float32))

    def clip(self, a, c):
        """a bounded to [-c, c] (no bound: c None)."""
        if c is None:
            return a
        return self.scalar("MINIMUM", self.scalar("MAXIMUM", a, -float(c)), float(c))

    def unary(self, kind: str, a, **options):
        out = self.r.tensor(self._name(kind.lower()), self._shape(a), "f32")
        self.r.op(kind, [a], [out], **options)
        return out

    def act(self, spec: tuple, a):
        """ONNX's activation spec = (name, alpha, beta) of a."""
        f, al, be = spec
        if isinstance(a, np.ndarray):
            return _np_act(f, al, be, a)
        simple = {"sigmoid": "LOGISTIC", "tanh": "TANH", "relu": "RELU"}
        if f in simple:
            return self.unary(simple[f], a)
        if f == "leakyrelu":
            return self.unary("LEAKY_RELU", a, alpha=al)
        if f == "affine":
            return self.scalar("ADD", self.scalar("MUL", a, al), be)
        if f == "scaledtanh":
            return self.scalar("MUL", self.unary("TANH", self.scalar("MUL", a, be)), al)
        if f == "hardsigmoid":
            return self.scalar("MINIMUM", self.scalar("MAXIMUM", self.scalar("ADD", self.scalar("MUL", a, al), be),
                                                      0.0), 1.0)
        if f == "thresholdedrelu":
            cond = self.r.tensor(self._name("above"), self._shape(a), "u8", 1.0, 0)   # bool bytes
            self.r.op("GREATER", [a, self._t(np.array([al], np.float32))], [cond])
            out = self.r.tensor(self._name("thresholded"), self._shape(a), "f32")
            self.r.op("SELECT_V2", [cond, a, self._t(np.zeros(1, np.float32))], [out])
            return out
        if f == "elu":
            e = self.unary("ELU", a)
            if al == 1.0:
                return e
            return self.binary("ADD", self.scalar("MAXIMUM", e, 0.0), self.scalar("MUL", self.scalar("MINIMUM", e, 0.0),
                                                                                  al))
        if f == "softsign":
            return self.binary("DIV", a, self.scalar("ADD", self.unary("ABS", a), 1.0))
        assert f == "softplus"
        return self.unary("LOG", self.scalar("ADD", self.unary("EXP", a), 1.0))

    def fc(self, x, w: np.ndarray, b: np.ndarray):
        """x @ w.T + b over x's last axis."""
        if isinstance(x, np.ndarray):
            return (x @ w.T + b).astype(np.float32)
        shape = self._shape(x)[:-1] + (w.shape[0],)
        out = self.r.tensor(self._name("fc"), shape, "f32")
        self.r.op("FULLY_CONNECTED", [x, self._t(np.ascontiguousarray(w)), self._t(b)], [out],
                  fused_activation_function="NONE", keep_num_dims=True, weights_format="DEFAULT")
        return out


def unroll(r: Reader, L, init: list, project, step) -> tuple[list, list]:
    """`step` over every time step of every direction of layer L (at bake time). project(ops, d):
    the input projections of all steps, each [steps, batch, k] (layout 0) or [batch, steps, k];
    step(ops, d, this step's projections as [batch, k], state) -> the new state (a tuple, hidden
    state first). Returns Y per direction (none when Y is not used) and per direction the final
    states (tensors; a constant initial state is computed at bake time when it meets no input)."""
    if L.steps > MAX_STEPS:
        raise BakeError("%s node %r: %d time steps; upyflow unrolls this layer over at most %d"
                        % (L.node.op_type, L.node.name, L.steps, MAX_STEPS))
    t_ax = 0 if L.layout == 0 else 1
    ys, finals = [], []
    for d in range(L.dirs):
        tag = "%s/%s" % (L.name, ("forward", "backward")[d] if L.dirs == 2 else L.direction)
        o = Ops(r, tag, L.consts)
        parts = [split(r, t, t_ax, L.steps) for t in project(o, d)]
        state = init[d]
        outs = [0] * L.steps
        for t in (range(L.steps - 1, -1, -1) if L.reversed_pass(d) else range(L.steps)):
            state = step(o, d, [reshape(r, p[t], (L.batch, r.tensors[p[t]].shape[-1])) for p in parts], state)
            outs[t] = state[0]
        finals.append(tuple(o._t(s) for s in state))
        if L.node.output[0]:
            lead = (1, L.batch, L.n) if L.layout == 0 else (L.batch, 1, L.n)
            ys.append(concat(r, [reshape(r, s, lead) for s in outs], t_ax, tag + "/Y"))
    return ys, finals
