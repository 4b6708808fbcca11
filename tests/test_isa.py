"""The C kernels as the boards' machine code: every shared model, compiled for Cortex-M0+
(armv6m), Cortex-M4F (armv7em + FPv4-SP hard float) and RV32IMC, run under unicorn by the
bare-metal harness (native_modules/baremetal, upyflow_tools.isa), byte-identical to TFLM,
with the weights and op tables at aligned and deliberately unaligned addresses (the
emulator then faults every read a board would fault)."""

from __future__ import annotations

import struct
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from harness import random_input, shared
from op_models import OP_CASES, blocked_layer_model
from upyflow_tools.bake import compile_model
from upyflow_tools.emit import DTYPE_CODES, module_tensor
from upyflow_tools.isa import TARGETS, IsaModel, module_from_baked, unavailable
from upyflow_tools.isa.runner import IsaError
from upyflow_tools.tflm import interpreter

ARCHES = list(TARGETS)
SMALL = [
    "hello_world_int8",
    "hello_world_float",
    "microflow_sine",
    "micro_speech_quantized",
    "keyword_scrambled",
    "keyword_scrambled_8bit",
    "trained_lstm_int8",
    "dtln_noise_suppression",
    "audio_preprocessor_int8",
    "keras_cnn_int8",
    "keras_kws_stream_int8",
]
# the project's own models (tests/models), beside ../shared's
LOCAL = {
    m: Path(__file__).resolve().parent / "models" / (m + ".tflite") for m in ("keras_cnn_int8", "keras_kws_stream_int8")
}
CODE_DTYPE = {v: k for k, v in DTYPE_CODES.items()}
# ~50-90 M instructions per invoke: one invoke, unaligned on every arch, aligned on one
# (about 10 s of CPU each with the alignment check), to keep the file within minutes.
BIG = {"person_detect": "armv6m", "micro_speech_lstm": "armv7emsp"}
# Each arch gets its own odd offset, so the three cover 1, 2 and 3 mod 4.
MISALIGN = {"armv6m": 1, "armv7emsp": 2, "rv32imc": 3}
INVOKES = 2  # consecutive invokes: the state of SVDF/LSTM models carries over
# The C stack an invoke may take (walker and kernels, measured on a painted stack). An
# RP2040's MicroPython has 8 KB of C stack (ports/rp2's linker script: scratch X and Y),
# and its interpreter is about 1.2-1.6 KB deep at a method call two levels into a script
# (micropython.stack_use() on the 32-bit and 64-bit unix ports): 5.5 KB leaves a margin.
STACK_BUDGET = 5632


def _cases():
    for model in SMALL + list(BIG):
        for arch in ARCHES:
            if model not in BIG or BIG[model] == arch:
                yield pytest.param(model, arch, 0, id="%s-%s-aligned" % (model, arch))
            yield pytest.param(model, arch, MISALIGN[arch], id="%s-%s-plus%d" % (model, arch, MISALIGN[arch]))


@pytest.fixture(scope="module")
def baked():
    cache = {}

    def get(model):
        if model not in cache:
            path = LOCAL.get(model) or shared("models/%s.tflite" % model)
            cache[model] = (path.read_bytes(), module_from_baked(compile_model(str(path), model), model))
        return cache[model]

    return get


def _need(arch):
    why = unavailable(arch)
    if why:
        pytest.skip(why)


def model_inputs(mod, rng):
    out = []
    for tid, shape in zip(mod.INPUTS, mod.INPUT_SHAPES):
        dtype = CODE_DTYPE[DTYPE_CODES[module_tensor(mod, tid)[1]]]
        lo, hi = (0.0, 2 * np.pi) if mod.NAME in ("hello_world_float",) else (-1.0, 1.0)
        out.append(random_input(rng, dtype, shape, lo, hi))
    return out


def audio_inputs(n):
    """n consecutive 30 ms windows (10 ms hop) of a 16 kHz clip: the front end's state
    (the spectral subtraction's noise estimate) carries over between them."""
    with wave.open(str(shared("testdata/yes_1000ms.wav"))) as w:
        samples = np.frombuffer(w.readframes(w.getnframes()), np.int16)
    return [[samples[i * 320 + 6400 : i * 320 + 6400 + 480].reshape(1, 480)] for i in range(n)]


def person_input():
    raw = shared("testdata/person.bmp").read_bytes()
    pixels = np.frombuffer(raw[1078 : 1078 + 96 * 96], np.uint8).reshape(96, 96)[::-1]
    return pixels.view(np.int8).reshape(1, 96, 96, 1)


