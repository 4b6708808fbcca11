"""The Cortex-M0+ requantization loop (mac8.h: uf_rq_m0 and its table) as ARMv6-M code
under unicorn, against TFLM's definitions (test_qmath's big-int references): edge
accumulators, multipliers and shifts, ties at both roundings, the rounding sum past
INT32_MAX, the clamp, and a multiplier uf_rq_m0_prepare refuses (the C path)."""
import random
import struct
import subprocess

import pytest
from test_qmath import MAX, MIN, _cases, c_int32, ref_mbqm

from upyflow_tools.isa.build import HARNESS, SRC, read_elf
from upyflow_tools.isa.targets import TARGETS, backend, unavailable

IO = TARGETS["armv6m"].data_addr
FIELDS = 7   # acc, bias, mult, shift, out_off, act_min, act_max
PROGRAM = r"""
#include "mac8.h"
#define IO ((int32_t *)0x%x)
int main(void) {
    int n = IO[0], block = IO[1];
    const int32_t *v = IO + 2;
    int8_t *out = (int8_t *)(IO + 2 + %d * n);
    uf_rq_m0_t t[8];
    int32_t b[8], m[8], s[8];
    for (int i = 0; i < n; i += block, v += %d * block) {
        // a block of channels sharing the clamp of its first case
        for (int j = 0; j < block; j++) {
            b[j] = v[%d * j + 1], m[j] = v[%d * j + 2], s[j] = v[%d * j + 3];
        }
        int32_t lim[3] = {v[4], v[5], v[6]};
        int ok = uf_rq_m0_prepare(t, block, b, m, s, 0);
        for (int j = 0; j < block; j++) {
            t[j].acc = v[%d * j];
        }
        uf_rq_m0_out(t, block, ok, lim, out + i, b, m, s, 0);
    }
    return 0;
}
"""


def _need():
    why = unavailable("armv6m")
    if why:
        pytest.skip(why)


def _run(tmp_path, cases, block):
    t = TARGETS["armv6m"]
    src = tmp_path / "rq.c"
    src.write_text(PROGRAM % ((IO,) + (FIELDS,) * 6))
    elf_path = tmp_path / "rq.elf"
    cmd = [t.cc, *t.cflags, "-Os", "-std=c99", "-ffreestanding", "-I", str(SRC), str(src),
           str(HARNESS / t.start), "-nostdlib", "-nostartfiles", "-T", str(HARNESS / t.ldscript),
           "-lgcc", "-o", str(elf_path)]
    subprocess.run(cmd, check=True, capture_output=True)
    elf = read_elf(elf_path)
    data = struct.pack("<2i", len(cases), block) + b"".join(struct.pack("<7i", *c) for c in cases)
    size = len(data) + len(cases)
    r = backend(t).execute(t, elf, [(IO, data)], [(IO, size)])
    assert r.fault is None, r.fault
    return list(struct.unpack("<%db" % len(cases), r.reads[0][len(data):]))


def _expect(acc, bias, m, s, off, lo, hi):
    v = c_int32(ref_mbqm(c_int32(acc + bias), m, s) + off)
    return max(lo, min(hi, v))


def test_requant_m0_edges(tmp_path):
    _need()
    rnd = random.Random(3)
    cases = []
    for x, m, s in _cases():
        if m == MIN:   # prepare refuses: covered by test_requant_m0_refused_multiplier
            continue
        bias = rnd.choice([0, 0, 1, -1, rnd.randint(-(1 << 20), 1 << 20)])
        off = rnd.randint(-128, 127)
        # mostly int8 clamps; some wide ones show the value itself
        lo, hi = rnd.choice([(-128, 127), (off, 127), (MIN, MAX), (-(1 << 20), 1 << 20)])
        cases.append((c_int32(x - bias), bias, m, s, off, lo, hi))
    # q near INT32_MAX with a right shift: q - (q < 0) + half passes INT32_MAX
    for s in (-1, -2, -7, -30, -31):
        for x in (MAX, MAX - 1, MAX - (1 << 20)):
            cases.append((x, 0, MAX, s, 0, MIN, MAX))
    n = len(cases) - len(cases) % 4
    got = _run(tmp_path, cases[:n], 1)
    want = [_expect(*c) for c in cases[:n]]
    # the byte stores keep the low 8 bits: compare those
    assert got == [c_int32(w) % 256 - 256 * (c_int32(w) % 256 > 127) for w in want]


def test_requant_m0_blocks(tmp_path):
    """Eight channels per call: the table walk and the output pointer."""
    _need()
    rnd = random.Random(5)
    cases = []
    for _ in range(8 * 40):
        s = rnd.randint(-12, 3)
        cases.append((rnd.randint(-(1 << 22), 1 << 22), rnd.randint(-5000, 5000),
                      rnd.randint(1 << 30, MAX), s, -5, -128, 127))
    for k in range(0, len(cases), 8):   # each block clamps as its first case says
        cases[k + 1:k + 8] = [c[:4] + cases[k][4:] for c in cases[k + 1:k + 8]]
    got = _run(tmp_path, cases, 8)
    assert got == [_expect(*c) for c in cases]


def test_requant_m0_refused_multiplier(tmp_path):
    """mult = INT32_MIN (no TFLM model has one): uf_rq_m0_prepare refuses, the C path
    requantizes, with the one saturating SRDHM case."""
    _need()
    cases = [(MIN, 0, MIN, 0, 0, MIN, MAX), (MIN, 0, MIN, -3, 0, MIN, MAX),
             (12345, 0, MIN, -2, 3, -128, 127), (-(1 << 30), 0, MIN, 0, 0, -128, 127)]
    got = _run(tmp_path, cases, 1)
    want = [_expect(*c) for c in cases]
    assert got == [c_int32(w) % 256 - 256 * (c_int32(w) % 256 > 127) for w in want]
