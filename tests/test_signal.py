"""TFLM's Signal ops (the micro_speech audio front end), CAST and int32 arithmetic.

The oracle is the TFLM interpreter: the shared features files are its outputs for the four
clips, and for everything else it runs the same front-end model here. Every op's output is
compared (TFLM keeps all tensors; upyflow bakes a copy of the model with every op output made
a graph output), over the clips and over loud and degenerate audio that drives the integer
paths to their edges (saturation, int16 wrap in kissfft, uint32 wrap, zero input).
"""

from __future__ import annotations

import os
import types
import wave

import numpy as np
import pytest

import upyflow
from harness import load_cpython, needs_micropython, shared
from upyflow_tools import BakeError
from upyflow_tools.bake import bake, compile_graph
from upyflow_tools.emit import DTYPE_CODES, module_source
from upyflow_tools.readers.tflite import read_tflite
from upyflow_tools.tflm import ARENA
from upyflow_tools.unixport import micropython_exe, run_batch

CLIPS = ("yes", "no", "silence", "noise")
MODEL = "models/audio_preprocessor_int8.tflite"
WINDOW, HOP, WINDOWS = 480, 320, 49


def clip_samples(clip: str) -> np.ndarray:
    with wave.open(str(shared("testdata/%s_1000ms.wav" % clip))) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (16000, 2, 1)
        return np.frombuffer(w.readframes(w.getnframes()), np.int16)


def windows(samples: np.ndarray) -> list[np.ndarray]:
    return [samples[i * HOP : i * HOP + WINDOW] for i in range(WINDOWS)]


def features(clip: str) -> np.ndarray:
    return np.fromfile(str(shared("testdata/micro_speech_features_%s.bin" % clip)), np.int8).reshape(WINDOWS, 40)


@pytest.fixture(scope="module")
def front_end(tmp_path_factory):
    outdir = tmp_path_factory.mktemp("front_end")
    bake(str(shared(MODEL)), str(outdir), name="audio_front_end", mpy=True)
    return str(outdir), "audio_front_end"


def run_windows(m: upyflow.Model, wins: list[np.ndarray]) -> np.ndarray:
    out = []
    for w in wins:
        out.append(np.frombuffer(bytes(m.predict(w.astype(np.int16).tobytes())), np.int8).copy())
    return np.array(out)


def test_clips_bit_exact(front_end, tier):
    """Every window of the four clips equals TFLM's features; reset() starts each clip anew
    on the same Model (the spectral-subtraction noise estimate is state)."""
    m = load_cpython(*front_end, tier)
    assert m.tier == tier
    for clip in CLIPS:
        m.reset()
        np.testing.assert_array_equal(
            run_windows(m, windows(clip_samples(clip))), features(clip), err_msg="clip %s, tier %s" % (clip, tier)
        )


def test_float_front_end(tmp_path, tier):
    """audio_preprocessor_float (the same ops, its int16 log CAST to float32 and scaled):
    TFLM's float features on two clips, every window."""
    from upyflow_tools.tflm import interpreter

    path = shared("models/external/audio_preprocessor_float.tflite")
    bake(str(path), str(tmp_path), name="front_end_float")
    m = load_cpython(str(tmp_path), "front_end_float", tier)
    for clip in ("yes", "noise"):
        interp = interpreter(path.read_bytes())
        m.reset()
        for w in windows(clip_samples(clip)):
            interp.set_input(w.reshape(1, WINDOW), 0)
            interp.invoke()
            got = np.frombuffer(bytes(m.predict(w.tobytes())), np.float32)
            np.testing.assert_allclose(got, np.array(interp.get_output(0)).reshape(-1), rtol=1e-5, atol=1e-6)


def test_state_carries_until_reset(front_end):
    m = load_cpython(*front_end)
    wins = windows(clip_samples("yes"))
    first = run_windows(m, wins[:3])
    again = run_windows(m, wins[:3])  # the noise estimate has moved on
    assert not np.array_equal(first, again)
    m.reset()
    np.testing.assert_array_equal(run_windows(m, wins[:3]), first)


