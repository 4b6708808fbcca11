"""The device API as board code uses it: typed outputs, top-k with labels, TFLM's argument
order, clear errors for wrong indexes and data, a useful repr; on CPython and MicroPython."""

from __future__ import annotations

import array
import subprocess

import numpy as np
import pytest

import upyflow
from harness import ROOT, bake_model, load_cpython, run_tflm, shared
from upyflow_tools.cli import main
from upyflow_tools.unixport import DEVICE_LIB, micropython_exe

SINE = ROOT / "examples" / "hello_world" / "sine_int8.tflite"
SPEECH_LABELS = ["silence", "unknown", "yes", "no"]  # ../shared/README.md


def _speech(tmp_path, tier=None):
    path = shared("models/micro_speech_quantized.tflite")
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(SPEECH_LABELS) + "\n")
    assert main(["bake", str(path), "-o", str(tmp_path), "--name", "speech", "--labels", str(labels)]) == 0
    return path, load_cpython(str(tmp_path), "speech", tier)


def test_typed_output_top_k_and_labels(tmp_path, tier, capsys):
    path, m = _speech(tmp_path, tier)
    assert m.labels == tuple(SPEECH_LABELS)
    for clip in ("yes", "no", "silence"):
        feats = np.fromfile(shared("testdata/micro_speech_features_%s.bin" % clip), np.int8).reshape(1, 1960)
        want = run_tflm(path.read_bytes(), [feats])[0].ravel()
        m.set_input(feats.tobytes(), 0)  # TFLM's argument order
        m.invoke()
        out = m.output()
        assert isinstance(out, array.array) and out.typecode == "b" and list(out) == list(want)
        order = sorted(range(4), key=lambda j: -int(want[j]))
        ((j, score),) = m.top()
        assert j == order[0] and score == want[order[0]] and m.labels[j] == clip
        top3 = m.top(3, dequantize=True)
        assert [j for j, _ in top3] == order[:3]
        assert top3[0][1] == pytest.approx((int(want[order[0]]) + 128) / 256.0)  # scale 1/256, zp -128
    capsys.readouterr()


def test_set_input_orders_and_errors(tmp_path):
    mdir, name, _ = bake_model(SINE, tmp_path)
    m = load_cpython(mdir, name)
    want = int(run_tflm(SINE.read_bytes(), [np.array([[64]], np.int8)])[0].ravel()[0])
    for call in (
        lambda: m.set_input(0, bytes([64])),
        lambda: m.set_input(bytes([64]), 0),
        lambda: m.set_input(bytes([64]), index=0),
        lambda: m.set_input(array.array("b", [64])),
    ):
        call()
        assert list(m.input()) == [64]  # (invoke may reuse the input's bytes for later layers)
        m.invoke()
        assert list(m.output(0)) == [want]
    with pytest.raises(TypeError, match="bytes, bytearray"):
        m.set_input(0, 5)  # an int is not data (it was taken as a length)
    with pytest.raises(ValueError, match="has 1 input .*not 1"):
        m.set_input(1, bytes([1]))
    with pytest.raises(ValueError, match="has 1 input .*not -1"):
        m.input_buffer(-1)
    with pytest.raises(ValueError, match="has 1 output .*not 5"):
        m.get_output(5)
    r = repr(m)
    assert name in r and "i8 1x1" in r and m.tier in r and "arena" in r


def test_load_of_a_module_that_is_not_a_model():
    with pytest.raises(ValueError, match="module os is not a model baked by upyflow"):
        upyflow.load("os")


def test_labels_must_match_the_output(tmp_path, capsys):
    labels = tmp_path / "l.txt"
    labels.write_text("a\nb\n")
    assert main(["bake", str(SINE), "-o", str(tmp_path), "--labels", str(labels)]) == 2
    assert "labels" in capsys.readouterr().err and "has 2 lines; output 0 (1x1) has 1 classes"


@pytest.mark.parametrize("mpy_tier", ["viper", "pure"], indirect=True)
def test_same_api_under_micropython(tmp_path, mpy_tier):
    tier = mpy_tier.tier
    path, _ = _speech(tmp_path)
    feats = np.fromfile(shared("testdata/micro_speech_features_yes.bin"), np.int8)
    (tmp_path / "yes.bin").write_bytes(feats.tobytes())
    want = run_tflm(path.read_bytes(), [feats.reshape(1, 1960)])[0].ravel()
    script = tmp_path / "api.py"
    script.write_text(
        "import sys\nsys.path[:0] = [%r, %r]\n" % (DEVICE_LIB, str(tmp_path)) + "import upyflow\n"
        "m = upyflow.load('speech', %r)\n"
        % tier
        + "data = open(%r, 'rb').read()\n" % str(tmp_path / "yes.bin")
        + "m.set_input(data, index=0)\n"
        "m.invoke()\n"
        "print('OUT', ' '.join(str(v) for v in m.output()), type(m.output()).__name__)\n"
        "j, s = m.top()[0]\n"
        "print('TOP', j, s, m.labels[j])\n"
        "print('REPR', repr(m))\n"
        "for bad in ((lambda: m.get_output(3)), (lambda: m.set_input(0, 7))):\n"
        "    try:\n"
        "        bad()\n"
        "    except (ValueError, TypeError) as e:\n"
        "        print('ERR', type(e).__name__, e)\n"
    )
    out = subprocess.run(
        [micropython_exe(), "-X", "heapsize=190K", str(script)], capture_output=True, text=True, timeout=300
    ).stdout
    lines = {ln.split()[0]: ln for ln in out.splitlines() if ln.split()}
    assert lines["OUT"].split()[1:] == [str(int(v)) for v in want] + ["array"], out
    assert lines["TOP"].split()[1:] == [str(int(want.argmax())), str(int(want.max())), "yes"]
    assert "speech" in lines["REPR"] and tier in lines["REPR"] and "i8 1x1960" in lines["REPR"]
    errs = [ln for ln in out.splitlines() if ln.startswith("ERR")]
    assert "ValueError" in errs[0] and "has 1 output" in errs[0] and "TypeError" in errs[1]