@pytest.mark.parametrize("model,arch,misalign", list(_cases()))
def test_model_on_isa(baked, model, arch, misalign):
    _need(arch)
    data, mod = baked(model)
    m = IsaModel(mod, arch, misalign)
    assert m.weights_addr % 4 == misalign
    tflm = interpreter(data)
    rng = np.random.default_rng(1234)
    if model == "person_detect":
        runs = [[person_input()]]
    elif model == "audio_preprocessor_int8":
        runs = audio_inputs(INVOKES)
    else:
        runs = [model_inputs(mod, rng) for _ in range(1 if model in BIG else INVOKES)]
    start = time.process_time()
    for inputs in runs:
        got = m.invoke([np.ascontiguousarray(x).tobytes() for x in inputs])
        for i, x in enumerate(inputs):
            tflm.set_input(x, i)
        tflm.invoke()
        for k, g in enumerate(got):
            want = np.array(tflm.get_output(k))
            g = np.frombuffer(g, want.dtype).reshape(want.shape)
            if want.dtype == np.float32:
                np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-6)
            else:
                np.testing.assert_array_equal(g, want)
    # every op ran as the ISA's code: none fell back to the host's pure kernels
    assert not m.host_ops, "kernels without C: %s" % sorted(m.host_ops)
    assert 0 < m.result.stack_peak <= STACK_BUDGET, "%d B of C stack" % m.result.stack_peak
    print("%s %s +%d: %d invokes, %.1f s CPU" % (model, arch, misalign, len(runs), time.process_time() - start))


@pytest.mark.parametrize("arch", ARCHES)
def test_unknown_kernel_is_reported(baked, arch):
    _need(arch)
    _, mod = baked("hello_world_int8")
    bad = type(mod)("bad")
    bad.__dict__.update(mod.__dict__)
    bad.OP_KERNELS = ("no_such_kernel",) + tuple(mod.OP_KERNELS[1:])
    with pytest.raises(IsaError, match="no_such_kernel"):
        IsaModel(bad, arch).invoke([bytes(1)])


@pytest.mark.parametrize("arch", ARCHES)
def test_counts_instructions(baked, arch):
    _need(arch)
    _, mod = baked("hello_world_int8")
    m = IsaModel(mod, arch)
    m.invoke([bytes(1)], count=True)
    r = m.result
    assert r.instructions > 100 and r.cycles >= r.instructions
    assert sum(r.classes.values()) == r.instructions
    # every cycle goes to the function its block starts in (bench_isa --functions)
    assert sum(r.by_function.values()) == r.cycles
    assert r.by_function["uf_fully_connected_s8"] > 0


# The emulator itself does not fault on unaligned accesses (unicorn: Cortex-M0 LDR,
# Cortex-M4 LDRD/LDM and RV32 LW all just load); the runner's read hook must fault
# exactly where the board does. Tiny hand-assembled programs read [r1] / 0(a1).
ARM_PROGRAMS = {  # thumb encodings, then bkpt
    "ldr": b"\x08\x68",
    "ldrh": b"\x08\x88",
    "ldrb": b"\x08\x78",
    "ldrd": b"\xd1\xe9\x00\x23",
    "ldm": b"\x91\xe8\x0c\x00",
}


@pytest.mark.parametrize(
    "arch,insn,faults",
    [
        ("armv6m", "ldr", True),
        ("armv6m", "ldrh", True),
        ("armv6m", "ldrb", False),
        ("armv7emsp", "ldr", False),
        ("armv7emsp", "ldrh", False),
        ("armv7emsp", "ldrd", True),
        ("armv7emsp", "ldm", True),
        ("rv32imc", "lw", True),
        ("rv32imc", "lbu", False),
    ],
)
def test_unaligned_reads_fault_as_on_the_board(arch, insn, faults):
    from upyflow_tools.isa.build import Elf
    from upyflow_tools.isa.targets import backend

    t = TARGETS[arch]
    why = backend(t).available()  # no cross compiler needed: the program is hand-made
    if why:
        pytest.skip(why)
    data = t.weights_addr
    if t.backend == "arm":
        code_at = 0x1000
        code = ARM_PROGRAMS[insn] + b"\x00\xbe"  # then bkpt
        entry, halt, regs = code_at | 1, code_at + len(code) - 2, {"r1": data + 1}
    else:
        code_at = 0x80000000
        code = struct.pack("<II", {"lw": 0x0005A503, "lbu": 0x0005C503}[insn], 0x00100073)
        entry, halt, regs = code_at, code_at + 4, {"a1": data + 1}  # lw/lbu a0, 0(a1); ebreak
    elf = Elf(None, entry, {"uf_halt": halt, "uf_fault": 0, "__stack_top": t.desc_addr}, [(code_at, code)])
    r = backend(t).execute(t, elf, [(data, bytes(range(16)))], [], check=[(data, 16)], regs=regs)
    assert (r.fault is not None and "unaligned" in r.fault) == faults, r.fault


