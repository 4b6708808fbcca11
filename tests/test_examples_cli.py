"""The project's own sine model, the `upyflow` CLI, and the runtime's float helpers."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness import ROOT, assert_bit_exact, bake_model, load_cpython, needs_micropython, run_tflm, shared
from upyflow_tools.cli import main
from upyflow_tools.unixport import micropython_exe, run_batch

SINE = ROOT / "examples" / "hello_world"


@pytest.mark.parametrize("model", ["sine_int8", "sine_float"])
def test_sine_examples_bit_exact(model, tmp_path):
    path = SINE / (model + ".tflite")
    mdir, name, _ = bake_model(path, tmp_path)
    m = load_cpython(mdir, name)
    rng = np.random.default_rng(7)
    for _ in range(20):
        if m.input_dtype[0] == "f32":
            x = rng.uniform(0, 2 * math.pi, (1, 1)).astype(np.float32)
        else:
            x = rng.integers(-128, 128, (1, 1), dtype=np.int8)
        assert_bit_exact(path.read_bytes(), m, [x])


def test_sine_float_helpers_track_sin(tmp_path):
    """quantize_input / dequantize_output round-trip floats and the model approximates sin."""
    mdir, name, _ = bake_model(SINE / "sine_int8.tflite", tmp_path)
    m = load_cpython(mdir, name)
    for x in (0.5, 1.5, 3.0, 4.5):
        m.quantize_input([x])
        q = np.frombuffer(bytes(m.input_buffer(0)), np.int8)[0]
        assert q == max(-128, min(127, round(x / m.input_scale[0]) + m.input_zero_point[0]))
        m.invoke()
        y = m.dequantize_output()[0]
        raw = np.frombuffer(bytes(m.get_output(0)), np.int8)[0]
        assert y == pytest.approx((raw - m.output_zero_point[0]) * m.output_scale[0])
        assert abs(y - math.sin(x)) < 0.1


@needs_micropython
def test_sine_on_micropython(tmp_path):
    mdir, name, _ = bake_model(SINE / "sine_int8.tflite", tmp_path, mpy=True)
    data = (SINE / "sine_int8.tflite").read_bytes()
    qs = list(range(-128, 128, 9))
    outs, _ = run_batch(mdir, name, [[bytes([q & 0xFF])] for q in qs])
    for q, out in zip(qs, outs):
        want = run_tflm(data, [np.array([[q]], np.int8)])[0]
        assert np.frombuffer(out[0], np.int8)[0] == want.ravel()[0]


def test_cli_bake_writes_py_and_mpy(tmp_path, capsys):
    assert main(["bake", str(SINE / "sine_int8.tflite"), "-o", str(tmp_path), "--name", "sine", "--mpy"]) == 0
    out = capsys.readouterr().out
    assert "arena 32 bytes" in out
    assert (tmp_path / "sine.py").stat().st_size > 0
    assert (tmp_path / "sine.mpy").read_bytes()[:2] == b"M\x06"  # mpy format 6
    m = load_cpython(str(tmp_path), "sine")
    assert m.verify()


def test_cli_inspect_reports_plan_and_tflm_arena(capsys):
    path = shared("models/micro_speech_quantized.tflite")
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "depthwise_conv2d_s8" in out and "softmax_s8" in out
    from upyflow_tools.bake import compile_model
    from upyflow_tools.tflm import head_arena_bytes

    assert "%d bytes (upyflow)" % compile_model(str(path)).arena_size in out
    assert "%d bytes (TFLite Micro head arena)" % head_arena_bytes(str(path)) in out


def test_cli_help_and_console_script():
    proc = subprocess.run([sys.executable, "-m", "upyflow_tools.cli", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "bake" in proc.stdout and "inspect" in proc.stdout


def test_readme_operator_table_matches_code():
    """The README's operator table is the generated one, so the docs cannot drift."""
    from upyflow_tools.report import supported_table

    assert supported_table() in (ROOT / "README.md").read_text()


def test_cli_profile_lists_every_op_slowest_first(capsys):
    path = shared("models/micro_speech_quantized.tflite")
    assert main(["profile", str(path), "--tier", "pure", "--reps", "1"]) == 0
    out = capsys.readouterr().out
    rows = [ln.split() for ln in out.splitlines()[3:] if ln.strip()]
    assert sorted(r[1] for r in rows) == ["depthwise_conv2d_s8", "fully_connected_s8", "softmax_s8"]
    times = [float(r[4]) for r in rows]
    assert times == sorted(times, reverse=True)