def edge_windows(rng: np.random.Generator) -> list[list[np.ndarray]]:
    """Sequences (each after a reset) of loud, degenerate and random audio."""
    n = np.arange(WINDOW)
    square = np.where((n // 8) % 2, 32767, -32768).astype(np.int16)
    impulse = np.zeros(WINDOW, np.int16)
    impulse[0] = -32768
    return [
        [rng.integers(-32768, 32768, WINDOW).astype(np.int16) for _ in range(4)],
        [
            np.zeros(WINDOW, np.int16),
            np.full(WINDOW, -32768, np.int16),
            np.full(WINDOW, 32767, np.int16),
            square,
            impulse,
            np.zeros(WINDOW, np.int16),
        ],
        [(rng.normal(0, s, WINDOW)).clip(-32768, 32767).astype(np.int16) for s in (3, 30, 300, 3000, 30000, 3)],
        [(np.sin(n * f) * a).astype(np.int16) for f, a in ((0.05, 32767), (1.3, 20000), (2.9, 100), (0.7, 1))],
    ]


def _all_outputs_module(tmp_path, tier):
    """The front end baked with every op output as a graph output: (Model, [tensor ids])."""
    data = shared(MODEL).read_bytes()
    graph = read_tflite(data)
    ids = [t for op in graph.ops for t in op.outputs if t >= 0 and t not in graph.outputs]
    graph.outputs = list(graph.outputs) + ids
    result = compile_graph(graph, "audio_front_end.tflite", "front_end_all")
    mod = types.ModuleType("front_end_all")
    exec(module_source(result.baked, "front_end_all"), mod.__dict__)
    return data, upyflow.Model(mod, tier), graph, ids


def test_every_op_matches_tflm(tmp_path, tier):
    """Each op's output (window, FFT scaling, RFFT, energy, filter bank, square root, spectral
    subtraction and its noise estimate, PCAN, log, CASTs and the int32 tail) equals TFLM's."""
    from tflite_micro.python.tflite_micro import runtime

    data, m, graph, ids = _all_outputs_module(tmp_path, tier)
    interp = runtime.Interpreter.from_bytes(
        data, arena_size=ARENA, intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors
    )
    kinds = {t: op.kind for op in graph.ops for t in op.outputs}
    energy = next(op for op in graph.ops if op.kind == "CUSTOM(SignalEnergy)")
    # TFLM writes only the energy bins start..end; the rest (and its CAST) is whatever its arena held
    partial = {energy.outputs[0]}
    for op in graph.ops:
        if op.kind == "CAST" and op.inputs[0] in partial:
            partial.add(op.outputs[0])
    rng = np.random.default_rng(11)
    seqs = edge_windows(rng) + [windows(clip_samples("yes"))[20:26]]
    checked = set()
    for seq in seqs:
        m.reset()
        interp.reset()
        for step, w in enumerate(seq):
            m.set_input(0, w.tobytes())
            m.invoke()
            interp.set_input(w.reshape(1, WINDOW), 0)
            interp.invoke()
            for k, t in enumerate(ids):
                want = np.asarray(interp.GetTensor(t, 0)["tensor_data"]).reshape(-1)
                got = np.frombuffer(bytes(m.get_output(1 + k)), want.dtype)
                if t in partial:
                    lo, hi = energy.options["start_index"], energy.options["end_index"]
                    want, got = want[lo:hi], got[lo:hi]
                np.testing.assert_array_equal(
                    got, want, err_msg="%s output %r, step %d" % (kinds[t], graph.tensors[t].name, step)
                )
                checked.add(kinds[t])
            np.testing.assert_array_equal(
                np.frombuffer(bytes(m.get_output(0)), np.int8), np.asarray(interp.get_output(0)).reshape(-1)
            )
    assert {"CUSTOM(SignalRfft)", "CUSTOM(SignalPCAN)", "CUSTOM(SignalFilterBankLog)", "CAST", "DIV"} <= checked


def test_bake_errors_name_the_problem():
    data = shared(MODEL).read_bytes()

    def bake_with(kind, **options):
        graph = read_tflite(data)
        op = next(o for o in graph.ops if o.kind == kind)
        op.options.update(options)
        with pytest.raises(BakeError) as e:
            compile_graph(graph, "x.tflite", "x")
        assert "\n" not in str(e.value)
        return str(e.value)

    assert "fft_length 500" in bake_with("CUSTOM(SignalRfft)", fft_length=500)
    assert "int16 FFT" in bake_with("CUSTOM(SignalRfft)", T=2)
    assert "bins" in bake_with("CUSTOM(SignalEnergy)", end_index=400)
    assert "channels" in bake_with("CUSTOM(SignalFilterBank)", num_channels=41)
    graph = read_tflite(data)
    del next(o for o in graph.ops if o.kind == "CUSTOM(SignalWindow)").options["shift"]
    with pytest.raises(BakeError, match="shift"):
        compile_graph(graph, "x.tflite", "x")


def test_dtype_codes_agree():
    from upyflow import model as device_model
    from upyflow_tools.lower.families import quantize

    assert device_model.DTYPES == tuple(sorted(DTYPE_CODES, key=DTYPE_CODES.get))
    assert all(DTYPE_CODES[k] == v for k, v in quantize.DTYPE_CODES.items())


def _micropython_clips(module_dir, name, env, extra_paths=None):
    for clip in CLIPS:  # one run per clip: a fresh Model, as after reset()
        outs, _ = run_batch(
            module_dir, name, [[w.tobytes()] for w in windows(clip_samples(clip))], env=env, extra_paths=extra_paths
        )
        got = np.array([np.frombuffer(o[0], np.int8) for o in outs])
        np.testing.assert_array_equal(got, features(clip), err_msg="clip %s under MicroPython" % clip)


@needs_micropython
@pytest.mark.parametrize("form", ["py", "mpy"])
def test_micropython_clips(front_end, form, tmp_path):
    """Pure kernels under the MicroPython unix port (the viper tier runs the same ones)."""
    mdir, name = front_end
    run_dir = mdir
    if form == "mpy":
        os.link(os.path.join(mdir, name + ".mpy"), tmp_path / (name + ".mpy"))
        run_dir = str(tmp_path)
    _micropython_clips(run_dir, name, {"UPYFLOW_TIER": "pure" if form == "py" else "viper"})


@pytest.mark.parametrize("mpy_tier", ["viper", "pure"], indirect=True)
def test_micropython_loud_and_degenerate_audio(front_end, mpy_tier):
    """The edge sequences of test_every_op_matches_tflm under MicroPython (viper: its own RFFT,
    window and auto-scale, whose int16 wraps must be kissfft's), against TFLM."""
    from upyflow_tools.tflm import interpreter

    data = shared(MODEL).read_bytes()
    for seq in edge_windows(np.random.default_rng(11)):
        interp = interpreter(data)
        want = []
        for w in seq:
            interp.set_input(w.reshape(1, WINDOW), 0)
            interp.invoke()
            want.append(np.array(interp.get_output(0)).reshape(-1))
        outs, _ = run_batch(*front_end, [[w.tobytes()] for w in seq], env={"UPYFLOW_TIER": mpy_tier.tier})
        np.testing.assert_array_equal(np.array([np.frombuffer(o[0], np.int8) for o in outs]), np.array(want))


@needs_micropython
def test_viper_signal_kernels_import():
    """The viper Signal module compiles under MicroPython (else dispatch would quietly use pure)."""
    import subprocess

    from upyflow_tools.unixport import DEVICE_LIB

    code = (
        "import sys; sys.path.insert(0, %r); from upyflow.kernels_viper import signal as k; "
        "print('OK', k.signal_rfft_s16 is not None)" % DEVICE_LIB
    )
    proc = subprocess.run([micropython_exe(), "-c", code], capture_output=True, text=True, timeout=60)
    assert "OK True" in proc.stdout, proc.stdout + proc.stderr


@needs_micropython
def test_micropython_natmod_clips(front_end, natmod_dir):
    _micropython_clips(*front_end, {"UPYFLOW_TIER": "native"}, [natmod_dir])


# --- the keyword example from raw audio ----------------------------------------------------
TFLM_LABELS = {"yes": "yes", "no": "no", "silence": "silence", "noise": "silence"}  # ../shared/README.md
KWS_LABELS = ("silence", "unknown", "yes", "no")


def tflm_keyword(clip: str) -> list[int]:
    """TFLM's front end on the clip's 49 windows (fresh state), then TFLM's micro_speech."""
    from upyflow_tools.tflm import interpreter

    fe = interpreter(shared(MODEL).read_bytes())
    feats = []
    for w in windows(clip_samples(clip)):
        fe.set_input(w.reshape(1, WINDOW), 0)
        fe.invoke()
        feats.append(np.array(fe.get_output(0)).reshape(-1))
    kws = interpreter(shared("models/micro_speech_quantized.tflite").read_bytes())
    kws.set_input(np.array(feats, np.int8).reshape(1, -1), 0)
    kws.invoke()
    return [int(v) for v in np.array(kws.get_output(0)).ravel()]


@pytest.fixture(scope="module")
def keyword_models(tmp_path_factory):
    outdir = tmp_path_factory.mktemp("keyword_audio")
    bake(str(shared(MODEL)), str(outdir), name="audio_front_end")
    bake(str(shared("models/micro_speech_quantized.tflite")), str(outdir), name="micro_speech_quantized")
    return str(outdir)


def test_keyword_from_wav_host(keyword_models, tier, monkeypatch):
    """listen.py (the board code) on CPython: scores and labels of TFLM's pipeline."""
    from harness import ROOT

    monkeypatch.syspath_prepend(keyword_models)
    monkeypatch.syspath_prepend(str(ROOT / "examples" / "keyword"))
    import listen

    spotter = listen.Spotter(tier=tier)
    assert spotter.front_end.tier == tier
    for clip in CLIPS:
        scores, label, n, _us = listen.spot_wav(spotter, str(shared("testdata/%s_1000ms.wav" % clip)))
        want = tflm_keyword(clip)
        assert n == WINDOWS and scores == want and label == KWS_LABELS[int(np.argmax(want))]
        assert label == TFLM_LABELS[clip]


def _from_audio(*args, timeout=600):
    import subprocess
    import sys

    from harness import ROOT

    env = dict(os.environ, UPYFLOW_SHARED=str(shared(MODEL).parents[1]))
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / "keyword" / "from_audio.py")] + list(args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


@needs_micropython
def test_keyword_from_wav_virtual_board(tmp_path):
    """from_audio.py end to end on the virtual board: the board's scores are TFLM's."""
    import re

    proc = _from_audio("--virtual", "--outdir", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = re.findall(
        r"^(\w+)\s+(\w+)_1000ms\.wav\s+\[([-\d, ]+)\]\s+(\w+)\s+[\d.]+ ms/win\s+\[([-\d, ]+)\]\s+(\w+)\s+"
        r"identical$",
        proc.stdout,
        re.MULTILINE,
    )
    assert sorted(r[1] for r in rows) == sorted(CLIPS), proc.stdout
    for _tier, clip, scores, label, _shown, _ in rows:
        assert [int(v) for v in scores.split(",")] == tflm_keyword(clip)
        assert label == TFLM_LABELS[clip]


def test_keyword_from_audio_bad_wav(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF0000WAVEjunk")
    proc = _from_audio("--host", "--outdir", str(tmp_path), str(bad), timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "bad.wav" in proc.stderr, proc.stderr
