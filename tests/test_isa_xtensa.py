"""The C kernels as Xtensa (ESP32 windowed ABI) machine code under QEMU, byte-identical to TFLM.

Built with Debian's LLVM 22 (clang, llc -mcpu=esp32, llvm-mc) and run on
qemu-system-xtensa's de233_fpu core (host_tools/upyflow_tools/isa/xtensa_qemu.py).
Skips when those tools or ../shared are missing. Instruction counts are printed
(pytest -s), never asserted.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("elftools")
from harness import bake_model, load_cpython, random_input, run_tflm, shared  # noqa: E402
from op_models import OP_CASES, blocked_layer_model  # noqa: E402
from upyflow_tools.isa import xtensa_qemu as xq  # noqa: E402
from upyflow_tools.runner import load_module

pytestmark = pytest.mark.skipif(
    bool(xq.missing_tools()),
    reason="needs " + ", ".join(xq.missing_tools()) + " (apt-get install clang-22 llvm-22 qemu-system-misc)",
)

# Every shared model (the C walker runs each end to end).
MODELS = [
    "hello_world_int8",
    "microflow_sine",
    "micro_speech_quantized",
    "hello_world_float",
    "person_detect",
    "micro_speech_lstm",
    "trained_lstm_int8",
    "dtln_noise_suppression",
    "keyword_scrambled",
    "keyword_scrambled_8bit",
    "audio_preprocessor_int8",
]
INVOKES = 3
UF_EALIGN = 2


@pytest.fixture(scope="module")
def elf(tmp_path_factory):
    return xq.build(tmp_path_factory.mktemp("xtensa_build"))


@pytest.fixture(scope="module")
def baked(tmp_path_factory):
    cache = {}

    def get(model):
        if model not in cache:
            path = shared("models/%s.tflite" % model)
            out = tmp_path_factory.mktemp(model)
            mdir, name, _ = bake_model(path, out, name=model)
            module = load_module(os.path.join(mdir, name + ".py"))
            cache[model] = (path.read_bytes(), module, load_cpython(mdir, name, "pure"))
        return cache[model]

    return get


def _inputs(m, seed=7):
    rng = np.random.default_rng(seed)
    dtype, shape = m.input_dtype[0], m.input_shape[0]
    lo, hi = (0.0, 2 * np.pi) if dtype == "f32" else (-1.0, 1.0)
    return [[random_input(rng, dtype, shape, lo, hi)] for _ in range(INVOKES)]


@pytest.mark.parametrize("misalign", [0, 1], ids=["weights_aligned", "weights_unaligned"])
@pytest.mark.parametrize("model", MODELS)
def test_model_bit_exact(elf, baked, model, misalign):
    data, module, m = baked(model)
    sets = _inputs(m)
    res = xq.run(module, [[x.tobytes() for x in s] for s in sets], weights_misalign=misalign, elf=elf)
    assert len(res.outputs) == INVOKES
    for inputs, outs in zip(sets, res.outputs):
        ref = run_tflm(data, inputs)
        assert [o for o in outs] == [r.tobytes() for r in ref]
    print(
        "\n%s xtensa instructions per invoke: %s (ESP32 with MUL32_HIGH, est.: %s)"
        % (model, res.icounts, res.esp32_estimate())
    )


def test_bad_descriptor_fails_cleanly(elf, baked):
    """A malformed op table is reported by the walker, not a crash or a hang."""
    _data, module, m = baked("hello_world_int8")
    mod = _Module(module)
    mod.OPS = bytes([0xEE]) + mod.OPS[1:]  # kernel index out of range
    with pytest.raises(xq.XtensaError, match="uf_run error"):
        xq.run(mod, [[bytes(m.input_buffer(0))]], elf=elf)


def test_instruction_mix_and_cycles(elf, baked):
    """The traced blocks of one invoke cover what ICOUNT counted (plus the window spill
    handlers it leaves out); the LX6 estimate charges at least a cycle per instruction,
    more for the taken branches, loads and multiplies every kernel has."""
    _data, module, m = baked("hello_world_int8")
    x = bytes(m.input_buffer(0))
    tr = xq.trace(module, [x], elf=elf)
    mix = tr.mix()
    n = xq.run(module, [[x]], elf=elf).icounts[0]
    assert n - 20 <= sum(mix.values()) < n + 5000
    assert mix["mull"] > 0 and mix["entry"] > 0 and sum(tr.taken.values()) > 0
    insns, cycles = xq.esp32_cycles(module, [x], elf=elf)
    assert abs(insns - n) < 5000 and cycles > insns + mix["mull"]


def test_cycles_by_function(elf, baked):
    """bench_isa --functions on xtensawin: every traced block's estimated cycles go to an ELF
    function (static functions and the asm kernels' local symbols too), a __muldi3 call's
    adjustment to its caller, and the functions add up to the invoke's estimate
    (Trace.cycles without __muldi3's blocks, each call site at the ESP32's MULL + MULSH)."""
    _data, module, m = baked("micro_speech_quantized")
    x = bytes(m.input_buffer(0))
    insns, cycles, by_function = xq.esp32_profile(module, [x], elf=elf)
    assert (insns, cycles) == xq.esp32_cycles(module, [x], elf=elf)
    tr = xq.trace(module, [x], elf=elf)
    syms = xq.symbols(elf)
    start = syms["__muldi3"]
    end = min(a for a in syms.values() if a > start)
    calls = tr.execs[start]
    assert calls > 0
    assert cycles == tr.cycles(skip=(start, end)) + calls * (4 - xq.MULDI3_SITE_CYCLES)
    assert sum(by_function.values()) == cycles
    assert "?" not in by_function and "__muldi3" not in by_function
    # the depthwise asm kernel and the C kernel's static helper: local symbols, not in the global map
    for name in ("uf_dw2s_xt", "depthwise_blocked"):
        assert by_function[name] > 0 and name not in syms
    assert by_function["uf_dw2s_xt"] >= sum(
        n * len(tr.blocks[pc]) for pc, n in tr.execs.items() if xq.function_of(xq.functions(elf), pc) == "uf_dw2s_xt"
    )


class _Module:
    def __init__(self, mod):
        self.__dict__.update({k: getattr(mod, k) for k in dir(mod) if k.isupper()})


@pytest.mark.parametrize("family", ["", "conv"])
def test_natmod_xtensawin_links(family, tmp_path):
    """`make ARCH=xtensawin` with LLVM: mpy_ld links the objects of the core natmod and of a
    kernel family's into a .mpy (not run: no ESP32 here)."""
    mpy_dir = os.environ.get("MPY_DIR")
    if not mpy_dir:
        pytest.skip("MPY_DIR not set: natmod build needs a MicroPython source tree")
    src = os.path.join(os.path.dirname(__file__), "..", "native_modules", "micropython")
    mod = "upyflow_native" + ("_" + family if family else "")
    p = subprocess.run(
        ["make", "-C", src, "ARCH=xtensawin", "MPY_DIR=" + os.path.abspath(mpy_dir), "PYTHON=" + sys.executable]
        + (["FAMILY=" + family] if family else []),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    mpy = open(os.path.join(src, "build", "xtensawin", mod + ".mpy"), "rb").read()
    assert mpy[0] == ord("M") and mpy[2] >> 2 == 10  # MP_NATIVE_ARCH_XTENSAWIN
    # Link again with mpy_ld's relocation log: every l32r it patched must load
    # the GOT/literal word it meant (llvm-mc's objects differ from GNU as's;
    # see baremetal/xtensa/mpy_ld_literals.py).
    import glob
    import re

    obj = os.path.join(src, "build", "xtensawin", "obj", mod)
    out = tmp_path / "check.mpy"
    p = subprocess.run(
        [
            sys.executable,
            os.path.join(mpy_dir, "tools", "mpy_ld.py"),
            "-vvv",
            "--arch",
            "xtensawin",
            "--qstrs",
            os.path.join(obj, mod + ".config.h"),
            "-o",
            str(out),
            *sorted(glob.glob(os.path.join(obj, "*.o"))),
        ],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr
    log = p.stdout + p.stderr
    data = out.read_bytes()
    size = int(re.search(r"text size:\s+(\d+)", log).group(1))
    rels = [
        (int(a, 16), int(b, 16)) for a, b in re.findall(r"\n\s+([0-9a-f]{8}) (?:LIT|GOT \S+) -> ([0-9a-f]{8})", log)
    ]
    assert len(rels) > 100

    def lands(text, off, addr):
        insn = text[off] | text[off + 1] << 8 | text[off + 2] << 16
        return insn & 0xF == 1 and ((off + 3) & ~3) + (((insn >> 8) - 0x10000) << 2) == addr

    # The text is stored after the qstr names; find it by its first relocations.
    start = next(s for s in range(len(data) - size) if all(lands(data[s : s + size], o, a) for o, a in rels[:16]))
    text = data[start : start + size]
    assert [r for r in rels if not lands(text, *r)] == []


RT_CHECK = r"""
#include <stdint.h>
#include <stdio.h>
#include <string.h>
float uf_divsf3_test(float, float);
long long uf_muldi3_test(long long, long long);
static uint64_t s = 88172645463325252ull;
static uint32_t rnd(void) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return (uint32_t)s; }
static uint32_t pick(void) {  /* normals, subnormals, huge, inf/NaN, zeros */
    uint32_t v = rnd();
    switch (rnd() % 6) {
    case 0: return v & 0x807fffffu;
    case 1: return v | 0x7f000000u;
    case 2: return (v & 0x80000000u) | 0x7f800000u | (rnd() % 2 ? 0 : v & 0x7fffffu);
    case 3: return v & 0x80000000u;
    default: return v;
    }
}
int main(void) {
    long bad = 0;
    for (long i = 0; i < 2000000; i++) {
        uint32_t a = pick(), b = pick(), uq, uw;
        float fa, fb, q, w;
        memcpy(&fa, &a, 4); memcpy(&fb, &b, 4);
        q = fa / fb; w = uf_divsf3_test(fa, fb);
        memcpy(&uq, &q, 4); memcpy(&uw, &w, 4);
        if (uq != uw && !(q != q && w != w)) bad++;
        uint64_t x = (uint64_t)rnd() << 32 | rnd(), y = (uint64_t)rnd() << 32 | rnd();
        if ((uint64_t)uf_muldi3_test((long long)x, (long long)y) != x * y) bad++;
    }
    printf("%ld\n", bad);
    return bad != 0;
}
"""


def test_runtime_helpers_match_host(tmp_path):
    """xtensa_rt.c's __divsf3 (correctly rounded) and __muldi3, compiled for the host,
    against the host's own float division (SSE: IEEE round to nearest) and multiply."""
    import shutil

    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no host C compiler")
    (tmp_path / "check.c").write_text(RT_CHECK)
    exe = tmp_path / "check"
    subprocess.run(
        [cc, "-O2", "-DUF_RT_HOST_TEST", "-o", str(exe), str(tmp_path / "check.c"), str(xq.XT / "xtensa_rt.c")],
        check=True,
    )
    p = subprocess.run([str(exe)], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.strip() == "0", p.stdout


@pytest.mark.parametrize("case", OP_CASES, ids=lambda c: "%s-%dx%dx%d-%d" % (c[0], *c[1], c[2], c[3]))
def test_blocked_kernels_on_xtensa(elf, tmp_path, case):
    """test_isa.py's single-layer edge cases of the register-blocked kernels (pixel pairs,
    channel tails, padding, left and right shifts, saturating inputs) as Xtensa code."""
    for hot in (False, True):
        data, xshape = blocked_layer_model(case, hot)
        path = tmp_path / ("op%d.tflite" % hot)
        path.write_bytes(data)
        mdir, name, _ = bake_model(path, tmp_path / ("op%d" % hot), name="op")
        module = load_module(os.path.join(mdir, name + ".py"))
        rng = np.random.default_rng(3)
        xs = [
            rng.integers(-128, 128, size=xshape, dtype=np.int8),
            np.full(xshape, -128, np.int8),
            np.full(xshape, 127, np.int8),
        ]
        res = xq.run(module, [[x.tobytes()] for x in xs], weights_misalign=1 if hot else 0, elf=elf)
        for x, outs in zip(xs, res.outputs):
            assert list(outs) == [r.tobytes() for r in run_tflm(data, [x])]
