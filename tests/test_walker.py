"""The C op-table walker (native_modules/src/walker.c) behind the native tier's invoke().

A malformed op record, tensor record, format or kernel map reaching it raises ValueError
(on CPython and under the MicroPython natmod), never crashes; streaming weights from
NAME.bin and ops the native table lacks (run in Python between walker runs) stay
bit-exact with TFLM, the oracle.
"""

from __future__ import annotations

import os
import struct
import subprocess

import numpy as np
import pytest

import upyflow
from harness import bake_model, mlp_int8, natmod_register, random_input, run_tflm, run_upyflow
from tflite_writer import ModelWriter
from upyflow.model import TENSOR_RECORD_SIZE, tensor_record
from upyflow_tools.emit import tensor_bytes
from upyflow_tools.runner import load_module
from upyflow_tools.unixport import DEVICE_LIB, micropython_exe, run_batch

try:
    import upyflow_native
except ImportError:
    upyflow_native = None
needs_native = pytest.mark.skipif(upyflow_native is None, reason="the C extension is not built")


def _mixed_f32() -> bytes:
    """float FC -> LOGISTIC (a kernel only the pure tier has) -> FC: Python runs between walker runs."""
    w = ModelWriter()
    rng = np.random.default_rng(8)
    x = w.tensor([1, 6], "float32")
    w1 = w.tensor([5, 6], "float32", data=rng.normal(size=(5, 6)))
    b1 = w.tensor([5], "float32", data=rng.normal(size=5))
    h = w.tensor([1, 5], "float32")
    s = w.tensor([1, 5], "float32")
    w2 = w.tensor([3, 5], "float32", data=rng.normal(size=(3, 5)))
    b2 = w.tensor([3], "float32", data=rng.normal(size=3))
    y = w.tensor([1, 3], "float32")
    w.op("FULLY_CONNECTED", [x, w1, b1], [h])
    w.op("LOGISTIC", [h], [s])
    w.op("FULLY_CONNECTED", [s, w2, b2], [y])
    return w.build([x], [y])


def _load_module(mdir, name):
    mod = load_module(os.path.join(mdir, name + ".py"))
    return mod


def _inputs(model_bytes: bytes, mod, count: int, seed: int) -> list[np.ndarray]:
    m = upyflow.Model(mod, "pure")
    rng = np.random.default_rng(seed)
    return [random_input(rng, m.input_dtype[0], m.input_shape[0]) for _ in range(count)]


def _assert_same(got, want, what):
    if want.dtype == np.float32:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


# --- bit-exact: streaming, and Python ops between walker runs --------------------------------
@needs_native
@pytest.mark.parametrize("weights", ["inline", "file"])
@pytest.mark.parametrize("build", [mlp_int8, _mixed_f32])
def test_walker_matches_tflm(tmp_path, weights, build):
    data = build()
    path = tmp_path / "m.tflite"
    path.write_bytes(data)
    mdir, name, _ = (
        bake_model(path, tmp_path / "out", name="walked", mpy=False)
        if weights == "inline"
        else _bake_file(path, tmp_path / "out")
    )
    mod = _load_module(mdir, name)
    m = upyflow.Model(mod, "native")
    assert m.tier == "native"
    # file mode: the walker calls back for a read before each layer, still one call per
    # invoke; the float model: LOGISTIC runs in Python, between walker runs (steps)
    assert (m._steps is None) == (build is mlp_int8)
    assert (m.invoke == m._prog) == (build is mlp_int8)
    pure = upyflow.Model(_load_module(mdir, name), "pure")
    for k, x in enumerate(_inputs(data, mod, 8, 11)):
        want = run_tflm(data, [x])[0]
        _assert_same(run_upyflow(m, [x])[0], want, "native %s input %d" % (weights, k))
        _assert_same(run_upyflow(pure, [x])[0], want, "pure %s input %d" % (weights, k))


def _bake_file(path, outdir):
    from upyflow_tools.bake import bake

    bake(str(path), str(outdir), name="walked", weights="file")
    return str(outdir), "walked", None


