# Runs on the board (MicroPython/CircuitPython): classify one second of speech features
# (49 frames x 40 int8 spectrogram values, 1960 bytes) with the baked micro_speech model.
# classify.py copies this file to the board's "/".
#
#   import spot_keyword
#   spot_keyword.classify("micro_speech_features_yes.bin")   # -> (int8 scores, label, us)
import time

import upyflow

LABELS = ("silence", "unknown", "yes", "no")
# Loaded once, on import, and kept: loading again would need a second arena.
model = upyflow.load("micro_speech_quantized")


def classify(path):
    buf = model.input_buffer(0)
    with open(path, "rb") as f:
        n = f.readinto(buf)
    if n != len(buf):
        raise ValueError("%s: need %d feature bytes, got %d" % (path, len(buf), n))
    t = time.ticks_us()
    model.invoke()
    us = time.ticks_diff(time.ticks_us(), t)
    # top(): the first maximum wins, as numpy's argmax
    return list(model.output(0)), LABELS[model.top()[0][0]], us
