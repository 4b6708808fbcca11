"""The walker checks a Program's records and its kernels' static checks once (walker.c
uf_prepare), and at each run only what may have changed since: the values of constants
it cannot prove fixed (weights streamed from NAME.bin into the weight buffer, weights in
a writable buffer) and every check when the tables themselves are writable or a run starts
anywhere but at a record. Each case changes what a run reads between two runs and expects
the second to refuse it (ValueError), on CPython and under the MicroPython natmod.
"""

from __future__ import annotations

import struct
import subprocess
import sys

import pytest

from harness import mlp_int8, natmod_register
from upyflow.model import TENSOR_RECORD_SIZE, tensor_record
from upyflow_tools.bake import bake
from upyflow_tools.emit import tensor_bytes
from upyflow_tools.runner import load_module
from upyflow_tools.unixport import micropython_exe

try:
    import upyflow_native
except ImportError:
    upyflow_native = None

_SCRIPT = (
    """
import sys
if %(natmod)r:
    sys.path.insert(0, %(natmod)r)
import upyflow_native as u
"""
    + natmod_register()
    + """

def attempt(label, fn, *args):
    try:
        fn(*args)
        print('OK', label)
    except ValueError as e:
        print('VALUEERROR', label, e)


def kmap(names):
    return bytes([u.kernel_index(n) & 0xFF for n in names])


THIRTY_ONE = bytes([31, 0, 0, 0])   # a requantization shift outside [-31, 30]

# inline weights in a writable buffer: the FC's shifts are checked at each run
w = bytearray(%(weights)r)
p = u.program(%(tensors)r, %(ops)r, %(formats)r, kmap(%(kernels)r), bytearray(%(arena)d), w, None)
attempt('writable weights: check', u.check, p, 0, -1)
attempt('writable weights: first run', p)
good = w[%(shift_at)d:%(shift_at)d + 4]
w[%(shift_at)d:%(shift_at)d + 4] = THIRTY_ONE
attempt('writable weights: shift 31', p)
w[%(shift_at)d:%(shift_at)d + 4] = good
attempt('writable weights: restored', p)

# weights streamed from NAME.bin: what a read brings is checked after each read
data = bytearray(%(bin)r)
wbuf = bytearray(%(wbuf)d)


def read(offset, n):
    wbuf[:n] = data[offset:offset + n]


p = u.program(%(ftensors)r, %(fops)r, %(fformats)r, kmap(%(fkernels)r), bytearray(%(farena)d), None, wbuf, read)
attempt('weights file: check', u.check, p, 0, -1)
attempt('weights file: first invoke', p)
good = data[%(fshift_at)d:%(fshift_at)d + 4]
data[%(fshift_at)d:%(fshift_at)d + 4] = THIRTY_ONE
attempt('weights file: shift 31 in the file', p)
data[%(fshift_at)d:%(fshift_at)d + 4] = good
attempt('weights file: restored', p)

# tables in a writable buffer: every check at each run
ops = bytearray(%(ops)r)
p = u.program(%(tensors)r, ops, %(formats)r, kmap(%(kernels)r), bytearray(%(arena)d), %(weights)r, None)
attempt('writable ops: check', u.check, p, 0, -1)
attempt('writable ops: first run', p)
ops[%(batches_at)d] = 127
attempt('writable ops: batches 127', p)

# read-only tables naming the FC's output as its shifts: refused before any run (the
# shifts checked before the kernel would be overwritten by it)
p = u.program(%(tensors)r, %(aliased)r, %(formats)r, kmap(%(kernels)r), bytearray(%(arena)d), %(weights)r, None)
attempt('output as shifts: check', u.check, p, 0, -1)
attempt('output as shifts: run', p)

# read-only tables: a run from inside a record (whose bytes decode as another record)
# is checked, as the records it starts at were never prepared
copy = kmap(['copy_bytes'])
a = bytes([0, 0, 0, 0, 0, 0, 0, 0])   # copy_bytes(t0, t0, n=0); at 4: copy_bytes(t0, t0, n=b's first 4 bytes)
b = bytes([0, 0, 0, 1, 16, 0, 0, 0])  # copy_bytes(t0, t1, n=16)
p = u.program(%(ctensors)r, a + b, bytes([2, 1, 1, ord('i')]), copy, bytearray(32), None, None)
attempt('inner record: check', u.check, p, 0, -1)
attempt('inner record: run all', u.run, p, 0, -1)
attempt('inner record: run the second', u.run, p, 8, 1)
attempt('inner record: run from byte 4', u.run, p, 4, 1)
print('DONE')
"""
)