# --- malformed tables reaching the walker ----------------------------------------------------
def _tables(mod):
    """(tensors, ops, formats) as Model hands them to the walker."""
    return mod.TENSORS, mod.OPS, mod.OP_FORMATS


def _format(table, index):
    """(tensor count, "B"/"H", param kinds) of entry index of an OP_FORMATS table
    ([count][bytes per id][param count][kinds] per entry), read independently."""
    at = 0
    for _ in range(index):
        at += 3 + table[at + 2]
    return table[at], "B" if table[at + 1] == 1 else "H", table[at + 3 : at + 3 + table[at + 2]].decode()


def _corruptions(mod, index):
    """(label, tensors, ops, formats, kernel_map) per malformed case of the first op record."""
    tensors, ops, formats = _tables(mod)
    kmap = bytes(index(n) for n in mod.OP_KERNELS)
    nt, id_code, kinds = _format(formats, ops[1])
    assert ops[1] == 0  # the first record's format is the table's first entry (cases below)
    ids = struct.unpack_from("<%d%s" % (nt, id_code), ops, 2)
    out_id = ids[3]  # fully_connected_s8: x, w, bias, OUT, mult, shift
    f32 = index("fully_connected_f32")

    def rec(tid, field, value):  # field (0 kind, 1 offset, 2 nbytes) of tensor record tid set to value
        t = bytearray(tensors)
        fields = list(tensor_record(tensors, tid))
        fields[field] = value
        t[tid * TENSOR_RECORD_SIZE : (tid + 1) * TENSOR_RECORD_SIZE] = tensor_bytes(*fields)
        return bytes(t)

    def op(at, value, fmt_="<B"):
        o = bytearray(ops)
        struct.pack_into(fmt_, o, at, value)
        return bytes(o)

    first_param = 2 + struct.calcsize("<%d%s" % (nt, id_code))
    return [
        ("kernel byte past the map", tensors, op(0, 9), formats, kmap),
        ("kernel map 0xFF", tensors, ops, formats, b"\xff" + kmap[1:]),
        ("kernel map past the table", tensors, ops, formats, b"\xfa" + kmap[1:]),
        ("kernel with another signature", tensors, ops, formats, bytes([f32]) + kmap[1:]),
        ("format byte past the formats", tensors, op(1, 7), formats, kmap),
        ("record cut short", tensors, ops[: first_param + 3], formats, kmap),
        (
            "tensor id past the records",
            tensors,
            op(2, 0xFF if id_code == "B" else 0xFFFF, "<" + id_code),
            formats,
            kmap,
        ),
        ("tensor records cut short", tensors[: out_id * TENSOR_RECORD_SIZE + 5], ops, formats, kmap),
        # a tensor record: kind (where | dtype << 2), offset, nbytes
        ("offset past the arena", rec(out_id, 1, 0xFFFFF0), ops, formats, kmap),
        ("nbytes past the arena", rec(ids[0], 2, 1 << 18), ops, formats, kmap),
        ("unknown where", rec(ids[0], 0, 3), ops, formats, kmap),
        ("output in the constant weights", rec(out_id, 0, 1), ops, formats, kmap),
        ("float param where an int is wanted", tensors, ops, formats[:3] + b"f" + formats[4:], kmap),
        ("unknown param kind", tensors, ops, formats[:3] + b"q" + formats[4:], kmap),
        ("tensor ids of 3 bytes", tensors, ops, formats[:1] + b"\x03" + formats[2:], kmap),
        ("formats cut short", tensors, ops, formats[:1], kmap),
        ("more params than the formats hold", tensors, ops, formats[:2] + b"\x7f" + formats[3:], kmap),
        ("fewer tensors than the signature", tensors, ops, bytes([nt - 1]) + formats[1:], kmap),
        ("negative size parameter", tensors, op(first_param, -5, "<" + kinds[0]), formats, kmap),
    ]


