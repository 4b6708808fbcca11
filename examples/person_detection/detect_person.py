# Runs on the board (MicroPython/CircuitPython): classify a 96x96 8-bit grayscale BMP
# with the baked person_detect model. classify.py copies this file to the board's "/".
#
#   import detect_person
#   detect_person.classify("person.bmp")   # -> ([no_person, person] int8 scores, label, us)
import struct
import time

import upyflow

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