_OVERLAP = "a tensor record lies outside its buffer, or an output overlaps a constant"
_WANT = [
    ("OK", "writable weights: check"),
    ("OK", "writable weights: first run"),
    (
        "VALUEERROR",
        "writable weights: shift 31",
        "fully_connected_s8 (op record at byte 0): a parameter is out of range",
    ),
    ("OK", "writable weights: restored"),
    ("OK", "weights file: check"),
    ("OK", "weights file: first invoke"),
    (
        "VALUEERROR",
        "weights file: shift 31 in the file",
        "fully_connected_s8 (op record at byte 0): a parameter is out of range",
    ),
    ("OK", "weights file: restored"),
    ("OK", "writable ops: check"),
    ("OK", "writable ops: first run"),
    (
        "VALUEERROR",
        "writable ops: batches 127",
        "fully_connected_s8 (op record at byte 0): a tensor is shorter than its shape parameters need",
    ),
    ("VALUEERROR", "output as shifts: check", "fully_connected_s8 (op record at byte 0): " + _OVERLAP),
    ("VALUEERROR", "output as shifts: run", "fully_connected_s8 (op record at byte 0): " + _OVERLAP),
    ("OK", "inner record: check"),
    ("OK", "inner record: run all"),
    ("OK", "inner record: run the second"),
    ("VALUEERROR", "inner record: run from byte 4", "copy_bytes (op record at byte 4): a parameter is out of range"),
]


def _first_fc(mod):
    """(byte offset of its first parameter, its shift tensor's record, OPS with its shift id
    replaced by its output's) of the first op record, a fully_connected_s8 (x, w, bias, OUT,
    mult, SHIFT; batches first), read independently."""
    assert mod.OP_KERNELS[mod.OPS[0]] == "fully_connected_s8" and mod.OPS[1] == 0
    nt, id_size = mod.OP_FORMATS[0], mod.OP_FORMATS[1]
    fmt = "<%d%s" % (nt, "B" if id_size == 1 else "H")
    ids = struct.unpack_from(fmt, mod.OPS, 2)
    assert nt == 6 and chr(mod.OP_FORMATS[3]) == "b"
    aliased = bytearray(mod.OPS)
    struct.pack_into(fmt, aliased, 2, *(ids[:5] + (ids[3],)))
    return 2 + nt * id_size, tensor_record(mod.TENSORS, ids[5]), bytes(aliased)


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    """The script's text, but for the natmod path: an int8 MLP baked inline and --weights file."""
    tmp = tmp_path_factory.mktemp("once")
    path = tmp / "mlp.tflite"
    path.write_bytes(mlp_int8())
    bake(str(path), str(tmp / "inline"), name="mlp")
    bake(str(path), str(tmp / "file"), name="mlpf", weights="file")
    mod = load_module(str(tmp / "inline" / "mlp.py"))
    fmod = load_module(str(tmp / "file" / "mlpf.py"))
    batches_at, (kind, shift_at, nbytes), aliased = _first_fc(mod)
    assert kind & 3 == 1 and nbytes >= 4  # the shifts in WEIGHTS
    _, (fkind, fshift_at, fnbytes), _ = _first_fc(fmod)
    # in the weight buffer, which the first record's segment fills from byte 0 of NAME.bin
    assert fkind & 3 == 2 and fnbytes >= 4
    fields = dict(
        weights=mod.WEIGHTS,
        tensors=mod.TENSORS,
        ops=mod.OPS,
        formats=mod.OP_FORMATS,
        kernels=tuple(mod.OP_KERNELS),
        arena=mod.ARENA_SIZE,
        shift_at=shift_at,
        batches_at=batches_at,
        aliased=aliased,
        bin=(tmp / "file" / fmod.WEIGHTS_FILE).read_bytes(),
        wbuf=fmod.WEIGHT_BUFFER,
        ftensors=fmod.TENSORS,
        fops=fmod.OPS,
        fformats=fmod.OP_FORMATS,
        fkernels=tuple(fmod.OP_KERNELS),
        farena=fmod.ARENA_SIZE,
        fshift_at=fshift_at,
        ctensors=tensor_bytes(0, 0, 16) + tensor_bytes(0, 16, 16),
    )
    assert len(fields["ctensors"]) == 2 * TENSOR_RECORD_SIZE
    return lambda natmod: _SCRIPT % dict(fields, natmod=natmod)


