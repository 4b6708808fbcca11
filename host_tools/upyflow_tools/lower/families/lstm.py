"""UNIDIRECTIONAL_SEQUENCE_LSTM: a stateful sequence layer.

Its hidden and cell states are variable tensors (ir.Tensor.variable): the planner keeps
their bytes for the whole run, so the state carries over between invokes until
Model.reset(). Every multiplier, shift and zero-point correction is folded here,
following how TFLite Micro prepares the kernel (lstm_eval*.cc).
"""
from __future__ import annotations

import numpy as np

from ... import BakeError
from ...ir import Graph, Op, Tensor
from ...quant import checked_log2, f32, quantize_multiplier
from ..core import Call, check_size, inp, lowering, need_const, need_state, types_error
from .activations import sigmoid_table


def _qm(real: float) -> list[int]:
    return list(quantize_multiplier(real))


# --- UNIDIRECTIONAL_SEQUENCE_LSTM -------------------------------------------------------
# Operand indices (TFLite's LSTM layout). TFLM needs all four gates, no peephole,
# projection or layer norm, and variable hidden (18) and cell (19) states.
_IN_W = {"i": 1, "f": 2, "g": 3, "o": 4}
_REC_W = {"i": 5, "f": 6, "g": 7, "o": 8}
_BIAS = {"i": 12, "f": 13, "g": 14, "o": 15}
_ABSENT = (9, 10, 11, 16, 17, 20, 21, 22, 23)
_GATES = "figo"          # the packed order of the kernel's weights, biases, multipliers
GATE_SCALE = 2.0 ** -12  # gate pre-activations are Q3.12 int16
ACT_SCALE = 2.0 ** -15   # sigmoid/tanh outputs are Q0.15 int16


def _cell_power(scale: float) -> int:
    """TFLM's CheckedLog2 (float32 log, rounded half away); the check result is unused."""
    return checked_log2(scale)[1]


def tanh_scaling(power: int) -> tuple[int, int]:
    """(input multiplier, right shift) TFLM's int16 tanh applies to a cell state of scale 2^power."""
    left = 15 + power - 3
    return (3, -left) if left < 0 else (3 << left, 0)


@lowering("UNIDIRECTIONAL_SEQUENCE_LSTM",
          "int8 input/output with int8 weights, int32 bias, int16 cell state; float32 "
          "(all four gates, no peephole, projection or layer norm)")
