# Runs on the board (MicroPython/CircuitPython): classify one second of speech features
# (49 frames x 40 int8 spectrogram values, 1960 bytes) with the baked micro_speech model.
# classify.py copies this file to the board's "/".
#
#   import spot_keyword
#   spot_keyword.classify("micro_speech_features_yes.bin")   # -> (int8 scores, label, us)
import time

import upyflow

LABELS = ("silence", "unknown", "yes", "no")
_model = None


def model():
    # Loaded once and kept: loading again would need a second arena.
    global _model
    if _model is None:
        _model = upyflow.load("micro_speech_quantized")
    return _model


def classify(path):
    m = model()
    buf = m.input_buffer(0)
    with open(path, "rb") as f:
        n = f.readinto(buf)
    if n != len(buf):
        raise ValueError("%s: need %d feature bytes, got %d" % (path, len(buf), n))
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
