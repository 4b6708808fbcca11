"""UNIDIRECTIONAL_SEQUENCE_LSTM, int8 (int16 cell) and float32: generated single-op models, the
LSTM layers of the shared models alone, and the TFLM mnist_lstm example (tflm_trained_lstm)
against the TFLM interpreter on every kernel tier (float32 within 1e-5 relative).

The hidden and cell states persist across invoke() in upyflow as in TFLM, so every comparison
runs a sequence of invokes on one upyflow Model and one TFLM interpreter and compares after
each invoke, then after reset(). Cases use a fixed seed per case id (shared with
test_svdf.py's); nothing here hard-codes an expected output. The whole shared models:
test_sequence.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness import (
    bake_model,
    compare_sequence,
    load_cpython,
    random_input,
    run_micropython,
    run_micropython_cases,
    seeded_rng,
    shared,
    tflm_sequence,
)
from tflite_writer import ModelWriter
from upyflow_tools.readers.tflite import read_tflite

SEED = 0x5E0


def case_rng(case_id: str) -> np.random.Generator:
    return seeded_rng(SEED, case_id)


# --- generated int8 UNIDIRECTIONAL_SEQUENCE_LSTM -------------------------------------------
def lstm_model(
    rng,
    batch: int,
    steps: int,
    n_in: int,
    n: int,
    time_major: bool,
    cell_scale: float,
    clip: float,
    act: str,
    h_zp: int,
) -> bytes:
    """An int8 LSTM (int16 cell) with random per-tensor weights; all four gates."""
    w = ModelWriter()
    in_sc, in_zp = float(rng.uniform(0.004, 0.03)), int(rng.integers(-128, 60))
    shape = [steps, batch, n_in] if time_major else [batch, steps, n_in]
    x = w.tensor(shape, "int8", in_sc, in_zp)
    h_sc = float(rng.uniform(0.004, 0.01))
    ins = [x]
    w_scales = {}
    for kind, cols, xs in (("in", n_in, in_sc), ("rec", n, h_sc)):
        for g in "ifgo":
            # gate pre-activations of a few units (Q3.12 saturates at +-8)
            sc = float(6.0 / (127 * 128 * xs * np.sqrt(cols)) * rng.uniform(0.5, 2.0))
            w_scales[kind + g] = sc
            ins.append(w.tensor([n, cols], "int8", sc, 0, data=rng.integers(-127, 128, size=(n, cols))))
    ins += [-1, -1, -1]
    for g in "ifgo":
        bs = float(np.float32(in_sc) * np.float32(w_scales["in" + g]))
        ins.append(w.tensor([n], "int32", bs, 0, data=rng.integers(-1, 2) * rng.integers(0, int(2.0 / bs), size=n)))
    ins += [-1, -1]
    hidden = w.tensor([batch, n], "int8", h_sc, h_zp, variable=True)
    cell = w.tensor([batch, n], "int16", cell_scale, 0, variable=True)
    ins += [hidden, cell, -1, -1, -1, -1]
    out_shape = shape[:2] + [n]
    out = w.tensor(out_shape, "int8", h_sc, h_zp)
    w.op(
        "UNIDIRECTIONAL_SEQUENCE_LSTM", ins, [out], fused_activation_function=act, cell_clip=clip, time_major=time_major
    )
    return w.build([x], [out])


def _lstm_cases():
    rng = np.random.default_rng(SEED + 1)
    cases = []
    for k in range(24):
        cases.append(
            (
                int(rng.integers(1, 3)),
                int(rng.integers(1, 5)),
                int(rng.integers(1, 24)),
                int(rng.integers(1, 16)),
                bool(k % 4 == 3),
                # cell scale: a power of two as converters make it, sometimes not
                2.0 ** int(rng.integers(-13, -9)) * (1.0 if k % 5 else 1.3),
                (0.0, 3.0, 10.0)[k % 3],
                "TANH",
                int(rng.integers(-20, 20)),
            )
        )
    return cases


LSTM_CASES = _lstm_cases()


def _lstm_id(c):
    return "b%d-t%d-i%d-n%d-tm%d-cs%g-clip%g-%s-zp%d" % c


@pytest.mark.parametrize("case", LSTM_CASES, ids=_lstm_id)
def test_lstm_generated(case, tier, tmp_path):
    rng = case_rng("lstm-" + _lstm_id(case))
    batch, steps, n_in, n, time_major = case[:5]
    model = lstm_model(rng, *case)
    mdir, name, _ = bake_model(model, tmp_path)
    m = load_cpython(mdir, name, tier)
    shape = (steps, batch, n_in) if time_major else (batch, steps, n_in)
    seq = [[random_input(rng, "i8", shape)] for _ in range(6)]
    compare_sequence(model, m, seq)


def lstm_layer_of(model: str, layer: int = 0) -> bytes:
    """The shared model's LSTM layer alone (its weights and quantization), as its own model:
    the layer's int8 output is compared directly, not through a saturating softmax."""
    g = read_tflite(shared("models/%s.tflite" % model).read_bytes())
    op = [o for o in g.ops if o.kind == "UNIDIRECTIONAL_SEQUENCE_LSTM"][layer]
    w = ModelWriter()
    dt = {"i8": "int8", "i16": "int16", "i32": "int32"}
    ids = []
    for _k, t in enumerate(op.inputs + op.outputs):
        if t < 0:
            ids.append(-1)
            continue
        ten = g.tensors[t]
        ids.append(
            w.tensor(
                list(ten.shape),
                dt[ten.dtype],
                ten.scale or None,
                ten.zero_point or None,
                data=ten.data,
                variable=ten.variable,
            )
        )
    opts = {k: op.options[k] for k in ("fused_activation_function", "cell_clip", "proj_clip", "time_major")}
    w.op("UNIDIRECTIONAL_SEQUENCE_LSTM", ids[:24], [ids[24]], **opts)
    return w.build([ids[0]], [ids[24]])