def _lstm(graph: Graph, op: Op) -> list[Call]:
    out = graph.tensors[op.outputs[0]]
    if len(op.inputs) != 24:
        raise BakeError("UNIDIRECTIONAL_SEQUENCE_LSTM %r has %d operands, expected 24"
                        % (out.name, len(op.inputs)))
    for k in _ABSENT:
        if op.inputs[k] >= 0:
            raise BakeError("UNIDIRECTIONAL_SEQUENCE_LSTM %r uses peephole, projection or layer "
                            "norm operands, which TFLM does not support" % out.name)
    missing = [k for k in list(_IN_W.values()) + list(_REC_W.values()) + list(_BIAS.values()) + [18, 19]
               if op.inputs[k] < 0]
    if missing:
        raise BakeError("UNIDIRECTIONAL_SEQUENCE_LSTM %r lacks operands %s (TFLM needs all four "
                        "gates: no CIFG)" % (out.name, missing))
    x = inp(graph, op, 0)
    hidden, cell = need_state(graph, op, 18, "hidden state"), need_state(graph, op, 19, "cell state")
    w_in = {g: need_const(graph, op, k, "input weights") for g, k in _IN_W.items()}
    w_rec = {g: need_const(graph, op, k, "recurrent weights") for g, k in _REC_W.items()}
    bias = {g: need_const(graph, op, k, "gate bias") for g, k in _BIAS.items()}
    if x.dtype == "f32":
        return _lstm_f32(graph, op, x, out, hidden, cell, w_in, w_rec, bias)
    if not (x.dtype == out.dtype == hidden.dtype == "i8" and cell.dtype == "i16"
            and all(w.dtype == "i8" for w in list(w_in.values()) + list(w_rec.values()))
            and all(b.dtype == "i32" for b in bias.values())):
        raise types_error(op, graph)
    batch, steps, n_in, n, time_major = _lstm_geometry(op, x, out, hidden, cell, w_in, w_rec, bias)
    for g in _GATES:
        for w in (w_in[g], w_rec[g]):
            if len(w.scale) != 1 or w.zp != 0:
                raise BakeError("UNIDIRECTIONAL_SEQUENCE_LSTM %r: weights %r must be per-tensor "
                                "symmetric (TFLM's LSTM has no per-channel path)" % (out.name, w.name))
    # Packed constants: weights [input rows of f,i,g,o | recurrent rows of f,i,g,o];
    # int32 [input-side biases | recurrent-side biases | (mult, shift) x 2 per gate].
    # Zero points fold into the biases: each gate's two matmuls are requantized
    # separately to Q3.12 (TFLM's two FULLY_CONNECTED calls) before being added.
    weights = np.concatenate([w_in[g].const_data.reshape(-1) for g in _GATES]
                             + [w_rec[g].const_data.reshape(-1) for g in _GATES]).astype(np.int8)
    b_in = [bias[g].const_data.astype(np.int64) - x.zp * w_in[g].const_data.astype(np.int64).sum(axis=1)
            for g in _GATES]
    b_rec = [-hidden.zp * w_rec[g].const_data.astype(np.int64).sum(axis=1) for g in _GATES]
    mults = []
    for g in _GATES:
        # FULLY_CONNECTED's per-tensor multiplier: float32 scale product, then double.
        mults += _qm(f32(x.sc * w_in[g].sc) / GATE_SCALE) + _qm(f32(hidden.sc * w_rec[g].sc) / GATE_SCALE)
    q = np.concatenate(b_in + b_rec + [np.array(mults, np.int64)])
    if q.min() < -2**31 or q.max() >= 2**31:
        raise BakeError("UNIDIRECTIONAL_SEQUENCE_LSTM %r: folded bias exceeds int32" % out.name)
    w_id = graph.add_const(out.name + "/lstm_weights", weights, "i8")
    q_id = graph.add_const(out.name + "/lstm_q", q.astype(np.int32), "i32")
    clip = float(op.options.get("cell_clip", 0.0))
    # TFLM clips only for a positive clip; the int16 bound truncates toward zero.
    qclip = int(min(max(clip / cell.sc, -32768.0), 32767.0)) if clip > 0 else -1
    tanh_mult, tanh_shift = tanh_scaling(_cell_power(cell.sc))
    (m_fc, s_fc), (m_ig, s_ig) = _qm(ACT_SCALE * cell.sc / cell.sc), _qm(ACT_SCALE * ACT_SCALE / cell.sc)
    m_out, s_out = _qm(ACT_SCALE * ACT_SCALE / hidden.sc)
    return [Call("lstm_s8", x=op.inputs[0], w=w_id, q=q_id, table=sigmoid_table(graph), hidden=op.inputs[18],
                 cell=op.inputs[19],
                 out=op.outputs[0], batch=batch, steps=steps, n_in=n_in, n=n, time_major=int(time_major),
                 h_zp=hidden.zp, m_fc=m_fc, s_fc=s_fc, m_ig=m_ig, s_ig=s_ig, m_out=m_out, s_out=s_out, qclip=qclip,
                 tanh_mult=tanh_mult, tanh_shift=tanh_shift)]




def _lstm_geometry(op: Op, x: Tensor, out: Tensor, hidden: Tensor, cell: Tensor, w_in: dict,
                   w_rec: dict, bias: dict) -> tuple[int, int, int, int, bool]:
    """(batch, steps, n_in, n, time_major), every shape checked."""
    time_major = bool(op.options.get("time_major", False))
    if len(x.shape) != 3 or len(out.shape) != 3 or len(hidden.shape) != 2:
        raise BakeError("UNIDIRECTIONAL_SEQUENCE_LSTM %r: input %s, output %s and hidden state %s "
                        "must be 3-D, 3-D and 2-D" % (out.name, list(x.shape), list(out.shape),
                                                      list(hidden.shape)))
    steps, batch = (x.shape[0], x.shape[1]) if time_major else (x.shape[1], x.shape[0])
    n_in, n = x.shape[2], hidden.shape[1]
    for g in _GATES:
        if w_in[g].shape != (n, n_in) or w_rec[g].shape != (n, n) or bias[g].shape != (n,):
            raise BakeError("UNIDIRECTIONAL_SEQUENCE_LSTM %r: gate weights/bias shapes do not fit "
                            "input %d and state %d" % (out.name, n_in, n))
    check_size(op, hidden, batch * n, "hidden state")
    check_size(op, cell, batch * n, "cell state")
    if tuple(out.shape) != (x.shape[0], x.shape[1], n):
        raise BakeError("UNIDIRECTIONAL_SEQUENCE_LSTM output %r has shape %s, expected %s"
                        % (out.name, list(out.shape), [x.shape[0], x.shape[1], n]))
    act = op.options.get("fused_activation_function", "TANH")
    if act != "TANH":   # the schema's activations hold no SIGMOID; TFLM asserts on the rest
        raise BakeError("UNIDIRECTIONAL_SEQUENCE_LSTM %r: cell gate activation %s is not supported "
                        "(TANH only)" % (out.name, act))
    return batch, steps, n_in, n, time_major


