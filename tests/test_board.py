"""Board workflow on the virtual board (MicroPython unix port on a pty, 190 KB heap):
deploy with mpremote and ampy, then use the REPL over the serial port as a person would."""

from __future__ import annotations

import time

import numpy as np
import pytest

from harness import ROOT, bake_model, bmp_input, needs_micropython, run_tflm, shared
from upyflow_tools.cli import main
from upyflow_tools.deploy import Board

pytestmark = needs_micropython
SINE = ROOT / "examples" / "hello_world" / "sine_int8.tflite"


@pytest.fixture
def board():
    from upyflow_tools.vboard import VirtualBoard

    with VirtualBoard(heapsize="190K") as b:
        yield b


def repl(port: str, lines: list[str], timeout: float = 60) -> str:
    """Type lines at the friendly REPL over the serial port; return everything printed."""
    import serial

    with serial.Serial(port, 115200, timeout=0.1) as s:
        s.write(b"\r\x03\x02")  # interrupt, friendly REPL
        _read_until(s, b">>> ", timeout)
        out = b""
        for line in lines:
            s.write(line.encode() + b"\r")
            out += _read_until(s, b">>> ", timeout)
    return out.decode(errors="replace")


def _read_until(s, marker: bytes, timeout: float) -> bytes:
    data, end = b"", time.time() + timeout
    while not data.endswith(marker) and time.time() < end:
        data += s.read(4096)
    assert data.endswith(marker), data[-300:]
    return data


def sine_cases(qs):
    data = SINE.read_bytes()
    return {q: int(run_tflm(data, [np.array([[q]], np.int8)])[0].ravel()[0]) for q in qs}


def test_deploy_mpremote_and_repl_inference(board, tmp_path, capsys):
    mdir, name, _ = bake_model(SINE, tmp_path / "out", name="sine", mpy=True)
    assert main(["deploy", mdir, "--port", board.port]) == 0
    log = capsys.readouterr().out
    assert "lib/upyflow/model.mpy" in log and "sine.mpy" in log and "copied" in log
    # the natmod shipped in the package, nothing built
    assert "native module: %s" % (ROOT / "host_tools/upyflow_tools/natmods/x64/upyflow_native.mpy") in log
    # of the kernel family modules, only the one sine's kernels (FULLY_CONNECTED) are in
    assert "kernel family modules for the models: fc\n" in log
    assert "lib/upyflow_native_fc.mpy" in log and "upyflow_native_conv" not in log
    want = sine_cases([-128, -60, 0, 77, 127])
    text = repl(
        board.port,
        ["import upyflow", "m = upyflow.load('sine')", "print('TIER', m.tier, m._steps is None)"]
        + ["print('OUT', %d, m.predict(bytes([%d]))[0])" % (q, q & 0xFF) for q in want],
    )
    got = {int(ln.split()[1]): int(ln.split()[2]) for ln in text.splitlines() if ln.startswith("OUT ")}
    assert {q: (v - 256 if v > 127 else v) for q, v in got.items()} == want
    assert "TIER native True" in text  # every op in C: the fc module registered
    # A second deploy finds everything on the board already.
    assert main(["deploy", mdir, "--port", board.port]) == 0
    assert "0 copied" in capsys.readouterr().out


def test_deploy_ampy_with_soft_resets(board, tmp_path, capsys):
    mdir, name, _ = bake_model(SINE, tmp_path / "out", name="sine", mpy=True)
    assert main(["deploy", mdir, "--port", board.port, "--tool", "ampy"]) == 0
    assert "sine.mpy" in capsys.readouterr().out
    assert board.resets > 0  # ampy soft-resets; the virtual board came back
    want = sine_cases([-100, 10, 120])
    out = Board(board.port, "ampy").exec(
        "import upyflow\nm = upyflow.load('sine')\n"
        + "".join("print('OUT', %d, m.predict(bytes([%d]))[0])\n" % (q, q & 0xFF) for q in want)
    )
    got = {int(ln.split()[1]): int(ln.split()[2]) for ln in out.splitlines() if ln.startswith("OUT ")}
    assert {q: (v - 256 if v > 127 else v) for q, v in got.items()} == want


PD_SCRIPT = """
import gc, upyflow
gc.collect()
before = gc.mem_alloc()
m = upyflow.load('person_detect')
gc.collect()
loaded = gc.mem_alloc()
for img in ('person.raw', 'no_person.raw'):
    with open(img, 'rb') as f:
        f.readinto(m.input_buffer(0))
    a = gc.mem_alloc()
    m.invoke()
    print('OUT', img, bytes(m.get_output(0)).hex(), gc.mem_alloc() - a)
print('HEAP', before, loaded, gc.mem_free(), m.tier)
"""


def _deploy_person_detect(board, tmp_path, weights: str) -> Board:
    path = shared("models/person_detect.tflite")
    outdir = tmp_path / "out"
    from upyflow_tools.bake import bake

    bake(str(path), str(outdir), name="person_detect", mpy=True, weights=weights)
    (outdir / "person_detect.py").unlink()  # deploy the .mpy, as users should
    for img in ("person", "no_person"):
        (outdir / (img + ".raw")).write_bytes(bmp_input(img + ".bmp").tobytes())
    assert main(["deploy", str(outdir), "--port", board.port]) == 0
    b = Board(board.port)
    for img in ("person", "no_person"):
        b.put(str(outdir / (img + ".raw")), "/" + img + ".raw")
    b.soft_reset()  # as a user would after copying files: a clean heap
    return b


def test_person_detect_weights_file_fits_190k_heap(board, tmp_path):
    b = _deploy_person_detect(board, tmp_path, "file")
    out = b.exec(PD_SCRIPT)
    data = shared("models/person_detect.tflite").read_bytes()
    rows = [ln.split() for ln in out.splitlines() if ln.startswith("OUT ")]
    assert len(rows) == 2
    for _, img, hexout, _alloc in rows:
        want = run_tflm(data, [bmp_input(img.replace(".raw", ".bmp"))])[0]
        assert bytes.fromhex(hexout) == want.tobytes()
    heap = [ln for ln in out.splitlines() if ln.startswith("HEAP")]
    print(heap)  # heap use on the board: before load, after load, free, tier


def test_person_detect_inline_from_filesystem_is_a_clear_memoryerror(board, tmp_path):
    b = _deploy_person_detect(board, tmp_path, "inline")
    from upyflow_tools import BakeError

    with pytest.raises(BakeError) as e:
        b.exec("import upyflow\nm = upyflow.load('person_detect')\n")
    assert "MemoryError: not enough RAM to import baked model 'person_detect'" in str(e.value)
    assert "person_detect.mpy is" in str(e.value) and "--weights file" in str(e.value)