def test_package_json_lists_the_whole_runtime():
    """mip installs what package.json lists: exactly the device runtime's files."""
    import json

    urls = json.loads((ROOT / "package.json").read_text())["urls"]
    lib = ROOT / "device_lib"
    want = sorted(str(p.relative_to(lib)) for p in (lib / "upyflow").rglob("*.py"))
    assert sorted(dest for dest, _ in urls) == want
    for dest, src in urls:
        assert (ROOT / src).is_file() and src == "device_lib/" + dest


def test_freeze_writes_a_manifest_for_the_runtime_and_models(tmp_path, capsys):
    mdir, name, _ = bake_model(SINE / "sine_int8.tflite", tmp_path / "out", name="sine")
    manifest = tmp_path / "manifest.py"
    assert main(["freeze", mdir, "-o", str(manifest)]) == 0
    calls = []
    # Evaluate it the way MicroPython's manifest tool does: package() and module() calls.
    exec(
        manifest.read_text(),
        {
            "package": lambda *a, **k: calls.append(("package", a, k)),
            "module": lambda *a, **k: calls.append(("module", a, k)),
        },
    )
    assert calls[0][0] == "package" and calls[0][1] == ("upyflow",)
    assert (Path(calls[0][2]["base_path"]) / "upyflow" / "model.py").is_file()
    assert ("module", ("sine.py",), {"base_path": str(Path(mdir).resolve())}) in calls


@pytest.mark.parametrize("model", ["hello_world_int8", "micro_speech_quantized", "hello_world_float"])
def test_struct_views_for_ports_without_uctypes_or_cast(model, tmp_path, monkeypatch):
    """CircuitPython has neither uctypes nor memoryview.cast: the StructView fallback
    must give the same bytes as TFLM through the pure tier."""
    import upyflow.model
    from upyflow.views import struct_view

    monkeypatch.setattr(upyflow.model, "typed_view", struct_view)
    path = shared("models/%s.tflite" % model)
    mdir, name, _ = bake_model(path, tmp_path)
    m = load_cpython(mdir, name, "pure")
    rng = np.random.default_rng(3)
    for _ in range(3):
        shape, dtype = m.input_shape[0], m.input_dtype[0]
        x = (
            rng.uniform(0, 6, shape).astype(np.float32)
            if dtype == "f32"
            else rng.integers(-128, 128, shape, dtype=np.int8)
        )
        assert_bit_exact(path.read_bytes(), m, [x])


@needs_micropython
def test_micropython_set_input_errors_and_arrays(tmp_path):
    """On MicroPython too: array.array input is taken by its bytes, a wrong length is one clear line."""
    mdir, name, _ = bake_model(SINE / "sine_float.tflite", tmp_path, name="sinef")
    script = tmp_path / "s.py"
    script.write_text(
        "import sys, array\nsys.path.insert(0, %r)\nsys.path.insert(0, %r)\nimport upyflow\n"
        "m = upyflow.load('sinef')\n"
        "print('OUT', m.predict(array.array('f', [1.5]))[0:4] == m.predict(bytes(array.array('f', [1.5])))[0:4])\n"
        "try:\n    m.set_input(0, array.array('f', [1.0, 2.0]))\nexcept ValueError as e:\n    print('ERR', e)\n"
        % (str(ROOT / "device_lib"), mdir)
    )
    proc = subprocess.run([micropython_exe(), str(script)], capture_output=True, text=True)
    assert "OUT True" in proc.stdout, proc.stdout + proc.stderr
    assert "ERR input 0 needs 4 bytes (f32 1x1), got 8" in proc.stdout


def test_cli_inspect_lists_the_operator_table(capsys):
    from upyflow_tools.report import supported_table

    assert main(["inspect"]) == 0
    assert capsys.readouterr().out.strip() == supported_table()


@needs_micropython
def test_cli_run_prints_the_boards_output(tmp_path, capfd):
    from upyflow_tools.vboard import VirtualBoard

    script = tmp_path / "hello.py"
    script.write_text("import sys\nprint('board says', 6 * 7, sys.implementation.name)\n")
    with VirtualBoard() as board:
        assert main(["run", str(script), "--port", board.port]) == 0
    assert "board says 42 micropython" in capfd.readouterr().out
