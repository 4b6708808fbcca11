# UNIDIRECTIONAL_SEQUENCE_LSTM. Its hidden and cell state tensors are arena bytes of
# their own that persist between invokes (Model.reset() re-initializes them).
# Zero points, biases and multipliers come folded from the lowering
# (upyflow_tools/lower/families/lstm.py).
import math

from ..qmath import mul_by_qm, wrap32, f32, dot_f32

KERNELS = ("lstm_s8", "lstm_f32", "gru_f32")

def _c16(v):
    return -32768 if v < -32768 else (32767 if v > 32767 else v)


def _table(table, a, bits, top):
    # The sigmoid table at a / 2**bits (a >= 0), linearly interpolated, in units of
    # 2**-bits of its entries; top past its end. table: TFLite's uint16 sigmoid table
    # minus 32768, baked by the host (lower/families/activations.py).
    uh = a >> bits
    if uh >= 255:
        return top
    ua = table[uh] + 32768
    return (ua << bits) + (a & ((1 << bits) - 1)) * (table[uh + 1] + 32768 - ua)


def _sigmoid16(v, table):
    # int16 Q3.12 -> Q0.15 logistic (TFLM's power-of-two case: input times 3,
    # table index in steps of 512, linear interpolation, rounded).
    x = v * 3
    r = _table(table, -x if x < 0 else x, 9, 0x7FFF << 10)
    r = r + 512 if x >= 0 else (1 << 25) - r + 511
    return r >> 10


def _tanh16(v, mult, shift, table):
    # int16 tanh to Q0.15; (mult, shift) scale the input to the table's units.
    x = (v * mult + ((1 << (shift - 1)) if shift else 0)) >> shift
    r = _table(table, -x if x < 0 else x, 8, 0xFFFF << 8)
    r = r - 8388480 if x >= 0 else 8388735 - r
    return r >> 8


def _steps(batch, steps, n_in, n, time_major):
    # (state offset, input row offset, output row offset) per sequence and step, in
    # TFLM's order (sequence by sequence); time_major only moves a step's rows. The
    # LSTM and GRU kernels below walk this; the viper and C tiers write it inline.
    for b in range(batch):
        for t in range(steps):
            row = t * batch + b if time_major else b * steps + t
            yield b * n, row * n_in, row * n


