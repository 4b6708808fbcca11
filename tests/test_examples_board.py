"""The board examples (person detection, keyword spotting) end to end on the virtual board:
each script bakes, deploys, sends its inputs and classifies on the board; the board's scores
must be TFLM's, computed here independently of the script."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np

from harness import ROOT, bmp_input, needs_micropython, person_frame, run_tflm, shared

pytestmark = needs_micropython
# One result line: NAME [board scores] label N us [TFLM scores] label verdict
ROW = re.compile(r"^(\S+)\s+\[([-\d, ]+)\]\s+(\w+)\s+\d+ us\s+\[([-\d, ]+)\]\s+(\w+)\s+(identical|DIFFERENT)$")


def run_example(script: str, outdir, *args: str) -> dict[str, tuple[list[int], str, list[int], str]]:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), "--virtual", "--outdir", str(outdir), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {}
    for line in proc.stdout.splitlines():
        m = ROW.match(line)
        if m:
            rows[m.group(1)] = (_ints(m.group(2)), m.group(3), _ints(m.group(4)), m.group(5))
    return rows


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",")]


def test_person_detection_example_on_virtual_board(tmp_path):
    model = shared("models/person_detect.tflite").read_bytes()
    labels = ("no_person", "person")
    rows = run_example("person_detection/classify.py", tmp_path)
    assert sorted(rows) == ["no_person.bmp", "person.bmp"]
    for name, (board, label, shown_tflm, _) in rows.items():
        want = [int(v) for v in run_tflm(model, [bmp_input(name)])[0].ravel()]
        assert board == want and shown_tflm == want
        assert label == labels[int(np.argmax(want))]
    # What TFLM says of these images (../shared/README.md).
    assert rows["person.bmp"][1] == "person" and rows["no_person.bmp"][1] == "no_person"


def test_person_detection_from_camera_frames_on_virtual_board(tmp_path):
    """--frames: each BMP sent as a raw 160x120 RGB565 frame, prepared on the board by
    upyflow.image; the scores must be TFLM's for the same steps done here in numpy."""
    from upyflow_tools import frames

    model = shared("models/person_detect.tflite").read_bytes()
    rows = run_example("person_detection/classify.py", tmp_path, "--frames")
    assert sorted(rows) == ["no_person.rgb565be", "person.rgb565be"]
    for name, (board, _label, shown_tflm, _) in rows.items():
        x = frames.to_input(
            person_frame(name.split(".")[0] + ".bmp"),
            "rgb565be",
            160,
            120,
            96,
            96,
            1,
            "i8",
            crop=(20, 0, 120, 120),
            resize="nearest",
            normalise="direct",
        )
        want = [int(v) for v in run_tflm(model, [np.frombuffer(x, np.int8).reshape(1, 96, 96, 1)])[0].ravel()]
        assert board == want and shown_tflm == want
    assert rows["person.rgb565be"][1] == "person" and rows["no_person.rgb565be"][1] == "no_person"


def test_keyword_example_on_virtual_board(tmp_path):
    model = shared("models/micro_speech_quantized.tflite").read_bytes()
    labels = ("silence", "unknown", "yes", "no")
    rows = run_example("keyword/classify.py", tmp_path)
    clips = {"micro_speech_features_%s.bin" % c: c for c in ("yes", "no", "silence", "noise")}
    assert sorted(rows) == sorted(clips)
    for name, (board, label, shown_tflm, _) in rows.items():
        x = np.frombuffer(shared("testdata/" + name).read_bytes(), np.int8).reshape(1, -1)
        want = [int(v) for v in run_tflm(model, [x])[0].ravel()]
        assert board == want and shown_tflm == want
        assert label == labels[int(np.argmax(want))]
    # TFLM's classification of the clips (../shared/README.md): noise counts as silence.
    assert {clips[n]: r[1] for n, r in rows.items()} == {
        "yes": "yes",
        "no": "no",
        "silence": "silence",
        "noise": "silence",
    }