def _lstm_f32(graph: Graph, op: Op, x: Tensor, out: Tensor, hidden: Tensor, cell: Tensor,
              w_in: dict, w_rec: dict, bias: dict) -> list[Call]:
    # TFLM's float path: per gate, FC(input) + bias and FC(hidden) added, then sigmoid
    # (tanh for the cell gate); cell = f*cell + i*g (clipped if cell_clip > 0); hidden = o*tanh(cell).
    if not all(t.dtype == "f32" for t in [out, hidden, cell] + list(w_in.values())
               + list(w_rec.values()) + list(bias.values())):
        raise types_error(op, graph)
    batch, steps, n_in, n, time_major = _lstm_geometry(op, x, out, hidden, cell, w_in, w_rec, bias)
    weights = np.concatenate([w_in[g].data.reshape(-1) for g in _GATES]
                             + [w_rec[g].data.reshape(-1) for g in _GATES]).astype(np.float32)
    b = np.concatenate([bias[g].data.reshape(-1) for g in _GATES]).astype(np.float32)
    w_id = graph.add_const(out.name + "/lstm_weights", weights, "f32")
    b_id = graph.add_const(out.name + "/lstm_bias", b, "f32")
    clip = float(op.options.get("cell_clip", 0.0))
    return [Call("lstm_f32", x=op.inputs[0], w=w_id, bias=b_id, hidden=op.inputs[18], cell=op.inputs[19],
                 out=op.outputs[0], batch=batch, steps=steps, n_in=n_in, n=n, time_major=int(time_major),
                 clip=clip if clip > 0 else 0.0)]


# --- GRU (ONNX's; no TFLite operator) -----------------------------------------------------
# The ONNX reader (readers/onnx/ops/rnn.py) writes it: operands x, w (rows [input weights of
# gates z, r, h | their recurrent weights], flat), bias ([Wb | Rb], 6n) and the hidden state
# (a variable tensor); options time_major, linear_before_reset, clip.
@lowering("GRU", "float32 (ONNX's GRU, read from ONNX models: TFLite has no GRU operator); "
          "linear_before_reset 0 or 1, clip on the gate inputs", 4)
def _gru(graph: Graph, op: Op) -> list[Call]:
    out = graph.tensors[op.outputs[0]]
    if len(op.inputs) != 4:
        raise BakeError("GRU %r has %d operands, expected 4 (x, weights, bias, hidden state)"
                        % (out.name, len(op.inputs)))
    x = inp(graph, op, 0)
    w, bias = need_const(graph, op, 1, "weights"), need_const(graph, op, 2, "bias")
    hidden = need_state(graph, op, 3, "hidden state")
    if not all(t.dtype == "f32" for t in (x, w, bias, hidden, out)):
        raise types_error(op, graph)
    time_major = bool(op.options.get("time_major", True))
    if len(x.shape) != 3 or len(hidden.shape) != 2:
        raise BakeError("GRU %r: input %s and hidden state %s must be 3-D and 2-D"
                        % (out.name, list(x.shape), list(hidden.shape)))
    steps, batch = (x.shape[0], x.shape[1]) if time_major else (x.shape[1], x.shape[0])
    n_in, n = x.shape[2], hidden.shape[1]
    check_size(op, hidden, batch * n, "hidden state")
    check_size(op, w, 3 * n * n_in + 3 * n * n, "weights")
    check_size(op, bias, 6 * n, "bias")
    if tuple(out.shape) != (x.shape[0], x.shape[1], n):
        raise BakeError("GRU output %r has shape %s, expected %s"
                        % (out.name, list(out.shape), [x.shape[0], x.shape[1], n]))
    lbr, clip = int(op.options.get("linear_before_reset", 0)), float(op.options.get("clip", 0.0))
    if lbr not in (0, 1) or not clip >= 0.0:
        raise BakeError("GRU %r: linear_before_reset %d, clip %g (0 or 1; clip 0 for none or positive)"
                        % (out.name, lbr, clip))
    scratch = graph.add_tensor(Tensor(out.name + "/gru_scratch", (2 * n,), "f32"))
    return [Call("gru_f32", x=op.inputs[0], w=op.inputs[1], bias=op.inputs[2], hidden=op.inputs[3], scratch=scratch,
                 out=op.outputs[0], batch=batch, steps=steps, n_in=n_in, n=n, time_major=int(time_major), lbr=lbr,
                 clip=clip)]
