# UNIDIRECTIONAL_SEQUENCE_LSTM. Its hidden and cell state tensors are arena bytes of
# their own that persist between invokes (Model.reset() re-initializes them).
# Zero points, biases and multipliers come folded from the lowering
# (upyflow_tools/lower/families/lstm.py).
import math

from ..qmath import mul_by_qm, wrap32, f32, dot_f32

KERNELS = ("lstm_s8", "lstm_f32")

# TFLite's uint16 sigmoid table: sigmoid(k / 24) in Q16 for k = 0..255, the
# values its int16 LOGISTIC and TANH interpolate (bit-exactness needs these).
_SIGMOID = (
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498,
    40149, 40794, 41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255,
    46817, 47369, 47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409, 51865,
    52311, 52745, 53169, 53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174,
    56503, 56823, 57133, 57433, 57724, 58007, 58280, 58544, 58800, 59048, 59288,
    59519, 59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110, 61279, 61441,
    61599, 61750, 61896, 62036, 62172, 62302, 62428, 62549, 62666, 62778, 62886,
    62990, 63090, 63186, 63279, 63368, 63454, 63536, 63615, 63691, 63765, 63835,
    63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308, 64357, 64405, 64450,
    64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786, 64816, 64845,
    64873, 64900, 64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079, 65097,
    65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234, 65246, 65258,
    65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360,
    65367, 65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425,
    65429, 65433, 65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465,
    65468, 65471, 65474, 65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491,
    65493, 65495, 65497, 65498, 65500, 65501, 65503, 65504, 65505, 65507, 65508,
    65509, 65510, 65511, 65512, 65513, 65514, 65515, 65516, 65517, 65517, 65518,
    65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524, 65525,
    65525, 65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529,
    65529, 65529, 65530, 65530, 65530, 65530, 65531, 65531, 65531, 65531, 65531,
    65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533, 65533, 65533,
    65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534,
    65534, 65534, 65535)


def _c16(v):
    return -32768 if v < -32768 else (32767 if v > 32767 else v)


def _table(a, bits, top):
    # The sigmoid table at a / 2**bits (a >= 0), linearly interpolated, in units of
    # 2**-bits of its entries; top past its end.
    uh = a >> bits
    if uh >= 255:
        return top
    ua = _SIGMOID[uh]
    return (ua << bits) + (a & ((1 << bits) - 1)) * (_SIGMOID[uh + 1] - ua)


def _sigmoid16(v):
    # int16 Q3.12 -> Q0.15 logistic (TFLM's power-of-two case: input times 3,
    # table index in steps of 512, linear interpolation, rounded).
    x = v * 3
    r = _table(-x if x < 0 else x, 9, 0x7FFF << 10)
    r = r + 512 if x >= 0 else (1 << 25) - r + 511
    return r >> 10


def _tanh16(v, mult, shift):
    # int16 tanh to Q0.15; (mult, shift) scale the input to the table's units.
    x = (v * mult + ((1 << (shift - 1)) if shift else 0)) >> shift
    r = _table(-x if x < 0 else x, 8, 0xFFFF << 8)
    r = r - 8388480 if x >= 0 else 8388735 - r
    return r >> 8


# --- UNIDIRECTIONAL_SEQUENCE_LSTM (int8) ------------------------------------------------
# w: int8 rows [input weights of gates f, i, g, o | their recurrent weights];
# q: int32 [input-side biases (4n) | recurrent-side biases (4n) | per gate:
# input mult, shift, recurrent mult, shift]. Per step, each gate is two
# matmuls requantized to Q3.12 int16, added with saturation, then sigmoid
# (tanh for the cell gate); the cell and hidden states update from those.
def lstm_s8(x, w, q, hidden, cell, out, batch, steps, n_in, n, time_major, h_zp,
            m_fc, s_fc, m_ig, s_ig, m_out, s_out, qclip, tanh_mult, tanh_shift):
    g4 = 4 * n
    rec = g4 * n_in
    qm = 8 * n
    pre = [0] * g4
    for b in range(batch):
        hb = b * n
        for t in range(steps):
            row = t * batch + b if time_major else b * steps + t
            xb = row * n_in
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
            ob = row * n
            for j in range(n):
                f = _sigmoid16(pre[j])
                i = _sigmoid16(pre[n + j])
                g = _tanh16(pre[2 * n + j], 3, 0)   # the cell gate: Q3.12 in, tanh
                o = _sigmoid16(pre[3 * n + j])
                c = _c16(mul_by_qm(f * cell[hb + j], m_fc, s_fc))
                c = _c16(c + _c16(mul_by_qm(i * g, m_ig, s_ig)))
                if qclip >= 0:
                    c = -qclip if c < -qclip else (qclip if c > qclip else c)
                cell[hb + j] = c
                v = mul_by_qm(_tanh16(c, tanh_mult, tanh_shift) * o, m_out, s_out) + h_zp
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
    for b in range(batch):
        hb = b * n
        for t in range(steps):
            row = t * batch + b if time_major else b * steps + t
            xb = row * n_in
            ob = row * n
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