@pytest.mark.parametrize(
    "model,layer",
    [("trained_lstm_int8", 0), ("micro_speech_lstm", 0), ("dtln_noise_suppression", 0), ("dtln_noise_suppression", 1)],
)
def test_lstm_layer_of_shared_model(model, layer, tier, tmp_path):
    data = lstm_layer_of(model, layer)
    mdir, name, _ = bake_model(data, tmp_path)
    m = load_cpython(mdir, name, tier)
    rng = np.random.default_rng(99)
    count = 2 if model == "micro_speech_lstm" and tier == "pure" else 8  # 49 steps: slow in pure
    seq = [[random_input(rng, "i8", m.input_shape[0])] for _ in range(count)]
    compare_sequence(data, m, seq, replay=1)


# --- float32 ------------------------------------------------------------------------------
# (batch, steps, n_in, n, time_major, cell_clip)
F32_CASES = [
    (1, 3, 5, 4, False, 0.0),
    (2, 4, 7, 3, False, 3.0),
    (1, 1, 1, 1, False, 0.0),
    (2, 3, 6, 5, True, 0.0),
    (1, 5, 12, 9, True, 0.5),
    (3, 2, 4, 16, False, 0.0),
]


def lstm_f32_model(rng, batch, steps, n_in, n, time_major, clip) -> bytes:
    w = ModelWriter()
    shape = [steps, batch, n_in] if time_major else [batch, steps, n_in]
    x = w.tensor(shape, "float32")
    ins = [x]
    for cols in (n_in, n):
        for _ in "ifgo":
            ins.append(w.tensor([n, cols], "float32", data=rng.uniform(-1.5, 1.5, size=(n, cols)) / np.sqrt(cols)))
    ins += [-1, -1, -1]
    for _ in "ifgo":
        ins.append(w.tensor([n], "float32", data=rng.uniform(-0.5, 0.5, size=n)))
    ins += [-1, -1]
    hidden = w.tensor([batch, n], "float32", variable=True)
    cell = w.tensor([batch, n], "float32", variable=True)
    ins += [hidden, cell, -1, -1, -1, -1]
    out = w.tensor(shape[:2] + [n], "float32")
    w.op(
        "UNIDIRECTIONAL_SEQUENCE_LSTM",
        ins,
        [out],
        fused_activation_function="TANH",
        cell_clip=clip,
        time_major=time_major,
    )
    return w.build([x], [out])


def _f32_id(c):
    return "b%d-t%d-i%d-n%d-tm%d-clip%g" % c