def _hand_made(arch, code, regs, readonly=False, halt_at=None):
    """Run a tiny program (Thumb or RV32, halting at byte halt_at: its bkpt / ebreak, by
    default the last instruction) at the backend's code address with `regs` (a callable
    value: of the code address); the 16 bytes 0..15 at the weights' address are checked
    as the constants are. The result and the address of 4 bytes of RAM it reads back."""
    from upyflow_tools.isa.build import Elf
    from upyflow_tools.isa.targets import backend

    t = TARGETS[arch]
    why = backend(t).available()  # no cross compiler needed
    if why:
        pytest.skip(why)
    code_at = 0x1000 if t.backend == "arm" else 0x80000000
    entry = code_at | 1 if t.backend == "arm" else code_at
    halt = code_at + (len(code) - (2 if t.backend == "arm" else 4) if halt_at is None else halt_at)
    regs = {k: (v(code_at) if callable(v) else v) for k, v in regs.items()}
    elf = Elf(
        None,
        entry,
        {"uf_halt": halt, "uf_fault": 0, "__stack_top": t.desc_addr},
        [(code_at, code)],
        [(code_at, len(code))] if readonly else [],
    )
    out = t.desc_addr - 0x100  # harness RAM
    return backend(t).execute(
        t,
        elf,
        [(t.weights_addr, bytes(range(16)))],
        [(out, 4)],
        check=[(t.weights_addr, 16)],
        regs={**regs, "sp": t.desc_addr},
    ), out


def test_checked_read_in_an_it_block():
    """unicorn 2.1.4 leaves a Thumb-2 IT block's state behind when a memory hook (the
    alignment check) fires on its first load and a branch ends the translation block
    there: the caller's next instructions ran under the IT's conditions (int8 MUL with a
    constant operand lost its output pointer on the Cortex-M4F). This is uf_ld_q's
    `ite eq; ldrsbeq; ldrshne; bx lr`, then two moves and a store of the second."""
    code = (
        b"\x00\xf0\x04\xf8"  # bl ld
        b"\x05\x23\x07\x24"  # movs r3, #5; movs r4, #7
        b"\x2c\x60\x00\xbe"  # str r4, [r5]; bkpt
        b"\x01\x2a\x0c\xbf"  # ld: cmp r2, #1; ite eq
        b"\x91\xf9\x00\x00\xb1\xf9\x00\x00"  # ldrsbeq r0, [r1]; ldrshne r0, [r1]
        b"\x70\x47"
    )  # bx lr
    t = TARGETS["armv7emsp"]
    r, _ = _hand_made("armv7emsp", code, {"r1": t.weights_addr + 3, "r2": 1, "r5": t.desc_addr - 0x100}, halt_at=10)
    assert r.fault is None, r.fault
    assert r.reads[0] == struct.pack("<I", 7)


@pytest.mark.parametrize("arch", ARCHES)
def test_stray_store_to_flash_faults(arch):
    """A store into the code's flash (e.g. through a null pointer: address 0 is the Arm
    vector table) faults instead of passing silently, as the board's flash would not
    change. str r0, [r1] / sw a0, 0(a1), at the program's own address."""
    if TARGETS[arch].backend == "arm":
        code, regs = b"\x08\x60\x00\xbe", {"r1": lambda at: at}
    else:
        code, regs = struct.pack("<II", 0x00A5A023, 0x00100073), {"a1": lambda at: at}
    r, _ = _hand_made(arch, code, regs, readonly=True)
    assert r.fault is not None and "WRITE_PROT" in r.fault, r.fault
    r, _ = _hand_made(arch, code, regs, readonly=False)  # the same program, writable
    assert r.fault is None, r.fault


@pytest.mark.parametrize("arch", ARCHES)
def test_harness_code_is_read_only(arch):
    """The built harness's code segment is mapped as flash (test_stray_store_to_flash_faults)."""
    _need(arch)
    from upyflow_tools.isa.build import build

    elf = build(TARGETS[arch])
    halt = elf.symbols["uf_halt"] & ~1
    assert any(a <= halt < a + n for a, n in elf.readonly)


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("case", OP_CASES, ids=lambda c: "%s-%dx%dx%d-%d" % (c[0], *c[1], c[2], c[3]))
def test_blocked_kernels_on_isa(tmp_path, case, arch):
    _need(arch)
    for hot, relu in ((False, False), (True, False), (False, True)):
        data, xshape = blocked_layer_model(case, hot, relu)
        path = tmp_path / "op.tflite"
        path.write_bytes(data)
        mod = module_from_baked(compile_model(str(path), "op"), "op")
        m = IsaModel(mod, arch, MISALIGN[arch] if hot else 0)
        tflm = interpreter(data)
        rng = np.random.default_rng(3)
        xs = [
            rng.integers(-128, 128, size=xshape, dtype=np.int8),
            np.full(xshape, -128, np.int8),
            np.full(xshape, 127, np.int8),
        ]
        for xv in xs:
            got = m.invoke([xv.tobytes()])[0]
            tflm.set_input(xv, 0)
            tflm.invoke()
            want = np.array(tflm.get_output(0))
            np.testing.assert_array_equal(np.frombuffer(got, np.int8).reshape(want.shape), want)
        assert not m.host_ops
