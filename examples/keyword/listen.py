# Runs on the board (MicroPython/CircuitPython) and on CPython: keyword spotting from raw
# 16 kHz int16 audio. TFLM's audio front end (audio_preprocessor_int8, baked as
# "audio_front_end") turns each 30 ms window into 40 int8 features; the last 49 windows
# (one second) go to micro_speech_quantized. from_audio.py copies this file to the board.
#
#   import listen
#   s = listen.Spotter()
#   s.push_hop(buf)          # 640 bytes: the next 320 samples (20 ms), e.g. from machine.I2S
#   scores, label = s.classify()
#   listen.spot_wav(s, "yes_1000ms.wav")   # -> (scores, label, windows, us per window)
import upyflow

LABELS = ("silence", "unknown", "yes", "no")
WINDOW = 480     # samples per window: 30 ms at 16 kHz
HOP = 320        # samples between windows: 20 ms
FRAMES = 49      # windows the keyword model sees: one second
ROW = 40         # features per window

try:
    from time import ticks_diff, ticks_us
except ImportError:   # CPython
    from time import perf_counter

    def ticks_us():
        return int(perf_counter() * 1000000)

    def ticks_diff(a, b):
        return a - b


class Spotter:
    def __init__(self, front_end="audio_front_end", model="micro_speech_quantized", tier=None):
        self.front_end = upyflow.load(front_end, tier)
        self.model = upyflow.load(model, tier)
        self._win = bytearray(2 * WINDOW)        # the current window, int16 little-endian
        self._feat = bytearray(FRAMES * ROW)     # a ring of feature rows, oldest at _head
        self.reset()

    def reset(self):
        """Start a new recording: the front end's noise estimate and the features restart."""
        self.front_end.reset()
        for i in range(len(self._feat)):
            self._feat[i] = 0
        self._head = 0
        self.windows = 0
        self.us = 0          # front-end microseconds, summed over the windows

    def push_window(self, samples):
        """A whole 480-sample window (960 bytes), e.g. the first one of a recording."""
        self._win[:] = samples
        self._run()

    def push_hop(self, samples):
        """The next 320 samples (640 bytes): the window slides by 20 ms."""
        w = memoryview(self._win)
        w[0:2 * (WINDOW - HOP)] = w[2 * HOP:2 * WINDOW]
        w[2 * (WINDOW - HOP):] = samples
        self._run()

    def _run(self):
        fe = self.front_end
        t = ticks_us()
        fe.set_input(0, self._win)
        fe.invoke()
        self.us += ticks_diff(ticks_us(), t)
        r = self._head * ROW
        self._feat[r:r + ROW] = fe.get_output(0)
        self._head = (self._head + 1) % FRAMES
        self.windows += 1

    def classify(self):
        """int8 scores [silence, unknown, yes, no] and the label for the last second."""
        buf = self.model.input_buffer(0)
        h = self._head * ROW
        n = len(self._feat) - h
        buf[0:n] = self._feat[h:]
        buf[n:] = self._feat[:h]
        self.model.invoke()
        scores = [v - 256 if v > 127 else v for v in self.model.get_output(0)]
        best = 0
        for i in range(1, len(scores)):
            if scores[i] > scores[best]:
                best = i
        return scores, LABELS[best]


def _data_chunk(f):
    # Skip a RIFF/WAVE header to its "data" chunk; only 16 kHz mono 16-bit PCM.
    head = f.read(12)
    if head[0:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise ValueError("not a WAV file")
    fmt = None
    while True:
        h = f.read(8)
        if len(h) < 8:
            raise ValueError("WAV file without a data chunk")
        size = h[4] | h[5] << 8 | h[6] << 16 | h[7] << 24
        if h[0:4] == b"data":
            break
        body = f.read(size + (size & 1))
        if h[0:4] == b"fmt ":
            fmt = body
    if fmt is None or (fmt[0] | fmt[1] << 8) != 1 or (fmt[2] | fmt[3] << 8) != 1 \
            or (fmt[4] | fmt[5] << 8 | fmt[6] << 16) != 16000 or (fmt[14] | fmt[15] << 8) != 16:
        raise ValueError("need 16 kHz mono 16-bit PCM")
    return size


def spot_wav(spotter, path):
    """Classify the first second of a WAV file window by window, as a microphone would feed it."""
    spotter.reset()
    with open(path, "rb") as f:
        left = _data_chunk(f)
        win = bytearray(2 * WINDOW)
        hop = memoryview(win)[0:2 * HOP]
        if left < len(win) or f.readinto(win) != len(win):
            raise ValueError("%s: shorter than one window" % path)
        spotter.push_window(win)
        left -= len(win)
        while spotter.windows < FRAMES and left >= 2 * HOP and f.readinto(hop) == 2 * HOP:
            spotter.push_hop(hop)
            left -= 2 * HOP
    scores, label = spotter.classify()
    return scores, label, spotter.windows, spotter.us // max(spotter.windows, 1)