# --- UNIDIRECTIONAL_SEQUENCE_LSTM (int8) ------------------------------------------------
# w: int8 rows [input weights of gates f, i, g, o | their recurrent weights];
# q: int32 [input-side biases (4n) | recurrent-side biases (4n) | per gate:
# input mult, shift, recurrent mult, shift]. Per step, each gate is two
# matmuls requantized to Q3.12 int16, added with saturation, then sigmoid
# (tanh for the cell gate); the cell and hidden states update from those.
def lstm_s8(x, w, q, table, hidden, cell, out, batch, steps, n_in, n, time_major, h_zp,
            m_fc, s_fc, m_ig, s_ig, m_out, s_out, qclip, tanh_mult, tanh_shift):
    g4 = 4 * n
    rec = g4 * n_in
    qm = 8 * n
    pre = [0] * g4
    for hb, xb, ob in _steps(batch, steps, n_in, n, time_major):
        for gi in range(g4):
            m = qm + 4 * (gi // n)
            acc = q[gi]
            wb = gi * n_in - xb
            for k in range(xb, xb + n_in):
                acc += w[wb + k] * x[k]
            a = _c16(mul_by_qm(wrap32(acc), q[m], q[m + 1]))
            acc = q[g4 + gi]
            wb = rec + gi * n - hb
            for k in range(hb, hb + n):
                acc += w[wb + k] * hidden[k]
            pre[gi] = _c16(a + _c16(mul_by_qm(wrap32(acc), q[m + 2], q[m + 3])))
        for j in range(n):
            f = _sigmoid16(pre[j], table)
            i = _sigmoid16(pre[n + j], table)
            g = _tanh16(pre[2 * n + j], 3, 0, table)   # the cell gate: Q3.12 in, tanh
            o = _sigmoid16(pre[3 * n + j], table)
            c = _c16(mul_by_qm(f * cell[hb + j], m_fc, s_fc))
            c = _c16(c + _c16(mul_by_qm(i * g, m_ig, s_ig)))
            if qclip >= 0:
                c = -qclip if c < -qclip else (qclip if c > qclip else c)
            cell[hb + j] = c
            v = mul_by_qm(_tanh16(c, tanh_mult, tanh_shift, table) * o, m_out, s_out) + h_zp
            out[ob + j] = -128 if v < -128 else (127 if v > 127 else v)
        for j in range(n):   # the new hidden state only now: every gate read the old one
            hidden[hb + j] = out[ob + j]


def _sigmoid_f(v):
    # TFLM's float Logistic, cut-offs included, in float32
    if v > 16.619047164916992:
        return 1.0
    if v < -9.0:
        return f32(math.exp(v))
    return f32(1.0 / f32(1.0 + f32(math.exp(-v))))


def lstm_f32(x, w, bias, hidden, cell, out, batch, steps, n_in, n, time_major, clip):
    # w: rows [input weights of gates f, i, g, o | their recurrent weights]; as lstm_s8,
    # the new hidden values go to the output row, then into the state.
    rec = 4 * n * n_in
    for hb, xb, ob in _steps(batch, steps, n_in, n, time_major):
        for j in range(n):
            g = [0.0, 0.0, 0.0, 0.0]
            for k in range(4):
                gi = k * n + j
                a = dot_f32(0.0, x, xb, w, gi * n_in, n_in)   # float32, as TFLM
                r = dot_f32(0.0, hidden, hb, w, rec + gi * n, n)
                g[k] = f32(f32(a + bias[gi]) + r)
            c = f32(f32(_sigmoid_f(g[0]) * cell[hb + j]) + f32(_sigmoid_f(g[1]) * f32(math.tanh(g[2]))))
            if clip > 0.0:
                c = -clip if c < -clip else (clip if c > clip else c)
            cell[hb + j] = c
            out[ob + j] = _sigmoid_f(g[3]) * f32(math.tanh(cell[hb + j]))
        for j in range(n):
            hidden[hb + j] = out[ob + j]


def _clip_f(v, clip):
    return v if clip <= 0.0 else (-clip if v < -clip else (clip if v > clip else v))


# --- GRU (ONNX's, float32; no TFLite operator) -------------------------------------------
# w: rows [input weights of gates z, r, h | their recurrent weights]; bias: [Wb (3n) | Rb (3n)].
# z = sigmoid(Wz x + Wbz + Rz h + Rbz), r likewise; linear_before_reset 0:
# hh = tanh(Wh x + Wbh + Rh (r * h) + Rbh), 1: hh = tanh(Wh x + Wbh + r * (Rh h + Rbh));
# h = (1 - z) * hh + z * h. scratch: z, then r * h (lbr 0) or r (lbr 1); the new hidden
# values go to the output row, then into the state.
def gru_f32(x, w, bias, hidden, scratch, out, batch, steps, n_in, n, time_major, lbr, clip):
    rec = 3 * n * n_in
    n3 = 3 * n
    for hb, xb, ob in _steps(batch, steps, n_in, n, time_major):
        for gi in range(2 * n):
            a = dot_f32(0.0, x, xb, w, gi * n_in, n_in)
            r = dot_f32(0.0, hidden, hb, w, rec + gi * n, n)
            scratch[gi] = _sigmoid_f(_clip_f(f32(f32(a + bias[gi]) + f32(r + bias[n3 + gi])), clip))
        if not lbr:
            for j in range(n):
                scratch[n + j] = f32(scratch[n + j] * hidden[hb + j])
        for j in range(n):
            gi = 2 * n + j
            a = f32(dot_f32(0.0, x, xb, w, gi * n_in, n_in) + bias[gi])
            if lbr:
                r = f32(dot_f32(0.0, hidden, hb, w, rec + gi * n, n) + bias[n3 + gi])
                v = f32(a + f32(scratch[n + j] * r))
            else:
                v = f32(a + f32(dot_f32(0.0, scratch, n, w, rec + gi * n, n) + bias[n3 + gi]))
            hh = f32(math.tanh(_clip_f(v, clip)))
            z = scratch[j]
            out[ob + j] = f32(f32(f32(1.0 - z) * hh) + f32(z * hidden[hb + j]))
        for j in range(n):
            hidden[hb + j] = out[ob + j]