@pytest.mark.parametrize("case", F32_CASES, ids=_f32_id)
def test_lstm_f32_generated(case, tier, tmp_path):
    rng = case_rng("lstm-f32-" + _f32_id(case))
    batch, steps, n_in, n, time_major, _ = case
    model = lstm_f32_model(rng, *case)
    m = load_cpython(*bake_model(model, tmp_path)[:2], tier)
    shape = (steps, batch, n_in) if time_major else (batch, steps, n_in)
    compare_sequence(model, m, [[random_input(rng, "f32", shape, -2.0, 2.0)] for _ in range(5)])


def test_tflm_trained_lstm(tier, tmp_path):
    path = shared("models/external/tflm_trained_lstm.tflite")
    mdir, name, result = bake_model(path, tmp_path)
    assert "lstm_f32" in [c.kernel for c in result.calls]
    m = load_cpython(mdir, name, tier)
    rng = np.random.default_rng(28)
    compare_sequence(
        path.read_bytes(), m, [[random_input(rng, "f32", m.input_shape[0], 0.0, 1.0)] for _ in range(3)], 2
    )


# --- MicroPython: tflm_trained_lstm (float32) on pure, viper and the natmod -----------------------
@pytest.fixture(scope="module")
def baked_lstm(tmp_path_factory):
    outdir = tmp_path_factory.mktemp("lstm_f32_mpy")
    path = shared("models/external/tflm_trained_lstm.tflite")
    bake_model(path, outdir, name="tflm_trained_lstm")
    rng = np.random.default_rng(3)
    sets = [[random_input(rng, "f32", (1, 28, 28), 0.0, 1.0)] for _ in range(3)]
    return str(outdir), sets, tflm_sequence(path.read_bytes(), sets)


@pytest.mark.parametrize("mpy_tier", ["viper", "pure", "natmod"], indirect=True)
def test_tflm_trained_lstm_micropython(baked_lstm, mpy_tier):
    mdir, sets, want = baked_lstm
    got, _ = run_micropython(mpy_tier, mdir, [("tflm_trained_lstm", sets)], {"tflm_trained_lstm": [40]}, heapsize="4M")
    for k, (w, g) in enumerate(zip(want, got["tflm_trained_lstm"])):
        np.testing.assert_allclose(
            np.frombuffer(g[0], np.float32).reshape(w[0].shape),
            w[0],
            rtol=1e-5,
            atol=1e-6,
            err_msg="invoke %d on %s" % (k, mpy_tier.name),
        )


# --- MicroPython: the int8 cases on viper (x64; 32-bit with MICROPYTHON32) -----------------------
@pytest.fixture(scope="module")
def lstm_baked(tmp_path_factory):
    outdir = tmp_path_factory.mktemp("viper_lstm")
    cases = {}
    for k, case in enumerate(LSTM_CASES):
        cid = "lstm-" + _lstm_id(case)
        rng = case_rng(cid)
        batch, steps, n_in, n, time_major = case[:5]
        model = lstm_model(rng, *case)
        shape = (steps, batch, n_in) if time_major else (batch, steps, n_in)
        sets = [[random_input(rng, "i8", shape)] for _ in range(6)]
        name = "vl%d" % k
        bake_model(model, outdir, name=name)
        cases[name] = (cid, sets, tflm_sequence(model, sets))
    return str(outdir), cases


@pytest.mark.parametrize("mpy_tier", ["viper", "viper32"], indirect=True)
def test_generated_micropython(lstm_baked, mpy_tier):
    """The int8 LSTM cases on the viper tier: a sequence of invokes each, byte-identical with
    TFLM after every invoke."""
    run_micropython_cases(mpy_tier, *lstm_baked, step="invoke", show=3)


