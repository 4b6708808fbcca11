"""The command line as a user meets it: streaming `run`, and one-line errors (exit 2, no
traceback) for the mistakes people make."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from harness import ROOT, needs_micropython, shared
from upyflow_tools.cli import main

SINE = ROOT / "examples" / "hello_world" / "sine_int8.tflite"


def cli(*args: str, stdin=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "upyflow_tools.cli", *args], capture_output=True, text=True, timeout=120, input=stdin
    )


def one_line_error(proc: subprocess.CompletedProcess, *words: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [ln for ln in proc.stderr.splitlines() if "error" in ln]
    assert len(lines) == 1, proc.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def test_deploy_missing_folder_and_a_file_instead_of_a_folder(tmp_path):
    one_line_error(cli("deploy", str(tmp_path / "nosuchdir")), "no folder", "nosuchdir")
    f = tmp_path / "model.mpy"
    f.write_bytes(b"M")
    one_line_error(cli("deploy", str(f)), "is a file", "folder")


def test_run_missing_script():
    one_line_error(cli("run", "nosuch.py"), "no script nosuch.py")


def test_profile_viper_on_the_host():
    one_line_error(cli("profile", str(SINE), "--tier", "viper"), "viper", "MicroPython")


def test_unknown_march_is_refused_by_name(tmp_path):
    one_line_error(cli("bake", str(SINE), "-o", str(tmp_path), "--march", "esp32"), "esp32", "xtensawin")


def test_calibration_that_is_not_npy(tmp_path):
    txt = tmp_path / "data.txt"
    txt.write_text("0.1 0.2\n")
    model = ROOT / "examples" / "hello_world" / "sine_float.tflite"
    if not model.exists():
        model = SINE
    one_line_error(
        cli("bake", str(model), "-o", str(tmp_path), "--quantize", "int8", "--calibration", str(txt)),
        "not a .npy",
        "numpy.save",
    )


def test_missing_port_and_ampy_without_port(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("print(1)\n")
    one_line_error(cli("run", str(script), "--port", "/dev/ttyNOSUCH9"), "no serial port /dev/ttyNOSUCH9")
    one_line_error(cli("run", str(script), "--tool", "ampy"), "ampy needs a port")
    one_line_error(cli("deploy", str(tmp_path), "--port", "/dev/ttyNOSUCH9"), "no baked model")


def test_output_into_a_closed_pipe_is_quiet():
    # `upyflow ops | head -1`: the reader leaves after one line
    proc = subprocess.Popen(
        [sys.executable, "-m", "upyflow_tools.cli", "ops"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0
    )
    proc.stdout.read(10)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_help_texts_name_onnx_and_describe_every_command():
    for cmd in ("bake", "inspect", "profile"):
        assert ".onnx" in cli(cmd, "--help").stdout
    for cmd in ("repl", "ops", "run", "deploy", "freeze"):
        out = cli(cmd, "--help").stdout
        assert len(out.split("\n\n")[1].split()) > 5, out  # a description paragraph


@needs_micropython
def test_run_streams_output_while_the_script_runs(tmp_path):
    """The board prints READY and then waits for a file the host creates only after it has
    seen READY: with buffered output (the old behaviour) the script would never finish."""
    from upyflow_tools.vboard import VirtualBoard

    script = tmp_path / "wait.py"
    script.write_text(
        "import os, time\n"
        "print('READY')\n"
        "for _ in range(600):\n"
        "    try:\n"
        "        os.stat('go')\n"
        "        break\n"
        "    except OSError:\n"
        "        time.sleep(0.05)\n"
        "print('GOT GO')\n"
        "x = 1\n"
        "raise ValueError('boom %d' % x)\n"
    )
    with VirtualBoard() as board:
        proc = subprocess.Popen(
            [sys.executable, "-m", "upyflow_tools.cli", "run", str(script), "--port", board.port],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        first = proc.stdout.readline()
        while first and b"READY" not in first:
            first = proc.stdout.readline()
        assert b"READY" in first
        with open(os.path.join(board.root, "go"), "w") as f:
            f.write("1")
        rest = proc.stdout.read().decode()
        status = proc.wait(timeout=60)
    assert "GOT GO" in rest
    # the traceback arrives whole: file, line number of the raise, the exception
    assert "line 11" in rest and "ValueError: boom 1" in rest, rest
    assert "os.stat" not in rest  # the script is not echoed back
    assert status == 1  # the script raised


@needs_micropython
def test_run_output_before_an_exception_is_kept(tmp_path, capfd):
    from upyflow_tools.vboard import VirtualBoard

    script = tmp_path / "fail.py"
    script.write_text("print('first line')\nimport nosuchmodule\n")
    with VirtualBoard() as board:
        assert main(["run", str(script), "--port", board.port]) == 1
    out = capfd.readouterr().out
    assert "first line" in out and "nosuchmodule" in out and "line 2" in out


# --- inspect as a compatibility check ------------------------------------------------------
def _mixed_model(tmp_path) -> str:
    """An int8 FC (supported), then FLOOR (not an upyflow operator), then an FC with int16 bias
    on int8 input (a type upyflow does not run)."""
    import numpy as np

    from tflite_writer import ModelWriter

    w = ModelWriter()
    x = w.tensor([1, 6], "int8", 0.05, 3, name="audio in")
    wi = w.tensor([4, 6], "int8", 0.05, 0, data=np.arange(24).reshape(4, 6) % 7 - 3)
    bi = w.tensor([4], "int32", 0.0025, 0, data=np.zeros(4))
    h = w.tensor([1, 4], "float32", name="hidden")
    y = w.tensor([1, 4], "float32", name="floored")
    w.op("FULLY_CONNECTED", [x, wi, bi], [h])
    w.op("SIGN", [h], [y])
    path = tmp_path / "mixed.tflite"
    path.write_bytes(w.build([x], [y]))
    return str(path)


def test_inspect_marks_each_operator_and_names_io(tmp_path, capsys):
    path = _mixed_model(tmp_path)
    assert main(["inspect", path, "--no-tflm"]) == 1  # does not bake
    out = capsys.readouterr().out
    rows = [ln for ln in out.splitlines() if ln.strip()[:1] in ("\u2713", "\u2717")]
    assert len(rows) == 2
    assert rows[0].lstrip().startswith("\u2717") and "FULLY_CONNECTED" in rows[0] and "i8/i8/i32/f32" in rows[0]
    assert rows[1].lstrip().startswith("\u2717") and "SIGN" in rows[1] and "not supported" in rows[1]
    assert "audio in" in out and "scale 0.05  zero point 3" in out


def test_inspect_json_and_plot(tmp_path, capsys):
    import json

    path = str(SINE)
    png = tmp_path / "plan.png"
    assert main(["inspect", path, "--json", "--no-tflm", "--plot", str(png)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["bakes"] and [o["kind"] for o in info["ops"]] == ["FULLY_CONNECTED"] * 3
    assert all(o["supported"] and o["kernels"] == ["fully_connected_s8"] for o in info["ops"])
    # the sine model: one int8 input and output of one value, quantized as the file says
    import tflite

    m = tflite.Model.GetRootAsModel(SINE.read_bytes(), 0)
    sub = m.Subgraphs(0)
    t_in = sub.Tensors(sub.Inputs(0))
    (inp,), (outp,) = info["inputs"], info["outputs"]
    assert inp["dtype"] == "i8" and inp["shape"] == list(t_in.ShapeAsNumpy())
    assert inp["scale"] == pytest.approx(t_in.Quantization().Scale(0), rel=1e-6)
    assert inp["zero_point"] == t_in.Quantization().ZeroPoint(0)
    assert outp["bytes"] == 1 and len(info["snippet"]) == 2 and "upyflow.load('sine_int8')" in info["snippet"][0]
    # the plan covers the arena; every call is listed with its weight bytes
    assert max(p["offset"] + p["bytes"] for p in info["plan"]) <= info["arena_bytes"]
    assert sum(c["weight_bytes"] for c in info["calls"]) <= info["weights_bytes"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_inspect_without_tflm_says_how_to_get_its_figure(monkeypatch, capsys):
    import builtins

    real = builtins.__import__

    def no_tflm(name, *a, **k):
        if name.startswith("tflite_micro"):
            raise ImportError(name)
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_tflm)
    assert main(["inspect", str(SINE)]) == 0
    out = capsys.readouterr().out
    assert "pip install tflite-micro" in out and "?" not in out.split("arena:")[1]


# --- deploy: no .py left to shadow what it copies; models compiled for the board -------------
@needs_micropython
def test_deploy_compiles_py_models_and_removes_shadowing_py(tmp_path, capsys):
    from upyflow_tools.vboard import VirtualBoard

    out = tmp_path / "out"
    assert main(["bake", str(SINE), "-o", str(out), "--name", "sine"]) == 0  # no --mpy
    with VirtualBoard() as board:
        # as a mip install of the runtime would leave it: .py files where deploy puts .mpy
        os.makedirs(os.path.join(board.root, "lib", "upyflow"))
        shadow = os.path.join(board.root, "lib", "upyflow", "model.py")
        with open(shadow, "w") as f:
            f.write("raise ImportError('the stale .py runtime ran')\n")
        capsys.readouterr()
        assert main(["deploy", str(out), "--port", board.port, "--keep"]) == 0
        log = capsys.readouterr().out
        assert "sine.py: compiled to sine.mpy" in log
        assert os.path.exists(os.path.join(board.root, "sine.mpy"))
        assert not os.path.exists(os.path.join(board.root, "sine.py"))
        assert "warning: 1 .py file" in log and "/lib/upyflow/model.py" in log and os.path.exists(shadow)
        assert main(["deploy", str(out), "--port", board.port]) == 0
        log = capsys.readouterr().out
        assert "removed 1 .py file" in log and not os.path.exists(shadow)
        script = tmp_path / "use.py"
        script.write_text("import upyflow\nm = upyflow.load('sine')\nprint('OUT', m.predict(bytes([0]))[0])\n")
        proc = subprocess.run(
            [sys.executable, "-m", "upyflow_tools.cli", "run", str(script), "--port", board.port],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 0 and "OUT" in proc.stdout, proc.stdout + proc.stderr


@needs_micropython
def test_profile_on_the_board(tmp_path, capsys):
    """`upyflow profile MODEL --port`: every op timed on the (virtual) board, beside the host."""
    from upyflow_tools.bake import compile_model
    from upyflow_tools.vboard import VirtualBoard

    path = shared("models/micro_speech_quantized.tflite")
    kernels = [c.kernel for c in compile_model(str(path)).calls]
    with VirtualBoard() as board:
        assert main(["profile", str(path), "--port", board.port, "--reps", "2"]) == 0
    out = capsys.readouterr().out
    head, table = out.split("\n\n", 1)
    assert "on the board (native tier)" in head and "host (CPython" in head
    rows = [ln.split() for ln in table.splitlines()[1:] if ln.strip()]
    assert sorted(int(r[0]) for r in rows) == list(range(len(kernels)))
    assert all(r[1] == kernels[int(r[0])] for r in rows)
    board_us = [float(r[4]) for r in rows]
    assert board_us == sorted(board_us, reverse=True) and all(us >= 0 for us in board_us)


@needs_micropython
@pytest.mark.parametrize("tool", ["mpremote", "ampy"])
def test_board_errors_name_the_problem_not_the_script_or_a_temp_file(tool):
    from upyflow_tools import BakeError
    from upyflow_tools.deploy import Board
    from upyflow_tools.vboard import VirtualBoard

    code = "x = 'the script text'\nraise ValueError('boom ' + str(6 * 7))\n"
    with VirtualBoard() as board:
        with pytest.raises(BakeError) as e:
            Board(board.port, tool).exec(code)
    msg = str(e.value)
    assert "boom 42" in msg and "\n" not in msg
    assert "the script text" not in msg and "/tmp" not in msg and "tmp" not in msg.split("failed:")[1], msg
