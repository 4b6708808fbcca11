# Runs on the board (MicroPython/CircuitPython): classify a 96x96 8-bit grayscale BMP
# or a raw camera frame with the baked person_detect model. classify.py copies this
# file to the board's "/".
#
#   import detect_person
#   detect_person.classify("person.bmp")   # -> ([no_person, person] int8 scores, label, us)
#   detect_person.classify_frame(frame)    # a 160x120 RGB565 frame (bytes, e.g. a camera's)
import struct
import time

import upyflow
from upyflow import image

LABELS = ("no_person", "person")
SIDE = 96
_model = None


def model():
    # Loaded once and kept: loading again would need a second arena on a small heap.
    global _model
    if _model is None:
        _model = upyflow.load("person_detect")
    return _model


def read_bmp(path, buf, side=SIDE):
    """Copy an 8-bit BMP's pixel rows into buf, top row first.

    The model takes the pixel bytes as they are, read as int8, so no conversion is needed:
    only the row order (BMP stores the bottom row first when its height is positive)."""
    with open(path, "rb") as f:
        head = f.read(54)
        if head[:2] != b"BM":
            raise ValueError("%s is not a BMP file" % path)
        offset = struct.unpack_from("<I", head, 10)[0]
        width, height = struct.unpack_from("<ii", head, 18)
        bpp = struct.unpack_from("<H", head, 28)[0]
        if bpp != 8 or width != side or abs(height) != side:
            raise ValueError("%s: need a %dx%d 8-bit grayscale BMP, got %dx%d at %d bits"
                             % (path, side, side, width, abs(height), bpp))
        stride = (width + 3) & ~3          # BMP rows are padded to 4 bytes
        for r in range(side):
            row = side - 1 - r if height > 0 else r
            f.seek(offset + r * stride)
            f.readinto(buf[row * side:(row + 1) * side])


def classify(path):
    m = model()
    read_bmp(path, m.input_buffer(0))
    return _run(m)


def classify_frame(frame, width=160, height=120, fmt="rgb565be", crop=None, resize="nearest"):
    """Classify a raw camera frame: its centre square (or crop) scaled to 96x96 gray.

    rgb565be is high byte first, as OV2640/OV7670 modules send pixels (use "rgb565" for
    low byte first). person_detect wants TFLM's camera convention: gray p in 0..255 ->
    int8 p - 128 (normalise "direct"). Nearest keeps each pixel as it was; bilinear
    (smoother on real frames) works as well."""
    m = model()
    image.to_input(m, frame, width, height, fmt, crop or _crop(width, height), resize, "direct")
    return _run(m)


def _run(m):
    t = time.ticks_us()
    m.invoke()
    us = time.ticks_diff(time.ticks_us(), t)
    scores = [b - 256 if b > 127 else b for b in m.get_output(0)]
    best = 0
    for i in range(1, len(scores)):        # first maximum wins, as numpy's argmax
        if scores[i] > scores[best]:
            best = i
    return scores, LABELS[best], us


def report(path):
    """One line the host script parses: RESULT path score... label us."""
    scores, label, us = classify(path)
    print("RESULT", path, " ".join(str(s) for s in scores), label, us)


_frame = None


def report_frame(path, width=160, height=120, fmt="rgb565be"):
    """As report, for a raw frame file; also prints the frame preparation time."""
    global _frame
    m = model()   # first: its arena and weight buffer are the largest blocks
    n = width * height * (3 if fmt == "rgb888" else 1 if fmt == "gray8" else 2)
    if _frame is None or len(_frame) != n:
        _frame = bytearray(n)   # one buffer, reused for every frame
    with open(path, "rb") as f:
        if f.readinto(_frame) != n:
            raise ValueError("%s: expected a %dx%d %s frame of %d bytes" % (path, width, height, fmt, n))
    t = time.ticks_us()
    image.to_input(m, _frame, width, height, fmt, _crop(width, height), "nearest", "direct")
    prep = time.ticks_diff(time.ticks_us(), t)
    scores, label, us = _run(m)
    print("RESULT", path, " ".join(str(s) for s in scores), label, us, prep)


def _crop(width, height):
    side = min(width, height)
    return ((width - side) // 2, (height - side) // 2, side, side)