@pytest.fixture(scope="module")
def mlp(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mlp")
    path = tmp / "mlp.tflite"
    path.write_bytes(mlp_int8())
    mdir, name, _ = bake_model(path, tmp / "out", name="mlp", mpy=True)
    return mdir, name


@needs_native
def test_malformed_tables_raise_on_cpython(mlp):
    mod = _load_module(*mlp)
    cases = _corruptions(mod, lambda n: upyflow_native.kernel_index(n) & 0xFF)
    arena = bytearray(mod.ARENA_SIZE)
    good = upyflow_native.program(
        *_tables(mod), bytes(upyflow_native.kernel_index(n) for n in mod.OP_KERNELS), arena, mod.WEIGHTS, None
    )
    upyflow_native.check(good, 0, -1)
    upyflow_native.run(good, 0, -1)
    for label, tensors, ops, formats, kmap in cases:
        prog = upyflow_native.program(tensors, ops, formats, kmap, arena, mod.WEIGHTS, None)
        # check() validates the records and the kernels' static checks (parameter ranges)
        for fn in (upyflow_native.check, upyflow_native.run):
            with pytest.raises(ValueError, match="op record at byte 0") as e:
                fn(prog, 0, -1)
            assert (
                "fully_connected_s8" in str(e.value) or "op (" in str(e.value) or "fully_connected_f32" in str(e.value)
            ), (label, str(e.value))


@needs_native
def test_malformed_module_refused_at_load(mlp):
    """Model.load runs the walker's check over every record: a bad module fails at load."""
    mod = _load_module(*mlp)
    o = bytearray(mod.OPS)
    o[2:4] = b"\xff\xff"  # first tensor id
    mod.OPS = bytes(o)
    with pytest.raises(ValueError, match="fully_connected_s8 .*malformed op record"):
        upyflow.Model(mod, "native")


_MPY_SCRIPT = (
    """
import sys
sys.path.insert(0, %(natmod)r)
import upyflow_native as u
"""
    + natmod_register()
    + """arena = bytearray(%(arena)d)
weights = %(weights)r
good = u.program(%(tensors)r, %(ops)r, %(formats)r, %(kmap)r, arena, weights, None)
u.check(good, 0, -1)
u.run(good, 0, -1)
print('GOOD')
for label, t, o, f, k in %(cases)r:
    p = u.program(t, o, f, k, arena, weights, None)
    for fn in (u.check, u.run):
        try:
            fn(p, 0, -1)
            print('NOERROR', label)
        except ValueError as e:
            print('VALUEERROR', label, e)
print('DONE')
"""
)


def test_malformed_tables_raise_on_natmod(mlp, natmod_dir, tmp_path):
    mod = _load_module(*mlp)
    # kernel indices as the natmod itself reports them
    proc = subprocess.run(
        [
            micropython_exe(),
            "-c",
            (
                "import sys\nsys.path.insert(0, %r)\nimport upyflow_native\n"
                + natmod_register("upyflow_native")
                + "print(' '.join(str(upyflow_native.kernel_index(n)) for n in %r))"
            )
            % (natmod_dir, tuple(mod.OP_KERNELS) + ("fully_connected_f32",)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = [int(v) for v in proc.stdout.split()]
    assert min(found) >= 0
    table = dict(zip(tuple(mod.OP_KERNELS) + ("fully_connected_f32",), found))
    cases = _corruptions(mod, lambda n: table[n])
    tensors, ops, formats = _tables(mod)
    script = tmp_path / "bad.py"
    script.write_text(
        _MPY_SCRIPT
        % dict(
            natmod=natmod_dir,
            arena=mod.ARENA_SIZE,
            weights=mod.WEIGHTS,
            tensors=tensors,
            ops=ops,
            formats=formats,
            kmap=bytes(table[n] for n in mod.OP_KERNELS),
            cases=cases,
        )
    )
    proc = subprocess.run(
        [micropython_exe(), "-X", "heapsize=2M", str(script)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "GOOD" and lines[-1] == "DONE", proc.stdout + proc.stderr
    errors = [ln for ln in lines if ln.startswith("VALUEERROR")]
    assert len(errors) == 2 * len(cases) and not [ln for ln in lines if ln.startswith("NOERROR")], proc.stdout
    assert all("op record at byte 0" in ln for ln in errors), proc.stdout


@pytest.mark.parametrize("build", [mlp_int8, _mixed_f32])
def test_natmod_streaming_matches_tflm(build, natmod_dir, tmp_path):
    """--weights file on the natmod: Python reads each layer, the walker runs it."""
    data = build()
    path = tmp_path / "m.tflite"
    path.write_bytes(data)
    from upyflow_tools.bake import bake

    bake(str(path), str(tmp_path / "out"), name="walked", weights="file", mpy=True)
    mod = _load_module(str(tmp_path / "out"), "walked")
    xs = _inputs(data, mod, 6, 5)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for suffix in (".mpy", ".bin"):
        (run_dir / ("walked" + suffix)).write_bytes((tmp_path / "out" / ("walked" + suffix)).read_bytes())
    outs, _ = run_batch(
        str(run_dir),
        "walked",
        [[x.tobytes()] for x in xs],
        heapsize="190K",
        env={"UPYFLOW_TIER": "native"},
        extra_paths=[natmod_dir],
    )
    for k, (x, got) in enumerate(zip(xs, outs)):
        want = run_tflm(data, [x])[0]
        _assert_same(np.frombuffer(got[0], want.dtype).reshape(want.shape), want, "natmod file input %d" % k)


_ALLOC = """
import sys, gc
sys.path.insert(0, %(lib)r)
sys.path.insert(0, %(natmod)r)
sys.path.insert(0, %(mod)r)
import upyflow


def measure(m, n):
    # locals only: a new global would grow the module's dict
    before = gc.mem_alloc()
    i = 0
    while i < n:
        m.invoke()
        i += 1
    return before, gc.mem_alloc()


m = upyflow.load('walked', 'native')
measure(m, 1)
gc.collect()
gc.disable()
r = measure(m, 100)
print('ALLOC', m.tier, 0 if m._steps is None else len(m._steps), r[0], r[1])
"""


@pytest.mark.parametrize("build", [mlp_int8, _mixed_f32])
def test_natmod_streaming_invoke_allocates(build, natmod_dir, tmp_path):
    """--weights file on the natmod: reading each layer and running the walker allocates
    nothing (the float model's pure LOGISTIC does, so only the int8 one must stay at 0)."""
    path = tmp_path / "m.tflite"
    path.write_bytes(build())
    from upyflow_tools.bake import bake

    bake(str(path), str(tmp_path / "out"), name="walked", weights="file", mpy=True)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for suffix in (".mpy", ".bin"):
        (run_dir / ("walked" + suffix)).write_bytes((tmp_path / "out" / ("walked" + suffix)).read_bytes())
    script = tmp_path / "alloc.py"
    script.write_text(_ALLOC % {"lib": DEVICE_LIB, "natmod": natmod_dir, "mod": str(run_dir)})
    proc = subprocess.run(
        [micropython_exe(), "-X", "heapsize=190K", str(script)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _, tier, steps, before, after = [ln for ln in proc.stdout.splitlines() if ln.startswith("ALLOC ")][-1].split()
    # int8: one walker call per invoke, which calls back to read each layer; the float
    # model: steps around its Python LOGISTIC, a read before each layer
    assert tier == "native" and (int(steps) == 0) == (build is mlp_int8)
    if build is mlp_int8:
        assert before == after, "gc.mem_alloc() grew over 100 streaming invokes: %s -> %s" % (before, after)


# --- --weights file: the segments the walker derives, and a damaged weight-buffer record ------
_READS_SCRIPT = (
    """
import sys
sys.path.insert(0, %(natmod)r)
import upyflow_native as u
"""
    + natmod_register()
    + """data = open(%(bin)r, 'rb').read()
wbuf = bytearray(%(wsize)d)
reads = []


def read(offset, n):
    reads.append((offset, n))
    wbuf[:n] = data[offset:offset + n]


arena = bytearray(%(arena)d)
for label, tensors in %(cases)r:
    reads = []
    p = u.program(tensors, %(ops)r, %(formats)r, %(kmap)r, arena, None, wbuf, read)
    try:
        p()
        print('NOERROR', label, reads)
    except ValueError as e:
        print('VALUEERROR', label, reads, e)
print('DONE')
"""
)


def _read_cases(mod) -> list[tuple[str, bytes]]:
    """(label, TENSORS) for an int8 MLP baked --weights file: the good table first, then one
    whose first weight-buffer tensor reaches past the weight buffer."""
    count = len(mod.TENSORS) // TENSOR_RECORD_SIZE
    tid = next(t for t in range(count) if tensor_record(mod.TENSORS, t)[0] & 3 == 2)
    kind, offset, _nbytes = tensor_record(mod.TENSORS, tid)
    over = bytearray(mod.TENSORS)
    over[tid * TENSOR_RECORD_SIZE : (tid + 1) * TENSOR_RECORD_SIZE] = tensor_bytes(kind, offset, mod.WEIGHT_BUFFER + 1)
    return [("good", mod.TENSORS), ("a tensor past the weight buffer", bytes(over))]


def _check_reads(lines: list[str], segments) -> None:
    """The walker reads each record's segment as the bake laid it out (segments: the bake's
    (offset, bytes) per record), and refuses a record reaching past the weight buffer."""
    assert lines[-1] == "DONE" and len(lines) == 3, lines
    want = [(off, n) for off, n in segments if n]
    assert len(want) >= 2 and lines[0] == "NOERROR good %r" % (want,), (lines, want)
    assert lines[1].startswith("VALUEERROR a tensor past the weight buffer"), lines
    assert "op record at byte" in lines[1] and "outside" in lines[1], lines


@pytest.fixture(scope="module")
def mlp_file(tmp_path_factory):
    from upyflow_tools.bake import bake

    tmp = tmp_path_factory.mktemp("mlpfile")
    path = tmp / "mlp.tflite"
    path.write_bytes(mlp_int8())
    result, _ = bake(str(path), str(tmp / "out"), name="mlpf", weights="file", mpy=True)
    return str(tmp / "out"), "mlpf", result.baked.segments


@needs_native
def test_weights_file_reads_on_cpython(mlp_file):
    mdir, name, segments = mlp_file
    mod = _load_module(mdir, name)
    data = open(os.path.join(mdir, mod.WEIGHTS_FILE), "rb").read()
    wbuf = bytearray(mod.WEIGHT_BUFFER)
    reads: list[tuple[int, int]] = []

    def read(offset, n):
        assert n <= len(wbuf)  # the walker never asks for more than the buffer holds
        reads.append((offset, n))
        wbuf[:n] = data[offset : offset + n]

    kmap = bytes(upyflow_native.kernel_index(n) for n in mod.OP_KERNELS)
    lines = []
    for label, tensors in _read_cases(mod):
        reads.clear()
        p = upyflow_native.program(tensors, mod.OPS, mod.OP_FORMATS, kmap, bytearray(mod.ARENA_SIZE), None, wbuf, read)
        try:
            p()
            lines.append("NOERROR %s %r" % (label, reads))
        except ValueError as e:
            lines.append("VALUEERROR %s %r %s" % (label, reads, e))
    _check_reads(lines + ["DONE"], segments)


def test_weights_file_reads_on_natmod(mlp_file, natmod_dir, tmp_path):
    mdir, name, segments = mlp_file
    mod = _load_module(mdir, name)
    proc = subprocess.run(
        [
            micropython_exe(),
            "-c",
            (
                "import sys\nsys.path.insert(0, %r)\nimport upyflow_native\n"
                + natmod_register("upyflow_native")
                + "print(' '.join(str(upyflow_native.kernel_index(n)) for n in %r))"
            )
            % (natmod_dir, tuple(mod.OP_KERNELS)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    kmap = bytes(int(v) for v in proc.stdout.split())
    script = tmp_path / "reads.py"
    script.write_text(
        _READS_SCRIPT
        % dict(
            natmod=natmod_dir,
            bin=os.path.join(mdir, mod.WEIGHTS_FILE),
            wsize=mod.WEIGHT_BUFFER,
            arena=mod.ARENA_SIZE,
            ops=mod.OPS,
            formats=mod.OP_FORMATS,
            kmap=kmap,
            cases=_read_cases(mod),
        )
    )
    proc = subprocess.run(
        [micropython_exe(), "-X", "heapsize=2M", str(script)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _check_reads(proc.stdout.splitlines(), segments)