# TFLite's uint16 sigmoid table as its source writes it out (sigmoid_table_uint16), the
# oracle for the one the host bakes for lstm_s8 and the int16 LOGISTIC/TANH.
_TFLITE_SIGMOID = (
    32768,
    33451,
    34133,
    34813,
    35493,
    36169,
    36843,
    37513,
    38180,
    38841,
    39498,
    40149,
    40794,
    41432,
    42064,
    42688,
    43304,
    43912,
    44511,
    45102,
    45683,
    46255,
    46817,
    47369,
    47911,
    48443,
    48964,
    49475,
    49975,
    50464,
    50942,
    51409,
    51865,
    52311,
    52745,
    53169,
    53581,
    53983,
    54374,
    54755,
    55125,
    55485,
    55834,
    56174,
    56503,
    56823,
    57133,
    57433,
    57724,
    58007,
    58280,
    58544,
    58800,
    59048,
    59288,
    59519,
    59743,
    59959,
    60168,
    60370,
    60565,
    60753,
    60935,
    61110,
    61279,
    61441,
    61599,
    61750,
    61896,
    62036,
    62172,
    62302,
    62428,
    62549,
    62666,
    62778,
    62886,
    62990,
    63090,
    63186,
    63279,
    63368,
    63454,
    63536,
    63615,
    63691,
    63765,
    63835,
    63903,
    63968,
    64030,
    64090,
    64148,
    64204,
    64257,
    64308,
    64357,
    64405,
    64450,
    64494,
    64536,
    64576,
    64614,
    64652,
    64687,
    64721,
    64754,
    64786,
    64816,
    64845,
    64873,
    64900,
    64926,
    64950,
    64974,
    64997,
    65019,
    65039,
    65060,
    65079,
    65097,
    65115,
    65132,
    65149,
    65164,
    65179,
    65194,
    65208,
    65221,
    65234,
    65246,
    65258,
    65269,
    65280,
    65291,
    65301,
    65310,
    65319,
    65328,
    65337,
    65345,
    65352,
    65360,
    65367,
    65374,
    65381,
    65387,
    65393,
    65399,
    65404,
    65410,
    65415,
    65420,
    65425,
    65429,
    65433,
    65438,
    65442,
    65445,
    65449,
    65453,
    65456,
    65459,
    65462,
    65465,
    65468,
    65471,
    65474,
    65476,
    65479,
    65481,
    65483,
    65485,
    65488,
    65489,
    65491,
    65493,
    65495,
    65497,
    65498,
    65500,
    65501,
    65503,
    65504,
    65505,
    65507,
    65508,
    65509,
    65510,
    65511,
    65512,
    65513,
    65514,
    65515,
    65516,
    65517,
    65517,
    65518,
    65519,
    65520,
    65520,
    65521,
    65522,
    65522,
    65523,
    65523,
    65524,
    65524,
    65525,
    65525,
    65526,
    65526,
    65526,
    65527,
    65527,
    65528,
    65528,
    65528,
    65529,
    65529,
    65529,
    65529,
    65530,
    65530,
    65530,
    65530,
    65531,
    65531,
    65531,
    65531,
    65531,
    65532,
    65532,
    65532,
    65532,
    65532,
    65532,
    65533,
    65533,
    65533,
    65533,
    65533,
    65533,
    65533,
    65533,
    65534,
    65534,
    65534,
    65534,
    65534,
    65534,
    65534,
    65534,
    65534,
    65534,
    65535,
)


def test_sigmoid_table_is_tflites():
    from upyflow_tools.lower.families.activations import sigmoid_table_values

    assert len(_TFLITE_SIGMOID) == 256
    assert [int(v) + 32768 for v in sigmoid_table_values()] == list(_TFLITE_SIGMOID)


def test_lstm_takes_the_baked_table(tmp_path):
    """lstm_s8 reads the table it is given (none of the tiers keeps a copy): a table of
    zeros (all sigmoids 1/2) changes its output."""
    from upyflow.kernels_pure.lstm import lstm_s8
    from upyflow_tools.lower.families.activations import sigmoid_table_values

    table = [int(v) for v in sigmoid_table_values()]
    n, n_in = 2, 3
    q = [0] * (8 * n) + [1 << 30, -2] * 8
    outs = []
    for tab in (table, [0] * 256):
        hidden, cell, out = [0] * n, [0] * n, [0] * (2 * n)
        lstm_s8(
            [5, -7, 9, 1, 2, 3],
            [3] * (4 * n * n_in + 4 * n * n),
            q,
            tab,
            hidden,
            cell,
            out,
            1,
            2,
            n_in,
            n,
            0,
            0,
            1 << 30,
            0,
            1 << 30,
            -3,
            1 << 30,
            -8,
            -1,
            3,
            0,
        )
        outs.append(out)
    assert outs[0] != outs[1]
