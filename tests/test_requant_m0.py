"""The Cortex-M0+ asm of mac8.h as ARMv6-M code under unicorn, against references
written from TFLM's definitions (qmath_ref.py's big ints): the requantization loop
(uf_rq_m0 and its table) at edge accumulators, multipliers and shifts, ties at both
roundings, the rounding sum past INT32_MAX, the clamp, uf_rq1_m0's per-channel
floors and its int16-sum product, and a multiplier uf_rq_m0_prepare refuses (the C
path); and the packed two-pixel pointwise kernel with the extreme int8 products
(-128 * -128), against integer sums; and qmath.h's ARMv6-M uf_dot_s8_wrap loop (the
LSTM and SVDF dot products)."""

import random
import struct
import subprocess
from fractions import Fraction

import pytest
from qmath_ref import MAX, MIN, _cases, c_int32, ref_mbqm

from upyflow_tools.isa.build import HARNESS, SRC, read_elf
from upyflow_tools.isa.targets import TARGETS, backend, unavailable

IO = TARGETS["armv6m"].data_addr
FIELDS = 7  # acc, bias, mult, shift, out_off, act_min, act_max
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
        // uf_rq1_m0's table only where every sum is below 2^30 in magnitude (its callers'
        // int8 sums), else uf_rq_m0's (any int32 sum)
        int small = 1;
        for (int j = 0; j < block; j++) {
            small &= v[%d * j] >= -(1 << 30) && v[%d * j] <= (1 << 30);
        }
        int ok = uf_rq_m0_prepare(t, block, b, m, s, 0, small ? lim : 0);
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


_ELVES: dict = {}


def _elf(tmp_path, name, source, *extra):
    """The armv6m target and the ELF of a test program (source: C text) with the sources in
    extra, built against the harness (once per program and session: the cases share it)."""
    t = TARGETS["armv6m"]
    key = (source, *map(str, extra))
    if key in _ELVES:
        return t, _ELVES[key]
    src = tmp_path / (name + ".c")
    src.write_text(source)
    elf_path = tmp_path / (name + ".elf")
    cmd = [t.cc, *t.cflags, "-Os", "-std=c99", "-ffreestanding", "-fno-tree-loop-distribute-patterns", "-I", str(SRC)]
    cmd += [str(src), *map(str, extra), str(HARNESS / t.start), "-nostdlib", "-nostartfiles"]
    cmd += ["-T", str(HARNESS / t.ldscript), "-lgcc", "-o", str(elf_path)]
    subprocess.run(cmd, check=True, capture_output=True)
    _ELVES[key] = read_elf(elf_path)
    return t, _ELVES[key]


def _run(tmp_path, cases, block):
    t, elf = _elf(tmp_path, "rq", PROGRAM % ((IO,) + (FIELDS,) * 8))
    data = struct.pack("<2i", len(cases), block) + b"".join(struct.pack("<7i", *c) for c in cases)
    size = len(data) + len(cases)
    r = backend(t).execute(t, elf, [(IO, data)], [(IO, size)])
    assert r.fault is None, r.fault
    return list(struct.unpack("<%db" % len(cases), r.reads[0][len(data) :]))


def _expect(acc, bias, m, s, off, lo, hi):
    v = c_int32(ref_mbqm(c_int32(acc + bias), m, s) + off)
    return max(lo, min(hi, v))


def test_requant_m0_edges(tmp_path):
    _need()
    rnd = random.Random(3)
    cases = []
    for x, m, s in _cases():
        if m == MIN:  # prepare refuses: covered by test_requant_m0_refused_multiplier
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
        cases.append(
            (rnd.randint(-(1 << 22), 1 << 22), rnd.randint(-5000, 5000), rnd.randint(1 << 30, MAX), s, -5, -128, 127)
        )
    for k in range(0, len(cases), 8):  # each block clamps as its first case says
        cases[k + 1 : k + 8] = [c[:4] + cases[k][4:] for c in cases[k + 1 : k + 8]]
    got = _run(tmp_path, cases, 8)
    assert got == [_expect(*c) for c in cases]


def _first_above(m, s, off, lo, hi):
    """The smallest accumulator whose reference output is not lo (bisection over int32)."""
    a, b = MIN, MAX  # _expect(b) != lo or b = MAX
    if _expect(a, 0, m, s, off, lo, hi) != lo:
        return a
    while b - a > 1:
        mid = (a + b) // 2
        if _expect(mid, 0, m, s, off, lo, hi) == lo:
            a = mid
        else:
            b = mid
    return b


