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
# Loaded once, on import, and kept: loading again would need a second arena on a small heap
# (and loading first gets its arena and weight buffer, the largest blocks, the most room).
model = upyflow.load("person_detect")


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
    read_bmp(path, model.input_buffer(0))
    return _run()


def classify_frame(frame, width=160, height=120, fmt="rgb565be", crop=None, resize="nearest"):
    """Classify a raw camera frame: its centre square (or crop) scaled to 96x96 gray.

    rgb565be is high byte first, as OV2640/OV7670 modules send pixels (use "rgb565" for
    low byte first). person_detect wants TFLM's camera convention: gray p in 0..255 ->
    int8 p - 128 (normalise "direct"). Nearest keeps each pixel as it was; bilinear
    (smoother on real frames) works as well."""
    image.to_input(model, frame, width, height, fmt, crop or _crop(width, height), resize, "direct")
    return _run()


def _run():
    t = time.ticks_us()
    model.invoke()
    us = time.ticks_diff(time.ticks_us(), t)
    # top(): the first maximum wins, as numpy's argmax
    return list(model.output(0)), LABELS[model.top()[0][0]], us


_frame = None


def classify_frame_file(path, width=160, height=120, fmt="rgb565be"):
    """classify_frame for a raw frame file, as classify.py --frames sends them: (scores,
    label, us, frame preparation us)."""
    global _frame
    n = width * height * (3 if fmt == "rgb888" else 1 if fmt == "gray8" else 2)
    if _frame is None or len(_frame) != n:
        _frame = bytearray(n)   # one buffer, reused for every frame
    with open(path, "rb") as f:
        if f.readinto(_frame) != n:
            raise ValueError("%s: expected a %dx%d %s frame of %d bytes" % (path, width, height, fmt, n))
    t = time.ticks_us()
    image.to_input(model, _frame, width, height, fmt, _crop(width, height), "nearest", "direct")
    prep = time.ticks_diff(time.ticks_us(), t)
    return _run() + (prep,)


def _crop(width, height):
    side = min(width, height)
    return ((width - side) // 2, (height - side) // 2, side, side)