def _check(out: str) -> None:
    lines = out.splitlines()
    assert lines and lines[-1] == "DONE", out
    got = [tuple(ln.split(" ", 1)) for ln in lines[:-1]]
    assert len(got) == len(_WANT), out
    for (status, rest), want in zip(got, _WANT):
        assert status == want[0] and rest.startswith(want[1]), (rest, want)
        if status == "VALUEERROR":
            assert rest == "%s %s" % (want[1], want[2]), rest


@pytest.mark.skipif(upyflow_native is None, reason="the C extension is not built")
def test_changes_between_runs_are_checked_on_cpython(script, tmp_path):
    path = tmp_path / "once.py"
    path.write_text(script(""))
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _check(proc.stdout)


def test_changes_between_runs_are_checked_on_natmod(script, natmod_dir, tmp_path):
    path = tmp_path / "once.py"
    path.write_text(script(natmod_dir))
    proc = subprocess.run(
        [micropython_exe(), "-X", "heapsize=2M", str(path)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _check(proc.stdout)


_FUZZ = """
import random
import upyflow_native as u
from upyflow_tools.runner import load_module

mod = load_module(%(path)r)
rng = random.Random(%(seed)d)
kmap = bytes(u.kernel_index(k) & 0xFF for k in mod.OP_KERNELS)
tabs = [mod.TENSORS, mod.OPS, mod.OP_FORMATS, kmap]
ran = refused = 0
for i in range(%(n)d):
    t = [bytearray(x) for x in tabs]
    for _ in range(rng.randint(1, 4)):
        which = rng.choice([0, 1, 1, 1, 2])
        at = rng.randrange(len(t[which]))
        t[which][at] = rng.choice([rng.randrange(256), t[which][at] ^ (1 << rng.randrange(8)), 0, 255, 127, 128])
    p = u.program(*map(bytes, t), bytearray(mod.ARENA_SIZE), mod.WEIGHTS, None)
    for call in (lambda: u.check(p, 0, -1), p, lambda: u.run(p, rng.randrange(len(t[1]) + 1), rng.randint(-1, 3)), p):
        try:
            call()
            ran += 1
        except ValueError:
            refused += 1
print("DONE", ran, refused)
"""


@pytest.mark.skipif(upyflow_native is None, reason="the C extension is not built")
def test_mutated_tables_run_or_refuse(tmp_path):
    """Random byte changes of a baked int8 MLP's read-only tables (so the walker prepares the
    Program and runs it without the checks it ran once): every check, invoke and run from any
    byte is refused or runs, never crashes (under tests/sanitize.py: no stray access)."""
    path = tmp_path / "mlp.tflite"
    path.write_bytes(mlp_int8())
    bake(str(path), str(tmp_path / "out"), name="fz")
    script = tmp_path / "fuzz.py"
    script.write_text(_FUZZ % dict(path=str(tmp_path / "out" / "fz.py"), seed=20261203, n=600))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    _, ran, refused = proc.stdout.split()
    assert int(ran) > 0 and int(refused) > 0, proc.stdout  # both outcomes were exercised