def test_requant_m0_floor(tmp_path):
    """uf_rq1_m0 stores act_min with no multiply below each channel's floor (from
    uf_rq_m0_prepare): every sum around the reference's last act_min, in every right
    shift the floor takes (1..15) and past it, clamps at and above out_off."""
    _need()
    rnd = random.Random(11)
    cases = []
    for _ in range(160):
        m = rnd.choice([1 << 30, MAX, rnd.randint(1 << 30, MAX), rnd.randint(1, 1 << 30)])
        s = -rnd.randint(1, 17)
        off = rnd.randint(-128, 127)
        lo, hi = rnd.choice([(-128, 127), (off, 127), (max(off, -128), max(off, -128)), (-128, -128)])
        edge = _first_above(m, s, off, lo, hi)
        bias = rnd.choice([0, rnd.randint(-(1 << 16), 1 << 16)])
        for x in [edge + d for d in range(-40, 6)] + [MIN, MIN + 1, edge - (1 << 12), MAX]:
            if MIN <= x <= MAX:
                cases.append((c_int32(x - bias), bias, m, s, off, lo, hi))
    got = _run(tmp_path, cases, 1)
    assert got == [_expect(*c) for c in cases]


def test_requant_m0_window(tmp_path):
    """uf_rq1_m0's table (every sum below 2^30): sums around the last act_min (the
    window's origin is a step or two below it), around origin + 2^15 (the two-MULS
    window's end, past it four MULS), around the first act_max and far past both,
    right shifts 1..13, multipliers at 2^30 and INT32_MAX, act_min above out_off."""
    _need()
    rnd = random.Random(17)
    cases = []
    for _ in range(120):
        m = rnd.choice([1 << 30, MAX, rnd.randint(1 << 30, MAX)])
        s = -rnd.randint(1, 13)
        off = rnd.randint(-128, 100)
        lo, hi = rnd.choice([(-128, 127), (off, 127), (off + rnd.randint(0, 3), off + 20), (max(off, -128), 127)])
        lo = max(lo, off)
        bias = rnd.choice([0, rnd.randint(-(1 << 20), 1 << 20)])
        edge = _first_above(m, s, off, lo, hi)
        top = _first_above(m, s, off, hi - 1, hi) if hi > lo else edge
        xs = [edge + d for d in range(-12, 4)] + [top + d for d in range(-3, 3)]
        step = max(1, (1 << -s) // 2)
        xs += [edge - k * step + d for k in (1, 2, 3) for d in (-1, 0, 1)]
        xs += [edge + (1 << 15) + d for d in range(-3 * step, 3 * step, max(1, step // 2))]
        xs += [edge + (1 << 16), edge + (1 << 20), -(1 << 30), (1 << 30) - 1]
        for x in xs:
            acc = x - bias
            if -(1 << 30) <= acc <= 1 << 30:
                cases.append((acc, bias, m, s, off, lo, hi))
    got = _run(tmp_path, cases, 1)
    assert got == [_expect(*c) for c in cases]


def test_requant_m0_int16_sums(tmp_path):
    """uf_rq1_m0's two-product path for sums that fit int16 and the four-product one
    past them: sums at and around +-2^15, every multiplier half extreme, wide clamps
    (the value itself shows)."""
    _need()
    rnd = random.Random(13)
    xs = [-(1 << 15) - 1, -(1 << 15), -(1 << 15) + 1, -2, -1, 0, 1, (1 << 15) - 2, (1 << 15) - 1, 1 << 15]
    ms = [0, 1, 0xFFFF, 0x10000, 1 << 30, MAX, 0x7FFF0000, 0x4000FFFF]
    cases = []
    for x in xs + [rnd.randint(-(1 << 15), (1 << 15) - 1) for _ in range(30)]:
        for m in ms + [rnd.randint(0, MAX)]:
            s = -rnd.randint(1, 31)
            bias = rnd.choice([0, rnd.randint(-100, 100)])
            cases.append((c_int32(x - bias), bias, m, s, rnd.randint(-128, 127), MIN, MAX))
    got = _run(tmp_path, cases, 1)
    want = [_expect(*c) for c in cases]
    assert got == [c_int32(w) % 256 - 256 * (c_int32(w) % 256 > 127) for w in want]


def test_requant_m0_refused_multiplier(tmp_path):
    """mult = INT32_MIN or any negative multiplier (no TFLM model has one; the asm
    multiplies by 2 * mult as unsigned): uf_rq_m0_prepare refuses, the C path
    requantizes, with the one saturating SRDHM case."""
    _need()
    cases = [
        (MIN, 0, MIN, 0, 0, MIN, MAX),
        (MIN, 0, MIN, -3, 0, MIN, MAX),
        (12345, 0, MIN, -2, 3, -128, 127),
        (-(1 << 30), 0, MIN, 0, 0, -128, 127),
        (1 << 20, 7, -(1 << 30), -9, 0, -128, 127),
        (-(1 << 20), 0, -1, 0, 0, MIN, MAX),
        (MAX, 0, MIN + 1, 1, 0, MIN, MAX),
        (-12345, 0, -1518500250, -4, 1, -128, 127),
    ]
    got = _run(tmp_path, cases, 1)
    want = [_expect(*c) for c in cases]
    assert got == [c_int32(w) % 256 - 256 * (c_int32(w) % 256 > 127) for w in want]


ENTRIES = r"""
#include "mac8.h"
#define IO ((int32_t *)0x%x)
int main(void) {
    int n = IO[0], block = IO[1];
    const int32_t *v = IO + 2;
    int32_t *o = IO + 2 + 6 * n;
    uf_rq_m0_t t[8];
    int32_t b[8], m[8], s[8];
    for (int i = 0; i < n; i += block, v += 6 * block, o += 1 + 5 * block) {
        for (int j = 0; j < block; j++) {
            b[j] = v[6 * j], m[j] = v[6 * j + 1], s[j] = v[6 * j + 2];
        }
        int ok = uf_rq_m0_prepare(t, block, b, m, s, 0, v + 3);
        o[0] = ok;
        for (int j = 0; j < block; j++) {
            o[1 + 5 * j] = t[j].bias, o[2 + 5 * j] = (int32_t)t[j].mult2;
            o[3 + 5 * j] = t[j].half, o[4 + 5 * j] = t[j].shifts, o[5 + 5 * j] = 0;
        }
    }
    return 0;
}
"""


def _entries(tmp_path, blocks):
    """uf_rq_m0_prepare's ok and entries {bias, mult2, half, shifts} for each block of
    (b, m, s) channels sharing lim = (out_off, act_min, act_max)."""
    t, elf = _elf(tmp_path, "entries", ENTRIES % IO)
    block = len(blocks[0][0])
    flat = [(b, m, s, *lim) for chans, lim in blocks for b, m, s in chans]
    data = struct.pack("<2i", len(flat), block) + b"".join(struct.pack("<6i", *c) for c in flat)
    size = len(data) + 4 * len(blocks) * (1 + 5 * block)
    r = backend(t).execute(t, elf, [(IO, data)], [(IO, size)])
    assert r.fault is None, r.fault
    words = struct.unpack("<%di" % (len(blocks) * (1 + 5 * block)), r.reads[0][len(data) :])
    out = []
    for k in range(len(blocks)):
        w = words[k * (1 + 5 * block) : (k + 1) * (1 + 5 * block)]
        out.append((w[0], [w[1 + 5 * j : 5 + 5 * j] for j in range(block)]))
    return out


def _rq1_entry(b, m, s, lim):
    """uf_rq1_m0's entry from its definition (mac8.h): K = 2^30 + 2^(30+r), D = 2^(31+r),
    lo = act_min - out_off; xs the smallest x with x m + K - lo D >= 0, F = xs - b, C = xs m
    + K - lo D; the last word 15 + r | T << 16, T = 2^min(15, r + floor(log2(R + 1))). None
    where the channel does not qualify (r in 1..13, m >= 2^30, |b| <= 2^30, lo D - K below
    2^44: lo < 2^(13 - r))."""
    off, amin, amax = lim
    r, lo = -s, amin - off
    if not (1 <= r <= 13 and m >= 1 << 30 and abs(b) <= 1 << 30 and 0 <= lo < 1 << (13 - r)):
        return None
    k, d = (1 << 30) + (1 << (30 + r)), 1 << (31 + r)
    xs = -((k - lo * d) // m)  # ceil((lo D - K) / m)
    assert xs * m + k - lo * d >= 0 > (xs - 1) * m + k - lo * d
    lg = min(15, (amax - amin + 1).bit_length() - 1)
    return [xs - b, c_int32(m), xs * m + k - lo * d, c_int32((15 + r) | 1 << (16 + min(15, r + lg)))]


def test_requant_m0_entries(tmp_path):
    """uf_rq_m0_prepare's uf_rq1_m0 entries (uf_rq1_m0_prep's Newton reciprocal, its
    estimate's corrections, the bound T it sets) against their definition, and what
    they mean: below F + b TFLM's output is act_min, from there act_min + min(R, (y m +
    C) >> (31 + r)) (y = x - xs). Multipliers at 2^30, 2^31 - 1 and at the reciprocal
    table's steps, right shifts 1..13 (and shifts that do not qualify: then uf_rq_m0's
    table, ok = 1), biases at +-2^30, act_min - out_off at its bound, ranges 0..2^16."""
    _need()
    rnd = random.Random(23)
    # (uf_rq1_m0_prep's reciprocal seed steps every 2^23 of m; its estimate's worst m)
    ms = [1 << 30, (1 << 30) + 1, MAX, MAX - 1, 0x7FFF8000, 0x40007FFF, 1078001663, 1090486272]
    ms += [((1 << 15) + 256 * k) << 15 for k in range(1, 128)] + [
        (((1 << 15) + 256 * k) << 15) - 1 for k in range(1, 128)
    ]
    ranges = [0, 1, 2, 3, 7, 127, 255, 256, (1 << 15) - 1, 1 << 15, (1 << 16) - 1, 1 << 16, 1 << 20]
    blocks = []
    for _ in range(400):
        r = rnd.randint(1, 13)
        off = rnd.randint(-(1 << 20), 100)
        lo = rnd.choice([0, 0, 0, 1, (1 << (13 - r)) - 1, rnd.randint(0, (1 << (13 - r)) - 1)])
        amin = off + lo
        amax = amin + rnd.choice(ranges + [rnd.randint(0, 300)])
        if amin > 1 << 20:
            continue
        chans = []
        for _ in range(4):
            m = rnd.choice(ms + [rnd.randint(1 << 30, MAX)] * 4)
            b = rnd.choice([0, 1, -1, 1 << 30, -(1 << 30), (1 << 30) - 1, rnd.randint(-(1 << 30), 1 << 30)])
            chans.append((b, m, rnd.choice([-r, -r, -rnd.randint(1, 13)])))
        blocks.append((chans, (off, amin, amax)))
    # the estimate's extreme a = lo 2^(r + 1) - 2^r - 1: 16377 (r = 1, lo = 4095), -8193 (r = 13, lo = 0)
    for r, lo in ((1, 4095), (13, 0), (2, 2047)):
        for k in range(0, len(ms) - 3, 4):
            blocks.append(([(rnd.randint(-5, 5), m, -r) for m in ms[k : k + 4]], (-100, -100 + lo, -100 + lo + 255)))
    # channels that do not qualify: uf_rq_m0's table (ok = 1) for the whole block
    for b, m, s, lo in [
        (0, (1 << 30) - 1, -5, 0),
        (0, 1 << 30, 0, 0),
        (0, 1 << 30, -14, 0),
        (0, 1 << 30, 3, 0),
        ((1 << 30) + 1, 1 << 30, -5, 0),
        (0, 1 << 30, -5, 1 << 8),
        (0, MAX, -1, 1 << 12),
        (0, 1 << 30, -13, 1 << 18),
        (0, MAX, -12, (1 << 20) - 1),
    ]:
        blocks.append(
            (
                [(7, MAX, -3), (b, m, s, lo)[:3], (-7, 1 << 30, -9), (1, 3 << 29, -1)],
                (-128, -128 + lo, max(127, lo - 128)),
            )
        )
    for lo in (1 << 18, 3 << 18):  # lo 2^(r + 1) past 2^32 (no wrap into the window)
        blocks.append(([(0, 1 << 30, -13), (5, MAX, -13), (0, 3 << 29, -13), (-1, 1 << 30, -13)], (-128, lo - 128, lo)))
    got = _entries(tmp_path, blocks)
    seen = set()
    for (chans, lim), (ok, entries) in zip(blocks, got):
        want = [_rq1_entry(b, m, s, lim) for b, m, s in chans]
        if all(want):
            assert ok == 2, (chans, lim)
            assert [list(e[:3]) + [e[3]] for e in entries] == [[w[0], w[1], c_int32(w[2]), w[3]] for w in want], (
                chans,
                lim,
            )
            seen.add("rq1")
            off, amin, amax = lim
            for (b, m, s), e in zip(chans, entries):
                xs, r = e[0] + b, -s
                for y in [-2, -1, 0, 1, 2, 3, rnd.randint(0, 1 << 15)]:
                    x = xs + y
                    if abs(x) > 1 << 30:
                        continue
                    want_out = _expect(x, 0, m, s, off, amin, amax)
                    floor = amin if y < 0 else amin + min(amax - amin, (y * m + (e[2] % (1 << 32))) >> (31 + r))
                    assert want_out == floor, (b, m, s, lim, y)
        else:
            assert ok == 1
            seen.add("rq")
            for (b, m, s), e in zip(chans, entries):
                right = max(0, -s)
                shifts = right | max(0, s) << 8 | (right == 0) << 16
                half = 1 << (right - 1) if right else 0
                assert list(e) == [b, c_int32(m << 1), half, shifts]
    assert seen == {"rq1", "rq"}


def test_requant_m0_prep_estimate_bound():
    """uf_rq1_m0_prep takes f = x m - a 2^30 mod 2^32 as C where it is below m, which is
    exact only if its estimate x is within one of xs: that needs |inv2 / 2^17 - 2^30 / m| *
    |a| < 1/2 for every m in [2^30, 2^31) and |a| < 16378. inv2 from the asm's seed table
    (read from mac8.h) and its one Newton step (products mod 2^32, arithmetic shifts); the
    extremes for each mm = m >> 15 are at its m's ends."""
    src = (SRC / "mac8.h").read_text()
    body = src[src.index('UF_M0_BEGIN("uf_rq1_m0_prep")') : src.index('UF_M0_END("uf_rq1_m0_prep")')]
    table = [
        int(v)
        for line in body.split("5:\\n")[1].splitlines()
        if ".word" in line
        for v in line.split(".word")[1].split("\\n")[0].split(",")
    ]
    assert len(table) == 128
    worst = Fraction(0)
    for mm in range(1 << 15, 1 << 16):
        inv = table[(mm - (1 << 15)) >> 8]
        e = c_int32(-(mm * inv)) >> 15
        inv2 = inv + (c_int32(e * inv) >> 17)
        assert 16377 * inv2 < 1 << 31  # a inv2 fits
        for m in (mm << 15, ((mm + 1) << 15) - 1):
            worst = max(worst, abs(Fraction(inv2, 1 << 17) - Fraction(1 << 30, m)))
    assert worst * 16377 < Fraction(1, 2)


CONV = r"""
#include <stdint.h>
void uf_conv2d_s8(const int8_t *x, const int8_t *w, const void *bias, int8_t *out,
                  const void *mult, const void *shift, int32_t *wtab, int in_h, int in_w, int in_c,
                  int out_h, int out_w, int out_c, int k_h, int k_w, int s_h, int s_w,
                  int d_h, int d_w, int pad_h, int pad_w, int in_off, int out_off,
                  int act_min, int act_max, int wtab_n, int w_min);
#define IO ((int32_t *)0x%x)
int main(void) {
    uint8_t *b = (uint8_t *)IO;
    int w_ = IO[0], c = IO[1], oc = IO[2], off = IO[3];
    uf_conv2d_s8((const int8_t *)(b + IO[4]), (const int8_t *)(b + IO[5]), b + IO[6],
                 (int8_t *)(b + IO[7]), b + IO[8], b + IO[9], (int32_t *)(b + IO[10]), 1, w_, c, 1, w_, oc,
                 1, 1, 1, 1, 1, 1, 0, 0, 0, off, -128, 127, IO[11], IO[12]);
    return 0;
}
"""


@pytest.mark.parametrize(
    "in_c,out_c,width,w_odd",
    [
        (32, 8, 5, 1),
        (32, 8, 5, 0),
        (6, 13, 4, 1),
        (6, 13, 4, 0),
        (7, 4, 3, 1),
        (2, 36, 2, 0),
        (24, 40, 6, 0),
        (24, 40, 7, 1),
        (12, 8, 5, 0),  # 6 passes: entering at the third of four
        (20, 8, 3, 1),
        (8, 8, 7, 0),  # uf_mac2x2pq8_m0, an odd pixel
        (16, 12, 6, 1),  # uf_mac2x2pq16_m0
    ],
)
@pytest.mark.parametrize("wmin", [-128, -127])
@pytest.mark.parametrize("x_odd", [0, 1])
def test_pointwise_m0_extremes(tmp_path, in_c, out_c, width, w_odd, wmin, x_odd):
    """1x1 CONV_2D as ARMv6-M code (the packed two-pixel kernel and its fallbacks) with
    inputs and weights at -128 (the extreme products, 16384 each) and random ones, or
    weights in [-127, 127] at both ends (the fused kernels' ADCS lane split: products of
    -16256 and 16256), weights at an odd address (byte loads) or an even one
    (uf_mac2x2ph_m0's halfword loads, which fault unaligned), against sums and
    requantization in Python; the inputs at a word address or not (the fused kernels pack a
    pixel pair themselves at a word, else call uf_pack2_m0)."""
    off = -128 if out_c % 2 == 0 else 3
    got, want, _, _ = _pointwise(tmp_path, in_c, out_c, width, w_odd, off, wmin=wmin, x_odd=x_odd)
    assert got == want


@pytest.mark.parametrize(
    "in_c,out_c,width,rows,extra",
    [
        (40, 10, 13, 8, 0),  # one block of 8 rows, a tail of 2
        (64, 13, 15, 4, 0),  # three blocks of 4, a tail of 1
        (72, 12, 12, 12, 0),  # one block
        (64, 36, 12, 128, 0),  # a table of more words than the layer needs
        (64, 24, 14, 3, 0),  # too small for one block: uf_mac2x2ph_m0
        (48, 8, 7, 8, 0),  # too few pixels to pay for the table
        (256, 8, 13, 8, 0),  # the widest packed inputs
        (64, 36, 12, 8, 6 * 64),  # the inputs packed once beside blocks of 8 rows
        (72, 22, 13, 9, 6 * 72),  # the same with an odd pixel and a tail of 2
        (64, 36, 12, 7, 6 * 64 - 100),  # too little beside them: packed per block
        # uf_mac2x2pqn_m0's loop (eight groups of four passes) entered at every group: after
        # a row pair's first group, (n / 8 - 1) mod 8 groups before the loop's end
        (48, 12, 12, 12, 0),  # 5
        (56, 8, 13, 8, 0),  # 6
        (80, 8, 12, 8, 0),  # 1
        (88, 8, 13, 8, 0),  # 2
        (96, 12, 12, 12, 0),  # 3
        # 3x3 pixels (an odd one, uf_mac1t_m0 over the table): 128 inputs packed once beside
        # blocks of 8 rows (the odd pixel's inputs sign-extended once), 256 inputs in blocks of 4
        # packed per block (sign-extended again per block), 40 (an odd multiple of 8)
        (128, 16, 9, 8, 4 * 128),
        (256, 12, 9, 4, 0),
        (40, 12, 9, 4, 0),
        (72, 8, 11, 8, 0),
        (128, 8, 9, 3, 0),  # 3x3 pixels, too small a scratch: the weights read in place
    ],
)
@pytest.mark.parametrize("w_odd", [0, 1])
@pytest.mark.parametrize("wmin", [-128, -127])
def test_pointwise_m0_weight_table(tmp_path, in_c, out_c, width, rows, extra, w_odd, wmin):
    """conv1x1_wtab_m0 (layers of more than 32 inputs given kernel_spec's scratch: blocks of
    rows sign-extended into it, uf_mac2x2pqn_m0 over the pixel pairs) with a scratch of `rows`
    rows' table words (rows * (in_c + 4)) and `extra` words, odd pixel counts and channel
    tails, a scratch too small or too few pixels (the fallbacks), against sums and
    requantization in Python; the words past the scratch untouched. out_off 3 > act_min:
    no fused requantization; a weight at -128 (wmin): no table (uf_mac2x2pqn_m0's ADCS lane
    split wants weights in [-127, 127])."""
    import numpy as np

    wtab_n = rows * (in_c + 4) + extra

    def fit(words):  # rows of the table (a multiple of 4, at most 128 and out_c) in words
        return max(0, min(128, out_c & ~3, words // (in_c + 4) & ~3))

    # blocks of the table alone, or beside the packed inputs where that takes more than one
    block = fit(wtab_n)
    if block < out_c & ~3 and fit(wtab_n - width // 2 * in_c) >= 8:
        block = fit(wtab_n - width // 2 * in_c)
    for off in (-128, 3):
        got, want, scratch, w = _pointwise(tmp_path, in_c, out_c, width, w_odd, off, wtab_n, wmin)
        assert got == want, off
        # the table's path where it pays and suits (uf_rq1_m0's act_min >= out_off, no weight
        # at -128), else none
        used = off == -128 and width >= 9 and block >= 4 and wmin == -127  # (UF_M0_WTAB_PIXELS)
        words = np.frombuffer(scratch, "<i4")
        assert words.any() == used
        if used:  # the last block's first row pair: its first two inputs' weights
            c0 = (out_c - 4) // block * block
            assert words[:4].tolist() == [*w[c0, :2], *w[c0 + 1, :2]]


def _pointwise(tmp_path, in_c, out_c, width, w_odd, off, wtab_n=0, wmin=-128, x_odd=0):
    """uf_conv2d_s8 on a 1 x width x in_c input (random, the extremes at the first pair and
    the last pixel) with weights in [wmin, 127] (wmin at the first row and half the last,
    with wmin = -127 127 at the second row) under unicorn with a scratch of wtab_n words, the
    inputs x_odd bytes past a word: its outputs, Python's, the scratch's bytes after the call
    and the weights."""
    _need()
    import numpy as np

    rng = np.random.default_rng(in_c * 100 + out_c)
    x = rng.integers(-128, 128, (width, in_c))
    x[:2] = -128  # both lanes of the first pixel pair at the extreme
    x[-1] = 127
    w = rng.integers(wmin, 128, (out_c, in_c))
    w[0] = wmin
    w[-1, : in_c // 2] = wmin
    if wmin > -128 and out_c > 2:
        w[1] = 127
    bias = rng.integers(-1000, 1000, out_c)
    mult = rng.integers(1 << 30, MAX, out_c)
    # right shifts up to 13 (uf_rq1_m0's table, the contiguous pixel loop) or 14 (uf_rq_m0's)
    shift = rng.integers(-13 if off == -128 else -14, -7, out_c)
    t, elf = _elf(tmp_path, "pw", CONV % IO, SRC / "conv.c")
    head = 64
    xo = head + x_odd
    wo = xo + x.size + 1
    wo += (wo & 1) != w_odd  # odd: byte loads; even: halfword loads
    bo = (wo + w.size + 3) & ~3
    oo = bo + 4 * out_c
    mo = oo + width * out_c + 8
    mo = (mo + 3) & ~3
    so = mo + 4 * out_c
    to = so + 4 * out_c
    end = to + 4 * wtab_n + 16
    blob = bytearray(end)
    blob[:52] = struct.pack("<13i", width, in_c, out_c, off, xo, wo, bo, oo, mo, so, to, wtab_n, int(w.min()))
    blob[xo : xo + x.size] = x.astype(np.int8).tobytes()
    blob[wo : wo + w.size] = w.astype(np.int8).tobytes()
    blob[bo : bo + 4 * out_c] = bias.astype("<i4").tobytes()
    blob[mo : mo + 4 * out_c] = mult.astype("<i4").tobytes()
    blob[so : so + 4 * out_c] = shift.astype("<i4").tobytes()
    blob[to + 4 * wtab_n :] = b"\xa5" * 16  # past the scratch: must stay
    r = backend(t).execute(t, elf, [(IO, bytes(blob))], [(IO, end)])
    assert r.fault is None, r.fault
    assert r.reads[0][to + 4 * wtab_n :] == b"\xa5" * 16
    got = np.frombuffer(r.reads[0][oo : oo + width * out_c], np.int8).reshape(width, out_c)
    acc = x @ w.T + bias
    want = [
        [_expect(int(acc[p, o]), 0, int(mult[o]), int(shift[o]), off, -128, 127) for o in range(out_c)]
        for p in range(width)
    ]
    return got.tolist(), want, r.reads[0][to : to + 4 * wtab_n], w


DOT = r"""
#include "qmath.h"
#define IO ((int32_t *)0x%x)
int main(void) {
    const int8_t *b = (const int8_t *)IO;
    int n = IO[0], cases = IO[1];
    for (int i = 0; i < cases; i++) {   // case i: n + i elements at offsets 16 + i, 1040 + 3 * i
        IO[512 + i] = uf_dot_s8_wrap(b + 16 + i, b + 1040 + 3 * i, n + i);
    }
    return 0;
}
"""


def test_dot_s8_wrap_m0(tmp_path):
    """uf_dot_s8_wrap's ARMv6-M loop (four MACs per pass, n mod 4 entering mid-loop) at
    every n mod 4, odd addresses, n = 0 and the extreme products, against Python sums."""
    _need()
    import numpy as np

    t, elf = _elf(tmp_path, "dot", DOT % IO)
    rng = np.random.default_rng(11)
    for n, fill in ((0, None), (1, None), (700, None), (500, -128)):
        cases = 9
        a = rng.integers(-128, 128, 1024).astype(np.int8)
        w = rng.integers(-128, 128, 1024).astype(np.int8)
        if fill is not None:
            a[:], w[:] = fill, fill
        blob = bytearray(4 * 512 + 4 * cases)
        blob[:8] = struct.pack("<2i", n, cases)
        blob[16 : 16 + 1000] = a[:1000].tobytes()
        blob[1040 : 1040 + 1000] = w[:1000].tobytes()
        r = backend(t).execute(t, elf, [(IO, bytes(blob))], [(IO, len(blob))])
        assert r.fault is None, r.fault
        got = struct.unpack("<%di" % cases, r.reads[0][2048:])
        for i in range(cases):
            k = n + i
            s = int(np.dot(a[i : i + k].astype(np.int64), w[3 * i : 3 * i + k].astype(np.int64)))
            assert got[i] == c_int32(s), (n, i)


SRDHM = r"""
#include "qmath.h"
#define IO ((int32_t *)0x%x)
int main(void) {
    int n = IO[0];
    for (int i = 0; i < n; i++) {
        IO[1 + 3 * i + 2] = uf_srdhm(IO[1 + 3 * i], IO[1 + 3 * i + 1]);
    }
    return 0;
}
"""


def test_srdhm_m0(tmp_path):
    """qmath.h's ARMv6-M uf_srdhm (four 16x16 MULS) at the int32 edges and random pairs,
    against qmath_ref.py's big-int reference, MIN * MIN saturating."""
    _need()
    from qmath_ref import EDGE32, ref_srdhm

    t, elf = _elf(tmp_path, "srdhm", SRDHM % IO)
    rnd = random.Random(2)
    pairs = [(a, b) for a in EDGE32 for b in EDGE32]
    pairs += [(rnd.randint(MIN, MAX), rnd.randint(MIN, MAX)) for _ in range(300)]
    blob = struct.pack("<i", len(pairs)) + b"".join(struct.pack("<3i", a, b, 0) for a, b in pairs)
    r = backend(t).execute(t, elf, [(IO, blob)], [(IO, len(blob))])
    assert r.fault is None, r.fault
    got = struct.unpack("<%di" % (3 * len(pairs)), r.reads[0][4:])[2::3]
    assert list(got) == [ref_srdhm(a, b) for a, b in pairs]


RQTU = r"""
#include "mac8.h"
#define IO ((int32_t *)0x%x)
// uf_rqt_u_m0 (the fused kernels' side path) called as the kernels call it
static int32_t rqt_u(int32_t y, int32_t m, int32_t c, int32_t sh) {
    register int32_t r2 __asm__("r2") = y;
    register int32_t r4 __asm__("r4") = m;
    register int32_t r5 __asm__("r5") = c;
    register int32_t r6 __asm__("r6") = sh;
    __asm__ volatile("bl uf_rqt_u_m0" : "+r"(r2), "+r"(r4), "+r"(r5), "+r"(r6) : : "r3", "lr", "cc", "memory");
    return r4;
}
int main(void) {
    int n = IO[0];
    const int32_t *v = IO + 1;
    int32_t *out = IO + 1 + 4 * n;
    for (int i = 0; i < n; i++) {
        out[i] = rqt_u(v[4 * i], v[4 * i + 1], v[4 * i + 2], v[4 * i + 3]);
    }
    return 0;
}
"""


def test_rqt_u_m0(tmp_path):
    """uf_rqt_u_m0, the fused kernels' value past their bound T: u = (y m + C) >> (31 + r)
    for 0 <= y < 2^30, m in [2^30, 2^31), 0 <= C < m, r in 1..13, against Python's big ints:
    sums below 2^15, between 2^15 and 2^16 (two MULS, the carry of y ml + C past 2^32 with
    the multiplier's low half at its largest) and past 2^16 (four MULS)."""
    _need()
    rnd = random.Random(23)
    cases = []
    for _ in range(400):
        m = rnd.choice([1 << 30, MAX, rnd.randint(1 << 30, MAX), (rnd.randint(1 << 14, (1 << 15) - 1) << 16) | 0xFFFF])
        c = rnd.choice([0, m - 1, rnd.randint(0, m - 1), m - rnd.randint(1, 1 << 16)])
        r = rnd.randint(1, 13)
        y = rnd.choice(
            [
                rnd.randint(1 << 15, (1 << 16) - 1),
                (1 << 16) - 1 - rnd.randint(0, 64),
                (1 << 15) + rnd.randint(0, 64),
                rnd.randint(0, (1 << 15) - 1),
                (1 << 16) + rnd.randint(0, 64),
                rnd.randint(1 << 16, (1 << 30) - 1),
            ]
        )
        cases.append((y, m, c, (15 + r) | rnd.choice([0, 1 << 16, 1 << 31, 0x7FFF0000])))
    t, elf = _elf(tmp_path, "u", RQTU % IO)
    data = struct.pack("<i", len(cases)) + b"".join(struct.pack("<iiiI", *c) for c in cases)
    res = backend(t).execute(t, elf, [(IO, data)], [(IO, len(data) + 4 * len(cases))])
    assert res.fault is None, res.fault
    got = list(struct.unpack("<%dI" % len(cases), res.reads[0][len(data) :]))
    assert got == [(y * m + c) >> (31 + (sh & 255) - 15) for y, m, c, sh in cases]
